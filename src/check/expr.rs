//! Expressions: type inference, checking against an expected type, builtin calls.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use std::rc::Rc;

use super::builtins::{self, BUILTINS};
use super::fields::Assign;
use super::types::{Const, Ty};
use super::{CheckError, Checker, Owner};
use crate::diagnostic;
use crate::resolve::{Def, Scope};
use crate::source::{Origin, Span};
use crate::syntax::ast::*;

impl<'p> Checker<'p> {
    /// Checks that `e` fits `want`, looking inside literals for precise errors.
    pub(super) fn expect(&mut self, e: &Expr, want: &Ty) {
        match (&e.kind, want) {
            (ExprKind::Map(entries), Ty::Schema(schema)) => {
                let schema = schema.clone();
                let assigns = self.map_assigns(entries);
                let close = Span {
                    file: e.span.file,
                    start: e.span.end.saturating_sub(1),
                    end: e.span.end,
                };
                self.check_assigns(
                    &assigns,
                    &schema,
                    Owner::Schema(&schema.name),
                    "field",
                    close,
                    None,
                );
            }
            (ExprKind::List(items), Ty::List(t)) => {
                for item in items {
                    self.expect(item, t);
                }
            }
            (ExprKind::Map(entries), Ty::Map(t)) => {
                self.check_map_keys(entries);
                for entry in entries {
                    self.expect(&entry.value, t);
                }
            }
            (ExprKind::If(c, a, b), _) => {
                self.expect(c, &Ty::Bool);
                self.expect(a, want);
                self.expect(b, want);
            }
            (ExprKind::Paren(inner), _) => self.expect(inner, want),
            _ => {
                let got = self.infer(e);
                self.require(e.span, &got, want);
                if let Ty::Enum(values) = want
                    && let Some(Const::Str(s)) = const_of(e)
                    && !values.contains(&s)
                {
                    let suggestion =
                        diagnostic::did_you_mean(&s, values.iter().map(String::as_str));
                    self.error(CheckError::TypeMismatch {
                        span: e.span,
                        expected: format!("`{want}`"),
                        found: format!("`\"{s}\"`"),
                        help: Some(match suggestion {
                            Some(v) => format!("Did you mean \"{v}\"?"),
                            None => "Use one of the listed values.".to_string(),
                        }),
                    });
                }
            }
        }
    }

    /// Reports `got` where `want` was needed, unless it fits.
    fn require(&mut self, span: Span, got: &Ty, want: &Ty) {
        if !got.is_value() {
            self.error(CheckError::TypeMismatch {
                span,
                expected: "a value".into(),
                found: format!("{} {got}", article(got)),
                help: Some("Schemas, components, apps and modules are not values; refer to an instance, a field or a let binding.".into()),
            });
        } else if !got.assignable_to(want) {
            let help = match (got, want) {
                (Ty::Secret, Ty::Str) => Some(
                    "Secrets cannot become plain strings; declare the field as `secret` or `any`."
                        .to_string(),
                ),
                (Ty::Str, Ty::Secret) => Some(
                    "Use secret(\"NAME\") to refer to a secret held by the secret store."
                        .to_string(),
                ),
                _ => None,
            };
            self.error(CheckError::TypeMismatch {
                span,
                expected: format!("`{want}`"),
                found: format!("`{got}`"),
                help,
            });
        }
    }

