//! Python jobs (`guest-sdk/python`, built with componentize-py by `guest-sdk/python/build.sh`): word count matching the Rust guest, a mixed Python/Rust word count (local and cluster mode), the RDD API against answers computed here, the codec's encoding vectors, and bad input (a raising function, records of the wrong encoding, another `wisp:task` version).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use wisp_tests::{
    REPO_ROOT, Rng, TOKENIZER, WORDCOUNT, awkward_bytes, parse_counts, read_output_lines,
    reference_word_count, run_bounded, wisp,
};

use crate::RUN_TIMEOUT;
use crate::guest_lang::{assert_same_parts, build_once, parts, wordcount_matches_rust};
use crate::harness::Cluster;

mod rdd_more;

/// The first build creates the virtualenv and downloads componentize-py; later ones are offline no-ops.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// (app directory, module) of every Python job the tests run.
const PYTHON_JOBS: [(&str, &str); 8] = [
    ("examples/python-wordcount", "wordcount"),
    ("examples/python-mixed", "mixed_wordcount"),
    ("guest-sdk/python/tests", "raising_job"),
    ("guest-sdk/python/tests", "bad_record_job"),
    ("guest-sdk/python/tests", "api_job"),
    ("guest-sdk/python/tests", "mixed_api_job"),
    ("guest-sdk/python/tests", "shared_job"),
    ("guest-sdk/python/tests", "rdd_more_job"),
];

/// Builds the Python jobs with the SDK's build script (once per test process) and returns one component's path.
pub(crate) fn python_job(module: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let outputs: Vec<String> =
        PYTHON_JOBS.iter().map(|(_, m)| format!("target/python/{m}.wasm")).collect();
    let builds: Vec<[&str; 3]> =
        PYTHON_JOBS.iter().zip(&outputs).map(|((dir, m), out)| [*dir, *m, out.as_str()]).collect();
    build_once(
        &BUILT,
        "guest-sdk/python/build.sh",
        &builds.iter().map(|b| &b[..]).collect::<Vec<_>>(),
    );
    Path::new(REPO_ROOT).join("target/python").join(format!("{module}.wasm"))
}

#[test]
fn python_wordcount_output_matches_the_rust_guest_part_for_part() {
    let job = python_job("wordcount");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir(&input).unwrap();
    wisp_tests::write_corpus(&input.join("corpus.txt"), 2 << 20, 17).unwrap();
    std::fs::write(input.join("awkward.txt"), awkward_bytes()).unwrap();
    let py_out = wordcount_matches_rust(&job, &input, dir.path(), "python");
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
    cmd.current_dir(root).args(["guest-sdk/python/test_codec.py", "-v"]);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let run = run_bounded(cmd, Duration::from_secs(60));
    assert!(run.ok(), "Python codec tests failed:\n{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("OK"), "{}", run.stderr);
    // The shared vectors of wit/encoding-vectors.jsonl, both ways, were among them.
    for test in
        ["test_every_vector_value_encodes_to_its_hex", "test_every_vector_hex_decodes_to_its_value"]
    {
        assert!(
            run.stderr.lines().any(|l| l.starts_with(test) && l.ends_with("ok")),
            "{test} did not pass:\n{}",
            run.stderr
        );
    }
}

#[test]
fn python_function_raising_fails_the_job_with_the_exception_message() {
    let job = python_job("raising_job");
    let run = wisp(
        &["run", job.to_str().unwrap(), "--cores", "2", "--conf", "wisp.task.maxFailures=1"],
        RUN_TIMEOUT,
    );
    assert_eq!(run.code, Some(1), "stdout: {} stderr: {}", run.stdout, run.stderr);
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("wisp: error:")).collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    let line = errors[0];
    assert!(line.contains("ValueError: record 7 is unlucky"), "{line}");
    assert!(line.contains("raising_job.explode"), "the error should name the function: {line}");
    assert!(
        line.contains("Traceback") && line.contains("raising_job.py"),
        "the traceback should be kept: {line}"
    );
    assert!(
        !run.stderr.contains("wasm trap") && !run.stderr.contains("panicked"),
        "{}",
        run.stderr
    );
}

