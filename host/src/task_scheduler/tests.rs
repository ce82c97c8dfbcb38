//! Task scheduler tests: placement, locality, retries and stale reports, as pure data.

use std::time::Duration;

use super::*;
use crate::task::{ResultValue, TaskMetrics, TaskOutput};

const T0: Duration = Duration::ZERO;

fn scheduler(max_failures: u32, cpus: u32) -> TaskScheduler {
    TaskScheduler::new(&SchedulerConfig { max_task_failures: max_failures, cpus_per_task: cpus, ..Default::default() })
}

fn set(stage: u32, partitions: &[u32]) -> TaskSet {
    TaskSet {
        job: JobId(0),
        stage: StageId(stage),
        stage_attempt: 0,
        tasks: partitions.iter().map(|&partition| PendingTask { partition, preferred: Vec::new() }).collect(),
    }
}

fn report(a: &Assignment, result: Result<TaskOutput, TaskFailure>) -> TaskReport {
    TaskReport { task: a.task, executor: a.executor, result, cached: Vec::new(), metrics: TaskMetrics::default() }
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
fn fills_free_cores_and_respects_cpus_per_task() {
    let mut ts = scheduler(4, 2);
    ts.add_executor(ExecutorId(0), "h0".into(), 4);
    ts.add_executor(ExecutorId(1), "h1".into(), 3);
    ts.add_executor(ExecutorId(2), "h2".into(), 1); // too small for a 2-core task
    ts.submit_task_set(T0, set(0, &[0, 1, 2, 3, 4, 5]));
    let a = ts.resource_offers(T0);
    assert_eq!(a.len(), 3, "two tasks on executor 0, one on executor 1");
    assert_eq!(a.iter().filter(|x| x.executor == ExecutorId(0)).count(), 2);
    assert_eq!(a.iter().filter(|x| x.executor == ExecutorId(1)).count(), 1);
    // Round-robin: the first round gives one task to each executor.
    assert_eq!((a[0].executor, a[1].executor), (ExecutorId(0), ExecutorId(1)));
    assert_eq!(a.iter().map(|x| x.partition).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(ts.free_cores(ExecutorId(0)), Some(0));
    assert_eq!(ts.free_cores(ExecutorId(1)), Some(1));
    assert!(ts.resource_offers(T0).is_empty());
    assert!(matches!(outcome(ts.status_update(T0, &report(&a[1], ok()))), TaskOutcome::Succeeded { .. }));
    let b = ts.resource_offers(T0);
    assert_eq!(b.len(), 1);
    assert_eq!((b[0].executor, b[0].partition), (ExecutorId(1), 3));
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
                PendingTask { partition: 2, preferred: vec![TaskLocation::Executor(ExecutorId(0))] },
            ],
        },
    );
    let a = ts.resource_offers(T0);
    let placed: Vec<_> = a.iter().map(|x| (x.executor, x.partition, x.locality)).collect();
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
    let a = ts.resource_offers(T0);
    assert_eq!((a.len(), a[0].executor, a[0].attempt), (1, ExecutorId(0), 0));
    assert_eq!(outcome(ts.status_update(T0, &report(&a[0], guest_err("boom")))), TaskOutcome::Retrying);
    let b = ts.resource_offers(T0);
    assert_eq!((b.len(), b[0].executor, b[0].attempt), (1, ExecutorId(1), 1), "retried on the other executor");
    assert_eq!(outcome(ts.status_update(T0, &report(&b[0], guest_err("boom")))), TaskOutcome::Retrying);
    // Failed everywhere: any executor will do.
    let c = ts.resource_offers(T0);
    assert_eq!((c.len(), c[0].attempt), (1, 2));
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
    let a = ts.resource_offers(T0);
    assert_eq!(a.len(), 2);
    assert_eq!((a[0].executor, a[0].partition), (ExecutorId(0), 0));
    ts.status_update(T0, &report(&a[0], guest_err("x")));
    // Executor 0 is free again but partition 0 avoids it: it takes partition 2.
    let b = ts.resource_offers(T0);
    assert_eq!(b.iter().map(|x| (x.executor, x.partition)).collect::<Vec<_>>(), vec![(ExecutorId(0), 2)]);
    ts.status_update(T0, &report(&a[1], ok()));
    let c = ts.resource_offers(T0);
    assert_eq!(c.iter().map(|x| (x.executor, x.partition)).collect::<Vec<_>>(), vec![(ExecutorId(1), 0)]);
}

