//! `rel plan`, `rel apply`, `rel destroy`, `rel state`, `rel output`:
//! the operator's commands, with progress, prompts and exit codes
//! (plan: 0 no changes, 2 changes, 1 error).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::graph::environment_inputs;
use super::{EnvironmentArgs, Format, TargetArg, print_diagnostics};
use crate::deploy::kubernetes::KubeOptions;
use crate::deploy::layout::{Legacy, legacy_layout};
use crate::deploy::plan::Plan;
use crate::deploy::run::{self, Context, Mode, Outcome, Progress};
use crate::deploy::{Desired, PlanFormat, SavedPlan, aws, render};
use crate::diagnostic::{Diagnostic, codes};
use crate::emit::{BuildOptions, Target, TemplateFormat};
use crate::source::SourceMap;
use crate::state::backend::{Backend, s3_client, s3_location};

/// Where state lives and how to reach AWS.
#[derive(clap::Args, Debug, Clone)]
pub struct Connection {
    /// Where states are kept: a folder, or s3://BUCKET/PREFIX [default: PROJECT/.rel/state].
    #[arg(
        long = "state",
        env = "REL_STATE",
        value_name = "FOLDER|s3://BUCKET/PREFIX"
    )]
    pub state: Option<String>,
    /// Send AWS calls to this endpoint (a local or private endpoint); `AWS_ENDPOINT_URL` works too.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The AWS region [default: the SDK's chain: AWS_REGION, profile].
    #[arg(long)]
    pub region: Option<String>,
    /// The AWS profile [default: AWS_PROFILE, or `default`].
    #[arg(long)]
    pub profile: Option<String>,
}

/// Options of plan, apply and destroy.
#[derive(clap::Args, Debug, Clone)]
pub struct DeployArgs {
    #[command(flatten)]
    pub environment: EnvironmentArgs,
    #[command(flatten)]
    pub connection: Connection,
    /// At most this many stacks refreshed or changed at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallelism: u16,
    /// Where templates over CloudFormation's inline limit (51,200 bytes) are uploaded [default: the S3 state backend's bucket, under PREFIX/templates].
    #[arg(long, env = "REL_TEMPLATE_BUCKET", value_name = "s3://BUCKET/PREFIX")]
    pub template_bucket: Option<String>,
    /// Give up waiting for one stack operation after this many seconds.
    #[arg(long, default_value_t = 3600, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub timeout: u64,
    /// The kubeconfig file [default: KUBECONFIG, ~/.kube/config, or the in-cluster service account].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context [default: the environment's `kube_context`, else the current context].
    #[arg(long, env = "REL_KUBE_CONTEXT", value_name = "NAME")]
    pub kube_context: Option<String>,
    /// Apply's own options (set by `rel apply`).
    #[arg(skip)]
    pub rollout: Option<RolloutArgs>,
    /// The cloud the environment's layers go to: CloudFormation stacks, or Infrastructure Manager deployments.
    #[arg(long, value_enum, default_value_t = TargetArg::Aws)]
    pub target: TargetArg,
    #[command(flatten)]
    pub gcp: GcpArgs,
    /// Take over stacks, deployments and Kubernetes objects that exist under the names this environment uses but are not its own (made by hand, by another project, or by a lost state). Without it rel refuses them (E0522) and changes nothing; with it the plan lists each one as adopted.
    #[arg(long)]
    pub adopt: bool,
}

/// Where GCP deployments go (with `--target gcp`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct GcpArgs {
    /// The GCP project of the deployments.
    #[arg(long, env = "GOOGLE_CLOUD_PROJECT", value_name = "PROJECT")]
    pub gcp_project: Option<String>,
    /// The Infrastructure Manager location (a region such as europe-west1).
    #[arg(long, env = "REL_GCP_LOCATION", value_name = "REGION")]
    pub gcp_location: Option<String>,
    /// The service account Infrastructure Manager runs Terraform as.
    #[arg(long, env = "REL_GCP_SERVICE_ACCOUNT", value_name = "EMAIL")]
    pub gcp_service_account: Option<String>,
    /// Where blueprints are uploaded for Infrastructure Manager to read.
    #[arg(long, env = "REL_BLUEPRINT_BUCKET", value_name = "gs://BUCKET/PREFIX")]
    pub blueprint_bucket: Option<String>,
    /// Send Google API calls to this endpoint (a private or local endpoint).
    #[arg(long, env = "REL_GCP_ENDPOINT", value_name = "URL")]
    pub gcp_endpoint: Option<String>,
}

