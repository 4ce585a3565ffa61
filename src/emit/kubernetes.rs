//! Kubernetes: one multi-document YAML file per layer, in apply order
//! (namespace, then configuration, then workloads, then routing), every
//! object labelled as rel's so a later apply can prune what was removed.
//! Values known only after apply become `${rel:ADDRESS:ATTRIBUTE}`
//! placeholders that apply fills from stack outputs; secrets become
//! `${rel-secret:NAME}` placeholders that apply fills from the secret store.
//!
//! Each object's document depends on that object alone, so documents can be
//! written ahead (`Renderer`, on a thread of its own while compilation
//! goes on) or at emission on the thread pool; the file joins them in order.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};

use rustc_hash::FxHashMap;

use super::{
    Artifact, ArtifactKind, Build, Leaves, Placeholder, Written, by_layer, placeholder, written,
};
use crate::compile::{Address, Layer, Model, Provider, Resource};
use crate::diagnostic::{Diagnostic, codes};
use crate::eval::value::{Piece, Value};

/// Order of kinds in a manifest (and of applying them): what others need
/// comes first.
pub fn kind_rank(kind: &str) -> u8 {
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
fn kind_of(resource: &Resource) -> &str {
    match &*resource.properties {
        Value::Map(m) => match m.get("kind") {
            Some(Value::Str(kind)) => kind,
            _ => api_and_kind(&resource.type_name).1,
        },
        _ => api_and_kind(&resource.type_name).1,
    }
}

/// `apps/v1/Deployment` → (`apps/v1`, `Deployment`); `v1/Secret` → (`v1`, `Secret`).
fn api_and_kind(type_name: &str) -> (&str, &str) {
    type_name.rsplit_once('/').unwrap_or(("v1", type_name))
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

/// How manifests write what is theirs: secrets and values known after
/// apply become placeholders (derived values are reported by `scan`).
struct Placeholders;

impl Leaves for Placeholders {
    fn leaf<S: Serializer>(&self, value: &Value, s: S) -> Result<S::Ok, S::Error> {
        match value {
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
            _ => s.serialize_unit(),
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
            Node::Value(v) => Written(v, &Placeholders).serialize(s),
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

/// Whether a resource's properties already hold what `object` fills in
/// (compile gives every object its namespace and labels; raw resources
/// may leave apiVersion, kind and name to rel): then they are written as
/// they are, without a merged view.
fn complete(resource: &Resource) -> bool {
    let Value::Map(object) = &*resource.properties else {
        return false;
    };
    let Some(Value::Map(meta)) = object.get("metadata") else {
        return false;
    };
    let is_str = |v: Option<&Value>| matches!(v, Some(Value::Str(_)));
    is_str(object.get("apiVersion")) && is_str(object.get("kind")) && is_str(meta.get("name"))
}

/// One object: the resource's properties with apiVersion, kind and name
/// filled in.
fn object(resource: &Resource) -> Node<'_> {
    if complete(resource) {
        return Node::Value(&resource.properties);
    }
    let mut object = entries(Some(&resource.properties));
    let (api, kind) = api_and_kind(&resource.type_name);
    object
        .entry("apiVersion")
        .or_insert_with(|| Node::Text(api.to_string()));
    object
        .entry("kind")
        .or_insert_with(|| Node::Text(kind.to_string()));
    if let Some(meta) = open(&mut object, "metadata") {
        meta.entry("name")
            .or_insert_with(|| Node::Text(object_name(resource.address.name())));
    }
    Node::Map(object)
}

/// A raw resource's object name when it gives none: its rel name as a
/// DNS label.
fn object_name(name: &str) -> String {
    crate::identity::legacy_kubernetes_name(name)
}

/// The manifest file of a layer.
pub fn file_of(layer: &Layer) -> String {
    match layer {
        Layer::Shared => "kubernetes/shared.yaml".to_string(),
        Layer::Environment(env) => {
            format!(
                "kubernetes/{}.yaml",
                crate::identity::legacy_kubernetes_name(env)
            )
        }
    }
}

/// One object written: its YAML document, the secrets it uses and the
/// errors met writing it. Depends on the resource alone.
pub struct Rendered {
    text: String,
    placeholders: Vec<Placeholder>,
    errors: Vec<Diagnostic>,
}

/// Writes one object as a YAML document (without a separator).
pub fn render(resource: &Resource) -> Rendered {
    let mut out = Rendered {
        // Objects run to about a kilobyte of YAML.
        text: String::with_capacity(1024),
        placeholders: Vec::new(),
        errors: Vec::new(),
    };
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
            used_in: file_of(&resource.address.layer),
            used_by: resource.address.to_string(),
        });
    }
    if let Err(e) = serde_saphyr::to_fmt_writer(&mut out.text, &object(resource)) {
        out.errors.push(
            Diagnostic::error(
                codes::EMIT_FAILED,
                format!("`{}` cannot be written as YAML: {e}", resource.address),
            )
            .with_label(resource.span, "this resource"),
        );
    }
    // Held until the manifest is joined: keep only what the text needs.
    out.text.shrink_to_fit();
    out
}

/// Objects written ahead of emission, by address: a later one for an
/// address replaces an earlier one, as in the model.
#[derive(Default)]
pub struct Prerendered(FxHashMap<Address, Rendered>);

/// Writes Kubernetes objects on a thread of its own as compilation makes
/// them, so that the YAML is ready when the model is.
/// Without a thread (the system refused one) it does nothing, and
/// emission writes every object itself.
pub struct Renderer {
    worker: Option<(
        std::sync::mpsc::Sender<Resource>,
        std::thread::JoinHandle<Prerendered>,
    )>,
}

impl Renderer {
    pub fn start() -> Renderer {
        let (sender, receiver) = std::sync::mpsc::channel::<Resource>();
        let worker = std::thread::Builder::new()
            .name("rel-render".into())
            .spawn(move || {
                let mut done = Prerendered::default();
                for resource in receiver {
                    let rendered = render(&resource);
                    done.0.insert(resource.address.clone(), rendered);
                }
                done
            })
            .ok();
        Renderer {
            worker: worker.map(|handle| (sender, handle)),
        }
    }

    /// Queues a resource (other providers' are ignored). Cheap: the
    /// resource's values are shared, not copied.
    pub fn show(&self, resource: &Resource) {
        if let (Some((sender, _)), Provider::Kubernetes) = (&self.worker, resource.provider) {
            // A failed send only loses the head start: emission writes
            // what is missing.
            let _ = sender.send(resource.clone());
        }
    }

    /// Waits for the queued objects and hands them over.
    pub fn finish(self) -> Prerendered {
        match self.worker {
            Some((sender, handle)) => {
                drop(sender);
                handle.join().unwrap_or_default()
            }
            None => Prerendered::default(),
        }
    }
}

/// Each layer's objects as JSON, in manifest order: the documents `emit`
/// writes, as data (what apply sends), without a YAML round trip.
pub fn objects_json(model: &Model) -> Result<Vec<(Layer, Vec<serde_json::Value>)>, Diagnostic> {
    let mut out = Vec::new();
    for (layer, resources) in by_layer(model, Provider::Kubernetes) {
        let mut ordered = resources;
        ordered.sort_by_cached_key(|r| kind_rank(kind_of(r)));
        let objects = ordered
            .iter()
            .map(|r| {
                serde_json::to_value(object(r)).map_err(|e| {
                    Diagnostic::error(
                        codes::EMIT_FAILED,
                        format!("`{}` cannot be written as JSON: {e}", r.address),
                    )
                    .with_label(r.span, "this resource")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push((layer, objects));
    }
    Ok(out)
}

/// Emits the manifests of a model: one document per object, in kind order
/// then address order. Objects not written ahead are written now, on the
/// thread pool; the output does not depend on which were.
pub fn emit(model: &Model, mut prerendered: Prerendered) -> Result<Build, Vec<Diagnostic>> {
    use rayon::prelude::*;
    let mut errors = Vec::new();
    let mut build = Build::default();
    for (layer, resources) in by_layer(model, Provider::Kubernetes) {
        // Ordered by kind, then address (resources come in address order
        // and the sort is stable).
        let mut ordered = resources;
        ordered.sort_by_cached_key(|r| kind_rank(kind_of(r)));
        let mut fresh: FxHashMap<&Address, Rendered> = ordered
            .par_iter()
            .filter(|r| !prerendered.0.contains_key(&r.address))
            .map(|r| (&r.address, render(r)))
            .collect();
        let mut documents = Vec::with_capacity(ordered.len());
        for resource in &ordered {
            let rendered = prerendered
                .0
                .remove(&resource.address)
                .or_else(|| fresh.remove(&resource.address))
                .expect("every object is written ahead or now");
            documents.push(rendered);
        }
        let size = documents.iter().map(|d| d.text.len() + 4).sum();
        let mut content = String::with_capacity(size);
        for (i, document) in documents.into_iter().enumerate() {
            if i > 0 {
                content.push_str("---\n");
            }
            content.push_str(&document.text);
            build.placeholders.extend(document.placeholders);
            errors.extend(document.errors);
        }
        build.artifacts.push(Artifact {
            path: file_of(&layer),
            kind: ArtifactKind::KubernetesManifests,
            content,
            layer: Some(layer.clone()),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(build)
}
