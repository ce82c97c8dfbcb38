//! One application's status as the UI shows it, built by applying event-log lines in order (live or replayed from a file).

use std::collections::{BTreeMap, BTreeSet};

use crate::event_log::LogLine;
use crate::event_log::lines::{Attempt, Metrics, Outcome};
use crate::memory::MemoryUse;

/// Where a job, stage attempt or task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Listed but not started (a stage waiting for its parents).
    Pending,
    Running,
    Succeeded,
    Failed,
    /// A stage of a finished job that never ran in it: its output already existed.
    Skipped,
}

impl State {
    pub(crate) fn name(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Running => "running",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::Skipped => "skipped",
        }
    }

    fn of(outcome: Outcome) -> State {
        match outcome {
            Outcome::Succeeded => State::Succeeded,
            Outcome::Failed => State::Failed,
        }
    }
}

/// A job (one action).
#[derive(Clone, Debug)]
pub(crate) struct JobStatus {
    pub(crate) id: u32,
    /// Every stage of its DAG (skipped ones too), ascending.
    pub(crate) stages: Vec<u32>,
    /// The stages that were submitted while it ran.
    pub(crate) ran: BTreeSet<u32>,
    pub(crate) state: State,
    pub(crate) start_ms: f64,
    pub(crate) end_ms: Option<f64>,
    pub(crate) error: Option<String>,
}

impl JobStatus {
    /// A stage's state within this job (skipped stages greyed in its graph).
    pub(crate) fn stage_state(&self, app: &AppStatus, stage: u32) -> State {
        if !self.ran.contains(&stage) {
            return if self.state == State::Running { State::Pending } else { State::Skipped };
        }
        app.latest_attempt(stage).map_or(State::Pending, |s| s.state)
    }
}

/// What does not change between a stage's attempts.
#[derive(Clone, Debug)]
pub(crate) struct StageInfo {
    pub(crate) kind: String,
    pub(crate) rdds: Vec<u32>,
    pub(crate) parents: Vec<u32>,
}

/// Sums of the metrics of a set of task attempts.
#[derive(Clone, Debug, Default)]
pub(crate) struct MetricSums {
    pub(crate) records_read: u64,
    pub(crate) bytes_read: u64,
    pub(crate) records_written: u64,
    pub(crate) bytes_written: u64,
    pub(crate) shuffle_read_bytes: u64,
    pub(crate) shuffle_write_bytes: u64,
    pub(crate) fetch_wait_ms: f64,
}

impl MetricSums {
    fn add(&mut self, m: &Metrics) {
        self.records_read += m.records_read;
        self.bytes_read += m.bytes_read;
        self.records_written += m.records_written;
        self.bytes_written += m.bytes_written;
        self.shuffle_read_bytes += m.shuffle_read_bytes;
        self.shuffle_write_bytes += m.shuffle_write_bytes;
        self.fetch_wait_ms += m.fetch_wait_ms;
    }
}

/// One attempt of a stage.
#[derive(Clone, Debug)]
pub(crate) struct StageAttemptStatus {
    pub(crate) stage: u32,
    pub(crate) attempt: u32,
    /// Tasks of this attempt (its missing partitions).
    pub(crate) tasks: u32,
    pub(crate) running: u32,
    pub(crate) succeeded: u32,
    pub(crate) failed: u32,
    pub(crate) killed: u32,
    pub(crate) state: State,
    pub(crate) submitted_ms: f64,
    pub(crate) completed_ms: Option<f64>,
    pub(crate) failure: Option<String>,
    pub(crate) metrics: MetricSums,
}

/// One task attempt.
#[derive(Clone, Debug)]
pub(crate) struct TaskStatus {
    pub(crate) id: Attempt,
    pub(crate) executor: u32,
    pub(crate) locality: String,
    pub(crate) speculative: bool,
    pub(crate) state: State,
    pub(crate) start_ms: f64,
    pub(crate) duration_ms: Option<f64>,
    pub(crate) failure: Option<String>,
    pub(crate) metrics: Metrics,
    pub(crate) log: String,
}

