//! `rel build`: compile one environment and write its artifacts.

use std::path::Path;

use super::graph::environment_inputs;
use super::{EnvironmentArgs, Format, TargetArg, TemplateFormatArg, print_diagnostics};
use crate::diagnostic::{Diagnostic, codes};
use crate::emit::{BuildOptions, Target, TemplateFormat};
use crate::source::SourceMap;

pub fn run(
    args: &EnvironmentArgs,
    target: TargetArg,
    cfn_format: TemplateFormatArg,
    out: &Path,
    color: bool,
) -> u8 {
    let mut sources = SourceMap::new();
    let (entries, options) = match environment_inputs(&mut sources, args, color) {
        Ok(inputs) => inputs,
        Err(code) => return code,
    };
    let build_options = BuildOptions {
        target: match target {
            TargetArg::Aws => Target::Aws,
            TargetArg::Gcp => Target::Gcp,
        },
        template_format: match cfn_format {
            TemplateFormatArg::Json => TemplateFormat::Json,
            TemplateFormatArg::Yaml => TemplateFormat::Yaml,
        },
    };
    let (model, build) =
        match crate::build_entries(&mut sources, &entries, &options, &build_options) {
            Ok(built) => built,
            Err(diags) => {
                print_diagnostics(&sources, &diags, Format::Human, color);
                return 1;
            }
        };
    // Files written at once (each through its own temporary file).
    let written: Vec<(std::path::PathBuf, std::io::Result<()>)> = {
        use rayon::prelude::*;
        build
            .artifacts
            .par_iter()
            .map(|artifact| {
                let path = out.join(&artifact.path);
                let result =
                    crate::atomic_file::write_atomically(&path, artifact.content.as_bytes());
                (path, result)
            })
            .collect()
    };
    let failures: Vec<Diagnostic> = written
        .iter()
        .filter_map(|(path, result)| {
            let e = result.as_ref().err()?;
            Some(Diagnostic::error(
                codes::WRITE_FAILED,
                format!("cannot write `{}`: {e}", path.display()),
            ))
        })
        .collect();
    if !failures.is_empty() {
        print_diagnostics(&sources, &failures, Format::Human, color);
        return 1;
    }
    for artifact in &build.artifacts {
        println!("{}", artifact.path);
    }
    for m in &build.manual_validation {
        eprintln!(
            "note: certificate `{}` needs DNS validation records created by hand for {} (no managed public zone); index.json and `rel plan` list them",
            m.certificate,
            m.domains.join(", ")
        );
    }
    eprintln!(
        "built environment `{}`: {} resources into {} files in {}",
        model.environment.name,
        model.resources.len(),
        build.artifacts.len(),
        out.display()
    );
    // The process ends here: leave the model's many small allocations to
    // the operating system instead of freeing them one by one (a tenth of
    // the time of a large build).
    std::mem::forget(build);
    std::mem::forget(model);
    0
}
