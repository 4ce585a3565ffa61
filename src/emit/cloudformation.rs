//! CloudFormation: one template per layer (`rel-PROJECT-shared`,
//! `rel-PROJECT-APP-ENV`; names from `identity::Names`).
//! Values known only after apply become `Ref` / `Fn::GetAtt` in the same
//! stack, exports and `Fn::ImportValue` across stacks, and stack outputs
//! when Kubernetes manifests need them. Secrets become dynamic references
//! to Secrets Manager; their values never pass through rel.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Value as J, json};

use super::{
    Artifact, ArtifactKind, Build, Leaves, Placeholder, TemplateFormat, Written, by_layer,
    layer_name, written,
};
use crate::identity::Names;
use rustc_hash::FxHashSet;

use crate::compile::{Address, Layer, Model, Provider, Resource};
use crate::diagnostic::Diagnostic;
use crate::eval::value::{Piece, Symbol, Value};

/// A logical ID from an address: its segments in CamelCase, without the
/// app segment (an environment stack holds one app), at most 255 characters.
pub fn logical_id(address: &Address) -> String {
    let mut out = String::new();
    for segment in &address.path {
        let (kind, name) = segment.split_once('.').unwrap_or(("", segment));
        let words: Vec<&str> = match kind {
            "app" | "k8s" => continue,
            "resource" => vec![name],
            _ => vec![kind, name],
        };
        for word in words {
            for part in word
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|p| !p.is_empty())
            {
                let mut chars = part.chars();
                if let Some(first) = chars.next() {
                    out.push(first.to_ascii_uppercase());
                    out.extend(chars);
                }
            }
        }
    }
    out.truncate(255);
    if out.is_empty() {
        "Resource".into()
    } else {
        out
    }
}

