//! GCP: an Infrastructure Manager deployment per layer. Infrastructure
//! Manager (Deployment Manager's replacement) runs a Terraform blueprint, so
//! each layer is a Terraform JSON configuration for the google provider,
//! plus the deployment's own metadata. References within a layer are
//! Terraform expressions; the shared layer's values reach an environment as
//! input variables that apply sets from the shared deployment's outputs.

use std::collections::BTreeMap;

use serde_json::{Map, Value as J, json};

use super::{
    Artifact, ArtifactKind, Build, Placeholder, by_layer, json_text, layer_name, placeholder,
};
use crate::compile::{Address, Layer, Model, Provider, Resource};
use crate::diagnostic::Diagnostic;
use crate::eval::value::{Piece, Symbol, Value};
use crate::identity::Names;

/// The Secret Manager secret a `secret(NAME)` reference names on GCP:
/// `projects/P/secrets/S` as written, else NAME with the characters
/// secret ids do not allow (`[A-Za-z0-9_-]`) replaced by `-`, in the
/// deployment's project (`store/newrelic-license` → `store-newrelic-license`).
/// Blueprints and apply (for manifests) use the same mapping.
pub fn secret_id(name: &str) -> String {
    if name.starts_with("projects/") {
        return name.to_string();
    }
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// A Terraform name from an address: snake case, letters first.
pub fn terraform_name(address: &Address) -> String {
    let mut parts = Vec::new();
    for segment in &address.path {
        let (kind, name) = segment.split_once('.').unwrap_or(("", segment));
        match kind {
            "app" | "k8s" => {}
            "resource" => parts.push(name.to_string()),
            _ => {
                parts.push(kind.to_string());
                parts.push(name.to_string());
            }
        }
    }
    let name: String = parts
        .join("_")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name
    } else {
        format!("r_{name}")
    }
}

struct Layers<'m> {
    model: &'m Model,
    outputs: BTreeMap<Layer, BTreeMap<String, String>>,
    variables: BTreeMap<Layer, BTreeMap<String, String>>,
    errors: Vec<Diagnostic>,
}

impl Layers<'_> {
    fn expression(&mut self, symbol: &Symbol, from: &Resource) -> Option<String> {
        let target = self
            .model
            .resources
            .get(&symbol.address)
            .filter(|t| t.provider == Provider::Gcp);
        let Some(target) = target else {
            self.errors.push(super::inexpressible(
                &format!(
                    "a reference to `{}`, which is not a GCP resource,",
                    symbol.address
                ),
                &from.address,
                from.span,
                "GCP resources can refer only to other GCP resources.",
            ));
            return None;
        };
        let attribute = if symbol.attribute.is_empty() {
            "id".to_string()
        } else {
            terraform_attribute(&symbol.attribute)
        };
        let expression = format!(
            "{}.{}.{}",
            target.type_name,
            terraform_name(&target.address),
            attribute
        );
        if target.address.layer == from.address.layer {
            return Some(expression);
        }
        let variable = format!("{}_{}", terraform_name(&target.address), attribute);
        self.outputs
            .entry(target.address.layer.clone())
            .or_default()
            .insert(variable.clone(), format!("${{{expression}}}"));
        self.variables
            .entry(from.address.layer.clone())
            .or_default()
            .insert(
                variable.clone(),
                layer_name(&self.model.environment.names, &target.address.layer).to_string(),
            );
        Some(format!("var.{variable}"))
    }

    fn value(&mut self, v: &Value, from: &Resource) -> Option<J> {
        Some(match v {
            Value::Null => return None,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(n) => json!(n),
            Value::Float(f) => json!(f),
            Value::Str(s) => J::String(s.replace("${", "$${")),
            Value::Secret(name) => J::String(format!(
                "${{data.google_secret_manager_secret_version.{}.secret_data}}",
                secret_data_name(name)
            )),
            Value::List(items) => {
                J::Array(items.iter().filter_map(|i| self.value(i, from)).collect())
            }
            Value::Map(m) => J::Object(
                m.iter()
                    .filter_map(|(k, v)| Some((k.to_string(), self.value(v, from)?)))
                    .collect(),
            ),
            Value::Unknown(symbol) => J::String(format!("${{{}}}", self.expression(symbol, from)?)),
            Value::Interpolated(pieces) => {
                let mut out = String::new();
                for p in pieces {
                    match p {
                        Piece::Text(t) => out.push_str(&t.replace("${", "$${")),
                        Piece::Unknown(symbol) => {
                            out.push_str(&format!("${{{}}}", self.expression(symbol, from)?))
                        }
                    }
                }
                J::String(out)
            }
            Value::Derived(_) => {
                self.errors.push(super::inexpressible(
                    "a value computed from one known only after apply",
                    &from.address,
                    from.span,
                    "Interpolate the value into a string instead of passing it to a function.",
                ));
                return None;
            }
        })
    }
}

