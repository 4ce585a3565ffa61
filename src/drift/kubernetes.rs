//! Kubernetes drift: each object state recorded against the cluster's,
//! on the fields rel applied (the recorded configuration), so server
//! defaults and fields other controllers add are not drift; objects
//! deleted or replaced; and objects that carry rel's labels for the
//! environment but are not in state (unmanaged).

use std::collections::BTreeSet;

use serde_json::Value as J;

use super::{Class, Collected, Difference, Finding};
use crate::deploy::kubernetes::{Cluster, ObjectKey, drift_fields};
use crate::diagnostic::codes;
use crate::state::KubeRecord;

/// Kinds looked through for unmanaged objects, besides those state holds.
const COMMON_KINDS: &[(&str, &str)] = &[
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
    ("networking.k8s.io/v1", "Ingress"),
];

/// The name ignore rules use: `KIND/NAMESPACE/NAME` (`KIND/NAME` when
/// cluster-scoped).
pub fn resource_name(key: &ObjectKey) -> String {
    match &key.namespace {
        Some(ns) => format!("{}/{ns}/{}", key.kind, key.name),
        None => format!("{}/{}", key.kind, key.name),
    }
}

fn finding(class: Class, key: &ObjectKey, source: &str) -> Finding {
    Finding::new(
        class,
        resource_name(key),
        format!("{}/{}", key.api_version, key.kind),
    )
    .source(source)
}

/// Every recorded object as not checked, for one reason.
pub fn not_checked(record: &KubeRecord, reason: &str) -> Collected {
    Collected {
        resources: record
            .objects
            .values()
            .map(|o| {
                let key = ObjectKey::of_record(o);
                let mut f = finding(Class::NotChecked, &key, "live").reason(reason);
                f.physical_id = o.uid.clone();
                (resource_name(&key), Some(f))
            })
            .collect(),
        ..Collected::default()
    }
}

/// Checks the environment's recorded objects on a connected cluster.
pub async fn check_objects(cluster: &Cluster, record: &KubeRecord, environment: &str) -> Collected {
    if cluster.server != record.server {
        return not_checked(
            record,
            &format!(
                "the objects were applied to {}, and the kubeconfig context points at {}",
                record.server, cluster.server
            ),
        );
    }
    let mut collected = Collected::default();
    let mut secrets_hashed = 0;
    for o in record.objects.values() {
        let key = ObjectKey::of_record(o);
        let name = resource_name(&key);
        let outcome = match cluster.get(&key).await {
            Err(d) => Some(
                finding(Class::NotChecked, &key, "live")
                    .reason(format!("the object could not be read: {}", d.message)),
            ),
            Ok(None) => {
                Some(finding(Class::Deleted, &key, "live").reason("the object no longer exists"))
            }
            Ok(Some(live)) => {
                let uid = live.pointer("/metadata/uid").and_then(J::as_str);
                let mut diffs: Vec<Difference> = Vec::new();
                if let (Some(was), Some(now)) = (&o.uid, uid)
                    && was != now
                {
                    diffs.push(Difference::new(
                        "metadata.uid".into(),
                        Some(J::String(was.clone())),
                        Some(J::String(now.to_string())),
                        false,
                    ));
                }
                diffs.extend(
                    drift_fields(&key, &o.applied, &live)
                        .into_iter()
                        .map(|f| Difference::from_field(f, true)),
                );
                if key.kind == "Secret" && o.applied.get("data").is_some() {
                    secrets_hashed += 1;
                }
                (!diffs.is_empty()).then(|| {
                    let mut f = finding(Class::Modified, &key, "live").differences(diffs);
                    if f.differences.iter().any(|d| d.path == "metadata.uid") {
                        f.reason = Some("deleted and created again outside rel".into());
                    }
                    f
                })
            }
        };
        let outcome = outcome.map(|mut f| {
            f.physical_id = o.uid.clone();
            f
        });
        collected.resources.push((name, outcome));
    }
    if secrets_hashed > 0 {
        collected.warnings.push(format!(
            "{secrets_hashed} Secret(s): state holds their values only as hashes, so their keys were compared and their values were not"
        ));
    }
    match unmanaged(cluster, record, environment).await {
        Ok(found) => collected.unmanaged = found,
        Err(why) => collected.warnings.push(format!(
            "objects carrying rel's labels could not be listed, so unmanaged objects were not looked for: {why}"
        )),
    }
    collected
}

/// Objects labelled as rel's for the environment that state does not hold.
async fn unmanaged(
    cluster: &Cluster,
    record: &KubeRecord,
    environment: &str,
) -> Result<Vec<Finding>, String> {
    let recorded: BTreeSet<(String, String, Option<String>, String)> = record
        .objects
        .values()
        .map(|o| {
            let k = ObjectKey::of_record(o);
            let (g, kind, ns, name) = k.identity();
            (
                g.to_string(),
                kind.to_string(),
                ns.map(str::to_string),
                name.to_string(),
            )
        })
        .collect();
    let mut kinds: BTreeSet<(String, String)> = COMMON_KINDS
        .iter()
        .map(|(v, k)| (v.to_string(), k.to_string()))
        .collect();
    let mut namespaces = BTreeSet::new();
    for o in record.objects.values() {
        kinds.insert((o.api_version.clone(), o.kind.clone()));
        namespaces.extend(o.namespace.clone());
    }
    let mut found = BTreeSet::new();
    for (api_version, kind) in &kinds {
        let scopes: Vec<Option<&str>> = if kind == "Namespace" {
            vec![None]
        } else {
            namespaces.iter().map(|n| Some(n.as_str())).collect()
        };
        for ns in scopes {
            match cluster
                .labelled(api_version, kind, ns, environment, false)
                .await
            {
                Ok(keys) => found.extend(keys),
                Err(d) if d.code == codes::KUBE_UNSERVED => break,
                Err(d) => return Err(d.message),
            }
        }
    }
    Ok(found
        .into_iter()
        .filter(|k| {
            let (g, kind, ns, name) = k.identity();
            !recorded.contains(&(
                g.to_string(),
                kind.to_string(),
                ns.map(str::to_string),
                name.to_string(),
            ))
        })
        .map(|k| {
            finding(Class::Unmanaged, &k, "labels")
                .reason("carries rel's labels for this environment but is not in state")
        })
        .collect())
}
