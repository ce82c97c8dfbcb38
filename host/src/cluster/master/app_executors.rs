//! The executors one submitted application runs on: the registered executors, seen through its own port.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use crossbeam_channel::Sender;

use super::registry::{Outbound, Registry};
use crate::driver_loop::{ExecutorBackend, ExecutorPort, LoopMessage};
use crate::ids::{AppId, ExecutorId, TaskId};
use crate::net::protocol::MasterRequest;
use crate::task::{BlockId, TaskDesc};

/// How often a submission waiting for its first executor looks again.
const WAIT_POLL: Duration = Duration::from_millis(100);

/// The master's executors, as offered to submitted applications.
pub(crate) struct MasterExecutors {
    registry: Arc<Registry>,
    /// The id of the next application (ids start at 1).
    next_app: AtomicU32,
}

/// The application was cancelled while it waited for executors.
#[derive(Debug)]
pub(crate) struct Cancelled;

impl MasterExecutors {
    pub(super) fn new(registry: Arc<Registry>) -> MasterExecutors {
        MasterExecutors { registry, next_app: AtomicU32::new(1) }
    }

    /// Blocks until at least one executor is registered (telling `waiting` when
    /// none is yet, and when one came), then gives the application its id and its view.
    pub(crate) fn join(
        &self,
        cancel: &AtomicBool,
        mut waiting: impl FnMut(&str),
    ) -> Result<AppExecutors, Cancelled> {
        if self.registry.len() == 0 {
            waiting("waiting for executors");
            while self.registry.len() == 0 {
                if cancel.load(Ordering::Relaxed) {
                    return Err(Cancelled);
                }
                std::thread::sleep(WAIT_POLL);
            }
            waiting("executors registered; starting");
        }
        let app = AppId(self.next_app.fetch_add(1, Ordering::Relaxed));
        Ok(AppExecutors { app, registry: self.registry.clone() })
    }
}

/// One application's view of the master's executors.
pub(crate) struct AppExecutors {
    app: AppId,
    registry: Arc<Registry>,
}

impl AppExecutors {
    /// The application's id.
    pub(crate) fn app(&self) -> AppId {
        self.app
    }
}

impl ExecutorBackend for AppExecutors {
    fn port(&self) -> Box<dyn ExecutorPort> {
        Box::new(ClusterPort { app: self.app, registry: self.registry.clone() })
    }

    fn cores(&self) -> Arc<AtomicU32> {
        self.registry.cores()
    }

    fn attach(&self, loop_tx: &Sender<LoopMessage>) {
        self.registry.add_app(self.app, loop_tx.clone());
    }

    fn detach(&self) {
        self.registry.remove_app(self.app);
    }
}

/// The port one application's driver loop drives executors through.
struct ClusterPort {
    app: AppId,
    registry: Arc<Registry>,
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
        self.registry.send(
            executor,
            Outbound::Request(MasterRequest::DropBlocks { app: self.app.0, blocks }),
        );
    }

    fn drop_shipped(&mut self, hash: &str) {
        let request = MasterRequest::DropShipped { app: self.app.0, hash: hash.to_owned() };
        self.registry.send_all(|| Outbound::Request(request.clone()));
    }

    fn kill(&mut self, executor: ExecutorId, task: TaskId) {
        self.registry.send(
            executor,
            Outbound::Request(MasterRequest::KillTask { app: self.app.0, task: task.0 }),
        );
    }
}
