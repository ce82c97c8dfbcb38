//! The executor: runs task descriptions in the shared wasm runtime, on the calling (task) thread.
//!
//! A task's plan is evaluated push-style: sources push batches into the
//! steps above them (`executor/plan_run.rs`), the top of the plan pushes into
//! the task's sink (`executor/sinks.rs`). Guest steps instantiate their
//! component in a fresh `Store` per task from the runtime's cache; no
//! process is forked.

mod map_combine;
mod plan_run;
mod reduce_combine;
mod sinks;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use crate::block::BlockManager;
use crate::ids::{ExecutorId, ShuffleId};
use crate::memory::MemoryManager;
use crate::records::Batch;
use crate::spill::SpillSpace;
use crate::task::{MapBlock, TaskDesc, TaskFailure, TaskMetrics, TaskReport};
#[cfg(any(test, feature = "testing"))]
use crate::testing::TestFaults;
use crate::wasm::{GuestOutput, Runtime, Sandbox, TaskShared};

/// Target bytes of a batch pushed into guests.
pub(crate) const BATCH_BYTES: usize = 1 << 20;

/// Bytes of guest output a task report carries: the end of what its guests wrote.
pub(crate) const TASK_LOG_BYTES: usize = 64 << 10;

/// Fetches the shuffle blocks that other executors hold (the executor reads its own from disk).
///
/// Cluster mode fetches over QUIC from the peers' block servers; local mode,
/// with a single executor, has no other executors (`NoRemoteBlocks`).
pub(crate) trait BlockFetcher: Send + Sync {
    /// Starts fetching the blocks of `maps` (all held by other executors) for
    /// reduce partition `reduce` and returns them as they arrive, in any order:
    /// the fetch goes on in the background while the caller does other work
    /// (a reduce task reads its local blocks meanwhile, as Spark's
    /// `ShuffleBlockFetcherIterator` does). A block that cannot be fetched is
    /// `TaskFailure::FetchFailed`, after which the iterator ends; dropping the
    /// iterator stops the fetch.
    fn start(&self, shuffle: ShuffleId, reduce: u32, maps: &[MapBlock]) -> RemoteBlocks;
}

/// A reduce task's remote blocks, as they arrive (`BlockFetcher::start`).
pub(crate) type RemoteBlocks = Box<dyn Iterator<Item = Result<FetchedBlock, TaskFailure>>>;

/// One fetched remote block; dropping it gives its share of the fetch budget
/// back, so a fetcher's bound on bytes in flight covers blocks until they are consumed.
pub(crate) struct FetchedBlock {
    /// Which block.
    pub block: MapBlock,
    /// Its bytes, as the map task wrote them.
    pub bytes: Vec<u8>,
    /// What the fetcher holds for the block while it lives (its budget).
    pub _held: Option<Box<dyn Send>>,
}

/// The fetcher of a process with one executor: no other executor exists.
pub(crate) struct NoRemoteBlocks;

impl BlockFetcher for NoRemoteBlocks {
    fn start(&self, shuffle: ShuffleId, _reduce: u32, maps: &[MapBlock]) -> RemoteBlocks {
        let failure = maps.first().map(|m| TaskFailure::FetchFailed {
            shuffle,
            map: m.map,
            executor: m.executor,
            message: format!("{} is not reachable", m.executor),
        });
        Box::new(failure.map(Err).into_iter())
    }
}

/// Settings of one executor.
#[derive(Clone, Debug)]
pub(crate) struct ExecutorConfig {
    /// Its id.
    pub id: ExecutorId,
    /// Its private work directory (shuffle files, disk blocks).
    pub work_dir: PathBuf,
    /// Bytes a shuffle writer buffers before spilling.
    pub shuffle_spill_memory: usize,
    /// Target bytes of a batch pushed into guests.
    pub batch_bytes: usize,
    /// This process's object-store clients (`s3://` input splits and output).
    pub stores: Arc<crate::store::Stores>,
}

