//! Resource offers: placing queued tasks on free cores, level by level, with delay scheduling.
//!
//! As Spark's `TaskSchedulerImpl.resourceOffers`: task sets in priority
//! order; for each, offer passes at process-local, node-local, no-preference,
//! rack-local and any, each pass going round the executors with a free slot
//! (ascending, one task per executor per round, so load spreads) until a
//! round launches nothing. A pass of level L launches a task at L or better,
//! and never worse than the set's delay-scheduling level; speculative copies
//! go in the last pass. Only executors with a free slot are visited, so an
//! event that frees one core costs one offer, not one per executor.

use std::time::Duration;

use super::{Assignment, RunningTask, SetKey, TaskLocality, TaskScheduler};
use crate::ids::{ExecutorId, TaskId};
use crate::task::TaskAttempt;

/// The offer passes, best level first.
const PASSES: [TaskLocality; 5] = [
    TaskLocality::ProcessLocal,
    TaskLocality::NodeLocal,
    TaskLocality::NoPref,
    TaskLocality::RackLocal,
    TaskLocality::Any,
];

impl TaskScheduler {
    /// Places queued tasks on free cores; the attempts launched carry `epoch`
    /// (the DAG scheduler's map-output epoch, returned in their `EndedTask`).
    pub fn resource_offers(&mut self, now: Duration, epoch: u64) -> Vec<Assignment> {
        let mut out = Vec::new();
        if !self.pool.has_free() {
            return out;
        }
        let keys: Vec<SetKey> =
            self.sets.iter().filter(|(_, s)| s.has_work()).map(|(k, _)| *k).collect();
        for key in keys {
            for max in PASSES {
                loop {
                    let free = self.pool.free_executors();
                    if free.is_empty() {
                        return out;
                    }
                    let mut launched = false;
                    for executor in free {
                        if !self.pool.is_free(executor) {
                            continue;
                        }
                        let Some(set) = self.sets.get_mut(&key) else { break };
                        if !set.has_work() {
                            break;
                        }
                        let host =
                            self.pool.host_of(executor).expect("free executors are registered");
                        let Some(placed) = set.resource_offer(now, executor, host, max, &self.pool)
                        else {
                            continue;
                        };
                        out.push(self.launch(now, epoch, executor, key, placed));
                        launched = true;
                    }
                    if !launched {
                        break;
                    }
                }
            }
        }
        out
    }

    /// Launches a task of set `key` on `executor`, as the set placed it:
    /// (task index, locality, speculative).
    fn launch(
        &mut self,
        now: Duration,
        epoch: u64,
        executor: ExecutorId,
        key: SetKey,
        (index, locality, speculative): (usize, TaskLocality, bool),
    ) -> Assignment {
        let task = TaskId(self.next_task);
        self.next_task += 1;
        let set = self.sets.get_mut(&key).expect("picked from the sets");
        let attempt = set.launched(index, task, executor);
        let partition = set.partition(index);
        self.pool.take(executor);
        self.running.insert(
            task,
            RunningTask { key, index, executor, partition, attempt, start: now, epoch },
        );
        let id = TaskAttempt {
            task,
            job: key.job,
            stage: key.stage,
            stage_attempt: key.attempt,
            partition,
            attempt,
        };
        Assignment { id, executor, locality, speculative }
    }

    /// Takes back an assignment that was never sent to its executor (its
    /// partition is queued again, its cores are free).
    pub fn cancel_launch(&mut self, task: TaskId) {
        let Some(run) = self.running.remove(&task) else {
            return;
        };
        self.pool.give(run.executor);
        if let Some(set) = self.sets.get_mut(&run.key) {
            set.unlaunched(run.index, task, &self.pool);
        }
    }
}
