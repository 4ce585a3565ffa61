//! `rel drift`: what changed outside rel, per environment, as text,
//! Markdown, JSON or HTML (exit 0 in sync, 2 drift found, 1 error).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::deploy::{
    Connection, GcpArgs, open_backend, project_root, report, runtime, sdk, write_file,
};
use super::graph::environment_inputs;
use super::{EnvironmentArgs, Format, TargetArg, print_diagnostics};
use crate::deploy::Desired;
use crate::deploy::kubernetes::KubeOptions;
use crate::deploy::layout::{Legacy, Recorded};
use crate::diagnostic::{Diagnostic, codes};
use crate::drift::check::{Providers, Subject};
use crate::drift::{Report, render};
use crate::emit::{BuildOptions, Target, TemplateFormat};
use crate::source::SourceMap;
use crate::state::State;
use crate::state::backend::{Backend, s3_client};

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum DriftFormat {
    Text,
    Markdown,
    Json,
    Html,
}

/// Options of `rel drift`.
#[derive(clap::Args, Debug, Clone)]
pub struct DriftArgs {
    /// Files or folders (searched for .rel files). A folder is a project root.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The environment, by the name its `environment` item gives it.
    #[arg(
        long,
        required_unless_present = "all_envs",
        conflicts_with = "all_envs"
    )]
    pub env: Option<String>,
    /// Every environment that has state (and the shared layer once).
    #[arg(long)]
    pub all_envs: bool,
    /// Set a top-level parameter (or `git.sha`, `git.branch`): NAME=VALUE; repeatable.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
    /// How to write the report.
    #[arg(long, value_enum, default_value_t = DriftFormat::Text)]
    pub format: DriftFormat,
    /// Write the report to this file instead of standard output.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 2 also when resources could not be checked (by default only drift does).
    #[arg(long)]
    pub fail_on_unchecked: bool,
    #[command(flatten)]
    pub connection: Connection,
    /// Give up waiting for CloudFormation's drift detection of a stack after this many seconds (its resources are then reported as not checked).
    #[arg(long, default_value_t = 300, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
    /// At most this many environments checked at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallelism: u16,
    /// The kubeconfig file [default: KUBECONFIG, ~/.kube/config, or the in-cluster service account].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context [default: the environment's `kube_context`, else the current context].
    #[arg(long, env = "REL_KUBE_CONTEXT", value_name = "NAME")]
    pub kube_context: Option<String>,
    /// The cloud the environment's layers are on.
    #[arg(long, value_enum, default_value_t = TargetArg::Aws)]
    pub target: TargetArg,
    #[command(flatten)]
    pub gcp: GcpArgs,
}

/// The environment compiled with the parameters it was applied with
/// (then `--set` on top), or None when the template does not declare it.
fn compile(
    args: &DriftArgs,
    env: &str,
    applied_with: &std::collections::BTreeMap<String, String>,
    target: Target,
    color: bool,
    legacy: Legacy,
) -> Result<Option<Desired>, u8> {
    let mut sources = SourceMap::new();
    let environment = EnvironmentArgs {
        paths: args.paths.clone(),
        env: env.to_string(),
        sets: applied_with
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .chain(args.sets.iter().cloned())
            .collect(),
    };
    let (entries, mut options) = environment_inputs(&mut sources, &environment, color)?;
    options.legacy_shared = legacy.shared;
    options.legacy_environment = legacy.environment;
    let build_options = BuildOptions {
        target,
        template_format: TemplateFormat::Json,
    };
    match crate::build_entries(&mut sources, &entries, &options, &build_options) {
        Ok((model, build)) => Desired::from_build(&model, &build, target)
            .map(Some)
            .map_err(|d| {
                report(&d, color);
                1
            }),
        Err(diags)
            if diags.len() == 1
                && diags[0].code == codes::UNKNOWN_ENVIRONMENT
                && diags[0].message.starts_with("no environment") =>
        {
            Ok(None)
        }
        Err(diags) => {
            print_diagnostics(&sources, &diags, Format::Human, color);
            Err(1)
        }
    }
}

/// The environments to check: the one named, or every one of the
/// project with state.
async fn environments(
    args: &DriftArgs,
    backend: &Backend,
    project: Option<&crate::identity::ProjectName>,
) -> Result<Vec<Recorded>, Diagnostic> {
    let mut all = crate::deploy::layout::environments(backend, project).await?;
    if let Some(env) = &args.env {
        all.retain(|r| &r.name == env);
        if all.is_empty() {
            return Err(Diagnostic::error(
                codes::DRIFT_NO_STATE,
                format!("environment `{env}` has no state in {}", backend.describe()),
            )
            .with_help("Apply it first (`rel apply PATH --env NAME`), or point --state at where its state is kept."));
        }
    }
    if all.is_empty() {
        return Err(Diagnostic::error(
            codes::DRIFT_NO_STATE,
            format!("no environment has state in {}", backend.describe()),
        )
        .with_help("Apply an environment first, or point --state at where its state is kept."));
    }
    Ok(all)
}