#[test]
fn stale_and_unknown_reports_only_free_cores() {
    let mut ts = scheduler(4, 1);
    ts.add_executor(ExecutorId(0), "h".into(), 2);
    ts.submit_task_set(T0, set(0, &[0, 1]));
    let a = ts.resource_offers(T0);
    // Wrong executor, never-launched task: unknown.
    let mut wrong = report(&a[0], ok());
    wrong.executor = ExecutorId(9);
    assert_eq!(ts.status_update(T0, &wrong), ReportVerdict::Unknown);
    let mut never = report(&a[0], ok());
    never.task = TaskId(999);
    assert_eq!(ts.status_update(T0, &never), ReportVerdict::Unknown);
    assert!(matches!(outcome(ts.status_update(T0, &report(&a[0], ok()))), TaskOutcome::Succeeded { .. }));
    // A duplicate report is unknown: the attempt is no longer running.
    assert_eq!(ts.status_update(T0, &report(&a[0], ok())), ReportVerdict::Unknown);
    // Removing the set: its running attempt is to be killed and reports as stale.
    assert_eq!(ts.remove_task_set(StageId(0), 0), vec![(ExecutorId(0), a[1].task)]);
    assert_eq!(ts.free_cores(ExecutorId(0)), Some(1), "a killed attempt keeps its core until reported");
    assert_eq!(outcome(ts.status_update(T0, &report(&a[1], Err(TaskFailure::Killed)))), TaskOutcome::Stale);
    assert_eq!(ts.free_cores(ExecutorId(0)), Some(2));
    assert_eq!(ts.running_count(), 0);
}

#[test]
fn lost_executor_requeues_without_counting() {
    let mut ts = scheduler(1, 1);
    ts.add_executor(ExecutorId(0), "h".into(), 1);
    ts.add_executor(ExecutorId(1), "h".into(), 1);
    ts.submit_task_set(T0, set(0, &[0, 1]));
    let a = ts.resource_offers(T0);
    let lost = ts.remove_executor(ExecutorId(0));
    assert_eq!(lost.len(), 1);
    assert_eq!((lost[0].task, lost[0].partition), (a[0].task, 0));
    // A late report from the lost executor is unknown.
    assert_eq!(ts.status_update(T0, &report(&a[0], ok())), ReportVerdict::Unknown);
    ts.status_update(T0, &report(&a[1], ok()));
    let b = ts.resource_offers(T0);
    assert_eq!(b.iter().map(|x| (x.executor, x.partition, x.attempt)).collect::<Vec<_>>(), vec![(ExecutorId(1), 0, 1)]);
    // Killed reports are not counted either (max failures is 1 here).
    assert_eq!(outcome(ts.status_update(T0, &report(&b[0], Err(TaskFailure::Killed)))), TaskOutcome::Requeued);
    let c = ts.resource_offers(T0);
    assert_eq!(c.len(), 1);
    assert!(matches!(outcome(ts.status_update(T0, &report(&c[0], ok()))), TaskOutcome::Succeeded { .. }));
    assert!(!ts.has_task_set(StageId(0), 0), "finished sets are removed");
}

#[test]
fn cancelled_launch_is_requeued() {
    let mut ts = scheduler(4, 1);
    ts.add_executor(ExecutorId(0), "h".into(), 1);
    ts.submit_task_set(T0, set(0, &[3]));
    let a = ts.resource_offers(T0);
    ts.cancel_launch(a[0].task);
    assert_eq!(ts.free_cores(ExecutorId(0)), Some(1));
    let b = ts.resource_offers(T0);
    assert_eq!((b[0].partition, b[0].attempt), (3, 0));
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
    let a = ts.resource_offers(T0);
    assert_eq!((a[0].job, a[0].stage), (JobId(1), StageId(9)));
}

#[test]
fn abort_message_is_one_line() {
    let mut ts = scheduler(1, 1);
    ts.add_executor(ExecutorId(0), "h".into(), 1);
    ts.submit_task_set(T0, set(2, &[0]));
    let a = ts.resource_offers(T0);
    match outcome(ts.status_update(T0, &report(&a[0], guest_err("panicked at src/lib.rs:3:5:\nindex out of bounds\n")))) {
        TaskOutcome::TooManyFailures { message } => {
            assert_eq!(message, "task 0 of stage 2 failed 1 times; last failure: panicked at src/lib.rs:3:5: | index out of bounds")
        }
        other => panic!("{other:?}"),
    }
}