/// One executor: the runtime, a block manager and a work directory.
pub(crate) struct Executor {
    config: ExecutorConfig,
    runtime: Arc<Runtime>,
    /// The process's memory budget (shared by the executors of the applications it serves).
    memory: Arc<MemoryManager>,
    blocks: Arc<BlockManager>,
    fetcher: Arc<dyn BlockFetcher>,
    /// Test-only fault rules (`WISP_TEST_FAULTS`).
    #[cfg(any(test, feature = "testing"))]
    faults: Option<Arc<TestFaults>>,
    /// Numbers scratch directories: task ids repeat across the applications sharing a cluster executor.
    scratch_seq: AtomicU64,
}

/// Everything a running task accumulates besides its records.
pub(crate) struct TaskState<'a> {
    pub(crate) executor: &'a Executor,
    pub(crate) task: &'a TaskDesc,
    pub(crate) cancel: Arc<AtomicBool>,
    pub(crate) metrics: TaskMetrics,
    pub(crate) cached: Vec<crate::task::BlockId>,
    /// Where the metrics so far are published for heartbeats (cluster mode).
    pub(crate) live: Option<&'a LiveMetrics>,
    /// The task's sandbox, resolved when its first guest starts.
    sandbox: Option<Sandbox>,
    /// The broadcast variables its guests read and the accumulator updates they make.
    shared: Arc<TaskShared>,
    /// The task's memory account and spill directory (created on its first spill).
    pub(crate) spill: SpillSpace,
    /// The end of what its guests wrote (at most `TASK_LOG_BYTES`).
    pub(crate) log: String,
}

impl TaskState<'_> {
    /// The sandbox of the task's guests; creates its scratch directory the first time, if the job grants one.
    pub(crate) fn sandbox(&mut self) -> Result<&Sandbox, TaskFailure> {
        if self.sandbox.is_none() {
            let dir = self.executor.scratch_dir(self.task);
            let mut sandbox = self
                .executor
                .runtime
                .sandbox(&self.task.limits, Some(dir))
                .map_err(|e| guest_failure(e.to_string()))?;
            sandbox.account = Some(self.spill.account().clone());
            sandbox.shared = self.shared.clone();
            if let Some(dir) = &sandbox.scratch {
                std::fs::create_dir_all(dir)
                    .map_err(|e| io_failure("cannot create the scratch directory", dir, e))?;
            }
            self.sandbox = Some(sandbox);
        }
        Ok(self.sandbox.as_ref().expect("just set"))
    }

    /// Keeps what a guest wrote in the task's log (its end, bounded).
    pub(crate) fn keep_output(&mut self, output: &GuestOutput) {
        for bytes in [&output.stdout, &output.stderr] {
            if !bytes.is_empty() {
                self.log.push_str(&String::from_utf8_lossy(bytes));
            }
        }
        if self.log.len() > TASK_LOG_BYTES {
            let mut cut = self.log.len() - TASK_LOG_BYTES;
            while !self.log.is_char_boundary(cut) {
                cut += 1;
            }
            self.log.replace_range(..cut, "");
        }
    }

    /// Removes the scratch and spill directories, if they were made.
    fn clean_up(&mut self) {
        if let Some(dir) = self.sandbox.as_ref().and_then(|s| s.scratch.as_ref())
            && let Err(e) = std::fs::remove_dir_all(dir)
        {
            tracing::warn!(dir = %dir.display(), "cannot remove a task's scratch directory: {e}");
        }
        let spill = self.spill.dir();
        match std::fs::remove_dir_all(spill) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(dir = %spill.display(), "cannot remove a task's spill directory: {e}");
            }
            _ => {}
        }
    }

    /// Publishes the metrics so far (cheap: six relaxed stores).
    pub(crate) fn publish(&self) {
        if let Some(live) = self.live {
            live.store(&self.metrics);
        }
    }
}

