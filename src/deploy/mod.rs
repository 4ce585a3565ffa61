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
pub mod gcp;
pub mod kubernetes;
pub mod layout;
pub mod ownership;
pub mod plan;
pub mod render;
pub mod run;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::compile::{Layer, Model, Provider};
use crate::diagnostic::{Diagnostic, codes};
use crate::emit::{ArtifactKind, Build, ManualValidation, Target};

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
    pub layer: Layer,
    /// The template exactly as built (JSON).
    pub text: String,
    pub sha256: String,
    pub template: serde_json::Value,
    /// Logical id → rel address.
    pub addresses: BTreeMap<String, String>,
    /// Stacks this one imports from (created first, deleted last).
    pub depends_on: Vec<String>,
    /// GCP: the Infrastructure Manager deployment's metadata
    /// (`deployment.json`: labels, input values).
    pub deployment: Option<serde_json::Value>,
}

/// What one environment wants deployed.
#[derive(Clone, Debug)]
pub struct Desired {
    pub environment: String,
    /// Its identity and the names of its stacks, namespace and labels.
    pub names: crate::identity::Names,
    /// The cloud the layers go to.
    pub target: crate::emit::Target,
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
    /// Objects of the shared layer's manifests (not applied per environment).
    pub shared_objects: usize,
    /// The template's `drift_ignore` rules for the environment.
    pub drift_ignore: Vec<crate::compile::DriftRule>,
    /// The parameters set for this run (`--set`), recorded with the
    /// environment's state by apply.
    pub parameters: BTreeMap<String, String>,
}

impl Desired {
    /// The state key (and stack or deployment name) of the environment's
    /// layer.
    pub fn env_key(&self) -> &str {
        &self.names.environment
    }

    /// The shared layer's state key (and stack or deployment name).
    pub fn shared_key(&self) -> &str {
        &self.names.shared
    }

    /// The layer a stack holds.
    pub fn layer_of(&self, stack: &str) -> Layer {
        if stack == self.names.shared {
            Layer::Shared
        } else {
            Layer::Environment(self.environment.clone())
        }
    }

    /// The stacks of a build (JSON templates), with the addresses of their
    /// resources from the model.
    pub fn from_build(model: &Model, build: &Build, target: Target) -> Result<Desired, Diagnostic> {
        let mut addresses: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for r in model.resources.values() {
            let key = match r.provider {
                Provider::CloudFormation => crate::emit::cloudformation::logical_id(&r.address),
                Provider::Gcp => format!(
                    "{}.{}",
                    r.type_name,
                    crate::emit::gcp::terraform_name(&r.address)
                ),
                _ => continue,
            };
            let stack = crate::emit::layer_name(&model.environment.names, &r.address.layer);
            addresses
                .entry(stack.to_string())
                .or_default()
                .insert(key, r.address.to_string());
        }
        let parse = |artifact: &crate::emit::Artifact| -> Result<serde_json::Value, Diagnostic> {
            serde_json::from_str(&artifact.content).map_err(|e| {
                Diagnostic::error(
                    codes::DEPLOY_UNSUPPORTED,
                    format!("`{}` is not JSON: {e}", artifact.path),
                )
                .with_help("plan and apply use JSON templates.")
            })
        };
        let mut stacks = Vec::new();
        let mut objects = Vec::new();
        let mut shared_objects = 0;
        for (layer, documents) in crate::emit::kubernetes::objects_json(model)? {
            if layer == Layer::Shared {
                shared_objects += documents.len();
                continue;
            }
            for manifest in documents {
                let key = kubernetes::ObjectKey::of(&manifest).ok_or_else(|| {
                    Diagnostic::error(
                        codes::DEPLOY_UNSUPPORTED,
                        "a Kubernetes object has no apiVersion, kind or metadata.name",
                    )
                })?;
                objects.push(kubernetes::DesiredObject { key, manifest });
            }
        }
        // The templates are read from the bytes emit wrote, which are what
        // the provider receives; their layers and names come from emit.
        for artifact in &build.artifacts {
            let Some(layer) = &artifact.layer else {
                continue;
            };
            let name = crate::emit::layer_name(&model.environment.names, layer).to_string();
            let (template, deployment) = match artifact.kind {
                ArtifactKind::CloudformationTemplate => (parse(artifact)?, None),
                ArtifactKind::TerraformBlueprint => {
                    let metadata = build
                        .artifacts
                        .iter()
                        .find(|a| {
                            a.kind == ArtifactKind::InfrastructureManagerDeployment
                                && a.layer.as_ref() == Some(layer)
                        })
                        .map(parse)
                        .transpose()?
                        .unwrap_or(serde_json::Value::Null);
                    let labels: BTreeMap<String, String> = metadata
                        .get("labels")
                        .and_then(serde_json::Value::as_object)
                        .map(|m| {
                            m.iter()
                                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                                .collect()
                        })
                        .unwrap_or_default();
                    (
                        gcp::plan_template(&parse(artifact)?, &labels),
                        Some(metadata),
                    )
                }
                _ => continue,
            };
            let layer = layer.clone();
            stacks.push(DesiredStack {
                sha256: crate::state::sha256_hex(artifact.content.as_bytes()),
                text: artifact.content.clone(),
                addresses: addresses.remove(&name).unwrap_or_default(),
                depends_on: Vec::new(),
                deployment,
                template,
                layer,
                name,
            });
        }
        // Environments import what the shared stack exports.
        let shared = stacks.iter().any(|s| s.layer.is_shared());
        for s in &mut stacks {
            if !s.layer.is_shared() && shared {
                s.depends_on.push(model.environment.names.shared.clone());
            }
        }
        stacks
            .sort_by(|a, b| (!a.layer.is_shared(), &a.name).cmp(&(!b.layer.is_shared(), &b.name)));
        let mut placeholders: BTreeMap<String, String> = build
            .placeholders
            .iter()
            .map(|p| (p.token.clone(), p.source.clone()))
            .collect();
        env_secrets(model, &mut objects, &mut placeholders);
        Ok(Desired {
            environment: model.environment.name.clone(),
            names: model.environment.names.clone(),
            target,
            stacks,
            manual_validation: build.manual_validation.clone(),
            objects,
            placeholders,
            shared_objects,
            namespace: model.environment.namespace.clone(),
            kube_context: model.environment.kube_context.clone(),
            drift_ignore: model.environment.drift_ignore.clone(),
            parameters: BTreeMap::new(),
        })
    }
}

