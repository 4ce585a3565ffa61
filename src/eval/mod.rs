//! Evaluation: expressions to values. Values known only after apply stay
//! symbolic (`Value::Unknown`, `Interpolated`, `Derived`) and flow through
//! operators and builtins; secrets stay references.
//!
//! This module evaluates one expression against a [`Names`] provider, which
//! answers what a name means; expanding environments and components into
//! resources builds on it.

pub mod builtins;
pub mod fields;
pub mod value;

use value::Fields;

pub use builtins::Files;
use value::{Piece, Str, Symbol, Value};

use crate::diagnostic::{Diagnostic, codes};
use crate::source::Span;
use crate::syntax::ast::*;

/// Why an expression could not be evaluated.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("division by zero")]
    DivisionByZero,
    #[error("integer overflow in `{op}`")]
    Overflow { op: &'static str },
    #[error("index {index} is out of range for a list of {len}")]
    IndexOutOfRange { index: i64, len: usize },
    #[error("no key `{key}` in this map")]
    MissingKey { key: String, known: Vec<String> },
    #[error("`{function}`: {message}")]
    InvalidArgument { function: String, message: String },
    #[error("{what} must be known before apply")]
    NeedsKnownValue { what: &'static str },
    #[error("a secret cannot become text in {what}")]
    SecretInText { what: String },
    #[error("cannot {what} a {found}")]
    WrongKind {
        what: &'static str,
        found: &'static str,
    },
    #[error("no value for `{name}`")]
    NoValue { name: String },
}

impl EvalError {
    /// The diagnostic, pointing at the expression that failed.
    pub fn at(self, span: Span) -> Diagnostic {
        let message = self.to_string();
        let (code, help) = match &self {
            EvalError::DivisionByZero | EvalError::Overflow { .. } => {
                (codes::EVALUATION_FAILED, "Check the operands; integers are signed 64-bit.".to_string())
            }
            EvalError::IndexOutOfRange { .. } => (codes::EVALUATION_FAILED, "Indexes start at 0.".to_string()),
            EvalError::MissingKey { known, .. } => (
                codes::EVALUATION_FAILED,
                format!("Known keys: {}. Use lookup(map, key, default) for optional keys.", known.join(", ")),
            ),
            EvalError::InvalidArgument { .. } => (codes::EVALUATION_FAILED, "See the builtin's description in the README.".to_string()),
            EvalError::NeedsKnownValue { .. } => (
                codes::UNKNOWN_BEFORE_APPLY,
                "Values such as resource IDs exist only after apply; derive this from parameters or literals instead.".to_string(),
            ),
            EvalError::SecretInText { .. } => (
                codes::SECRET_AS_TEXT,
                "Pass the secret whole to a field of type `secret`; rel never puts a secret's value into text.".to_string(),
            ),
            EvalError::WrongKind { .. } | EvalError::NoValue { .. } => {
                (codes::EVALUATION_FAILED, "The checker accepted this; the value it got at evaluation differs.".to_string())
            }
        };
        Diagnostic::error(code, message)
            .with_label(span, "while evaluating this")
            .with_help(help)
    }
}

/// What names mean while evaluating: items, parameters, implicit names.
pub trait Names {
    /// The value of a bare name.
    fn value(&mut self, name: &Ident) -> Result<Value, EvalError>;

    /// `base.member` where `base` is a module alias or an instance, when the
    /// provider handles it; `None` evaluates `base` as a value instead.
    fn member(&mut self, _base: &Ident, _member: &Ident) -> Option<Result<Value, EvalError>> {
        None
    }

    /// Where file(..) and template(..) read from.
    fn files(&self) -> Files<'_> {
        Files {
            dir: None,
            root: None,
        }
    }
}

/// Evaluates an expression. The error comes with the span of the innermost
/// expression that failed.
pub fn eval(e: &Expr, names: &mut dyn Names) -> Result<Value, (EvalError, Span)> {
    Evaluator {
        names,
        locals: Vec::new(),
    }
    .expr(e)
}

struct Evaluator<'n> {
    names: &'n mut dyn Names,
    /// Comprehension variables, innermost last.
    locals: Vec<(Name, Value)>,
}

type Out = Result<Value, (EvalError, Span)>;

/// What a comprehension runs for each element it keeps.
type ElementFn<'f, T> = dyn FnMut(&mut T, Option<&Value>) -> Result<(), (EvalError, Span)> + 'f;

