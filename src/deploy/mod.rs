//! Plan, apply and destroy: the desired CloudFormation stacks of one
//! environment against what its state recorded and what the provider
//! reports, then change sets that make the live stacks match.
//!
//! `plan.rs` is pure (desired + recorded + live → `Plan`) so it can be
//! tested and benchmarked without a network; `aws.rs` speaks to
//! CloudFormation through the AWS SDK; `run.rs` orchestrates locking,
//! refresh, the journal and change sets; `render.rs` writes plans for
//! terminals and pull requests.

pub mod aws;
pub mod cluster;
mod create_only;
pub mod kubernetes;
pub mod plan;
pub mod render;
pub mod run;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::compile::{Layer, Model, Provider};
use crate::diagnostic::{Diagnostic, codes};
use crate::emit::{ArtifactKind, Build, ManualValidation};

/// The version of the plan document (`--json`, saved plans); see
/// `docs/schema/plan.v1.json`.
pub const PLAN_VERSION: u32 = 1;

/// CloudFormation's limit for a template passed inline.
pub const TEMPLATE_BODY_LIMIT: usize = 51_200;

/// CloudFormation's limit for a template read from S3.
pub const TEMPLATE_URL_LIMIT: usize = 1_048_576;

/// One stack rel wants to exist.
#[derive(Clone, Debug)]
pub struct DesiredStack {
    pub name: String,
    /// `shared` or `env:NAME`.
    pub layer: String,
    /// The template exactly as built (JSON).
    pub text: String,
    pub sha256: String,
    pub template: serde_json::Value,
    /// Logical id → rel address.
    pub addresses: BTreeMap<String, String>,
    /// Stacks this one imports from (created first, deleted last).
    pub depends_on: Vec<String>,
}

/// What one environment wants deployed.
#[derive(Clone, Debug)]
pub struct Desired {
    pub environment: String,
    pub stacks: Vec<DesiredStack>,
    pub manual_validation: Vec<ManualValidation>,
    /// The environment's Kubernetes objects, in apply order.
    pub objects: Vec<kubernetes::DesiredObject>,
    /// Placeholder token → `STACK:OUTPUT` or `secret-store:NAME`.
    pub placeholders: BTreeMap<String, String>,
    /// The environment's Kubernetes namespace.
    pub namespace: String,
    /// The kubeconfig context the environment names, if any.
    pub kube_context: Option<String>,
}

/// The shared stack's name, which is also its state's key.
pub const SHARED_KEY: &str = "rel-shared";

/// The stack name (and state key) of an environment's layer.
pub fn env_key(environment: &str) -> String {
    crate::emit::layer_name(&Layer::Environment(environment.to_string()))
}

/// The layer a stack of `environment` holds, as states record it:
/// `shared` or `env:NAME`.
pub fn layer_of(stack: &str, environment: &str) -> String {
    if stack == SHARED_KEY {
        "shared".into()
    } else {
        format!("env:{environment}")
    }
}

impl Desired {
    /// The stacks of a build (JSON templates), with the addresses of their
    /// resources from the model.
    pub fn from_build(model: &Model, build: &Build) -> Result<Desired, Diagnostic> {
        let mut addresses: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for r in model.resources.values() {
            if r.provider != Provider::CloudFormation {
                continue;
            }
            let stack = crate::emit::layer_name(&r.address.layer);
            addresses.entry(stack).or_default().insert(
                crate::emit::cloudformation::logical_id(&r.address),
                r.address.to_string(),
            );
        }
        let mut stacks = Vec::new();
        let mut objects = Vec::new();
        for artifact in &build.artifacts {
            if artifact.kind == ArtifactKind::KubernetesManifests {
                objects.extend(kubernetes::parse_manifests(
                    &artifact.content,
                    &artifact.path,
                )?);
                continue;
            }
            if artifact.kind != ArtifactKind::CloudformationTemplate {
                continue;
            }
            let name = artifact
                .path
                .rsplit('/')
                .next()
                .unwrap_or(&artifact.path)
                .trim_end_matches(".json")
                .to_string();
            let template: serde_json::Value =
                serde_json::from_str(&artifact.content).map_err(|e| {
                    Diagnostic::error(
                        codes::DEPLOY_UNSUPPORTED,
                        format!("template `{}` is not JSON: {e}", artifact.path),
                    )
                    .with_help("plan and apply use JSON templates.")
                })?;
            let layer = layer_of(&name, &model.environment.name);
            stacks.push(DesiredStack {
                sha256: crate::state::sha256_hex(artifact.content.as_bytes()),
                text: artifact.content.clone(),
                addresses: addresses.remove(&name).unwrap_or_default(),
                depends_on: Vec::new(),
                template,
                layer,
                name,
            });
        }
        // Environments import what the shared stack exports.
        let shared = stacks.iter().any(|s| s.layer == "shared");
        for s in &mut stacks {
            if s.layer != "shared" && shared {
                s.depends_on.push(SHARED_KEY.into());
            }
        }
        stacks.sort_by(|a, b| (a.layer != "shared", &a.name).cmp(&(b.layer != "shared", &b.name)));
        Ok(Desired {
            environment: model.environment.name.clone(),
            stacks,
            manual_validation: build.manual_validation.clone(),
            objects,
            placeholders: build
                .placeholders
                .iter()
                .map(|p| (p.token.clone(), p.source.clone()))
                .collect(),
            namespace: model.environment.namespace.clone(),
            kube_context: model.environment.kube_context.clone(),
        })
    }
}

/// How a plan is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanFormat {
    Text,
    Markdown,
    Json,
}

/// A plan as written to `-o FILE`: the plan and what it was made from, so
/// that apply can refuse it once either moved.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPlan {
    /// Always `rel-saved-plan`.
    pub kind: String,
    pub plan: plan::Plan,
}

impl SavedPlan {
    pub fn read(text: &str, path: &str) -> Result<SavedPlan, Diagnostic> {
        let bad = |why: String| {
            Diagnostic::error(
                codes::STATE_UNREADABLE,
                format!("`{path}` is not a saved plan rel can apply: {why}"),
            )
            .with_help("Write a plan with `rel plan PATH --env NAME -o FILE`.")
        };
        let saved: SavedPlan = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if saved.kind != "rel-saved-plan" {
            return Err(bad(format!("its kind is `{}`", saved.kind)));
        }
        if saved.plan.format_version != PLAN_VERSION {
            return Err(bad(format!(
                "plan version {} (this rel reads {PLAN_VERSION})",
                saved.plan.format_version
            )));
        }
        Ok(saved)
    }
}
