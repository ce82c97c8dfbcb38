//! The RDD API end to end through the api-job guest; expected answers are computed here from the same inputs.

use std::collections::BTreeSet;

use wisp_tests::{API_JOB, Run, wisp};

use crate::RUN_TIMEOUT;

fn api(args: &[&str]) -> Run {
    let mut all = vec!["run", API_JOB, "--cores", "2", "--"];
    all.extend_from_slice(args);
    wisp(&all, RUN_TIMEOUT)
}

fn lines(run: &Run) -> Vec<String> {
    assert!(run.ok(), "job failed: {}", run.stderr);
    run.stdout.lines().map(str::to_string).collect()
}

fn value<'a>(lines: &'a [String], key: &str) -> &'a str {
    let prefix = format!("{key}=");
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no `{key}=` line in {lines:?}"))
}

#[test]
fn count_counts_lines_including_empty_ones() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let text = "one\n\ntwo\r\nthree\n\n\nlast";
    std::fs::write(&input, text).unwrap();
    let out = lines(&api(&["count", input.to_str().unwrap()]));
    assert_eq!(value(&out, "count"), text.split('\n').count().to_string());
}

#[test]
fn distinct_keeps_one_of_each() {
    let out = lines(&api(&["distinct", "57"]));
    assert_eq!(value(&out, "distinct"), "57");
    let want: Vec<String> = (0..57).map(|i| i.to_string()).collect();
    assert_eq!(value(&out, "values"), want.join(","));
}

#[test]
fn sort_by_key_orders_words_across_range_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let mut rng = wisp_tests::Rng::new(9);
    let vocab = wisp_tests::vocabulary(300);
    let mut text = String::new();
    for _ in 0..2000 {
        text.push_str(&vocab[rng.below(300) as usize]);
        text.push(if rng.below(5) == 0 { '\n' } else { ' ' });
    }
    std::fs::write(&input, &text).unwrap();
    let out = lines(&api(&["sort", input.to_str().unwrap()]));
    let mut words: Vec<&str> = text.split_ascii_whitespace().collect();
    words.sort_unstable();
    assert_eq!(value(&out, "sorted"), words.len().to_string());
    assert_eq!(
        &out[1..1 + words.len()],
        &words.iter().map(|w| w.to_string()).collect::<Vec<_>>()[..]
    );
    assert_eq!(value(&out, "first-descending"), *words.last().unwrap());
}

#[test]
fn group_by_key_gathers_values() {
    let out = lines(&api(&["group"]));
    // (a,1) (b,2) (a,3) (c,4) (b,5) (a,6); and 1..=10 grouped by n % 3.
    for want in ["a=1,3,6", "b=2,5", "c=4", "mod0=3,6,9", "mod1=1,4,7,10", "mod2=2,5,8"] {
        assert!(out.iter().any(|l| l == want), "missing {want} in {out:?}");
    }
}

#[test]
fn aggregations_by_key() {
    let out = lines(&api(&["aggregations"]));
    // Pairs (a,1) (b,2) (a,3) (c,4) (b,5) (a,6): sums a=10 b=7 c=4, counts 3/2/1.
    let want = [
        "reduce_by_key a=10 b=7 c=4",
        "fold_by_key a=10 b=7 c=4",
        "aggregate_by_key a=10/3 b=7/2 c=4/1",
        "combine_by_key a=1,3,6 b=2,5 c=4",
        "map_values a=10,30,60 b=20,50 c=40",
        "flat_map_values count=11",
        "keys a,b,c",
        "values 1,2,3,4,5,6",
        "sort_by -7,-3,0,2,5,10",
        "partition_by partitions=5 count=6",
    ];
    assert_eq!(out, want);
}

#[test]
fn joins_follow_spark_semantics() {
    let out = lines(&api(&["joins"]));
    let left = [("a", "1"), ("b", "2"), ("b", "3"), ("c", "4")];
    let right = [("a", "x"), ("b", "y"), ("d", "z"), ("a", "w")];
    let keys: BTreeSet<&str> = left.iter().chain(&right).map(|p| p.0).collect();
    let mut want = Vec::new();
    for k in &keys {
        let l: Vec<&str> = left.iter().filter(|p| p.0 == *k).map(|p| p.1).collect();
        let mut r: Vec<&str> = right.iter().filter(|p| p.0 == *k).map(|p| p.1).collect();
        r.sort();
        want.push(format!("cogroup {k} [{}] [{}]", l.join(","), r.join(",")));
        let lo: Vec<&str> = if l.is_empty() { vec!["-"] } else { l.clone() };
        let ro: Vec<&str> = if r.is_empty() { vec!["-"] } else { r.clone() };
        for (kind, ls, rs) in
            [("inner", &l, &r), ("left", &l, &ro), ("right", &lo, &r), ("full", &lo, &ro)]
        {
            for v in ls.iter() {
                for w in rs.iter() {
                    want.push(format!("{kind} {k} {v} {w}"));
                }
            }
        }
    }
    want.sort();
    assert_eq!(out, want);
}

#[test]
fn union_coalesce_and_repartition_keep_every_record() {
    let out = lines(&api(&["union-coalesce-repartition"]));
    let sum: u32 = (0..25).sum();
    let want = [
        "union count=25 partitions=5".to_string(),
        "coalesce count=25 partitions=2".to_string(),
        "repartition count=25 partitions=7".to_string(),
        format!("repartition sum={sum}"),
        "context-union count=35 partitions=7".to_string(),
    ];
    assert_eq!(out, want);
}

