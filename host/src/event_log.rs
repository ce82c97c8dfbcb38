//! The event log: one JSON object per line for each scheduler record (schema in `docs/event-log.md`).
//!
//! Like the wire protocol, this is a serialization boundary: the serializable
//! types live here and are converted from the scheduler's `EventRecord`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::dag::{EventRecord, StageKind};
use crate::task::{TaskAttempt, TaskMetrics};
use crate::task_scheduler::TaskLocality;

/// The event log could not be written.
#[derive(Debug, thiserror::Error)]
#[error("event log {path}: {source}")]
pub struct EventLogError {
    /// The log file (or directory).
    pub path: PathBuf,
    /// The IO error.
    pub source: std::io::Error,
}

/// An open event log file.
pub(crate) struct EventLog {
    path: PathBuf,
    out: BufWriter<File>,
}

#[derive(Serialize)]
#[serde(tag = "event")]
enum Line<'a> {
    #[serde(rename = "job_start")]
    JobStart { time_ms: f64, job: u32, stages: Vec<u32> },
    #[serde(rename = "job_end")]
    JobEnd { time_ms: f64, job: u32, result: &'static str, error: Option<&'a str> },
    #[serde(rename = "stage_submitted")]
    StageSubmitted {
        time_ms: f64,
        stage: u32,
        attempt: u32,
        kind: &'static str,
        rdds: Vec<u32>,
        tasks: u32,
        parents: Vec<u32>,
    },
    #[serde(rename = "stage_completed")]
    StageCompleted {
        time_ms: f64,
        stage: u32,
        attempt: u32,
        result: &'static str,
        failure: Option<&'a str>,
    },
    #[serde(rename = "task_start")]
    TaskStart {
        time_ms: f64,
        #[serde(flatten)]
        id: Attempt,
        executor: u32,
        locality: &'static str,
        speculative: bool,
    },
    #[serde(rename = "task_end")]
    TaskEnd {
        time_ms: f64,
        #[serde(flatten)]
        id: Attempt,
        executor: u32,
        duration_ms: f64,
        result: &'static str,
        failure: Option<&'a str>,
        metrics: Metrics,
        #[serde(skip_serializing_if = "str::is_empty")]
        log: &'a str,
    },
}

/// A task attempt's identity, written as flat keys of its line (`#[serde(flatten)]`).
#[derive(Serialize)]
struct Attempt {
    task: u32,
    job: u32,
    stage: u32,
    stage_attempt: u32,
    partition: u32,
    attempt: u32,
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

#[derive(Serialize)]
struct Metrics {
    records_read: u64,
    bytes_read: u64,
    records_written: u64,
    bytes_written: u64,
    shuffle_read_bytes: u64,
    shuffle_write_bytes: u64,
}

impl From<&TaskMetrics> for Metrics {
    fn from(m: &TaskMetrics) -> Self {
        Metrics {
            records_read: m.records_read,
            bytes_read: m.bytes_read,
            records_written: m.records_written,
            bytes_written: m.bytes_written,
            shuffle_read_bytes: m.shuffle_read_bytes,
            shuffle_write_bytes: m.shuffle_write_bytes,
        }
    }
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

fn ok(succeeded: bool) -> &'static str {
    if succeeded { "succeeded" } else { "failed" }
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

impl EventLog {
    /// Creates `DIR/wisp-<unix-millis>-<pid>.jsonl` (the directory is created if needed).
    pub(crate) fn create(dir: &Path) -> Result<EventLog, EventLogError> {
        let err = |source| EventLogError { path: dir.to_path_buf(), source };
        std::fs::create_dir_all(dir).map_err(err)?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let path = dir.join(format!("wisp-{stamp}-{}.jsonl", std::process::id()));
        let file =
            File::create(&path).map_err(|source| EventLogError { path: path.clone(), source })?;
        Ok(EventLog { path, out: BufWriter::new(file) })
    }

