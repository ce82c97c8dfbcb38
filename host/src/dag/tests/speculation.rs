//! Speculation: a straggler gets one copy on another host, the first success wins, nothing is counted twice.

use std::time::Duration;

use super::harness::*;
use crate::dag::{EventRecord, SchedulerConfig};
use crate::ids::{ExecutorId, JobId, ShuffleId, StageId, TaskId};
use crate::lineage::{Lineage, MapSideCombine, ReduceSide};
use crate::task::{ResultKind, ResultValue, TaskAttempt, TaskMetrics, TaskReport};
use crate::task_scheduler::{SpeculationConfig, TaskSchedulerConfig};

fn speculating() -> SchedulerConfig {
    let speculation = SpeculationConfig { enabled: true, ..Default::default() };
    SchedulerConfig {
        task_scheduler: TaskSchedulerConfig { speculation, ..Default::default() },
        ..Default::default()
    }
}

/// Eight one-record partitions counted on 4 single-core executors (hosts
/// h0..h3); every task but partition 3's first attempt finishes quickly.
fn straggler(config: SchedulerConfig) -> (Sim, JobId, TaskId, ExecutorId) {
    let mut l = Lineage::default();
    let x = parallel(&mut l, &[&["a"], &["b"], &["c"], &["d"], &["e"], &["f"], &["g"], &["h"]]);
    let mut sim = Sim::with_config(4, 1, config);
    let job = sim.submit(&l, x, (0..8).collect(), ResultKind::Count);
    let (slow_exec, slow) = sim
        .launched
        .iter()
        .find(|(_, t)| t.id.partition == 3)
        .map(|(e, t)| (*e, t.id.task))
        .unwrap();
    sim.run_with(|_, t| if t.id.task == slow { Step::Hold } else { Step::Run });
    assert_eq!(sim.running.len(), 1, "only the straggler runs");
    (sim, job, slow, slow_exec)
}

fn speculative_starts(sim: &Sim) -> Vec<Start> {
    sim.starts().into_iter().filter(|s| s.speculative).collect()
}

