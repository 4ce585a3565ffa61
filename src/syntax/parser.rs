//! The parser: items, blocks, types and expressions, following `grammar/rel.ebnf`.
//!
//! Each function's doc comment quotes the production it implements. Structure
//! is decided by looking at the next token, so the parser commits early and
//! reports "expected X, found Y" at the exact point; broken entries are skipped
//! to the next entry boundary and parsing goes on.

use nom::Input;

use super::ast::*;
use super::error::SyntaxError;
use super::lexer::*;
use super::strings::string_lit;
use crate::source::{FileId, Span};

pub(super) fn parse_tree(file: FileId, text: &str) -> (SourceTree, Vec<SyntaxError>) {
    let ctx = Ctx::new(file, text);
    let mut items = Vec::new();
    {
        let mut i = In::new_extra(text, &ctx);
        // A UTF-8 byte-order mark is not part of the program.
        if text.starts_with('\u{feff}') {
            i = i.take_from('\u{feff}'.len_utf8());
        }
        loop {
            i = trivia(i);
            if i.fragment().is_empty() || ctx.gave_up.get() {
                break;
            }
            match entry(i, true) {
                Ok((rest, Entry::Item(item))) => {
                    items.push(*item);
                    i = rest;
                }
                Ok((rest, Entry::Attr(attr))) => {
                    ctx.report(SyntaxError::AttributeOutsideBlock {
                        span: attr.path.span,
                    });
                    i = rest;
                }
                Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
                    let offset = e.offset();
                    ctx.report(e.into_syntax(i));
                    ctx.depth.set(0);
                    i = recover(i, offset, true);
                }
                Err(nom::Err::Incomplete(_)) => break,
            }
        }
    }
    if text.trim_start_matches('\u{feff}').trim().is_empty() {
        ctx.report(SyntaxError::EmptyFile {
            span: Span::new(file, 0, text.len()),
        });
    }
    let mut comments = ctx.comments.take();
    comments.sort();
    comments.dedup();
    let errors = ctx.errors.take();
    (
        SourceTree {
            items,
            comments,
            span: Span::new(file, 0, text.len()),
        },
        errors,
    )
}

/// `entry = attribute | item` (at the top level, `item` only)
fn entry(i: In<'_>, top_level: bool) -> PResult<'_, Entry> {
    let start = at(i);
    let Some(w) = peek_word(start) else {
        return expected(
            start,
            if top_level {
                "an item"
            } else {
                "an attribute, an item or `}`"
            },
        );
    };
    // `name =` and `a.b =` are attributes, even when `name` is a keyword.
    let after = start.take_from(w.len());
    if peek(after, ":") && !top_level {
        return expected_help(
            at(after),
            "`=` after the attribute name",
            "Attributes are written NAME = VALUE; `:` gives the type of a `param` or schema field.",
        );
    }
    if peek(after, "=") && !peek(after, "==") || peek(after, ".") {
        let first = Ident {
            name: w.into(),
            span: point(&start, w.len()),
        };
        let (i, attr) = attribute_from(start, first, after)?;
        return Ok((i, Entry::Attr(attr)));
    }
    let (i, kind) = match w {
        // `project` is a word only here: `param project` and instances of a
        // `project` kind keep working.
        "project" if top_level && peek(after, "\"") => project(start)?,
        "import" => import(start)?,
        "param" => {
            let (i, _) = eat_keyword(start, "param").unwrap_or((start, Span::default()));
            let (i, f) = field(i)?;
            (i, ItemKind::Param(f))
        }
        "let" | "output" => named_value(start, w)?,
        "schema" => schema(start)?,
        "component" => component(start)?,
        "resource" => resource(start)?,
        "app" | "service" | "job" | "domain" => block(start, w)?,
        "environment" => environment(start)?,
        w if super::is_keyword(w) => {
            return expected(
                start,
                if top_level {
                    "an item"
                } else {
                    "an attribute, an item or `}`"
                },
            );
        }
        _ => instance(start)?,
    };
    Ok((
        i,
        Entry::Item(Box::new(Item {
            kind,
            span: span(&start, &i),
        })),
    ))
}

/// `IDENT` that is not a keyword.
fn plain_name<'a>(i: In<'a>, what: &'static str) -> PResult<'a, Ident> {
    let i = at(i);
    match word(i) {
        Ok((rest, (w, sp))) if !super::is_keyword(w) => Ok((
            rest,
            Ident {
                name: w.into(),
                span: sp,
            },
        )),
        Ok(_) => expected_help(
            i,
            what,
            "Keywords cannot be used as names; see KEYWORD in grammar/rel.ebnf.",
        ),
        Err(_) => expected(i, what),
    }
}

/// A field or parameter name: any identifier but the expression keywords, so
/// that fields may be called `domain` or `service`.
fn field_name(i: In<'_>) -> PResult<'_, Ident> {
    let i = at(i);
    match word(i) {
        Ok((rest, (w, sp))) if !super::is_reserved(w) => Ok((
            rest,
            Ident {
                name: w.into(),
                span: sp,
            },
        )),
        Ok(_) => expected_help(
            i,
            "a field name",
            "Fields cannot be named import, as, param, let, output, schema, component, resource, from, if, then, else, for, in, true, false or null.",
        ),
        Err(_) => expected(i, "a field name"),
    }
}

/// Any identifier, keywords included (member and attribute names).
fn any_name<'a>(i: In<'a>, what: &'static str) -> PResult<'a, Ident> {
    let i = at(i);
    match word(i) {
        Ok((rest, (w, sp))) => Ok((
            rest,
            Ident {
                name: w.into(),
                span: sp,
            },
        )),
        Err(_) => expected(i, what),
    }
}

fn keyword<'a>(i: In<'a>, kw: &'static str, what: &'static str) -> PResult<'a, Span> {
    match eat_keyword(i, kw) {
        Some(r) => Ok(r),
        None => expected(at(i), what),
    }
}

