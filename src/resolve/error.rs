//! The resolve phase's errors, converted into diagnostics at the phase boundary.

use crate::diagnostic::{Diagnostic, codes};
use crate::source::Span;

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ResolveError {
    #[error("import path cannot be interpolated")]
    InterpolatedImport { span: Span },
    #[error("unknown module `{name}`")]
    UnknownModule {
        span: Span,
        name: String,
        suggestion: Option<String>,
    },
    #[error("no file `{name}` to import")]
    MissingFile { span: Span, name: String },
    #[error("import `{name}` is outside the project root")]
    OutsideRoot { span: Span, name: String },
    #[error("relative import `{name}` needs a project folder")]
    RelativeImportWithoutRoot { span: Span, name: String },
    #[error("import cycle: {}", modules.join(" → "))]
    ImportCycle {
        span: Span,
        chain: Vec<Span>,
        modules: Vec<String>,
    },
    #[error("unresolved name `{name}`")]
    UnresolvedName {
        span: Span,
        name: String,
        suggestion: Option<String>,
    },
    #[error("`{name}` is defined more than once")]
    Duplicate {
        span: Span,
        previous: Span,
        name: String,
    },
    #[error("module `{module}` has no item `{member}`")]
    UnknownMember {
        span: Span,
        module: String,
        member: String,
        suggestion: Option<String>,
    },
    #[error("`{name}` is {found}, not a component")]
    NotAComponent {
        span: Span,
        name: String,
        found: &'static str,
    },
    #[error("`{name}` is not a type")]
    NotAType {
        span: Span,
        name: String,
        suggestion: Option<String>,
    },
    #[error("`{name}` is {found}, not an app")]
    NotAnApp {
        span: Span,
        name: String,
        found: &'static str,
    },
    #[error("{what} is not allowed {place}")]
    Misplaced {
        span: Span,
        what: &'static str,
        place: &'static str,
        help: &'static str,
    },
}

impl From<ResolveError> for Diagnostic {
    fn from(e: ResolveError) -> Diagnostic {
        let message = e.to_string();
        match e {
            ResolveError::InterpolatedImport { span } => Diagnostic::error(codes::UNRESOLVED_IMPORT, message)
                .with_label(span, "interpolation in an import path")
                .with_help("Imports are resolved before evaluation; write the path as a plain string."),
            ResolveError::UnknownModule { span, suggestion, .. } => {
                let d = Diagnostic::error(codes::UNRESOLVED_IMPORT, message).with_label(span, "no such stdlib module");
                match suggestion {
                    Some(s) => d.with_help(format!("Did you mean \"{s}\"?")),
                    None => d.with_help(format!(
                        "The stdlib modules are {}.",
                        crate::source::STDLIB.iter().map(|(n, _, _)| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
                    )),
                }
            }
            ResolveError::MissingFile { span, .. } => Diagnostic::error(codes::UNRESOLVED_IMPORT, message)
                .with_label(span, "file not found")
                .with_help("Relative imports are resolved from the importing file's folder, e.g. \"./network.rel\"."),
            ResolveError::OutsideRoot { span, .. } => Diagnostic::error(codes::IMPORT_OUTSIDE_ROOT, message)
                .with_label(span, "points outside the project")
                .with_help("Move the module into the project folder, or run rel on a folder that contains both."),
            ResolveError::RelativeImportWithoutRoot { span, .. } => Diagnostic::error(codes::UNRESOLVED_IMPORT, message)
                .with_label(span, "relative import")
                .with_help("Relative imports work in files on disk; only \"std/...\" modules can be imported here."),
            ResolveError::ImportCycle { span, chain, .. } => {
                let mut d = Diagnostic::error(codes::IMPORT_CYCLE, message).with_label(span, "this import closes the cycle");
                for s in chain.into_iter().filter(|s| *s != span) {
                    d = d.with_secondary(s, "imported here");
                }
                d.with_help("Move the shared items into a module that both import.")
            }
            ResolveError::UnresolvedName { span, suggestion, .. } => {
                let d = Diagnostic::error(codes::UNRESOLVED_NAME, message).with_label(span, "not found in this scope");
                match suggestion {
                    Some(s) => d.with_help(format!("Did you mean `{s}`?")),
                    None => d.with_help("Define it with `let`, `param` or another item, or import the module that has it."),
                }
            }
            ResolveError::Duplicate { span, previous, .. } => Diagnostic::error(codes::DUPLICATE_DEFINITION, message)
                .with_label(span, "defined again here")
                .with_secondary(previous, "first defined here")
                .with_help("Rename one of them; names must be unique within a scope."),
            ResolveError::UnknownMember { span, suggestion, .. } => {
                let d = Diagnostic::error(codes::UNKNOWN_MEMBER, message).with_label(span, "not in this module");
                match suggestion {
                    Some(s) => d.with_help(format!("Did you mean `{s}`?")),
                    None => d.with_help("Check the module's items with `rel check` on it, or its source under stdlib/."),
                }
            }
            ResolveError::NotAComponent { span, .. } => Diagnostic::error(codes::NOT_A_COMPONENT, message)
                .with_label(span, "not a component")
                .with_help("Instances take a component: KIND NAME = COMPONENT { ... }."),
            ResolveError::NotAType { span, suggestion, .. } => {
                let d = Diagnostic::error(codes::NOT_A_TYPE, message).with_label(span, "not a type");
                match suggestion {
                    Some(s) => d.with_help(format!("Did you mean `{s}`?")),
                    None => d.with_help("Types are string, int, float, bool, any, secret, list(T), map(T), string enums and schemas."),
                }
            }
            ResolveError::NotAnApp { span, .. } => Diagnostic::error(codes::NOT_AN_APP, message)
                .with_label(span, "not an app")
                .with_help("Environments derive from an `app` block: environment \"NAME\" from APP { ... }."),
            ResolveError::Misplaced { span, help, .. } => {
                Diagnostic::error(codes::MISPLACED_ITEM, message).with_label(span, "misplaced").with_help(help)
            }
        }
    }
}
