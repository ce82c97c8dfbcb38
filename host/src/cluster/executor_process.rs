//! The `wisp executor` process: registers with the master, runs tasks on N task threads, heartbeats, serves shuffle blocks.
//!
//! - `state`: one `Executor` per application, received components, accepted attempts.
//! - `requests`: what the master asks (launch, kill, drop blocks, remove a shuffle, peers).
//!
//! Three loops run on tokio until one ends (then the process stops): task
//! statuses to the master in completion order, heartbeats with the running
//! attempts' metrics, and the master's requests. Guests run on the task
//! threads only.

mod requests;
mod state;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::Instrument as _;

use self::state::{ExecutorSettings, ExecutorState, QueuedTask};
use super::blocks::fetch::FetchPool;
use super::blocks::{PeerTable, server};
use super::{ClusterError, net_config, resolve};
use crate::error_chain::chain;
use crate::ids::{AppId, ExecutorId, TaskId};
use crate::net::protocol::{ExecutorRequest, MasterReply, WireTaskReport};
use crate::net::{
    ClientConn, ClusterSecret, Fingerprint, Identity, Limits, NetConfig, Role, Server, Stream,
    call, connect_with,
};
use crate::process_settings::ExecutorProcessSettings;
use crate::settings::{Conf, compile_cache_dir};
use crate::task_threads::TaskThreads;
use crate::wasm::Runtime;

/// Launched tasks an executor process holds waiting for a task thread. Every
/// application's scheduler launches onto the cores it believes free, so
/// several applications sharing the executor may queue more than its cores;
/// beyond this bound a launch is refused (a host failure, retried elsewhere).
const MAX_QUEUED_TASKS: usize = 4096;

/// Settings of `wisp executor`.
pub struct ExecutorArgs {
    /// The master's address (`host:port`).
    pub master: String,
    /// The master's certificate fingerprint.
    pub master_fingerprint: Fingerprint,
    /// The cluster secret.
    pub secret: ClusterSecret,
    /// Task slots.
    pub cores: u32,
    /// Host name announced for locality and block fetches (default: the address used to reach the master).
    pub host: Option<String>,
    /// Rack.
    pub rack: Option<String>,
    /// Directories this host holds locally (`--data-root`), announced at
    /// registration: text-file splits below them prefer this host.
    pub data_roots: Vec<PathBuf>,
    /// Work directory (identity, shuffle files, blocks).
    pub work_dir: PathBuf,
    /// Executor configuration (timeouts, fetch limits, task limits).
    pub conf: Conf,
}

/// Runs an executor until the master goes away.
pub fn run_executor(args: ExecutorArgs) -> Result<(), ClusterError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("wisp-executor-net")
        .enable_all()
        .build()
        .map_err(|source| ClusterError::Start { what: "tokio runtime", source })?;
    let handle = rt.handle().clone();
    let result = rt.block_on(serve(args, handle));
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

/// A registered executor: its id, its connection to the master and its block server.
struct Registration {
    id: ExecutorId,
    master: ClientConn,
    block_server: Server,
}

/// Binds the block server and registers with the master.
async fn register(
    args: &ExecutorArgs,
    cores: u32,
    net: &NetConfig,
    peer_net: &NetConfig,
) -> Result<Registration, ClusterError> {
    let master = resolve(&args.master).await?;
    std::fs::create_dir_all(&args.work_dir)
        .map_err(|source| ClusterError::WorkDir { path: args.work_dir.clone(), source })?;
    let identity = Identity::load_or_generate(&args.work_dir.join("identity"))
        .map_err(|source| ClusterError::Identity { source })?;
    let bind_ip: IpAddr =
        if master.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() };
    let block_server = Server::bind_with(
        SocketAddr::new(bind_ip, 0),
        &identity,
        args.secret.clone(),
        peer_net.clone(),
    )
    .map_err(|e| ClusterError::Bind { addr: format!("{bind_ip}:0"), message: chain(&e) })?;
    let shuffle_port = block_server.local_addr().port();
    let host = match &args.host {
        Some(h) => h.clone(),
        None => local_ip_towards(master).to_string(),
    };
    let role = Role::Executor {
        host: host.clone(),
        rack: args.rack.clone(),
        cores,
        shuffle_port,
        shuffle_fingerprint: identity.fingerprint().to_string(),
        data_roots: args.data_roots.iter().map(|r| r.to_string_lossy().into_owned()).collect(),
    };
    let client = connect_with(master, args.master_fingerprint, &args.secret, role, net)
        .await
        .map_err(|source| ClusterError::Connect { addr: args.master.clone(), source })?;
    let Some(id) = client.executor else {
        return Err(ClusterError::MasterLost {
            message: "the master assigned no executor id".into(),
        });
    };
    tracing::info!(executor = %id, %host, shuffle_port, cores, "registered with the master");
    Ok(Registration { id, master: client, block_server })
}

