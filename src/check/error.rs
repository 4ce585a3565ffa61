//! The check phase's errors, converted into diagnostics at the phase boundary.

use crate::diagnostic::{Diagnostic, codes};
use crate::source::Span;

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CheckError {
    #[error("expected {expected}, found {found}")]
    TypeMismatch {
        span: Span,
        expected: String,
        found: String,
        help: Option<String>,
    },
    #[error("missing {what} `{field}` in {owner}")]
    MissingField {
        at: Span,
        field: String,
        what: &'static str,
        owner: String,
        decl: Span,
        hint: String,
    },
    #[error("unknown {what} `{field}` in {owner}")]
    UnknownField {
        span: Span,
        field: String,
        what: &'static str,
        owner: String,
        suggestion: Option<String>,
        known: Vec<String>,
    },
    #[error("{message}")]
    Constraint {
        span: Span,
        message: String,
        rule: Span,
    },
    #[error("`{function}` takes {expected}, but {found} given")]
    ArgumentCount {
        span: Span,
        function: String,
        expected: String,
        found: usize,
    },
    #[error("unknown function `{name}`")]
    UnknownFunction {
        span: Span,
        name: String,
        suggestion: Option<String>,
    },
    #[error("invalid resource type `{type_name}`")]
    InvalidResourceType { span: Span, type_name: String },
    #[error("`{component}` is a {expected}, but the instance says {kind}")]
    KindMismatch {
        span: Span,
        kind: String,
        expected: String,
        component: String,
    },
    #[error("{message}")]
    InvalidConstraint {
        span: Span,
        message: String,
        help: &'static str,
    },
    #[error("`{field}` is set more than once")]
    DuplicateField {
        span: Span,
        previous: Span,
        field: String,
    },
    #[error("override `{path}` matches nothing in app `{app}`")]
    InvalidOverride {
        span: Span,
        path: String,
        app: String,
        suggestion: Option<String>,
    },
    #[error("no file `{path}`")]
    MissingFile { span: Span, path: String },
    #[error("a secret cannot become part of a string")]
    SecretAsText { span: Span },
    #[error("invalid template")]
    InvalidTemplate { span: Span, reason: String },
    #[error("file `{path}` is outside the project root")]
    FileOutsideRoot { span: Span, path: String },
    #[error("`{member}` is a service or job; an override sets one of its fields")]
    WholeMemberOverride { span: Span, member: String },
}

fn suggest(d: Diagnostic, suggestion: Option<String>, otherwise: String) -> Diagnostic {
    match suggestion {
        Some(s) => d.with_help(format!("Did you mean `{s}`?")),
        None => d.with_help(otherwise),
    }
}

impl From<CheckError> for Diagnostic {
    fn from(e: CheckError) -> Diagnostic {
        let message = e.to_string();
        match e {
            CheckError::TypeMismatch { span, expected, help, .. } => {
                let d = Diagnostic::error(codes::TYPE_MISMATCH, message).with_label(span, format!("expected {expected}"));
                d.with_help(help.unwrap_or_else(|| format!("Change the value so that it is {expected}.")))
            }
            CheckError::MissingField { at, field, decl, hint, .. } => Diagnostic::error(codes::MISSING_FIELD, message)
                .with_label(at, format!("add `{field} = ...` here"))
                .with_secondary(decl, "declared here without a default")
                .with_help(hint),
            CheckError::UnknownField { span, suggestion, known, .. } => {
                let d = Diagnostic::error(codes::UNKNOWN_FIELD, message).with_label(span, "not declared");
                let list = if known.is_empty() {
                    "It declares no fields.".to_string()
                } else {
                    format!("Known: {}.", known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "))
                };
                suggest(d, suggestion, list)
            }
            CheckError::Constraint { span, rule, .. } => Diagnostic::error(codes::CONSTRAINT_VIOLATION, message)
                .with_label(span, "this value")
                .with_secondary(rule, "constraint declared here")
                .with_help("Change the value to satisfy the constraint."),
            CheckError::ArgumentCount { span, .. } => Diagnostic::error(codes::WRONG_ARGUMENT_COUNT, message)
                .with_label(span, "wrong number of arguments")
                .with_help("See `rel explain E0305` and the builtin list in the README."),
            CheckError::UnknownFunction { span, suggestion, .. } => {
                let d = Diagnostic::error(codes::UNKNOWN_FUNCTION, message).with_label(span, "not a builtin");
                suggest(d, suggestion, "rel has builtin functions only; components are the unit of reuse.".into())
            }
            CheckError::InvalidResourceType { span, .. } => Diagnostic::error(codes::INVALID_RESOURCE_TYPE, message)
                .with_label(span, "not a provider type")
                .with_help("Use \"AWS::Service::Type\" (CloudFormation), \"k8s:apps/v1/Deployment\" (Kubernetes) or \"gcp:google_storage_bucket\" (GCP)."),
            CheckError::KindMismatch { span, expected, .. } => Diagnostic::error(codes::KIND_MISMATCH, message)
                .with_label(span, format!("expected `{expected}`"))
                .with_help(format!("Write `{expected} NAME = ...`, or instantiate a component of this kind.")),
            CheckError::InvalidConstraint { span, help, .. } => {
                Diagnostic::error(codes::INVALID_CONSTRAINT, message).with_label(span, "invalid constraint").with_help(help)
            }
            CheckError::DuplicateField { span, previous, field } => Diagnostic::error(codes::DUPLICATE_FIELD, message)
                .with_label(span, "set again here")
                .with_secondary(previous, "first set here")
                .with_help(format!("Keep one assignment of `{field}`.")),
            CheckError::InvalidOverride { span, suggestion, .. } => {
                let d = Diagnostic::error(codes::INVALID_OVERRIDE, message).with_label(span, "no such field or service");
                suggest(
                    d,
                    suggestion,
                    "An override names an Environment field, an app field (env.KEY = ...), or a service field (SERVICE.replicas = ...).".into(),
                )
            }
            CheckError::MissingFile { span, .. } => Diagnostic::error(codes::MISSING_FILE, message)
                .with_label(span, "file not found")
                .with_help("Paths in file(..) and template(..) are relative to the module's folder."),
            CheckError::SecretAsText { span } => Diagnostic::error(codes::SECRET_AS_TEXT, message)
                .with_label(span, "a secret")
                .with_help("Pass the secret whole to a field of type `secret` or `any`; rel never puts a secret's value into a string."),
            CheckError::InvalidTemplate { span, reason } => Diagnostic::error(codes::INVALID_TEMPLATE, message)
                .with_label(span, "this template does not parse")
                .with_note(reason)
                .with_help("Templates use tera syntax: {{ value }}, {% if ... %}, {% for ... %}."),
            CheckError::FileOutsideRoot { span, .. } => Diagnostic::error(codes::IMPORT_OUTSIDE_ROOT, message)
                .with_label(span, "outside the project")
                .with_help("Files read by file(..) and template(..) must be inside the project folder, so builds are reproducible."),
            CheckError::WholeMemberOverride { span, member } => Diagnostic::error(codes::INVALID_OVERRIDE, message)
                .with_label(span, "a whole service cannot be replaced")
                .with_help(format!("Override a field, e.g. `{member}.replicas = 3` or `{member}.env.KEY = \"value\"`.")),
        }
    }
}
