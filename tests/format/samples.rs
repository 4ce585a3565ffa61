//! Sample sources for the formatter tests, covering every construct of the
//! grammar, comments in awkward places, blank-line runs and long lists.

pub const SAMPLES: &[(&str, &str)] = &[
    (
        "imports_and_params",
        r#"import "std/aws" as aws
import   "./lib/net.rel"   as   net
param region: string = "us-east-1"
param replicas?: int @range(1, 10) = 3
param tier: "preprod" | "prod" | "dev" = "preprod"
param names: list(string) @length(1, 5,) @nonempty
param labels: map(list(any)) = {}
param nodes: aws.Nodes
param pattern: string @pattern("^[a-z]+$") @nonempty()
"#,
    ),
    (
        "expressions",
        r#"let a = 1
let b = 1_000
let c = 1.5e3
let d = 0.50
let e = -a + b * (c - d) / 2 % 3
let f = !true && false || a >= b
let g = a == b != (c < d)
let h = a <= b
let i = --a > !!b
let j = if a > 0 then "pos" else if a < 0 then "neg" else "zero"
let k = [for x in [1, 2, 3]: x * 2 if x > 1]
let l = {for k, v in {a = 1, b = 2}: k => v + 1 if v > 0}
let m = [for i, x in xs: i]
let n = {for x in xs: x => true}
let o = aws.regions[0].name
let p = upper(trim("  x  "), )
let q = null
let r = "interp ${a + 1} and ${upper("x")} \n \t \" \$ \u{1F600}"
let s = ((a + b)) * (c)
let t = f()
output url = "https://${host}:${port}/path"
output empty_list = []
output empty_map = {}
output nested = [[1, 2], [3, [4, 5]], {a = [1], "b c" = {d = 2}}]
"#,
    ),
    (
        "compact_spacing",
        r#"let e=-a+b*(c-d)/2%3
let f=!x&&y||z>=1
let g=if a then[1,2]else{a=1,b=2}
let h=[for x in xs:x if x>1]
let i={for k,v in m:k=>v}
let j=f(a,b)[0].c
param p?:list(string)@length(1,2)=["a","b"]
"#,
    ),
    (
        "multiline_strings",
        "let s = \"\"\"\n    multi\n      line ${a}\n    and \"quoted\" \\\"\"\"\n    \"\"\"\napp a {\n      script = \"\"\"\n        #!/bin/sh\n        echo ${name} // not a comment\n      \"\"\"\n   b = 1\n}\n",
    ),
    (
        "component_and_instances",
        r#"component eks: cluster {
  param version: string = "1.29"
  param nodes: int = 3
  resource cluster "AWS::EKS::Cluster" {
    name = "${name}-eks"
    version = version
    vpc.subnets = subnets
  }
  output endpoint = cluster.endpoint
}
component db {
  param size: string
}
cluster main = aws.eks {
  nodes = 5
  version = "1.30"
}
database primary = db { size = "large" }
"#,
    ),
    (
        "app_and_environment",
        r#"app store {
  domain web {
    host = "shop.example.com"
  }
  service api {
    image = "ghcr.io/acme/api:1.2"
    port = 8080
    replicas = 3
    env.LOG_LEVEL = "debug"
    env = { DATABASE_URL = primary.url, "MODE" = "fast" }
  }
  job migrate {
    image = "ghcr.io/acme/migrate"
    command = ["migrate", "--up"]
  }
}
environment "pr-${branch}" from store {
  api.replicas = 1
}
domain apex { host = "example.com" }
service lone { port = 1 }
job nightly { schedule = "@daily" }
"#,
    ),
    (
        "schema",
        r#"schema Nodes {
  count: int @range(1, 100) = 3
  size?: string
  kind: "spot" | "on-demand" = "spot",
  labels: map(string) = {}, extra: list(Nodes)
}
schema Empty {}
"#,
    ),
    (
        "keywords_as_names",
        r#"app x {
  if = 1
  for = 2
  env.if = 3
  service = "s"
  v = a.if + b.for + app + service
  m = { for = 1, if = 2, in = 3 }
}
"#,
    ),
    (
        "commas_and_one_line",
        r#"let a = 1 let b = 2 output c = a + b
app a { x = 1, y = 2, service s { port = 1 }, z = [1,2,], }
schema S { a: int, b: string, }
"#,
    ),
    (
        "comments_everywhere",
        r#"// header comment

# hash comment
import "std/aws" as aws // trailing on import

/* block before item */
app store { // after open brace
  // leading own-line
  a = 1 // trailing
  bb = 2 /* trailing block */

  // after blank line
  ccc = [ // after open bracket
    1, // one
    // before two
    2,
    /* before close bracket */
  ]
  d = {
    x = 1 // in map
    # before close brace of map
  }
  e = f(1, /* inside call */ 2)
  g = a + // line comment inside expression
    b
  h = [1, /* in list */ 2]
  i = a /* before operator */ + b
  // before close brace
}
let x = 1 /* a */ /* b */ // c
/* multi
   line
   block */
let y = 2
// end of file comment"#,
    ),
    (
        "comments_in_headers",
        r#"component /* c1 */ eks /* c2 */ : /* c3 */ cluster /* c4 */ { /* c5 */ }
param /* p1 */ x /* p2 */ ? /* p3 */ : /* p4 */ list( /* p5 */ string /* p6 */ ) /* p7 */ @range( /* p8 */ 1, 2 /* p9 */ ) @nonempty( /* p10 */ ) = /* p11 */ 1
resource /* r1 */ b /* r2 */ "AWS::S3::Bucket" /* r3 */ {}
environment /* e1 */ "dev" /* e2 */ from /* e3 */ store /* e4 */ . /* e5 */ x {}
cluster /* i1 */ main /* i2 */ = /* i3 */ aws /* i4 */ . /* i5 */ eks {}
import /* m1 */ "std/k8s" /* m2 */ as /* m3 */ k8s
let z = [for /* f1 */ k /* f2 */ , /* f3 */ v /* f4 */ in /* f5 */ m /* f6 */ : /* f7 */ k /* f8 */ if /* f9 */ v /* f10 */ ]
let w = { for k, v in m: k /* w1 */ => /* w2 */ v /* w3 */ }
let y = if /* y1 */ a /* y2 */ then /* y3 */ b /* y4 */ else /* y5 */ c
let v = a /* v1 */ . /* v2 */ b /* v3 */ [ /* v4 */ 0 /* v5 */ ] /* v6 */
let u = - /* u1 */ a + ! /* u2 */ b
let t = ( /* t1 */ a /* t2 */ )
"#,
    ),
    (
        "line_comments_in_expressions",
        r#"let a = f( // after paren
  1, // after one
  2
)
let b = a +
  // own line between operands
  b
