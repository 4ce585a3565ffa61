//! Kubernetes: one multi-document YAML file per layer, in apply order
//! (namespace, then configuration, then workloads, then routing), every
//! object labelled as rel's so a later apply can prune what was removed.
//! Values known only after apply become `${rel:ADDRESS:ATTRIBUTE}`
//! placeholders that apply fills from stack outputs; secrets become
//! `${rel-secret:NAME}` placeholders that apply fills from the secret store.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::{Artifact, ArtifactKind, Build, Placeholder, by_layer, placeholder};
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
            Some(Value::Str(kind)) => kind.to_string(),
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

/// Walks a resource's values once: reports every value computed from one
/// known only after apply (a manifest can carry such a value, or a string
/// around it, but not a function's result over it) and collects the names
/// of the secrets it refers to.
fn scan<'v>(
    v: &'v Value,
    resource: &Resource,
    errors: &mut Vec<Diagnostic>,
    secrets: &mut Vec<&'v str>,
) {
    match v {
        Value::List(items) => items
            .iter()
            .for_each(|i| scan(i, resource, errors, secrets)),
        Value::Map(m) => m
            .values()
            .for_each(|v| scan(v, resource, errors, secrets)),
        Value::Secret(name) => secrets.push(name),
        Value::Derived(_) => errors.push(super::inexpressible(
            "a value computed from one known only after apply",
            &resource.address,
            resource.span,
            "Manifests can carry a value known after apply as it is, or inside a string; not the result of a function over it.",
        )),
        _ => {}
    }
}

/// Whether a value is written: nulls are left out, and so are derived
/// values (reported by `scan`).
fn written(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Derived(_))
}

/// A rel value written as YAML as it is, without an intermediate tree:
/// secrets and values known after apply become placeholders.
struct Yaml<'a>(&'a Value);

impl Serialize for Yaml<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null | Value::Derived(_) => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(n) => s.serialize_i64(*n),
            Value::Float(f) if f.is_finite() => s.serialize_f64(*f),
            Value::Float(_) => s.serialize_unit(),
            Value::Str(text) => s.serialize_str(text),
            Value::Secret(name) => s.serialize_str(&format!("${{rel-secret:{name}}}")),
            Value::Unknown(symbol) => s.serialize_str(&placeholder(symbol)),
            Value::Interpolated(pieces) => {
                let mut text = String::new();
                for p in pieces {
                    match p {
                        Piece::Text(t) => text.push_str(t),
                        Piece::Unknown(symbol) => text.push_str(&placeholder(symbol)),
                    }
                }
                s.serialize_str(&text)
            }
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.iter().filter(|i| written(i)).count()))?;
                for item in items.iter().filter(|i| written(i)) {
                    seq.serialize_element(&Yaml(item))?;
                }
                seq.end()
            }
            Value::Map(m) => {
                let mut map = s.serialize_map(Some(m.values().filter(|v| written(v)).count()))?;
                for (k, v) in m.iter().filter(|(_, v)| written(v)) {
                    map.serialize_entry(k, &Yaml(v))?;
                }
                map.end()
            }
        }
    }
}

/// A document: the resource's own values, with what rel adds merged in.
enum Node<'a> {
    Value(&'a Value),
    Text(String),
    Map(BTreeMap<&'a str, Node<'a>>),
}

