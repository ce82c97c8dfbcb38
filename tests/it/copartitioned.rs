//! Co-partitioned joins are narrow: from the event log, a join of two RDDs already hash-partitioned like it shuffles neither, and PageRank shuffles once per iteration.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use wisp_tests::{API_JOB, PAGERANK, Rng, Run, wisp};

use crate::RUN_TIMEOUT;
use crate::examples::{check_ranks, reference_pagerank};

/// Every event of the one application logged under `dir`.
fn events(dir: &Path) -> Vec<Value> {
    let mut files = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path());
    let file = files.next().expect("an event log file");
    assert!(files.next().is_none(), "one application");
    let text = std::fs::read_to_string(file).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The `(stage, attempt)` of every submitted shuffle-map stage.
fn shuffle_map_submissions(events: &[Value]) -> Vec<(u64, u64)> {
    events
        .iter()
        .filter(|v| v["event"] == "stage_submitted" && v["kind"] == "shuffle-map")
        .map(|v| (v["stage"].as_u64().unwrap(), v["attempt"].as_u64().unwrap()))
        .collect()
}

fn run_logged(dir: &Path, job: &str, args: &[&str]) -> Run {
    let log = dir.join("events");
    let mut all = vec!["run", job, "--cores", "2", "--event-log", log.to_str().unwrap(), "--"];
    all.extend_from_slice(args);
    let run = wisp(&all, RUN_TIMEOUT);
    assert!(run.ok(), "{}", run.stderr);
    run
}

/// `k v` lines with keys below `keys`, and their sums per key.
fn pairs(rng: &mut Rng, lines: usize, keys: u64) -> (String, BTreeMap<u64, i64>) {
    let mut text = String::new();
    let mut sums = BTreeMap::new();
    for _ in 0..lines {
        let (k, v) = (rng.below(keys), rng.below(1000) as i64 - 500);
        text.push_str(&format!("{k} {v}\n"));
        *sums.entry(k).or_insert(0) += v;
    }
    (text, sums)
}

#[test]
fn join_of_two_reduced_rdds_runs_two_shuffle_map_stages() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(11);
    let (left, lsums) = pairs(&mut rng, 20_000, 3000);
    let (right, rsums) = pairs(&mut rng, 15_000, 4000);
    let (l, r) = (dir.path().join("left.txt"), dir.path().join("right.txt"));
    std::fs::write(&l, left).unwrap();
    std::fs::write(&r, right).unwrap();
    let run = run_logged(
        dir.path(),
        API_JOB,
        &["copartitioned-join", l.to_str().unwrap(), r.to_str().unwrap()],
    );

    let mut expected = Vec::new();
    for (k, v) in &lsums {
        if let Some(w) = rsums.get(k) {
            expected.push(format!("join {k} {v} {w}"));
            expected.push(format!("product {k} {}", v * w));
        }
    }
    expected.sort();
    let matches = expected.len() / 2;
    assert!(matches > 2000, "the data should join many keys: {matches}");
    expected.push(format!("default-join count={matches}"));
    let got: Vec<String> = run.stdout.lines().map(String::from).collect();
    assert_eq!(got, expected);

    // The two reduce_by_key shuffles, once each; the joins and the reduce after
    // the join read their inputs where they are (Spark's one-to-one dependency).
    let events = events(&dir.path().join("events"));
    assert_eq!(shuffle_map_submissions(&events).len(), 2, "{:?}", shuffle_map_submissions(&events));
    let jobs: Vec<&Value> = events.iter().filter(|v| v["event"] == "job_end").collect();
    assert_eq!(jobs.len(), 3);
    assert!(jobs.iter().all(|j| j["result"] == "succeeded"));
}

#[test]
fn pagerank_partitions_links_once_and_shuffles_once_per_iteration() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(17);
    let mut edges = String::new();
    for _ in 0..5000 {
        edges.push_str(&format!("p{} p{}\n", rng.below(400), rng.below(500)));
    }
    let (e, out) = (dir.path().join("edges.txt"), dir.path().join("ranks"));
    std::fs::write(&e, &edges).unwrap();
    let iterations = 6;
    let it = iterations.to_string();
    run_logged(dir.path(), PAGERANK, &[e.to_str().unwrap(), &it, out.to_str().unwrap()]);

    check_ranks(&out, &reference_pagerank(&edges, iterations));

    // `distinct` and `group_by_key` build the links once; then each
    // iteration's join reads the cached links and the previous ranks in
    // place, and only its `reduce_by_key` shuffles.
    let events = events(&dir.path().join("events"));
    let maps = shuffle_map_submissions(&events);
    let stages: BTreeSet<u64> = maps.iter().map(|m| m.0).collect();
    assert_eq!(stages.len(), 2 + iterations, "{maps:?}");
    assert!(maps.iter().all(|m| m.1 == 0), "no stage ran twice: {maps:?}");
}
