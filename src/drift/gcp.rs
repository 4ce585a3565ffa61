//! GCP drift: an Infrastructure Manager deployment's latest revision (its
//! blueprint, input values, service account, labels and state) against
//! what rel recorded, and the project's labels against those recorded.
//!
//! Infrastructure Manager has no property-level drift detection, so the
//! resources whose blueprint entry still matches are reported as not
//! checked, with that reason: a revision that matches says what was
//! deployed, not that the resources were left alone since.

use serde_json::Value as J;

use super::{Class, Collected, Difference, Finding, every_resource, recorded};
use crate::deploy::gcp::Gcp;
use crate::deploy::plan::recorded_template;
use crate::state::{ProjectRecord, StackRecord, redact};

const UNCHECKED: &str = "Infrastructure Manager has no property-level drift detection: the deployment's latest revision matches what rel applied, the resource itself was not compared";

/// Checks one recorded deployment (`key`: `rel-shared`, `rel-env-NAME`),
/// and the project's labels.
pub async fn check_deployment(
    gcp: &Gcp,
    key: &str,
    record: &StackRecord,
    project: Option<&ProjectRecord>,
    salt: &str,
) -> Collected {
    let all =
        |class: Class, source: &str, reason: &str| every_resource(record, class, source, reason);
    let deployment = |class: Class| {
        let mut f = Finding::new(
            class,
            record.name.clone(),
            "config.googleapis.com/Deployment",
        );
        f.physical_id = Some(record.stack_id.clone());
        f
    };
    let mut collected = Collected::default();
    let mut itself: Vec<Difference> = Vec::new();

    // A deployment recorded in another project or location cannot be
    // read with this connection; that is not its deletion.
    let expected_name = gcp.deployment_name(key);
    if record.stack_id != expected_name {
        let reason = format!(
            "the deployment was recorded as {}, and rel drift is connected to project {} in {} (--gcp-project, --gcp-location)",
            record.stack_id, gcp.project, gcp.location
        );
        collected.resources = all(Class::NotChecked, "revision", &reason);
        collected.itself = Some(
            deployment(Class::NotChecked)
                .source("revision")
                .reason(reason),
        );
        return collected;
    }

    // The project's labels (compared once per environment by the caller).
    if let Some(was) = project {
        if was.id != gcp.project {
            collected.warnings.push(format!(
                "the project's labels were not compared: they were recorded for project {}, and rel drift is connected to {}",
                was.id, gcp.project
            ));
        } else {
            match gcp.check_project().await {
                Ok(labels) => {
                    let as_json = |m: &std::collections::BTreeMap<String, String>| serde_json::json!({ "project": { "labels": m } });
                    itself.extend(super::differences(
                        Some(&as_json(&was.labels)),
                        Some(&as_json(&labels)),
                    ));
                }
                Err(d) => collected.warnings.push(format!(
                    "the project's labels were not compared: {}",
                    d.message
                )),
            }
        }
    }
    // The deployment's own finding: its differences, with `class` when it
    // is gone or unreadable.
    let itself_finding = |class: Class, reason: &str, diffs: Vec<Difference>| {
        deployment(class)
            .source("revision")
            .reason(reason)
            .differences(diffs)
    };

    let live = match gcp.refresh(key).await {
        Err(d) => {
            let reason = format!("the deployment could not be read: {}", d.message);
            collected.resources = all(Class::NotChecked, "revision", &reason);
            collected.itself = Some(if itself.is_empty() {
                itself_finding(Class::NotChecked, &reason, itself)
            } else {
                itself_finding(
                    Class::Modified,
                    "its project was changed outside rel",
                    itself,
                )
            });
            collected.warnings.push(reason);
            return collected;
        }
        Ok(None) => {
            let reason = "the deployment was deleted outside rel";
            collected.resources = all(Class::Deleted, "revision", reason);
            collected.itself = Some(itself_finding(Class::Deleted, reason, itself));
            return collected;
        }
        Ok(Some(live)) => live,
    };
    if live.status != record.status {
        itself.push(Difference::new(
            "state".into(),
            Some(J::String(record.status.clone())),
            Some(J::String(live.status.clone())),
            false,
        ));
    }
    let Some(template) = live.template.as_ref().map(|t| redact(t, salt)) else {
        let reason = "the latest revision's blueprint could not be read";
        collected.resources = all(Class::NotChecked, "revision", reason);
        collected
            .warnings
            .push(format!("{}: {reason}", record.name));
        if !itself.is_empty() {
            collected.itself = Some(itself_finding(
                Class::Modified,
                "the deployment or its project was changed outside rel",
                itself,
            ));
        }
        return collected;
    };
    let applied = recorded_template(record);
    let top = |t: &J| {
        let mut m = t.as_object().cloned().unwrap_or_default();
        m.remove("Resources");
        J::Object(m)
    };
    itself.extend(super::differences(
        Some(&top(&applied)),
        Some(&top(&template)),
    ));
    let empty = serde_json::Map::new();
    let live_resources = template
        .get("Resources")
        .and_then(J::as_object)
        .unwrap_or(&empty);
    for (id, r) in &record.resources {
        let outcome = match live_resources.get(id) {
            None => recorded(Class::Deleted, id, record, "revision")
                .reason("no longer in the deployment's latest revision: removed outside rel"),
            Some(entry) => {
                let diffs = super::differences(Some(&r.values), Some(entry));
                if diffs.is_empty() {
                    recorded(Class::NotChecked, id, record, "revision").reason(UNCHECKED)
                } else {
                    recorded(Class::Modified, id, record, "revision")
                        .reason("its blueprint entry was changed outside rel")
                        .differences(diffs)
                }
            }
        };
        collected.resources.push((id.clone(), Some(outcome)));
    }
    for (id, entry) in live_resources {
        if !record.resources.contains_key(id) {
            collected.unmanaged.push(
                Finding::new(
                    Class::Unmanaged,
                    id.clone(),
                    entry.get("Type").and_then(J::as_str).unwrap_or("unknown"),
                )
                .source("revision")
                .reason(
                    "in the deployment's latest revision but not in rel's state: added outside rel",
                ),
            );
        }
    }
    if !itself.is_empty() {
        collected.itself = Some(
            deployment(Class::Modified)
                .source("revision")
                .reason("the deployment or its project was changed outside rel")
                .differences(itself),
        );
    }
    collected
}
