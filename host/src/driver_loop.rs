//! The driver loop: the single owner of an application's `Scheduler`; turns messages into events and performs the commands it emits.
//!
//! Other threads hold a `LoopHandle` and send closed, past-tense events over
//! a bounded channel; jobs get their result on a one-shot channel. The loop
//! feeds events to `dag::Scheduler::handle` and performs the commands it
//! drains (launch/kill tasks through an `ExecutorPort`, finish jobs, drop
//! blocks, hand event-log lines to the application's `observe::Recorder`). Where the executors are (threads of this
//! process, or processes behind a master) is behind `ExecutorBackend`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::accumulators::Accumulators;
use crate::dag::{Scheduler, SchedulerCommand, SchedulerEvent};
use crate::event_log::LogLine;
use crate::event_log::lines::{Outcome, ms};
use crate::ids::{AppId, ExecutorId, JobId, RddId, TaskId};
use crate::lineage::Lineage;
use crate::memory::MemoryUse;
use crate::observe::Recorder;
use crate::task::{BlockId, ComponentBytes, ResultKind, ResultValue, SharedVars, TaskDesc};

/// How often the loop ticks when idle.
const TICK: Duration = Duration::from_millis(100);

/// How often the loop samples the memory of executors in its own process (local mode).
const SAMPLE_MEMORY_EVERY: Duration = Duration::from_secs(1);

/// Messages the loop's channel holds at most; senders block (or, on tokio, wait) beyond it.
pub(crate) const LOOP_CHANNEL_CAPACITY: usize = 4096;

/// What the driver loop receives.
pub(crate) enum LoopMessage {
    /// A scheduler event.
    Event(SchedulerEvent),
    /// A job, with where to send its result.
    Submit { job: JobId, event: SchedulerEvent, reply: Sender<Result<Vec<ResultValue>, String>> },
    /// The application's main returned (`error`: why it failed): the `app_end` line.
    AppEnded { error: Option<String> },
    /// An executor's heartbeat (cluster mode) and when it arrived (possibly before the
    /// application started), for the live status.
    Heartbeat { executor: ExecutorId, memory: MemoryUse, at: Instant },
    /// A broadcast value was destroyed: executors may drop its bytes (by content hash).
    DropShipped { hash: String },
    /// Stop the loop.
    Shutdown,
}

/// What the loop needs from the executors it drives.
pub(crate) trait ExecutorPort: Send {
    /// Starts a task; its report comes back as a `TaskFinished` event.
    fn launch(&mut self, executor: ExecutorId, task: TaskDesc, cancel: Arc<AtomicBool>);
    /// Forgets cached blocks.
    fn drop_blocks(&mut self, executor: ExecutorId, blocks: &[BlockId]);
    /// Cancels a running attempt (after its cancel flag was set); it still reports, as `Killed`.
    fn kill(&mut self, _executor: ExecutorId, _task: TaskId) {}
    /// Lets every executor drop shipped bytes (a destroyed broadcast's), by content hash; in
    /// this process they live in the context, which dropped them already.
    fn drop_shipped(&mut self, _hash: &str) {}
    /// The memory of executors in this process, sampled by the loop in place of heartbeats
    /// (local mode); remote executors send heartbeats instead.
    fn sample_memory(&self) -> Vec<(ExecutorId, MemoryUse)> {
        Vec::new()
    }
}

/// The executors one application runs on: in this process (local mode) or registered with a master.
pub(crate) trait ExecutorBackend {
    /// The port the application's loop launches tasks through.
    fn port(&self) -> Box<dyn ExecutorPort>;
    /// Total cores of the executors registered now (kept current).
    fn cores(&self) -> Arc<AtomicU32>;
    /// Announces the executors to the application's loop and routes their events to it from now on.
    fn attach(&self, loop_tx: &Sender<LoopMessage>);
    /// The application ended: stop routing, drop what the executors keep for it.
    fn detach(&self);
}

/// A cloneable handle to one application's driver loop, used by its context.
#[derive(Clone)]
pub(crate) struct LoopHandle {
    app: AppId,
    tx: Sender<LoopMessage>,
    next_job: Arc<AtomicU32>,
    cores: Arc<AtomicU32>,
    /// Set when the application is cancelled (cluster mode: the submitter gave up).
    cancel: Option<Arc<AtomicBool>>,
    /// The application's accumulators: the loop merges accepted updates, the context reads.
    accumulators: Arc<Mutex<Accumulators>>,
}

impl LoopHandle {
    /// Total executor cores registered now (the default parallelism).
    pub(crate) fn total_cores(&self) -> u32 {
        self.cores.load(Ordering::Relaxed)
    }