fn derived(values: &[&Value]) -> Value {
    let mut symbols: Vec<Symbol> = values.iter().flat_map(|v| v.symbols()).collect();
    symbols.sort();
    symbols.dedup();
    Value::Derived(symbols)
}

impl Evaluator<'_> {
    fn expr(&mut self, e: &Expr) -> Out {
        crate::syntax::with_stack(|| self.expr_kind(e))
    }

    fn expr_kind(&mut self, e: &Expr) -> Out {
        let at = |err: EvalError| (err, e.span);
        Ok(match &e.kind {
            ExprKind::Null => Value::Null,
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::Int(n) => Value::Int(*n),
            ExprKind::Float(f) => Value::Float(*f),
            ExprKind::Str(s) => self.string(s)?,
            ExprKind::List(items) => Value::List(
                items
                    .iter()
                    .map(|i| self.expr(i))
                    .collect::<Result<_, _>>()?,
            ),
            ExprKind::Map(entries) => {
                let mut m = Fields::new();
                for entry in entries {
                    let key = match &entry.key {
                        MapKey::Ident(i) => Str::from(i.name.as_str()),
                        MapKey::Str(s) => match self.string(s)? {
                            Value::Str(k) => k,
                            _ => {
                                return Err((
                                    EvalError::NeedsKnownValue { what: "a map key" },
                                    s.span,
                                ));
                            }
                        },
                    };
                    let value = self.expr(&entry.value)?;
                    m.insert(key, value);
                }
                Value::Map(m)
            }
            ExprKind::Name(ident) => match self.locals.iter().rev().find(|(n, _)| *n == ident.name)
            {
                Some((_, v)) => v.clone(),
                None => self.names.value(ident).map_err(at)?,
            },
            ExprKind::Member(base, member) => {
                if let ExprKind::Name(ident) = &base.kind {
                    if !self.locals.iter().any(|(n, _)| *n == ident.name) {
                        if let Some(result) = self.names.member(ident, member) {
                            return result.map_err(|err| (err, e.span));
                        }
                    }
                }
                let base = self.expr(base)?;
                member_of(base, &member.name).map_err(at)?
            }
            ExprKind::Index(base, index) => {
                let base = self.expr(base)?;
                let index = self.expr(index)?;
                index_of(base, index).map_err(at)?
            }
            ExprKind::Call(name, args) => {
                let values: Vec<Value> = args
                    .iter()
                    .map(|a| self.expr(a))
                    .collect::<Result<_, _>>()?;
                let files = self.names.files();
                builtins::call(&name.name, &values, &files).map_err(at)?
            }
            ExprKind::Unary(op, operand) => {
                let v = self.expr(operand)?;
                match (op, &v) {
                    (_, v) if !v.is_known() => derived(&[v]),
                    (UnaryOp::Not, Value::Bool(b)) => Value::Bool(!b),
                    (UnaryOp::Neg, Value::Int(n)) => Value::Int(
                        n.checked_neg()
                            .ok_or_else(|| at(EvalError::Overflow { op: "-" }))?,
                    ),
                    (UnaryOp::Neg, Value::Float(f)) => Value::Float(-f),
                    (_, other) => {
                        return Err(at(EvalError::WrongKind {
                            what: "apply a unary operator to",
                            found: other.type_name(),
                        }));
                    }
                }
            }
            ExprKind::Binary(op, a, b) => {
                // `&&` and `||` look at the right side only when they must.
                let left = self.expr(a)?;
                match (op, &left) {
                    (BinaryOp::And, Value::Bool(false)) => return Ok(Value::Bool(false)),
                    (BinaryOp::Or, Value::Bool(true)) => return Ok(Value::Bool(true)),
                    _ => {}
                }
                let right = self.expr(b)?;
                binary(*op, left, right).map_err(at)?
            }
            ExprKind::If(c, a, b) => match self.expr(c)? {
                Value::Bool(true) => self.expr(a)?,
                Value::Bool(false) => self.expr(b)?,
                cond if !cond.is_known() => {
                    let (x, y) = (self.expr(a)?, self.expr(b)?);
                    derived(&[&cond, &x, &y])
                }
                other => {
                    return Err((
                        EvalError::WrongKind {
                            what: "branch on",
                            found: other.type_name(),
                        },
                        c.span,
                    ));
                }
            },
            ExprKind::ListFor(c) => {
                let mut out = Vec::new();
                self.comprehension(c, &mut |this, key| {
                    let item = this.expr(&c.body)?;
                    let _ = key;
                    out.push(item);
                    Ok(())
                })?;
                Value::List(out)
            }
            ExprKind::MapFor(c, value) => {
                let mut out = Fields::new();
                self.comprehension(c, &mut |this, _| {
                    let key = match this.expr(&c.body)? {
                        Value::Str(k) => k,
                        other if !other.is_known() => {
                            return Err((
                                EvalError::NeedsKnownValue { what: "a map key" },
                                c.body.span,
                            ));
                        }
                        other => other
                            .as_text()
                            .ok_or((
                                EvalError::WrongKind {
                                    what: "use as a map key",
                                    found: other.type_name(),
                                },
                                c.body.span,
                            ))?
                            .into(),
                    };
                    let v = this.expr(value)?;
                    out.insert(key, v);
                    Ok(())
                })?;
                Value::Map(out)
            }
            ExprKind::Paren(inner) => self.expr(inner)?,
        })
    }

    /// Runs `body` once per element that passes the condition, with the loop
    /// variables bound.
    fn comprehension(
        &mut self,
        c: &Comprehension,
        body: &mut ElementFn<'_, Self>,
    ) -> Result<(), (EvalError, Span)> {
        let iterable = self.expr(&c.iterable)?;
        let pairs: Vec<(Value, Value)> = match iterable {
            Value::List(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::Int(i as i64), v))
                .collect(),
            Value::Map(m) => m.into_iter().map(|(k, v)| (Value::Str(k), v)).collect(),
            other if !other.is_known() => {
                return Err((
                    EvalError::NeedsKnownValue {
                        what: "the collection a `for` runs over",
                    },
                    c.iterable.span,
                ));
            }
            other => {
                return Err((
                    EvalError::WrongKind {
                        what: "iterate over",
                        found: other.type_name(),
                    },
                    c.iterable.span,
                ));
            }
        };
        for (key, value) in pairs {
            let bound = usize::from(c.key_var.is_some()) + 1;
            if let Some(k) = &c.key_var {
                self.locals.push((k.name.clone(), key.clone()));
            }
            self.locals.push((c.var.name.clone(), value));
            let keep = match &c.cond {
                Some(cond) => match self.expr(cond) {
                    Ok(Value::Bool(b)) => Ok(b),
                    Ok(v) if !v.is_known() => Err((
                        EvalError::NeedsKnownValue {
                            what: "a `for` condition",
                        },
                        cond.span,
                    )),
                    Ok(v) => Err((
                        EvalError::WrongKind {
                            what: "filter on",
                            found: v.type_name(),
                        },
                        cond.span,
                    )),
                    Err(e) => Err(e),
                },
                None => Ok(true),
            };
            let result = match keep {
                Ok(true) => body(self, Some(&key)),
                Ok(false) => Ok(()),
                Err(e) => Err(e),
            };
            self.locals.truncate(self.locals.len() - bound);
            result?;
        }
        Ok(())
    }

    fn string(&mut self, s: &StrLit) -> Out {
        let mut pieces = Vec::new();
        for part in &s.parts {
            match part {
                StrPart::Lit(t) => pieces.push(Piece::Text(t.to_string())),
                StrPart::Interp(e) => match self.expr(e)? {
                    Value::Unknown(sym) => pieces.push(Piece::Unknown(*sym)),
                    Value::Interpolated(inner) => pieces.extend(inner),
                    v @ Value::Derived(_) => return Ok(v),
                    Value::Secret(_) => {
                        return Err((
                            EvalError::SecretInText {
                                what: "a string".into(),
                            },
                            e.span,
                        ));
                    }
                    v => match v.as_text() {
                        Some(t) => pieces.push(Piece::Text(t)),
                        None => {
                            return Err((
                                EvalError::WrongKind {
                                    what: "interpolate",
                                    found: v.type_name(),
                                },
                                e.span,
                            ));
                        }
                    },
                },
            }
        }
        Ok(builtins::interpolate(pieces))
    }
}

