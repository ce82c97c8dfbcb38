//! Word count over awkward inputs, checked against a word count computed by the test itself.

use std::path::Path;

use wisp_tests::{
    RAW_GUEST, Rng, WORDCOUNT, awkward_bytes, parse_counts, read_output_lines,
    reference_word_count, wisp,
};

use crate::RUN_TIMEOUT;

fn run_wordcount(job: &str, input: &Path, out: &Path, extra: &[&str]) -> wisp_tests::Run {
    let mut args = vec!["run", job, "--cores", "2"];
    args.extend_from_slice(extra);
    args.push("--");
    let (i, o) = (input.to_str().unwrap(), out.to_str().unwrap());
    args.extend_from_slice(&[i, o]);
    wisp(&args, RUN_TIMEOUT)
}

fn check_against_reference(job: &str, files: &[(&str, Vec<u8>)], extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir(&input).unwrap();
    let mut all = Vec::new();
    for (name, bytes) in files {
        std::fs::write(input.join(name), bytes).unwrap();
        if !name.starts_with('.') && !name.starts_with('_') {
            all.extend_from_slice(bytes);
            // Files are read as separate inputs: a missing final newline ends the last line.
            all.push(b'\n');
        }
    }
    let out = dir.path().join("out");
    let run = run_wordcount(job, &input, &out, extra);
    assert!(run.ok(), "wisp failed: {}", run.stderr);
    assert!(out.join("_SUCCESS").exists(), "no _SUCCESS marker");
    assert_eq!(parse_counts(&read_output_lines(&out)), reference_word_count(&all));
    // Combine/merge output comes in ascending key-byte order (the contract in wit/task.wit).
    for part in std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("part-"))
    {
        let text = std::fs::read(&part).unwrap();
        let words: Vec<&[u8]> = text
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| l.split(|&b| b == b'\t').next().unwrap())
            .collect();
        assert!(words.windows(2).all(|w| w[0] < w[1]), "{} is not in key order", part.display());
    }
}

#[test]
fn wordcount_of_awkward_text_with_tiny_splits_matches_reference() {
    // 64-byte splits: most lines cross split boundaries, and one line is larger than many splits.
    check_against_reference(
        WORDCOUNT,
        &[("a.txt", awkward_bytes())],
        &["--conf", "wisp.files.maxPartitionBytes=64"],
    );
}

#[test]
fn wordcount_of_directory_skips_hidden_files_and_handles_empty_ones() {
    let mut rng = Rng::new(7);
    let random: Vec<u8> = (0..20_000).map(|_| b"ab c\n\r\x80"[rng.below(7) as usize]).collect();
    let files = [
        ("1-empty.txt", Vec::new()),
        ("2-newlines.txt", b"\n\n\n".to_vec()),
        ("3-awkward.txt", awkward_bytes()),
        ("4-random.txt", random),
        (".hidden", b"hidden words must not count\n".to_vec()),
        ("_SUCCESS", b"neither these\n".to_vec()),
    ];
    check_against_reference(WORDCOUNT, &files, &["--conf", "wisp.files.maxPartitionBytes=1000"]);
}

#[test]
fn wordcount_of_generated_corpus_matches_reference_with_default_splits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corpus.txt");
    wisp_tests::write_corpus(&path, 3 << 20, 11).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    check_against_reference(
        WORDCOUNT,
        &[("corpus.txt", bytes)],
        &["--conf", "wisp.files.maxPartitionBytes=256k"],
    );
}

#[test]
fn raw_wit_bindgen_guest_counts_words_like_the_sdk() {
    check_against_reference(
        RAW_GUEST,
        &[("a.txt", awkward_bytes())],
        &["--conf", "wisp.files.maxPartitionBytes=100"],
    );
}

#[test]
fn event_log_records_the_two_stages_of_word_count() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a b c\nb c\nc\n".repeat(100)).unwrap();
    let out = dir.path().join("out");
    let log = dir.path().join("log");
    let run = run_wordcount(
        WORDCOUNT,
        &input,
        &out,
        &["--event-log", log.to_str().unwrap(), "--conf", "wisp.files.maxPartitionBytes=300"],
    );
    assert!(run.ok(), "{}", run.stderr);
    let file = std::fs::read_dir(&log).unwrap().next().unwrap().unwrap().path();
    let events: Vec<serde_json::Value> = std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |kind: &str| events.iter().filter(|e| e["event"] == kind).collect::<Vec<_>>();
    let stages = of("stage_submitted");
    assert_eq!(stages.len(), 2, "one shuffle-map stage and one result stage: {stages:?}");
    assert_eq!(stages[0]["kind"], "shuffle-map");
    assert_eq!(stages[1]["kind"], "result");
    assert_eq!(stages[1]["parents"], serde_json::json!([stages[0]["stage"]]));
    let map_tasks = stages[0]["tasks"].as_u64().unwrap();
    let size = std::fs::metadata(&input).unwrap().len();
    assert!(map_tasks >= size / 300, "splits of 300 bytes: {map_tasks} tasks for {size} bytes");
    let ends = of("task_end");
    assert_eq!(ends.len() as u64, map_tasks + stages[1]["tasks"].as_u64().unwrap());
    assert!(ends.iter().all(|e| e["result"] == "succeeded"));
    let read: u64 = ends
        .iter()
        .filter(|e| e["stage"] == stages[0]["stage"])
        .map(|e| e["metrics"]["records_read"].as_u64().unwrap())
        .sum();
    assert_eq!(read, 300, "every line read exactly once");
    let jobs = of("job_end");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["result"], "succeeded");
}
