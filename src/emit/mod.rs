//! Emit: a compiled model → deterministic documents. One file per target,
//! pure functions: CloudFormation templates, Kubernetes manifests, GCP
//! Infrastructure Manager blueprints, and an index of everything.

pub mod cloudformation;
pub mod gcp;
pub mod kubernetes;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::compile::{Address, Layer, Model, Provider, Resource};
use crate::diagnostic::{Diagnostic, codes};
use crate::eval::value::{Piece, Symbol, Value};
use crate::source::Span;

/// Which cloud the stacks go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Target {
    #[default]
    Aws,
    Gcp,
}

/// How CloudFormation templates are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TemplateFormat {
    #[default]
    Json,
    Yaml,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct BuildOptions {
    pub target: Target,
    pub template_format: TemplateFormat,
}

/// One file of a build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// Path relative to the output folder, with `/` separators.
    pub path: String,
    pub kind: ArtifactKind,
    pub content: String,
    /// The layer a template, blueprint, deployment or manifest file is
    /// of (none for the index).
    pub layer: Option<Layer>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    CloudformationTemplate,
    KubernetesManifests,
    TerraformBlueprint,
    InfrastructureManagerDeployment,
    Index,
}

/// A value known only after apply that a document uses, and where.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Placeholder {
    /// The text in the document (`${rel:ADDRESS:ATTRIBUTE}`), or the
    /// output that carries it.
    pub token: String,
    /// The resource and attribute it stands for.
    pub source: String,
    /// The artifact and resource that use it.
    pub used_in: String,
    pub used_by: String,
}

/// A certificate whose DNS validation records a person must create: its
/// zone is not a public zone rel manages (a private-only zone, GovCloud,
/// DNS hosted elsewhere). The records' names and values exist only after
/// the certificate is requested; `rel plan` and `rel apply` read them from ACM.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct ManualValidation {
    pub certificate: String,
    pub domains: Vec<String>,
    pub record_type: String,
    pub records: String,
}

/// Everything a build produced.
#[derive(Debug, Default)]
pub struct Build {
    pub artifacts: Vec<Artifact>,
    pub placeholders: Vec<Placeholder>,
    pub manual_validation: Vec<ManualValidation>,
}

/// ACM certificates validated by DNS without a hosted zone to write the
/// records into.
fn manual_validation(model: &Model) -> Vec<ManualValidation> {
    let mut out = Vec::new();
    for r in model.resources.values() {
        if r.provider != Provider::CloudFormation
            || r.type_name != "AWS::CertificateManager::Certificate"
        {
            continue;
        }
        let Value::Map(props) = &*r.properties else {
            continue;
        };
        let dns = props
            .get("ValidationMethod")
            .and_then(Value::as_str)
            .is_some_and(|m| m.eq_ignore_ascii_case("DNS"));
        let zoned = matches!(props.get("DomainValidationOptions"), Some(Value::List(items)) if !items.is_empty());
        if !dns || zoned {
            continue;
        }
        let mut domains: Vec<String> = props
            .get("DomainName")
            .and_then(Value::as_str)
            .map(str::to_string)
            .into_iter()
            .collect();
        if let Some(Value::List(sans)) = props.get("SubjectAlternativeNames") {
            domains.extend(sans.iter().filter_map(|v| v.as_str().map(str::to_string)));
        }
        domains.sort();
        domains.dedup();
        out.push(ManualValidation {
            certificate: r.address.to_string(),
            domains,
            record_type: "CNAME".into(),
            records:
                "known once ACM has the request: `rel plan` and `rel apply` read them from ACM"
                    .into(),
        });
    }
    out
}

/// Emits every artifact of a model, plus `index.json`.
pub fn build(model: &Model, options: &BuildOptions) -> Result<Build, Vec<Diagnostic>> {
    build_with(model, options, kubernetes::Prerendered::default())
}

