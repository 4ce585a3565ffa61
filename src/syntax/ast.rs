//! The syntax tree. Every node has a span; the tree owns its names.

use smallvec::SmallVec;

use crate::source::Span;

/// A name as written. Short names (almost all) are stored inline, so
/// identifiers cost no allocation.
pub type Name = compact_str::CompactString;

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: Name,
    pub span: Span,
}

/// A dotted name such as `aws.eks` or `env.LOG_LEVEL`; most have one segment.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    pub segments: SmallVec<[Ident; 1]>,
    pub span: Span,
}

impl Path {
    /// Whether the path is `name` with no further segments, without
    /// building its dotted text.
    pub fn is(&self, name: &str) -> bool {
        matches!(self.segments.as_slice(), [only] if only.name == name)
    }

    pub fn dotted(&self) -> String {
        self.segments
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// A parsed file: its items and every comment, in source order.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceTree {
    pub items: Vec<Item>,
    pub comments: Vec<Span>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub kind: ItemKind,
    pub span: Span,
}

/// The fixed block keywords whose bodies are checked against prelude schemas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    App,
    Service,
    Job,
    Domain,
}

impl BlockKind {
    pub fn keyword(self) -> &'static str {
        match self {
            BlockKind::App => "app",
            BlockKind::Service => "service",
            BlockKind::Job => "job",
            BlockKind::Domain => "domain",
        }
    }

    /// The prelude schema that describes this block's attributes.
    pub fn schema(self) -> &'static str {
        match self {
            BlockKind::App => "App",
            BlockKind::Service => "Service",
            BlockKind::Job => "Job",
            BlockKind::Domain => "Domain",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    /// `import "std/aws" as aws`
    Import { path: StrLit, alias: Ident },
    /// `param name: type @constraint = default`, also a schema field.
    Param(FieldDecl),
    /// `let name = expr`
    Let { name: Ident, value: Expr },
    /// `output name = expr`
    Output { name: Ident, value: Expr },
    /// `schema Name { field: type ... }`
    Schema {
        name: Ident,
        fields: Vec<FieldDecl>,
        body_span: Span,
    },
    /// `component name: kind { ... }`
    Component {
        name: Ident,
        kind: Option<Ident>,
        body: Body,
    },
    /// `resource name "AWS::S3::Bucket" { ... }`
    Resource {
        name: Ident,
        type_name: StrLit,
        body: Body,
    },
    /// `app name { ... }`, `service name { ... }`, `job name { ... }`, `domain name { ... }`
    Block {
        kind: BlockKind,
        name: Ident,
        body: Body,
    },
    /// `project "acme-shop"`: the project's stable name, the root of every
    /// name rel creates.
    Project { name: StrLit },
    /// `environment "pr-${branch}" from store { ... }`
    Environment {
        name: StrLit,
        base: Path,
        body: Body,
    },
    /// `cluster main = aws.eks { ... }`
    Instance {
        kind: Ident,
        name: Ident,
        component: Path,
        body: Body,
    },
}

impl ItemKind {
    /// The name the item binds in its scope, if any.
    pub fn name(&self) -> Option<&Ident> {
        match self {
            ItemKind::Import { alias, .. } => Some(alias),
            ItemKind::Param(f) => Some(&f.name),
            ItemKind::Let { name, .. }
            | ItemKind::Output { name, .. }
            | ItemKind::Schema { name, .. }
            | ItemKind::Component { name, .. }
            | ItemKind::Resource { name, .. }
            | ItemKind::Block { name, .. }
            | ItemKind::Instance { name, .. } => Some(name),
            ItemKind::Environment { .. } | ItemKind::Project { .. } => None,
        }
    }

    /// The body of an item, if it has one.
    pub fn body(&self) -> Option<&Body> {
        match self {
            ItemKind::Component { body, .. }
            | ItemKind::Resource { body, .. }
            | ItemKind::Block { body, .. }
            | ItemKind::Environment { body, .. }
            | ItemKind::Instance { body, .. } => Some(body),
            _ => None,
        }
    }

    /// A short word for messages ("parameter", "component", ...).
    pub fn describe(&self) -> &'static str {
        match self {
            ItemKind::Import { .. } => "import",
            ItemKind::Param(_) => "parameter",
            ItemKind::Let { .. } => "let binding",
            ItemKind::Output { .. } => "output",
            ItemKind::Schema { .. } => "schema",
            ItemKind::Component { .. } => "component",
            ItemKind::Resource { .. } => "resource",
            ItemKind::Block { kind, .. } => kind.keyword(),
            ItemKind::Environment { .. } => "environment",
            ItemKind::Project { .. } => "project",
            ItemKind::Instance { .. } => "instance",
        }
    }
}

