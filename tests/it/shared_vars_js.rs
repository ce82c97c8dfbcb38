//! The JavaScript SDK's broadcast variables, accumulators, checkpoints, new sources and the rest of
//! the RDD API (`guest-sdk/js/fixtures/shared_job.js`), checked against answers computed here, and
//! the SDK side of them under node (`guest-sdk/js/test/shared.test.mjs`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;

use serde_json::{Value, json};
use wisp_tests::{Rng, wisp};

use crate::RUN_TIMEOUT;
use crate::harness::Cluster;
use crate::js::js_job;
use crate::shared_vars::the_error_line;

/// The `name=JSON` lines of a run's stdout.
fn results(stdout: &str) -> HashMap<String, Value> {
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            (k.to_owned(), serde_json::from_str(v).unwrap_or_else(|e| panic!("{k}: {e}: {v}")))
        })
        .collect()
}

/// A JSON value with every number as f64 (JS prints integral floats as integers).
fn normalize(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())
        }
        other => other.clone(),
    }
}

fn assert_same(got: &HashMap<String, Value>, name: &str, want: &Value) {
    let value = got.get(name).unwrap_or_else(|| panic!("no {name} in the output"));
    assert!(normalize(value) == normalize(want), "{name}: got {value}, want {want}");
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

/// Lines of integers with bad lines mixed in, and what the fixture's accumulators must hold
/// after one pass, as the JSON the fixture prints (`times` passes: sums and bad lines repeated).
fn numbers(seed: u64, lines: usize) -> (String, impl Fn(u64) -> Value) {
    let mut rng = Rng::new(seed);
    let (mut text, mut good, mut bad) = (String::new(), Vec::new(), Vec::new());
    for i in 0..lines {
        if rng.below(6) == 0 {
            bad.push(format!("x{i}"));
            text.push_str(&format!("x{i}\n"));
        } else {
            let x = rng.below(3001) as i64 - 1500;
            good.push(x);
            text.push_str(&format!("{x}\n"));
        }
    }
    let expected = move |times: u64| {
        let sum: i64 = good.iter().sum::<i64>() * times as i64;
        let (min, max) = (*good.iter().min().unwrap(), *good.iter().max().unwrap());
        let mut seen: Vec<&String> = bad.iter().flat_map(|b| vec![b; times as usize]).collect();
        seen.sort();
        json!({
            "bad": bad.len() as u64 * times, "sum": sum, "min": min, "max": max,
            "half": sum as f64 / 2.0, "halfMin": min as f64 / 2.0, "halfMax": max as f64 / 2.0,
            "seen": seen, "good": good.len(),
        })
    };
    (text, expected)
}

/// `expected` without the `good` count the fixture does not print.
fn report(expected: &Value) -> Value {
    let mut v = expected.clone();
    v.as_object_mut().unwrap().remove("good");
    v
}

#[test]
fn js_broadcasts_accumulators_checkpoints_and_the_rest_of_the_rdd_api_match_answers_computed_here()
{
    let job = js_job("shared_job");
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(31);
    let xs: Vec<i64> = (0..60).map(|_| rng.below(41) as i64 - 20).collect();
    let ys: Vec<i64> = (0..12).map(|_| rng.below(41) as i64 - 20).collect();
    let write = |name: &str, v: &[i64]| {
        let path = dir.path().join(name);
        std::fs::write(&path, v.iter().map(|x| format!("{x}\n")).collect::<String>()).unwrap();
        path
    };
    let (a, b) = (write("a.txt", &xs), write("b.txt", &ys));
    let (text, expected) = numbers(12, 400);
    let input = dir.path().join("numbers.txt");
    std::fs::write(&input, text).unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let contents: [(&str, &[u8]); 3] =
        [("a.txt", b"caf\xe9\r\nna\xefve\n"), ("b.txt", b"plain\nlast"), ("c.txt", b"")];
    for (name, bytes) in contents {
        std::fs::write(files.join(name), bytes).unwrap();
    }
    std::fs::write(files.join("_hidden"), b"skipped").unwrap();
    let checkpoints = dir.path().join("checkpoints");
    let events = dir.path().join("events");
    std::fs::create_dir(&events).unwrap();
    let (n, entries) = (1000u64, 10u64);
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    let run = wisp(
        &[
            "run",
            job.to_str().unwrap(),
            "--cores",
            "3",
            "--event-log",
            &path(&events),
            "--",
            "all",
            &n.to_string(),
            &entries.to_string(),
            &path(&input),
            &path(&checkpoints),
            &path(&a),
            &path(&b),
            &path(&files),
        ],
        RUN_TIMEOUT,
    );
    assert!(run.ok(), "{}", run.stderr);
    let got = results(&run.stdout);

    // Broadcasts.
    let name_len = |x: u64| format!("v{}", (x % entries) * 7).len() as u64;
    assert_same(&got, "total", &json!((0..n).map(name_len).sum::<u64>()));
    assert_same(&got, "same_object", &json!(vec![true; 6]));
    assert_same(&got, "driver_entries", &json!(entries));
    assert_same(&got, "json_broadcast", &json!(["x1", "x2"]));

    // Accumulators: once per partition per job; the uncached RDD's second job counts again.
    let once = expected(1);
    assert_same(&got, "count", &once["good"]);
    assert_same(&got, "job1", &report(&once));
    assert_same(&got, "job2", &report(&expected(2)));
    assert_same(&got, "unused_min", &Value::Null);
    assert_same(&got, "foreach", &json!([n * (n - 1) / 2, n]));

    // Checkpoints: the same records, read back from files under the directory.
    let small: Vec<u64> = (0..10).map(name_len).collect();
    assert_same(&got, "checkpointed", &json!(small));
    assert_same(
        &got,
        "checkpointed_again",
        &json!(small.iter().map(|x| x * 2).collect::<Vec<_>>()),
    );
    assert_same(&got, "local_checkpointed", &json!([30, 10, 20]));
    let written: Vec<_> = walk(&checkpoints)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("part-")))
        .collect();
    assert_eq!(written.len(), 3, "one checkpoint file per partition: {written:?}");

    // The rest of the RDD API.
    let mut sorted = xs.clone();
    sorted.sort();
    assert_same(&got, "take_ordered", &json!(sorted[..5]));
    assert_same(&got, "top", &json!(sorted.iter().rev().take(5).collect::<Vec<_>>()));
    let mut by_abs = xs.clone();
    by_abs.sort_by_key(|x| (x.abs(), *x));
    assert_same(&got, "take_ordered_abs", &json!(by_abs[..4]));
    let mut counts: BTreeMap<i64, u64> = BTreeMap::new();
    xs.iter().for_each(|x| *counts.entry(*x).or_default() += 1);
    assert_same(&got, "count_by_value", &json!(counts.into_iter().collect::<Vec<_>>()));
    let indexed: Vec<(i64, usize)> = xs.iter().enumerate().map(|(i, x)| (*x, i)).collect();
    assert_same(&got, "zip_with_index", &json!(indexed));
    // glom: the partitions, in order, hold every record in file order.
    let glom: Vec<Vec<i64>> = serde_json::from_value(got["glom"].clone()).unwrap();
    assert_eq!(glom.concat(), xs, "glom keeps every record in partition order");
    let parts = glom.len() as u64;
    assert_same(&got, "num_partitions", &json!(parts));
    let unique: Vec<(i64, u64)> = glom
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            p.iter().enumerate().map(move |(k, x)| (*x, k as u64 * parts + i as u64))
        })
        .collect();
    assert_same(&got, "unique_ids", &json!(unique));
    let ys_set: BTreeSet<i64> = ys.iter().copied().collect();
    let xs_set: BTreeSet<i64> = xs.iter().copied().collect();
    let subtract: Vec<i64> = sorted.iter().copied().filter(|x| !ys_set.contains(x)).collect();
    assert_same(&got, "subtract", &json!(subtract));
    assert_same(&got, "intersection", &json!(xs_set.intersection(&ys_set).collect::<Vec<_>>()));
    let pairs: Vec<(i64, i64)> = ys.iter().flat_map(|a| ys.iter().map(move |b| (*a, *b))).collect();
    assert_same(&got, "cartesian", &json!(pairs));
    let positive: BTreeSet<i64> = ys.iter().filter(|y| **y > 0).map(|y| y.rem_euclid(7)).collect();
    let mut sbk: Vec<(i64, i64)> =
        xs.iter().map(|x| (x.rem_euclid(7), *x)).filter(|(k, _)| !positive.contains(k)).collect();
    sbk.sort();
    assert_same(&got, "subtract_by_key", &json!(sbk));
    let three: Vec<i64> = sorted.iter().copied().filter(|x| x.rem_euclid(5) == 3).collect();
    assert_same(&got, "lookup3", &json!(three));

    // Statistics, computed here the textbook way.
    let moments = |v: &[i64]| {
        let n = v.len() as f64;
        let mean = v.iter().sum::<i64>() as f64 / n;
        let m2 = v.iter().map(|x| (*x as f64 - mean).powi(2)).sum::<f64>();
        (n, mean, m2 / n, m2 / (n - 1.0))
    };
    let (count, mean, var, sample_var) = moments(&xs);
    let stats = &got["stats"];
    let field = |k: &str| stats[k].as_f64().unwrap_or_else(|| panic!("stats.{k}: {stats}"));
    assert_eq!(field("count"), count);
    for (k, want) in [
        ("mean", mean),
        ("sum", xs.iter().sum::<i64>() as f64),
        ("variance", var),
        ("stdev", var.sqrt()),
        ("sample_variance", sample_var),
        ("sample_stdev", sample_var.sqrt()),
    ] {
        assert!(close(field(k), want), "stats.{k}: {} vs {want}", field(k));
    }
    assert_eq!((field("min"), field("max")), (sorted[0] as f64, sorted[59] as f64));
    let sums: Vec<f64> = serde_json::from_value(got["sum"].clone()).unwrap();
    let (_, ys_mean, ys_var, ys_sample_var) = moments(&ys);
    let want =
        [xs.iter().sum::<i64>() as f64, xs.iter().map(|x| *x as f64 / 4.0).sum::<f64>(), ys_mean];
    let want = [&want[..], &[ys_var, ys_var.sqrt(), ys_sample_var, ys_sample_var.sqrt()]].concat();
    assert_eq!(sums.len(), want.len());
    for (i, (g, w)) in sums.iter().zip(&want).enumerate() {
        assert!(close(*g, *w), "sum[{i}]: {g} vs {w}");
    }
    assert_eq!(got["sum"][0], json!(xs.iter().sum::<i64>()), "the sum of integers is an integer");

    // Tree aggregation: the same answers at every depth; an empty RDD's treeReduce fails.
    let total = xs.iter().sum::<i64>();
    assert_same(&got, "tree_aggregate", &json!([[total, 60], [total, 60], [total, 60]]));
    assert_same(&got, "tree_aggregate_lists", &json!(sorted));
    assert_same(&got, "tree_reduce", &json!([total, sorted[59]]));
    assert_same(&got, "tree_reduce_empty", &json!("treeReduce() of an empty RDD"));
    // The levels each tree job ran after the 20 partitions it starts from, as Spark's formula says:
    // treeAggregate at depths 2, 3, 1 and 2 (lists), treeReduce at depths 2, 3 and 2 (empty).
    let want: Vec<Vec<u64>> = [2, 3, 1, 2, 2, 3, 2].iter().map(|d| tree_levels(20, *d)).collect();
    assert_eq!(want[..3], [vec![4], vec![6, 2], vec![]], "the formula, worked by hand");
    assert_eq!(tree_jobs(&events, 20), want, "the tree jobs' stages");

    // Sources: raw bytes of each line; whole files with U+FFFD for invalid UTF-8.
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut raw = Vec::new();
    for (_, bytes) in contents {
        let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        if lines.last() == Some(&&b""[..]) {
            lines.pop();
        }
        raw.extend(lines.into_iter().map(|l| l.strip_suffix(b"\r").unwrap_or(l)));
    }
    assert_same(&got, "binary_lines", &json!(raw.iter().map(|l| hex(l)).collect::<Vec<_>>()));
    assert_same(&got, "bytes_roundtrip", &json!(raw.iter().map(|l| l.len()).sum::<usize>()));
    let whole: Vec<(&str, String)> =
        contents.iter().map(|(n, b)| (*n, String::from_utf8_lossy(b).into_owned())).collect();
    assert_same(&got, "whole_text_files", &json!(whole));
}

