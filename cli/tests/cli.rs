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

#[test]
fn unknown_wisp_key_is_refused_naming_the_nearest_known_key() {
    // The configuration is checked before the job is read: the file need not exist.
    let out = wisp(&["run", "no-such-job.wasm", "--conf", "wisp.task.memmory=1g"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        "wisp: error: unknown configuration key wisp.task.memmory (did you mean wisp.task.memory?)"
    );
    // A per-task key asked for per executor.
    let out = wisp(&["run", "no-such-job.wasm", "--conf", "wisp.executor.fuel=5"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        "wisp: error: unknown configuration key wisp.executor.fuel (did you mean wisp.task.fuel?)"
    );
    // A memory budget too small for the task slots names the key and the minimum.
    let args = ["run", "no-such-job.wasm", "--cores", "2", "--conf", "wisp.executor.memory=20m"];
    let out = wisp(&args);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "wisp: error: invalid value `20m` for wisp.executor.memory: expected at least 24m for 2 task slots (12m each)"
    );
}

#[test]
fn cluster_processes_refuse_unknown_wisp_keys_before_starting() {
    let master = [
        "master",
        "--listen",
        "127.0.0.1:0",
        "--secret-file",
        "no-such-secret",
        "--conf",
        "wisp.network.timout=5s",
    ];
    let executor = [
        "executor",
        "--master",
        "127.0.0.1:1",
        "--master-fingerprint",
        "x",
        "--secret-file",
        "no-such-secret",
        "--cores",
        "1",
        "--conf",
        "wisp.executor.heartbeatInterval=1s",
        "--conf",
        "wisp.reducer.maxBytesInFlite=1m",
    ];
    for (args, line) in [
        (
            &master[..],
            "wisp: error: unknown configuration key wisp.network.timout (did you mean wisp.network.timeout?)",
        ),
        (
            &executor[..],
            "wisp: error: unknown configuration key wisp.reducer.maxBytesInFlite (did you mean wisp.reducer.maxBytesInFlight?)",
        ),
    ] {
        let out = wisp(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), line);
    }
}

#[test]
fn keys_outside_wisp_are_left_to_the_job() {
    // Not refused: the run gets as far as reading the (missing) job.
    let out = wisp(&["run", "no-such-job.wasm", "--conf", "myjob.greeting=hello"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("wisp: error: cannot read job no-such-job.wasm"), "{err}");
}