/// A running task's metrics so far, readable from another thread (the executor's heartbeats).
///
/// The task thread publishes at batch boundaries of its inputs and when its
/// sink finishes; a reader sees a recent, not necessarily the latest, value.
#[derive(Debug, Default)]
pub(crate) struct LiveMetrics {
    counters: [AtomicU64; 6],
}

impl LiveMetrics {
    fn store(&self, m: &TaskMetrics) {
        let values = [
            m.records_read,
            m.bytes_read,
            m.records_written,
            m.bytes_written,
            m.shuffle_read_bytes,
            m.shuffle_write_bytes,
        ];
        for (c, v) in self.counters.iter().zip(values) {
            c.store(v, Ordering::Relaxed);
        }
    }

    /// The metrics last published.
    pub(crate) fn snapshot(&self) -> TaskMetrics {
        let [a, b, c, d, e, f] = &self.counters;
        let get = |x: &AtomicU64| x.load(Ordering::Relaxed);
        TaskMetrics {
            records_read: get(a),
            bytes_read: get(b),
            records_written: get(c),
            bytes_written: get(d),
            shuffle_read_bytes: get(e),
            shuffle_write_bytes: get(f),
            times: Default::default(),
        }
    }
}

impl Executor {
    /// Creates the executor and its work directory; its tasks and cached blocks draw on `memory`.
    pub(crate) fn new(
        config: ExecutorConfig,
        runtime: Arc<Runtime>,
        memory: Arc<MemoryManager>,
        fetcher: Arc<dyn BlockFetcher>,
    ) -> std::io::Result<Executor> {
        std::fs::create_dir_all(config.work_dir.join("shuffle"))?;
        // Spill runs of tasks a killed process ran are garbage.
        let _ = std::fs::remove_dir_all(config.work_dir.join("spill"));
        let blocks = BlockManager::new(config.work_dir.join("blocks"), memory.clone())?;
        Ok(Executor {
            config,
            runtime,
            memory,
            blocks,
            fetcher,
            #[cfg(any(test, feature = "testing"))]
            faults: None,
            scratch_seq: AtomicU64::new(0),
        })
    }