/// As `build`, with Kubernetes objects already written (see
/// `kubernetes::Renderer`).
pub fn build_with(
    model: &Model,
    options: &BuildOptions,
    prerendered: kubernetes::Prerendered,
) -> Result<Build, Vec<Diagnostic>> {
    let mut build = Build::default();
    let mut errors = Vec::new();
    // The cloud's templates, the manifests (and their digests) and the
    // index's list of resources are independent: written at once, on the
    // thread pool.
    let (cloud, ((manifests, digests), resources)) = rayon::join(
        || match options.target {
            Target::Aws => cloudformation::emit(model, options.template_format),
            Target::Gcp => gcp::emit(model),
        },
        || {
            rayon::join(
                || {
                    let manifests = kubernetes::emit(model, prerendered);
                    let digests: BTreeMap<String, String> = match &manifests {
                        Ok(b) => b
                            .artifacts
                            .iter()
                            .map(|a| (a.path.clone(), sha256(&a.content)))
                            .collect(),
                        Err(_) => BTreeMap::new(),
                    };
                    (manifests, digests)
                },
                || resource_list(model),
            )
        },
    );
    match cloud {
        Ok(mut b) => {
            build.artifacts.append(&mut b.artifacts);
            build.placeholders.append(&mut b.placeholders);
        }
        Err(mut e) => errors.append(&mut e),
    }
    match manifests {
        Ok(mut b) => {
            build.artifacts.append(&mut b.artifacts);
            build.placeholders.append(&mut b.placeholders);
        }
        Err(mut e) => errors.append(&mut e),
    }
    if !errors.is_empty() {
        crate::diagnostic::sort(&mut errors);
        return Err(errors);
    }
    // Resources of another provider than the target cannot be built.
    for resource in model.resources.values() {
        let wrong = match (options.target, resource.provider) {
            (Target::Aws, Provider::Gcp) => Some("GCP"),
            (Target::Gcp, Provider::CloudFormation) => Some("AWS"),
            _ => None,
        };
        if let Some(cloud) = wrong {
            errors.push(
                Diagnostic::error(
                    codes::WRONG_TARGET,
                    format!("`{}` is a {cloud} resource", resource.address),
                )
                .with_label(resource.span, format!("a {cloud} resource"))
                .with_help("Build with the --target that matches the template's resources."),
            );
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    build.placeholders.sort();
    build.placeholders.dedup();
    build.manual_validation = manual_validation(model);
    build.artifacts.sort_by(|a, b| a.path.cmp(&b.path));
    let index = index(model, &build, resources, &digests);
    build.artifacts.push(Artifact {
        path: "index.json".into(),
        kind: ArtifactKind::Index,
        content: index,
        layer: None,
    });
    Ok(build)
}

/// `index.json`'s list of resources, written ahead (it is the index's
/// largest part and needs only the model).
pub struct ResourceList(String);

fn resource_list(model: &Model) -> ResourceList {
    // Written as `serde_json` lays out the rows one level deep in the
    // pretty index (the snapshot tests hold the two to the same bytes),
    // with `serde_json` escaping every value, in one buffer.
    if model.resources.is_empty() {
        return ResourceList("[]".to_string());
    }
    let mut out: Vec<u8> = Vec::with_capacity(model.resources.len() * 150 + 8);
    fn value(out: &mut Vec<u8>, v: &impl Serialize) {
        serde_json::to_writer(out, v).expect("plain data");
    }
    out.push(b'[');
    for (i, r) in model.resources.values().enumerate() {
        out.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
        out.extend_from_slice(b"    {\n      \"address\": ");
        value(&mut out, &r.address.text());
        out.extend_from_slice(b",\n      \"provider\": ");
        value(&mut out, &r.provider);
        out.extend_from_slice(b",\n      \"type\": ");
        value(&mut out, &r.type_name);
        out.extend_from_slice(b"\n    }");
    }
    out.extend_from_slice(b"\n  ]");
    ResourceList(String::from_utf8(out).expect("JSON is UTF-8"))
}

/// `index.json`: every artifact (with its SHA-256), every resource and
/// where it is written, every value known only after apply and where it
/// flows. `digests` holds the digests already computed, by path.
fn index(
    model: &Model,
    build: &Build,
    resources: ResourceList,
    digests: &BTreeMap<String, String>,
) -> String {
    use rayon::prelude::*;
    #[derive(Serialize)]
    struct IndexedArtifact<'a> {
        kind: ArtifactKind,
        path: &'a str,
        sha256: String,
    }
    let artifacts: Vec<IndexedArtifact> = build
        .artifacts
        .par_iter()
        .map(|a| IndexedArtifact {
            kind: a.kind,
            path: &a.path,
            sha256: digests
                .get(&a.path)
                .cloned()
                .unwrap_or_else(|| sha256(&a.content)),
        })
        .collect();
    // Small parts go through `serde_json::Value`, whose maps sort their keys
    // as the rest of the file does.
    fn sorted(value: impl Serialize) -> serde_json::Value {
        serde_json::to_value(value).expect("plain data")
    }
    let mut out = json_object(
        0,
        [
            ("artifacts", nested_json(&artifacts, 1)),
            ("environment", nested_json(&sorted(&model.environment), 1)),
            (
                "known_after_apply",
                nested_json(&sorted(&build.placeholders), 1),
            ),
            (
                "manual_dns_validation",
                nested_json(&sorted(&build.manual_validation), 1),
            ),
            ("resources", resources.0),
            ("secrets", nested_json(&model.secrets, 1)),
            ("version", "1".to_string()),
        ],
    );
    out.push('\n');
    out
}

/// Pretty JSON of a value to sit `depth` levels deep in a pretty document:
/// lines after the first are indented two spaces per level. JSON strings
/// hold no raw line breaks, so this is exactly what `serde_json` writes for
/// the nested value, and parts can be written apart (and in parallel).
pub fn nested_json(value: &impl Serialize, depth: usize) -> String {
    let text = serde_json::to_string_pretty(value).expect("plain data");
    if depth == 0 || !text.contains('\n') {
        return text;
    }
    let indent = "  ".repeat(depth);
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&indent);
        }
        out.push_str(line);
    }
    out
}

