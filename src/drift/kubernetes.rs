//! Kubernetes drift: each object state recorded against the cluster's,
//! on the fields rel applied (the recorded configuration), so server
//! defaults and fields other controllers add are not drift; objects
//! deleted or replaced; and objects that carry rel's labels for the
//! environment but are not in state (unmanaged).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as J;

use super::{Class, Collected, Difference, Finding};
use crate::deploy::kubernetes::{Cluster, ObjectKey, drift_fields, holds_hash};
use crate::state::{KubeRecord, ObjectRecord};

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

/// An object whatever API version names it: group, kind, namespace, name.
type Identity = (String, String, Option<String>, String);

fn identity(key: &ObjectKey) -> Identity {
    let (g, kind, ns, name) = key.identity();
    (
        g.to_string(),
        kind.to_string(),
        ns.map(str::to_string),
        name.to_string(),
    )
}

/// Checks the environment's recorded objects on a connected cluster. The
/// objects carrying rel's labels are listed, one list per kind and
/// namespace (a large environment is read in a few calls, not one per
/// object); a recorded object not among them (deleted, or its labels
/// taken off) is read on its own.
pub async fn check_objects(cluster: &Cluster, record: &KubeRecord, selector: &str) -> Collected {
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
    let listed = match labelled(cluster, record, selector).await {
        Ok(listed) => listed,
        Err(why) => {
            collected.warnings.push(format!(
                "objects carrying rel's labels could not be listed, so each recorded object was read on its own and unmanaged objects were not looked for: {why}"
            ));
            BTreeMap::new()
        }
    };
    let mut recorded = BTreeSet::new();
    let mut hashed = 0;
    for o in record.objects.values() {
        let key = ObjectKey::of_record(o);
        recorded.insert(identity(&key));
        let live = match listed.get(&identity(&key)) {
            Some((_, live)) => Ok(Some(live.clone())),
            None => cluster.get(&key).await,
        };
        let outcome = match live {
            Err(d) => Some(
                finding(Class::NotChecked, &key, "live")
                    .reason(format!("the object could not be read: {}", d.message)),
            ),
            Ok(None) => {
                Some(finding(Class::Deleted, &key, "live").reason("the object no longer exists"))
            }
            Ok(Some(live)) => {
                if holds_hash(&o.applied) {
                    hashed += 1;
                }
                compared(&key, o, &live)
            }
        };
        let outcome = outcome.map(|mut f| {
            f.physical_id = o.uid.clone();
            f
        });
        collected.resources.push((resource_name(&key), outcome));
    }
    if hashed > 0 {
        collected.warnings.push(format!(
            "{hashed} object(s) hold secret values, which state records only as hashes: those fields were compared for presence, not value"
        ));
    }
    collected.unmanaged = listed
        .into_iter()
        .filter(|(id, _)| !recorded.contains(id))
        .map(|(_, (key, _))| {
            finding(Class::Unmanaged, &key, "labels")
                .reason("carries rel's labels for this environment but is not in state")
        })
        .collect();
    collected
}

/// A live object against its record: None when in sync.
pub fn compared(key: &ObjectKey, o: &ObjectRecord, live: &J) -> Option<Finding> {
    let mut diffs: Vec<Difference> = Vec::new();
    let uid = live.pointer("/metadata/uid").and_then(J::as_str);
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
        drift_fields(key, &o.applied, live)
            .into_iter()
            .map(|f| Difference::from_field(f, true)),
    );
    if diffs.is_empty() {
        return None;
    }
    let replaced = diffs[0].path == "metadata.uid";
    let mut f = finding(Class::Modified, key, "live").differences(diffs);
    if replaced {
        f.reason = Some("deleted and created again outside rel".into());
    }
    Some(f)
}

/// The objects labelled as rel's for the environment, of the kinds state
/// holds and the common ones, in the namespaces state holds.
async fn labelled(
    cluster: &Cluster,
    record: &KubeRecord,
    selector: &str,
) -> Result<BTreeMap<Identity, (ObjectKey, J)>, String> {
    let mut kinds: BTreeSet<(String, String)> = COMMON_KINDS
        .iter()
        .map(|(v, k)| (v.to_string(), k.to_string()))
        .collect();
    let mut namespaces = BTreeSet::new();
    for o in record.objects.values() {
        kinds.insert((o.api_version.clone(), o.kind.clone()));
        namespaces.extend(o.namespace.clone());
    }
    let mut found = BTreeMap::new();
    for (api_version, kind) in &kinds {
        let objects = cluster
            .labelled_objects(api_version, kind, &namespaces, selector)
            .await
            .map_err(|d| d.message)?;
        for (key, live) in objects {
            found.insert(identity(&key), (key, live));
        }
    }
    Ok(found)
}
