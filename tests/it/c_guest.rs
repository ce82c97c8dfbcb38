//! C jobs (`guest-sdk/c`, built with zig cc and wit-bindgen's C bindings by `guest-sdk/c/build.sh`): word count matching the Rust guest part file for part file, the C codec against the encoding vectors, and failing C functions failing their job with one clear line.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use wisp_tests::{
    REPO_ROOT, awkward_bytes, parse_counts, read_output_lines, reference_word_count, run_bounded,
    wisp,
};

use crate::RUN_TIMEOUT;
use crate::guest_lang::{build_once, wordcount_matches_rust};

/// Builds the C jobs with the SDK's build script (once per test process) and returns the component's path.
fn c_job(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let builds: [&[&str]; 3] = [
        &["examples/c-wordcount", "target/c/wordcount.wasm"],
        &["guest-sdk/c/tests/failing-job", "target/c/failing.wasm"],
        &["guest-sdk/c/tests/api-job", "target/c/api_job.wasm"],
    ];
    build_once(&BUILT, "guest-sdk/c/build.sh", &builds);
    Path::new(REPO_ROOT).join("target/c").join(format!("{name}.wasm"))
}

#[test]
fn c_wordcount_output_matches_the_rust_guest_part_for_part() {
    let job = c_job("wordcount");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir(&input).unwrap();
    wisp_tests::write_corpus(&input.join("corpus.txt"), 2 << 20, 23).unwrap();
    std::fs::write(input.join("awkward.txt"), awkward_bytes()).unwrap();
    // Keys around the C table's 16-byte inline limit, sharing prefixes, with NUL bytes: their order in the part files.
    let long = "abcdefghijklmnop abcdefghijklmnopq abcdefghijklmnopa abcdefghijklmno abcdefghijklmnopqrstuvwxyz \
                abcdefghijklmnopqrstuvwxyy abcdefghijklmnop\0 abcdefghijklmnop\0\0x abc\0 abc abcdefghijklmnopq\n";
    std::fs::write(input.join("long-keys.txt"), long.repeat(3)).unwrap();
    let c_out = wordcount_matches_rust(&job, &input, dir.path(), "c");
    // And both against a count computed here.
    let mut all = std::fs::read(input.join("awkward.txt")).unwrap();
    all.push(b'\n');
    all.extend_from_slice(&std::fs::read(input.join("long-keys.txt")).unwrap());
    all.extend_from_slice(&std::fs::read(input.join("corpus.txt")).unwrap());
    assert_eq!(parse_counts(&read_output_lines(&c_out)), reference_word_count(&all));
}

#[test]
fn c_codec_matches_the_encoding_vectors() {
    let root = Path::new(REPO_ROOT);
    let vectors = std::fs::read_to_string(root.join("wit/encoding-vectors.jsonl")).unwrap();
    let count = vectors.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(count > 50, "expected the checked-in vectors, found {count}");
    let mut cmd = Command::new("bash");
    cmd.current_dir(root)
        .arg("guest-sdk/c/test/codec_test.sh")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run = run_bounded(cmd, Duration::from_secs(120));
    assert!(run.ok(), "C codec tests failed:\n{}{}", run.stdout, run.stderr);
    // Every vector is checked (encode and decode), none skipped.
    assert!(run.stdout.lines().any(|l| l == format!("{count} passed, 0 failed")), "{}", run.stdout);
}

#[test]
fn c_api_job_matches_answers_computed_here() {
    let job = c_job("api_job");
    let run = wisp(
        &["run", job.to_str().unwrap(), "--cores", "2", "--conf", "api_job.greeting=hello"],
        RUN_TIMEOUT,
    );
    assert!(run.ok(), "{}", run.stderr);
    let xs: Vec<i64> = (1..=100).collect();
    let by7 = |f: fn(i64) -> i64| -> String {
        (0..7)
            .map(|k| {
                format!("{k}:{}", xs.iter().filter(|x| *x % 7 == k).map(|x| f(*x)).sum::<i64>())
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let join: usize = (0..7)
        .map(|k| {
            xs.iter().filter(|x| *x % 7 == k).count()
                * xs.iter().filter(|x| *x % 7 == k && *x % 2 == 0).count()
        })
        .sum();
    let expected = [
        format!("even_count={}", xs.iter().filter(|x| *x % 2 == 0).count()),
        format!("sum_of_squares={} found=1", xs.iter().map(|x| x * x).sum::<i64>()),
        // fold: the zero in each of the 4 partitions and once more when the driver combines them.
        format!("fold_1000={}", xs.iter().sum::<i64>() + 1000 * 5),
        format!("twice_by_mod7={}", by7(|x| 2 * x)),
        format!("plus_minus_by_mod7={}", by7(|_| 0)),
        format!("count_and_sum_keys=7 count={} sum={}", xs.len(), xs.iter().sum::<i64>()),
        "partition_sizes=25,25,25,25".to_string(),
        format!("groups=7 values={}", xs.len()),
        format!("join_count={join}"),
        "distinct_mod10=10".to_string(),
        format!("union_count={}", 2 * xs.len()),
        "take3_desc_keys=9,9,9".to_string(),
        "conf=hello".to_string(),
        "unregistered=wisp_map: the function is not listed in WISP_FUNCTIONS with the matching WISP_* kind".to_string(),
    ];
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines,
        expected.iter().map(String::as_str).collect::<Vec<_>>(),
        "stderr: {}",
        run.stderr
    );
}

/// Runs the failing job in `mode` and returns its single `wisp: error:` line, checking it left no output.
fn failing_job_error(mode: &str) -> String {
    let job = c_job("failing");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = [
        "run",
        job.to_str().unwrap(),
        "--cores",
        "2",
        "--conf",
        "wisp.task.maxFailures=1",
        "--",
        mode,
        out.to_str().unwrap(),
    ];
    let run = wisp(&args, RUN_TIMEOUT);
    assert_eq!(run.code, Some(1), "stdout: {} stderr: {}", run.stdout, run.stderr);
    assert!(!out.join("_SUCCESS").exists() && !out.exists(), "a failed job must leave no output");
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("wisp: error:")).collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    errors[0].to_string()
}

#[test]
fn c_function_reporting_an_error_fails_the_job_with_its_message() {
    let line = failing_job_error("error");
    assert!(line.contains("c function explode (map) failed: record 7 is unlucky"), "{line}");
    assert!(!line.contains("wasm trap"), "{line}");
}

#[test]
fn c_function_trapping_fails_the_job_with_its_panic_message() {
    let line = failing_job_error("trap");
    assert!(line.contains("c guest panicked: record 7 trapped"), "{line}");
}

#[test]
fn c_main_failing_fails_the_job_with_its_message() {
    let line = failing_job_error("main");
    assert_eq!(line, "wisp: error: the main gave up on purpose");
}
