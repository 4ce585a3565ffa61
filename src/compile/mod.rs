//! Compile: one environment of a checked program → a model of resources
//! with evaluated properties and a dependency graph. Components are
//! expanded per instance, the app per environment (with its overrides), and
//! services and jobs into Kubernetes objects. Values known only after apply
//! stay symbolic and become graph edges.

mod kubernetes;
mod names;
pub mod render;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

pub use crate::address::{Address, Layer};
pub use crate::identity::{APP_LABEL, ENVIRONMENT_LABEL, MANAGED_BY, PROJECT_LABEL};
pub use kubernetes::{ENV_SECRET, secret_key};
pub use names::is_dns_label;

use crate::check::Checked;
use crate::diagnostic::{Diagnostic, codes};
use crate::eval::value::{Fields, Symbol, Value};
use crate::eval::{self, EvalError, Files, Names};
use crate::graph::DepGraph;
use crate::resolve::{Def, ItemRef, Program};
use crate::source::{Origin, SourceMap, Span};
use crate::syntax::ast::*;

/// What to build.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The environment's name, as its `environment` item evaluates it.
    pub env: String,
    /// `--set NAME=VALUE` for top-level parameters (and `git.sha`, `git.branch`).
    pub sets: BTreeMap<String, String>,
    /// Give the environment the names rel gave it before projects: its
    /// state was written then (see `identity::Names::legacy`).
    pub legacy_environment: bool,
    /// Likewise for the shared layer (`rel-shared`).
    pub legacy_shared: bool,
}

/// Which provider a resource goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    CloudFormation,
    Kubernetes,
    Gcp,
}

/// One resource of the model.
#[derive(Clone, Debug)]
pub struct Resource {
    pub address: Address,
    pub provider: Provider,
    /// `AWS::EC2::VPC`, `apps/v1/Deployment`, `google_container_cluster`.
    pub type_name: crate::eval::value::Str,
    /// Evaluated properties: a map. Shared, so that a renderer on another
    /// thread can write the resource while compilation goes on.
    pub properties: Arc<Value>,
    /// Where it was declared (for a service's objects, the service).
    pub span: Span,
}

/// The selected environment.
#[derive(Clone, Debug, Serialize)]
pub struct Environment {
    pub name: String,
    pub tier: String,
    pub app: String,
    pub ephemeral: bool,
    /// The Kubernetes namespace the environment's objects go to.
    pub namespace: String,
    /// Its identity and every name made from it.
    pub names: crate::identity::Names,
    /// The kubeconfig context its objects are applied with, if it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kube_context: Option<String>,
    /// Differences `rel drift` does not count: the app's rules, then the
    /// environment's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift_ignore: Vec<DriftRule>,
}

/// An ignore rule of `rel drift` (the `DriftIgnore` schema).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DriftRule {
    /// A glob over `RESOURCE.FIELD.PATH` (`*` within a segment, `**` across).
    pub path: String,
    pub reason: String,
    /// The last day (UTC) the rule ignores, `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Where the rule is written.
    #[serde(skip)]
    pub span: Span,
}

/// One environment compiled: its resources and how they depend on each other.
#[derive(Debug)]
pub struct Model {
    pub environment: Environment,
    pub resources: BTreeMap<Address, Resource>,
    /// `a → b`: a depends on b; labelled with the span of the reference.
    pub graph: DepGraph<Address, Span>,
    /// Names of the secrets the environment uses.
    pub secrets: BTreeSet<String>,
}

/// Compiles the environment named in `options`. The program must have
/// checked without errors.
pub fn compile(
    program: &Program,
    checked: &Checked,
    sources: &SourceMap,
    options: &Options,
) -> Result<Model, Vec<Diagnostic>> {
    compile_observed(program, checked, sources, options, &mut |_| {})
}

/// Compiles as `compile` does, showing `observer` each resource as it is
/// made (a resource made twice at one address is shown twice; the later
/// one is the model's). Nothing shown is final until the model is returned.
pub fn compile_observed(
    program: &Program,
    checked: &Checked,
    sources: &SourceMap,
    options: &Options,
    observer: &mut dyn FnMut(&Resource),
) -> Result<Model, Vec<Diagnostic>> {
    let folders = program
        .ids()
        .map(|id| {
            let module = program.module(id);
            let folders = match &sources.get(module.file).origin {
                Origin::Disk(path) => (
                    path.parent().map(std::path::Path::to_path_buf),
                    module.root.clone(),
                ),
                _ => (None, None),
            };
            (module.file, folders)
        })
        .collect();
    let compiler = Compiler {
        program,
        folders,
        defaults: RefCell::new(FxHashMap::default()),
        refs: &checked.refs,
        sets: &options.sets,
        env: RefCell::new(None),
        params: RefCell::new(FxHashMap::default()),
        lets: RefCell::new(FxHashMap::default()),
        in_progress: RefCell::new(FxHashSet::default()),
        instances: RefCell::new(BTreeMap::new()),
        resources: RefCell::new(BTreeMap::new()),
        edges: RefCell::new(Vec::new()),
        secrets: RefCell::new(BTreeSet::new()),
        diags: RefCell::new(Vec::new()),
        app_attrs: RefCell::new(None),
        field_defaults: RefCell::new(FxHashMap::default()),
        git: git_value(&options.sets),
        observer: RefCell::new(observer),
        names: std::cell::OnceCell::new(),
        app_addresses: RefCell::new(FxHashMap::default()),
    };
    compiler.run(options)
}

/// A component instance: where its resources go and its parameters' values.
#[derive(Debug)]
struct Instance {
    address: Address,
    component: ItemRef,
    args: Fields,
}

