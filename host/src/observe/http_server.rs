//! A small HTTP server (axum) on its own thread with its own single-threaded tokio runtime: the web UI's and the executors' `/metrics` endpoint.
//!
//! Neither the driver loop nor the executors ever wait for it. It stops when
//! dropped, without waiting for idle keep-alive connections.

use std::future::IntoFuture as _;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::Metrics;

/// The server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The address is not `host:port`.
    #[error("invalid address `{addr}`: expected host:port, e.g. 127.0.0.1:4040")]
    Address {
        /// What was given.
        addr: String,
    },
    /// The server's thread or runtime could not start.
    #[error("cannot start the HTTP server: {source}")]
    Start {
        /// Why.
        source: std::io::Error,
    },
}

/// A running HTTP server; stops when dropped.
pub(crate) struct HttpServer {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Binds `addr` (`host:port`; port 0 picks one) and serves `router`.
    pub(crate) fn start(addr: &str, router: Router) -> Result<HttpServer, ServeError> {
        let parsed: SocketAddr =
            addr.parse().map_err(|_| ServeError::Address { addr: addr.into() })?;
        let listener = TcpListener::bind(parsed)
            .map_err(|source| ServeError::Bind { addr: addr.to_string(), source })?;
        listener.set_nonblocking(true).map_err(|source| ServeError::Start { source })?;
        let local = listener.local_addr().map_err(|source| ServeError::Start { source })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|source| ServeError::Start { source })?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
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
            .map_err(|source| ServeError::Start { source })?;
        Ok(HttpServer { addr: local, shutdown: Some(tx), thread: Some(thread) })
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `/metrics` of a process's metrics: Prometheus text 0.0.4, or OpenMetrics when the scraper asks for it.
pub(crate) fn metrics_response(
    metrics: &Metrics,
    accept: Option<&str>,
) -> axum::response::Response {
    if accept.is_some_and(|a| a.contains("application/openmetrics-text")) {
        (
            [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
            metrics.render_openmetrics(),
        )
            .into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            metrics.render_prometheus(),
        )
            .into_response()
    }
}

/// A router serving only `/metrics` (an executor's `--metrics-listen`).
pub(crate) fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new().route(
        "/metrics",
        get(move |headers: axum::http::HeaderMap| async move {
            let accept = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok());
            metrics_response(&metrics, accept)
        }),
    )
}
