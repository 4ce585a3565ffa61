//! Schemas, parameters, types and constraints; checking blocks and maps against them.

use std::borrow::Cow;

use smallvec::SmallVec;

use rustc_hash::FxHashMap;
use std::rc::Rc;

use super::expr::LiteralView;
use super::types::{Const, FieldDef, Rule, SchemaDef, Ty};
use super::{CheckError, Checker, Owner, PathUse};
use crate::diagnostic;
use crate::resolve::{Def, ItemRef, ResolveError};
use crate::source::Span;
use crate::syntax::ast::*;

/// One `path = value` to check against a schema: a block attribute or a map entry.
/// Borrows the tree: checking a block allocates nothing per attribute.
pub(super) struct Assign<'a> {
    pub first: (&'a str, Span),
    /// Further segments of a dotted attribute path (`env.KEY`).
    pub rest: &'a [Ident],
    pub value: &'a Expr,
}

impl<'a> Assign<'a> {
    pub fn attr(a: &'a Attr) -> Assign<'a> {
        let first = &a.path.segments[0];
        Assign {
            first: (&first.name, first.span),
            rest: &a.path.segments[1..],
            value: &a.value,
        }
    }

    pub fn len(&self) -> usize {
        1 + self.rest.len()
    }

    /// Segment `i` (0 is the first).
    pub fn seg(&self, i: usize) -> (&'a str, Span) {
        if i == 0 {
            self.first
        } else {
            (&self.rest[i - 1].name, self.rest[i - 1].span)
        }
    }

    pub fn span(&self) -> Span {
        self.rest
            .last()
            .map_or(self.first.1, |last| self.first.1.to(last.span))
    }

    pub fn dotted(&self) -> String {
        let mut s = self.first.0.to_string();
        for seg in self.rest {
            s.push('.');
            s.push_str(&seg.name);
        }
        s
    }
}

/// Keys already set in one block or map, to find duplicates. Blocks are
/// usually small, where a list beats hashing; large ones switch to a map.
#[derive(Default)]
pub(super) struct SeenKeys<'a> {
    list: SmallVec<[(Cow<'a, str>, Span); 16]>,
    map: FxHashMap<Cow<'a, str>, Span>,
}

impl<'a> SeenKeys<'a> {
    const LIST_LIMIT: usize = 32;

    pub(super) fn get(&self, key: &str) -> Option<Span> {
        if self.map.is_empty() {
            self.list.iter().find(|(k, _)| k == key).map(|(_, s)| *s)
        } else {
            self.map.get(key).copied()
        }
    }

    pub(super) fn insert(&mut self, key: Cow<'a, str>, span: Span) {
        if self.map.is_empty() && self.list.len() < Self::LIST_LIMIT {
            self.list.push((key, span));
            return;
        }
        if self.map.is_empty() {
            self.map.extend(self.list.drain(..));
        }
        self.map.insert(key, span);
    }
}

/// How an environment body may override its app's fields.
pub(super) struct Overrides {
    app_name: String,
    app: Rc<SchemaDef>,
    /// Services and jobs of the app, by name, with their schema.
    members: FxHashMap<String, Rc<SchemaDef>>,
}

const BUILTIN_TYPES: &[&str] = &["string", "int", "float", "bool", "any", "secret"];

impl<'p> Checker<'p> {
    /// The schema an item declares, built once.
    pub(super) fn schema_def(&mut self, r: &ItemRef) -> Rc<SchemaDef> {
        if let Some(s) = self.schemas.get(r) {
            return s.clone();
        }
        let item = self.item(r);
        let ItemKind::Schema { name, fields, .. } = &item.kind else {
            return Rc::new(SchemaDef {
                name: "?".into(),
                fields: vec![],
                span: item.span,
            });
        };
        if !self.in_progress.insert(*r) {
            // A schema that contains itself: the inner use is left unchecked.
            return Rc::new(SchemaDef {
                name: name.name.to_string(),
                fields: vec![],
                span: name.span,
            });
        }
        let saved = self.enter_scope_of(r);
        let mut defs: Vec<FieldDef> = Vec::with_capacity(fields.len());
        for f in fields {
            if let Some(previous) = defs.iter().find(|d| d.name == f.name.name) {
                let previous = previous.span;
                self.resolve_error(ResolveError::Duplicate {
                    span: f.name.span,
                    previous,
                    name: f.name.name.to_string(),
                });
                continue;
            }
            let def = self.field_def(f);
            defs.push(def);
        }
        self.leave_scope(saved);
        self.in_progress.remove(r);
        let schema = Rc::new(SchemaDef {
            name: name.name.to_string(),
            fields: defs,
            span: name.span,
        });
        self.schemas.insert(*r, schema.clone());
        schema
    }

    /// A parameter's declaration, checked once.
    pub(super) fn param_def(&mut self, r: &ItemRef) -> FieldDef {
        if let Some(p) = self.params.get(r) {
            return p.clone();
        }
        let item = self.item(r);
        let ItemKind::Param(f) = &item.kind else {
            unreachable!("param_def on a parameter")
        };
        self.in_progress.insert(*r);
        let saved = self.enter_scope_of(r);
        let def = self.field_def(f);
        self.leave_scope(saved);
        self.in_progress.remove(r);
        self.params.insert(*r, def.clone());
        def
    }

    /// A component's parameters as a schema, built once.
    pub(super) fn component_params(&mut self, r: &ItemRef) -> Rc<SchemaDef> {
        if let Some(s) = self.component_params.get(r) {
            return s.clone();
        }
        let item = self.item(r);
        let ItemKind::Component { name, body, .. } = &item.kind else {
            return Rc::new(SchemaDef {
                name: "?".into(),
                fields: vec![],
                span: item.span,
            });
        };
        let mut fields = Vec::new();
        for (index, entry) in body.entries.iter().enumerate() {
            if let Entry::Item(item) = entry
                && let ItemKind::Param(_) = item.kind
            {
                fields.push(self.param_def(&r.child(index)));
            }
        }
        let schema = Rc::new(SchemaDef {
            name: name.name.to_string(),
            fields,
            span: name.span,
        });
        self.component_params.insert(*r, schema.clone());
        schema
    }

    /// Resolves a field's type and constraints and checks its default.
    fn field_def(&mut self, f: &FieldDecl) -> FieldDef {
        let ty = self.resolve_type(&f.ty);
        let mut rules = Vec::new();
        for c in &f.constraints {
            if let Some(rule) = self.resolve_rule(c, &ty) {
                rules.push((rule, c.span));
            }
        }
        let def = FieldDef {
            name: f.name.name.to_string(),
            ty,
            optional: f.optional,
            has_default: f.default.is_some(),
            rules,
            span: f.name.span,
        };
        if let Some(default) = &f.default {
            if matches!(default.kind, ExprKind::Null) {
                if !f.optional {
                    self.error(CheckError::TypeMismatch {
                        span: default.span,
                        expected: format!("`{}`", def.ty),
                        found: "`null`".into(),
                        help: Some(
                            "Only optional fields (declared `name?: type`) may be null.".into(),
                        ),
                    });
                }
            } else {
                self.expect(default, &def.ty);
                self.check_rules(default, &def);
            }
        }
        def
    }

    /// `type = enum_type | list(type) | map(type) | path`
    pub(super) fn resolve_type(&mut self, t: &TypeExpr) -> Ty {
        match &t.kind {
            TypeKind::List(inner) => Ty::list(self.resolve_type(inner)),
            TypeKind::Map(inner) => Ty::map(self.resolve_type(inner)),
            TypeKind::Enum(values) => {
                let mut out = Vec::new();
                for v in values {
                    match v.as_plain() {
                        Some(s) => out.push(s),
                        None => self.error(CheckError::TypeMismatch {
                            span: v.span,
                            expected: "a plain string in an enumeration".into(),
                            found: "an interpolated string".into(),
                            help: Some("Enumeration values are fixed; remove the `${...}`.".into()),
                        }),
                    }
                }
                Ty::Enum(out.into())
            }
            TypeKind::Named(path) => {
                if path.segments.len() == 1 {
                    match path.segments[0].name.as_str() {
                        "string" => return Ty::Str,
                        "int" => return Ty::Int,
                        "float" => return Ty::Float,
                        "bool" => return Ty::Bool,
                        "any" => return Ty::Any,
                        "secret" => return Ty::Secret,
                        _ => {}
                    }
                    if self.find_name(&path.segments[0].name).is_none() {
                        let mut names = self.visible_names();
                        names.extend(BUILTIN_TYPES);
                        let name = &path.segments[0].name;
                        let suggestion = diagnostic::did_you_mean(name, names).map(str::to_string);
                        self.resolve_error(ResolveError::NotAType {
                            span: path.span,
                            name: name.to_string(),
                            suggestion,
                        });
                        return Ty::Any;
                    }
                }
                match self.resolve_path(path, PathUse::Type) {
                    // A schema that refers to itself: the inner use is not checked further.
                    Some(Def::Item(r))
                        if matches!(self.item(&r).kind, ItemKind::Schema { .. })
                            && self.in_progress.contains(&r) =>
                    {
                        Ty::Any
                    }
                    Some(Def::Item(r)) if matches!(self.item(&r).kind, ItemKind::Schema { .. }) => {
                        Ty::Schema(self.schema_def(&r))
                    }
                    Some(_) => {
                        self.resolve_error(ResolveError::NotAType {
                            span: path.span,
                            name: path.dotted(),
                            suggestion: None,
                        });
                        Ty::Any
                    }
                    None => Ty::Any,
                }
            }
        }
    }

    fn const_arg(&mut self, c: &Constraint, index: usize) -> Option<Const> {
        let value = c.args.get(index).and_then(super::expr::const_of);
        if value.is_none() {
            self.error(CheckError::InvalidConstraint {
                span: c.args.get(index).map_or(c.span, |a| a.span),
                message: format!("`@{}` needs a literal argument {}", c.name.name, index + 1),
                help: "Constraint arguments are literals: @range(1, 10), @pattern(\"^[a-z]+$\"), @oneof(\"a\", \"b\").",
            });
        }
        value
    }

    fn resolve_rule(&mut self, c: &Constraint, ty: &Ty) -> Option<Rule> {
        let name = c.name.name.as_str();
        let arity = match name {
            "range" | "length" => 2,
            "pattern" => 1,
            "nonempty" => 0,
            "oneof" => c.args.len().max(1),
            _ => {
                let suggestion = diagnostic::did_you_mean(
                    name,
                    ["range", "length", "pattern", "oneof", "nonempty"],
                );
                self.error(CheckError::InvalidConstraint {
                    span: c.name.span,
                    message: match suggestion {
                        Some(s) => format!("unknown constraint `@{name}`; did you mean `@{s}`"),
                        None => format!("unknown constraint `@{name}`"),
                    },
                    help: "Constraints are @range(min, max), @length(min, max), @pattern(\"regex\"), @oneof(values...) and @nonempty.",
                });
                return None;
            }
        };
        if c.args.len() != arity {
            self.error(CheckError::InvalidConstraint {
                span: c.span,
                message: format!("`@{name}` takes {arity} argument{}, found {}", if arity == 1 { "" } else { "s" }, c.args.len()),
                help: "Constraints are @range(min, max), @length(min, max), @pattern(\"regex\"), @oneof(values...) and @nonempty.",
            });
            return None;
        }
        let applies = match name {
            "range" => ty.is_numeric(),
            "length" | "nonempty" => matches!(
                ty,
                Ty::Str | Ty::List(_) | Ty::Map(_) | Ty::Any | Ty::Enum(_)
            ),
            "pattern" => matches!(ty, Ty::Str | Ty::Any | Ty::Enum(_)),
            _ => true,
        };
        if !applies {
            self.error(CheckError::InvalidConstraint {
                span: c.span,
                message: format!("`@{name}` does not apply to `{ty}`"),
                help: "@range applies to numbers; @length and @nonempty to strings, lists and maps; @pattern to strings.",
            });
            return None;
        }
        match name {
            "range" | "length" => {
                let lo = self.const_arg(c, 0)?;
                let hi = self.const_arg(c, 1)?;
                let (Some(min), Some(max)) = (lo.as_f64(), hi.as_f64()) else {
                    self.error(CheckError::InvalidConstraint {
                        span: c.span,
                        message: format!("`@{name}` needs two numbers"),
                        help: "Write the bounds as numbers, minimum first: @range(1, 65535).",
                    });
                    return None;
                };
                if min > max {
                    self.error(CheckError::InvalidConstraint {
                        span: c.span,
                        message: format!("`@{name}` minimum {min} is above maximum {max}"),
                        help: "Write the minimum first.",
                    });
                    return None;
                }
                Some(if name == "range" {
                    Rule::Range { min, max }
                } else {
                    Rule::Length {
                        min: min as i64,
                        max: max as i64,
                    }
                })
            }
            "pattern" => {
                let Const::Str(pattern) = self.const_arg(c, 0)? else {
                    self.error(CheckError::InvalidConstraint {
                        span: c.span,
                        message: "`@pattern` needs a string".into(),
                        help: "Write the regular expression as a string: @pattern(\"^[a-z]+$\").",
                    });
                    return None;
                };
                match self.regex(&pattern) {
                    Some(re) => Some(Rule::Pattern(re)),
                    None => {
                        self.error(CheckError::InvalidConstraint {
                            span: c.args[0].span,
                            message: "invalid regular expression".into(),
                            help: "Patterns use Rust regex syntax (no look-around or backreferences).",
                        });
                        None
                    }
                }
            }
            "oneof" => {
                let mut values = Vec::new();
                for i in 0..c.args.len() {
                    values.push(self.const_arg(c, i)?);
                }
                Some(Rule::OneOf(values))
            }
            _ => Some(Rule::NonEmpty),
        }
    }

    fn regex(&mut self, pattern: &str) -> Option<regex::Regex> {
        if let Some(re) = self.regexes.get(pattern) {
            return re.clone();
        }
        let re = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .ok();
        self.regexes.insert(pattern.to_string(), re.clone());
        re
    }

    /// Checks a value's constraints when the value is a literal.
    pub(super) fn check_rules(&mut self, value: &Expr, field: &FieldDef) {
        if field.rules.is_empty() {
            return;
        }
        // Most values are fine: look at them without building a constant,
        // and build one only to describe a violation.
        let Some(view) = super::expr::literal_view(value) else {
            return;
        };
        for (rule, rule_span) in &field.rules {
            let broken = match (rule, view) {
                (Rule::Range { min, max }, LiteralView::Number(v)) => v < *min || v > *max,
                (Rule::Length { min, max }, view) => view
                    .length()
                    .is_some_and(|n| (n as i64) < *min || (n as i64) > *max),
                (Rule::Pattern(re), LiteralView::Str(s)) => !re.is_match(s),
                (Rule::NonEmpty, view) => view.length() == Some(0),
                (Rule::OneOf(values), _) => {
                    super::expr::const_of(value).is_some_and(|c| !values.contains(&c))
                }
                _ => false,
            };
            if !broken {
                continue;
            }
            let Some(c) = super::expr::const_of(value) else {
                continue;
            };
            let message = match rule {
                Rule::Range { min, max } => format!(
                    "`{}` must be between {min} and {max}, found {c}",
                    field.name
                ),
                Rule::Length { min, max } => format!(
                    "`{}` must have a length between {min} and {max}, found {}",
                    field.name,
                    c.length().unwrap_or(0)
                ),
                Rule::Pattern(re) => {
                    format!("`{}` must match /{}/, found {c}", field.name, re.as_str())
                }
                Rule::OneOf(values) => {
                    let shown: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                    format!(
                        "`{}` must be one of {}, found {c}",
                        field.name,
                        shown.join(", ")
                    )
                }
                Rule::NonEmpty => format!("`{}` must not be empty", field.name),
            };
            self.error(CheckError::Constraint {
                span: value.span,
                message,
                rule: *rule_span,
            });
        }
    }

    /// A block's attributes against a schema: known fields, types, constraints, required fields.
    pub(super) fn check_body_fields(
        &mut self,
        body: &Body,
        schema: &SchemaDef,
        owner: Owner<'_>,
        what: &'static str,
        overrides: Option<&Overrides>,
    ) {
        let assigns: SmallVec<[Assign; 16]> = body
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::Attr(a) => Some(Assign::attr(a)),
                Entry::Item(_) => None,
            })
            .collect();
        let close = Span {
            file: body.span.file,
            start: body.span.end.saturating_sub(1),
            end: body.span.end,
        };
        self.check_assigns(&assigns, schema, owner, what, close, overrides);
    }

