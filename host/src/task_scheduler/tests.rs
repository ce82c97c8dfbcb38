//! Task scheduler tests: placement, locality, retries and stale reports, as pure data.

use std::time::Duration;

use super::*;
use crate::task::{ResultValue, TaskMetrics, TaskOutput};

const T0: Duration = Duration::ZERO;

fn scheduler(max_failures: u32, cpus: u32) -> TaskScheduler {
    TaskScheduler::new(&TaskSchedulerConfig {
        max_task_failures: max_failures,
        cpus_per_task: cpus,
        ..Default::default()
    })
}

fn set(stage: u32, partitions: &[u32]) -> TaskSet {
    TaskSet {
        job: JobId(0),
        stage: StageId(stage),
        stage_attempt: 0,
        tasks: partitions
            .iter()
            .map(|&partition| PendingTask { partition, preferred: Vec::new() })
            .collect(),
    }
}

fn report(a: &Assignment, result: Result<TaskOutput, TaskFailure>) -> TaskReport {
    TaskReport {
        accumulators: Vec::new(),
        task: a.id.task,
        executor: a.executor,
        result,
        cached: Vec::new(),
        metrics: TaskMetrics::default(),
        log: String::new(),
    }
}

fn ok() -> Result<TaskOutput, TaskFailure> {
    Ok(TaskOutput::Result(ResultValue::Count(1)))
}

fn guest_err(message: &str) -> Result<TaskOutput, TaskFailure> {
    Err(TaskFailure::Guest { message: message.to_string() })
}

fn outcome(v: ReportVerdict) -> TaskOutcome {
    match v {
        ReportVerdict::Ended { outcome, .. } => outcome,
        ReportVerdict::Unknown => panic!("unknown report"),
    }
}