impl GcpArgs {
    pub(super) fn options(&self) -> crate::deploy::gcp::GcpOptions {
        crate::deploy::gcp::GcpOptions {
            project: self.gcp_project.clone(),
            location: self.gcp_location.clone(),
            blueprint_bucket: self.blueprint_bucket.clone(),
            service_account: self.gcp_service_account.clone(),
            endpoint: self.gcp_endpoint.clone(),
        }
    }
}

/// How apply treats the cluster.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RolloutArgs {
    /// Take over fields another field manager owns (server-side apply's force).
    #[arg(long)]
    pub force_conflicts: bool,
    /// Wait until applied Deployments, StatefulSets and DaemonSets are ready.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds.
    #[arg(long, default_value_t = 300, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub wait_timeout: u64,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum PlanFormatArg {
    Text,
    Markdown,
    Json,
}

/// The project folder: where the local state lives.
pub(super) fn project_root(paths: &[PathBuf]) -> PathBuf {
    let first = paths.first().cloned().unwrap_or_else(|| PathBuf::from("."));
    if first.is_dir() {
        first
    } else {
        first
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }
}

pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Writes a file whole or not at all; reports a failure (false).
pub(super) fn write_file(path: &Path, text: &str, color: bool) -> bool {
    match crate::atomic_file::write_atomically(path, text.as_bytes()) {
        Ok(()) => true,
        Err(e) => {
            report(
                &Diagnostic::error(
                    codes::WRITE_FAILED,
                    format!("cannot write `{}`: {e}", path.display()),
                ),
                color,
            );
            false
        }
    }
}

pub(super) fn report(diag: &Diagnostic, color: bool) {
    print_diagnostics(
        &SourceMap::new(),
        std::slice::from_ref(diag),
        Format::Human,
        color,
    );
}

pub(super) async fn sdk(conn: &Connection) -> Result<aws_config::SdkConfig, Diagnostic> {
    let config = aws::sdk_config(&aws::AwsOptions {
        endpoint_url: conn.endpoint_url.clone(),
        region: conn.region.clone(),
        profile: conn.profile.clone(),
        max_attempts: 6,
    })
    .await;
    if config.region().is_none() {
        return Err(
            Diagnostic::error(codes::PROVIDER_ERROR, "no AWS region configured")
                .with_help("Pass --region, or set AWS_REGION or a profile's region."),
        );
    }
    Ok(config)
}

pub(super) async fn open_backend(
    conn: &Connection,
    project: &Path,
    config: Option<&aws_config::SdkConfig>,
) -> Result<Backend, Diagnostic> {
    let wants_s3 = conn
        .state
        .as_deref()
        .is_some_and(|s| s.starts_with("s3://"));
    let owned;
    let config = match (config, wants_s3) {
        (Some(c), _) => Some(c),
        (None, true) => {
            owned = sdk(conn).await?;
            Some(&owned)
        }
        (None, false) => None,
    };
    Backend::open(conn.state.as_deref(), project, config)
}

/// Progress on standard error: bars on a terminal, plain lines otherwise.
struct Bars {
    multi: Option<MultiProgress>,
    bars: Mutex<Vec<(String, ProgressBar)>>,
    last: Mutex<Vec<(String, String)>>,
}

impl Bars {
    fn new() -> Bars {
        let multi = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Bars {
            multi,
            bars: Mutex::new(Vec::new()),
            last: Mutex::new(Vec::new()),
        }
    }

    fn bar(&self, stack: &str) -> Option<ProgressBar> {
        let multi = self.multi.as_ref()?;
        let mut bars = self.bars.lock().expect("bars");
        if let Some((_, b)) = bars.iter().find(|(n, _)| n == stack) {
            return Some(b.clone());
        }
        let b = multi.add(ProgressBar::new_spinner());
        b.set_style(
            ProgressStyle::with_template("{spinner} {prefix:28} {msg} ({elapsed})")
                .expect("a valid template"),
        );
        b.set_prefix(stack.to_string());
        b.enable_steady_tick(Duration::from_millis(120));
        bars.push((stack.to_string(), b.clone()));
        Some(b)
    }