/// `import = "import" STRING "as" IDENT`
fn import(i: In<'_>) -> PResult<'_, ItemKind> {
    let (i, _) = keyword(i, "import", "`import`")?;
    let i = at(i);
    if !i.fragment().starts_with('"') {
        return expected(i, "a module path string such as \"std/aws\"");
    }
    let (i, path) = string_lit(i)?;
    let (i, _) = keyword(i, "as", "`as` and a name for the module")?;
    let (i, alias) = plain_name(i, "a name for the module")?;
    Ok((i, ItemKind::Import { path, alias }))
}

/// `let = "let" IDENT "=" expr` and `output = "output" IDENT "=" expr`
fn named_value<'a>(i: In<'a>, kw: &str) -> PResult<'a, ItemKind> {
    let kw = if kw == "let" { "let" } else { "output" };
    let (i, _) = keyword(i, kw, "a keyword")?;
    let (i, name) = plain_name(i, "a name")?;
    let (i, _) = punct(i, "=", "`=`")?;
    let (i, value) = expr(i)?;
    Ok((
        i,
        if kw == "let" {
            ItemKind::Let { name, value }
        } else {
            ItemKind::Output { name, value }
        },
    ))
}

/// `field = IDENT [ "?" ] ":" type { constraint } [ "=" expr ]`
fn field(i: In<'_>) -> PResult<'_, FieldDecl> {
    let start = at(i);
    let (i, name) = field_name(start)?;
    let (i, optional) = match eat(i, "?") {
        Some((i, _)) => (i, true),
        None => (i, false),
    };
    let (i, _) = punct(i, ":", "`:` and a type")?;
    let (mut i, ty) = type_expr(i)?;
    let mut constraints = Vec::new();
    while peek(i, "@") {
        let (j, c) = constraint(i)?;
        constraints.push(c);
        i = j;
    }
    let (i, default) = optional_expr(i, eat(i, "="))?;
    Ok((
        i,
        FieldDecl {
            name,
            optional,
            ty,
            constraints,
            default,
            span: span(&start, &i),
        },
    ))
}

/// `constraint = "@" IDENT [ "(" [ expr { "," expr } [ "," ] ] ")" ]`
fn constraint(i: In<'_>) -> PResult<'_, Constraint> {
    let start = at(i);
    let (i, _) = punct(start, "@", "`@`")?;
    let (i, name) = any_name(i, "a constraint name such as `range`")?;
    let (i, args) = if peek(i, "(") {
        call_args(i)?
    } else {
        (i, Vec::new())
    };
    Ok((
        i,
        Constraint {
            name,
            args,
            span: span(&start, &i),
        },
    ))
}

/// `type = enum_type | "list" "(" type ")" | "map" "(" type ")" | path`
fn type_expr(i: In<'_>) -> PResult<'_, TypeExpr> {
    let start = at(i);
    if start.fragment().starts_with('"') {
        // enum_type = STRING { "|" STRING }
        let (mut i, first) = string_lit(start)?;
        let mut values = vec![first];
        while let Some((j, _)) = eat(i, "|").filter(|_| !peek(i, "||")) {
            let j = at(j);
            if !j.fragment().starts_with('"') {
                return expected(j, "a string value of the enumeration");
            }
            let (j, v) = string_lit(j)?;
            values.push(v);
            i = j;
        }
        return Ok((
            i,
            TypeExpr {
                kind: TypeKind::Enum(values),
                span: span(&start, &i),
            },
        ));
    }
    let w = peek_word(start);
    if matches!(w, Some("list" | "map")) && peek(start.take_from(w.map_or(0, str::len)), "(") {
        let is_list = w == Some("list");
        enter(start)?;
        let (i, _) = punct(start.take_from(w.map_or(0, str::len)), "(", "`(`")?;
        let (i, inner) = type_expr(i)?;
        let (i, _) = punct(i, ")", "`)`")?;
        leave(start);
        let inner = Box::new(inner);
        let kind = if is_list {
            TypeKind::List(inner)
        } else {
            TypeKind::Map(inner)
        };
        return Ok((
            i,
            TypeExpr {
                kind,
                span: span(&start, &i),
            },
        ));
    }
    match path(
        start,
        "a type such as `string`, `int`, `list(string)` or a schema name",
    ) {
        Ok((i, p)) => Ok((
            i,
            TypeExpr {
                span: p.span,
                kind: TypeKind::Named(p),
            },
        )),
        Err(e) => Err(e),
    }
}

/// `path = IDENT { "." IDENT }`
fn path<'a>(i: In<'a>, what: &'static str) -> PResult<'a, Path> {
    let start = at(i);
    let (i, first) = any_name(start, what)?;
    path_from(start, first, i)
}

/// The rest of a path whose first segment is already read.
fn path_from<'a>(start: In<'a>, first: Ident, mut i: In<'a>) -> PResult<'a, Path> {
    let mut segments = smallvec::smallvec![first];
    while let Some((j, _)) = eat(i, ".") {
        let (j, seg) = any_name(j, "a name after `.`")?;
        segments.push(seg);
        i = j;
    }
    Ok((
        i,
        Path {
            segments,
            span: span(&start, &i),
        },
    ))
}

/// `schema = "schema" IDENT "{" { field [ "," ] } "}"`
fn schema(i: In<'_>) -> PResult<'_, ItemKind> {
    let (i, _) = keyword(i, "schema", "`schema`")?;
    let (i, name) = plain_name(i, "a schema name")?;
    let (i, (fields, body_span)) = braced(i, "`{` to open the schema", field)?;
    Ok((
        i,
        ItemKind::Schema {
            name,
            fields,
            body_span,
        },
    ))
}

/// `component = "component" IDENT [ ":" IDENT ] body`
fn component(i: In<'_>) -> PResult<'_, ItemKind> {
    let (i, _) = keyword(i, "component", "`component`")?;
    let (i, name) = plain_name(i, "a component name")?;
    let (i, kind) = match eat(i, ":") {
        Some((j, _)) => {
            let (j, k) = plain_name(j, "the component's kind, such as `cluster`")?;
            (j, Some(k))
        }
        None => (i, None),
    };
    let (i, body) = body(i)?;
    Ok((i, ItemKind::Component { name, kind, body }))
}

/// `resource = "resource" IDENT STRING body`
fn resource(i: In<'_>) -> PResult<'_, ItemKind> {
    let (i, _) = keyword(i, "resource", "`resource`")?;
    let (i, name) = plain_name(i, "a resource name")?;
    let j = at(i);
    if !j.fragment().starts_with('"') {
        return expected_help(
            j,
            "the resource type as a string",
            "Write the provider type in quotes: \"AWS::S3::Bucket\", \"k8s:apps/v1/Deployment\" or \"gcp:google_storage_bucket\".",
        );
    }
    let (i, type_name) = string_lit(j)?;
    let (i, body) = body(i)?;
    Ok((
        i,
        ItemKind::Resource {
            name,
            type_name,
            body,
        },
    ))
}

/// `block = ( "app" | "service" | "job" | "domain" ) IDENT body`
fn block<'a>(i: In<'a>, kw: &str) -> PResult<'a, ItemKind> {
    let kind = match kw {
        "app" => BlockKind::App,
        "service" => BlockKind::Service,
        "job" => BlockKind::Job,
        _ => BlockKind::Domain,
    };
    let (i, _) = eat_keyword(i, kw).map_or_else(|| expected(at(i), "a block keyword"), Ok)?;
    let (i, name) = plain_name(i, "a name for the block")?;
    let (i, body) = body(i)?;
    Ok((i, ItemKind::Block { kind, name, body }))
}

/// `environment = "environment" STRING "from" path body`
fn environment(i: In<'_>) -> PResult<'_, ItemKind> {
    let (i, _) = keyword(i, "environment", "`environment`")?;
    let j = at(i);
    if !j.fragment().starts_with('"') {
        return expected_help(
            j,
            "the environment name as a string",
            "Environment names are strings, e.g. environment \"pr-${branch}\" from store { }.",
        );
    }
    let (i, name) = string_lit(j)?;
    let (i, _) = keyword(i, "from", "`from` and the app it is derived from")?;
    let (i, base) = path(i, "the name of an app")?;
    let (i, body) = body(i)?;
    Ok((i, ItemKind::Environment { name, base, body }))
}

/// `project = "project" STRING`
fn project(i: In<'_>) -> PResult<'_, ItemKind> {
    let (i, _) = eat_keyword(i, "project").map_or_else(|| expected(at(i), "`project`"), Ok)?;
    let (i, name) = string_lit(at(i))?;
    Ok((i, ItemKind::Project { name }))
}

/// `instance = KIND IDENT "=" path body`
fn instance(i: In<'_>) -> PResult<'_, ItemKind> {
    let (i, kind) = plain_name(i, "an item")?;
    let (i, name) = match plain_name(i, "a name for the instance") {
        Ok(r) => r,
        Err(_) => {
            return expected_help(
                at(i),
                "`=` or a name",
                "Attributes are written NAME = VALUE; instances are KIND NAME = COMPONENT { ... }; other items start with a keyword (let, param, app, ...).",
            );
        }
    };
    let (i, _) = punct(i, "=", "`=` and a component")?;
    let (i, component) = path(i, "the component to instantiate, such as `aws.eks`")?;
    let (i, body) = body(i)?;
    Ok((
        i,
        ItemKind::Instance {
            kind,
            name,
            component,
            body,
        },
    ))
}

/// `attribute = path "=" expr`
fn attribute_from<'a>(start: In<'a>, first: Ident, after: In<'a>) -> PResult<'a, Attr> {
    let (i, path) = path_from(start, first, after)?;
    let (i, _) = punct(i, "=", "`=`")?;
    let (i, value) = expr(i)?;
    Ok((
        i,
        Attr {
            path,
            value,
            span: span(&start, &i),
        },
    ))
}

/// `body = "{" { entry [ "," ] } "}"`
///
/// Broken entries are reported and skipped; the body itself fails only when
/// its opening brace is missing or the file ends before it closes.
fn body(i: In<'_>) -> PResult<'_, Body> {
    super::with_stack(|| body_entries(i))
}

fn body_entries(i: In<'_>) -> PResult<'_, Body> {
    let (i, (entries, span)) = braced(i, "`{` to open the block", |j| entry(j, false))?;
    Ok((i, Body { entries, span }))
}

/// `"{" { ITEM [ "," ] } "}"`: a braced list of items (entries or schema
/// fields). Broken items are reported and skipped; the list fails only when
/// its opening brace is missing or the file ends before it closes.
fn braced<'a, T>(
    i: In<'a>,
    what: &'static str,
    mut item: impl FnMut(In<'a>) -> PResult<'a, T>,
) -> PResult<'a, (Vec<T>, Span)> {
    let open = at(i);
    let (mut i, _) = punct(open, "{", what)?;
    enter(open)?;
    let mut items = Vec::new();
    loop {
        let j = at(i);
        if j.fragment().starts_with('}') {
            i = j.take_from(1);
            break;
        }
        if j.fragment().is_empty() {
            leave(open);
            if j.extra.stop_block() {
                return Ok((j, (items, span(&open, &j))));
            }
            return fail(
                j,
                SyntaxError::Unclosed {
                    open: point(&open, 1),
                    at: eof_span(&j),
                    delim: '{',
                },
            );
        }
        match item(j) {
            Ok((k, parsed)) => {
                items.push(parsed);
                i = eat(k, ",").map_or(k, |(k, _)| k);
            }
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
                let offset = e.offset();
                j.extra.report(e.into_syntax(j));
                if j.extra.stop_block() {
                    i = end_of(j);
                    break;
                }
                i = recover(j, offset, false);
            }
            Err(e) => return Err(e),
        }
        if j.extra.gave_up.get() {
            i = end_of(j);
            break;
        }
    }
    leave(open);
    // Trees are large: keep no spare room.
    items.shrink_to_fit();
    Ok((i, (items, span(&open, &i))))
}

/// An expression after an optional token (`= default`, `if cond`): `after`
/// is the input past the token when it was there.
fn optional_expr<'a>(i: In<'a>, after: Option<(In<'a>, Span)>) -> PResult<'a, Option<Expr>> {
    match after {
        Some((j, _)) => {
            let (j, e) = expr(j)?;
            Ok((j, Some(e)))
        }
        None => Ok((i, None)),
    }
}

/// A closing bracket: at the end of the file the opening one is unclosed.
fn close<'a>(
    i: In<'a>,
    token: &'static str,
    what: &'static str,
    open: &In<'a>,
    delim: char,
) -> PResult<'a, Span> {
    match eat(i, token) {
        Some(r) => Ok(r),
        None => {
            let j = at(i);
            if j.fragment().is_empty() {
                fail(
                    j,
                    SyntaxError::Unclosed {
                        open: point(open, 1),
                        at: eof_span(&j),
                        delim,
                    },
                )
            } else {
                expected(j, what)
            }
        }
    }
}

/// The input at its end (used to stop after giving up).
fn end_of(i: In<'_>) -> In<'_> {
    let n = i.fragment().len();
    i.take_from(n)
}

// ---------- expressions ----------

/// `expr = conditional`, `conditional = "if" expr "then" expr "else" expr | or_expr`
pub(super) fn expr(i: In<'_>) -> PResult<'_, Expr> {
    enter(i)?;
    let r = super::with_stack_at(i.extra.depth.get(), || {
        if at_keyword(i, "if") {
            conditional(i)
        } else {
            operand_first(i)
        }
    });
    leave(i);
    r
}

/// `or_expr`, reading a leading literal or name directly: most values are a
/// lone operand, which then needs none of the operator layers.
fn operand_first(i: In<'_>) -> PResult<'_, Expr> {
    let start = at(i);
    let simple = !matches!(start.fragment().as_bytes().first(), Some(b'-' | b'!'));
    if !simple {
        return binary(start, 1);
    }
    let (i, e) = primary(start)?;
    let next = at(i).fragment().as_bytes().first().copied();
    if !next.is_some_and(|b| b".[|&=!<>+-*/%".contains(&b)) {
        return Ok((i, e));
    }
    let (i, e) = postfix_tail(start, i, e)?;
    binary_tail(start, i, e, 1)
}

fn conditional(i: In<'_>) -> PResult<'_, Expr> {
    let start = at(i);
    let (i, _) = keyword(start, "if", "`if`")?;
    let (i, cond) = expr(i)?;
    let (i, _) = keyword(i, "then", "`then`")?;
    let (i, a) = expr(i)?;
    let (i, _) = keyword(i, "else", "`else` (a conditional always has both branches)")?;
    let (i, b) = expr(i)?;
    Ok((
        i,
        Expr {
            kind: ExprKind::If(Box::new(cond), Box::new(a), Box::new(b)),
            span: span(&start, &i),
        },
    ))
}

fn binary_op(i: In<'_>) -> Option<(In<'_>, BinaryOp)> {
    let j = at(i);
    let f = j.fragment().as_bytes();
    let (op, len) = match (f.first()?, f.get(1)) {
        (b'|', Some(b'|')) => (BinaryOp::Or, 2),
        (b'&', Some(b'&')) => (BinaryOp::And, 2),
        (b'=', Some(b'=')) => (BinaryOp::Eq, 2),
        (b'!', Some(b'=')) => (BinaryOp::Ne, 2),
        (b'<', Some(b'=')) => (BinaryOp::Le, 2),
        (b'>', Some(b'=')) => (BinaryOp::Ge, 2),
        (b'<', _) => (BinaryOp::Lt, 1),
        (b'>', _) => (BinaryOp::Gt, 1),
        (b'+', _) => (BinaryOp::Add, 1),
        (b'-', _) => (BinaryOp::Sub, 1),
        (b'*', _) => (BinaryOp::Mul, 1),
        (b'/', _) => (BinaryOp::Div, 1),
        (b'%', _) => (BinaryOp::Rem, 1),
        _ => return None,
    };
    Some((j.take_from(len), op))
}

/// `or_expr` down to `mul_expr`: precedence climbing over the binary operators.
fn binary(i: In<'_>, min_prec: u8) -> PResult<'_, Expr> {
    let start = at(i);
    let (i, lhs) = unary(start)?;
    binary_tail(start, i, lhs, min_prec)
}

/// The operators after a left operand that is already parsed.
fn binary_tail<'a>(start: In<'a>, mut i: In<'a>, mut lhs: Expr, min_prec: u8) -> PResult<'a, Expr> {
    let mut chain = 0;
    while let Some((j, op)) = binary_op(i) {
        if op.precedence() < min_prec {
            break;
        }
        chain += 1;
        if chain > 64 {
            enter(i)?;
            leave(i);
        }
        enter(i)?;
        let r = binary(j, op.precedence() + 1);
        leave(i);
        let (j, rhs) = r?;
        lhs = Expr {
            kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
            span: span(&start, &j),
        };
        i = j;
        if chain > 64 {
            // Long operator chains nest the tree as deeply as brackets do.
            let d = i.extra.depth.get();
            i.extra.depth.set(d + 1);
        }
    }
    if chain > 64 {
        let d = i.extra.depth.get();
        i.extra.depth.set(d.saturating_sub(chain - 64));
    }
    Ok((i, lhs))
}

/// `unary = ( "!" | "-" ) unary | postfix`
fn unary(i: In<'_>) -> PResult<'_, Expr> {
    let start = at(i);
    let op = match start.fragment().as_bytes().first() {
        Some(b'!') if !start.fragment().starts_with("!=") => Some(UnaryOp::Not),
        Some(b'-') => Some(UnaryOp::Neg),
        _ => None,
    };
    match op {
        Some(op) => {
            enter(start)?;
            let operand_start = start.take_from(1);
            if op == UnaryOp::Neg
                && operand_start
                    .fragment()
                    .starts_with(|c: char| c.is_ascii_digit())
            {
                start.extra.negated.set(operand_start.location_offset());
            }
            let r = super::with_stack_at(start.extra.depth.get(), || unary(operand_start));
            leave(start);
            let (i, operand) = r?;
            // `-9223372036854775808` is read whole: its digits alone overflow.
            if let ExprKind::Int(i64::MIN) = operand.kind {
                return Ok((
                    i,
                    Expr {
                        kind: ExprKind::Int(i64::MIN),
                        span: span(&start, &i),
                    },
                ));
            }
            Ok((
                i,
                Expr {
                    kind: ExprKind::Unary(op, Box::new(operand)),
                    span: span(&start, &i),
                },
            ))
        }
        None => postfix(start),
    }
}

/// `postfix = primary { "." IDENT | "[" expr "]" }`
fn postfix(i: In<'_>) -> PResult<'_, Expr> {
    let start = at(i);
    let (i, e) = primary(start)?;
    postfix_tail(start, i, e)
}

/// Member accesses and indexes after a primary that is already parsed.
fn postfix_tail<'a>(start: In<'a>, mut i: In<'a>, mut e: Expr) -> PResult<'a, Expr> {
    let mut chain = 0u32;
    loop {
        let j = at(i);
        let f = j.fragment();
        if f.starts_with('.') && !f.starts_with("..") {
            let (k, member) = any_name(j.take_from(1), "a name after `.`")?;
            e = Expr {
                kind: ExprKind::Member(Box::new(e), member),
                span: span(&start, &k),
            };
            i = k;
        } else if f.starts_with('[') {
            let (k, index) = expr(j.take_from(1))?;
            let (k, _) = punct(k, "]", "`]` to close the index")?;
            e = Expr {
                kind: ExprKind::Index(Box::new(e), Box::new(index)),
                span: span(&start, &k),
            };
            i = k;
        } else {
            break;
        }
        chain += 1;
        if chain > super::MAX_DEPTH {
            return fail(j, SyntaxError::NestingTooDeep { span: point(&j, 1) });
        }
    }
    Ok((i, e))
}

/// `primary = "null" | "true" | "false" | INT | FLOAT | STRING | list | map | call | IDENT | "(" expr ")"`
fn primary(i: In<'_>) -> PResult<'_, Expr> {
    let start = at(i);
    let f = start.fragment();
    let Some(c) = f.chars().next() else {
        return expected(start, "an expression");
    };
    match c {
        '"' => {
            let (i, s) = string_lit(start)?;
            Ok((
                i,
                Expr {
                    span: s.span,
                    kind: ExprKind::Str(s),
                },
            ))
        }
        '0'..='9' => {
            let (i, (n, sp)) = number(start)?;
            let kind = match n {
                Number::Int(n) => ExprKind::Int(n),
                Number::Float(f) => ExprKind::Float(f),
            };
            Ok((i, Expr { kind, span: sp }))
        }
        '[' => list(start),
        '{' => map(start),
        '(' => {
            let (i, inner) = expr(start.take_from(1))?;
            let (i, _) = close(i, ")", "`)` to close the parenthesis", &start, '(')?;
            Ok((
                i,
                Expr {
                    kind: ExprKind::Paren(Box::new(inner)),
                    span: span(&start, &i),
                },
            ))
        }
        c if c.is_ascii_alphabetic() || c == '_' => {
            let (i, (w, sp)) = word(start)?;
            let kind = match w {
                "null" => ExprKind::Null,
                "true" => ExprKind::Bool(true),
                "false" => ExprKind::Bool(false),
                w if super::is_reserved(w) => return expected(start, "an expression"),
                w => {
                    let ident = Ident {
                        name: w.into(),
                        span: sp,
                    };
                    if peek(i, "(") {
                        let (i, args) = call_args(i)?;
                        return Ok((
                            i,
                            Expr {
                                kind: ExprKind::Call(ident, args),
                                span: span(&start, &i),
                            },
                        ));
                    }
                    ExprKind::Name(ident)
                }
            };
            Ok((i, Expr { kind, span: sp }))
        }
        _ => expected(start, "an expression"),
    }
}

/// `"(" [ expr { "," expr } [ "," ] ] ")"`
fn call_args(i: In<'_>) -> PResult<'_, Vec<Expr>> {
    let open = at(i);
    let (i, _) = punct(open, "(", "`(`")?;
    separated(i, ")", open, '(')
}

/// Comma-separated expressions up to `close`; the opening bracket is consumed.
fn separated<'a>(
    mut i: In<'a>,
    close_token: &'static str,
    open: In<'a>,
    delim: char,
) -> PResult<'a, Vec<Expr>> {
    let mut items = Vec::new();
    loop {
        if let Some((j, _)) = eat(i, close_token) {
            items.shrink_to_fit();
            return Ok((j, items));
        }
        let j = at(i);
        if j.fragment().is_empty() {
            return fail(
                j,
                SyntaxError::Unclosed {
                    open: point(&open, 1),
                    at: eof_span(&j),
                    delim,
                },
            );
        }
        let (j, e) = expr(j)?;
        items.push(e);
        match eat(j, ",") {
            Some((k, _)) => i = k,
            None => {
                let what = if close_token == "]" {
                    "`,` or `]`"
                } else {
                    "`,` or `)`"
                };
                let (k, _) = close(j, close_token, what, &open, delim)?;
                items.shrink_to_fit();
                return Ok((k, items));
            }
        }
    }
}

/// `list = "[" [ expr { "," expr } [ "," ] ] "]" | "[" "for" for_vars "in" expr ":" expr [ "if" expr ] "]"`
fn list(i: In<'_>) -> PResult<'_, Expr> {
    let open = at(i);
    let i = open.take_from(1);
    let (i, kind) = if peek_word(i) == Some("for") {
        let (j, (c, _)) = comprehension(i, false)?;
        let (j, _) = close(j, "]", "`]` to close the comprehension", &open, '[')?;
        (j, ExprKind::ListFor(Box::new(c)))
    } else {
        let (j, items) = separated(i, "]", open, '[')?;
        (j, ExprKind::List(items))
    };
    Ok((
        i,
        Expr {
            kind,
            span: span(&open, &i),
        },
    ))
}

/// `for_vars "in" expr ":" expr [ "=>" expr ] [ "if" expr ]` after `for`.
fn comprehension(i: In<'_>, is_map: bool) -> PResult<'_, (Comprehension, Option<Expr>)> {
    let (i, _) = keyword(i, "for", "`for`")?;
    let (i, first) = plain_name(i, "a loop variable")?;
    let (i, key_var, var) = match eat(i, ",") {
        Some((j, _)) => {
            let (j, second) = plain_name(j, "a second loop variable")?;
            (j, Some(first), second)
        }
        None => (i, None, first),
    };
    let (i, _) = keyword(i, "in", "`in`")?;
    let (i, iterable) = expr(i)?;
    let (i, _) = punct(i, ":", "`:` before the comprehension body")?;
    let (i, body) = expr(i)?;
    let (i, value) = if is_map {
        let (j, _) = punct(i, "=>", "`=>` between key and value")?;
        let (j, v) = expr(j)?;
        (j, Some(v))
    } else {
        (i, None)
    };
    let (i, cond) = optional_expr(i, eat_keyword(i, "if"))?;
    Ok((
        i,
        (
            Comprehension {
                key_var,
                var,
                iterable,
                body,
                cond,
            },
            value,
        ),
    ))
}

/// `map = "{" { map_entry [ "," ] } "}" | "{" "for" ... "=>" ... "}"`, `map_entry = ( IDENT | STRING ) "=" expr`
fn map(i: In<'_>) -> PResult<'_, Expr> {
    let open = at(i);
    let mut i = open.take_from(1);
    let after_for = peek_word(i) == Some("for") && !peek(at(i).take_from(3), "=");
    if after_for {
        let (j, (c, value)) = comprehension(i, true)?;
        let (j, _) = close(j, "}", "`}` to close the comprehension", &open, '{')?;
        let value = value.unwrap_or_else(|| Expr {
            kind: ExprKind::Null,
            span: c.body.span,
        });
        return Ok((
            j,
            Expr {
                kind: ExprKind::MapFor(Box::new(c), Box::new(value)),
                span: span(&open, &j),
            },
        ));
    }
    let mut entries = Vec::new();
    let r = loop {
        if let Some((j, _)) = eat(i, "}") {
            break Ok(j);
        }
        let j = at(i);
        if j.fragment().is_empty() {
            break Err(nom::Err::Failure(PError::Full(Box::new(
                SyntaxError::Unclosed {
                    open: point(&open, 1),
                    at: eof_span(&j),
                    delim: '{',
                },
            ))));
        }
        let key = if j.fragment().starts_with('"') {
            match string_lit(j) {
                Ok((k, s)) => (k, MapKey::Str(s)),
                Err(e) => break Err(e),
            }
        } else {
            match any_name(j, "a key, or `}`") {
                Ok((k, id)) => (k, MapKey::Ident(id)),
                Err(e) => break Err(e),
            }
        };
        let (k, key) = key;
        let k = match punct(k, "=", "`=` after the key") {
            Ok((k, _)) => k,
            Err(e) => break Err(e),
        };
        let (k, value) = match expr(k) {
            Ok(r) => r,
            Err(e) => break Err(e),
        };
        entries.push(MapEntry {
            span: span(&j, &k),
            key,
            value,
        });
        i = eat(k, ",").map_or(k, |(k, _)| k);
    };
    let i = r?;
    entries.shrink_to_fit();
    Ok((
        i,
        Expr {
            kind: ExprKind::Map(entries),
            span: span(&open, &i),
        },
    ))
}
