//! JavaScript jobs (`guest-sdk/js`, built with componentize-js by `guest-sdk/js/build.sh`): word count matching the Rust guest, the codec's encoding vectors under node, the RDD API, and a throwing function failing its job with the exception's message and stack.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use wisp_tests::{
    REPO_ROOT, TOKENIZER, WORDCOUNT, awkward_bytes, parse_counts, read_output_lines,
    reference_word_count, run_bounded, wisp,
};

use crate::RUN_TIMEOUT;
use crate::guest_lang::{assert_same_parts, build_once, parts, wordcount_matches_rust};

/// The JS jobs the tests run: (module, component name under target/js).
const JOBS: [(&str, &str); 5] = [
    ("examples/js-wordcount/wordcount.js", "wordcount"),
    ("guest-sdk/js/fixtures/raising_job.js", "raising_job"),
    ("guest-sdk/js/fixtures/api_job.js", "api_job"),
    ("guest-sdk/js/fixtures/mixed_job.js", "mixed_job"),
    ("guest-sdk/js/fixtures/shared_job.js", "shared_job"),
];

/// Builds the JS jobs with the SDK's build script (once per test process) and returns the path of component `name`.
pub(crate) fn js_job(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let outputs: Vec<String> = JOBS.iter().map(|(_, n)| format!("target/js/{n}.wasm")).collect();
    let builds: Vec<[&str; 2]> =
        JOBS.iter().zip(&outputs).map(|((module, _), out)| [*module, out.as_str()]).collect();
    build_once(&BUILT, "guest-sdk/js/build.sh", &builds.iter().map(|b| &b[..]).collect::<Vec<_>>());
    Path::new(REPO_ROOT).join("target/js").join(format!("{name}.wasm"))
}

#[test]
fn js_wordcount_output_matches_the_rust_guest_part_for_part() {
    let job = js_job("wordcount");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir(&input).unwrap();
    wisp_tests::write_corpus(&input.join("corpus.txt"), 2 << 20, 23).unwrap();
    std::fs::write(input.join("awkward.txt"), awkward_bytes()).unwrap();
    std::fs::write(input.join("astral.txt"), astral_words()).unwrap();
    let js_out = wordcount_matches_rust(&job, &input, dir.path(), "js");
    // And both against a count computed here.
    let mut all = std::fs::read(input.join("astral.txt")).unwrap();
    all.extend_from_slice(&std::fs::read(input.join("awkward.txt")).unwrap());
    all.push(b'\n');
    all.extend_from_slice(&std::fs::read(input.join("corpus.txt")).unwrap());
    assert_eq!(parse_counts(&read_output_lines(&js_out)), reference_word_count(&all));
}

/// Words whose UTF-16 order differs from their UTF-8 byte order (astral characters against U+E000..U+FFFF), so key order is tested.
fn astral_words() -> String {
    let mut text = String::new();
    for i in 0..40 {
        for c in ['\u{1F600}', '\u{10000}', '\u{E000}', '\u{FF41}', '\u{FFFD}', '\u{D7FF}', 'z'] {
            text.push_str(&format!("w{c}{i} {c}{i}x "));
        }
        text.push('\n');
    }
    text
}

#[test]
fn js_job_with_rust_functions_matches_the_rust_guest_part_for_part() {
    let job = js_job("mixed_job");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir(&input).unwrap();
    wisp_tests::write_corpus(&input.join("corpus.txt"), 1 << 20, 29).unwrap();
    std::fs::write(input.join("awkward.txt"), awkward_bytes()).unwrap();
    let (mixed_out, rust_out) = (dir.path().join("mixed"), dir.path().join("rust"));
    let conf = ["--cores", "2", "--conf", "wisp.default.parallelism=3"];
    for (component, out, extra) in
        [(job.to_str().unwrap(), &mixed_out, Some(TOKENIZER)), (WORDCOUNT, &rust_out, None)]
    {
        let mut args = vec!["run", component];
        args.extend_from_slice(&conf);
        args.extend_from_slice(&["--", input.to_str().unwrap(), out.to_str().unwrap()]);
        args.extend(extra);
        let run = wisp(&args, RUN_TIMEOUT);
        assert!(run.ok(), "{component} failed: {}", run.stderr);
    }
    assert_eq!(parts(&mixed_out).len(), 3);
    assert_same_parts(&mixed_out, &rust_out, "the JS job with Rust functions");
}

#[test]
fn js_codec_matches_the_encoding_vectors() {
    let root = Path::new(REPO_ROOT);
    let mut cmd = Command::new("node");
    cmd.current_dir(root).args(["--test", "guest-sdk/js/test/codec.test.mjs"]);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let run = run_bounded(cmd, Duration::from_secs(60));
    assert!(run.ok(), "JS codec tests failed:\n{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("# fail 0") && !run.stdout.contains("# pass 0"), "{}", run.stdout);
}

/// Runs the failing job in `mode` and returns its one `wisp: error:` line, checking the exit code and that no output was left.
fn failing_run(mode: &str) -> String {
    let job = js_job("raising_job");
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
        out.to_str().unwrap(),
        mode,
    ];
    let run = wisp(&args, RUN_TIMEOUT);
    assert_eq!(run.code, Some(1), "{mode}: stdout: {} stderr: {}", run.stdout, run.stderr);
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("wisp: error:")).collect();
    assert_eq!(errors.len(), 1, "{mode}: {}", run.stderr);
    assert!(
        !run.stderr.contains("wasm trap") && !run.stderr.contains("panicked"),
        "{mode}: {}",
        run.stderr
    );
    assert!(
        !out.exists() && !out.join("_SUCCESS").exists(),
        "{mode}: a failed job must leave no output"
    );
    errors[0].to_owned()
}