    /// Prints a line unless it repeats the stack's last one.
    fn line(&self, stack: &str, message: &str) {
        let mut last = self.last.lock().expect("last");
        match last.iter_mut().find(|(n, _)| n == stack) {
            Some((_, m)) if m == message => return,
            Some((_, m)) => *m = message.to_string(),
            None => last.push((stack.to_string(), message.to_string())),
        }
        eprintln!("{stack}: {message}");
    }
}

impl Progress for Bars {
    fn step(&self, stack: &str, message: &str) {
        match self.bar(stack) {
            Some(b) => b.set_message(message.to_string()),
            None => self.line(stack, message),
        }
    }

    fn finish(&self, stack: &str, message: &str) {
        match self.bar(stack) {
            Some(b) => b.finish_with_message(message.to_string()),
            None => self.line(stack, message),
        }
    }

    fn note(&self, message: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(format!("note: {message}"));
            }
            None => eprintln!("note: {message}"),
        }
    }
}

/// Compiles the environment into the stacks it wants.
fn desired(
    args: &EnvironmentArgs,
    target: TargetArg,
    color: bool,
    legacy: Legacy,
) -> Result<Desired, u8> {
    let mut sources = SourceMap::new();
    let (entries, mut options) = environment_inputs(&mut sources, args, color)?;
    options.legacy_shared = legacy.shared;
    options.legacy_environment = legacy.environment;
    let target = match target {
        TargetArg::Aws => Target::Aws,
        TargetArg::Gcp => Target::Gcp,
    };
    let build_options = BuildOptions {
        target,
        template_format: TemplateFormat::Json,
    };
    let (model, build) = crate::build_entries(&mut sources, &entries, &options, &build_options)
        .map_err(|mut diags| {
            if diags.iter().any(|d| d.code == codes::WRONG_TARGET) {
                diags.push(
                    Diagnostic::error(
                        codes::DEPLOY_UNSUPPORTED,
                        "this environment's resources belong to another cloud than --target",
                    )
                    .with_help("Pass --target gcp for Infrastructure Manager deployments, --target aws for CloudFormation stacks."),
                );
            }
            print_diagnostics(&sources, &diags, Format::Human, color);
            1u8
        })?;
    let mut desired = Desired::from_build(&model, &build, target).map_err(|d| {
        report(&d, color);
        1
    })?;
    desired.parameters = options.sets.clone();
    Ok(desired)
}

