//! Desired stacks + recorded state + live stacks → a plan. Pure: no
//! network, no clock; the same inputs give the same plan.
//!
//! Everything is compared with secrets hashed (`state::redact`), so a
//! plan can say that a secret changed without ever holding it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value as J;

use super::{DesiredStack, PLAN_VERSION};
use crate::emit::ManualValidation;
use crate::state::{StackRecord, is_secret_hash, redact};

/// What the provider reports of a stack (`aws::refresh`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveStack {
    pub stack_id: String,
    pub status: String,
    /// The deployed template (`GetTemplate`), parsed.
    pub template: Option<J>,
    pub outputs: BTreeMap<String, String>,
    /// Logical id → physical id.
    pub physical_ids: BTreeMap<String, String>,
    /// The stack's tags (a deployment's labels, under the same keys):
    /// who owns it (`ownership`).
    pub tags: BTreeMap<String, String>,
}

/// Statuses of a stack whose creation failed: it holds nothing and cannot
/// be updated, only deleted and created again.
pub fn failed_create(status: &str) -> bool {
    matches!(
        status,
        "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "CREATE_FAILED"
    )
}

/// One stack's inputs to the plan.
pub struct StackInput<'a> {
    pub name: &'a str,
    pub layer: &'a crate::address::Layer,
    pub desired: Option<&'a DesiredStack>,
    pub recorded: Option<&'a StackRecord>,
    /// `None`: not refreshed (`--refresh=false`); `Some(None)`: refreshed
    /// and absent.
    pub live: Option<Option<&'a LiveStack>>,
    /// The state's salt for secret hashes.
    pub salt: &'a str,
    /// The state this plan was made against.
    pub precondition: Precondition,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Precondition {
    /// The state's lineage, or null when the layer has no state yet.
    pub lineage: Option<String>,
    pub serial: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    NoOp,
}

impl Action {
    pub fn word(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::NoOp => "no-op",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub unchanged: usize,
}

impl Summary {
    fn count(&mut self, action: Action) {
        match action {
            Action::Create => self.create += 1,
            Action::Update => self.update += 1,
            Action::Replace => self.replace += 1,
            Action::Delete => self.delete += 1,
            Action::NoOp => self.unchanged += 1,
        }
    }

    pub fn add(&mut self, other: &Summary) {
        self.create += other.create;
        self.update += other.update;
        self.replace += other.replace;
        self.delete += other.delete;
        self.unchanged += other.unchanged;
    }

    pub fn changes(&self) -> usize {
        self.create + self.update + self.replace + self.delete
    }
}

/// One changed field: a path into the resource (`Properties.Tags[0].Value`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldChange {
    pub path: String,
    /// Absent when the field is new; `"(sensitive)"` for a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<J>,
    /// Absent when the field is removed; `"(sensitive)"` for a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<J>,
    /// A secret: its value is never shown, only that it changed.
    pub sensitive: bool,
    /// The new value is known only once the provider has applied
    /// (`Ref`, `Fn::GetAtt`, `Fn::ImportValue`...).
    pub known_after_apply: bool,
    /// The change forces the resource to be replaced.
    pub forces_replacement: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceChange {
    /// The rel address, or `LOGICAL_ID` for a resource rel no longer knows.
    pub address: String,
    pub logical_id: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_id: Option<String>,
    pub fields: Vec<FieldChange>,
    /// The live resource differs from what rel last applied.
    pub changed_outside: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackPlan {
    pub name: String,
    pub layer: crate::address::Layer,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_status: Option<String>,
    /// SHA-256 of the template to apply with secrets hashed by the plan's
    /// `digest_salt` (absent for a delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_sha256: Option<String>,
    pub state: Precondition,
    pub summary: Summary,
    /// Resources that change, replacements and deletions first.
    pub changes: Vec<ResourceChange>,
    /// Changes outside resources: outputs, description.
    pub template_changes: Vec<FieldChange>,
    /// What differs between the live stack and what rel last applied.
    pub outside_changes: Vec<String>,
    pub depends_on: Vec<String>,
}

/// A DNS record ACM asks for to validate a certificate's domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationRecord {
    pub domain: String,
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub value: String,
    /// `PENDING_VALIDATION`, `SUCCESS`, `FAILED`.
    pub status: String,
}

/// The records to create for one certificate, read from ACM once the
/// certificate exists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateRecords {
    /// The certificate's rel address.
    pub certificate: String,
    pub arn: String,
    pub records: Vec<ValidationRecord>,
}

