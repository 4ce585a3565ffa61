//! Check: resolves every name, infers and checks types, validates blocks
//! against their schemas and component parameters, and checks constraints.
//!
//! One walk over each module. Item types are computed on demand and memoized,
//! so a forward reference works and each item's problems are reported once.

mod builtins;
mod error;
mod expr;
mod fields;
pub mod types;

pub use builtins::{BUILTINS, Builtin};
pub use error::CheckError;
pub use expr::parse_cidr;

use rustc_hash::{FxHashMap, FxHashSet};
use std::rc::Rc;

use crate::diagnostic::{self, Diagnostic, codes};
use crate::resolve::{Def, ItemRef, ModuleId, Program, ResolveError, Scope};
use crate::source::{SourceMap, Span};
use crate::syntax::ast::*;
use types::{FieldDef, SchemaDef, Ty};

/// The result of checking: what every name refers to, and the problems found.
#[derive(Debug, Default)]
pub struct Checked {
    /// Span of each name use → its definition (the graph's edges come from here).
    pub refs: FxHashMap<Span, Def>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Checks every module of a program.
pub fn check(program: &Program, sources: &SourceMap) -> Checked {
    let mut checker = Checker::new(program, sources);
    // About one name use per 40 bytes of source: avoid rehashing as it grows.
    let bytes: usize = program
        .modules
        .iter()
        .map(|m| m.tree.span.end as usize)
        .sum();
    checker.refs.reserve(bytes / 40);
    for id in program.ids() {
        checker.check_module(id);
    }
    Checked {
        refs: checker.refs,
        diagnostics: checker.diags,
    }
}

/// Where an item stands, which decides what may be nested in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Top,
    Component,
    App,
    /// Bodies that hold attributes only (service, job, domain, environment, instance, resource).
    Leaf,
}

impl Place {
    fn describe(self) -> &'static str {
        match self {
            Place::Top => "at the top level",
            Place::Component => "inside a component",
            Place::App => "inside an app",
            Place::Leaf => "inside this block",
        }
    }
}

pub(crate) struct Checker<'p> {
    program: &'p Program,
    sources: &'p SourceMap,
    module: ModuleId,
    /// The item whose body scopes are on `scopes` (the module at the top level).
    context: ItemRef,
    module_scopes: Vec<Scope>,
    scopes: Vec<Scope>,
    diags: Vec<Diagnostic>,
    refs: FxHashMap<Span, Def>,
    item_types: FxHashMap<ItemRef, Ty>,
    in_progress: FxHashSet<ItemRef>,
    schemas: FxHashMap<ItemRef, Rc<SchemaDef>>,
    params: FxHashMap<ItemRef, FieldDef>,
    component_params: FxHashMap<ItemRef, Rc<SchemaDef>>,
    instance_components: FxHashMap<ItemRef, Option<ItemRef>>,
    locals: FxHashMap<Span, Ty>,
    regexes: FxHashMap<String, Option<regex::Regex>>,
    /// The type of the implicit `git` value, built once.
    git_type: Ty,
    /// Depth of the expression walk, to look at the stack only now and then.
    depth: u32,
    /// The first `project` declaration seen.
    project: Option<Span>,
}

/// What `enter_scope_of` replaced, to put back.
struct Saved {
    module: ModuleId,
    context: ItemRef,
    scopes: Vec<Scope>,
}

