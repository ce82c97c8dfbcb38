//! The cluster `ExecutorPort`: a driver loop's commands become requests on executors' connections.
//!
//! Every submitted application has its own driver loop (task, shuffle, RDD
//! and block ids are per application); the `Registry` routes executor
//! changes and task statuses to the loops, and the application id travels in
//! every request so that executors keep applications' files apart.
//!
//! Each registered executor has one ordered queue served by one tokio task,
//! so an executor sees `Peers`, `LaunchTask`, `KillTask` and `DropBlocks` in
//! the order the master decided them (a reduce task never arrives before the
//! announcement of the block servers it reads from). Component bytes travel
//! with the first task that needs them on that executor.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;
use tokio::sync::mpsc;

use super::super::LoopMessage;
use super::super::driver_loop::ExecutorPort;
use super::chain;
use crate::dag::SchedulerEvent;
use crate::ids::{ExecutorId, TaskId};
use crate::net::Limits;
use crate::net::protocol::{ComponentUpload, ExecutorReply, MasterRequest, PeerInfo, WireTask, components_of};
use crate::net::rpc::call;
use crate::task::{BlockId, TaskDesc, TaskFailure, TaskMetrics, TaskReport};

/// What the master sends one executor.
pub(crate) enum Outbound {
    /// Launch a task of an application (components are attached as needed).
    Launch(u32, TaskDesc),
    /// Any other request; the reply is only logged.
    Request(MasterRequest),
}

/// A registered executor's connection and announcement.
pub(crate) struct Link {
    pub(crate) queue: mpsc::UnboundedSender<Outbound>,
    pub(crate) info: PeerInfo,
    /// The rack it declared (`--rack`).
    pub(crate) rack: Option<String>,
    /// The data roots it announced (`--data-root`).
    pub(crate) data_roots: Vec<String>,
    pub(crate) cores: u32,
    pub(crate) conn: quinn::Connection,
    pub(crate) last_seen: Arc<Mutex<std::time::Instant>>,
}

impl Link {
    /// The scheduler event announcing this executor.
    fn added(&self, executor: ExecutorId) -> SchedulerEvent {
        SchedulerEvent::ExecutorAdded {
            executor,
            host: self.info.host.clone(),
            rack: self.rack.clone(),
            data_roots: self.data_roots.iter().map(std::path::PathBuf::from).collect(),
            cores: self.cores,
        }
    }
}

/// The executors connected now (network state, not scheduler state: the
/// scheduler hears of changes through `ExecutorAdded`/`ExecutorLost`).
#[derive(Default)]
pub(crate) struct Registry {
    inner: Mutex<Inner>,
    /// Total cores of registered executors (the default parallelism of new jobs).
    pub(crate) cores: Arc<AtomicU32>,
}

#[derive(Default)]
struct Inner {
    links: HashMap<ExecutorId, Link>,
    /// The driver loop of each running application.
    apps: HashMap<u32, Sender<LoopMessage>>,
}

impl std::ops::Deref for Inner {
    type Target = HashMap<ExecutorId, Link>;
    fn deref(&self) -> &Self::Target {
        &self.links
    }
}

impl std::ops::DerefMut for Inner {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.links
    }
}

impl Registry {
    fn links(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers an application's driver loop and tells it the executors registered now.
    pub(crate) fn add_app(&self, app: u32, tx: Sender<LoopMessage>) {
        let mut inner = self.links();
        for (id, l) in inner.links.iter() {
            let _ = tx.send(LoopMessage::Event(l.added(*id)));
        }
        inner.apps.insert(app, tx);
    }

    /// Forgets an application's driver loop and asks every executor to delete its `shuffles` shuffles' files.
    pub(crate) fn remove_app(&self, app: u32, shuffles: u32) {
        let mut inner = self.links();
        inner.apps.remove(&app);
        for link in inner.links.values() {
            for shuffle in 0..shuffles {
                let _ = link.queue.send(Outbound::Request(MasterRequest::RemoveShuffle { app, shuffle }));
            }
        }
    }

    /// Sends an event to one application's loop (dropped if the application ended).
    pub(crate) fn post_app(&self, app: u32, event: SchedulerEvent) {
        let tx = self.links().apps.get(&app).cloned();
        if let Some(tx) = tx {
            post(&tx, event);
        }
    }

    fn broadcast(inner: &Inner, event: &SchedulerEvent) {
        for tx in inner.apps.values() {
            post(tx, event.clone());
        }
    }

    /// Number of registered executors.
    pub(crate) fn len(&self) -> usize {
        self.links().len()
    }

    /// Adds an executor; announces it to the others and them to it.
    pub(crate) fn add(&self, id: ExecutorId, link: Link) {
        let mut links = self.links();
        let others: Vec<PeerInfo> = links.values().map(|l| l.info.clone()).collect();
        for l in links.values() {
            let _ = l.queue.send(Outbound::Request(MasterRequest::Peers { added: vec![link.info.clone()], removed: vec![] }));
        }
        let _ = link.queue.send(Outbound::Request(MasterRequest::Peers { added: others, removed: vec![] }));
        self.cores.fetch_add(link.cores, Ordering::Relaxed);
        let added = link.added(id);
        links.insert(id, link);
        Self::broadcast(&links, &added);
    }

    /// Removes an executor (if still registered), tells the other executors and
    /// every application; returns whether it was registered.
    pub(crate) fn remove(&self, id: ExecutorId, reason: &str) -> bool {
        let mut links = self.links();
        let Some(link) = links.remove(&id) else { return false };
        self.cores.fetch_sub(link.cores, Ordering::Relaxed);
        link.conn.close(0u32.into(), b"executor lost");
        for l in links.values() {
            let _ = l.queue.send(Outbound::Request(MasterRequest::Peers { added: vec![], removed: vec![id.0] }));
        }
        Self::broadcast(&links, &SchedulerEvent::ExecutorLost { executor: id, reason: reason.to_string() });
        true
    }

    /// Whether an executor is registered; marks it as seen.
    pub(crate) fn seen(&self, id: ExecutorId) -> bool {
        match self.links().get(&id) {
            Some(l) => {
                *l.last_seen.lock().unwrap_or_else(|p| p.into_inner()) = std::time::Instant::now();
                true
            }
            None => false,
        }
    }

    /// Executors not seen for longer than `timeout`.
    pub(crate) fn silent_for(&self, timeout: std::time::Duration) -> Vec<ExecutorId> {
        self.links()
            .iter()
            .filter(|(_, l)| l.last_seen.lock().unwrap_or_else(|p| p.into_inner()).elapsed() > timeout)
            .map(|(id, _)| *id)
            .collect()
    }

    fn send(&self, id: ExecutorId, msg: Outbound) -> bool {
        self.links().get(&id).is_some_and(|l| l.queue.send(msg).is_ok())
    }
}

/// The port one application's driver loop drives executors through.
pub(crate) struct ClusterPort {
    pub(crate) app: u32,
    pub(crate) registry: Arc<Registry>,
}

impl ExecutorPort for ClusterPort {
    fn launch(&mut self, executor: ExecutorId, task: TaskDesc, _cancel: Arc<AtomicBool>) {
        // An executor missing here was lost: the scheduler gets (or got) `ExecutorLost`
        // and resubmits the tasks it launched there, this one included.
        if !self.registry.send(executor, Outbound::Launch(self.app, task)) {
            tracing::debug!(%executor, "launch on an executor that is gone");
        }
    }