/// The only error line of a failed run, which must exit with 1 and never show a bare trap.
fn the_error_line(run: &wisp_tests::Run) -> String {
    assert_eq!(run.code, Some(1), "stdout: {} stderr: {}", run.stdout, run.stderr);
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("wisp: error:")).collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(
        !run.stderr.contains("wasm trap") && !run.stderr.contains("panicked"),
        "{}",
        run.stderr
    );
    errors[0].to_owned()
}

#[test]
fn python_function_returning_the_wrong_encoding_fails_naming_the_value_and_the_type() {
    let job = python_job("bad_record_job");
    let conf = ["--cores", "2", "--conf", "wisp.task.maxFailures=1"];
    let run = wisp(
        &[&["run", job.to_str().unwrap()][..], &conf, &["--", "result"]].concat(),
        RUN_TIMEOUT,
    );
    let line = the_error_line(&run);
    assert!(
        line.contains("op bad_record_job.word_length"),
        "the error should name the function: {line}"
    );
    assert!(
        line.contains("returned str 'ALPHA'") || line.contains("returned str 'BETA'"),
        "and the value: {line}"
    );
    assert!(
        line.contains("not the s64 its return annotation declares"),
        "and the expected encoding: {line}"
    );

    let run =
        wisp(&[&["run", job.to_str().unwrap()][..], &conf, &["--", "input"]].concat(), RUN_TIMEOUT);
    let line = the_error_line(&run);
    // Whichever of the two partitions fails first: ["alpha"] or ["beta", "gamma"].
    let named = ["(5 bytes: b'alpha')", "(4 bytes: b'beta')"]
        .iter()
        .any(|r| line.contains(&format!("op bad_record_job.double: an input record {r}")));
    assert!(named, "{line}");
    assert!(line.contains("is not the s64 its parameter annotation declares"), "{line}");
}

#[test]
fn a_component_built_against_another_wisp_task_version_is_refused_naming_the_version() {
    python_job("raising_job"); // the virtualenv with componentize-py
    let root = Path::new(REPO_ROOT);
    let dir = tempfile::tempdir().unwrap();
    let wit = std::fs::read_to_string(root.join("wit/task.wit")).unwrap();
    assert!(
        wit.contains("package wisp:task@0.2.0;"),
        "this test assumes the contract is wisp:task@0.2.0"
    );
    std::fs::create_dir(dir.path().join("wit")).unwrap();
    std::fs::write(
        dir.path().join("wit/task.wit"),
        wit.replace("package wisp:task@0.2.0;", "package wisp:task@0.0.9;"),
    )
    .unwrap();
    let old = dir.path().join("old.wasm");
    let mut cmd = Command::new(root.join("target/python-venv/bin/componentize-py"));
    cmd.current_dir(root).arg("-d").arg(dir.path().join("wit")).args([
        "-w",
        "job",
        "componentize",
        "raising_job",
    ]);
    cmd.args(["-p", "guest-sdk/python", "-p", "guest-sdk/python/tests", "-o"]).arg(&old);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let built = run_bounded(cmd, BUILD_TIMEOUT);
    assert!(built.ok(), "componentize-py against wisp:task@0.0.9 failed: {}", built.stderr);

    // As a job, and as a functions component loaded by a current job.
    let line = the_error_line(&wisp(&["run", old.to_str().unwrap()], RUN_TIMEOUT));
    assert!(
        line.contains("built against wisp:task@0.0.9; this host implements wisp:task@0.2.0"),
        "the error should name both versions: {line}"
    );
    let out = dir.path().join("out");
    let mixed = python_job("mixed_wordcount");
    let sample = root.join("examples/wordcount/sample.txt");
    let run = wisp(
        &[
            "run",
            mixed.to_str().unwrap(),
            "--",
            sample.to_str().unwrap(),
            out.to_str().unwrap(),
            old.to_str().unwrap(),
        ],
        RUN_TIMEOUT,
    );
    let line = the_error_line(&run);
    assert!(line.contains("cannot load functions component") && line.contains("@0.0.9"), "{line}");
    assert!(!out.exists());
}