/// An executor as this application saw it.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExecutorStatus {
    pub(crate) id: u32,
    pub(crate) host: String,
    pub(crate) cores: u32,
    pub(crate) added_ms: f64,
    pub(crate) removed: Option<(f64, String)>,
    pub(crate) running: u32,
    pub(crate) succeeded: u32,
    pub(crate) failed: u32,
    pub(crate) shuffle_read_bytes: u64,
    pub(crate) shuffle_write_bytes: u64,
    /// What its last heartbeat said (cluster mode), if one was seen.
    pub(crate) heartbeat: Option<Heartbeat>,
}

/// The latest heartbeat of an executor (in local mode, the driver loop's sample of it).
#[derive(Clone, Debug, Default)]
pub(crate) struct Heartbeat {
    /// When it arrived, milliseconds since the application started.
    pub(crate) at_ms: f64,
    /// Its memory pool then.
    pub(crate) memory: MemoryUse,
}

/// One application.
#[derive(Clone, Debug, Default)]
pub(crate) struct AppStatus {
    pub(crate) app: String,
    pub(crate) name: String,
    pub(crate) mode: String,
    pub(crate) args: Vec<String>,
    pub(crate) conf: Vec<(String, String)>,
    pub(crate) start_unix_ms: u64,
    /// When it ended and its error; `None` while it runs.
    pub(crate) ended: Option<(f64, Option<String>)>,
    /// The latest time seen (its duration so far).
    pub(crate) now_ms: f64,
    pub(crate) jobs: BTreeMap<u32, JobStatus>,
    pub(crate) stage_info: BTreeMap<u32, StageInfo>,
    /// Keyed by (stage, attempt).
    pub(crate) stages: BTreeMap<(u32, u32), StageAttemptStatus>,
    pub(crate) tasks: BTreeMap<u32, TaskStatus>,
    pub(crate) executors: BTreeMap<u32, ExecutorStatus>,
}

impl AppStatus {
    /// The latest attempt of a stage.
    pub(crate) fn latest_attempt(&self, stage: u32) -> Option<&StageAttemptStatus> {
        self.stages.range((stage, 0)..=(stage, u32::MAX)).next_back().map(|(_, s)| s)
    }

    /// The attempts of a stage, first first.
    pub(crate) fn attempts(&self, stage: u32) -> impl Iterator<Item = &StageAttemptStatus> {
        self.stages.range((stage, 0)..=(stage, u32::MAX)).map(|(_, s)| s)
    }

    /// Task attempts of one stage attempt, by task id.
    pub(crate) fn stage_tasks(&self, stage: u32, attempt: u32) -> Vec<&TaskStatus> {
        self.tasks
            .values()
            .filter(|t| t.id.stage == stage && t.id.stage_attempt == attempt)
            .collect()
    }

    /// Notes an executor's heartbeat (live status only: heartbeats are not event-log lines).
    pub(crate) fn heartbeat(&mut self, executor: u32, at_ms: f64, memory: MemoryUse) {
        self.now_ms = self.now_ms.max(at_ms);
        if let Some(e) = self.executors.get_mut(&executor) {
            e.heartbeat = Some(Heartbeat { at_ms, memory });
        }
    }

