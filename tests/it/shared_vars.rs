//! Broadcast variables, exactly-once accumulators and the `wisp:task@0.1.0` compatibility
//! fixture, checked against answers the tests compute themselves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use wisp_tests::{
    RAW_GUEST, RAW_GUEST_V0_1, Rng, SHARED_VARS, parse_counts, read_output_lines,
    reference_word_count, wisp,
};

use crate::RUN_TIMEOUT;
use crate::harness::Cluster;

/// The one `wisp: error:` line of a failed run (exit 1, nothing else on stderr that looks like a host panic).
pub(crate) fn the_error_line(run: &wisp_tests::Run) -> String {
    assert_eq!(run.code, Some(1), "stdout: {} stderr: {}", run.stdout, run.stderr);
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("wisp: error:")).collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(!run.stderr.contains("RUST_BACKTRACE"), "{}", run.stderr);
    errors[0].to_owned()
}

/// Lines of numbers with bad lines mixed in; returns the text and the expected
/// `bad sum min max half_sum bad_lines` of one pass, computed here.
fn numbers_input(seed: u64, lines: usize) -> (String, Expected) {
    let mut rng = Rng::new(seed);
    let mut text = String::new();
    let mut e = Expected::default();
    for i in 0..lines {
        if rng.below(7) == 0 {
            let bad = format!("bad{i}");
            text.push_str(&bad);
            e.bad += 1;
            e.bad_lines.push(bad);
        } else {
            let x = rng.below(2001) as i64 - 1000;
            text.push_str(&x.to_string());
            e.sum += x;
            e.min = Some(e.min.map_or(x, |m: i64| m.min(x)));
            e.max = Some(e.max.map_or(x, |m: i64| m.max(x)));
            e.good += 1;
        }
        text.push('\n');
    }
    e.bad_lines.sort();
    (text, e)
}

#[derive(Default, Debug)]
struct Expected {
    bad: i64,
    good: u64,
    sum: i64,
    min: Option<i64>,
    max: Option<i64>,
    bad_lines: Vec<String>,
}

impl Expected {
    /// The report line of the job's `report` after `times` passes over the input.
    fn line(&self, job: &str, times: usize) -> String {
        let mut lines: Vec<String> =
            self.bad_lines.iter().flat_map(|l| std::iter::repeat_n(l.clone(), times)).collect();
        lines.sort();
        let opt = |v: Option<i64>| v.map_or("-".to_owned(), |v| v.to_string());
        // Halves of integers sum exactly in f64 at these magnitudes.
        let half = (self.sum * times as i64) as f64 / 2.0;
        format!(
            "{job} bad={} sum={} min={} max={} half_sum={half} bad_lines={}",
            self.bad * times as i64,
            self.sum * times as i64,
            opt(self.min),
            opt(self.max),
            lines.join("|")
        )
    }
}

fn check_accumulator_output(stdout: &str, e: &Expected) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.contains(&format!("shuffled_total={}", e.sum).as_str()), "{stdout}");
    assert!(lines.contains(&e.line("job1", 1).as_str()), "job 1 counts once:\n{stdout}");
    assert!(lines.contains(&format!("count={}", e.good).as_str()), "{stdout}");
    // The RDD is not cached: job 2 computes every partition again, and counts once more.
    assert!(lines.contains(&e.line("job2", 2).as_str()), "job 2 counts once more:\n{stdout}");
}

#[test]
fn accumulators_count_each_partition_once_per_job_in_local_mode() {
    let dir = tempfile::tempdir().unwrap();
    let (text, expected) = numbers_input(5, 5000);
    let input = dir.path().join("numbers.txt");
    std::fs::write(&input, text).unwrap();
    let run = wisp(
        &[
            "run",
            SHARED_VARS,
            "--cores",
            "3",
            "--conf",
            "wisp.files.maxPartitionBytes=2k",
            "--",
            "accumulators",
            input.to_str().unwrap(),
            "4",
        ],
        RUN_TIMEOUT,
    );
    assert!(run.ok(), "{}", run.stderr);
    check_accumulator_output(&run.stdout, &expected);
}

