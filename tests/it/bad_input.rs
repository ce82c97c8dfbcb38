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
    assert!(!run.stderr.contains("panicked") && !run.stderr.contains("backtrace"), "{}", run.stderr);
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

    use wisp_tests::{HOSTILE, Run, wisp};

    use crate::RUN_TIMEOUT;

    fn hostile(args: &[&str]) -> Run {
        let mut all = vec!["run", HOSTILE, "--cores", "2", "--conf", "wisp.task.maxFailures=1", "--"];
        all.extend_from_slice(args);
        wisp(&all, RUN_TIMEOUT)
    }

    fn probe(args: &[&str], key: &str) -> String {
        let run = hostile(args);
        assert!(run.ok(), "{}", run.stderr);
        let line = run.stdout.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("{}", run.stdout));
        assert!(line.starts_with("denied"), "{key}: the guest got through: {line}");
        line.to_string()
    }

    fn failure(args: &[&str]) -> String {
        let run = hostile(args);
        assert_eq!(run.code, Some(1), "{}", run.stdout);
        let lines: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("wisp: error:")).collect();
        assert_eq!(lines.len(), 1, "{}", run.stderr);
        lines[0].to_string()
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
    fn misbehaving_guests_fail_with_the_cause_named() {
        assert!(failure(&["recurse"]).contains("call stack exhausted"));
        assert!(failure(&["hoard"]).contains("task exceeded its memory limit"));
        assert!(failure(&["flood"]).contains("failed printing to stdout"));
        assert!(failure(&["panic-midway"]).contains("hostile guest panicked at record 500"));
    }
}
