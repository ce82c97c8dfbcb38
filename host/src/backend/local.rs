//! Local mode: the driver loop plus one in-process executor with N task threads; no network.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::Sender;

use super::driver_loop::{self, ExecutorPort};
use super::{BackendHandle, LoopMessage};
use crate::config::{self, Conf, ConfigError};
use crate::dag::{Scheduler, SchedulerConfig, SchedulerEvent};
use crate::event_log::EventLog;
use crate::executor::{Executor, ExecutorConfig, NoRemoteBlocks};
use crate::ids::ExecutorId;
use crate::task::{BlockId, TaskDesc};
use crate::wasm::Runtime;

/// Why local mode could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The work directory could not be created.
    #[error("cannot create work directory {path}: {source}")]
    WorkDir { path: PathBuf, source: std::io::Error },
    /// A thread could not be spawned.
    #[error("cannot start thread: {0}")]
    Thread(std::io::Error),
}

/// Settings of local mode.
pub struct LocalConfig {
    /// Executor task slots.
    pub cores: u32,
    /// Application configuration.
    pub conf: Conf,
    /// Where shuffle files and disk blocks go (removed at shutdown).
    pub work_root: PathBuf,
    /// The open event log, if any.
    pub event_log: Option<EventLog>,
}

/// A running local-mode backend.
pub struct LocalBackend {
    handle: BackendHandle,
    tx: Sender<LoopMessage>,
    driver: Option<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
    executor: Arc<Executor>,
    work_root: PathBuf,
}

struct LocalPort {
    tasks: Sender<(TaskDesc, Arc<AtomicBool>)>,
    executor: Arc<Executor>,
}

impl ExecutorPort for LocalPort {
    fn launch(&mut self, _executor: ExecutorId, task: TaskDesc, cancel: Arc<AtomicBool>) {
        let _ = self.tasks.send((task, cancel));
    }

    fn drop_blocks(&mut self, _executor: ExecutorId, blocks: &[BlockId]) {
        self.executor.blocks().remove(blocks);
    }
}

impl LocalBackend {
    /// Starts the driver loop and the executor's task threads.
    pub fn start(config: LocalConfig, runtime: Arc<Runtime>) -> Result<LocalBackend, StartError> {
        let cores = config.cores.max(1);
        let conf = &config.conf;
        let mut sched_config = SchedulerConfig::from_conf(conf)?;
        sched_config.cpus_per_task = sched_config.cpus_per_task.clamp(1, cores);
        let exec_config = ExecutorConfig {
            id: ExecutorId(0),
            work_dir: config.work_root.join("executor-0"),
            shuffle_spill_memory: conf.get_bytes(config::SHUFFLE_SPILL_MEMORY, 64 << 20)? as usize,
            batch_bytes: 1 << 20,
        };
        let executor = Arc::new(
            Executor::new(exec_config.clone(), runtime, Arc::new(NoRemoteBlocks))
                .map_err(|source| StartError::WorkDir { path: exec_config.work_dir.clone(), source })?,
        );
        let (tx, rx) = crossbeam_channel::bounded::<LoopMessage>(4096);
        let (task_tx, task_rx) = crossbeam_channel::unbounded::<(TaskDesc, Arc<AtomicBool>)>();
        let mut workers = Vec::new();
        for i in 0..cores {
            let (rx, tx, executor) = (task_rx.clone(), tx.clone(), executor.clone());
            let worker = std::thread::Builder::new()
                .name(format!("wisp-task-{i}"))
                .spawn(move || {
                    for (task, cancel) in rx {
                        let report = executor.run_task(&task, cancel);
                        if tx.send(LoopMessage::Event(SchedulerEvent::TaskFinished(report))).is_err() {
                            break;
                        }
                    }
                })
                .map_err(StartError::Thread)?;
            workers.push(worker);
        }
        let mut scheduler = Scheduler::new(sched_config);
        let start = Instant::now();
        scheduler.handle(
            start.elapsed(),
            SchedulerEvent::ExecutorAdded { executor: ExecutorId(0), host: "localhost".into(), rack: None, data_roots: Vec::new(), cores },
        );
        let port = Box::new(LocalPort { tasks: task_tx, executor: executor.clone() });
        let event_log = config.event_log;
        let driver = std::thread::Builder::new()
            .name("wisp-driver-loop".into())
            .spawn(move || driver_loop::run(scheduler, rx, port, event_log, start))
            .map_err(StartError::Thread)?;
        let handle =
            BackendHandle { tx: tx.clone(), next_job: Arc::new(AtomicU32::new(0)), cores: Arc::new(AtomicU32::new(cores)), cancel: None };
        Ok(LocalBackend { handle, tx, driver: Some(driver), workers, executor, work_root: config.work_root })
    }

    /// The handle the context submits jobs through.
    pub fn handle(&self) -> BackendHandle {
        self.handle.clone()
    }

    /// Stops the loop and the task threads, and removes shuffle files and blocks.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.tx.send(LoopMessage::Shutdown);
        if let Some(d) = self.driver.take() {
            let _ = d.join();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        self.executor.remove_work_dir();
        let _ = std::fs::remove_dir_all(&self.work_root);
    }
}

impl Drop for LocalBackend {
    fn drop(&mut self) {
        self.stop();
    }
}