#[test]
fn accumulators_count_once_despite_failed_attempts_a_speculative_straggler_and_lost_shuffle_files()
{
    let dir = tempfile::tempdir().unwrap();
    let (text, expected) = numbers_input(6, 6000);
    let input = dir.path().join("numbers.txt");
    std::fs::write(&input, text).unwrap();
    let speculation = [
        "wisp.speculation=true",
        "wisp.speculation.interval=50ms",
        "wisp.speculation.quantile=0.5",
        "wisp.speculation.minTaskRuntime=200ms",
    ];
    // On every executor: the first attempt of map partition 1 runs (adding to the
    // accumulators) and then fails; the first attempt of map partition 2 fails before it runs;
    // map partition 0's first attempt straggles (a speculative copy wins). Executor 2 also
    // deletes its shuffle files when its first map task ends (before reporting it), so the map
    // stage runs again for them.
    let faults = "fail kind=map partition=1 attempt=0 at=end message=injected failure after its work\n\
                  fail kind=map partition=2 attempt=0 message=injected failure\n\
                  sleep kind=map partition=0 attempt=0 ms=30000";
    let one = faults;
    let two = format!("delete-shuffle after-map-tasks=1\n{faults}");
    let three = faults;
    let cluster = Cluster::start_with_faults(&speculation, &[], &[one, &two, three]);
    let args = [Path::new("accumulators"), input.as_path(), Path::new("8")];
    let run = cluster.submit(SHARED_VARS, &["wisp.files.maxPartitionBytes=2k"], &args, None);
    assert!(run.ok(), "{}", run.stderr);
    check_accumulator_output(&run.stdout, &expected);

    // The faults happened: a failed attempt, a speculative copy, and a second map stage attempt.
    let events = cluster.events();
    let of = |kind: &'static str| events.iter().filter(move |e| e["event"] == kind);
    let failed = |message: &str| {
        of("task_end").any(|e| {
            e["result"] == "failed"
                && e["failure"].as_str().is_some_and(|f| f.contains(message))
                && (e["metrics"]["records_read"].as_u64().unwrap_or(0) > 0)
                    == message.ends_with("after its work")
        })
    };
    assert!(failed("injected failure after its work"), "an attempt failed after it ran");
    assert!(failed("injected failure"), "an attempt failed before it ran");
    assert!(of("task_start").any(|e| e["speculative"] == Value::Bool(true)), "a speculative copy");
    assert!(
        of("stage_submitted").any(|e| e["attempt"].as_u64().unwrap_or(0) > 0),
        "a stage ran again after the lost shuffle files"
    );
}

