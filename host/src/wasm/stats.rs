//! The runtime's counters for metrics: guest instantiations, compile cache hits and compiles, and guest linear memory in use (through a metering `ResourceLimiter`).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use wasmtime::{ResourceLimiter, StoreLimits};

use crate::memory::TaskMemory;

/// Process-wide counters of one `Runtime` (relaxed atomics: metrics, not synchronisation).
#[derive(Debug, Default)]
pub(crate) struct RuntimeStats {
    instantiations: AtomicU64,
    cache_hits: AtomicU64,
    compiles: AtomicU64,
    memory_bytes: AtomicI64,
    live_instances: AtomicI64,
}

/// The counters at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StatsSnapshot {
    pub(crate) instantiations: u64,
    pub(crate) cache_hits: u64,
    pub(crate) compiles: u64,
    pub(crate) memory_bytes: u64,
    pub(crate) live_instances: u64,
}

impl RuntimeStats {
    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            instantiations: self.instantiations.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            compiles: self.compiles.load(Ordering::Relaxed),
            memory_bytes: self.memory_bytes.load(Ordering::Relaxed).max(0) as u64,
            live_instances: self.live_instances.load(Ordering::Relaxed).max(0) as u64,
        }
    }

    pub(super) fn cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn compiled(&self) {
        self.compiles.fetch_add(1, Ordering::Relaxed);
    }
}

/// A store's limits that also account its linear memory (and itself, as a live instance) to
/// the runtime's stats, and its memory growth to its task's memory account (so guests count
/// against their executor's budget: host operators then spill sooner), until the store is dropped.
pub(crate) struct MeteredLimits {
    limits: StoreLimits,
    stats: Option<Arc<RuntimeStats>>,
    counted: i64,
    account: Option<Arc<TaskMemory>>,
}

impl MeteredLimits {
    /// `limits`, accounted to `stats` when given (a guest task's store; a job main's is not).
    pub(crate) fn new(limits: StoreLimits, stats: Option<Arc<RuntimeStats>>) -> MeteredLimits {
        if let Some(s) = &stats {
            s.instantiations.fetch_add(1, Ordering::Relaxed);
            s.live_instances.fetch_add(1, Ordering::Relaxed);
        }
        MeteredLimits { limits, stats, counted: 0, account: None }
    }

    /// Linear memory this store's instances hold now, bytes.
    pub(crate) fn memory_bytes(&self) -> u64 {
        self.counted.max(0) as u64
    }

    /// Counts memory growth in `account` too (a task's guest).
    pub(crate) fn with_account(mut self, account: Option<Arc<TaskMemory>>) -> MeteredLimits {
        self.account = account;
        self
    }
}

impl ResourceLimiter for MeteredLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = self.limits.memory_growing(current, desired, maximum)?;
        let grown = desired.saturating_sub(current) as i64;
        if ok && let Some(s) = &self.stats {
            s.memory_bytes.fetch_add(grown, Ordering::Relaxed);
        }
        if ok && let Some(account) = &self.account {
            account.acquire_guest(grown as u64);
        }
        if ok {
            self.counted += grown;
        }
        Ok(ok)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

impl Drop for MeteredLimits {
    fn drop(&mut self) {
        if let Some(s) = &self.stats {
            s.memory_bytes.fetch_sub(self.counted, Ordering::Relaxed);
            s.live_instances.fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(account) = &self.account {
            account.release_guest(self.counted as u64);
        }
    }
}
