//! One stage attempt's tasks (a task set): pending queues by locality, delay scheduling, attempts, failures, exclusion, speculative copies.
//!
//! Pending queues are stacks of task indexes: one per preferred executor, one
//! per preferred host (a task preferring an executor is also queued for that
//! executor's host), one per rack of a preferred host (as Spark's
//! `pendingTasksForRack`: racks are known from the executors that declared
//! them), one for tasks without preference and one for all tasks.
//! Entries are removed lazily: an index whose task is no longer queued (it
//! was launched from another queue, or succeeded) is discarded when met.
//!
//! Delay scheduling follows Spark's `TaskSetManager.getAllowedLocalityLevel`:
//! the set's level starts at process-local; it relaxes to the next level
//! (node-local, rack-local, any) once no task has launched at the current
//! level for that level's wait, or at once when no queued task can run at
//! it; a launch at a better level brings the level back down to it. Tasks
//! without preference never wait.

use std::time::Duration;

use rustc_hash::{FxHashMap, FxHashSet};

use super::executor_pool::ExecutorPool;
use super::speculation::MedianHeap;
use super::{ExclusionConfig, LocalityWaits, SpeculationConfig};
use super::{PendingTask, TaskLocality, TaskLocation};
use crate::ids::{ExecutorId, StageId, TaskId};

/// The state of one task (one partition) of a task set.
#[derive(Debug)]
struct TaskEntry {
    partition: u32,
    preferred: Vec<TaskLocation>,
    /// Attempts launched so far (the next attempt's number).
    launched: u32,
    /// Counted failures (guest errors).
    failures: u32,
    /// Executors a counted failure happened on, with the number of failures there.
    failed_on: Vec<(ExecutorId, u32)>,
    /// Running attempts and their executors.
    running: Vec<(TaskId, ExecutorId)>,
    /// Waiting in the pending queues for a launch.
    queued: bool,
    succeeded: bool,
    /// While queued: a preferred executor is registered (the task counts at process-local).
    exec_live: bool,
    /// While queued: a preferred host has an executor (the task counts at node-local).
    host_live: bool,
    /// While queued: a preferred host's rack is known, so has an executor (the task counts at rack-local).
    rack_live: bool,
    /// A speculative copy was asked for (at most one per task).
    speculated: bool,
    /// Waiting in the speculation queue.
    spec_queued: bool,
}

impl TaskEntry {
    fn failures_on(&self, executor: ExecutorId) -> u32 {
        self.failed_on.iter().find(|(e, _)| *e == executor).map_or(0, |(_, n)| *n)
    }
}

/// How a failed attempt affects its task.
pub(crate) enum Failure<'a> {
    /// Counts toward `max_task_failures`; the message is the guest's.
    Counted { message: &'a str, max_failures: u32 },
    /// Does not count (executor lost, killed); the task is queued again.
    Uncounted,
    /// The stage attempt is being abandoned: the task is not queued again.
    Abandoned,
}

/// The delay-scheduling state of a task set.
#[derive(Debug)]
struct Delay {
    /// The worst level tasks may launch at now (never `NoPref`).
    level: TaskLocality,
    /// When the wait at `level` started.
    last_reset: Duration,
}

/// What a task set is told at creation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SetSettings {
    pub(crate) waits: LocalityWaits,
    pub(crate) exclusion: ExclusionConfig,
}

