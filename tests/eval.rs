//! The evaluator on real expressions: values, symbolic values known only
//! after apply, secrets, builtins, and errors that point at the expression.

use rel::eval::value::{Fields, Piece, Symbol, Value};
use rel::eval::{EvalError, Files, Names, eval};
use rel::source::FileId;
use rel::syntax::ast::{Ident, ItemKind};

/// Names for the tests: a few parameters, a resource `vpc` whose attributes
/// are known after apply, and a secret.
struct TestNames {
    dir: std::path::PathBuf,
}

impl Names for TestNames {
    fn value(&mut self, name: &Ident) -> Result<Value, EvalError> {
        Ok(match name.name.as_str() {
            "env" => Value::Str("pr-42".into()),
            "replicas" => Value::Int(3),
            "ratio" => Value::Float(0.5),
            "regions" => Value::List(vec![
                Value::Str("us-east-1".into()),
                Value::Str("eu-west-1".into()),
            ]),
            "tags" => Value::Map(Fields::from([(
                "team".to_string(),
                Value::Str("shop".into()),
            )])),
            "vpc" => Value::Unknown(Box::new(Symbol {
                address: rel::address::Address::shared()
                    .child("cluster", "main")
                    .child("resource", "vpc"),
                attribute: String::new(),
            })),
            "password" => Value::Secret("shop/db".into()),
            other => {
                return Err(EvalError::NoValue {
                    name: other.to_string(),
                });
            }
        })
    }

    fn files(&self) -> Files<'_> {
        Files {
            dir: Some(&self.dir),
            root: Some(&self.dir),
        }
    }
}

/// A folder with one template, written once for all tests (they run in parallel).
fn template_dir() -> &'static std::path::PathBuf {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("eval");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hello.tera"), "Hello {{ name }} x{{ count }}").unwrap();
        dir.canonicalize().unwrap()
    })
}

fn run(expr: &str) -> Result<Value, (EvalError, String)> {
    let text = format!("let x = {expr}\n");
    let (tree, diags) = rel::syntax::parse(FileId(0), &text);
    assert!(diags.is_empty(), "{expr} does not parse");
    let ItemKind::Let { value, .. } = &tree.items[0].kind else {
        panic!("a let")
    };
    let mut names = TestNames {
        dir: template_dir().clone(),
    };
    eval(value, &mut names)
        .map_err(|(e, span)| (e, text[span.start as usize..span.end as usize].to_string()))
}

fn ok(expr: &str) -> Value {
    run(expr).unwrap_or_else(|e| panic!("{expr}: {e:?}"))
}

fn s(t: &str) -> Value {
    Value::Str(t.into())
}

#[test]
fn literals_operators_and_strings() {
    assert_eq!(ok("1 + 2 * 3"), Value::Int(7));
    assert_eq!(ok("(1 + 2) * 3"), Value::Int(9));
    assert_eq!(ok("7 / 2"), Value::Int(3));
    assert_eq!(ok("7.0 / 2"), Value::Float(3.5));
    assert_eq!(ok("replicas * 2 >= 6 && !false"), Value::Bool(true));
    assert_eq!(ok("1 == 1.0"), Value::Bool(true));
    assert_eq!(ok("\"a\" + \"b\""), s("ab"));
    assert_eq!(ok("\"svc-${env}-${replicas}\""), s("svc-pr-42-3"));
    assert_eq!(ok("if env == \"prod\" then 6 else replicas"), Value::Int(3));
    assert_eq!(ok("tags.team"), s("shop"));
    assert_eq!(ok("regions[1]"), s("eu-west-1"));
    assert_eq!(ok("-9223372036854775808"), Value::Int(i64::MIN));
}

#[test]
fn comprehensions() {
    assert_eq!(
        ok("[for r in regions: upper(r)]"),
        Value::List(vec![s("US-EAST-1"), s("EU-WEST-1")])
    );
    assert_eq!(
        ok("[for i, r in regions: i if r != \"us-east-1\"]"),
        Value::List(vec![Value::Int(1)])
    );
    assert_eq!(
        ok("{for k, v in tags: upper(k) => v}"),
        Value::Map(Fields::from([("TEAM".to_string(), s("shop"))]))
    );
}

