//! Task scheduler (physical level): executors and their free cores, one task set per stage attempt, locality, retries, speculation.
//!
//! Pure state, no IO and no clock: the DAG scheduler submits
//! task sets, asks for `resource_offers` after every event, and feeds task
//! reports through `status_update`. Whether a report is stale is decided in
//! exactly one place, `TaskScheduler::screen`; each attempt keeps the
//! map-output epoch it was launched at (given with the offers, opaque here),
//! by which the DAG scheduler judges the outputs it reports or names. A task's plan is not kept
//! here: the DAG scheduler builds it when the task is assigned, so that it
//! always names the current map-output and cached-block locations.
//!
//! Placement (`offers`): free slots are offered level by level with delay
//! scheduling (`task_set`): process-local (a preferred executor), node-local
//! (a preferred host, or the host of a preferred executor), no preference,
//! rack-local (another executor on the rack of a preferred host, racks being
//! declared by executors), then any. Speculative copies
//! of slow tasks (`speculation`) go last. A task whose attempt failed avoids
//! the executors it failed on while another usable executor exists; with
//! exclusion enabled, executors are excluded per task and per stage as
//! Spark's `excludeOnFailure` does.

mod executor_pool;
mod offers;
mod settings;
mod speculation;
mod task_set;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::ids::{ExecutorId, JobId, StageId, TaskId};
use crate::task::{TaskAttempt, TaskFailure, TaskReport};
pub(crate) use executor_pool::ExecutorPlace;
use executor_pool::ExecutorPool;
pub(crate) use settings::{ExclusionConfig, LocalityWaits, SpeculationConfig, TaskSchedulerConfig};
use task_set::{Failure, SetSettings, TaskSetManager};

/// Where a task would like to run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TaskLocation {
    /// On this executor (its input is cached in its memory); failing that, on its host.
    Executor(ExecutorId),
    /// On any executor of this host (its input is on the host's disk, or most of its shuffle input).
    Host(String),
}

/// How far from its preferred locations a task was launched (best first,
/// Spark's order: a task without preference ranks between node and rack).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TaskLocality {
    /// On a preferred executor.
    ProcessLocal,
    /// On a preferred host.
    NodeLocal,
    /// The task has no preference (it never waits for a better level).
    NoPref,
    /// On another host of a preferred host's rack (as executors declare with `--rack`).
    RackLocal,
    /// Anywhere.
    Any,
}

/// One task of a task set, as built by the DAG scheduler.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingTask {
    /// The partition of the stage's RDD.
    pub partition: u32,
    /// Preferred locations, best first (empty: no preference).
    pub preferred: Vec<TaskLocation>,
}

/// The tasks of one stage attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskSet {
    /// The job the stage runs for (its priority: lower ids run first).
    pub job: JobId,
    /// The stage.
    pub stage: StageId,
    /// The stage attempt.
    pub stage_attempt: u32,
    /// One task per missing partition.
    pub tasks: Vec<PendingTask>,
}

/// A task attempt placed on an executor; the caller builds and sends its description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The new attempt (its `job` is its task set's).
    pub id: TaskAttempt,
    /// Where it runs.
    pub executor: ExecutorId,
    /// How close to its preferences it landed.
    pub locality: TaskLocality,
    /// Whether it is a speculative copy of a running attempt.
    pub speculative: bool,
}

/// A launched attempt that ended (reported, or lost with its executor).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndedTask {
    /// The attempt.
    pub id: TaskAttempt,
    /// The executor it ran on.
    pub executor: ExecutorId,
    /// When it was launched.
    pub start: Duration,
    /// The map-output epoch current at its launch (`resource_offers`).
    pub epoch: u64,
}

/// What a report means for its stage attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskOutcome {
    /// Its stage attempt is gone, or its partition already succeeded: nothing to do.
    Stale,
    /// The first success of its partition in the current stage attempt; the
    /// partition's other running attempts must be killed.
    Succeeded { kill: Vec<(ExecutorId, TaskId)> },
    /// A counted failure; the partition is queued again.
    Retrying,
    /// A counted failure that reached `max_task_failures`, or (exclusion
    /// enabled) left the task no executor to run on: the stage attempt must be aborted.
    TooManyFailures { message: String },
    /// A fetch failure: the stage attempt must be abandoned (the partition is not queued again).
    FetchFailed,
    /// An uncounted failure (executor lost, killed); the partition is queued again.
    Requeued,
}

/// The task scheduler's reading of a task report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportVerdict {
    /// Not a running attempt (never launched, already reported, or lost with
    /// its executor, or reported by another executor): ignore it entirely.
    Unknown,
    /// A running attempt ended; its cores are free again.
    Ended { task: EndedTask, outcome: TaskOutcome },
}

/// Task sets run in order of job id, then stage id, then attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct SetKey {
    job: JobId,
    stage: StageId,
    attempt: u32,
}

#[derive(Debug)]
struct RunningTask {
    key: SetKey,
    index: usize,
    executor: ExecutorId,
    partition: u32,
    attempt: u32,
    start: Duration,
    epoch: u64,
}

