//! Kubernetes: the objects an environment's manifests declare, against
//! what the cluster holds, through the `kube` client.
//!
//! Objects are compared on the fields rel sets (a field the server
//! defaulted, `status` and server metadata are not changes) and on the
//! fields rel's field manager owned before and no longer sets (those are
//! removed). Apply is server-side apply with rel's own field manager, in
//! manifest order (namespaces, then configuration, then workloads); a field
//! another manager owns is a conflict unless `--force-conflicts`. Objects
//! rel applied before (its state, or its ownership labels) that the
//! manifests no longer declare are pruned.
//!
//! Values known only after apply arrive as `${rel:ADDRESS:ATTRIBUTE}`
//! placeholders that name a stack output; secrets as `${rel-secret:NAME}`,
//! read from the secret store when needed and never shown.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use serde_json::Value as J;
use tokio::sync::Mutex;

use super::plan::{Action, FieldChange, ResourceChange, Summary};
use crate::diagnostic::{Diagnostic, codes};
use crate::state::{KubeRecord, ObjectRecord, secret_hash};

/// rel's field manager for server-side apply.
pub const FIELD_MANAGER: &str = "rel";

/// Where an object is: API version, kind, namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    pub fn of(object: &J) -> Option<ObjectKey> {
        let text = |v: Option<&J>| v.and_then(J::as_str).map(str::to_string);
        Some(ObjectKey {
            api_version: text(object.get("apiVersion"))?,
            kind: text(object.get("kind"))?,
            namespace: text(object.pointer("/metadata/namespace")),
            name: text(object.pointer("/metadata/name"))?,
        })
    }

    /// The key state records: `API_VERSION/KIND/NAMESPACE/NAME`
    /// (`NAMESPACE` empty for cluster-wide objects).
    pub fn id(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.api_version,
            self.kind,
            self.namespace.as_deref().unwrap_or(""),
            self.name
        )
    }

    /// How people read it: `Deployment pr-42/shoes`.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }

    /// Group, kind, namespace and name: the object whatever API version
    /// names it.
    pub fn identity(&self) -> (&str, &str, Option<&str>, &str) {
        let group = self.api_version.rsplit_once('/').map_or("", |(g, _)| g);
        (group, &self.kind, self.namespace.as_deref(), &self.name)
    }

    pub fn of_record(r: &ObjectRecord) -> ObjectKey {
        ObjectKey {
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
        }
    }
}

/// One object the manifests declare, placeholders unfilled.
#[derive(Clone, Debug)]
pub struct DesiredObject {
    pub key: ObjectKey,
    pub manifest: J,
}

/// How to reach the cluster: as kubectl does, unless told otherwise.
#[derive(Clone, Debug, Default)]
pub struct KubeOptions {
    /// A kubeconfig file [default: KUBECONFIG, ~/.kube/config, in-cluster].
    pub kubeconfig: Option<PathBuf>,
    /// The context [default: the environment's `kube_context`, else the
    /// kubeconfig's current context].
    pub context: Option<String>,
    /// Take over fields other managers own.
    pub force_conflicts: bool,
    /// Wait for workloads to become ready, this long at most.
    pub wait: Option<Duration>,
}

/// A connected cluster, with the kinds it serves looked up once each.
pub struct Cluster {
    client: kube::Client,
    pub server: String,
    kinds: Mutex<HashMap<(String, String), (ApiResource, ApiCapabilities)>>,
}

fn kube_error(what: &str, e: &kube::Error) -> Diagnostic {
    let message = match e {
        kube::Error::Api(status) => format!(
            "{what}: {} ({} {})",
            crate::state::scrub(&status.message),
            status.code,
            status.reason
        ),
        other => format!("{what}: {}", crate::state::scrub(&other.to_string())),
    };
    Diagnostic::error(codes::PROVIDER_ERROR, message)
}

fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// Connects to the cluster: the kubeconfig given, else KUBECONFIG or
/// `~/.kube/config`, else the in-cluster service account.
pub async fn connect(options: &KubeOptions, context: Option<&str>) -> Result<Cluster, Diagnostic> {
    let context = options.context.as_deref().or(context);
    let unreachable = |why: String| {
        Diagnostic::error(
            codes::KUBE_CONFIG,
            format!("no Kubernetes cluster to apply to: {why}"),
        )
        .with_help("Set KUBECONFIG or --kubeconfig, and choose a context with --kube-context or the environment's `kube_context`.")
    };
    let kube_options = kube::config::KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let mut config = match (&options.kubeconfig, context) {
        (Some(path), _) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| unreachable(format!("`{}`: {e}", path.display())))?;
            kube::Config::from_custom_kubeconfig(file, &kube_options)
                .await
                .map_err(|e| unreachable(e.to_string()))?
        }
        (None, Some(_)) => kube::Config::from_kubeconfig(&kube_options)
            .await
            .map_err(|e| unreachable(e.to_string()))?,
        (None, None) => kube::Config::infer()
            .await
            .map_err(|e| unreachable(e.to_string()))?,
    };
    config.connect_timeout = Some(Duration::from_secs(10));
    config.read_timeout = Some(Duration::from_secs(60));
    config.write_timeout = Some(Duration::from_secs(60));
    let server = config.cluster_url.to_string();
    let client = kube::Client::try_from(config).map_err(|e| unreachable(e.to_string()))?;
    Ok(Cluster {
        client,
        server,
        kinds: Mutex::new(HashMap::new()),
    })
}