    fn map_assigns<'e>(&mut self, entries: &'e [MapEntry]) -> SmallVec<[Assign<'e>; 16]> {
        entries
            .iter()
            .filter_map(|entry| match entry.key.plain_str() {
                Some(k) => Some(Assign {
                    first: (k, entry.key.span()),
                    rest: &[],
                    value: &entry.value,
                }),
                None => {
                    self.error(CheckError::TypeMismatch {
                        span: entry.key.span(),
                        expected: "a plain field name".into(),
                        found: "an interpolated key".into(),
                        help: Some("Schema fields are fixed names.".into()),
                    });
                    None
                }
            })
            .collect()
    }

    fn check_map_keys(&mut self, entries: &[MapEntry]) {
        // Maps are usually small: compare with the earlier keys directly.
        let mut seen: SmallVec<[(&str, Span); 16]> = SmallVec::new();
        let mut big: FxHashMap<&str, Span> = FxHashMap::default();
        for entry in entries {
            match entry.key.plain_str() {
                Some(k) => {
                    let previous = if big.is_empty() {
                        seen.iter().find(|(s, _)| *s == k).map(|(_, sp)| *sp)
                    } else {
                        big.get(k).copied()
                    };
                    if let Some(previous) = previous {
                        self.error(CheckError::DuplicateField {
                            span: entry.key.span(),
                            previous,
                            field: k.to_string(),
                        });
                    } else if big.is_empty() && seen.len() < 32 {
                        seen.push((k, entry.key.span()));
                    } else {
                        big.extend(seen.drain(..));
                        big.insert(k, entry.key.span());
                    }
                }
                None => {
                    if let MapKey::Str(s) = &entry.key {
                        self.infer_str(s);
                    }
                }
            }
        }
    }

    pub(super) fn infer(&mut self, e: &Expr) -> Ty {
        self.depth += 1;
        let t = crate::syntax::with_stack_at(self.depth, || self.infer_kind(e));
        self.depth -= 1;
        t
    }

    fn infer_kind(&mut self, e: &Expr) -> Ty {
        match &e.kind {
            ExprKind::Null => Ty::Null,
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::Int(_) => Ty::Int,
            ExprKind::Float(_) => Ty::Float,
            ExprKind::Str(s) => self.infer_str(s),
            ExprKind::List(items) => {
                let mut elem: Option<Ty> = None;
                for item in items {
                    let t = self.infer(item);
                    self.value_only(item.span, &t);
                    elem = Some(match elem {
                        Some(prev) => prev.join(&t),
                        None => t,
                    });
                }
                Ty::list(elem.unwrap_or(Ty::Any))
            }
            ExprKind::Map(entries) => {
                self.check_map_keys(entries);
                let mut fields = BTreeMap::new();
                let mut all_plain = true;
                let mut joined = Ty::Null;
                for entry in entries {
                    let t = self.infer(&entry.value);
                    self.value_only(entry.value.span, &t);
                    joined = joined.join(&t);
                    match entry.key.as_plain() {
                        Some(k) => {
                            fields.insert(k, t);
                        }
                        None => all_plain = false,
                    }
                }
                if all_plain {
                    Ty::Record(Rc::new(fields))
                } else {
                    Ty::map(joined)
                }
            }
            ExprKind::Name(ident) => match self.lookup(ident) {
                Some(def) => self.def_type(&def),
                None => Ty::Any,
            },
            ExprKind::Member(base, member) => {
                if let ExprKind::Name(ident) = &base.kind {
                    if let Some(Def::Module(m)) = self.find_name(&ident.name) {
                        self.refs.insert(ident.span, Def::Module(m));
                        return match self.module_member(m, member) {
                            Some(def) => self.def_type(&def),
                            None => Ty::Any,
                        };
                    }
                }
                let base_ty = self.infer(base);
                self.member_type(&base_ty, member)
            }
            ExprKind::Index(base, index) => {
                let base_ty = self.infer(base);
                let index_ty = self.infer(index);
                match base_ty {
                    Ty::List(t) => {
                        self.require(index.span, &index_ty, &Ty::Int);
                        (*t).clone()
                    }
                    Ty::Map(t) => {
                        self.require(index.span, &index_ty, &Ty::Str);
                        (*t).clone()
                    }
                    Ty::Record(fields) => match const_of(index) {
                        Some(Const::Int(_)) => {
                            self.require(index.span, &index_ty, &Ty::Str);
                            Ty::Any
                        }
                        Some(Const::Str(k)) => match fields.get(&k) {
                            Some(t) => t.clone(),
                            None => {
                                self.unknown_member(
                                    index.span,
                                    &k,
                                    fields.keys().map(String::as_str),
                                    "key",
                                    "this map",
                                );
                                Ty::Any
                            }
                        },
                        _ => fields.values().fold(Ty::Null, |a, b| a.join(b)),
                    },
                    Ty::Any => Ty::Any,
                    other => {
                        self.error(CheckError::TypeMismatch {
                            span: base.span,
                            expected: "a list or map to index".into(),
                            found: format!("`{other}`"),
                            help: None,
                        });
                        Ty::Any
                    }
                }
            }
            ExprKind::Call(name, args) => self.infer_call(name, args, e.span),
            ExprKind::Unary(op, operand) => {
                let t = self.infer(operand);
                match op {
                    UnaryOp::Not => {
                        self.require(operand.span, &t, &Ty::Bool);
                        Ty::Bool
                    }
                    UnaryOp::Neg => {
                        if !t.is_numeric() {
                            self.mismatch(operand.span, "a number", &t);
                            return Ty::Any;
                        }
                        t
                    }
                }
            }
            ExprKind::Binary(op, a, b) => self.infer_binary(*op, a, b),
            ExprKind::If(c, a, b) => {
                self.expect(c, &Ty::Bool);
                let ta = self.infer(a);
                let tb = self.infer(b);
                ta.join(&tb)
            }
            ExprKind::ListFor(c) => {
                self.enter_comprehension(c);
                let body = self.infer(&c.body);
                self.comprehension_cond(c);
                self.scopes.pop();
                Ty::list(body)
            }
            ExprKind::MapFor(c, value) => {
                self.enter_comprehension(c);
                let key = self.infer(&c.body);
                self.require(c.body.span, &key, &Ty::Str);
                let v = self.infer(value);
                self.comprehension_cond(c);
                self.scopes.pop();
                Ty::map(v)
            }
            ExprKind::Paren(inner) => self.infer(inner),
        }
    }

    fn value_only(&mut self, span: Span, t: &Ty) {
        if !t.is_value() {
            self.require(span, t, &Ty::Any);
        }
    }

    fn mismatch(&mut self, span: Span, expected: &str, found: &Ty) {
        self.error(CheckError::TypeMismatch {
            span,
            expected: expected.to_string(),
            found: format!("`{found}`"),
            help: None,
        });
    }

    fn unknown_member<'a>(
        &mut self,
        span: Span,
        name: &str,
        known: impl Iterator<Item = &'a str> + Clone,
        what: &'static str,
        owner: &str,
    ) {
        let suggestion = diagnostic::did_you_mean(name, known.clone()).map(str::to_string);
        self.error(CheckError::UnknownField {
            span,
            field: name.to_string(),
            what,
            owner: owner.to_string(),
            suggestion,
            known: known.map(str::to_string).collect(),
        });
    }

    fn member_type(&mut self, base: &Ty, member: &Ident) -> Ty {
        match base {
            Ty::Any | Ty::Resource => Ty::Any,
            Ty::Map(t) => (**t).clone(),
            Ty::Schema(s) => match s.field(&member.name) {
                Some(f) => f.ty.clone(),
                None => {
                    let s = s.clone();
                    self.unknown_member(
                        member.span,
                        &member.name,
                        s.fields.iter().map(|f| f.name.as_str()),
                        "field",
                        &format!("schema `{}`", s.name),
                    );
                    Ty::Any
                }
            },
            Ty::Record(fields) => match fields.get(member.name.as_str()) {
                Some(t) => t.clone(),
                None => {
                    let fields = fields.clone();
                    self.unknown_member(
                        member.span,
                        &member.name,
                        fields.keys().map(String::as_str),
                        "field",
                        "this value",
                    );
                    Ty::Any
                }
            },
            Ty::Instance(component) => {
                let item = self.item(component);
                let ItemKind::Component { name, body, .. } = &item.kind else {
                    return Ty::Any;
                };
                let found = body.entries.iter().enumerate().find_map(|(i, e)| match e {
                    Entry::Item(item) => match &item.kind {
                        ItemKind::Output { name, .. } if name.name == member.name => Some(i),
                        _ => None,
                    },
                    Entry::Attr(_) => None,
                });
                match found {
                    Some(index) => self.item_type(&component.child(index)),
                    None => {
                        let outputs: Vec<&str> = body
                            .entries
                            .iter()
                            .filter_map(|e| match e {
                                Entry::Item(item) => match &item.kind {
                                    ItemKind::Output { name, .. } => Some(name.name.as_str()),
                                    _ => None,
                                },
                                Entry::Attr(_) => None,
                            })
                            .collect();
                        self.unknown_member(
                            member.span,
                            &member.name,
                            outputs.into_iter(),
                            "output",
                            &format!("component `{}`", name.name),
                        );
                        Ty::Any
                    }
                }
            }
            other => {
                self.error(CheckError::TypeMismatch {
                    span: member.span,
                    expected: "a value with members".into(),
                    found: format!("`{other}`"),
                    help: Some(format!("A {other} has no `.{}`.", member.name)),
                });
                Ty::Any
            }
        }
    }

    fn infer_binary(&mut self, op: BinaryOp, a: &Expr, b: &Expr) -> Ty {
        let ta = self.infer(a);
        let tb = self.infer(b);
        match op {
            BinaryOp::And | BinaryOp::Or => {
                self.require(a.span, &ta, &Ty::Bool);
                self.require(b.span, &tb, &Ty::Bool);
                Ty::Bool
            }
            BinaryOp::Eq | BinaryOp::Ne => {
                self.value_only(a.span, &ta);
                self.value_only(b.span, &tb);
                Ty::Bool
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                let strings = ta.assignable_to(&Ty::Str) && tb.assignable_to(&Ty::Str);
                if !(ta.is_numeric() && tb.is_numeric() || strings) {
                    let (span, t) = if ta.is_numeric() || ta.assignable_to(&Ty::Str) {
                        (b.span, &tb)
                    } else {
                        (a.span, &ta)
                    };
                    self.mismatch(span, "two numbers or two strings to compare", t);
                }
                Ty::Bool
            }
            BinaryOp::Add => {
                if ta.is_numeric() && tb.is_numeric() {
                    numeric_result(&ta, &tb)
                } else if ta.assignable_to(&Ty::Str)
                    && tb.assignable_to(&Ty::Str)
                    && !matches!((&ta, &tb), (Ty::Any, Ty::Any))
                {
                    Ty::Str
                } else {
                    let (span, t) = if ta.is_numeric() || ta.assignable_to(&Ty::Str) {
                        (b.span, &tb)
                    } else {
                        (a.span, &ta)
                    };
                    self.error(CheckError::TypeMismatch {
                        span,
                        expected: "numbers or strings for `+`".into(),
                        found: format!("`{t}`"),
                        help: Some("Join lists with concat(..) and maps with merge(..).".into()),
                    });
                    Ty::Any
                }
            }
            BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                if !ta.is_numeric() {
                    self.mismatch(a.span, "a number", &ta);
                }
                if !tb.is_numeric() {
                    self.mismatch(b.span, "a number", &tb);
                }
                numeric_result(&ta, &tb)
            }
        }
    }

    /// `"...${x}..."`: interpolated values must be scalars; a secret makes the string secret.
    pub(super) fn infer_str(&mut self, s: &StrLit) -> Ty {
        let mut secret = false;
        for part in &s.parts {
            if let StrPart::Interp(e) = part {
                let t = self.infer(e);
                match t {
                    Ty::Secret => {
                        // rel never puts a secret's value into text.
                        secret = true;
                        self.error(CheckError::SecretAsText { span: e.span });
                    }
                    Ty::Any | Ty::Null | Ty::Bool | Ty::Int | Ty::Float | Ty::Str | Ty::Enum(_) => {
                    }
                    other => self.error(CheckError::TypeMismatch {
                        span: e.span,
                        expected: "a string, number or bool to interpolate".into(),
                        found: format!("`{other}`"),
                        help: Some(
                            "Interpolate a field of it, or turn a list into text with join(..)."
                                .into(),
                        ),
                    }),
                }
            }
        }
        if secret { Ty::Secret } else { Ty::Str }
    }

    fn enter_comprehension(&mut self, c: &Comprehension) {
        let iter = self.infer(&c.iterable);
        let (key, value) = match &iter {
            Ty::List(t) => (Ty::Int, (**t).clone()),
            Ty::Map(t) => (Ty::Str, (**t).clone()),
            Ty::Record(fields) => (Ty::Str, fields.values().fold(Ty::Null, |a, b| a.join(b))),
            Ty::Any => (Ty::Any, Ty::Any),
            other => {
                self.mismatch(c.iterable.span, "a list or map to iterate", other);
                (Ty::Any, Ty::Any)
            }
        };
        let mut scope = Scope::new();
        if let Some(k) = &c.key_var {
            self.locals.insert(k.span, key);
            scope.bind(&k.name, Def::Local(k.span), k.span);
        }
        self.locals.insert(c.var.span, value);
        scope.bind(&c.var.name, Def::Local(c.var.span), c.var.span);
        self.scopes.push(scope);
    }

    fn comprehension_cond(&mut self, c: &Comprehension) {
        if let Some(cond) = &c.cond {
            self.expect(cond, &Ty::Bool);
        }
    }

    fn infer_call(&mut self, name: &Ident, args: &[Expr], span: Span) -> Ty {
        let arg_types: Vec<Ty> = args.iter().map(|a| self.infer(a)).collect();
        let Some(builtin) = builtins::find(&name.name) else {
            let suggestion = diagnostic::did_you_mean(&name.name, BUILTINS.iter().map(|b| b.name))
                .map(str::to_string);
            self.error(CheckError::UnknownFunction {
                span: name.span,
                name: name.name.to_string(),
                suggestion,
            });
            return Ty::Any;
        };
        if args.len() < builtin.min || builtin.max_args().is_some_and(|m| args.len() > m) {
            self.error(CheckError::ArgumentCount {
                span,
                function: builtin.name.to_string(),
                expected: builtin.arity(),
                found: args.len(),
            });
            return (builtin.returns)(&arg_types);
        }
        for (i, (arg, t)) in args.iter().zip(&arg_types).enumerate() {
            let param = builtin.param(i);
            if !param.accepts(t) {
                self.error(CheckError::TypeMismatch {
                    span: arg.span,
                    expected: param.describe().to_string(),
                    found: format!("`{t}`"),
                    help: Some(format!(
                        "Argument {} of `{}` must be a {}.",
                        i + 1,
                        builtin.name,
                        param.describe()
                    )),
                });
            }
        }
        match builtin.name {
            "file" => {
                self.check_file_arg(&args[0]);
            }
            "template" => {
                if let (Some(path), Some(Const::Str(shown))) =
                    (self.check_file_arg(&args[0]), const_of(&args[0]))
                {
                    self.check_template(&args[0], &path, &shown);
                }
            }
            "cidrsubnet" | "cidrhost" => {
                if let Some(Const::Str(prefix)) = const_of(&args[0]) {
                    if parse_cidr(&prefix).is_none() {
                        self.error(CheckError::TypeMismatch {
                            span: args[0].span,
                            expected: "a CIDR prefix such as \"10.0.0.0/16\"".into(),
                            found: format!("\"{prefix}\""),
                            help: Some(
                                "Write an IPv4 address, a slash and a prefix length from 0 to 32."
                                    .into(),
                            ),
                        });
                    }
                }
            }
            _ => {}
        }
        (builtin.returns)(&arg_types)
    }

    /// A literal path given to file(..) or template(..) must exist beside the
    /// module, inside the project. Returns the file's path when it does.
    fn check_file_arg(&mut self, arg: &Expr) -> Option<std::path::PathBuf> {
        let Some(Const::Str(path)) = const_of(arg) else {
            return None;
        };
        let module = self.program.module(self.module);
        let Origin::Disk(file) = &self.sources.get(module.file).origin else {
            return None;
        };
        let full = file
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join(&path);
        match (&module.root, full.canonicalize()) {
            (Some(root), Ok(canonical)) if !canonical.starts_with(root) => {
                self.error(CheckError::FileOutsideRoot {
                    span: arg.span,
                    path,
                });
                None
            }
            (_, Ok(canonical)) if canonical.is_file() => Some(canonical),
            _ => {
                self.error(CheckError::MissingFile {
                    span: arg.span,
                    path,
                });
                None
            }
        }
    }

    /// A template file must parse as a tera template, so that rendering it at
    /// build time cannot fail on syntax.
    fn check_template(&mut self, arg: &Expr, path: &std::path::Path, shown: &str) {
        let problem = match std::fs::read_to_string(path) {
            Ok(text) => tera::Tera::default()
                .add_raw_template(shown, &text)
                .err()
                .map(|e| {
                    let mut message = e.to_string();
                    let mut source = std::error::Error::source(&e);
                    while let Some(inner) = source {
                        message.push_str(": ");
                        message.push_str(&inner.to_string());
                        source = inner.source();
                    }
                    message
                }),
            Err(e) => Some(format!("cannot read it: {e}")),
        };
        if let Some(reason) = problem {
            self.error(CheckError::InvalidTemplate {
                span: arg.span,
                reason,
            });
        }
    }
}

