//! The test project of the deploy and drift tests: a `.rel` template with
//! cloud resources and services, deployed to a moto server and a
//! Kubernetes stand-in on loopback, and the `rel` binary run against them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{KubeStandin, Moto, Run, boto};

pub const CANARY: &str = "canary-3f9a71";

/// A test project: a `.rel` file with a shared bucket and, per service, a
/// registry; a role whose description is a secret (a reference rel must
/// never show).
pub fn template(services: &[&str], secret: &str) -> String {
    let mut s = String::from(
        r#"project "shop"

import "std/aws" as aws

param branch: string = "main"
param scan: bool = true
param tag: string = "1"

resource logs "AWS::S3::Bucket" {
  BucketName = "rel-shared-logs"
}

app store {
  hostname = "${service}-${env}.example.com"
"#,
    );
    for name in services {
        s.push_str(&format!(
            r#"
  service {name} {{
    image = "registry.example.com/{name}:${{tag}}"
    port  = 8080
  }}

  registry {name}_repo = aws.repository {{
    name         = "store/${{env}}/{name}"
    scan_on_push = scan
  }}
"#
        ));
    }
    s.push_str(&format!(
        r#"
  resource role "AWS::IAM::Role" {{
    AssumeRolePolicyDocument = {{
      Version   = "2012-10-17"
      Statement = [{{ Effect = "Allow", Principal = {{ Service = "ec2.amazonaws.com" }}, Action = "sts:AssumeRole" }}]
    }}
    Description = secret("{secret}")
  }}
}}

environment "pr-${{branch}}" from store {{
  tier = "preprod"
}}
"#
    ));
    s
}

/// The `rel` binary with test credentials, and nothing from the
/// environment that could point it at real AWS or another state.
pub fn rel_command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rel"));
    c.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("REL_STATE")
        .stdin(Stdio::null());
    c
}

pub struct Project {
    pub moto: Moto,
    /// The cluster the environments' objects go to.
    pub kube: KubeStandin,
    pub dir: PathBuf,
    /// Extra arguments for every command (`--state s3://...`).
    pub state: Vec<String>,
}

impl Project {
    pub fn new(name: &str, text: &str) -> Project {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("deploy")
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let p = Project {
            moto: Moto::start(),
            kube: KubeStandin::start(),
            dir,
            state: Vec::new(),
        };
        p.write(text);
        p
    }

    pub fn write(&self, text: &str) {
        std::fs::write(self.dir.join("main.rel"), text).unwrap();
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = rel_command();
        c.args(args).args(&self.state);
        c
    }

    /// `rel VERB DIR --env pr-main --endpoint-url MOTO EXTRA...`.
    pub fn args<'a>(&'a self, verb: &'a str, extra: &[&'a str]) -> Vec<String> {
        self.args_in("pr-main", verb, extra)
    }

    pub fn args_in(&self, env: &str, verb: &str, extra: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = vec![
            verb.into(),
            self.dir.display().to_string(),
            "--env".into(),
            env.into(),
            "--endpoint-url".into(),
            self.moto.endpoint.clone(),
            "--kubeconfig".into(),
            self.kube.kubeconfig(&self.dir).display().to_string(),
            // A stuck operation fails the test instead of hanging it.
            "--timeout".into(),
            "120".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    }

    pub fn rel(&self, verb: &str, extra: &[&str]) -> Run {
        self.rel_in("pr-main", verb, extra)
    }

    /// Applies environment `pr-BRANCH` (`--set branch=BRANCH`), which must succeed.
    pub fn apply_branch(&self, branch: &str) {
        let set = format!("branch={branch}");
        self.rel_in(
            &format!("pr-{branch}"),
            "apply",
            &["--auto-approve", "--set", &set],
        )
        .expect(0);
    }

    pub fn rel_in(&self, env: &str, verb: &str, extra: &[&str]) -> Run {
        let args = self.args_in(env, verb, extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        Run::of(self.command(&refs).output().expect("rel runs"))
    }

    pub fn spawn(&self, verb: &str, extra: &[&str]) -> Child {
        let args = self.args(verb, extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.command(&refs)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rel starts")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.join(".rel/state")
    }

    /// The CloudFormation stacks that exist, by name, with their status.
    pub fn stacks(&self) -> Vec<(String, String)> {
        let out = boto(
            &self.moto.endpoint,
            "cloudformation",
            "print(json.dumps(sorted([s['StackName'],s['StackStatus']] for s in c.describe_stacks()['Stacks'] if s['StackStatus']!='DELETE_COMPLETE')))",
            &[],
        );
        let v: Vec<(String, String)> = serde_json::from_str(&out).unwrap();
        v
    }
}