impl<'p> Checker<'p> {
    fn new(program: &'p Program, sources: &'p SourceMap) -> Checker<'p> {
        let mut errors = Vec::new();
        let mut module_scopes = Vec::new();
        for id in program.ids() {
            let module = program.module(id);
            let top = ItemRef::top(id);
            let mut scope =
                Scope::of_items(&top, module.tree.items.iter().enumerate(), &mut errors);
            for item in &module.tree.items {
                if let ItemKind::Import { alias, .. } = &item.kind {
                    if let Some(Some(target)) = module.imports.get(alias.name.as_str()) {
                        scope.define(&alias.name, Def::Module(*target), alias.span, &mut errors);
                    }
                }
            }
            module_scopes.push(scope);
        }
        let mut checker = Checker {
            program,
            sources,
            module: program.prelude,
            context: ItemRef::top(program.prelude),
            module_scopes,
            scopes: Vec::new(),
            diags: Vec::new(),
            refs: FxHashMap::default(),
            item_types: FxHashMap::default(),
            in_progress: FxHashSet::default(),
            schemas: FxHashMap::default(),
            params: FxHashMap::default(),
            component_params: FxHashMap::default(),
            instance_components: FxHashMap::default(),
            locals: FxHashMap::default(),
            regexes: FxHashMap::default(),
            git_type: implicit_type("git"),
            depth: 0,
            project: None,
        };
        for e in errors {
            checker.resolve_error(e);
        }
        checker
    }

    fn error(&mut self, e: CheckError) {
        self.diags.push(e.into());
    }

    fn resolve_error(&mut self, e: ResolveError) {
        self.diags.push(e.into());
    }

    fn item(&self, r: &ItemRef) -> &'p Item {
        let module = self.program.module(r.module);
        let mut item = &module.tree.items[r.path()[0] as usize];
        for &index in &r.path()[1..] {
            let body = item.kind.body().expect("item paths only go through bodies");
            match &body.entries[index as usize] {
                Entry::Item(inner) => item = inner,
                Entry::Attr(_) => unreachable!("item paths only name items"),
            }
        }
        item
    }

    fn check_module(&mut self, id: ModuleId) {
        self.module = id;
        self.context = ItemRef::top(id);
        self.scopes.clear();
        let items = &self.program.module(id).tree.items;
        let mut environments: FxHashMap<String, Span> = FxHashMap::default();
        for item in items {
            if let ItemKind::Environment { name, .. } = &item.kind
                && let Some(text) = name.as_plain()
            {
                if let Some(previous) = environments.get(&text) {
                    self.resolve_error(ResolveError::Duplicate {
                        span: name.span,
                        previous: *previous,
                        name: text,
                    });
                } else {
                    environments.insert(text, name.span);
                }
            }
        }
        for item in items {
            if let ItemKind::Project { name } = &item.kind {
                self.check_project(name);
            }
        }
        for (index, item) in items.iter().enumerate() {
            let r = ItemRef::top(id).child(index);
            self.check_item(&r, item, Place::Top);
        }
    }

    /// A `project` declaration: fixed text, a valid name, once per program.
    fn check_project(&mut self, name: &StrLit) {
        let problem = match name.as_plain() {
            None => Some("a project name is fixed text, without interpolation".to_string()),
            Some(text) => crate::identity::ProjectName::new(&text).err(),
        };
        if let Some(problem) = problem {
            self.diags.push(
                Diagnostic::error(codes::INVALID_PROJECT, "invalid project name")
                    .with_label(name.span, problem)
                    .with_help("Write the project's stable name once, e.g. `project \"acme-shop\"`: lower-case letters, digits and single hyphens, at most 40 characters."),
            );
        }
        match self.project {
            Some(previous) => self.resolve_error(ResolveError::Duplicate {
                span: name.span,
                previous,
                name: "project".into(),
            }),
            None => self.project = Some(name.span),
        }
    }

    // ---------- scopes and names ----------

    /// Puts the scopes of `r`'s enclosing bodies in place, to compute `r` on demand.
    fn enter_scope_of(&mut self, r: &ItemRef) -> Option<Saved> {
        let parent = r.ancestor(r.path().len().saturating_sub(1));
        if parent == self.context {
            return None;
        }
        let saved = Saved {
            module: self.module,
            context: std::mem::replace(&mut self.context, parent),
            scopes: std::mem::take(&mut self.scopes),
        };
        self.module = r.module;
        let mut ignored = Vec::new();
        for depth in 1..r.path().len() {
            let ancestor = r.ancestor(depth);
            let item = self.item(&ancestor);
            self.scopes.extend(implicit_scope(&item.kind));
            if let Some(body) = item.kind.body() {
                self.scopes
                    .push(Scope::of_body(&ancestor, &body.entries, &mut ignored));
            }
        }
        Some(saved)
    }

    fn leave_scope(&mut self, saved: Option<Saved>) {
        if let Some(saved) = saved {
            self.module = saved.module;
            self.context = saved.context;
            self.scopes = saved.scopes;
        }
    }

    /// Every name visible here, for suggestions.
    fn visible_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.scopes.iter().flat_map(|s| s.names()).collect();
        names.extend(self.module_scopes[self.module.0 as usize].names());
        if self.module != self.program.prelude {
            names.extend(self.module_scopes[self.program.prelude.0 as usize].names());
        }
        names.push("git");
        names
    }

    fn find_name(&self, name: &str) -> Option<Def> {
        for scope in self.scopes.iter().rev() {
            if let Some(def) = scope.get(name) {
                return Some(def.clone());
            }
        }
        if let Some(def) = self.module_scopes[self.module.0 as usize].get(name) {
            return Some(def.clone());
        }
        if self.module != self.program.prelude {
            if let Some(def) = self.module_scopes[self.program.prelude.0 as usize].get(name) {
                return Some(def.clone());
            }
        }
        (name == "git").then_some(Def::Implicit("git"))
    }

    /// Resolves a name, recording the reference or reporting it unresolved.
    fn lookup(&mut self, ident: &Ident) -> Option<Def> {
        match self.find_name(&ident.name) {
            Some(def) => {
                self.refs.insert(ident.span, def.clone());
                Some(def)
            }
            None => {
                let suggestion =
                    diagnostic::did_you_mean(&ident.name, self.visible_names()).map(str::to_string);
                self.resolve_error(ResolveError::UnresolvedName {
                    span: ident.span,
                    name: ident.name.to_string(),
                    suggestion,
                });
                None
            }
        }
    }

    /// An item of a module, by name, through its alias (`aws.eks`).
    fn module_member(&mut self, module: ModuleId, member: &Ident) -> Option<Def> {
        match self.module_scopes[module.0 as usize].get(&member.name) {
            Some(def) => {
                let def = def.clone();
                self.refs.insert(member.span, def.clone());
                Some(def)
            }
            None => {
                let scope = &self.module_scopes[module.0 as usize];
                let suggestion =
                    diagnostic::did_you_mean(&member.name, scope.names()).map(str::to_string);
                let name = self.module_name(module);
                self.resolve_error(ResolveError::UnknownMember {
                    span: member.span,
                    module: name,
                    member: member.name.to_string(),
                    suggestion,
                });
                None
            }
        }
    }

    /// A module as users name it: `std/aws`, or the file's path.
    fn module_name(&self, module: ModuleId) -> String {
        let file = self.sources.get(self.program.module(module).file);
        match file.origin {
            crate::source::Origin::Stdlib(name) => name.to_string(),
            _ => file.name.clone(),
        }
    }

    /// Resolves a dotted path that names an item (`aws.eks`, `store`).
    fn resolve_path(&mut self, path: &Path, usage: PathUse) -> Option<Def> {
        let mut def = self.lookup(&path.segments[0])?;
        for seg in &path.segments[1..] {
            def = match def {
                Def::Module(m) => self.module_member(m, seg)?,
                other => {
                    let name = path.dotted();
                    let found = def_word(self, &other);
                    self.resolve_error(match usage {
                        PathUse::Type => ResolveError::NotAType {
                            span: path.span,
                            name,
                            suggestion: None,
                        },
                        PathUse::Component => ResolveError::NotAComponent {
                            span: path.span,
                            name,
                            found,
                        },
                        PathUse::App => ResolveError::NotAnApp {
                            span: path.span,
                            name,
                            found,
                        },
                    });
                    return None;
                }
            };
        }
        Some(def)
    }

    // ---------- items ----------

    fn check_item(&mut self, r: &ItemRef, item: &'p Item, place: Place) {
        let allowed = match &item.kind {
            ItemKind::Import { .. }
            | ItemKind::Schema { .. }
            | ItemKind::Component { .. }
            | ItemKind::Environment { .. }
            | ItemKind::Project { .. } => place == Place::Top,
            ItemKind::Block {
                kind: BlockKind::App | BlockKind::Domain,
                ..
            } => place == Place::Top,
            ItemKind::Block {
                kind: BlockKind::Service | BlockKind::Job,
                ..
            } => place == Place::App,
            ItemKind::Param(_) | ItemKind::Output { .. } => {
                matches!(place, Place::Top | Place::Component)
            }
            ItemKind::Let { .. } | ItemKind::Resource { .. } | ItemKind::Instance { .. } => {
                place != Place::Leaf
            }
        };
        if !allowed {
            let help = match &item.kind {
                ItemKind::Block {
                    kind: BlockKind::Service | BlockKind::Job,
                    ..
                } => "Services and jobs belong inside an `app` block.",
                ItemKind::Param(_) => {
                    "Parameters belong at the top level of a file or of a component."
                }
                _ => {
                    "Move it to the top level of the file, or see grammar/rel.ebnf for where it may appear."
                }
            };
            let span = item.kind.name().map_or(item.span, |n| n.span);
            self.resolve_error(ResolveError::Misplaced {
                span,
                what: item_word(&item.kind),
                place: place.describe(),
                help,
            });
            return;
        }
        match &item.kind {
            ItemKind::Import { .. } | ItemKind::Project { .. } => {}
            ItemKind::Param(_) | ItemKind::Let { .. } | ItemKind::Output { .. } => {
                self.item_type(r);
            }
            ItemKind::Schema { .. } => {
                self.schema_def(r);
            }
            ItemKind::Component { body, .. } => self.in_body(r, item, |c| {
                for entry in &body.entries {
                    if let Entry::Attr(a) = entry {
                        c.resolve_error(ResolveError::Misplaced {
                            span: a.path.span,
                            what: "an attribute",
                            place: "in a component body",
                            help: "Declare the component's inputs with `param NAME: TYPE` and use them by name.",
                        });
                    }
                }
                c.check_nested(r, body, Place::Component);
            }),
            ItemKind::Resource { type_name, body, .. } => {
                self.check_resource_type(type_name);
                self.in_body(r, item, |c| {
                    c.check_free_attrs(body);
                    c.check_nested(r, body, Place::Leaf);
                });
            }
            ItemKind::Block { kind, name, body } => {
                let schema = self.prelude_schema(kind.schema());
                let owner = Owner::Block(kind.keyword(), &name.name);
                self.in_body(r, item, |c| {
                    if let Some(schema) = schema {
                        c.check_body_fields(body, &schema, owner, "field", None);
                    }
                    let place = if *kind == BlockKind::App { Place::App } else { Place::Leaf };
                    c.check_nested(r, body, place);
                });
            }
            ItemKind::Environment { name, base, body } => {
                self.infer_str(name);
                let app = match self.resolve_path(base, PathUse::App) {
                    Some(Def::Item(app_ref)) if matches!(self.item(&app_ref).kind, ItemKind::Block { kind: BlockKind::App, .. }) => {
                        Some(app_ref)
                    }
                    Some(other) => {
                        let found = def_word(self, &other);
                        self.resolve_error(ResolveError::NotAnApp { span: base.span, name: base.dotted(), found });
                        None
                    }
                    None => None,
                };
                self.in_body(r, item, |c| {
                    c.check_environment_body(body, app.as_ref());
                    c.check_nested(r, body, Place::Leaf);
                });
            }
            ItemKind::Instance { kind, name, body, .. } => {
                let component = self.instance_component(r);
                self.in_body(r, item, |c| {
                    if let Some(cr) = component {
                        let comp_item = c.item(&cr);
                        if let ItemKind::Component { name: comp_name, kind: Some(expected), .. } = &comp_item.kind {
                            if expected.name != kind.name && kind.name != "use" {
                                c.error(CheckError::KindMismatch {
                                    span: kind.span,
                                    kind: kind.name.to_string(),
                                    expected: expected.name.to_string(),
                                    component: comp_name.name.to_string(),
                                });
                            }
                        }
                        let params = c.component_params(&cr);
                        let owner = Owner::Instance(&name.name, &params.name);
                        c.check_body_fields(body, &params, owner, "parameter", None);
                    } else {
                        c.check_free_attrs(body);
                    }
                    c.check_nested(r, body, Place::Leaf);
                });
            }
        }
    }

    /// Runs `f` with the item's body scope (and implicit names) pushed.
    fn in_body(&mut self, r: &ItemRef, item: &'p Item, f: impl FnOnce(&mut Self)) {
        let Some(body) = item.kind.body() else { return };
        let mut errors = Vec::new();
        let scope = Scope::of_body(r, &body.entries, &mut errors);
        for e in errors {
            self.resolve_error(e);
        }
        let pushed_implicit = implicit_scope(&item.kind)
            .map(|s| self.scopes.push(s))
            .is_some();
        self.scopes.push(scope);
        let outer = std::mem::replace(&mut self.context, *r);
        f(self);
        self.context = outer;
        self.scopes.pop();
        if pushed_implicit {
            self.scopes.pop();
        }
    }

    fn check_nested(&mut self, r: &ItemRef, body: &'p Body, place: Place) {
        for (index, entry) in body.entries.iter().enumerate() {
            if let Entry::Item(item) = entry {
                self.check_item(&r.child(index), item, place);
            }
        }
    }

    /// Attributes of a resource or an unresolved instance: any values, each checked on its own.
    fn check_free_attrs(&mut self, body: &'p Body) {
        let mut seen = fields::SeenKeys::default();
        for entry in &body.entries {
            if let Entry::Attr(a) = entry {
                let key = match a.path.segments.as_slice() {
                    [only] => std::borrow::Cow::Borrowed(only.name.as_str()),
                    _ => std::borrow::Cow::Owned(a.path.dotted()),
                };
                if let Some(previous) = seen.get(&key) {
                    self.error(CheckError::DuplicateField {
                        span: a.path.span,
                        previous,
                        field: key.into_owned(),
                    });
                } else {
                    seen.insert(key, a.path.span);
                }
                if a.path.segments.len() == 1 && a.path.segments[0].name == "depends_on" {
                    self.check_depends_on(&a.value);
                } else {
                    self.infer(&a.value);
                }
            }
        }
    }

    fn check_resource_type(&mut self, type_name: &StrLit) {
        let valid = type_name
            .as_plain()
            .is_some_and(|t| valid_resource_type(&t));
        if !valid {
            let shown = type_name
                .as_plain()
                .unwrap_or_else(|| "(interpolated)".into());
            self.error(CheckError::InvalidResourceType {
                span: type_name.span,
                type_name: shown,
            });
        }
    }

    /// The type of an item used as a value; computed once.
    fn item_type(&mut self, r: &ItemRef) -> Ty {
        if let Some(t) = self.item_types.get(r) {
            return t.clone();
        }
        if !self.in_progress.insert(*r) {
            // A reference cycle; the graph phase reports it with the whole cycle.
            return Ty::Any;
        }
        let item = self.item(r);
        let ty = match &item.kind {
            ItemKind::Import { alias, .. } => match self
                .program
                .module(r.module)
                .imports
                .get(alias.name.as_str())
            {
                Some(Some(_)) => Ty::Module,
                _ => Ty::Any,
            },
            ItemKind::Param(_) => self.param_def(r).ty,
            ItemKind::Let { value, .. } | ItemKind::Output { value, .. } => {
                let saved = self.enter_scope_of(r);
                let mut t = self.infer(value);
                if !t.is_value() {
                    self.error(CheckError::TypeMismatch {
                        span: value.span,
                        expected: "a value".into(),
                        found: format!("{} {t}", if matches!(t, Ty::AppTemplate) { "an" } else { "a" }),
                        help: Some("Bind a value: an instance, a field, a literal or a call. Modules, schemas, components and apps are not values.".into()),
                    });
                    t = Ty::Any;
                }
                self.leave_scope(saved);
                t
            }
            ItemKind::Schema { .. } => Ty::SchemaName,
            ItemKind::Component { .. } => Ty::Component,
            ItemKind::Resource { .. } => Ty::Resource,
            ItemKind::Block {
                kind: BlockKind::App,
                ..
            } => Ty::AppTemplate,
            ItemKind::Block { kind, .. } => self
                .prelude_schema(kind.schema())
                .map_or(Ty::Any, Ty::Schema),
            ItemKind::Environment { .. } | ItemKind::Project { .. } => Ty::Any,
            ItemKind::Instance { .. } => self.instance_component(r).map_or(Ty::Any, Ty::Instance),
        };
        self.in_progress.remove(r);
        self.item_types.insert(*r, ty.clone());
        ty
    }

    /// The component an instance names, resolved once.
    fn instance_component(&mut self, r: &ItemRef) -> Option<ItemRef> {
        if let Some(c) = self.instance_components.get(r) {
            return *c;
        }
        let item = self.item(r);
        let ItemKind::Instance { component, .. } = &item.kind else {
            return None;
        };
        let saved = self.enter_scope_of(r);
        let found = match self.resolve_path(component, PathUse::Component) {
            Some(Def::Item(cr)) if matches!(self.item(&cr).kind, ItemKind::Component { .. }) => {
                Some(cr)
            }
            Some(other) => {
                let found = def_word(self, &other);
                self.resolve_error(ResolveError::NotAComponent {
                    span: component.span,
                    name: component.dotted(),
                    found,
                });
                None
            }
            None => None,
        };
        self.leave_scope(saved);
        self.instance_components.insert(*r, found);
        found
    }

    fn def_type(&mut self, def: &Def) -> Ty {
        match def {
            Def::Item(r) => self.item_type(r),
            Def::Module(_) => Ty::Module,
            Def::Local(span) => self.locals.get(span).cloned().unwrap_or(Ty::Any),
            Def::Implicit("git") => self.git_type.clone(),
            Def::Implicit(name) => implicit_type(name),
        }
    }

    /// A schema of the prelude (`App`, `Service`, ...).
    fn prelude_schema(&mut self, name: &str) -> Option<Rc<SchemaDef>> {
        let def = self.module_scopes[self.program.prelude.0 as usize]
            .get(name)?
            .clone();
        match def {
            Def::Item(r) => Some(self.schema_def(&r)),
            _ => None,
        }
    }
}