/// A pretty JSON object at `depth` from keys and values already written
/// for `depth + 1` (see `nested_json`), as `serde_json` writes it.
pub fn json_object<K: AsRef<str>>(
    depth: usize,
    fields: impl IntoIterator<Item = (K, String)>,
) -> String {
    let mut out = String::from("{");
    let mut empty = true;
    for (key, value) in fields {
        out.push_str(if empty { "\n" } else { ",\n" });
        empty = false;
        for _ in 0..=depth {
            out.push_str("  ");
        }
        out.push_str(&serde_json::to_string(key.as_ref()).expect("a key is a string"));
        out.push_str(": ");
        out.push_str(&value);
    }
    if !empty {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    }
    out.push('}');
    out
}

fn sha256(text: &str) -> String {
    use sha2::Digest;
    use std::fmt::Write;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Whether a value is written: nulls are left out, and so are values
/// computed from ones known only after apply (each target reports those).
pub fn written(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Derived(_))
}

/// How a target writes the values that are its own: secrets, values known
/// only after apply and strings with such parts.
pub trait Leaves {
    fn leaf<S: serde::Serializer>(&self, value: &Value, s: S) -> Result<S::Ok, S::Error>;
}

/// A rel value serialised as it is, without an intermediate tree: scalars,
/// and lists and maps without their unwritten entries, the same for every
/// target; the rest through the target's `Leaves`.
pub struct Written<'a, L>(pub &'a Value, pub &'a L);

