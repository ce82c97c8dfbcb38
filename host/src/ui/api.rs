//! The JSON API, shaped after Spark's `/api/v1/applications/{id}/jobs|stages|executors|environment` (field names and status words as Spark's).

use serde_json::{Value, json};

use super::AppRow;
use super::format::date;
use crate::observe::status::{AppStatus, JobStatus, StageAttemptStatus, State, TaskStatus};

fn at(app: &AppStatus, ms: f64) -> String {
    date(app.start_unix_ms + ms.max(0.0) as u64)
}

pub(crate) fn applications(rows: &[AppRow]) -> Value {
    Value::Array(
        rows.iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "name": r.name,
                    "attempts": [{
                        "startTime": date(r.start_unix_ms),
                        "endTime": if r.state == "running" { None } else { Some(date(r.start_unix_ms + r.duration_ms as u64)) },
                        "duration": r.duration_ms as u64,
                        "completed": r.state != "running",
                        "status": r.state,
                        "error": r.error,
                    }],
                })
            })
            .collect(),
    )
}

fn job_status(s: State) -> &'static str {
    match s {
        State::Running | State::Pending => "RUNNING",
        State::Succeeded => "SUCCEEDED",
        State::Failed | State::Skipped => "FAILED",
    }
}

pub(crate) fn job(app: &AppStatus, j: &JobStatus) -> Value {
    let states: Vec<State> = j.stages.iter().map(|s| j.stage_state(app, *s)).collect();
    let count = |st: State| states.iter().filter(|s| **s == st).count();
    let (mut tasks, mut active, mut done, mut failed, mut killed) = (0, 0, 0, 0, 0);
    for s in &j.ran {
        for a in app.attempts(*s) {
            tasks += a.tasks;
            active += a.running;
            done += a.succeeded;
            failed += a.failed;
            killed += a.killed;
        }
    }
    json!({
        "jobId": j.id,
        "name": format!("job {}", j.id),
        "submissionTime": at(app, j.start_ms),
        "completionTime": j.end_ms.map(|t| at(app, t)),
        "stageIds": j.stages,
        "status": job_status(j.state),
        "numTasks": tasks,
        "numActiveTasks": active,
        "numCompletedTasks": done,
        "numFailedTasks": failed,
        "numKilledTasks": killed,
        "numActiveStages": count(State::Running),
        "numCompletedStages": count(State::Succeeded),
        "numSkippedStages": count(State::Skipped),
        "numFailedStages": count(State::Failed),
        "errorMessage": j.error,
    })
}

pub(crate) fn jobs(app: &AppStatus) -> Value {
    Value::Array(app.jobs.values().rev().map(|j| job(app, j)).collect())
}

fn stage_status(s: State) -> &'static str {
    match s {
        State::Running => "ACTIVE",
        State::Succeeded => "COMPLETE",
        State::Failed => "FAILED",
        State::Pending => "PENDING",
        State::Skipped => "SKIPPED",
    }
}

pub(crate) fn stage(app: &AppStatus, s: &StageAttemptStatus, with_tasks: bool) -> Value {
    let info = app.stage_info.get(&s.stage);
    let m = &s.metrics;
    let mut v = json!({
        "status": stage_status(s.state),
        "stageId": s.stage,
        "attemptId": s.attempt,
        "name": format!("stage {}", s.stage),
        "kind": info.map(|i| i.kind.clone()),
        "parentIds": info.map(|i| i.parents.clone()).unwrap_or_default(),
        "rddIds": info.map(|i| i.rdds.clone()).unwrap_or_default(),
        "numTasks": s.tasks,
        "numActiveTasks": s.running,
        "numCompleteTasks": s.succeeded,
        "numFailedTasks": s.failed,
        "numKilledTasks": s.killed,
        "submissionTime": at(app, s.submitted_ms),
        "completionTime": s.completed_ms.map(|t| at(app, t)),
        "inputBytes": m.bytes_read,
        "inputRecords": m.records_read,
        "outputBytes": m.bytes_written,
        "outputRecords": m.records_written,
        "shuffleReadBytes": m.shuffle_read_bytes,
        "shuffleWriteBytes": m.shuffle_write_bytes,
        "shuffleFetchWaitTime": m.fetch_wait_ms as u64,
        "failureReason": s.failure,
    });
    if with_tasks {
        let tasks: serde_json::Map<String, Value> = app
            .stage_tasks(s.stage, s.attempt)
            .into_iter()
            .map(|t| (t.id.task.to_string(), task(app, t)))
            .collect();
        v["tasks"] = Value::Object(tasks);
    }
    v
}

