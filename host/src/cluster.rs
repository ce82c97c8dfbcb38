//! Cluster mode: the master service, the executor process and the submit client, talking QUIC (`crate::net`).
//!
//! - `master`: accepts executors and submitters, keeps the executor
//!   registry every application shares, detects lost executors, and hands
//!   each submission to a `SubmissionHandler` (the application layer) on its
//!   own thread; it knows nothing of applications.
//! - `executor_process`: the `wisp executor` process: task threads,
//!   component cache, heartbeats, task statuses.
//! - `blocks`: shuffle blocks served to (`server`), and fetched from
//!   (`fetch`), other executors, with a bounded number of bytes in flight.
//! - `submit`: the `wisp submit` client.
//!
//! Network code runs on tokio; guests run on dedicated task threads; the
//! scheduler state stays owned by each application's driver loop, which hears
//! about executors and task ends as `SchedulerEvent`s.

pub(crate) mod blocks;
pub(crate) mod executor_process;
pub(crate) mod master;
pub(crate) mod submit;

use std::path::PathBuf;
use std::time::Duration;

use crate::net::{HandshakeError, IdentityError, NetConfig, RpcError};
use crate::settings::ConfigError;

/// Why a cluster process (master, executor, submit client) stopped.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The tokio runtime or a thread could not start.
    #[error("cannot start {what}: {source}")]
    Start { what: &'static str, source: std::io::Error },
    /// An address did not resolve.
    #[error("cannot resolve {addr}: {message}")]
    Resolve { addr: String, message: String },
    /// The TLS identity could not be loaded or created.
    #[error("cannot load the TLS identity: {source}")]
    Identity {
        #[source]
        source: IdentityError,
    },
    /// Listening failed.
    #[error("cannot listen on {addr}: {message}")]
    Bind { addr: String, message: String },
    /// Connecting to the master failed.
    #[error("cannot connect to the master at {addr}")]
    Connect {
        addr: String,
        #[source]
        source: HandshakeError,
    },
    /// A work directory could not be created.
    #[error("cannot create work directory {path}: {source}")]
    WorkDir { path: PathBuf, source: std::io::Error },
    /// The wasm runtime could not start.
    #[error("cannot start the wasm runtime: {message}")]
    Runtime { message: String },
    /// The connection to the master broke.
    #[error("lost the connection to the master: {message}")]
    MasterLost { message: String },
    /// A request to the master failed.
    #[error("request to the master failed")]
    Rpc {
        #[source]
        source: RpcError,
    },
    /// The submitted job failed (its error text).
    #[error("{message}")]
    JobFailed { message: String },
    /// The user cancelled the job (Ctrl-C on `wisp submit`).
    #[error("job cancelled")]
    Cancelled,
    /// Writing the job's output failed.
    #[error("cannot write the job's output: {source}")]
    Output { source: std::io::Error },
}

/// Network settings of cluster connections whose idle timeout is `timeout` (`wisp.network.timeout`).
pub(crate) fn net_config(timeout: Duration, server_name: &'static str) -> NetConfig {
    NetConfig {
        idle_timeout: timeout,
        keep_alive: (timeout / 3).min(Duration::from_secs(5)),
        // Shorter than the idle timeout, so a silent peer is dropped by the handshake deadline (one clear log line).
        handshake_timeout: (timeout * 3 / 4).min(Duration::from_secs(10)),
        server_name,
        ..NetConfig::default()
    }
}

/// Resolves `host:port` (first address).
pub(crate) async fn resolve(addr: &str) -> Result<std::net::SocketAddr, ClusterError> {
    let resolve_err = |message: String| ClusterError::Resolve { addr: addr.to_string(), message };
    tokio::net::lookup_host(addr)
        .await
        .map_err(|e| resolve_err(e.to_string()))?
        .next()
        .ok_or_else(|| resolve_err("no address".into()))
}
