//! The resource graph as text: Graphviz dot, Mermaid, and JSON.

use serde_json::json;

use super::Model;

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Graphviz: one node per resource (labelled with its type), an edge per dependency.
pub fn to_dot(model: &Model) -> String {
    let mut out = format!(
        "digraph {} {{\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
        quote(&model.environment.name)
    );
    for (address, resource) in &model.resources {
        out.push_str(&format!(
            "  {} [label={}];\n",
            quote(&address.to_string()),
            quote(&format!("{}\\n{}", address, resource.type_name))
        ));
    }
    for (from, to, _) in model.graph.edges() {
        out.push_str(&format!(
            "  {} -> {};\n",
            quote(&from.to_string()),
            quote(&to.to_string())
        ));
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart; node ids are positions in address order.
pub fn to_mermaid(model: &Model) -> String {
    let ids: std::collections::BTreeMap<String, usize> = model
        .resources
        .keys()
        .enumerate()
        .map(|(i, a)| (a.to_string(), i))
        .collect();
    let mut out = String::from("flowchart LR\n");
    for (i, (address, resource)) in model.resources.iter().enumerate() {
        let label = format!("{}<br/>{}", address, resource.type_name).replace('"', "#quot;");
        out.push_str(&format!("  r{i}[\"{label}\"]\n"));
    }
    for (from, to, _) in model.graph.edges() {
        // Edges only join resources of the model.
        if let (Some(a), Some(b)) = (ids.get(&from.to_string()), ids.get(&to.to_string())) {
            out.push_str(&format!("  r{a} --> r{b}\n"));
        }
    }
    out
}

/// JSON: the environment, every resource with its provider and type, and
/// every edge. Version 1.
pub fn to_json(model: &Model) -> String {
    let resources: Vec<_> = model
        .resources
        .values()
        .map(|r| {
            json!({
                "address": r.address.to_string(),
                "provider": r.provider,
                "type": r.type_name,
                "depends_on": model.graph.dependencies(&r.address).iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let doc = json!({
        "version": 1,
        "environment": model.environment,
        "resources": resources,
        "edges": model.graph.edges().iter().map(|(a, b, _)| json!([a.to_string(), b.to_string()])).collect::<Vec<_>>(),
    });
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}
