//! Builtin functions: signatures and result types.

use super::types::Ty;

/// What an argument may be.
#[derive(Clone, Copy, Debug)]
pub enum Param {
    Any,
    Str,
    Int,
    Num,
    List,
    Map,
    /// A string, list or map (anything with a length).
    Sized,
}

impl Param {
    pub fn accepts(self, t: &Ty) -> bool {
        match (self, t) {
            (_, Ty::Any) | (Param::Any, _) => t.is_value(),
            (Param::Str, t) => t.assignable_to(&Ty::Str),
            (Param::Int, t) => matches!(t, Ty::Int),
            (Param::Num, t) => matches!(t, Ty::Int | Ty::Float),
            (Param::List, t) => matches!(t, Ty::List(_)),
            (Param::Map, t) => matches!(t, Ty::Map(_) | Ty::Record(_) | Ty::Schema(_)),
            (Param::Sized, t) => matches!(
                t,
                Ty::Str | Ty::Enum(_) | Ty::List(_) | Ty::Map(_) | Ty::Record(_)
            ),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Param::Any => "any value",
            Param::Str => "string",
            Param::Int => "int",
            Param::Num => "number",
            Param::List => "list",
            Param::Map => "map",
            Param::Sized => "string, list or map",
        }
    }
}

pub struct Builtin {
    pub name: &'static str,
    pub params: &'static [Param],
    /// Further arguments of this kind may follow (at least `min` in all).
    pub rest: Option<Param>,
    pub min: usize,
    pub returns: fn(&[Ty]) -> Ty,
    pub doc: &'static str,
}

fn string(_: &[Ty]) -> Ty {
    Ty::Str
}
fn boolean(_: &[Ty]) -> Ty {
    Ty::Bool
}
fn int(_: &[Ty]) -> Ty {
    Ty::Int
}
fn strings(_: &[Ty]) -> Ty {
    Ty::list(Ty::Str)
}
fn ints(_: &[Ty]) -> Ty {
    Ty::list(Ty::Int)
}
fn secret(_: &[Ty]) -> Ty {
    Ty::Secret
}
fn same_as_first(args: &[Ty]) -> Ty {
    args.first().cloned().unwrap_or(Ty::Any)
}
fn element(args: &[Ty]) -> Ty {
    match args.first() {
        Some(Ty::List(t)) | Some(Ty::Map(t)) => (**t).clone(),
        _ => Ty::Any,
    }
}
fn values(args: &[Ty]) -> Ty {
    Ty::list(element(args))
}
fn joined(args: &[Ty]) -> Ty {
    args.iter()
        .skip(1)
        .fold(args.first().cloned().unwrap_or(Ty::Any), |acc, t| {
            acc.join(t)
        })
}
fn merged(args: &[Ty]) -> Ty {
    let value = args.iter().fold(None::<Ty>, |acc, t| {
        let v = match t {
            Ty::Map(v) => (**v).clone(),
            Ty::Record(fields) => fields.values().fold(Ty::Null, |a, b| a.join(b)),
            _ => Ty::Any,
        };
        Some(acc.map_or(v.clone(), |a| a.join(&v)))
    });
    Ty::map(value.unwrap_or(Ty::Any))
}
fn number(args: &[Ty]) -> Ty {
    if args.iter().any(|t| matches!(t, Ty::Float)) {
        Ty::Float
    } else {
        joined(args)
    }
}
fn flat(_: &[Ty]) -> Ty {
    Ty::list(Ty::Any)
}

use Param as P;

