//! Locality: cached partitions run where their blocks are, delay scheduling waits and relaxes, the event log names each level.

use std::time::Duration;

use super::harness::*;
use crate::dag::{EventRecord, SchedulerConfig};
use crate::ids::{ExecutorId, RddId};
use crate::lineage::Lineage;
use crate::task::{Plan, ResultKind, ResultValue, Source, TaskDesc};
use crate::task_scheduler::{LocalityWaits, TaskSchedulerConfig};
use crate::task_scheduler::{TaskLocality, TaskLocation};

const MS: Duration = Duration::from_millis(1);

/// Eight one-word partitions, upper-cased and persisted.
fn cached_upper(l: &mut Lineage) -> RddId {
    let parts: Vec<Vec<String>> = (0..8).map(|i| vec![format!("w{i}")]).collect();
    let parts: Vec<Vec<&str>> =
        parts.iter().map(|p| p.iter().map(String::as_str).collect()).collect();
    let parts: Vec<&[&str]> = parts.iter().map(Vec::as_slice).collect();
    let x = parallel(l, &parts);
    let up = guest(l, x, 0, &["upper"]);
    persist(l, up);
    up
}

fn expected_upper() -> Vec<String> {
    (0..8).map(|i| format!("W{i}")).collect()
}

#[test]
fn second_job_over_a_cached_rdd_runs_every_task_process_local_where_its_block_is() {
    let mut l = Lineage::default();
    let up = cached_upper(&mut l);
    let mut sim = Sim::new(4, 2);
    let first = sim.collect(&l, up);
    sim.run();
    assert!(
        sim.starts().iter().all(|s| s.locality == TaskLocality::NoPref),
        "nothing cached yet: no preferences"
    );
    let second = sim.collect(&l, up);
    sim.run();
    assert_eq!(sim.collected(first), expected_upper());
    assert_eq!(sim.collected(second), expected_upper());
    let starts: Vec<Start> = sim.starts().into_iter().filter(|s| s.job == second).collect();
    assert_eq!(starts.len(), 8);
    for s in &starts {
        assert_eq!(s.locality, TaskLocality::ProcessLocal, "{s:?}");
        let holder =
            sim.sched.cache().locations(crate::task::BlockId { rdd: up, partition: s.partition })
                [0];
        assert_eq!(s.executor, holder, "partition {} runs on the executor caching it", s.partition);
    }
    for (e, t) in sim.launched.iter().filter(|(_, t)| t.id.job == second) {
        assert!(
            matches!(&t.plan, Plan::Cache { block, .. } if sim.cache_holders(*block) == vec![*e]),
            "{:?}",
            t.plan
        );
    }
}

/// Caches all eight partitions on executor 0 (the only executor during the
/// first job), then adds executor 1 on `host` and submits a second job.
fn all_blocks_on_executor_0(config: SchedulerConfig, host: &str) -> (Sim, crate::ids::JobId) {
    let mut l = Lineage::default();
    let up = cached_upper(&mut l);
    let mut sim = Sim::with_config(1, 1, config);
    let first = sim.collect(&l, up);
    sim.run();
    assert_eq!(sim.collected(first), expected_upper());
    sim.add_executor_on(1, host, 1);
    let second = sim.collect(&l, up);
    (sim, second)
}

#[test]
fn busy_preferred_executor_same_host_waits_then_runs_node_local() {
    let (mut sim, job) = all_blocks_on_executor_0(SchedulerConfig::default(), "h0");
    let starts = |sim: &Sim| sim.starts().into_iter().filter(|s| s.job == job).collect::<Vec<_>>();
    assert_eq!(starts(&sim).len(), 1, "executor 0 runs one task; executor 1 waits");
    assert_eq!(
        (starts(&sim)[0].executor, starts(&sim)[0].locality),
        (ExecutorId(0), TaskLocality::ProcessLocal)
    );
    sim.tick(2900 * MS);
    assert_eq!(starts(&sim).len(), 1, "still within the 3s process-local wait");
    sim.tick(200 * MS);
    let s = starts(&sim);
    assert_eq!(s.len(), 2, "the wait passed: executor 1 takes a task");
    assert_eq!((s[1].executor, s[1].locality), (ExecutorId(1), TaskLocality::NodeLocal));
    sim.run();
    assert_eq!(sim.collected(job), expected_upper());
}