/// Where an expression is evaluated: inside which instance, for which service.
#[derive(Clone, Default)]
struct Ctx {
    instance: Option<Rc<Instance>>,
    service: Option<Rc<str>>,
}

struct EnvCtx {
    name: String,
    tier: String,
    app: ItemRef,
    app_name: String,
    environment: ItemRef,
}

struct Compiler<'p> {
    program: &'p Program,
    /// Per file: its folder and project root, where file(..) reads.
    folders:
        FxHashMap<crate::source::FileId, (Option<std::path::PathBuf>, Option<std::path::PathBuf>)>,
    /// Evaluated defaults of prelude schemas (literals in the prelude).
    defaults: RefCell<FxHashMap<String, Fields>>,
    refs: &'p FxHashMap<Span, Def>,
    sets: &'p BTreeMap<String, String>,
    env: RefCell<Option<EnvCtx>>,
    params: RefCell<FxHashMap<ItemRef, Value>>,
    lets: RefCell<FxHashMap<(ItemRef, Option<Address>), Value>>,
    in_progress: RefCell<FxHashSet<(ItemRef, Option<Address>)>>,
    instances: RefCell<BTreeMap<Address, Rc<Instance>>>,
    resources: RefCell<BTreeMap<Address, Resource>>,
    edges: RefCell<Vec<(Address, Address, Span)>>,
    secrets: RefCell<BTreeSet<String>>,
    diags: RefCell<Vec<Diagnostic>>,
    /// The app's own attributes (not its members), found once: every
    /// service's settings start from them.
    app_attrs: RefCell<Option<Rc<[&'p Attr]>>>,
    /// Evaluated defaults of schema fields, by schema and field index: they
    /// are evaluated outside any instance, so once is enough.
    field_defaults: RefCell<FxHashMap<(ItemRef, usize), Value>>,
    /// `git`: the commit and branch from `--set git.sha=..`, `git.branch=..`.
    git: Value,
    /// The address of each app's copy in the environment.
    app_addresses: RefCell<FxHashMap<ItemRef, Address>>,
    /// Shown each resource as it is made.
    observer: RefCell<&'p mut dyn FnMut(&Resource)>,
    /// The selected environment's names, once it is selected.
    names: std::cell::OnceCell<crate::identity::Names>,
}

/// The `git` value: sha, branch and short sha, `unknown` when not set.
fn git_value(sets: &BTreeMap<String, String>) -> Value {
    let sha = sets.get("git.sha").map_or("unknown", String::as_str);
    let branch = sets.get("git.branch").map_or("unknown", String::as_str);
    let short: String = sha.chars().take(7).collect();
    Value::Map(Fields::from([
        ("sha", Value::Str(sha.into())),
        ("branch", Value::Str(branch.into())),
        ("short_sha", Value::Str(short.into())),
    ]))
}

/// The evaluator's view of names, in one context.
struct Scope<'c, 'p> {
    compiler: &'c Compiler<'p>,
    ctx: Ctx,
    dir: Option<std::path::PathBuf>,
    root: Option<std::path::PathBuf>,
}

impl Names for Scope<'_, '_> {
    fn value(&mut self, name: &Ident) -> Result<Value, EvalError> {
        match self.compiler.refs.get(&name.span) {
            Some(Def::Item(r)) => self.compiler.item_value(r, &self.ctx),
            Some(Def::Implicit(implicit)) => self.compiler.implicit(implicit, &self.ctx),
            _ => Err(EvalError::NoValue {
                name: name.name.to_string(),
            }),
        }
    }

    fn member(&mut self, base: &Ident, member: &Ident) -> Option<Result<Value, EvalError>> {
        match self.compiler.refs.get(&base.span)? {
            Def::Module(_) => match self.compiler.refs.get(&member.span)? {
                Def::Item(r) => Some(self.compiler.item_value(r, &self.ctx)),
                _ => None,
            },
            Def::Item(r)
                if matches!(
                    self.compiler.program.item(r)?.kind,
                    ItemKind::Instance { .. }
                ) =>
            {
                Some(self.compiler.instance_output(r, &self.ctx, &member.name))
            }
            _ => None,
        }
    }

    fn files(&self) -> Files<'_> {
        Files {
            dir: self.dir.as_deref(),
            root: self.root.as_deref(),
        }
    }
}

