//! The WebAssembly runtime: one shared `Engine` per process, compiled components cached by content hash.
//!
//! `Runtime` owns the engine (pooling allocator, epoch interruption), the
//! linker (WASI p2, sandboxed, plus the `driver` interface that only a job's
//! main may use) and the component cache. Executors create a fresh `Store`
//! per guest task from a cached `InstancePre` (`guest_instance`). A job main's
//! store gets its application's driver through the `Driver` trait object
//! (`host_state`); the runtime knows nothing of applications.

mod bindings;
mod capture;
pub(crate) mod guest_instance;
mod host_state;
mod no_driver;
mod shared_vars;
mod stats;
mod stop;
mod stoppable_io;
mod v0_1;
mod validate;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub(crate) use guest_instance::trap_message;
pub(crate) use guest_instance::{GuestError, GuestInstance, GuestOutput};
pub(crate) use host_state::HostState;
pub(crate) use shared_vars::TaskShared;
pub(crate) use stats::{MeteredLimits, RuntimeStats};
pub(crate) use validate::{ComponentError, check_header};
pub(crate) use validate::{one_line, root_message};

pub(crate) use crate::task::TaskLimits;

use bindings::PipelineExports;
pub(crate) use bindings::job as job_bindings;

use crate::memory::TaskMemory;
use crate::settings::keys;
use crate::task::{ComponentBytes, DEFAULT_TASK_MEMORY};

/// How long one epoch tick lasts: a running guest checks its cancel flag and deadline every tick.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// What one guest task may use: its job's `wisp.task.*` settings resolved against this process's.
#[derive(Clone, Debug)]
pub(crate) struct Sandbox {
    /// Largest linear memory, in bytes.
    pub memory: usize,
    /// Wall-time limit, if any.
    pub timeout: Option<Duration>,
    /// When that limit ends: `timeout` after the task's sandbox was resolved (its first guest start).
    pub deadline: Option<Instant>,
    /// Fuel budget, if metered.
    pub fuel: Option<u64>,
    /// Host directory preopened as `/scratch`, if the job asked for one.
    pub scratch: Option<PathBuf>,
    /// The task's memory account its guests' linear memory is charged to (none: not charged).
    pub account: Option<Arc<TaskMemory>>,
    /// The task's broadcast variables and accumulator updates.
    pub shared: Arc<TaskShared>,
}

/// A compiled component ready to instantiate.
pub(crate) struct LoadedComponent {
    /// Imports resolved once; instantiation per task starts here.
    pub pre: InstancePre<HostState>,
    /// The pipeline's exported functions.
    pub(crate) pipeline: PipelineExports,
}

/// A cache slot: filled once by the first thread that needs the component.
type CacheSlot = Arc<OnceLock<Result<Arc<LoadedComponent>, ComponentError>>>;

/// The process-wide wasm runtime.
pub(crate) struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: Mutex<HashMap<String, CacheSlot>>,
    disk_cache: Option<PathBuf>,
    /// This process's own `wisp.task.*` settings: the defaults of its tasks.
    defaults: TaskLimits,
    /// The largest memory any guest may get here (the pool's slot size).
    max_memory: usize,
    ticker_stop: Arc<AtomicBool>,
    ticker: Mutex<Option<JoinHandle<()>>>,
    /// Counters for metrics.
    stats: Arc<RuntimeStats>,
}

