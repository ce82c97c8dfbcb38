//! What an executor process keeps: one `Executor` per application, the components it was sent, and the attempts it accepted.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::cluster::blocks::app_dir;
use crate::cluster::blocks::fetch::{FetchPool, QuicFetcher};
use crate::executor::{Executor, ExecutorConfig, LiveMetrics};
use crate::ids::{AppId, ExecutorId, TaskId};
use crate::net::protocol::{RunningTask, WireTaskMetrics};
use crate::task::{ComponentBytes, TaskDesc};
use crate::task_threads::TaskQueue;
use crate::wasm::Runtime;

/// A task for the task threads.
pub(super) struct QueuedTask {
    pub(super) app: AppId,
    pub(super) executor: Arc<Executor>,
    pub(super) task: TaskDesc,
    pub(super) cancel: Arc<AtomicBool>,
    pub(super) live: Arc<LiveMetrics>,
}

/// Bytes shipped to this executor (a component or a broadcast value) and the applications whose
/// tasks used them.
struct Shipped {
    bytes: Arc<ComponentBytes>,
    apps: HashSet<AppId>,
}

impl Shipped {
    /// Forgets `app`'s use; whether the bytes are now unused (bytes no task used yet, as
    /// another application's launch resolving them now, are never released here).
    fn release(&mut self, app: AppId) -> bool {
        self.apps.remove(&app) && self.apps.is_empty()
    }
}

/// A task attempt accepted and not yet reported.
pub(super) struct Running {
    pub(super) cancel: Arc<AtomicBool>,
    accepted: Instant,
    live: Arc<LiveMetrics>,
}

impl Running {
    pub(super) fn new(cancel: Arc<AtomicBool>, live: Arc<LiveMetrics>) -> Running {
        Running { cancel, accepted: Instant::now(), live }
    }
}

/// Settings every application's `Executor` on this process shares.
pub(super) struct ExecutorSettings {
    pub(super) id: ExecutorId,
    /// `work_dir/executor-N`: one directory per application below.
    pub(super) base: PathBuf,
    pub(super) max_in_flight: u64,
    pub(super) spill: usize,
    pub(super) batch_bytes: usize,
    /// The process's memory budget, shared by every application's executor.
    pub(super) memory: Arc<crate::memory::MemoryManager>,
    /// The process's object-store clients.
    pub(super) stores: Arc<crate::store::Stores>,
    /// Test-only fault rules applied to every task attempt (`WISP_TEST_FAULTS`).
    #[cfg(any(test, feature = "testing"))]
    pub(super) faults: Option<Arc<crate::testing::TestFaults>>,
}