#[test]
fn guest_failures_fail_at_once_when_not_retried_but_host_failures_still_retry() {
    let config = TaskSchedulerConfig {
        max_task_failures: 4,
        retry_guest_failures: false,
        ..Default::default()
    };
    let mut ts = TaskScheduler::new(&config);
    ts.add_executor(ExecutorId(0), "h".into(), 1);
    ts.add_executor(ExecutorId(1), "h".into(), 1);
    ts.submit_task_set(T0, set(3, &[0, 1]));
    let a = ts.resource_offers(T0, 0);
    assert_eq!(a.len(), 2);
    // A disk error is the executor's: retried (elsewhere) whatever the setting.
    let host = Err(TaskFailure::Host {
        message: "cannot write shuffle file: No space left on device".into(),
    });
    assert_eq!(outcome(ts.status_update(T0, &report(&a[0], host))), TaskOutcome::Retrying);
    assert!(matches!(
        outcome(ts.status_update(T0, &report(&a[1], ok()))),
        TaskOutcome::Succeeded { .. }
    ));
    let b = ts.resource_offers(T0, 0);
    assert_eq!(
        (b.len(), b[0].id.partition, b[0].executor, b[0].id.attempt),
        (1, 0, ExecutorId(1), 1)
    );
    // A panic would happen again: the first one ends the stage.
    match outcome(ts.status_update(T0, &report(&b[0], guest_err("panicked at record 7")))) {
        TaskOutcome::TooManyFailures { message } => assert_eq!(
            message,
            "task 0 of stage 3 failed 2 times; last failure: panicked at record 7 (not retried: wisp.task.retryGuestFailures is false)"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn fills_free_cores_and_respects_cpus_per_task() {
    let mut ts = scheduler(4, 2);
    ts.add_executor(ExecutorId(0), "h0".into(), 4);
    ts.add_executor(ExecutorId(1), "h1".into(), 3);
    ts.add_executor(ExecutorId(2), "h2".into(), 1); // too small for a 2-core task
    ts.submit_task_set(T0, set(0, &[0, 1, 2, 3, 4, 5]));
    let a = ts.resource_offers(T0, 0);
    assert_eq!(a.len(), 3, "two tasks on executor 0, one on executor 1");
    assert_eq!(a.iter().filter(|x| x.executor == ExecutorId(0)).count(), 2);
    assert_eq!(a.iter().filter(|x| x.executor == ExecutorId(1)).count(), 1);
    // Round-robin: the first round gives one task to each executor.
    assert_eq!((a[0].executor, a[1].executor), (ExecutorId(0), ExecutorId(1)));
    assert_eq!(a.iter().map(|x| x.id.partition).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(ts.free_cores(ExecutorId(0)), Some(0));
    assert_eq!(ts.free_cores(ExecutorId(1)), Some(1));
    assert!(ts.resource_offers(T0, 0).is_empty());
    assert!(matches!(
        outcome(ts.status_update(T0, &report(&a[1], ok()))),
        TaskOutcome::Succeeded { .. }
    ));
    let b = ts.resource_offers(T0, 0);
    assert_eq!(b.len(), 1);
    assert_eq!((b[0].executor, b[0].id.partition), (ExecutorId(1), 3));
}

#[test]
fn prefers_process_local_then_node_local() {
    let mut ts = scheduler(4, 1);
    ts.add_executor(ExecutorId(0), "h0".into(), 1);
    ts.add_executor(ExecutorId(1), "h1".into(), 1);
    ts.add_executor(ExecutorId(2), "h1".into(), 1);
    ts.submit_task_set(
        T0,
        TaskSet {
            job: JobId(0),
            stage: StageId(0),
            stage_attempt: 0,
            tasks: vec![
                PendingTask { partition: 0, preferred: vec![TaskLocation::Host("h1".into())] },
                PendingTask { partition: 1, preferred: vec![] },
                PendingTask {
                    partition: 2,
                    preferred: vec![TaskLocation::Executor(ExecutorId(0))],
                },
            ],
        },
    );
    let a = ts.resource_offers(T0, 0);
    let placed: Vec<_> = a.iter().map(|x| (x.executor, x.id.partition, x.locality)).collect();
    assert_eq!(
        placed,
        vec![
            (ExecutorId(0), 2, TaskLocality::ProcessLocal),
            (ExecutorId(1), 0, TaskLocality::NodeLocal),
            (ExecutorId(2), 1, TaskLocality::NoPref),
        ]
    );
}

#[test]
fn failed_task_retries_elsewhere_then_aborts_with_guest_message() {
    let mut ts = scheduler(3, 1);
    ts.add_executor(ExecutorId(0), "h".into(), 1);
    ts.add_executor(ExecutorId(1), "h".into(), 1);
    ts.submit_task_set(T0, set(7, &[5]));
    let a = ts.resource_offers(T0, 0);
    assert_eq!((a.len(), a[0].executor, a[0].id.attempt), (1, ExecutorId(0), 0));
    assert_eq!(
        outcome(ts.status_update(T0, &report(&a[0], guest_err("boom")))),
        TaskOutcome::Retrying
    );
    let b = ts.resource_offers(T0, 0);
    assert_eq!(
        (b.len(), b[0].executor, b[0].id.attempt),
        (1, ExecutorId(1), 1),
        "retried on the other executor"
    );
    assert_eq!(
        outcome(ts.status_update(T0, &report(&b[0], guest_err("boom")))),
        TaskOutcome::Retrying
    );
    // Failed everywhere: any executor will do.
    let c = ts.resource_offers(T0, 0);
    assert_eq!((c.len(), c[0].id.attempt), (1, 2));
    match outcome(ts.status_update(T0, &report(&c[0], guest_err("bad record 42")))) {
        TaskOutcome::TooManyFailures { message } => {
            assert_eq!(message, "task 5 of stage 7 failed 3 times; last failure: bad record 42")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn excluded_task_waits_for_the_other_executor() {
    let mut ts = scheduler(4, 1);
    ts.add_executor(ExecutorId(0), "h".into(), 1);
    ts.add_executor(ExecutorId(1), "h".into(), 1);
    ts.submit_task_set(T0, set(0, &[0, 1, 2]));
    let a = ts.resource_offers(T0, 0);
    assert_eq!(a.len(), 2);
    assert_eq!((a[0].executor, a[0].id.partition), (ExecutorId(0), 0));
    ts.status_update(T0, &report(&a[0], guest_err("x")));
    // Executor 0 is free again but partition 0 avoids it: it takes partition 2.
    let b = ts.resource_offers(T0, 0);
    assert_eq!(
        b.iter().map(|x| (x.executor, x.id.partition)).collect::<Vec<_>>(),
        vec![(ExecutorId(0), 2)]
    );
    ts.status_update(T0, &report(&a[1], ok()));
    let c = ts.resource_offers(T0, 0);
    assert_eq!(
        c.iter().map(|x| (x.executor, x.id.partition)).collect::<Vec<_>>(),
        vec![(ExecutorId(1), 0)]
    );
}

#[test]
fn stale_and_unknown_reports_only_free_cores() {
    let mut ts = scheduler(4, 1);
    ts.add_executor(ExecutorId(0), "h".into(), 2);
    ts.submit_task_set(T0, set(0, &[0, 1]));
    let a = ts.resource_offers(T0, 0);
    // Wrong executor, never-launched task: unknown.
    let mut wrong = report(&a[0], ok());
    wrong.executor = ExecutorId(9);
    assert_eq!(ts.status_update(T0, &wrong), ReportVerdict::Unknown);
    let mut never = report(&a[0], ok());
    never.task = TaskId(999);
    assert_eq!(ts.status_update(T0, &never), ReportVerdict::Unknown);
    assert!(matches!(
        outcome(ts.status_update(T0, &report(&a[0], ok()))),
        TaskOutcome::Succeeded { .. }
    ));
    // A duplicate report is unknown: the attempt is no longer running.
    assert_eq!(ts.status_update(T0, &report(&a[0], ok())), ReportVerdict::Unknown);
    // Removing the set: its running attempt is to be killed and reports as stale.
    assert_eq!(ts.remove_task_set(StageId(0), 0), vec![(ExecutorId(0), a[1].id.task)]);
    assert_eq!(
        ts.free_cores(ExecutorId(0)),
        Some(1),
        "a killed attempt keeps its core until reported"
    );
    assert_eq!(
        outcome(ts.status_update(T0, &report(&a[1], Err(TaskFailure::Killed)))),
        TaskOutcome::Stale
    );
    assert_eq!(ts.free_cores(ExecutorId(0)), Some(2));
    assert_eq!(ts.running_count(), 0);
}

#[test]
fn lost_executor_requeues_without_counting() {
    let mut ts = scheduler(1, 1);
    ts.add_executor(ExecutorId(0), "h".into(), 1);
    ts.add_executor(ExecutorId(1), "h".into(), 1);
    ts.submit_task_set(T0, set(0, &[0, 1]));
    let a = ts.resource_offers(T0, 0);
    let lost = ts.remove_executor(ExecutorId(0));
    assert_eq!(lost.len(), 1);
    assert_eq!((lost[0].id.task, lost[0].id.partition), (a[0].id.task, 0));
    // A late report from the lost executor is unknown.
    assert_eq!(ts.status_update(T0, &report(&a[0], ok())), ReportVerdict::Unknown);
    ts.status_update(T0, &report(&a[1], ok()));
    let b = ts.resource_offers(T0, 0);
    assert_eq!(
        b.iter().map(|x| (x.executor, x.id.partition, x.id.attempt)).collect::<Vec<_>>(),
        vec![(ExecutorId(1), 0, 1)]
    );
    // Killed reports are not counted either (max failures is 1 here).
    assert_eq!(
        outcome(ts.status_update(T0, &report(&b[0], Err(TaskFailure::Killed)))),
        TaskOutcome::Requeued
    );
    let c = ts.resource_offers(T0, 0);
    assert_eq!(c.len(), 1);
    assert!(matches!(
        outcome(ts.status_update(T0, &report(&c[0], ok()))),
        TaskOutcome::Succeeded { .. }
    ));
    assert!(!ts.has_task_set(StageId(0), 0), "finished sets are removed");
}

#[test]
fn cancelled_launch_is_requeued() {
    let mut ts = scheduler(4, 1);
    ts.add_executor(ExecutorId(0), "h".into(), 1);
    ts.submit_task_set(T0, set(0, &[3]));
    let a = ts.resource_offers(T0, 0);
    ts.cancel_launch(a[0].id.task);
    assert_eq!(ts.free_cores(ExecutorId(0)), Some(1));
    let b = ts.resource_offers(T0, 0);
    assert_eq!((b[0].id.partition, b[0].id.attempt), (3, 0));
}

#[test]
fn lower_job_ids_go_first() {
    let mut ts = scheduler(4, 1);
    ts.add_executor(ExecutorId(0), "h".into(), 1);
    let mut late = set(5, &[0]);
    late.job = JobId(2);
    let mut early = set(9, &[0]);
    early.job = JobId(1);
    ts.submit_task_set(T0, late);
    ts.submit_task_set(T0, early);
    let a = ts.resource_offers(T0, 0);
    assert_eq!((a[0].id.job, a[0].id.stage), (JobId(1), StageId(9)));
}

#[test]
fn abort_message_is_one_line() {
    let mut ts = scheduler(1, 1);
    ts.add_executor(ExecutorId(0), "h".into(), 1);
    ts.submit_task_set(T0, set(2, &[0]));
    let a = ts.resource_offers(T0, 0);
    match outcome(ts.status_update(
        T0,
        &report(&a[0], guest_err("panicked at src/lib.rs:3:5:\nindex out of bounds\n")),
    )) {
        TaskOutcome::TooManyFailures { message } => {
            assert_eq!(
                message,
                "task 0 of stage 2 failed once; last failure: panicked at src/lib.rs:3:5: | index out of bounds"
            )
        }
        other => panic!("{other:?}"),
    }
}

fn prefer(stage: u32, partitions: &[u32], executor: u32) -> TaskSet {
    let mut s = set(stage, partitions);
    for t in &mut s.tasks {
        t.preferred = vec![TaskLocation::Executor(ExecutorId(executor))];
    }
    s
}

fn placed(a: &[Assignment]) -> Vec<(ExecutorId, u32, TaskLocality)> {
    a.iter().map(|x| (x.executor, x.id.partition, x.locality)).collect()
}

fn at(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

#[test]
fn delay_scheduling_relaxes_level_by_level_and_resets_on_a_better_launch() {
    let mut ts = scheduler(4, 1);
    ts.add_executor(ExecutorId(0), "h0".into(), 1);
    ts.add_executor(ExecutorId(1), "h0".into(), 1);
    ts.add_executor(ExecutorId(2), "h1".into(), 1);
    ts.submit_task_set(T0, prefer(0, &[0, 1, 2, 3, 4, 5], 0));
    let a = ts.resource_offers(T0, 0);
    assert_eq!(placed(&a), vec![(ExecutorId(0), 0, TaskLocality::ProcessLocal)]);
    assert!(ts.resource_offers(at(2999), 0).is_empty(), "process-local wait (3s) not over");
    let b = ts.resource_offers(at(3000), 0);
    assert_eq!(
        placed(&b),
        vec![(ExecutorId(1), 1, TaskLocality::NodeLocal)],
        "same host as the preferred executor"
    );
    assert_eq!(ts.locality_level(StageId(0), 0), Some(TaskLocality::NodeLocal));
    assert!(
        ts.resource_offers(at(5999), 0).is_empty(),
        "node-local wait restarted by the node-local launch"
    );
    let c = ts.resource_offers(at(6000), 0);
    assert_eq!(
        placed(&c),
        vec![(ExecutorId(2), 2, TaskLocality::Any)],
        "rack-local skipped: no racks"
    );
    assert_eq!(ts.locality_level(StageId(0), 0), Some(TaskLocality::Any));
    // Executor 0 frees: a process-local launch brings the level back down.
    ts.status_update(at(6100), &report(&a[0], ok()));
    let d = ts.resource_offers(at(6100), 0);
    assert_eq!(placed(&d), vec![(ExecutorId(0), 3, TaskLocality::ProcessLocal)]);
    assert_eq!(ts.locality_level(StageId(0), 0), Some(TaskLocality::ProcessLocal));
    // Executor 2 frees within the new wait: it gets nothing.
    ts.status_update(at(6200), &report(&c[0], ok()));
    assert!(ts.resource_offers(at(6200), 0).is_empty());
    assert_eq!(ts.free_cores(ExecutorId(2)), Some(1));
    // Until the waits pass again (process 3s, node 3s).
    assert!(ts.resource_offers(at(9099), 0).is_empty());
    assert_eq!(
        placed(&ts.resource_offers(at(12100), 0)),
        vec![(ExecutorId(2), 4, TaskLocality::Any)]
    );
}

#[test]
fn preferences_on_a_lost_or_absent_executor_do_not_wait() {
    let mut ts = scheduler(4, 1);
    ts.add_executor(ExecutorId(1), "h1".into(), 1);
    ts.submit_task_set(T0, prefer(0, &[0], 7));
    assert_eq!(
        placed(&ts.resource_offers(T0, 0)),
        vec![(ExecutorId(1), 0, TaskLocality::Any)],
        "executor 7 is not registered"
    );
    // The preferred executor registers: the queues are rebuilt and its tasks wait for it.
    ts.submit_task_set(T0, prefer(1, &[0, 1], 7));
    ts.add_executor(ExecutorId(7), "h7".into(), 1);
    let a = ts.resource_offers(at(1), 0);
    assert_eq!(placed(&a), vec![(ExecutorId(7), 0, TaskLocality::ProcessLocal)]);
}

fn excluding(max_failures: u32, per_task: u32, per_stage: u32) -> TaskScheduler {
    let exclusion = ExclusionConfig {
        enabled: true,
        max_task_attempts_per_executor: per_task,
        max_failed_tasks_per_executor: per_stage,
    };
    TaskScheduler::new(&TaskSchedulerConfig {
        max_task_failures: max_failures,
        exclusion,
        ..Default::default()
    })
}

#[test]
fn excluded_everywhere_a_task_fails_its_stage_with_the_guest_message() {
    let mut ts = excluding(4, 1, 2);
    ts.add_executor(ExecutorId(0), "h".into(), 1);
    ts.add_executor(ExecutorId(1), "h".into(), 1);
    ts.submit_task_set(T0, set(3, &[0]));
    let a = ts.resource_offers(T0, 0);
    assert_eq!(
        outcome(ts.status_update(T0, &report(&a[0], guest_err("boom")))),
        TaskOutcome::Retrying
    );
    let b = ts.resource_offers(T0, 0);
    assert_eq!(b[0].executor, ExecutorId(1));
    match outcome(ts.status_update(T0, &report(&b[0], guest_err("boom again")))) {
        TaskOutcome::TooManyFailures { message } => assert_eq!(
            message,
            "task 0 of stage 3 cannot run on any executor: excluded after failing on executors 0, 1; last failure: boom again"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn task_exclusion_threshold_counts_failures_per_executor() {
    let mut ts = excluding(4, 2, 10);
    ts.add_executor(ExecutorId(0), "h".into(), 1);
    ts.add_executor(ExecutorId(1), "h".into(), 1);
    ts.submit_task_set(T0, set(0, &[0]));
    let mut executors = Vec::new();
    for _ in 0..4 {
        let a = ts.resource_offers(T0, 0);
        assert_eq!(a.len(), 1);
        executors.push(a[0].executor.0);
        let o = outcome(ts.status_update(T0, &report(&a[0], guest_err("bad"))));
        if executors.len() < 4 {
            assert_eq!(o, TaskOutcome::Retrying);
        } else {
            assert_eq!(
                o,
                TaskOutcome::TooManyFailures {
                    message: "task 0 of stage 0 failed 4 times; last failure: bad".into()
                }
            );
        }
    }
    // Twice on each executor: never a third time on the same one.
    let mut sorted = executors.clone();
    sorted.sort();
    assert_eq!(sorted, vec![0, 0, 1, 1], "{executors:?}");
}

#[test]
fn executor_failing_two_tasks_of_a_stage_is_excluded_for_that_stage_only() {
    let mut ts = excluding(4, 1, 2);
    for e in 0..3 {
        ts.add_executor(ExecutorId(e), format!("h{e}"), 1);
    }
    ts.submit_task_set(T0, set(0, &[0, 1, 2, 3, 4, 5]));
    let a = ts.resource_offers(T0, 0);
    assert_eq!(
        placed(&a).iter().map(|p| (p.0.0, p.1)).collect::<Vec<_>>(),
        vec![(0, 0), (1, 1), (2, 2)]
    );
    ts.status_update(T0, &report(&a[0], guest_err("disk full")));
    let b = ts.resource_offers(T0, 0);
    assert_eq!(
        (b[0].executor, b[0].id.partition),
        (ExecutorId(0), 3),
        "task 0 avoids executor 0; task 3 runs there"
    );
    ts.status_update(T0, &report(&b[0], guest_err("disk full")));
    assert!(
        ts.resource_offers(T0, 0).is_empty(),
        "executor 0 failed two tasks of stage 0: excluded for it"
    );
    // Another stage's tasks still run there.
    let mut other = set(1, &[0]);
    other.job = JobId(1);
    ts.submit_task_set(T0, other);
    let c = ts.resource_offers(T0, 0);
    assert_eq!((c[0].executor, c[0].id.stage), (ExecutorId(0), StageId(1)));
    // Stage 0 continues on the other executors.
    ts.status_update(T0, &report(&a[1], ok()));
    let d = ts.resource_offers(T0, 0);
    assert_eq!(d[0].executor, ExecutorId(1));
    assert_eq!(d[0].id.stage, StageId(0));
}

#[test]
fn without_exclusion_an_executor_failing_many_tasks_keeps_running_others() {
    let mut ts = scheduler(4, 1);
    ts.add_executor(ExecutorId(0), "h0".into(), 1);
    ts.add_executor(ExecutorId(1), "h1".into(), 1);
    ts.submit_task_set(T0, set(0, &[0, 1, 2, 3]));
    let a = ts.resource_offers(T0, 0);
    ts.status_update(T0, &report(&a[0], guest_err("x")));
    let b = ts.resource_offers(T0, 0);
    assert_eq!((b[0].executor, b[0].id.partition), (ExecutorId(0), 2));
    ts.status_update(T0, &report(&b[0], guest_err("x")));
    let c = ts.resource_offers(T0, 0);
    assert_eq!(
        (c[0].executor, c[0].id.partition),
        (ExecutorId(0), 3),
        "not excluded for the stage"
    );
}

#[test]
fn speculative_copy_goes_to_another_host_and_only_once() {
    let spec = SpeculationConfig { enabled: true, ..Default::default() };
    let mut ts =
        TaskScheduler::new(&TaskSchedulerConfig { speculation: spec, ..Default::default() });
    ts.add_executor(ExecutorId(0), "h0".into(), 2);
    ts.add_executor(ExecutorId(1), "h1".into(), 1);
    ts.submit_task_set(T0, set(0, &[0, 1, 2, 3]));
    let a = ts.resource_offers(T0, 0);
    assert_eq!(
        a.iter().map(|x| (x.executor.0, x.id.partition)).collect::<Vec<_>>(),
        vec![(0, 0), (1, 1), (0, 2)]
    );
    // Partition 0 on executor 0 is slow; 1 and 2 finish in 10ms, then 3 too.
    ts.status_update(at(10), &report(&a[1], ok()));
    ts.status_update(at(10), &report(&a[2], ok()));
    let b = ts.resource_offers(at(10), 0);
    assert_eq!((b[0].executor.0, b[0].id.partition), (0, 3));
    ts.status_update(at(20), &report(&b[0], ok()));
    assert!(ts.resource_offers(at(20), 0).is_empty());
    assert!(!ts.check_speculation(at(100)), "running 100ms: not above minTaskRuntime");
    assert!(ts.check_speculation(at(200)));
    // Executor 0 has a free core but runs the original: the copy goes to executor 1 (host h1).
    let c = ts.resource_offers(at(200), 0);
    assert_eq!(
        c.iter()
            .map(|x| (x.executor.0, x.id.partition, x.id.attempt, x.speculative))
            .collect::<Vec<_>>(),
        vec![(1, 0, 1, true)]
    );
    assert!(!ts.check_speculation(at(400)), "one copy per task");
    match outcome(ts.status_update(at(401), &report(&c[0], ok()))) {
        TaskOutcome::Succeeded { kill } => assert_eq!(kill, vec![(ExecutorId(0), a[0].id.task)]),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        outcome(ts.status_update(at(402), &report(&a[0], Err(TaskFailure::Killed)))),
        TaskOutcome::Stale
    );
    assert_eq!(ts.running_count(), 0);
}

fn add_in_rack(ts: &mut TaskScheduler, executor: u32, host: &str, rack: &str, cores: u32) {
    let place =
        ExecutorPlace { host: host.into(), rack: Some(rack.into()), data_roots: Vec::new() };
    ts.register_executor(ExecutorId(executor), place, cores);
}

fn prefer_host(stage: u32, partitions: &[u32], host: &str) -> TaskSet {
    let mut s = set(stage, partitions);
    for t in &mut s.tasks {
        t.preferred = vec![TaskLocation::Host(host.into())];
    }
    s
}

#[test]
fn busy_preferred_host_runs_rack_local_after_the_node_wait_before_any_other_rack() {
    let mut ts = scheduler(4, 1);
    add_in_rack(&mut ts, 0, "h0", "r0", 1);
    add_in_rack(&mut ts, 1, "h1", "r1", 1); // offered first among the idle executors, but on another rack
    add_in_rack(&mut ts, 2, "h2", "r0", 1);
    ts.submit_task_set(T0, prefer_host(0, &[0, 1, 2, 3], "h0"));
    assert_eq!(
        placed(&ts.resource_offers(T0, 0)),
        vec![(ExecutorId(0), 0, TaskLocality::NodeLocal)]
    );
    assert!(ts.resource_offers(at(2999), 0).is_empty(), "node-local wait (3s) not over");
    assert_eq!(
        placed(&ts.resource_offers(at(3000), 0)),
        vec![(ExecutorId(2), 1, TaskLocality::RackLocal)],
        "same rack as h0; executor 1 (rack r1) still waits"
    );
    assert_eq!(ts.locality_level(StageId(0), 0), Some(TaskLocality::RackLocal));
    assert!(
        ts.resource_offers(at(5999), 0).is_empty(),
        "rack wait restarted by the rack-local launch"
    );
    assert_eq!(
        placed(&ts.resource_offers(at(6000), 0)),
        vec![(ExecutorId(1), 2, TaskLocality::Any)]
    );
}

#[test]
fn rack_wait_is_its_own_key_and_a_preferred_executor_brings_its_hosts_rack() {
    let waits = LocalityWaits { process: at(1000), node: at(2000), rack: at(5000) };
    let mut ts =
        TaskScheduler::new(&TaskSchedulerConfig { locality_waits: waits, ..Default::default() });
    add_in_rack(&mut ts, 0, "h0", "r0", 1);
    add_in_rack(&mut ts, 1, "h1", "r1", 1);
    add_in_rack(&mut ts, 2, "h2", "r0", 1);
    ts.submit_task_set(T0, prefer(0, &[0, 1, 2, 3], 0));
    assert_eq!(
        placed(&ts.resource_offers(T0, 0)),
        vec![(ExecutorId(0), 0, TaskLocality::ProcessLocal)]
    );
    assert!(ts.resource_offers(at(2999), 0).is_empty(), "process (1s) then node (2s) waits");
    assert_eq!(
        placed(&ts.resource_offers(at(3000), 0)),
        vec![(ExecutorId(2), 1, TaskLocality::RackLocal)]
    );
    assert!(ts.resource_offers(at(7999), 0).is_empty(), "rack wait (5s)");
    assert_eq!(
        placed(&ts.resource_offers(at(8000), 0)),
        vec![(ExecutorId(1), 2, TaskLocality::Any)]
    );
}

#[test]
fn rack_level_waits_only_while_the_preferred_hosts_rack_has_executors() {
    let mut ts = scheduler(4, 1);
    add_in_rack(&mut ts, 0, "h0", "r0", 1);
    add_in_rack(&mut ts, 1, "h1", "r1", 1);
    ts.submit_task_set(T0, prefer_host(0, &[0, 1], "h0"));
    assert_eq!(
        placed(&ts.resource_offers(T0, 0)),
        vec![(ExecutorId(0), 0, TaskLocality::NodeLocal)]
    );
    // The rack level has a task (h0's rack is r0) but only the busy executor is on it:
    // after the node wait the set still waits the rack wait, as Spark does; then anywhere.
    assert!(ts.resource_offers(at(5999), 0).is_empty());
    assert_eq!(
        placed(&ts.resource_offers(at(6000), 0)),
        vec![(ExecutorId(1), 1, TaskLocality::Any)]
    );
    // Once executor 0 leaves, h0 has no executor and no rack: nothing to wait for.
    let mut ts = scheduler(4, 1);
    add_in_rack(&mut ts, 1, "h1", "r1", 1);
    ts.submit_task_set(T0, prefer_host(0, &[0], "h0"));
    assert_eq!(placed(&ts.resource_offers(T0, 0)), vec![(ExecutorId(1), 0, TaskLocality::Any)]);
}

#[test]
fn an_attempt_ends_with_the_epoch_it_was_launched_at() {
    let mut ts = scheduler(4, 1);
    ts.add_executor(ExecutorId(0), "h".into(), 1);
    ts.add_executor(ExecutorId(1), "h".into(), 1);
    ts.submit_task_set(T0, set(0, &[0, 1, 2]));
    let a = ts.resource_offers(T0, 3);
    assert_eq!(a.len(), 2);
    let ended = |v: ReportVerdict| match v {
        ReportVerdict::Ended { task, .. } => task,
        ReportVerdict::Unknown => panic!("unknown report"),
    };
    assert_eq!(ended(ts.status_update(T0, &report(&a[0], ok()))).epoch, 3);
    let b = ts.resource_offers(T0, 5);
    assert_eq!((b.len(), b[0].executor), (1, a[0].executor));
    let lost = ts.remove_executor(a[1].executor);
    assert_eq!(lost.iter().map(|t| (t.id.task, t.epoch)).collect::<Vec<_>>(), [(a[1].id.task, 3)]);
    assert_eq!(ended(ts.status_update(T0, &report(&b[0], ok()))).epoch, 5);
}