fn camel(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The attribute a symbol reads: `Ref` for the resource's id.
fn is_ref(attribute: &str) -> bool {
    attribute.is_empty() || attribute == "id"
}

/// The intrinsic that reads a symbol from a resource in its own stack.
fn local_ref(target: &Resource, symbol: &Symbol) -> J {
    let id = logical_id(&target.address);
    if is_ref(&symbol.attribute) {
        json!({ "Ref": id })
    } else {
        json!({ "Fn::GetAtt": [id, symbol.attribute] })
    }
}

/// The name of the output of the target's stack that carries a symbol.
fn output_name(target: &Resource, symbol: &Symbol) -> String {
    format!(
        "{}{}",
        logical_id(&target.address),
        if is_ref(&symbol.attribute) {
            "Id".into()
        } else {
            camel(&symbol.attribute)
        }
    )
}

/// The export an output is published under.
fn export_name(names: &Names, target: &Resource, output: &str) -> String {
    format!("{}-{output}", layer_name(names, &target.address.layer))
}

/// How a resource reads a symbol.
enum Reference<'m> {
    /// `Ref` / `Fn::GetAtt` in the same stack.
    Local(&'m Resource),
    /// `Fn::ImportValue` of the shared stack's export.
    Import(&'m Resource),
}

/// The templates being written: checked first (references resolved,
/// outputs and exports registered, errors collected), then serialised
/// straight from the model's values, without an intermediate JSON tree.
struct Stacks<'m> {
    names: &'m Names,
    model: &'m Model,
    /// Outputs per layer: output name → (value, export name if exported).
    outputs: BTreeMap<Layer, BTreeMap<String, (J, Option<String>)>>,
    placeholders: Vec<Placeholder>,
    errors: Vec<Diagnostic>,
}

impl<'m> Stacks<'m> {
    /// The CloudFormation resource a symbol reads, if it is one.
    fn target(&self, symbol: &Symbol) -> Option<&'m Resource> {
        self.model
            .resources
            .get(&symbol.address)
            .filter(|r| r.provider == Provider::CloudFormation)
    }

    /// An output of the target's stack carrying the symbol; exported when asked.
    fn output(&mut self, target: &Resource, symbol: &Symbol, export: bool) -> String {
        let name = output_name(target, symbol);
        let export_name = export.then(|| export_name(self.names, target, &name));
        let entry = self
            .outputs
            .entry(target.address.layer.clone())
            .or_default()
            .entry(name.clone())
            .or_insert_with(|| (local_ref(target, symbol), None));
        if export_name.is_some() {
            entry.1 = export_name.clone();
        }
        export_name.unwrap_or(name)
    }

    /// How `from` reads `symbol`, if CloudFormation can express it.
    fn resolve(&self, symbol: &Symbol, from: &Resource) -> Result<Reference<'m>, Diagnostic> {
        let Some(target) = self.target(symbol) else {
            return Err(super::inexpressible(
                &format!(
                    "a reference to `{}`, which is not a CloudFormation resource,",
                    symbol.address
                ),
                &from.address,
                from.span,
                "CloudFormation resources can refer only to other CloudFormation resources.",
            ));
        };
        if target.address.layer == from.address.layer {
            Ok(Reference::Local(target))
        } else if target.address.layer == Layer::Shared {
            Ok(Reference::Import(target))
        } else {
            Err(super::inexpressible(
                "a reference from the shared stack to an environment",
                &from.address,
                from.span,
                "Shared resources cannot depend on one environment; move the resource into the app.",
            ))
        }
    }

    /// Walks a property value before it is written: the exports its
    /// references need, and what CloudFormation cannot express. Reads only,
    /// so resources can be walked in parallel.
    fn check<'v>(&self, v: &'v Value, from: &Resource, found: &mut Walked<'m, 'v>) {
        let reference =
            |symbol: &'v Symbol, found: &mut Walked<'m, 'v>| match self.resolve(symbol, from) {
                Ok(Reference::Local(_)) => {}
                Ok(Reference::Import(target)) => found.exports.push((target, symbol)),
                Err(d) => found.errors.push(d),
            };
        match v {
            Value::List(items) => items.iter().for_each(|i| self.check(i, from, found)),
            Value::Map(m) => m.values().for_each(|v| self.check(v, from, found)),
            Value::Unknown(symbol) => reference(symbol, found),
            Value::Interpolated(pieces) => {
                for p in pieces {
                    if let Piece::Unknown(symbol) = p {
                        reference(symbol, found);
                    }
                }
            }
            Value::Derived(_) => found.errors.push(super::inexpressible(
                "a value computed from one known only after apply",
                &from.address,
                from.span,
                "CloudFormation cannot run rel's builtins; interpolate the value into a string instead of passing it to a function.",
            )),
            _ => {}
        }
    }

    /// The intrinsic for a checked reference.
    fn reference(&self, symbol: &Symbol, from: &Resource) -> J {
        match self.resolve(symbol, from) {
            Ok(Reference::Local(target)) => local_ref(target, symbol),
            Ok(Reference::Import(target)) => {
                json!({ "Fn::ImportValue": export_name(self.names, target, &output_name(target, symbol)) })
            }
            Err(_) => J::Null,
        }
    }
}

/// What walking a resource's values found: exports to publish (target and
/// symbol) and errors.
struct Walked<'m, 'v> {
    exports: Vec<(&'m Resource, &'v Symbol)>,
    errors: Vec<Diagnostic>,
}

/// How a resource's properties write what is CloudFormation's own:
/// Secrets Manager dynamic references, `Ref`/`GetAtt`/`ImportValue`,
/// `Fn::Join`.
struct Property<'a, 'm> {
    from: &'a Resource,
    stacks: &'a Stacks<'m>,
}

impl Leaves for Property<'_, '_> {
    fn leaf<S: Serializer>(&self, value: &Value, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Value::Secret(name) => {
                s.collect_str(&format_args!("{{{{resolve:secretsmanager:{name}}}}}"))
            }
            Value::Unknown(symbol) => self.stacks.reference(symbol, self.from).serialize(s),
            Value::Interpolated(pieces) => {
                let parts: Vec<J> = pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Text(t) => J::String(t.clone()),
                        Piece::Unknown(symbol) => self.stacks.reference(symbol, self.from),
                    })
                    .collect();
                json!({ "Fn::Join": ["", parts] }).serialize(s)
            }
            _ => s.serialize_unit(),
        }
    }
}

