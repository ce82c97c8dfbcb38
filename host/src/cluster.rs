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
use crate::process_settings::NetTimers;
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
    /// The web UI or the metrics endpoint could not start.
    #[error("{message}")]
    Ui { message: String },
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

/// Settings of the connections a cluster process opens to `server_name`.
///
/// Their idle timeout is `wisp.network.livenessTimeout` and they send QUIC
/// keep-alives every quarter of it, so a connection falls idle only when the
/// peer is dead, hung or unreachable: a SIGKILLed process closes nothing for
/// UDP, and ICMP errors are neither reliable across hosts nor surfaced by
/// quinn. QUIC uses the smaller of both sides' idle timeouts, so these
/// clients set the liveness timeout of the connection on both ends.
pub(crate) fn client_net(timers: NetTimers, server_name: &'static str) -> NetConfig {
    NetConfig {
        idle_timeout: timers.liveness_timeout,
        keep_alive: timers.liveness_timeout / 4,
        ..server_net(timers, server_name)
    }
}

/// Settings of a cluster process's listening endpoint: the idle timeout it
/// offers is `wisp.network.timeout` (Wisp clients ask for their shorter
/// liveness timeout), longer than the handshake deadline, so a silent
/// stranger is dropped by that deadline (one clear log line).
pub(crate) fn server_net(timers: NetTimers, server_name: &'static str) -> NetConfig {
    let timeout = timers.network_timeout;
    NetConfig {
        idle_timeout: timeout,
        keep_alive: (timeout / 3).min(Duration::from_secs(5)),
        handshake_timeout: (timeout * 3 / 4).min(Duration::from_secs(10)),
        server_name,
        ..NetConfig::default()
    }
}

/// SIGTERM and SIGINT, installed once at start: a master or executor that gets either closes its connections and exits.
pub(crate) struct Shutdown {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Shutdown {
    /// Installs the handlers (inside the runtime).
    pub(crate) fn install() -> Result<Shutdown, ClusterError> {
        use tokio::signal::unix::{SignalKind, signal};
        let start =
            |what, kind| signal(kind).map_err(|source| ClusterError::Start { what, source });
        Ok(Shutdown {
            term: start("SIGTERM handler", SignalKind::terminate())?,
            int: start("SIGINT handler", SignalKind::interrupt())?,
        })
    }

    /// Waits for the next signal; its name.
    pub(crate) async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
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
