//! Python jobs (`guest-sdk/python`, built with componentize-py by `guest-sdk/python/build.sh`): word count matching the Rust guest, the codec's encoding vectors, and a raising function failing its job with the exception's message.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use wisp_tests::{REPO_ROOT, WORDCOUNT, awkward_bytes, parse_counts, read_output_lines, reference_word_count, run_bounded, wisp};

use crate::RUN_TIMEOUT;

/// The first build creates the virtualenv and downloads componentize-py; later ones are offline no-ops.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// Builds a Python job with the SDK's build script (once per test process) and returns the component's path.
fn python_job(module: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let root = Path::new(REPO_ROOT);
        for (dir, module) in [("examples/python-wordcount", "wordcount"), ("guest-sdk/python/tests", "raising_job")] {
            let mut cmd = Command::new(root.join("guest-sdk/python/build.sh"));
            cmd.current_dir(root).args([dir, module, &format!("target/python/{module}.wasm")]);
            cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
            let run = run_bounded(cmd, BUILD_TIMEOUT);
            if !run.ok() {
                return Err(format!("building {module} failed: {}{}", run.stdout, run.stderr));
            }
        }
        Ok(())
    });
    if let Err(e) = built {
        panic!("{e}");
    }
    Path::new(REPO_ROOT).join("target/python").join(format!("{module}.wasm"))
}

/// Every `part-*` file of an output directory: name → its bytes.
fn parts(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut parts = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("output dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name").to_string_lossy().into_owned();
        if name.starts_with("part-") {
            parts.insert(name, std::fs::read(&path).expect("part file"));
        }
    }
    parts
}

#[test]
fn python_wordcount_output_matches_the_rust_guest_part_for_part() {
    let job = python_job("wordcount");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir(&input).unwrap();
    wisp_tests::write_corpus(&input.join("corpus.txt"), 2 << 20, 17).unwrap();
    std::fs::write(input.join("awkward.txt"), awkward_bytes()).unwrap();
    let conf = ["--cores", "2", "--conf", "wisp.files.maxPartitionBytes=256k", "--conf", "wisp.default.parallelism=3"];
    let run_job = |component: &str, out: &Path| {
        let mut args = vec!["run", component];
        args.extend_from_slice(&conf);
        args.extend_from_slice(&["--", input.to_str().unwrap(), out.to_str().unwrap()]);
        let run = wisp(&args, RUN_TIMEOUT);
        assert!(run.ok(), "{component} failed: {}", run.stderr);
        assert!(out.join("_SUCCESS").exists(), "no _SUCCESS marker from {component}");
    };
    let (py_out, rust_out) = (dir.path().join("py"), dir.path().join("rust"));
    run_job(job.to_str().unwrap(), &py_out);
    run_job(WORDCOUNT, &rust_out);

    // Byte-identical: the host partitions by key hash, and combine/merge emit in key-byte order in every SDK.
    let (py, rust) = (parts(&py_out), parts(&rust_out));
    assert_eq!(py.keys().collect::<Vec<_>>(), rust.keys().collect::<Vec<_>>(), "part files");
    assert_eq!(py.len(), 3, "wisp.default.parallelism=3 reduce partitions");
    for (name, bytes) in &rust {
        assert!(py[name] == *bytes, "{name}: the Python and Rust word counts differ");
    }
    // And both against a count computed here.
    let mut all = std::fs::read(input.join("awkward.txt")).unwrap();
    all.push(b'\n');
    all.extend_from_slice(&std::fs::read(input.join("corpus.txt")).unwrap());
    assert_eq!(parse_counts(&read_output_lines(&py_out)), reference_word_count(&all));
}

#[test]
fn python_codec_matches_the_encoding_vectors() {
    let root = Path::new(REPO_ROOT);
    python_job("wordcount"); // creates the virtualenv
    let mut cmd = Command::new(root.join("target/python-venv/bin/python"));
    cmd.current_dir(root).arg("guest-sdk/python/test_codec.py").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let run = run_bounded(cmd, Duration::from_secs(60));
    assert!(run.ok(), "Python codec tests failed:\n{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("OK"), "{}", run.stderr);
}

#[test]
fn python_function_raising_fails_the_job_with_the_exception_message() {
    let job = python_job("raising_job");
    let run = wisp(&["run", job.to_str().unwrap(), "--cores", "2", "--conf", "wisp.task.maxFailures=1"], RUN_TIMEOUT);
    assert_eq!(run.code, Some(1), "stdout: {} stderr: {}", run.stdout, run.stderr);
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("wisp: error:")).collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    let line = errors[0];
    assert!(line.contains("ValueError: record 7 is unlucky"), "{line}");
    assert!(line.contains("raising_job.explode"), "the error should name the function: {line}");
    assert!(line.contains("Traceback") && line.contains("raising_job.py"), "the traceback should be kept: {line}");
    assert!(!run.stderr.contains("wasm trap") && !run.stderr.contains("panicked"), "{}", run.stderr);
}