/// The result of screening a report against the running attempts.
enum Screened {
    Unknown,
    Stale(EndedTask),
    Live(EndedTask, SetKey, usize),
}

/// The physical scheduler: executors, task sets and running attempts.
#[derive(Debug)]
pub struct TaskScheduler {
    max_task_failures: u32,
    /// Whether deterministic guest failures are retried (`wisp.task.retryGuestFailures`).
    retry_guest_failures: bool,
    settings: SetSettings,
    speculation: SpeculationConfig,
    next_speculation_check: Duration,
    pool: ExecutorPool,
    sets: BTreeMap<SetKey, TaskSetManager>,
    keys: FxHashMap<(StageId, u32), SetKey>,
    running: FxHashMap<TaskId, RunningTask>,
    next_task: u32,
}

impl TaskScheduler {
    /// An empty scheduler.
    pub fn new(config: &TaskSchedulerConfig) -> TaskScheduler {
        TaskScheduler {
            max_task_failures: config.max_task_failures.max(1),
            retry_guest_failures: config.retry_guest_failures,
            settings: SetSettings { waits: config.locality_waits, exclusion: config.exclusion },
            speculation: config.speculation,
            next_speculation_check: Duration::ZERO,
            pool: ExecutorPool::new(config.cpus_per_task.max(1)),
            sets: BTreeMap::new(),
            keys: FxHashMap::default(),
            running: FxHashMap::default(),
            next_task: 0,
        }
    }

    /// Registers an executor on `host`, without rack or data roots (again: updates its host and cores).
    pub fn add_executor(&mut self, executor: ExecutorId, host: String, cores: u32) {
        self.register_executor(executor, ExecutorPlace { host, ..Default::default() }, cores);
    }

    /// Registers an executor (again: updates its place and cores).
    pub fn register_executor(&mut self, executor: ExecutorId, place: ExecutorPlace, cores: u32) {
        let busy = self.running.values().filter(|r| r.executor == executor).count() as u32
            * self.pool.cpus;
        let host = place.host.clone();
        let old = self.pool.add(executor, place, cores, busy);
        self.relocate(executor, &host, old.as_deref());
    }

    /// Rebuilds the queues of task sets that prefer an executor that came or went.
    fn relocate(&mut self, executor: ExecutorId, host: &str, old_host: Option<&str>) {
        for set in self.sets.values_mut() {
            if set.references(executor, host)
                || old_host.is_some_and(|h| set.references(executor, h))
            {
                set.relocate(&self.pool);
            }
        }
    }

    /// Whether an executor is registered.
    pub fn has_executor(&self, executor: ExecutorId) -> bool {
        self.pool.executors.contains_key(&executor)
    }

    /// The host of a registered executor.
    pub fn executor_host(&self, executor: ExecutorId) -> Option<&str> {
        self.pool.host_of(executor)
    }

    /// The rack of a registered executor, if it declared one.
    pub fn executor_rack(&self, executor: ExecutorId) -> Option<&str> {
        self.pool.rack_of(executor)
    }

    /// The hosts whose executors announced a data root containing `path`
    /// (an input split there is node-local to them), by executor id.
    pub fn hosts_reading(&self, path: &std::path::Path) -> Vec<&str> {
        self.pool.hosts_reading(path)
    }

    /// Free cores of an executor.
    pub fn free_cores(&self, executor: ExecutorId) -> Option<u32> {
        self.pool.executors.get(&executor).map(|e| e.free)
    }

    /// Forgets an executor; its running attempts end (returned, by task id)
    /// and their partitions are queued again without counting a failure.
    pub fn remove_executor(&mut self, executor: ExecutorId) -> Vec<EndedTask> {
        let Some(slot) = self.pool.remove(executor) else {
            return Vec::new();
        };
        let mut lost: Vec<TaskId> =
            self.running.iter().filter(|(_, r)| r.executor == executor).map(|(t, _)| *t).collect();
        lost.sort();
        let mut ended = Vec::with_capacity(lost.len());
        for task in lost {
            let run = self.running.remove(&task).expect("listed above");
            if let Some(set) = self.sets.get_mut(&run.key) {
                set.failed(run.index, task, executor, Failure::Uncounted, &self.pool);
            }
            ended.push(ended_task(task, &run));
        }
        self.relocate(executor, &slot.host, None);
        ended
    }

    /// Adds the task set of a stage attempt, submitted at `now` (its locality wait starts).
    pub fn submit_task_set(&mut self, now: Duration, set: TaskSet) {
        let key = SetKey { job: set.job, stage: set.stage, attempt: set.stage_attempt };
        if set.tasks.is_empty() {
            return;
        }
        let manager = TaskSetManager::new(set.stage, set.tasks, now, self.settings, &self.pool);
        self.keys.insert((key.stage, key.attempt), key);
        self.sets.insert(key, manager);
    }

    /// Whether the task set of a stage attempt is active (not finished, not removed).
    pub fn has_task_set(&self, stage: StageId, stage_attempt: u32) -> bool {
        self.keys.contains_key(&(stage, stage_attempt))
    }