/// One resource of a template, keys in order.
struct Entry<'a, 'm> {
    resource: &'a Resource,
    depends_on: Vec<String>,
    stacks: &'a Stacks<'m>,
}

impl Serialize for Entry<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let properties = match &*self.resource.properties {
            Value::Map(m) if m.values().any(written) => Some(&self.resource.properties),
            _ => None,
        };
        let mut map = s.serialize_map(None)?;
        if !self.depends_on.is_empty() {
            map.serialize_entry("DependsOn", &self.depends_on)?;
        }
        if let Some(value) = properties {
            let leaves = Property {
                from: self.resource,
                stacks: self.stacks,
            };
            map.serialize_entry("Properties", &Written(value, &leaves))?;
        }
        map.serialize_entry("Type", &self.resource.type_name)?;
        map.end()
    }
}

/// One stack's template, keys in order.
struct Template<'a, 'm> {
    description: String,
    outputs: Option<&'a BTreeMap<String, (J, Option<String>)>>,
    /// By logical ID.
    resources: Vec<(String, Entry<'a, 'm>)>,
}

/// A stack output: its value and the export it is published under.
struct Output<'a>(&'a J, &'a Option<String>);

impl Serialize for Output<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if let Some(export) = self.1 {
            map.serialize_entry("Export", &json!({ "Name": export }))?;
        }
        map.serialize_entry("Value", self.0)?;
        map.end()
    }
}

impl Template<'_, '_> {
    fn outputs(&self) -> Option<BTreeMap<&str, Output<'_>>> {
        self.outputs.map(|outputs| {
            outputs
                .iter()
                .map(|(name, (value, export))| (name.as_str(), Output(value, export)))
                .collect()
        })
    }

    /// The template as pretty JSON, its resources written in parallel.
    fn json(&self) -> String {
        use rayon::prelude::*;
        let resources: Vec<(&str, String)> = self
            .resources
            .par_iter()
            .map(|(id, entry)| (id.as_str(), super::nested_json(entry, 2)))
            .collect();
        let mut fields = vec![
            (
                "AWSTemplateFormatVersion",
                super::nested_json(&"2010-09-09", 1),
            ),
            ("Description", super::nested_json(&self.description, 1)),
        ];
        if let Some(outputs) = self.outputs() {
            fields.push(("Outputs", super::nested_json(&outputs, 1)));
        }
        fields.push(("Resources", super::json_object(1, resources)));
        let mut out = super::json_object(0, fields);
        out.push('\n');
        out
    }
}

impl Serialize for Template<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Resources<'b, 'a, 'm>(&'b [(String, Entry<'a, 'm>)]);
        impl Serialize for Resources<'_, '_, '_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(self.0.len()))?;
                for (id, entry) in self.0 {
                    map.serialize_entry(id, entry)?;
                }
                map.end()
            }
        }
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("AWSTemplateFormatVersion", "2010-09-09")?;
        map.serialize_entry("Description", &self.description)?;
        if let Some(outputs) = self.outputs() {
            map.serialize_entry("Outputs", &outputs)?;
        }
        map.serialize_entry("Resources", &Resources(&self.resources))?;
        map.end()
    }
}

