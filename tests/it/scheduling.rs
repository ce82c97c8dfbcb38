//! Physical scheduling on a real master and executors: locality and delay scheduling, speculation, lost shuffle output, a killed executor, an always-failing task — each checked against an answer computed by the test and against the event log.
//!
//! Faults come from the executors' `WISP_TEST_FAULTS` file (`wisp::testing`,
//! compiled only with the `testing` feature): a task attempt that sleeps (a
//! straggler), an executor that deletes its shuffle files.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use wisp_tests::{API_JOB, Run, WORDCOUNT, wait_for};

use crate::harness::{Cluster, check_wordcount, corpus, entries};

/// Bound on one job of these tests.
const JOB_TIMEOUT: Duration = Duration::from_secs(60);
/// Quick failure detection for tests that lose an executor.
const FAST: [&str; 2] = ["wisp.network.timeout=2s", "wisp.executor.heartbeatInterval=200ms"];

/// Event log lines.
struct Events(Vec<Value>);

impl Events {
    fn of(&self, kind: &str) -> impl Iterator<Item = &Value> {
        self.0.iter().filter(move |v| v["event"] == kind)
    }

    /// `task_start` (or `task_end`) events of one stage, all attempts.
    fn tasks(&self, kind: &str, stage: u64) -> Vec<&Value> {
        self.of(kind).filter(|v| v["stage"] == stage).collect()
    }

    /// The `task_end` of the attempt a `task_start` started, if any.
    fn end_of(&self, start: &Value) -> Option<&Value> {
        self.of("task_end").find(|v| v["task"] == start["task"])
    }

    /// Stage ids of one kind (`shuffle-map` or `result`), ascending.
    fn stages(&self, kind: &str) -> BTreeSet<u64> {
        self.of("stage_submitted").filter(|v| v["kind"] == kind).map(|v| num(&v["stage"])).collect()
    }
}

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

fn time(v: &Value) -> f64 {
    v["time_ms"].as_f64().unwrap_or_else(|| panic!("no time_ms in {v}"))
}

/// Word count in 8 map partitions of a 512 KiB corpus (the reference job of the fault tests).
fn submit_wordcount(cluster: &Cluster, seed: u64) -> (Run, PathBuf, HashMap<String, i64>) {
    let dir = cluster.dir.path();
    let (input, expected) = corpus(dir, "corpus.txt", 512 << 10, seed);
    let out = dir.join("out");
    let run =
        cluster.submit(WORDCOUNT, &["wisp.files.maxPartitionBytes=64k"], &[&input, &out], None);
    (run, out, expected)
}

/// What `api-job persist` prints, computed directly.
fn persist_expected() -> String {
    let squares: Vec<u64> = (1..=1000u64).map(|n| n * n).collect();
    let sum: u64 = squares.iter().sum();
    let disk: u64 = (1..=10).sum();
    format!(
        "count={}\nsum={sum}\nafter-unpersist count={}\ndisk count=10 sum={disk}\n",
        squares.len(),
        squares.len()
    )
}

/// Partitions of `stage` whose attempt on `executor` succeeded.
fn succeeded_on(events: &Events, stage: u64, executor: u64) -> BTreeSet<u64> {
    events
        .tasks("task_end", stage)
        .into_iter()
        .filter(|v| v["executor"] == executor && v["result"] == "succeeded")
        .map(|v| num(&v["partition"]))
        .collect()
}

/// Partitions of `stage` started again after its first attempt.
fn rerun_partitions(events: &Events, stage: u64) -> BTreeSet<u64> {
    events
        .tasks("task_start", stage)
        .into_iter()
        .filter(|v| v["stage_attempt"] != 0)
        .map(|v| num(&v["partition"]))
        .collect()
}

/// Runs `job` while SIGKILLing executor 2 as soon as it runs a (fault-delayed) reduce task.
fn with_executor_2_killed_in_reduce<T: Send>(
    cluster: &mut Cluster,
    job: impl FnOnce(&Cluster) -> T + Send,
) -> T {
    let victim_log = cluster.executor_log_path(2);
    let mut victim = cluster.executors.remove(1);
    let cluster = &*cluster;
    std::thread::scope(|s| {
        let job = s.spawn(move || job(cluster));
        wait_for("executor 2 to run a reduce task", JOB_TIMEOUT, || {
            assert!(!job.is_finished(), "the job ended before executor 2 ran a reduce task");
            std::fs::read_to_string(&victim_log)
                .ok()?
                .contains("test fault: delaying the task")
                .then_some(())
        });
        victim.kill();
        job.join().unwrap()
    })
}