/// Every builtin, sorted by name.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "base64encode",
        params: &[P::Str],
        rest: None,
        min: 1,
        returns: string,
        doc: "Base64 of a string's UTF-8 bytes.",
    },
    Builtin {
        name: "cidrhost",
        params: &[P::Str, P::Int],
        rest: None,
        min: 2,
        returns: string,
        doc: "The address of host number N in a CIDR prefix.",
    },
    Builtin {
        name: "cidrsubnet",
        params: &[P::Str, P::Int, P::Int],
        rest: None,
        min: 3,
        returns: string,
        doc: "cidrsubnet(prefix, newbits, netnum): a subnet of a CIDR prefix.",
    },
    Builtin {
        name: "coalesce",
        params: &[P::Any],
        rest: Some(P::Any),
        min: 1,
        returns: joined,
        doc: "The first argument that is not null.",
    },
    Builtin {
        name: "concat",
        params: &[P::List],
        rest: Some(P::List),
        min: 1,
        returns: joined,
        doc: "Lists joined end to end.",
    },
    Builtin {
        name: "contains",
        params: &[P::Sized, P::Any],
        rest: None,
        min: 2,
        returns: boolean,
        doc: "Whether a list holds a value, or a string a substring.",
    },
    Builtin {
        name: "distinct",
        params: &[P::List],
        rest: None,
        min: 1,
        returns: same_as_first,
        doc: "A list without repeated elements, first occurrences kept.",
    },
    Builtin {
        name: "endswith",
        params: &[P::Str, P::Str],
        rest: None,
        min: 2,
        returns: boolean,
        doc: "Whether a string ends with a suffix.",
    },
    Builtin {
        name: "file",
        params: &[P::Str],
        rest: None,
        min: 1,
        returns: string,
        doc: "The content of a file, relative to the module's folder.",
    },
    Builtin {
        name: "flatten",
        params: &[P::List],
        rest: None,
        min: 1,
        returns: flat,
        doc: "Nested lists flattened one level.",
    },
    Builtin {
        name: "format",
        params: &[P::Str],
        rest: Some(P::Any),
        min: 1,
        returns: string,
        doc: "format(fmt, args...): `{}` placeholders filled in order.",
    },
    Builtin {
        name: "join",
        params: &[P::List, P::Str],
        rest: None,
        min: 2,
        returns: string,
        doc: "join(list, separator): elements joined into a string.",
    },
    Builtin {
        name: "keys",
        params: &[P::Map],
        rest: None,
        min: 1,
        returns: strings,
        doc: "The sorted keys of a map.",
    },
    Builtin {
        name: "length",
        params: &[P::Sized],
        rest: None,
        min: 1,
        returns: int,
        doc: "Characters of a string, elements of a list or map.",
    },
    Builtin {
        name: "lookup",
        params: &[P::Map, P::Str, P::Any],
        rest: None,
        min: 3,
        returns: element,
        doc: "lookup(map, key, default): a map's value or the default.",
    },
    Builtin {
        name: "lower",
        params: &[P::Str],
        rest: None,
        min: 1,
        returns: string,
        doc: "A string in lower case.",
    },
    Builtin {
        name: "max",
        params: &[P::Num],
        rest: Some(P::Num),
        min: 1,
        returns: number,
        doc: "The largest number.",
    },
    Builtin {
        name: "merge",
        params: &[P::Map],
        rest: Some(P::Map),
        min: 1,
        returns: merged,
        doc: "Maps merged; later keys win.",
    },
    Builtin {
        name: "min",
        params: &[P::Num],
        rest: Some(P::Num),
        min: 1,
        returns: number,
        doc: "The smallest number.",
    },
    Builtin {
        name: "range",
        params: &[P::Int, P::Int],
        rest: None,
        min: 1,
        returns: ints,
        doc: "range(n) or range(from, to): integers, `to` excluded.",
    },
    Builtin {
        name: "replace",
        params: &[P::Str, P::Str, P::Str],
        rest: None,
        min: 3,
        returns: string,
        doc: "replace(s, from, to): every occurrence replaced.",
    },
    Builtin {
        name: "secret",
        params: &[P::Str],
        rest: None,
        min: 1,
        returns: secret,
        doc: "A reference to a secret held by the secret store; its value is never printed.",
    },
    Builtin {
        name: "sha256",
        params: &[P::Str],
        rest: None,
        min: 1,
        returns: string,
        doc: "Hex SHA-256 of a string's UTF-8 bytes.",
    },
    Builtin {
        name: "sort",
        params: &[P::List],
        rest: None,
        min: 1,
        returns: same_as_first,
        doc: "A list sorted ascending.",
    },
    Builtin {
        name: "split",
        params: &[P::Str, P::Str],
        rest: None,
        min: 2,
        returns: strings,
        doc: "split(s, separator): the parts of a string.",
    },
    Builtin {
        name: "startswith",
        params: &[P::Str, P::Str],
        rest: None,
        min: 2,
        returns: boolean,
        doc: "Whether a string starts with a prefix.",
    },
    Builtin {
        name: "substr",
        params: &[P::Str, P::Int, P::Int],
        rest: None,
        min: 3,
        returns: string,
        doc: "substr(s, start, length), in characters.",
    },
    Builtin {
        name: "template",
        params: &[P::Str, P::Map],
        rest: None,
        min: 2,
        returns: string,
        doc: "template(path, vars): a tera template file rendered with vars.",
    },
    Builtin {
        name: "toint",
        params: &[P::Any],
        rest: None,
        min: 1,
        returns: int,
        doc: "A number or numeric string as an int.",
    },
    Builtin {
        name: "tostring",
        params: &[P::Any],
        rest: None,
        min: 1,
        returns: string,
        doc: "A scalar as a string.",
    },
    Builtin {
        name: "trim",
        params: &[P::Str],
        rest: None,
        min: 1,
        returns: string,
        doc: "A string without leading and trailing white space.",
    },
    Builtin {
        name: "upper",
        params: &[P::Str],
        rest: None,
        min: 1,
        returns: string,
        doc: "A string in upper case.",
    },
    Builtin {
        name: "values",
        params: &[P::Map],
        rest: None,
        min: 1,
        returns: values,
        doc: "The values of a map, in key order.",
    },
];

pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTINS
        .binary_search_by(|b| b.name.cmp(name))
        .ok()
        .map(|i| &BUILTINS[i])
}

impl Builtin {
    pub fn max_args(&self) -> Option<usize> {
        if self.rest.is_some() {
            None
        } else {
            Some(self.params.len())
        }
    }

    pub fn param(&self, index: usize) -> Param {
        self.params
            .get(index)
            .copied()
            .or(self.rest)
            .unwrap_or(Param::Any)
    }

    /// "2 arguments", "1 to 2 arguments", "at least 1 argument".
    pub fn arity(&self) -> String {
        let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
        match self.max_args() {
            Some(max) if max == self.min => format!("{max} {}", plural(max)),
            Some(max) => format!("{} to {max} {}", self.min, plural(max)),
            None => format!("at least {} {}", self.min, plural(self.min)),
        }
    }
}
