//! Cluster mode: the master service, executor processes and the submit client, talking QUIC (`crate::net`).
//!
//! - `master`: accepts executors and submitters, keeps the executor
//!   registry every application shares, detects lost executors; each
//!   submission is an application with its own driver loop (`jobs`).
//! - `port`: the cluster `ExecutorPort`: one ordered request queue per
//!   executor connection (`LaunchTask` with component bytes the first time,
//!   `KillTask`, `DropBlocks`, `Peers`).
//! - `jobs`: one submission: validates the component, runs the job's main on
//!   its own thread with its stdout piped back as `JobOutput`.
//! - `executor_service`: the `wisp executor` process: task threads, component
//!   cache, heartbeats, task statuses.
//! - `block_server` / `fetch`: shuffle blocks served to, and fetched from,
//!   other executors, with a bounded number of bytes in flight.
//! - `submit`: the `wisp submit` client.
//!
//! Network code runs on tokio; guests run on dedicated task threads; the
//! scheduler state stays owned by the driver loop, which hears about
//! executors and task ends as `SchedulerEvent`s.

mod block_server;
mod executor_service;
mod fetch;
mod jobs;
mod master;
mod port;
mod submit;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

pub use executor_service::{ExecutorArgs, run_executor};
pub use master::{MasterArgs, run_master};
pub use submit::{SubmitArgs, submit};

use crate::config::{self, Conf, ConfigError};
use crate::net::protocol::PeerInfo;
use crate::net::{HandshakeError, IdentityError, NetConfig, RpcError};

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

/// Network settings of cluster connections: the idle timeout is `wisp.network.timeout`.
pub(crate) fn net_config(conf: &Conf, server_name: &'static str) -> Result<NetConfig, ConfigError> {
    let timeout = conf.get_duration(config::NETWORK_TIMEOUT, Duration::from_secs(30))?.max(Duration::from_millis(500));
    Ok(NetConfig {
        idle_timeout: timeout,
        keep_alive: (timeout / 3).min(Duration::from_secs(5)),
        // Shorter than the idle timeout, so a silent peer is dropped by the handshake deadline (one clear log line).
        handshake_timeout: (timeout * 3 / 4).min(Duration::from_secs(10)),
        server_name,
        ..NetConfig::default()
    })
}

pub(crate) use crate::errors::chain;

/// Resolves `host:port` (first address).
pub(crate) async fn resolve(addr: &str) -> Result<std::net::SocketAddr, ClusterError> {
    let resolve_err = |message: String| ClusterError::Resolve { addr: addr.to_string(), message };
    tokio::net::lookup_host(addr).await.map_err(|e| resolve_err(e.to_string()))?.next().ok_or_else(|| resolve_err("no address".into()))
}

/// Other executors' block servers, as announced by the master (`Peers`).
#[derive(Default)]
pub(crate) struct PeerTable {
    peers: Mutex<HashMap<u32, PeerInfo>>,
}

impl PeerTable {
    /// Applies a `Peers` update.
    pub(crate) fn update(&self, added: Vec<PeerInfo>, removed: &[u32]) {
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        for r in removed {
            peers.remove(r);
        }
        for a in added {
            peers.insert(a.executor, a);
        }
    }

    /// The block server of an executor, if announced.
    pub(crate) fn get(&self, executor: u32) -> Option<PeerInfo> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner()).get(&executor).cloned()
    }
}
