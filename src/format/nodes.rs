//! How each syntax node prints: items, fields, types and expressions.

use super::MAX_WIDTH;
use super::printer::{AlignKey, Brackets, Printer, end};
use crate::source::Span;
use crate::syntax::ast::*;

impl Printer<'_> {
    // ---------- items ----------

    pub(super) fn item(&mut self, item: &Item) {
        self.comments_before(item.span.start as usize);
        match &item.kind {
            ItemKind::Import { path, alias } => {
                self.push("import");
                self.space();
                self.string(path);
                self.keyword_between(end(path.span), "as");
                self.ident(alias);
            }
            ItemKind::Param(field) => {
                self.push("param");
                self.space();
                self.field(field);
            }
            ItemKind::Let { name, value } => self.named_value("let", name, value),
            ItemKind::Output { name, value } => self.named_value("output", name, value),
            ItemKind::Schema {
                name,
                fields,
                body_span,
            } => {
                self.push("schema");
                self.space();
                self.ident(name);
                self.space();
                self.comments_before(body_span.start as usize);
                let brackets = Brackets::around(*body_span, "{", "}");
                self.sequence(
                    Some(brackets),
                    fields,
                    |f| f.span,
                    false,
                    |p, f| {
                        p.field(f);
                        None
                    },
                );
            }
            ItemKind::Component { name, kind, body } => {
                self.push("component");
                self.space();
                self.ident(name);
                if let Some(kind) = kind {
                    self.tight_token_after(end(name.span), ":");
                    self.space();
                    self.ident(kind);
                }
                self.body(body);
            }
            ItemKind::Resource {
                name,
                type_name,
                body,
            } => {
                self.push("resource");
                self.space();
                self.ident(name);
                self.space();
                self.string(type_name);
                self.body(body);
            }
            ItemKind::Block { kind, name, body } => {
                self.push(kind.keyword());
                self.space();
                self.ident(name);
                self.body(body);
            }
            ItemKind::Project { name } => {
                self.push("project");
                self.space();
                self.string(name);
            }
            ItemKind::Environment { name, base, body } => {
                self.push("environment");
                self.space();
                self.string(name);
                self.keyword_between(end(name.span), "from");
                self.path(base);
                self.body(body);
            }
            ItemKind::Instance {
                kind,
                name,
                component,
                body,
            } => {
                self.ident(kind);
                self.space();
                self.ident(name);
                self.keyword_between(end(name.span), "=");
                self.path(component);
                self.body(body);
            }
        }
    }

    /// `let name = value`, `output name = value`
    fn named_value(&mut self, keyword: &str, name: &Ident, value: &Expr) {
        self.push(keyword);
        self.space();
        self.ident(name);
        self.keyword_between(end(name.span), "=");
        self.expr(value);
    }

    /// `name?: type @constraint(args) = default`
    fn field(&mut self, field: &FieldDecl) {
        self.ident(&field.name);
        let mut last = end(field.name.span);
        if field.optional {
            let question_mark = self.next_token_start(last);
            self.tight_token_after(last, "?");
            last = question_mark + 1;
        }
        self.tight_token_after(last, ":");
        self.space();
        self.type_expr(&field.ty);
        last = end(field.ty.span);
        for constraint in &field.constraints {
            self.space();
            self.comments_before(constraint.span.start as usize);
            self.push("@");
            self.ident_tight(&constraint.name);
            // `@nonempty()` and `@nonempty` are the same constraint; the
            // parentheses stay only to hold a comment in place.
            let empty =
                constraint.args.is_empty() && self.comment_before(end(constraint.span)).is_none();
            if !empty {
                self.tight_token_after(end(constraint.name.span), "(");
                self.comma_separated(&constraint.args);
                self.close(constraint.span, ")");
            }
            last = end(constraint.span);
        }
        if let Some(default) = &field.default {
            self.keyword_between(last, "=");
            self.expr(default);
        }
    }

    fn body(&mut self, body: &Body) {
        self.space();
        self.comments_before(body.span.start as usize);
        let brackets = Brackets::around(body.span, "{", "}");
        self.sequence(
            Some(brackets),
            &body.entries,
            Entry::span,
            false,
            |p, entry| match entry {
                Entry::Item(item) => {
                    p.item(item);
                    None
                }
                Entry::Attr(attr) => {
                    p.comments_before(attr.span.start as usize);
                    p.path(&attr.path);
                    let key = p.align_key();
                    p.keyword_between(end(attr.path.span), "=");
                    p.expr(&attr.value);
                    Some(key)
                }
            },
        );
    }

    // ---------- names, strings, types ----------

    fn ident(&mut self, ident: &Ident) {
        self.comments_before(ident.span.start as usize);
        self.push(&ident.name);
    }

    /// A name glued to the token before it (`@range`, `.name`), unless a
    /// comment stands between them.
    fn ident_tight(&mut self, ident: &Ident) {
        let before = self.comments_written();
        self.comments_before(ident.span.start as usize);
        if self.comments_written() == before {
            self.push_tight(&ident.name);
        } else {
            self.push(&ident.name);
        }
    }

    /// `a.b.c`
    fn path(&mut self, path: &Path) {
        let mut last = None;
        for segment in &path.segments {
            match last {
                None => self.ident(segment),
                Some(after) => {
                    self.tight_token_after(after, ".");
                    self.ident_tight(segment);
                }
            }
            last = Some(end(segment.span));
        }
    }

    /// A string literal, copied from the source with any comments inside its
    /// interpolations.
    fn string(&mut self, string: &StrLit) {
        self.comments_before(string.span.start as usize);
        self.push(self.source(string.span));
        self.skip_comments_before(end(string.span));
    }

    fn type_expr(&mut self, ty: &TypeExpr) {
        self.comments_before(ty.span.start as usize);
        match &ty.kind {
            TypeKind::Named(path) => self.path(path),
            TypeKind::List(inner) | TypeKind::Map(inner) => {
                let keyword = if matches!(ty.kind, TypeKind::List(_)) {
                    "list"
                } else {
                    "map"
                };
                self.push(keyword);
                self.tight_token_after(ty.span.start as usize + keyword.len(), "(");
                self.type_expr(inner);
                self.close(ty.span, ")");
            }
            TypeKind::Enum(values) => {
                let mut last = None;
                for value in values {
                    if let Some(after) = last {
                        self.keyword_between(after, "|");
                    }
                    self.string(value);
                    last = Some(end(value.span));
                }
            }
        }
    }

    // ---------- expressions ----------

    fn expr(&mut self, expr: &Expr) {
        crate::syntax::with_stack(|| self.expr_kind(expr))
    }

    fn expr_kind(&mut self, expr: &Expr) {
        self.comments_before(expr.span.start as usize);
        match &expr.kind {
            ExprKind::Null => self.push("null"),
            ExprKind::Bool(value) => self.push(if *value { "true" } else { "false" }),
            // Copied so that `1_000`, `1e3` and `0.50` stay as written.
            ExprKind::Int(_) | ExprKind::Float(_) => self.push(self.source(expr.span)),
            ExprKind::Str(string) => self.string(string),
            ExprKind::List(elements) => self.list(expr, elements),
            ExprKind::Map(entries) => self.map(expr, entries),
            ExprKind::Name(name) => self.ident(name),
            ExprKind::Member(base, name) => {
                self.expr(base);
                self.tight_token_after(end(base.span), ".");
                self.ident_tight(name);
            }
            ExprKind::Index(base, index) => {
                self.expr(base);
                self.tight_token_after(end(base.span), "[");
                self.expr(index);
                self.close(expr.span, "]");
            }
            ExprKind::Call(function, args) => {
                self.ident(function);
                self.tight_token_after(end(function.span), "(");
                self.comma_separated(args);
                self.close(expr.span, ")");
            }
            ExprKind::Unary(op, operand) => {
                self.push(if *op == UnaryOp::Not { "!" } else { "-" });
                self.expr(operand);
            }
            ExprKind::Binary(op, left, right) => {
                self.expr(left);
                self.keyword_between(end(left.span), op.symbol());
                self.expr(right);
            }
            ExprKind::If(condition, then, otherwise) => {
                self.push("if");
                self.space();
                self.expr(condition);
                self.keyword_between(end(condition.span), "then");
                self.expr(then);
                self.keyword_between(end(then.span), "else");
                self.expr(otherwise);
            }
            ExprKind::ListFor(comprehension) => {
                self.push("[");
                self.token_after(expr.span.start as usize + 1, "for");
                self.comprehension_head(comprehension);
                self.comprehension_condition(comprehension, end(comprehension.body.span));
                self.close(expr.span, "]");
            }
            ExprKind::MapFor(comprehension, value) => {
                self.push("{");
                self.token_after(expr.span.start as usize + 1, "for");
                self.comprehension_head(comprehension);
                self.keyword_between(end(comprehension.body.span), "=>");
                self.expr(value);
                self.comprehension_condition(comprehension, end(value.span));
                self.close(expr.span, "}");
            }
            ExprKind::Paren(inner) => {
                self.push("(");
                self.expr(inner);
                self.close(expr.span, ")");
            }
        }
    }

    /// ` word ` between two operands; `word` is the first token after `after`.
    fn keyword_between(&mut self, after: usize, word: &str) {
        self.space();
        self.token_after(after, word);
        self.space();
    }

    /// The closing bracket that ends `span`, after the comments before it.
    fn close(&mut self, span: Span, bracket: &str) {
        self.comments_before(end(span).saturating_sub(1));
        self.push_tight(bracket);
    }

    fn comma_separated(&mut self, exprs: &[Expr]) {
        let mut last = None;
        for expr in exprs {
            if let Some(after) = last {
                self.tight_token_after(after, ",");
                self.space();
            }
            self.expr(expr);
            last = Some(end(expr.span));
        }
    }

    /// ` k, v in iterable: body` after `[for` or `{for`.
    fn comprehension_head(&mut self, comprehension: &Comprehension) {
        self.space();
        if let Some(key_var) = &comprehension.key_var {
            self.ident(key_var);
            self.tight_token_after(end(key_var.span), ",");
            self.space();
        }
        self.ident(&comprehension.var);
        self.keyword_between(end(comprehension.var.span), "in");
        self.expr(&comprehension.iterable);
        self.tight_token_after(end(comprehension.iterable.span), ":");
        self.space();
        self.expr(&comprehension.body);
    }

    /// ` if condition`, the `if` being the first token after `after`.
    fn comprehension_condition(&mut self, comprehension: &Comprehension, after: usize) {
        if let Some(condition) = &comprehension.cond {
            self.keyword_between(after, "if");
            self.expr(condition);
        }
    }

    fn list(&mut self, list: &Expr, elements: &[Expr]) {
        if self.fits_inline(list) {
            self.push("[");
            self.comma_separated(elements);
            self.push_tight("]");
        } else {
            let brackets = Brackets::around(list.span, "[", "]");
            self.sequence(
                Some(brackets),
                elements,
                |e| e.span,
                true,
                |p, e| {
                    p.expr(e);
                    None
                },
            );
        }
    }

    fn map(&mut self, map: &Expr, entries: &[MapEntry]) {
        if entries.is_empty() && self.comment_before(end(map.span)).is_none() {
            self.push("{}");
        } else if self.fits_inline(map) {
            self.push("{");
            for (index, entry) in entries.iter().enumerate() {
                if index > 0 {
                    self.push_tight(",");
                }
                self.space();
                self.map_entry(entry);
            }
            self.space();
            self.push("}");
        } else {
            let brackets = Brackets::around(map.span, "{", "}");
            self.sequence(
                Some(brackets),
                entries,
                |e| e.span,
                false,
                |p, e| Some(p.map_entry(e)),
            );
        }
    }

    /// `key = value`; returns the key for alignment.
    fn map_entry(&mut self, entry: &MapEntry) -> AlignKey {
        match &entry.key {
            MapKey::Ident(ident) => self.ident(ident),
            MapKey::Str(string) => self.string(string),
        }
        let key = self.align_key();
        self.keyword_between(end(entry.key.span()), "=");
        self.expr(&entry.value);
        key
    }

    /// Whether a list or map literal is printed on one line: it was on one
    /// line in the source, holds no comment, and fits within [`MAX_WIDTH`].
    ///
    /// Each input depends only on text that formatting does not change (a
    /// multi-line literal stays multi-line, an inline one is at the same
    /// column), which keeps the formatter idempotent.
    fn fits_inline(&self, literal: &Expr) -> bool {
        if self.is_measuring() {
            return true;
        }
        if self.source(literal.span).contains('\n')
            || self.comment_before(end(literal.span)).is_some()
        {
            return false;
        }
        let mut measure = self.measuring();
        measure.expr(literal);
        let inline = measure.output();
        !inline.contains('\n') && self.column() + inline.chars().count() <= MAX_WIDTH
    }
}