#[test]
fn busy_preferred_executor_other_host_waits_for_each_level_then_runs_anywhere() {
    let waits = LocalityWaits {
        process: Duration::from_secs(1),
        node: Duration::from_secs(2),
        rack: Duration::from_secs(5),
    };
    let config = SchedulerConfig {
        task_scheduler: TaskSchedulerConfig { locality_waits: waits, ..Default::default() },
        ..Default::default()
    };
    let (mut sim, job) = all_blocks_on_executor_0(config, "h1");
    let count = |sim: &Sim| sim.starts().iter().filter(|s| s.job == job).count();
    assert_eq!(count(&sim), 1);
    sim.tick(1500 * MS);
    assert_eq!(
        count(&sim),
        1,
        "process wait over, node-local wait running (the tasks' host has an executor)"
    );
    sim.tick(1400 * MS);
    assert_eq!(count(&sim), 1, "2.9s: node wait not over");
    sim.tick(200 * MS);
    // Past 1s + 2s; rack-local is skipped (no executor declares a rack).
    let s: Vec<Start> = sim.starts().into_iter().filter(|s| s.job == job).collect();
    assert_eq!(s.len(), 2);
    assert_eq!((s[1].executor, s[1].locality), (ExecutorId(1), TaskLocality::Any));
    sim.run();
    assert_eq!(sim.collected(job), expected_upper());
}

#[test]
fn zero_wait_launches_at_once() {
    let config = SchedulerConfig {
        task_scheduler: TaskSchedulerConfig {
            locality_waits: LocalityWaits::uniform(Duration::ZERO),
            ..Default::default()
        },
        ..Default::default()
    };
    let (sim, job) = all_blocks_on_executor_0(config, "h1");
    let s: Vec<Start> = sim.starts().into_iter().filter(|s| s.job == job).collect();
    assert_eq!(
        s.iter().map(|s| (s.executor, s.locality)).collect::<Vec<_>>(),
        vec![(ExecutorId(0), TaskLocality::ProcessLocal), (ExecutorId(1), TaskLocality::Any)]
    );
}

#[test]
fn level_resets_after_a_launch_at_a_better_level() {
    let (mut sim, job) = all_blocks_on_executor_0(SchedulerConfig::default(), "h1");
    let stage = sim.launched.last().unwrap().1.id.stage;
    sim.tick(Duration::from_secs(7));
    let s: Vec<Start> = sim.starts().into_iter().filter(|s| s.job == job).collect();
    assert_eq!(
        s.iter().map(|s| s.locality).collect::<Vec<_>>(),
        vec![TaskLocality::ProcessLocal, TaskLocality::Any]
    );
    assert_eq!(sim.sched.task_scheduler().locality_level(stage, 0), Some(TaskLocality::Any));
    // Executor 0 finishes: its next task launches process-local and the level drops back.
    let on_0 = sim.running_attempt(job, s[0].partition).unwrap();
    sim.answer(on_0, Step::Run);
    assert_eq!(
        sim.sched.task_scheduler().locality_level(stage, 0),
        Some(TaskLocality::ProcessLocal)
    );
    // Executor 1 finishes within the wait: it gets nothing (the rest prefer executor 0).
    let before = sim.starts().len();
    let on_1 = sim.running_attempt(job, s[1].partition).unwrap();
    sim.answer(on_1, Step::Run);
    assert_eq!(sim.starts().len(), before, "executor 1 waits again");
    assert_eq!(sim.sched.task_scheduler().free_cores(ExecutorId(1)), Some(1));
    sim.run();
    assert_eq!(sim.collected(job), expected_upper());
}

#[test]
fn tasks_without_preference_never_wait() {
    let mut l = Lineage::default();
    let x = parallel(&mut l, &[&["a"], &["b"], &["c"]]);
    let mut sim = Sim::new(3, 1);
    let job = sim.submit(&l, x, vec![0, 1, 2], ResultKind::Count);
    assert_eq!(
        sim.starts().iter().map(|s| s.locality).collect::<Vec<_>>(),
        vec![TaskLocality::NoPref; 3]
    );
    sim.run();
    assert_eq!(sim.ok(job), &vec![ResultValue::Count(1); 3]);
}

#[test]
fn every_started_attempt_records_its_locality() {
    let (mut sim, job) = all_blocks_on_executor_0(SchedulerConfig::default(), "h0");
    sim.run();
    sim.ok(job);
    let n = sim.records.iter().filter(|r| matches!(r, EventRecord::TaskStarted { .. })).count();
    assert_eq!(n, sim.launched.len());
}

