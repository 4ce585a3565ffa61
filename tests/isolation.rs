//! Isolation and ownership: two projects whose apps and environments have
//! the same names share one AWS account (a moto server) and one cluster
//! (the Kubernetes stand-in) without touching each other; what rel would
//! write but does not own is refused and taken over only on purpose.
//! Results are read back through boto3 and the Kubernetes API.

mod support;

use std::path::{Path, PathBuf};

use rel::address::Layer;
use rel::identity::{Identity, Names, ProjectName};
use support::{KubeStandin, Moto, Run, boto};

/// A project folder: its name and template, sharing the account and
/// cluster with the others.
struct Folder {
    project: String,
    dir: PathBuf,
    /// Where states are kept, when not the folder's own.
    state: Option<PathBuf>,
}

fn template(project: &str) -> String {
    format!(
        r#"project "{project}"

import "std/aws" as aws

resource logs "AWS::S3::Bucket" {{
  BucketName = "{project}-logs"
}}

app store {{
  hostname = "${{service}}-${{env}}.example.com"

  service shoes {{
    image = "registry.example.com/shoes:1"
    port  = 8080
  }}

  registry shoes_repo = aws.repository {{
    name = "{project}/${{env}}/shoes"
  }}
}}

environment "production" from store {{
  tier = "prod"
}}
"#
    )
}

fn folder(test: &str, project: &str) -> Folder {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("isolation")
        .join(test)
        .join(project);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.rel"), template(project)).unwrap();
    Folder {
        project: project.into(),
        dir,
        state: None,
    }
}

fn names(project: &str) -> Names {
    Names::of(
        &Identity {
            project: ProjectName::new(project).unwrap(),
            app: "store".into(),
            environment: "production".into(),
        },
        None,
    )
}

fn rel(f: &Folder, moto: &Moto, kube: &KubeStandin, verb: &str, extra: &[&str]) -> Run {
    let out = support::project::rel_command()
        .arg(verb)
        .arg(&f.dir)
        .args(["--env", "production", "--endpoint-url", &moto.endpoint])
        .arg("--kubeconfig")
        .arg(kube.kubeconfig(&f.dir))
        .args(["--timeout", "120"])
        .args(
            f.state
                .iter()
                .flat_map(|s| [std::ffi::OsStr::new("--state"), s.as_os_str()]),
        )
        .args(extra)
        .output()
        .expect("rel runs");
    Run::of(out)
}

/// Stack name → (status, last updated time or creation time).
fn stacks(moto: &Moto) -> Vec<(String, String, String)> {
    let out = boto(
        &moto.endpoint,
        "cloudformation",
        "print(json.dumps(sorted([s['StackName'],s['StackStatus'],str(s.get('LastUpdatedTime',s['CreationTime']))] for s in c.describe_stacks()['Stacks'] if s['StackStatus']!='DELETE_COMPLETE')))",
        &[],
    );
    serde_json::from_str(&out).unwrap()
}

fn exports(moto: &Moto) -> Vec<String> {
    let out = boto(
        &moto.endpoint,
        "cloudformation",
        "print(json.dumps(sorted(e['Name'] for e in c.list_exports()['Exports'])))",
        &[],
    );
    serde_json::from_str(&out).unwrap()
}

