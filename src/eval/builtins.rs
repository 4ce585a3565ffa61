//! Builtin functions at evaluation time. The checker has already verified
//! argument counts and types (`check::builtins`); here they run on values.
//! A call with an argument known only after apply is itself known only
//! after apply.

use std::net::Ipv4Addr;
use std::path::Path;

use super::EvalError;
use super::value::{Fields, Piece, Value, format_float};

/// Where `file(..)` and `template(..)` read from.
pub struct Files<'a> {
    /// The folder of the module making the call.
    pub dir: Option<&'a Path>,
    /// The project root; reads must stay inside it.
    pub root: Option<&'a Path>,
}

type Result<T> = std::result::Result<T, EvalError>;

fn bad(function: &str, message: impl Into<String>) -> EvalError {
    EvalError::InvalidArgument {
        function: function.to_string(),
        message: message.into(),
    }
}

fn text(function: &str, v: &Value) -> Result<String> {
    v.as_text().ok_or_else(|| {
        bad(
            function,
            format!("expected a string, found {}", v.type_name()),
        )
    })
}

fn int(function: &str, v: &Value) -> Result<i64> {
    v.as_int().ok_or_else(|| {
        bad(
            function,
            format!("expected an int, found {}", v.type_name()),
        )
    })
}

fn list<'v>(function: &str, v: &'v Value) -> Result<&'v [Value]> {
    match v {
        Value::List(items) => Ok(items),
        other => Err(bad(
            function,
            format!("expected a list, found {}", other.type_name()),
        )),
    }
}

fn map<'v>(function: &str, v: &'v Value) -> Result<&'v Fields> {
    match v {
        Value::Map(m) => Ok(m),
        other => Err(bad(
            function,
            format!("expected a map, found {}", other.type_name()),
        )),
    }
}

