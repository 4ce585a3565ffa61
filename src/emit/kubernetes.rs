//! Kubernetes: one multi-document YAML file per layer, in apply order
//! (namespace, then configuration, then workloads, then routing), every
//! object labelled as rel's so a later apply can prune what was removed.
//! Values known only after apply become `${rel:ADDRESS:ATTRIBUTE}`
//! placeholders that apply fills from stack outputs; secrets become
//! `${rel-secret:NAME}` placeholders that apply fills from the secret store.

use std::collections::BTreeMap;

use serde_json::{Map, Value as J, json};

use super::{Artifact, ArtifactKind, Build, Placeholder, by_layer, layer_name, placeholder};
use crate::compile::{Layer, Model, Provider, Resource};
use crate::diagnostic::{Diagnostic, codes};
use crate::eval::value::{Piece, Value};

/// Order of kinds in a manifest: what others need comes first.
fn kind_rank(kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        "ServiceAccount" | "Secret" | "ConfigMap" | "Role" | "ClusterRole" | "RoleBinding"
        | "ClusterRoleBinding" => 2,
        "Service" => 3,
        "Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "CronJob" => 4,
        "Ingress" => 5,
        _ => 6,
    }
}

/// The kind an object is written with: its own `kind` field, else its type's.
fn kind_of(resource: &Resource) -> String {
    match &resource.properties {
        Value::Map(m) => match m.get("kind") {
            Some(Value::Str(kind)) => kind.clone(),
            _ => api_and_kind(&resource.type_name).1,
        },
        _ => api_and_kind(&resource.type_name).1,
    }
}

/// `apps/v1/Deployment` → (`apps/v1`, `Deployment`); `v1/Secret` → (`v1`, `Secret`).
fn api_and_kind(type_name: &str) -> (String, String) {
    match type_name.rsplit_once('/') {
        Some((api, kind)) => (api.to_string(), kind.to_string()),
        None => ("v1".into(), type_name.to_string()),
    }
}

fn value(v: &Value, resource: &Resource, errors: &mut Vec<Diagnostic>) -> Option<J> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(n) => json!(n),
        Value::Float(f) => json!(f),
        Value::Str(s) => J::String(s.clone()),
        Value::Secret(name) => J::String(format!("${{rel-secret:{name}}}")),
        Value::List(items) => J::Array(
            items
                .iter()
                .filter_map(|i| value(i, resource, errors))
                .collect(),
        ),
        Value::Map(m) => J::Object(
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), value(v, resource, errors)?)))
                .collect(),
        ),
        Value::Unknown(symbol) => J::String(placeholder(symbol)),
        Value::Interpolated(pieces) => J::String(
            pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t.clone(),
                    Piece::Unknown(symbol) => placeholder(symbol),
                })
                .collect(),
        ),
        Value::Derived(_) => {
            errors.push(super::inexpressible(
                "a value computed from one known only after apply",
                &resource.address,
                resource.span,
                "Manifests can carry a value known after apply as it is, or inside a string; not the result of a function over it.",
            ));
            return None;
        }
    })
}

/// One object: the resource's properties with apiVersion, kind, name,
/// namespace and ownership labels filled in.
fn object(resource: &Resource, model: &Model, errors: &mut Vec<Diagnostic>) -> J {
    let mut object = match value(&resource.properties, resource, errors) {
        Some(J::Object(m)) => m,
        _ => Map::new(),
    };
    let (api, kind) = api_and_kind(&resource.type_name);
    object.entry("apiVersion").or_insert(J::String(api));
    object.entry("kind").or_insert(J::String(kind.clone()));
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| J::Object(Map::new()));
    if let J::Object(meta) = metadata {
        meta.entry("name")
            .or_insert_with(|| J::String(crate::compile::kubernetes_name(resource.address.name())));
        if kind != "Namespace" && resource.address.layer != Layer::Shared {
            meta.entry("namespace")
                .or_insert_with(|| J::String(model.environment.namespace.clone()));
        }
        let labels = meta
            .entry("labels")
            .or_insert_with(|| J::Object(Map::new()));
        if let J::Object(labels) = labels {
            labels.insert(crate::compile::MANAGED_BY.into(), J::String("rel".into()));
            if let Layer::Environment(env) = &resource.address.layer {
                labels.insert(
                    crate::compile::ENVIRONMENT_LABEL.into(),
                    J::String(crate::compile::kubernetes_name(env)),
                );
            }
        }
    }
    J::Object(object)
}

/// Emits the manifests of a model.
pub fn emit(model: &Model) -> Result<Build, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut build = Build::default();
    for (layer, resources) in by_layer(model, Provider::Kubernetes) {
        // Ordered by kind, then address, and written one document at a time,
        // so only one object's JSON form is alive at once.
        let mut ordered: Vec<(u8, String, &Resource)> = resources
            .into_iter()
            .map(|r| (kind_rank(&kind_of(r)), r.address.to_string(), r))
            .collect();
        ordered.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let file = match &layer {
            Layer::Shared => "kubernetes/shared.yaml".to_string(),
            Layer::Environment(_) => format!("kubernetes/{}.yaml", model.environment.namespace),
        };
        let mut content = String::new();
        for (i, (_, _, resource)) in ordered.into_iter().enumerate() {
            if i > 0 {
                content.push_str("---\n");
            }
            let document = object(resource, model, &mut errors);
            if let Err(e) = serde_saphyr::to_fmt_writer(&mut content, &document) {
                errors.push(Diagnostic::error(
                    codes::EMIT_FAILED,
                    format!("`{}` cannot be written as YAML: {e}", resource.address),
                ));
            }
        }
        build.artifacts.push(Artifact {
            path: file.clone(),
            kind: ArtifactKind::KubernetesManifests,
            content,
        });
        for resource in model
            .resources
            .values()
            .filter(|r| r.provider == Provider::Kubernetes && r.address.layer == layer)
        {
            for secret in secret_names(&resource.properties) {
                build.placeholders.push(Placeholder {
                    token: format!("${{rel-secret:{secret}}}"),
                    source: format!("secret-store:{secret}"),
                    used_in: file.clone(),
                    used_by: resource.address.to_string(),
                });
            }
        }
        let _ = layer_name(&layer);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(build)
}

fn secret_names(v: &Value) -> Vec<String> {
    let mut out = BTreeMap::new();
    collect(v, &mut out);
    out.into_keys().collect()
}

fn collect(v: &Value, out: &mut BTreeMap<String, ()>) {
    match v {
        Value::Secret(name) => {
            out.insert(name.clone(), ());
        }
        Value::List(items) => items.iter().for_each(|i| collect(i, out)),
        Value::Map(m) => m.values().for_each(|i| collect(i, out)),
        _ => {}
    }
}