#[test]
fn two_projects_with_the_same_app_and_environment_names_are_isolated() {
    let (moto, kube) = (Moto::start(), KubeStandin::start());
    // One state folder for both, as one S3 prefix for a whole company.
    let mut a = folder("two", "acme");
    let mut b = folder("two", "other");
    let states = a.dir.parent().unwrap().join("states");
    let _ = std::fs::remove_dir_all(&states);
    a.state = Some(states.clone());
    b.state = Some(states);
    rel(&a, &moto, &kube, "apply", &["--auto-approve"]).expect(0);
    rel(&b, &moto, &kube, "apply", &["--auto-approve"]).expect(0);
    for f in [&a, &b] {
        let plan = rel(f, &moto, &kube, "plan", &[]).expect(0);
        assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    }
    let (na, nb) = (names(&a.project), names(&b.project));
    let listed: Vec<String> = stacks(&moto).into_iter().map(|s| s.0).collect();
    for n in [&na, &nb] {
        assert!(listed.contains(&n.shared), "{listed:?}");
        assert!(listed.contains(&n.environment), "{listed:?}");
        let deployment = kube
            .object("Deployment", &n.namespace, "shoes")
            .expect("each project's Deployment in its own namespace");
        assert_eq!(
            deployment["metadata"]["labels"]["rel.dev/project"],
            n.identity.project.as_str()
        );
    }
    assert_eq!(na.namespace, "acme-store-production");
    assert_eq!(na.environment, "rel-acme-store-production");
    let b_exports: Vec<String> = exports(&moto)
        .into_iter()
        .filter(|e| e.starts_with(&nb.shared))
        .collect();

    // Destroying one project leaves every stack, export and object of the
    // other as it was.
    let b_stacks_before: Vec<_> = stacks(&moto)
        .into_iter()
        .filter(|s| s.0 == nb.shared || s.0 == nb.environment)
        .collect();
    let b_deployment = kube.object("Deployment", &nb.namespace, "shoes").unwrap();
    rel(
        &a,
        &moto,
        &kube,
        "destroy",
        &["--auto-approve", "--include-shared"],
    )
    .expect(0);
    let after = stacks(&moto);
    assert!(
        !after
            .iter()
            .any(|s| s.0 == na.shared || s.0 == na.environment),
        "{after:?}"
    );
    let b_stacks_after: Vec<_> = after
        .into_iter()
        .filter(|s| s.0 == nb.shared || s.0 == nb.environment)
        .collect();
    assert_eq!(b_stacks_before, b_stacks_after);
    let remaining = exports(&moto);
    for e in &b_exports {
        assert!(remaining.contains(e), "export {e} gone: {remaining:?}");
    }
    assert!(kube.object("Deployment", &na.namespace, "shoes").is_none());
    let still = kube.object("Deployment", &nb.namespace, "shoes").unwrap();
    assert_eq!(
        still["metadata"]["resourceVersion"],
        b_deployment["metadata"]["resourceVersion"]
    );
    let plan = rel(&b, &moto, &kube, "plan", &[]).expect(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
}

#[test]
fn what_rel_does_not_own_is_refused_and_adopted_only_on_purpose() {
    let (moto, kube) = (Moto::start(), KubeStandin::start());
    let f = folder("owned", "acme-shop");
    let n = names(&f.project);
    // A stack under the environment's stack name, made outside rel.
    boto(
        &moto.endpoint,
        "cloudformation",
        "c.create_stack(StackName=sys.argv[2],TemplateBody=json.dumps({'Resources':{'Q':{'Type':'AWS::SQS::Queue'}}}))",
        &[&n.environment],
    );
    let before = stacks(&moto);
    let refused = rel(&f, &moto, &kube, "apply", &["--auto-approve"]).expect(1);
    assert!(refused.stderr.contains("E0522"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&n.environment) && refused.stderr.contains("not created by rel"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--adopt"), "{}", refused.stderr);
    // Nothing changed: no stack created or updated, no object applied.
    assert_eq!(stacks(&moto), before);
    assert!(kube.objects().is_empty(), "{:?}", kube.objects());
    // A plan says the same.
    rel(&f, &moto, &kube, "plan", &[]).expect(1);

    // The adoption path: the plan lists it; the apply takes it over.
    let plan = rel(&f, &moto, &kube, "plan", &["--adopt"]).expect(2);
    assert!(plan.stdout.contains("Adopted"), "{}", plan.stdout);
    assert!(plan.stdout.contains(&n.environment), "{}", plan.stdout);
    rel(&f, &moto, &kube, "apply", &["--auto-approve", "--adopt"]).expect(0);
    let plan = rel(&f, &moto, &kube, "plan", &[]).expect(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
}

#[test]
fn an_object_of_the_same_name_made_outside_rel_is_refused() {
    let (moto, kube) = (Moto::start(), KubeStandin::start());
    let f = folder("object", "acme-shop");
    let n = names(&f.project);
    rel(&f, &moto, &kube, "apply", &["--auto-approve"]).expect(0);
    // Another team's ConfigMap, where a new rel object would go.
    let (status, made) = kube.request(
        "PATCH",
        &format!(
            "/api/v1/namespaces/{}/configmaps/settings?fieldManager=kubectl",
            n.namespace
        ),
        "application/apply-patch+yaml",
        &serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": n.namespace},
            "data": {"owner": "another team"}
        }),
    );
    assert!(status < 300, "{status} {made}");
    let text = std::fs::read_to_string(f.dir.join("main.rel")).unwrap();
    std::fs::write(
        f.dir.join("main.rel"),
        text.replace(
            "  registry shoes_repo",
            "  resource settings \"k8s:v1/ConfigMap\" {\n    data = { owner = \"rel\" }\n  }\n\n  registry shoes_repo",
        ),
    )
    .unwrap();
    let refused = rel(&f, &moto, &kube, "apply", &["--auto-approve"]).expect(1);
    assert!(
        refused.stderr.contains("E0522") && refused.stderr.contains("ConfigMap"),
        "{}",
        refused.stderr
    );
    let now = kube.object("ConfigMap", &n.namespace, "settings").unwrap();
    assert_eq!(
        now["metadata"]["resourceVersion"],
        made["metadata"]["resourceVersion"]
    );
    assert_eq!(now["data"]["owner"], "another team");
    rel(&f, &moto, &kube, "apply", &["--auto-approve", "--adopt"]).expect(0);
    let now = kube.object("ConfigMap", &n.namespace, "settings").unwrap();
    assert_eq!(now["data"]["owner"], "rel");
    rel(&f, &moto, &kube, "plan", &[]).expect(0);
}

#[test]
fn an_environment_applied_before_projects_keeps_its_names() {
    let (moto, kube) = (Moto::start(), KubeStandin::start());
    let f = folder("legacy", "acme-shop");
    // The layout a release before projects wrote: states `rel-shared` and
    // `rel-env-production` without names. Seeded empty, rel applies under
    // those names; the files are then written back as version 1.
    let states = f.dir.join(".rel/state");
    std::fs::create_dir_all(&states).unwrap();
    for (key, layer) in [
        ("rel-shared", Layer::Shared),
        (
            "rel-env-production",
            Layer::Environment("production".into()),
        ),
    ] {
        let mut s = rel::state::State::new(layer);
        s.serial = 1;
        std::fs::write(states.join(format!("{key}.json")), s.to_json()).unwrap();
    }
    rel(&f, &moto, &kube, "apply", &["--auto-approve"]).expect(0);
    let listed: Vec<String> = stacks(&moto).into_iter().map(|s| s.0).collect();
    assert_eq!(listed, ["rel-env-production", "rel-shared"]);
    assert!(kube.object("Deployment", "production", "shoes").is_some());
    for key in ["rel-shared", "rel-env-production"] {
        let path = states.join(format!("{key}.json"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("\"names\""), "{text}");
        std::fs::write(&path, text.replace("\"version\": 2", "\"version\": 1")).unwrap();
    }
    let before = stacks(&moto);
    let plan = rel(&f, &moto, &kube, "plan", &[]).expect(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    rel(&f, &moto, &kube, "apply", &["--auto-approve"]).expect(0);
    assert_eq!(stacks(&moto), before, "nothing recreated or updated");
}