/// A rel attribute path as a Terraform expression: nested blocks are lists
/// in Terraform, so `a.b` reads the first block, `a[0].b`, unless an index
/// was written.
fn terraform_attribute(attribute: &str) -> String {
    let parts: Vec<&str> = attribute.split('.').collect();
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(part);
        if i + 1 < parts.len() && !part.ends_with(']') {
            out.push_str("[0]");
        }
    }
    out
}

fn secret_data_name(secret: &str) -> String {
    secret
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Emits the Infrastructure Manager blueprints and deployments of a model.
pub fn emit(model: &Model) -> Result<Build, Vec<Diagnostic>> {
    let mut layers = Layers {
        model,
        outputs: BTreeMap::new(),
        variables: BTreeMap::new(),
        errors: Vec::new(),
    };
    let mut configs: BTreeMap<Layer, Map<String, J>> = BTreeMap::new();
    let mut secrets: BTreeMap<Layer, Vec<String>> = BTreeMap::new();
    for (layer, resources) in by_layer(model, Provider::Gcp) {
        let mut by_type: Map<String, J> = Map::new();
        for resource in resources {
            let mut body = layers
                .value(&resource.properties, resource)
                .unwrap_or(J::Object(Map::new()));
            // Dependencies not implied by references become `depends_on`.
            let depends_on: Vec<J> = super::explicit_dependencies(model, resource, Provider::Gcp)
                .into_iter()
                .map(|t| J::String(format!("{}.{}", t.type_name, terraform_name(&t.address))))
                .collect();
            if let (J::Object(m), false) = (&mut body, depends_on.is_empty()) {
                m.insert("depends_on".into(), J::Array(depends_on));
            }
            let entry = by_type
                .entry(resource.type_name.clone())
                .or_insert_with(|| J::Object(Map::new()));
            if let J::Object(m) = entry {
                m.insert(terraform_name(&resource.address), body);
            }
            secrets
                .entry(layer.clone())
                .or_default()
                .extend(resource.properties_secrets());
        }
        configs.insert(layer, by_type);
    }
    // Values the manifests need become outputs of the deployment.
    let mut placeholders = Vec::new();
    for resource in model
        .resources
        .values()
        .filter(|r| r.provider == Provider::Kubernetes)
    {
        for symbol in resource.properties.symbols() {
            if let Some(target) = model
                .resources
                .get(&symbol.address)
                .filter(|t| t.provider == Provider::Gcp)
            {
                let attribute = if symbol.attribute.is_empty() {
                    "id".to_string()
                } else {
                    terraform_attribute(&symbol.attribute)
                };
                let name = format!("{}_{}", terraform_name(&target.address), attribute);
                layers
                    .outputs
                    .entry(target.address.layer.clone())
                    .or_default()
                    .insert(
                        name.clone(),
                        format!(
                            "${{{}.{}.{}}}",
                            target.type_name,
                            terraform_name(&target.address),
                            attribute
                        ),
                    );
                placeholders.push(Placeholder {
                    token: placeholder(&symbol),
                    source: format!(
                        "{}:{}",
                        layer_name(&model.environment.names, &target.address.layer),
                        name
                    ),
                    used_in: super::kubernetes::file_of(&resource.address.layer),
                    used_by: resource.address.to_string(),
                });
            }
        }
    }
    if !layers.errors.is_empty() {
        return Err(layers.errors);
    }
    let mut build = Build {
        placeholders,
        ..Build::default()
    };
    for (layer, resources) in configs {
        let mut config = Map::new();
        config.insert("terraform".into(), json!({ "required_providers": { "google": { "source": "hashicorp/google", "version": ">= 6.0" } } }));
        let mut data = Map::new();
        let mut layer_secrets = secrets.remove(&layer).unwrap_or_default();
        layer_secrets.sort();
        layer_secrets.dedup();
        for secret in &layer_secrets {
            data.insert(
                secret_data_name(secret),
                json!({ "secret": secret_id(secret) }),
            );
        }
        if !data.is_empty() {
            config.insert(
                "data".into(),
                json!({ "google_secret_manager_secret_version": data }),
            );
        }
        config.insert("resource".into(), J::Object(resources));
        if let Some(variables) = layers.variables.get(&layer) {
            let v: Map<String, J> = variables
                .iter()
                .map(|(name, from)| {
                    (
                        name.clone(),
                        json!({ "type": "string", "description": format!("from {from}") }),
                    )
                })
                .collect();
            config.insert("variable".into(), J::Object(v));
        }
        if let Some(outputs) = layers.outputs.get(&layer) {
            let o: Map<String, J> = outputs
                .iter()
                .map(|(name, value)| (name.clone(), json!({ "value": value })))
                .collect();
            config.insert("output".into(), J::Object(o));
        }
        let names = &model.environment.names;
        let name = layer_name(names, &layer);
        build.artifacts.push(Artifact {
            path: format!("gcp/{name}/main.tf.json"),
            kind: ArtifactKind::TerraformBlueprint,
            content: json_text(&J::Object(config)),
            layer: Some(layer.clone()),
        });
        let deployment = json!({
            "deploymentId": name,
            "labels": deployment_labels(names, name),
            "terraformBlueprint": {
                "blueprint": format!("gcp/{name}/main.tf.json"),
                "inputValues": layers.variables.get(&layer).map(|v| v.keys().map(|k| (k.clone(), json!({ "inputValue": format!("${{rel-output:{}}}", k) }))).collect::<Map<String, J>>()).unwrap_or_default(),
            },
        });
        build.artifacts.push(Artifact {
            path: format!("gcp/{name}/deployment.json"),
            kind: ArtifactKind::InfrastructureManagerDeployment,
            content: json_text(&deployment),
            layer: Some(layer.clone()),
        });
    }
    Ok(build)
}

trait Secrets {
    fn properties_secrets(&self) -> Vec<String>;
}

impl Secrets for Resource {
    fn properties_secrets(&self) -> Vec<String> {
        fn walk(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Secret(s) => out.push(s.clone()),
                Value::List(items) => items.iter().for_each(|i| walk(i, out)),
                Value::Map(m) => m.values().for_each(|i| walk(i, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(&self.properties, &mut out);
        out
    }
}

/// A deployment's labels: rel's, and (since projects) the identity's.
/// The lineage is added at apply, from the state.
fn deployment_labels(names: &Names, layer: &str) -> J {
    let mut labels = json!({
        "managed-by": "rel",
        "app": crate::identity::legacy_kubernetes_name(&names.identity.app),
        "layer": crate::identity::legacy_kubernetes_name(layer),
    });
    if !names.legacy {
        labels[crate::identity::GCP_PROJECT_LABEL] = json!(names.identity.project.as_str());
        labels[crate::identity::GCP_ENVIRONMENT_LABEL] = json!(crate::identity::bounded(
            &[&names.identity.environment],
            63,
            false
        ));
    }
    labels
}
