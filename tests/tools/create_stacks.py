"""Creates CloudFormation stacks in order through an AWS endpoint (moto in
the tests) and reports each stack's final status as JSON lines.

Usage: create_stacks.py ENDPOINT STACK=TEMPLATE [STACK=TEMPLATE ...]
Exits 1 if any stack does not reach CREATE_COMPLETE.
"""

import json
import sys

import boto3


def main() -> int:
    endpoint, pairs = sys.argv[1], sys.argv[2:]
    client = boto3.client(
        "cloudformation",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    failed = False
    for pair in pairs:
        name, path = pair.split("=", 1)
        with open(path, encoding="utf-8") as f:
            body = f.read()
        try:
            client.create_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
            client.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
            stack = client.describe_stacks(StackName=name)["Stacks"][0]
            status, reason = stack["StackStatus"], stack.get("StackStatusReason")
            outputs = sorted(o["OutputKey"] for o in stack.get("Outputs", []))
        except Exception as error:  # the stack failed: report why
            status, reason, outputs = "FAILED", str(error), []
        failed |= status != "CREATE_COMPLETE"
        print(json.dumps({"stack": name, "template": path, "status": status, "reason": reason, "outputs": outputs}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
