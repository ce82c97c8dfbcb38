//! The `wisp executor` process: registers with the master, runs tasks on N task threads, heartbeats, serves shuffle blocks.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::fetch::{FetchPool, QuicFetcher};
use super::{ClusterError, PeerTable, block_server, chain, net_config, resolve};
use crate::config::{self, Conf};
use crate::executor::faults::TestFaults;
use crate::executor::{Executor, ExecutorConfig, LiveMetrics};
use crate::ids::{ExecutorId, ShuffleId};
use crate::net::protocol::{
    ComponentUpload, ConvertError, ExecutorReply, ExecutorRequest, MasterReply, MasterRequest, RunningTask, WireTaskMetrics, WireTaskReport,
};
use crate::net::{ClusterSecret, Fingerprint, Identity, Role, Server, Stream, call, connect_with};
use crate::task::{BlockId, ComponentBytes, TaskDesc};
use crate::wasm::{Runtime, TaskLimits, content_hash};

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
    /// Where compiled components are cached.
    pub compile_cache: Option<PathBuf>,
    /// Test-only fault rules applied to every task attempt (`--test-faults`); `None` outside tests.
    pub test_faults: Option<Arc<TestFaults>>,
}

type ComponentCache = Mutex<HashMap<String, Arc<ComponentBytes>>>;

/// A task for the task threads: (application, its executor, the task, its cancel flag, its live metrics).
type Queued = (u32, Arc<Executor>, TaskDesc, Arc<AtomicBool>, Arc<LiveMetrics>);

/// A task attempt accepted and not yet reported.
struct Running {
    cancel: Arc<AtomicBool>,
    accepted: Instant,
    live: Arc<LiveMetrics>,
}

struct State {
    id: ExecutorId,
    /// `work_dir/executor-N`: one `app-M` directory per application below.
    base: PathBuf,
    runtime: Arc<Runtime>,
    fetch: Arc<FetchPool>,
    rt: tokio::runtime::Handle,
    max_in_flight: u64,
    spill: usize,
    /// One `Executor` (shuffle files, blocks) per application.
    apps: Mutex<HashMap<u32, Arc<Executor>>>,
    components: ComponentCache,
    /// Accepted attempts by (application, task id).
    running: Mutex<HashMap<(u32, u32), Running>>,
    tasks: crossbeam_channel::Sender<Queued>,
    peers: Arc<PeerTable>,
    test_faults: Option<Arc<TestFaults>>,
}

/// Where an executor keeps application `app`'s files, below its base directory.
pub(crate) fn app_dir(base: &Path, app: u32) -> PathBuf {
    base.join(format!("app-{app}"))
}

impl State {
    /// The application's executor, created on its first task.
    fn executor(&self, app: u32) -> std::io::Result<Arc<Executor>> {
        let mut apps = lock(&self.apps);
        if let Some(e) = apps.get(&app) {
            return Ok(e.clone());
        }
        let config =
            ExecutorConfig { id: self.id, work_dir: app_dir(&self.base, app), shuffle_spill_memory: self.spill, batch_bytes: 1 << 20 };
        let fetcher = QuicFetcher::new(app, self.fetch.clone(), self.rt.clone(), self.max_in_flight);
        let e = Arc::new(Executor::new(config, self.runtime.clone(), Arc::new(fetcher))?.with_test_faults(self.test_faults.clone()));
        apps.insert(app, e.clone());
        Ok(e)
    }
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

async fn serve(args: ExecutorArgs, rt: tokio::runtime::Handle) -> Result<(), ClusterError> {
    let cores = args.cores.max(1);
    if args.test_faults.is_some() {
        tracing::warn!("test fault injection is on (--test-faults): tasks will fail, stall or lose output on purpose");
    }
    let net = net_config(&args.conf, "master")?;
    let peer_net = super::net_config(&args.conf, "executor")?;
    let heartbeat = args.conf.get_duration(config::EXECUTOR_HEARTBEAT_INTERVAL, Duration::from_secs(10))?.max(Duration::from_millis(50));
    let max_in_flight = args.conf.get_bytes(config::REDUCER_MAX_BYTES_IN_FLIGHT, 48 << 20)?;
    let spill = args.conf.get_bytes(config::SHUFFLE_SPILL_MEMORY, 64 << 20)? as usize;
    let limits = TaskLimits::from_conf(&args.conf)?;
    let runtime = Runtime::new(limits, args.compile_cache.clone()).map_err(|e| ClusterError::Runtime { message: e.to_string() })?;

    let master = resolve(&args.master).await?;
    std::fs::create_dir_all(&args.work_dir).map_err(|source| ClusterError::WorkDir { path: args.work_dir.clone(), source })?;
    let identity = Identity::load_or_generate(&args.work_dir.join("identity")).map_err(|source| ClusterError::Identity { source })?;
    let bind_ip: IpAddr = if master.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() };
    let block_server = Server::bind_with(SocketAddr::new(bind_ip, 0), &identity, args.secret.clone(), peer_net.clone())
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
    let client = connect_with(master, args.master_fingerprint, &args.secret, role, &net)
        .await
        .map_err(|source| ClusterError::Connect { addr: args.master.clone(), source })?;
    let Some(id) = client.executor else {
        return Err(ClusterError::MasterLost { message: "the master assigned no executor id".into() });
    };
    tracing::info!(executor = %id, %host, shuffle_port, cores, "registered with the master");

