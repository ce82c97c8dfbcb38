//! The `wisp master` service: authenticated QUIC endpoint, executor registry, liveness, and job submissions handed to a `SubmissionHandler`.
//!
//! - `registry`: the executors connected now and each application's driver loop.
//! - `launcher`: each executor's ordered request queue (launches with component bytes, kills, drops, peers).
//! - `app_executors`: the executors as one application sees them (its `ExecutorBackend`).
//! - `submissions`: submitter streams; each job runs on its own thread in the handler.

mod app_executors;
mod launcher;
mod registry;
mod submissions;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

pub(crate) use app_executors::MasterExecutors;
pub(crate) use submissions::{JobEvents, Submission, SubmissionHandler};

use self::launcher::serve_queue;
use self::registry::{Link, Registry};
use self::submissions::Submissions;
use super::{ClusterError, Shutdown, server_net};
use crate::dag::SchedulerEvent;
use crate::error_chain::chain;
use crate::ids::{AppId, ExecutorId};
use crate::net::protocol::{ExecutorRequest, MasterReply, PeerInfo, RunningTask, WireTaskReport};
use crate::net::{
    AuthenticatedConn, ClusterSecret, Fingerprint, HandshakeError, Identity, Limits, Role, Server,
    Stream,
};
use crate::process_settings::MasterSettings;
use crate::settings::Conf;
use crate::task::TaskReport;

/// Settings of `wisp master`.
pub struct MasterArgs {
    /// Where to listen (UDP).
    pub listen: SocketAddr,
    /// The cluster secret.
    pub secret: ClusterSecret,
    /// Where the TLS identity is kept.
    pub state_dir: PathBuf,
    /// Master configuration (scheduler keys, `wisp.network.timeout`): every application's defaults.
    pub conf: Conf,
    /// Write each application's event log under `DIR/app-N/`.
    pub event_log: Option<PathBuf>,
    /// Serve the web UI, its JSON API and `/metrics` here (a loopback address: it has no authentication).
    pub ui_listen: Option<String>,
}

/// The reason a master's connections are closed with when it stops (executors and `wisp submit` show it).
pub(crate) const MASTER_SHUTTING_DOWN: &str = "the master is shutting down";

/// What the executor-facing handlers of the master share.
struct Shared {
    registry: Arc<Registry>,
    limits: Limits,
}

/// Runs the master until its process ends; `ready` is told the bound address and the fingerprint to pin.
pub(crate) fn run(
    args: MasterArgs,
    settings: &MasterSettings,
    handler: Arc<dyn SubmissionHandler>,
    ready: impl FnOnce(SocketAddr, Fingerprint),
) -> Result<(), ClusterError> {
    let net = server_net(settings.net, "master");
    let timeout = settings.net.network_timeout;
    let identity = Identity::load_or_generate(&args.state_dir.join("identity"))
        .map_err(|source| ClusterError::Identity { source })?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("wisp-master-net")
        .enable_all()
        .build()
        .map_err(|source| ClusterError::Start { what: "tokio runtime", source })?;

    let registry = Arc::new(Registry::default());
    let shared = Arc::new(Shared { registry: registry.clone(), limits: net.limits });
    let submissions = Arc::new(Submissions {
        handler,
        executors: MasterExecutors::new(registry),
        limits: net.limits,
        conf: args.conf.clone(),
    });

    rt.block_on(async move {
        let mut server =
            Server::bind_with(args.listen, &identity, args.secret, net).map_err(|e| {
                ClusterError::Bind { addr: args.listen.to_string(), message: chain(&e) }
            })?;
        let mut shutdown = Shutdown::install()?;
        ready(server.local_addr(), server.fingerprint());
        tokio::spawn(watch_heartbeats(shared.clone(), timeout));
        loop {
            let next = tokio::select! {
                next = server.accept() => next,
                signal = shutdown.recv() => {
                    // Executors and submitters learn at once; running jobs die with this process
                    // (their text output is never renamed into place).
                    tracing::info!(signal, "shutting down: closing every connection");
                    server.close(MASTER_SHUTTING_DOWN).await;
                    break;
                }
            };
            match next {
                Ok(c) => accepted(c, &shared, &submissions),
                Err(HandshakeError::EndpointClosed) => break,
                Err(_) => {} // logged by the endpoint
            }
        }
        Ok(())
    })
}