/// The partition counts of the levels Spark's treeAggregate adds over `count` partitions.
pub(crate) fn tree_levels(mut count: u64, depth: u32) -> Vec<u64> {
    let scale = ((count as f64).powf(1.0 / f64::from(depth)).ceil() as u64).max(2);
    let mut levels = Vec::new();
    while count > scale + count.div_ceil(scale) {
        count /= scale;
        levels.push(count);
    }
    levels
}

/// For each job of the event log in `dir` with a stage of `from` tasks: the task counts of its
/// later stages.
pub(crate) fn tree_jobs(dir: &Path, from: u64) -> Vec<Vec<u64>> {
    let file = std::fs::read_dir(dir).unwrap().next().unwrap().unwrap().path();
    let events: Vec<Value> = std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let tasks: HashMap<u64, u64> = events
        .iter()
        .filter(|e| e["event"] == "stage_submitted")
        .map(|e| (e["stage"].as_u64().unwrap(), e["tasks"].as_u64().unwrap()))
        .collect();
    let mut jobs = Vec::new();
    for job in events.iter().filter(|e| e["event"] == "job_start") {
        let stages = job["stages"].as_array().unwrap().iter();
        let counts: Vec<u64> = stages.filter_map(|s| tasks.get(&s.as_u64()?).copied()).collect();
        if let Some(at) = counts.iter().position(|&t| t == from) {
            jobs.push(counts[at + 1..].to_vec());
        }
    }
    jobs
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

#[test]
fn js_in_a_cluster_broadcasts_ship_once_per_executor_and_accumulators_count_once_despite_faults() {
    let job = js_job("shared_job");
    let dir = tempfile::tempdir().unwrap();
    let (text, expected) = numbers(13, 3000);
    let input = dir.path().join("numbers.txt");
    std::fs::write(&input, text).unwrap();
    let speculation = [
        "wisp.speculation=true",
        "wisp.speculation.interval=50ms",
        "wisp.speculation.quantile=0.5",
        "wisp.speculation.minTaskRuntime=200ms",
    ];
    // As the Rust guest's test: failed first attempts of map partition 1, a straggling first
    // attempt of map partition 0 (a speculative copy wins), and executor 2 deleting its shuffle
    // files after its first map task (the map stage runs again for them).
    let rules = "fail kind=map partition=1 attempt=0 message=injected failure\n\
                 sleep kind=map partition=0 attempt=0 ms=30000";
    let deleting = format!("delete-shuffle after-map-tasks=1\n{rules}");
    let cluster = Cluster::start_with_faults(&speculation, &[], &[rules, &deleting, rules]);
    let entries = 3000u64;
    let entries_arg = entries.to_string();
    let args = [Path::new("accumulate"), input.as_path(), Path::new("8"), Path::new(&entries_arg)];
    let run =
        cluster.submit(job.to_str().unwrap(), &["wisp.files.maxPartitionBytes=2k"], &args, None);
    assert!(run.ok(), "{}", run.stderr);
    let got = results(&run.stdout);
    let once = expected(1);
    assert_same(&got, "shuffled_total", &json!([once["sum"]]));
    assert_same(&got, "job1", &report(&once));
    let name_len = |x: u64| format!("v{}", (x % entries) * 7).len() as u64;
    assert_same(&got, "broadcast_total", &json!((0..20_000).map(name_len).sum::<u64>()));
    // The table's encoding (`u32le len ++ bytes` per name) reaches each executor at most once.
    let table: u64 = (0..entries).map(|k| 4 + format!("v{}", k * 7).len() as u64).sum();
    let needle = format!("bytes={table}");
    let received: Vec<usize> = (1..=3)
        .map(|i| {
            let log = std::fs::read_to_string(cluster.executor_log_path(i)).unwrap_or_default();
            log.lines()
                .filter(|l| l.contains("shipped bytes received"))
                .filter(|l| l.split_whitespace().any(|w| w == needle))
                .count()
        })
        .collect();
    eprintln!("broadcast of {table} bytes received per executor: {received:?}");
    assert!(received.iter().all(|&n| n <= 1), "at most once per executor: {received:?}");
    assert!(received.iter().sum::<usize>() >= 1, "shipped at least once: {received:?}");

    let events = cluster.events();
    let of = |kind: &'static str| events.iter().filter(move |e| e["event"] == kind);
    assert!(of("task_end").any(|e| e["result"] == "failed"), "an attempt failed");
    assert!(of("task_start").any(|e| e["speculative"] == Value::Bool(true)), "a speculative copy");
    assert!(
        of("stage_submitted").any(|e| e["attempt"].as_u64().unwrap_or(0) > 0),
        "a stage ran again after the lost shuffle files"
    );
}

#[test]
fn js_shared_variable_misuse_fails_with_one_line_naming_the_cause_and_leaves_nothing() {
    let job = js_job("shared_job");
    let cases: [(&[&str], &[&str], &str); 7] = [
        (
            &["wisp.task.maxFailures=1"],
            &["read-destroyed"],
            "javascript function nameLength threw SharedError: broadcast 0 does not exist or was destroyed",
        ),
        (&[], &["read-destroyed-driver"], "broadcast 0 was destroyed"),
        (
            &[],
            &["checkpoint-no-dir"],
            "checkpoint of rdd 0: no checkpoint directory (call set_checkpoint_dir first)",
        ),
        (&[], &["add-on-driver"], "accumulator 0: add is only allowed inside tasks"),
        (&[], &["tree-depth"], "treeReduce: depth must be an integer of at least 1, got 0"),
        (
            &["wisp.broadcast.maxBytes=1k"],
            &["broadcast-bytes", "5000"],
            "exceeds wisp.broadcast.maxBytes (1024 bytes)",
        ),
        (
            &[],
            &["save", "out", "gzip"],
            "saveAsTextFile: compression \"gzip\" is chosen for the whole run: pass --conf wisp.output.compress=gzip",
        ),
    ];
    for (conf, args, needle) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = std::process::Command::new(wisp_tests::wisp_bin());
        cmd.current_dir(dir.path()).args(["run", job.to_str().unwrap()]);
        for c in conf {
            cmd.args(["--conf", c]);
        }
        cmd.arg("--").args(args);
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let run = wisp_tests::run_bounded(cmd, RUN_TIMEOUT);
        let line = the_error_line(&run);
        assert!(line.contains(needle), "{args:?}: {line}");
        assert!(!run.stderr.contains("wasm trap") && !run.stderr.contains("panicked"), "{args:?}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{args:?} left {left:?} behind");
    }
}

