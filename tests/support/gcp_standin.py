"""A small stand-in for the Google APIs rel's GCP target uses, for tests.

It speaks the REST wire protocol of the official clients on loopback over
plain HTTP, behind an OAuth 2.0 token endpoint that Application Default
Credentials (an `authorized_user` file whose token_uri points here)
exchange a refresh token at; API calls without that bearer token get 401.

- Infrastructure Manager (config.googleapis.com/v1): deployments get,
  create (`deploymentId`), patch (only the fields `updateMask` names),
  delete (`force` needed once there are revisions); revisions get (a
  failed revision carries Terraform's errors; the deployment and the
  operation only say it failed); a deployment is CREATING or UPDATING
  until its operation is read as done;
  long-running operations (each is not done on creation, and done on the
  first GET, with the Deployment as its response or a google.rpc.Status
  as its error).
- Cloud Storage JSON API: multipart upload (into an existing bucket:
  `acme-blueprints`), and media download with the x-goog-* headers and
  the crc32c and md5 hashes the client checks.
- Resource Manager v3: projects get.
- Secret Manager v1: access a secret version (`latest` or a number),
  with versions added through POST /_standin/secret.

It does not run Terraform (see README): a revision's outputs are made up,
`<deployment>-<output>` for each output the blueprint declares, and its
resources are not created. It checks that the blueprint exists in the
bucket, that the deployment names a service account, and that every
declared variable has an input value. An apply fails, as a Terraform
error would, when the blueprint contains the text set with
POST /_standin/fail {"text": ...}; project labels change through
POST /_standin/project {"id", "labels"}. It does not cover IAM, quotas,
locking, previews, state import or export, or resumable uploads.

Usage: python3 gcp_standin.py --port PORT
"""

import base64
import datetime
import hashlib
import json
import threading
from urllib.parse import parse_qs, unquote, urlparse

from loopback import JsonHandler, serve

TOKEN = "standin-access-token"
LOCK = threading.Lock()
PROJECTS = {"acme-shop-prod": {"labels": {"team": "platform"}, "number": "123456789012"}}
OBJECTS = {}  # (bucket, name) -> bytes
DEPLOYMENTS = {}  # name -> deployment
REVISIONS = {}  # name -> revision
OPERATIONS = {}  # name -> {"op": ..., "response": ..., "failure": ...}
SECRETS = {}  # (project, secret id) -> [value of version 1, 2, ...]
BUCKETS = {"acme-blueprints"}
STATE = {"op": 0, "fail": None, "calls": []}


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def error(code, status, message):
    return code, {"error": {"code": code, "message": message, "status": status}}


def operation(parent, verb, target, response=None, failure=None, final=None):
    STATE["op"] += 1
    name = "%s/operations/operation-%d" % (parent, STATE["op"])
    op = {
        "name": name,
        "metadata": {
            "@type": "type.googleapis.com/google.cloud.config.v1.OperationMetadata",
            "createTime": now(),
            "target": target,
            "verb": verb,
            "apiVersion": "v1",
        },
        "done": False,
    }
    OPERATIONS[name] = {"op": op, "response": response, "failure": failure, "final": final, "target": target}
    return op


def finished(name):
    entry = OPERATIONS[name]
    if entry.get("final") and entry["target"] in DEPLOYMENTS:
        DEPLOYMENTS[entry["target"]].update(entry["final"])
        entry["final"] = None
    op = dict(entry["op"])
    op["done"] = True
    if entry["failure"]:
        op["error"] = entry["failure"]
    elif entry["response"] is not None:
        op["response"] = dict(entry["response"], **{"@type": "type.googleapis.com/google.cloud.config.v1.Deployment"})
    return op


def blueprint_of(deployment):
    source = deployment.get("terraformBlueprint", {}).get("gcsSource", "")
    if not source.startswith("gs://"):
        return None, "terraformBlueprint.gcsSource must be a gs:// URI"
    bucket, _, folder = source[len("gs://"):].partition("/")
    data = OBJECTS.get((bucket, folder.rstrip("/") + "/main.tf.json"))
    if data is None:
        return None, "no Terraform configuration found at %s" % source
    try:
        return json.loads(data), None
    except ValueError as e:
        return None, "the blueprint at %s is not valid JSON: %s" % (source, e)