#[test]
fn js_function_throwing_fails_the_job_with_the_exception_message() {
    let line = failing_run("throw");
    assert!(
        line.contains("javascript function explode threw RangeError: record 7 is unlucky"),
        "{line}"
    );
    assert!(line.contains("raising_job.js:10"), "the stack should be kept: {line}");
}

#[test]
fn js_bad_results_and_missing_types_fail_naming_the_cause() {
    let line = failing_run("badret");
    assert!(
        line.contains(
            "op (x) => ({ x }): cannot encode its result as string: expected a string, got object"
        ),
        "{line}"
    );
    let line = failing_run("capture");
    assert!(
        line.contains("ReferenceError: SUFFIX is not defined")
            && line.contains("register it with fn()"),
        "{line}"
    );
    let line = failing_run("untyped");
    assert!(
        line.contains("reduceByKey: the record type of this RDD is not known")
            && line.contains("has no declared output type"),
        "{line}"
    );
}

#[test]
fn js_api_job_results_match_computed_answers() {
    let job = js_job("api_job");
    let run = wisp(&["run", job.to_str().unwrap(), "--cores", "2"], RUN_TIMEOUT);
    assert!(run.ok(), "{}", run.stderr);
    let got: HashMap<&str, Value> = run
        .stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k, serde_json::from_str(v).unwrap_or_else(|e| panic!("{k}: {e}: {v}"))))
        .collect();

    let nums: Vec<i64> = (1..=100).collect();
    let mut by_mod: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for &x in &nums {
        by_mod.entry(format!("m{}", x % 3)).or_default().push(x);
    }
    let names = [("m0", "zero"), ("m1", "one"), ("m9", "nine")];
    let small = |limit: i64| -> BTreeMap<&str, i64> {
        by_mod
            .iter()
            .flat_map(|(k, v)| {
                v.iter().filter(move |&&x| x <= limit).map(move |&x| (k.as_str(), x))
            })
            .collect()
    };
    let le3 = small(3);
    let le2 = small(2);
    let want: HashMap<&str, Value> = HashMap::from([
        ("squares_sum", json!(nums.iter().map(|x| x * x).sum::<i64>())),
        ("even_count", json!(nums.iter().filter(|x| *x % 2 == 0).count())),
        ("fold", json!(nums.iter().sum::<i64>())),
        ("take", json!([1, -1, 2, -2])),
        (
            "reduce_by_key",
            Value::Array(by_mod.iter().map(|(k, v)| json!([k, v.iter().sum::<i64>()])).collect()),
        ),
        ("group_sizes", Value::Array(by_mod.iter().map(|(k, v)| json!([k, v.len()])).collect())),
        (
            "join",
            Value::Array(
                names.iter().filter_map(|(k, n)| le3.get(k).map(|x| json!([k, [x, n]]))).collect(),
            ),
        ),
        (
            "left_outer",
            Value::Array(names.iter().map(|(k, n)| json!([k, [n, le2.get(k)]])).collect()),
        ),
        (
            "bigint_max",
            json!(format!("{}n", [9007199254740993i64, -5, 1 << 62].into_iter().max().unwrap())),
        ),
        (
            "float_sums",
            json!([
                ["even", nums.iter().filter(|x| *x % 2 == 0).map(|&x| x as f64 / 2.0).sum::<f64>()],
                ["odd", nums.iter().filter(|x| *x % 2 == 1).map(|&x| x as f64 / 2.0).sum::<f64>()]
            ]),
        ),
        ("combine_sizes", json!([["even", 50], ["odd", 50]])),
        (
            "partition_sums",
            Value::Array(nums.chunks(25).map(|c| json!(c.iter().sum::<i64>())).collect()),
        ),
        ("flat_map_values", json!([["m1", "o"], ["m1", "n"], ["m1", "e"]])),
        (
            "full_outer",
            Value::Array(
                names
                    .iter()
                    .map(|(k, n)| {
                        json!([k, [n, by_mod.get(*k).and_then(|v| v.iter().find(|&&x| x >= 99))]])
                    })
                    .collect(),
            ),
        ),
        ("cogroup", {
            let mut keys: Vec<&str> =
                names.iter().map(|(k, _)| *k).chain(by_mod.keys().map(String::as_str)).collect();
            keys.sort();
            keys.dedup();
            let named = |k: &str| -> Vec<&str> {
                names.iter().filter(|(n, _)| *n == k).map(|(_, v)| *v).collect()
            };
            let small = |k: &str| -> Vec<i64> {
                by_mod
                    .get(k)
                    .map(|v| v.iter().copied().filter(|&x| x <= 4).collect())
                    .unwrap_or_default()
            };
            Value::Array(keys.iter().map(|k| json!([k, [named(k), small(k)]])).collect())
        }),
        ("union_count", json!([200, 200, 8])),
        ("coalesce", json!(2)),
        ("first", json!(42)),
        ("aggregate", json!([nums.iter().sum::<i64>(), nums.len()])),
        ("u64", json!([2u64, 2u64 << 40])),
        ("sample", json!([true, true])),
        ("distinct", json!(["a", "b", "c"])),
    ]);
    for (name, value) in &want {
        let got =
            got.get(name).unwrap_or_else(|| panic!("no {name} in the output: {}", run.stdout));
        // Integral floats print as integers in JS: compare numbers by value.
        let same = match (got, value) {
            (Value::Array(_), _) | (_, Value::Array(_)) => normalize(got) == normalize(value),
            _ => got == value || got.as_f64() == value.as_f64() && got.is_number(),
        };
        assert!(same, "{name}: got {got}, want {value}");
    }
}

/// A JSON value with every number as f64, so `1275` and `1275.0` compare equal.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        other => other.clone(),
    }
}
