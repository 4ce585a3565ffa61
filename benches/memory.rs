//! Live heap by stage of `rel build` on the generated 5,000-service app:
//! what the syntax tree, the checker, the model, the manifests written
//! ahead and the artifacts hold. Counts the bytes the program asks the
//! allocator for (not the pages the process touches, which `build` reports).
//! `cargo bench --bench memory [-- SERVICES]`.

#[path = "support/generate.rs"]
#[allow(dead_code)]
mod generate;

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// mimalloc (as the binary uses), counting live and peak bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Relaxed) + by;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every call forwards to mimalloc with the same arguments; the
// counters do not touch the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        if size > layout.size() {
            grew(size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - size, Relaxed);
        }
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn report(stage: &str) {
    let mb = |n: usize| n as f64 / 1e6;
    println!(
        "  {stage:<31} live {:6.1} MB   peak so far {:6.1} MB",
        mb(LIVE.load(Relaxed)),
        mb(PEAK.load(Relaxed))
    );
}

fn main() {
    let services = generate::services_arg();
    let dir = generate::write_build_app(services, "rel-memory-bench");
    let (entry, options) = generate::build_inputs(&dir);
    println!("memory: {services} services, the stages of rel::build_entries");
    let mut sources = rel::source::SourceMap::new();
    report("start");
    let (program, _) = rel::resolve::load(&mut sources, &[entry]);
    report("parsed (source and tree)");
    let checked = rel::check::check(&program, &sources);
    report("checked (+ references)");
    let renderer = rel::emit::kubernetes::Renderer::start();
    let model = rel::compile::compile_observed(&program, &checked, &sources, &options, &mut |r| {
        renderer.show(r)
    })
    .expect("the generated app compiles");
    let prerendered = renderer.finish();
    report("compiled (+ model, manifests)");
    drop((program, checked));
    report("tree and references freed");
    let build = rel::emit::build_with(&model, &Default::default(), prerendered)
        .expect("the generated app builds");
    report("emitted (+ artifacts)");
    drop(build);
    report("artifacts freed (the model)");
    let _ = std::fs::remove_dir_all(&dir);
}