    /// Runs one job and blocks until it ends; the error is the job's one-line failure.
    pub(crate) fn run_job(
        &self,
        lineage: Arc<Lineage>,
        rdd: RddId,
        partitions: Vec<u32>,
        result: ResultKind,
        components: Arc<Vec<Arc<ComponentBytes>>>,
        shared: SharedVars,
    ) -> Result<Vec<ResultValue>, String> {
        let job = JobId(self.next_job.fetch_add(1, Ordering::Relaxed));
        let _span = tracing::info_span!("job", app = %self.app, %job, %rdd).entered();
        tracing::debug!(partitions = partitions.len(), "job submitted");
        let (reply, rx) = crossbeam_channel::bounded(1);
        let event = SchedulerEvent::JobSubmitted {
            job,
            lineage,
            rdd,
            partitions,
            result,
            components,
            shared,
        };
        self.tx
            .send(LoopMessage::Submit { job, event, reply })
            .map_err(|_| "the scheduler has stopped".to_string())?;
        let Some(cancel) = &self.cancel else {
            return rx
                .recv()
                .map_err(|_| "the scheduler stopped before the job ended".to_string())?;
        };
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(result) => return result,
                Err(RecvTimeoutError::Disconnected) => {
                    return Err("the scheduler stopped before the job ended".to_string());
                }
                Err(RecvTimeoutError::Timeout) if cancel.load(Ordering::Relaxed) => {
                    let _ = self.tx.send(LoopMessage::Event(SchedulerEvent::JobCancelled { job }));
                    return Err("job cancelled".to_string());
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// The application's accumulators (merged by the loop as tasks are accepted).
    pub(crate) fn accumulators(&self) -> std::sync::MutexGuard<'_, Accumulators> {
        self.accumulators.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells the scheduler an RDD is no longer persisted.
    pub(crate) fn unpersist(&self, rdd: RddId) {
        let _ = self.tx.send(LoopMessage::Event(SchedulerEvent::RddUnpersisted { rdd }));
    }

    /// Tells the executors a broadcast value (by content hash) was destroyed.
    pub(crate) fn drop_shipped(&self, hash: String) {
        let _ = self.tx.send(LoopMessage::DropShipped { hash });
    }
}

/// A running driver loop: its handle for the context, and its thread.
pub(crate) struct RunningLoop {
    handle: LoopHandle,
    thread: Option<JoinHandle<()>>,
}

impl RunningLoop {
    /// Starts the loop of application `app` on its own thread, driving `backend`'s executors.
    pub(crate) fn start(
        app: AppId,
        scheduler: Scheduler,
        backend: &dyn ExecutorBackend,
        recorder: Recorder,
        cancel: Option<Arc<AtomicBool>>,
    ) -> std::io::Result<RunningLoop> {
        let (tx, rx) = crossbeam_channel::bounded::<LoopMessage>(LOOP_CHANNEL_CAPACITY);
        let port = backend.port();
        let accumulators = Arc::new(Mutex::new(Accumulators::default()));
        let merged = accumulators.clone();
        let thread = std::thread::Builder::new()
            .name(format!("wisp-driver-loop-{}", app.0))
            .spawn(move || run(app, scheduler, rx, port, recorder, merged, Instant::now()))?;
        backend.attach(&tx);
        let handle = LoopHandle {
            app,
            tx,
            next_job: Arc::new(AtomicU32::new(0)),
            cores: backend.cores(),
            cancel,
            accumulators,
        };
        Ok(RunningLoop { handle, thread: Some(thread) })
    }

    /// The handle jobs are submitted through.
    pub(crate) fn handle(&self) -> LoopHandle {
        self.handle.clone()
    }

    /// Records the application's end (its `app_end` line).
    pub(crate) fn app_ended(&self, error: Option<String>) {
        let _ = self.handle.tx.send(LoopMessage::AppEnded { error });
    }

    /// Stops the loop (running attempts are cancelled) and waits for its thread.
    pub(crate) fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        let _ = self.handle.tx.send(LoopMessage::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RunningLoop {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// The span of one handled event: its kind and the ids it names.
fn event_span(event: &SchedulerEvent) -> tracing::Span {
    match event {
        SchedulerEvent::ExecutorAdded { executor, .. } => {
            tracing::debug_span!("event", kind = "executor_added", %executor)
        }
        SchedulerEvent::ExecutorLost { executor, .. } => {
            tracing::debug_span!("event", kind = "executor_lost", %executor)
        }
        SchedulerEvent::JobSubmitted { job, .. } => {
            tracing::debug_span!("event", kind = "job_submitted", %job)
        }
        SchedulerEvent::JobCancelled { job } => {
            tracing::debug_span!("event", kind = "job_cancelled", %job)
        }
        SchedulerEvent::TaskFinished(r) => {
            tracing::debug_span!("event", kind = "task_finished", task = %r.task, executor = %r.executor, ok = r.result.is_ok())
        }
        SchedulerEvent::RddUnpersisted { rdd } => {
            tracing::debug_span!("event", kind = "rdd_unpersisted", %rdd)
        }
        SchedulerEvent::Tick => tracing::trace_span!("event", kind = "tick"),
    }
}

/// Runs the loop until `Shutdown` or until every sender is gone.
fn run(
    app: AppId,
    mut scheduler: Scheduler,
    rx: Receiver<LoopMessage>,
    mut port: Box<dyn ExecutorPort>,
    mut recorder: Recorder,
    accumulators: Arc<Mutex<Accumulators>>,
    start: Instant,
) {
    let _app_span = tracing::info_span!("app", %app).entered();
    let mut replies: HashMap<JobId, Sender<Result<Vec<ResultValue>, String>>> = HashMap::new();
    let mut running: HashMap<TaskId, Arc<AtomicBool>> = HashMap::new();
    let mut last_sample = start;
    loop {
        let event = match rx.recv_timeout(TICK) {
            Ok(LoopMessage::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(LoopMessage::Event(e)) => e,
            Ok(LoopMessage::AppEnded { error }) => {
                let time_ms = ms(start.elapsed());
                let result = Outcome::of(error.is_none());
                recorder.record(&LogLine::AppEnd { time_ms, result, error });
                continue;
            }
            Ok(LoopMessage::Heartbeat { executor, memory, at }) => {
                let at_ms = match at.checked_duration_since(start) {
                    Some(after) => ms(after),
                    None => -ms(start - at),
                };
                recorder.heartbeat(executor.0, at_ms, memory);
                continue;
            }
            Ok(LoopMessage::DropShipped { hash }) => {
                port.drop_shipped(&hash);
                continue;
            }
            Ok(LoopMessage::Submit { job, event, reply }) => {
                replies.insert(job, reply);
                event
            }
            Err(RecvTimeoutError::Timeout) => SchedulerEvent::Tick,
        };
        if recorder.is_live() && last_sample.elapsed() >= SAMPLE_MEMORY_EVERY {
            last_sample = Instant::now();
            for (executor, memory) in port.sample_memory() {
                recorder.heartbeat(executor.0, ms(start.elapsed()), memory);
            }
        }
        let _span = event_span(&event).entered();
        match &event {
            SchedulerEvent::TaskFinished(report) => {
                running.remove(&report.task);
            }
            SchedulerEvent::ExecutorAdded { executor, host, cores, .. } if recorder.is_active() => {
                let time_ms = ms(start.elapsed());
                let (executor, host, cores) = (executor.0, host.clone(), *cores);
                recorder.record(&LogLine::ExecutorAdded { time_ms, executor, host, cores });
            }
            SchedulerEvent::ExecutorLost { executor, reason } if recorder.is_active() => {
                let time_ms = ms(start.elapsed());
                let (executor, reason) = (executor.0, reason.clone());
                recorder.record(&LogLine::ExecutorRemoved { time_ms, executor, reason });
            }
            _ => {}
        }
        scheduler.handle(start.elapsed(), event);
        for command in scheduler.drain_commands() {
            match command {
                SchedulerCommand::LaunchTask { executor, task } => {
                    let a = task.id;
                    let _stage = a.stage_span().entered();
                    tracing::debug!(task = %a.task, partition = a.partition, %executor, "launch");
                    let cancel = Arc::new(AtomicBool::new(false));
                    running.insert(task.id.task, cancel.clone());
                    port.launch(executor, task, cancel);
                }
                SchedulerCommand::KillTask { executor, task } => {
                    tracing::debug!(%task, %executor, "kill");
                    if let Some(flag) = running.get(&task) {
                        flag.store(true, Ordering::Relaxed);
                    }
                    port.kill(executor, task);
                }
                SchedulerCommand::JobFinished { job, result } => {
                    tracing::debug!(%job, ok = result.is_ok(), "job finished");
                    if let Some(reply) = replies.remove(&job) {
                        let _ = reply.send(result.map_err(|f| f.to_string()));
                    }
                }
                SchedulerCommand::DropBlocks { executor, blocks } => {
                    port.drop_blocks(executor, &blocks)
                }
                SchedulerCommand::MergeAccumulators { updates } => {
                    accumulators.lock().unwrap_or_else(|p| p.into_inner()).merge_updates(updates)
                }
                SchedulerCommand::Record(record) => {
                    if recorder.is_active() {
                        recorder.record(&LogLine::from(&record));
                    }
                }
            }
        }
    }
    for flag in running.values() {
        flag.store(true, Ordering::Relaxed);
    }
    recorder.finish();
}