/// Calls builtin `name` on evaluated arguments.
pub fn call(name: &str, args: &[Value], files: &Files<'_>) -> Result<Value> {
    // `secret` names a secret; it never needs the value.
    if name == "secret" {
        let key = text(name, &args[0])?;
        return Ok(Value::Secret(key));
    }
    if name == "coalesce" {
        return Ok(args
            .iter()
            .find(|v| !matches!(v, Value::Null))
            .cloned()
            .unwrap_or(Value::Null));
    }
    if args.iter().any(|a| !a.is_known()) {
        let mut symbols: Vec<_> = args.iter().flat_map(Value::symbols).collect();
        symbols.sort();
        symbols.dedup();
        return Ok(Value::Derived(symbols));
    }
    // Secrets may be passed along whole, but not taken apart or printed.
    if name != "merge"
        && name != "concat"
        && name != "lookup"
        && args.iter().any(Value::contains_secret)
    {
        return Err(EvalError::SecretInText {
            what: format!("`{name}(..)`"),
        });
    }
    let a = |i: usize| &args[i];
    Ok(match name {
        "upper" => Value::Str(text(name, a(0))?.to_uppercase().into()),
        "lower" => Value::Str(text(name, a(0))?.to_lowercase().into()),
        "trim" => Value::Str(text(name, a(0))?.trim().to_string().into()),
        "replace" => Value::Str(
            text(name, a(0))?
                .replace(&text(name, a(1))?, &text(name, a(2))?)
                .into(),
        ),
        "split" => {
            let s = text(name, a(0))?;
            let sep = text(name, a(1))?;
            if sep.is_empty() {
                return Err(bad(name, "the separator is empty"));
            }
            Value::List(
                s.split(sep.as_str())
                    .map(|p| Value::Str(p.into()))
                    .collect(),
            )
        }
        "join" => {
            let sep = text(name, a(1))?;
            let parts: Result<Vec<String>> =
                list(name, a(0))?.iter().map(|v| text(name, v)).collect();
            Value::Str(parts?.join(&sep).into())
        }
        "format" => {
            let fmt = text(name, a(0))?;
            let mut out = String::new();
            let mut rest = args[1..].iter();
            let mut pieces = fmt.split("{}");
            out.push_str(pieces.next().unwrap_or(""));
            for piece in pieces {
                let v = rest
                    .next()
                    .ok_or_else(|| bad(name, "more `{}` than arguments"))?;
                out.push_str(&text(name, v)?);
                out.push_str(piece);
            }
            if rest.next().is_some() {
                return Err(bad(name, "more arguments than `{}`"));
            }
            Value::Str(out.into())
        }
        "substr" => {
            let s = text(name, a(0))?;
            let start = int(name, a(1))?;
            let len = int(name, a(2))?;
            if start < 0 || len < 0 {
                return Err(bad(name, "start and length must not be negative"));
            }
            Value::Str(s.chars().skip(start as usize).take(len as usize).collect())
        }
        "startswith" => Value::Bool(text(name, a(0))?.starts_with(&text(name, a(1))?)),
        "endswith" => Value::Bool(text(name, a(0))?.ends_with(&text(name, a(1))?)),
        "contains" => match a(0) {
            Value::List(items) => Value::Bool(items.contains(a(1))),
            other => Value::Bool(text(name, other)?.contains(&text(name, a(1))?)),
        },
        "length" => Value::Int(match a(0) {
            Value::List(items) => items.len(),
            Value::Map(m) => m.len(),
            other => text(name, other)?.chars().count(),
        } as i64),
        "keys" => Value::List(
            map(name, a(0))?
                .keys()
                .map(|k| Value::Str(k.clone()))
                .collect(),
        ),
        "values" => Value::List(map(name, a(0))?.values().cloned().collect()),
        "merge" => {
            let mut out = Fields::new();
            for m in args {
                out.extend(map(name, m)?.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            Value::Map(out)
        }
        "concat" => {
            let mut out = Vec::new();
            for l in args {
                out.extend(list(name, l)?.iter().cloned());
            }
            Value::List(out)
        }
        "flatten" => {
            let mut out = Vec::new();
            for v in list(name, a(0))? {
                match v {
                    Value::List(inner) => out.extend(inner.iter().cloned()),
                    other => out.push(other.clone()),
                }
            }
            Value::List(out)
        }
        "distinct" => {
            let mut out: Vec<Value> = Vec::new();
            for v in list(name, a(0))? {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            Value::List(out)
        }
        "sort" => {
            let items = list(name, a(0))?;
            let mut out = items.to_vec();
            if items.iter().all(|v| matches!(v, Value::Str(_))) {
                out.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
            } else if items.iter().all(|v| v.as_f64().is_some()) {
                out.sort_by(|x, y| {
                    x.as_f64()
                        .partial_cmp(&y.as_f64())
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
            } else {
                return Err(bad(name, "sorts a list of strings or a list of numbers"));
            }
            Value::List(out)
        }
        "range" => {
            let (from, to) = if args.len() == 1 {
                (0, int(name, a(0))?)
            } else {
                (int(name, a(0))?, int(name, a(1))?)
            };
            if to.saturating_sub(from) > 100_000 {
                return Err(bad(name, "a range may hold at most 100000 numbers"));
            }
            Value::List((from..to).map(Value::Int).collect())
        }
        "lookup" => map(name, a(0))?
            .get(&text(name, a(1))?)
            .cloned()
            .unwrap_or_else(|| a(2).clone()),
        "min" | "max" => {
            let mut best = a(0).clone();
            for v in &args[1..] {
                let (x, y) = (
                    v.as_f64().unwrap_or(f64::NAN),
                    best.as_f64().unwrap_or(f64::NAN),
                );
                if (name == "min" && x < y) || (name == "max" && x > y) {
                    best = v.clone();
                }
            }
            best
        }
        "tostring" => Value::Str(text(name, a(0))?.into()),
        "toint" => match a(0) {
            Value::Int(n) => Value::Int(*n),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Value::Int(*f as i64),
            other => {
                let s = text(name, other)?;
                Value::Int(
                    s.trim()
                        .parse()
                        .map_err(|_| bad(name, format!("{s:?} is not an integer")))?,
                )
            }
        },
        "base64encode" => Value::Str(base64(text(name, a(0))?.as_bytes()).into()),
        "sha256" => Value::Str(sha256_hex(text(name, a(0))?.as_bytes()).into()),
        "cidrsubnet" => {
            Value::Str(cidrsubnet(&text(name, a(0))?, int(name, a(1))?, int(name, a(2))?)?.into())
        }
        "cidrhost" => Value::Str(cidrhost(&text(name, a(0))?, int(name, a(1))?)?.into()),
        "file" => Value::Str(read_file(name, &text(name, a(0))?, files)?.into()),
        "template" => {
            let path = text(name, a(0))?;
            let source = read_file(name, &path, files)?;
            let mut tera = tera::Tera::default();
            tera.add_raw_template(&path, &source)
                .map_err(|e| bad(name, e.to_string()))?;
            let context = tera::Context::from_serialize(&a(1).to_json())
                .map_err(|e| bad(name, e.to_string()))?;
            Value::Str(
                tera.render(&path, &context)
                    .map_err(|e| bad(name, tera_message(&e)))?
                    .into(),
            )
        }
        other => return Err(bad(other, "not a builtin function")),
    })
}

/// A tera error with its causes, in one line.
pub(crate) fn tera_message(e: &tera::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}

fn read_file(function: &str, path: &str, files: &Files<'_>) -> Result<String> {
    let Some(dir) = files.dir else {
        return Err(bad(function, "files can be read only from modules on disk"));
    };
    let full = dir
        .join(path)
        .canonicalize()
        .map_err(|e| bad(function, format!("cannot read `{path}`: {e}")))?;
    if files.root.is_some_and(|root| !full.starts_with(root)) {
        return Err(bad(
            function,
            format!("`{path}` is outside the project root"),
        ));
    }
    std::fs::read_to_string(&full).map_err(|e| bad(function, format!("cannot read `{path}`: {e}")))
}

fn parse_cidr(function: &str, prefix: &str) -> Result<(u32, u8)> {
    let (addr, len) = crate::check::parse_cidr(prefix)
        .ok_or_else(|| bad(function, format!("{prefix:?} is not an IPv4 CIDR prefix")))?;
    Ok((u32::from(addr), len))
}

/// `cidrsubnet("10.0.0.0/16", 8, 2)` = `"10.0.2.0/24"`.
pub fn cidrsubnet(prefix: &str, newbits: i64, netnum: i64) -> Result<String> {
    let (base, len) = parse_cidr("cidrsubnet", prefix)?;
    let new_len = i64::from(len) + newbits;
    if !(0..=32).contains(&new_len) || newbits < 0 {
        return Err(bad(
            "cidrsubnet",
            format!("/{len} plus {newbits} bits does not fit in 32 bits"),
        ));
    }
    if netnum < 0 || (newbits < 63 && netnum >= 1i64 << newbits) {
        return Err(bad(
            "cidrsubnet",
            format!("network number {netnum} does not fit in {newbits} bits"),
        ));
    }
    let mask = |l: i64| if l == 0 { 0 } else { u32::MAX << (32 - l) };
    let network = base & mask(i64::from(len));
    let shift = 32 - new_len;
    let subnet = network | ((netnum as u32).checked_shl(shift as u32).unwrap_or(0));
    Ok(format!("{}/{new_len}", Ipv4Addr::from(subnet)))
}

/// `cidrhost("10.0.1.0/24", 5)` = `"10.0.1.5"`.
pub fn cidrhost(prefix: &str, hostnum: i64) -> Result<String> {
    let (base, len) = parse_cidr("cidrhost", prefix)?;
    let size: u64 = 1u64 << (32 - u32::from(len));
    if hostnum < 0 || hostnum as u64 >= size {
        return Err(bad(
            "cidrhost",
            format!("host number {hostnum} is outside /{len}"),
        ));
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Ok(Ipv4Addr::from((base & mask) | hostnum as u32).to_string())
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Text of a value inside an interpolated string, or a piece known after apply.
pub fn interpolate(pieces: Vec<Piece>) -> Value {
    let mut merged: Vec<Piece> = Vec::new();
    for p in pieces {
        match (merged.last_mut(), p) {
            (Some(Piece::Text(a)), Piece::Text(b)) => a.push_str(&b),
            (_, p) => merged.push(p),
        }
    }
    match merged.as_slice() {
        [] => Value::Str(String::new().into()),
        [Piece::Text(t)] => Value::Str(t.clone().into()),
        _ => Value::Interpolated(merged),
    }
}

/// A float for interpolation.
pub fn float_text(f: f64) -> String {
    format_float(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, args: Vec<Value>) -> Value {
        call(
            name,
            &args,
            &Files {
                dir: None,
                root: None,
            },
        )
        .unwrap()
    }

    fn s(t: &str) -> Value {
        Value::Str(t.into())
    }

    #[test]
    fn network_functions() {
        assert_eq!(cidrsubnet("10.0.0.0/16", 8, 2).unwrap(), "10.0.2.0/24");
        assert_eq!(cidrsubnet("10.1.0.0/16", 4, 15).unwrap(), "10.1.240.0/20");
        assert_eq!(cidrhost("10.0.1.0/24", 5).unwrap(), "10.0.1.5");
        assert!(cidrsubnet("10.0.0.0/16", 8, 256).is_err());
        assert!(cidrsubnet("10.0.0.0/30", 8, 0).is_err());
        assert!(cidrhost("10.0.1.0/24", 256).is_err());
    }

    #[test]
    fn digests_match_known_vectors() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(base64(b"rel"), "cmVs");
        assert_eq!(base64(b"re"), "cmU=");
        assert_eq!(base64(b"r"), "cg==");
    }

    #[test]
    fn strings_and_collections() {
        assert_eq!(
            run("join", vec![Value::List(vec![s("a"), s("b")]), s(",")]),
            s("a,b")
        );
        assert_eq!(
            run("split", vec![s("a,b"), s(",")]),
            Value::List(vec![s("a"), s("b")])
        );
        assert_eq!(
            run("format", vec![s("{}-{}"), s("shoes"), Value::Int(42)]),
            s("shoes-42")
        );
        assert_eq!(run("length", vec![s("héllo")]), Value::Int(5));
        assert_eq!(
            run("range", vec![Value::Int(3)]),
            Value::List(vec![Value::Int(0), Value::Int(1), Value::Int(2)])
        );
        assert_eq!(
            run("sort", vec![Value::List(vec![s("b"), s("a")])]),
            Value::List(vec![s("a"), s("b")])
        );
        assert_eq!(run("coalesce", vec![Value::Null, s("x")]), s("x"));
    }

    #[test]
    fn unknown_arguments_make_unknown_results() {
        let vpc = crate::eval::value::Symbol {
            address: crate::address::Address::shared().child("resource", "vpc"),
            attribute: "id".into(),
        };
        let out = run("upper", vec![Value::Unknown(Box::new(vpc.clone()))]);
        assert_eq!(out, Value::Derived(vec![vpc]));
        assert!(!out.is_known());
    }

    #[test]
    fn secrets_cannot_become_text() {
        let err = call(
            "upper",
            &[Value::Secret("db".into())],
            &Files {
                dir: None,
                root: None,
            },
        )
        .unwrap_err();
        assert!(matches!(err, EvalError::SecretInText { .. }));
        assert_eq!(
            run("secret", vec![s("db/password")]),
            Value::Secret("db/password".into())
        );
    }
}
