//! The polyglot section of `wisp-bench`: the word count written in each guest language, against the Rust guest in the same run.
//!
//! For each language it builds the component with the SDK's build script,
//! then reports its size, its first compile (a run with an empty compile
//! cache minus a warm run), the cost of one word-count map task on a 1 KiB
//! split (instantiation, the guest's work and the task's two shuffle files:
//! a job of many tiny splits minus a job of one, per extra task) and the word-count
//! throughput on the corpus, checked against the native count.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use wisp_tests::{REPO_ROOT, WORDCOUNT, run_bounded, write_corpus};

use super::{ChildRun, count_output, run_child_in};

/// A language's word count: its name, the component, and the script that builds it (none for Rust: the test build does).
const LANGUAGES: &[(&str, &str, Option<&str>)] = &[
    ("rust", "", None),
    ("c", "target/c/wordcount.wasm", Some("guest-sdk/c/build.sh")),
    ("javascript", "target/js/wordcount.wasm", Some("guest-sdk/js/build.sh")),
    ("python", "target/python/wordcount.wasm", Some("guest-sdk/python/build.sh")),
];

/// Bytes of the per-task probe's input and of its splits.
const TINY_INPUT: u64 = 256 << 10;
const TINY_SPLIT: u64 = 1 << 10;

struct Row {
    name: &'static str,
    size: u64,
    compile: Duration,
    per_task: Duration,
    wall: Duration,
    peak_rss_kib: u64,
}

/// Runs the section; `only` limits it to some languages (Rust always runs: it is the baseline).
pub(crate) fn bench_languages(
    data_dir: &Path,
    corpus: &Path,
    expected: &std::collections::HashMap<String, i64>,
    only: &[String],
) -> anyhow::Result<()> {
    let root = Path::new(REPO_ROOT);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).to_string();
    let mb = std::fs::metadata(corpus)?.len() as f64 / 1e6;
    let tiny = data_dir.join("tiny-256k.txt");
    if !tiny.exists() {
        write_corpus(&tiny, TINY_INPUT, 5)?;
    }
    let tiny_s = tiny.display().to_string();
    let splits = std::fs::metadata(&tiny)?.len().div_ceil(TINY_SPLIT);
    let mut rows = Vec::new();
    for &(name, path, script) in LANGUAGES {
        if name != "rust" && !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        let component = match script {
            None => PathBuf::from(WORDCOUNT),
            Some(script) => {
                eprintln!("building the {name} word count ({script})");
                let mut cmd = Command::new(root.join(script));
                cmd.current_dir(root)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                let built = run_bounded(cmd, Duration::from_secs(1800));
                anyhow::ensure!(built.ok(), "{script} failed: {}{}", built.stdout, built.stderr);
                root.join(path)
            }
        };
        let job = component.display().to_string();
        let size = std::fs::metadata(&component)?.len();
        let scratch = tempfile::tempdir_in(data_dir)?;
        let out = |n: &str| scratch.path().join(n).display().to_string();
        let cache = scratch.path().join("cache");
        let cold = run_child_in(&job, &["--cores", &cores], &[&tiny_s, &out("cold")], &cache)?;
        let one_split = format!("wisp.files.maxPartitionBytes={}", TINY_INPUT * 2);
        let warm = run_child_in(
            &job,
            &["--cores", &cores, "--conf", &one_split],
            &[&tiny_s, &out("warm")],
            &cache,
        )?;
        let tiny_splits = format!("wisp.files.maxPartitionBytes={TINY_SPLIT}");
        let many = run_child_in(
            &job,
            &["--cores", &cores, "--conf", &tiny_splits],
            &[&tiny_s, &out("many")],
            &cache,
        )?;
        let full: ChildRun = run_child_in(
            &job,
            &["--cores", &cores],
            &[&corpus.display().to_string(), &out("full")],
            &cache,
        )?;
        anyhow::ensure!(
            count_output(&scratch.path().join("full"))? == *expected,
            "the {name} word count differs from the native one"
        );
        rows.push(Row {
            name,
            size,
            compile: cold.wall.saturating_sub(warm.wall),
            per_task: many.wall.saturating_sub(warm.wall)
                / (splits.saturating_sub(1).max(1) as u32),
            wall: full.wall,
            peak_rss_kib: full.peak_rss_kib,
        });
    }
    let rust = rows.first().map(|r| r.wall).unwrap_or_default();
    println!(
        "word count by guest language over {mb:.0} MB, {cores} cores (map task: {splits} splits of 1 KiB vs one split)"
    );
    println!(
        "  {:<11} {:>12} {:>13} {:>12} {:>9} {:>10} {:>9} {:>9}",
        "language", "component", "first compile", "map task", "time", "MB/s", "vs rust", "peak RSS"
    );
    for r in &rows {
        println!(
            "  {:<11} {:>10.1} KB {:>11.2} s {:>9.0} us {:>7.2} s {:>10.1} {:>9.3} {:>5.0} MiB",
            r.name,
            r.size as f64 / 1e3,
            r.compile.as_secs_f64(),
            r.per_task.as_secs_f64() * 1e6,
            r.wall.as_secs_f64(),
            mb / r.wall.as_secs_f64(),
            rust.as_secs_f64() / r.wall.as_secs_f64(),
            r.peak_rss_kib as f64 / 1024.0
        );
    }
    Ok(())
}
