//! The built-in function library (`wisp:builtins`) from Python, JavaScript and Rust jobs: every built-in against
//! answers written out here, the word counts with built-ins byte-identical to the Rust guest's, bad records.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Value, json};
use wisp_tests::{API_JOB, REPO_ROOT, WORDCOUNT, wisp};

use crate::RUN_TIMEOUT;
use crate::guest_lang::{assert_same_parts, build_once, wordcount_matches_rust};
use crate::harness::Cluster;

/// The jobs of each SDK: (build script, its arguments, the component).
fn built(language: &str, name: &str) -> PathBuf {
    static PY: OnceLock<Result<(), String>> = OnceLock::new();
    static JS: OnceLock<Result<(), String>> = OnceLock::new();
    match language {
        "python" => build_once(
            &PY,
            "guest-sdk/python/build.sh",
            &[
                &["guest-sdk/python/tests", "builtins_job", "target/python/builtins_job.wasm"],
                &[
                    "examples/python-wordcount",
                    "wordcount_builtins",
                    "target/python/wordcount_builtins.wasm",
                ],
            ],
        ),
        _ => build_once(
            &JS,
            "guest-sdk/js/build.sh",
            &[
                &["guest-sdk/js/fixtures/builtins_job.js", "target/js/builtins_job.wasm"],
                &[
                    "examples/js-wordcount/wordcount_builtins.js",
                    "target/js/wordcount_builtins.wasm",
                ],
            ],
        ),
    }
    let dir = if language == "python" { "target/python" } else { "target/js" };
    Path::new(REPO_ROOT).join(dir).join(format!("{name}.wasm"))
}

const LINES: [&str; 3] = ["The quick  brown\tFox", "  jumps OVER the lazy dog ", "École été"];
const ROWS: [&str; 4] = ["a,\"x, y\",10,1.5", "b,z,-3,2.25", "a,\"q\"\"uote\",4,0.5", "c,w,8,-1.0"];

/// Writes the inputs of the built-ins jobs into `dir`.
fn write_inputs(dir: &Path) {
    let lines = |v: &[&str]| v.iter().map(|l| format!("{l}\n")).collect::<String>();
    std::fs::write(dir.join("lines.txt"), lines(&LINES)).unwrap();
    std::fs::write(dir.join("ints.txt"), "12\n-7\n 30 \n0\n").unwrap();
    std::fs::write(dir.join("floats.txt"), "2.5\n-0.25\n1e2\n").unwrap();
    std::fs::write(dir.join("rows.csv"), lines(&ROWS)).unwrap();
    std::fs::write(dir.join("rows.tsv"), "k\tv1\tw1\nk2\tv2\t\n").unwrap();
    std::fs::write(
        dir.join("objs.jsonl"),
        "{\"name\": \"ann\", \"age\": 3}\n{\"age\": 4, \"name\": \"b\\u00e9a\"}\n{\"name\": 7}\n",
    )
    .unwrap();
    std::fs::write(dir.join("bad-ints.txt"), "1\n2\nx1y\n").unwrap();
}

/// The answers, computed here from the inputs (or written out by hand where a parser would be needed).
fn expected() -> BTreeMap<&'static str, Value> {
    let words: Vec<&str> = LINES.iter().flat_map(|l| l.split_ascii_whitespace()).collect();
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for w in &words {
        *counts.entry(w).or_default() += 1;
    }
    let pieces: Vec<&str> = ROWS.iter().flat_map(|r| r.split(',')).collect();
    let mut formatted: Vec<String> = counts.iter().map(|(w, c)| format!("{w} = {c}")).collect();
    formatted.sort();
    BTreeMap::from([
        ("split-whitespace", json!(words)),
        ("split", json!(pieces)),
        ("lower", json!(["the quick  brown\tfox", "  jumps over the lazy dog ", "école été"])),
        ("upper", json!(["THE QUICK  BROWN\tFOX", "  JUMPS OVER THE LAZY DOG ", "ÉCOLE ÉTÉ"])),
        ("trim", json!(["The quick  brown\tFox", "jumps OVER the lazy dog", "École été"])),
        ("parse-int", json!([12, -7, 30, 0])),
        ("parse-float", json!([2.5, -0.25, 100.0])),
        ("csv-field", json!(["x, y", "z", "q\"uote", "w"])),
        ("tsv-field", json!(["w1", ""])),
        ("json-field", json!(["ann", "béa", "7"])),
        ("word-sum", json!(counts.iter().collect::<Vec<_>>())),
        ("format-pair", json!(formatted)),
        ("count", json!([["a", 2], ["b", 1], ["c", 1]])),
        ("min", json!([["a", 4], ["b", -3], ["c", 8]])),
        ("max", json!([["a", 10], ["b", -3], ["c", 8]])),
        ("sum-float", json!([["a", 2.0], ["b", 2.25], ["c", -1.0]])),
        ("mean", json!([["a", 1.0], ["b", 2.25], ["c", -1.0]])),
        ("reduce-sum", json!(35)),
        ("reduce-max", json!(30)),
    ])
}