    let peers = Arc::new(PeerTable::default());
    let base = args.work_dir.join(format!("executor-{}", id.0));
    std::fs::create_dir_all(&base).map_err(|source| ClusterError::WorkDir { path: base.clone(), source })?;
    tokio::spawn(block_server::serve(block_server, base.clone(), peer_net.limits));

    let conn = client.conn.clone();
    let (task_tx, task_rx) = crossbeam_channel::unbounded::<Queued>();
    let (status_tx, mut status_rx) = mpsc::unbounded_channel::<(u32, WireTaskReport)>();
    let state = Arc::new(State {
        id,
        base: base.clone(),
        runtime,
        fetch: FetchPool::new(id, args.secret.clone(), peers.clone(), peer_net.clone()),
        rt: rt.clone(),
        max_in_flight,
        spill,
        apps: Mutex::default(),
        components: Mutex::new(HashMap::new()),
        running: Mutex::default(),
        tasks: task_tx,
        peers,
        test_faults: args.test_faults.clone(),
    });
    for i in 0..cores {
        let (rx, tx, state) = (task_rx.clone(), status_tx.clone(), state.clone());
        std::thread::Builder::new()
            .name(format!("wisp-task-{i}"))
            .spawn(move || {
                for (app, executor, task, cancel, live) in rx {
                    let report = executor.run_task_live(&task, cancel, Some(&live));
                    lock(&state.running).remove(&(app, task.id.task.0));
                    if tx.send((app, WireTaskReport::from(&report))).is_err() {
                        break;
                    }
                }
            })
            .map_err(|source| ClusterError::Start { what: "task thread", source })?;
    }
    drop(status_tx);

    // Task statuses, in completion order.
    let status_conn = conn.clone();
    let limits = net.limits;
    let statuses = tokio::spawn(async move {
        while let Some((app, report)) = status_rx.recv().await {
            if let Err(e) = call::<_, MasterReply>(&status_conn, &ExecutorRequest::TaskStatus { app, report }, limits).await {
                return chain(&e);
            }
        }
        "task threads stopped".to_string()
    });
    // Heartbeats.
    let hb_conn = conn.clone();
    let hb_state = state.clone();
    let heartbeats = tokio::spawn(async move {
        let mut tick = tokio::time::interval(heartbeat);
        loop {
            tick.tick().await;
            let running = running_tasks(&hb_state);
            match call::<_, MasterReply>(&hb_conn, &ExecutorRequest::Heartbeat { running }, limits).await {
                Ok(MasterReply::Ack) => {}
                Ok(MasterReply::Reregister) => return "the master declared this executor lost".to_string(),
                Err(e) => return chain(&e),
            }
        }
    });
    // Requests from the master.
    let requests = tokio::spawn(async move {
        loop {
            match Stream::accept(&conn, limits).await {
                Ok(Some(s)) => {
                    let state = state.clone();
                    tokio::spawn(async move {
                        if let Err(e) = handle_request(s, &state).await {
                            tracing::warn!(error = %chain(&e), "request from the master failed");
                        }
                    });
                }
                Ok(None) => return "the master closed the connection".to_string(),
                Err(e) => return chain(&e),
            }
        }
    });
    let message = tokio::select! {
        r = statuses => r.unwrap_or_else(|e| e.to_string()),
        r = heartbeats => r.unwrap_or_else(|e| e.to_string()),
        r = requests => r.unwrap_or_else(|e| e.to_string()),
    };
    tracing::error!(executor = %id, %message, "stopping");
    let _ = std::fs::remove_dir_all(&base);
    Err(ClusterError::MasterLost { message })
}

