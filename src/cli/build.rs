//! `rel build`: compile one environment and write its artifacts.

use std::path::Path;

use super::graph::environment_inputs;
use super::{EnvironmentArgs, Format, TargetArg, TemplateFormatArg, print_diagnostics};
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
                let result = write_atomically(&path, &artifact.content);
                (path, result)
            })
            .collect()
    };
    let mut failed = false;
    for (path, result) in &written {
        if let Err(e) = result {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            failed = true;
        }
    }
    if failed {
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

/// Writes through a temporary file and a rename, so a reader never sees half a file.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
