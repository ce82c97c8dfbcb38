//! A store's resource limiter: the sandbox's limits, and its linear memory counted in its task's memory account.

use std::sync::Arc;

use wasmtime::{ResourceLimiter, StoreLimits};

use crate::memory::TaskMemory;

/// Limits one store: wasmtime's `StoreLimits` (memory size, instances,
/// tables), and every memory growth counted in the task's account, so that
/// guests count against their executor's budget (host operators then spill
/// sooner). What it counted is given back when the store drops.
pub(crate) struct GuestLimiter {
    limits: StoreLimits,
    account: Option<Arc<TaskMemory>>,
    charged: u64,
}

impl GuestLimiter {
    /// Limits `limits`, charging memory growth to `account` if given.
    pub(crate) fn new(limits: StoreLimits, account: Option<Arc<TaskMemory>>) -> GuestLimiter {
        GuestLimiter { limits, account, charged: 0 }
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if !self.limits.memory_growing(current, desired, maximum)? {
            return Ok(false);
        }
        if let Some(account) = &self.account {
            let delta = desired.saturating_sub(current) as u64;
            account.acquire_guest(delta);
            self.charged += delta;
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
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

impl Drop for GuestLimiter {
    fn drop(&mut self) {
        if let Some(account) = &self.account {
            account.release_guest(self.charged);
        }
    }
}
