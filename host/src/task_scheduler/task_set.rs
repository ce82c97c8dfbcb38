//! One stage attempt's tasks (a task set): pending queues by locality, attempts, failures.
//!
//! Pending queues are stacks of task indexes, one per preferred executor, one
//! per preferred host, one for tasks without preference and one for all tasks.
//! Entries are removed lazily: an index whose task is no longer queued (it
//! was launched from another queue, or succeeded) is discarded when met.

use rustc_hash::FxHashMap;

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
    /// Executors a counted failure happened on.
    failed_on: Vec<ExecutorId>,
    /// Running attempts.
    running: Vec<TaskId>,
    /// Waiting in the pending queues for a launch.
    queued: bool,
    succeeded: bool,
}

impl TaskEntry {
    /// Whether the task should avoid `executor`: it failed there and some other
    /// usable executor has not seen it fail.
    fn avoids(&self, executor: ExecutorId, usable: &[ExecutorId]) -> bool {
        self.failed_on.contains(&executor) && usable.iter().any(|e| !self.failed_on.contains(e))
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

/// The tasks of one stage attempt.
#[derive(Debug)]
pub(crate) struct TaskSetManager {
    stage: StageId,
    tasks: Vec<TaskEntry>,
    for_executor: FxHashMap<ExecutorId, Vec<usize>>,
    for_host: FxHashMap<String, Vec<usize>>,
    no_prefs: Vec<usize>,
    all: Vec<usize>,
    /// Number of queued tasks.
    queued: usize,
    /// Number of succeeded tasks.
    succeeded: usize,
}

impl TaskSetManager {
    pub(crate) fn new(stage: StageId, tasks: Vec<PendingTask>) -> Self {
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
            })
            .collect();
        let mut set = TaskSetManager {
            stage,
            tasks,
            for_executor: FxHashMap::default(),
            for_host: FxHashMap::default(),
            no_prefs: Vec::new(),
            all: Vec::new(),
            queued: 0,
            succeeded: 0,
        };
        // Stacks pop from the end: push in reverse so that low partitions go first.
        for index in (0..set.tasks.len()).rev() {
            set.enqueue(index);
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

    /// Whether tasks wait for a launch.
    pub(crate) fn has_queued(&self) -> bool {
        self.queued > 0
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

    fn enqueue(&mut self, index: usize) {
        let t = &mut self.tasks[index];
        debug_assert!(!t.queued && !t.succeeded);
        t.queued = true;
        self.queued += 1;
        if t.preferred.is_empty() {
            self.no_prefs.push(index);
        }
        for loc in &t.preferred {
            match loc {
                TaskLocation::Executor(e) => self.for_executor.entry(*e).or_default().push(index),
                TaskLocation::Host(h) => self.for_host.entry(h.clone()).or_default().push(index),
            }
        }
        self.all.push(index);
    }

    /// Picks the best queued task for a free slot on `executor`, at most
    /// `max_locality` away from its preferences (delay scheduling lowers it).
    pub(crate) fn dequeue(
        &mut self,
        executor: ExecutorId,
        host: &str,
        max_locality: TaskLocality,
        usable: &[ExecutorId],
    ) -> Option<(usize, TaskLocality)> {
        if self.queued == 0 {
            return None;
        }
        let tasks = &self.tasks;
        if let Some(list) = self.for_executor.get_mut(&executor)
            && let Some(i) = take_from(list, tasks, executor, usable)
        {
            return Some((i, TaskLocality::ProcessLocal));
        }
        if max_locality >= TaskLocality::NodeLocal
            && let Some(list) = self.for_host.get_mut(host)
            && let Some(i) = take_from(list, tasks, executor, usable)
        {
            return Some((i, TaskLocality::NodeLocal));
        }
        if max_locality >= TaskLocality::NoPref
            && let Some(i) = take_from(&mut self.no_prefs, tasks, executor, usable)
        {
            return Some((i, TaskLocality::NoPref));
        }
        if max_locality >= TaskLocality::Any
            && let Some(i) = take_from(&mut self.all, tasks, executor, usable)
        {
            return Some((i, TaskLocality::Any));
        }
        None
    }

    /// Records the launch of a dequeued task; returns the attempt number.
    pub(crate) fn launched(&mut self, index: usize, task: TaskId) -> u32 {
        let t = &mut self.tasks[index];
        debug_assert!(t.queued);
        t.queued = false;
        self.queued -= 1;
        t.running.push(task);
        t.launched += 1;
        t.launched - 1
    }

    /// Undoes `launched` for an attempt that never reached an executor.
    pub(crate) fn unlaunched(&mut self, index: usize, task: TaskId) {
        let t = &mut self.tasks[index];
        t.running.retain(|r| *r != task);
        t.launched -= 1;
        if !t.succeeded && !t.queued && t.running.is_empty() {
            self.enqueue(index);
        }
    }

    /// Records a success; returns the task's other running attempts (to kill).
    pub(crate) fn succeeded(&mut self, index: usize, task: TaskId) -> Vec<TaskId> {
        let t = &mut self.tasks[index];
        debug_assert!(!t.succeeded);
        t.running.retain(|r| *r != task);
        t.succeeded = true;
        if t.queued {
            t.queued = false;
            self.queued -= 1;
        }
        self.succeeded += 1;
        std::mem::take(&mut t.running)
    }

    /// Records a failed attempt. Returns the abort message when the task has
    /// now failed `max_failures` times.
    pub(crate) fn failed(&mut self, index: usize, task: TaskId, executor: ExecutorId, failure: Failure<'_>) -> Option<String> {
        let t = &mut self.tasks[index];
        t.running.retain(|r| *r != task);
        if t.succeeded {
            return None;
        }
        match failure {
            Failure::Counted { message, max_failures } => {
                t.failures += 1;
                if !t.failed_on.contains(&executor) {
                    t.failed_on.push(executor);
                }
                if t.failures >= max_failures {
                    return Some(format!(
                        "task {} of stage {} failed {} times; last failure: {}",
                        t.partition,
                        self.stage.0,
                        t.failures,
                        one_line(message)
                    ));
                }
            }
            Failure::Uncounted => {}
            Failure::Abandoned => return None,
        }
        if !t.queued && t.running.is_empty() {
            self.enqueue(index);
        }
        None
    }

    /// Forgets the queue of a lost executor (its tasks stay in the other queues).
    pub(crate) fn executor_lost(&mut self, executor: ExecutorId) {
        self.for_executor.remove(&executor);
    }
}

/// Pops the last queued task of `list` that may run on `executor`, dropping
/// stale entries met on the way (amortised: each entry is dropped once).
fn take_from(list: &mut Vec<usize>, tasks: &[TaskEntry], executor: ExecutorId, usable: &[ExecutorId]) -> Option<usize> {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        let index = list[i];
        let t = &tasks[index];
        if !t.queued {
            list.remove(i);
            continue;
        }
        if t.avoids(executor, usable) {
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