/// For each partition of `stage`, the executor of its succeeded attempt.
fn winners(events: &Events, stage: u64) -> BTreeMap<u64, u64> {
    events
        .tasks("task_end", stage)
        .iter()
        .filter(|v| v["result"] == "succeeded")
        .map(|v| (num(&v["partition"]), num(&v["executor"])))
        .collect()
}

#[test]
fn cached_partitions_are_read_process_local_by_the_executors_holding_them() {
    // The first job (stage 0) caches 4 partitions; its tasks take 300 ms so both one-core executors get some.
    let slow_first_job = "sleep stage=0 ms=300";
    let cluster = Cluster::start_with_faults(
        &["wisp.locality.wait=3s"],
        &[],
        &[slow_first_job, slow_first_job],
    );
    let run = cluster.submit(API_JOB, &[], &[Path::new("persist")], None);
    assert!(run.ok(), "submit failed: {}", run.stderr);
    assert_eq!(run.stdout, persist_expected());

    let events = Events(cluster.events());
    let holders = winners(&events, 0);
    assert_eq!(holders.len(), 4, "the first job computed and cached 4 partitions");
    assert_eq!(
        holders.values().collect::<BTreeSet<_>>().len(),
        2,
        "both executors cached blocks: {holders:?}"
    );
    // The second job (stage 1, `fold` over the cached RDD) reads each block where it is cached.
    let second = events.tasks("task_start", 1);
    assert_eq!(second.len(), 4, "one attempt per partition: {second:?}");
    for t in second {
        assert_eq!(t["locality"], "process-local", "{t}");
        assert_eq!(
            num(&t["executor"]),
            holders[&num(&t["partition"])],
            "ran where its block is cached: {t}"
        );
        assert_eq!(t["speculative"], false);
    }
    assert!(events.of("task_end").all(|e| e["result"] == "succeeded"));
    // After `unpersist`, the third job (stage 2) has no preference.
    assert!(events.tasks("task_start", 2).iter().all(|t| t["locality"] == "no-pref"));
}

#[test]
fn a_task_waits_for_its_busy_preferred_executor_up_to_the_locality_wait_then_runs_elsewhere() {
    // Executor 2 is slow in the first job, so executor 1 caches 3 of the 4 partitions; executor 1 is then slow in the
    // second job (stage 1), so its other process-local tasks wait for it, up to the 500 ms locality wait, and then run
    // on executor 2 at the next level (both executors are on 127.0.0.1: node-local).
    let cluster = Cluster::start_with_faults(
        &["wisp.locality.wait=500ms"],
        &[],
        &["sleep stage=1 ms=4000", "sleep stage=0 ms=1500"],
    );
    let run = cluster.submit(API_JOB, &[], &[Path::new("persist")], None);
    assert!(run.ok(), "submit failed: {}", run.stderr);
    assert_eq!(run.stdout, persist_expected());

    let events = Events(cluster.events());
    let holders = winners(&events, 0);
    let on_1: Vec<u64> = holders.iter().filter(|(_, e)| **e == 1).map(|(p, _)| *p).collect();
    assert_eq!(on_1.len(), 3, "executor 1 cached 3 partitions: {holders:?}");
    let starts = events.tasks("task_start", 1);
    let local: Vec<&&Value> = starts.iter().filter(|t| t["locality"] == "process-local").collect();
    let moved: Vec<&&Value> = starts.iter().filter(|t| t["locality"] != "process-local").collect();
    assert!(!moved.is_empty(), "a task of the busy executor should have run elsewhere: {starts:?}");
    let first_moved = moved.iter().map(|t| time(t)).fold(f64::INFINITY, f64::min);
    let last_local_before = local
        .iter()
        .map(|t| time(t))
        .filter(|&t| t < first_moved)
        .fold(f64::NEG_INFINITY, f64::max);
    for t in &moved {
        assert_eq!(t["locality"], "node-local", "the next level after process-local: {t}");
        assert_eq!(num(&t["executor"]), 2, "{t}");
        assert!(on_1.contains(&num(&t["partition"])), "only executor 1's partitions move: {t}");
    }
    let waited = first_moved - last_local_before;
    assert!(waited >= 450.0, "the task waited {waited} ms, less than the 500 ms locality wait");
    assert!(
        waited < 3000.0,
        "the task waited {waited} ms: it should not wait for the busy executor's 4 s task"
    );
    // A moved task computes its partition from the lineage (executors read only their own blocks): none failed.
    let ends = events.tasks("task_end", 1);
    assert_eq!(ends.len(), 4, "one attempt per partition: {ends:?}");
    assert!(ends.iter().all(|e| e["result"] == "succeeded"), "{ends:?}");
    let busy = local
        .iter()
        .find(|t| num(&t["executor"]) == 1)
        .expect("executor 1 ran a process-local task");
    let busy_end = time(events.end_of(busy).expect("its task_end"));
    assert!(first_moved < busy_end, "the moved task started before the busy executor freed up");
}

