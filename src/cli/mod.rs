//! The command line: clap commands, rendering, colours and exit codes.
//! The only module that prints or exits.

mod build;
mod check;
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

/// What names one environment to compile: `rel build` and `rel graph`.
#[derive(clap::Args, Debug)]
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
