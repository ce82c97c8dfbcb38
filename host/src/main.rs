//! The `wisp` binary: see `wisp::cli`.

fn main() -> std::process::ExitCode {
    wisp::cli::main()
}