impl Runtime {
    /// Creates the engine, the linker and the epoch ticker. `defaults` are
    /// this process's `wisp.task.*` settings: its memory limit is also the most
    /// any job's guest gets here, and fuel is metered only when it sets `wisp.task.fuel`
    /// (metering costs every guest some speed).
    pub(crate) fn new(
        defaults: TaskLimits,
        disk_cache: Option<PathBuf>,
    ) -> Result<Arc<Runtime>, ComponentError> {
        let max_memory = defaults.memory.unwrap_or(DEFAULT_TASK_MEMORY) as usize;
        let mut cfg = Config::new();
        cfg.epoch_interruption(true);
        cfg.consume_fuel(defaults.fuel.is_some());
        cfg.wasm_component_model(true);
        let mut pool = PoolingAllocationConfig::default();
        // Slots for every guest store alive at once: task threads x guest steps per task, plus the job main.
        pool.total_component_instances(256)
            .total_core_instances(1024)
            .total_memories(512)
            .total_tables(1024)
            .total_stacks(256)
            .max_memory_size(max_memory.max(64 << 20))
            .linear_memory_keep_resident(4 << 20)
            .table_keep_resident(64 << 10)
            .pagemap_scan(wasmtime::Enabled::Auto);
        cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine =
            Engine::new(&cfg).map_err(|e| ComponentError::Engine { message: format!("{e:#}") })?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| ComponentError::Engine { message: format!("{e:#}") })?;
        stoppable_io::shadow_waits(&mut linker)?;
        host_state::add_driver_to_linker(&mut linker)?;
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
            defaults,
            max_memory,
            ticker_stop,
            ticker: Mutex::new(Some(ticker)),
            stats: Arc::default(),
        }))
    }

    /// The shared engine.
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The largest linear memory of any guest in this process (a job main's limit).
    pub(crate) fn max_memory(&self) -> usize {
        self.max_memory
    }

    /// The sandbox of a task of a job with these settings: unset values take
    /// this process's, memory never exceeds this process's limit.
    pub(crate) fn sandbox(
        &self,
        job: &TaskLimits,
        scratch: Option<PathBuf>,
    ) -> Result<Sandbox, GuestError> {
        let d = &self.defaults;
        let memory =
            job.memory.or(d.memory).map_or(self.max_memory, |m| (m as usize).min(self.max_memory));
        let timeout = job.timeout.or(d.timeout).filter(|t| !t.is_zero());
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let fuel = job.fuel.or(d.fuel);
        if fuel.is_some() && d.fuel.is_none() {
            return Err(GuestError::Failed {
                message: format!(
                    "{} is set but this executor does not meter fuel: start executors with --conf {}=N",
                    keys::TASK_FUEL,
                    keys::TASK_FUEL
                ),
            });
        }
        let scratch = if job.scratch || d.scratch { scratch } else { None };
        Ok(Sandbox {
            memory,
            timeout,
            deadline,
            fuel,
            scratch,
            account: None,
            shared: Arc::default(),
        })
    }

    /// Its counters (instantiations, compile cache, guest memory).
    pub(crate) fn stats(&self) -> &Arc<RuntimeStats> {
        &self.stats
    }

    /// Whether stores of this engine burn fuel.
    pub(crate) fn meters_fuel(&self) -> bool {
        self.defaults.fuel.is_some()
    }

    /// The compiled form of a component, compiling it at most once per process.
    pub(crate) fn load(
        &self,
        bytes: &ComponentBytes,
    ) -> Result<Arc<LoadedComponent>, ComponentError> {
        let cell = {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.entry(bytes.hash.clone()).or_default().clone()
        };
        if cell.get().is_some() {
            self.stats.cache_hit();
        }
        cell.get_or_init(|| self.compile(bytes).map(Arc::new)).clone()
    }

    fn compile(&self, bytes: &ComponentBytes) -> Result<LoadedComponent, ComponentError> {
        check_header(&bytes.bytes)?;
        let component = self.compile_cached(bytes)?;
        if let Some(theirs) = validate::other_wit_version(&component, &self.engine) {
            return Err(ComponentError::OtherVersion { theirs, ours: validate::WIT_VERSION });
        }
        let pre = self.linker.instantiate_pre(&component).map_err(|e| validate::link_error(&e))?;
        // Every component Wisp runs exports the pipeline.
        let pipeline = PipelineExports::find(&component)?;
        tracing::debug!(hash = %bytes.hash, "component compiled");
        Ok(LoadedComponent { pre, pipeline })
    }

    fn compile_cached(&self, bytes: &ComponentBytes) -> Result<Component, ComponentError> {
        let invalid = |e: wasmtime::Error| ComponentError::Invalid { message: root_message(&e) };
        let Some(dir) = &self.disk_cache else {
            self.stats.compiled();
            return Component::new(&self.engine, &bytes.bytes).map_err(invalid);
        };
        let mut h = Sha256::new();
        h.update(bytes.hash.as_bytes());
        std::hash::Hash::hash(
            &self.engine.precompile_compatibility_hash(),
            &mut HashWriter(&mut h),
        );
        let key = hex(&h.finalize()[..16]);
        let path = dir.join(format!("{key}.cwasm"));
        if path.exists() {
            // SAFETY: the cache directory is ours and files are published by rename after a
            // successful precompile with an engine of the same compatibility hash (part of the key).
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(c) => {
                    self.stats.cache_hit();
                    return Ok(c);
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), "ignoring unusable compile cache entry: {e}")
                }
            }
        }
        self.stats.compiled();
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
pub(crate) fn content_hash(bytes: &[u8]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(
        memory: Option<u64>,
        timeout: Option<Duration>,
        fuel: Option<u64>,
        scratch: bool,
    ) -> TaskLimits {
        TaskLimits { memory, timeout, fuel, scratch }
    }

    #[test]
    fn a_jobs_settings_override_the_process_defaults_but_never_its_memory_ceiling() {
        let rt =
            Runtime::new(limits(Some(256 << 20), Some(Duration::from_secs(60)), None, false), None)
                .unwrap();
        let dir = PathBuf::from("/tmp/scratch-x");
        let s = rt.sandbox(&TaskLimits::default(), Some(dir.clone())).unwrap();
        assert_eq!(
            (s.memory, s.timeout, s.fuel, s.scratch),
            (256 << 20, Some(Duration::from_secs(60)), None, None)
        );
        let s = rt
            .sandbox(
                &limits(Some(64 << 20), Some(Duration::from_secs(2)), None, true),
                Some(dir.clone()),
            )
            .unwrap();
        assert_eq!(
            (s.memory, s.timeout, s.scratch),
            (64 << 20, Some(Duration::from_secs(2)), Some(dir.clone()))
        );
        // The deadline is the timeout from now (the task's first guest start).
        let left = s.deadline.expect("a deadline").saturating_duration_since(Instant::now());
        assert!(left > Duration::from_secs(1) && left <= Duration::from_secs(2), "{left:?}");
        assert_eq!(
            rt.sandbox(&limits(None, Some(Duration::ZERO), None, false), None).unwrap().deadline,
            None
        );
        // More than the executor allows: its own limit.
        assert_eq!(
            rt.sandbox(&limits(Some(2 << 30), None, None, false), None).unwrap().memory,
            256 << 20
        );
        // A zero timeout means none.
        assert_eq!(
            rt.sandbox(&limits(None, Some(Duration::ZERO), None, false), None).unwrap().timeout,
            None
        );
        // Fuel needs an engine that meters it.
        let err = rt.sandbox(&limits(None, None, Some(1000), false), None).unwrap_err().to_string();
        assert!(err.contains("does not meter fuel") && err.contains("wisp.task.fuel"), "{err}");
        let metering = Runtime::new(limits(None, None, Some(5_000), false), None).unwrap();
        assert!(metering.meters_fuel() && !rt.meters_fuel());
        assert_eq!(metering.sandbox(&TaskLimits::default(), None).unwrap().fuel, Some(5_000));
        assert_eq!(
            metering.sandbox(&limits(None, None, Some(7), false), None).unwrap().fuel,
            Some(7)
        );
        assert_eq!(metering.max_memory(), DEFAULT_TASK_MEMORY as usize);
    }
}