    /// Applies one line; lines must come in the log's order.
    pub(crate) fn apply(&mut self, line: &LogLine) {
        self.now_ms = self.now_ms.max(line.time_ms());
        match line {
            LogLine::AppStart { app, name, mode, args, conf, start_unix_ms, .. } => {
                self.app = app.clone();
                self.name = name.clone();
                self.mode = mode.clone();
                self.args = args.clone();
                self.conf = conf.clone();
                self.start_unix_ms = *start_unix_ms;
            }
            LogLine::AppEnd { time_ms, error, .. } => self.ended = Some((*time_ms, error.clone())),
            LogLine::ExecutorAdded { time_ms, executor, host, cores } => {
                self.executors.insert(
                    *executor,
                    ExecutorStatus {
                        id: *executor,
                        host: host.clone(),
                        cores: *cores,
                        added_ms: *time_ms,
                        ..ExecutorStatus::default()
                    },
                );
            }
            LogLine::ExecutorRemoved { time_ms, executor, reason } => {
                if let Some(e) = self.executors.get_mut(executor) {
                    e.removed = Some((*time_ms, reason.clone()));
                }
            }
            LogLine::JobStart { time_ms, job, stages } => {
                self.jobs.insert(
                    *job,
                    JobStatus {
                        id: *job,
                        stages: stages.clone(),
                        ran: BTreeSet::new(),
                        state: State::Running,
                        start_ms: *time_ms,
                        end_ms: None,
                        error: None,
                    },
                );
            }
            LogLine::JobEnd { time_ms, job, result, error } => {
                if let Some(j) = self.jobs.get_mut(job) {
                    j.state = State::of(*result);
                    j.end_ms = Some(*time_ms);
                    j.error = error.clone();
                }
            }
            LogLine::StageSubmitted { time_ms, stage, attempt, kind, rdds, tasks, parents } => {
                self.stage_info.insert(
                    *stage,
                    StageInfo { kind: kind.clone(), rdds: rdds.clone(), parents: parents.clone() },
                );
                for j in self.jobs.values_mut() {
                    if j.state == State::Running && j.stages.contains(stage) {
                        j.ran.insert(*stage);
                    }
                }
                self.stages.insert(
                    (*stage, *attempt),
                    StageAttemptStatus {
                        stage: *stage,
                        attempt: *attempt,
                        tasks: *tasks,
                        running: 0,
                        succeeded: 0,
                        failed: 0,
                        killed: 0,
                        state: State::Running,
                        submitted_ms: *time_ms,
                        completed_ms: None,
                        failure: None,
                        metrics: MetricSums::default(),
                    },
                );
            }
            LogLine::StageCompleted { time_ms, stage, attempt, result, failure } => {
                if let Some(s) = self.stages.get_mut(&(*stage, *attempt)) {
                    s.state = State::of(*result);
                    s.completed_ms = Some(*time_ms);
                    s.failure = failure.clone();
                }
            }
            LogLine::TaskStart { time_ms, id, executor, locality, speculative } => {
                if let Some(s) = self.stages.get_mut(&(id.stage, id.stage_attempt)) {
                    s.running += 1;
                }
                if let Some(e) = self.executors.get_mut(executor) {
                    e.running += 1;
                }
                self.tasks.insert(
                    id.task,
                    TaskStatus {
                        id: *id,
                        executor: *executor,
                        locality: locality.clone(),
                        speculative: *speculative,
                        state: State::Running,
                        start_ms: *time_ms,
                        duration_ms: None,
                        failure: None,
                        metrics: Metrics::default(),
                        log: String::new(),
                    },
                );
            }
            LogLine::TaskEnd {
                id, executor, duration_ms, result, failure, metrics, log, ..
            } => self.task_ended(id, *executor, *duration_ms, *result, failure, metrics, log),
        }
    }

    #[expect(clippy::too_many_arguments, reason = "the fields of one task_end line")]
    fn task_ended(
        &mut self,
        id: &Attempt,
        executor: u32,
        duration_ms: f64,
        result: Outcome,
        failure: &Option<String>,
        metrics: &Metrics,
        log: &str,
    ) {
        let killed = failure.as_deref() == Some("task killed");
        let was_running = self.tasks.get(&id.task).is_some_and(|t| t.state == State::Running);
        if let Some(s) = self.stages.get_mut(&(id.stage, id.stage_attempt)) {
            if was_running {
                s.running = s.running.saturating_sub(1);
            }
            match result {
                Outcome::Succeeded => s.succeeded += 1,
                Outcome::Failed if killed => s.killed += 1,
                Outcome::Failed => s.failed += 1,
            }
            s.metrics.add(metrics);
        }
        if let Some(e) = self.executors.get_mut(&executor) {
            if was_running {
                e.running = e.running.saturating_sub(1);
            }
            match result {
                Outcome::Succeeded => e.succeeded += 1,
                Outcome::Failed => e.failed += 1,
            }
            e.shuffle_read_bytes += metrics.shuffle_read_bytes;
            e.shuffle_write_bytes += metrics.shuffle_write_bytes;
        }
        let t = self.tasks.entry(id.task).or_insert_with(|| TaskStatus {
            id: *id,
            executor,
            locality: String::new(),
            speculative: false,
            state: State::Running,
            start_ms: 0.0,
            duration_ms: None,
            failure: None,
            metrics: Metrics::default(),
            log: String::new(),
        });
        t.state = State::of(result);
        t.duration_ms = Some(duration_ms);
        t.failure = failure.clone();
        t.metrics = metrics.clone();
        t.log = log.to_string();
    }

