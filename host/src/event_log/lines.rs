//! The event log's lines as owned serde types: written by the driver loop, read back by the live status model and the history server.

use serde::{Deserialize, Serialize};

use crate::dag::{EventRecord, StageKind};
use crate::task::{TaskAttempt, TaskMetrics};
use crate::task_scheduler::TaskLocality;

/// One line of the event log (schema: `docs/event-log.md`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum LogLine {
    /// The application started (always the first line).
    AppStart {
        time_ms: f64,
        /// The application id (`app-N`).
        app: String,
        /// Its name: the job file's name (local mode) or the name the submitter gave.
        name: String,
        /// `local` or `cluster`.
        mode: String,
        /// Arguments of the job's main.
        args: Vec<String>,
        /// Its configuration as given, secrets masked.
        conf: Vec<(String, String)>,
        /// Wall-clock start, milliseconds since the Unix epoch.
        start_unix_ms: u64,
    },
    /// The application's main returned (always the last line when it ended normally).
    AppEnd {
        time_ms: f64,
        result: Outcome,
        error: Option<String>,
    },
    /// An executor became available to the application.
    ExecutorAdded {
        time_ms: f64,
        executor: u32,
        host: String,
        cores: u32,
    },
    /// An executor was lost to the application.
    ExecutorRemoved {
        time_ms: f64,
        executor: u32,
        reason: String,
    },
    JobStart {
        time_ms: f64,
        job: u32,
        stages: Vec<u32>,
    },
    JobEnd {
        time_ms: f64,
        job: u32,
        result: Outcome,
        error: Option<String>,
    },
    StageSubmitted {
        time_ms: f64,
        stage: u32,
        attempt: u32,
        kind: String,
        rdds: Vec<u32>,
        tasks: u32,
        parents: Vec<u32>,
    },
    StageCompleted {
        time_ms: f64,
        stage: u32,
        attempt: u32,
        result: Outcome,
        failure: Option<String>,
    },
    TaskStart {
        time_ms: f64,
        #[serde(flatten)]
        id: Attempt,
        executor: u32,
        locality: String,
        speculative: bool,
    },
    TaskEnd {
        time_ms: f64,
        #[serde(flatten)]
        id: Attempt,
        executor: u32,
        duration_ms: f64,
        result: Outcome,
        failure: Option<String>,
        metrics: Metrics,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        log: String,
    },
}

impl LogLine {
    /// The line's time: milliseconds since the application started.
    pub(crate) fn time_ms(&self) -> f64 {
        match self {
            LogLine::AppStart { time_ms, .. }
            | LogLine::AppEnd { time_ms, .. }
            | LogLine::ExecutorAdded { time_ms, .. }
            | LogLine::ExecutorRemoved { time_ms, .. }
            | LogLine::JobStart { time_ms, .. }
            | LogLine::JobEnd { time_ms, .. }
            | LogLine::StageSubmitted { time_ms, .. }
            | LogLine::StageCompleted { time_ms, .. }
            | LogLine::TaskStart { time_ms, .. }
            | LogLine::TaskEnd { time_ms, .. } => *time_ms,
        }
    }
}

/// `succeeded` or `failed`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    Succeeded,
    Failed,
}

impl Outcome {
    pub(crate) fn of(succeeded: bool) -> Outcome {
        if succeeded { Outcome::Succeeded } else { Outcome::Failed }
    }
}

/// A task attempt's identity, written as flat keys of its line (`#[serde(flatten)]`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Attempt {
    pub(crate) task: u32,
    pub(crate) job: u32,
    pub(crate) stage: u32,
    pub(crate) stage_attempt: u32,
    pub(crate) partition: u32,
    pub(crate) attempt: u32,
}

impl From<&TaskAttempt> for Attempt {
    fn from(a: &TaskAttempt) -> Self {
        Attempt {
            task: a.task.0,
            job: a.job.0,
            stage: a.stage.0,
            stage_attempt: a.stage_attempt,
            partition: a.partition,
            attempt: a.attempt,
        }
    }
}