impl Cluster {
    async fn kind(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<(ApiResource, ApiCapabilities), Diagnostic> {
        let k = (api_version.to_string(), kind.to_string());
        if let Some(found) = self.kinds.lock().await.get(&k) {
            return Ok(found.clone());
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
        let found = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|e| {
                let mut d = kube_error(
                    &format!("the cluster does not serve {api_version} {kind}"),
                    &e,
                );
                if matches!(e, kube::Error::Discovery(_)) || status_code(&e) == Some(404) {
                    d.code = codes::KUBE_UNSERVED;
                }
                d
            })?;
        self.kinds.lock().await.insert(k, found.clone());
        Ok(found)
    }

    async fn api(&self, key: &ObjectKey) -> Result<Api<DynamicObject>, Diagnostic> {
        let (resource, caps) = self.kind(&key.api_version, &key.kind).await?;
        Ok(match (&caps.scope, &key.namespace) {
            (Scope::Namespaced, Some(ns)) => {
                Api::namespaced_with(self.client.clone(), ns, &resource)
            }
            (Scope::Namespaced, None) => {
                Api::default_namespaced_with(self.client.clone(), &resource)
            }
            (Scope::Cluster, _) => Api::all_with(self.client.clone(), &resource),
        })
    }

    /// The live object, if any.
    pub async fn get(&self, key: &ObjectKey) -> Result<Option<J>, Diagnostic> {
        // A kind the cluster does not serve (yet: its definition may come
        // with these manifests) has no objects.
        let api = match self.api(key).await {
            Ok(api) => api,
            Err(d) if d.code == codes::KUBE_UNSERVED => return Ok(None),
            Err(d) => return Err(d),
        };
        let found = api
            .get_opt(&key.name)
            .await
            .map_err(|e| kube_error(&format!("reading {}", key.display()), &e))?;
        Ok(found.map(|o| serde_json::to_value(o).unwrap_or(J::Null)))
    }

    /// The objects of a kind that carry rel's labels for an environment,
    /// in a namespace (or cluster-wide for cluster-scoped kinds).
    pub async fn owned(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        selector: &str,
    ) -> Result<Vec<ObjectKey>, Diagnostic> {
        let (resource, caps) = self.kind(api_version, kind).await?;
        let api: Api<DynamicObject> = match (&caps.scope, namespace) {
            (Scope::Namespaced, Some(ns)) => {
                Api::namespaced_with(self.client.clone(), ns, &resource)
            }
            (Scope::Namespaced, None) => return Ok(Vec::new()),
            (Scope::Cluster, _) => Api::all_with(self.client.clone(), &resource),
        };
        let list = api
            .list(&ListParams::default().labels(selector))
            .await
            .map_err(|e| kube_error(&format!("listing {kind} objects"), &e))?;
        Ok(list
            .items
            .into_iter()
            // Labels can be copied; only what rel's field manager applied is rel's.
            .filter(|o| {
                o.metadata.managed_fields.iter().flatten().any(|m| {
                    m.manager.as_deref() == Some(FIELD_MANAGER)
                        && m.operation.as_deref() == Some("Apply")
                })
            })
            .filter_map(|o| {
                Some(ObjectKey {
                    api_version: api_version.to_string(),
                    kind: kind.to_string(),
                    namespace: o.metadata.namespace.clone(),
                    name: o.metadata.name.clone()?,
                })
            })
            .collect())
    }

    /// Every object of a kind that carries rel's labels for an
    /// environment, as the server holds it: one list per namespace (one
    /// in all for a cluster-scoped kind). A kind the cluster does not
    /// serve has none.
    pub async fn labelled_objects(
        &self,
        api_version: &str,
        kind: &str,
        namespaces: &BTreeSet<String>,
        selector: &str,
    ) -> Result<Vec<(ObjectKey, J)>, Diagnostic> {
        let (resource, caps) = match self.kind(api_version, kind).await {
            Ok(found) => found,
            Err(d) if d.code == codes::KUBE_UNSERVED => return Ok(Vec::new()),
            Err(d) => return Err(d),
        };
        let apis: Vec<Api<DynamicObject>> = match caps.scope {
            Scope::Cluster => vec![Api::all_with(self.client.clone(), &resource)],
            Scope::Namespaced => namespaces
                .iter()
                .map(|ns| Api::namespaced_with(self.client.clone(), ns, &resource))
                .collect(),
        };
        let mut out = Vec::new();
        for api in apis {
            let list = api
                .list(&ListParams::default().labels(selector))
                .await
                .map_err(|e| kube_error(&format!("listing {kind} objects"), &e))?;
            for o in list.items {
                let Some(name) = o.metadata.name.clone() else {
                    continue;
                };
                let key = ObjectKey {
                    api_version: api_version.to_string(),
                    kind: kind.to_string(),
                    namespace: o.metadata.namespace.clone(),
                    name,
                };
                let mut object = serde_json::to_value(o).unwrap_or(J::Null);
                // List items may leave out their type; the object has one.
                if let J::Object(m) = &mut object {
                    m.entry("apiVersion")
                        .or_insert_with(|| J::String(api_version.to_string()));
                    m.entry("kind")
                        .or_insert_with(|| J::String(kind.to_string()));
                }
                out.push((key, object));
            }
        }
        Ok(out)
    }

    /// Server-side apply with rel's field manager; the object as the
    /// server now holds it.
    pub async fn apply(&self, key: &ObjectKey, manifest: &J, force: bool) -> Result<J, Diagnostic> {
        let api = self.api(key).await?;
        let mut params = PatchParams::apply(FIELD_MANAGER);
        if force {
            params = params.force();
        }
        match api.patch(&key.name, &params, &Patch::Apply(manifest)).await {
            Ok(o) => Ok(serde_json::to_value(o).unwrap_or(J::Null)),
            Err(e) if status_code(&e) == Some(409) => {
                let message = match &e {
                    kube::Error::Api(s) => crate::state::scrub(&s.message),
                    other => other.to_string(),
                };
                Err(Diagnostic::error(
                    codes::KUBE_CONFLICT,
                    format!("{} conflicts with another field manager: {message}", key.display()),
                )
                .with_help("Another client changed fields rel sets. Make the template agree, or take the fields over with `rel apply --force-conflicts`."))
            }
            Err(e) => Err(kube_error(&format!("applying {}", key.display()), &e)),
        }
    }

    /// Deletes an object and waits until it is gone (its dependents
    /// first: foreground propagation). With `uid`, only that very object:
    /// one replaced by someone else since is left alone (Ok(false)).
    /// Gone already is fine.
    pub async fn delete(
        &self,
        key: &ObjectKey,
        uid: Option<&str>,
        timeout: Duration,
    ) -> Result<bool, Diagnostic> {
        let api = match self.api(key).await {
            Ok(api) => api,
            Err(d) if d.code == codes::KUBE_UNSERVED => return Ok(true),
            Err(d) => return Err(d),
        };
        let mut params = DeleteParams::foreground();
        if let Some(uid) = uid {
            params = params.preconditions(kube::api::Preconditions {
                uid: Some(uid.to_string()),
                resource_version: None,
            });
        }
        match api.delete(&key.name, &params).await {
            Ok(_) => {}
            Err(e) if status_code(&e) == Some(404) => return Ok(true),
            Err(e) if status_code(&e) == Some(409) && uid.is_some() => return Ok(false),
            Err(e) => return Err(kube_error(&format!("deleting {}", key.display()), &e)),
        }
        let start = tokio::time::Instant::now();
        let mut delay = Duration::from_millis(100);
        while self.get(key).await?.is_some() {
            if start.elapsed() >= timeout {
                return Err(Diagnostic::error(
                    codes::PROVIDER_ERROR,
                    format!("{} is still being deleted after {}s", key.display(), timeout.as_secs()),
                )
                .with_help("A finalizer may hold it: see `kubectl get -o yaml` for its finalizers and deletionTimestamp."));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        Ok(true)
    }

    /// Waits until a workload's new version is ready, polling.
    pub async fn wait_ready(
        &self,
        key: &ObjectKey,
        timeout: Duration,
        start: tokio::time::Instant,
        step: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<(), Diagnostic> {
        let mut delay = Duration::from_millis(250);
        loop {
            let live = self.get(key).await?.unwrap_or(J::Null);
            let (ready, progress) = readiness(&live);
            if ready {
                return Ok(());
            }
            step(&format!("waiting for {}: {progress}", key.display()));
            if start.elapsed() >= timeout {
                let conditions = conditions(&live);
                return Err(Diagnostic::error(
                    codes::KUBE_ROLLOUT,
                    format!(
                        "{} is not ready after {}s: {progress}{}",
                        key.display(),
                        timeout.as_secs(),
                        if conditions.is_empty() {
                            String::new()
                        } else {
                            format!("; {conditions}")
                        }
                    ),
                )
                .with_help("Look at the workload's pods (`kubectl describe`, `kubectl logs`); raise --wait-timeout if it is only slow."));
            }
            tokio::time::sleep(
                delay
                    .min(timeout.saturating_sub(start.elapsed()))
                    .max(Duration::from_millis(50)),
            )
            .await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
}

/// Kinds whose rollout `--wait` waits for.
pub fn is_workload(kind: &str) -> bool {
    matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet")
}

fn int(v: &J, pointer: &str) -> Option<i64> {
    v.pointer(pointer).and_then(J::as_i64)
}

/// Whether a workload's current version is ready, and how far it got.
pub fn readiness(live: &J) -> (bool, String) {
    let generation = int(live, "/metadata/generation").unwrap_or(0);
    let observed = int(live, "/status/observedGeneration").unwrap_or(0);
    let kind = live.get("kind").and_then(J::as_str).unwrap_or_default();
    let (want, updated, available) = match kind {
        "DaemonSet" => (
            int(live, "/status/desiredNumberScheduled").unwrap_or(0),
            int(live, "/status/updatedNumberScheduled").unwrap_or(0),
            int(live, "/status/numberAvailable").unwrap_or(0),
        ),
        "StatefulSet" => (
            int(live, "/spec/replicas").unwrap_or(1),
            int(live, "/status/updatedReplicas").unwrap_or(0),
            int(live, "/status/readyReplicas").unwrap_or(0),
        ),
        _ => (
            int(live, "/spec/replicas").unwrap_or(1),
            int(live, "/status/updatedReplicas").unwrap_or(0),
            int(live, "/status/availableReplicas").unwrap_or(0),
        ),
    };
    let ready = observed >= generation && updated >= want && available >= want;
    (
        ready,
        format!("{available} of {want} available, {updated} updated"),
    )
}

/// A workload's conditions, one phrase each.
fn conditions(live: &J) -> String {
    live.pointer("/status/conditions")
        .and_then(J::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let s = |k: &str| c.get(k).and_then(J::as_str).unwrap_or_default();
                    let mut text = format!("{}={}", s("type"), s("status"));
                    if !s("reason").is_empty() || !s("message").is_empty() {
                        text.push_str(&format!(" ({}: {})", s("reason"), s("message")));
                    }
                    text
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

/// Where a placeholder's value comes from.
pub struct Values<'a> {
    /// Token → `STACK:OUTPUT` (from the build's index).
    pub placeholders: &'a BTreeMap<String, String>,
    /// Stack → output → value, as far as known.
    pub outputs: &'a BTreeMap<String, BTreeMap<String, String>>,
    /// Secret name → value; `None` when secrets are not read (a plan
    /// from state alone).
    pub secrets: Option<&'a BTreeMap<String, SecretValue>>,
}

/// A secret as read from the store: its value, and the version that
/// stands for it in state and plan digests (a hash of the value itself
/// could be tested against guesses by anyone holding the state).
#[derive(Clone, Debug)]
pub struct SecretValue {
    pub value: String,
    pub version: String,
}

/// An object with its placeholders filled: the manifest to apply, the
/// paths that hold secrets, and the paths still unknown (with what they
/// wait for).
#[derive(Clone, Debug)]
pub struct Filled {
    pub key: ObjectKey,
    pub manifest: J,
    /// Path → what stands for its value in state (`secret NAME@VERSION`),
    /// or None for a value written in the template (a Secret's literal data).
    pub sensitive: BTreeMap<String, Option<String>>,
    pub unknown: BTreeSet<String>,
}

/// What one comparison needs besides the two objects: the desired object's
/// marks, and the paths its record holds as secret hashes.
struct Cmp<'a> {
    filled: &'a Filled,
    hashed: BTreeSet<String>,
}

const UNKNOWN_MARK: &str = "(known after apply: ";

/// The outputs a filled manifest still waits for (`STACK:OUTPUT`).
pub fn waiting_for(manifest: &J) -> Vec<String> {
    fn walk(v: &J, out: &mut Vec<String>) {
        match v {
            J::Object(m) => m.values().for_each(|v| walk(v, out)),
            J::Array(items) => items.iter().for_each(|v| walk(v, out)),
            J::String(s) => {
                let mut rest = s.as_str();
                while let Some(i) = rest.find(UNKNOWN_MARK) {
                    rest = &rest[i + UNKNOWN_MARK.len()..];
                    let end = rest.find(')').unwrap_or(rest.len());
                    out.push(format!("`{}`", &rest[..end]));
                    rest = &rest[end..];
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(manifest, &mut out);
    out.sort();
    out.dedup();
    out
}

/// A field's path under `path` (`spec.replicas`).
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Fills an object's placeholders. A secret not in `values.secrets` stays
/// as its (secret-free) placeholder and is marked sensitive; an output not
/// known yet becomes `(known after apply: STACK:OUTPUT)` and is marked.
pub fn fill(object: &DesiredObject, values: &Values<'_>) -> Result<Filled, Diagnostic> {
    fn walk(
        v: &mut J,
        path: &str,
        values: &Values<'_>,
        out: &mut (BTreeMap<String, Option<String>>, BTreeSet<String>),
    ) -> Result<(), Diagnostic> {
        match v {
            J::Object(m) => {
                for (k, v) in m.iter_mut() {
                    walk(v, &join(path, k), values, out)?;
                }
            }
            J::Array(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    walk(v, &format!("{path}[{i}]"), values, out)?;
                }
            }
            J::String(s) if s.contains("${rel") => {
                let mut text = String::with_capacity(s.len());
                let mut rest = s.as_str();
                while let Some(start) = rest.find("${rel") {
                    text.push_str(&rest[..start]);
                    let Some(end) = rest[start..].find('}') else {
                        text.push_str(&rest[start..]);
                        rest = "";
                        break;
                    };
                    let token = &rest[start..start + end + 1];
                    rest = &rest[start + end + 1..];
                    if let Some(name) = token
                        .strip_prefix("${rel-secret:")
                        .and_then(|t| t.strip_suffix('}'))
                    {
                        match values.secrets {
                            Some(secrets) => {
                                let secret = secrets.get(name).ok_or_else(|| {
                                    Diagnostic::error(
                                        codes::SECRET_UNAVAILABLE,
                                        format!("secret `{name}` was not read"),
                                    )
                                })?;
                                out.0.insert(
                                    path.to_string(),
                                    Some(format!("secret {name}@{}", secret.version)),
                                );
                                text.push_str(&secret.value);
                            }
                            None => {
                                out.0
                                    .insert(path.to_string(), Some(format!("secret {name}")));
                                text.push_str(token);
                            }
                        }
                        continue;
                    }
                    let Some(source) = values.placeholders.get(token) else {
                        return Err(Diagnostic::error(
                            codes::DEPLOY_UNSUPPORTED,
                            format!("`{token}` in a manifest names no stack output"),
                        ));
                    };
                    let known = source
                        .split_once(':')
                        .and_then(|(stack, output)| values.outputs.get(stack)?.get(output));
                    match known {
                        Some(value) => text.push_str(value),
                        None => {
                            out.1.insert(path.to_string());
                            text.push_str(UNKNOWN_MARK);
                            text.push_str(source);
                            text.push(')');
                        }
                    }
                }
                text.push_str(rest);
                *s = text;
            }
            _ => {}
        }
        Ok(())
    }
    let mut manifest = object.manifest.clone();
    let mut marks = (BTreeMap::new(), BTreeSet::new());
    walk(&mut manifest, "", values, &mut marks)?;
    // A Secret's `stringData` goes as `data`, which is what the server
    // keeps and returns: compared and owned as such.
    if object.key.kind == "Secret"
        && object.key.api_version == "v1"
        && let Some(J::Object(strings)) = manifest
            .as_object_mut()
            .and_then(|m| m.remove("stringData"))
    {
        let data = manifest
            .as_object_mut()
            .expect("an object")
            .entry("data")
            .or_insert_with(|| J::Object(Default::default()));
        if let J::Object(data) = data {
            for (k, v) in strings {
                let text = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                data.insert(
                    k,
                    J::String(base64::engine::general_purpose::STANDARD.encode(text)),
                );
            }
        }
        marks.0 = marks
            .0
            .into_iter()
            .map(|(p, r)| (p.replacen("stringData", "data", 1), r))
            .collect();
    }
    if object.key.kind == "Secret" {
        // Every value of a Secret is sensitive, secret() or not.
        if let Some(J::Object(data)) = manifest.get("data") {
            for k in data.keys() {
                marks.0.entry(join("data", k)).or_insert(None);
            }
        }
    }
    Ok(Filled {
        key: object.key.clone(),
        manifest,
        sensitive: marks.0,
        unknown: marks.1,
    })
}

/// Whether one of `paths` is `path` or lies under it.
fn is_under<'p>(paths: impl IntoIterator<Item = &'p String>, path: &str) -> bool {
    !path.is_empty()
        && paths.into_iter().any(|p| {
            p == path
                || (p.starts_with(path)
                    && matches!(p.as_bytes().get(path.len()), Some(b'.') | Some(b'[')))
        })
}

/// Whether a recorded configuration holds a secret's hash anywhere.
pub fn holds_hash(v: &J) -> bool {
    match v {
        J::Object(m) => m.values().any(holds_hash),
        J::Array(items) => items.iter().any(holds_hash),
        J::String(s) => crate::state::is_secret_hash(s),
        _ => false,
    }
}

/// The paths of a recorded configuration that hold secret hashes.
fn hashed_paths(v: &J, path: &str, out: &mut BTreeSet<String>) {
    if path.is_empty() && !holds_hash(v) {
        return;
    }
    match v {
        J::Object(m) => m
            .iter()
            .for_each(|(k, v)| hashed_paths(v, &join(path, k), out)),
        J::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| hashed_paths(v, &format!("{path}[{i}]"), out)),
        J::String(s) if crate::state::is_secret_hash(s) => {
            out.insert(path.to_string());
        }
        _ => {}
    }
}

/// The manifest with sensitive values replaced by their salted hashes:
/// what state records and plan digests cover.
pub fn redacted(filled: &Filled, salt: &str) -> J {
    fn walk(v: &mut J, path: &str, filled: &Filled, salt: &str) {
        match v {
            J::Object(m) => {
                for (k, v) in m.iter_mut() {
                    walk(v, &join(path, k), filled, salt);
                }
            }
            J::Array(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    walk(v, &format!("{path}[{i}]"), filled, salt);
                }
            }
            J::String(s) => {
                if let Some(reference) = filled.sensitive.get(path) {
                    *s = secret_hash(salt, reference.as_deref().unwrap_or(s));
                }
            }
            _ => {}
        }
    }
    let mut m = filled.manifest.clone();
    if !filled.sensitive.is_empty() {
        walk(&mut m, "", filled, salt);
    }
    m
}

/// A resource quantity (`500m`, `1`, `512Mi`, `1G`) in base units.
fn quantity(s: &str) -> Option<f64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let n: f64 = number.parse().ok()?;
    let scale = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(n * scale)
}

/// Equal as the server sees them: numbers by value, and resource
/// quantities in any of their spellings (the server writes `1000m` as `1`).
fn values_equal(a: &J, b: &J, path: &str) -> bool {
    match (a, b) {
        (J::Number(x), J::Number(y)) => x.as_f64() == y.as_f64(),
        (J::String(x), J::String(y)) if x != y && path.contains("resources.") => {
            matches!((quantity(x), quantity(y)), (Some(p), Some(q)) if (p - q).abs() <= 1e-9 * p.abs().max(1.0))
        }
        _ => a == b,
    }
}

fn change(path: &str, before: Option<&J>, after: Option<&J>, cx: &Cmp<'_>) -> FieldChange {
    let filled = cx.filled;
    let secret_data = filled.key.kind == "Secret"
        && ["data", "stringData"]
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}.")));
    let sensitive =
        is_under(filled.sensitive.keys(), path) || secret_data || is_under(&cx.hashed, path);
    let hide = |v: Option<&J>| v.map(|_| J::String(crate::state::SENSITIVE.into()));
    FieldChange {
        path: path.to_string(),
        before: if sensitive {
            hide(before)
        } else {
            before.cloned()
        },
        after: if sensitive {
            hide(after)
        } else {
            after.cloned()
        },
        sensitive,
        known_after_apply: is_under(&filled.unknown, path),
        forces_replacement: false,
    }
}

/// The fields of `desired` that `live` does not match.
/// Appends `.key` (or `key` at the top) to a path buffer; returns the
/// length to truncate back to.
fn push_key(path: &mut String, key: &str) -> usize {
    let len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
    len
}

fn push_index(path: &mut String, i: usize) -> usize {
    use std::fmt::Write;
    let len = path.len();
    let _ = write!(path, "[{i}]");
    len
}

/// The fields of `desired` that `live` does not match. `path` is a
/// buffer, extended and truncated as the walk goes (objects have many
/// fields and few changes).
fn compare(
    desired: &J,
    live: Option<&J>,
    path: &mut String,
    cx: &Cmp<'_>,
    out: &mut Vec<FieldChange>,
) {
    let Some(live) = live else {
        out.push(change(path, None, Some(desired), cx));
        return;
    };
    match (desired, live) {
        (J::Object(d), J::Object(l)) => {
            for (k, dv) in d {
                let len = push_key(path, k);
                compare(dv, l.get(k), path, cx, out);
                path.truncate(len);
            }
        }
        (J::Array(d), J::Array(l)) if d.len() == l.len() && d.iter().any(|v| v.is_object()) => {
            for (i, (dv, lv)) in d.iter().zip(l).enumerate() {
                let len = push_index(path, i);
                compare(dv, Some(lv), path, cx, out);
                path.truncate(len);
            }
        }
        (J::Array(d), J::Array(l))
            if d.len() == l.len() && d.iter().zip(l).all(|(a, b)| values_equal(a, b, path)) => {}
        _ => {
            if is_under(&cx.filled.unknown, path) || !values_equal(desired, live, path) {
                out.push(change(path, Some(live), Some(desired), cx));
            }
        }
    }
}

/// Fields rel set before (rel's field manager owns them on the live
/// object, or the recorded configuration has them) that the desired
/// object no longer sets: the apply removes them.
fn removed(
    owned: &J,
    desired: &J,
    live: &J,
    path: &mut String,
    cx: &Cmp<'_>,
    out: &mut Vec<FieldChange>,
) {
    let (Some(d), J::Object(m)) = (desired.as_object(), owned) else {
        return;
    };
    // managedFields: `f:NAME` entries (list entries are compared by
    // position); a recorded configuration: plain keys.
    let fields_v1 = m.keys().any(|k| k.starts_with("f:"));
    for (k, sub) in m {
        let name = if fields_v1 {
            match k.strip_prefix("f:") {
                Some(n) => n,
                None => continue,
            }
        } else {
            k.as_str()
        };
        let Some(lv) = live.get(name) else {
            continue;
        };
        let len = push_key(path, name);
        match (d.get(name), sub) {
            (None, _) => {
                if !out.iter().any(|c| c.path == *path) {
                    out.push(change(path, Some(lv), None, cx));
                }
            }
            (Some(J::Array(da)), J::Array(oa)) if da.len() == oa.len() => {
                // A recorded list of the same length: its items by position.
                if let J::Array(la) = lv {
                    for (i, ((dv, ov), lv)) in da.iter().zip(oa).zip(la).enumerate() {
                        let l2 = push_index(path, i);
                        removed(ov, dv, lv, path, cx, out);
                        path.truncate(l2);
                    }
                }
            }
            (Some(dv), sub) => removed(sub, dv, lv, path, cx, out),
        }
        path.truncate(len);
    }
}

/// The fields rel's field manager owns on a live object, if any.
fn owned_fields(live: &J) -> Option<&J> {
    live.pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .find(|m| {
            m.get("manager").and_then(J::as_str) == Some(FIELD_MANAGER)
                && m.get("operation").and_then(J::as_str) == Some("Apply")
        })?
        .get("fieldsV1")
}

/// Fields the server will not change in place: a change to them replaces
/// the object (deleted, then created).
fn immutable(kind: &str, path: &str) -> bool {
    let under = |p: &str| {
        path == p || path.starts_with(&format!("{p}.")) || path.starts_with(&format!("{p}["))
    };
    match kind {
        "Job" => under("spec.template") || under("spec.selector") || under("spec.completionMode"),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => under("spec.selector"),
        _ => false,
    }
}

/// One object's change: `live` is what the cluster holds (None: absent).
pub fn object_change(
    filled: &Filled,
    live: Option<&J>,
    recorded: Option<&ObjectRecord>,
    salt: &str,
) -> ResourceChange {
    // Paths the record holds as secret hashes are sensitive too.
    let mut hashed = BTreeSet::new();
    if let Some(r) = recorded {
        hashed_paths(&r.applied, "", &mut hashed);
    }
    let cx = Cmp { filled, hashed };
    let mut fields = Vec::new();
    let action = match live {
        None => {
            let desired = filled.manifest.as_object().cloned().unwrap_or_default();
            for (k, v) in &desired {
                if matches!(k.as_str(), "apiVersion" | "kind") {
                    continue;
                }
                fields.push(change(k, None, Some(v), &cx));
            }
            Action::Create
        }
        Some(live) => {
            let mut path = String::with_capacity(128);
            compare(&filled.manifest, Some(live), &mut path, &cx, &mut fields);
            if let Some(owned) = owned_fields(live) {
                removed(owned, &filled.manifest, live, &mut path, &cx, &mut fields);
            }
            if let Some(r) = recorded {
                removed(
                    &r.applied,
                    &filled.manifest,
                    live,
                    &mut path,
                    &cx,
                    &mut fields,
                );
            }
            let mut replace = false;
            for f in &mut fields {
                if immutable(&filled.key.kind, &f.path) {
                    f.forces_replacement = true;
                    replace = true;
                }
            }
            if fields.is_empty() {
                Action::NoOp
            } else if replace {
                Action::Replace
            } else {
                Action::Update
            }
        }
    };
    // Changed outside rel: rel's configuration did not change since it was
    // applied, yet the cluster no longer matches it.
    let changed_outside = matches!(action, Action::Update | Action::Replace)
        && recorded.is_some_and(|r| r.applied == redacted(filled, salt));
    ResourceChange {
        address: filled.key.display(),
        logical_id: filled.key.id(),
        type_name: format!("{}/{}", filled.key.api_version, filled.key.kind),
        action,
        physical_id: live
            .and_then(|l| l.pointer("/metadata/uid"))
            .and_then(J::as_str)
            .map(str::to_string),
        fields,
        changed_outside,
    }
}

/// Drift of a live object from the configuration rel last applied: the
/// fields that configuration sets and the object no longer matches
/// (server defaults and fields others added are not compared). Values
/// state holds only as hashes (Secrets) are compared for presence.
pub fn drift_fields(key: &ObjectKey, applied: &J, live: &J) -> Vec<FieldChange> {
    let filled = Filled {
        key: key.clone(),
        manifest: applied.clone(),
        sensitive: BTreeMap::new(),
        unknown: BTreeSet::new(),
    };
    let mut hashed = BTreeSet::new();
    hashed_paths(applied, "", &mut hashed);
    let cx = Cmp {
        filled: &filled,
        hashed,
    };
    let mut fields = Vec::new();
    compare(
        applied,
        Some(live),
        &mut String::with_capacity(128),
        &cx,
        &mut fields,
    );
    fields.retain(|f| !(cx.hashed.contains(&f.path) && f.before.is_some()));
    // Lists are compared by position: a list holding a secret anywhere
    // may show it at another index once reordered, so every difference
    // inside it is masked.
    let lists: BTreeSet<&str> = cx
        .hashed
        .iter()
        .flat_map(|h| h.match_indices('[').map(move |(at, _)| &h[..at]))
        .collect();
    for f in &mut fields {
        let inside = lists
            .iter()
            .any(|l| f.path.starts_with(l) && f.path[l.len()..].starts_with('['));
        if inside && !f.sensitive {
            f.sensitive = true;
            f.before = f
                .before
                .take()
                .map(|_| J::String(crate::state::SENSITIVE.into()));
            f.after = f
                .after
                .take()
                .map(|_| J::String(crate::state::SENSITIVE.into()));
        }
    }
    fields
}

/// A prune: an object rel applied before that the manifests no longer declare.
pub fn prune_change(key: &ObjectKey, uid: Option<String>) -> ResourceChange {
    ResourceChange {
        address: key.display(),
        logical_id: key.id(),
        type_name: format!("{}/{}", key.api_version, key.kind),
        action: Action::Delete,
        physical_id: uid,
        fields: Vec::new(),
        changed_outside: false,
    }
}

/// The counts of a list of changes.
pub fn summary(changes: &[ResourceChange], unchanged: usize) -> Summary {
    let mut s = Summary {
        unchanged,
        ..Summary::default()
    };
    for c in changes {
        match c.action {
            Action::Create => s.create += 1,
            Action::Update => s.update += 1,
            Action::Replace => s.replace += 1,
            Action::Delete => s.delete += 1,
            Action::NoOp => s.unchanged += 1,
        }
    }
    s
}

/// Objects rel applied before (by state and by label) that are not
/// desired: the candidates for pruning, in reverse apply order
/// (namespaces last).
pub async fn orphans(
    cluster: &Cluster,
    desired: &[DesiredObject],
    record: Option<&KubeRecord>,
    selector: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<(ObjectKey, Option<String>)>, Diagnostic> {
    // An object is the same whatever version of its API names it.
    let wanted: BTreeSet<(&str, &str, Option<&str>, &str)> =
        desired.iter().map(|d| d.key.identity()).collect();
    let mut kinds: BTreeSet<(String, String)> = BTreeSet::new();
    let mut namespaces: BTreeSet<String> = BTreeSet::new();
    for d in desired {
        kinds.insert((d.key.api_version.clone(), d.key.kind.clone()));
        namespaces.extend(d.key.namespace.clone());
    }
    // Recorded objects, with the uid rel applied them as.
    let recorded: BTreeMap<ObjectKey, Option<String>> = record
        .map(|r| {
            r.objects
                .values()
                .map(|o| (ObjectKey::of_record(o), o.uid.clone()))
                .collect()
        })
        .unwrap_or_default();
    for k in recorded.keys() {
        kinds.insert((k.api_version.clone(), k.kind.clone()));
        namespaces.extend(k.namespace.clone());
    }
    let mut candidates: BTreeSet<ObjectKey> = recorded.keys().cloned().collect();
    for (api_version, kind) in &kinds {
        let caps = match cluster.kind(api_version, kind).await {
            Ok((_, caps)) => caps,
            // Not served (yet, or any more): nothing of it to prune.
            Err(d) if d.code == codes::KUBE_UNSERVED => continue,
            Err(d) => return Err(d),
        };
        if matches!(caps.scope, Scope::Cluster) {
            candidates.extend(cluster.owned(api_version, kind, None, selector).await?);
        } else {
            for ns in &namespaces {
                candidates.extend(cluster.owned(api_version, kind, Some(ns), selector).await?);
            }
        }
    }
    let mut out = Vec::new();
    for key in candidates {
        if wanted.contains(&key.identity()) {
            continue;
        }
        let Some(live) = cluster.get(&key).await? else {
            continue;
        };
        let uid = live
            .pointer("/metadata/uid")
            .and_then(J::as_str)
            .map(str::to_string);
        if let Some(Some(was)) = recorded.get(&key)
            && uid.as_ref() != Some(was)
            && owned_fields(&live).is_none()
        {
            warnings.push(format!(
                "{} was replaced by someone else since rel applied it: not pruned",
                key.display()
            ));
            continue;
        }
        out.push((key, uid));
    }
    out.sort_by_key(|(k, _)| (std::cmp::Reverse(rank(&k.kind)), k.clone()));
    Ok(out)
}

/// Apply order of kinds: the order manifests are written in.
pub use crate::emit::kubernetes::kind_rank as rank;

/// The record of an applied object.
pub fn object_record(filled: &Filled, live: Option<&J>, salt: &str) -> ObjectRecord {
    ObjectRecord {
        api_version: filled.key.api_version.clone(),
        kind: filled.key.kind.clone(),
        namespace: filled.key.namespace.clone(),
        name: filled.key.name.clone(),
        uid: live
            .and_then(|l| l.pointer("/metadata/uid"))
            .and_then(J::as_str)
            .map(str::to_string),
        applied: redacted(filled, salt),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drift_compares_what_was_applied_and_masks_lists_holding_secrets() {
        let hash = secret_hash("salt", "secret s/k@v1");
        let applied = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{
                "name": "web", "image": "web:1",
                "env": [{"name": "A", "value": "x"}, {"name": "TOKEN", "value": hash}]
            }]}}}
        });
        let key = ObjectKey::of(&applied).unwrap();
        // Live: defaults added, replicas changed, the env list reordered
        // so that the secret sits where a plain value was recorded.
        let live = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "generation": 3},
            "spec": {"replicas": 5, "strategy": {"type": "RollingUpdate"}, "template": {"spec": {"containers": [{
                "name": "web", "image": "web:1", "imagePullPolicy": "IfNotPresent",
                "env": [{"name": "TOKEN", "value": "hunter2"}, {"name": "A", "value": "x"}]
            }]}}},
            "status": {"replicas": 5}
        });
        let fields = drift_fields(&key, &applied, &live);
        let paths: Vec<&str> = fields.iter().map(|f| f.path.as_str()).collect();
        assert!(paths.contains(&"spec.replicas"), "{paths:?}");
        assert!(
            !paths
                .iter()
                .any(|p| p.contains("strategy") || p.contains("PullPolicy")),
            "{paths:?}"
        );
        let text = serde_json::to_string(&fields).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        for f in fields.iter().filter(|f| f.path.contains(".env[")) {
            assert!(f.sensitive, "{f:?}");
        }
    }

    fn filled(manifest: J) -> Filled {
        let object = DesiredObject {
            key: ObjectKey::of(&manifest).unwrap(),
            manifest,
        };
        let placeholders = BTreeMap::from([(
            "${rel:env:e/db:Endpoint.Address}".to_string(),
            "rel-env-e:DbAddress".to_string(),
        )]);
        let outputs = BTreeMap::new();
        let secrets = BTreeMap::from([(
            "s/k".to_string(),
            SecretValue {
                value: "hunter2".to_string(),
                version: "v1".to_string(),
            },
        )]);
        fill(
            &object,
            &Values {
                placeholders: &placeholders,
                outputs: &outputs,
                secrets: Some(&secrets),
            },
        )
        .unwrap()
    }

    #[test]
    fn server_defaults_and_status_are_not_changes() {
        let f = filled(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "a", "namespace": "n"},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "a", "image": "x:1"}]}}}}));
        let live = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "a", "namespace": "n", "uid": "u", "resourceVersion": "7"},
            "spec": {"replicas": 2, "strategy": {"type": "RollingUpdate"},
                "template": {"spec": {"containers": [{"name": "a", "image": "x:1", "imagePullPolicy": "IfNotPresent"}]}}},
            "status": {"replicas": 2}});
        let c = object_change(&f, Some(&live), None, "salt");
        assert_eq!(c.action, Action::NoOp, "{:?}", c.fields);
        let mut changed = live.clone();
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("x:2");
        let c = object_change(&f, Some(&changed), None, "salt");
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.fields.len(), 1);
        assert_eq!(c.fields[0].path, "spec.template.spec.containers[0].image");
    }

    #[test]
    fn fields_rel_owned_and_dropped_are_removed() {
        let f = filled(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "n"}, "data": {"x": "1"}}));
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "n", "managedFields": [
                {"manager": "rel", "operation": "Apply", "fieldsV1": {"f:data": {"f:x": {}, "f:y": {}}}},
                {"manager": "other", "operation": "Update", "fieldsV1": {"f:data": {"f:z": {}}}}]},
            "data": {"x": "1", "y": "2", "z": "3"}});
        let c = object_change(&f, Some(&live), None, "salt");
        assert_eq!(c.fields.len(), 1, "{:?}", c.fields);
        assert_eq!(c.fields[0].path, "data.y");
        assert!(c.fields[0].after.is_none());
    }

    #[test]
    fn secrets_are_filled_encoded_and_never_shown() {
        let f = filled(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "a", "namespace": "n"},
            "stringData": {"k": "${rel-secret:s/k}"}}));
        assert_eq!(f.manifest["data"]["k"], json!("aHVudGVyMg=="));
        assert!(f.manifest.get("stringData").is_none());
        let c = object_change(&f, None, None, "salt");
        let text = serde_json::to_string(&c).unwrap();
        assert!(
            !text.contains("hunter2") && !text.contains("aHVudGVyMg"),
            "{text}"
        );
        let record = object_record(&f, None, "salt");
        assert!(!record.applied.to_string().contains("aHVudGVyMg"));
    }

    #[test]
    fn outputs_not_known_yet_are_marked() {
        let f = filled(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "n"},
            "data": {"url": "postgres://${rel:env:e/db:Endpoint.Address}/app"}}));
        assert_eq!(
            f.manifest["data"]["url"],
            json!("postgres://(known after apply: rel-env-e:DbAddress)/app")
        );
        assert!(f.unknown.contains("data.url"));
    }

    #[test]
    fn workload_readiness() {
        let live = json!({"kind": "Deployment", "metadata": {"generation": 2},
            "spec": {"replicas": 2}, "status": {"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 1}});
        assert!(!readiness(&live).0);
        let mut ready = live.clone();
        ready["status"]["availableReplicas"] = json!(2);
        assert!(readiness(&ready).0);
    }
}