/// Numbers as f64, so `100` and `100.0` compare equal whatever language printed them.
fn normalized(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64().unwrap()),
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

/// Runs a built-ins job (`MODE DIR` after `prefix`) and checks every line it printed against `expected`.
fn check_job(job: &str, prefix: &[&str], skip: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path());
    let d = dir.path().to_str().unwrap();
    let mut args = vec!["run", job, "--cores", "2", "--"];
    args.extend_from_slice(prefix);
    args.extend_from_slice(&["all", d]);
    let run = wisp(&args, RUN_TIMEOUT);
    assert!(run.ok(), "{job} failed: {}", run.stderr);
    let got: BTreeMap<String, Value> = run
        .stdout
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| {
            (k.to_string(), serde_json::from_str(v).unwrap_or_else(|e| panic!("{v}: {e}")))
        })
        .collect();
    let want = expected();
    for (name, value) in want.iter().filter(|(n, _)| !skip.contains(n)) {
        let value_got =
            got.get(*name).unwrap_or_else(|| panic!("{job}: no {name} in {}", run.stdout));
        assert_eq!(normalized(value_got), normalized(value), "{job}: {name}");
    }
}

/// Runs the job's `bad` mode and checks its one-line error.
fn check_bad_record(job: &str, prefix: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path());
    let mut args = vec!["run", job, "--cores", "2", "--conf", "wisp.task.maxFailures=1", "--"];
    args.extend_from_slice(prefix);
    args.extend_from_slice(&["bad", dir.path().to_str().unwrap()]);
    let run = wisp(&args, RUN_TIMEOUT);
    assert_eq!(run.code, Some(1), "{job}: stdout {} stderr {}", run.stdout, run.stderr);
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("wisp: error:")).collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(
        errors[0]
            .contains("built-in parse_int failed on record \"x1y\" of partition 0: not an integer"),
        "{}",
        errors[0]
    );
    assert!(
        !run.stderr.contains("panicked") && !run.stderr.contains("wasm trap"),
        "{}",
        run.stderr
    );
}

fn wordcount_input(dir: &Path) -> PathBuf {
    let input = dir.join("input");
    std::fs::create_dir(&input).unwrap();
    wisp_tests::write_corpus(&input.join("corpus.txt"), 2 << 20, 23).unwrap();
    std::fs::write(input.join("spaces.txt"), "a\t b\r\n\x0cc  a\n\n é a\n").unwrap();
    input
}

#[test]
fn python_builtins_match_answers_computed_independently() {
    check_job(built("python", "builtins_job").to_str().unwrap(), &[], &[]);
}

#[test]
fn javascript_builtins_match_answers_computed_independently() {
    check_job(built("javascript", "builtins_job").to_str().unwrap(), &[], &[]);
}

#[test]
fn rust_builtins_match_answers_computed_independently() {
    // The Rust SDK's built-ins have no driver-side `reduce` (Rdd::reduce takes Rust functions).
    check_job(API_JOB, &["builtins"], &["reduce-sum", "reduce-max"]);
}

#[test]
fn a_builtin_on_a_bad_record_fails_naming_the_builtin_the_record_and_the_partition() {
    check_bad_record(built("python", "builtins_job").to_str().unwrap(), &[]);
    check_bad_record(built("javascript", "builtins_job").to_str().unwrap(), &[]);
    check_bad_record(API_JOB, &["builtins"]);
}

#[test]
fn python_and_javascript_builtin_word_counts_match_the_rust_guest_part_for_part() {
    for language in ["python", "javascript"] {
        let dir = tempfile::tempdir().unwrap();
        let input = wordcount_input(dir.path());
        wordcount_matches_rust(
            &built(language, "wordcount_builtins"),
            &input,
            dir.path(),
            language,
        );
    }
}

#[test]
fn builtins_run_on_cluster_executors_without_being_shipped() {
    let job = built("python", "wordcount_builtins");
    let cluster = Cluster::start(2, &[], &[]);
    let dir = cluster.dir.path();
    let input = wordcount_input(dir);
    let (out, rust_out) = (dir.join("builtins-out"), dir.join("rust-out"));
    let conf = ["wisp.files.maxPartitionBytes=512k", "wisp.default.parallelism=3"];
    let run = cluster.submit(job.to_str().unwrap(), &conf, &[&input, &out], None);
    assert!(run.ok(), "submit failed: {}", run.stderr);
    let run = cluster.submit(WORDCOUNT, &conf, &[&input, &rust_out], None);
    assert!(run.ok(), "submit failed: {}", run.stderr);
    assert_same_parts(&out, &rust_out, "built-in word count in cluster mode");
    assert_eq!(cluster.executors_with_tasks().len(), 2, "both executors should have run tasks");
}
