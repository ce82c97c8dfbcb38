//! Faults: guest failures and retries, fetch failures, lost executors and cached blocks, stale reports.

use super::harness::*;
use crate::dag::{EventRecord, SchedulerConfig, SchedulerEvent, StageKind};
use crate::ids::{ComponentId, ExecutorId, ShuffleId, StageId, TaskId};
use crate::lineage::{GuestOps, Lineage, NarrowStep, Op, OpKind, RddKind};
use crate::task::{
    ResultKind, ResultValue, TaskAttempt, TaskFailure, TaskMetrics, TaskOutput, TaskReport,
};
use crate::task_scheduler::{ExclusionConfig, TaskSchedulerConfig};

fn guest_failure(message: &str) -> Step {
    Step::Fail(TaskFailure::Guest { message: message.to_string() })
}

/// text -> words -> distinct into 3 partitions: 4 map tasks, 3 reduce tasks.
fn distinct_job(l: &mut Lineage) -> crate::ids::RddId {
    let text = parallel(l, TEXT);
    let words = guest(l, text, 0, &["words"]);
    distinct(l, words, 3)
}

#[test]
fn failing_task_is_retried_elsewhere_then_fails_the_job_with_the_guest_message() {
    let mut l = Lineage::default();
    let x = parallel(&mut l, &[&["a"], &["b"], &["c"]]);
    let mut sim = Sim::new(2, 1);
    let job = sim.submit(&l, x, vec![0, 1, 2], ResultKind::Count);
    sim.run_with(|_, t| {
        if t.id.partition == 1 { guest_failure("bad record at line 7") } else { Step::Run }
    });
    assert_eq!(
        sim.err(job),
        "task 1 of stage 0 failed 4 times; last failure: bad record at line 7"
    );
    let attempts: Vec<(u32, ExecutorId)> = sim
        .launched
        .iter()
        .filter(|(_, t)| t.id.partition == 1)
        .map(|(e, t)| (t.id.attempt, *e))
        .collect();
    assert_eq!(attempts.iter().map(|a| a.0).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    assert_ne!(attempts[0].1, attempts[1].1, "retried on the other executor");
    assert!(sim.records.iter().any(|r| matches!(r,
        EventRecord::JobEnded { succeeded: false, error: Some(e), .. } if e.contains("bad record at line 7"))));
    assert!(sim.sched.active_jobs().is_empty());
}

#[test]
fn job_failure_kills_its_other_running_tasks() {
    let config = SchedulerConfig {
        task_scheduler: TaskSchedulerConfig { max_task_failures: 2, ..Default::default() },
        ..Default::default()
    };
    let mut l = Lineage::default();
    let x = parallel(&mut l, &[&["a"], &["b"], &["c"]]);
    let mut sim = Sim::with_config(3, 1, config);
    let job = sim.submit(&l, x, vec![0, 1, 2], ResultKind::Count);
    let held = sim.launched.iter().find(|(_, t)| t.id.partition == 2).unwrap().1.id.task;
    sim.run_with(|_, t| match t.id.partition {
        1 => guest_failure("division by zero"),
        2 => Step::Hold,
        _ => Step::Run,
    });
    assert_eq!(sim.err(job), "task 1 of stage 0 failed 2 times; last failure: division by zero");
    assert_eq!(sim.kills.iter().map(|k| k.1).collect::<Vec<_>>(), vec![held]);
    assert!(sim.running.is_empty());
    assert_eq!(sim.sched.task_scheduler().running_count(), 0, "killed task reported, cores free");
}

#[test]
fn fetch_failure_reruns_every_map_output_of_the_executor_it_names_then_the_reduce_stage() {
    let mut l = Lineage::default();
    let d = distinct_job(&mut l);
    let mut sim = Sim::new(2, 2);
    let job = sim.collect(&l, d);
    // Run the map stage and the first reduce task.
    while sim.running.values().any(|(_, t)| t.id.stage == StageId(0)) {
        let t = *sim.running.keys().next().unwrap();
        sim.answer(t, Step::Run);
    }
    let first_reduce = *sim.running.keys().next().unwrap();
    sim.answer(first_reduce, Step::Run);
    // Map 1's output vanishes: the next reduce task cannot fetch it.
    let holder = sim
        .launched
        .iter()
        .find(|(_, t)| t.id.stage == StageId(0) && t.id.partition == 1)
        .unwrap()
        .0;
    let held: Vec<u32> =
        sim.launches_of(StageId(0)).iter().filter(|x| x.2 == holder).map(|x| x.1).collect();
    assert_eq!(held.len(), 2, "two map outputs on {holder}");
    sim.files.remove(&(ShuffleId(0), 1, holder));
    sim.run();
    assert_eq!(sim.collected(job), distinct_words(TEXT));
    assert_eq!(
        sim.submissions(),
        vec![
            (StageId(0), 0, StageKind::ShuffleMap, 4),
            (StageId(1), 0, StageKind::Result, 3),
            (StageId(0), 1, StageKind::ShuffleMap, 2),
            (StageId(1), 1, StageKind::Result, 2),
        ]
    );
    let reruns: Vec<u32> =
        sim.launches_of(StageId(0)).iter().filter(|l| l.0 == 1).map(|l| l.1).collect();
    assert_eq!(reruns, held, "every map output of the executor the failure named");
    assert!(sim.records.iter().any(|r| matches!(r,
        EventRecord::StageCompleted { stage: StageId(1), attempt: 0, failure: Some(f), .. } if f.contains("map 1"))));
    // Accumulator updates: once per (stage, partition), the two reruns of map outputs add nothing.
    assert_eq!(sim.merged_count(), 4 + 3, "4 map and 3 reduce partitions, each merged once");
}

#[test]
fn repeated_fetch_failures_fail_the_job_after_four_stage_attempts() {
    let mut l = Lineage::default();
    let d = distinct_job(&mut l);
    let mut sim = Sim::new(2, 2);
    let job = sim.collect(&l, d);
    sim.run_with(|sim, t| {
        if t.id.stage == StageId(0) {
            return Step::Run;
        }
        let holder =
            sim.sched.map_outputs().statuses(ShuffleId(0))[0].as_ref().map(|s| s.executor).unwrap();
        Step::Fail(TaskFailure::FetchFailed {
            shuffle: ShuffleId(0),
            map: 0,
            executor: holder,
            message: "reset".into(),
        })
    });
    let err = sim.err(job);
    assert!(
        err.starts_with(
            "stage 1 failed 4 consecutive attempts; last failure: fetch of shuffle-0 map 0"
        ),
        "{err}"
    );
    let reduce_attempts = sim.submissions().iter().filter(|s| s.0 == StageId(1)).count();
    assert_eq!(reduce_attempts, 4);
}

#[test]
fn lost_executor_map_outputs_are_recomputed_for_the_next_job() {
    let mut l = Lineage::default();
    let d = distinct_job(&mut l);
    let mut sim = Sim::new(2, 2);
    let first = sim.collect(&l, d);
    sim.run();
    let lost: Vec<u32> =
        sim.launches_of(StageId(0)).iter().filter(|x| x.2 == ExecutorId(1)).map(|x| x.1).collect();
    assert!(!lost.is_empty());
    sim.lose(1);
    assert!(!sim.sched.map_outputs().is_available(ShuffleId(0)));
    let second = sim.collect(&l, d);
    sim.run();
    assert_eq!(sim.collected(second), sim.collected(first));
    let reruns: Vec<(u32, u32, ExecutorId)> =
        sim.launches_of(StageId(0)).into_iter().filter(|x| x.0 == 1).collect();
    assert_eq!(reruns.iter().map(|x| x.1).collect::<Vec<_>>(), lost, "only the lost map outputs");
    assert!(reruns.iter().all(|x| x.2 == ExecutorId(0)));
}

#[test]
fn executor_lost_during_the_reduce_stage() {
    let mut l = Lineage::default();
    let d = distinct_job(&mut l);
    let mut sim = Sim::new(2, 2);
    let job = sim.collect(&l, d);
    while sim.running.values().any(|(_, t)| t.id.stage == StageId(0)) {
        let t = *sim.running.keys().next().unwrap();
        sim.answer(t, Step::Run);
    }
    assert_eq!(sim.running.len(), 3, "three reduce tasks running");
    let on_lost = sim.running.values().filter(|(e, _)| *e == ExecutorId(1)).count();
    sim.lose(1);
    // Its tasks ended as lost; the reduce attempt stepped back for the lost outputs.
    let lost_ends = sim
        .records
        .iter()
        .filter(|r| {
            matches!(r,
        EventRecord::TaskEnded { failure: Some(f), .. } if f.starts_with("executor lost"))
        })
        .count();
    assert_eq!(lost_ends, on_lost);
    sim.run();
    assert_eq!(sim.collected(job), distinct_words(TEXT));
    let subs = sim.submissions();
    assert_eq!(subs[2].0, StageId(0), "map stage resubmitted: {subs:?}");
    assert_eq!(subs[3].0, StageId(1));
    assert!(
        sim.launched
            .iter()
            .skip_while(|(_, t)| t.id.stage_attempt == 0)
            .all(|(e, _)| *e == ExecutorId(0))
    );
}

#[test]
fn executor_lost_during_the_map_stage_is_not_a_task_failure() {
    // With one allowed failure, any counted failure would fail the job.
    let config = SchedulerConfig {
        task_scheduler: TaskSchedulerConfig { max_task_failures: 1, ..Default::default() },
        ..Default::default()
    };
    let mut l = Lineage::default();
    let d = distinct_job(&mut l);
    let mut sim = Sim::with_config(2, 2, config);
    let job = sim.collect(&l, d);
    // Finish maps 0 and 1 (one per executor); maps 2 and 3 keep running.
    for p in [0, 1] {
        let t =
            sim.running.iter().find(|(_, (_, t))| t.id.partition == p).map(|(id, _)| *id).unwrap();
        sim.answer(t, Step::Run);
    }
    sim.lose(1);
    sim.run();
    assert_eq!(sim.collected(job), distinct_words(TEXT));
    let map_attempts: Vec<u32> =
        sim.submissions().iter().filter(|s| s.0 == StageId(0)).map(|s| s.3).collect();
    assert_eq!(map_attempts, vec![4, 1], "the lost finished output is recomputed in a new attempt");
}

#[test]
fn lost_cached_blocks_are_recomputed_from_lineage() {
    let mut l = Lineage::default();
    let d = distinct_job(&mut l);
    let up = guest(&mut l, d, 1, &["upper"]);
    persist(&mut l, up);
    let mut sim = Sim::new(2, 2);
    let first = sim.collect(&l, up);
    sim.run();
    assert!(sim.sched.cache().fully_cached(up, 3));
    sim.lose(1);
    assert!(!sim.sched.cache().fully_cached(up, 3));
    let second = sim.collect(&l, up);
    sim.run();
    assert_eq!(sim.collected(second), sim.collected(first));
    assert!(sim.sched.cache().fully_cached(up, 3), "recomputed partitions cached again");
}

#[test]
fn stale_reports_are_ignored() {
    let mut l = Lineage::default();
    let d = distinct_job(&mut l);
    let mut sim = Sim::new(2, 2);
    sim.answer_kills = false;
    let job = sim.collect(&l, d);
    while sim.running.values().any(|(_, t)| t.id.stage == StageId(0)) {
        let t = *sim.running.keys().next().unwrap();
        sim.answer(t, Step::Run);
    }
    // A fetch failure abandons reduce attempt 0; its other tasks are killed
    // but (here) keep running and later report success.
    let reduces: Vec<TaskId> = sim.running.keys().copied().collect();
    let holder = sim.sched.map_outputs().statuses(ShuffleId(0))[2].as_ref().unwrap().executor;
    sim.files.remove(&(ShuffleId(0), 2, holder));
    sim.answer(reduces[0], Step::Run);
    assert_eq!(sim.kills.iter().map(|k| k.1).collect::<Vec<_>>(), reduces[1..].to_vec());
    let before = sim.records.len();
    for t in &reduces[1..] {
        sim.answer(*t, Step::Run);
    }
    // Old-attempt successes only close their attempts.
    let new: Vec<&EventRecord> = sim.records[before..].iter().collect();
    assert!(
        new.iter().all(|r| matches!(
            r,
            EventRecord::TaskEnded { id: TaskAttempt { stage_attempt: 0, .. }, .. }
        )),
        "{new:?}"
    );
    // Unknown task, wrong executor, duplicate: ignored entirely.
    let (executor, desc) = sim.running.values().next().cloned().unwrap();
    let ok = || Ok(TaskOutput::MapStatus { sizes: vec![1, 1, 1] });
    for (task, executor) in
        [(TaskId(9999), executor), (desc.id.task, ExecutorId(42)), (reduces[1], sim.launched[0].0)]
    {
        let before = sim.records.len();
        sim.report(TaskReport {
            accumulators: Vec::new(),
            task,
            executor,
            result: ok(),
            cached: Vec::new(),
            metrics: TaskMetrics::default(),
            log: String::new(),
        });
        assert_eq!(sim.records.len(), before, "report of {task} on {executor} not ignored");
    }
    sim.answer_kills = true;
    sim.run();
    assert_eq!(sim.collected(job), distinct_words(TEXT));
}

#[test]
fn killed_report_of_a_live_task_requeues_it() {
    let mut l = Lineage::default();
    let x = parallel(&mut l, &[&["a"], &["b"]]);
    let config = SchedulerConfig {
        task_scheduler: TaskSchedulerConfig { max_task_failures: 1, ..Default::default() },
        ..Default::default()
    };
    let mut sim = Sim::with_config(1, 2, config);
    let job = sim.submit(&l, x, vec![0, 1], ResultKind::Count);
    let first = *sim.running.keys().next().unwrap();
    sim.answer(first, Step::Fail(TaskFailure::Killed));
    sim.send(SchedulerEvent::ExecutorLost {
        executor: ExecutorId(77),
        reason: "never registered".into(),
    });
    sim.run();
    assert_eq!(sim.ok(job), &vec![ResultValue::Count(1), ResultValue::Count(1)]);
}

#[test]
fn always_failing_task_fails_the_job_after_four_attempts_on_at_least_two_executors() {
    let mut l = Lineage::default();
    let x = parallel(&mut l, &[&["a"], &["b"]]);
    // The simulation's `fail` op fails with its args as the guest's message.
    let fail = Op {
        kind: OpKind::Map,
        name: "fail".into(),
        args: b"ValueError: cannot parse 'x' at line 3".to_vec(),
    };
    let step =
        NarrowStep::Guest(GuestOps { component: ComponentId(0), ops: vec![op("upper"), fail] });
    let bad = l.add(RddKind::Narrow { parent: x, step }, 2, None);
    let mut sim = Sim::new(3, 1);
    let job = sim.submit(&l, bad, vec![0, 1], ResultKind::Count);
    sim.run();
    let err = sim.err(job);
    assert!(
        err.ends_with("failed 4 times; last failure: ValueError: cannot parse 'x' at line 3"),
        "{err}"
    );
    let failed = sim
        .launched
        .iter()
        .map(|(_, t)| t.id.partition)
        .find(|p| err.starts_with(&format!("task {p} ")))
        .unwrap();
    let executors: std::collections::BTreeSet<ExecutorId> =
        sim.launched.iter().filter(|(_, t)| t.id.partition == failed).map(|(e, _)| *e).collect();
    assert_eq!(sim.launched.iter().filter(|(_, t)| t.id.partition == failed).count(), 4);
    assert!(executors.len() >= 2, "{executors:?}");
}

#[test]
fn with_exclusion_a_task_failing_on_every_executor_fails_the_job_early() {
    let exclusion = ExclusionConfig { enabled: true, ..Default::default() };
    let config = SchedulerConfig {
        task_scheduler: TaskSchedulerConfig { exclusion, ..Default::default() },
        ..Default::default()
    };
    let mut l = Lineage::default();
    let x = parallel(&mut l, &[&["a"], &["b"], &["c"]]);
    let mut sim = Sim::with_config(2, 1, config);
    let job = sim.submit(&l, x, vec![0, 1, 2], ResultKind::Count);
    sim.run_with(
        |_, t| if t.id.partition == 1 { guest_failure("out of range") } else { Step::Run },
    );
    assert_eq!(
        sim.err(job),
        "task 1 of stage 0 cannot run on any executor: excluded after failing on executors 0, 1; last failure: out of range"
    );
    assert_eq!(
        sim.launched.iter().filter(|(_, t)| t.id.partition == 1).count(),
        2,
        "one attempt per executor"
    );
}
