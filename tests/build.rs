//! `rel build` end to end: every example's artifacts are deterministic,
//! snapshotted, and accepted by the real validators (cfn-lint for
//! CloudFormation, kubernetes-validate --strict for manifests). The
//! validators are installed by scripts/test; without them this test fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use rel::emit::{Target, TemplateFormat};

mod support;
use support::{
    assert_kubernetes_valid, assert_same_build, build_example, build_example_pipelined, venv_tool,
};

/// Each example environment to build: folder, environment, settings.
/// An example, one of its environments, and its `--set` values.
type ExampleBuild = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const BUILDS: &[ExampleBuild] = &[
    ("shop", "production", &[("git.sha", "0123456789abcdef")]),
    (
        "shop",
        "pr-feature-x",
        &[("branch", "feature/x"), ("git.sha", "0123456789abcdef")],
    ),
    ("branches", "staging", &[("git.sha", "0123456789abcdef")]),
    ("branches", "production", &[("git.sha", "0123456789abcdef")]),
    (
        "branches",
        "pr-feature-login",
        &[("branch", "feature/login"), ("git.sha", "0123456789abcdef")],
    ),
    (
        "branches",
        "pr-fix-typo-42",
        &[("branch", "fix/typo-42"), ("git.sha", "0123456789abcdef")],
    ),
    (
        "branches",
        "pr-dependabot-npm-lodash-4-17-21",
        &[
            ("branch", "dependabot/npm/lodash-4.17.21"),
            ("git.sha", "0123456789abcdef"),
        ],
    ),
    ("datastores", "staging", &[("git.sha", "0123456789abcdef")]),
    (
        "datastores",
        "production",
        &[("git.sha", "0123456789abcdef")],
    ),
    ("govcloud", "training", &[("git.sha", "0123456789abcdef")]),
    ("govcloud", "production", &[("git.sha", "0123456789abcdef")]),
];

/// Every example's artifacts, in both template formats, written once under
/// one folder for all tests (they run in parallel).
fn write_all() -> &'static (PathBuf, Vec<PathBuf>, Vec<PathBuf>) {
    static WRITTEN: std::sync::OnceLock<(PathBuf, Vec<PathBuf>, Vec<PathBuf>)> =
        std::sync::OnceLock::new();
    WRITTEN.get_or_init(write_artifacts)
}

fn write_artifacts() -> (PathBuf, Vec<PathBuf>, Vec<PathBuf>) {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("build");
    let _ = std::fs::remove_dir_all(&out);
    let (mut templates, mut manifests) = (Vec::new(), Vec::new());
    for (example, env, sets) in BUILDS {
        for format in [TemplateFormat::Json, TemplateFormat::Yaml] {
            let dir = out.join(format!("{example}-{env}-{format:?}"));
            for artifact in build_example(example, env, sets, Target::Aws, format).artifacts {
                let path = dir.join(&artifact.path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &artifact.content).unwrap();
                match artifact.kind {
                    rel::emit::ArtifactKind::CloudformationTemplate => templates.push(path),
                    rel::emit::ArtifactKind::KubernetesManifests
                        if format == TemplateFormat::Json =>
                    {
                        manifests.push(path)
                    }
                    _ => {}
                }
            }
        }
    }
    (out, templates, manifests)
}

#[test]
fn builds_are_deterministic_and_snapshotted() {
    for (example, env, sets) in BUILDS {
        // Built twice, once as `rel build` does (objects written while
        // compiling): the same bytes.
        let first = build_example(example, env, sets, Target::Aws, TemplateFormat::Json);
        let second = build_example_pipelined(example, env, sets, Target::Aws, TemplateFormat::Json);
        assert_same_build(&first, &second, &format!("{example}/{env}"));
        for artifact in &first.artifacts {
            let name = format!("{example}__{env}__{}", artifact.path.replace('/', "__"));
            insta::assert_snapshot!(name, artifact.content);
        }
    }
}

/// Manifests do not depend on which objects were written ahead: with every
/// other object written ahead, and with an object written ahead twice (a
/// later copy wins, as in the model), the bytes are those of a build that
/// wrote none ahead.
#[test]
fn manifests_do_not_depend_on_what_was_written_ahead() {
    let model = rel::compile_entries(
        &mut rel::source::SourceMap::new(),
        &support::example_entries("shop"),
        &support::options("production", &[]),
    )
    .expect("shop compiles");
    let options = rel::emit::BuildOptions::default();
    let plain = rel::emit::build(&model, &options).expect("shop builds");
    let renderer = rel::emit::kubernetes::Renderer::start();
    let kubernetes: Vec<_> = model
        .resources
        .values()
        .filter(|r| r.provider == rel::compile::Provider::Kubernetes)
        .collect();
    assert!(kubernetes.len() > 4, "shop has Kubernetes objects");
    for (i, resource) in kubernetes.iter().enumerate() {
        if i % 2 == 0 {
            renderer.show(resource);
        }
    }
    renderer.show(kubernetes[0]);
    let half = rel::emit::build_with(&model, &options, renderer.finish()).expect("shop builds");
    assert_same_build(&plain, &half, "shop/production, half written ahead");
}

#[test]
fn cloudformation_templates_pass_cfn_lint() {
    let (_, templates, _) = write_all();
    assert!(
        templates.len() >= 4,
        "expected templates, found {templates:?}"
    );
    let output = Command::new(venv_tool("cfn-lint"))
        .args(["--format", "parseable", "--"])
        .args(templates)
        .output()
        .expect("cfn-lint runs");
    let report = String::from_utf8_lossy(&output.stdout);
    // Exit status is a bit mask: 2 errors, 4 warnings, 8 informational.
    let code = output.status.code().unwrap_or(1);
    assert!(
        code & 2 == 0 && code != 1,
        "cfn-lint found errors (exit {code}):\n{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let warnings = report.lines().count();
    assert_eq!(warnings, 0, "cfn-lint warnings:\n{report}");
}

#[test]
fn manifests_pass_kubernetes_validate_strict() {
    let (_, _, manifests) = write_all();
    assert_kubernetes_valid(manifests, 10);
}

/// What apply sends is what `rel build` writes: each environment's objects
/// as data are the documents of its manifest file, in the same order.
#[test]
fn applied_objects_are_the_written_manifests() {
    for (example, env, sets) in BUILDS {
        let model = rel::compile_entries(
            &mut rel::source::SourceMap::new(),
            &support::example_entries(example),
            &support::options(env, sets),
        )
        .unwrap();
        let build = rel::emit::build(&model, &rel::emit::BuildOptions::default()).unwrap();
        for (layer, objects) in rel::emit::kubernetes::objects_json(&model).unwrap() {
            let path = match &layer {
                rel::compile::Layer::Shared => "kubernetes/shared.yaml".to_string(),
                rel::compile::Layer::Environment(e) => {
                    format!(
                        "kubernetes/{}.yaml",
                        rel::identity::legacy_kubernetes_name(e)
                    )
                }
            };
            let artifact = build
                .artifacts
                .iter()
                .find(|a| a.path == path)
                .unwrap_or_else(|| panic!("{example}/{env}: no {path}"));
            let written: Vec<serde_json::Value> =
                serde_saphyr::from_multiple(&artifact.content).unwrap();
            assert_eq!(objects, written, "{example}/{env}: {path}");
        }
    }
}
