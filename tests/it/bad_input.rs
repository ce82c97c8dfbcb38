//! Bad input: each case fails with one clear line naming the cause, a non-zero exit, no panic, and no output left behind.

use std::path::Path;

use wisp_tests::{Run, WORDCOUNT, wisp};

use crate::RUN_TIMEOUT;

fn assert_clean_failure(run: &Run, cause: &str) {
    assert!(!run.ok(), "expected failure, got success; stdout: {}", run.stdout);
    assert_eq!(run.code, Some(1), "exit code; stderr: {}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "exactly one error line, got: {:?}", run.stderr);
    assert!(lines[0].starts_with("wisp: error: "), "{}", lines[0]);
    assert!(lines[0].contains(cause), "error {:?} should name {cause:?}", lines[0]);
    assert!(
        !run.stderr.contains("panicked") && !run.stderr.contains("backtrace"),
        "{}",
        run.stderr
    );
}

fn run_job(job: &Path, args: &[&str]) -> Run {
    let mut all = vec!["run", job.to_str().unwrap(), "--cores", "2", "--"];
    all.extend_from_slice(args);
    wisp(&all, RUN_TIMEOUT)
}

#[test]
fn missing_input_path_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-input.txt");
    let out = dir.path().join("out");
    let run = run_job(Path::new(WORDCOUNT), &[missing.to_str().unwrap(), out.to_str().unwrap()]);
    assert_clean_failure(&run, "input path does not exist");
    assert!(run.stderr.contains("no-such-input.txt"));
    assert!(!out.exists());
}

#[test]
fn existing_output_directory_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a b\n").unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "precious").unwrap();
    let run = run_job(Path::new(WORDCOUNT), &[input.to_str().unwrap(), out.to_str().unwrap()]);
    assert_clean_failure(&run, "already exists");
    assert_eq!(std::fs::read_to_string(out.join("keep.txt")).unwrap(), "precious");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    // No temporary directory left beside it either.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

fn bad_component(bytes: &[u8], cause: &str) {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.wasm");
    std::fs::write(&job, bytes).unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a b\n").unwrap();
    let out = dir.path().join("out");
    let run = run_job(&job, &[input.to_str().unwrap(), out.to_str().unwrap()]);
    assert_clean_failure(&run, cause);
    assert!(!out.exists());
}

#[test]
fn garbage_file_is_not_wasm() {
    bad_component(b"this is not a webassembly file at all", "not a WebAssembly file");
}

#[test]
fn truncated_component_is_invalid() {
    let bytes = std::fs::read(WORDCOUNT).unwrap();
    bad_component(&bytes[..bytes.len() / 2], "invalid component");
}

#[test]
fn core_module_is_not_a_component() {
    // The smallest valid core module: magic and version 1.
    bad_component(b"\0asm\x01\0\0\0", "not a component");
}

#[test]
fn component_without_the_pipeline_is_not_a_job() {
    // The smallest valid component: magic and the component-model layer, nothing exported.
    bad_component(b"\0asm\x0d\0\x01\0", "wisp:task/pipeline");
}

#[test]
fn missing_job_file_is_named() {
    let run = wisp(&["run", "/nonexistent/job.wasm"], RUN_TIMEOUT);
    assert_clean_failure(&run, "/nonexistent/job.wasm");
}

mod hostile_guests {
    //! Guests that probe the sandbox or misbehave: each probe is denied, each misbehaviour fails only its task, with the cause named.

    use wisp_tests::{HOSTILE, RAW_GUEST, Run, wisp};

    use crate::RUN_TIMEOUT;

    fn hostile_with(conf: &[&str], args: &[&str]) -> Run {
        let mut all = vec!["run", HOSTILE, "--cores", "2", "--conf", "wisp.task.maxFailures=1"];
        for c in conf {
            all.extend_from_slice(&["--conf", c]);
        }
        all.push("--");
        all.extend_from_slice(args);
        wisp(&all, RUN_TIMEOUT)
    }

    fn hostile(args: &[&str]) -> Run {
        hostile_with(&[], args)
    }

    fn probe_with(conf: &[&str], args: &[&str], key: &str) -> String {
        let run = hostile_with(conf, args);
        assert!(run.ok(), "{}", run.stderr);
        let line = run
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{}", run.stdout));
        line.to_string()
    }

    fn probe(args: &[&str], key: &str) -> String {
        let line = probe_with(&[], args, key);
        assert!(line.starts_with("denied"), "{key}: the guest got through: {line}");
        line
    }