/// Input for the word counts: a generated corpus and the awkward-text file, and the count computed here.
fn word_count_input(dir: &Path) -> (PathBuf, HashMap<String, i64>) {
    let input = dir.join("input");
    std::fs::create_dir(&input).unwrap();
    wisp_tests::write_corpus(&input.join("corpus.txt"), 2 << 20, 23).unwrap();
    std::fs::write(input.join("awkward.txt"), awkward_bytes()).unwrap();
    let mut all = std::fs::read(input.join("awkward.txt")).unwrap();
    all.push(b'\n');
    all.extend_from_slice(&std::fs::read(input.join("corpus.txt")).unwrap());
    (input, reference_word_count(&all))
}

#[test]
fn mixed_python_job_with_a_rust_tokenizer_matches_the_rust_word_count() {
    let job = python_job("mixed_wordcount");
    let dir = tempfile::tempdir().unwrap();
    let (input, expected) = word_count_input(dir.path());
    let conf = [
        "--cores",
        "2",
        "--conf",
        "wisp.files.maxPartitionBytes=256k",
        "--conf",
        "wisp.default.parallelism=3",
    ];
    let (mixed_out, rust_out) = (dir.path().join("mixed"), dir.path().join("rust"));
    let (i, m, r) =
        (input.to_str().unwrap(), mixed_out.to_str().unwrap(), rust_out.to_str().unwrap());
    let run = wisp(
        &[&["run", job.to_str().unwrap()][..], &conf, &["--", i, m, TOKENIZER]].concat(),
        RUN_TIMEOUT,
    );
    assert!(run.ok(), "the mixed job failed: {}", run.stderr);
    let run = wisp(&[&["run", WORDCOUNT][..], &conf, &["--", i, r]].concat(), RUN_TIMEOUT);
    assert!(run.ok(), "the Rust word count failed: {}", run.stderr);
    assert_same_parts(&mixed_out, &rust_out, "mixed job");
    assert_eq!(parts(&mixed_out).len(), 3);
    assert_eq!(parse_counts(&read_output_lines(&mixed_out)), expected);

    // A tokenizer path that is not there is the job's one clear error.
    let missing = dir.path().join("no-such-tokenizer.wasm");
    let out = dir.path().join("never");
    let run = wisp(
        &["run", job.to_str().unwrap(), "--", i, out.to_str().unwrap(), missing.to_str().unwrap()],
        RUN_TIMEOUT,
    );
    let line = the_error_line(&run);
    assert!(line.contains("cannot read") && line.contains("no-such-tokenizer.wasm"), "{line}");
    // A job component is not a functions library either way round: the Rust word count has no `tokenize`.
    let run = wisp(
        &["run", job.to_str().unwrap(), "--", i, out.to_str().unwrap(), WORDCOUNT],
        RUN_TIMEOUT,
    );
    let line = the_error_line(&run);
    assert!(
        line.contains("\"tokenize\" does not name a function exported by this component"),
        "{line}"
    );
    assert!(!out.exists());
}

#[test]
fn mixed_python_job_runs_in_cluster_mode_with_the_tokenizer_shipped_to_executors() {
    let job = python_job("mixed_wordcount");
    let cluster = Cluster::start(2, &[], &[]);
    let dir = cluster.dir.path();
    let (input, expected) = word_count_input(dir);
    let (out, rust_out) = (dir.join("mixed-out"), dir.join("rust-out"));
    let conf = ["wisp.files.maxPartitionBytes=512k", "wisp.default.parallelism=3"];
    let run =
        cluster.submit(job.to_str().unwrap(), &conf, &[&input, &out, Path::new(TOKENIZER)], None);
    assert!(run.ok(), "submit failed: {}", run.stderr);
    assert_eq!(parse_counts(&read_output_lines(&out)), expected);
    let run = cluster.submit(WORDCOUNT, &conf, &[&input, &rust_out], None);
    assert!(run.ok(), "submit failed: {}", run.stderr);
    assert_same_parts(&out, &rust_out, "mixed job in cluster mode");
    assert_eq!(cluster.executors_with_tasks().len(), 2, "both executors should have run tasks");
}