/// A whole plan (`rel plan --json`; schema `docs/schema/plan.v1.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub format_version: u32,
    pub environment: String,
    pub target: String,
    /// Whether live state was read (`--refresh=false` plans from state only).
    pub refreshed: bool,
    /// The salt of this plan's template digests (templates are digested
    /// with secrets hashed, so a digest reveals no secret reference).
    pub digest_salt: String,
    pub summary: Summary,
    pub stacks: Vec<StackPlan>,
    pub manual_dns_validation: Vec<ManualValidation>,
    /// For those certificates that exist: the records ACM asks for.
    #[serde(default)]
    pub validation_records: Vec<CertificateRecords>,
    /// The environment's Kubernetes objects, planned like a stack: its
    /// `stack_id` is the API server, its changes are objects, and it
    /// depends on the stacks whose outputs its manifests use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<StackPlan>,
    /// Stacks, deployments and objects this run takes over (`--adopt`):
    /// they exist under names rel uses and were not this environment's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adopted: Vec<Adopted>,
    /// The lineages this plan gave states that do not exist yet (by
    /// state key): applying the saved plan creates them with these, so
    /// the objects it marks with the lineage are the ones planned.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub new_lineages: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

/// One thing a plan adopts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adopted {
    /// The stack's or deployment's name, or the object's
    /// `KIND NAMESPACE/NAME`.
    pub name: String,
    /// Who owned it, as its tags or labels said.
    pub owner: String,
}

impl Plan {
    /// Whether applying the plan changes anything (an adoption records
    /// what it takes over, even when nothing else changes).
    pub fn has_changes(&self) -> bool {
        self.parts().any(|s| s.action != Action::NoOp) || !self.adopted.is_empty()
    }

    /// The stacks, then the Kubernetes objects: every part of the plan
    /// that changes something, in the order apply runs them.
    pub fn parts(&self) -> impl Iterator<Item = &StackPlan> {
        self.stacks.iter().chain(self.kubernetes.as_ref())
    }
}