/// The tasks of one stage attempt.
#[derive(Debug)]
pub(crate) struct TaskSetManager {
    stage: StageId,
    settings: SetSettings,
    tasks: Vec<TaskEntry>,
    for_executor: FxHashMap<ExecutorId, Vec<usize>>,
    for_host: FxHashMap<String, Vec<usize>>,
    for_rack: FxHashMap<String, Vec<usize>>,
    no_prefs: Vec<usize>,
    all: Vec<usize>,
    /// Queued tasks; of them, those with a live preferred executor, with a
    /// live preferred host, and with a preferred host on a live rack.
    queued: usize,
    queued_process: usize,
    queued_node: usize,
    queued_rack: usize,
    succeeded: usize,
    delay: Delay,
    /// Runtimes of succeeded attempts.
    durations: MedianHeap,
    /// Tasks waiting for a speculative copy (lazily cleaned) and how many are really waiting.
    speculatable: Vec<usize>,
    spec_queued: usize,
    /// Distinct tasks that failed on each executor; executors excluded for this stage attempt.
    failed_tasks: FxHashMap<ExecutorId, u32>,
    excluded: FxHashSet<ExecutorId>,
}

impl TaskSetManager {
    pub(crate) fn new(
        stage: StageId,
        tasks: Vec<PendingTask>,
        now: Duration,
        settings: SetSettings,
        pool: &ExecutorPool,
    ) -> Self {
        let tasks: Vec<TaskEntry> = tasks
            .into_iter()
            .map(|t| TaskEntry {
                partition: t.partition,
                preferred: t.preferred,
                launched: 0,
                failures: 0,
                failed_on: Vec::new(),
                running: Vec::new(),
                queued: false,
                succeeded: false,
                exec_live: false,
                host_live: false,
                rack_live: false,
                speculated: false,
                spec_queued: false,
            })
            .collect();
        let mut set = TaskSetManager {
            stage,
            settings,
            tasks,
            for_executor: FxHashMap::default(),
            for_host: FxHashMap::default(),
            for_rack: FxHashMap::default(),
            no_prefs: Vec::new(),
            all: Vec::new(),
            queued: 0,
            queued_process: 0,
            queued_node: 0,
            queued_rack: 0,
            succeeded: 0,
            delay: Delay { level: TaskLocality::ProcessLocal, last_reset: now },
            durations: MedianHeap::default(),
            speculatable: Vec::new(),
            spec_queued: 0,
            failed_tasks: FxHashMap::default(),
            excluded: FxHashSet::default(),
        };
        // Stacks pop from the end: push in reverse so that low partitions go first.
        for index in (0..set.tasks.len()).rev() {
            set.enqueue(index, pool);
        }
        set
    }

    /// Number of tasks in the set.
    pub(crate) fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether every task succeeded.
    pub(crate) fn is_done(&self) -> bool {
        self.succeeded == self.tasks.len()
    }

    /// Whether tasks (or speculative copies) wait for a launch.
    pub(crate) fn has_work(&self) -> bool {
        self.queued > 0 || self.spec_queued > 0
    }

    pub(crate) fn partition(&self, index: usize) -> u32 {
        self.tasks[index].partition
    }

    pub(crate) fn is_succeeded(&self, index: usize) -> bool {
        self.tasks[index].succeeded
    }

    /// The preferred locations of a task, best first.
    pub(crate) fn preferred(&self, index: usize) -> &[TaskLocation] {
        &self.tasks[index].preferred
    }

    /// The set's current delay-scheduling level (for tests and diagnostics).
    pub(crate) fn delay_level(&self) -> TaskLocality {
        self.delay.level
    }

