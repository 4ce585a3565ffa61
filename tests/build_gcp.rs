//! `rel build --target gcp` end to end on `examples/gcp`: every environment
//! builds twice to the same bytes (insta snapshots of every artifact), every
//! blueprint is well-formed Terraform JSON whose references all resolve
//! inside it, `terraform providers` accepts it when terraform is installed,
//! and the manifests pass kubernetes-validate --strict. The validator is
//! installed into .venv by scripts/test; without it this test fails.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use rel::emit::{ArtifactKind, Target, TemplateFormat};
use serde_json::Value as J;

mod support;
use support::{assert_kubernetes_valid, assert_same_build, build_example, build_example_pipelined};

const EXAMPLE: &str = "gcp";

/// Each environment of the example to build, with its settings.
const ENVIRONMENTS: &[(&str, &[(&str, &str)])] = &[
    ("staging", &[("git.sha", "0123456789abcdef")]),
    ("production", &[("git.sha", "0123456789abcdef")]),
];

/// Top-level keys a Terraform JSON configuration may have.
const TOP_LEVEL: &[&str] = &[
    "terraform",
    "provider",
    "resource",
    "data",
    "variable",
    "output",
    "locals",
];

/// Every environment's artifacts, written once under one folder for all
/// tests (they run in parallel): the folder and the artifacts' paths.
fn written() -> &'static (PathBuf, Vec<(PathBuf, ArtifactKind)>) {
    static WRITTEN: std::sync::OnceLock<(PathBuf, Vec<(PathBuf, ArtifactKind)>)> =
        std::sync::OnceLock::new();
    WRITTEN.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("build_gcp");
        let _ = std::fs::remove_dir_all(&out);
        let mut paths = Vec::new();
        for (env, sets) in ENVIRONMENTS {
            let dir = out.join(env);
            for artifact in
                build_example(EXAMPLE, env, sets, Target::Gcp, TemplateFormat::Json).artifacts
            {
                let path = dir.join(&artifact.path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &artifact.content).unwrap();
                paths.push((path, artifact.kind));
            }
        }
        (out, paths)
    })
}

fn of_kind(kind: ArtifactKind) -> Vec<PathBuf> {
    written()
        .1
        .iter()
        .filter(|(_, k)| *k == kind)
        .map(|(p, _)| p.clone())
        .collect()
}

#[test]
fn gcp_builds_are_deterministic_and_snapshotted() {
    for (env, sets) in ENVIRONMENTS {
        let first = build_example(EXAMPLE, env, sets, Target::Gcp, TemplateFormat::Json);
        let second = build_example_pipelined(EXAMPLE, env, sets, Target::Gcp, TemplateFormat::Json);
        assert_same_build(&first, &second, &format!("{EXAMPLE}/{env}"));
        let kinds: BTreeSet<ArtifactKind> = first.artifacts.iter().map(|a| a.kind).collect();
        for kind in [
            ArtifactKind::TerraformBlueprint,
            ArtifactKind::InfrastructureManagerDeployment,
            ArtifactKind::KubernetesManifests,
            ArtifactKind::Index,
        ] {
            assert!(
                kinds.contains(&kind),
                "{EXAMPLE}/{env}: no {kind:?} artifact"
            );
        }
        assert!(
            !kinds.contains(&ArtifactKind::CloudformationTemplate),
            "{EXAMPLE}/{env}: a GCP build wrote CloudFormation"
        );
        for artifact in &first.artifacts {
            let name = format!("{EXAMPLE}__{env}__{}", artifact.path.replace('/', "__"));
            insta::assert_snapshot!(name, artifact.content);
        }
    }
}

