//! The `wisp` binary's command line (also makes `cargo test` build the binary the workspace integration tests run).

use std::process::Command;

fn wisp(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wisp")).args(args).output().expect("run wisp")
}

#[test]
fn help_lists_the_run_command() {
    let out = wisp(&["--help"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("run"));
}

#[test]
fn unknown_flag_is_a_usage_error_not_a_panic() {
    let out = wisp(&["run", "job.wasm", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--no-such-flag"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_conf_is_one_clear_line() {
    let out = wisp(&["run", "job.wasm", "--conf", "novalue", "--", "x"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim(), "wisp: error: invalid --conf `novalue`: expected key=value");
}
