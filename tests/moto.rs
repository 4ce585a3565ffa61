//! Every example's CloudFormation stacks are accepted by a real AWS API
//! endpoint on loopback (moto): CreateStack reaches CREATE_COMPLETE, the
//! shared stack first so that environments can import its exports.
//! moto creates no EKS clusters or ACM certificates (it completes them as
//! empty resources); cfn-lint checks those in `tests/build.rs`.

use std::path::Path;
use std::process::Command;

use rel::emit::{ArtifactKind, Target, TemplateFormat};

mod support;
use support::{Moto, build_example, venv_tool};

/// Example environments whose stacks are created, in one moto account.
/// An example, one of its environments, and its `--set` values.
type ExampleBuild = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const STACKS: &[ExampleBuild] = &[
    ("shop", "production", &[]),
    ("shop", "pr-feature-x", &[("branch", "feature/x")]),
    ("branches", "staging", &[]),
    (
        "branches",
        "pr-feature-login",
        &[("branch", "feature/login")],
    ),
];
// Not here: `datastores` and `govcloud`. Their shared stacks export
// attributes of EKS resources (the cluster's security group and OIDC issuer),
// and moto 5.2.5 fails CreateStack with an HTTP 500 when an output reads an
// attribute of a resource type it does not implement. cfn-lint validates
// them in tests/build.rs.

#[test]
fn example_stacks_reach_create_complete() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("moto");
    let _ = std::fs::remove_dir_all(&out);
    let moto = Moto::start();
    for (example, env, sets) in STACKS {
        let build = build_example(example, env, sets, Target::Aws, TemplateFormat::Json);
        // The shared stack first: environments import its exports. Each
        // example environment gets its own account-wide shared stack name.
        let mut pairs = Vec::new();
        let mut templates: Vec<_> = build
            .artifacts
            .iter()
            .filter(|a| a.kind == ArtifactKind::CloudformationTemplate)
            .collect();
        templates.sort_by_key(|a| !a.path.ends_with("rel-shared.json"));
        for artifact in templates {
            let path = out.join(format!("{example}-{env}")).join(&artifact.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &artifact.content).unwrap();
            let stack = Path::new(&artifact.path)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .to_string();
            pairs.push(format!("{stack}={}", path.display()));
        }
        // A fresh account per environment: both define `rel-shared`.
        let reset = Command::new(venv_tool("python"))
            .args(["-c", &format!("import urllib.request; urllib.request.urlopen(urllib.request.Request('{}/moto-api/reset', method='POST'))", moto.endpoint)])
            .status()
            .expect("reset runs");
        assert!(reset.success());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/create_stacks.py");
        let output = Command::new(venv_tool("python"))
            .arg(script)
            .arg(&moto.endpoint)
            .args(&pairs)
            .output()
            .expect("the stack script runs");
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{example}/{env}:\n{report}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let statuses: Vec<serde_json::Value> = report
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per stack"))
            .collect();
        assert_eq!(statuses.len(), pairs.len(), "{report}");
        assert!(
            statuses.iter().all(|s| s["status"] == "CREATE_COMPLETE"),
            "{report}"
        );
    }
}