/// Whose fields are being checked, for messages; formatted only on error.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Owner<'a> {
    /// `service `web``, `app `store``
    Block(&'static str, &'a str),
    /// An instance and its component.
    Instance(&'a str, &'a str),
    Schema(&'a str),
    Environment,
}

impl std::fmt::Display for Owner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Block(kind, name) => write!(f, "{kind} `{name}`"),
            Owner::Instance(name, component) => {
                write!(f, "instance `{name}` of component `{component}`")
            }
            Owner::Schema(name) => write!(f, "schema `{name}`"),
            Owner::Environment => f.write_str("environment"),
        }
    }
}

/// What a dotted path must name, for the error when it names something else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PathUse {
    Type,
    Component,
    App,
}

/// "a schema", "a module", "a value": what a definition is, for messages.
fn def_word(checker: &Checker<'_>, def: &Def) -> &'static str {
    match def {
        Def::Item(r) => item_word(&checker.item(r).kind),
        Def::Module(_) => "a module",
        Def::Local(_) | Def::Implicit(_) => "a value",
    }
}

/// Names rel provides inside an app or environment body.
fn implicit_scope(kind: &ItemKind) -> Option<Scope> {
    let names: &[&'static str] = match kind {
        ItemKind::Block {
            kind: BlockKind::App,
            ..
        } => &["env", "tier", "service", "app"],
        // An environment may override the per-service hostname template.
        ItemKind::Environment { .. } => &["env", "tier", "service", "app"],
        _ => return None,
    };
    let mut scope = Scope::new();
    for name in names {
        scope.bind(name, Def::Implicit(name), Span::default());
    }
    Some(scope)
}

fn implicit_type(name: &str) -> Ty {
    match name {
        "tier" => Ty::Enum(vec!["preprod".to_string(), "prod".to_string()].into()),
        "git" => {
            let mut fields = std::collections::BTreeMap::new();
            fields.insert("sha".to_string(), Ty::Str);
            fields.insert("branch".to_string(), Ty::Str);
            fields.insert("short_sha".to_string(), Ty::Str);
            Ty::Record(Rc::new(fields))
        }
        _ => Ty::Str,
    }
}

fn item_word(kind: &ItemKind) -> &'static str {
    match kind {
        ItemKind::Import { .. } => "an import",
        ItemKind::Param(_) => "a parameter",
        ItemKind::Let { .. } => "a let binding",
        ItemKind::Output { .. } => "an output",
        ItemKind::Schema { .. } => "a schema",
        ItemKind::Component { .. } => "a component",
        ItemKind::Resource { .. } => "a resource",
        ItemKind::Block {
            kind: BlockKind::App,
            ..
        } => "an app",
        ItemKind::Block {
            kind: BlockKind::Service,
            ..
        } => "a service",
        ItemKind::Block {
            kind: BlockKind::Job,
            ..
        } => "a job",
        ItemKind::Block {
            kind: BlockKind::Domain,
            ..
        } => "a domain",
        ItemKind::Environment { .. } => "an environment",
        ItemKind::Project { .. } => "a project",
        ItemKind::Instance { .. } => "an instance",
    }
}