    fn enqueue(&mut self, index: usize, pool: &ExecutorPool) {
        let Self { tasks, for_executor, for_host, for_rack, no_prefs, all, .. } = self;
        let t = &mut tasks[index];
        debug_assert!(!t.queued && !t.succeeded);
        if t.spec_queued {
            t.spec_queued = false;
            self.spec_queued -= 1;
        }
        t.queued = true;
        let (mut exec_live, mut host_live, mut rack_live) = (false, false, false);
        let mut racks: Vec<&str> = Vec::new();
        if t.preferred.is_empty() {
            no_prefs.push(index);
        }
        for loc in &t.preferred {
            let host = match loc {
                TaskLocation::Executor(e) => {
                    for_executor.entry(*e).or_default().push(index);
                    let Some(host) = pool.host_of(*e) else { continue };
                    exec_live = true;
                    host
                }
                TaskLocation::Host(h) => h.as_str(),
            };
            host_live |= pool.host_alive(host);
            if let Some(rack) = pool.rack_of_host(host)
                && !racks.contains(&rack)
            {
                racks.push(rack);
                rack_live = true;
                match for_rack.get_mut(rack) {
                    Some(list) => list.push(index),
                    None => {
                        for_rack.insert(rack.to_string(), vec![index]);
                    }
                }
            }
            match for_host.get_mut(host) {
                Some(list) => list.push(index),
                None => {
                    for_host.insert(host.to_string(), vec![index]);
                }
            }
        }
        all.push(index);
        t.exec_live = exec_live;
        t.host_live = host_live;
        t.rack_live = rack_live;
        self.queued += 1;
        self.queued_process += exec_live as usize;
        self.queued_node += host_live as usize;
        self.queued_rack += rack_live as usize;
    }

    fn unqueue(&mut self, index: usize) {
        let t = &mut self.tasks[index];
        debug_assert!(t.queued);
        t.queued = false;
        self.queued -= 1;
        self.queued_process -= t.exec_live as usize;
        self.queued_node -= t.host_live as usize;
        self.queued_rack -= t.rack_live as usize;
    }

    /// Whether some task prefers `executor` or `host` (its queues must be
    /// rebuilt when that executor comes or goes).
    pub(crate) fn references(&self, executor: ExecutorId, host: &str) -> bool {
        self.for_executor.contains_key(&executor) || self.for_host.contains_key(host)
    }

    /// Rebuilds the queues after executors came or went (Spark's `recomputeLocality`).
    pub(crate) fn relocate(&mut self, pool: &ExecutorPool) {
        self.for_executor.clear();
        self.for_host.clear();
        self.for_rack.clear();
        self.no_prefs.clear();
        self.all.clear();
        for index in (0..self.tasks.len()).rev() {
            if self.tasks[index].queued {
                self.unqueue(index);
                self.enqueue(index, pool);
            }
        }
    }

    /// Whether queued tasks could run at `level` on some executor.
    fn more_tasks_at(&self, level: TaskLocality) -> bool {
        match level {
            TaskLocality::ProcessLocal => self.queued_process > 0,
            TaskLocality::NodeLocal => self.queued_node > 0,
            TaskLocality::RackLocal => self.queued_rack > 0,
            TaskLocality::NoPref | TaskLocality::Any => self.queued > 0,
        }
    }

    /// The worst level a task may launch at, at time `now` (Spark's `getAllowedLocalityLevel`).
    pub(crate) fn allowed_locality(&mut self, now: Duration) -> TaskLocality {
        let waits = self.settings.waits;
        loop {
            let level = self.delay.level;
            let (next, wait) = match level {
                TaskLocality::ProcessLocal => (TaskLocality::NodeLocal, waits.process),
                TaskLocality::NodeLocal => (TaskLocality::RackLocal, waits.node),
                TaskLocality::RackLocal => (TaskLocality::Any, waits.rack),
                TaskLocality::NoPref | TaskLocality::Any => return TaskLocality::Any,
            };
            if !self.more_tasks_at(level) {
                self.delay = Delay { level: next, last_reset: now };
            } else if now.saturating_sub(self.delay.last_reset) >= wait {
                self.delay = Delay { level: next, last_reset: self.delay.last_reset + wait };
            } else {
                return level;
            }
        }
    }