#[test]
fn a_task_placed_away_from_its_cached_block_recomputes_the_partition_instead_of_failing() {
    // Executors read only their own cached blocks: a task that delay scheduling
    // moves to executor 1 must compute its partition, not name executor 0's block.
    let (mut sim, job) = all_blocks_on_executor_0(SchedulerConfig::default(), "h0");
    sim.tick(3100 * MS);
    sim.run();
    assert_eq!(sim.collected(job), expected_upper());
    let moved: Vec<&TaskDesc> = sim
        .launched
        .iter()
        .filter(|(e, t)| t.id.job == job && *e == ExecutorId(1))
        .map(|(_, t)| t)
        .collect();
    assert!(!moved.is_empty(), "executor 1 ran some of the second job's tasks");
    for t in moved {
        assert!(
            matches!(&t.plan, Plan::Guest { input, .. } if matches!(**input, Plan::Read(Source::Slice(_)))),
            "recomputed, not cached again: {:?}",
            t.plan
        );
    }
    let failed = sim
        .records
        .iter()
        .filter(|r| matches!(r, EventRecord::TaskEnded { succeeded: false, .. }))
        .count();
    assert_eq!(failed, 0, "no attempt failed");
}

#[test]
fn splits_under_a_hosts_data_root_run_node_local_on_its_executors() {
    let mut sim = Sim::new(0, 1);
    sim.add_executor_at(0, "hA", None, &["/data/a"], 1);
    sim.add_executor_at(1, "hA", None, &["/data/a"], 1);
    sim.add_executor_at(2, "hB", None, &["/data/b/"], 1);
    sim.add_executor_at(3, "hC", None, &[], 1);
    let mut l = Lineage::default();
    // `/data/ab/...` is not below `/data/a`: roots match whole path components.
    let paths = ["/data/a/x0", "/data/a/sub/x1", "/data/b/y0", "/data/ab/z", "/data/a/x2"];
    let files = text_files(&mut l, &paths);
    let job = sim.collect(&l, files);
    let stage = sim.launched[0].1.id.stage;
    let prefs = |p| sim.sched.task_scheduler().preferred_locations(stage, 0, p).unwrap();
    assert_eq!(prefs(0), vec![TaskLocation::Host("hA".into())]);
    assert_eq!(prefs(2), vec![TaskLocation::Host("hB".into())]);
    assert_eq!(prefs(3), vec![]);
    let placed: Vec<(u32, ExecutorId, TaskLocality)> =
        sim.starts().iter().map(|s| (s.partition, s.executor, s.locality)).collect();
    assert_eq!(
        placed,
        vec![
            (0, ExecutorId(0), TaskLocality::NodeLocal),
            (1, ExecutorId(1), TaskLocality::NodeLocal),
            (2, ExecutorId(2), TaskLocality::NodeLocal),
            (3, ExecutorId(3), TaskLocality::NoPref),
        ]
    );
    sim.run();
    let mut expected: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
    expected.sort();
    assert_eq!(sim.collected(job), expected);
    for s in sim.starts() {
        if paths[s.partition as usize].starts_with("/data/a/") {
            assert!(s.executor.0 <= 1 && s.locality == TaskLocality::NodeLocal, "{s:?}");
        }
    }
}

#[test]
fn a_split_whose_host_is_busy_runs_rack_local_after_the_node_wait_and_the_log_says_so() {
    let mut sim = Sim::new(0, 1);
    sim.add_executor_at(0, "hA", Some("r0"), &["/data/a"], 1);
    sim.add_executor_at(1, "hC", Some("r1"), &[], 1);
    sim.add_executor_at(2, "hB", Some("r0"), &[], 1);
    let mut l = Lineage::default();
    let files = text_files(&mut l, &["/data/a/0", "/data/a/1", "/data/a/2"]);
    let job = sim.collect(&l, files);
    let placed = |sim: &Sim| {
        sim.starts().iter().map(|s| (s.partition, s.executor, s.locality)).collect::<Vec<_>>()
    };
    assert_eq!(placed(&sim), vec![(0, ExecutorId(0), TaskLocality::NodeLocal)]);
    sim.tick(2900 * MS);
    assert_eq!(placed(&sim).len(), 1, "node-local wait (3s) not over");
    sim.tick(200 * MS);
    assert_eq!(
        placed(&sim)[1..],
        [(1, ExecutorId(2), TaskLocality::RackLocal)],
        "hB shares hA's rack; hC waits"
    );
    sim.tick(2900 * MS);
    assert_eq!(placed(&sim).len(), 2, "rack wait not over");
    sim.tick(200 * MS);
    assert_eq!(placed(&sim)[2..], [(2, ExecutorId(1), TaskLocality::Any)]);
    sim.run();
    assert_eq!(sim.collected(job), vec!["/data/a/0", "/data/a/1", "/data/a/2"]);
    let logged: Vec<TaskLocality> = sim
        .records
        .iter()
        .filter_map(|r| match r {
            EventRecord::TaskStarted { locality, .. } => Some(*locality),
            _ => None,
        })
        .collect();
    assert_eq!(
        logged,
        vec![TaskLocality::NodeLocal, TaskLocality::RackLocal, TaskLocality::Any],
        "written `rack-local` etc. by the event log"
    );
}