def apply(parent, deployment_id, body, verb, update_mask=None):
    name = "%s/deployments/%s" % (parent, deployment_id)
    if not body.get("serviceAccount"):
        return error(400, "INVALID_ARGUMENT", "serviceAccount is required")
    blueprint, problem = blueprint_of(body)
    if problem:
        return error(400, "INVALID_ARGUMENT", problem)
    inputs = body.get("terraformBlueprint", {}).get("inputValues", {}) or {}
    missing = [v for v in (blueprint.get("variable") or {}) if v not in inputs]
    previous = DEPLOYMENTS.get(name, {})
    number = int(previous.get("latestRevision", "r-0").rsplit("r-", 1)[-1]) + 1
    revision_name = "%s/revisions/r-%d" % (name, number)
    text = json.dumps(blueprint)
    failed = None
    if missing:
        failed = ("", "variable %s has no value" % ", ".join(missing))
    elif STATE["fail"] and STATE["fail"] in text:
        address = next(
            ("%s.%s" % (t, n) for t, named in (blueprint.get("resource") or {}).items()
             for n, props in named.items() if STATE["fail"] in json.dumps(props)),
            "",
        )
        failed = (address, "Error creating resource: googleapi: Error 409: %s already exists" % STATE["fail"])
    revision = {
        "name": revision_name,
        "createTime": now(),
        "updateTime": now(),
        "action": "CREATE" if not previous else "UPDATE",
        "terraformBlueprint": body.get("terraformBlueprint"),
        "serviceAccount": body.get("serviceAccount"),
    }
    if previous and update_mask:
        # Only the fields the mask names change.
        fields = {"labels": "labels", "service_account": "serviceAccount", "terraform_blueprint": "terraformBlueprint"}
        deployment = dict(previous)
        for path in update_mask.split(","):
            key = fields.get(path.strip(), path.strip())
            if key in body:
                deployment[key] = body[key]
    else:
        deployment = dict(body)
    deployment.update({
        "name": name,
        "createTime": previous.get("createTime", now()),
        "updateTime": now(),
        "latestRevision": revision_name,
        "lockState": "UNLOCKED",
    })
    if failed:
        # Terraform's errors are on the revision; the deployment and the
        # operation only say that it failed.
        tf_errors = [{"resourceAddress": failed[0], "httpResponseCode": 409, "errorDescription": failed[1]}]
        revision.update({"state": "FAILED", "stateDetail": "Apply failed", "errorCode": "APPLY_BUILD_RUN_FAILED",
                         "tfErrors": tf_errors, "errorLogs": "gs://standin-logs/%s" % revision_name})
        final = {"state": "FAILED", "stateDetail": "Revision %s failed" % revision_name,
                 "errorCode": "REVISION_FAILED", "tfErrors": []}
        failure = {"code": 9, "message": "revision %s failed" % revision_name}
    else:
        outputs = {k: {"sensitive": bool(v.get("sensitive", False)), "value": "%s-%s" % (deployment_id, k)}
                   for k, v in (blueprint.get("output") or {}).items()}
        revision.update({"state": "APPLIED", "applyResults": {"content": "", "artifacts": "", "outputs": outputs}})
        final = {"state": "ACTIVE", "stateDetail": "", "errorCode": "ERROR_CODE_UNSPECIFIED", "tfErrors": []}
        failure = None
    REVISIONS[revision_name] = revision
    # In progress until the operation is read as done.
    deployment.update({"state": "CREATING" if verb == "create" else "UPDATING"})
    DEPLOYMENTS[name] = deployment
    return 200, operation(parent, verb, name, response=deployment, failure=failure, final=final)


def multipart(body, content_type):
    boundary = content_type.split("boundary=", 1)[1].strip().strip('"').encode()
    parts = [p for p in body.split(b"--" + boundary) if p.strip() and p.strip() != b"--"]
    decoded = []
    for p in parts:
        head, _, content = p.partition(b"\r\n\r\n")
        decoded.append(content[:-2] if content.endswith(b"\r\n") else content)
    return decoded