/// What a heartbeat reports of the attempts running now.
fn running_tasks(state: &State) -> Vec<RunningTask> {
    let running = lock(&state.running);
    running
        .iter()
        .map(|(&(app, task), r)| RunningTask {
            app,
            task,
            elapsed_ms: r.accepted.elapsed().as_millis() as u64,
            metrics: WireTaskMetrics::from(&r.live.snapshot()),
        })
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The local address the OS would use to reach `master` (what other executors can reach us at).
fn local_ip_towards(master: SocketAddr) -> IpAddr {
    let any: SocketAddr = if master.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    std::net::UdpSocket::bind(any)
        .and_then(|s| s.connect(master).and_then(|()| s.local_addr()))
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(Ipv4Addr::LOCALHOST.into())
}

async fn handle_request(mut s: Stream, state: &State) -> Result<(), crate::net::RpcError> {
    let Some(req) = s.read::<MasterRequest>().await? else { return Ok(()) };
    let reply = match req {
        MasterRequest::LaunchTask { app, task, components } => launch(state, app, task, components),
        MasterRequest::KillTask { app, task } => {
            if let Some(r) = lock(&state.running).get(&(app, task)) {
                r.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            ExecutorReply::Ack
        }
        MasterRequest::DropBlocks { app, blocks } => {
            let blocks: Vec<BlockId> = blocks.into_iter().map(BlockId::from).collect();
            if let Some(e) = lock(&state.apps).get(&app) {
                e.blocks().remove(&blocks);
            }
            ExecutorReply::Ack
        }
        MasterRequest::RemoveShuffle { app, shuffle } => {
            let dir = app_dir(&state.base, app).join("shuffle");
            tokio::task::block_in_place(|| crate::shuffle::remove_shuffle_files(&dir, ShuffleId(shuffle)));
            ExecutorReply::Ack
        }
        MasterRequest::Peers { added, removed } => {
            state.peers.update(added, &removed);
            ExecutorReply::Ack
        }
    };
    s.write(&reply).await?;
    s.finish();
    Ok(())
}

fn launch(state: &State, app: u32, task: crate::net::protocol::WireTask, uploads: Vec<ComponentUpload>) -> ExecutorReply {
    for up in uploads {
        let actual = tokio::task::block_in_place(|| content_hash(&up.bytes));
        if actual != up.hash {
            return ExecutorReply::Failed { message: format!("component bytes hash to {actual}, not {}", up.hash) };
        }
        lock(&state.components).entry(up.hash.clone()).or_insert_with(|| Arc::new(ComponentBytes { hash: up.hash, bytes: up.bytes }));
    }
    let resolver = |hash: &str| lock(&state.components).get(hash).cloned();
    match task.into_task(&resolver) {
        Ok(task) => {
            let executor = match tokio::task::block_in_place(|| state.executor(app)) {
                Ok(e) => e,
                Err(e) => return ExecutorReply::Failed { message: format!("cannot create the work directory of app {app}: {e}") },
            };
            let (cancel, live) = (Arc::new(AtomicBool::new(false)), Arc::new(LiveMetrics::default()));
            let running = Running { cancel: cancel.clone(), accepted: Instant::now(), live: live.clone() };
            lock(&state.running).insert((app, task.id.task.0), running);
            match state.tasks.send((app, executor, task, cancel, live)) {
                Ok(()) => ExecutorReply::Ack,
                Err(_) => ExecutorReply::Failed { message: "the executor is stopping".into() },
            }
        }
        Err(ConvertError::UnknownComponent { hash }) => ExecutorReply::UnknownComponent { hash },
        Err(e) => ExecutorReply::Failed { message: chain(&e) },
    }
}