fn print_plan(plan: &Plan, format: PlanFormat) {
    let text = match format {
        PlanFormat::Text => render::text(plan),
        PlanFormat::Markdown => render::markdown(plan),
        PlanFormat::Json => serde_json::to_string_pretty(plan).expect("a plan serialises") + "\n",
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// What to run, and how to show it.
struct Job<'a> {
    args: &'a DeployArgs,
    mode: Mode,
    format: PlanFormat,
    /// Ask before changing (no saved plan, no --auto-approve).
    ask: bool,
    verb: &'static str,
}

/// Compiles the job's environment again with the names of layers written
/// before projects.
fn recompile(args: &DeployArgs, legacy: Legacy) -> Result<Desired, Diagnostic> {
    desired(&args.environment, args.target, false, legacy).map_err(|_| {
        Diagnostic::error(
            codes::DEPLOY_UNSUPPORTED,
            "the environment did not compile with the names its state was written under",
        )
    })
}

fn execute(job: Job<'_>, desired: &mut Desired) -> Result<Outcome, Diagnostic> {
    let Job {
        args,
        mode,
        format,
        ask,
        verb,
        ..
    } = job;
    let adopt =
        args.adopt || matches!(&mode, Mode::Apply { saved: Some(s) } if !s.plan.adopted.is_empty());
    let project = project_root(&args.environment.paths);
    let needs_provider = !matches!(mode, Mode::Plan { refresh: false });
    let on_gcp = args.target == TargetArg::Gcp;
    let rt = runtime();
    rt.block_on(async {
        // AWS: the stacks (and the secrets manifests use); on GCP only for
        // an S3 state backend.
        let config = if needs_provider && !on_gcp {
            Some(sdk(&args.connection).await?)
        } else {
            None
        };
        let gcp = if needs_provider && on_gcp {
            let gcp = crate::deploy::gcp::Gcp::connect(&args.gcp.options()).await?;
            gcp.check_project().await?;
            Some(Arc::new(gcp))
        } else {
            None
        };
        let backend = Arc::new(open_backend(&args.connection, &project, config.as_ref()).await?);
        // Layers applied before projects keep the names they had.
        let legacy =
            legacy_layout(&backend, &desired.names.identity.app, &desired.environment).await?;
        if legacy != Legacy::default() {
            let parameters = std::mem::take(&mut desired.parameters);
            *desired = recompile(args, legacy)?;
            desired.parameters = parameters;
        }
        let templates = match (&config, template_store(args)?) {
            (Some(config), Some((bucket, prefix))) => Some(aws::TemplateStore {
                client: s3_client(config),
                bucket,
                prefix,
                region: config.region().map(ToString::to_string).unwrap_or_default(),
            }),
            _ => None,
        };
        let ctx = Arc::new(Context {
            templates,
            client: config.as_ref().map(aws::client),
            acm: config.as_ref().map(aws_sdk_acm::Client::new),
            parallelism: usize::from(args.parallelism),
            timeout: Duration::from_secs(args.timeout),
            progress: Arc::new(Bars::new()),
            kube: Some(KubeOptions {
                kubeconfig: args.kubeconfig.clone(),
                context: args.kube_context.clone(),
                force_conflicts: args.rollout.as_ref().is_some_and(|r| r.force_conflicts),
                wait: args
                    .rollout
                    .as_ref()
                    .filter(|r| r.wait)
                    .map(|r| Duration::from_secs(r.wait_timeout)),
            }),
            secrets: config.as_ref().map(aws_sdk_secretsmanager::Client::new),
            gcp,
            adopt,
        });
        let printed = std::sync::atomic::AtomicBool::new(false);
        let mut confirm = |plan: &Plan| -> Result<bool, Diagnostic> {
            print_plan(plan, format);
            printed.store(true, std::sync::atomic::Ordering::Relaxed);
            if !ask {
                return Ok(true);
            }
            if !std::io::stdin().is_terminal() {
                return Err(Diagnostic::error(
                    codes::APPROVAL_REQUIRED,
                    format!("{verb} needs a confirmation and standard input is not a terminal"),
                )
                .with_help("Pass --auto-approve, or apply a saved plan (`rel plan -o FILE`, then `rel apply ... FILE`)."));
            }
            eprint!("\nDo you want to {verb} these changes to `{}`? Only `yes` is accepted: ", plan.environment);
            let _ = std::io::stderr().flush();
            // Read on a thread of its own, so Ctrl-C at the prompt stops
            // the run instead of waiting for Enter.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut answer = String::new();
                let _ = std::io::stdin().read_line(&mut answer);
                let _ = tx.send(answer);
            });
            loop {
                match rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(answer) => return Ok(answer.trim() == "yes"),
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(false),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        if run::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
                            eprintln!();
                            return Ok(false);
                        }
                    }
                }
            }
        };
        let outcome = run::run(ctx, backend, desired, mode, &mut confirm).await?;
        if !printed.load(std::sync::atomic::Ordering::Relaxed) {
            print_plan(&outcome.plan, format);
        }
        Ok(outcome)
    })
}

/// The bucket and prefix for large templates: `--template-bucket`, else
/// the S3 state backend's bucket under `PREFIX/templates`.
fn template_store(args: &DeployArgs) -> Result<Option<(String, String)>, Diagnostic> {
    if let Some(spec) = &args.template_bucket {
        return s3_location(spec).map(Some).ok_or_else(|| {
            Diagnostic::error(
                codes::BACKEND_INVALID,
                format!("`--template-bucket {spec}` is not s3://BUCKET/PREFIX"),
            )
        });
    }
    Ok(args
        .connection
        .state
        .as_deref()
        .and_then(s3_location)
        .map(|(bucket, prefix)| {
            let prefix = if prefix.is_empty() {
                "templates".to_string()
            } else {
                format!("{prefix}/templates")
            };
            (bucket, prefix)
        }))
}

fn plan_format(json: bool, format: Option<PlanFormatArg>) -> PlanFormat {
    match (json, format) {
        (true, _) | (_, Some(PlanFormatArg::Json)) => PlanFormat::Json,
        (_, Some(PlanFormatArg::Markdown)) => PlanFormat::Markdown,
        _ => PlanFormat::Text,
    }
}

