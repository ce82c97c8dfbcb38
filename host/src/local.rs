//! Local mode's executors: one in-process `Executor` with N task threads; no network.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::{Arc, OnceLock};

use crossbeam_channel::Sender;

use crate::dag::SchedulerEvent;
use crate::driver_loop::{ExecutorBackend, ExecutorPort, LoopMessage};
use crate::executor::{Executor, ExecutorConfig, NoRemoteBlocks};
use crate::ids::ExecutorId;
use crate::memory::{MemoryManager, MemoryUse};
use crate::task::{BlockId, TaskDesc, TaskFailure, TaskMetrics, TaskReport};
use crate::task_threads::{QueueFull, TaskQueue, TaskThreads};
use crate::wasm::Runtime;

/// The executor id of local mode's only executor.
const LOCAL_EXECUTOR: ExecutorId = ExecutorId(0);

/// Why local mode could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The work directory could not be created.
    #[error("cannot create work directory {path}: {source}")]
    WorkDir {
        /// The directory.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A thread could not be spawned.
    #[error("cannot start thread: {0}")]
    Thread(std::io::Error),
}

/// A task for a task thread, with its cancel flag.
type LocalTask = (TaskDesc, Arc<AtomicBool>);

/// The executors of local mode: one executor whose task threads live in this process.
pub(crate) struct LocalExecutors {
    executor: Arc<Executor>,
    threads: TaskThreads<LocalTask>,
    /// The application's loop, where reports go (set by `attach`).
    loop_tx: Arc<OnceLock<Sender<LoopMessage>>>,
    cores: u32,
    work_root: PathBuf,
}

impl LocalExecutors {
    /// Starts the executor's `cores` task threads, `niceness` nice levels below this process's
    /// threads; shuffle files and disk blocks go below `work_root`.
    pub(crate) fn start(
        cores: u32,
        niceness: u32,
        work_root: PathBuf,
        config: ExecutorConfig,
        runtime: Arc<Runtime>,
        memory: Arc<MemoryManager>,
    ) -> Result<LocalExecutors, StartError> {
        let executor = Arc::new(
            Executor::new(config.clone(), runtime, memory, Arc::new(NoRemoteBlocks))
                .map_err(|source| StartError::WorkDir { path: config.work_dir.clone(), source })?,
        );
        let loop_tx: Arc<OnceLock<Sender<LoopMessage>>> = Arc::default();
        let (exec, reports) = (executor.clone(), loop_tx.clone());
        // One scheduler launches one task per free core: at most `cores` wait or run, plus killed
        // attempts still stopping.
        let capacity = cores as usize * 4;
        let threads = TaskThreads::start(
            cores,
            capacity,
            "wisp-task",
            niceness,
            move |(task, cancel): LocalTask| {
                let report = exec.run_task(&task, cancel);
                reports.get().is_some_and(|tx| {
                    tx.send(LoopMessage::Event(SchedulerEvent::TaskFinished(report))).is_ok()
                })
            },
        )
        .map_err(StartError::Thread)?;
        Ok(LocalExecutors { executor, threads, loop_tx, cores, work_root })
    }

    /// Stops the task threads and removes shuffle files and blocks.
    pub(crate) fn shutdown(self) {
        self.threads.join();
        self.executor.remove_work_dir();
        let _ = std::fs::remove_dir_all(&self.work_root);
    }
}

impl ExecutorBackend for LocalExecutors {
    fn port(&self) -> Box<dyn ExecutorPort> {
        Box::new(LocalPort {
            tasks: self.threads.queue(),
            executor: self.executor.clone(),
            loop_tx: self.loop_tx.clone(),
        })
    }

    fn cores(&self) -> Arc<AtomicU32> {
        Arc::new(AtomicU32::new(self.cores))
    }

    fn attach(&self, loop_tx: &Sender<LoopMessage>) {
        let _ = self.loop_tx.set(loop_tx.clone());
        let added = SchedulerEvent::ExecutorAdded {
            executor: LOCAL_EXECUTOR,
            host: "localhost".into(),
            rack: None,
            data_roots: Vec::new(),
            cores: self.cores,
        };
        let _ = loop_tx.send(LoopMessage::Event(added));
    }

    fn detach(&self) {}
}

/// The local executor's port: tasks go to its task threads.
struct LocalPort {
    tasks: TaskQueue<LocalTask>,
    executor: Arc<Executor>,
    loop_tx: Arc<OnceLock<Sender<LoopMessage>>>,
}

impl ExecutorPort for LocalPort {
    fn launch(&mut self, executor: ExecutorId, task: TaskDesc, cancel: Arc<AtomicBool>) {
        if let Err(QueueFull((task, _))) = self.tasks.try_run((task, cancel)) {
            tracing::error!(task = %task.id.task, "no free task slot for a launched task");
            let report = TaskReport {
                accumulators: Vec::new(),
                task: task.id.task,
                executor,
                result: Err(TaskFailure::Host {
                    message: "the executor has no free task slot".into(),
                }),
                cached: vec![],
                metrics: TaskMetrics::default(),
                log: String::new(),
            };
            // Called on the loop's own thread: never block on its channel.
            if let Some(tx) = self.loop_tx.get() {
                let _ = tx.try_send(LoopMessage::Event(SchedulerEvent::TaskFinished(report)));
            }
        }
    }

    fn drop_blocks(&mut self, _executor: ExecutorId, blocks: &[BlockId]) {
        self.executor.blocks().remove(blocks);
    }

    fn sample_memory(&self) -> Vec<(ExecutorId, MemoryUse)> {
        vec![(LOCAL_EXECUTOR, self.executor.memory_use())]
    }
}
