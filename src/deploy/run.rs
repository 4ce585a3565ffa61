//! The operations: plan, apply and destroy one environment.
//!
//! Order of work: lock the environment's state (fail fast if held), read
//! the states, reconcile a change a previous apply left in flight, refresh
//! the live stacks (at most `parallelism` at once), plan; then, for apply
//! and destroy, confirm, lock the shared state too if it changes, and run
//! one change set per stack in dependency order (independent stacks at
//! once, within the bound), recording each stack in its state as soon as
//! it settles. A stack that fails stops the stacks that depend on it.
//!
//! The journal: before a change set is created the state records the
//! change as in flight, and again with the change set's id once it
//! exists. A run that dies after that leaves the record; the next apply
//! waits for the stack to settle (or deletes a change set never executed)
//! and records the stack as it is, instead of starting over.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudformation::Client;
use tokio::sync::Mutex;

use super::plan::{self, Action, LiveStack, Plan, Precondition, StackInput, StackPlan};
use super::{Desired, DesiredStack, SavedPlan, TEMPLATE_BODY_LIMIT, TEMPLATE_URL_LIMIT};
use super::{aws, cluster};
use crate::diagnostic::{Diagnostic, codes};
use crate::state::backend::{Backend, Lock, Stored, lease};
use crate::state::{
    InFlight, KubeRecord, Operation, ResourceRecord, StackRecord, State, now_rfc3339, random_hex,
    redact,
};

/// What the operations report as they go; the command line draws it.
pub trait Progress: Send + Sync {
    /// A stack's current step.
    fn step(&self, stack: &str, message: &str);
    /// A stack is done (successfully or not).
    fn finish(&self, stack: &str, message: &str);
    /// A note worth a line of its own (a lock taken over, a recovery).
    fn note(&self, message: &str);
}

pub struct Context {
    /// Where templates too large to pass inline go.
    pub templates: Option<aws::TemplateStore>,
    /// None when nothing needs the provider (`plan --refresh=false`).
    pub client: Option<Client>,
    /// For the DNS validation records of certificates validated by hand.
    pub acm: Option<aws_sdk_acm::Client>,
    pub parallelism: usize,
    pub timeout: Duration,
    pub progress: Arc<dyn Progress>,
    /// How to reach the Kubernetes cluster (None: as kubectl would).
    pub kube: Option<super::kubernetes::KubeOptions>,
    /// Where the values of secrets the manifests use are read.
    pub secrets: Option<aws_sdk_secretsmanager::Client>,
    /// Set when the layers are Infrastructure Manager deployments (GCP)
    /// rather than CloudFormation stacks.
    pub gcp: Option<Arc<super::gcp::Gcp>>,
    /// Take over stacks, deployments and objects that exist under the
    /// names rel would use and are not this environment's (`--adopt`).
    pub adopt: bool,
}

/// What to do.
pub enum Mode {
    Plan { refresh: bool },
    Apply { saved: Option<Box<SavedPlan>> },
    Destroy { include_shared: bool },
}

/// What a stack's apply came to.
#[derive(Clone, Debug)]
pub struct StackResult {
    pub name: String,
    pub action: Action,
    /// `CREATE_COMPLETE`, `no changes`, `failed: ...`, `not started: ...`.
    pub outcome: String,
    pub ok: bool,
}

/// What an operation did.
pub struct Outcome {
    pub plan: Plan,
    /// Empty for a plan, or when nothing changed or the change was declined.
    pub results: Vec<StackResult>,
    pub declined: bool,
    /// The first failure, with the provider's reasons.
    pub error: Option<Diagnostic>,
    /// After an apply: the DNS records ACM asks for, for certificates
    /// validated by hand.
    pub validation_records: Vec<plan::CertificateRecords>,
}

/// Shows a plan with changes before they are made, and says whether to go
/// ahead (asking the user, unless told not to): Ok(true) to proceed.
pub type Confirm<'a> = &'a mut (dyn FnMut(&Plan) -> Result<bool, Diagnostic> + Send);

fn client(ctx: &Context) -> &Client {
    ctx.client
        .as_ref()
        .expect("a CloudFormation client for this operation")
}

struct Held {
    backend: Arc<Backend>,
    locks: Arc<Mutex<Vec<Lock>>>,
    renewer: tokio::task::JoinHandle<()>,
    /// Set when a renewal found a lock taken away: no stack starts after.
    lost: Arc<std::sync::atomic::AtomicBool>,
}

impl Held {
    async fn release(self) -> Result<(), Diagnostic> {
        self.renewer.abort();
        let locks = std::mem::take(&mut *self.locks.lock().await);
        let mut first = Ok(());
        for lock in &locks {
            if let Err(e) = self.backend.unlock(lock).await
                && first.is_ok()
            {
                first = Err(e);
            }
        }
        first
    }

    async fn take(
        &self,
        key: &str,
        operation: &str,
        progress: &dyn Progress,
    ) -> Result<(), Diagnostic> {
        let lock = self.backend.lock(key, operation).await?;
        if let Some(note) = &lock.took_over {
            progress.note(note);
        }
        self.locks.lock().await.push(lock);
        Ok(())
    }

    async fn holds(&self, key: &str) -> bool {
        self.locks.lock().await.iter().any(|l| l.info.state == key)
    }
}

