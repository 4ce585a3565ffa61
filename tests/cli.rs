//! The `rel` binary end to end: exit codes, output formats and bad input.
//! Every bad input must give a coded error and exit 1 within bounded time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `rel` with a deadline; a run past it is a hang and fails the test.
/// Output is read while the process runs, so a large report cannot block it.
fn rel(args: &[&str], cwd: &Path) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_rel"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rel starts");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(output) => output.expect("output is readable"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("rel {args:?} did not finish within 60 s");
        }
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fresh folder under the target dir for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(bytes))
        .expect("write");
    path
}

/// Checks one bad file: exit 1 (not a panic's 101), the code on stderr.
fn assert_rejected(name: &str, bytes: &[u8], code: &str) {
    let dir = scratch(name);
    write(&dir, "bad.rel", bytes);
    let out = rel(&["check", "bad.rel"], &dir);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{name}: exit code; stderr:\n{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(code),
        "{name}: expected {code} in:\n{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("panicked"),
        "{name}: panic:\n{}",
        stderr(&out)
    );
}

#[test]
fn empty_file_is_rejected() {
    assert_rejected("empty", b"", "E0004");
    assert_rejected("blank", b"  \n\n\t \n", "E0004");
}

#[test]
fn binary_garbage_is_rejected() {
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    assert_rejected("binary", &bytes, "E0002");
}

