//! Shared helpers for the integration tests: span invariants, rendering,
//! the examples' builds and the pinned validators.

#![allow(dead_code)]

pub mod project;

use std::path::{Path, PathBuf};

use rel::compile::Options;
use rel::diagnostic::Diagnostic;
use rel::diagnostic::render::{HumanOptions, render_human};
use rel::emit::{BuildOptions, Target, TemplateFormat};
use rel::source::{SourceMap, Span};
use rel::syntax::ast::*;

/// Every `.rel` file under `dir` (recursively), sorted; none if it does not exist.
pub fn rel_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rel_files(&path));
        } else if path.extension().is_some_and(|e| e == "rel") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The `.rel` files of `examples/<example>`, in name order.
pub fn example_entries(example: &str) -> Vec<rel::resolve::Entry> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(example);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rel"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| rel::resolve::Entry {
            display: path.file_name().unwrap().to_string_lossy().into(),
            path,
            root: dir.clone(),
        })
        .collect()
}

/// Compile options for one environment with `--set` values.
pub fn options(env: &str, sets: &[(&str, &str)]) -> Options {
    Options {
        env: env.into(),
        sets: sets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Options::default()
    }
}

/// Builds one environment of an example; panics with the diagnostics if it fails.
pub fn build_example(
    example: &str,
    env: &str,
    sets: &[(&str, &str)],
    target: Target,
    template_format: TemplateFormat,
) -> rel::emit::Build {
    let model = rel::compile_entries(
        &mut SourceMap::new(),
        &example_entries(example),
        &options(env, sets),
    )
    .unwrap_or_else(|d| panic!("{example}/{env} does not compile: {d:#?}"));
    rel::emit::build(
        &model,
        &BuildOptions {
            target,
            template_format,
        },
    )
    .unwrap_or_else(|d| panic!("{example}/{env} does not build for {target:?}: {d:#?}"))
}

/// Builds one environment of an example the way `rel build` does, with
/// Kubernetes objects written on a second thread while compiling.
pub fn build_example_pipelined(
    example: &str,
    env: &str,
    sets: &[(&str, &str)],
    target: Target,
    template_format: TemplateFormat,
) -> rel::emit::Build {
    rel::build_entries(
        &mut SourceMap::new(),
        &example_entries(example),
        &options(env, sets),
        &BuildOptions {
            target,
            template_format,
        },
    )
    .map(|(_, build)| build)
    .unwrap_or_else(|d| panic!("{example}/{env} does not build for {target:?}: {d:#?}"))
}

/// Asserts that two builds produced the same files and reports.
pub fn assert_same_build(first: &rel::emit::Build, second: &rel::emit::Build, what: &str) {
    assert_eq!(
        first.artifacts, second.artifacts,
        "{what}: the builds differ"
    );
    assert_eq!(
        first.placeholders, second.placeholders,
        "{what}: the values known after apply differ"
    );
    assert_eq!(
        first.manual_validation, second.manual_validation,
        "{what}: the manual validations differ"
    );
}

/// The Kubernetes version manifests are validated against.
pub const KUBERNETES_VERSION: &str = "1.31";