/// Environment variables that hold secrets refer to keys of a Secret
/// named `rel-secrets` (the manifests never carry the values); apply
/// creates it in each namespace that uses it, from the secret store.
fn env_secrets(
    model: &Model,
    objects: &mut Vec<kubernetes::DesiredObject>,
    placeholders: &mut BTreeMap<String, String>,
) {
    fn refs(v: &serde_json::Value, out: &mut BTreeSet<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(r) = m.get("secretKeyRef")
                    && r.get("name").and_then(serde_json::Value::as_str)
                        == Some(crate::compile::ENV_SECRET)
                    && let Some(key) = r.get("key").and_then(serde_json::Value::as_str)
                {
                    out.insert(key.to_string());
                }
                m.values().for_each(|v| refs(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut by_namespace: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for o in objects.iter() {
        let mut keys = BTreeSet::new();
        refs(&o.manifest, &mut keys);
        if let (false, Some(ns)) = (keys.is_empty(), &o.key.namespace) {
            by_namespace.entry(ns.clone()).or_default().extend(keys);
        }
    }
    let names: BTreeMap<String, &String> = model
        .secrets
        .iter()
        .map(|n| (crate::compile::secret_key(n), n))
        .collect();
    // After namespaces and definitions, before what uses it.
    let at = objects
        .iter()
        .position(|o| {
            !matches!(
                o.key.kind.as_str(),
                "Namespace" | "CustomResourceDefinition"
            )
        })
        .unwrap_or(objects.len());
    for (ns, keys) in by_namespace.into_iter().rev() {
        let mut data = serde_json::Map::new();
        for key in keys {
            let Some(name) = names.get(&key) else {
                continue;
            };
            let token = format!("${{rel-secret:{name}}}");
            placeholders.insert(token.clone(), format!("secret-store:{name}"));
            data.insert(key, serde_json::Value::String(token));
        }
        let manifest = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": crate::compile::ENV_SECRET,
                "namespace": ns,
                "labels": model.environment.names.labels().into_iter().collect::<BTreeMap<_, _>>(),
            },
            "type": "Opaque",
            "stringData": data,
        });
        if let Some(key) = kubernetes::ObjectKey::of(&manifest) {
            objects.insert(at, kubernetes::DesiredObject { key, manifest });
        }
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