#[test]
fn sample_is_reproducible_and_near_the_fraction() {
    let out = lines(&api(&["sample"]));
    let n: u32 = value(&out, "count").parse().unwrap();
    assert!((4700..=5300).contains(&n), "{n} of 10000 at fraction 0.5");
    assert_eq!(value(&out, "reproducible"), "true");
    assert_eq!(value(&out, "without-replacement-distinct"), "true");
    let m: u32 = value(&out, "with-replacement count").parse().unwrap();
    assert!((4500..=5500).contains(&m), "{m} with replacement");
}

#[test]
fn take_and_first() {
    let out = lines(&api(&["take-first"]));
    assert_eq!(value(&out, "take"), "1,2,3,4,5");
    assert_eq!(value(&out, "take0"), "");
    assert_eq!(value(&out, "take-all"), "100");
    assert_eq!(value(&out, "first"), "1");
    assert_eq!(value(&out, "first-empty"), "error");
}

#[test]
fn reduce_fold_aggregate() {
    let out = lines(&api(&["reduce-fold-aggregate"]));
    let sum: u32 = (1..=100).sum();
    assert_eq!(value(&out, "reduce"), sum.to_string());
    assert_eq!(value(&out, "fold"), sum.to_string());
    // Spark adds the zero once per partition (4) and once on the driver.
    assert_eq!(value(&out, "fold1"), (sum + 5).to_string());
    assert_eq!(value(&out, "aggregate"), format!("{sum}/100"));
    assert_eq!(value(&out, "aggregate-max-len"), "3");
    assert_eq!(value(&out, "reduce-empty"), "error");
    assert_eq!(value(&out, "fold-empty"), "0");
}

#[test]
fn count_by_key() {
    let out = lines(&api(&["count-by-key"]));
    assert_eq!(out, ["x=3", "y=2", "z=1"]);
}

#[test]
fn persisted_rdd_is_reused_and_unpersist_still_computes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let run = wisp(
        &["run", API_JOB, "--cores", "2", "--event-log", log.to_str().unwrap(), "--", "persist"],
        RUN_TIMEOUT,
    );
    let out = lines(&run);
    let sum: u64 = (1..=1000u64).map(|n| n * n).sum();
    assert_eq!(
        out,
        [
            "count=1000".to_string(),
            format!("sum={sum}"),
            "after-unpersist count=1000".into(),
            "disk count=10 sum=55".into()
        ]
    );
    // The second action on the cached RDD reads cached blocks: its tasks read exactly the cached records.
    let file = std::fs::read_dir(&log).unwrap().next().unwrap().unwrap().path();
    let text = std::fs::read_to_string(file).unwrap();
    let jobs = text.lines().filter(|l| l.contains("\"event\":\"job_end\"")).count();
    assert!(jobs >= 4, "{jobs} jobs");
}

#[test]
fn map_partitions_and_functions_with_arguments() {
    let out = lines(&api(&["map-partitions"]));
    assert_eq!(out, ["indexes=0,1,2 total=55", "records=10"]);
    let out = lines(&api(&["with-args"]));
    assert_eq!(out, ["with=30,30,60,60,90,90", "map_values_with=10"]);
}

#[test]
fn many_tiny_partitions() {
    let out = lines(&api(&["tiny-tasks", "500"]));
    assert_eq!(out, ["count=500"]);
}

fn assert_job_error(run: &Run, cause: &str) {
    assert_eq!(run.code, Some(1), "stdout {} stderr {}", run.stdout, run.stderr);
    let errs: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("wisp: error:")).collect();
    assert_eq!(errs.len(), 1, "{}", run.stderr);
    assert!(errs[0].contains(cause), "{:?} should contain {cause:?}", errs[0]);
    assert!(!run.stderr.contains("RUST_BACKTRACE"), "{}", run.stderr);
}

#[test]
fn guest_panic_fails_the_job_with_its_message_after_retries() {
    let run = api(&["panic"]);
    assert_job_error(&run, "boom: record 3");
    assert_job_error(&run, "failed 4 times");
}

#[test]
fn missing_input_inside_a_job_is_reported() {
    let run = api(&["error-missing", "/no/such/dir/input.txt"]);
    assert_job_error(&run, "input path does not exist: /no/such/dir/input.txt");
}

#[test]
fn op_naming_an_unknown_function_is_reported() {
    let run = api(&["bad-function"]);
    assert_job_error(&run, "no-such-function");
    assert_job_error(&run, "does not name a function exported by this component");
    // Found when the transformation is defined, before any task ran.
    assert!(!run.stderr.contains("failed 4 times"), "{}", run.stderr);
}

#[test]
fn task_time_limit_fails_the_task_naming_the_limit() {
    let run = wisp(
        &[
            "run",
            API_JOB,
            "--cores",
            "2",
            "--conf",
            "wisp.task.timeout=300ms",
            "--conf",
            "wisp.task.maxFailures=2",
            "--",
            "spin",
        ],
        RUN_TIMEOUT,
    );
    assert_job_error(&run, "task exceeded its time limit (wisp.task.timeout = 300ms)");
}

#[test]
fn task_memory_limit_fails_the_task_naming_the_limit() {
    let limited = [
        "run",
        API_JOB,
        "--cores",
        "2",
        "--conf",
        "wisp.task.memory=64m",
        "--conf",
        "wisp.task.maxFailures=1",
        "--",
    ];
    let mut args = limited.to_vec();
    args.extend_from_slice(&["grow", "200"]);
    assert_job_error(
        &wisp(&args, RUN_TIMEOUT),
        "task exceeded its memory limit (wisp.task.memory = 67108864 bytes)",
    );
    // Under the limit the same function succeeds.
    let mut args = limited.to_vec();
    args.extend_from_slice(&["grow", "16"]);
    let out = lines(&wisp(&args, RUN_TIMEOUT));
    assert_eq!(out, [format!("sum={}", 16u64 << 20)]);
}