let c = if x // cond
  then y # then
  else z
let d = [for x in xs: // body next
  x]
let e = x.y // member
  [0]
app q {
  v = // value on next line
    [1, 2]
  w = 1
}
"#,
    ),
    (
        "comments_inside_strings",
        r#"let u = "http://x # not a comment /* nope */"
let v = "${a /* real comment */ + 1}"
let w = "${a // line comment inside interpolation
}"
let x = [f(/* c1 */ 1), "${b /* c2 */}", /* c3 */ 2]
"#,
    ),
    (
        "empty_bodies",
        "app a {}\napp b {\n\n}\napp c { /* only */ }\napp d {\n  // only\n}\napp e {\n\n  // only, after blank\n\n}\nlet l = [\n]\nlet m = {\n}\nlet n = [ /* c */ ]\nlet o = { # c\n}\n",
    ),
    (
        "blank_lines",
        "\n\n\nlet a = 1\n\n\n\nlet b = 2\nlet c = 3\n\n\napp x {\n\n\n  a = 1\n\n\n\n  b = 2\n\n  // c\n\n\n  d = 3\n\n\n}\nlet l = [\n\n  1,\n\n\n  2,\n\n]\n\n\n",
    ),
    (
        "long_lists",
        r#"let regions = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1"]
let short = ["a",
  "b"]
let nested = [["us-east-1", "us-east-2", "us-west-1"], ["eu-west-1", "eu-central-1", "eu-north-1", "eu-south-1", "ap-south-1"]]
app a {
  tags = { team = "platform", owner = "someone@example.com", cost_center = "cc-1234", env = "production", x = 1 }
  args = f(["aaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbb", "cccccccccccccccccccccccc", "ddddddddddddddddddd"])
  exactly_one_hundred = ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]
  one_more_than_that = ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]
}
"#,
    ),
    (
        "alignment",
        r#"app a {
  a = 1
  bbbb = 2
  cc.dd = 3 // trailing
  e = [
    1,
  ]
  ff = 4
  g = 5

  hhhhhhh = 6
  i = 7
  // comment breaks the run
  jj = 8
  k = 9
  service s {}
  llll = 10
  m = 11
  map = {
    a = 1
    bbb = "two"
    "c d" = 3
  }
}
"#,
    ),
    (
        "deep_nesting",
        r#"app a { service b { job c { domain d { x = [[[[{a = {b = [1, {c = 2}]}}]]]] } } } }
let z = ((((((((((1))))))))))
"#,
    ),
    (
        "only_comments",
        "// just a comment\n\n\n/* and a block */   # and a hash\n",
    ),
    (
        "unicode",
        "// héllo wörld ✓\nlet s = \"ünïcödé ${x} ✓\" /* ✓ */\napp a { key = \"значение ✓\" }\n",
    ),
];

/// Samples with no comment, blank line or multi-line list: written all on
/// one line they format the same.
pub const ONE_LINE_SAMPLES: &[&str] = &[
    "imports_and_params",
    "expressions",
    "compact_spacing",
    "component_and_instances",
    "app_and_environment",
    "schema",
    "keywords_as_names",
];
