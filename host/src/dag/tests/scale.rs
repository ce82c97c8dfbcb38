//! Scale: many partitions must schedule without quadratic work.

use std::sync::Arc;
use std::time::Instant;

use super::harness::*;
use crate::dag::{SchedulerCommand, SchedulerEvent};
use crate::ids::{ExecutorId, JobId};
use crate::lineage::{Lineage, MapSideCombine, RddKind, ReduceSide};
use crate::records::Batch;
use crate::task::{ResultKind, ResultValue};

/// A generous bound: the work below takes tens of milliseconds; a quadratic
/// loop over 10,000 tasks takes far longer.
const BOUND_SECS: u64 = 20;

#[test]
fn ten_thousand_partitions_schedule_quickly() {
    let n = 10_000u32;
    let mut l = Lineage::default();
    let slice = Arc::new(Batch::from_records(["r"]));
    let x = l.add(RddKind::Parallel { slices: vec![slice; n as usize] }, n, None);
    let y = guest(&mut l, x, 0, &["upper"]);
    let start = Instant::now();
    let mut sim = Sim::new(8, 4);
    let job = sim.submit(&l, y, (0..n).rev().collect(), ResultKind::Count);
    sim.run();
    let results = sim.ok(job);
    assert_eq!(results.len(), n as usize);
    assert!(results.iter().all(|r| *r == ResultValue::Count(1)));
    assert_eq!(sim.launched.len(), n as usize);
    assert!(start.elapsed().as_secs() < BOUND_SECS, "took {:?}", start.elapsed());
}

#[test]
fn ten_thousand_map_tasks_feed_a_shuffle() {
    let n = 10_000u32;
    let mut l = Lineage::default();
    let slices = (0..n).map(|i| Arc::new(Batch::from_records([format!("k{}", i % 97)]))).collect();
    let x = l.add(RddKind::Parallel { slices }, n, None);
    let d = shuffled(&mut l, x, 16, MapSideCombine::None, ReduceSide::Distinct);
    let start = Instant::now();
    // Drive the scheduler directly: answer launches with fixed map statuses.
    let mut sched = crate::dag::Scheduler::new(Default::default());
    let mut now = std::time::Duration::ZERO;
    for e in 0..8 {
        sched.handle(
            now,
            SchedulerEvent::ExecutorAdded {
                executor: ExecutorId(e),
                host: "h".into(),
                rack: None,
                data_roots: Vec::new(),
                cores: 4,
            },
        );
    }
    let sim = Sim::new(0, 0);
    sched.handle(
        now,
        SchedulerEvent::JobSubmitted {
            job: JobId(0),
            lineage: Arc::new(l),
            rdd: d,
            partitions: (0..16).collect(),
            result: ResultKind::Count,
            components: sim.components.clone(),
            shared: Default::default(),
        },
    );
    let mut pending = std::collections::VecDeque::new();
    let mut result = None;
    let mut launched = 0;
    loop {
        for c in sched.drain_commands() {
            match c {
                SchedulerCommand::LaunchTask { executor, task } => {
                    launched += 1;
                    pending.push_back((executor, task));
                }
                SchedulerCommand::JobFinished { result: r, .. } => result = Some(r),
                _ => {}
            }
        }
        let Some((executor, task)) = pending.pop_front() else {
            break;
        };
        let output = match task.sink {
            crate::task::TaskSink::ShuffleWrite { .. } => {
                crate::task::TaskOutput::MapStatus { sizes: vec![10; 16] }
            }
            crate::task::TaskSink::Result(_) => {
                crate::task::TaskOutput::Result(ResultValue::Count(7))
            }
        };
        now += std::time::Duration::from_micros(10);
        sched.handle(
            now,
            SchedulerEvent::TaskFinished(crate::task::TaskReport {
                accumulators: Vec::new(),
                task: task.id.task,
                executor,
                result: Ok(output),
                cached: Vec::new(),
                metrics: Default::default(),
                log: String::new(),
            }),
        );
    }
    assert_eq!(launched, n as usize + 16);
    assert_eq!(result.unwrap().unwrap(), vec![ResultValue::Count(7); 16]);
    assert!(start.elapsed().as_secs() < BOUND_SECS, "took {:?}", start.elapsed());
}