/// The template a record stands for (redacted, as recorded).
pub fn recorded_template(record: &StackRecord) -> J {
    let mut t = match &record.template {
        J::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    let resources: serde_json::Map<String, J> = record
        .resources
        .iter()
        .map(|(k, r)| (k.clone(), r.values.clone()))
        .collect();
    t.insert("Resources".into(), J::Object(resources));
    J::Object(t)
}

fn resources(template: &J) -> BTreeMap<&str, &J> {
    template
        .get("Resources")
        .and_then(J::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

fn without_resources(template: &J) -> J {
    match template {
        J::Object(m) => J::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "Resources")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// An intrinsic function: its value is known once the provider applies.
fn is_intrinsic(v: &J) -> bool {
    match v {
        J::Object(m) if m.len() == 1 => m
            .keys()
            .next()
            .is_some_and(|k| k == "Ref" || k.starts_with("Fn::")),
        _ => false,
    }
}

fn contains_intrinsic(v: &J) -> bool {
    is_intrinsic(v)
        || match v {
            J::Array(items) => items.iter().any(contains_intrinsic),
            J::Object(m) => m.values().any(contains_intrinsic),
            _ => false,
        }
}

fn contains_secret(v: &J) -> bool {
    match v {
        J::String(s) => is_secret_hash(s),
        J::Array(items) => items.iter().any(contains_secret),
        J::Object(m) => m.values().any(contains_secret),
        _ => false,
    }
}

/// Field-level differences between two JSON values, in path order. Maps
/// and lists are walked (also when one side is absent), so each changed
/// leaf is one field; intrinsic functions are leaves.
pub fn field_changes(
    before: Option<&J>,
    after: Option<&J>,
    path: &mut String,
    out: &mut Vec<FieldChange>,
) {
    fn walkable(v: Option<&J>) -> bool {
        matches!(v, Some(J::Object(_)) | Some(J::Array(_))) && !v.is_some_and(is_intrinsic)
    }
    match (before, after) {
        (Some(b), Some(a)) if b == a => {}
        (None, None) => {}
        (b, a)
            if (walkable(b) || b.is_none())
                && (walkable(a) || a.is_none())
                && !matches!(
                    (b, a),
                    (Some(J::Object(_)), Some(J::Array(_)))
                        | (Some(J::Array(_)), Some(J::Object(_)))
                ) =>
        {
            match (b, a) {
                (Some(J::Array(_)), _) | (_, Some(J::Array(_))) => {
                    let (bl, al) = (
                        b.and_then(J::as_array).map_or(&[][..], Vec::as_slice),
                        a.and_then(J::as_array).map_or(&[][..], Vec::as_slice),
                    );
                    for i in 0..bl.len().max(al.len()) {
                        let len = path.len();
                        path.push_str(&format!("[{i}]"));
                        field_changes(bl.get(i), al.get(i), path, out);
                        path.truncate(len);
                    }
                }
                _ => {
                    let empty = serde_json::Map::new();
                    let (bm, am) = (
                        b.and_then(J::as_object).unwrap_or(&empty),
                        a.and_then(J::as_object).unwrap_or(&empty),
                    );
                    let keys: BTreeSet<&String> = bm.keys().chain(am.keys()).collect();
                    for k in keys {
                        let len = path.len();
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push_str(k);
                        field_changes(bm.get(k), am.get(k), path, out);
                        path.truncate(len);
                    }
                }
            }
        }
        (b, a) => {
            let sensitive = b.is_some_and(contains_secret) || a.is_some_and(contains_secret);
            let hidden = || J::String(crate::state::SENSITIVE.into());
            out.push(FieldChange {
                path: path.clone(),
                before: if sensitive {
                    b.map(|_| hidden())
                } else {
                    b.cloned()
                },
                after: if sensitive {
                    a.map(|_| hidden())
                } else {
                    a.cloned()
                },
                sensitive,
                known_after_apply: a.is_some_and(contains_intrinsic),
                forces_replacement: false,
            });
        }
    }
}

fn create_only(type_name: &str) -> &'static [&'static str] {
    super::create_only::CREATE_ONLY
        .binary_search_by(|(t, _)| (*t).cmp(type_name))
        .map(|i| super::create_only::CREATE_ONLY[i].1)
        .unwrap_or(&[])
}

/// Marks the fields whose change replaces the resource; true if any does.
fn mark_replacements(type_before: &str, type_after: &str, fields: &mut [FieldChange]) -> bool {
    let immutable = create_only(type_after);
    let mut replace = type_before != type_after;
    for f in fields.iter_mut() {
        let Some(rest) = f.path.strip_prefix("Properties.") else {
            if f.path == "Type" {
                f.forces_replacement = true;
            }
            continue;
        };
        let top = rest.split(['.', '[']).next().unwrap_or(rest);
        if immutable.contains(&top) {
            f.forces_replacement = true;
            replace = true;
        }
    }
    replace
}

fn type_of(entry: &J) -> &str {
    entry.get("Type").and_then(J::as_str).unwrap_or("")
}

/// Plans one stack.
pub fn plan_stack(
    input: &StackInput<'_>,
    digest_salt: &str,
    warnings: &mut Vec<String>,
) -> StackPlan {
    let desired = input.desired.map(|d| redact(&d.template, input.salt));
    let recorded = input.recorded.map(recorded_template);
    let live_template = match input.live {
        Some(Some(live)) => live.template.as_ref().map(|t| redact(t, input.salt)),
        _ => None,
    };
    // The stack as it is: live when refreshed, else as recorded. A stack
    // whose creation failed holds nothing: it is created again.
    let current: Option<J> = match input.live {
        None => recorded.clone(),
        Some(None) => None,
        Some(Some(l)) if failed_create(&l.status) => None,
        Some(Some(_)) => live_template.clone().or_else(|| recorded.clone()),
    };
    let live = input.live.flatten();
    let mut outside_changes = Vec::new();
    if let Some(live_state) = input.live {
        match (input.recorded, live_state) {
            (Some(_), None) => outside_changes.push(format!(
                "stack `{}` was deleted outside rel",
                input.name
            )),
            (Some(rec), Some(live)) => {
                if let (Some(lt), Some(rt)) = (&live_template, &recorded) {
                    let (lr, rr) = (resources(lt), resources(rt));
                    let keys: BTreeSet<&str> = lr.keys().chain(rr.keys()).copied().collect();
                    for k in keys {
                        if lr.get(k) != rr.get(k) {
                            let address = rec.resources.get(k).map_or(k, |r| r.address.as_str());
                            outside_changes.push(format!("resource `{address}` ({k}) differs from what rel last applied"));
                        }
                    }
                    if without_resources(lt) != without_resources(rt) {
                        outside_changes.push("the stack's outputs or description differ from what rel last applied".into());
                    }
                }
                if live.status != rec.status && !live.status.ends_with("_COMPLETE") {
                    warnings.push(format!("stack `{}` is {}", input.name, live.status));
                }
            }
            (None, Some(live)) if !failed_create(&live.status) => warnings.push(format!(
                "stack `{}` exists ({}) but no state records it: rel adopts it and updates it to the template",
                input.name, live.status
            )),
            (None, _) => {}
        }
        if let Some(live) = live {
            if failed_create(&live.status) {
                warnings.push(format!(
                    "stack `{}` is {}: its creation failed; apply deletes it and creates it again",
                    input.name, live.status
                ));
            } else if live.status.ends_with("_FAILED") {
                warnings.push(format!(
                    "stack `{}` is {}: CloudFormation may refuse to change it until it is recovered (for example with continue-update-rollback)",
                    input.name, live.status
                ));
            }
        }
    }

    // A deployment whose last revision failed (Infrastructure Manager's
    // FAILED) is applied again even when its blueprint did not change.
    let failed_apply = live.is_some_and(|l| l.status == "FAILED");
    if failed_apply && desired.is_some() {
        warnings.push(format!(
            "deployment `{}` is FAILED: apply runs it again",
            input.name
        ));
    }
    let action = match (&desired, &current) {
        (Some(_), None) => Action::Create,
        (None, Some(_)) => Action::Delete,
        (None, None) => Action::NoOp,
        (Some(d), Some(c)) if d == c && !failed_apply => Action::NoOp,
        (Some(_), Some(_)) => Action::Update,
    };

    let empty = J::Object(serde_json::Map::new());
    let (dr, cr) = (
        resources(desired.as_ref().unwrap_or(&empty)),
        resources(current.as_ref().unwrap_or(&empty)),
    );
    let mut changes = Vec::new();
    let mut summary = Summary::default();
    let keys: BTreeSet<&str> = dr.keys().chain(cr.keys()).copied().collect();
    for k in keys {
        let (d, c) = (dr.get(k).copied(), cr.get(k).copied());
        let mut fields = Vec::new();
        let mut path = String::new();
        field_changes(c, d, &mut path, &mut fields);
        let action = match (c, d) {
            (None, Some(_)) => Action::Create,
            (Some(_), None) => Action::Delete,
            _ if fields.is_empty() => Action::NoOp,
            (Some(c), Some(d)) => {
                if mark_replacements(type_of(c), type_of(d), &mut fields) {
                    Action::Replace
                } else {
                    Action::Update
                }
            }
            (None, None) => Action::NoOp,
        };
        summary.count(action);
        if action == Action::NoOp {
            continue;
        }
        match action {
            Action::Delete => fields.clear(),
            Action::Create => fields.retain(|f| f.path != "Type"),
            _ => {}
        }
        let address = input
            .desired
            .and_then(|s| s.addresses.get(k))
            .or_else(|| {
                input
                    .recorded
                    .and_then(|r| r.resources.get(k))
                    .map(|r| &r.address)
            })
            .cloned()
            .unwrap_or_else(|| k.to_string());
        let type_name = type_of(d.or(c).unwrap_or(&J::Null)).to_string();
        let physical_id = live
            .and_then(|l| l.physical_ids.get(k))
            .or_else(|| {
                input
                    .recorded
                    .and_then(|r| r.resources.get(k))
                    .and_then(|r| r.physical_id.as_ref())
            })
            .cloned();
        let changed_outside = match (&live_template, &recorded) {
            (Some(lt), Some(rt)) => resources(lt).get(k) != resources(rt).get(k),
            _ => false,
        };
        changes.push(ResourceChange {
            address,
            logical_id: k.to_string(),
            type_name,
            action,
            physical_id,
            fields,
            changed_outside,
        });
    }
    // Destroys and replacements first, then by address.
    changes.sort_by(|a, b| {
        let rank = |x: Action| match x {
            Action::Delete => 0,
            Action::Replace => 1,
            Action::Create => 2,
            Action::Update => 3,
            Action::NoOp => 4,
        };
        (rank(a.action), &a.address).cmp(&(rank(b.action), &b.address))
    });
    let mut template_changes = Vec::new();
    if action == Action::Update {
        field_changes(
            current.as_ref().map(without_resources).as_ref(),
            desired.as_ref().map(without_resources).as_ref(),
            &mut String::new(),
            &mut template_changes,
        );
    }
    StackPlan {
        name: input.name.to_string(),
        layer: input.layer.clone(),
        action,
        stack_id: live
            .map(|l| l.stack_id.clone())
            .or_else(|| input.recorded.map(|r| r.stack_id.clone())),
        live_status: live.map(|l| l.status.clone()),
        template_sha256: input
            .desired
            .map(|d| crate::state::template_digest(&d.template, digest_salt)),
        state: input.precondition.clone(),
        summary,
        changes,
        template_changes,
        outside_changes,
        depends_on: input
            .desired
            .map(|d| d.depends_on.clone())
            .unwrap_or_default(),
    }
}

/// Plans every stack; the summary adds theirs up.
pub fn plan(
    environment: &str,
    inputs: &[StackInput<'_>],
    refreshed: bool,
    manual: &[ManualValidation],
    digest_salt: &str,
) -> Plan {
    let mut warnings = Vec::new();
    let stacks: Vec<StackPlan> = inputs
        .iter()
        .map(|i| plan_stack(i, digest_salt, &mut warnings))
        .collect();
    let mut summary = Summary::default();
    for s in &stacks {
        summary.add(&s.summary);
    }
    Plan {
        format_version: PLAN_VERSION,
        environment: environment.to_string(),
        target: "aws".into(),
        refreshed,
        digest_salt: digest_salt.to_string(),
        summary,
        stacks,
        manual_dns_validation: manual.to_vec(),
        validation_records: Vec::new(),
        kubernetes: None,
        adopted: Vec::new(),
        new_lineages: BTreeMap::new(),
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stack(template: J) -> DesiredStack {
        DesiredStack {
            name: "rel-env-x".into(),
            layer: crate::address::Layer::Environment("x".into()),
            text: template.to_string(),
            sha256: "0".repeat(64),
            addresses: [("Repo".to_string(), "env:x/app.a/resource.repo".to_string())].into(),
            depends_on: Vec::new(),
            deployment: None,
            template,
        }
    }

    fn plan_against(desired: &DesiredStack, live: J) -> StackPlan {
        let live = LiveStack {
            stack_id: "arn".into(),
            status: "CREATE_COMPLETE".into(),
            template: Some(live),
            ..LiveStack::default()
        };
        let input = StackInput {
            name: &desired.name,
            layer: &desired.layer,
            desired: Some(desired),
            recorded: None,
            live: Some(Some(&live)),
            salt: "salt",
            precondition: Precondition::default(),
        };
        plan_stack(&input, "digest-salt", &mut Vec::new())
    }

    fn repo(name: &str, scan: bool) -> J {
        json!({"Resources": {"Repo": {"Type": "AWS::ECR::Repository", "Properties": {
            "RepositoryName": name, "ImageScanningConfiguration": {"ScanOnPush": scan}}}}})
    }

    #[test]
    fn a_changed_mutable_field_is_an_update_of_that_field() {
        let p = plan_against(&stack(repo("a", false)), repo("a", true));
        assert_eq!(p.action, Action::Update);
        assert_eq!(p.changes.len(), 1);
        let c = &p.changes[0];
        assert_eq!(
            (c.action, c.address.as_str()),
            (Action::Update, "env:x/app.a/resource.repo")
        );
        assert_eq!(c.fields.len(), 1);
        assert_eq!(
            c.fields[0].path,
            "Properties.ImageScanningConfiguration.ScanOnPush"
        );
        assert!(!c.fields[0].forces_replacement);
    }

    #[test]
    fn a_create_only_field_forces_replacement() {
        let p = plan_against(&stack(repo("b", true)), repo("a", true));
        assert_eq!(p.changes[0].action, Action::Replace);
        assert!(p.changes[0].fields[0].forces_replacement);
        assert_eq!(p.summary.replace, 1);
    }

    #[test]
    fn secrets_are_compared_hashed_and_never_shown() {
        let with = |s: &str| {
            json!({"Resources": {"Repo": {"Type": "AWS::IAM::Role", "Properties": {
                "Description": format!("{{{{resolve:secretsmanager:{s}}}}}")}}}})
        };
        let same = plan_against(&stack(with("canary/a")), with("canary/a"));
        assert_eq!(same.action, Action::NoOp);
        let changed = plan_against(&stack(with("canary/b")), with("canary/a"));
        let f = &changed.changes[0].fields[0];
        assert!(f.sensitive);
        assert_eq!(f.after, Some(json!("(sensitive)")));
        assert!(!serde_json::to_string(&changed).unwrap().contains("canary"));
    }

    #[test]
    fn intrinsics_are_known_after_apply_and_compared_whole() {
        let t = |att: &str| {
            json!({"Resources": {"Repo": {"Type": "AWS::Route53::RecordSet", "Properties": {
                "ResourceRecords": [{"Fn::GetAtt": ["Lb", att]}]}}}})
        };
        let p = plan_against(&stack(t("DNSName")), t("Arn"));
        let f = &p.changes[0].fields[0];
        assert_eq!(f.path, "Properties.ResourceRecords[0]");
        assert!(f.known_after_apply);
        assert_eq!(f.after, Some(json!({"Fn::GetAtt": ["Lb", "DNSName"]})));
    }

    #[test]
    fn deletions_and_replacements_come_first() {
        let desired = json!({"Resources": {
            "A": {"Type": "AWS::S3::Bucket", "Properties": {}},
            "Repo": {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": "new"}}}});
        let live = json!({"Resources": {
            "Repo": {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": "old"}},
            "Z": {"Type": "AWS::S3::Bucket", "Properties": {}}}});
        let p = plan_against(&stack(desired), live);
        let order: Vec<(Action, &str)> = p
            .changes
            .iter()
            .map(|c| (c.action, c.logical_id.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                (Action::Delete, "Z"),
                (Action::Replace, "Repo"),
                (Action::Create, "A")
            ]
        );
    }

    #[test]
    fn a_stack_whose_creation_failed_is_created_again() {
        let desired = stack(repo("a", true));
        let live = LiveStack {
            stack_id: "arn".into(),
            status: "ROLLBACK_COMPLETE".into(),
            template: Some(repo("a", true)),
            ..LiveStack::default()
        };
        let input = StackInput {
            name: &desired.name,
            layer: &desired.layer,
            desired: Some(&desired),
            recorded: None,
            live: Some(Some(&live)),
            salt: "salt",
            precondition: Precondition::default(),
        };
        let mut warnings = Vec::new();
        let p = plan_stack(&input, "d", &mut warnings);
        assert_eq!(p.action, Action::Create);
        assert_eq!(p.live_status.as_deref(), Some("ROLLBACK_COMPLETE"));
        assert!(
            warnings.len() == 1 && warnings[0].contains("deletes it and creates it again"),
            "{warnings:?}"
        );
    }

    #[test]
    fn digests_hide_secret_references() {
        let t = json!({"Resources": {"R": {"Properties": {"P": "{{resolve:secretsmanager:a}}"}}}});
        let u = json!({"Resources": {"R": {"Properties": {"P": "{{resolve:secretsmanager:b}}"}}}});
        let digest = crate::state::template_digest;
        assert_ne!(digest(&t, "s"), digest(&u, "s"));
        assert_ne!(digest(&t, "s"), digest(&t, "other salt"));
        assert_ne!(
            digest(&t, "s"),
            crate::state::sha256_hex(t.to_string().as_bytes())
        );
    }

    #[test]
    fn the_create_only_table_is_sorted_for_binary_search() {
        let table = crate::deploy::create_only::CREATE_ONLY;
        assert!(table.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(create_only("AWS::ECR::Repository").contains(&"RepositoryName"));
    }
}