/// A typed field: a schema field or a parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldDecl {
    pub name: Ident,
    pub optional: bool,
    pub ty: TypeExpr,
    pub constraints: Vec<Constraint>,
    pub default: Option<Expr>,
    pub span: Span,
}

/// `@range(1, 65535)`, `@pattern("^[a-z]+$")`, `@nonempty`, `@length(1, 63)`
#[derive(Clone, Debug, PartialEq)]
pub struct Constraint {
    pub name: Ident,
    pub args: Vec<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    pub kind: TypeKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypeKind {
    /// `string`, `int`, `Nodes`, `aws.Nodes`
    Named(Path),
    /// `list(T)`
    List(Box<TypeExpr>),
    /// `map(T)`
    Map(Box<TypeExpr>),
    /// `"preprod" | "prod"`
    Enum(Vec<StrLit>),
}

/// `{ entries }` of a block.
#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    pub entries: Vec<Entry>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    Attr(Attr),
    /// Boxed: items are rarer than attributes and much larger.
    Item(Box<Item>),
}

impl Entry {
    pub fn span(&self) -> Span {
        match self {
            Entry::Attr(a) => a.span,
            Entry::Item(i) => i.span,
        }
    }
}

/// `path = value` inside a block; a dotted path overrides a nested field.
#[derive(Clone, Debug, PartialEq)]
pub struct Attr {
    pub path: Path,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "||",
            BinaryOp::And => "&&",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }

    /// Binding strength; higher binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq | BinaryOp::Ne => 3,
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => 6,
        }
    }
}

/// A string literal: literal text and `${...}` interpolations.
#[derive(Clone, Debug, PartialEq)]
pub struct StrLit {
    pub parts: Vec<StrPart>,
    /// Written as a `"""` multi-line string.
    pub multiline: bool,
    pub span: Span,
}

impl StrLit {
    /// The text, if the literal has no interpolation.
    pub fn as_plain(&self) -> Option<String> {
        if self.parts.iter().any(|p| matches!(p, StrPart::Interp(_))) {
            return None;
        }
        let mut s = String::new();
        for part in &self.parts {
            match part {
                StrPart::Lit(t) => s.push_str(t),
                StrPart::Interp(_) => return None,
            }
        }
        Some(s)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum StrPart {
    /// Text after escapes are processed; short text is stored inline.
    Lit(Name),
    Interp(Box<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum MapKey {
    Ident(Ident),
    Str(StrLit),
}

impl MapKey {
    pub fn span(&self) -> Span {
        match self {
            MapKey::Ident(i) => i.span,
            MapKey::Str(s) => s.span,
        }
    }

    /// The key text borrowed from the tree, if known without evaluation.
    pub fn plain_str(&self) -> Option<&str> {
        match self {
            MapKey::Ident(i) => Some(&i.name),
            MapKey::Str(s) => match s.parts.as_slice() {
                [] => Some(""),
                [StrPart::Lit(t)] => Some(t),
                _ => None,
            },
        }
    }

    /// The key text, if known without evaluation.
    pub fn as_plain(&self) -> Option<String> {
        match self {
            MapKey::Ident(i) => Some(i.name.to_string()),
            MapKey::Str(s) => s.as_plain(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct MapEntry {
    pub key: MapKey,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(StrLit),
    List(Vec<Expr>),
    Map(Vec<MapEntry>),
    /// A bare name: a local, an item, a module alias.
    Name(Ident),
    /// `expr.name`
    Member(Box<Expr>, Ident),
    /// `expr[index]`
    Index(Box<Expr>, Box<Expr>),
    /// `name(args)`: builtin functions only.
    Call(Ident, Vec<Expr>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `if cond then a else b`
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `[for x in xs: body if cond]`, `[for i, x in xs: ...]`
    ListFor(Box<Comprehension>),
    /// `{for k, v in m: key => value if cond}`
    MapFor(Box<Comprehension>, Box<Expr>),
    /// `(expr)`
    Paren(Box<Expr>),
}

/// The shared part of list and map comprehensions.
#[derive(Clone, Debug, PartialEq)]
pub struct Comprehension {
    /// `k` in `for k, v in ...`, when two variables are bound.
    pub key_var: Option<Ident>,
    pub var: Ident,
    pub iterable: Expr,
    /// The list element, or the map key for map comprehensions.
    pub body: Expr,
    pub cond: Option<Expr>,
}