    fn drop_blocks(&mut self, executor: ExecutorId, blocks: &[BlockId]) {
        let blocks = blocks.iter().map(|b| (*b).into()).collect();
        self.registry.send(executor, Outbound::Request(MasterRequest::DropBlocks { app: self.app, blocks }));
    }

    fn kill(&mut self, executor: ExecutorId, task: TaskId) {
        self.registry.send(executor, Outbound::Request(MasterRequest::KillTask { app: self.app, task: task.0 }));
    }
}

/// Serves one executor's queue until the queue or the connection closes.
pub(crate) async fn serve_queue(
    id: ExecutorId,
    conn: quinn::Connection,
    mut queue: mpsc::UnboundedReceiver<Outbound>,
    registry: Arc<Registry>,
    limits: Limits,
) {
    let mut sent: HashSet<String> = HashSet::new();
    while let Some(msg) = queue.recv().await {
        match msg {
            Outbound::Launch(app, task) => {
                if let Err(message) = launch(&conn, app, &task, &mut sent, limits).await {
                    tracing::warn!(executor = %id, task = %task.id.task, %message, "launch failed");
                    let failure = if conn.close_reason().is_some() { TaskFailure::ExecutorLost } else { TaskFailure::Guest { message } };
                    let report = TaskReport {
                        task: task.id.task,
                        executor: id,
                        result: Err(failure),
                        cached: vec![],
                        metrics: TaskMetrics::default(),
                        log: String::new(),
                    };
                    registry.post_app(app, SchedulerEvent::TaskFinished(report));
                }
            }
            Outbound::Request(req) => match call::<_, ExecutorReply>(&conn, &req, limits).await {
                Ok(ExecutorReply::Ack) => {}
                Ok(other) => tracing::warn!(executor = %id, reply = ?other, "request not carried out"),
                Err(e) => tracing::debug!(executor = %id, error = %chain(&e), "request failed"),
            },
        }
    }
}

async fn launch(conn: &quinn::Connection, app: u32, task: &TaskDesc, sent: &mut HashSet<String>, limits: Limits) -> Result<(), String> {
    let wire = WireTask::from(task);
    let components = components_of(task);
    let upload = |all: bool, sent: &HashSet<String>| -> Vec<ComponentUpload> {
        let mut seen = HashSet::new();
        components
            .iter()
            .filter(|c| (all || !sent.contains(&c.hash)) && seen.insert(c.hash.clone()))
            .map(|c| ComponentUpload { hash: c.hash.clone(), bytes: c.bytes.clone() })
            .collect()
    };
    let mut request = MasterRequest::LaunchTask { app, task: wire.clone(), components: upload(false, sent) };
    for _ in 0..2 {
        match call::<_, ExecutorReply>(conn, &request, limits).await.map_err(|e| chain(&e))? {
            ExecutorReply::Ack => {
                sent.extend(components.iter().map(|c| c.hash.clone()));
                return Ok(());
            }
            ExecutorReply::UnknownComponent { hash } => {
                tracing::debug!(%hash, "executor lacks a component; resending with bytes");
                request = MasterRequest::LaunchTask { app, task: wire.clone(), components: upload(true, sent) };
            }
            ExecutorReply::Failed { message } => return Err(message),
        }
    }
    Err("the executor does not accept the task's components".into())
}

/// Sends an event to the driver loop from a tokio task.
pub(crate) fn post(loop_tx: &Sender<LoopMessage>, event: SchedulerEvent) {
    let msg = LoopMessage::Event(event);
    if let Err(crossbeam_channel::TrySendError::Full(msg)) = loop_tx.try_send(msg) {
        // A closed loop means the application ended: the report is of no use.
        let _sent = tokio::task::block_in_place(|| loop_tx.send(msg).is_ok());
    }
}
