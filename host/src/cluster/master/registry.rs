//! The master's executor registry: the executors connected now, and the driver loop of each running application.
//!
//! Every submitted application has its own driver loop (task, shuffle, RDD
//! and block ids are per application); the registry routes executor changes
//! and task statuses to the loops. This is network state, not scheduler
//! state: schedulers hear of changes only through `ExecutorAdded` and
//! `ExecutorLost` events.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use tokio::sync::mpsc;

use crate::dag::SchedulerEvent;
use crate::driver_loop::LoopMessage;
use crate::ids::{AppId, ExecutorId};
use crate::memory::MemoryUse;
use crate::net::protocol::{MasterRequest, PeerInfo};
use crate::task::TaskDesc;

/// What the master sends one executor (through its `Link::queue`).
pub(crate) enum Outbound {
    /// Launch a task of an application (components are attached as needed).
    Launch(AppId, TaskDesc),
    /// Any other request; the reply is only logged.
    Request(MasterRequest),
}

/// A registered executor's connection and announcement.
pub(crate) struct Link {
    /// Its ordered request queue (served by the master's launcher).
    ///
    /// Unbounded on purpose, and it cannot grow without limit: launches are
    /// bounded by the executor's free cores, and every other request is one
    /// per scheduler decision or membership change (kill, drop blocks, peers,
    /// removed shuffle), each acknowledged by the executor before the next.
    pub(crate) queue: mpsc::UnboundedSender<Outbound>,
    pub(crate) info: PeerInfo,
    /// The rack it declared (`--rack`).
    pub(crate) rack: Option<String>,
    /// The data roots it announced (`--data-root`).
    pub(crate) data_roots: Vec<String>,
    pub(crate) cores: u32,
    pub(crate) conn: quinn::Connection,
    pub(crate) last_seen: Mutex<Instant>,
    /// Its memory pool as its last heartbeat reported it, and when that arrived.
    pub(crate) memory: Mutex<Option<(MemoryUse, Instant)>>,
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

/// The executors connected now and the applications they serve.
#[derive(Default)]
pub(crate) struct Registry {
    inner: Mutex<Inner>,
    /// Total cores of registered executors (the default parallelism of new jobs).
    cores: Arc<AtomicU32>,
}

#[derive(Default)]
struct Inner {
    links: HashMap<ExecutorId, Link>,
    /// The driver loop of each running application.
    apps: HashMap<AppId, Sender<LoopMessage>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Registry {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// Total cores of the registered executors, kept current.
    pub(crate) fn cores(&self) -> Arc<AtomicU32> {
        self.cores.clone()
    }

    /// Registers an application's driver loop and tells it the executors registered now.
    pub(crate) fn add_app(&self, app: AppId, tx: Sender<LoopMessage>) {
        let mut inner = self.inner();
        for (id, l) in inner.links.iter() {
            let _ = tx.send(LoopMessage::Event(l.added(*id)));
            if let Some((memory, at)) = *lock(&l.memory) {
                let _ = tx.send(LoopMessage::Heartbeat { executor: *id, memory, at });
            }
        }
        inner.apps.insert(app, tx);
    }

    /// Forgets an application's driver loop and tells every executor that it ended (they drop
    /// what they keep for it).
    pub(crate) fn remove_app(&self, app: AppId) {
        self.inner().apps.remove(&app);
        self.send_all(|| Outbound::Request(MasterRequest::EndApplication { app: app.0 }));
    }

    /// Sends an event to one application's loop (dropped if the application ended).
    pub(crate) fn post_app(&self, app: AppId, event: SchedulerEvent) {
        let tx = self.inner().apps.get(&app).cloned();
        if let Some(tx) = tx {
            post(&tx, event);
        }
    }

    /// Hands an executor's heartbeat to every application's loop; dropped where a loop is busy
    /// (it only feeds the live status, and the next one comes soon).
    pub(crate) fn heartbeat(&self, executor: ExecutorId, memory: MemoryUse) {
        let inner = self.inner();
        let at = Instant::now();
        if let Some(link) = inner.links.get(&executor) {
            *lock(&link.memory) = Some((memory, at));
        }
        for tx in inner.apps.values() {
            let _ = tx.try_send(LoopMessage::Heartbeat { executor, memory, at });
        }
    }

    fn broadcast(inner: &Inner, event: &SchedulerEvent) {
        for tx in inner.apps.values() {
            post(tx, event.clone());
        }
    }

    /// Number of registered executors.
    pub(crate) fn len(&self) -> usize {
        self.inner().links.len()
    }

    /// Adds an executor; announces it to the others and them to it.
    pub(crate) fn add(&self, id: ExecutorId, link: Link) {
        let mut inner = self.inner();
        let others: Vec<PeerInfo> = inner.links.values().map(|l| l.info.clone()).collect();
        for l in inner.links.values() {
            let _ = l.queue.send(Outbound::Request(MasterRequest::Peers {
                added: vec![link.info.clone()],
                removed: vec![],
            }));
        }
        let _ = link
            .queue
            .send(Outbound::Request(MasterRequest::Peers { added: others, removed: vec![] }));
        self.cores.fetch_add(link.cores, Ordering::Relaxed);
        let added = link.added(id);
        inner.links.insert(id, link);
        Self::broadcast(&inner, &added);
    }

    /// Removes an executor (if still registered), tells the other executors and
    /// every application; returns whether it was registered.
    pub(crate) fn remove(&self, id: ExecutorId, reason: &str) -> bool {
        let mut inner = self.inner();
        let Some(link) = inner.links.remove(&id) else { return false };
        self.cores.fetch_sub(link.cores, Ordering::Relaxed);
        link.conn.close(0u32.into(), b"executor lost");
        for l in inner.links.values() {
            let _ = l.queue.send(Outbound::Request(MasterRequest::Peers {
                added: vec![],
                removed: vec![id.0],
            }));
        }
        Self::broadcast(
            &inner,
            &SchedulerEvent::ExecutorLost { executor: id, reason: reason.to_string() },
        );
        true
    }

    /// Whether an executor is registered; marks it as seen.
    pub(crate) fn seen(&self, id: ExecutorId) -> bool {
        match self.inner().links.get(&id) {
            Some(l) => {
                *lock(&l.last_seen) = Instant::now();
                true
            }
            None => false,
        }
    }

    /// Executors not seen for longer than `timeout`.
    pub(crate) fn silent_for(&self, timeout: Duration) -> Vec<ExecutorId> {
        self.inner()
            .links
            .iter()
            .filter(|(_, l)| lock(&l.last_seen).elapsed() > timeout)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Queues a request for an executor; false if it is not registered.
    pub(crate) fn send(&self, id: ExecutorId, msg: Outbound) -> bool {
        self.inner().links.get(&id).is_some_and(|l| l.queue.send(msg).is_ok())
    }

    /// Queues a message (made by `msg`) for every registered executor.
    pub(crate) fn send_all(&self, msg: impl Fn() -> Outbound) {
        for link in self.inner().links.values() {
            let _ = link.queue.send(msg());
        }
    }
}

/// Sends an event to a driver loop from a tokio task (waiting outside the runtime's core threads if the loop is busy).
fn post(loop_tx: &Sender<LoopMessage>, event: SchedulerEvent) {
    let msg = LoopMessage::Event(event);
    if let Err(crossbeam_channel::TrySendError::Full(msg)) = loop_tx.try_send(msg) {
        // A closed loop means the application ended: the report is of no use.
        let _sent = tokio::task::block_in_place(|| loop_tx.send(msg).is_ok());
    }
}