/// Runs `kubernetes-validate --strict` on manifest files and asserts that
/// every document passes against a schema (unknown kinds only warn, so a
/// warning fails too) and that at least `min_documents` were validated.
pub fn assert_kubernetes_valid(manifests: &[PathBuf], min_documents: usize) {
    assert!(!manifests.is_empty(), "no manifests to validate");
    let output = std::process::Command::new(venv_tool("kubernetes-validate"))
        .args(["--strict", "-k", KUBERNETES_VERSION])
        .args(manifests)
        .output()
        .expect("kubernetes-validate runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "kubernetes-validate failed:\n{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!report.contains("WARN"), "{report}");
    let passed = report
        .lines()
        .filter(|l| l.starts_with("INFO") && l.contains("passed"))
        .count();
    assert!(
        passed >= min_documents,
        "too few documents validated ({passed} < {min_documents}):\n{report}"
    );
}

/// A pinned tool from the project's virtualenv (scripts/test installs them).
pub fn venv_tool(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(name);
    assert!(
        path.exists(),
        "`{name}` is not installed; scripts/test installs the pinned tools into .venv"
    );
    path
}

/// Renders diagnostics without colour, at a fixed width, for snapshots.
pub fn render(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    render_human(
        sources,
        diags,
        HumanOptions {
            color: false,
            unicode: true,
            width: 100,
        },
    )
}

/// Checks that every node's span lies inside the file and inside its parent's span.
pub fn check_spans(tree: &SourceTree, len: usize) -> Result<(), String> {
    let mut walker = SpanWalker {
        errors: Vec::new(),
        len: len as u32,
    };
    walker.within(
        tree.span,
        Span {
            file: tree.span.file,
            start: 0,
            end: len as u32,
        },
        "file",
    );
    for item in &tree.items {
        walker.item(item, tree.span);
    }
    for c in &tree.comments {
        walker.within(*c, tree.span, "comment");
    }
    if walker.errors.is_empty() {
        Ok(())
    } else {
        Err(walker.errors.join("\n"))
    }
}

struct SpanWalker {
    errors: Vec<String>,
    len: u32,
}

impl SpanWalker {
    fn within(&mut self, span: Span, parent: Span, what: &str) {
        if span.start > span.end || span.end > self.len {
            self.errors.push(format!(
                "{what} span {}..{} outside the file (len {})",
                span.start, span.end, self.len
            ));
        } else if span.start < parent.start || span.end > parent.end {
            self.errors.push(format!(
                "{what} span {}..{} not inside parent {}..{}",
                span.start, span.end, parent.start, parent.end
            ));
        }
    }

    fn item(&mut self, item: &Item, parent: Span) {
        self.within(item.span, parent, "item");
        let p = item.span;
        match &item.kind {
            ItemKind::Import { path, alias } => {
                self.str_lit(path, p);
                self.within(alias.span, p, "alias");
            }
            ItemKind::Param(f) => self.field(f, p),
            ItemKind::Project { name } => self.str_lit(name, p),
            ItemKind::Let { name, value } | ItemKind::Output { name, value } => {
                self.within(name.span, p, "name");
                self.expr(value, p);
            }
            ItemKind::Schema {
                name,
                fields,
                body_span,
            } => {
                self.within(name.span, p, "name");
                self.within(*body_span, p, "schema body");
                for f in fields {
                    self.field(f, *body_span);
                }
            }
            ItemKind::Component { name, kind, body } => {
                self.within(name.span, p, "name");
                if let Some(k) = kind {
                    self.within(k.span, p, "kind");
                }
                self.body(body, p);
            }
            ItemKind::Resource {
                name,
                type_name,
                body,
            } => {
                self.within(name.span, p, "name");
                self.str_lit(type_name, p);
                self.body(body, p);
            }
            ItemKind::Block { name, body, .. } => {
                self.within(name.span, p, "name");
                self.body(body, p);
            }
            ItemKind::Environment { name, base, body } => {
                self.str_lit(name, p);
                self.within(base.span, p, "base");
                self.body(body, p);
            }
            ItemKind::Instance {
                kind,
                name,
                component,
                body,
            } => {
                self.within(kind.span, p, "kind");
                self.within(name.span, p, "name");
                self.within(component.span, p, "component");
                self.body(body, p);
            }
        }
    }

    fn field(&mut self, f: &FieldDecl, parent: Span) {
        self.within(f.span, parent, "field");
        self.within(f.name.span, f.span, "field name");
        self.within(f.ty.span, f.span, "type");
        for c in &f.constraints {
            self.within(c.span, f.span, "constraint");
            for a in &c.args {
                self.expr(a, c.span);
            }
        }
        if let Some(d) = &f.default {
            self.expr(d, f.span);
        }
    }

    fn body(&mut self, body: &Body, parent: Span) {
        self.within(body.span, parent, "body");
        for entry in &body.entries {
            match entry {
                Entry::Attr(a) => {
                    self.within(a.span, body.span, "attribute");
                    self.within(a.path.span, a.span, "attribute path");
                    self.expr(&a.value, a.span);
                }
                Entry::Item(i) => self.item(i, body.span),
            }
        }
    }

    fn str_lit(&mut self, s: &StrLit, parent: Span) {
        self.within(s.span, parent, "string");
        for part in &s.parts {
            if let StrPart::Interp(e) = part {
                self.expr(e, s.span);
            }
        }
    }

    fn expr(&mut self, e: &Expr, parent: Span) {
        self.within(e.span, parent, "expression");
        let p = e.span;
        match &e.kind {
            ExprKind::Str(s) => self.str_lit(s, parent),
            ExprKind::List(items) => items.iter().for_each(|i| self.expr(i, p)),
            ExprKind::Map(entries) => {
                for m in entries {
                    self.within(m.span, p, "map entry");
                    self.within(m.key.span(), m.span, "map key");
                    self.expr(&m.value, m.span);
                }
            }
            ExprKind::Member(base, m) => {
                self.expr(base, p);
                self.within(m.span, p, "member");
            }
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
                self.expr(a, p);
                self.expr(b, p);
            }
            ExprKind::Call(f, args) => {
                self.within(f.span, p, "function");
                args.iter().for_each(|a| self.expr(a, p));
            }
            ExprKind::Unary(_, a) | ExprKind::Paren(a) => self.expr(a, p),
            ExprKind::If(a, b, c) => {
                self.expr(a, p);
                self.expr(b, p);
                self.expr(c, p);
            }
            ExprKind::ListFor(c) => self.comprehension(c, p),
            ExprKind::MapFor(c, v) => {
                self.comprehension(c, p);
                self.expr(v, p);
            }
            ExprKind::Null
            | ExprKind::Bool(_)
            | ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Name(_) => {}
        }
    }

    fn comprehension(&mut self, c: &Comprehension, p: Span) {
        if let Some(k) = &c.key_var {
            self.within(k.span, p, "loop variable");
        }
        self.within(c.var.span, p, "loop variable");
        self.expr(&c.iterable, p);
        self.expr(&c.body, p);
        if let Some(cond) = &c.cond {
            self.expr(cond, p);
        }
    }
}