    /// The stage attempts running now, by stage id.
    pub(crate) fn active_stages(&self) -> Vec<&StageAttemptStatus> {
        self.stages.values().filter(|s| s.state == State::Running).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<LogLine> {
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[test]
    fn a_reused_stage_is_skipped_in_the_second_job_and_counts_follow_the_lines() {
        let lines = parse(concat!(
            r#"{"event":"app_start","time_ms":0.0,"app":"app-0","name":"wc.wasm","mode":"local","args":["in"],"conf":[["wisp.task.maxFailures","2"]],"start_unix_ms":5}"#,
            "\n",
            r#"{"event":"executor_added","time_ms":0.1,"executor":0,"host":"localhost","cores":2}"#,
            "\n",
            r#"{"event":"job_start","time_ms":1.0,"job":0,"stages":[0,1]}"#,
            "\n",
            r#"{"event":"stage_submitted","time_ms":1.0,"stage":0,"attempt":0,"kind":"shuffle-map","rdds":[0,1],"tasks":2,"parents":[]}"#,
            "\n",
            r#"{"event":"task_start","time_ms":1.5,"task":0,"job":0,"stage":0,"stage_attempt":0,"partition":0,"attempt":0,"executor":0,"locality":"no-pref","speculative":false}"#,
            "\n",
            r#"{"event":"task_start","time_ms":1.5,"task":1,"job":0,"stage":0,"stage_attempt":0,"partition":1,"attempt":0,"executor":0,"locality":"no-pref","speculative":false}"#,
            "\n",
            r#"{"event":"task_end","time_ms":3.0,"task":0,"job":0,"stage":0,"stage_attempt":0,"partition":0,"attempt":0,"executor":0,"duration_ms":1.5,"result":"succeeded","failure":null,"metrics":{"records_read":1,"bytes_read":2,"records_written":3,"bytes_written":4,"shuffle_read_bytes":0,"shuffle_write_bytes":10}}"#,
            "\n",
            r#"{"event":"task_end","time_ms":3.5,"task":1,"job":0,"stage":0,"stage_attempt":0,"partition":1,"attempt":0,"executor":0,"duration_ms":2.0,"result":"failed","failure":"boom","metrics":{"records_read":0,"bytes_read":0,"records_written":0,"bytes_written":0,"shuffle_read_bytes":0,"shuffle_write_bytes":0},"log":"panicked"}"#,
            "\n",
        ));
        let mut app = AppStatus::default();
        for l in &lines {
            app.apply(l);
        }
        let s = app.latest_attempt(0).unwrap();
        assert_eq!((s.tasks, s.running, s.succeeded, s.failed), (2, 0, 1, 1));
        assert_eq!(s.metrics.shuffle_write_bytes, 10);
        assert_eq!(app.tasks[&1].log, "panicked");
        assert_eq!(app.executors[&0].failed, 1);
        let more = parse(concat!(
            r#"{"event":"stage_completed","time_ms":4.0,"stage":0,"attempt":0,"result":"succeeded","failure":null}"#,
            "\n",
            r#"{"event":"job_end","time_ms":9.0,"job":0,"result":"succeeded","error":null}"#,
            "\n",
            r#"{"event":"job_start","time_ms":10.0,"job":1,"stages":[0,2]}"#,
            "\n",
            r#"{"event":"job_end","time_ms":11.0,"job":1,"result":"failed","error":"x"}"#,
            "\n",
        ));
        for l in &more {
            app.apply(l);
        }
        assert_eq!(app.jobs[&0].stage_state(&app, 1), State::Skipped);
        assert_eq!(app.jobs[&0].stage_state(&app, 0), State::Succeeded);
        assert_eq!(app.jobs[&1].stage_state(&app, 0), State::Skipped);
        assert_eq!(app.jobs[&1].state, State::Failed);
        // Every line reads back as itself.
        for l in lines.iter().chain(&more) {
            let again: LogLine = serde_json::from_str(&serde_json::to_string(l).unwrap()).unwrap();
            assert_eq!(&again, l);
        }
    }
}