pub fn plan(
    args: &DeployArgs,
    out: Option<&Path>,
    json: bool,
    format: Option<PlanFormatArg>,
    refresh: bool,
    color: bool,
) -> u8 {
    let mut desired = match desired(&args.environment, args.target, color, Legacy::default()) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let job = Job {
        args,
        mode: Mode::Plan { refresh },
        format: plan_format(json, format),
        ask: false,
        verb: "plan",
    };
    let outcome = match execute(job, &mut desired) {
        Ok(o) => o,
        Err(d) => {
            report(&d, color);
            return 1;
        }
    };
    if let Some(path) = out {
        let saved = SavedPlan {
            kind: "rel-saved-plan".into(),
            plan: outcome.plan.clone(),
        };
        let text = serde_json::to_string_pretty(&saved).expect("a plan serialises") + "\n";
        if !write_file(path, &text, color) {
            return 1;
        }
        eprintln!(
            "saved the plan to {}; apply it with `rel apply ... {}`",
            path.display(),
            path.display()
        );
    }
    let code = if outcome.plan.has_changes() { 2 } else { 0 };
    // The process ends next: freeing a large environment's objects one by
    // one would only delay it.
    std::mem::forget(desired);
    code
}

pub fn apply(args: &DeployArgs, saved_path: Option<&Path>, auto_approve: bool, color: bool) -> u8 {
    // A saved plan may come last among the paths.
    let mut args = args.clone();
    let mut saved_path = saved_path.map(Path::to_path_buf);
    if saved_path.is_none()
        && args.environment.paths.len() > 1
        && let Some(last) = args.environment.paths.last()
        && last.is_file()
        && last.extension().is_none_or(|e| e != "rel")
    {
        saved_path = args.environment.paths.pop();
    }
    let saved = match &saved_path {
        None => None,
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| {
                Diagnostic::error(
                    codes::STATE_UNREADABLE,
                    format!("cannot read `{}`: {e}", p.display()),
                )
            })
            .and_then(|t| SavedPlan::read(&t, &p.display().to_string()))
        {
            Ok(s) => Some(Box::new(s)),
            Err(d) => {
                report(&d, color);
                return 1;
            }
        },
    };
    let mut desired = match desired(&args.environment, args.target, color, Legacy::default()) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let ask = saved.is_none() && !auto_approve;
    let job = Job {
        args: &args,
        mode: Mode::Apply { saved },
        format: PlanFormat::Text,
        ask,
        verb: "apply",
    };
    finish(execute(job, &mut desired), "apply", color)
}

pub fn destroy(args: &DeployArgs, include_shared: bool, auto_approve: bool, color: bool) -> u8 {
    let mut desired = match desired(&args.environment, args.target, color, Legacy::default()) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let job = Job {
        args,
        mode: Mode::Destroy { include_shared },
        format: PlanFormat::Text,
        ask: !auto_approve,
        verb: "destroy",
    };
    finish(execute(job, &mut desired), "destroy", color)
}

/// The closing summary and exit code of apply and destroy.
fn finish(result: Result<Outcome, Diagnostic>, verb: &str, color: bool) -> u8 {
    let outcome = match result {
        Ok(o) => o,
        Err(d) => {
            report(&d, color);
            return 1;
        }
    };
    if outcome.declined {
        eprintln!("{verb} cancelled: nothing was changed");
        return 1;
    }
    if !outcome.plan.has_changes() {
        eprintln!("{verb}: nothing to do");
        return 0;
    }
    eprintln!();
    for r in &outcome.results {
        eprintln!(
            "{} {:<28} {:<8} {}",
            if r.ok { "ok  " } else { "FAIL" },
            r.name,
            r.action.word(),
            r.outcome
        );
    }
    if let Some(d) = &outcome.error {
        report(d, color);
        eprintln!(
            "{verb} failed: what succeeded is recorded in state; run {verb} again after fixing the cause"
        );
        return 1;
    }
    let s = &outcome.plan.summary;
    eprintln!(
        "{verb} complete: {} created, {} updated, {} replaced, {} deleted",
        s.create, s.update, s.replace, s.delete
    );
    if !outcome.validation_records.is_empty() {
        print!(
            "{}",
            render::validation_records(&outcome.validation_records)
        );
    }
    0
}