/// An expectation written under a line: `# ^^^ E0201` marks columns of the line above.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
pub struct Expectation {
    pub line: usize,
    pub column: usize,
    pub code: String,
}

/// Reads `# ^^^ CODE` lines. The carets sit under the primary span's start on
/// the closest line above that is not itself an expectation.
pub fn expectations(text: &str) -> Vec<Expectation> {
    let lines: Vec<&str> = text.lines().collect();
    let is_expectation = |l: &str| {
        let t = l.trim_start();
        t.starts_with('#') && t[1..].trim_start().starts_with('^')
    };
    let mut out = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        if !is_expectation(line) {
            continue;
        }
        let Some(caret) = line.find('^') else {
            continue;
        };
        let code = line[caret..]
            .trim_start_matches('^')
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string();
        let target = (0..n).rev().find(|&m| !is_expectation(lines[m]));
        if let Some(target) = target {
            let column = line[..caret].chars().count() + 1;
            out.push(Expectation {
                line: target + 1,
                column,
                code,
            });
        }
    }
    out
}

/// A moto server on a free loopback port, stopped when dropped: moto's
/// own server, with stack outputs computed when a change set executes
/// (see `tests/support/moto_server.py`).
pub struct Moto {
    _server: Server,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let (server, port) = start_script("moto_server.py", |port| {
            vec!["-H".into(), "127.0.0.1".into(), "-p".into(), port]
        });
        Moto {
            _server: server,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

/// Runs Python with `c`, a boto3 client for `service` on the moto server at
/// `endpoint` (`sys.argv[1]`); `args` follow as `sys.argv[2..]`, and `json`,
/// `sys` and `time` are imported. For setting up and inspecting what tests
/// check through a second, independent AWS client.
pub fn boto_output(
    endpoint: &str,
    service: &str,
    code: &str,
    args: &[&str],
) -> std::process::Output {
    let script = format!(
        "import boto3,json,sys,time\nc=boto3.client('{service}',endpoint_url=sys.argv[1],region_name='us-east-1',aws_access_key_id='t',aws_secret_access_key='t')\n{code}"
    );
    std::process::Command::new(venv_tool("python"))
        .args(["-c", &script, endpoint])
        .args(args)
        .output()
        .expect("python runs")
}

/// As `boto_output`, failing the test unless the code succeeds; returns
/// what it printed.
pub fn boto(endpoint: &str, service: &str, code: &str, args: &[&str]) -> String {
    let out = boto_output(endpoint, service, code, args);
    assert!(
        out.status.success(),
        "boto3 ({service}) failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The Kubernetes API stand-in (`tests/support/kube_standin.py`) on a free
/// loopback port: the real `kube` client speaks to it over HTTP.
pub struct KubeStandin {
    _server: Server,
    pub port: u16,
}

/// A server process of the tests, stopped when dropped.
pub struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `tests/support/SCRIPT` with the test virtualenv's Python on a
/// free loopback port (`args` says how the script is told the port) and
/// waits until it listens.
fn start_script(script: &str, args: impl FnOnce(String) -> Vec<String>) -> (Server, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(script);
    let child = std::process::Command::new(venv_tool("python"))
        .arg(&path)
        .args(args(port.to_string()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{script} starts: {e}"));
    let server = Server(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{script} did not listen within 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (server, port)
}

/// How the stand-ins are told their port.
fn port_flag(port: String) -> Vec<String> {
    vec!["--port".into(), port]
}

/// One HTTP/1.1 request to a loopback server; the status code and the
/// JSON body.
pub fn http_json(
    port: u16,
    method: &str,
    path: &str,
    content_type: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let payload = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let code = response
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (
        code,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

impl KubeStandin {
    pub fn start() -> KubeStandin {
        let (server, port) = start_script("kube_standin.py", port_flag);
        KubeStandin {
            _server: server,
            port,
        }
    }

    /// Writes a kubeconfig for the stand-in (context `standin`, and a
    /// second context `elsewhere` pointing at a closed port) into `dir`.
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: standin\nclusters:\n- name: standin\n  cluster:\n    server: http://127.0.0.1:{}\n- name: elsewhere\n  cluster:\n    server: http://127.0.0.1:9\ncontexts:\n- name: standin\n  context:\n    cluster: standin\n    user: tester\n- name: elsewhere\n  context:\n    cluster: elsewhere\n    user: tester\nusers:\n- name: tester\n  user:\n    token: standin-token\n",
                self.port
            ),
        )
        .unwrap();
        path
    }

    /// One HTTP request; the status code and the JSON body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        http_json(self.port, method, path, content_type, body)
    }

    /// Every object the stand-in holds.
    pub fn objects(&self) -> Vec<serde_json::Value> {
        let (_, body) = self.request(
            "GET",
            "/_standin/objects",
            "application/json",
            &serde_json::Value::Null,
        );
        body["items"].as_array().cloned().unwrap_or_default()
    }

    /// The object of `kind` named `name` in `namespace`, if any.
    pub fn object(&self, kind: &str, namespace: &str, name: &str) -> Option<serde_json::Value> {
        self.objects().into_iter().find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"] == name
                && (kind == "Namespace" || o["metadata"]["namespace"] == namespace)
        })
    }
}

/// The Google APIs stand-in (`tests/support/gcp_standin.py`): Infrastructure
/// Manager, Cloud Storage, Resource Manager and an OAuth token endpoint.
pub struct GcpStandin {
    _server: Server,
    pub port: u16,
}

impl GcpStandin {
    pub fn start() -> GcpStandin {
        let (server, port) = start_script("gcp_standin.py", port_flag);
        GcpStandin {
            _server: server,
            port,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Application Default Credentials for the stand-in: an
    /// `authorized_user` file whose token endpoint is the stand-in's.
    pub fn credentials(&self, dir: &Path) -> PathBuf {
        let path = dir.join("adc.json");
        std::fs::write(
            &path,
            serde_json::json!({
                "type": "authorized_user",
                "client_id": "rel-tests",
                "client_secret": "rel-tests-secret",
                "refresh_token": "rel-tests-refresh",
                "token_uri": format!("{}/token", self.endpoint()),
            })
            .to_string(),
        )
        .unwrap();
        path
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        http_json(self.port, method, path, "application/json", body)
    }

    /// Deployments, revisions and stored objects.
    pub fn dump(&self) -> serde_json::Value {
        self.request("GET", "/_standin/deployments", &serde_json::Value::Null)
            .1
    }
}

/// Fails unless `document` follows the JSON Schema `docs/schema/SCHEMA`
/// (Draft 2020-12, checked by the pinned `jsonschema`).
/// Parses an HTML document with html5lib's strict parser (the pinned
/// Python package), failing the test on any parse error.
pub fn assert_html_valid(html: &str) {
    use std::io::Write as _;
    let mut child = std::process::Command::new(venv_tool("python"))
        .args([
            "-c",
            "import sys,html5lib\nhtml5lib.HTMLParser(strict=True).parse(sys.stdin.buffer.read().decode('utf-8'))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python from .venv runs (scripts/test installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(html.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "html5lib (strict) refused the document:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Markdown with its fenced code blocks left out: what a renderer reads
/// as markup.
pub fn outside_code_blocks(markdown: &str) -> String {
    let mut fence: Option<String> = None;
    let mut out = String::new();
    for line in markdown.lines() {
        let ticks: String = line.chars().take_while(|c| *c == '`').collect();
        match &fence {
            Some(open) if ticks.len() >= open.len() && line.trim_start_matches('`').is_empty() => {
                fence = None;
            }
            Some(_) => {}
            None if ticks.len() >= 3 => fence = Some(ticks),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

pub fn assert_schema_valid(document: &str, schema: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("schema");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!(
        "doc-{}-{}.json",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&file, document).unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/schema")
        .join(schema);
    let out = std::process::Command::new(venv_tool("python"))
        .args([
            "-c",
            "import json,sys,jsonschema\ns=json.load(open(sys.argv[2]))\njsonschema.Draft202012Validator.check_schema(s)\njsonschema.Draft202012Validator(s).validate(json.load(open(sys.argv[1])))",
        ])
        .arg(&file)
        .arg(&schema)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{} does not follow {}:\n{}",
        file.display(),
        schema.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Text with its line breaks and box-drawing margins folded into single
/// spaces, so assertions do not depend on where a message wraps.
pub fn flat(text: &str) -> String {
    text.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A finished `rel` process: exit code, standard output, and standard
/// error folded by `flat`.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn of(o: std::process::Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: flat(&String::from_utf8_lossy(&o.stderr)),
        }
    }

    /// Standard output and error together.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit {} (expected {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}
