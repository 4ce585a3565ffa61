//! Ownership: before rel writes, prunes or deletes a stack, deployment or
//! Kubernetes object, it checks the thing is its own. A thing is this
//! environment's when its state records it (the same stack id, the same
//! object uid) or when it carries this state's lineage (a tag on stacks,
//! an annotation on objects: what an apply interrupted before recording
//! left behind). Anything else that exists under a name rel would use is
//! refused, naming its owner, unless the run adopts it on purpose
//! (`--adopt`).
//!
//! Pure: the callers read the provider and pass what they found.

use std::collections::BTreeMap;

use serde_json::Value as J;

use super::plan::{Adopted, LiveStack};
use crate::diagnostic::{Diagnostic, codes};
use crate::identity::{
    APP_LABEL, ENVIRONMENT_LABEL, LINEAGE_ANNOTATION, MANAGED_BY, PROJECT_LABEL, TAG_APP,
    TAG_ENVIRONMENT, TAG_LINEAGE, TAG_MANAGED, TAG_PROJECT,
};
use crate::state::{ObjectRecord, StackRecord, State};

/// Something rel would write that is not this environment's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Foreign {
    /// The stack's name, or the object's `KIND NAMESPACE/NAME`.
    pub name: String,
    /// `stack rel-shop-…`, `Deployment shop-store-production/shoes`.
    pub what: String,
    /// Who owns it, as far as its tags or labels say.
    pub owner: String,
}

impl Foreign {
    pub fn adopted(self) -> Adopted {
        Adopted {
            name: self.name,
            owner: self.owner,
        }
    }
}

/// Refuses a run that would write a stack (or deployment: `word`) its
/// state does not own, unless it `adopt`s them; returns what is adopted.
/// `live` holds what refresh found, by state key.
pub fn check_stacks(
    word: &str,
    adopt: bool,
    environment: &str,
    states: &BTreeMap<&str, &State>,
    live: &BTreeMap<String, Option<LiveStack>>,
) -> Result<Vec<Adopted>, Diagnostic> {
    let foreign: Vec<Foreign> = live
        .iter()
        .filter_map(|(key, l)| {
            let (l, s) = (l.as_ref()?, states.get(key.as_str())?);
            (!stack_is_owned(l, s.stack.as_ref(), &s.lineage)).then(|| Foreign {
                name: key.clone(),
                what: format!("{word} `{key}`"),
                owner: stack_owner(&l.tags),
            })
        })
        .collect();
    if foreign.is_empty() {
        return Ok(Vec::new());
    }
    if !adopt {
        return Err(not_owned(&foreign, environment));
    }
    Ok(foreign.into_iter().map(Foreign::adopted).collect())
}

/// Whether a live stack (or deployment) is this state's.
pub fn stack_is_owned(live: &LiveStack, recorded: Option<&StackRecord>, lineage: &str) -> bool {
    recorded.is_some_and(|r| r.stack_id == live.stack_id)
        || live.tags.get(TAG_LINEAGE).is_some_and(|l| l == lineage)
}

/// Who a stack's tags say owns it.
pub fn stack_owner(tags: &BTreeMap<String, String>) -> String {
    match (tags.get(TAG_PROJECT), tags.get(TAG_MANAGED)) {
        (Some(project), _) => format!(
            "rel project `{project}`, app `{}`, environment `{}`",
            tags.get(TAG_APP).map_or("?", String::as_str),
            tags.get(TAG_ENVIRONMENT).map_or("?", String::as_str)
        ),
        (None, Some(_)) => format!(
            "a rel environment `{}` applied from another state (no project recorded)",
            tags.get(TAG_ENVIRONMENT).map_or("?", String::as_str)
        ),
        (None, None) => "nobody rel knows: it was not created by rel".into(),
    }
}