fn member_of(base: Value, member: &str) -> Result<Value, EvalError> {
    match base {
        Value::Map(mut m) => match m.remove(member) {
            Some(v) => Ok(v),
            None => Err(EvalError::MissingKey {
                key: member.to_string(),
                known: m.keys().map(Str::to_string).collect(),
            }),
        },
        Value::Unknown(sym) => {
            let attribute = if sym.attribute.is_empty() {
                member.to_string()
            } else {
                format!("{}.{member}", sym.attribute)
            };
            Ok(Value::Unknown(Box::new(Symbol {
                address: sym.address,
                attribute,
            })))
        }
        v if !v.is_known() => Ok(derived(&[&v])),
        other => Err(EvalError::WrongKind {
            what: "read a member of",
            found: other.type_name(),
        }),
    }
}

fn index_of(base: Value, index: Value) -> Result<Value, EvalError> {
    match (base, index) {
        // An element of an attribute known after apply: still an attribute.
        (Value::Unknown(sym), Value::Int(i)) if i >= 0 => Ok(Value::Unknown(Box::new(Symbol {
            address: sym.address,
            attribute: format!("{}[{i}]", sym.attribute),
        }))),
        (b, i) if !b.is_known() || !i.is_known() => Ok(derived(&[&b, &i])),
        (Value::List(items), Value::Int(i)) => {
            let len = items.len();
            usize::try_from(i)
                .ok()
                .and_then(|i| items.into_iter().nth(i))
                .ok_or(EvalError::IndexOutOfRange { index: i, len })
        }
        (Value::Map(m), Value::Str(k)) => match m.get(&k) {
            Some(v) => Ok(v.clone()),
            None => Err(EvalError::MissingKey {
                key: k.to_string(),
                known: m.keys().map(Str::to_string).collect(),
            }),
        },
        (b, _) => Err(EvalError::WrongKind {
            what: "index",
            found: b.type_name(),
        }),
    }
}

