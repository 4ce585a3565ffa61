//! A readable, span-free rendering of the syntax tree, for snapshots and for
//! comparing trees "modulo spans" (the formatter must not change meaning).

use std::fmt::Write;

use super::ast::*;

/// Renders the items of a tree as an indented S-expression.
pub fn dump(tree: &SourceTree) -> String {
    let mut d = Dumper {
        out: String::new(),
        indent: 0,
    };
    for item in &tree.items {
        d.item(item);
    }
    d.out
}

struct Dumper {
    out: String,
    indent: usize,
}

impl Dumper {
    fn line(&mut self, text: &str) {
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn nested(&mut self, head: &str, f: impl FnOnce(&mut Dumper)) {
        self.line(head);
        self.indent += 1;
        f(self);
        self.indent -= 1;
    }

    fn item(&mut self, item: &Item) {
        match &item.kind {
            ItemKind::Import { path, alias } => {
                self.line(&format!("import {} as {}", str_lit(path), alias.name))
            }
            ItemKind::Param(f) => self.field("param", f),
            ItemKind::Let { name, value } => {
                self.line(&format!("let {} = {}", name.name, expr(value)))
            }
            ItemKind::Output { name, value } => {
                self.line(&format!("output {} = {}", name.name, expr(value)))
            }
            ItemKind::Schema { name, fields, .. } => {
                self.nested(&format!("schema {}", name.name), |d| {
                    for f in fields {
                        d.field("field", f);
                    }
                })
            }
            ItemKind::Component { name, kind, body } => {
                let kind = kind
                    .as_ref()
                    .map(|k| format!(": {}", k.name))
                    .unwrap_or_default();
                self.nested(&format!("component {}{kind}", name.name), |d| d.body(body));
            }
            ItemKind::Resource {
                name,
                type_name,
                body,
            } => self.nested(
                &format!("resource {} {}", name.name, str_lit(type_name)),
                |d| d.body(body),
            ),
            ItemKind::Block { kind, name, body } => self
                .nested(&format!("{} {}", kind.keyword(), name.name), |d| {
                    d.body(body)
                }),
            ItemKind::Project { name } => self.line(&format!("project {}", str_lit(name))),
            ItemKind::Environment { name, base, body } => self.nested(
                &format!("environment {} from {}", str_lit(name), base.dotted()),
                |d| d.body(body),
            ),
            ItemKind::Instance {
                kind,
                name,
                component,
                body,
            } => self.nested(
                &format!("{} {} = {}", kind.name, name.name, component.dotted()),
                |d| d.body(body),
            ),
        }
    }

    fn field(&mut self, head: &str, f: &FieldDecl) {
        let mut s = format!(
            "{head} {}{}: {}",
            f.name.name,
            if f.optional { "?" } else { "" },
            ty(&f.ty)
        );
        for c in &f.constraints {
            write!(s, " @{}", c.name.name).ok();
            if !c.args.is_empty() {
                write!(
                    s,
                    "({})",
                    c.args.iter().map(expr).collect::<Vec<_>>().join(", ")
                )
                .ok();
            }
        }
        if let Some(default) = &f.default {
            write!(s, " = {}", expr(default)).ok();
        }
        self.line(&s);
    }

    fn body(&mut self, body: &Body) {
        for entry in &body.entries {
            match entry {
                Entry::Attr(a) => self.line(&format!("{} = {}", a.path.dotted(), expr(&a.value))),
                Entry::Item(i) => self.item(i),
            }
        }
    }
}

fn ty(t: &TypeExpr) -> String {
    match &t.kind {
        TypeKind::Named(p) => p.dotted(),
        TypeKind::List(inner) => format!("list({})", ty(inner)),
        TypeKind::Map(inner) => format!("map({})", ty(inner)),
        TypeKind::Enum(values) => values.iter().map(str_lit).collect::<Vec<_>>().join(" | "),
    }
}

fn str_lit(s: &StrLit) -> String {
    let mut out = String::from(if s.multiline { "(str\"\"\"" } else { "(str" });
    for part in &s.parts {
        match part {
            StrPart::Lit(t) => write!(out, " {t:?}").ok(),
            StrPart::Interp(e) => write!(out, " ${{{}}}", expr(e)).ok(),
        };
    }
    out.push(')');
    out
}

/// Renders an expression fully parenthesised, so precedence is visible.
pub fn expr(e: &Expr) -> String {
    super::with_stack(|| expr_kind(e))
}

fn expr_kind(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Null => "null".into(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Int(n) => n.to_string(),
        ExprKind::Float(f) => format!("{f:?}"),
        ExprKind::Str(s) => str_lit(s),
        ExprKind::List(items) => format!(
            "[{}]",
            items.iter().map(expr).collect::<Vec<_>>().join(", ")
        ),
        ExprKind::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|m| format!("{} = {}", key(&m.key), expr(&m.value)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ExprKind::Name(i) => i.name.to_string(),
        ExprKind::Member(base, m) => format!("{}.{}", expr(base), m.name),
        ExprKind::Index(base, i) => format!("{}[{}]", expr(base), expr(i)),
        ExprKind::Call(f, args) => format!(
            "{}({})",
            f.name,
            args.iter().map(expr).collect::<Vec<_>>().join(", ")
        ),
        ExprKind::Unary(op, operand) => {
            format!(
                "({}{})",
                if *op == UnaryOp::Not { "!" } else { "-" },
                expr(operand)
            )
        }
        ExprKind::Binary(op, a, b) => format!("({} {} {})", expr(a), op.symbol(), expr(b)),
        ExprKind::If(c, a, b) => format!("(if {} then {} else {})", expr(c), expr(a), expr(b)),
        ExprKind::ListFor(c) => format!("[{}]", comprehension(c, None)),
        ExprKind::MapFor(c, v) => format!("{{{}}}", comprehension(c, Some(v))),
        // Parentheses are kept as written: the formatter may not add or drop them.
        ExprKind::Paren(inner) => format!("(paren {})", expr(inner)),
    }
}

fn key(k: &MapKey) -> String {
    match k {
        MapKey::Ident(i) => i.name.to_string(),
        MapKey::Str(s) => str_lit(s),
    }
}

fn comprehension(c: &Comprehension, value: Option<&Expr>) -> String {
    let vars = match &c.key_var {
        Some(k) => format!("{}, {}", k.name, c.var.name),
        None => c.var.name.to_string(),
    };
    let mut s = format!("for {vars} in {}: {}", expr(&c.iterable), expr(&c.body));
    if let Some(v) = value {
        write!(s, " => {}", expr(v)).ok();
    }
    if let Some(cond) = &c.cond {
        write!(s, " if {}", expr(cond)).ok();
    }
    s
}