/// The tags rel puts on a stack it creates or updates.
pub fn stack_tags(
    names: &crate::identity::Names,
    stack: &str,
    lineage: &str,
) -> Vec<(String, String)> {
    let mut tags = vec![
        (TAG_MANAGED.to_string(), "true".to_string()),
        ("rel:stack".to_string(), stack.to_string()),
        (
            TAG_ENVIRONMENT.to_string(),
            names.identity.environment.clone(),
        ),
    ];
    if !names.legacy {
        tags.push((TAG_PROJECT.to_string(), names.identity.project.to_string()));
        tags.push((TAG_APP.to_string(), names.identity.app.clone()));
        tags.push((TAG_LINEAGE.to_string(), lineage.to_string()));
    }
    tags
}

/// Whether a live Kubernetes object is this state's.
pub fn object_is_owned(live: &J, recorded: Option<&ObjectRecord>, lineage: &str) -> bool {
    let meta = &live["metadata"];
    let uid = meta["uid"].as_str();
    let by_record = recorded.is_some_and(|r| r.uid.is_none() || r.uid.as_deref() == uid);
    by_record || meta["annotations"][LINEAGE_ANNOTATION].as_str() == Some(lineage)
}

/// Who a live object's labels say owns it.
pub fn object_owner(live: &J) -> String {
    let labels = &live["metadata"]["labels"];
    let label = |k: &str| labels[k].as_str();
    match (label(PROJECT_LABEL), label(MANAGED_BY)) {
        (Some(project), _) => format!(
            "rel project `{project}`, app `{}`, environment `{}`",
            label(APP_LABEL).unwrap_or("?"),
            label(ENVIRONMENT_LABEL).unwrap_or("?")
        ),
        (None, Some("rel")) => format!(
            "a rel environment `{}` applied from another state (no project recorded)",
            label(ENVIRONMENT_LABEL).unwrap_or("?")
        ),
        _ => "nobody rel knows: it was not created by rel".into(),
    }
}

/// Marks a manifest as applied from the state of `lineage`.
pub fn annotate(manifest: &mut J, lineage: &str) {
    if let Some(meta) = manifest.get_mut("metadata").and_then(J::as_object_mut) {
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| J::Object(serde_json::Map::new()));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(LINEAGE_ANNOTATION.into(), J::String(lineage.into()));
        }
    }
}

/// The refusal: what exists, whose it is, and how to take it over.
pub fn not_owned(foreign: &[Foreign], environment: &str) -> Diagnostic {
    let first = &foreign[0];
    let mut d = Diagnostic::error(
        codes::NOT_OWNED,
        format!(
            "{} exists and is not this environment's: it belongs to {}",
            first.what, first.owner
        ),
    );
    for f in &foreign[1..] {
        d = d.with_note(format!("{} belongs to {}", f.what, f.owner));
    }
    d.with_help(format!(
        "rel changed nothing. If environment `{environment}` should take it over, run the same command with --adopt (the plan lists what is adopted); otherwise give the project, app or environment another name, or remove what is in the way."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_are_owned_by_record_or_lineage() {
        let mut live = LiveStack {
            stack_id: "arn:1".into(),
            ..LiveStack::default()
        };
        assert!(!stack_is_owned(&live, None, "l1"));
        live.tags.insert(TAG_LINEAGE.into(), "l1".into());
        assert!(stack_is_owned(&live, None, "l1"));
        assert!(!stack_is_owned(&live, None, "l2"));
        live.tags.insert(TAG_PROJECT.into(), "other".into());
        assert!(stack_owner(&live.tags).contains("`other`"));
        assert!(stack_owner(&BTreeMap::new()).contains("not created by rel"));
    }

    #[test]
    fn objects_are_owned_by_uid_or_annotation() {
        let live =
            serde_json::json!({"metadata": {"uid": "u1", "labels": {"rel.dev/project": "p"}}});
        let record = |uid: &str| ObjectRecord {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: None,
            name: "x".into(),
            uid: Some(uid.into()),
            applied: J::Null,
        };
        assert!(object_is_owned(&live, Some(&record("u1")), "l"));
        assert!(!object_is_owned(&live, Some(&record("u2")), "l"));
        assert!(!object_is_owned(&live, None, "l"));
        let mut annotated = live.clone();
        annotate(&mut annotated, "l");
        assert!(object_is_owned(&annotated, None, "l"));
        assert!(object_owner(&live).contains("project `p`"));
    }
}