impl<'p> Compiler<'p> {
    fn item(&self, r: &ItemRef) -> &'p Item {
        self.program
            .item(r)
            .expect("item references come from the checked program")
    }

    fn report(&self, d: Diagnostic) {
        self.diags.borrow_mut().push(d);
    }

    /// Evaluates `e` in `ctx`, reporting a failure and giving `null` for it.
    fn eval(&self, e: &Expr, ctx: &Ctx) -> Value {
        self.try_eval(e, ctx).unwrap_or_else(|d| {
            self.report(d);
            Value::Null
        })
    }

    fn try_eval(&self, e: &Expr, ctx: &Ctx) -> Result<Value, Diagnostic> {
        let (dir, root) = self
            .folders
            .get(&e.span.file)
            .cloned()
            .unwrap_or((None, None));
        let mut scope = Scope {
            compiler: self,
            ctx: ctx.clone(),
            dir,
            root,
        };
        eval::eval(e, &mut scope).map_err(|(err, span)| err.at(span))
    }

    fn run(&self, options: &Options) -> Result<Model, Vec<Diagnostic>> {
        let top = Ctx::default();
        self.select_environment(options)?;
        let names = {
            let env = self.env.borrow();
            let env = env.as_ref().expect("selected above");
            self.environment_names(
                options,
                &env.app,
                &env.environment,
                &env.app_name,
                &env.name,
            )?
        };
        let _ = self.names.set(names);
        // The shared layer: everything outside apps, in the entry modules.
        for &module in &self.program.entries {
            for (index, item) in self.program.module(module).tree.items.iter().enumerate() {
                let r = ItemRef::top(module).child(index);
                match &item.kind {
                    ItemKind::Instance { .. } => self.expand_instance(&r, &top),
                    ItemKind::Resource { .. } => self.emit_resource(&r, &Address::shared(), &top),
                    _ => {}
                }
            }
        }
        // The environment's copy of the app.
        let (app, app_name, env_name) = {
            let env = self.env.borrow();
            let env = env.as_ref().expect("selected above");
            (env.app, env.app_name.clone(), env.name.clone())
        };
        let app_address = Address::environment(&env_name).child("app", &app_name);
        let namespace = self.names().namespace.clone();
        self.emit_namespace(&env_name, &namespace);
        if let Some(body) = self.item(&app).kind.body() {
            for (index, entry) in body.entries.iter().enumerate() {
                let Entry::Item(item) = entry else { continue };
                let r = app.child(index);
                match &item.kind {
                    ItemKind::Instance { .. } => self.expand_instance(&r, &top),
                    ItemKind::Resource { .. } => self.emit_resource(&r, &app_address, &top),
                    ItemKind::Block {
                        kind: BlockKind::Service,
                        name,
                        ..
                    } => self.expand_service(&r, &name.name),
                    ItemKind::Block {
                        kind: BlockKind::Job,
                        name,
                        ..
                    } => self.expand_job(&r, &name.name),
                    _ => {}
                }
            }
        }
        let diags = self.diags.take();
        if !diags.is_empty() {
            return Err(diags);
        }
        let resources = self.resources.take();
        let mut graph = DepGraph::new();
        for address in resources.keys() {
            graph.add_node(address.clone());
        }
        for (from, to, span) in self.edges.take() {
            // A reference to an instance or a service stands for all of its
            // resources, on either end.
            let sources = under(&resources, &from);
            let targets = under(&resources, &to);
            for source in &sources {
                for target in &targets {
                    if source != target && !target.contains(source) {
                        graph.add_edge((*source).clone(), (*target).clone(), span);
                    }
                }
            }
        }
        // Every Kubernetes object of the environment lives in its namespace.
        let namespace_address = Address::environment(&env_name).child("namespace", &namespace);
        for (address, resource) in &resources {
            if resource.provider == Provider::Kubernetes
                && *address != namespace_address
                && address.layer == namespace_address.layer
            {
                graph.add_edge(address.clone(), namespace_address.clone(), resource.span);
            }
        }
        if let Err(cycle) = graph.levels() {
            let mut d = Diagnostic::error(
                codes::DEPENDENCY_CYCLE,
                format!(
                    "dependency cycle: {}",
                    cycle
                        .nodes
                        .iter()
                        .chain(cycle.nodes.first())
                        .map(Address::to_string)
                        .collect::<Vec<_>>()
                        .join(" → ")
                ),
            );
            for (i, span) in cycle.edges.iter().enumerate() {
                let (from, to) = (&cycle.nodes[i], &cycle.nodes[(i + 1) % cycle.nodes.len()]);
                let message = format!("`{}` refers to `{}` here", from.name(), to.name());
                d = if i == 0 {
                    d.with_label(*span, message)
                } else {
                    d.with_secondary(*span, message)
                };
            }
            return Err(vec![d.with_help(
                "Break the cycle: drop one of these references, or split a resource so that one part can be created first.",
            )]);
        }
        let drift_ignore = {
            let env = self.env.borrow();
            let env = env.as_ref().expect("selected above");
            let mut rules = self.drift_rules(&env.app);
            rules.extend(self.drift_rules(&env.environment));
            rules
        };
        let diags = self.diags.take();
        if !diags.is_empty() {
            return Err(diags);
        }
        let env = self.env.take().expect("selected above");
        let tier = env.tier;
        Ok(Model {
            environment: Environment {
                name: env.name,
                tier,
                app: env.app_name,
                ephemeral: self.env_flag(&env.environment, "ephemeral"),
                kube_context: self.env_text(&env.environment, "kube_context"),
                drift_ignore,
                namespace,
                names: self.names().clone(),
            },
            resources,
            graph,
            secrets: self.secrets.take(),
        })
    }

    fn env_flag(&self, environment: &ItemRef, field: &str) -> bool {
        let Some(body) = self.item(environment).kind.body() else {
            return false;
        };
        body.entries.iter().any(|e| matches!(e, Entry::Attr(a) if a.path.is(field) && matches!(a.value.kind, ExprKind::Bool(true))))
    }

    /// The `drift_ignore` rules an app or environment declares; a rule
    /// whose expiry is not a date is an error at the rule.
    fn drift_rules(&self, item: &ItemRef) -> Vec<DriftRule> {
        let Some(body) = self.item(item).kind.body() else {
            return Vec::new();
        };
        let mut rules = Vec::new();
        for entry in &body.entries {
            let Entry::Attr(a) = entry else { continue };
            if !a.path.is("drift_ignore") {
                continue;
            }
            let Value::List(items) = self.eval(&a.value, &Ctx::default()) else {
                continue;
            };
            let spans: Vec<Span> = match &a.value.kind {
                ExprKind::List(exprs) if exprs.len() == items.len() => {
                    exprs.iter().map(|e| e.span).collect()
                }
                _ => vec![a.value.span; items.len()],
            };
            for (item, span) in items.iter().zip(spans) {
                let Value::Map(fields) = item else { continue };
                let text = |k: &str| match fields.get(k) {
                    Some(Value::Str(s)) => Some(s.to_string()),
                    _ => None,
                };
                let (Some(path), Some(reason)) = (text("path"), text("reason")) else {
                    continue;
                };
                let expires = text("expires");
                if let Some(day) = &expires
                    && crate::state::parse_rfc3339(&format!("{day}T00:00:00Z"))
                        .map(|secs| {
                            crate::state::rfc3339(
                                std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs),
                            )
                        })
                        .is_none_or(|back| !back.starts_with(day.as_str()))
                {
                    self.report(
                        Diagnostic::error(
                            codes::DRIFT_IGNORE_INVALID,
                            format!("`{day}` is not a date"),
                        )
                        .with_label(span, "this rule's `expires`")
                        .with_help("Write the last day the rule applies as YYYY-MM-DD (UTC), for example \"2027-01-31\"."),
                    );
                    continue;
                }
                rules.push(DriftRule {
                    path,
                    reason,
                    expires,
                    span,
                });
            }
        }
        rules
    }

    /// A plain string an environment sets for itself (no interpolation).
    fn env_text(&self, environment: &ItemRef, field: &str) -> Option<String> {
        let body = self.item(environment).kind.body()?;
        body.entries.iter().find_map(|e| match e {
            Entry::Attr(a) if a.path.is(field) => match &a.value.kind {
                ExprKind::Str(s) => s.as_plain(),
                _ => None,
            },
            _ => None,
        })
    }

    /// Finds the `environment` item whose name evaluates to the one asked for.
    fn select_environment(&self, options: &Options) -> Result<(), Vec<Diagnostic>> {
        let top = Ctx::default();
        let mut found = Vec::new();
        let mut names = Vec::new();
        for &module in &self.program.entries {
            for (index, item) in self.program.module(module).tree.items.iter().enumerate() {
                let ItemKind::Environment { name, base, body } = &item.kind else {
                    continue;
                };
                let r = ItemRef::top(module).child(index);
                let Ok(Value::Str(evaluated)) = self.try_eval(
                    &Expr {
                        kind: ExprKind::Str(name.clone()),
                        span: name.span,
                    },
                    &top,
                ) else {
                    continue;
                };
                names.push(evaluated.clone());
                if evaluated == options.env {
                    let app = match self.refs.get(&base.segments[base.segments.len() - 1].span) {
                        Some(Def::Item(app)) => *app,
                        _ => continue,
                    };
                    let tier = body
                        .entries
                        .iter()
                        .find_map(|e| match e {
                            Entry::Attr(a) if a.path.is("tier") => {
                                self.try_eval(&a.value, &top).ok()
                            }
                            _ => None,
                        })
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_else(|| "preprod".to_string());
                    let app_name = match &self.item(&app).kind {
                        ItemKind::Block { name, .. } => name.name.to_string(),
                        _ => continue,
                    };
                    found.push((
                        EnvCtx {
                            name: evaluated.to_string(),
                            tier,
                            app,
                            app_name,
                            environment: r,
                        },
                        name.span,
                    ));
                }
            }
        }
        self.diags.borrow_mut().clear();
        match found.len() {
            1 => {
                *self.env.borrow_mut() = found.pop().map(|(e, _)| e);
                Ok(())
            }
            0 => {
                names.sort();
                let help = if names.is_empty() {
                    "Declare one: environment \"NAME\" from APP { ... }.".to_string()
                } else {
                    format!(
                        "Environments here: {}. Parameters in a name are set with --set.",
                        names.join(", ")
                    )
                };
                Err(vec![
                    Diagnostic::error(
                        codes::UNKNOWN_ENVIRONMENT,
                        format!("no environment `{}`", options.env),
                    )
                    .with_help(help),
                ])
            }
            _ => {
                let mut d = Diagnostic::error(
                    codes::UNKNOWN_ENVIRONMENT,
                    format!("environment `{}` is declared more than once", options.env),
                );
                for (_, span) in &found {
                    d = d.with_label(*span, "declared here");
                }
                Err(vec![d.with_help("Give each environment a distinct name.")])
            }
        }
    }

    fn implicit(&self, name: &str, ctx: &Ctx) -> Result<Value, EvalError> {
        let env = self.env.borrow();
        Ok(match (name, env.as_ref()) {
            ("env", Some(env)) => Value::Str(env.name.clone().into()),
            ("tier", Some(env)) => Value::Str(env.tier.clone().into()),
            ("app", Some(env)) => Value::Str(env.app_name.clone().into()),
            ("service", _) => match &ctx.service {
                Some(s) => Value::Str(s.as_ref().into()),
                None => {
                    return Err(EvalError::NoValue {
                        name: "service".into(),
                    });
                }
            },
            ("git", _) => self.git.clone(),
            (other, _) => {
                return Err(EvalError::NoValue {
                    name: other.to_string(),
                });
            }
        })
    }

    /// The instance (in `ctx`'s chain) whose component holds item `r`, and
    /// the address its items go under.
    fn owner(&self, r: &ItemRef, ctx: &Ctx) -> Result<(Address, Option<Rc<Instance>>), EvalError> {
        let depth = r.path().len();
        if depth <= 1 {
            return Ok((Address::shared(), None));
        }
        let parent = r.ancestor(depth - 1);
        match &self.item(&parent).kind {
            ItemKind::Component { .. } => match &ctx.instance {
                Some(i) if i.component == parent => Ok((i.address.clone(), Some(i.clone()))),
                _ => Err(EvalError::NoValue {
                    name: "an item of another component".into(),
                }),
            },
            ItemKind::Block {
                kind: BlockKind::App,
                name,
                ..
            } => {
                if let Some(address) = self.app_addresses.borrow().get(&parent) {
                    return Ok((address.clone(), None));
                }
                let env = self.env.borrow();
                let env_name = env.as_ref().map_or("", |e| e.name.as_str());
                let address = Address::environment(env_name).child("app", &name.name);
                self.app_addresses
                    .borrow_mut()
                    .insert(parent, address.clone());
                Ok((address, None))
            }
            _ => Err(EvalError::NoValue {
                name: "an item of this block".into(),
            }),
        }
    }

    fn item_value(&self, r: &ItemRef, ctx: &Ctx) -> Result<Value, EvalError> {
        let item = self.item(r);
        match &item.kind {
            ItemKind::Param(field) => {
                if r.path().len() == 1 {
                    return self.top_param(r, field);
                }
                let (_, instance) = self.owner(r, ctx)?;
                instance
                    .and_then(|i| i.args.get(field.name.name.as_str()).cloned())
                    .ok_or(EvalError::NoValue {
                        name: field.name.name.to_string(),
                    })
            }
            ItemKind::Let { value, .. } | ItemKind::Output { value, .. } => {
                let (address, instance) = self.owner(r, ctx)?;
                let key = (*r, Some(address));
                if let Some(v) = self.lets.borrow().get(&key) {
                    return Ok(v.clone());
                }
                if !self.in_progress.borrow_mut().insert(key.clone()) {
                    return Err(EvalError::NoValue {
                        name: "a value that refers to itself".into(),
                    });
                }
                let inner = Ctx {
                    instance,
                    service: ctx.service.clone(),
                };
                let v = self.try_eval(value, &inner);
                self.in_progress.borrow_mut().remove(&key);
                let v = v.map_err(|d| {
                    self.report(d);
                    EvalError::NoValue {
                        name: "a value that failed".into(),
                    }
                })?;
                self.lets.borrow_mut().insert(key, v.clone());
                Ok(v)
            }
            ItemKind::Resource { name, .. } => {
                let (base, _) = self.owner(r, ctx)?;
                Ok(Value::Unknown(Box::new(Symbol {
                    address: base.child("resource", &name.name),
                    attribute: String::new(),
                })))
            }
            ItemKind::Instance { kind, name, .. } => {
                let (base, _) = self.owner(r, ctx)?;
                Ok(Value::Unknown(Box::new(Symbol {
                    address: base.child(&kind.name, &name.name),
                    attribute: String::new(),
                })))
            }
            ItemKind::Block {
                kind: BlockKind::Domain,
                body,
                ..
            } => {
                // The same everywhere: evaluated once.
                let key = (*r, None);
                if let Some(v) = self.lets.borrow().get(&key) {
                    return Ok(v.clone());
                }
                let v = self.attrs(body, &Ctx::default());
                self.lets.borrow_mut().insert(key, v.clone());
                Ok(v)
            }
            ItemKind::Block {
                kind: BlockKind::Service | BlockKind::Job,
                name,
                body,
            } => {
                let inner = Ctx {
                    instance: None,
                    service: Some(name.name.as_str().into()),
                };
                Ok(self.attrs(body, &inner))
            }
            _ => Err(EvalError::NoValue {
                name: item
                    .kind
                    .name()
                    .map_or_else(String::new, |n| n.name.to_string()),
            }),
        }
    }

    /// A top-level parameter: `--set`, else its default.
    fn top_param(&self, r: &ItemRef, field: &FieldDecl) -> Result<Value, EvalError> {
        if let Some(v) = self.params.borrow().get(r) {
            return Ok(v.clone());
        }
        let value = match self.sets.get(field.name.name.as_str()) {
            Some(text) => parse_set(text, &field.ty),
            None => match &field.default {
                Some(default) => self.try_eval(default, &Ctx::default()).map_err(|d| {
                    self.report(d);
                    EvalError::NoValue {
                        name: field.name.name.to_string(),
                    }
                })?,
                None if field.optional => Value::Null,
                None => {
                    self.report(
                        Diagnostic::error(
                            codes::MISSING_PARAMETER,
                            format!("parameter `{}` has no value", field.name.name),
                        )
                        .with_label(field.name.span, "declared here without a default")
                        .with_help(format!("Pass it with --set {}=VALUE.", field.name.name)),
                    );
                    return Err(EvalError::NoValue {
                        name: field.name.name.to_string(),
                    });
                }
            },
        };
        self.params.borrow_mut().insert(*r, value.clone());
        Ok(value)
    }

    /// The attributes of a body as a map (dotted paths nest).
    fn attrs(&self, body: &Body, ctx: &Ctx) -> Value {
        let mut map = Fields::new();
        for entry in &body.entries {
            if let Entry::Attr(a) = entry {
                if a.path.is("depends_on") {
                    continue;
                }
                let v = self.eval(&a.value, ctx);
                set_path(&mut map, &a.path.segments, v);
            }
        }
        Value::Map(map)
    }

    /// The instance an instance item makes, in `ctx`: created once, with its
    /// arguments evaluated where the instance is written.
    fn instance(&self, r: &ItemRef, ctx: &Ctx) -> Result<Rc<Instance>, EvalError> {
        let ItemKind::Instance {
            kind,
            name,
            component,
            body,
        } = &self.item(r).kind
        else {
            return Err(EvalError::NoValue {
                name: "an instance".into(),
            });
        };
        let (base, _) = self.owner(r, ctx)?;
        let address = base.child(&kind.name, &name.name);
        if let Some(i) = self.instances.borrow().get(&address) {
            return Ok(i.clone());
        }
        let component_ref = match self
            .refs
            .get(&component.segments[component.segments.len() - 1].span)
        {
            Some(Def::Item(c)) => *c,
            _ => {
                return Err(EvalError::NoValue {
                    name: component.dotted(),
                });
            }
        };
        let mut args = Fields::new();
        for entry in &body.entries {
            if let Entry::Attr(a) = entry {
                if !a.path.is("depends_on") {
                    let v = self.eval(&a.value, ctx);
                    set_path(&mut args, &a.path.segments, v);
                }
            }
        }
        // Defaults are evaluated inside the instance: they may use other parameters.
        let mut instance = Instance {
            address: address.clone(),
            component: component_ref,
            args,
        };
        // Defaults see the parameters given explicitly.
        let mut snapshot: Option<Ctx> = None;
        if let Some(cbody) = self.item(&component_ref).kind.body() {
            for entry in &cbody.entries {
                if let Entry::Item(item) = entry
                    && let ItemKind::Param(field) = &item.kind
                    && !instance.args.contains_key(field.name.name.as_str())
                {
                    let value = match &field.default {
                        Some(d) => {
                            let given = snapshot.get_or_insert_with(|| Ctx {
                                instance: Some(Rc::new(Instance {
                                    address: address.clone(),
                                    component: component_ref,
                                    args: instance.args.clone(),
                                })),
                                service: None,
                            });
                            self.eval(d, given)
                        }
                        None => Value::Null,
                    };
                    instance.args.insert(field.name.name.to_string(), value);
                }
            }
        }
        // Parameters typed by a schema get the schema's defaults for the
        // fields not given (`nodes = { min = 3 }` keeps `max`'s default).
        if let Some(cbody) = self.item(&component_ref).kind.body() {
            for entry in &cbody.entries {
                if let Entry::Item(item) = entry
                    && let ItemKind::Param(field) = &item.kind
                    && let Some(schema) = self.schema_of(&field.ty)
                    && let Some(Value::Map(given)) = instance.args.get_mut(field.name.name.as_str())
                {
                    self.fill_defaults(given, &schema);
                }
            }
        }
        let instance = Rc::new(instance);
        self.instances
            .borrow_mut()
            .insert(address, instance.clone());
        Ok(instance)
    }

    fn instance_output(&self, r: &ItemRef, ctx: &Ctx, output: &str) -> Result<Value, EvalError> {
        let instance = self.instance(r, ctx)?;
        let body = self
            .item(&instance.component)
            .kind
            .body()
            .ok_or(EvalError::NoValue {
                name: output.into(),
            })?;
        let index = body
            .entries
            .iter()
            .position(|e| matches!(e, Entry::Item(i) if matches!(&i.kind, ItemKind::Output { name, .. } if name.name == output)))
            .ok_or(EvalError::NoValue { name: output.into() })?;
        self.item_value(
            &instance.component.child(index),
            &Ctx {
                instance: Some(instance.clone()),
                service: None,
            },
        )
    }

    /// Creates an instance's resources and nested instances.
    fn expand_instance(&self, r: &ItemRef, ctx: &Ctx) {
        let instance = match self.instance(r, ctx) {
            Ok(i) => i,
            Err(e) => {
                self.report(e.at(self.item(r).span));
                return;
            }
        };
        let inner = Ctx {
            instance: Some(instance.clone()),
            service: None,
        };
        let Some(body) = self.item(&instance.component).kind.body() else {
            return;
        };
        for (index, entry) in body.entries.iter().enumerate() {
            let Entry::Item(item) = entry else { continue };
            let child = instance.component.child(index);
            match &item.kind {
                ItemKind::Resource { .. } => self.emit_resource(&child, &instance.address, &inner),
                ItemKind::Instance { .. } => self.expand_instance(&child, &inner),
                _ => {}
            }
        }
    }

    fn emit_resource(&self, r: &ItemRef, base: &Address, ctx: &Ctx) {
        let item = self.item(r);
        let ItemKind::Resource {
            name,
            type_name,
            body,
        } = &item.kind
        else {
            return;
        };
        let address = base.child("resource", &name.name);
        let type_text = type_name.as_plain().unwrap_or_default();
        let (provider, type_name) = if let Some(k) = type_text.strip_prefix("k8s:") {
            (Provider::Kubernetes, k.to_string())
        } else if let Some(g) = type_text.strip_prefix("gcp:") {
            (Provider::Gcp, g.to_string())
        } else {
            (Provider::CloudFormation, type_text)
        };
        let mut properties = Fields::new();
        for entry in &body.entries {
            let Entry::Attr(a) = entry else { continue };
            if a.path.is("depends_on") {
                self.depends_on(&address, &a.value, ctx);
                continue;
            }
            let v = self.eval(&a.value, ctx);
            self.note_edges(&address, &v, a.span);
            set_path(&mut properties, &a.path.segments, v);
        }
        if provider == Provider::Kubernetes {
            let kind = type_name.rsplit('/').next().unwrap_or_default();
            let in_environment = matches!(address.layer, Layer::Environment(_));
            names::place_object(&mut properties, kind, self.names(), in_environment);
        }
        self.add_resource(Resource {
            address,
            provider,
            type_name: type_name.into(),
            properties: Arc::new(Value::Map(properties)),
            span: item.span,
        });
    }

    fn add_resource(&self, resource: Resource) {
        secret_names(&resource.properties, &mut self.secrets.borrow_mut());
        (self.observer.borrow_mut())(&resource);
        self.resources
            .borrow_mut()
            .insert(resource.address.clone(), resource);
    }

    /// `depends_on = [a, b]`: edges to what the names refer to.
    fn depends_on(&self, from: &Address, list: &Expr, ctx: &Ctx) {
        let ExprKind::List(items) = &list.kind else {
            return;
        };
        for e in items {
            match self.try_eval(e, ctx) {
                Ok(Value::Unknown(symbol)) => self.edge_to(from, &symbol.address, e.span),
                Ok(Value::Map(_)) | Ok(_) => {
                    // A service or job: depend on its objects.
                    if let ExprKind::Name(ident) = &e.kind
                        && let Some(Def::Item(r)) = self.refs.get(&ident.span)
                        && let ItemKind::Block { name, .. } = &self.item(r).kind
                    {
                        let env = self.env.borrow();
                        let env_name = env.as_ref().map_or("", |e| e.name.as_str());
                        let target = Address::environment(env_name)
                            .child("app", env.as_ref().map_or("", |e| e.app_name.as_str()))
                            .child("service", &name.name);
                        self.edges.borrow_mut().push((from.clone(), target, e.span));
                    }
                }
                Err(d) => self.report(d),
            }
        }
    }

    fn note_edges(&self, from: &Address, value: &Value, span: Span) {
        let mut targets: Vec<&Address> = value
            .symbol_refs()
            .into_iter()
            .map(|s| &s.address)
            .collect();
        targets.sort_unstable();
        targets.dedup();
        for to in targets {
            self.edge_to(from, to, span);
        }
    }

    fn edge_to(&self, from: &Address, to: &Address, span: Span) {
        self.edges
            .borrow_mut()
            .push((from.clone(), to.clone(), span));
    }

    fn names(&self) -> &crate::identity::Names {
        self.names
            .get()
            .expect("names are made when the environment is selected")
    }

    fn emit_namespace(&self, env: &str, namespace: &str) {
        let address = Address::environment(env).child("namespace", namespace);
        let properties = kubernetes::namespace(self.names());
        self.add_resource(Resource {
            address,
            provider: Provider::Kubernetes,
            type_name: "v1/Namespace".into(),
            properties: Arc::new(properties),
            span: Span::default(),
        });
    }

    fn expand_service(&self, r: &ItemRef, name: &str) {
        self.expand_member(r, name, "Service", |names, settings| {
            kubernetes::service_objects(name, names, settings)
        });
    }

    fn expand_job(&self, r: &ItemRef, name: &str) {
        self.expand_member(r, name, "Job", |names, settings| {
            vec![kubernetes::job_object(name, names, settings)]
        });
    }

    /// The Kubernetes objects of an app member (a service or a job), each
    /// addressed under `env.app.<kind>.<name>.k8s`, with their edges.
    fn expand_member(
        &self,
        r: &ItemRef,
        name: &str,
        schema: &str,
        objects: impl FnOnce(
            &crate::identity::Names,
            &Fields,
        ) -> Vec<(&'static str, &'static str, Value)>,
    ) {
        let settings = self.member_settings(r, name, schema);
        let (env, app) = {
            let env = self.env.borrow();
            let env = env.as_ref().expect("selected");
            (env.name.clone(), env.app_name.clone())
        };
        let base = Address::environment(&env)
            .child("app", &app)
            .child(&schema.to_ascii_lowercase(), name);
        let span = self.item(r).span;
        // Environment variables that hold secrets become references to a
        // key of the environment's Secret; the names are kept for apply.
        if let Some(vars) = settings.get("env") {
            secret_names(vars, &mut self.secrets.borrow_mut());
        }
        for (kind, type_name, properties) in objects(self.names(), &settings) {
            let address = base.child("k8s", kind);
            self.note_edges(&address, &properties, span);
            self.add_resource(Resource {
                address,
                provider: Provider::Kubernetes,
                type_name: type_name.into(),
                properties: Arc::new(properties),
                span,
            });
        }
        self.member_dependencies(r, &base);
    }

    /// `depends_on` of a service or job: each of its objects depends on the targets.
    fn member_dependencies(&self, r: &ItemRef, base: &Address) {
        let Some(body) = self.item(r).kind.body() else {
            return;
        };
        for entry in &body.entries {
            if let Entry::Attr(a) = entry
                && a.path.is("depends_on")
            {
                let name = self
                    .item(r)
                    .kind
                    .name()
                    .map(|n| n.name.to_string())
                    .unwrap_or_default();
                self.depends_on(
                    base,
                    &a.value,
                    &Ctx {
                        instance: None,
                        service: Some(name.as_str().into()),
                    },
                );
            }
        }
    }

    /// A service's or job's effective settings: schema defaults, the app's
    /// settings, its own attributes, then the environment's overrides.
    fn member_settings(&self, r: &ItemRef, name: &str, schema: &str) -> Fields {
        let ctx = Ctx {
            instance: None,
            service: Some(name.into()),
        };
        let mut settings = self.schema_defaults(schema, &ctx);
        let (app, environment) = {
            let env = self.env.borrow();
            let env = env.as_ref().expect("selected");
            (env.app, env.environment)
        };
        // App-wide settings every service inherits.
        let mut app_settings = self.schema_defaults("App", &ctx);
        let app_attrs = self
            .app_attrs
            .borrow_mut()
            .get_or_insert_with(|| {
                let entries = self.item(&app).kind.body().map(|b| &b.entries[..]);
                entries
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|e| match e {
                        Entry::Attr(a) => Some(a),
                        _ => None,
                    })
                    .collect()
            })
            .clone();
        for a in app_attrs.iter() {
            let v = self.eval(&a.value, &ctx);
            set_path(&mut app_settings, &a.path.segments, v);
        }
        if let Some(body) = self.item(r).kind.body() {
            for entry in &body.entries {
                if let Entry::Attr(a) = entry
                    && !a.path.is("depends_on")
                {
                    let v = self.eval(&a.value, &ctx);
                    set_path(&mut settings, &a.path.segments, v);
                }
            }
        }
        // Environment overrides: app fields, and this member's fields.
        if let Some(body) = self.item(&environment).kind.body() {
            for entry in &body.entries {
                let Entry::Attr(a) = entry else { continue };
                let path = &a.path.segments;
                let first = path[0].name.as_str();
                if first == name && path.len() > 1 {
                    let v = self.eval(&a.value, &ctx);
                    set_path(&mut settings, &path[1..], v);
                } else if app_settings.contains_key(first)
                    || matches!(first, "env" | "hostname" | "labels" | "namespace")
                {
                    let v = self.eval(&a.value, &ctx);
                    set_path(&mut app_settings, path, v);
                }
            }
        }
        // The service's env extends the app's; a hostname comes from the
        // service, else from the app's template.
        let mut env = match app_settings.remove("env") {
            Some(Value::Map(m)) => m,
            _ => Fields::new(),
        };
        if let Some(Value::Map(own)) = settings.remove("env") {
            env.extend(own);
        }
        settings.insert("env", Value::Map(env));
        if !matches!(settings.get("hostname"), Some(Value::Str(_))) {
            if let Some(h @ Value::Str(_)) = app_settings.get("hostname") {
                settings.insert("hostname", h.clone());
            }
        }
        if let Some(labels) = app_settings.remove("labels") {
            settings.insert("labels", labels);
        }
        self.fill_prelude_defaults(&mut settings, schema);
        settings
    }

    /// The schema a type names, if it names one.
    fn schema_of(&self, ty: &TypeExpr) -> Option<ItemRef> {
        let TypeKind::Named(path) = &ty.kind else {
            return None;
        };
        match self.refs.get(&path.segments.last()?.span)? {
            Def::Item(r) if matches!(self.item(r).kind, ItemKind::Schema { .. }) => Some(*r),
            _ => None,
        }
    }

    /// Fills a schema value's missing fields with their defaults, through
    /// nested schema-typed fields.
    fn fill_defaults(&self, value: &mut Fields, schema: &ItemRef) {
        let ItemKind::Schema { fields, .. } = &self.item(schema).kind else {
            return;
        };
        for (index, field) in fields.iter().enumerate() {
            let name = field.name.name.as_str();
            if !value.contains_key(name)
                && let Some(default) = &field.default
            {
                let key = (*schema, index);
                let cached = self.field_defaults.borrow().get(&key).cloned();
                let v = cached.unwrap_or_else(|| {
                    let v = self.eval(default, &Ctx::default());
                    self.field_defaults.borrow_mut().insert(key, v.clone());
                    v
                });
                value.insert(name, v);
            }
            if let Some(inner) = self.schema_of(&field.ty)
                && let Some(Value::Map(nested)) = value.get_mut(name)
            {
                self.fill_defaults(nested, &inner);
            }
        }
    }

    /// Fills the defaults of a prelude schema (`Service`, `Job`) into settings.
    fn fill_prelude_defaults(&self, settings: &mut Fields, schema: &str) {
        let prelude = self.program.prelude;
        let found =
            self.program.module(prelude).tree.items.iter().position(
                |i| matches!(&i.kind, ItemKind::Schema { name, .. } if name.name == schema),
            );
        if let Some(index) = found {
            self.fill_defaults(settings, &ItemRef::top(prelude).child(index));
        }
    }

    /// The defaults of a prelude schema's fields, evaluated.
    fn schema_defaults(&self, schema: &str, ctx: &Ctx) -> Fields {
        if let Some(cached) = self.defaults.borrow().get(schema) {
            return cached.clone();
        }
        let computed = self.compute_schema_defaults(schema, ctx);
        self.defaults
            .borrow_mut()
            .insert(schema.to_string(), computed.clone());
        computed
    }

    /// The prelude's defaults are literals, the same for every service.
    fn compute_schema_defaults(&self, schema: &str, ctx: &Ctx) -> Fields {
        let prelude = self.program.module(self.program.prelude);
        let mut out = Fields::new();
        for item in &prelude.tree.items {
            if let ItemKind::Schema { name, fields, .. } = &item.kind
                && name.name == schema
            {
                for f in fields {
                    if let Some(d) = &f.default {
                        out.insert(f.name.name.to_string(), self.eval(d, ctx));
                    }
                }
            }
        }
        out
    }
}

