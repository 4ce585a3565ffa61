//! CloudFormation: one template per layer (`rel-shared`, `rel-env-NAME`).
//! Values known only after apply become `Ref` / `Fn::GetAtt` in the same
//! stack, exports and `Fn::ImportValue` across stacks, and stack outputs
//! when Kubernetes manifests need them. Secrets become dynamic references
//! to Secrets Manager; their values never pass through rel.

use std::collections::BTreeMap;

use serde_json::{Map, Value as J, json};

use super::{
    Artifact, ArtifactKind, Build, Placeholder, TemplateFormat, by_layer, json_text, layer_name,
};
use crate::compile::{Address, Layer, Model, Provider, Resource, parse_address};
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

struct Stacks<'m> {
    model: &'m Model,
    /// Outputs per layer: output name → (value, export name if exported).
    outputs: BTreeMap<Layer, BTreeMap<String, (J, Option<String>)>>,
    placeholders: Vec<Placeholder>,
    errors: Vec<Diagnostic>,
}

impl<'m> Stacks<'m> {
    fn target(&self, symbol: &Symbol) -> Option<&'m Resource> {
        let address = parse_address(&symbol.address)?;
        self.model.resources.get(&address)
    }

    /// The intrinsic that reads a symbol from a resource in this layer.
    fn local_ref(target: &Resource, symbol: &Symbol) -> J {
        let id = logical_id(&target.address);
        if is_ref(&symbol.attribute) {
            json!({ "Ref": id })
        } else {
            json!({ "Fn::GetAtt": [id, symbol.attribute] })
        }
    }

    /// An output of the target's stack carrying the symbol; exported when asked.
    fn output(&mut self, target: &Resource, symbol: &Symbol, export: bool) -> String {
        let name = format!(
            "{}{}",
            logical_id(&target.address),
            if is_ref(&symbol.attribute) {
                "Id".into()
            } else {
                camel(&symbol.attribute)
            }
        );
        let export_name = export.then(|| format!("{}-{}", layer_name(&target.address.layer), name));
        let entry = self
            .outputs
            .entry(target.address.layer.clone())
            .or_default()
            .entry(name.clone())
            .or_insert((Self::local_ref(target, symbol), None));
        if export_name.is_some() {
            entry.1 = export_name.clone();
        }
        export_name.unwrap_or(name)
    }

    fn reference(&mut self, symbol: &Symbol, from: &Resource) -> Option<J> {
        let Some(target) = self
            .target(symbol)
            .filter(|t| t.provider == Provider::CloudFormation)
        else {
            self.errors.push(super::inexpressible(
                &format!(
                    "a reference to `{}`, which is not a CloudFormation resource,",
                    symbol.address
                ),
                &from.address,
                from.span,
                "CloudFormation resources can refer only to other CloudFormation resources.",
            ));
            return None;
        };
        if target.address.layer == from.address.layer {
            return Some(Self::local_ref(target, symbol));
        }
        if target.address.layer == Layer::Shared {
            let export = self.output(target, symbol, true);
            return Some(json!({ "Fn::ImportValue": export }));
        }
        self.errors.push(super::inexpressible(
            "a reference from the shared stack to an environment",
            &from.address,
            from.span,
            "Shared resources cannot depend on one environment; move the resource into the app.",
        ));
        None
    }

    /// A property value as CloudFormation JSON; `None` leaves it out.
    fn value(&mut self, v: &Value, from: &Resource) -> Option<J> {
        Some(match v {
            Value::Null => return None,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(n) => json!(n),
            Value::Float(f) => json!(f),
            Value::Str(s) => J::String(s.clone()),
            Value::Secret(name) => J::String(format!("{{{{resolve:secretsmanager:{name}}}}}")),
            Value::List(items) => {
                J::Array(items.iter().filter_map(|i| self.value(i, from)).collect())
            }
            Value::Map(m) => J::Object(
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), self.value(v, from)?)))
                    .collect(),
            ),
            Value::Unknown(symbol) => self.reference(symbol, from)?,
            Value::Interpolated(pieces) => {
                let parts: Vec<J> = pieces
                    .iter()
                    .filter_map(|p| match p {
                        Piece::Text(t) => Some(J::String(t.clone())),
                        Piece::Unknown(symbol) => self.reference(symbol, from),
                    })
                    .collect();
                json!({ "Fn::Join": ["", parts] })
            }
            Value::Derived(_) => {
                self.errors.push(super::inexpressible(
                    "a value computed from one known only after apply",
                    &from.address,
                    from.span,
                    "CloudFormation cannot run rel's builtins; interpolate the value into a string instead of passing it to a function.",
                ));
                return None;
            }
        })
    }
}