/// Set once Ctrl-C or SIGTERM arrived during an operation; a prompt
/// waiting for an answer gives up when it sees it.
pub static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Ctrl-C and SIGTERM, caught from the moment this is made (so that a
/// signal arriving while the first lock is being taken is not missed).
struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn catch() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Resolves when the process is asked to stop; names the signal.
    async fn received(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = recv(&mut self.interrupt) => "Ctrl-C",
                _ = recv(&mut self.terminate) => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

fn hold(backend: Arc<Backend>) -> Held {
    let locks: Arc<Mutex<Vec<Lock>>> = Arc::new(Mutex::new(Vec::new()));
    let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let renewer = {
        let (backend, locks, lost) = (backend.clone(), locks.clone(), lost.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease() / 3).await;
                let mut held = locks.lock().await;
                for lock in held.iter_mut() {
                    if backend.renew(lock).await.is_err() {
                        lost.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            }
        })
    };
    Held {
        backend,
        locks,
        renewer,
        lost,
    }
}

/// Runs an operation on one environment. The locks taken are released
/// whatever happens.
pub async fn run(
    ctx: Arc<Context>,
    backend: Arc<Backend>,
    desired: &Desired,
    mode: Mode,
    confirm: Confirm<'_>,
) -> Result<Outcome, Diagnostic> {
    let mut signals = Signals::catch();
    // Watched on a task of its own, so a signal is seen even while the
    // command line waits for an answer on the terminal.
    let (told, heard) = tokio::sync::oneshot::channel();
    let watcher = tokio::spawn(async move {
        let which = signals.received().await;
        INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = told.send(which);
    });
    let held = hold(backend.clone());
    // Ctrl-C or SIGTERM stops the work (a change set already executing goes
    // on in CloudFormation; its journal entry stays) and releases the locks.
    let result = tokio::select! {
        r = run_locked(&ctx, &backend, &held, desired, mode, confirm) => r,
        Ok(signal) = heard => Err(Diagnostic::error(
            codes::INTERRUPTED,
            format!("interrupted by {signal}: stopped, locks released"),
        )
        .with_help("Run the same command again: it records what finished and carries on.")),
    };
    watcher.abort();
    let released = held.release().await;
    let outcome = result?;
    released?;
    Ok(outcome)
}

async fn run_locked(
    ctx: &Arc<Context>,
    backend: &Arc<Backend>,
    held: &Held,
    desired: &Desired,
    mode: Mode,
    confirm: Confirm<'_>,
) -> Result<Outcome, Diagnostic> {
    let env = desired.env_key().to_string();
    let shared_key = desired.shared_key().to_string();
    let operation = match &mode {
        Mode::Plan { .. } => "plan",
        Mode::Apply { .. } => "apply",
        Mode::Destroy { .. } => "destroy",
    };
    // The stacks in play.
    let mut keys: Vec<String> = match &mode {
        Mode::Destroy { include_shared, .. } => {
            let mut k = vec![env.clone()];
            if *include_shared {
                k.insert(0, shared_key.clone());
            }
            k
        }
        _ => desired.stacks.iter().map(|s| s.name.clone()).collect(),
    };
    if !keys.contains(&env) {
        keys.push(env.clone());
    }
    held.take(&env, operation, &*ctx.progress).await?;

    let mut stored: BTreeMap<String, Stored> = BTreeMap::new();
    let mut fresh: BTreeMap<String, String> = BTreeMap::new();
    for key in &keys {
        let s = match backend.read(key).await? {
            Some(s) => s,
            None => {
                let mut state = new_state(desired, key);
                // A saved plan made before this state existed planned the
                // objects with the lineage it gave the state.
                if let Mode::Apply { saved: Some(saved) } = &mode
                    && let Some(lineage) = saved.plan.new_lineages.get(key)
                {
                    state.lineage = lineage.clone();
                }
                fresh.insert(key.clone(), state.lineage.clone());
                Stored::new(state)
            }
        };
        stored.insert(key.clone(), s);
    }

    if let Mode::Destroy {
        include_shared: true,
        ..
    } = &mode
    {
        let mut users = Vec::new();
        for other in backend.list_names("json").await? {
            if other == env || other == shared_key {
                continue;
            }
            // Environments of this shared layer only: other projects'
            // states may sit in the same folder or prefix.
            if let Some(s) = backend.read(&other).await?
                && s.state.stack.is_some()
                && !s.state.layer.is_shared()
                && s.state
                    .names
                    .as_ref()
                    .map_or(crate::identity::LEGACY_SHARED, |n| n.shared.as_str())
                    == shared_key
            {
                users.push(other);
            }
        }
        if !users.is_empty() {
            return Err(Diagnostic::error(
                codes::SHARED_IN_USE,
                format!("the shared stack is still used by {}", users.join(", ")),
            )
            .with_help(
                "Destroy those environments first, or destroy this one without --include-shared.",
            ));
        }
        held.take(&shared_key, operation, &*ctx.progress).await?;
    }

    let changing = !matches!(mode, Mode::Plan { .. });
    // Reconcile what a previous run left in flight.
    if changing {
        for key in &keys {
            if stored[key].state.in_flight.is_none() {
                continue;
            }
            if !held.holds(key).await {
                held.take(key, operation, &*ctx.progress).await?;
            }
            let s = stored.remove(key).expect("read above");
            let s = reconcile(ctx, backend, key, s, desired).await?;
            stored.insert(key.clone(), s);
        }
    }

    // Refresh, at most `parallelism` stacks at once.
    let refresh = match mode {
        Mode::Plan { refresh } => refresh,
        _ => true,
    };
    let mut live: BTreeMap<String, Option<LiveStack>> = BTreeMap::new();
    if refresh {
        let client = ctx.client.clone();
        let semaphore = Arc::new(tokio::sync::Semaphore::new(ctx.parallelism.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for key in &keys {
            let (client, gcp, semaphore, key, progress) = (
                client.clone(),
                ctx.gcp.clone(),
                semaphore.clone(),
                key.clone(),
                ctx.progress.clone(),
            );
            tasks.spawn(async move {
                let _permit = semaphore.acquire().await;
                progress.step(&key, "refreshing");
                let result = match (&gcp, &client) {
                    (Some(gcp), _) => gcp.refresh(&key).await,
                    (None, Some(client)) => aws::refresh(client, &key).await,
                    (None, None) => Err(Diagnostic::error(
                        codes::PROVIDER_ERROR,
                        "no cloud client to refresh with",
                    )),
                };
                (key, result)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let (key, result) = joined.map_err(|e| {
                Diagnostic::error(codes::PROVIDER_ERROR, format!("refresh stopped: {e}"))
            })?;
            // A stack never executed holds nothing: it counts as absent.
            let stack = result?.filter(|l| l.status != "REVIEW_IN_PROGRESS");
            live.insert(key, stack);
        }
    }

    let destroying = matches!(mode, Mode::Destroy { .. });
    let recorded: BTreeMap<&str, &State> =
        stored.iter().map(|(k, s)| (k.as_str(), &s.state)).collect();
    let adopted = super::ownership::check_stacks(
        if ctx.gcp.is_some() {
            "deployment"
        } else {
            "stack"
        },
        ctx.adopt,
        &desired.environment,
        &recorded,
        &live,
    )?;
    // The stacks' outputs as known now: inputs of GCP deployments, and
    // values of the Kubernetes objects.
    let outputs = outputs_known(desired, &live, &stored, refresh);
    let with_settings;
    let desired = match &ctx.gcp {
        Some(gcp) if !destroying => {
            with_settings = with_deployment_settings(desired, gcp, &outputs);
            &with_settings
        }
        _ => desired,
    };
    // A deployment being changed (by another run, or outside rel) or
    // locked cannot be changed now.
    if ctx.gcp.is_some() {
        for (name, l) in &live {
            if let Some(l) = l
                && matches!(
                    l.status.as_str(),
                    "CREATING" | "UPDATING" | "DELETING" | "LOCKED"
                )
                && changing
            {
                return Err(Diagnostic::error(
                    codes::PROVIDER_ERROR,
                    format!(
                        "deployment `{name}` is {}: it cannot be changed now",
                        l.status
                    ),
                )
                .with_help(
                    "Wait for the change in progress (or unlock the deployment), then run again.",
                ));
            }
        }
    }
    let inputs: Vec<StackInput<'_>> = keys
        .iter()
        .map(|key| {
            let s = &stored[key];
            StackInput {
                name: key,
                layer: &s.state.layer,
                desired: if destroying {
                    None
                } else {
                    desired.stacks.iter().find(|d| &d.name == key)
                },
                recorded: s.state.stack.as_ref(),
                live: refresh.then(|| live.get(key).and_then(Option::as_ref)),
                salt: &s.state.salt,
                precondition: precondition(&s.state),
            }
        })
        .collect();
    let mut plan = plan::plan(
        &desired.environment,
        &inputs,
        refresh,
        if destroying {
            &[]
        } else {
            &desired.manual_validation
        },
        &random_hex(16),
    );
    drop(inputs);
    plan.adopted = adopted;
    plan.new_lineages = fresh;
    if desired.target == crate::emit::Target::Gcp {
        plan.target = "gcp".into();
    }
    if refresh && !destroying {
        let refreshed = |stack: &str, logical: &str| {
            live.get(stack)?
                .as_ref()?
                .physical_ids
                .get(logical)
                .cloned()
        };
        plan.validation_records =
            validation_records(ctx, desired, &refreshed, &mut plan.warnings).await;
    }
    // The Kubernetes objects, with the stacks' outputs as known now.
    let env_state = &stored[&env].state;
    let mut warnings = std::mem::take(&mut plan.warnings);
    let stage = cluster::Stage::prepare(
        ctx,
        desired,
        env_state,
        precondition(env_state),
        &outputs,
        refresh,
        destroying,
        &plan.digest_salt,
        &mut warnings,
    )
    .await?;
    plan.warnings = warnings;
    if let Some(k) = &stage.plan {
        plan.summary.add(&k.summary);
    }
    plan.kubernetes = stage.plan.clone();
    plan.adopted.extend(stage.adopted.iter().cloned());
    let outcome = |plan: Plan| Outcome {
        plan,
        results: Vec::new(),
        declined: false,
        error: None,
        validation_records: Vec::new(),
    };
    match &mode {
        Mode::Plan { .. } => return Ok(outcome(plan)),
        Mode::Apply {
            saved: Some(saved), ..
        } => {
            check_saved(saved, &plan, desired)?;
            check_saved_objects(saved, &plan, &stage)?;
        }
        _ => {}
    }
    if !plan.has_changes() {
        follow_live(backend, held, desired, &plan, &live, &mut stored).await?;
        if matches!(mode, Mode::Apply { .. }) {
            record_parameters(backend, &mut stored, &env, desired).await?;
        }
        return Ok(outcome(plan));
    }
    // The caller shows the plan and says whether to go ahead: at once for
    // a saved plan or `--auto-approve`, after asking otherwise.
    if !confirm(&plan)? {
        let mut o = outcome(plan);
        o.declined = true;
        return Ok(o);
    }
    // Lock the other states that change, and check they did not move.
    for sp in &plan.stacks {
        let adopted = plan.adopted.iter().any(|a| a.name == sp.name);
        if (sp.action != Action::NoOp || adopted) && !held.holds(&sp.name).await {
            held.take(&sp.name, operation, &*ctx.progress).await?;
            let now = backend.read(&sp.name).await?;
            let moved = now.as_ref().map(|s| precondition(&s.state)) != Some(sp.state.clone())
                && !(now.is_none() && sp.state.lineage.is_none());
            if moved {
                return Err(stale(&format!(
                    "state `{}` moved on while this plan was made",
                    sp.name
                )));
            }
        }
    }

    // GCP: every blueprint to deploy is uploaded before any deployment
    // changes, so a missing bucket or permission stops the run early.
    if let Some(gcp) = &ctx.gcp
        && !destroying
    {
        for sp in plan
            .stacks
            .iter()
            .filter(|s| matches!(s.action, Action::Create | Action::Update | Action::Replace))
        {
            if let Some(d) = desired.stacks.iter().find(|d| d.name == sp.name) {
                ctx.progress.step(&sp.name, "uploading the blueprint");
                gcp.upload(&sp.name, &d.sha256, &d.text).await?;
            }
        }
    }
    follow_live(backend, held, desired, &plan, &live, &mut stored).await?;
    // The objects go whenever they change, and whenever a stack changes:
    // an output they use may change with it.
    let kube_changes = plan.kubernetes.as_ref().is_some_and(|k| {
        k.action != Action::NoOp || plan.stacks.iter().any(|s| s.action != Action::NoOp)
    });
    let mut results = Vec::new();
    // Destroy: the objects go before the stacks whose outputs they use,
    // and then their record (also when they were gone already).
    if destroying && plan.kubernetes.is_some() {
        if kube_changes {
            let (r, e) = stage.destroy(ctx, desired).await;
            ctx.progress.finish(&r.name, &r.outcome);
            results.push(r);
            if let Some(e) = e {
                let mut o = outcome(plan);
                o.results = results;
                o.error = Some(e);
                return Ok(o);
            }
        }
        record_objects(backend, &mut stored, &env, desired, None, None).await?;
    }
    let (stack_results, mut error) = execute(
        ctx,
        backend,
        desired,
        &plan,
        &mut stored,
        destroying,
        &held.lost,
    )
    .await;
    results.extend(stack_results);
    // Apply: the objects go after the stacks, with the outputs they have now.
    if !destroying && kube_changes {
        if error.is_some() {
            let name = cluster::stage_name(desired);
            let r = StackResult {
                name: name.clone(),
                action: plan
                    .kubernetes
                    .as_ref()
                    .map_or(Action::Update, |k| k.action),
                outcome: "not started: a stack failed".into(),
                ok: false,
            };
            ctx.progress.finish(&name, &r.outcome);
            results.push(r);
        } else {
            let outputs = outputs_recorded(desired, &stored);
            let env_state = env_stored(backend, &mut stored, &env, desired).await?;
            let (record, r, e) = stage.apply(ctx, desired, &outputs, &env_state.state).await;
            stored.insert(env.clone(), env_state);
            ctx.progress.finish(&r.name, &r.outcome);
            results.push(r);
            if let Err(w) = record_objects(
                backend,
                &mut stored,
                &env,
                desired,
                record,
                Some(&desired.parameters),
            )
            .await
            {
                error.get_or_insert(w);
            }
            if let Some(e) = e {
                error.get_or_insert(e);
            }
        }
    }
    if !destroying && error.is_none() {
        record_parameters(backend, &mut stored, &env, desired).await?;
    }
    // Certificates created just now have their records to show; their
    // ARNs are in the states the stacks' jobs recorded.
    let validation = if destroying {
        Vec::new()
    } else {
        let recorded = |stack: &str, logical: &str| {
            stored
                .get(stack)?
                .state
                .stack
                .as_ref()?
                .resources
                .get(logical)?
                .physical_id
                .clone()
        };
        validation_records(ctx, desired, &recorded, &mut Vec::new()).await
    };
    Ok(Outcome {
        plan,
        results,
        declined: false,
        error,
        validation_records: validation,
    })
}

/// A deployment's input values: `${rel-output:NAME}` is output NAME of
/// the layers it depends on, as `outputs` has it; one not found is
/// `Err(LAYER:NAME)`.
fn deployment_inputs(
    d: &DesiredStack,
    outputs: &cluster::Outputs,
) -> BTreeMap<String, Result<String, String>> {
    let Some(inputs) = d
        .deployment
        .as_ref()
        .and_then(|m| m.pointer("/terraformBlueprint/inputValues"))
        .and_then(serde_json::Value::as_object)
    else {
        return BTreeMap::new();
    };
    inputs
        .iter()
        .map(|(k, v)| {
            let text = v
                .get("inputValue")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default();
            let value = match text
                .strip_prefix("${rel-output:")
                .and_then(|t| t.strip_suffix('}'))
            {
                Some(name) => d
                    .depends_on
                    .iter()
                    .find_map(|dep| outputs.get(dep)?.get(name).cloned())
                    .ok_or_else(|| format!("{}:{name}", d.depends_on.join("|"))),
                None => Ok(text.to_string()),
            };
            (k.clone(), value)
        })
        .collect()
}

/// GCP: each deployment's input values (the outputs of the layers it uses,
/// as known now) and service account join its planned shape, so that a
/// change to either is planned, shown and covered by saved plans.
fn with_deployment_settings(
    desired: &Desired,
    gcp: &super::gcp::Gcp,
    outputs: &cluster::Outputs,
) -> Desired {
    let mut d = desired.clone();
    let service_account = gcp.service_account_name();
    for s in &mut d.stacks {
        let inputs: BTreeMap<String, String> = deployment_inputs(s, outputs)
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    v.unwrap_or_else(|src| format!("(known after apply: {src})")),
                )
            })
            .collect();
        super::gcp::with_settings(&mut s.template, &inputs, service_account.as_deref());
    }
    d
}

/// The stacks' outputs as known before apply: live when refreshed, else
/// as recorded.
fn outputs_known(
    desired: &Desired,
    live: &BTreeMap<String, Option<LiveStack>>,
    stored: &BTreeMap<String, Stored>,
    refresh: bool,
) -> cluster::Outputs {
    desired
        .stacks
        .iter()
        .filter_map(|s| {
            let outputs = if refresh {
                live.get(&s.name)?.as_ref()?.outputs.clone()
            } else {
                stored.get(&s.name)?.state.stack.as_ref()?.outputs.clone()
            };
            Some((s.name.clone(), outputs))
        })
        .collect()
}

/// The stacks' outputs as the states record them (after apply).
fn outputs_recorded(desired: &Desired, stored: &BTreeMap<String, Stored>) -> cluster::Outputs {
    desired
        .stacks
        .iter()
        .filter_map(|s| {
            let record = stored.get(&s.name)?.state.stack.as_ref()?;
            Some((s.name.clone(), record.outputs.clone()))
        })
        .collect()
}

/// A new state for one of the environment's layers, recording the names
/// it is created under.
fn new_state(desired: &Desired, key: &str) -> State {
    let mut state = State::new(desired.layer_of(key));
    state.names = Some(desired.names.clone());
    state
}

/// The environment's state, taken out of `stored` (read again if a
/// stack's job did not hand it back; new if there is none).
async fn env_stored(
    backend: &Backend,
    stored: &mut BTreeMap<String, Stored>,
    env: &str,
    desired: &Desired,
) -> Result<Stored, Diagnostic> {
    Ok(match stored.remove(env) {
        Some(s) => s,
        None => backend
            .read(env)
            .await?
            .unwrap_or_else(|| Stored::new(new_state(desired, env))),
    })
}

/// Records the parameters an apply ran with in the environment's state
/// (for `rel drift --all-envs`), if they changed and the environment has
/// anything recorded.
async fn record_parameters(
    backend: &Backend,
    stored: &mut BTreeMap<String, Stored>,
    env: &str,
    desired: &Desired,
) -> Result<(), Diagnostic> {
    let current = env_stored(backend, stored, env, desired).await?;
    let recorded = current.state.stack.is_some() || current.state.kubernetes.is_some();
    if !recorded || current.state.parameters == desired.parameters {
        stored.insert(env.to_string(), current);
        return Ok(());
    }
    let mut next = current.state.clone();
    next.parameters = desired.parameters.clone();
    next.serial += 1;
    let written = backend.write(env, &current, &next).await?;
    stored.insert(env.to_string(), written);
    Ok(())
}

/// Writes the environment's Kubernetes record, if it changed.
async fn record_objects(
    backend: &Backend,
    stored: &mut BTreeMap<String, Stored>,
    env: &str,
    desired: &Desired,
    record: Option<KubeRecord>,
    parameters: Option<&BTreeMap<String, String>>,
) -> Result<(), Diagnostic> {
    let current = env_stored(backend, stored, env, desired).await?;
    let parameters = parameters.unwrap_or(&current.state.parameters);
    if current.state.kubernetes == record && current.state.parameters == *parameters {
        stored.insert(env.to_string(), current);
        return Ok(());
    }
    let mut next = current.state.clone();
    next.kubernetes = record;
    next.parameters = parameters.clone();
    next.serial += 1;
    let written = backend.write(env, &current, &next).await?;
    stored.insert(env.to_string(), written);
    Ok(())
}

/// A saved plan's Kubernetes part must be what would happen now, on the
/// same manifests and secret values.
fn check_saved_objects(
    saved: &SavedPlan,
    now: &Plan,
    stage: &cluster::Stage,
) -> Result<(), Diagnostic> {
    let comparable = |p: &StackPlan| {
        let mut p = p.clone();
        p.template_sha256 = None;
        p
    };
    let (was, is) = (saved.plan.kubernetes.as_ref(), now.kubernetes.as_ref());
    if was.map(comparable) != is.map(comparable) {
        return Err(stale(
            "the Kubernetes objects changed since the plan was made",
        ));
    }
    if let Some(was) = was
        && was.template_sha256 != stage.digest_with(&saved.plan.digest_salt)
    {
        return Err(stale(
            "the manifests or the secrets they use changed since the plan was made",
        ));
    }
    Ok(())
}

/// The DNS records ACM asks for, for each certificate validated by hand
/// that exists (its physical id is its ARN). A certificate that cannot
/// be read is a warning, not a failure of the plan.
async fn validation_records(
    ctx: &Context,
    desired: &Desired,
    physical_id: &(dyn Fn(&str, &str) -> Option<String> + Sync),
    warnings: &mut Vec<String>,
) -> Vec<plan::CertificateRecords> {
    let Some(acm) = &ctx.acm else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for m in &desired.manual_validation {
        let arn = desired.stacks.iter().find_map(|s| {
            let logical = s
                .addresses
                .iter()
                .find(|(_, a)| **a == m.certificate)
                .map(|(l, _)| l)?;
            physical_id(&s.name, logical)
        });
        let Some(arn) = arn else {
            continue; // not created yet
        };
        match aws::validation_records(acm, &arn).await {
            Ok(records) => out.push(plan::CertificateRecords {
                certificate: m.certificate.clone(),
                arn,
                records,
            }),
            Err(e) => warnings.push(format!(
                "the DNS validation records of `{}` could not be read: {}",
                m.certificate, e.message
            )),
        }
    }
    out
}

/// Records of unchanged stacks whose state this run holds follow what is
/// live (a stack taken over, or deleted outside rel). Only once the run
/// goes ahead: declining a plan changes nothing.
async fn follow_live(
    backend: &Backend,
    held: &Held,
    desired: &Desired,
    plan: &Plan,
    live: &BTreeMap<String, Option<LiveStack>>,
    stored: &mut BTreeMap<String, Stored>,
) -> Result<(), Diagnostic> {
    for sp in &plan.stacks {
        let Some(l) = live.get(&sp.name) else {
            continue; // not refreshed
        };
        if sp.action != Action::NoOp || !held.holds(&sp.name).await {
            continue;
        }
        let s = &stored[&sp.name];
        let d = desired.stacks.iter().find(|d| d.name == sp.name);
        let record = l
            .as_ref()
            .map(|l| record(&sp.name, l, d, s.state.stack.as_ref(), &s.state.salt));
        if s.state.stack != record {
            let mut next = s.state.clone();
            next.stack = record;
            next.serial += 1;
            let w = backend.write(&sp.name, s, &next).await?;
            stored.insert(sp.name.clone(), w);
        }
    }
    Ok(())
}

fn precondition(state: &State) -> Precondition {
    Precondition {
        lineage: (state.serial > 0).then(|| state.lineage.clone()),
        serial: state.serial,
    }
}

fn stale(why: &str) -> Diagnostic {
    Diagnostic::error(codes::STALE_PLAN, format!("the saved plan is stale: {why}")).with_help(
        "Nothing was changed. Make a new plan (`rel plan ... -o FILE`), review it, and apply that.",
    )
}

/// A saved plan applies only to the state and templates it was made from.
fn check_saved(saved: &SavedPlan, now: &Plan, desired: &Desired) -> Result<(), Diagnostic> {
    if saved.plan.environment != now.environment {
        return Err(stale(&format!(
            "it was made for environment `{}`",
            saved.plan.environment
        )));
    }
    for s in &saved.plan.stacks {
        let Some(n) = now.stacks.iter().find(|n| n.name == s.name) else {
            return Err(stale(&format!(
                "stack `{}` is no longer part of the environment",
                s.name
            )));
        };
        if n.state != s.state {
            return Err(stale(&format!(
                "state `{}` is at serial {} now, the plan was made at serial {}",
                s.name, n.state.serial, s.state.serial
            )));
        }
        let digest = desired
            .stacks
            .iter()
            .find(|d| d.name == s.name)
            .map(|d| crate::state::template_digest(&d.template, &saved.plan.digest_salt));
        if digest != s.template_sha256 {
            return Err(stale(&format!(
                "the template of `{}` changed since the plan was made",
                s.name
            )));
        }
    }
    if let Some(n) = now
        .stacks
        .iter()
        .find(|n| !saved.plan.stacks.iter().any(|s| s.name == n.name))
    {
        return Err(stale(&format!("stack `{}` was not in the plan", n.name)));
    }
    // Everything else the reviewer saw must be what would happen now:
    // the same changes, field by field, against the same live stacks.
    let comparable = |p: &StackPlan| {
        let mut p = p.clone();
        p.template_sha256 = None;
        p
    };
    if saved.plan.refreshed != now.refreshed
        || saved
            .plan
            .stacks
            .iter()
            .zip(&now.stacks)
            .any(|(s, n)| comparable(s) != comparable(n))
    {
        return Err(stale("the live stacks changed since the plan was made"));
    }
    Ok(())
}

/// A stack's record from what is live: its template (secrets hashed),
/// physical ids and outputs.
pub fn record(
    name: &str,
    live: &LiveStack,
    desired: Option<&DesiredStack>,
    previous: Option<&StackRecord>,
    salt: &str,
) -> StackRecord {
    let template = live
        .template
        .clone()
        .or_else(|| desired.map(|d| d.template.clone()))
        .unwrap_or(serde_json::Value::Null);
    let template = redact(&template, salt);
    let mut top = template.as_object().cloned().unwrap_or_default();
    let resources = top.remove("Resources");
    let resources = resources
        .as_ref()
        .and_then(serde_json::Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(logical, values)| {
                    let address = desired
                        .and_then(|d| d.addresses.get(logical))
                        .or_else(|| {
                            previous
                                .and_then(|p| p.resources.get(logical))
                                .map(|r| &r.address)
                        })
                        .cloned()
                        .unwrap_or_else(|| logical.clone());
                    let type_name = values
                        .get("Type")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    (
                        logical.clone(),
                        ResourceRecord {
                            address,
                            type_name,
                            physical_id: live.physical_ids.get(logical).cloned(),
                            values: values.clone(),
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let text = serde_json::to_string(&template).unwrap_or_default();
    StackRecord {
        name: name.to_string(),
        stack_id: live.stack_id.clone(),
        status: live.status.clone(),
        template_sha256: crate::state::sha256_hex(text.as_bytes()),
        template: serde_json::Value::Object(top),
        resources,
        outputs: live
            .outputs
            .iter()
            .map(|(k, v)| {
                let v = if crate::state::is_secret_text(v) {
                    crate::state::secret_hash(salt, v)
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect(),
        applied_at: previous
            .filter(|p| p.template_sha256 == crate::state::sha256_hex(text.as_bytes()))
            .map_or_else(now_rfc3339, |p| p.applied_at.clone()),
    }
}

/// Finishes the record of a change a previous run left in flight.
async fn reconcile(
    ctx: &Arc<Context>,
    backend: &Backend,
    key: &str,
    stored: Stored,
    desired: &Desired,
) -> Result<Stored, Diagnostic> {
    let flight = stored
        .state
        .in_flight
        .clone()
        .expect("called for a state in flight");
    ctx.progress.step(key, "recovering an interrupted change");
    let (live, what) = match &ctx.gcp {
        Some(gcp) => (settle_deployment(ctx, gcp, key).await?, "deployment"),
        None => (settle_stack(ctx, key, &flight).await?, "stack"),
    };
    let mut next = stored.state.clone();
    next.in_flight = None;
    next.serial += 1;
    let d = desired.stacks.iter().find(|d| d.name == key);
    next.stack = live
        .as_ref()
        .map(|l| record(key, l, d, stored.state.stack.as_ref(), &stored.state.salt));
    let written = backend.write(key, &stored, &next).await?;
    ctx.progress.note(&format!(
        "recovered the interrupted {} of `{key}` (started {}): the {what} is {}",
        match flight.operation {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
        },
        flight.started,
        live.as_ref().map_or("gone", |l| l.status.as_str())
    ));
    Ok(written)
}

/// An interrupted deployment change: waited for (at most `--timeout`,
/// else an error that keeps the journal); the deployment as it is.
async fn settle_deployment(
    ctx: &Context,
    gcp: &super::gcp::Gcp,
    key: &str,
) -> Result<Option<LiveStack>, Diagnostic> {
    let start = tokio::time::Instant::now();
    let mut live = gcp.refresh(key).await?;
    while let Some(l) = &live
        && matches!(l.status.as_str(), "CREATING" | "UPDATING" | "DELETING")
    {
        if start.elapsed() >= ctx.timeout {
            return Err(Diagnostic::error(
                codes::STACK_FAILED,
                format!(
                    "deployment `{key}` is still {} after {}s; its interrupted change stays journalled",
                    l.status,
                    ctx.timeout.as_secs()
                ),
            )
            .with_help("Run apply again once the deployment has settled."));
        }
        ctx.progress.step(
            key,
            &format!("waiting for the interrupted change: {}", l.status),
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        live = gcp.refresh(key).await?;
    }
    Ok(live)
}

/// An interrupted stack change: a change set never executed deleted
/// (also one the journal does not name), a change in progress waited
/// for, an empty stack from a create never executed deleted; the stack
/// as it is.
async fn settle_stack(
    ctx: &Context,
    key: &str,
    flight: &InFlight,
) -> Result<Option<LiveStack>, Diagnostic> {
    let client = client(ctx);
    if let Some(cs) = &flight.change_set_id
        && aws::change_set_execution(client, cs).await?.as_deref() == Some("AVAILABLE")
    {
        // Prepared, never executed.
        aws::delete_change_set(client, cs).await?;
    }
    // A run killed between creating a change set and journalling its id
    // leaves one the journal does not name.
    for cs in aws::unexecuted_rel_change_sets(client, key).await? {
        aws::delete_change_set(client, &cs).await?;
    }
    if let Some(live) = aws::refresh(client, key).await? {
        let mut status = live.status.clone();
        if !aws::settled(&status) {
            let progress = ctx.progress.clone();
            let name = key.to_string();
            status = aws::wait_stack(client, &live.stack_id, ctx.timeout, &mut move |s| {
                progress.step(&name, &format!("waiting for the interrupted change: {s}"))
            })
            .await?;
        }
        if status == "REVIEW_IN_PROGRESS" {
            // A create never executed: an empty stack that would block the next one.
            aws::delete_stack(client, &live.stack_id).await?;
            aws::wait_stack(client, &live.stack_id, ctx.timeout, &mut |_| {}).await?;
        }
    }
    aws::refresh(client, key).await
}

/// Runs the stacks' changes in dependency order (reverse for destroy),
/// independent ones at once within the bound.
async fn execute(
    ctx: &Arc<Context>,
    backend: &Arc<Backend>,
    desired: &Desired,
    plan: &Plan,
    stored: &mut BTreeMap<String, Stored>,
    destroying: bool,
    lost: &std::sync::atomic::AtomicBool,
) -> (Vec<StackResult>, Option<Diagnostic>) {
    // name → names it waits for.
    let mut waits: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for sp in &plan.stacks {
        waits.entry(sp.name.clone()).or_default();
        let deps = desired
            .stacks
            .iter()
            .find(|d| d.name == sp.name)
            .map(|d| d.depends_on.clone())
            .unwrap_or_else(|| {
                if sp.name != desired.shared_key()
                    && plan.stacks.iter().any(|s| s.name == desired.shared_key())
                {
                    vec![desired.shared_key().to_string()]
                } else {
                    Vec::new()
                }
            });
        for dep in deps {
            if !plan.stacks.iter().any(|s| s.name == dep) {
                continue;
            }
            if destroying {
                waits.entry(dep).or_default().push(sp.name.clone());
            } else {
                waits.entry(sp.name.clone()).or_default().push(dep);
            }
        }
    }
    let mut results: BTreeMap<String, StackResult> = BTreeMap::new();
    let mut first_error = None;
    let semaphore = Arc::new(tokio::sync::Semaphore::new(ctx.parallelism.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut started: Vec<String> = Vec::new();
    let mut names: std::collections::HashMap<tokio::task::Id, (String, Action)> =
        std::collections::HashMap::new();
    loop {
        // Start what is ready; skip what depends on a failure; again
        // until nothing more can start (a stack with nothing to do may
        // free its dependents at once).
        loop {
            let before = results.len() + tasks.len();
            for sp in &plan.stacks {
                if started.contains(&sp.name) {
                    continue;
                }
                let deps = &waits[&sp.name];
                if let Some(failed) = deps.iter().find(|d| results.get(*d).is_some_and(|r| !r.ok)) {
                    started.push(sp.name.clone());
                    let r = StackResult {
                        name: sp.name.clone(),
                        action: sp.action,
                        outcome: format!("not started: `{failed}` failed"),
                        ok: false,
                    };
                    ctx.progress.finish(&sp.name, &r.outcome);
                    results.insert(sp.name.clone(), r);
                    continue;
                }
                if !deps.iter().all(|d| results.get(d).is_some_and(|r| r.ok)) {
                    continue;
                }
                started.push(sp.name.clone());
                if lost.load(std::sync::atomic::Ordering::SeqCst) && sp.action != Action::NoOp {
                    let r = StackResult {
                        name: sp.name.clone(),
                        action: sp.action,
                        outcome: "not started: this run lost its lock".into(),
                        ok: false,
                    };
                    first_error.get_or_insert(Diagnostic::error(
                    codes::STATE_LOCKED,
                    "the state lock was taken away while this run held it; no further stack was started",
                ));
                    ctx.progress.finish(&sp.name, &r.outcome);
                    results.insert(sp.name.clone(), r);
                    continue;
                }
                if sp.action == Action::NoOp {
                    results.insert(
                        sp.name.clone(),
                        StackResult {
                            name: sp.name.clone(),
                            action: sp.action,
                            outcome: "no changes".into(),
                            ok: true,
                        },
                    );
                    continue;
                }
                let job = StackJob {
                    change_set: None,
                    inputs: desired
                        .stacks
                        .iter()
                        .find(|d| d.name == sp.name)
                        .map(|d| deployment_inputs(d, &outputs_recorded(desired, stored))),
                    ctx: ctx.clone(),
                    backend: backend.clone(),
                    names: desired.names.clone(),
                    plan: sp.clone(),
                    desired: desired.stacks.iter().find(|d| d.name == sp.name).cloned(),
                    stored: stored.remove(&sp.name).expect("a state per stack"),
                    parameters: (sp.name == desired.env_key()).then(|| desired.parameters.clone()),
                };
                let semaphore = semaphore.clone();
                let name = sp.name.clone();
                let action = sp.action;
                let handle = tasks.spawn(async move {
                    let _permit = semaphore.acquire().await;
                    let name = job.plan.name.clone();
                    let action = job.plan.action;
                    let (state, result) = job.run().await;
                    (name, action, Some(state), result)
                });
                names.insert(handle.id(), (name, action));
            }
            if results.len() + tasks.len() == before {
                break;
            }
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let (name, action, state, result) = match joined {
            Ok(r) => r,
            Err(e) => {
                let (name, action) = names
                    .get(&e.id())
                    .cloned()
                    .unwrap_or_else(|| ("(unknown stack)".into(), Action::NoOp));
                (
                    name,
                    action,
                    None,
                    Err(Diagnostic::error(
                        codes::PROVIDER_ERROR,
                        format!("the stack's apply stopped: {e}"),
                    )),
                )
            }
        };
        if let Some(state) = state {
            stored.insert(name.clone(), state);
        }
        let r = match result {
            Ok(outcome) => StackResult {
                name: name.clone(),
                action,
                outcome,
                ok: true,
            },
            Err(e) => {
                let r = StackResult {
                    name: name.clone(),
                    action,
                    outcome: format!("failed: {}", e.message),
                    ok: false,
                };
                first_error.get_or_insert(e);
                r
            }
        };
        ctx.progress.finish(&name, &r.outcome);
        results.insert(name, r);
    }
    let ordered = plan
        .stacks
        .iter()
        .filter_map(|s| results.remove(&s.name))
        .collect();
    (ordered, first_error)
}

struct StackJob {
    /// The change set this job created, once it exists.
    change_set: Option<String>,
    /// A deployment's input values (GCP: outputs of the layers it uses,
    /// `Err(LAYER:NAME)` for one they do not have).
    inputs: Option<BTreeMap<String, Result<String, String>>>,
    ctx: Arc<Context>,
    backend: Arc<Backend>,
    names: crate::identity::Names,
    plan: StackPlan,
    desired: Option<DesiredStack>,
    stored: Stored,
    /// The environment's parameters, for its own layer's state.
    parameters: Option<BTreeMap<String, String>>,
}

impl StackJob {
    async fn write(&mut self, next: State) -> Result<(), Diagnostic> {
        self.stored = self
            .backend
            .write(&self.plan.name, &self.stored, &next)
            .await?;
        Ok(())
    }

    fn step(&self, message: &str) {
        self.ctx.progress.step(&self.plan.name, message);
    }

    /// The next state once the stack rests: the change no longer in
    /// flight, the stack recorded as it is (or gone).
    fn settled(&self, live: Option<&LiveStack>) -> State {
        let mut next = self.stored.state.clone();
        next.serial += 1;
        next.in_flight = None;
        next.stack = live.map(|l| {
            record(
                &self.plan.name,
                l,
                self.desired.as_ref(),
                self.stored.state.stack.as_ref(),
                &self.stored.state.salt,
            )
        });
        if let Some(gcp) = &self.ctx.gcp {
            next.project = next.stack.as_ref().and_then(|_| gcp.project_record());
        }
        if let (Some(parameters), Some(_)) = (&self.parameters, &next.stack) {
            next.parameters = parameters.clone();
        }
        next
    }

    /// Makes the change: a change set (created, inspected, executed,
    /// awaited) or a deletion. Returns the stack's final status.
    async fn change(
        &mut self,
        client: &Client,
        operation: Operation,
    ) -> Result<String, Diagnostic> {
        let name = self.plan.name.clone();
        let deleting = operation == Operation::Delete;
        let client = client.clone();
        let timeout = self.ctx.timeout;
        let status = if deleting {
            let id = self.plan.stack_id.clone().unwrap_or_else(|| name.clone());
            self.step("deleting");
            aws::delete_stack(&client, &id).await?;
            let progress = self.ctx.progress.clone();
            let n = name.clone();
            aws::wait_stack(&client, &id, timeout, &mut move |s| progress.step(&n, s)).await?
        } else {
            let d = self
                .desired
                .clone()
                .expect("a template for create or update");
            if let (Some(status), Some(id)) = (&self.plan.live_status, &self.plan.stack_id)
                && super::plan::failed_create(status)
            {
                // A stack whose creation failed cannot be updated: deleted first.
                self.step(&format!("deleting the failed stack ({status})"));
                aws::delete_stack(&client, id).await?;
                aws::wait_stack(&client, id, timeout, &mut |_| {}).await?;
            }
            let cs_name = format!("rel-{}-{}", self.stored.state.serial, random_hex(4));
            self.step("creating change set");
            let source = match &self.ctx.templates {
                Some(store) if d.text.len() > TEMPLATE_BODY_LIMIT => {
                    self.step("uploading the template");
                    aws::TemplateSource::Url(store.upload(&name, &d.sha256, &d.text).await?)
                }
                _ => aws::TemplateSource::Body(&d.text),
            };
            let tags = super::ownership::stack_tags(&self.names, &name, &self.stored.state.lineage);
            let (cs, stack_id) = aws::create_change_set(
                &client,
                &name,
                &tags,
                source,
                operation == Operation::Create,
                &cs_name,
            )
            .await?;
            self.change_set = Some(cs.clone());
            let mut next = self.stored.state.clone();
            next.serial += 1;
            if let Some(f) = &mut next.in_flight {
                f.change_set_id = Some(cs.clone());
            }
            self.write(next).await?;
            self.step("waiting for change set");
            match aws::wait_change_set(&client, &cs, timeout).await? {
                aws::ChangeSetOutcome::Empty => {
                    aws::delete_change_set(&client, &cs).await?;
                    "UNCHANGED".to_string()
                }
                aws::ChangeSetOutcome::Ready => {
                    self.step("executing change set");
                    aws::execute_change_set(&client, &cs).await?;
                    let progress = self.ctx.progress.clone();
                    let n = name.clone();
                    aws::wait_stack(&client, &stack_id, timeout, &mut move |s| {
                        progress.step(&n, s)
                    })
                    .await?
                }
            }
        };
        Ok(status)
    }

    /// Makes the stack's change; returns the stack's state as it ends.
    async fn run(mut self) -> (Stored, Result<String, Diagnostic>) {
        let result = self.work().await;
        (self.stored, result)
    }

    /// Records the change as in flight before it starts.
    async fn journal(&mut self, operation: Operation) -> Result<(), Diagnostic> {
        let mut next = self.stored.state.clone();
        next.serial += 1;
        next.in_flight = Some(InFlight {
            operation,
            stack: self.plan.name.clone(),
            change_set_id: None,
            template_sha256: self
                .desired
                .as_ref()
                .map(|d| crate::state::template_digest(&d.template, &self.stored.state.salt))
                .unwrap_or_default(),
            started: now_rfc3339(),
        });
        self.write(next).await
    }

    /// The change a job makes to its stack or deployment.
    fn operation(&self) -> Operation {
        match (self.plan.action, self.plan.stack_id.is_some()) {
            (Action::Delete, _) => Operation::Delete,
            (Action::Create, _) | (_, false) => Operation::Create,
            _ => Operation::Update,
        }
    }

    /// A layer's change as an Infrastructure Manager deployment: journal,
    /// upload, create or update (or delete), wait, record.
    async fn work_gcp(&mut self, gcp: &super::gcp::Gcp) -> Result<String, Diagnostic> {
        let name = self.plan.name.clone();
        let operation = self.operation();
        self.journal(operation).await?;
        let progress = self.ctx.progress.clone();
        let step_name = name.clone();
        let step = move |m: &str| progress.step(&step_name, m);
        let result = match (operation, &self.desired) {
            (Operation::Delete, _) => {
                step("deleting the deployment");
                gcp.delete(&name, self.ctx.timeout)
                    .await
                    .map(|()| "DELETED".to_string())
            }
            (_, None) => Err(Diagnostic::error(
                codes::PROVIDER_ERROR,
                "no blueprint to apply",
            )),
            (_, Some(d)) => {
                let mut inputs = BTreeMap::new();
                for (k, v) in self.inputs.clone().unwrap_or_default() {
                    match v {
                        Ok(v) => {
                            inputs.insert(k, v);
                        }
                        Err(src) => {
                            return Err(Diagnostic::error(
                                codes::STACK_FAILED,
                                format!("input `{k}` of `{name}` needs output `{src}`, which the layer it comes from does not have"),
                            )
                            .with_help("Apply the layer it comes from first; a sensitive output cannot be passed on by rel."));
                        }
                    }
                }
                let metadata = d.deployment.clone().unwrap_or(serde_json::Value::Null);
                let change = super::gcp::LayerChange {
                    layer: &name,
                    blueprint: &d.text,
                    sha256: &d.sha256,
                    metadata: &metadata,
                    inputs: &inputs,
                    exists: operation == Operation::Update,
                };
                gcp.apply(&change, self.ctx.timeout, &step).await
            }
        };
        // Record the deployment as it is now, whatever happened.
        let live = gcp.refresh(&name).await;
        if let Ok(live) = &live
            && live
                .as_ref()
                .is_none_or(|l| !matches!(l.status.as_str(), "CREATING" | "UPDATING" | "DELETING"))
        {
            let next = self.settled(live.as_ref());
            self.write(next).await?;
        }
        let status = result?;
        live?;
        Ok(status)
    }

    async fn work(&mut self) -> Result<String, Diagnostic> {
        if let Some(gcp) = self.ctx.gcp.clone() {
            return self.work_gcp(&gcp).await;
        }
        let client = client(&self.ctx).clone();
        let name = self.plan.name.clone();
        let deleting = self.plan.action == Action::Delete;
        let operation = self.operation();
        if let Some(d) = &self.desired
            && !deleting
        {
            let len = d.text.len();
            let fits = len <= TEMPLATE_BODY_LIMIT
                || (len <= TEMPLATE_URL_LIMIT && self.ctx.templates.is_some());
            if !fits {
                let help = if len > TEMPLATE_URL_LIMIT {
                    "Split the environment's resources over more apps: CloudFormation reads at most 1 MB even from S3.".to_string()
                } else {
                    "Give rel a bucket for large templates: --template-bucket s3://BUCKET/PREFIX (an S3 state backend's bucket is used by default).".to_string()
                };
                return Err(Diagnostic::error(
                    codes::TEMPLATE_TOO_LARGE,
                    format!(
                        "the template of `{name}` is {len} bytes; CloudFormation takes at most {TEMPLATE_BODY_LIMIT} inline{}",
                        if len > TEMPLATE_URL_LIMIT { " and 1,048,576 from S3" } else { "" }
                    ),
                )
                .with_help(help));
            }
        }
        // Journal first.
        self.journal(operation).await?;

        let status = match self.change(&client, operation).await {
            Ok(status) => status,
            Err(e) => {
                // A change set never executed is not left behind.
                if let Some(cs) = &self.change_set
                    && let Ok(Some(status)) = aws::change_set_execution(&client, cs).await
                    && status == "AVAILABLE"
                {
                    let _ = aws::delete_change_set(&client, cs).await;
                }
                // The call failed: record the stack as it is, if it can be
                // read, so the next run starts clean; if not, the journal
                // stays for the next apply to reconcile.
                if let Ok(live) = aws::refresh(&client, &name).await
                    && live
                        .as_ref()
                        .is_none_or(|l| aws::settled(&l.status) && l.status != "REVIEW_IN_PROGRESS")
                {
                    let next = self.settled(live.as_ref());
                    let _ = self.write(next).await;
                }
                return Err(e);
            }
        };
        // Record the stack as it is now.
        let live = aws::refresh(&client, &name).await?;
        let next = self.settled(live.as_ref());
        self.write(next).await?;
        let ok = matches!(
            status.as_str(),
            "CREATE_COMPLETE"
                | "UPDATE_COMPLETE"
                | "DELETE_COMPLETE"
                | "IMPORT_COMPLETE"
                | "UNCHANGED"
        );
        if ok {
            return Ok(if status == "UNCHANGED" {
                "no changes (CloudFormation found none)".into()
            } else {
                status
            });
        }
        let id = live
            .as_ref()
            .map(|l| l.stack_id.clone())
            .or(self.plan.stack_id.clone())
            .unwrap_or_else(|| name.clone());
        let reasons = aws::failure_reasons(&client, &id).await;
        let mut d = Diagnostic::error(
            codes::STACK_FAILED,
            format!("stack `{name}` ended in {status}"),
        )
        .with_help("The state records the stack as it is now; fix the cause and apply again.");
        for r in reasons {
            d = d.with_note(r);
        }
        Err(d)
    }
}
