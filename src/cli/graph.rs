//! `rel graph`: one environment's resources and dependencies as dot, Mermaid or JSON.

use std::collections::BTreeMap;

use super::{EnvironmentArgs, Format, GraphFormat, files, print_diagnostics};
use crate::compile::{Model, Options, render};
use crate::diagnostic::{Diagnostic, codes};
use crate::source::SourceMap;

/// Reads `NAME=VALUE` pairs from `--set`.
pub fn parse_sets(sets: &[String]) -> Result<BTreeMap<String, String>, Diagnostic> {
    let mut out = BTreeMap::new();
    for set in sets {
        let Some((name, value)) = set.split_once('=') else {
            return Err(Diagnostic::error(
                codes::MISSING_PARAMETER,
                format!("`--set {set}` has no `=`"),
            )
            .with_help("Write --set NAME=VALUE."));
        };
        out.insert(name.trim().to_string(), value.to_string());
    }
    Ok(out)
}

/// The entry files and compile options of `rel build` / `rel graph`; on
/// failure the diagnostics are printed and the exit code is returned.
pub fn environment_inputs(
    sources: &mut SourceMap,
    args: &EnvironmentArgs,
    color: bool,
) -> Result<(Vec<crate::resolve::Entry>, Options), u8> {
    let sets = match parse_sets(&args.sets) {
        Ok(s) => s,
        Err(d) => {
            print_diagnostics(sources, &[d], Format::Human, color);
            return Err(1);
        }
    };
    let (entries, diags) = files::entries(&args.paths);
    if !diags.is_empty() {
        print_diagnostics(sources, &diags, Format::Human, color);
        return Err(1);
    }
    let options = Options {
        env: args.env.clone(),
        sets,
        ..Options::default()
    };
    Ok((entries, options))
}

/// Compiles one environment of the given files; on failure the diagnostics
/// are printed and the exit code is returned.
pub fn compile_environment(
    sources: &mut SourceMap,
    args: &EnvironmentArgs,
    color: bool,
) -> Result<Model, u8> {
    let (entries, options) = environment_inputs(sources, args, color)?;
    crate::compile_entries(sources, &entries, &options).map_err(|diags| {
        print_diagnostics(sources, &diags, Format::Human, color);
        1
    })
}

pub fn run(args: &EnvironmentArgs, format: GraphFormat, color: bool) -> u8 {
    let mut sources = SourceMap::new();
    let model = match compile_environment(&mut sources, args, color) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let text = match format {
        GraphFormat::Dot => render::to_dot(&model),
        GraphFormat::Mermaid => render::to_mermaid(&model),
        GraphFormat::Json => render::to_json(&model),
    };
    print!("{text}");
    0
}