/// `rel state list|show|unlock` and `rel output`.
pub enum StateCommand {
    List,
    Show { env: String, shared: bool },
    Unlock { id: String },
    Output { env: String, json: bool },
}

/// The shared layer's state key of the project the files declare (or of
/// a layout from before projects).
async fn shared_key(backend: &Backend, paths: &[PathBuf]) -> Result<String, Diagnostic> {
    let mut sources = SourceMap::new();
    let (entries, _) = super::files::entries(paths);
    if let Some(project) = crate::declared_project(&mut sources, &entries) {
        let key = crate::identity::shared_layer(&project);
        if backend.read(&key).await?.is_some() {
            return Ok(key);
        }
    }
    Ok(crate::identity::LEGACY_SHARED.to_string())
}

/// The state of environment `env` of the project the files declare.
async fn environment_state(
    backend: &Backend,
    paths: &[PathBuf],
    env: &str,
) -> Result<crate::deploy::layout::Recorded, Diagnostic> {
    let mut sources = SourceMap::new();
    let (entries, _) = super::files::entries(paths);
    let project = crate::declared_project(&mut sources, &entries);
    crate::deploy::layout::environments(backend, project.as_ref())
        .await?
        .into_iter()
        .find(|r| r.name == env)
        .ok_or_else(|| {
            Diagnostic::error(
                codes::STATE_UNREADABLE,
                format!("environment `{env}` has no state in {}", backend.describe()),
            )
            .with_help("`rel state list` shows the states there are.")
        })
}

pub fn state(paths: &[PathBuf], conn: &Connection, command: StateCommand, color: bool) -> u8 {
    let project = project_root(paths);
    let rt = runtime();
    let result: Result<u8, Diagnostic> = rt.block_on(async {
        let backend = open_backend(conn, &project, None).await?;
        match command {
            StateCommand::List => {
                let names = backend.list_names("json").await?;
                if names.is_empty() {
                    eprintln!("no states in {}", backend.describe());
                }
                for name in names {
                    let Some(s) = backend.read(&name).await? else {
                        continue;
                    };
                    let lock = backend.read_lock(&name).await?.map(|(l, _)| l);
                    println!(
                        "{:<28} serial {:<5} {:<24} {:>4} resources{}{}",
                        name,
                        s.state.serial,
                        s.state
                            .stack
                            .as_ref()
                            .map_or("(no stack)", |st| st.status.as_str()),
                        s.state.stack.as_ref().map_or(0, |st| st.resources.len()),
                        if s.state.in_flight.is_some() {
                            "  (change in flight)"
                        } else {
                            ""
                        },
                        lock.map(|l| format!("  locked: {}", l.describe()))
                            .unwrap_or_default()
                    );
                }
                Ok(0)
            }
            StateCommand::Show { env, shared } => {
                let key = if shared {
                    shared_key(&backend, paths).await?
                } else {
                    environment_state(&backend, paths, &env).await?.key
                };
                match backend.read(&key).await? {
                    Some(s) => {
                        print!("{}", s.state.to_json());
                        Ok(0)
                    }
                    None => Err(Diagnostic::error(
                        codes::STATE_UNREADABLE,
                        format!("no state `{key}` in {}", backend.describe()),
                    )
                    .with_help("`rel state list` shows the states there are.")),
                }
            }
            StateCommand::Unlock { id } => {
                let info = backend.force_unlock(&id).await?;
                eprintln!("removed {}", info.describe());
                Ok(0)
            }
            StateCommand::Output { env, json } => {
                let mut outputs = serde_json::Map::new();
                let recorded = environment_state(&backend, paths, &env).await?;
                for key in [recorded.shared_key, recorded.key] {
                    if let Some(s) = backend.read(&key).await?
                        && let Some(stack) = &s.state.stack
                    {
                        let m: serde_json::Map<String, serde_json::Value> = stack
                            .outputs
                            .iter()
                            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                            .collect();
                        outputs.insert(key, serde_json::Value::Object(m));
                    }
                }
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&outputs).expect("outputs serialise")
                    );
                } else {
                    for (stack, m) in &outputs {
                        for (k, v) in m.as_object().into_iter().flatten() {
                            println!("{stack}.{k} = {}", v.as_str().unwrap_or_default());
                        }
                    }
                }
                Ok(0)
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(d) => {
            report(&d, color);
            1
        }
    }
}