pub(crate) fn stages(app: &AppStatus) -> Value {
    Value::Array(app.stages.values().rev().map(|s| stage(app, s, false)).collect())
}

fn task_status(s: State) -> &'static str {
    match s {
        State::Running | State::Pending => "RUNNING",
        State::Succeeded => "SUCCESS",
        State::Failed | State::Skipped => "FAILED",
    }
}

pub(crate) fn task(app: &AppStatus, t: &TaskStatus) -> Value {
    let m = &t.metrics;
    json!({
        "taskId": t.id.task,
        "index": t.id.partition,
        "attempt": t.id.attempt,
        "partitionId": t.id.partition,
        "launchTime": at(app, t.start_ms),
        "duration": t.duration_ms.map(|d| d as u64),
        "executorId": t.executor.to_string(),
        "host": app.executors.get(&t.executor).map(|e| e.host.clone()),
        "status": if t.failure.as_deref() == Some("task killed") { "KILLED" } else { task_status(t.state) },
        "taskLocality": t.locality.to_uppercase().replace('-', "_"),
        "speculative": t.speculative,
        "errorMessage": t.failure,
        "log": t.log,
        "taskMetrics": {
            "executorDeserializeTime": m.instantiation_ms as u64,
            "executorRunTime": t.duration_ms.map(|d| d as u64),
            "guestTime": m.guest_ms,
            "instantiationTime": m.instantiation_ms,
            "inputReadTime": m.input_read_ms,
            "outputWriteTime": m.output_write_ms,
            "inputMetrics": { "bytesRead": m.bytes_read, "recordsRead": m.records_read },
            "outputMetrics": { "bytesWritten": m.bytes_written, "recordsWritten": m.records_written },
            "shuffleReadMetrics": { "remoteBytesRead": m.shuffle_read_bytes, "fetchWaitTime": m.fetch_wait_ms },
            "shuffleWriteMetrics": { "bytesWritten": m.shuffle_write_bytes, "writeTime": m.shuffle_write_ms },
        },
    })
}

pub(crate) fn task_list(app: &AppStatus, s: &StageAttemptStatus) -> Value {
    Value::Array(app.stage_tasks(s.stage, s.attempt).into_iter().map(|t| task(app, t)).collect())
}

pub(crate) fn executors(app: &AppStatus) -> Value {
    Value::Array(
        app.executors
            .values()
            .map(|e| {
                json!({
                    "id": e.id.to_string(),
                    "hostPort": e.host,
                    "isActive": e.removed.is_none(),
                    "totalCores": e.cores,
                    "activeTasks": e.running,
                    "completedTasks": e.succeeded,
                    "failedTasks": e.failed,
                    "totalTasks": e.running + e.succeeded + e.failed,
                    "totalShuffleRead": e.shuffle_read_bytes,
                    "totalShuffleWrite": e.shuffle_write_bytes,
                    // As Spark's: storage memory used and the most it may reach (the whole pool).
                    "memoryUsed": e.heartbeat.as_ref().map_or(0, |h| h.memory.storage),
                    "maxMemory": e.heartbeat.as_ref().map_or(0, |h| h.memory.pool),
                    "memory": e.heartbeat.as_ref().map(|h| json!({
                        "pool": h.memory.pool,
                        "operators": h.memory.operators,
                        "guests": h.memory.guests,
                        "storage": h.memory.storage,
                    })),
                    "lastHeartbeat": e.heartbeat.as_ref().map(|h| at(app, h.at_ms)),
                    "addTime": at(app, e.added_ms),
                    "removeTime": e.removed.as_ref().map(|(t, _)| at(app, *t)),
                    "removeReason": e.removed.as_ref().map(|(_, r)| r.clone()),
                })
            })
            .collect(),
    )
}

pub(crate) fn environment(app: &AppStatus) -> Value {
    json!({
        "runtime": { "mode": app.mode, "name": app.name },
        "sparkProperties": app.conf,
        "arguments": app.args,
    })
}