#[test]
fn invalid_utf8_is_rejected_at_the_bad_byte() {
    let dir = scratch("utf8");
    write(&dir, "bad.rel", b"let a = \"caf\xe9\"\n");
    let out = rel(&["check", "bad.rel", "--format", "json"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json output");
    let d = &json["diagnostics"][0];
    assert_eq!(d["code"], "E0001");
    assert_eq!(d["byte_start"], 12);
    assert_eq!(d["line"], 1);
}

#[test]
fn printable_garbage_gives_syntax_errors_not_a_panic() {
    let text: String = (0..20_000u32)
        .map(|i| (b' ' + ((i.wrapping_mul(2654435761) >> 11) % 95) as u8) as char)
        .collect();
    let dir = scratch("garbage");
    write(&dir, "bad.rel", text.as_bytes());
    let out = rel(&["check", "bad.rel"], &dir);
    assert_eq!(out.status.code(), Some(1), "stderr:\n{}", stderr(&out));
    assert!(stderr(&out).contains("E01"), "{}", stderr(&out));
}

#[test]
fn deep_nesting_is_bounded() {
    for (name, open, close) in [
        ("lists", "[", "]"),
        ("maps", "{ a = ", "}"),
        ("parens", "(", ")"),
        ("negation", "-", ""),
    ] {
        let depth = 10_000;
        let text = format!("let x = {}1{}\n", open.repeat(depth), close.repeat(depth));
        assert_rejected(&format!("deep_{name}"), text.as_bytes(), "E0105");
    }
    let blocks = "cluster c = x {\n".repeat(10_000);
    assert_rejected("deep_blocks", blocks.as_bytes(), "E0105");
}

#[test]
fn huge_file_is_refused_quickly() {
    let dir = scratch("huge");
    let line = "let value_with_a_long_name = \"some text that fills the file up\"\n";
    let text = line.repeat(50 * 1024 * 1024 / line.len() + 1);
    write(&dir, "big.rel", text.as_bytes());
    let start = Instant::now();
    let out = rel(&["check", "big.rel"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("E0003"), "{}", stderr(&out));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "refusing a large file took {:?}",
        start.elapsed()
    );
}

#[test]
fn unterminated_and_bad_escapes_are_coded() {
    assert_rejected(
        "unterminated_string",
        b"let a = \"open\nlet b = 1\n",
        "E0102",
    );
    assert_rejected("unterminated_multiline", b"let a = \"\"\"open\n", "E0102");
    assert_rejected(
        "unterminated_comment",
        b"let a = 1\n/* never closed\n",
        "E0103",
    );
    assert_rejected("unknown_escape", b"let a = \"C:\\data\"\n", "E0104");
    assert_rejected(
        "unclosed_block",
        b"app store {\n  hostname = \"x\"\n",
        "E0108",
    );
}

#[test]
fn three_broken_items_report_three_errors() {
    let dir = scratch("three");
    write(
        &dir,
        "bad.rel",
        b"param a string\nlet ok = 1\nlet = 2\nlet fine = 3\noutput x 4\n",
    );
    let out = rel(&["check", "bad.rel", "--format", "json"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let lines: Vec<i64> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, vec![1, 3, 5], "{json:#}");
}

#[test]
fn json_diagnostics_have_every_field() {
    let dir = scratch("json");
    write(
        &dir,
        "app.rel",
        b"let region = \"us-east-1\"\nlet zone = \"${regoin}-a\"\n",
    );
    let out = rel(&["check", "app.rel", "--format", "json"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["errors"], 1);
    let d = &json["diagnostics"][0];
    assert_eq!(d["code"], "E0201");
    assert_eq!(d["name"], "unresolved-name");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], "app.rel");
    assert_eq!(
        (d["line"].as_i64(), d["column"].as_i64()),
        (Some(2), Some(15))
    );
    assert_eq!(
        (d["byte_start"].as_i64(), d["byte_end"].as_i64()),
        (Some(39), Some(45))
    );
    assert_eq!(d["help"], "Did you mean `region`?");
    assert!(d["message"].as_str().unwrap().contains("regoin"));
}

#[test]
fn github_annotations_point_at_the_source() {
    let dir = scratch("github");
    write(&dir, "app.rel", b"let a = lenght([1])\n");
    let out = rel(&["check", ".", "--format", "github"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.starts_with("::error file=./app.rel,line=1,col=9,endLine=1,endColumn=15,title=E0306 unknown-function::unknown function `lenght`"),
        "{text}"
    );
    assert!(text.contains("%0Ahelp: Did you mean `length`?"), "{text}");
}

#[test]
fn human_output_has_snippet_code_and_help() {
    let dir = scratch("human");
    write(&dir, "app.rel", b"service shoes {\n  image = \"x\"\n}\n");
    let out = rel(&["check", "app.rel"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    for needle in [
        "E0312 misplaced-item",
        "app.rel:1:9",
        "service shoes {",
        "help:",
        "checked 1 file: 1 error",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn clean_project_exits_zero() {
    let dir = scratch("clean");
    write(
        &dir,
        "main.rel",
        b"import \"./net.rel\" as net\n\nlet subnet = cidrsubnet(net.cidr, 8, 1)\n",
    );
    write(&dir, "net.rel", b"let cidr = \"10.0.0.0/16\"\n");
    let out = rel(&["check", "."], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("checked 2 files: no problems"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_paths_and_empty_folders_are_errors() {
    let dir = scratch("missing");
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let out = rel(&["check", "nope.rel", "empty"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("E0005"), "{}", stderr(&out));
    assert!(stderr(&out).contains("E0006"), "{}", stderr(&out));
}

#[test]
fn help_completions_and_explain() {
    let dir = scratch("help");
    let out = rel(&["--help"], &dir);
    assert_eq!(out.status.code(), Some(0));
    for cmd in ["check", "fmt", "explain", "completions"] {
        assert!(stdout(&out).contains(cmd), "--help lists {cmd}");
    }
    let out = rel(&["help", "check"], &dir);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("--format"));
    let out = rel(&["completions", "bash"], &dir);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("complete -F") && stdout(&out).contains("check"));
    let out = rel(&["explain", "E0201"], &dir);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("unresolved-name"));
    let out = rel(&["explain", "E9999"], &dir);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn fmt_check_lists_files_and_fmt_rewrites_them() {
    let dir = scratch("fmt");
    let messy = b"// the shop\nlet   region=\"us-east-1\"  # trailing\napp store {hostname=\"x\"\n\n\n  env={A=\"1\",B=\"2\"}}\n";
    write(&dir, "messy.rel", messy);
    write(&dir, "clean.rel", b"let a = 1\n");
    let out = rel(&["fmt", "--check", "."], &dir);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), "would reformat: ./messy.rel\n");
    assert_eq!(
        std::fs::read(dir.join("messy.rel")).unwrap(),
        messy,
        "--check changes nothing"
    );

    let out = rel(&["fmt", "."], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let formatted = std::fs::read_to_string(dir.join("messy.rel")).unwrap();
    assert_eq!(
        formatted,
        "// the shop\nlet region = \"us-east-1\" # trailing\napp store {\n  hostname = \"x\"\n\n  env = { A = \"1\", B = \"2\" }\n}\n"
    );
    let out = rel(&["fmt", "--check", "."], &dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "formatting is idempotent: {}",
        stdout(&out)
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        2,
        "no temporary files left behind"
    );
}

#[test]
fn fmt_leaves_files_with_syntax_errors_alone() {
    let dir = scratch("fmt_broken");
    write(&dir, "broken.rel", b"let a = [1,\n");
    let out = rel(&["fmt", "broken.rel"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("E0108"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(dir.join("broken.rel")).unwrap(),
        b"let a = [1,\n"
    );
}

#[test]
fn many_diagnostics_and_long_lines_render() {
    // Rendering each diagnostic costs its snippet, not the file: thousands of
    // diagnostics, or labels far along one very long line, finish promptly
    // (the harness fails a run past its deadline) and never panic.
    let dir = scratch("many");
    write(&dir, "dups.rel", "let a = 1\n".repeat(5_000).as_bytes());
    let out = rel(&["check", "dups.rel"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("checked 1 file: 4999 errors"),
        "{}",
        &stderr(&out)[stderr(&out).len().saturating_sub(300)..]
    );

    let line = format!("let x = {{{}}}\n", "a = 1,".repeat(20_000));
    write(&dir, "long.rel", line.as_bytes());
    let out = rel(&["check", "long.rel"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(
        !text.contains("panicked"),
        "{}",
        &text[..text.len().min(2000)]
    );
    assert!(
        text.contains("checked 1 file: 19999 errors"),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    // A label far from the primary one on a long line becomes a located note.
    assert!(text.contains("note: long.rel:1:10: first set here"));
}

#[test]
fn build_writes_the_artifacts_and_graph_prints_the_graph() {
    let dir = scratch("build");
    let shop = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/shop");
    let shop = shop.to_str().unwrap();
    let out = rel(
        &[
            "build",
            shop,
            "--env",
            "production",
            "--set",
            "git.sha=abc",
            "--out",
            "out",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "cloudformation/rel-acme-shared.json\ncloudformation/rel-acme-store-production.json\nkubernetes/production.yaml\nindex.json\n"
    );
    assert!(
        stderr(&out).contains("built environment `production`"),
        "{}",
        stderr(&out)
    );
    for file in [
        "cloudformation/rel-acme-shared.json",
        "kubernetes/production.yaml",
        "index.json",
    ] {
        assert!(dir.join("out").join(file).is_file(), "{file} written");
    }
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/index.json")).unwrap())
            .unwrap();
    assert_eq!(index["environment"]["name"], "production");

    let out = rel(&["build", shop, "--env", "staging", "--out", "out"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("E0404"), "{}", stderr(&out));

    let out = rel(
        &["graph", shop, "--env", "production", "--format", "dot"],
        &dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("digraph \"production\" {"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("\"env:production/app.store/service.shoes/k8s.deployment\" -> \"env:production/app.store/database.db/resource.instance\""));
}

#[test]
fn artifacts_that_cannot_be_written_are_a_coded_error() {
    let dir = scratch("unwritable");
    // A file where the output folder should be: nothing can go under it.
    write(&dir, "out", b"not a folder");
    let shop = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/shop");
    let o = rel(
        &[
            "build",
            shop.to_str().unwrap(),
            "--env",
            "production",
            "--out",
            "out",
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("E0514"), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot write"), "{}", stderr(&o));
    assert_eq!(std::fs::read(dir.join("out")).unwrap(), b"not a folder");
}