#[test]
fn a_straggler_gets_a_speculative_copy_that_wins_and_the_slow_attempt_is_killed() {
    let conf = [
        "wisp.speculation=true",
        "wisp.speculation.interval=50ms",
        "wisp.speculation.quantile=0.5",
        "wisp.speculation.minTaskRuntime=200ms",
    ];
    // The first attempt of map partition 0 sleeps 30 s wherever it runs; the copy (attempt 1) does not.
    let straggler = "sleep kind=map partition=0 attempt=0 ms=30000";
    let cluster = Cluster::start_with_faults(&conf, &[], &[straggler, straggler, straggler]);
    let started = std::time::Instant::now();
    let (run, out, expected) = submit_wordcount(&cluster, 41);
    check_wordcount(&run, &out, &expected);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the job waited for the straggler: {:?}",
        started.elapsed()
    );

    let events = Events(cluster.events());
    let map = *events.stages("shuffle-map").first().expect("a map stage");
    let p0: Vec<&Value> =
        events.tasks("task_start", map).into_iter().filter(|t| t["partition"] == 0).collect();
    assert_eq!(p0.len(), 2, "the straggler and one copy: {p0:?}");
    let (slow, copy) = (p0[0], p0[1]);
    assert_eq!((&slow["attempt"], &slow["speculative"]), (&Value::from(0), &Value::Bool(false)));
    assert_eq!((&copy["attempt"], &copy["speculative"]), (&Value::from(1), &Value::Bool(true)));
    assert_ne!(slow["executor"], copy["executor"], "the copy runs on another executor");
    let copy_end = events.end_of(copy).expect("the copy ended");
    assert_eq!(copy_end["result"], "succeeded", "{copy_end}");
    match events.end_of(slow) {
        None => {}
        Some(end) => {
            assert_eq!(end["result"], "failed", "{end}");
            assert_eq!(end["failure"], "task killed", "{end}");
            let late = time(end) - time(copy_end);
            assert!(
                late < 2000.0,
                "the slow attempt ended {late} ms after the copy won: it was not killed at once"
            );
        }
    }
    // Counts are not doubled: one succeeded attempt per map partition, and the output matched the reference above.
    let map_tasks =
        events.of("stage_submitted").find(|v| v["stage"] == map).map(|v| num(&v["tasks"])).unwrap();
    assert_eq!(winners(&events, map).len() as u64, map_tasks);
    let succeeded =
        events.tasks("task_end", map).iter().filter(|v| v["result"] == "succeeded").count() as u64;
    assert_eq!(succeeded, map_tasks, "exactly one succeeded attempt per map partition");
}

#[test]
fn deleted_shuffle_files_rerun_every_map_output_of_their_executor() {
    // Executor 2 deletes its shuffle files when its first map task ends (before reporting it).
    // A fetch failure naming executor 2 marks every map output it holds lost, not just that one.
    let cluster =
        Cluster::start_with_faults(&[], &[], &["", "delete-shuffle after-map-tasks=1", ""]);
    let (run, out, expected) = submit_wordcount(&cluster, 42);
    check_wordcount(&run, &out, &expected);

    let events = Events(cluster.events());
    let map = *events.stages("shuffle-map").first().expect("a map stage");
    let on_executor_2: BTreeSet<u64> = events
        .tasks("task_end", map)
        .into_iter()
        .filter(|v| v["stage_attempt"] == 0 && v["result"] == "succeeded" && v["executor"] == 2)
        .map(|v| num(&v["partition"]))
        .collect();
    assert!(!on_executor_2.is_empty(), "executor 2 ran a map task");
    let resubmitted: Vec<&Value> =
        events.of("stage_submitted").filter(|v| v["stage"] == map && v["attempt"] != 0).collect();
    assert_eq!(resubmitted.len(), 1, "one more attempt of the map stage: {resubmitted:?}");
    assert_eq!(
        num(&resubmitted[0]["tasks"]),
        on_executor_2.len() as u64,
        "with every map output of executor 2"
    );
    assert_eq!(
        rerun_partitions(&events, map),
        on_executor_2,
        "exactly executor 2's map outputs rerun"
    );
    let failed = events.of("task_end").find(|v| {
        v["failure"]
            .as_str()
            .is_some_and(|f| f.starts_with("fetch of") && f.contains("from executor-2"))
    });
    assert!(failed.is_some(), "a reduce task reported a fetch failure from executor 2");
}