#[test]
fn builtins_run() {
    assert_eq!(
        ok("cidrsubnet(\"10.0.0.0/16\", 8, replicas)"),
        s("10.0.3.0/24")
    );
    assert_eq!(ok("join(sort([\"b\", \"a\"]), \",\")"), s("a,b"));
    assert_eq!(ok("length(merge(tags, { env = env }))"), Value::Int(2));
    assert_eq!(
        ok("sha256(\"abc\")"),
        s("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(ok("base64encode(\"rel\")"), s("cmVs"));
    assert_eq!(
        ok("template(\"hello.tera\", { name = env, count = replicas })"),
        s("Hello pr-42 x3")
    );
}

#[test]
fn values_known_after_apply_stay_symbolic() {
    let vpc = |attr: &str| Symbol {
        address: rel::address::Address::shared()
            .child("cluster", "main")
            .child("resource", "vpc"),
        attribute: attr.into(),
    };
    assert_eq!(ok("vpc.id"), Value::Unknown(Box::new(vpc("id"))));
    assert_eq!(
        ok("vpc.Endpoint.Address"),
        Value::Unknown(Box::new(vpc("Endpoint.Address")))
    );
    assert_eq!(
        ok("\"https://${vpc.DnsName}/${env}\""),
        Value::Interpolated(vec![
            Piece::Text("https://".into()),
            Piece::Unknown(vpc("DnsName")),
            Piece::Text("/pr-42".into())
        ])
    );
    assert_eq!(ok("upper(vpc.id)"), Value::Derived(vec![vpc("id")]));
    assert_eq!(
        ok("if vpc.ready then 1 else 2"),
        Value::Derived(vec![vpc("ready")])
    );
    let err = run("[for s in vpc.subnets: s]").unwrap_err();
    assert!(matches!(err.0, EvalError::NeedsKnownValue { .. }));
    assert_eq!(err.1, "vpc.subnets");
}

#[test]
fn secrets_stay_references() {
    assert_eq!(ok("password"), Value::Secret("shop/db".into()));
    assert_eq!(
        ok("{ DB_PASSWORD = password }.DB_PASSWORD"),
        Value::Secret("shop/db".into())
    );
    let err = run("\"postgres://app:${password}@db\"").unwrap_err();
    assert!(matches!(err.0, EvalError::SecretInText { .. }));
    assert_eq!(err.1, "password");
    assert!(matches!(
        run("upper(password)").unwrap_err().0,
        EvalError::SecretInText { .. }
    ));
    assert!(
        !format!("{}", ok("password")).contains("db\""),
        "display names the secret, masked"
    );
}

#[test]
fn errors_point_at_the_failing_expression() {
    let (err, at) = run("1 + replicas / (replicas - 3)").unwrap_err();
    assert_eq!(err, EvalError::DivisionByZero);
    assert_eq!(at, "replicas / (replicas - 3)");
    let (err, at) = run("[regions[5]]").unwrap_err();
    assert_eq!(err, EvalError::IndexOutOfRange { index: 5, len: 2 });
    assert_eq!(at, "regions[5]");
    let (err, _) = run("tags.owner").unwrap_err();
    assert!(matches!(err, EvalError::MissingKey { .. }));
    let (err, at) = run("cidrsubnet(\"10.0.0.0/16\", 8, 300)").unwrap_err();
    assert!(matches!(err, EvalError::InvalidArgument { .. }));
    assert_eq!(at, "cidrsubnet(\"10.0.0.0/16\", 8, 300)");
    let (err, _) = run("9223372036854775807 + 1").unwrap_err();
    assert!(matches!(err, EvalError::Overflow { .. }));
    let diagnostic = EvalError::DivisionByZero.at(rel::source::Span::default());
    assert_eq!(diagnostic.code.id, "E0401");
}

#[test]
fn json_form_never_holds_a_secret_value() {
    let v = ok("{ a = password, b = vpc.id, c = [1, 2.5, \"x\"] }");
    let json = serde_json::to_string(&v.to_json()).unwrap();
    assert_eq!(
        json,
        r#"{"a":{"secret":"shop/db"},"b":{"known_after_apply":"shared/cluster.main/resource.vpc.id"},"c":[1,2.5,"x"]}"#
    );
}
