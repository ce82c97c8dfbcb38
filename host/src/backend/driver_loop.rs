//! The driver loop: owns the `Scheduler`, turns messages into events and performs the commands it emits.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::LoopMessage;
use crate::dag::{Scheduler, SchedulerCommand, SchedulerEvent};
use crate::event_log::EventLog;
use crate::ids::{ExecutorId, JobId, TaskId};
use crate::task::{BlockId, ResultValue, TaskDesc};

/// How often the loop ticks when idle.
const TICK: Duration = Duration::from_millis(100);

/// What the loop needs from the executors it drives.
pub(crate) trait ExecutorPort: Send {
    /// Starts a task; its report comes back as a `TaskFinished` event.
    fn launch(&mut self, executor: ExecutorId, task: TaskDesc, cancel: Arc<AtomicBool>);
    /// Forgets cached blocks.
    fn drop_blocks(&mut self, executor: ExecutorId, blocks: &[BlockId]);
    /// Cancels a running attempt (after its cancel flag was set); it still reports, as `Killed`.
    fn kill(&mut self, _executor: ExecutorId, _task: TaskId) {}
}

/// Runs the loop until `Shutdown` or until every sender is gone.
pub(crate) fn run(
    mut scheduler: Scheduler,
    rx: Receiver<LoopMessage>,
    mut port: Box<dyn ExecutorPort>,
    mut event_log: Option<EventLog>,
    start: Instant,
) {
    let mut replies: HashMap<JobId, Sender<Result<Vec<ResultValue>, String>>> = HashMap::new();
    let mut running: HashMap<TaskId, Arc<AtomicBool>> = HashMap::new();
    loop {
        let event = match rx.recv_timeout(TICK) {
            Ok(LoopMessage::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(LoopMessage::Event(e)) => e,
            Ok(LoopMessage::Submit { job, event, reply }) => {
                replies.insert(job, reply);
                event
            }
            Err(RecvTimeoutError::Timeout) => SchedulerEvent::Tick,
        };
        if let SchedulerEvent::TaskFinished(report) = &event {
            running.remove(&report.task);
        }
        scheduler.handle(start.elapsed(), event);
        for command in scheduler.drain_commands() {
            match command {
                SchedulerCommand::LaunchTask { executor, task } => {
                    let cancel = Arc::new(AtomicBool::new(false));
                    running.insert(task.id.task, cancel.clone());
                    port.launch(executor, task, cancel);
                }
                SchedulerCommand::KillTask { executor, task } => {
                    if let Some(flag) = running.get(&task) {
                        flag.store(true, Ordering::Relaxed);
                    }
                    port.kill(executor, task);
                }
                SchedulerCommand::JobFinished { job, result } => {
                    if let Some(reply) = replies.remove(&job) {
                        let _ = reply.send(result.map_err(|f| f.to_string()));
                    }
                }
                SchedulerCommand::DropBlocks { executor, blocks } => port.drop_blocks(executor, &blocks),
                SchedulerCommand::Record(record) => {
                    if let Some(log) = &mut event_log
                        && let Err(e) = log.write(&record)
                    {
                        tracing::error!("{e}; event logging stopped");
                        event_log = None;
                    }
                }
            }
        }
    }
    for flag in running.values() {
        flag.store(true, Ordering::Relaxed);
    }
    if let Some(log) = &mut event_log {
        let _ = log.flush();
    }
}