#[test]
fn broadcast_lookups_match_an_independent_sum_and_a_destroyed_broadcast_cannot_be_read() {
    let (n, entries) = (20_000u64, 1_000u64);
    let expected: u64 = (0..n).map(|x| format!("v{}", (x % entries) * 7).len() as u64).sum();
    let run = wisp(
        &[
            "run",
            SHARED_VARS,
            "--cores",
            "3",
            "--conf",
            "wisp.task.maxFailures=1",
            "--",
            "broadcast",
            &n.to_string(),
            "6",
            &entries.to_string(),
        ],
        RUN_TIMEOUT,
    );
    assert!(run.ok(), "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], format!("total={expected}"));
    assert_eq!(lines[1], format!("driver_entries={entries}"));
    assert!(lines[2].starts_with("after_destroy=job failed:"), "{}", lines[2]);
    // The host's reason, not the guest's panic over it.
    assert!(
        lines[2].ends_with(
            "last failure: broadcast 0 does not exist or was destroyed before this job started"
        ),
        "{}",
        lines[2]
    );
}

#[test]
fn broadcast_values_reach_every_executor_of_a_cluster() {
    let (n, entries) = (30_000u64, 5_000u64);
    let expected: u64 = (0..n).map(|x| format!("v{}", (x % entries) * 7).len() as u64).sum();
    let cluster = Cluster::start(2, &[], &[]);
    let n_arg = n.to_string();
    let args = [Path::new("broadcast"), Path::new(&n_arg), Path::new("8"), Path::new("5000")];
    let run = cluster.submit(SHARED_VARS, &["wisp.task.maxFailures=1"], &args, None);
    assert!(run.ok(), "{}", run.stderr);
    assert!(run.stdout.lines().any(|l| l == format!("total={expected}")), "{}", run.stdout);
    assert!(run.stdout.contains("broadcast 0 does not exist or was destroyed"), "{}", run.stdout);
    // The table's encoding (a list of strings: `u32le len ++ bytes` each) arrives once per
    // executor that ran its tasks, however many of those tasks it ran.
    let table: u64 = (0..entries).map(|k| 4 + format!("v{}", k * 7).len() as u64).sum();
    let needle = format!("bytes={table}");
    let received = || -> Vec<usize> {
        (1..=2)
            .map(|i| {
                let log = std::fs::read_to_string(cluster.executor_log_path(i)).unwrap_or_default();
                log.lines()
                    .filter(|l| l.contains("shipped bytes received"))
                    .filter(|l| l.split_whitespace().any(|w| w == needle))
                    .count()
            })
            .collect()
    };
    let first = received();
    eprintln!("broadcast of {table} bytes received per executor: {first:?}");
    assert!(first.iter().all(|&n| n <= 1), "at most once per executor: {first:?}");
    assert!(first.iter().sum::<usize>() >= 1, "shipped at least once: {first:?}");

    // The job's main destroyed the broadcast: every executor that received it drops its bytes.
    let log_lines = |i: usize, what: &str| -> Vec<String> {
        let log = std::fs::read_to_string(cluster.executor_log_path(i)).unwrap_or_default();
        log.lines().filter(|l| l.contains(what)).map(str::to_owned).collect()
    };
    for i in (1..=2).filter(|&i| first[i - 1] == 1) {
        let dropped = wisp_tests::wait_for("the destroyed broadcast dropped", RUN_TIMEOUT, || {
            Some(log_lines(i, "destroyed broadcast dropped")).filter(|l| !l.is_empty())
        });
        assert!(dropped[0].split_whitespace().any(|w| w == needle), "{}", dropped[0]);
    }
    // When the application ends, every executor drops what it kept for it: the component
    // and the application's work directory.
    let ended = |i: usize| {
        let log = std::fs::read_to_string(cluster.executor_log_path(i)).unwrap_or_default();
        log.lines().filter(|l| l.contains("application ended here")).map(str::to_owned).collect()
    };
    for i in (1..=2).filter(|&i| first[i - 1] == 1) {
        let lines: Vec<String> =
            wisp_tests::wait_for("the end of the application", RUN_TIMEOUT, || {
                Some(ended(i)).filter(|l: &Vec<String>| !l.is_empty())
            });
        let dropped: u64 = lines[0]
            .split_whitespace()
            .find_map(|w| w.strip_prefix("dropped_shipped_bytes=")?.parse().ok())
            .unwrap();
        assert!(dropped > 0, "the component dropped: {}", lines[0]);
        let apps = crate::harness::app_dirs(&cluster.executor_dir(i));
        assert!(apps.is_empty(), "executor {i} keeps no application directory: {apps:?}");
    }
    // The next application gets them again (the executors ask for what they dropped).
    let run = cluster.submit(SHARED_VARS, &["wisp.task.maxFailures=1"], &args, None);
    assert!(run.ok(), "{}", run.stderr);
    assert!(run.stdout.lines().any(|l| l == format!("total={expected}")), "{}", run.stdout);
    let second = received();
    assert!(
        (0..2).all(|i| second[i] >= first[i]) && second.iter().sum::<usize>() > first.iter().sum(),
        "sent again after the first application ended: {first:?} then {second:?}"
    );
}

#[test]
fn shared_variable_misuse_fails_with_one_line_naming_the_cause() {
    let cases: [(&[&str], &[&str], &str); 3] = [
        (
            &["wisp.task.maxFailures=1"],
            &["read-destroyed"],
            "broadcast 0 does not exist or was destroyed",
        ),
        (
            &["wisp.broadcast.maxBytes=1k"],
            &["broadcast-bytes", "5000"],
            "exceeds wisp.broadcast.maxBytes (1024 bytes)",
        ),
        (&[], &["add-on-driver"], "accumulator 0: add is only allowed inside tasks"),
    ];
    for (conf, args, needle) in cases {
        let mut argv = vec!["run", SHARED_VARS];
        for c in conf {
            argv.extend(["--conf", c]);
        }
        argv.push("--");
        argv.extend(args);
        let line = the_error_line(&wisp(&argv, RUN_TIMEOUT));
        assert!(line.contains(needle), "{args:?}: {line}");
    }
}

#[test]
fn a_component_built_against_wisp_task_0_1_0_runs_unchanged() {
    let fixture = std::fs::read(RAW_GUEST_V0_1).unwrap();
    let has = |needle: &str| fixture.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(has("wisp:task/driver@0.1.0") && !has("wisp:task/driver@0.2.0"), "a 0.1.0 fixture");
    let current = std::fs::read(RAW_GUEST).unwrap();
    assert!(current.windows(22).any(|w| w == b"wisp:task/driver@0.2.0"), "raw-guest is 0.2.0");

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let mut text = String::new();
    let mut rng = Rng::new(9);
    for _ in 0..3000 {
        text.push_str(&format!("w{} w{}\n", rng.below(50), rng.below(7)));
    }
    std::fs::write(&input, &text).unwrap();
    for job in [RAW_GUEST_V0_1, RAW_GUEST] {
        let out = dir.path().join(format!("out-{}", job.len()));
        let run = wisp(
            &[
                "run",
                job,
                "--conf",
                "wisp.files.maxPartitionBytes=4k",
                "--",
                input.to_str().unwrap(),
                out.to_str().unwrap(),
            ],
            RUN_TIMEOUT,
        );
        assert!(run.ok(), "{job}: {}", run.stderr);
        assert_eq!(parse_counts(&read_output_lines(&out)), reference_word_count(text.as_bytes()));
    }
}

/// Spark's PageRank computed here: ranks of the pages with an incoming link after `iterations`.
fn reference_pagerank(edges: &[(String, String)], iterations: u32) -> BTreeMap<String, f64> {
    let mut links: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (s, d) in edges {
        links.entry(s.clone()).or_default().insert(d.clone());
    }
    let mut ranks: BTreeMap<String, f64> = links.keys().map(|k| (k.clone(), 1.0)).collect();
    for _ in 0..iterations {
        let mut sums: BTreeMap<String, f64> = BTreeMap::new();
        for (page, urls) in &links {
            if let Some(rank) = ranks.get(page) {
                for url in urls {
                    *sums.entry(url.clone()).or_default() += rank / urls.len() as f64;
                }
            }
        }
        ranks = sums.into_iter().map(|(k, s)| (k, 0.15 + 0.85 * s)).collect();
    }
    ranks
}

/// Per job of an event log: (stages of its DAG, largest number of RDDs one of its stages' tasks computes).
fn job_sizes(dir: &Path) -> Vec<(usize, usize)> {
    let file = std::fs::read_dir(dir).unwrap().next().unwrap().unwrap().path();
    let events: Vec<Value> = std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut sizes = Vec::new();
    for job in events.iter().filter(|e| e["event"] == "job_start") {
        let stages: Vec<&Value> = job["stages"].as_array().unwrap().iter().collect();
        let plan = events
            .iter()
            .filter(|e| e["event"] == "stage_submitted" && stages.contains(&&e["stage"]))
            .map(|e| e["rdds"].as_array().unwrap().len())
            .max()
            .unwrap_or(0);
        sizes.push((stages.len(), plan));
    }
    sizes
}

#[test]
fn pagerank_checkpointed_every_10_of_100_iterations_keeps_dags_and_plans_bounded_with_the_same_ranks()
 {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(17);
    let edges: Vec<(String, String)> =
        (0..500).map(|_| (format!("p{}", rng.below(80)), format!("p{}", rng.below(80)))).collect();
    let text: String = edges.iter().map(|(s, d)| format!("{s} {d}\n")).collect();
    let input = dir.path().join("edges.txt");
    std::fs::write(&input, text).unwrap();
    let expected = reference_pagerank(&edges, 100);
    let mut outputs = Vec::new();
    let mut sizes = Vec::new();
    for every in ["10", "0"] {
        let log = dir.path().join(format!("events-{every}"));
        std::fs::create_dir(&log).unwrap();
        let checkpoints = dir.path().join("checkpoints");
        let run = wisp(
            &[
                "run",
                SHARED_VARS,
                "--cores",
                "2",
                "--event-log",
                log.to_str().unwrap(),
                "--",
                "pagerank",
                input.to_str().unwrap(),
                "100",
                every,
                checkpoints.to_str().unwrap(),
            ],
            RUN_TIMEOUT,
        );
        assert!(run.ok(), "{}", run.stderr);
        let ranks: BTreeMap<String, f64> = run
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("rank "))
            .map(|l| {
                let (p, r) = l.split_once(' ').unwrap();
                (p.to_owned(), r.parse().unwrap())
            })
            .collect();
        assert_eq!(ranks.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
        for (page, rank) in &ranks {
            let want = expected[page];
            assert!((rank - want).abs() <= 1e-9 * want.abs(), "{page}: {rank} vs {want}");
        }
        outputs.push(run.stdout);
        sizes.push(job_sizes(&log));
    }
    assert_eq!(outputs[0], outputs[1], "the same ranks with and without checkpoints");
    let (with, without) = (&sizes[0], &sizes[1]);
    eprintln!("per job (DAG stages, RDDs per task plan) with checkpoints every 10: {with:?}");
    eprintln!("per job without checkpoints: {without:?}");
    let max_stages = with.iter().map(|s| s.0).max().unwrap();
    let max_plan = with.iter().map(|s| s.1).max().unwrap();
    assert!(max_stages <= 2 * 10 + 4, "checkpointed DAGs stay bounded: {with:?}");
    assert!(max_plan <= 12, "checkpointed task plans stay bounded: {with:?}");
    assert!(without.last().unwrap().0 >= 100, "without checkpoints the DAG grows: {without:?}");
}

#[test]
fn whole_text_files_and_binary_lines_read_every_byte() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let files: [(&str, &[u8]); 3] =
        [("a.txt", b"caf\xe9\r\nna\xefve\n"), ("b.txt", b"plain\nlast"), ("c.txt", b"")];
    for (name, bytes) in files {
        std::fs::write(input.join(name), bytes).unwrap();
    }
    std::fs::write(input.join("_hidden"), b"skipped").unwrap();
    let run = wisp(&["run", SHARED_VARS, "--", "files", input.to_str().unwrap()], RUN_TIMEOUT);
    assert!(run.ok(), "{}", run.stderr);
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut expected = Vec::new();
    for (name, bytes) in files {
        expected.push(format!("whole {name} {}", hex(String::from_utf8_lossy(bytes).as_bytes())));
    }
    for (_, bytes) in files {
        let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        if lines.last() == Some(&&b""[..]) {
            lines.pop();
        }
        for l in lines {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            expected.push(format!("raw {}", hex(l)));
        }
    }
    assert_eq!(run.stdout.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn checkpoint_without_a_directory_fails_with_one_line_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(wisp_tests::wisp_bin());
    cmd.current_dir(dir.path()).args(["run", SHARED_VARS, "--", "checkpoint-no-dir"]);
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let line = the_error_line(&wisp_tests::run_bounded(cmd, RUN_TIMEOUT));
    assert!(line.contains("no checkpoint directory (call set_checkpoint_dir first)"), "{line}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing left behind");
}

fn debug_list<T: std::fmt::Debug>(items: impl IntoIterator<Item = T>) -> String {
    items.into_iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(",")
}

#[test]
fn the_rest_of_the_rdd_api_matches_answers_computed_here() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(23);
    let xs: Vec<i64> = (0..60).map(|_| rng.below(41) as i64 - 20).collect();
    let ys: Vec<i64> = (0..12).map(|_| rng.below(41) as i64 - 20).collect();
    let write = |name: &str, v: &[i64]| {
        let path = dir.path().join(name);
        std::fs::write(&path, v.iter().map(|x| format!("{x}\n")).collect::<String>()).unwrap();
        path
    };
    let (a, b) = (write("a.txt", &xs), write("b.txt", &ys));
    let run = wisp(
        &[
            "run",
            SHARED_VARS,
            "--cores",
            "3",
            "--",
            "rdd-api",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
        RUN_TIMEOUT,
    );
    assert!(run.ok(), "{}", run.stderr);
    let got: BTreeMap<&str, &str> =
        run.stdout.lines().map(|l| l.split_once(['=', ' ']).unwrap()).collect();
    let mut sorted = xs.clone();
    sorted.sort();
    assert_eq!(got["take_ordered"], debug_list(&sorted[..5]));
    assert_eq!(got["top"], debug_list(sorted.iter().rev().take(5)));
    let mut counts: BTreeMap<i64, u64> = BTreeMap::new();
    xs.iter().for_each(|x| *counts.entry(*x).or_default() += 1);
    assert_eq!(got["count_by_value"], debug_list(counts.iter().map(|(k, v)| (*k, *v))));
    assert_eq!(
        got["zip_with_index"],
        debug_list(xs.iter().enumerate().map(|(i, x)| (*x, i as u64)))
    );
    assert_eq!(got["unique_ids"], format!("{} of {}", xs.len(), xs.len()));
    let ys_set: BTreeSet<i64> = ys.iter().copied().collect();
    let xs_set: BTreeSet<i64> = xs.iter().copied().collect();
    let subtract: Vec<i64> = sorted.iter().copied().filter(|x| !ys_set.contains(x)).collect();
    assert_eq!(got["subtract"], debug_list(&subtract));
    assert_eq!(got["intersection"], debug_list(xs_set.intersection(&ys_set)));
    let mut pairs: Vec<(i64, i64)> =
        ys.iter().flat_map(|a| ys.iter().map(move |b| (*a, *b))).collect();
    pairs.sort();
    assert_eq!(got["cartesian"], debug_list(&pairs));
    let glom: usize = got["glom"].split(',').map(|n| n.parse::<usize>().unwrap()).sum();
    assert_eq!(glom, xs.len(), "glom keeps every record: {}", got["glom"]);
    let y_keys: BTreeSet<i64> = ys.iter().map(|y| y.rem_euclid(5)).collect();
    let mut sbk: Vec<(i64, i64)> =
        xs.iter().map(|x| (x.rem_euclid(5), *x)).filter(|(k, _)| !y_keys.contains(k)).collect();
    sbk.sort();
    assert_eq!(got["subtract_by_key"], debug_list(&sbk));
    let three: Vec<i64> = sorted.iter().copied().filter(|x| x.rem_euclid(5) == 3).collect();
    assert_eq!(got["lookup3"], debug_list(&three));

    let n = xs.len() as f64;
    let mean = xs.iter().sum::<i64>() as f64 / n;
    let var = xs.iter().map(|x| (*x as f64 - mean).powi(2)).sum::<f64>() / n;
    let fields: BTreeMap<&str, f64> = got["stats"]
        .split(' ')
        .map(|kv| kv.split_once('=').unwrap())
        .map(|(k, v)| (k, v.parse().unwrap()))
        .collect();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    assert_eq!(fields["count"], n);
    assert!(close(fields["mean"], mean) && close(fields["stdev"], var.sqrt()), "{fields:?}");
    assert!(close(fields["sample_stdev"], (var * n / (n - 1.0)).sqrt()), "{fields:?}");
    assert_eq!((fields["min"], fields["max"]), (sorted[0] as f64, *sorted.last().unwrap() as f64));
    assert!(close(fields["sum"], xs.iter().sum::<i64>() as f64));
    let ys_mean = ys.iter().sum::<i64>() as f64 / ys.len() as f64;
    let sums: BTreeMap<&str, f64> = got["sum"]
        .split(' ')
        .enumerate()
        .map(|(i, kv)| if i == 0 { ("sum", kv) } else { kv.split_once('=').unwrap() })
        .map(|(k, v)| (k, v.parse().unwrap()))
        .collect();
    assert!(close(sums["sum"], xs.iter().sum::<i64>() as f64) && close(sums["mean"], ys_mean));
}

#[test]
fn python_broadcasts_accumulators_and_checkpoints_match_answers_computed_here() {
    let job = crate::python::python_job("shared_job");
    let dir = tempfile::tempdir().unwrap();
    let (text, e) = numbers_input(8, 300);
    let input = dir.path().join("numbers.txt");
    std::fs::write(&input, text).unwrap();
    let (n, entries) = (1000u64, 10u64);
    let name_len = |x: u64| format!("v{}", (x % entries) * 7).len() as u64;
    let run = wisp(
        &[
            "run",
            job.to_str().unwrap(),
            "--",
            &n.to_string(),
            &entries.to_string(),
            input.to_str().unwrap(),
            dir.path().join("checkpoints").to_str().unwrap(),
        ],
        RUN_TIMEOUT,
    );
    assert!(run.ok(), "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], format!("total={}", (0..n).map(name_len).sum::<u64>()));
    assert_eq!(lines[1], format!("count={}", e.good));
    let half: f64 = e.sum as f64 / 2.0;
    assert_eq!(lines[2], format!("bad={} half_sum={half:?} seen={}", e.bad, e.bad_lines.join("|")));
    assert_eq!(lines[3], format!("checkpointed={:?}", (0..10).map(name_len).collect::<Vec<_>>()));
}

#[test]
fn tree_aggregate_and_tree_reduce_run_spark_s_levels_with_the_same_answers() {
    use crate::shared_vars_js::{tree_jobs, tree_levels};
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(31);
    let xs: Vec<i64> = (0..500).map(|_| rng.below(2001) as i64 - 1000).collect();
    let input = dir.path().join("xs.txt");
    std::fs::write(&input, xs.iter().map(|x| format!("{x}\n")).collect::<String>()).unwrap();
    let events = dir.path().join("events");
    std::fs::create_dir(&events).unwrap();
    let run = wisp(
        &[
            "run",
            SHARED_VARS,
            "--cores",
            "2",
            "--event-log",
            events.to_str().unwrap(),
            "--",
            "tree",
            input.to_str().unwrap(),
        ],
        RUN_TIMEOUT,
    );
    assert!(run.ok(), "{}", run.stderr);
    let got: BTreeMap<&str, &str> = run.stdout.lines().filter_map(|l| l.split_once('=')).collect();
    let (sum, count) = (xs.iter().sum::<i64>(), xs.len());
    for depth in 1..=3 {
        assert_eq!(got[format!("tree_aggregate{depth}").as_str()], format!("{sum} {count}"));
    }
    assert_eq!(got["tree_reduce"], xs.iter().max().unwrap().to_string());
    assert_eq!(got["tree_reduce_empty"], "tree_reduce: the RDD is empty");
    assert_eq!(got["depth0"], "tree_aggregate: depth must be at least 1, got 0");
    // The shuffle levels after the 20 partitions each job starts from, as Spark's formula says:
    // tree_aggregate at depths 1, 2, 3, then tree_reduce at depth 2 twice (the empty one too).
    let want: Vec<Vec<u64>> = [1, 2, 3, 2, 2].iter().map(|d| tree_levels(20, *d)).collect();
    assert_eq!(want[1..3], [vec![4], vec![6, 2]], "the formula itself");
    assert_eq!(tree_jobs(&events, 20), want, "the tree jobs' stages");
}