fn accepted(c: AuthenticatedConn, shared: &Arc<Shared>, submissions: &Arc<Submissions>) {
    match (&c.role, c.executor) {
        (
            Role::Executor { host, rack, cores, shuffle_port, shuffle_fingerprint, data_roots },
            Some(id),
        ) => {
            tracing::info!(executor = %id, peer = %c.peer, %host, ?rack, ?data_roots, cores, "executor registered");
            let (queue, rx) = mpsc::unbounded_channel();
            let info = PeerInfo {
                executor: id.0,
                host: host.clone(),
                shuffle_port: *shuffle_port,
                fingerprint: shuffle_fingerprint.clone(),
            };
            let link = Link {
                queue,
                info,
                rack: rack.clone(),
                data_roots: data_roots.clone(),
                cores: *cores,
                conn: c.conn.clone(),
                last_seen: Mutex::new(Instant::now()),
                memory: Mutex::new(None),
            };
            tokio::spawn(serve_queue(
                id,
                c.conn.clone(),
                rx,
                shared.registry.clone(),
                shared.limits,
            ));
            shared.registry.add(id, link);
            tokio::spawn(serve_executor(id, c.conn, shared.clone()));
        }
        (Role::Submitter, _) => {
            tracing::info!(peer = %c.peer, "submitter connected");
            tokio::spawn(submissions::serve_submitter(c.conn, submissions.clone()));
        }
        (role, _) => {
            tracing::warn!(peer = %c.peer, role = role.name(), "refused: the master serves executors and submitters only");
            c.conn.close(2u32.into(), b"the master serves executors and submitters only");
        }
    }
}

/// Requests an executor opens (heartbeats, task statuses) until its connection ends; then it is lost.
async fn serve_executor(id: ExecutorId, conn: quinn::Connection, shared: Arc<Shared>) {
    let reason = loop {
        match Stream::accept(&conn, shared.limits).await {
            Ok(Some(mut s)) => {
                let shared = shared.clone();
                tokio::spawn(async move {
                    if let Err(e) = executor_request(id, &mut s, &shared).await {
                        tracing::warn!(executor = %id, error = %chain(&e), "bad request from executor");
                    }
                });
            }
            Ok(None) => break closed_because(&conn),
            Err(e) => break chain(&e),
        }
    };
    lose(&shared, id, &reason);
}

/// Why a connection was closed in an orderly way (an executor that stops says so).
fn closed_because(conn: &quinn::Connection) -> String {
    match conn.close_reason() {
        Some(quinn::ConnectionError::ApplicationClosed(c)) if !c.reason.is_empty() => {
            format!("connection closed: {}", String::from_utf8_lossy(&c.reason))
        }
        _ => "connection closed".to_string(),
    }
}

fn lose(shared: &Shared, id: ExecutorId, reason: &str) {
    if shared.registry.remove(id, reason) {
        tracing::warn!(executor = %id, %reason, "executor lost");
    }
}

async fn executor_request(
    id: ExecutorId,
    s: &mut Stream,
    shared: &Shared,
) -> Result<(), crate::net::RpcError> {
    let Some(req) = s.read::<ExecutorRequest>().await? else { return Ok(()) };
    let known = shared.registry.seen(id);
    let reply = match req {
        ExecutorRequest::Heartbeat { .. } if !known => MasterReply::Reregister,
        ExecutorRequest::Heartbeat { running, memory } => {
            heartbeat(id, &running);
            shared.registry.heartbeat(id, memory.into());
            MasterReply::Ack
        }
        ExecutorRequest::TaskStatus { app, report } => {
            if known {
                task_status(id, AppId(app), *report, shared);
            }
            MasterReply::Ack
        }
    };
    s.write(&reply).await?;
    s.finish();
    Ok(())
}

/// Logs the running attempts a heartbeat reports (progress of long tasks at `debug`).
fn heartbeat(id: ExecutorId, running: &[RunningTask]) {
    tracing::debug!(executor = %id, running = running.len(), "heartbeat");
    for r in running {
        let m = &r.metrics;
        tracing::debug!(
            executor = %id,
            app = r.app,
            task = r.task,
            elapsed_ms = r.elapsed_ms,
            records_read = m.records_read,
            bytes_read = m.bytes_read,
            shuffle_read_bytes = m.shuffle_read_bytes,
            records_written = m.records_written,
            "task running"
        );
    }
}

fn task_status(id: ExecutorId, app: AppId, report: WireTaskReport, shared: &Shared) {
    match TaskReport::try_from(report) {
        Ok(mut report) => {
            // The connection says who ran it, whatever the report claims.
            report.executor = id;
            shared.registry.post_app(app, SchedulerEvent::TaskFinished(report));
        }
        Err(e) => tracing::warn!(executor = %id, error = %chain(&e), "unreadable task status"),
    }
}

/// Declares lost the executors whose heartbeats stopped for `timeout`.
async fn watch_heartbeats(shared: Arc<Shared>, timeout: Duration) {
    let mut tick = tokio::time::interval((timeout / 4).max(Duration::from_millis(100)));
    loop {
        tick.tick().await;
        for id in shared.registry.silent_for(timeout) {
            lose(&shared, id, &format!("no heartbeat for {timeout:?}"));
        }
    }
}