impl<L: Leaves> Serialize for Written<'_, L> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Null | Value::Derived(_) => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(n) => s.serialize_i64(*n),
            Value::Float(f) if f.is_finite() => s.serialize_f64(*f),
            Value::Float(_) => s.serialize_unit(),
            Value::Str(text) => s.serialize_str(text),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.iter().filter(|i| written(i)).count()))?;
                for item in items.iter().filter(|i| written(i)) {
                    seq.serialize_element(&Written(item, self.1))?;
                }
                seq.end()
            }
            Value::Map(m) => {
                let mut map = s.serialize_map(Some(m.values().filter(|v| written(v)).count()))?;
                for (k, v) in m.iter().filter(|(_, v)| written(v)) {
                    map.serialize_entry(k, &Written(v, self.1))?;
                }
                map.end()
            }
            Value::Secret(_) | Value::Unknown(_) | Value::Interpolated(_) => self.1.leaf(self.0, s),
        }
    }
}

/// The stack or deployment name of a layer of the environment `names`
/// belong to.
pub fn layer_name<'n>(names: &'n crate::identity::Names, layer: &Layer) -> &'n str {
    names.layer(*layer == Layer::Shared)
}

/// The placeholder a Kubernetes manifest carries for a value known only
/// after apply; apply replaces it with the stack output.
pub fn placeholder(symbol: &Symbol) -> String {
    format!(
        "${{rel:{}:{}}}",
        symbol.address,
        if symbol.attribute.is_empty() {
            "id"
        } else {
            &symbol.attribute
        }
    )
}

/// Pretty JSON with a final newline.
pub fn json_text(value: &serde_json::Value) -> String {
    let mut out = serde_json::to_string_pretty(value).unwrap_or_default();
    out.push('\n');
    out
}

/// The diagnostic for a value rel cannot express in a target.
pub fn inexpressible(what: &str, address: &Address, span: Span, help: &str) -> Diagnostic {
    Diagnostic::error(
        codes::UNKNOWN_BEFORE_APPLY,
        format!("{what} in `{address}`"),
    )
    .with_label(span, "in this resource")
    .with_help(help.to_string())
}

/// Pieces of a string, for targets that join them.
pub fn pieces(value: &Value) -> Option<&[Piece]> {
    match value {
        Value::Interpolated(pieces) => Some(pieces),
        _ => None,
    }
}

/// The dependencies of a resource that its references do not already imply
/// (from `depends_on`): resources of the same provider in the same layer,
/// in address order. Targets write them as `DependsOn` or `depends_on`.
pub fn explicit_dependencies<'m>(
    model: &'m Model,
    resource: &Resource,
    provider: Provider,
) -> Vec<&'m Resource> {
    if !model
        .graph
        .any_dependency(&resource.address, |d| d.layer == resource.address.layer)
    {
        return Vec::new();
    }
    let candidates: Vec<&'m Resource> = model
        .graph
        .dependencies(&resource.address)
        .into_iter()
        .filter(|d| d.layer == resource.address.layer)
        .filter_map(|d| model.resources.get(d))
        .filter(|r| r.provider == provider)
        .collect();
    if candidates.is_empty() {
        return candidates;
    }
    // Only now walk the values for the references they make.
    let implied: Vec<&Address> = resource
        .properties
        .symbol_refs()
        .into_iter()
        .map(|s| &s.address)
        .collect();
    candidates
        .into_iter()
        .filter(|r| !implied.contains(&&r.address))
        .collect()
}

/// Resources of the model, grouped by layer, in address order.
pub fn by_layer(
    model: &Model,
    provider: Provider,
) -> BTreeMap<Layer, Vec<&crate::compile::Resource>> {
    let mut out: BTreeMap<Layer, Vec<&crate::compile::Resource>> = BTreeMap::new();
    for r in model.resources.values().filter(|r| r.provider == provider) {
        out.entry(r.address.layer.clone()).or_default().push(r);
    }
    out
}