/// The API job's two input files and the records written to them.
type ApiInput = (PathBuf, PathBuf, Vec<(String, i64)>, Vec<(String, String)>);

/// PAIRS (`word<TAB>n`) and LABELS (`word<TAB>label`) for the API job, with non-ASCII words so byte order matters.
fn api_input(dir: &Path) -> ApiInput {
    let words: Vec<String> = (0..40)
        .map(|i| format!("w{i}"))
        .chain(["naïve", "Zebra", "éclair", "a"].map(String::from))
        .collect();
    let mut rng = Rng::new(41);
    let pairs: Vec<(String, i64)> = (0..3000)
        .map(|_| {
            (words[rng.below(words.len() as u64) as usize].clone(), rng.below(2001) as i64 - 1000)
        })
        .collect();
    let labels: Vec<(String, String)> = words
        .iter()
        .step_by(3)
        .map(|w| (w.clone(), format!("label of {w}")))
        .chain([("absent".into(), "x".into())])
        .collect();
    let (p, l) = (dir.join("pairs.tsv"), dir.join("labels.tsv"));
    std::fs::write(&p, pairs.iter().map(|(w, n)| format!("{w}\t{n}\n")).collect::<String>())
        .unwrap();
    std::fs::write(&l, labels.iter().map(|(w, s)| format!("{w}\t{s}\n")).collect::<String>())
        .unwrap();
    (p, l, pairs, labels)
}

#[test]
fn python_rdd_api_matches_answers_computed_here() {
    let job = python_job("api_job");
    let dir = tempfile::tempdir().unwrap();
    let (p, l, pairs, labels) = api_input(dir.path());
    let run = wisp(
        &[
            "run",
            job.to_str().unwrap(),
            "--cores",
            "2",
            "--conf",
            "wisp.files.maxPartitionBytes=8k",
            "--",
            p.to_str().unwrap(),
            l.to_str().unwrap(),
        ],
        RUN_TIMEOUT,
    );
    assert!(run.ok(), "the API job failed: {}", run.stderr);
    let got = results(&run.stdout);

    // The answers, computed directly from the input.
    let mut groups: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (w, n) in &pairs {
        groups.entry(w).or_default().push(*n);
    }
    for values in groups.values_mut() {
        values.sort_unstable();
    }
    let sums: BTreeMap<&str, i64> = groups.iter().map(|(w, vs)| (*w, vs.iter().sum())).collect();
    let label_of: HashMap<&str, &str> =
        labels.iter().map(|(w, s)| (w.as_str(), s.as_str())).collect();
    let total: i64 = pairs.iter().map(|(_, n)| n).sum();
    let mut digits: Vec<(&str, String)> = sums
        .iter()
        .flat_map(|(w, s)| {
            s.unsigned_abs().to_string().chars().map(|d| (*w, d.to_string())).collect::<Vec<_>>()
        })
        .collect();
    digits.sort();
    let mut by_length: Vec<(usize, &str)> =
        groups.keys().map(|w| (w.chars().count(), *w)).collect();
    by_length.sort();
    let mut want: BTreeMap<String, Value> = BTreeMap::new();
    let mut put = |name: &str, value: Value| want.insert(name.to_owned(), value);
    put("count", json!(pairs.len()));
    put("count-cached", json!(pairs.len()));
    put("take", json!(pairs[..3]));
    put("first", json!(pairs[0]));
    put("reduce-sum", json!(total));
    put("reduce-max", json!(pairs.iter().map(|(_, n)| *n).max()));
    put("fold-sum", json!(total));
    put("positive-count", json!(pairs.iter().filter(|(_, n)| *n > 0).count()));
    put("distinct-words", json!(groups.keys().collect::<Vec<_>>()));
    put("distinct-count", json!(groups.len()));
    put("group-by-key", json!(groups.iter().collect::<Vec<_>>()));
    // BTreeMap<&str, _> iterates in byte order of the keys, the order sort-by-key promises.
    put("sort-by-key", json!(sums.iter().collect::<Vec<_>>()));
    put("sort-by-key-desc", json!(sums.iter().rev().collect::<Vec<_>>()));
    put(
        "join",
        json!(
            sums.iter()
                .filter_map(|(w, s)| label_of.get(w).map(|l| (w, (s, l))))
                .collect::<Vec<_>>()
        ),
    );
    put("map-values", json!(sums.iter().map(|(w, s)| (w, s * s)).collect::<Vec<_>>()));
    put("flat-map-values", json!(digits));
    put("key-by", json!(by_length));
    put("union-count", json!(2 * pairs.len()));
    for (name, value) in &want {
        assert_eq!(got.get(name), Some(value), "{name}");
    }
    assert_eq!(got.len(), want.len(), "unexpected results: {:?}", got.keys().collect::<Vec<_>>());
}