impl Serialize for Node<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Value(v) => Yaml(v).serialize(s),
            Node::Text(t) => s.serialize_str(t),
            Node::Map(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// The written entries of a map value, as nodes.
fn entries(v: Option<&Value>) -> BTreeMap<&str, Node<'_>> {
    match v {
        Some(Value::Map(m)) => m
            .iter()
            .filter(|(_, v)| written(v))
            .map(|(k, v)| (k.as_str(), Node::Value(v)))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Opens the map under `key` for merging: an absent entry becomes an empty
/// map, and a value that is not a map stays as it is (`None`).
fn open<'a, 'm>(
    map: &'m mut BTreeMap<&'a str, Node<'a>>,
    key: &'a str,
) -> Option<&'m mut BTreeMap<&'a str, Node<'a>>> {
    let node = map.entry(key).or_insert_with(|| Node::Map(BTreeMap::new()));
    if let Node::Value(v @ Value::Map(_)) = node {
        *node = Node::Map(entries(Some(v)));
    }
    match node {
        Node::Map(m) => Some(m),
        _ => None,
    }
}

/// One object: the resource's properties with apiVersion, kind, name,
/// namespace and ownership labels filled in.
fn object<'a>(resource: &'a Resource, model: &Model) -> Node<'a> {
    let mut object = entries(Some(&resource.properties));
    let (api, kind) = api_and_kind(&resource.type_name);
    let namespaced = kind != "Namespace" && resource.address.layer != Layer::Shared;
    object.entry("apiVersion").or_insert(Node::Text(api));
    object.entry("kind").or_insert(Node::Text(kind));
    if let Some(meta) = open(&mut object, "metadata") {
        meta.entry("name").or_insert_with(|| {
            Node::Text(crate::compile::kubernetes_name(resource.address.name()))
        });
        if namespaced {
            meta.entry("namespace")
                .or_insert_with(|| Node::Text(model.environment.namespace.clone()));
        }
        if let Some(labels) = open(meta, "labels") {
            labels.insert(crate::compile::MANAGED_BY, Node::Text("rel".into()));
            if let Layer::Environment(env) = &resource.address.layer {
                labels.insert(
                    crate::compile::ENVIRONMENT_LABEL,
                    Node::Text(crate::compile::kubernetes_name(env)),
                );
            }
        }
    }
    Node::Map(object)
}

/// What one run of documents produced: their text, the secrets they use
/// and the errors met writing them.
#[derive(Default)]
struct Written {
    content: String,
    placeholders: Vec<Placeholder>,
    errors: Vec<Diagnostic>,
}

/// Documents per unit of parallel work: enough to amortise the hand-over,
/// small enough to balance the threads.
const DOCUMENTS_PER_CHUNK: usize = 256;

/// Writes a run of documents, each preceded by a separator but the very
/// first of the file.
fn write_documents(resources: &[&Resource], first: bool, file: &str, model: &Model) -> Written {
    let mut out = Written {
        // Objects average about a kilobyte of YAML: size the text once.
        content: String::with_capacity(resources.len() * 1024),
        ..Written::default()
    };
    for (i, resource) in resources.iter().enumerate() {
        if i > 0 || !first {
            out.content.push_str("---\n");
        }
        let mut secrets = Vec::new();
        scan(
            &resource.properties,
            resource,
            &mut out.errors,
            &mut secrets,
        );
        secrets.sort_unstable();
        secrets.dedup();
        for secret in secrets {
            out.placeholders.push(Placeholder {
                token: format!("${{rel-secret:{secret}}}"),
                source: format!("secret-store:{secret}"),
                used_in: file.to_string(),
                used_by: resource.address.to_string(),
            });
        }
        let document = object(resource, model);
        if let Err(e) = serde_saphyr::to_fmt_writer(&mut out.content, &document) {
            out.errors.push(
                Diagnostic::error(
                    codes::EMIT_FAILED,
                    format!("`{}` cannot be written as YAML: {e}", resource.address),
                )
                .with_label(resource.span, "this resource"),
            );
        }
    }
    out
}

/// Emits the manifests of a model. Documents are written in chunks on the
/// thread pool, one document at a time (only one object's view is alive
/// per thread), and joined in order, so the output does not depend on the
/// number of threads.
pub fn emit(model: &Model) -> Result<Build, Vec<Diagnostic>> {
    use rayon::prelude::*;
    let mut errors = Vec::new();
    let mut build = Build::default();
    for (layer, resources) in by_layer(model, Provider::Kubernetes) {
        // Ordered by kind, then address (resources come in address order
        // and the sort is stable).
        let mut ordered = resources;
        ordered.sort_by_cached_key(|r| kind_rank(&kind_of(r)));
        let file = match &layer {
            Layer::Shared => "kubernetes/shared.yaml".to_string(),
            Layer::Environment(_) => format!("kubernetes/{}.yaml", model.environment.namespace),
        };
        let chunks: Vec<Written> = ordered
            .par_chunks(DOCUMENTS_PER_CHUNK)
            .enumerate()
            .map(|(i, chunk)| write_documents(chunk, i == 0, &file, model))
            .collect();
        let mut content = String::with_capacity(chunks.iter().map(|c| c.content.len()).sum());
        for chunk in chunks {
            content.push_str(&chunk.content);
            build.placeholders.extend(chunk.placeholders);
            errors.extend(chunk.errors);
        }
        build.artifacts.push(Artifact {
            path: file,
            kind: ArtifactKind::KubernetesManifests,
            content,
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(build)
}