#[test]
fn an_executor_killed_during_the_reduce_stage_does_not_change_the_result() {
    // First attempts of result tasks sleep 1.5 s, so the reduce stage is surely running when executor 2 is killed.
    let slow_reduce = "sleep kind=result stage-attempt=0 attempt=0 ms=1500";
    let mut cluster =
        Cluster::start_with_faults(&FAST, &FAST, &[slow_reduce, slow_reduce, slow_reduce]);
    let (run, out, expected) =
        with_executor_2_killed_in_reduce(&mut cluster, |c| submit_wordcount(c, 43));
    check_wordcount(&run, &out, &expected);

    let events = Events(cluster.events());
    let map = *events.stages("shuffle-map").first().expect("a map stage");
    let on_victim = succeeded_on(&events, map, 2);
    assert!(!on_victim.is_empty(), "executor 2 ran map tasks");
    assert_eq!(
        rerun_partitions(&events, map),
        on_victim,
        "exactly executor 2's map outputs are recomputed"
    );
    assert!(
        events.of("task_end").any(|v| v["executor"] == 2 && v["result"] == "failed"),
        "executor 2's running reduce task ended as failed (executor lost or fetch failure)"
    );
}

#[test]
fn a_task_that_always_fails_fails_the_job_after_four_attempts_on_two_executors() {
    let cluster = Cluster::start_with_faults(&[], &[], &["", "", ""]);
    let run = cluster.submit(API_JOB, &[], &[Path::new("panic")], None);
    assert!(!run.ok(), "the job must fail");
    assert!(run.stderr.contains("boom: record 3"), "the guest's message: {}", run.stderr);

    let events = Events(cluster.events());
    let ends: Vec<&Value> = events.of("task_end").collect();
    assert_eq!(ends.len(), 4, "4 attempts: {ends:?}");
    for e in &ends {
        assert_eq!(e["result"], "failed");
        assert!(e["failure"].as_str().is_some_and(|f| f.contains("boom: record 3")), "{e}");
    }
    let attempts: Vec<u64> = ends.iter().map(|e| num(&e["attempt"])).collect();
    assert_eq!(attempts, vec![0, 1, 2, 3]);
    let executors: BTreeSet<u64> = ends.iter().map(|e| num(&e["executor"])).collect();
    assert!(executors.len() >= 2, "attempts on at least 2 executors: {executors:?}");
    let job_end = events.of("job_end").next().expect("job_end");
    assert_eq!(job_end["result"], "failed");
    assert!(job_end["error"].as_str().is_some_and(|e| e.contains("boom: record 3")), "{job_end}");
}

#[test]
fn retried_result_attempts_leave_exactly_one_part_file_per_partition() {
    // Executor 1 dies right after its first result attempt wrote its part file (before reporting it);
    // the first attempt of result partition 1 fails wherever it runs. Both partitions are written again.
    let exit_after_save = "exit kind=result at=end";
    let fail_once =
        "fail kind=result partition=1 attempt=0 message=injected failure of the first attempt";
    let cluster = Cluster::start_with_faults(
        &FAST,
        &FAST,
        &[&format!("{exit_after_save}\n{fail_once}"), fail_once, fail_once],
    );
    let (run, out, expected) = submit_wordcount(&cluster, 51);
    check_wordcount(&run, &out, &expected);
    let events = Events(cluster.events());
    let result = *events.stages("result").first().expect("a result stage");
    let partitions = events
        .of("stage_submitted")
        .find(|v| v["stage"] == result)
        .map(|v| num(&v["tasks"]))
        .unwrap();
    let attempts = events.tasks("task_start", result).len() as u64;
    assert!(
        attempts > partitions,
        "some result attempt was retried: {attempts} attempts of {partitions} partitions"
    );
    let mut want: Vec<String> = (0..partitions).map(|p| format!("part-{p:05}")).collect();
    want.push("_SUCCESS".into());
    want.sort();
    assert_eq!(entries(&out), want, "exactly one part file per partition and nothing else");
}

#[test]
fn a_job_failing_in_its_result_stage_leaves_no_output_behind() {
    // Every attempt of result partition 1 fails, after other partitions wrote their part files.
    let fail = "fail kind=result partition=1 message=injected failure of every attempt";
    let cluster = Cluster::start_with_faults(&[], &[], &[fail, fail]);
    let before = entries(cluster.dir.path());
    let (run, out, _) = submit_wordcount(&cluster, 52);
    assert!(!run.ok(), "the job must fail");
    assert!(run.stderr.contains("injected failure of every attempt"), "{}", run.stderr);
    assert!(!out.exists(), "a failed job must not leave its output directory");
    let mut after = entries(cluster.dir.path());
    // What the test itself added: the corpus, the events of the failed application.
    after.retain(|n| !before.contains(n) && n != "corpus.txt" && n != "events");
    assert!(after.is_empty(), "left behind next to the output: {after:?}");
}

