//! What the driver loop does with each event-log line: write it to the event log, apply it to the live status, count it in the metrics.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{LiveApp, Metrics};
use crate::event_log::{EventLog, LogLine};
use crate::memory::MemoryUse;

/// One application's sinks for its event-log lines (each optional).
pub(crate) struct Recorder {
    event_log: Option<EventLog>,
    live: Option<Arc<LiveApp>>,
    metrics: Option<Arc<Metrics>>,
    /// Executors added and not removed (the metrics' gauge forgets them when the application ends).
    executors: BTreeSet<u32>,
    ended: bool,
}

impl Recorder {
    /// A recorder whose first line is `start` (the application's `app_start`).
    pub(crate) fn new(
        event_log: Option<EventLog>,
        live: Option<Arc<LiveApp>>,
        metrics: Option<Arc<Metrics>>,
        start: LogLine,
    ) -> Recorder {
        let mut r = Recorder { event_log, live, metrics, executors: BTreeSet::new(), ended: false };
        r.record(&start);
        r
    }

    /// Whether any sink wants lines (if not, the loop need not build them).
    pub(crate) fn is_active(&self) -> bool {
        self.event_log.is_some() || self.live.is_some() || self.metrics.is_some()
    }

    /// Hands one line to every sink; an event log that cannot be written is dropped with an error line.
    pub(crate) fn record(&mut self, line: &LogLine) {
        match line {
            LogLine::ExecutorAdded { executor, .. } => {
                self.executors.insert(*executor);
            }
            LogLine::ExecutorRemoved { executor, .. } => {
                self.executors.remove(executor);
            }
            LogLine::AppEnd { .. } => self.ended = true,
            _ => {}
        }
        if let Some(log) = &mut self.event_log
            && let Err(e) = log.write(line)
        {
            tracing::error!("{e}; event logging stopped");
            self.event_log = None;
        }
        if let Some(live) = &self.live {
            live.lock().apply(line);
        }
        if let Some(m) = &self.metrics {
            m.observe(line);
        }
    }

    /// Whether a live status (web UI) is kept, the only sink of heartbeats.
    pub(crate) fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// Hands an executor's heartbeat to the live status.
    pub(crate) fn heartbeat(&mut self, executor: u32, at_ms: f64, memory: MemoryUse) {
        if let Some(live) = &self.live {
            live.lock().heartbeat(executor, at_ms, memory);
        }
    }

    /// The loop stopped: flushes the log and settles the metrics' gauges.
    pub(crate) fn finish(&mut self) {
        if let Some(log) = &mut self.event_log {
            let _ = log.flush();
        }
        if let Some(m) = &self.metrics {
            m.executors_left(self.executors.len() as i64);
            if !self.ended {
                m.observe(&LogLine::AppEnd {
                    time_ms: 0.0,
                    result: crate::event_log::lines::Outcome::Failed,
                    error: None,
                });
            }
        }
        self.executors.clear();
        self.ended = true;
    }
}