/// "a" or "an" before a kind of non-value in messages.
fn article(t: &Ty) -> &'static str {
    match t {
        Ty::AppTemplate => "an",
        _ => "a",
    }
}

fn numeric_result(a: &Ty, b: &Ty) -> Ty {
    match (a, b) {
        (Ty::Int, Ty::Int) => Ty::Int,
        (Ty::Float, _) | (_, Ty::Float) => Ty::Float,
        _ => Ty::Any,
    }
}

/// A literal seen without copying it, for constraint checks.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LiteralView<'a> {
    Number(f64),
    Str(&'a str),
    /// A list or map literal of this many elements.
    Collection(usize),
    Other,
}

impl LiteralView<'_> {
    /// Characters of a string, elements of a collection.
    pub fn length(self) -> Option<usize> {
        match self {
            LiteralView::Str(s) => Some(s.chars().count()),
            LiteralView::Collection(n) => Some(n),
            _ => None,
        }
    }
}

/// The literal an expression is, if it is one (interpolated strings and
/// computed values are not).
pub(crate) fn literal_view(e: &Expr) -> Option<LiteralView<'_>> {
    Some(match &e.kind {
        ExprKind::Int(n) => LiteralView::Number(*n as f64),
        ExprKind::Float(f) => LiteralView::Number(*f),
        ExprKind::Str(s) => match s.parts.as_slice() {
            [] => LiteralView::Str(""),
            [StrPart::Lit(t)] => LiteralView::Str(t),
            _ => return None,
        },
        ExprKind::List(items) => LiteralView::Collection(items.len()),
        ExprKind::Map(entries) => LiteralView::Collection(entries.len()),
        ExprKind::Unary(UnaryOp::Neg, inner) => match literal_view(inner)? {
            LiteralView::Number(v) => LiteralView::Number(-v),
            _ => return None,
        },
        ExprKind::Paren(inner) => literal_view(inner)?,
        ExprKind::Null | ExprKind::Bool(_) => LiteralView::Other,
        _ => return None,
    })
}