/// Emits the CloudFormation templates of a model.
pub fn emit(model: &Model, format: TemplateFormat) -> Result<Build, Vec<Diagnostic>> {
    let mut stacks = Stacks {
        model,
        outputs: BTreeMap::new(),
        placeholders: Vec::new(),
        errors: Vec::new(),
    };
    let layers = by_layer(model, Provider::CloudFormation);
    let mut templates: BTreeMap<Layer, Map<String, J>> = BTreeMap::new();
    let mut ids: BTreeMap<Layer, BTreeMap<String, Address>> = BTreeMap::new();
    for (layer, resources) in &layers {
        let mut body = Map::new();
        for resource in resources {
            let id = logical_id(&resource.address);
            if let Some(previous) = ids
                .entry(layer.clone())
                .or_default()
                .insert(id.clone(), resource.address.clone())
            {
                stacks.errors.push(
                    Diagnostic::error(
                        crate::diagnostic::codes::DUPLICATE_DEFINITION,
                        format!(
                            "`{}` and `{previous}` share the logical ID `{id}`",
                            resource.address
                        ),
                    )
                    .with_label(resource.span, "this resource")
                    .with_help("Rename one of them."),
                );
            }
            let properties = stacks
                .value(&resource.properties, resource)
                .unwrap_or(J::Object(Map::new()));
            // References give CloudFormation the order; other dependencies
            // within the stack become DependsOn.
            let depends_on: Vec<String> =
                super::explicit_dependencies(model, resource, Provider::CloudFormation)
                    .into_iter()
                    .map(|r| logical_id(&r.address))
                    .collect();
            let mut entry = Map::new();
            entry.insert("Type".into(), J::String(resource.type_name.clone()));
            if properties.as_object().is_some_and(|p| !p.is_empty()) {
                entry.insert("Properties".into(), properties);
            }
            if !depends_on.is_empty() {
                entry.insert("DependsOn".into(), json!(depends_on));
            }
            body.insert(id, J::Object(entry));
        }
        templates.insert(layer.clone(), body);
    }
    // Values Kubernetes manifests read from the stacks become outputs.
    for resource in model
        .resources
        .values()
        .filter(|r| r.provider == Provider::Kubernetes)
    {
        for symbol in resource.properties.symbols() {
            if let Some(target) = stacks
                .target(&symbol)
                .filter(|t| t.provider == Provider::CloudFormation)
            {
                let output = stacks.output(target, &symbol, false);
                stacks.placeholders.push(Placeholder {
                    token: super::placeholder(&symbol),
                    source: format!("{}:{}", layer_name(&target.address.layer), output),
                    used_in: format!("kubernetes/{}.yaml", model.environment.namespace),
                    used_by: resource.address.to_string(),
                });
            }
        }
    }
    if !stacks.errors.is_empty() {
        return Err(stacks.errors);
    }
    let mut build = Build::default();
    for (layer, resources) in templates {
        let mut template = Map::new();
        template.insert(
            "AWSTemplateFormatVersion".into(),
            J::String("2010-09-09".into()),
        );
        template.insert(
            "Description".into(),
            J::String(format!(
                "rel {}: {}",
                model.environment.app,
                layer_name(&layer)
            )),
        );
        template.insert("Resources".into(), J::Object(resources));
        if let Some(outputs) = stacks.outputs.get(&layer) {
            let outputs: Map<String, J> = outputs
                .iter()
                .map(|(name, (value, export))| {
                    let mut o = Map::new();
                    o.insert("Value".into(), value.clone());
                    if let Some(export) = export {
                        o.insert("Export".into(), json!({ "Name": export }));
                    }
                    (name.clone(), J::Object(o))
                })
                .collect();
            template.insert("Outputs".into(), J::Object(outputs));
        }
        let template = J::Object(template);
        let (extension, content) = match format {
            TemplateFormat::Json => ("json", json_text(&template)),
            TemplateFormat::Yaml => (
                "yaml",
                serde_saphyr::to_string(&template).unwrap_or_default(),
            ),
        };
        build.artifacts.push(Artifact {
            path: format!("cloudformation/{}.{extension}", layer_name(&layer)),
            kind: ArtifactKind::CloudformationTemplate,
            content,
        });
    }
    build.placeholders = stacks.placeholders;
    Ok(build)
}
