//! The `wisp` binary: parses the command line, runs the command, prints one error line and exits non-zero on failure.

mod commands;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    init_tracing();
    let cli = commands::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wisp: error: {}", wisp::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, filtered by `WISP_LOG` (default `warn`).
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("WISP_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    // Colours only on a terminal: log files (cluster processes log to files) stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi)
        .try_init();
}
