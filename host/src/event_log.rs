//! The event log: one JSON object per line for each scheduler record (schema in `docs/event-log.md`).
//!
//! Like the wire protocol, this is a serialization boundary: the serializable
//! types live in `lines.rs` and are converted from the scheduler's
//! `EventRecord`; the driver loop adds the application's and executors' lines.

pub(crate) mod lines;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub(crate) use lines::LogLine;

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

    /// Appends one line (flushed at job and application boundaries).
    pub(crate) fn write(&mut self, line: &LogLine) -> Result<(), EventLogError> {
        let err = |source| EventLogError { path: self.path.clone(), source };
        serde_json::to_writer(&mut self.out, line).map_err(|e| err(e.into()))?;
        self.out.write_all(b"\n").map_err(err)?;
        if matches!(
            line,
            LogLine::JobEnd { .. } | LogLine::AppStart { .. } | LogLine::AppEnd { .. }
        ) {
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
    use crate::dag::EventRecord;
    use crate::ids::{ExecutorId, JobId, StageId, TaskId};
    use crate::task::{TaskAttempt, TaskMetrics};
    use crate::task_scheduler::TaskLocality;

    fn lines(records: &[EventRecord]) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::create(dir.path()).unwrap();
        for r in records {
            log.write(&LogLine::from(r)).unwrap();
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
            times: crate::task::TaskTimes {
                instantiation_us: 1500,
                guest_us: 20250,
                input_read_us: 4000,
                fetch_wait_us: 0,
                shuffle_write_us: 3125,
                output_write_us: 0,
            },
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
                r#"{"event":"task_end","time_ms":41.7,"task":7,"job":2,"stage":5,"stage_attempt":1,"partition":4,"attempt":3,"executor":9,"duration_ms":36.1,"result":"succeeded","failure":null,"metrics":{"records_read":2500,"bytes_read":61440,"records_written":812,"bytes_written":9731,"shuffle_read_bytes":0,"shuffle_write_bytes":12979,"instantiation_ms":1.5,"guest_ms":20.25,"input_read_ms":4.0,"fetch_wait_ms":0.0,"shuffle_write_ms":3.125,"output_write_ms":0.0}}"#,
                r#"{"event":"task_end","time_ms":41.7,"task":7,"job":2,"stage":5,"stage_attempt":1,"partition":4,"attempt":3,"executor":9,"duration_ms":36.1,"result":"failed","failure":"boom","metrics":{"records_read":0,"bytes_read":0,"records_written":0,"bytes_written":0,"shuffle_read_bytes":0,"shuffle_write_bytes":0,"instantiation_ms":0.0,"guest_ms":0.0,"input_read_ms":0.0,"fetch_wait_ms":0.0,"shuffle_write_ms":0.0,"output_write_ms":0.0},"log":"out\n"}"#,
            ]
        );
    }
}