/// A task's counters and where its time went (the time fields are absent in older logs: 0).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub(crate) struct Metrics {
    pub(crate) records_read: u64,
    pub(crate) bytes_read: u64,
    pub(crate) records_written: u64,
    pub(crate) bytes_written: u64,
    pub(crate) shuffle_read_bytes: u64,
    pub(crate) shuffle_write_bytes: u64,
    #[serde(default)]
    pub(crate) instantiation_ms: f64,
    #[serde(default)]
    pub(crate) guest_ms: f64,
    #[serde(default)]
    pub(crate) input_read_ms: f64,
    #[serde(default)]
    pub(crate) fetch_wait_ms: f64,
    #[serde(default)]
    pub(crate) shuffle_write_ms: f64,
    #[serde(default)]
    pub(crate) output_write_ms: f64,
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl From<&TaskMetrics> for Metrics {
    fn from(m: &TaskMetrics) -> Self {
        let t = &m.times;
        Metrics {
            records_read: m.records_read,
            bytes_read: m.bytes_read,
            records_written: m.records_written,
            bytes_written: m.bytes_written,
            shuffle_read_bytes: m.shuffle_read_bytes,
            shuffle_write_bytes: m.shuffle_write_bytes,
            instantiation_ms: us_to_ms(t.instantiation_us),
            guest_ms: us_to_ms(t.guest_us),
            input_read_ms: us_to_ms(t.input_read_us),
            fetch_wait_ms: us_to_ms(t.fetch_wait_us),
            shuffle_write_ms: us_to_ms(t.shuffle_write_us),
            output_write_ms: us_to_ms(t.output_write_us),
        }
    }
}

/// Milliseconds, microsecond precision.
pub(crate) fn ms(d: std::time::Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

fn locality_name(l: TaskLocality) -> &'static str {
    match l {
        TaskLocality::ProcessLocal => "process-local",
        TaskLocality::NodeLocal => "node-local",
        TaskLocality::NoPref => "no-pref",
        TaskLocality::RackLocal => "rack-local",
        TaskLocality::Any => "any",
    }
}

impl From<&EventRecord> for LogLine {
    fn from(record: &EventRecord) -> Self {
        match record {
            EventRecord::JobStarted { job, time, stages } => LogLine::JobStart {
                time_ms: ms(*time),
                job: job.0,
                stages: stages.iter().map(|s| s.0).collect(),
            },
            EventRecord::JobEnded { job, time, succeeded, error } => LogLine::JobEnd {
                time_ms: ms(*time),
                job: job.0,
                result: Outcome::of(*succeeded),
                error: error.clone(),
            },
            EventRecord::StageSubmitted { stage, attempt, kind, rdds, tasks, parents, time } => {
                LogLine::StageSubmitted {
                    time_ms: ms(*time),
                    stage: stage.0,
                    attempt: *attempt,
                    kind: match kind {
                        StageKind::ShuffleMap => "shuffle-map",
                        StageKind::Result => "result",
                    }
                    .to_string(),
                    rdds: rdds.iter().map(|r| r.0).collect(),
                    tasks: *tasks,
                    parents: parents.iter().map(|p| p.0).collect(),
                }
            }
            EventRecord::StageCompleted { stage, attempt, time, failure } => {
                LogLine::StageCompleted {
                    time_ms: ms(*time),
                    stage: stage.0,
                    attempt: *attempt,
                    result: Outcome::of(failure.is_none()),
                    failure: failure.clone(),
                }
            }
            EventRecord::TaskStarted { id, executor, time, locality, speculative } => {
                LogLine::TaskStart {
                    time_ms: ms(*time),
                    id: id.into(),
                    executor: executor.0,
                    locality: locality_name(*locality).to_string(),
                    speculative: *speculative,
                }
            }
            EventRecord::TaskEnded {
                id,
                executor,
                start,
                end,
                metrics,
                failure,
                succeeded,
                log,
            } => LogLine::TaskEnd {
                time_ms: ms(*end),
                id: id.into(),
                executor: executor.0,
                duration_ms: ms(end.saturating_sub(*start)),
                result: Outcome::of(*succeeded),
                failure: failure.clone(),
                metrics: metrics.into(),
                log: log.clone(),
            },
        }
    }
}