    fn failure_of(run: Run) -> String {
        assert_eq!(run.code, Some(1), "{}", run.stdout);
        let lines: Vec<&str> =
            run.stderr.lines().filter(|l| l.starts_with("wisp: error:")).collect();
        assert_eq!(lines.len(), 1, "{}", run.stderr);
        assert!(!run.stderr.contains("RUST_BACKTRACE"), "{}", run.stderr);
        lines[0].to_string()
    }

    fn failure(args: &[&str]) -> String {
        failure_of(hostile(args))
    }

    #[test]
    fn files_outside_the_sandbox_cannot_be_read() {
        probe(&["read-file", "/etc/passwd"], "read-file");
        probe(&["read-file", "../../../../etc/hostname"], "read-file");
        probe(&["read-file", env!("CARGO_MANIFEST_DIR")], "read-file");
    }

    #[test]
    fn sockets_and_environment_are_denied() {
        probe(&["connect", "127.0.0.1:9"], "connect");
        let env = probe(&["env", "PATH"], "env");
        assert!(env.contains("not found"), "{env}");
    }

    #[test]
    fn a_scratch_directory_exists_only_when_the_job_grants_it_and_cannot_be_escaped() {
        let denied = probe_with(&[], &["scratch", "a.txt"], "scratch");
        assert!(
            denied.starts_with("inside:denied"),
            "no grant, yet the guest wrote to /scratch: {denied}"
        );
        let granted = probe_with(&["wisp.task.scratch=true"], &["scratch", "a.txt"], "scratch");
        let (inside, outside) = granted.split_once('|').unwrap();
        assert_eq!(inside, "inside:ok", "{granted}");
        assert!(
            outside.starts_with("outside:denied"),
            "the guest left its scratch directory: {granted}"
        );
    }

    #[test]
    fn misbehaving_guests_fail_with_the_cause_named() {
        assert!(failure(&["recurse"]).contains("call stack exhausted"));
        assert!(
            failure(&["hoard"])
                .contains("task exceeded its memory limit (wisp.task.memory = 1073741824 bytes)")
        );
        assert!(
            failure(&["flood"])
                .contains("task wrote more than 1 MiB to stdout, the capture limit per task")
        );
        assert!(failure(&["panic-midway"]).contains("hostile guest panicked at record 500"));
    }

    #[test]
    fn infinite_loops_are_stopped_by_the_time_or_fuel_limit() {
        let timed = failure_of(hostile_with(&["wisp.task.timeout=1s"], &["spin"]));
        assert!(timed.contains("task exceeded its time limit (wisp.task.timeout = 1s)"), "{timed}");
        let fueled = failure_of(hostile_with(&["wisp.task.fuel=50000000"], &["spin"]));
        assert!(fueled.contains("task ran out of fuel (wisp.task.fuel = 50000000)"), "{fueled}");
        let memory = failure_of(hostile_with(&["wisp.task.memory=64m"], &["hoard"]));
        assert!(
            memory.contains("task exceeded its memory limit (wisp.task.memory = 67108864 bytes)"),
            "{memory}"
        );
    }

    #[test]
    fn malformed_batches_from_a_guest_fail_its_task() {
        for (kind, cause) in [
            ("out-of-range", "record 1 ends at offset 4096, past the end of the 3 data bytes"),
            (
                "decreasing",
                "record 1 ends at offset 1, before the previous record's end 2 (offsets not increasing)",
            ),
        ] {
            let run = wisp(
                &["run", RAW_GUEST, "--conf", "wisp.task.maxFailures=1", "--", "malformed", kind],
                RUN_TIMEOUT,
            );
            let line = failure_of(run);
            assert!(line.contains("guest returned a malformed batch"), "{kind}: {line}");
            assert!(line.contains(cause), "{kind}: {line}");
        }
    }

    #[test]
    fn deterministic_failures_are_retried_unless_configured_not_to_be() {
        let retried = failure_of(hostile_with(&["wisp.task.maxFailures=3"], &["panic-midway"]));
        assert!(
            retried.contains(
                "failed 3 times; last failure: guest panicked: hostile guest panicked at record 500"
            ),
            "{retried}"
        );
        let once = failure_of(hostile_with(
            &["wisp.task.maxFailures=3", "wisp.task.retryGuestFailures=false"],
            &["panic-midway"],
        ));
        assert!(
            once.contains(
                "failed once; last failure: guest panicked: hostile guest panicked at record 500"
            ),
            "{once}"
        );
        assert!(once.contains("not retried: wisp.task.retryGuestFailures is false"), "{once}");
    }
}