#[test]
fn js_save_as_text_file_compresses_with_the_codec_of_the_run() {
    let job = js_job("shared_job");
    let dir = tempfile::tempdir().unwrap();
    for (codec, ext) in [("gzip", "gz"), ("zstd", "zst")] {
        let out = dir.path().join(codec);
        let conf = format!("wisp.output.compress={codec}");
        let run = wisp(
            &[
                "run",
                job.to_str().unwrap(),
                "--conf",
                &conf,
                "--",
                "save",
                out.to_str().unwrap(),
                codec,
            ],
            RUN_TIMEOUT,
        );
        assert!(run.ok(), "{codec}: {}", run.stderr);
        let mut parts: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("part-"))
            .collect();
        parts.sort();
        assert_eq!(parts.len(), 2, "{codec}: {parts:?}");
        let mut text = String::new();
        for part in &parts {
            assert_eq!(part.extension().unwrap(), ext, "{codec}: {part:?}");
            let file = std::fs::File::open(part).unwrap();
            match codec {
                "gzip" => flate2::read::GzDecoder::new(file).read_to_string(&mut text).unwrap(),
                _ => zstd::Decoder::new(file).unwrap().read_to_string(&mut text).unwrap(),
            };
        }
        assert_eq!(text, "alpha\nbeta\ngamma\ndelta\n", "{codec}");
        assert!(out.join("_SUCCESS").exists(), "{codec}");
    }
}

#[test]
fn js_shared_variables_arguments_and_order_pass_their_node_tests() {
    let mut cmd = std::process::Command::new("node");
    cmd.current_dir(wisp_tests::REPO_ROOT).args(["--test", "guest-sdk/js/test/shared.test.mjs"]);
    cmd.stdin(std::process::Stdio::null());
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let run = wisp_tests::run_bounded(cmd, std::time::Duration::from_secs(60));
    assert!(run.ok(), "JS shared-variable tests failed:\n{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("# fail 0") && run.stdout.contains("# pass 7"), "{}", run.stdout);
}
