//! The checker's types: what a value can be, assignability and display.

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use crate::resolve::ItemRef;
use crate::source::Span;

/// A resolved constraint on a field.
#[derive(Clone, Debug)]
pub enum Rule {
    Range { min: f64, max: f64 },
    Length { min: i64, max: i64 },
    Pattern(regex::Regex),
    OneOf(Vec<Const>),
    NonEmpty,
}

/// A field of a schema, or a parameter of a component.
#[derive(Clone, Debug)]
pub struct FieldDef {
    pub name: String,
    pub ty: Ty,
    pub optional: bool,
    pub has_default: bool,
    pub rules: Vec<(Rule, Span)>,
    pub span: Span,
}

impl FieldDef {
    pub fn required(&self) -> bool {
        !self.optional && !self.has_default
    }
}

/// A schema (or a component's parameter list) with its fields in declaration order.
#[derive(Debug)]
pub struct SchemaDef {
    pub name: String,
    pub fields: Vec<FieldDef>,
    pub span: Span,
}

impl SchemaDef {
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}

#[derive(Clone, Debug)]
pub enum Ty {
    /// Unknown or anything: checks pass. Also the type after an error.
    Any,
    Null,
    Bool,
    Int,
    Float,
    Str,
    /// A secret value: never printed, only assignable to `secret` or `any`.
    Secret,
    List(Rc<Ty>),
    Map(Rc<Ty>),
    /// One of the listed strings.
    Enum(Rc<[String]>),
    Schema(Rc<SchemaDef>),
    /// A map literal or an instance's outputs: known fields.
    Record(Rc<BTreeMap<String, Ty>>),
    /// A raw resource; its attributes are known only after apply.
    Resource,
    /// An instance of a component: its outputs are members.
    Instance(ItemRef),
    /// Names that are not values.
    Module,
    SchemaName,
    Component,
    AppTemplate,
}

impl Ty {
    pub fn list(t: Ty) -> Ty {
        Ty::List(Rc::new(t))
    }

    pub fn map(t: Ty) -> Ty {
        Ty::Map(Rc::new(t))
    }

    pub fn is_value(&self) -> bool {
        !matches!(
            self,
            Ty::Module | Ty::SchemaName | Ty::Component | Ty::AppTemplate
        )
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Float | Ty::Any)
    }

    /// The common type of two branches or elements.
    pub fn join(&self, other: &Ty) -> Ty {
        match (self, other) {
            (Ty::Null, t) | (t, Ty::Null) => t.clone(),
            (Ty::Int, Ty::Float) | (Ty::Float, Ty::Int) => Ty::Float,
            (Ty::Enum(_), Ty::Str) | (Ty::Str, Ty::Enum(_)) => Ty::Str,
            (Ty::Enum(a), Ty::Enum(b)) => {
                let mut all: Vec<String> = a.iter().chain(b.iter()).cloned().collect();
                all.sort();
                all.dedup();
                Ty::Enum(all.into())
            }
            (Ty::List(a), Ty::List(b)) => Ty::list(a.join(b)),
            (Ty::Map(a), Ty::Map(b)) => Ty::map(a.join(b)),
            (a, b) if a.same(b) => a.clone(),
            _ => Ty::Any,
        }
    }

    fn same(&self, other: &Ty) -> bool {
        match (self, other) {
            (Ty::Schema(a), Ty::Schema(b)) => Rc::ptr_eq(a, b),
            (Ty::Record(a), Ty::Record(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b.iter())
                        .all(|((ka, va), (kb, vb))| ka == kb && va.same(vb))
            }
            (Ty::Instance(a), Ty::Instance(b)) => a == b,
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }

    /// Whether a value of type `self` may be used where `want` is expected.
    pub fn assignable_to(&self, want: &Ty) -> bool {
        match (self, want) {
            (Ty::Any, _) | (_, Ty::Any) => true,
            // null stands for an absent value; where a value is required,
            // a literal null is reported by the field checks.
            (Ty::Null, _) => true,
            (Ty::Int, Ty::Float) => true,
            (Ty::Enum(_), Ty::Str) => true,
            // A computed string may hold one of the values; checked at evaluation.
            (Ty::Str, Ty::Enum(_)) => true,
            (Ty::Enum(a), Ty::Enum(b)) => a.iter().all(|v| b.contains(v)),
            (Ty::List(a), Ty::List(b)) | (Ty::Map(a), Ty::Map(b)) => a.assignable_to(b),
            (Ty::Record(fields), Ty::Map(t)) => fields.values().all(|f| f.assignable_to(t)),
            (Ty::Record(fields), Ty::Schema(s)) => {
                fields
                    .iter()
                    .all(|(k, v)| s.field(k).is_some_and(|f| v.assignable_to(&f.ty)))
                    && s.fields
                        .iter()
                        .all(|f| !f.required() || fields.contains_key(&f.name))
            }
            (Ty::Schema(a), Ty::Map(t)) => a.fields.iter().all(|f| f.ty.assignable_to(t)),
            (a, b) => a.same(b),
        }
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Any => f.write_str("any"),
            Ty::Null => f.write_str("null"),
            Ty::Bool => f.write_str("bool"),
            Ty::Int => f.write_str("int"),
            Ty::Float => f.write_str("float"),
            Ty::Str => f.write_str("string"),
            Ty::Secret => f.write_str("secret"),
            Ty::List(t) => write!(f, "list({t})"),
            Ty::Map(t) => write!(f, "map({t})"),
            Ty::Enum(values) => {
                let shown: Vec<String> =
                    values.iter().take(6).map(|v| format!("\"{v}\"")).collect();
                write!(
                    f,
                    "{}{}",
                    shown.join(" | "),
                    if values.len() > 6 { " | ..." } else { "" }
                )
            }
            Ty::Schema(s) => f.write_str(&s.name),
            Ty::Record(fields) => {
                let shown: Vec<String> = fields
                    .iter()
                    .take(4)
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect();
                write!(
                    f,
                    "{{ {}{} }}",
                    shown.join(", "),
                    if fields.len() > 4 { ", ..." } else { "" }
                )
            }
            Ty::Resource => f.write_str("resource"),
            Ty::Instance(_) => f.write_str("component instance"),
            Ty::Module => f.write_str("module"),
            Ty::SchemaName => f.write_str("schema"),
            Ty::Component => f.write_str("component"),
            Ty::AppTemplate => f.write_str("app"),
        }
    }
}

/// A value known while checking: literals and lists/maps of literals.
#[derive(Clone, Debug, PartialEq)]
pub enum Const {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Const>),
    Map(BTreeMap<String, Const>),
}

impl fmt::Display for Const {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Const::Null => f.write_str("null"),
            Const::Bool(b) => write!(f, "{b}"),
            Const::Int(n) => write!(f, "{n}"),
            Const::Float(x) => write!(f, "{x}"),
            Const::Str(s) => write!(f, "{s:?}"),
            Const::List(items) => write!(f, "a list of {}", items.len()),
            Const::Map(m) => write!(f, "a map of {}", m.len()),
        }
    }
}

impl Const {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Const::Int(n) => Some(*n as f64),
            Const::Float(x) => Some(*x),
            _ => None,
        }
    }

    /// Length for `@length` and `@nonempty`: characters of a string, elements of a collection.
    pub fn length(&self) -> Option<usize> {
        match self {
            Const::Str(s) => Some(s.chars().count()),
            Const::List(l) => Some(l.len()),
            Const::Map(m) => Some(m.len()),
            _ => None,
        }
    }
}
