//! The WebAssembly runtime: one shared `Engine` per process, compiled components cached by content hash.
//!
//! `Runtime` owns the engine (pooling allocator, epoch interruption), the
//! linker (WASI p2, sandboxed, plus the `driver` interface that only a job's
//! main may use) and the component cache. Executors create a fresh `Store`
//! per guest task from a cached `InstancePre` (`guest_task`); the driver
//! instantiates a job's main once (`job_main`).

mod bindings;
pub(crate) mod guest_task;
mod host_state;
mod job_main;
mod validate;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use guest_task::GuestTask;
pub use host_state::{DriverHandle, HostState};
pub use job_main::{JobMainError, check_job, run_job_main, run_job_main_with_stdout};
pub use validate::{ComponentError, check_header};

use bindings::PipelineExports;
pub(crate) use bindings::job as job_bindings;

use crate::config::{self, Conf, ConfigError};
use crate::task::ComponentBytes;

/// How long one epoch tick lasts; task deadlines are counted in ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits applied to every guest task's store.
#[derive(Clone, Debug)]
pub struct TaskLimits {
    /// Largest linear memory of one guest task, in bytes (`wisp.task.memory`).
    pub memory: usize,
    /// Wall-time limit of one guest task (`wisp.task.timeout`), if any.
    pub timeout: Option<Duration>,
    /// Bytes of guest stdout/stderr kept per task.
    pub output_capture: usize,
}

impl Default for TaskLimits {
    fn default() -> Self {
        TaskLimits { memory: 1 << 30, timeout: None, output_capture: 1 << 20 }
    }
}

impl TaskLimits {
    /// Limits from `wisp.task.memory` and `wisp.task.timeout`, with the defaults above.
    pub fn from_conf(conf: &Conf) -> Result<TaskLimits, ConfigError> {
        let d = TaskLimits::default();
        let memory = conf.get_bytes(config::TASK_MEMORY, d.memory as u64)?.clamp(1 << 20, 4 << 30) as usize;
        let timeout = match conf.get(config::TASK_TIMEOUT) {
            None => None,
            Some(_) => Some(conf.get_duration(config::TASK_TIMEOUT, Duration::ZERO)?).filter(|t| !t.is_zero()),
        };
        Ok(TaskLimits { memory, timeout, ..d })
    }

    /// The time limit in epoch ticks (effectively unlimited without a timeout).
    pub(crate) fn deadline_ticks(&self) -> u64 {
        self.timeout.map_or(u64::MAX / 2, |t| (t.as_nanos() / EPOCH_TICK.as_nanos()).max(1) as u64)
    }
}

/// A compiled component ready to instantiate.
pub struct LoadedComponent {
    /// The content hash (sha256 hex).
    pub hash: String,
    /// The compiled component.
    pub component: Component,
    /// Imports resolved once; instantiation per task starts here.
    pub pre: InstancePre<HostState>,
    /// The pipeline's exported functions.
    pub(crate) pipeline: PipelineExports,
}

/// A cache slot: filled once by the first thread that needs the component.
type CacheSlot = Arc<OnceLock<Result<Arc<LoadedComponent>, ComponentError>>>;

/// The process-wide wasm runtime.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: Mutex<HashMap<String, CacheSlot>>,
    disk_cache: Option<PathBuf>,
    limits: TaskLimits,
    ticker_stop: Arc<AtomicBool>,
    ticker: Mutex<Option<JoinHandle<()>>>,
}

impl Runtime {
    /// Creates the engine, the linker and the epoch ticker.
    pub fn new(limits: TaskLimits, disk_cache: Option<PathBuf>) -> Result<Arc<Runtime>, ComponentError> {
        let mut cfg = Config::new();
        cfg.epoch_interruption(true);
        cfg.wasm_component_model(true);
        let mut pool = PoolingAllocationConfig::default();
        // Slots for every guest store alive at once: task threads x guest steps per task, plus the job main.
        pool.total_component_instances(256)
            .total_core_instances(1024)
            .total_memories(512)
            .total_tables(1024)
            .total_stacks(256)
            .max_memory_size(limits.memory.max(64 << 20))
            .linear_memory_keep_resident(4 << 20)
            .table_keep_resident(64 << 10)
            .pagemap_scan(wasmtime::Enabled::Auto);
        cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&cfg).map_err(|e| ComponentError::Engine { message: format!("{e:#}") })?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| ComponentError::Engine { message: format!("{e:#}") })?;
        bindings::add_driver_to_linker(&mut linker)?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let engine = engine.clone();
            let stop = ticker_stop.clone();
            std::thread::Builder::new()
                .name("wisp-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| ComponentError::Engine { message: e.to_string() })?
        };
        Ok(Arc::new(Runtime {
            engine,
            linker,
            cache: Mutex::new(HashMap::new()),
            disk_cache,
            limits,
            ticker_stop,
            ticker: Mutex::new(Some(ticker)),
        }))
    }

    /// The shared engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The per-task limits.
    pub fn limits(&self) -> &TaskLimits {
        &self.limits
    }

    /// The compiled form of a component, compiling it at most once per process.
    pub fn load(&self, bytes: &ComponentBytes) -> Result<Arc<LoadedComponent>, ComponentError> {
        let cell = {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.entry(bytes.hash.clone()).or_default().clone()
        };
        cell.get_or_init(|| self.compile(bytes).map(Arc::new)).clone()
    }

    fn compile(&self, bytes: &ComponentBytes) -> Result<LoadedComponent, ComponentError> {
        check_header(&bytes.bytes)?;
        let component = self.compile_cached(bytes)?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| validate::link_error(&e))?;
        // Every component Wisp runs exports the pipeline.
        let pipeline = PipelineExports::find(&component)?;
        tracing::debug!(hash = %bytes.hash, "component compiled");
        Ok(LoadedComponent { hash: bytes.hash.clone(), component, pre, pipeline })
    }

    fn compile_cached(&self, bytes: &ComponentBytes) -> Result<Component, ComponentError> {
        let invalid = |e: wasmtime::Error| ComponentError::Invalid { message: validate::root_message(&e) };
        let Some(dir) = &self.disk_cache else {
            return Component::new(&self.engine, &bytes.bytes).map_err(invalid);
        };
        let mut h = Sha256::new();
        h.update(bytes.hash.as_bytes());
        std::hash::Hash::hash(&self.engine.precompile_compatibility_hash(), &mut HashWriter(&mut h));
        let key = hex(&h.finalize()[..16]);
        let path = dir.join(format!("{key}.cwasm"));
        if path.exists() {
            // SAFETY: the cache directory is ours and files are published by rename after a
            // successful precompile with an engine of the same compatibility hash (part of the key).
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "ignoring unusable compile cache entry: {e}")
                }
            }
        }
        let artifact = self.engine.precompile_component(&bytes.bytes).map_err(invalid)?;
        if std::fs::create_dir_all(dir).is_ok() {
            let tmp = dir.join(format!(".{key}.{}.tmp", std::process::id()));
            if std::fs::write(&tmp, &artifact).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
        }
        // SAFETY: `artifact` was just produced by `precompile_component` on this engine.
        unsafe { Component::deserialize(&self.engine, &artifact) }.map_err(invalid)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

/// Hashes a component's bytes (lowercase hex sha256).
pub fn content_hash(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::hash::Hasher for HashWriter<'_> {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}
