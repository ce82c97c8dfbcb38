//! The executors the task scheduler places tasks on: cores, hosts, and which executors have a free slot.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use crate::ids::ExecutorId;

#[derive(Debug)]
pub(crate) struct ExecutorSlot {
    pub(crate) host: String,
    pub(crate) cores: u32,
    pub(crate) free: u32,
}

/// Registered executors, their hosts, and the executors with room for a task.
#[derive(Debug)]
pub(crate) struct Cluster {
    /// Cores each task occupies.
    pub(crate) cpus: u32,
    pub(crate) executors: BTreeMap<ExecutorId, ExecutorSlot>,
    /// Registered executors per host.
    hosts: FxHashMap<String, u32>,
    /// Executors with at least `cpus` free cores, ascending (offers go in this order).
    free: BTreeSet<ExecutorId>,
}

impl Cluster {
    pub(crate) fn new(cpus: u32) -> Cluster {
        Cluster { cpus, executors: BTreeMap::new(), hosts: FxHashMap::default(), free: BTreeSet::new() }
    }

    /// Registers (or re-registers) an executor with `busy` cores in use; returns its previous host.
    pub(crate) fn add(&mut self, executor: ExecutorId, host: String, cores: u32, busy: u32) -> Option<String> {
        let old = self.remove(executor).map(|s| s.host);
        *self.hosts.entry(host.clone()).or_default() += 1;
        self.executors.insert(executor, ExecutorSlot { host, cores, free: cores.saturating_sub(busy) });
        self.refresh(executor);
        old
    }

    pub(crate) fn remove(&mut self, executor: ExecutorId) -> Option<ExecutorSlot> {
        let slot = self.executors.remove(&executor)?;
        self.free.remove(&executor);
        if let Some(n) = self.hosts.get_mut(&slot.host) {
            *n -= 1;
            if *n == 0 {
                self.hosts.remove(&slot.host);
            }
        }
        Some(slot)
    }

    fn refresh(&mut self, executor: ExecutorId) {
        match self.executors.get(&executor) {
            Some(s) if s.free >= self.cpus => self.free.insert(executor),
            _ => self.free.remove(&executor),
        };
    }

    /// Takes the cores of one task.
    pub(crate) fn take(&mut self, executor: ExecutorId) {
        let slot = self.executors.get_mut(&executor).expect("offered executors are registered");
        slot.free -= self.cpus;
        self.refresh(executor);
    }

    /// Gives back the cores of one task.
    pub(crate) fn give(&mut self, executor: ExecutorId) {
        if let Some(slot) = self.executors.get_mut(&executor) {
            slot.free = (slot.free + self.cpus).min(slot.cores);
            self.refresh(executor);
        }
    }

    pub(crate) fn host_of(&self, executor: ExecutorId) -> Option<&str> {
        self.executors.get(&executor).map(|s| s.host.as_str())
    }

    /// Whether some executor runs on `host`.
    pub(crate) fn host_alive(&self, host: &str) -> bool {
        self.hosts.contains_key(host)
    }

    /// Number of hosts with executors.
    pub(crate) fn host_count(&self) -> usize {
        self.hosts.len()
    }

    /// Executors big enough for a task.
    pub(crate) fn usable(&self) -> impl Iterator<Item = ExecutorId> + '_ {
        self.executors.iter().filter(|(_, s)| s.cores >= self.cpus).map(|(e, _)| *e)
    }

    /// Executors with room for a task, ascending.
    pub(crate) fn free_executors(&self) -> Vec<ExecutorId> {
        self.free.iter().copied().collect()
    }

    pub(crate) fn has_free(&self) -> bool {
        !self.free.is_empty()
    }

    pub(crate) fn is_free(&self, executor: ExecutorId) -> bool {
        self.free.contains(&executor)
    }
}