    /// Offers a free slot on `executor` during the offer pass of level `max`:
    /// the best queued task for it no worse than both `max` and the allowed
    /// level, or (in the last pass) a speculative copy. Returns the task's
    /// index, its locality, and whether it is a speculative copy.
    pub(crate) fn resource_offer(
        &mut self,
        now: Duration,
        executor: ExecutorId,
        host: &str,
        max: TaskLocality,
        pool: &ExecutorPool,
    ) -> Option<(usize, TaskLocality, bool)> {
        if self.excluded.contains(&executor) {
            return None;
        }
        if self.queued > 0 {
            let allowed = self.allowed_locality(now).min(max);
            if let Some((index, locality)) =
                self.dequeue(executor, host, allowed, max >= TaskLocality::NoPref, pool)
            {
                if locality != TaskLocality::NoPref {
                    self.delay = Delay { level: locality, last_reset: now };
                }
                return Some((index, locality, false));
            }
        }
        if max == TaskLocality::Any
            && self.spec_queued > 0
            && let Some(index) = self.dequeue_speculative(executor, host, pool)
        {
            return Some((index, self.locality_on(index, executor, host, pool), true));
        }
        None
    }

    /// Picks the best queued task for a free slot on `executor`, at most
    /// `allowed` away from its preferences (tasks without preference when `no_pref`).
    fn dequeue(
        &mut self,
        executor: ExecutorId,
        host: &str,
        allowed: TaskLocality,
        no_pref: bool,
        pool: &ExecutorPool,
    ) -> Option<(usize, TaskLocality)> {
        let Self { tasks, for_executor, for_host, for_rack, no_prefs, all, settings, .. } = self;
        let ok = |t: &TaskEntry| may_run(t, executor, &settings.exclusion, pool);
        let found = if let Some(list) = for_executor.get_mut(&executor)
            && let Some(i) = take_from(list, tasks, ok)
        {
            Some((i, TaskLocality::ProcessLocal))
        } else if allowed >= TaskLocality::NodeLocal
            && let Some(list) = for_host.get_mut(host)
            && let Some(i) = take_from(list, tasks, ok)
        {
            Some((i, TaskLocality::NodeLocal))
        } else if no_pref && let Some(i) = take_from(no_prefs, tasks, ok) {
            Some((i, TaskLocality::NoPref))
        } else if allowed >= TaskLocality::RackLocal
            && let Some(rack) = pool.rack_of(executor)
            && let Some(list) = for_rack.get_mut(rack)
            && let Some(i) = take_from(list, tasks, ok)
        {
            Some((i, TaskLocality::RackLocal))
        } else if allowed >= TaskLocality::Any
            && let Some(i) = take_from(all, tasks, ok)
        {
            Some((i, TaskLocality::Any))
        } else {
            None
        };
        if let Some((i, _)) = found {
            self.unqueue(i);
        }
        found
    }

    /// How close `executor` is to a task's preferences.
    fn locality_on(
        &self,
        index: usize,
        executor: ExecutorId,
        host: &str,
        pool: &ExecutorPool,
    ) -> TaskLocality {
        let prefs = &self.tasks[index].preferred;
        if prefs.is_empty() {
            TaskLocality::NoPref
        } else if prefs.contains(&TaskLocation::Executor(executor)) {
            TaskLocality::ProcessLocal
        } else if prefs.iter().any(|l| match l {
            TaskLocation::Executor(e) => pool.host_of(*e) == Some(host),
            TaskLocation::Host(h) => h == host,
        }) {
            TaskLocality::NodeLocal
        } else if let Some(rack) = pool.rack_of(executor)
            && prefs.iter().any(|l| {
                let host = match l {
                    TaskLocation::Executor(e) => pool.host_of(*e),
                    TaskLocation::Host(h) => Some(h.as_str()),
                };
                host.and_then(|h| pool.rack_of_host(h)) == Some(rack)
            })
        {
            TaskLocality::RackLocal
        } else {
            TaskLocality::Any
        }
    }

    /// Records the launch of a dequeued task; returns the attempt number.
    pub(crate) fn launched(&mut self, index: usize, task: TaskId, executor: ExecutorId) -> u32 {
        let t = &mut self.tasks[index];
        t.running.push((task, executor));
        t.launched += 1;
        t.launched - 1
    }