    /// The delay-scheduling level of an active task set (for tests and diagnostics).
    pub fn locality_level(&self, stage: StageId, stage_attempt: u32) -> Option<TaskLocality> {
        Some(self.sets.get(self.keys.get(&(stage, stage_attempt))?)?.delay_level())
    }

    /// Removes the task set of a stage attempt; returns its running attempts
    /// (by task id) for the caller to kill. They keep their cores until reported.
    pub fn remove_task_set(
        &mut self,
        stage: StageId,
        stage_attempt: u32,
    ) -> Vec<(ExecutorId, TaskId)> {
        let Some(key) = self.keys.remove(&(stage, stage_attempt)) else {
            return Vec::new();
        };
        self.sets.remove(&key);
        let mut kill: Vec<(ExecutorId, TaskId)> = self
            .running
            .iter()
            .filter(|(_, r)| r.key == key)
            .map(|(t, r)| (r.executor, *t))
            .collect();
        kill.sort_by_key(|(_, t)| *t);
        kill
    }

    /// The one function that drops stale reports: an attempt that is not
    /// running on the reporting executor is unknown; an attempt whose stage
    /// attempt has no active task set (finished, abandoned, aborted) or whose
    /// partition already succeeded is stale. Known attempts free their cores.
    fn screen(&mut self, report: &TaskReport) -> Screened {
        match self.running.get(&report.task) {
            Some(run) if run.executor == report.executor => {}
            _ => return Screened::Unknown,
        }
        let run = self.running.remove(&report.task).expect("checked above");
        self.pool.give(run.executor);
        let ended = ended_task(report.task, &run);
        match self.sets.get(&run.key) {
            Some(set) if !set.is_succeeded(run.index) => Screened::Live(ended, run.key, run.index),
            _ => Screened::Stale(ended),
        }
    }

    /// Applies a task report received at `now`.
    pub fn status_update(&mut self, now: Duration, report: &TaskReport) -> ReportVerdict {
        let (task, key, index) = match self.screen(report) {
            Screened::Unknown => return ReportVerdict::Unknown,
            Screened::Stale(task) => {
                return ReportVerdict::Ended { task, outcome: TaskOutcome::Stale };
            }
            Screened::Live(task, key, index) => (task, key, index),
        };
        let set = self.sets.get_mut(&key).expect("screened live");
        let outcome = match &report.result {
            Ok(_) => {
                let mut kill = set.succeeded(index, report.task, now.saturating_sub(task.start));
                kill.retain(|(t, _)| self.running.contains_key(t));
                TaskOutcome::Succeeded { kill: kill.into_iter().map(|(t, e)| (e, t)).collect() }
            }
            Err(failure @ (TaskFailure::Guest { .. } | TaskFailure::Host { .. })) => {
                let message = failure.message();
                let failure = match failure {
                    // A deterministic failure would fail again: with retries off, the first one fails the job.
                    TaskFailure::Guest { .. } if !self.retry_guest_failures => Failure::Counted {
                        message: &format!(
                            "{message} (not retried: {} is false)",
                            crate::settings::keys::TASK_RETRY_GUEST_FAILURES
                        ),
                        max_failures: 1,
                    },
                    _ => {
                        Failure::Counted { message: &message, max_failures: self.max_task_failures }
                    }
                };
                match set.failed(index, report.task, report.executor, failure, &self.pool) {
                    Some(message) => TaskOutcome::TooManyFailures { message },
                    None => TaskOutcome::Retrying,
                }
            }
            Err(TaskFailure::FetchFailed { .. }) => {
                set.failed(index, report.task, report.executor, Failure::Abandoned, &self.pool);
                TaskOutcome::FetchFailed
            }
            Err(TaskFailure::ExecutorLost | TaskFailure::Killed) => {
                set.failed(index, report.task, report.executor, Failure::Uncounted, &self.pool);
                TaskOutcome::Requeued
            }
        };
        if set.is_done() {
            self.sets.remove(&key);
            self.keys.remove(&(key.stage, key.attempt));
        }
        ReportVerdict::Ended { task, outcome }
    }

    /// The preferred locations of a queued or running partition (for tests and diagnostics).
    pub fn preferred_locations(
        &self,
        stage: StageId,
        stage_attempt: u32,
        partition: u32,
    ) -> Option<Vec<TaskLocation>> {
        let set = self.sets.get(self.keys.get(&(stage, stage_attempt))?)?;
        (0..set.len()).find(|&i| set.partition(i) == partition).map(|i| set.preferred(i).to_vec())
    }

    /// Number of running attempts.
    pub fn running_count(&self) -> usize {
        self.running.len()
    }
}

fn ended_task(task: TaskId, run: &RunningTask) -> EndedTask {
    EndedTask {
        id: TaskAttempt {
            task,
            job: run.key.job,
            stage: run.key.stage,
            stage_attempt: run.key.attempt,
            partition: run.partition,
            attempt: run.attempt,
        },
        executor: run.executor,
        start: run.start,
        epoch: run.epoch,
    }
}
