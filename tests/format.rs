//! Tests of the source formatter: it is idempotent, keeps the meaning of the
//! file and every comment, and prints a handful of messy inputs as expected.

#[path = "support/mod.rs"]
mod common;
#[path = "format/samples.rs"]
mod samples;
#[path = "format/support.rs"]
mod support;
use common::rel_files;

use std::path::Path;

use rel::format::format_source;
use rel::source::FileId;
use rel::syntax::dump::dump;
use rel::syntax::parse;

use samples::{ONE_LINE_SAMPLES, SAMPLES};
use support::*;

// ---------- properties ----------

#[test]
fn samples_are_idempotent_and_keep_meaning_and_comments() {
    for (name, text) in SAMPLES {
        check_properties(name, text);
    }
}

#[test]
fn repository_files_are_idempotent_and_keep_meaning_and_comments() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in corpus_ok_dirs(&root.join("tests/corpus")) {
        files.extend(rel_files(&dir));
    }
    files.extend(rel_files(&root.join("examples")));
    files.extend(rel_files(&root.join("stdlib")));
    let mut checked = 0;
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        if !parses_cleanly(&text) {
            continue;
        }
        check_properties(&file.display().to_string(), &text);
        checked += 1;
    }
    // The stdlib is always there; the corpus and examples may still be empty.
    assert!(checked >= 1, "no .rel files found under {}", root.display());
}

#[test]
fn whitespace_variants_format_like_the_clean_sample() {
    for (name, text) in SAMPLES {
        if layout_is_verbatim_sensitive(name, text) {
            continue;
        }
        let expected = format(text);
        for (variant, changed) in whitespace_variants(text) {
            let formatted = check_properties(&format!("{name} ({variant})"), &changed);
            assert_eq!(
                formatted, expected,
                "{name} ({variant}) formats differently"
            );
        }
    }
}

#[test]
fn samples_written_on_one_line_format_the_same() {
    for (name, text) in SAMPLES
        .iter()
        .filter(|(name, _)| ONE_LINE_SAMPLES.contains(name))
    {
        let one_line = text.lines().map(str::trim).collect::<Vec<_>>().join(" ");
        let formatted = check_properties(&format!("{name} (one line)"), &one_line);
        assert_eq!(
            formatted,
            format(text),
            "{name} on one line formats differently"
        );
    }
}