    pub(super) fn check_assigns(
        &mut self,
        assigns: &[Assign],
        schema: &SchemaDef,
        owner: Owner<'_>,
        what: &'static str,
        close: Span,
        overrides: Option<&Overrides>,
    ) {
        let mut seen = SeenKeys::default();
        for assign in assigns {
            let key = if assign.rest.is_empty() {
                Cow::Borrowed(assign.first.0)
            } else {
                Cow::Owned(assign.dotted())
            };
            let span = assign.span();
            if let Some(previous) = seen.get(&key) {
                self.error(CheckError::DuplicateField {
                    span,
                    previous,
                    field: key.into_owned(),
                });
            } else {
                seen.insert(key, span);
            }
            let (first, first_span) = assign.first;
            // `env = {...}` and `env.KEY = ...` in one block: which one wins is unclear.
            let is_field = schema.field(first).is_some();
            if !is_field {
                // Overrides of services and unknown names are judged below.
            } else if !assign.rest.is_empty() {
                if let Some(whole) = seen.get(first) {
                    self.error(CheckError::DuplicateField {
                        span,
                        previous: whole,
                        field: first.to_string(),
                    });
                }
            } else if let Some(dotted) = assigns
                .iter()
                .find(|a| a.first.0 == first && !a.rest.is_empty() && a.span().start < span.start)
            {
                self.error(CheckError::DuplicateField {
                    span,
                    previous: dotted.span(),
                    field: first.to_string(),
                });
            }
            if let Some(field) = schema.field(first) {
                self.check_path_value(assign, field, 1);
            } else if first == "depends_on" && assign.rest.is_empty() {
                self.check_depends_on(assign.value);
            } else if let Some(ov) = overrides {
                self.check_override(assign, ov, schema);
            } else {
                let suggestion =
                    diagnostic::did_you_mean(first, schema.fields.iter().map(|f| f.name.as_str()))
                        .map(str::to_string);
                self.error(CheckError::UnknownField {
                    span: first_span,
                    field: first.to_string(),
                    what,
                    owner: owner.to_string(),
                    suggestion,
                    known: schema.fields.iter().map(|f| f.name.to_string()).collect(),
                });
                self.infer(assign.value);
            }
        }
        for field in schema.fields.iter().filter(|f| f.required()) {
            if !assigns.iter().any(|a| a.first.0 == field.name) {
                self.error(CheckError::MissingField {
                    at: close,
                    field: field.name.to_string(),
                    what,
                    owner: owner.to_string(),
                    decl: field.span,
                    hint: format!(
                        "Set `{} = ...` ({}); it has no default.",
                        field.name, field.ty
                    ),
                });
            }
        }
    }