    /// Undoes `launched` for an attempt that never reached an executor.
    pub(crate) fn unlaunched(&mut self, index: usize, task: TaskId, pool: &ExecutorPool) {
        let t = &mut self.tasks[index];
        t.running.retain(|r| r.0 != task);
        t.launched -= 1;
        if !t.succeeded && !t.queued && t.running.is_empty() {
            self.enqueue(index, pool);
        }
    }

    /// Records a success that took `runtime`; returns the task's other running attempts (to kill).
    pub(crate) fn succeeded(
        &mut self,
        index: usize,
        task: TaskId,
        runtime: Duration,
    ) -> Vec<(TaskId, ExecutorId)> {
        if self.tasks[index].queued {
            self.unqueue(index);
        }
        let t = &mut self.tasks[index];
        debug_assert!(!t.succeeded);
        t.running.retain(|r| r.0 != task);
        t.succeeded = true;
        if t.spec_queued {
            t.spec_queued = false;
            self.spec_queued -= 1;
        }
        self.succeeded += 1;
        self.durations.push(runtime);
        std::mem::take(&mut t.running)
    }

    /// Records a failed attempt. Returns the abort message when the task has
    /// now failed `max_failures` times, or (exclusion enabled) can run nowhere.
    pub(crate) fn failed(
        &mut self,
        index: usize,
        task: TaskId,
        executor: ExecutorId,
        failure: Failure<'_>,
        pool: &ExecutorPool,
    ) -> Option<String> {
        let t = &mut self.tasks[index];
        t.running.retain(|r| r.0 != task);
        if t.succeeded {
            return None;
        }
        match failure {
            Failure::Counted { message, max_failures } => {
                t.failures += 1;
                match t.failed_on.iter_mut().find(|(e, _)| *e == executor) {
                    Some((_, n)) => *n += 1,
                    None => {
                        t.failed_on.push((executor, 1));
                        let n = self.failed_tasks.entry(executor).or_default();
                        *n += 1;
                        let exclusion = self.settings.exclusion;
                        if exclusion.enabled
                            && *n >= exclusion.max_failed_tasks_per_executor
                            && self.excluded.insert(executor)
                        {
                            tracing::info!(stage = %self.stage, %executor, failed_tasks = *n, "executor excluded for the stage");
                        }
                    }
                }
                let t = &self.tasks[index];
                if t.failures >= max_failures {
                    let times = if t.failures == 1 {
                        "once".to_string()
                    } else {
                        format!("{} times", t.failures)
                    };
                    return Some(format!(
                        "task {} of stage {} failed {times}; last failure: {}",
                        t.partition,
                        self.stage.0,
                        one_line(message)
                    ));
                }
                if let Some(reason) = self.unschedulable(index, pool) {
                    return Some(format!("{reason}; last failure: {}", one_line(message)));
                }
            }
            Failure::Uncounted => {}
            Failure::Abandoned => return None,
        }
        let t = &self.tasks[index];
        if !t.queued && t.running.is_empty() {
            self.enqueue(index, pool);
        }
        None
    }

    /// With exclusion enabled: why a task can no longer run on any registered executor.
    fn unschedulable(&self, index: usize, pool: &ExecutorPool) -> Option<String> {
        let exclusion = &self.settings.exclusion;
        if !exclusion.enabled {
            return None;
        }
        let t = &self.tasks[index];
        let mut usable = pool.usable().peekable();
        usable.peek()?;
        let mut usable = usable.filter(|e| !self.excluded.contains(e)).peekable();
        if usable.peek().is_none() {
            return Some(format!(
                "stage {} cannot run on any executor: each is excluded after {} of its tasks failed there",
                self.stage.0, exclusion.max_failed_tasks_per_executor
            ));
        }
        if usable.all(|e| t.failures_on(e) >= exclusion.max_task_attempts_per_executor) {
            let mut on: Vec<String> = t.failed_on.iter().map(|(e, _)| e.0.to_string()).collect();
            on.sort();
            return Some(format!(
                "task {} of stage {} cannot run on any executor: excluded after failing on executors {}",
                t.partition,
                self.stage.0,
                on.join(", ")
            ));
        }
        None
    }