#[test]
fn a_comment_anywhere_survives_in_order() {
    let mut checked = 0;
    for (name, text) in SAMPLES {
        for comment in [
            "/* inserted */",
            "// inserted\n",
            "#x\n",
            "\n/* two\nlines */\n",
        ] {
            for (index, changed) in comment_insertions(text, comment).iter().enumerate() {
                check_properties(
                    &format!("{name} with {comment:?} inserted (#{index})"),
                    changed,
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked > SAMPLES.len() * 50,
        "too few insertions kept: {checked}"
    );
}

#[test]
fn several_comments_anywhere_survive_in_order() {
    const COMMENTS: &[&str] = &["/*1*/", "//2\n", "#3\n", "\n//4\n\n", "/*5\n*/"];
    let mut random = Lcg(11);
    let mut checked = 0;
    for (name, text) in SAMPLES {
        let (tree, _) = parse(FileId(0), text);
        let meaning = dump(&tree);
        let boundaries: Vec<usize> = (0..=text.len())
            .filter(|&at| text.is_char_boundary(at))
            .collect();
        for round in 0..60 {
            // Three comments at random places, inserted back to front so the
            // earlier positions stay valid.
            let mut places: Vec<usize> = (0..3)
                .map(|_| boundaries[random.next(boundaries.len())])
                .collect();
            places.sort_unstable_by(|a, b| b.cmp(a));
            let mut changed = text.to_string();
            for at in places {
                changed.insert_str(at, COMMENTS[random.next(COMMENTS.len())]);
            }
            let (tree, diagnostics) = parse(FileId(0), &changed);
            if diagnostics.is_empty() && dump(&tree) == meaning {
                check_properties(&format!("{name} with comments (round {round})"), &changed);
                checked += 1;
            }
        }
    }
    assert!(
        checked > SAMPLES.len() * 10,
        "too few variants kept: {checked}"
    );
}

#[test]
fn shuffled_white_space_keeps_the_properties() {
    const SPACES: &[&str] = &["", " ", "  ", "\t", "\n", "\n\n", "\r\n", " \n \n "];
    let is_word = |c: Option<char>| {
        c.is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '"' | '/' | '*' | '#'))
    };
    let mut random = Lcg(7);
    let mut checked = 0;
    for (name, text) in SAMPLES {
        let (tree, _) = parse(FileId(0), text);
        let meaning = dump(&tree);
        for round in 0..40 {
            // Replace each run of white space with a random one (none at all
            // only between punctuation); keep the variants that still mean
            // the same (runs inside strings or comments change the meaning).
            let mut changed = String::new();
            let mut chars = text.chars().peekable();
            while let Some(c) = chars.next() {
                if c.is_whitespace() {
                    while chars.next_if(|c| c.is_whitespace()).is_some() {}
                    let glued = is_word(changed.chars().last()) && is_word(chars.peek().copied());
                    let choices = if glued { &SPACES[1..] } else { SPACES };
                    changed.push_str(choices[random.next(choices.len())]);
                } else {
                    changed.push(c);
                }
            }
            let (tree, diagnostics) = parse(FileId(0), &changed);
            if diagnostics.is_empty() && dump(&tree) == meaning {
                check_properties(&format!("{name} (white space round {round})"), &changed);
                checked += 1;
            }
        }
    }
    assert!(
        checked > SAMPLES.len() * 10,
        "too few variants kept: {checked}"
    );
}

// ---------- expected outputs ----------

#[test]
fn messy_app() {
    let input = r#"


import "std/aws"   as aws
app   store{


    service api{image="ghcr.io/acme/api:1.2",port=8080
        replicas=3, env.LOG_LEVEL="debug"   ,


        command=["serve","--port",   "8080",]
    healthcheck = {path="/healthz",interval=10}
    }

    job   migrate { image = "m" , }


}
"#;
    let expected = r#"import "std/aws" as aws
app store {
  service api {
    image         = "ghcr.io/acme/api:1.2"
    port          = 8080
    replicas      = 3
    env.LOG_LEVEL = "debug"

    command     = ["serve", "--port", "8080"]
    healthcheck = { path = "/healthz", interval = 10 }
  }

  job migrate {
    image = "m"
  }
}
"#;
    assert_eq!(format(input), expected);
}

#[test]
fn messy_comments() {
    let input = r#"// leading
app a {   // after open brace
  x = 1   // trailing x
  yy = [1, /* inside */ 2]
      # own line, odd indentation
  z = {
    k = 1 // after k

    // before close of map
  }
  w = a + // mid expression
  b
  /* before close */ }
let tail = 1 /* a */ // b
// end"#;
    let expected = r#"// leading
app a { // after open brace
  x = 1 // trailing x
  yy = [
    1, /* inside */
    2,
  ]
  # own line, odd indentation
  z = {
    k = 1 // after k

    // before close of map
  }
  w = a + // mid expression
    b
  /* before close */
}
let tail = 1 /* a */ // b
// end
"#;
    assert_eq!(format(input), expected);
}

#[test]
fn messy_expressions_and_types() {
    let input = r#"param size?:"small"|"large"@oneof("small","large")="small"
param ports : list( int )@length(1,3)@nonempty()=[80,443]
let x=if a&&!b||c>=-1 then(a+b)*c else{for k,v in m:k=>v if v!=null}
let y=[for i,x in xs:x.name[i]if i%2==0]
let n=1_000+1e3+0.50
"#;
    let expected = r#"param size?: "small" | "large" @oneof("small", "large") = "small"
param ports: list(int) @length(1, 3) @nonempty = [80, 443]
let x = if a && !b || c >= -1 then (a + b) * c else {for k, v in m: k => v if v != null}
let y = [for i, x in xs: x.name[i] if i % 2 == 0]
let n = 1_000 + 1e3 + 0.50
"#;
    assert_eq!(format(input), expected);
}

#[test]
fn crlf_input_gives_lf_output() {
    let input = "app a {\r\n  // note\r\n  b = [\r\n    1,\r\n  ]\r\n  c = \"x\" /* block\r\n  comment */\r\n}\r\n";
    let expected =
        "app a {\n  // note\n  b = [\n    1,\n  ]\n  c = \"x\" /* block\n  comment */\n}\n";
    assert_eq!(format(input), expected);
}

#[test]
fn inline_lists_wrap_past_one_hundred_columns() {
    // `let x = ["` + n letters + `"]` is n + 12 columns wide.
    let line = |n: usize| format!("let x = [\"{}\"]\n", "a".repeat(n));
    assert_eq!(format(&line(88)), line(88));
    assert_eq!(
        format(&line(89)),
        format!("let x = [\n  \"{}\",\n]\n", "a".repeat(89))
    );
    // Indentation counts: `  xyz = ["` is as wide as `let x = ["`.
    let nested = |n: usize| format!("app a {{\n  xyz = [\"{}\"]\n}}\n", "a".repeat(n));
    assert_eq!(format(&nested(88)), nested(88));
    assert_eq!(
        format(&nested(89)),
        format!(
            "app a {{\n  xyz = [\n    \"{}\",\n  ]\n}}\n",
            "a".repeat(89)
        )
    );
    // A list written over several lines stays so, even when short.
    assert_eq!(format("let x = [1,\n2]"), "let x = [\n  1,\n  2,\n]\n");
    assert_eq!(
        format("let m = {a = 1,\nb = 2}"),
        "let m = {\n  a = 1\n  b = 2\n}\n"
    );
}

#[test]
fn literals_are_copied_byte_for_byte() {
    let input = "let s = \"tab\\t ${ a  +  \"in${b}ner\" } \\u{48}\"\nlet t = \"\"\"\n      keep   this   \n   ${x}\n  \"\"\"\nlet n = [1_000, 1e3, 1.50E-2, 007]\n";
    let expected = "let s = \"tab\\t ${ a  +  \"in${b}ner\" } \\u{48}\"\nlet t = \"\"\"\n      keep   this   \n   ${x}\n  \"\"\"\nlet n = [1_000, 1e3, 1.50E-2, 007]\n";
    assert_eq!(format(input), expected);
}

#[test]
fn nothing_to_print() {
    let (tree, _) = parse(FileId(0), "");
    assert_eq!(format_source(&tree, ""), "");
    let (tree, _) = parse(FileId(0), " \n\t\n");
    assert_eq!(format_source(&tree, " \n\t\n"), "");
    assert_eq!(
        format("// only\n\n\n# comments   "),
        "// only\n\n# comments\n"
    );
}

// ---------- robustness ----------

#[test]
fn deep_and_long_inputs() {
    // Nesting close to the parser's limit, and long flat runs.
    let depth = 60;
    let nested = format!("let x = {}1{}\n", "[".repeat(depth), "]".repeat(depth));
    check_properties("nested lists", &nested);
    let parens = format!("let x = {}1{}\n", "(".repeat(depth), ")".repeat(depth));
    check_properties("nested parentheses", &parens);
    let chain = format!("let x = {}\n", vec!["a"; 60].join(" + "));
    check_properties("operator chain", &chain);
    let mut body = String::from("app a {\n");
    for i in 0..3000 {
        body.push_str(&format!("  attribute_{i} = [{i}, \"{i}\"] // note {i}\n"));
    }
    body.push_str("}\n");
    check_properties("long body", &body);
    let list = format!(
        "let x = [{}]\n",
        (0..5000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    check_properties("long list", &list);
}

#[test]
fn broken_inputs_do_not_panic() {
    // The formatter is only meant for clean trees, but must not panic on the
    // partial tree of a broken file either.
    for (_, text) in SAMPLES {
        for cut in (0..text.len())
            .filter(|&at| text.is_char_boundary(at))
            .step_by(5)
        {
            let broken = &text[..cut];
            let (tree, _) = parse(FileId(0), broken);
            format_source(&tree, broken);
        }
    }
}