    /// Checks `a.b.c = value` where `field` is `a`, descending through schemas and maps.
    fn check_path_value(&mut self, assign: &Assign, field: &FieldDef, from: usize) {
        // The field the last segment names, whose constraints apply; none
        // once the path goes through a map key.
        let mut target: Option<FieldDef> = None;
        let mut ty = field.ty.clone();
        for i in from..assign.len() {
            let (seg, seg_span) = assign.seg(i);
            ty = match ty {
                Ty::Schema(s) => match s.field(seg) {
                    Some(f) => {
                        target = Some(f.clone());
                        f.ty.clone()
                    }
                    None => {
                        let suggestion =
                            diagnostic::did_you_mean(seg, s.fields.iter().map(|f| f.name.as_str()))
                                .map(str::to_string);
                        self.error(CheckError::UnknownField {
                            span: seg_span,
                            field: seg.to_string(),
                            what: "field",
                            owner: format!("schema `{}`", s.name),
                            suggestion,
                            known: s.fields.iter().map(|f| f.name.to_string()).collect(),
                        });
                        self.infer(assign.value);
                        return;
                    }
                },
                Ty::Map(t) => {
                    target = None;
                    (*t).clone()
                }
                Ty::Any => Ty::Any,
                other => {
                    self.error(CheckError::TypeMismatch {
                        span: seg_span,
                        expected: "a map or schema to set a member of".into(),
                        found: format!("`{other}`"),
                        help: Some("Only maps and schema values have members; set the whole value instead.".into()),
                    });
                    self.infer(assign.value);
                    return;
                }
            };
        }
        let target = if from == assign.len() {
            Some(field)
        } else {
            target.as_ref()
        };
        if matches!(assign.value.kind, ExprKind::Null) {
            if target.is_none_or(|f| f.optional) {
                return;
            }
            self.error(CheckError::TypeMismatch {
                span: assign.value.span,
                expected: format!("`{ty}`"),
                found: "`null`".into(),
                help: Some("Only optional fields (declared `name?: type`) may be null.".into()),
            });
            return;
        }
        self.expect(assign.value, &ty);
        if let Some(target) = target {
            self.check_rules(assign.value, target);
        }
    }

