fn main() -> std::process::ExitCode {
    rel::cli::main()
}