/// Emits the CloudFormation templates of a model.
pub fn emit(model: &Model, format: TemplateFormat) -> Result<Build, Vec<Diagnostic>> {
    let names = &model.environment.names;
    let mut stacks = Stacks {
        names,
        model,
        outputs: BTreeMap::new(),
        placeholders: Vec::new(),
        errors: Vec::new(),
    };
    let layers = by_layer(model, Provider::CloudFormation);
    // Per layer: (logical ID, resource, its DependsOn), by logical ID.
    type Stacked<'m> = (String, &'m Resource, Vec<String>);
    let mut stacked: Vec<(&Layer, Vec<Stacked>)> = Vec::new();
    for (layer, resources) in &layers {
        use rayon::prelude::*;
        // Each resource walked on the thread pool; what they found is
        // registered in resource order.
        let walked: Vec<(Stacked, Walked)> = resources
            .par_iter()
            .map(|&resource| {
                let mut found = Walked {
                    exports: Vec::new(),
                    errors: Vec::new(),
                };
                stacks.check(&resource.properties, resource, &mut found);
                // References give CloudFormation the order; other
                // dependencies within the stack become DependsOn.
                let depends_on: Vec<String> =
                    super::explicit_dependencies(model, resource, Provider::CloudFormation)
                        .into_iter()
                        .map(|r| logical_id(&r.address))
                        .collect();
                ((logical_id(&resource.address), resource, depends_on), found)
            })
            .collect();
        let mut entries = Vec::with_capacity(walked.len());
        for (entry, found) in walked {
            for (target, symbol) in found.exports {
                stacks.output(target, symbol, true);
            }
            stacks.errors.extend(found.errors);
            entries.push(entry);
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for pair in entries.windows(2) {
            let ((id, previous, _), (_, resource, _)) = (&pair[0], &pair[1]);
            if pair[0].0 == pair[1].0 {
                let (first, second) = if previous.address < resource.address {
                    (previous, resource)
                } else {
                    (resource, previous)
                };
                stacks.errors.push(
                    Diagnostic::error(
                        crate::diagnostic::codes::DUPLICATE_DEFINITION,
                        format!(
                            "`{}` and `{}` share the logical ID `{id}`",
                            second.address, first.address
                        ),
                    )
                    .with_label(second.span, "this resource")
                    .with_help("Rename one of them."),
                );
            }
        }
        stacked.push((layer, entries));
    }
    // Values Kubernetes manifests read from the stacks become outputs.
    // Only objects with an edge to a CloudFormation resource can read one,
    // so only their values are walked.
    let cloud: FxHashSet<&Address> = model
        .resources
        .values()
        .filter(|r| r.provider == Provider::CloudFormation)
        .map(|r| &r.address)
        .collect();
    for resource in model.resources.values().filter(|r| {
        r.provider == Provider::Kubernetes
            && model
                .graph
                .any_dependency(&r.address, |d| cloud.contains(d))
    }) {
        for symbol in resource.properties.symbols() {
            if let Some(target) = stacks.target(&symbol) {
                let output = stacks.output(target, &symbol, false);
                stacks.placeholders.push(Placeholder {
                    token: super::placeholder(&symbol),
                    source: format!("{}:{}", layer_name(names, &target.address.layer), output),
                    used_in: super::kubernetes::file_of(&resource.address.layer),
                    used_by: resource.address.to_string(),
                });
            }
        }
    }
    if !stacks.errors.is_empty() {
        return Err(stacks.errors);
    }
    let mut build = Build::default();
    for (layer, entries) in stacked {
        let template = Template {
            description: format!(
                "rel {}: {}",
                model.environment.app,
                layer_name(names, layer)
            ),
            outputs: stacks.outputs.get(layer),
            resources: entries
                .into_iter()
                .map(|(id, resource, depends_on)| {
                    (
                        id,
                        Entry {
                            resource,
                            depends_on,
                            stacks: &stacks,
                        },
                    )
                })
                .collect(),
        };
        let (extension, content) = match format {
            TemplateFormat::Json => ("json", template.json()),
            TemplateFormat::Yaml => (
                "yaml",
                serde_saphyr::to_string(&template).unwrap_or_default(),
            ),
        };
        build.artifacts.push(Artifact {
            path: format!("cloudformation/{}.{extension}", layer_name(names, layer)),
            kind: ArtifactKind::CloudformationTemplate,
            content,
            layer: Some(layer.clone()),
        });
    }
    build.placeholders = std::mem::take(&mut stacks.placeholders);
    Ok(build)
}
