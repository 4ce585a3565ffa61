//! The environment's identity (project, app, environment) and the names
//! made from it: which stack, deployment, namespace and labels it gets.

use super::{Compiler, Ctx, Options};
use crate::diagnostic::{Diagnostic, codes};
use crate::eval::value::Value;
use crate::identity::{Identity, Names, ProjectName};
use crate::resolve::ItemRef;
use crate::syntax::ast::*;

impl Compiler<'_> {
    /// The project's declared name: the `project` item of the program.
    fn project(&self) -> Result<ProjectName, Diagnostic> {
        for id in self.program.ids() {
            for item in &self.program.module(id).tree.items {
                if let ItemKind::Project { name } = &item.kind
                    && let Some(text) = name.as_plain()
                    && let Ok(project) = ProjectName::new(&text)
                {
                    return Ok(project);
                }
            }
        }
        Err(Diagnostic::error(codes::MISSING_PROJECT, "no project declared")
            .with_help("Declare the project's stable name once, at the top of an entry file: `project \"acme-shop\"`. Every stack, namespace and state key rel creates derives from it."))
    }

    /// The names of the selected environment: from its identity, the
    /// app's (or the environment's) `namespace`, and whether its layers'
    /// states were written before projects (`options.legacy_*`).
    pub(super) fn environment_names(
        &self,
        options: &Options,
        app: &ItemRef,
        environment: &ItemRef,
        app_name: &str,
        env_name: &str,
    ) -> Result<Names, Vec<Diagnostic>> {
        let project = self.project().map_err(|d| vec![d])?;
        let identity = Identity {
            project,
            app: app_name.to_string(),
            environment: env_name.to_string(),
        };
        if options.legacy_environment {
            return Ok(Names::legacy(&identity));
        }
        let namespace = match self
            .attribute(environment, "namespace")
            .or_else(|| self.attribute(app, "namespace"))
        {
            None => None,
            Some(expr) => match self.try_eval(expr, &Ctx::default()).map_err(|d| vec![d])? {
                Value::Str(text) if is_dns_label(&text) => Some(text.to_string()),
                Value::Null => None,
                other => {
                    return Err(vec![
                        Diagnostic::error(
                            codes::CONSTRAINT_VIOLATION,
                            format!(
                                "namespace `{}` is not a valid Kubernetes namespace",
                                other.as_text().unwrap_or_default()
                            ),
                        )
                        .with_label(expr.span, format!("in environment `{env_name}`"))
                        .with_help("A namespace is a DNS label: lower-case letters, digits and `-`, starting and ending with a letter or digit, at most 63 characters."),
                    ]);
                }
            },
        };
        let mut names = Names::of(&identity, namespace.as_deref());
        if options.legacy_shared {
            names.shared = crate::identity::LEGACY_SHARED.to_string();
        }
        Ok(names)
    }

    /// The expression an item's body assigns to `field`, if any.
    fn attribute(&self, item: &ItemRef, field: &str) -> Option<&Expr> {
        self.item(item)
            .kind
            .body()?
            .entries
            .iter()
            .find_map(|e| match e {
                Entry::Attr(a) if a.path.is(field) => Some(&a.value),
                _ => None,
            })
    }
}

/// An RFC 1123 label: what Kubernetes accepts as a namespace.
pub fn is_dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= crate::identity::LABEL_MAX
        && text.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && text.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Fills what a raw Kubernetes `resource` leaves to rel: in an
/// environment, its namespace (unless it is a Namespace itself) and the
/// environment's ownership labels; in the shared layer, rel's and the
/// project's.
pub(super) fn place_object(
    properties: &mut crate::eval::value::Fields,
    kind: &str,
    names: &Names,
    in_environment: bool,
) {
    use crate::eval::value::{Fields, Str};
    let mut meta = match properties.remove("metadata") {
        Some(Value::Map(m)) => m,
        Some(other) => {
            properties.insert("metadata", other);
            return;
        }
        None => Fields::new(),
    };
    if in_environment
        && kind != "Namespace"
        && !matches!(meta.get("namespace"), Some(Value::Str(_)))
    {
        meta.insert("namespace", Value::Str(names.namespace.as_str().into()));
    }
    let mut labels = match meta.remove("labels") {
        Some(Value::Map(m)) => m,
        _ => Fields::new(),
    };
    for (k, v) in names.labels() {
        if in_environment
            || matches!(
                k,
                crate::identity::MANAGED_BY | crate::identity::PROJECT_LABEL
            )
        {
            labels.insert(Str::const_new(k), Value::Str(v.into()));
        }
    }
    meta.insert("labels", Value::Map(labels));
    properties.insert("metadata", Value::Map(meta));
}