/// What one subject is: its name, the key of its own layer, the selector
/// of its objects and its project.
struct Whose<'a> {
    name: &'a str,
    env_key: String,
    names: Option<&'a crate::identity::Names>,
}

fn subject(
    whose: Whose<'_>,
    target: Target,
    desired: Option<&Desired>,
    states: Vec<(String, State)>,
) -> Subject {
    let name = whose.name;
    let mut warnings = Vec::new();
    if desired.is_none() && name != "shared" {
        warnings.push(format!(
            "the template does not declare environment `{name}` (with the parameters it was applied with, and --set): it was checked from its state alone, without ignore rules"
        ));
    }
    let recorded = whose.names;
    Subject {
        name: name.to_string(),
        target,
        states,
        namespace: desired.map(|d| d.namespace.clone()).unwrap_or_else(|| {
            recorded.map_or_else(
                || crate::identity::legacy_kubernetes_name(name),
                |n| n.namespace.clone(),
            )
        }),
        env_key: whose.env_key,
        selector: recorded.map_or_else(
            || crate::identity::legacy_selector(name),
            crate::identity::Names::selector,
        ),
        project: recorded
            .filter(|n| !n.legacy)
            .map(|n| n.identity.project.to_string()),
        kube_context: desired.and_then(|d| d.kube_context.clone()),
        rules: desired.map(|d| d.drift_ignore.clone()).unwrap_or_default(),
        warnings,
    }
}