    /// Applies test-only fault rules to every task attempt it runs (`WISP_TEST_FAULTS`).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn with_test_faults(mut self, faults: Option<Arc<TestFaults>>) -> Executor {
        self.faults = faults;
        self
    }

    /// Its id.
    pub(crate) fn id(&self) -> ExecutorId {
        self.config.id
    }

    /// Where its shuffle files live.
    pub(crate) fn shuffle_dir(&self) -> PathBuf {
        self.config.work_dir.join("shuffle")
    }

    /// Its memory pool now.
    pub(crate) fn memory_use(&self) -> crate::memory::MemoryUse {
        self.memory.usage()
    }

    /// Its block manager.
    pub(crate) fn blocks(&self) -> &BlockManager {
        &self.blocks
    }

    pub(crate) fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    pub(crate) fn config(&self) -> &ExecutorConfig {
        &self.config
    }

    pub(crate) fn fetcher(&self) -> &Arc<dyn BlockFetcher> {
        &self.fetcher
    }

    /// Runs one task attempt to completion (or failure) on this thread.
    pub(crate) fn run_task(&self, task: &TaskDesc, cancel: Arc<AtomicBool>) -> TaskReport {
        self.run_task_live(task, cancel, None)
    }

    /// `run_task`, publishing the metrics so far to `live` as the task runs.
    pub(crate) fn run_task_live(
        &self,
        task: &TaskDesc,
        cancel: Arc<AtomicBool>,
        live: Option<&LiveMetrics>,
    ) -> TaskReport {
        let started = Instant::now();
        let a = &task.id;
        let _stage = a.stage_span().entered();
        let span = tracing::debug_span!(
            "task",
            task = %a.task,
            partition = a.partition,
            attempt = a.attempt
        );
        let _enter = span.enter();
        #[cfg(any(test, feature = "testing"))]
        let before = match &self.faults {
            Some(f) => f.before(task, &cancel, &self.shuffle_dir()),
            None => Ok(()),
        };
        #[cfg(not(any(test, feature = "testing")))]
        let before: Result<(), TaskFailure> = Ok(());
        let mut state = TaskState {
            executor: self,
            task,
            cancel,
            metrics: TaskMetrics::default(),
            cached: Vec::new(),
            live,
            sandbox: None,
            shared: Arc::new(TaskShared::new(&task.shared)),
            spill: SpillSpace::new(self.spill_dir(task), Arc::new(self.memory.task())),
            log: String::new(),
        };
        let result = match before {
            // Killed before it started (queued behind other tasks): nothing to run.
            Ok(()) if state.cancel.load(Ordering::Relaxed) => Err(TaskFailure::Killed),
            Ok(()) => sinks::run(&mut state),
            Err(f) => Err(f),
        };
        state.publish();
        state.clean_up();
        let result = result.map_err(|f| with_output(f, &state.log));
        #[cfg(any(test, feature = "testing"))]
        let result = match self
            .faults
            .as_ref()
            .and_then(|f| f.after(task, result.is_ok(), &self.shuffle_dir()))
        {
            Some(failure) => Err(failure),
            None => result,
        };
        if let Err(f) = &result {
            tracing::debug!(failure = %f.message(), "task failed");
        }
        tracing::trace!(elapsed_us = started.elapsed().as_micros() as u64, "task done");
        // A failed attempt's updates never count.
        let accumulators = if result.is_ok() { state.shared.take_updates() } else { Vec::new() };
        TaskReport {
            accumulators,
            task: task.id.task,
            executor: self.config.id,
            result,
            cached: state.cached,
            metrics: state.metrics,
            log: state.log,
        }
    }

    /// A new scratch directory's path for a task attempt (created only if its job grants one).
    fn scratch_dir(&self, task: &TaskDesc) -> PathBuf {
        let n = self.scratch_seq.fetch_add(1, Ordering::Relaxed);
        self.config.work_dir.join("scratch").join(format!("{n}-task-{}", task.id.task.0))
    }

    /// A new spill directory's path for a task attempt (created on its first spill).
    fn spill_dir(&self, task: &TaskDesc) -> PathBuf {
        let n = self.scratch_seq.fetch_add(1, Ordering::Relaxed);
        self.config.work_dir.join("spill").join(format!("{n}-task-{}", task.id.task.0))
    }

    /// Removes this executor's work directory (shuffle files, disk blocks).
    pub(crate) fn remove_work_dir(&self) {
        let _ = std::fs::remove_dir_all(&self.config.work_dir);
    }
}

/// Where a task's records go, one batch at a time.
pub(crate) trait BatchSink {
    fn push(&mut self, batch: &Batch) -> Result<(), TaskFailure>;
}

/// A guest failure shows the last line the task's guests wrote, unless the message already has it.
fn with_output(failure: TaskFailure, log: &str) -> TaskFailure {
    let TaskFailure::Guest { message } = failure else { return failure };
    // Rust's panic hint is noise here: backtraces are not captured.
    let Some(last) = log
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
    else {
        return TaskFailure::Guest { message };
    };
    let last: String = last.chars().take(200).collect();
    if message.contains(&last) {
        return TaskFailure::Guest { message };
    }
    TaskFailure::Guest { message: format!("{message}; last output: {last}") }
}

pub(crate) fn guest_failure(message: impl Into<String>) -> TaskFailure {
    TaskFailure::Guest { message: message.into() }
}

/// A failure of the executor rather than of the task's code or data (disk, IO): retried elsewhere.
pub(crate) fn host_failure(message: impl Into<String>) -> TaskFailure {
    TaskFailure::Host { message: message.into() }
}

pub(crate) fn io_failure(what: &str, path: &Path, e: std::io::Error) -> TaskFailure {
    host_failure(format!("{what} {}: {e}", path.display()))
}
