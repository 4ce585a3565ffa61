//! The Kubernetes stage of plan, apply and destroy: after the stacks (whose
//! outputs the manifests use) on apply, before them on destroy.
//!
//! Planning reads the live objects (or, with `--refresh=false`, what state
//! recorded) and the secrets the manifests use; apply fills the
//! placeholders from the outputs the stacks now have, applies what
//! changes with server-side apply (replacing objects whose immutable
//! fields change), prunes what is no longer declared, optionally waits for
//! rollouts, and records the objects in the environment's state.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value as J;

use super::Desired;
use super::kubernetes::{self as k8s, Cluster, Filled, ObjectKey, SecretValue, Values};
use super::plan::{Action, Precondition, ResourceChange, StackPlan};
use super::run::{Context, StackResult};
use crate::diagnostic::{Diagnostic, codes};
use crate::state::{KubeRecord, State};

/// Stack → output → value.
pub type Outputs = BTreeMap<String, BTreeMap<String, String>>;

/// What the Kubernetes stage planned, and what it needs to carry it out.
#[derive(Default)]
pub struct Stage {
    cluster: Option<Arc<Cluster>>,
    secrets: BTreeMap<String, SecretValue>,
    /// The objects as planned (placeholders filled as far as known).
    filled: Vec<Filled>,
    /// The live objects at planning.
    live: BTreeMap<ObjectKey, J>,
    /// Objects this run takes over (`--adopt`).
    pub adopted: Vec<super::plan::Adopted>,
    /// Objects to delete, in order, with the uid they had when planned.
    prunes: Vec<(ObjectKey, Option<String>)>,
    pub plan: Option<StackPlan>,
}

/// The name the stage goes by in plans and progress.
pub fn stage_name(desired: &Desired) -> String {
    format!("kubernetes/{}", desired.namespace)
}

/// The secrets the manifests use, read from the secret store: AWS
/// Secrets Manager, or Secret Manager on GCP.
async fn read_secrets(
    ctx: &Context,
    desired: &Desired,
) -> Result<BTreeMap<String, SecretValue>, Diagnostic> {
    let names: BTreeSet<&str> = desired
        .placeholders
        .values()
        .filter_map(|s| s.strip_prefix("secret-store:"))
        .collect();
    let mut out = BTreeMap::new();
    if names.is_empty() {
        return Ok(out);
    }
    if let Some(gcp) = &ctx.gcp {
        for name in names {
            out.insert(name.to_string(), gcp.secret_value(name).await?);
        }
        return Ok(out);
    }
    let Some(client) = &ctx.secrets else {
        return Err(Diagnostic::error(
            codes::SECRET_UNAVAILABLE,
            "the manifests use secrets and no secret store is configured",
        )
        .with_help("Configure AWS access (region and credentials) so rel can read them from Secrets Manager."));
    };
    for name in names {
        out.insert(
            name.to_string(),
            super::aws::secret_value(client, name).await?,
        );
    }
    Ok(out)
}

/// The objects with outputs and secrets filled in, each carrying the
/// state's lineage (since projects), so one applied and not yet recorded
/// (an interrupted apply) is still known as this state's.
fn fill_all(
    desired: &Desired,
    outputs: &Outputs,
    secrets: Option<&BTreeMap<String, SecretValue>>,
    lineage: &str,
) -> Result<Vec<Filled>, Diagnostic> {
    let values = Values {
        placeholders: &desired.placeholders,
        outputs,
        secrets,
    };
    let mut filled = desired
        .objects
        .iter()
        .map(|o| k8s::fill(o, &values))
        .collect::<Result<Vec<_>, _>>()?;
    if !desired.names.legacy {
        for f in &mut filled {
            super::ownership::annotate(&mut f.manifest, lineage);
        }
    }
    Ok(filled)
}

/// An object without the state's lineage annotation: a saved plan made
/// before the environment's state existed is digested under another
/// lineage than its apply fills in.
struct Unmarked<'a>(&'a J, u8);