/// `rel drift`.
pub fn run(args: &DriftArgs, color: bool) -> u8 {
    let target = match args.target {
        TargetArg::Aws => Target::Aws,
        TargetArg::Gcp => Target::Gcp,
    };
    let project = project_root(&args.paths);
    let rt = runtime();
    let result: Result<(Report, bool), u8> = rt.block_on(async {
        let fail = |d: Diagnostic| {
            report(&d, color);
            1u8
        };
        let config = match target {
            Target::Aws => Some(sdk(&args.connection).await.map_err(fail)?),
            Target::Gcp => None,
        };
        let backend = open_backend(&args.connection, &project, config.as_ref())
            .await
            .map_err(fail)?;
        let gcp = match target {
            Target::Gcp => {
                let gcp = crate::deploy::gcp::Gcp::connect(&args.gcp.options())
                    .await
                    .map_err(fail)?;
                Some(Arc::new(gcp))
            }
            Target::Aws => None,
        };
        let providers = Providers {
            cloudformation: config.as_ref().map(crate::deploy::aws::client),
            s3: config.as_ref().map(s3_client),
            tagging: config
                .as_ref()
                .map(aws_sdk_resourcegroupstagging::Client::new),
            gcp,
            kube: KubeOptions {
                kubeconfig: args.kubeconfig.clone(),
                context: args.kube_context.clone(),
                ..KubeOptions::default()
            },
            detect: crate::drift::aws::DetectOptions {
                timeout: Duration::from_secs(args.timeout),
                poll: Duration::from_secs(2),
            },
        };
        let declared = {
            let mut sources = SourceMap::new();
            let (entries, _) = super::files::entries(&args.paths);
            crate::declared_project(&mut sources, &entries)
        };
        let recorded = environments(args, &backend, declared.as_ref())
            .await
            .map_err(fail)?;
        let mut shared_states: std::collections::BTreeMap<String, State> =
            std::collections::BTreeMap::new();
        for r in &recorded {
            if !shared_states.contains_key(&r.shared_key)
                && let Some(s) = backend.read(&r.shared_key).await.map_err(fail)?
            {
                shared_states.insert(r.shared_key.clone(), s.state);
            }
        }
        let mut subjects = Vec::new();
        let mut uncompiled: Vec<String> = Vec::new();
        for r in &recorded {
            let name = &r.name;
            let legacy = Legacy {
                environment: r.state.names.is_none(),
                shared: r.shared_key == crate::identity::LEGACY_SHARED,
            };
            // With --all-envs one environment that no longer compiles is
            // checked from its state; the run still ends in error.
            let desired = match compile(args, name, &r.state.parameters, target, color, legacy) {
                Ok(d) => d,
                Err(_) if args.all_envs => {
                    uncompiled.push(name.clone());
                    None
                }
                Err(code) => return Err(code),
            };
            let mut states = vec![(r.key.clone(), r.state.clone())];
            // One environment: its shared layer with it; all of them: each
            // shared layer once, on its own.
            if !args.all_envs
                && let Some(s) = shared_states.get(&r.shared_key)
            {
                states.insert(0, (r.shared_key.clone(), s.clone()));
            }
            let whose = Whose {
                name,
                env_key: r.key.clone(),
                names: r.state.names.as_ref(),
            };
            let mut s = subject(whose, target, desired.as_ref(), states);
            if uncompiled.contains(name) {
                s.warnings = vec![format!(
                    "environment `{name}` could not be compiled (the errors are above): it was checked from its state alone, without ignore rules"
                )];
            }
            subjects.push(s);
        }
        if args.all_envs {
            for (key, s) in shared_states.into_iter().rev() {
                // The shared layer serves every environment: the rules any
                // of them declares apply to it.
                let names = s.names.clone();
                let whose = Whose {
                    name: "shared",
                    env_key: String::new(),
                    names: names.as_ref(),
                };
                let mut shared = subject(whose, target, None, vec![(key, s)]);
                for other in &subjects {
                    for rule in &other.rules {
                        if !shared.rules.contains(rule) {
                            shared.rules.push(rule.clone());
                        }
                    }
                }
                subjects.insert(0, shared);
            }
        }
        let at = crate::drift::report_time();
        let today = crate::state::rfc3339(at)[..10].to_string();
        // Environments at once, at most --parallelism (drift detection
        // keeps a stack busy for a while); reported in their order.
        let providers = Arc::new(providers);
        let limit = Arc::new(tokio::sync::Semaphore::new(usize::from(args.parallelism)));
        let mut running = tokio::task::JoinSet::new();
        for (index, s) in subjects.into_iter().enumerate() {
            let (providers, limit, today) = (providers.clone(), limit.clone(), today.clone());
            running.spawn(async move {
                let _permit = limit.acquire_owned().await;
                eprintln!("rel drift: checking {}", s.name);
                (index, crate::drift::check::check(&providers, s, &today).await)
            });
        }
        let mut reports = Vec::new();
        while let Some(done) = running.join_next().await {
            match done {
                Ok(r) => reports.push(r),
                Err(e) => {
                    return Err(fail(Diagnostic::error(
                        codes::PROVIDER_ERROR,
                        format!("an environment's check stopped: {e}"),
                    )));
                }
            }
        }
        reports.sort_by_key(|(index, _)| *index);
        let report = Report::new(
            crate::state::rfc3339(at),
            reports.into_iter().map(|(_, r)| r).collect(),
        );
        Ok((report, !uncompiled.is_empty()))
    });
    let (report_doc, uncompiled) = match result {
        Ok(r) => r,
        Err(code) => return code,
    };
    let text = match args.format {
        DriftFormat::Text => render::text(&report_doc),
        DriftFormat::Markdown => render::markdown(&report_doc),
        DriftFormat::Json => {
            serde_json::to_string_pretty(&report_doc).expect("a report serialises") + "\n"
        }
        DriftFormat::Html => match render::html(&report_doc) {
            Ok(t) => t,
            Err(d) => {
                report(&d, color);
                return 1;
            }
        },
    };
    match &args.out {
        Some(path) => {
            if !write_file(path, &text, color) {
                return 1;
            }
            eprintln!("rel drift: report written to {}", path.display());
        }
        None => {
            let colored =
                color && args.format == DriftFormat::Text && std::io::stdout().is_terminal();
            let text = if colored { paint(&text) } else { text };
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }
    let unchecked = args.fail_on_unchecked && report_doc.summary.not_checked > 0;
    if uncompiled {
        1
    } else if report_doc.drifted || unchecked {
        2
    } else {
        0
    }
}

/// Colours a text report's lines by their marker: modified and ignored
/// yellow and dim, deleted and expected values red, unmanaged and actual
/// values green, not checked magenta, warnings bold yellow.
fn paint(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.lines() {
        let body = line.trim_start();
        let code = match body.chars().next() {
            _ if body.starts_with("warning:") => "1;33",
            Some('~') => "33",
            Some('-') => "31",
            Some('+') => "32",
            Some('?') => "35",
            Some('=') => "2",
            _ => "",
        };
        if code.is_empty() {
            out.push_str(line);
        } else {
            out.push_str(&format!("\x1b[{code}m{line}\x1b[0m"));
        }
        out.push('\n');
    }
    out
}
