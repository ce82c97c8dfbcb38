//! The scheduler's event-log records: plain data the shell writes to the event log.

use std::time::Duration;

use crate::ids::{ExecutorId, JobId, RddId, StageId};
use crate::task::{TaskAttempt, TaskMetrics};
use crate::task_scheduler::TaskLocality;

/// Whether a stage's tasks write shuffle output or produce the job's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StageKind {
    /// Shuffle-map tasks: the stage's output is a shuffle read by later stages.
    ShuffleMap,
    /// Result tasks: the stage's output is the job's result.
    Result,
}

/// One entry of the event log. Times are durations since application start,
/// as given to `Scheduler::handle`.
#[derive(Clone, Debug, PartialEq)]
pub enum EventRecord {
    /// A job was accepted; `stages` lists every stage of its DAG in ascending
    /// order (parents before children, the result stage last), including
    /// stages that will be skipped because their output exists. A job refused
    /// at submission (bad partition, unknown RDD or component) has no stages.
    JobStarted { job: JobId, time: Duration, stages: Vec<StageId> },
    /// A job ended; `error` is the job's failure message.
    JobEnded { job: JobId, time: Duration, succeeded: bool, error: Option<String> },
    /// A stage attempt was handed to the task scheduler.
    StageSubmitted {
        stage: StageId,
        attempt: u32,
        kind: StageKind,
        /// The RDDs computed by the stage's tasks (the walk stops at fully cached RDDs).
        rdds: Vec<RddId>,
        /// Number of tasks (missing partitions) in this attempt.
        tasks: u32,
        /// The stages whose shuffle output this stage reads.
        parents: Vec<StageId>,
        time: Duration,
    },
    /// A stage attempt ended: every task succeeded (`failure: None`), or it was
    /// abandoned (fetch failure, lost parent output, job failure or cancellation).
    StageCompleted { stage: StageId, attempt: u32, time: Duration, failure: Option<String> },
    /// A task attempt was launched.
    TaskStarted {
        /// The attempt.
        id: TaskAttempt,
        executor: ExecutorId,
        time: Duration,
        /// How close to the task's preferred locations it was placed.
        locality: TaskLocality,
        /// A speculative copy of a running attempt of the same partition.
        speculative: bool,
    },
    /// A launched task attempt ended (reported, or its executor was lost).
    TaskEnded {
        /// The attempt.
        id: TaskAttempt,
        executor: ExecutorId,
        start: Duration,
        end: Duration,
        metrics: TaskMetrics,
        failure: Option<String>,
        succeeded: bool,
        /// The end of what the task's guests wrote to stdout and stderr.
        log: String,
    },
}
