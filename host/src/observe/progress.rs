//! The running stages' progress (what the console draws and the master streams to `wisp submit`) and the one-line summary of a finished application.

use std::fmt;

use super::status::{AppStatus, State};
use crate::net::protocol::WireStageProgress;

/// One running stage attempt: `[Stage 3:=====>   (120 + 2) / 200]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageProgress {
    /// The stage id.
    pub stage: u32,
    /// Its attempt.
    pub attempt: u32,
    /// Tasks of the attempt.
    pub total: u32,
    /// Tasks that succeeded.
    pub completed: u32,
    /// Tasks running now.
    pub running: u32,
}

impl From<StageProgress> for WireStageProgress {
    fn from(s: StageProgress) -> Self {
        let StageProgress { stage, attempt, total, completed, running } = s;
        WireStageProgress { stage, attempt, total, completed, running }
    }
}

impl From<WireStageProgress> for StageProgress {
    fn from(s: WireStageProgress) -> Self {
        let WireStageProgress { stage, attempt, total, completed, running } = s;
        StageProgress { stage, attempt, total, completed, running }
    }
}

/// The stage attempts running now.
pub(crate) fn running_stages(status: &AppStatus) -> Vec<StageProgress> {
    status
        .active_stages()
        .into_iter()
        .map(|s| StageProgress {
            stage: s.stage,
            attempt: s.attempt,
            total: s.tasks,
            completed: s.succeeded,
            running: s.running,
        })
        .collect()
}

/// What an application did, on one line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Jobs run.
    pub jobs: u32,
    /// Stage attempts run.
    pub stages: u32,
    /// Stages skipped because their output existed.
    pub skipped_stages: u32,
    /// Task attempts that ended.
    pub tasks: u32,
    /// Of those, failed (or killed).
    pub failed_tasks: u32,
    /// Milliseconds from the application's start to its end.
    pub duration_ms: u64,
    /// Input bytes read by stages without parent stages.
    pub input_bytes: u64,
    /// Bytes handed to the result stages' sinks.
    pub output_bytes: u64,
    /// Shuffle bytes written.
    pub shuffle_bytes: u64,
}

pub(crate) fn summary(status: &AppStatus) -> RunSummary {
    let mut s = RunSummary {
        jobs: status.jobs.len() as u32,
        stages: status.stages.len() as u32,
        duration_ms: status.ended.as_ref().map_or(status.now_ms, |e| e.0) as u64,
        ..RunSummary::default()
    };
    for j in status.jobs.values() {
        s.skipped_stages +=
            j.stages.iter().filter(|st| j.stage_state(status, **st) == State::Skipped).count()
                as u32;
    }
    for t in status.tasks.values() {
        if t.state == State::Running {
            continue;
        }
        s.tasks += 1;
        if t.state == State::Failed {
            s.failed_tasks += 1;
        }
        let info = status.stage_info.get(&t.id.stage);
        if info.is_some_and(|i| i.parents.is_empty()) {
            s.input_bytes += t.metrics.bytes_read;
        }
        if info.is_some_and(|i| i.kind == "result") {
            s.output_bytes += t.metrics.bytes_written;
        }
        s.shuffle_bytes += t.metrics.shuffle_write_bytes;
    }
    s
}

/// `1.5 GiB`, `312 B`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

fn plural(n: u32, word: &str) -> String {
    if n == 1 { format!("{n} {word}") } else { format!("{n} {word}s") }
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {}", plural(self.jobs, "job"), plural(self.stages, "stage"))?;
        if self.skipped_stages > 0 {
            write!(f, " ({} skipped)", self.skipped_stages)?;
        }
        write!(f, ", {}", plural(self.tasks, "task"))?;
        if self.failed_tasks > 0 {
            write!(f, " ({} failed)", self.failed_tasks)?;
        }
        write!(
            f,
            " in {:.1} s; input {}, output {}, shuffle {}",
            self.duration_ms as f64 / 1000.0,
            human_bytes(self.input_bytes),
            human_bytes(self.output_bytes),
            human_bytes(self.shuffle_bytes)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_reads_as_one_line() {
        let s = RunSummary {
            jobs: 1,
            stages: 2,
            skipped_stages: 0,
            tasks: 10,
            failed_tasks: 1,
            duration_ms: 2500,
            input_bytes: 3 << 30,
            output_bytes: 1500,
            shuffle_bytes: 0,
        };
        assert_eq!(
            s.to_string(),
            "1 job, 2 stages, 10 tasks (1 failed) in 2.5 s; input 3.0 GiB, output 1.5 KiB, shuffle 0 B"
        );
    }
}
