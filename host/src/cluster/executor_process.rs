//! The `wisp executor` process: registers with the master, runs tasks on N task threads, heartbeats, serves shuffle blocks.
//!
//! - `state`: one `Executor` per application, received components, accepted attempts.
//! - `requests`: what the master asks (launch, kill, drop blocks, remove a shuffle, peers).
//!
//! Each registration with a master is a `Session`: its task threads, its
//! applications' state and files, and three loops on tokio until one ends
//! (task statuses to the master in completion order, heartbeats with the
//! running attempts' metrics, and the master's requests). When the master
//! goes (it closed the connection, it fell silent for
//! `wisp.network.livenessTimeout`, or it declared this executor lost), the
//! session is torn down — its attempts cancelled, its threads joined, its
//! files deleted, since the applications died with the master or already
//! rescheduled this executor's work — and the process registers again with
//! backoff and jitter for `wisp.executor.reconnectTimeout`. SIGTERM or SIGINT
//! closes the connections (the master knows at once) and exits. Guests run
//! on the task threads only.

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
use super::{ClusterError, Shutdown, client_net, resolve, server_net};
use crate::error_chain::chain;
use crate::event_log::lines::Outcome;
use crate::ids::{AppId, ExecutorId, TaskId};
use crate::net::auth::random_bytes;
use crate::net::endpoint::CLOSE_DONE;
use crate::net::protocol::{ExecutorRequest, MasterReply, WireTaskReport};
use crate::net::{
    ClientConn, ClusterSecret, Fingerprint, HandshakeError, Identity, Limits, NetConfig, Role,
    Server, Stream, call, connect_with,
};
use crate::observe::Metrics;
use crate::observe::http_server::{HttpServer, metrics_router};
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
    /// Serve Prometheus metrics at `http://ADDR/metrics` (the wasm runtime's: instantiations,
    /// compile cache, guest memory).
    pub metrics_listen: Option<String>,
}

/// Runs an executor until SIGTERM or SIGINT, or until it lost its master
/// for longer than `wisp.executor.reconnectTimeout`.
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

/// What every registration of this process shares.
struct Process {
    args: ExecutorArgs,
    cores: u32,
    settings: ExecutorProcessSettings,
    /// To the master.
    net: NetConfig,
    /// The block server's endpoint.
    peer_server: NetConfig,
    /// To other executors' block servers.
    peer_client: NetConfig,
    /// Compiled components are kept across registrations.
    runtime: Arc<Runtime>,
    /// The memory budget of its task slots and cached blocks.
    memory: Arc<crate::memory::MemoryManager>,
    /// Its Prometheus metrics, when served (`--metrics-listen`).
    metrics: Option<Arc<Metrics>>,
    rt: tokio::runtime::Handle,
}

/// Binds the block server and registers with the master.
async fn register(p: &Process) -> Result<Registration, ClusterError> {
    let args = &p.args;
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
        p.peer_server.clone(),
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
        cores: p.cores,
        shuffle_port,
        shuffle_fingerprint: identity.fingerprint().to_string(),
        data_roots: args.data_roots.iter().map(|r| r.to_string_lossy().into_owned()).collect(),
    };
    let client = connect_with(master, args.master_fingerprint, &args.secret, role, &p.net)
        .await
        .map_err(|source| ClusterError::Connect { addr: args.master.clone(), source })?;
    let Some(id) = client.executor else {
        return Err(ClusterError::MasterLost {
            message: "the master assigned no executor id".into(),
        });
    };
    tracing::info!(executor = %id, %host, shuffle_port, cores = p.cores, "registered with the master");
    Ok(Registration { id, master: client, block_server })
}

async fn serve(args: ExecutorArgs, rt: tokio::runtime::Handle) -> Result<(), ClusterError> {
    let settings = ExecutorProcessSettings::from_conf(&args.conf, args.cores.max(1))?;
    let runtime = Runtime::new(settings.task_limits.clone(), compile_cache_dir())
        .map_err(|e| ClusterError::Runtime { message: e.to_string() })?;
    let memory = settings.memory.manager()?;
    let metrics_server = match &args.metrics_listen {
        Some(addr) => {
            let metrics = Metrics::new(Some(runtime.stats().clone()), Some(memory.clone()));
            let server = HttpServer::start(addr, metrics_router(metrics.clone()))
                .map_err(|e| ClusterError::Ui { message: format!("cannot serve metrics: {e}") })?;
            tracing::info!(addr = %server.addr(), "serving metrics at /metrics");
            Some((server, metrics))
        }
        None => None,
    };
    let p = Process {
        metrics: metrics_server.as_ref().map(|(_, m)| m.clone()),
        memory,
        cores: args.cores.max(1),
        net: client_net(settings.net, "master"),
        peer_server: server_net(settings.net, "executor"),
        peer_client: client_net(settings.net, "executor"),
        args,
        settings,
        runtime,
        rt,
    };
    let mut shutdown = Shutdown::install()?;
    // The first registration fails at once: a wrong address or secret is a mistake to report.
    let mut registration = tokio::select! {
        r = register(&p) => r?,
        signal = shutdown.recv() => {
            tracing::info!(signal, "stopping before registration");
            return Ok(());
        }
    };
    loop {
        let mut session = Session::start(&p, registration)?;
        let lost = tokio::select! {
            message = session.ended() => message,
            signal = shutdown.recv() => {
                tracing::info!(executor = %session.id, signal, "shutting down: closing every connection");
                session.stop(EXECUTOR_SHUTTING_DOWN).await?;
                return Ok(());
            }
        };
        tracing::warn!(executor = %session.id, reason = %lost, "lost the master; dropping every application's state and registering again");
        session.stop(&lost).await?;
        registration = match reregister(&p, &lost, &mut shutdown).await? {
            Some(r) => r,
            None => return Ok(()),
        };
    }
}

