//! Front-end throughput: parse, check, and the whole front end (load, parse,
//! resolve, check) of generated templates, in two styles of service.
//!
//! `cargo bench --bench frontend [-- SERVICES]` prints the median and best of
//! repeated runs. Not a test: nothing here asserts timing.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/generate.rs"]
#[allow(dead_code)]
mod generate;

use std::time::{Duration, Instant};

use generate::Style;

fn main() {
    let services: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5000);
    for style in [Style::Typical, Style::Computed] {
        measure(services, style);
    }
}

fn measure(services: usize, style: Style) {
    let text = generate::template(services, style);
    let bytes = text.len();

    // The template must be clean, or the benchmark would measure error paths.
    let mut sources = rel::source::SourceMap::new();
    let diags = rel::check_text(&mut sources, "bench.rel", &text);
    assert!(
        diags.is_empty(),
        "generated template has {} diagnostics",
        diags.len()
    );

    let mut parse_only = Vec::new();
    let mut check_only = Vec::new();
    let mut full = Vec::new();
    let mut loaded = rel::source::SourceMap::new();
    let (program, _) = rel::resolve::load_text(&mut loaded, "bench.rel", &text);
    let deadline = Instant::now() + Duration::from_secs(10);
    while full.len() < 30 && Instant::now() < deadline || full.len() < 5 {
        let start = Instant::now();
        let (tree, _) = rel::syntax::parse(rel::source::FileId(0), &text);
        parse_only.push(start.elapsed());
        drop(tree);

        let start = Instant::now();
        let checked = rel::check::check(&program, &loaded);
        check_only.push(start.elapsed());
        assert!(checked.diagnostics.is_empty());
        drop(checked);

        let start = Instant::now();
        let mut sources = rel::source::SourceMap::new();
        let diags = rel::check_text(&mut sources, "bench.rel", &text);
        full.push(start.elapsed());
        assert!(diags.is_empty());
    }
    println!(
        "{style:?} services: {services} services, {:.2} MB of source",
        bytes as f64 / 1e6
    );
    report("parse", bytes, &mut parse_only);
    report("check", bytes, &mut check_only);
    report("parse+check", bytes, &mut full);
}

fn report(what: &str, bytes: usize, times: &mut [Duration]) {
    times.sort();
    let median = times[times.len() / 2];
    let best = times[0];
    let mbps = |d: Duration| bytes as f64 / 1e6 / d.as_secs_f64();
    println!(
        "  {what:<12} median {:>8.2} ms ({:>6.1} MB/s)   best {:>8.2} ms ({:>6.1} MB/s)   runs {}",
        median.as_secs_f64() * 1e3,
        mbps(median),
        best.as_secs_f64() * 1e3,
        mbps(best),
        times.len()
    );
}
