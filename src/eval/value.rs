//! Values: what expressions evaluate to, including secrets (never printed)
//! and values known only after apply (kept symbolic).

pub use super::fields::Fields;
use std::fmt;

/// Text in values and map keys: inline up to 24 bytes, borrowed when
/// static, so the many short strings of a build cost no allocation.
pub type Str = compact_str::CompactString;

/// A value known only after apply: an attribute of a resource, by address
/// (`shared.cluster.main.vpc` and `id`), or something computed from one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Symbol {
    pub address: crate::address::Address,
    pub attribute: String,
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.address, self.attribute)
    }
}

/// A piece of a string that is only partly known.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    Text(String),
    Unknown(Symbol),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Str),
    List(Vec<Value>),
    Map(Fields),
    /// A reference to a secret in the secret store, by name. The value itself
    /// never passes through rel; its name is shown, masked, where needed.
    Secret(String),
    /// Known only after apply (boxed: rare, and it would double the size
    /// of every value).
    Unknown(Box<Symbol>),
    /// A string with parts known only after apply (`"https://${lb.DNSName}"`).
    Interpolated(Vec<Piece>),
    /// Computed from a value known only after apply by a function rel cannot
    /// run before apply (`upper(vpc.id)`): the symbols it depends on.
    Derived(Vec<Symbol>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Secret(_) => "secret",
            Value::Unknown(_) | Value::Interpolated(_) | Value::Derived(_) => {
                "value known after apply"
            }
        }
    }

    /// Whether the value, or anything inside it, is known only after apply.
    pub fn is_known(&self) -> bool {
        match self {
            Value::Unknown(_) | Value::Interpolated(_) | Value::Derived(_) => false,
            Value::List(items) => items.iter().all(Value::is_known),
            Value::Map(m) => m.values().all(Value::is_known),
            _ => true,
        }
    }

    /// Every symbol the value depends on, in order, without repeats.
    pub fn symbols(&self) -> Vec<Symbol> {
        let mut out = Vec::new();
        self.collect_symbols(&mut out);
        out.sort();
        out.dedup();
        out
    }

    /// Every symbol the value depends on, borrowed, in order, with repeats.
    pub fn symbol_refs(&self) -> Vec<&Symbol> {
        let mut out = Vec::new();
        self.for_each_symbol(&mut |s| out.push(s));
        out
    }

    fn for_each_symbol<'v>(&'v self, f: &mut impl FnMut(&'v Symbol)) {
        match self {
            Value::Unknown(s) => f(s),
            Value::Interpolated(pieces) => pieces.iter().for_each(|p| {
                if let Piece::Unknown(s) = p {
                    f(s)
                }
            }),
            Value::Derived(symbols) => symbols.iter().for_each(&mut *f),
            Value::List(items) => items.iter().for_each(|v| v.for_each_symbol(f)),
            Value::Map(m) => m.values().for_each(|v| v.for_each_symbol(f)),
            _ => {}
        }
    }

    fn collect_symbols(&self, out: &mut Vec<Symbol>) {
        match self {
            Value::Unknown(s) => out.push((**s).clone()),
            Value::Interpolated(pieces) => out.extend(pieces.iter().filter_map(|p| match p {
                Piece::Unknown(s) => Some(s.clone()),
                Piece::Text(_) => None,
            })),
            Value::Derived(symbols) => out.extend(symbols.iter().cloned()),
            Value::List(items) => items.iter().for_each(|v| v.collect_symbols(out)),
            Value::Map(m) => m.values().for_each(|v| v.collect_symbols(out)),
            _ => {}
        }
    }

    /// Whether the value, or anything inside it, is a secret.
    pub fn contains_secret(&self) -> bool {
        match self {
            Value::Secret(_) => true,
            Value::List(items) => items.iter().any(Value::contains_secret),
            Value::Map(m) => m.values().any(Value::contains_secret),
            _ => false,
        }
    }

    /// The text of a string, number or bool, as interpolation shows it.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.to_string()),
            Value::Int(n) => Some(n.to_string()),
            Value::Float(f) => Some(format_float(*f)),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => Some(String::new()),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(n) => Some(*n as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The value as JSON, with secrets and unknowns as tagged objects, so
    /// that nothing is lost and no secret value can appear.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{Value as J, json};
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(n) => json!(n),
            Value::Float(f) => json!(f),
            Value::Str(s) => J::String(s.to_string()),
            Value::List(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(m) => J::Object(
                m.iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
            Value::Secret(name) => json!({ "secret": name }),
            Value::Unknown(s) => json!({ "known_after_apply": s.to_string() }),
            Value::Interpolated(pieces) => json!({
                "known_after_apply": pieces
                    .iter()
                    .map(|p| match p {
                        Piece::Text(t) => J::String(t.clone()),
                        Piece::Unknown(s) => json!({ "ref": s.to_string() }),
                    })
                    .collect::<Vec<_>>()
            }),
            Value::Derived(symbols) => {
                json!({ "known_after_apply": symbols.iter().map(|s| s.to_string()).collect::<Vec<_>>() })
            }
        }
    }
}

/// Floats print in their shortest form that reads back the same; whole
/// numbers keep one decimal so they stay floats (`2.0`).
pub fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Secret(name) => write!(f, "(sensitive: {name})"),
            Value::Str(s) => write!(f, "{s:?}"),
            other => write!(f, "{}", other.to_json()),
        }
    }
}