#[test]
fn a_launch_lost_in_transport_is_retried_even_when_guest_failures_are_not() {
    // Each executor resets the request stream of the first launch of map partition 0 it gets:
    // to the master a transport failure, never the guest's fault, so it is retried although
    // the job does not retry guest failures.
    let drop = "drop-launch kind=map partition=0";
    let cluster = Cluster::start_with_faults(&[], &[], &[drop, drop]);
    let dir = cluster.dir.path();
    let (input, expected) = corpus(dir, "corpus.txt", 512 << 10, 53);
    let out = dir.join("out");
    let conf = ["wisp.files.maxPartitionBytes=64k", "wisp.task.retryGuestFailures=false"];
    let run = cluster.submit(WORDCOUNT, &conf, &[&input, &out], None);
    check_wordcount(&run, &out, &expected);

    let dropped: usize = (1..=2)
        .map(|i| {
            std::fs::read_to_string(cluster.executor_log_path(i))
                .unwrap()
                .matches("test fault: dropping the launch")
                .count()
        })
        .sum();
    assert!(dropped >= 1, "no launch was dropped: the test proves nothing");
    let events = Events(cluster.events());
    let map = *events.stages("shuffle-map").first().expect("a map stage");
    let failed: Vec<&Value> = events
        .tasks("task_end", map)
        .into_iter()
        .filter(|v| v["partition"] == 0 && v["result"] == "failed")
        .collect();
    assert_eq!(failed.len(), dropped, "one failed attempt per dropped launch: {failed:?}");
    let succeeded = events
        .tasks("task_end", map)
        .into_iter()
        .filter(|v| v["partition"] == 0 && v["result"] == "succeeded")
        .count();
    assert_eq!(succeeded, 1, "partition 0 succeeded once, after its lost launches");
}

#[test]
fn a_killed_executor_loses_all_its_map_outputs_in_one_map_stage_rerun() {
    // 16 map partitions on 3 one-core executors: executor 2 holds several map outputs.
    // Losing an executor is slow to notice here (60 s network and liveness timeouts:
    // `ExecutorLost` about 60 s after the kill), while a fetch from it fails at the 10 s
    // handshake deadline, so the
    // scheduler learns of the loss from a fetch failure naming one map output. Had it forgotten
    // only that output, each reduce attempt would fail on the next one (a map stage attempt
    // per output; with 4 or more, the job fails after 4 consecutive attempts). First attempts
    // of result tasks sleep 5 s: executor 2 is killed before any reduce task fetched from it.
    let slow = ["wisp.network.timeout=60s", "wisp.network.livenessTimeout=60s"];
    let slow_reduce = "sleep kind=result stage-attempt=0 attempt=0 ms=5000";
    let mut cluster =
        Cluster::start_with_faults(&slow, &slow, &[slow_reduce, slow_reduce, slow_reduce]);
    let dir = cluster.dir.path().to_path_buf();
    let (input, expected) = corpus(&dir, "corpus.txt", 512 << 10, 54);
    let out = dir.join("out");
    let run = with_executor_2_killed_in_reduce(&mut cluster, |c| {
        let conf = ["wisp.files.maxPartitionBytes=32k"];
        c.submit(WORDCOUNT, &conf, &[&input, &out], None)
    });
    check_wordcount(&run, &out, &expected);

    let events = Events(cluster.events());
    let map = *events.stages("shuffle-map").first().expect("a map stage");
    let on_victim = succeeded_on(&events, map, 2);
    assert!(on_victim.len() >= 2, "executor 2 held several map outputs: {on_victim:?}");
    let submitted: Vec<&Value> =
        events.of("stage_submitted").filter(|v| v["stage"] == map).collect();
    assert_eq!(submitted.len(), 2, "one rerun of the map stage: {submitted:?}");
    assert_eq!(num(&submitted[1]["tasks"]), on_victim.len() as u64, "{submitted:?}");
    assert_eq!(
        rerun_partitions(&events, map),
        on_victim,
        "the rerun covers every map output of executor 2"
    );
    let fetch_failed = events
        .of("task_end")
        .any(|v| v["failure"].as_str().is_some_and(|f| f.contains("from executor-2")));
    assert!(fetch_failed, "the loss was noticed by a fetch failure, not by `ExecutorLost`");
}