class Handler(JsonHandler):
    def internal_error(self, e):
        return error(500, "INTERNAL", "stand-in error: %r" % e)

    def handle_any(self, method):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        raw = self.read_body()
        path = url.path
        with LOCK:
            STATE["calls"].append("%s %s" % (method, path))
            if path == "/token" and method == "POST":
                # Google's token endpoint takes a form or JSON.
                if (self.headers.get("Content-Type") or "").startswith("application/json"):
                    form = {k: [v] for k, v in json.loads(raw or b"{}").items() if isinstance(v, str)}
                else:
                    form = parse_qs(raw.decode())
                if form.get("grant_type") != ["refresh_token"] or not form.get("refresh_token"):
                    return self.reply(400, {"error": "invalid_grant"})
                return self.reply(200, {"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"})
            if path.startswith("/_standin/"):
                if path == "/_standin/fail":
                    STATE["fail"] = (json.loads(raw or b"{}").get("text")) or None
                    return self.reply(200, {})
                if path == "/_standin/secret":
                    # Adds a version: {"project", "secret", "value"}.
                    b = json.loads(raw or b"{}")
                    SECRETS.setdefault((b["project"], b["secret"]), []).append(b["value"])
                    return self.reply(200, {})
                if path == "/_standin/set":
                    # Changes a deployment as another client would: {"name", "fields"}.
                    b = json.loads(raw or b"{}")
                    DEPLOYMENTS[b["name"]].update(b["fields"])
                    return self.reply(200, {})
                if path == "/_standin/project":
                    # Relabels a project as the console would: {"id", "labels"}.
                    b = json.loads(raw or b"{}")
                    PROJECTS[b["id"]]["labels"] = b["labels"]
                    return self.reply(200, {})
                if path == "/_standin/deployments":
                    return self.reply(200, {"deployments": DEPLOYMENTS, "revisions": REVISIONS,
                                            "objects": sorted("gs://%s/%s" % k for k in OBJECTS)})
                return self.reply(*error(404, "NOT_FOUND", "no such stand-in endpoint"))
            if self.headers.get("Authorization") != "Bearer " + TOKEN:
                return self.reply(*error(401, "UNAUTHENTICATED", "Request is missing required authentication credential."))
            body = {}
            if raw and (self.headers.get("Content-Type") or "").startswith("application/json"):
                try:
                    body = json.loads(raw)
                except ValueError as e:
                    return self.reply(*error(400, "INVALID_ARGUMENT", "invalid JSON: %s" % e))
            # Cloud Storage.
            if path.startswith("/upload/storage/v1/b/") and method == "POST":
                bucket = path.split("/")[5]
                if bucket not in BUCKETS:
                    return self.reply(*error(404, "NOT_FOUND", "The specified bucket does not exist."))
                parts = multipart(raw, self.headers.get("Content-Type", ""))
                if len(parts) != 2 or query.get("uploadType") != "multipart":
                    return self.reply(*error(400, "INVALID_ARGUMENT", "expected a multipart upload"))
                meta = json.loads(parts[0] or b"{}")
                name = query.get("name") or meta.get("name")
                data = parts[1]
                OBJECTS[(bucket, name)] = data
                return self.reply(200, self.object(bucket, name))
            if path.startswith("/storage/v1/b/") and method == "GET":
                bits = path.split("/")
                bucket, name = bits[4], unquote("/".join(bits[6:]))
                if (bucket, name) not in OBJECTS:
                    return self.reply(*error(404, "NOT_FOUND", "No such object: %s/%s" % (bucket, name)))
                data = OBJECTS[(bucket, name)]
                if query.get("alt") == "media":
                    return self.reply(200, None, raw=data, headers={
                        "x-goog-generation": "1", "x-goog-metageneration": "1",
                        "x-goog-stored-content-length": str(len(data)),
                        "x-goog-stored-content-encoding": "identity", "x-goog-storage-class": "STANDARD",
                        "x-goog-hash": "crc32c=%s,md5=%s" % self.hashes(data),
                    })
                return self.reply(200, self.object(bucket, name))
            # Secret Manager.
            if path.startswith("/v1/projects/") and path.endswith(":access") and method == "GET":
                name = path[len("/v1/"):-len(":access")]
                bits = name.split("/")
                if len(bits) != 6 or bits[2] != "secrets" or bits[4] != "versions":
                    return self.reply(*error(400, "INVALID_ARGUMENT", "bad secret version name %s" % name))
                versions = SECRETS.get((bits[1], bits[3]))
                if not versions:
                    return self.reply(*error(404, "NOT_FOUND", "Secret [projects/%s/secrets/%s] not found or has no versions." % (bits[1], bits[3])))
                number = len(versions) if bits[5] == "latest" else int(bits[5])
                data = versions[number - 1].encode()
                return self.reply(200, {
                    "name": "projects/%s/secrets/%s/versions/%d" % (PROJECTS.get(bits[1], {}).get("number", bits[1]), bits[3], number),
                    "payload": {"data": base64.b64encode(data).decode(), "dataCrc32c": str(crc32c(data))},
                })
            # Resource Manager.
            if path.startswith("/v3/projects/") and method == "GET":
                pid = path.split("/")[3]
                p = PROJECTS.get(pid)
                if p is None:
                    return self.reply(*error(403, "PERMISSION_DENIED", "Permission 'resourcemanager.projects.get' denied on resource '//cloudresourcemanager.googleapis.com/projects/%s' (or it may not exist)." % pid))
                return self.reply(200, {"name": "projects/%s" % p["number"], "projectId": pid, "state": "ACTIVE",
                                        "displayName": pid, "labels": p["labels"], "parent": "organizations/1"})
            # Infrastructure Manager.
            if path.startswith("/v1/projects/"):
                name = path[len("/v1/"):]
                bits = name.split("/")
                parent = "/".join(bits[:4])
                if len(bits) < 4 or bits[0] != "projects" or bits[2] != "locations":
                    return self.reply(*error(404, "NOT_FOUND", "unknown resource %s" % name))
                if bits[1] not in PROJECTS:
                    return self.reply(*error(403, "PERMISSION_DENIED", "project %s" % bits[1]))
                if len(bits) == 6 and bits[4] == "operations" and method == "GET":
                    if name not in OPERATIONS:
                        return self.reply(*error(404, "NOT_FOUND", "operation %s not found" % name))
                    return self.reply(200, finished(name))
                if len(bits) == 5 and bits[4] == "deployments" and method == "POST":
                    did = query.get("deploymentId")
                    if not did:
                        return self.reply(*error(400, "INVALID_ARGUMENT", "deploymentId is required"))
                    if "%s/deployments/%s" % (parent, did) in DEPLOYMENTS:
                        return self.reply(*error(409, "ALREADY_EXISTS", "deployment %s already exists" % did))
                    return self.reply(*apply(parent, did, body, "create"))
                if len(bits) == 6 and bits[4] == "deployments":
                    if method == "GET":
                        if name not in DEPLOYMENTS:
                            return self.reply(*error(404, "NOT_FOUND", "Resource '%s' was not found" % name))
                        return self.reply(200, DEPLOYMENTS[name])
                    if method == "PATCH":
                        if name not in DEPLOYMENTS:
                            return self.reply(*error(404, "NOT_FOUND", "Resource '%s' was not found" % name))
                        return self.reply(*apply(parent, bits[5], body, "update", query.get("updateMask")))
                    if method == "DELETE":
                        if name not in DEPLOYMENTS:
                            return self.reply(*error(404, "NOT_FOUND", "Resource '%s' was not found" % name))
                        if query.get("force") != "true" and DEPLOYMENTS[name].get("latestRevision"):
                            return self.reply(*error(400, "FAILED_PRECONDITION", "deployment %s has revisions: delete it with force" % name))
                        gone = DEPLOYMENTS.pop(name)
                        gone["state"] = "DELETED"
                        return self.reply(200, operation(parent, "delete", name, response=gone))
                if len(bits) == 8 and bits[6] == "revisions" and method == "GET":
                    if name not in REVISIONS:
                        return self.reply(*error(404, "NOT_FOUND", "Resource '%s' was not found" % name))
                    return self.reply(200, REVISIONS[name])
            return self.reply(*error(404, "NOT_FOUND", "%s %s is not served here" % (method, path)))

    def hashes(self, data):
        crc = base64.b64encode(crc32c(data).to_bytes(4, "big")).decode()
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        return crc, md5

    def object(self, bucket, name):
        data = OBJECTS[(bucket, name)]
        crc, md5 = self.hashes(data)
        return {"kind": "storage#object", "id": "%s/%s/1" % (bucket, name), "bucket": bucket, "name": name,
                "generation": "1", "metageneration": "1", "size": str(len(data)), "crc32c": crc, "md5Hash": md5,
                "storageClass": "STANDARD", "timeCreated": now(), "updated": now(),
                "contentType": "application/octet-stream"}


if __name__ == "__main__":
    serve(Handler)