impl serde::Serialize for Unmarked<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let level = self.1;
        match self.0 {
            J::Object(m) if level < 3 => {
                let kept = |k: &str| !(level == 2 && k == crate::identity::LINEAGE_ANNOTATION);
                let mut map = s.serialize_map(Some(m.keys().filter(|k| kept(k)).count()))?;
                for (k, v) in m.iter().filter(|(k, _)| kept(k)) {
                    let next = match (level, k.as_str()) {
                        (0, "metadata") => 1,
                        (1, "annotations") => 2,
                        _ => 3,
                    };
                    map.serialize_entry(k, &Unmarked(v, next))?;
                }
                map.end()
            }
            other => other.serialize(s),
        }
    }
}

/// The digest of the objects to apply, secrets standing as their
/// versions, hashed with `salt`: a saved plan applies only to the
/// manifests (and secret versions) it saw.
pub fn digest(filled: &[Filled], salt: &str) -> String {
    use sha2::Digest;
    /// Feeds what is written straight into the hash.
    struct Hashing(sha2::Sha256);
    impl std::io::Write for Hashing {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.update(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut h = Hashing(sha2::Sha256::new());
    for f in filled {
        // Only objects holding secrets need a redacted copy.
        let _ = if f.sensitive.is_empty() {
            serde_json::to_writer(&mut h, &Unmarked(&f.manifest, 0))
        } else {
            serde_json::to_writer(&mut h, &Unmarked(&k8s::redacted(f, salt), 0))
        };
        h.0.update(b"\n");
    }
    h.0.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// With `--refresh=false` secrets are not read: assume a secret value is
/// what state recorded, so that it shows no change.
fn adopt_recorded_secrets(filled: &mut Filled, recorded: &J) {
    fn walk(
        v: &mut J,
        recorded: Option<&J>,
        path: &str,
        sensitive: &BTreeMap<String, Option<String>>,
    ) {
        match v {
            J::Object(m) => {
                for (k, v) in m.iter_mut() {
                    walk(
                        v,
                        recorded.and_then(|r| r.get(k)),
                        &k8s::join(path, k),
                        sensitive,
                    );
                }
            }
            J::Array(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    walk(
                        v,
                        recorded.and_then(|r| r.get(i)),
                        &format!("{path}[{i}]"),
                        sensitive,
                    );
                }
            }
            _ => {
                if sensitive.contains_key(path)
                    && let Some(r) = recorded
                {
                    *v = r.clone();
                }
            }
        }
    }
    let sensitive = std::mem::take(&mut filled.sensitive);
    walk(&mut filled.manifest, Some(recorded), "", &sensitive);
    filled.sensitive = sensitive;
}

/// A message from the cluster with any secret value the manifests carry
/// masked: servers echo values back (an immutable field's error prints
/// the whole pod template, admission webhooks quote fields).
fn masked(mut d: Diagnostic, secrets: &BTreeMap<String, SecretValue>) -> Diagnostic {
    use base64::Engine;
    for s in secrets.values() {
        if s.value.len() < 4 {
            continue;
        }
        let forms = [
            s.value.clone(),
            base64::engine::general_purpose::STANDARD.encode(&s.value),
            serde_json::to_string(&s.value)
                .unwrap_or_default()
                .trim_matches('"')
                .to_string(),
        ];
        for form in forms {
            if !form.is_empty() {
                d.message = d.message.replace(&form, crate::state::SENSITIVE);
            }
        }
    }
    d
}

impl Stage {
    /// Plans the environment's objects. `outputs` are the stacks' outputs
    /// as known now (live, else recorded).
    #[allow(clippy::too_many_arguments)]
    pub async fn prepare(
        ctx: &Context,
        desired: &Desired,
        env: &State,
        precondition: Precondition,
        outputs: &Outputs,
        refresh: bool,
        destroying: bool,
        digest_salt: &str,
        warnings: &mut Vec<String>,
    ) -> Result<Stage, Diagnostic> {
        let record = env.kubernetes.as_ref();
        if desired.shared_objects > 0 && !destroying {
            warnings.push(format!(
                "{} Kubernetes objects of the shared layer are not applied: apply and destroy handle an environment's own objects",
                desired.shared_objects
            ));
        }
        // Nothing declared and nothing recorded: no cluster to reach. (A
        // destroy reaches the cluster only for what state recorded.)
        let recorded_any = record.is_some_and(|r| !r.objects.is_empty());
        if !recorded_any && (destroying || desired.objects.is_empty()) {
            return Ok(Stage::default());
        }
        let mut stage = Stage::default();
        let cluster = if refresh {
            let options = ctx.kube.clone().unwrap_or_default();
            let cluster = k8s::connect(&options, desired.kube_context.as_deref()).await?;
            if let Some(r) = record
                && r.server != cluster.server
            {
                return Err(Diagnostic::error(
                    codes::KUBE_CONFIG,
                    format!(
                        "state records this environment's objects on {}, and this run reaches {}",
                        r.server, cluster.server
                    ),
                )
                .with_help("Choose the cluster the environment was applied to (--kube-context, --kubeconfig, or the environment's `kube_context`)."));
            }
            Some(Arc::new(cluster))
        } else {
            None
        };
        if refresh && !destroying {
            stage.secrets = read_secrets(ctx, desired).await?;
        }
        let secrets = (refresh && !destroying).then_some(&stage.secrets);
        let mut filled = if destroying {
            Vec::new()
        } else {
            fill_all(desired, outputs, secrets, &env.lineage)?
        };
        let mut foreign = Vec::new();
        let mut changes: Vec<ResourceChange> = Vec::new();
        let mut unchanged = 0;
        let progress = &ctx.progress;
        let name = stage_name(desired);
        for f in &mut filled {
            let recorded = record.and_then(|r| r.objects.get(&f.key.id()));
            let c = match &cluster {
                Some(c) => {
                    progress.step(&name, &format!("reading {}", f.key.display()));
                    let live = c.get(&f.key).await?;
                    if let Some(l) = &live
                        && !super::ownership::object_is_owned(l, recorded, &env.lineage)
                    {
                        foreign.push(super::ownership::Foreign {
                            name: f.key.display(),
                            what: format!("object `{}`", f.key.display()),
                            owner: super::ownership::object_owner(l),
                        });
                    }
                    let change = k8s::object_change(f, live.as_ref(), recorded, &env.salt);
                    if let Some(l) = live {
                        stage.live.insert(f.key.clone(), l);
                    }
                    change
                }
                // From state alone (a plan, never applied): what was
                // recorded stands for what is live.
                None => {
                    if let Some(r) = recorded
                        && !f.sensitive.is_empty()
                    {
                        adopt_recorded_secrets(f, &r.applied);
                    }
                    k8s::object_change(f, recorded.map(|r| &r.applied), recorded, &env.salt)
                }
            };
            if c.action == Action::NoOp {
                unchanged += 1;
            } else {
                changes.push(c);
            }
        }
        if !foreign.is_empty() {
            if !ctx.adopt {
                return Err(super::ownership::not_owned(&foreign, &desired.environment));
            }
            stage.adopted = foreign
                .into_iter()
                .map(super::ownership::Foreign::adopted)
                .collect();
        }
        if !refresh && filled.iter().any(|f| !f.sensitive.is_empty()) {
            warnings.push(
                "secret values were not read (--refresh=false): changes to them are not shown"
                    .into(),
            );
        }
        // What rel applied before and no longer declares.
        stage.prunes = match &cluster {
            Some(c) => {
                progress.step(&name, "looking for objects to prune");
                let declared = if destroying {
                    &[][..]
                } else {
                    &desired.objects[..]
                };
                k8s::orphans(c, declared, record, &desired.names.selector(), warnings).await?
            }
            None => {
                let declared: BTreeSet<String> = filled.iter().map(|f| f.key.id()).collect();
                let mut p: Vec<_> = record
                    .iter()
                    .flat_map(|r| r.objects.iter())
                    .filter(|(id, _)| !declared.contains(*id))
                    .map(|(_, o)| (ObjectKey::of_record(o), o.uid.clone()))
                    .collect();
                p.sort_by_key(|(k, _)| (std::cmp::Reverse(k8s::rank(&k.kind)), k.clone()));
                p
            }
        };
        for (key, uid) in &stage.prunes {
            changes.push(k8s::prune_change(key, uid.clone()));
        }
        if let Some(ns) = stage
            .prunes
            .iter()
            .find(|(k, _)| k.kind == "Namespace" && k.namespace.is_none())
        {
            warnings.push(format!(
                "deleting namespace `{}` deletes everything in it, including objects rel did not create",
                ns.0.name
            ));
        }
        let summary = k8s::summary(&changes, unchanged);
        let action = if destroying {
            if changes.is_empty() {
                Action::NoOp
            } else {
                Action::Delete
            }
        } else if summary.changes() == 0 {
            Action::NoOp
        } else if stage.live.is_empty() && record.is_none() {
            Action::Create
        } else {
            Action::Update
        };
        let outside: Vec<String> = changes
            .iter()
            .filter(|c| c.changed_outside)
            .map(|c| format!("{} differs from what rel last applied", c.address))
            .collect();
        stage.plan = Some(StackPlan {
            name: name.clone(),
            layer: env.layer.clone(),
            action,
            stack_id: cluster
                .as_ref()
                .map(|c| c.server.clone())
                .or_else(|| record.map(|r| r.server.clone())),
            live_status: None,
            template_sha256: (!destroying).then(|| digest(&filled, digest_salt)),
            state: precondition,
            summary,
            changes,
            template_changes: Vec::new(),
            outside_changes: outside,
            depends_on: desired.stacks.iter().map(|s| s.name.clone()).collect(),
        });
        stage.filled = filled;
        stage.cluster = cluster;
        if let Some(p) = &stage.plan {
            progress.finish(&name, &format!("planned: {}", p.action.word()));
        }
        Ok(stage)
    }

    /// The digest of the planned objects under another salt (a saved plan's).
    pub fn digest_with(&self, salt: &str) -> Option<String> {
        self.plan.as_ref()?.template_sha256.as_ref()?;
        Some(digest(&self.filled, salt))
    }

    /// Applies the planned objects with the outputs the stacks now have
    /// (an object whose values changed with a stack is applied too),
    /// prunes, waits if asked, and returns the record to keep.
    pub async fn apply(
        &self,
        ctx: &Context,
        desired: &Desired,
        outputs: &Outputs,
        env: &State,
    ) -> (Option<KubeRecord>, StackResult, Option<Diagnostic>) {
        let Some(plan) = &self.plan else {
            return (
                env.kubernetes.clone(),
                result(desired, Action::NoOp, Ok("no changes".into())),
                None,
            );
        };
        let mut record = env.kubernetes.clone().unwrap_or_else(|| KubeRecord {
            server: plan.stack_id.clone().unwrap_or_default(),
            objects: BTreeMap::new(),
        });
        let outcome = self
            .apply_inner(ctx, desired, outputs, env, &mut record)
            .await
            .map_err(|d| masked(d, &self.secrets));
        let (r, e) = match outcome {
            Ok(text) => (result(desired, plan.action, Ok(text)), None),
            Err(e) => (
                result(desired, plan.action, Err(e.message.clone())),
                Some(e),
            ),
        };
        (Some(record).filter(|r| !r.objects.is_empty()), r, e)
    }

    async fn apply_inner(
        &self,
        ctx: &Context,
        desired: &Desired,
        outputs: &Outputs,
        env: &State,
        record: &mut KubeRecord,
    ) -> Result<String, Diagnostic> {
        let Some(plan) = &self.plan else {
            return Ok("no changes".into());
        };
        let cluster = self.cluster.as_ref().ok_or_else(|| {
            Diagnostic::error(codes::KUBE_CONFIG, "no cluster connection to apply with")
        })?;
        let name = stage_name(desired);
        record.server = cluster.server.clone();
        let now = fill_all(desired, outputs, Some(&self.secrets), &env.lineage)?;
        let options = ctx.kube.clone().unwrap_or_default();
        let planned: BTreeMap<&str, Action> = plan
            .changes
            .iter()
            .map(|c| (c.logical_id.as_str(), c.action))
            .collect();
        let mut applied = Vec::new();
        let mut replaced = 0;
        for (f, before) in now.iter().zip(&self.filled) {
            if let Some(path) = f.unknown.iter().next() {
                let missing = k8s::waiting_for(&f.manifest).join(", ");
                return Err(Diagnostic::error(
                    codes::PROVIDER_ERROR,
                    format!("{} needs {missing} at {path}, and the stack has no such output", f.key.display()),
                )
                .with_help("The stack's outputs are read after it is applied; an output CloudFormation leaves empty cannot reach a manifest."));
            }
            let id = f.key.id();
            let action = planned.get(id.as_str()).copied();
            let changed = action.is_some() || f.manifest != before.manifest;
            let live = if changed {
                if action == Some(Action::Replace) {
                    // Immutable fields changed: the object goes, then comes back.
                    ctx.progress
                        .step(&name, &format!("replacing {}", f.key.display()));
                    let uid = self
                        .live
                        .get(&f.key)
                        .and_then(|l| l.pointer("/metadata/uid"))
                        .and_then(J::as_str);
                    cluster.delete(&f.key, uid, ctx.timeout).await?;
                    replaced += 1;
                } else {
                    ctx.progress
                        .step(&name, &format!("applying {}", f.key.display()));
                }
                let live = cluster
                    .apply(
                        &f.key,
                        &f.manifest,
                        // Adopting an object takes its fields over.
                        options.force_conflicts
                            || self.adopted.iter().any(|a| a.name == f.key.display()),
                    )
                    .await?;
                applied.push(f.key.clone());
                Some(live)
            } else {
                self.live.get(&f.key).cloned()
            };
            record
                .objects
                .insert(id, k8s::object_record(f, live.as_ref(), &env.salt));
        }
        let mut kept = 0;
        for (key, uid) in &self.prunes {
            ctx.progress
                .step(&name, &format!("pruning {}", key.display()));
            if cluster.delete(key, uid.as_deref(), ctx.timeout).await? {
                record.objects.remove(&key.id());
            } else {
                kept += 1;
                ctx.progress.note(&format!(
                    "{} was replaced by someone else since the plan: not pruned",
                    key.display()
                ));
                record.objects.remove(&key.id());
            }
        }
        if let Some(timeout) = options.wait {
            // One deadline for all the rollouts.
            let start = tokio::time::Instant::now();
            for key in applied.iter().filter(|k| k8s::is_workload(&k.kind)) {
                let progress = ctx.progress.clone();
                let stage = name.clone();
                cluster
                    .wait_ready(key, timeout, start, &move |m| progress.step(&stage, m))
                    .await?;
            }
        }
        Ok(format!(
            "{} applied ({replaced} replaced), {} pruned{}{}",
            applied.len(),
            self.prunes.len() - kept,
            if kept > 0 {
                format!(", {kept} left alone")
            } else {
                String::new()
            },
            if options.wait.is_some() && applied.iter().any(|k| k8s::is_workload(&k.kind)) {
                ", rollouts ready"
            } else {
                ""
            }
        ))
    }

    /// Deletes every object rel applied for the environment (destroy),
    /// waiting for each to be gone before the stacks go.
    pub async fn destroy(
        &self,
        ctx: &Context,
        desired: &Desired,
    ) -> (StackResult, Option<Diagnostic>) {
        let name = stage_name(desired);
        let run = async {
            let Some(cluster) = &self.cluster else {
                return Ok(0);
            };
            let mut deleted = 0;
            for (key, uid) in &self.prunes {
                ctx.progress
                    .step(&name, &format!("deleting {}", key.display()));
                if cluster.delete(key, uid.as_deref(), ctx.timeout).await? {
                    deleted += 1;
                } else {
                    ctx.progress.note(&format!(
                        "{} was replaced by someone else since the plan: not deleted",
                        key.display()
                    ));
                }
            }
            Ok::<usize, Diagnostic>(deleted)
        };
        match run.await {
            Ok(n) => (
                result(desired, Action::Delete, Ok(format!("{n} deleted"))),
                None,
            ),
            Err(e) => (
                result(desired, Action::Delete, Err(e.message.clone())),
                Some(e),
            ),
        }
    }
}

fn result(desired: &Desired, action: Action, outcome: Result<String, String>) -> StackResult {
    match outcome {
        Ok(text) => StackResult {
            name: stage_name(desired),
            action,
            outcome: text,
            ok: true,
        },
        Err(why) => StackResult {
            name: stage_name(desired),
            action,
            outcome: format!("failed: {why}"),
            ok: false,
        },
    }
}