/// The `name<TAB>json` lines a test job printed.
fn results(stdout: &str) -> BTreeMap<String, Value> {
    stdout
        .lines()
        .map(|line| {
            let (name, value) =
                line.split_once('\t').unwrap_or_else(|| panic!("unexpected output line {line:?}"));
            (
                name.to_owned(),
                serde_json::from_str(value).unwrap_or_else(|e| panic!("{line:?}: {e}")),
            )
        })
        .collect()
}

#[test]
fn python_api_takes_another_components_functions_with_types_parameters_and_aggregators() {
    let job = python_job("mixed_api_job");
    let dir = tempfile::tempdir().unwrap();
    let vocab = [
        "The", "the", "QUICK", "quick", "fox", "naïve", "Naïve", "ÉCLAIRS", "éclairs", "a",
        "Zebra", "over", "Über", "dog",
    ];
    let mut rng = Rng::new(77);
    let seps = [" ", "  ", "\t", " \x0c"];
    let lines: Vec<String> = (0..2000)
        .map(|_| {
            let n = rng.below(9) as usize;
            let words: Vec<&str> =
                (0..n).map(|_| vocab[rng.below(vocab.len() as u64) as usize]).collect();
            let mut line = String::new();
            for w in words {
                line.push_str(w);
                line.push_str(seps[rng.below(seps.len() as u64) as usize]);
            }
            line
        })
        .collect();
    let input = dir.path().join("words.txt");
    std::fs::write(&input, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let run = wisp(
        &[
            "run",
            job.to_str().unwrap(),
            "--cores",
            "2",
            "--conf",
            "wisp.files.maxPartitionBytes=4k",
            "--",
            TOKENIZER,
            input.to_str().unwrap(),
        ],
        RUN_TIMEOUT,
    );
    assert!(run.ok(), "the job failed: {}", run.stderr);
    let got = results(&run.stdout);

    let words: Vec<&str> = lines.iter().flat_map(|l| l.split_ascii_whitespace()).collect();
    let mut long: Vec<String> =
        words.iter().map(|w| w.to_lowercase()).filter(|w| w.chars().count() > 3).collect();
    long.sort();
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for w in &long {
        *counts.entry(w).or_default() += 1;
    }
    assert_eq!(got["words-count"], json!(words.len()));
    assert_eq!(got["long-words"], json!(long));
    assert_eq!(got["long-counts"], json!(counts.iter().collect::<Vec<_>>()));
    assert_eq!(got["total-length"], json!(long.iter().map(|w| w.chars().count()).sum::<usize>()));
    let untyped = got["untyped-collect"].as_str().unwrap();
    assert!(
        untyped.contains("'tokenize'")
            && untyped.contains("have no known type: give it with fn('tokenize', returns=...)"),
        "{untyped}"
    );
    let foreign = got["foreign-reduce"].as_str().unwrap();
    assert!(
        foreign.starts_with("reduce needs Python functions") && foreign.contains("'sum'"),
        "{foreign}"
    );
    assert_eq!(got.len(), 6, "{:?}", got.keys().collect::<Vec<_>>());
}