/// The reason an executor's connections are closed with when it stops.
const EXECUTOR_SHUTTING_DOWN: &str = "the executor is shutting down";
/// First wait between registration attempts after losing the master.
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
/// Longest wait between registration attempts (each wait is drawn from its upper half).
const BACKOFF_MAX: Duration = Duration::from_secs(8);
/// How long a registration waits for its old task threads (cancelled) to end before
/// refusing to go on: a new master's application may reuse an old one's id and directory.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Registers again after losing the master, with exponential backoff and jitter, for
/// `wisp.executor.reconnectTimeout`; `None` if a signal came first.
async fn reregister(
    p: &Process,
    lost: &str,
    shutdown: &mut Shutdown,
) -> Result<Option<Registration>, ClusterError> {
    let started = tokio::time::Instant::now();
    let deadline = started + p.settings.reconnect_timeout;
    let (mut backoff, mut attempt) = (BACKOFF_FIRST, 0u32);
    loop {
        attempt += 1;
        let result = tokio::select! {
            r = register(p) => r,
            signal = shutdown.recv() => {
                tracing::info!(signal, "stopping while registering again");
                return Ok(None);
            }
        };
        let error = match result {
            Ok(r) => {
                tracing::info!(executor = %r.id, attempt, elapsed_ms = started.elapsed().as_millis() as u64, "registered again after losing the master");
                return Ok(Some(r));
            }
            Err(e) if !worth_retrying(&e) => return Err(e),
            Err(e) => e,
        };
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(ClusterError::MasterLost {
                message: format!(
                    "{lost}; no master to register with for {:?} (wisp.executor.reconnectTimeout): {}",
                    p.settings.reconnect_timeout,
                    chain(&error)
                ),
            });
        }
        let wait = jittered(backoff).min(deadline - now);
        tracing::info!(attempt, retry_in_ms = wait.as_millis() as u64, error = %chain(&error), "cannot register with the master yet");
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            signal = shutdown.recv() => {
                tracing::info!(signal, "stopping while registering again");
                return Ok(None);
            }
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Whether registering again may succeed later: the master is down or restarting, not refusing us.
fn worth_retrying(e: &ClusterError) -> bool {
    match e {
        ClusterError::Connect { source, .. } => matches!(
            source,
            HandshakeError::Timeout { .. }
                | HandshakeError::Connect { .. }
                | HandshakeError::Connection { .. }
                | HandshakeError::Frame { .. }
        ),
        ClusterError::Resolve { .. } => true,
        _ => false,
    }
}

/// A wait drawn uniformly from `[d/2, d]`, so that executors that lost the same master spread out.
fn jittered(d: Duration) -> Duration {
    let r = random_bytes::<8>().map(u64::from_le_bytes).unwrap_or(0);
    let fraction = 0.5 + (r >> 11) as f64 / (1u64 << 53) as f64 / 2.0;
    d.mul_f64(fraction)
}

/// One registration with a master: the applications it runs here, their task threads, and the loops serving it.
struct Session {
    id: ExecutorId,
    master: ClientConn,
    base: PathBuf,
    state: Arc<ExecutorState>,
    threads: TaskThreads<QueuedTask>,
    loops: Vec<tokio::task::JoinHandle<String>>,
    block_server: tokio::task::JoinHandle<()>,
    stop_block_server: tokio::sync::oneshot::Sender<&'static str>,
}

impl Session {
    fn start(p: &Process, registration: Registration) -> Result<Session, ClusterError> {
        let Registration { id, master, block_server } = registration;
        let cores = p.cores;
        let span = tracing::info_span!("executor", executor = %id);
        let peers = Arc::new(PeerTable::default());
        let base = p.args.work_dir.join(format!("executor-{}", id.0));
        // Whatever a crashed earlier run left here belongs to applications no master knows.
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base)
            .map_err(|source| ClusterError::WorkDir { path: base.clone(), source })?;
        let (stop_block_server, stop) = tokio::sync::oneshot::channel();
        let block_server = tokio::spawn(
            server::serve(block_server, base.clone(), p.peer_server.limits, stop)
                .instrument(span.clone()),
        );

        // Reports from the task threads, sent in completion order.
        let (status_tx, status_rx) =
            mpsc::channel::<(AppId, TaskId, WireTaskReport)>(cores as usize * 4);
        let thread_span = span.clone();
        let (metrics, niceness) = (p.metrics.clone(), p.settings.task_niceness);
        let threads = TaskThreads::start(
            cores,
            MAX_QUEUED_TASKS,
            "wisp-task",
            niceness,
            move |q: QueuedTask| {
                let _span = thread_span.enter();
                if let Some(m) = &metrics {
                    m.task_started();
                }
                let report = q.executor.run_task_live(&q.task, q.cancel, Some(&q.live));
                if let Some(m) = &metrics {
                    m.task_ended(Outcome::of(report.result.is_ok()), &(&report.metrics).into());
                }
                status_tx
                    .blocking_send((q.app, q.task.id.task, WireTaskReport::from(&report)))
                    .is_ok()
            },
        )
        .map_err(|source| ClusterError::Start { what: "task thread", source })?;
        let settings = ExecutorSettings {
            id,
            base: base.clone(),
            max_in_flight: p.settings.max_bytes_in_flight,
            spill: p.settings.shuffle_spill_memory,
            batch_bytes: crate::executor::BATCH_BYTES,
            memory: p.memory.clone(),
            stores: crate::store::Stores::new(p.settings.store.clone()),
            #[cfg(any(test, feature = "testing"))]
            faults: crate::testing::TestFaults::from_env()
                .map_err(|e| ClusterError::Runtime { message: e.to_string() })?,
        };
        let fetch = FetchPool::new(id, p.args.secret.clone(), peers.clone(), p.peer_client.clone());
        let state = Arc::new(ExecutorState::new(
            settings,
            p.runtime.clone(),
            fetch,
            p.rt.clone(),
            threads.queue(),
            peers,
        ));

        let (conn, limits) = (master.conn.clone(), p.net.limits);
        let loops = vec![
            tokio::spawn(
                send_statuses(conn.clone(), status_rx, state.clone(), limits)
                    .instrument(span.clone()),
            ),
            tokio::spawn(
                send_heartbeats(conn.clone(), p.settings.heartbeat_interval, state.clone(), limits)
                    .instrument(span.clone()),
            ),
            tokio::spawn(serve_requests(conn, state.clone(), limits).instrument(span)),
        ];
        Ok(Session { id, master, base, state, threads, loops, block_server, stop_block_server })
    }

    /// Waits until one of the loops ends (the master is gone or declared this executor lost); why.
    async fn ended(&mut self) -> String {
        let loops = &mut self.loops;
        std::future::poll_fn(|cx| {
            for l in loops.iter_mut() {
                if let std::task::Poll::Ready(r) = std::pin::Pin::new(l).poll(cx) {
                    return std::task::Poll::Ready(r.unwrap_or_else(|e| e.to_string()));
                }
            }
            std::task::Poll::Pending
        })
        .await
    }

    /// Ends the registration: closes the connections with `reason`, cancels every
    /// accepted attempt, waits for the task threads and deletes the applications' files.
    async fn stop(self, reason: &str) -> Result<(), ClusterError> {
        let Session { id, master, base, state, threads, loops, block_server, stop_block_server } =
            self;
        // Aborted loops drop the task threads' report channel: the threads stop after their attempt.
        for l in &loops {
            l.abort();
        }
        let cancelled = state.cancel_all();
        master.conn.close(CLOSE_DONE.into(), reason.as_bytes());
        let _ = stop_block_server.send(if reason == EXECUTOR_SHUTTING_DOWN {
            EXECUTOR_SHUTTING_DOWN
        } else {
            "the executor lost its master and registers again"
        });
        let _ = block_server.await;
        master.close().await;
        // The task threads stop once their reports have nowhere to go and every queue handle is gone.
        drop(state);
        let joined = tokio::task::spawn_blocking(move || threads.join());
        if tokio::time::timeout(DRAIN_TIMEOUT, joined).await.is_err() {
            return Err(ClusterError::Runtime {
                message: format!(
                    "{cancelled} cancelled task attempts of {id} did not end within {DRAIN_TIMEOUT:?}"
                ),
            });
        }
        let removed = tokio::task::block_in_place(|| std::fs::remove_dir_all(&base));
        tracing::info!(executor = %id, cancelled, files_removed = removed.is_ok(), "registration ended");
        Ok(())
    }
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
            &ExecutorRequest::TaskStatus { app: app.0, report: Box::new(report) },
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
        let memory = state.settings.memory.usage().into();
        let beat = ExecutorRequest::Heartbeat { running, memory };
        match call::<_, MasterReply>(&conn, &beat, limits).await {
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
            Ok(None) => {
                return match conn.close_reason() {
                    Some(quinn::ConnectionError::ApplicationClosed(c)) if !c.reason.is_empty() => {
                        format!(
                            "the master closed the connection: {}",
                            String::from_utf8_lossy(&c.reason)
                        )
                    }
                    _ => "the master closed the connection".to_string(),
                };
            }
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