#[test]
fn straggler_gets_a_copy_on_another_host_which_wins_and_the_original_is_killed() {
    let (mut sim, job, slow, slow_exec) = straggler(speculating());
    sim.tick(Duration::from_millis(50));
    assert!(speculative_starts(&sim).is_empty(), "below minTaskRuntime (100ms)");
    sim.tick(Duration::from_millis(150));
    let copies = speculative_starts(&sim);
    assert_eq!(copies.len(), 1, "one copy");
    let copy = copies[0];
    assert_eq!((copy.partition, copy.attempt), (3, 1));
    assert_ne!(copy.executor, slow_exec, "another executor (on another host)");
    // More ticks never add a second copy.
    sim.tick(Duration::from_secs(1));
    assert_eq!(speculative_starts(&sim).len(), 1);
    sim.answer(copy.task, Step::Run);
    assert_eq!(sim.kills, vec![(slow_exec, slow)], "the original is killed at once");
    assert!(sim.running.is_empty());
    assert_eq!(sim.ok(job), &vec![ResultValue::Count(1); 8], "each partition counted once");
    let ended: Vec<(TaskId, Option<String>)> = sim
        .records
        .iter()
        .filter_map(|r| match r {
            EventRecord::TaskEnded {
                id: TaskAttempt { task, partition: 3, .. }, failure, ..
            } => Some((*task, failure.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(ended, vec![(copy.task, None), (slow, Some("task killed".to_string()))]);
}

#[test]
fn a_late_success_of_the_losing_attempt_is_ignored() {
    let (mut sim, job, slow, slow_exec) = straggler(speculating());
    sim.answer_kills = false;
    sim.tick(Duration::from_millis(200));
    let copy = speculative_starts(&sim)[0];
    sim.answer(copy.task, Step::Run);
    assert_eq!(sim.kills, vec![(slow_exec, slow)]);
    let result = sim.ok(job).clone();
    // The killed attempt finishes anyway and reports success: only its end is logged.
    let before = sim.records.len();
    sim.answer(slow, Step::Run);
    assert_eq!(sim.records.len(), before + 1);
    assert!(matches!(&sim.records[before], EventRecord::TaskEnded { id, .. } if id.task == slow));
    assert_eq!(sim.ok(job), &result);
    assert_eq!(sim.sched.task_scheduler().running_count(), 0);
}

#[test]
fn the_original_may_win_and_the_copy_is_killed() {
    let (mut sim, job, slow, _) = straggler(speculating());
    sim.tick(Duration::from_millis(200));
    let copy = speculative_starts(&sim)[0];
    sim.answer(slow, Step::Run);
    assert_eq!(sim.kills, vec![(copy.executor, copy.task)]);
    assert_eq!(sim.ok(job), &vec![ResultValue::Count(1); 8]);
}

#[test]
fn speculation_off_launches_no_copies() {
    let (mut sim, job, slow, _) = straggler(SchedulerConfig::default());
    for _ in 0..10 {
        sim.tick(Duration::from_secs(1));
    }
    assert!(speculative_starts(&sim).is_empty());
    assert_eq!(sim.launched.len(), 8);
    sim.answer(slow, Step::Run);
    assert_eq!(sim.ok(job), &vec![ResultValue::Count(1); 8]);
}

#[test]
fn no_copy_before_the_quantile_has_finished() {
    let mut l = Lineage::default();
    let x = parallel(&mut l, &[&["a"], &["b"], &["c"], &["d"]]);
    let mut sim = Sim::with_config(4, 1, speculating());
    let job = sim.submit(&l, x, (0..4).collect(), ResultKind::Count);
    // Two of four finished: below 0.75.
    for p in [0, 1] {
        let t = sim.running_attempt(job, p).unwrap();
        sim.answer(t, Step::Run);
    }
    sim.tick(Duration::from_secs(5));
    assert!(speculative_starts(&sim).is_empty());
    // The third finishes: 3 >= floor(0.75 * 4), the last one is speculated.
    let t = sim.running_attempt(job, 2).unwrap();
    sim.answer(t, Step::Run);
    sim.tick(Duration::from_millis(200));
    assert_eq!(speculative_starts(&sim).iter().map(|s| s.partition).collect::<Vec<_>>(), vec![3]);
    sim.run();
    assert_eq!(sim.ok(job), &vec![ResultValue::Count(1); 4]);
}

#[test]
fn speculated_map_task_registers_its_output_once_and_the_reduce_reads_it() {
    let mut l = Lineage::default();
    let text = parallel(&mut l, TEXT);
    let words = guest(&mut l, text, 0, &["words"]);
    let d = shuffled(&mut l, words, 2, MapSideCombine::None, ReduceSide::Distinct);
    let mut sim = Sim::with_config(4, 1, speculating());
    sim.answer_kills = false;
    let job = sim.collect(&l, d);
    let slow = sim.running_attempt(job, 2).unwrap();
    sim.run_with(|_, t| {
        if t.id.task == slow || t.id.stage != StageId(0) { Step::Hold } else { Step::Run }
    });
    sim.tick(Duration::from_millis(200));
    let copy = speculative_starts(&sim)[0];
    assert_eq!(copy.partition, 2);
    sim.answer(copy.task, Step::Run);
    // The original finishes too: its map output is not registered over the winner's.
    let winner = sim.sched.map_outputs().statuses(ShuffleId(0))[2].clone().unwrap();
    sim.answer(slow, Step::Run);
    assert_eq!(sim.sched.map_outputs().statuses(ShuffleId(0))[2].as_ref(), Some(&winner));
    assert_eq!(winner.executor, copy.executor);
    sim.run();
    assert_eq!(sim.collected(job), distinct_words(TEXT));
    let map_launches = sim.launches_of(StageId(0)).len();
    assert_eq!(map_launches, 5, "four map tasks and one copy");
    // Both attempts of map partition 2 succeeded; its updates were merged once.
    assert_eq!(sim.merged_count(), 4 + 2, "once per (stage, partition)");
}

#[test]
fn killed_reports_never_count_as_failures() {
    // One allowed failure: a counted kill would fail the job.
    let mut config = speculating();
    config.task_scheduler.max_task_failures = 1;
    let (mut sim, job, slow, slow_exec) = straggler(config);
    sim.tick(Duration::from_millis(200));
    let copy = speculative_starts(&sim)[0];
    // The copy is killed by its executor (not by the scheduler): the original still runs.
    sim.running.remove(&copy.task);
    sim.report(TaskReport {
        accumulators: Vec::new(),
        task: copy.task,
        executor: copy.executor,
        result: Err(crate::task::TaskFailure::Killed),
        cached: Vec::new(),
        metrics: TaskMetrics::default(),
        log: String::new(),
    });
    assert!(sim.finished.is_empty());
    assert!(sim.kills.is_empty());
    assert_eq!(sim.running.values().map(|(e, _)| *e).collect::<Vec<_>>(), vec![slow_exec]);
    sim.answer(slow, Step::Run);
    assert_eq!(sim.ok(job), &vec![ResultValue::Count(1); 8]);
}

#[test]
fn the_losing_attempts_cached_block_is_dropped_not_registered() {
    let mut l = Lineage::default();
    let x = parallel(&mut l, &[&["a"], &["b"], &["c"], &["d"]]);
    let up = guest(&mut l, x, 0, &["upper"]);
    persist(&mut l, up);
    let mut sim = Sim::with_config(4, 1, speculating());
    sim.answer_kills = false;
    let job = sim.collect(&l, up);
    let slow = sim.running_attempt(job, 3).unwrap();
    let slow_exec = sim.running[&slow].0;
    sim.run_with(|_, t| if t.id.task == slow { Step::Hold } else { Step::Run });
    sim.tick(Duration::from_millis(200));
    let copy = speculative_starts(&sim)[0];
    sim.answer(copy.task, Step::Run);
    sim.answer(slow, Step::Run);
    let block = crate::task::BlockId { rdd: up, partition: 3 };
    assert_eq!(sim.sched.cache().locations(block), &[copy.executor]);
    assert_eq!(sim.drops, vec![(slow_exec, vec![block])]);
    assert_eq!(sim.collected(job), vec!["A", "B", "C", "D"]);
}