/// Every string in a JSON document, with the path that leads to it.
fn strings<'j>(value: &'j J, path: &str, out: &mut Vec<(String, &'j str)>) {
    match value {
        J::String(s) => out.push((path.to_string(), s)),
        J::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                strings(item, &format!("{path}[{i}]"), out);
            }
        }
        J::Object(map) => {
            for (k, v) in map {
                strings(v, &format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

/// Whether `config[block][type][name]` exists.
fn declared(config: &J, block: &str, type_name: &str, name: &str) -> bool {
    config
        .get(block)
        .and_then(|b| b.get(type_name))
        .and_then(|t| t.get(name))
        .is_some()
}

/// The problems of one blueprint, as sentences (empty when it is sound).
fn blueprint_problems(config: &J) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(top) = config.as_object() else {
        return vec!["the document is not a JSON object".into()];
    };
    for key in top.keys() {
        if !TOP_LEVEL.contains(&key.as_str()) {
            problems.push(format!("unexpected top-level key `{key}`"));
        }
    }
    match top.get("terraform") {
        Some(J::Object(terraform)) => {
            if terraform.contains_key("backend") || terraform.contains_key("cloud") {
                problems.push(
                    "a `backend` or `cloud` block (Infrastructure Manager manages state)".into(),
                );
            }
            if terraform
                .get("required_providers")
                .and_then(|p| p.get("google"))
                .and_then(|g| g.get("source"))
                .and_then(J::as_str)
                != Some("hashicorp/google")
            {
                problems.push("no required_providers.google with source hashicorp/google".into());
            }
        }
        _ => problems.push("no `terraform` block".into()),
    }
    match top.get("resource") {
        Some(J::Object(types)) if !types.is_empty() => {
            for (type_name, named) in types {
                if !type_name.starts_with("google_") {
                    problems.push(format!("resource type `{type_name}` is not a google one"));
                }
                let Some(named) = named.as_object().filter(|n| !n.is_empty()) else {
                    problems.push(format!("`resource.{type_name}` is not a map of resources"));
                    continue;
                };
                for (name, body) in named {
                    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
                        && name
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                    if !valid {
                        problems.push(format!("resource name `{type_name}.{name}` is invalid"));
                    }
                    if !body.is_object() {
                        problems.push(format!("`{type_name}.{name}` has no body object"));
                    }
                }
            }
        }
        _ => problems.push("no resources".into()),
    }
    // Every reference in an interpolation resolves inside this file.
    let interpolation = regex::Regex::new(r"\$\{([^}]*)\}").unwrap();
    let reference = regex::Regex::new(
        r"\b(data\.)?(google_[a-z0-9_]+)\.([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)|\bvar\.([a-z_][a-z0-9_]*)",
    )
    .unwrap();
    let mut found = Vec::new();
    strings(config, "", &mut found);
    for (path, text) in found {
        // `$${` is a literal `${`.
        let text = text.replace("$${", "");
        for expression in interpolation.captures_iter(&text) {
            let expression = &expression[1];
            let mut any = false;
            for r in reference.captures_iter(expression) {
                any = true;
                if let Some(variable) = r.get(5) {
                    if config
                        .get("variable")
                        .and_then(|v| v.get(variable.as_str()))
                        .is_none()
                    {
                        problems.push(format!(
                            "{path}: `var.{}` is not a declared variable",
                            variable.as_str()
                        ));
                    }
                    continue;
                }
                let block = if r.get(1).is_some() {
                    "data"
                } else {
                    "resource"
                };
                if !declared(config, block, &r[2], &r[3]) {
                    problems.push(format!("{path}: `{}` names no {block} in this file", &r[0]));
                }
            }
            if !any {
                problems.push(format!(
                    "{path}: `${{{expression}}}` refers to no resource, data source or variable"
                ));
            }
        }
    }
    problems
}

#[test]
fn blueprints_are_terraform_json_with_resolving_references() {
    let blueprints = of_kind(ArtifactKind::TerraformBlueprint);
    assert!(
        blueprints.len() >= 2 * ENVIRONMENTS.len(),
        "expected a shared and an environment blueprint per environment, found {blueprints:?}"
    );
    let mut references = 0;
    for path in &blueprints {
        assert!(path.ends_with("main.tf.json"), "{}", path.display());
        let text = std::fs::read_to_string(path).unwrap();
        let config: J = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        let problems = blueprint_problems(&config);
        assert!(
            problems.is_empty(),
            "{}:\n  {}",
            path.display(),
            problems.join("\n  ")
        );
        references += text.matches("${google_").count();
        // The deployment next to it sets exactly the blueprint's variables.
        let deployment: J = serde_json::from_str(
            &std::fs::read_to_string(path.with_file_name("deployment.json")).unwrap(),
        )
        .unwrap();
        let variables: BTreeSet<&String> = config
            .get("variable")
            .and_then(J::as_object)
            .map(|v| v.keys().collect())
            .unwrap_or_default();
        let inputs: BTreeSet<&String> = deployment["terraformBlueprint"]["inputValues"]
            .as_object()
            .map(|v| v.keys().collect())
            .unwrap_or_default();
        assert_eq!(
            variables,
            inputs,
            "{}: inputs and variables",
            path.display()
        );
        let blueprint = deployment["terraformBlueprint"]["blueprint"]
            .as_str()
            .unwrap_or_default();
        assert!(
            path.ends_with(blueprint),
            "{}: deployment names blueprint `{blueprint}`",
            path.display()
        );
    }
    assert!(references > 10, "too few references between resources");
}

#[test]
fn the_checker_rejects_broken_blueprints() {
    let broken = serde_json::json!({
        "terraform": { "backend": { "gcs": {} }, "required_providers": { "google": { "source": "hashicorp/google" } } },
        "module": {},
        "resource": { "google_sql_user": { "u": { "instance": "${google_sql_database_instance.missing.name}", "password": "${var.nope}" } } },
    });
    let problems = blueprint_problems(&broken);
    assert_eq!(problems.len(), 4, "{problems:#?}");
}

#[test]
#[ignore = "needs a terraform binary, which the package registries here do not provide; run with --ignored where it is installed"]
fn terraform_reads_the_blueprints() {
    let terraform = std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("terraform"))
                .find(|p| p.is_file())
        })
        .expect("`terraform` is on PATH (this test is run with --ignored where it is installed)");
    let blueprints = of_kind(ArtifactKind::TerraformBlueprint);
    assert!(!blueprints.is_empty());
    for path in blueprints {
        let dir = path.parent().unwrap();
        let output = Command::new(&terraform)
            .arg("providers")
            .current_dir(dir)
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .expect("terraform runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "terraform providers failed in {}:\n{stdout}{}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("hashicorp/google"),
            "{}: {stdout}",
            dir.display()
        );
    }
}

#[test]
fn gcp_manifests_pass_kubernetes_validate_strict() {
    let manifests = of_kind(ArtifactKind::KubernetesManifests);
    assert_eq!(
        manifests.len(),
        ENVIRONMENTS.len(),
        "one manifest file per environment: {manifests:?}"
    );
    assert_kubernetes_valid(&manifests, 14);
}