async fn serve(args: ExecutorArgs, rt: tokio::runtime::Handle) -> Result<(), ClusterError> {
    let cores = args.cores.max(1);
    let process = ExecutorProcessSettings::from_conf(&args.conf)?;
    let net = net_config(process.network_timeout, "master");
    let peer_net = net_config(process.network_timeout, "executor");
    let runtime = Runtime::new(process.task_limits, compile_cache_dir())
        .map_err(|e| ClusterError::Runtime { message: e.to_string() })?;

    let Registration { id, master, block_server } = register(&args, cores, &net, &peer_net).await?;
    let span = tracing::info_span!("executor", executor = %id);
    let peers = Arc::new(PeerTable::default());
    let base = args.work_dir.join(format!("executor-{}", id.0));
    std::fs::create_dir_all(&base)
        .map_err(|source| ClusterError::WorkDir { path: base.clone(), source })?;
    tokio::spawn(
        server::serve(block_server, base.clone(), peer_net.limits).instrument(span.clone()),
    );

    // Reports from the task threads, sent in completion order.
    let (status_tx, status_rx) =
        mpsc::channel::<(AppId, TaskId, WireTaskReport)>(cores as usize * 4);
    let thread_span = span.clone();
    let threads = TaskThreads::start(cores, MAX_QUEUED_TASKS, "wisp-task", move |q: QueuedTask| {
        let _span = thread_span.enter();
        let report = q.executor.run_task_live(&q.task, q.cancel, Some(&q.live));
        status_tx.blocking_send((q.app, q.task.id.task, WireTaskReport::from(&report))).is_ok()
    })
    .map_err(|source| ClusterError::Start { what: "task thread", source })?;
    let settings = ExecutorSettings {
        id,
        base: base.clone(),
        max_in_flight: process.max_bytes_in_flight,
        spill: process.shuffle_spill_memory,
        batch_bytes: crate::executor::BATCH_BYTES,
        #[cfg(any(test, feature = "testing"))]
        faults: crate::testing::TestFaults::from_env()
            .map_err(|e| ClusterError::Runtime { message: e.to_string() })?,
    };
    let fetch = FetchPool::new(id, args.secret.clone(), peers.clone(), peer_net.clone());
    let state =
        Arc::new(ExecutorState::new(settings, runtime, fetch, rt.clone(), threads.queue(), peers));

    let limits = net.limits;
    let statuses = tokio::spawn(
        send_statuses(master.conn.clone(), status_rx, state.clone(), limits)
            .instrument(span.clone()),
    );
    let heartbeats = tokio::spawn(
        send_heartbeats(master.conn.clone(), process.heartbeat_interval, state.clone(), limits)
            .instrument(span.clone()),
    );
    let requests =
        tokio::spawn(serve_requests(master.conn.clone(), state, limits).instrument(span.clone()));
    let message = tokio::select! {
        r = statuses => r.unwrap_or_else(|e| e.to_string()),
        r = heartbeats => r.unwrap_or_else(|e| e.to_string()),
        r = requests => r.unwrap_or_else(|e| e.to_string()),
    };
    tracing::error!(executor = %id, %message, "stopping");
    let _ = std::fs::remove_dir_all(&base);
    drop(threads);
    Err(ClusterError::MasterLost { message })
}

/// Task statuses to the master, in completion order; returns why it stopped.
async fn send_statuses(
    conn: quinn::Connection,
    mut reports: mpsc::Receiver<(AppId, TaskId, WireTaskReport)>,
    state: Arc<ExecutorState>,
    limits: Limits,
) -> String {
    while let Some((app, task, report)) = reports.recv().await {
        state.ended(app, task);
        if let Err(e) = call::<_, MasterReply>(
            &conn,
            &ExecutorRequest::TaskStatus { app: app.0, report },
            limits,
        )
        .await
        {
            return chain(&e);
        }
    }
    "task threads stopped".to_string()
}

/// Heartbeats with the running attempts; returns why they stopped.
async fn send_heartbeats(
    conn: quinn::Connection,
    every: Duration,
    state: Arc<ExecutorState>,
    limits: Limits,
) -> String {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let running = state.running_tasks();
        match call::<_, MasterReply>(&conn, &ExecutorRequest::Heartbeat { running }, limits).await {
            Ok(MasterReply::Ack) => {}
            Ok(MasterReply::Reregister) => {
                return "the master declared this executor lost".to_string();
            }
            Err(e) => return chain(&e),
        }
    }
}

/// The master's requests, each on its own stream; returns why they stopped.
async fn serve_requests(
    conn: quinn::Connection,
    state: Arc<ExecutorState>,
    limits: Limits,
) -> String {
    loop {
        match Stream::accept(&conn, limits).await {
            Ok(Some(s)) => {
                let state = state.clone();
                tokio::spawn(async move {
                    if let Err(e) = requests::handle(s, &state).await {
                        tracing::warn!(error = %chain(&e), "request from the master failed");
                    }
                });
            }
            Ok(None) => return "the master closed the connection".to_string(),
            Err(e) => return chain(&e),
        }
    }
}

/// The local address the OS would use to reach `master` (what other executors can reach us at).
fn local_ip_towards(master: SocketAddr) -> IpAddr {
    let any: SocketAddr = if master.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    std::net::UdpSocket::bind(any)
        .and_then(|s| s.connect(master).and_then(|()| s.local_addr()))
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(Ipv4Addr::LOCALHOST.into())
}
