//! What an application looks like from outside while it runs and after: its live status model, console progress and Prometheus metrics.
//!
//! The driver loop hands every event-log line to a `Recorder` (`recorder.rs`),
//! which writes the event log, applies the line to the application's
//! `AppStatus` (`status.rs`, shared with the web UI and the console progress
//! through a `LiveApp`) and counts it in the process's `Metrics`
//! (`metrics.rs`). Applying a line is bookkeeping under a short lock; nothing
//! here ever makes the driver loop wait on a reader. `progress.rs` is the
//! running stages' progress (what the console draws and what the master
//! streams to `wisp submit`), `console.rs` draws it with indicatif.

pub(crate) mod console;
pub(crate) mod http_server;
pub(crate) mod metrics;
pub(crate) mod progress;
pub(crate) mod recorder;
pub(crate) mod status;

use std::sync::{Arc, Mutex, MutexGuard};

pub(crate) use metrics::Metrics;
pub(crate) use recorder::Recorder;
pub(crate) use status::AppStatus;

/// One application's status, shared between its driver loop (the only writer) and its readers.
#[derive(Debug, Default)]
pub(crate) struct LiveApp {
    status: Mutex<AppStatus>,
}

impl LiveApp {
    pub(crate) fn new() -> Arc<LiveApp> {
        Arc::new(LiveApp::default())
    }

    /// A finished application's status (replayed from its event log).
    pub(crate) fn from_status(status: AppStatus) -> Arc<LiveApp> {
        Arc::new(LiveApp { status: Mutex::new(status) })
    }

    /// The status, locked: hold it only to read or apply a line.
    pub(crate) fn lock(&self) -> MutexGuard<'_, AppStatus> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Masks the values of configuration keys that look secret (for the event log and the UI).
pub(crate) fn masked_conf<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<(String, String)> {
    const SECRET: [&str; 5] = ["secret", "password", "token", "credential", "key"];
    pairs
        .into_iter()
        .map(|(k, v)| {
            let lower = k.to_ascii_lowercase();
            let last = lower.rsplit('.').next().unwrap_or("");
            let secret = SECRET.iter().any(|s| last.contains(s));
            (k.to_string(), if secret { "*********(redacted)".to_string() } else { v.to_string() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn secret_looking_keys_are_masked() {
        let conf = super::masked_conf([
            ("wisp.task.maxFailures", "3"),
            ("my.s3.secretKey", "hunter2"),
            ("db.password", "pw"),
        ]);
        assert_eq!(conf[0].1, "3");
        assert_eq!(conf[1].1, "*********(redacted)");
        assert_eq!(conf[2].1, "*********(redacted)");
    }
}