    /// `depends_on = [a, b.c]`: a list of references.
    pub(super) fn check_depends_on(&mut self, value: &Expr) {
        let ExprKind::List(items) = &value.kind else {
            self.error(CheckError::TypeMismatch {
                span: value.span,
                expected: "a list of references".into(),
                found: "another expression".into(),
                help: Some("Write `depends_on = [name, other]` with the names of items.".into()),
            });
            return;
        };
        for item in items {
            if !matches!(item.kind, ExprKind::Name(_) | ExprKind::Member(..)) {
                self.error(CheckError::TypeMismatch {
                    span: item.span,
                    expected: "a reference to an item".into(),
                    found: "a value".into(),
                    help: Some(
                        "`depends_on` lists items by name, e.g. `depends_on = [db]`.".into(),
                    ),
                });
            }
            self.infer(item);
        }
    }

    /// An environment body: Environment fields, or overrides of the app's fields and services.
    pub(super) fn check_environment_body(&mut self, body: &Body, app: Option<&ItemRef>) {
        let Some(env_schema) = self.prelude_schema("Environment") else {
            return;
        };
        let overrides = app.and_then(|r| self.overrides_for(r));
        match &overrides {
            Some(ov) => {
                self.check_body_fields(body, &env_schema, Owner::Environment, "field", Some(ov))
            }
            None => {
                // Without a resolved app the overrides cannot be checked; the values still are.
                for entry in &body.entries {
                    if let Entry::Attr(a) = entry {
                        self.infer(&a.value);
                    }
                }
            }
        }
    }

