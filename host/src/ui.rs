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

use std::future::IntoFuture as _;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::observe::{LiveApp, Metrics};

/// The UI (or the metrics endpoint) could not start.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// The address could not be bound.
    #[error("cannot serve the web UI on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The address is not `host:port`.
    #[error("invalid UI address `{addr}`: expected host:port, e.g. 127.0.0.1:4040")]
    Address {
        /// What was given.
        addr: String,
    },
    /// `wisp history DIR` of something that is not a directory.
    #[error("history directory {}: not a directory", dir.display())]
    NoDirectory {
        /// What was given.
        dir: std::path::PathBuf,
    },
    /// The server's thread or runtime could not start.
    #[error("cannot start the web UI: {source}")]
    Start {
        /// Why.
        source: std::io::Error,
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

/// A running UI server; stops when dropped.
pub(crate) struct UiServer {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl UiServer {
    /// Binds `addr` (`host:port`; port 0 picks one) and serves `source` (and `metrics` at `/metrics`).
    pub(crate) fn start(
        addr: &str,
        source: Arc<dyn AppSource>,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<UiServer, UiError> {
        let parsed: SocketAddr = addr.parse().map_err(|_| UiError::Address { addr: addr.into() })?;
        let listener = TcpListener::bind(parsed)
            .map_err(|source| UiError::Bind { addr: addr.to_string(), source })?;
        listener.set_nonblocking(true).map_err(|source| UiError::Start { source })?;
        let local = listener.local_addr().map_err(|source| UiError::Start { source })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|source| UiError::Start { source })?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let router = routes::router(source, metrics);
        let thread = std::thread::Builder::new()
            .name("wisp-ui".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!("web UI stopped: {e}");
                            return;
                        }
                    };
                    // Not a graceful shutdown: a browser's idle keep-alive connection must not
                    // hold up the end of the process. Dropping the runtime closes every connection.
                    tokio::select! {
                        served = axum::serve(listener, router).into_future() => {
                            if let Err(e) = served {
                                tracing::error!("web UI stopped: {e}");
                            }
                        }
                        _ = rx => {}
                    }
                });
            })
            .map_err(|source| UiError::Start { source })?;
        Ok(UiServer { addr: local, shutdown: Some(tx), thread: Some(thread) })
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for UiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