fn binary(op: BinaryOp, a: Value, b: Value) -> Result<Value, EvalError> {
    use BinaryOp::*;
    // A value known only after apply exists, so it is never null.
    if matches!(op, Eq | Ne)
        && (matches!((&a, &b), (Value::Null, v) | (v, Value::Null) if !v.is_known()))
    {
        return Ok(Value::Bool(op == Ne));
    }
    if !a.is_known() || !b.is_known() {
        return Ok(derived(&[&a, &b]));
    }
    if a.contains_secret() || b.contains_secret() {
        if matches!(op, Eq | Ne) {
            return Err(EvalError::SecretInText {
                what: "a comparison".into(),
            });
        }
        return Err(EvalError::SecretInText {
            what: format!("`{}`", op.symbol()),
        });
    }
    Ok(match (op, &a, &b) {
        (Eq, _, _) => Value::Bool(equal(&a, &b)),
        (Ne, _, _) => Value::Bool(!equal(&a, &b)),
        (And, Value::Bool(x), Value::Bool(y)) => Value::Bool(*x && *y),
        (Or, Value::Bool(x), Value::Bool(y)) => Value::Bool(*x || *y),
        (Add, Value::Str(x), Value::Str(y)) => Value::Str(format!("{x}{y}").into()),
        (Lt | Le | Gt | Ge, Value::Str(x), Value::Str(y)) => Value::Bool(compare(op, x.cmp(y))),
        (Add | Sub | Mul | Div | Rem, Value::Int(x), Value::Int(y)) => {
            let (x, y) = (*x, *y);
            let r = match op {
                Add => x.checked_add(y),
                Sub => x.checked_sub(y),
                Mul => x.checked_mul(y),
                Div | Rem if y == 0 => return Err(EvalError::DivisionByZero),
                Div => x.checked_div(y),
                _ => x.checked_rem(y),
            };
            Value::Int(r.ok_or(EvalError::Overflow { op: op.symbol() })?)
        }
        (Lt | Le | Gt | Ge, x, y) if x.as_f64().is_some() && y.as_f64().is_some() => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            Value::Bool(compare(
                op,
                x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
            ))
        }
        (Add | Sub | Mul | Div | Rem, x, y) if x.as_f64().is_some() && y.as_f64().is_some() => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            if matches!(op, Div | Rem) && y == 0.0 {
                return Err(EvalError::DivisionByZero);
            }
            Value::Float(match op {
                Add => x + y,
                Sub => x - y,
                Mul => x * y,
                Div => x / y,
                _ => x % y,
            })
        }
        (_, x, _) => {
            return Err(EvalError::WrongKind {
                what: "apply an operator to",
                found: x.type_name(),
            });
        }
    })
}

/// Numbers compare by value across int and float; everything else structurally.
fn equal(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn compare(op: BinaryOp, ordering: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        BinaryOp::Lt => ordering == Less,
        BinaryOp::Le => ordering != Greater,
        BinaryOp::Gt => ordering == Greater,
        _ => ordering != Less,
    }
}