/// `AWS::Service::Type`, `Custom::Name`, `k8s:apps/v1/Deployment`, `k8s:v1/ConfigMap`, `gcp:google_x`.
pub fn valid_resource_type(t: &str) -> bool {
    let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    if let Some(rest) = t.strip_prefix("k8s:") {
        let parts: Vec<&str> = rest.split('/').collect();
        let version_ok = |v: &str| {
            v.strip_prefix('v').is_some_and(|n| {
                n.chars().next().is_some_and(|c| c.is_ascii_digit())
                    && n.chars().all(|c| c.is_ascii_alphanumeric())
            })
        };
        let kind_ok = |k: &str| k.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && word(k);
        let group_ok = |g: &str| {
            !g.is_empty()
                && g.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        };
        return match parts.as_slice() {
            [v, k] => version_ok(v) && kind_ok(k),
            [g, v, k] => group_ok(g) && version_ok(v) && kind_ok(k),
            _ => false,
        };
    }
    if let Some(rest) = t.strip_prefix("gcp:") {
        return rest.starts_with("google_")
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    }
    let parts: Vec<&str> = t.split("::").collect();
    match parts.as_slice() {
        ["Custom", name] => word(name),
        ["AWS" | "Alexa", service, kind] => word(service) && word(kind),
        _ => false,
    }
}
