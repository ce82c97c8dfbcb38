//! Jobs: result order, cancellation, degenerate submissions, unpersist and the event log.

use std::collections::BTreeMap;

use super::harness::*;
use crate::dag::{EventRecord, SchedulerEvent};
use crate::ids::{ExecutorId, JobId, RddId, TaskId};
use crate::lineage::Lineage;
use crate::records::Batch;
use crate::task::{BlockId, Plan, ResultKind, ResultValue, TaskAttempt};

fn records(v: &ResultValue) -> Vec<String> {
    match v {
        ResultValue::Records(b) => {
            b.iter().map(|r| String::from_utf8(r.to_vec()).unwrap()).collect()
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn results_come_back_in_requested_partition_order() {
    let parts: &[&[&str]] = &[&["p0"], &["p1a", "p1b"], &["p2"], &["p3"], &["p4"]];
    let mut l = Lineage::default();
    let x = parallel(&mut l, parts);
    let mut sim = Sim::new(3, 2);
    let job = sim.submit(&l, x, vec![3, 0, 4, 1], ResultKind::Collect);
    // Answer in reverse launch order.
    while let Some(t) = sim.running.keys().next_back().copied() {
        sim.answer(t, Step::Run);
    }
    let got: Vec<Vec<String>> = sim.ok(job).iter().map(records).collect();
    assert_eq!(got, vec![vec!["p3"], vec!["p0"], vec!["p4"], vec!["p1a", "p1b"]]);
    assert_eq!(sim.launched.len(), 4, "partition 2 was not asked for");
}

#[test]
fn tasks_wait_for_an_executor() {
    let mut l = Lineage::default();
    let x = parallel(&mut l, &[&["a"], &["b"]]);
    let mut sim = Sim::new(0, 0);
    let job = sim.submit(&l, x, vec![0, 1], ResultKind::Count);
    sim.send(SchedulerEvent::Tick);
    assert!(sim.launched.is_empty());
    sim.add_executor(7, 1);
    assert_eq!(sim.running.len(), 1);
    sim.run();
    assert_eq!(sim.ok(job), &vec![ResultValue::Count(1), ResultValue::Count(1)]);
}

#[test]
fn cancelling_a_job_kills_its_tasks() {
    let mut l = Lineage::default();
    let text = parallel(&mut l, TEXT);
    let d = distinct(&mut l, text, 2);
    let mut sim = Sim::new(2, 1);
    let job = sim.collect(&l, d);
    let running: Vec<TaskId> = sim.running.keys().copied().collect();
    assert_eq!(running.len(), 2);
    sim.send(SchedulerEvent::JobCancelled { job });
    assert!(sim.err(job).contains("cancelled"), "{}", sim.err(job));
    assert_eq!(sim.kills.iter().map(|k| k.1).collect::<Vec<_>>(), running);
    assert!(sim.running.is_empty(), "killed tasks reported and nothing relaunched");
    assert!(sim.sched.active_jobs().is_empty());
    // The map stage is kept; a later job runs only its missing partitions.
    let again = sim.collect(&l, d);
    sim.run();
    assert_eq!(sim.collected(again), lines());
}

/// The lines of `TEXT`, each once, sorted (distinct over whole lines).
fn lines() -> Vec<String> {
    let mut v: Vec<String> = TEXT.iter().flat_map(|p| p.iter()).map(|s| s.to_string()).collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn degenerate_jobs_finish_at_once() {
    let mut l = Lineage::default();
    let x = parallel(&mut l, &[&["a"]]);
    let mut sim = Sim::new(1, 1);
    let empty = sim.submit(&l, x, vec![], ResultKind::Count);
    assert_eq!(sim.ok(empty), &Vec::<ResultValue>::new());
    let out_of_range = sim.submit(&l, x, vec![0, 1], ResultKind::Count);
    assert!(sim.err(out_of_range).contains("partition 1"), "{}", sim.err(out_of_range));
    let repeated = sim.submit(&l, x, vec![0, 0], ResultKind::Count);
    assert!(sim.err(repeated).contains("repeated"));
    let unknown = sim.submit(&l, RddId(99), vec![0], ResultKind::Count);
    assert!(sim.err(unknown).contains("rdd-99"));
    let y = guest(&mut l, x, 9, &["upper"]);
    let no_component = sim.submit(&l, y, vec![0], ResultKind::Count);
    assert!(sim.err(no_component).contains("component-9"), "{}", sim.err(no_component));
    assert!(sim.launched.is_empty());
    assert!(sim.sched.active_jobs().is_empty());
}

#[test]
fn unpersist_drops_blocks_on_each_executor() {
    let mut l = Lineage::default();
    let x = parallel(&mut l, &[&["a"], &["b"], &["c"]]);
    let y = guest(&mut l, x, 0, &["upper"]);
    persist(&mut l, y);
    let mut sim = Sim::new(2, 2);
    let job = sim.submit(&l, y, vec![0, 1, 2], ResultKind::Count);
    sim.run();
    sim.ok(job);
    let mut expected: BTreeMap<ExecutorId, Vec<BlockId>> = BTreeMap::new();
    for (e, t) in &sim.launched {
        expected.entry(*e).or_default().push(BlockId { rdd: y, partition: t.id.partition });
    }
    assert_eq!(sim.blocks.len(), 3);
    sim.send(SchedulerEvent::RddUnpersisted { rdd: y });
    let mut dropped: BTreeMap<ExecutorId, Vec<BlockId>> = sim.drops.iter().cloned().collect();
    dropped.values_mut().for_each(|v| v.sort());
    assert_eq!(dropped, expected);
    assert!(sim.blocks.is_empty());
    assert!(!sim.sched.cache().fully_cached(y, 3));
    // The next job (lineage no longer persisting y) recomputes from the source.
    l.set_persist(y, None);
    let again = sim.submit(&l, y, vec![1], ResultKind::Collect);
    let (_, t) = sim.launched.last().unwrap();
    assert!(matches!(t.plan, Plan::Guest { .. }), "{:?}", t.plan);
    sim.run();
    assert_eq!(sim.ok(again), &vec![ResultValue::Records(Batch::from_records(["B"]))]);
}

#[test]
fn event_log_is_consistent() {
    let mut l = Lineage::default();
    let text = parallel(&mut l, TEXT);
    let words = guest(&mut l, text, 0, &["words"]);
    let d = distinct(&mut l, words, 3);
    let mut sim = Sim::new(2, 2);
    let job = sim.collect(&l, d);
    sim.run();
    sim.ok(job);
    let mut started = BTreeMap::new();
    let mut ended = BTreeMap::new();
    let mut last = std::time::Duration::ZERO;
    for r in &sim.records {
        let time = match r {
            EventRecord::JobStarted { time, .. }
            | EventRecord::JobEnded { time, .. }
            | EventRecord::StageSubmitted { time, .. }
            | EventRecord::StageCompleted { time, .. }
            | EventRecord::TaskStarted { time, .. } => *time,
            EventRecord::TaskEnded {
                start,
                end,
                id: TaskAttempt { task, .. },
                succeeded,
                failure,
                ..
            } => {
                assert!(start <= end);
                assert_eq!(*succeeded, failure.is_none());
                assert_eq!(started.get(task), Some(start), "TaskEnded without TaskStarted");
                assert!(ended.insert(*task, *end).is_none(), "{task} ended twice");
                *end
            }
        };
        if let EventRecord::TaskStarted {
            id: TaskAttempt { task, .. }, time, speculative, ..
        } = r
        {
            assert!(!speculative);
            started.insert(*task, *time);
        }
        assert!(time >= last, "records out of time order");
        last = time;
    }
    assert_eq!(started.len(), 7);
    assert_eq!(started.keys().collect::<Vec<_>>(), ended.keys().collect::<Vec<_>>());
    assert!(
        matches!(sim.records.first(), Some(EventRecord::JobStarted { job: j, .. }) if *j == job)
    );
    assert!(matches!(
        sim.records.last(),
        Some(EventRecord::JobEnded { job: j, succeeded: true, error: None, .. }) if *j == job
    ));
    let completed = sim
        .records
        .iter()
        .filter(|r| matches!(r, EventRecord::StageCompleted { failure: None, .. }))
        .count();
    assert_eq!(completed, 2);
    let _ = JobId(0);
}

#[test]
fn blocks_cached_after_unpersist_are_dropped_at_once() {
    let mut l = Lineage::default();
    let x = parallel(&mut l, &[&["a"], &["b"]]);
    let y = guest(&mut l, x, 0, &["upper"]);
    persist(&mut l, y);
    let mut sim = Sim::new(1, 1);
    let job = sim.submit(&l, y, vec![0, 1], ResultKind::Count);
    sim.send(SchedulerEvent::RddUnpersisted { rdd: y });
    assert!(sim.drops.is_empty(), "nothing cached yet");
    sim.run();
    sim.ok(job);
    assert_eq!(sim.drops.len(), 2, "each block dropped as soon as it is reported: {:?}", sim.drops);
    assert!(sim.blocks.is_empty());
    assert!(!sim.sched.cache().fully_cached(y, 2));
    // Persisting it again (a later job's lineage says so) caches again.
    let job = sim.submit(&l, y, vec![0, 1], ResultKind::Count);
    sim.run();
    sim.ok(job);
    assert!(sim.sched.cache().fully_cached(y, 2));
}

#[test]
fn cancelling_one_of_two_jobs_keeps_the_shared_stage_running() {
    let mut l = Lineage::default();
    let text = parallel(&mut l, TEXT);
    let d = distinct(&mut l, text, 2);
    let mut sim = Sim::new(1, 2);
    let a = sim.collect(&l, d);
    let b = sim.collect(&l, d);
    let running: Vec<TaskId> = sim.running.keys().copied().collect();
    sim.send(SchedulerEvent::JobCancelled { job: a });
    assert!(sim.err(a).contains("cancelled"));
    assert!(sim.kills.is_empty(), "the map stage still serves job b");
    assert_eq!(sim.running.keys().copied().collect::<Vec<_>>(), running);
    sim.run();
    assert_eq!(sim.collected(b), lines());
    assert_eq!(sim.launches_of(crate::ids::StageId(0)).len(), 4);
    // Cancelling a finished or unknown job does nothing.
    sim.send(SchedulerEvent::JobCancelled { job: b });
    sim.send(SchedulerEvent::JobCancelled { job: JobId(99) });
    assert_eq!(sim.finished.len(), 2);
}
