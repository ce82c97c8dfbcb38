//! The scheduler backend: the driver loop that owns the scheduler core, and the executors it drives.
//!
//! The loop (`driver_loop.rs`) is the single owner of scheduler state: other
//! threads send it closed, past-tense events over a channel and get replies
//! on one-shot channels. It feeds events to `dag::Scheduler::handle` and
//! performs the commands it drains (launch/kill tasks, finish jobs, drop
//! blocks, write the event log). Local mode (`local.rs`) runs one executor
//! with N task threads inside the driver process.

pub mod cluster;
mod driver_loop;
mod local;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use crossbeam_channel::Sender;

pub use local::{LocalBackend, LocalConfig};

use crate::dag::SchedulerEvent;
use crate::ids::{JobId, RddId};
use crate::lineage::Lineage;
use crate::task::{ComponentBytes, ResultKind, ResultValue};

/// What the driver loop receives.
pub(crate) enum LoopMessage {
    /// A scheduler event.
    Event(SchedulerEvent),
    /// A job, with where to send its result.
    Submit { job: JobId, event: SchedulerEvent, reply: Sender<Result<Vec<ResultValue>, String>> },
    /// Stop the loop.
    Shutdown,
}

/// A cloneable handle to the driver loop, used by the application context.
#[derive(Clone)]
pub struct BackendHandle {
    tx: Sender<LoopMessage>,
    next_job: Arc<AtomicU32>,
    cores: Arc<AtomicU32>,
    /// Set when the application is cancelled (cluster mode: the submitter gave up).
    cancel: Option<Arc<AtomicBool>>,
}

impl BackendHandle {
    /// Total executor cores registered now (the default parallelism).
    pub fn total_cores(&self) -> u32 {
        self.cores.load(Ordering::Relaxed)
    }

    /// Runs one job and blocks until it ends; the error is the job's one-line failure.
    pub fn run_job(
        &self,
        lineage: Arc<Lineage>,
        rdd: RddId,
        partitions: Vec<u32>,
        result: ResultKind,
        components: Arc<Vec<Arc<ComponentBytes>>>,
    ) -> Result<Vec<ResultValue>, String> {
        let job = JobId(self.next_job.fetch_add(1, Ordering::Relaxed));
        let (reply, rx) = crossbeam_channel::bounded(1);
        let event = SchedulerEvent::JobSubmitted { job, lineage, rdd, partitions, result, components };
        self.tx.send(LoopMessage::Submit { job, event, reply }).map_err(|_| "the scheduler has stopped".to_string())?;
        let Some(cancel) = &self.cancel else {
            return rx.recv().map_err(|_| "the scheduler stopped before the job ended".to_string())?;
        };
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(result) => return result,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    return Err("the scheduler stopped before the job ended".to_string());
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) if cancel.load(Ordering::Relaxed) => {
                    let _ = self.tx.send(LoopMessage::Event(SchedulerEvent::JobCancelled { job }));
                    return Err("job cancelled".to_string());
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Tells the scheduler an RDD is no longer persisted.
    pub fn unpersist(&self, rdd: RddId) {
        let _ = self.tx.send(LoopMessage::Event(SchedulerEvent::RddUnpersisted { rdd }));
    }
}