    /// The runtime above which a running task gets a speculative copy, once
    /// enough of the set has succeeded (Spark's `checkSpeculatableTasks`).
    pub(crate) fn speculation_threshold(&self, config: &SpeculationConfig) -> Option<Duration> {
        let n = self.tasks.len();
        // A lone task has no peers to be slow against.
        if n == 1 || self.is_done() {
            return None;
        }
        let min_finished = ((config.quantile * n as f64).floor() as usize).max(1);
        if self.succeeded < min_finished {
            return None;
        }
        let median = self.durations.median()?;
        Some(median.mul_f64(config.multiplier).max(config.min_task_runtime))
    }

    /// Asks for a speculative copy of a running task; returns whether one was queued.
    pub(crate) fn speculate(&mut self, index: usize) -> bool {
        let t = &mut self.tasks[index];
        if t.succeeded || t.queued || t.speculated || t.running.len() != 1 {
            return false;
        }
        t.speculated = true;
        t.spec_queued = true;
        self.spec_queued += 1;
        self.speculatable.push(index);
        true
    }

    /// A speculative copy for `executor`: never where an attempt of the task
    /// runs, nor on such an attempt's host while other hosts exist.
    fn dequeue_speculative(
        &mut self,
        executor: ExecutorId,
        host: &str,
        pool: &ExecutorPool,
    ) -> Option<usize> {
        let other_hosts = pool.host_count() > 1;
        let mut pos = 0;
        while pos < self.speculatable.len() {
            let index = self.speculatable[pos];
            let t = &self.tasks[index];
            if !t.spec_queued {
                self.speculatable.remove(pos);
                continue;
            }
            pos += 1;
            let here = t
                .running
                .iter()
                .any(|(_, e)| *e == executor || (other_hosts && pool.host_of(*e) == Some(host)));
            if here || !may_run(t, executor, &self.settings.exclusion, pool) {
                continue;
            }
            self.speculatable.remove(pos - 1);
            let t = &mut self.tasks[index];
            t.spec_queued = false;
            self.spec_queued -= 1;
            return Some(index);
        }
        None
    }
}

/// Whether a task may run on `executor` after its failures: never where it
/// failed `max_task_attempts_per_executor` times (exclusion enabled), and
/// not where it failed at all while another usable executor has not seen it fail.
fn may_run(
    t: &TaskEntry,
    executor: ExecutorId,
    exclusion: &ExclusionConfig,
    pool: &ExecutorPool,
) -> bool {
    if t.failed_on.is_empty() {
        return true;
    }
    let n = t.failures_on(executor);
    if n == 0 {
        return true;
    }
    if exclusion.enabled && n >= exclusion.max_task_attempts_per_executor {
        return false;
    }
    !pool.usable().any(|e| t.failures_on(e) == 0)
}

/// Pops the last queued task of `list` that may run here, dropping stale
/// entries met on the way (amortised: each entry is dropped once).
fn take_from(
    list: &mut Vec<usize>,
    tasks: &[TaskEntry],
    ok: impl Fn(&TaskEntry) -> bool,
) -> Option<usize> {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        let index = list[i];
        let t = &tasks[index];
        if !t.queued {
            list.remove(i);
            continue;
        }
        if !ok(t) {
            continue;
        }
        list.remove(i);
        return Some(index);
    }
    None
}

/// A guest message on one line (multi-line panics joined with ` | `).
fn one_line(message: &str) -> String {
    if !message.contains('\n') {
        return message.to_string();
    }
    message.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" | ")
}