/// The resources at or below an address: an instance or a service stands for
/// all of its resources. Addresses below a prefix sort together, so this is
/// a range scan, not a pass over every resource.
fn under<'r>(resources: &'r BTreeMap<Address, Resource>, prefix: &Address) -> Vec<&'r Address> {
    resources
        .range(prefix.clone()..)
        .map(|(a, _)| a)
        .take_while(|a| prefix.contains(a))
        .collect()
}

/// Sets `path` in a map, creating nested maps on the way.
fn set_path(map: &mut Fields, path: &[Ident], value: Value) {
    match path {
        [] => {}
        [last] => {
            map.insert(last.name.as_str(), value);
        }
        [first, rest @ ..] => {
            let entry = map.get_or_insert_with(&first.name, || Value::Map(Fields::new()));
            if !matches!(entry, Value::Map(_)) {
                *entry = Value::Map(Fields::new());
            }
            if let Value::Map(inner) = entry {
                set_path(inner, rest, value);
            }
        }
    }
}

/// Adds the names of the secrets a value holds to `out`.
fn secret_names(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Secret(name) => {
            out.insert(name.clone());
        }
        Value::List(items) => items.iter().for_each(|i| secret_names(i, out)),
        Value::Map(m) => m.values().for_each(|i| secret_names(i, out)),
        _ => {}
    }
}

/// A `--set` value, read as the parameter's type.
fn parse_set(text: &str, ty: &TypeExpr) -> Value {
    match &ty.kind {
        TypeKind::Named(p) if p.dotted() == "int" => text
            .parse()
            .map(Value::Int)
            .unwrap_or_else(|_| Value::Str(text.into())),
        TypeKind::Named(p) if p.dotted() == "float" => text
            .parse()
            .map(Value::Float)
            .unwrap_or_else(|_| Value::Str(text.into())),
        TypeKind::Named(p) if p.dotted() == "bool" => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            other => Value::Str(other.into()),
        },
        _ => Value::Str(text.into()),
    }
}