    fn overrides_for(&mut self, app: &ItemRef) -> Option<Overrides> {
        let item = self.item(app);
        let ItemKind::Block {
            kind: BlockKind::App,
            name,
            body,
        } = &item.kind
        else {
            return None;
        };
        let app_schema = self.prelude_schema("App")?;
        let mut members = FxHashMap::default();
        for entry in &body.entries {
            if let Entry::Item(item) = entry
                && let ItemKind::Block { kind, name, .. } = &item.kind
                && matches!(kind, BlockKind::Service | BlockKind::Job)
            {
                if let Some(schema) = self.prelude_schema(kind.schema()) {
                    members.insert(name.name.to_string(), schema);
                }
            }
        }
        Some(Overrides {
            app_name: name.name.to_string(),
            app: app_schema,
            members,
        })
    }

    fn check_override(&mut self, assign: &Assign, ov: &Overrides, env_schema: &SchemaDef) {
        let (first, first_span) = assign.first;
        if let Some(field) = ov.app.field(first) {
            let field = field.clone();
            self.check_path_value(assign, &field, 1);
            return;
        }
        if let Some(schema) = ov.members.get(first) {
            if assign.rest.is_empty() {
                self.error(CheckError::WholeMemberOverride {
                    span: first_span,
                    member: first.to_string(),
                });
                self.infer(assign.value);
                return;
            }
            let (second, second_span) = assign.seg(1);
            match schema.field(second) {
                Some(field) => {
                    let field = field.clone();
                    self.check_path_value(assign, &field, 2);
                }
                None => {
                    let suggestion = diagnostic::did_you_mean(
                        second,
                        schema.fields.iter().map(|f| f.name.as_str()),
                    )
                    .map(|s| format!("{first}.{s}"));
                    self.error(CheckError::InvalidOverride {
                        span: second_span,
                        path: assign.dotted(),
                        app: ov.app_name.clone(),
                        suggestion,
                    });
                    self.infer(assign.value);
                }
            }
            return;
        }
        let candidates = env_schema
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .chain(ov.app.fields.iter().map(|f| f.name.as_str()))
            .chain(ov.members.keys().map(String::as_str));
        let suggestion = diagnostic::did_you_mean(first, candidates).map(str::to_string);
        self.error(CheckError::InvalidOverride {
            span: first_span,
            path: assign.dotted(),
            app: ov.app_name.clone(),
            suggestion,
        });
        self.infer(assign.value);
    }
}