/// The value of a literal expression, if it is one.
pub(crate) fn const_of(e: &Expr) -> Option<Const> {
    Some(match &e.kind {
        ExprKind::Null => Const::Null,
        ExprKind::Bool(b) => Const::Bool(*b),
        ExprKind::Int(n) => Const::Int(*n),
        ExprKind::Float(f) => Const::Float(*f),
        ExprKind::Str(s) => Const::Str(s.as_plain()?),
        ExprKind::List(items) => Const::List(items.iter().map(const_of).collect::<Option<_>>()?),
        ExprKind::Map(entries) => Const::Map(
            entries
                .iter()
                .map(|m| Some((m.key.as_plain()?, const_of(&m.value)?)))
                .collect::<Option<_>>()?,
        ),
        ExprKind::Unary(UnaryOp::Neg, inner) => match const_of(inner)? {
            Const::Int(n) => Const::Int(n.checked_neg()?),
            Const::Float(f) => Const::Float(-f),
            _ => return None,
        },
        ExprKind::Paren(inner) => const_of(inner)?,
        _ => return None,
    })
}

/// An IPv4 CIDR prefix: address and length.
pub fn parse_cidr(s: &str) -> Option<(std::net::Ipv4Addr, u8)> {
    let (addr, len) = s.split_once('/')?;
    let len: u8 = len.parse().ok().filter(|l| *l <= 32)?;
    Some((addr.parse().ok()?, len))
}