/// The state of one executor process, shared by its request handlers and task threads.
pub(super) struct ExecutorState {
    pub(super) settings: ExecutorSettings,
    pub(super) runtime: Arc<Runtime>,
    fetch: Arc<FetchPool>,
    rt: tokio::runtime::Handle,
    /// One `Executor` (shuffle files, blocks) per application.
    apps: Mutex<HashMap<AppId, Arc<Executor>>>,
    /// Components and broadcast values received, by content hash, with the applications
    /// that used them (dropped when the last of those ended).
    components: Mutex<HashMap<String, Shipped>>,
    /// Accepted attempts.
    running: Mutex<HashMap<(AppId, TaskId), Running>>,
    pub(super) tasks: TaskQueue<QueuedTask>,
    pub(super) peers: Arc<crate::cluster::blocks::PeerTable>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ExecutorState {
    pub(super) fn new(
        settings: ExecutorSettings,
        runtime: Arc<Runtime>,
        fetch: Arc<FetchPool>,
        rt: tokio::runtime::Handle,
        tasks: TaskQueue<QueuedTask>,
        peers: Arc<crate::cluster::blocks::PeerTable>,
    ) -> ExecutorState {
        ExecutorState {
            settings,
            runtime,
            fetch,
            rt,
            apps: Mutex::default(),
            components: Mutex::default(),
            running: Mutex::default(),
            tasks,
            peers,
        }
    }

    /// The application's executor, created on its first task.
    pub(super) fn executor(&self, app: AppId) -> std::io::Result<Arc<Executor>> {
        let mut apps = lock(&self.apps);
        if let Some(e) = apps.get(&app) {
            return Ok(e.clone());
        }
        let s = &self.settings;
        let config = ExecutorConfig {
            id: s.id,
            work_dir: app_dir(&s.base, app),
            shuffle_spill_memory: s.spill,
            batch_bytes: s.batch_bytes,
            stores: s.stores.clone(),
        };
        let fetcher = QuicFetcher::new(app, self.fetch.clone(), self.rt.clone(), s.max_in_flight);
        let e = Executor::new(config, self.runtime.clone(), s.memory.clone(), Arc::new(fetcher))?;
        #[cfg(any(test, feature = "testing"))]
        let e = e.with_test_faults(s.faults.clone());
        let e = Arc::new(e);
        apps.insert(app, e.clone());
        Ok(e)
    }

    /// The application's executor, if it ran a task here.
    pub(super) fn existing_executor(&self, app: AppId) -> Option<Arc<Executor>> {
        lock(&self.apps).get(&app).cloned()
    }

    /// Keeps a received component (until every application that uses it ended).
    pub(super) fn add_component(&self, component: ComponentBytes) {
        lock(&self.components)
            .entry(component.hash.clone())
            .or_insert_with(|| Shipped { bytes: Arc::new(component), apps: HashSet::new() });
    }

    /// A received component, by hash, used by a task of `app`.
    pub(super) fn component(&self, app: AppId, hash: &str) -> Option<Arc<ComponentBytes>> {
        let builtins = ComponentBytes::builtins();
        if hash == builtins.hash {
            return Some(Arc::new(builtins));
        }
        let mut components = lock(&self.components);
        let shipped = components.get_mut(hash)?;
        shipped.apps.insert(app);
        Some(shipped.bytes.clone())
    }

    /// Forgets `app`'s use of shipped bytes (a destroyed broadcast value); drops them if no
    /// other application's tasks used them.
    pub(super) fn drop_shipped(&self, app: AppId, hash: &str) {
        let mut components = lock(&self.components);
        let Some(shipped) = components.get_mut(hash) else { return };
        if shipped.release(app) {
            let bytes = shipped.bytes.bytes.len();
            components.remove(hash);
            tracing::info!(%app, %hash, bytes, "destroyed broadcast dropped");
        }
    }

    /// Drops what this executor keeps for an application that ended: its `Executor` (cached
    /// blocks, released to the memory pool), its work directory (shuffle, block and spill
    /// files) and the shipped bytes only it used. Its attempts still running were cancelled by
    /// the master; they hold their own references and fail alone.
    pub(super) fn end_app(&self, app: AppId) {
        lock(&self.apps).remove(&app);
        let _ = std::fs::remove_dir_all(app_dir(&self.settings.base, app));
        let (mut kept, mut dropped) = (0usize, 0u64);
        lock(&self.components).retain(|_, shipped| {
            let unused = shipped.release(app);
            if unused {
                dropped += shipped.bytes.bytes.len() as u64;
            } else {
                kept += 1;
            }
            !unused
        });
        tracing::info!(%app, dropped_shipped_bytes = dropped, kept_shipped = kept, "application ended here");
    }

    /// Records an accepted attempt.
    pub(super) fn accepted(&self, app: AppId, task: TaskId, running: Running) {
        lock(&self.running).insert((app, task), running);
    }

    /// Forgets an attempt once reported.
    pub(super) fn ended(&self, app: AppId, task: TaskId) {
        lock(&self.running).remove(&(app, task));
    }

    /// Sets the cancel flag of an accepted attempt.
    pub(super) fn cancel(&self, app: AppId, task: TaskId) {
        if let Some(r) = lock(&self.running).get(&(app, task)) {
            r.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Sets the cancel flag of every accepted attempt; how many there were.
    pub(super) fn cancel_all(&self) -> usize {
        let running = lock(&self.running);
        for r in running.values() {
            r.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        running.len()
    }

    /// What a heartbeat reports of the attempts running now.
    pub(super) fn running_tasks(&self) -> Vec<RunningTask> {
        lock(&self.running)
            .iter()
            .map(|(&(app, task), r)| RunningTask {
                app: app.0,
                task: task.0,
                elapsed_ms: r.accepted.elapsed().as_millis() as u64,
                metrics: WireTaskMetrics::from(&r.live.snapshot()),
            })
            .collect()
    }
}
