//! The web UI, its JSON API (shaped after Spark's `/api/v1`) and `/metrics`, served with axum for `wisp run --ui`, the master (`--ui-listen`) and the history server.
//!
//! What is shown comes from an `AppSource`: the live applications of this
//! process (`live.rs`) or the event logs of a directory (`history.rs`). The
//! server runs on its own thread with its own single-threaded tokio runtime,
//! so neither the driver loop nor the executors ever wait for it; it reads
//! an application's status under its short lock. `routes.rs` wires the
//! endpoints, `pages.rs` renders HTML, `graph.rs` the stage graph (SVG),
//! `api.rs` the JSON, `format.rs` sizes, durations and dates.

mod api;
mod format;
mod graph;
pub(crate) mod history;
pub(crate) mod live;
mod pages;
mod routes;

use std::sync::Arc;

use crate::observe::http_server::{HttpServer, ServeError};
use crate::observe::{LiveApp, Metrics};

/// The UI (or the metrics endpoint) could not start.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// The server could not start.
    #[error("cannot serve the web UI: {0}")]
    Serve(#[from] ServeError),
    /// `wisp history DIR` of something that is not a directory.
    #[error("history directory {}: not a directory", dir.display())]
    NoDirectory {
        /// What was given.
        dir: std::path::PathBuf,
    },
}

/// One application as the applications page lists it.
#[derive(Clone, Debug)]
pub(crate) struct AppRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) start_unix_ms: u64,
    pub(crate) duration_ms: f64,
    /// `running`, `succeeded`, `failed`, `incomplete` (log without an end) or `unreadable`.
    pub(crate) state: String,
    /// The failure, or why its log cannot be read.
    pub(crate) error: Option<String>,
}

/// Why an application cannot be shown.
#[derive(Debug)]
pub(crate) enum Lookup {
    NotFound,
    Unreadable(String),
}

/// Where the UI's applications come from.
pub(crate) trait AppSource: Send + Sync + 'static {
    /// Every application, newest first.
    fn list(&self) -> Vec<AppRow>;
    /// One application's status.
    fn open(&self, id: &str) -> Result<Arc<LiveApp>, Lookup>;
}

/// Starts the web UI of `source` (and `metrics` at `/metrics`) on `addr`.
pub(crate) fn serve(
    addr: &str,
    source: Arc<dyn AppSource>,
    metrics: Option<Arc<Metrics>>,
) -> Result<HttpServer, UiError> {
    Ok(HttpServer::start(addr, routes::router(source, metrics))?)
}
