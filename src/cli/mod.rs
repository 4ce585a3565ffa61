//! The command line: clap commands, rendering, colours and exit codes.
//! The only module that prints or exits.

mod build;
mod check;
mod deploy;
mod drift;
mod files;
mod fmt;
mod graph;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::render::{self, HumanOptions};
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::SourceMap;

/// rel: describe a product once, run many copies of it on AWS or GCP with Kubernetes.
#[derive(Parser, Debug)]
#[command(name = "rel", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// When to colour output: auto (a terminal without NO_COLOR), always, never.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Parse, resolve and type-check .rel files; print every problem found.
    Check {
        /// Files or folders (searched for .rel files). A folder is a project root.
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Rewrite .rel files in the canonical style.
    Fmt {
        /// Files or folders (searched for .rel files).
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
        /// Change nothing; list the files that would change and exit 1 if any would.
        #[arg(long)]
        check: bool,
    },
    /// Compile one environment into CloudFormation or GCP blueprints and Kubernetes manifests.
    Build {
        #[command(flatten)]
        environment: EnvironmentArgs,
        /// The cloud the stacks go to.
        #[arg(long, value_enum, default_value_t = TargetArg::Aws)]
        target: TargetArg,
        /// How CloudFormation templates are written.
        #[arg(long, value_enum, default_value_t = TemplateFormatArg::Json)]
        cfn_format: TemplateFormatArg,
        /// The folder to write into (created if missing).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Print the resource graph of one environment.
    Graph {
        #[command(flatten)]
        environment: EnvironmentArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Compare an environment's templates with its state and live stacks; print what apply would change.
    ///
    /// Exit code: 0 no changes, 2 changes present, 1 error.
    Plan {
        #[command(flatten)]
        args: deploy::DeployArgs,
        /// Also save the plan, for `rel apply PATH --env NAME FILE`.
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: Option<std::path::PathBuf>,
        /// Print the plan as JSON (schema: docs/schema/plan.v1.json); same as --format json.
        #[arg(long)]
        json: bool,
        /// How to print the plan.
        #[arg(long, value_enum)]
        format: Option<deploy::PlanFormatArg>,
        /// Read the live stacks first (`--refresh=false` plans from state alone).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
        refresh: bool,
    },
    /// Make the live stacks match the templates: a saved plan exactly, or a new plan after confirmation.
    Apply {
        #[command(flatten)]
        args: deploy::DeployArgs,
        /// A plan saved by `rel plan -o FILE` (may also be given last among the paths).
        #[arg(long = "plan", value_name = "FILE")]
        plan: Option<std::path::PathBuf>,
        /// Do not ask for confirmation (for CI).
        #[arg(long)]
        auto_approve: bool,
        #[command(flatten)]
        rollout: deploy::RolloutArgs,
    },
    /// Delete an environment's stacks, in reverse dependency order.
    Destroy {
        #[command(flatten)]
        args: deploy::DeployArgs,
        /// Also delete the shared stack (refused while other environments have state).
        #[arg(long)]
        include_shared: bool,
        /// Do not ask for confirmation (for CI).
        #[arg(long)]
        auto_approve: bool,
    },
    /// Report what changed outside rel since it last applied: modified, deleted, unmanaged, ignored and not-checked resources.
    ///
    /// Exit code: 0 in sync, 2 drift found, 1 error.
    Drift {
        #[command(flatten)]
        args: drift::DriftArgs,
    },
    /// Inspect states and locks.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Print the recorded stack outputs of an environment (and of the shared stack).
    Output {
        /// The project folder (its .rel/state holds local states).
        #[arg(default_value = ".")]
        path: std::path::PathBuf,
        /// The environment.
        #[arg(long)]
        env: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        connection: deploy::Connection,
    },
    /// Explain a diagnostic code, e.g. `rel explain E0201`; without a code, list them all.
    Explain {
        /// A code (E0201) or its name (unresolved-name).
        code: Option<String>,
    },
    /// Print a shell completion script, e.g. `rel completions bash > /etc/bash_completion.d/rel`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// List the states, their serials, stacks and locks.
    List {
        /// The project folder (its .rel/state holds local states).
        #[arg(default_value = ".")]
        path: std::path::PathBuf,
        #[command(flatten)]
        connection: deploy::Connection,
    },
    /// Print an environment's state (secrets appear only as salted hashes).
    Show {
        #[arg(default_value = ".")]
        path: std::path::PathBuf,
        /// The environment.
        #[arg(long, required_unless_present = "shared")]
        env: Option<String>,
        /// The shared stack's state instead.
        #[arg(long)]
        shared: bool,
        #[command(flatten)]
        connection: deploy::Connection,
    },
    /// Remove a lock by its id (printed by the command that found it held).
    Unlock {
        /// The lock id.
        id: String,
        #[arg(default_value = ".")]
        path: std::path::PathBuf,
        #[command(flatten)]
        connection: deploy::Connection,
    },
}

/// What names one environment to compile: `rel build` and `rel graph`.
#[derive(clap::Args, Debug, Clone)]
pub struct EnvironmentArgs {
    /// Files or folders (searched for .rel files). A folder is a project root.
    #[arg(required = true)]
    pub paths: Vec<std::path::PathBuf>,
    /// The environment, by the name its `environment` item gives it.
    #[arg(long)]
    pub env: String,
    /// Set a top-level parameter (or `git.sha`, `git.branch`): NAME=VALUE; repeatable.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum TargetArg {
    Aws,
    Gcp,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum TemplateFormatArg {
    Json,
    Yaml,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
    /// JSON, version 1.
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Source snippets for a terminal.
    Human,
    /// One JSON document (version 1), on standard output.
    Json,
    /// GitHub Actions annotations, on standard output.
    Github,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let code = match cli.command {
        Command::Check { paths, format } => check::run(&paths, format, color),
        Command::Fmt { paths, check } => fmt::run(&paths, check, color),
        Command::Build {
            environment,
            target,
            cfn_format,
            out,
        } => build::run(&environment, target, cfn_format, &out, color),
        Command::Graph {
            environment,
            format,
        } => graph::run(&environment, format, color),
        Command::Plan {
            args,
            out,
            json,
            format,
            refresh,
        } => deploy::plan(&args, out.as_deref(), json, format, refresh, color),
        Command::Apply {
            mut args,
            plan,
            auto_approve,
            rollout,
        } => {
            args.rollout = Some(rollout);
            deploy::apply(&args, plan.as_deref(), auto_approve, color)
        }
        Command::Destroy {
            args,
            include_shared,
            auto_approve,
        } => deploy::destroy(&args, include_shared, auto_approve, color),
        Command::Drift { args } => drift::run(&args, color),
        Command::State { command } => match command {
            StateCommand::List { path, connection } => {
                deploy::state(&[path], &connection, deploy::StateCommand::List, color)
            }
            StateCommand::Show {
                path,
                env,
                shared,
                connection,
            } => deploy::state(
                &[path],
                &connection,
                deploy::StateCommand::Show {
                    env: env.unwrap_or_default(),
                    shared,
                },
                color,
            ),
            StateCommand::Unlock {
                id,
                path,
                connection,
            } => deploy::state(
                &[path],
                &connection,
                deploy::StateCommand::Unlock { id },
                color,
            ),
        },
        Command::Output {
            path,
            env,
            json,
            connection,
        } => deploy::state(
            &[path],
            &connection,
            deploy::StateCommand::Output { env, json },
            color,
        ),
        Command::Explain { code } => explain(code.as_deref()),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "rel", &mut std::io::stdout());
            0
        }
    };
    ExitCode::from(code)
}

/// Prints diagnostics in the chosen format: human ones to standard error,
/// machine ones to standard output.
fn print_diagnostics(sources: &SourceMap, diags: &[Diagnostic], format: Format, color: bool) {
    match format {
        Format::Human => {
            let text = render::render_human(
                sources,
                diags,
                HumanOptions {
                    color,
                    ..HumanOptions::default()
                },
            );
            eprint!("{text}");
        }
        Format::Json => print!("{}", render::render_json(sources, diags)),
        Format::Github => print!("{}", render::render_github(sources, diags)),
    }
}

fn count(diags: &[Diagnostic], severity: Severity) -> usize {
    diags.iter().filter(|d| d.severity == severity).count()
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn explain(code: Option<&str>) -> u8 {
    use crate::diagnostic::codes;
    match code {
        None => {
            for doc in codes::ALL {
                println!("{} {:<26} {}", doc.code.id, doc.code.name, doc.what);
            }
            0
        }
        Some(key) => match codes::lookup(key) {
            Some(doc) => {
                println!(
                    "{} {}\n\n{}\n\nWhy: {}\n\nExample: {}",
                    doc.code.id, doc.code.name, doc.what, doc.why, doc.example
                );
                0
            }
            None => {
                eprintln!("error: no diagnostic code `{key}`; `rel explain` lists them all");
                1
            }
        },
    }
}
