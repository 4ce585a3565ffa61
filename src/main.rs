//! The `rel` binary: everything lives in the library; this only runs the CLI.

// A fast allocator: the front end builds and drops many small tree nodes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rel::cli::main()
}