    /// The log file's path.
    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record (flushed at job boundaries).
    pub(crate) fn write(&mut self, record: &EventRecord) -> Result<(), EventLogError> {
        let line = match record {
            EventRecord::JobStarted { job, time, stages } => Line::JobStart {
                time_ms: ms(*time),
                job: job.0,
                stages: stages.iter().map(|s| s.0).collect(),
            },
            EventRecord::JobEnded { job, time, succeeded, error } => Line::JobEnd {
                time_ms: ms(*time),
                job: job.0,
                result: ok(*succeeded),
                error: error.as_deref(),
            },
            EventRecord::StageSubmitted { stage, attempt, kind, rdds, tasks, parents, time } => {
                Line::StageSubmitted {
                    time_ms: ms(*time),
                    stage: stage.0,
                    attempt: *attempt,
                    kind: match kind {
                        StageKind::ShuffleMap => "shuffle-map",
                        StageKind::Result => "result",
                    },
                    rdds: rdds.iter().map(|r| r.0).collect(),
                    tasks: *tasks,
                    parents: parents.iter().map(|p| p.0).collect(),
                }
            }
            EventRecord::StageCompleted { stage, attempt, time, failure } => Line::StageCompleted {
                time_ms: ms(*time),
                stage: stage.0,
                attempt: *attempt,
                result: ok(failure.is_none()),
                failure: failure.as_deref(),
            },
            EventRecord::TaskStarted { id, executor, time, locality, speculative } => {
                Line::TaskStart {
                    time_ms: ms(*time),
                    id: id.into(),
                    executor: executor.0,
                    locality: locality_name(*locality),
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
            } => Line::TaskEnd {
                time_ms: ms(*end),
                id: id.into(),
                executor: executor.0,
                duration_ms: ms(end.saturating_sub(*start)),
                result: ok(*succeeded),
                failure: failure.as_deref(),
                metrics: metrics.into(),
                log,
            },
        };
        let err = |source| EventLogError { path: self.path.clone(), source };
        serde_json::to_writer(&mut self.out, &line).map_err(|e| err(e.into()))?;
        self.out.write_all(b"\n").map_err(err)?;
        if matches!(record, EventRecord::JobEnded { .. }) {
            self.out.flush().map_err(err)?;
        }
        Ok(())
    }

    /// Flushes buffered lines.
    pub(crate) fn flush(&mut self) -> Result<(), EventLogError> {
        self.out.flush().map_err(|source| EventLogError { path: self.path.clone(), source })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ids::{ExecutorId, JobId, StageId, TaskId};

    fn lines(records: &[EventRecord]) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::create(dir.path()).unwrap();
        for r in records {
            log.write(r).unwrap();
        }
        log.flush().unwrap();
        std::fs::read_to_string(log.path()).unwrap().lines().map(str::to_string).collect()
    }

    #[test]
    fn task_lines_keep_the_flat_attempt_keys_in_order() {
        let id = TaskAttempt {
            task: TaskId(7),
            job: JobId(2),
            stage: StageId(5),
            stage_attempt: 1,
            partition: 4,
            attempt: 3,
        };
        let metrics = TaskMetrics {
            records_read: 2500,
            bytes_read: 61440,
            records_written: 812,
            bytes_written: 9731,
            shuffle_read_bytes: 0,
            shuffle_write_bytes: 12979,
        };
        let records = [
            EventRecord::TaskStarted {
                id,
                executor: ExecutorId(9),
                time: Duration::from_micros(5600),
                locality: TaskLocality::RackLocal,
                speculative: true,
            },
            EventRecord::TaskEnded {
                id,
                executor: ExecutorId(9),
                start: Duration::from_micros(5600),
                end: Duration::from_micros(41700),
                metrics: metrics.clone(),
                failure: None,
                succeeded: true,
                log: String::new(),
            },
            EventRecord::TaskEnded {
                id,
                executor: ExecutorId(9),
                start: Duration::from_micros(5600),
                end: Duration::from_micros(41700),
                metrics: TaskMetrics::default(),
                failure: Some("boom".to_string()),
                succeeded: false,
                log: "out\n".to_string(),
            },
        ];
        assert_eq!(
            lines(&records),
            [
                r#"{"event":"task_start","time_ms":5.6,"task":7,"job":2,"stage":5,"stage_attempt":1,"partition":4,"attempt":3,"executor":9,"locality":"rack-local","speculative":true}"#,
                r#"{"event":"task_end","time_ms":41.7,"task":7,"job":2,"stage":5,"stage_attempt":1,"partition":4,"attempt":3,"executor":9,"duration_ms":36.1,"result":"succeeded","failure":null,"metrics":{"records_read":2500,"bytes_read":61440,"records_written":812,"bytes_written":9731,"shuffle_read_bytes":0,"shuffle_write_bytes":12979}}"#,
                r#"{"event":"task_end","time_ms":41.7,"task":7,"job":2,"stage":5,"stage_attempt":1,"partition":4,"attempt":3,"executor":9,"duration_ms":36.1,"result":"failed","failure":"boom","metrics":{"records_read":0,"bytes_read":0,"records_written":0,"bytes_written":0,"shuffle_read_bytes":0,"shuffle_write_bytes":0},"log":"out\n"}"#,
            ]
        );
    }
}
