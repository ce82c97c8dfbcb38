//! The executors the task scheduler places tasks on: cores, hosts, racks, data roots, and which executors have a free slot.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use crate::ids::ExecutorId;

#[derive(Debug)]
pub(crate) struct ExecutorSlot {
    pub(crate) host: String,
    /// The rack it declared (`wisp executor --rack`).
    pub(crate) rack: Option<String>,
    /// Directories its host reads locally (`wisp executor --data-root`).
    pub(crate) data_roots: Vec<PathBuf>,
    pub(crate) cores: u32,
    pub(crate) free: u32,
}

/// Registered executors, their hosts, and the executors with room for a task.
#[derive(Debug)]
pub(crate) struct ExecutorPool {
    /// Cores each task occupies.
    pub(crate) cpus: u32,
    pub(crate) executors: BTreeMap<ExecutorId, ExecutorSlot>,
    /// Registered executors per host, and the host's rack (the last one an
    /// executor on it declared).
    hosts: FxHashMap<String, HostEntry>,
    /// Registered executors per rack.
    racks: FxHashMap<String, u32>,
    /// Executors that announced data roots, ascending.
    rooted: BTreeSet<ExecutorId>,
    /// Executors with at least `cpus` free cores, ascending (offers go in this order).
    free: BTreeSet<ExecutorId>,
}

#[derive(Debug, Default)]
struct HostEntry {
    executors: u32,
    rack: Option<String>,
}

/// Where an executor runs and what it reads locally, as it declared at registration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutorPlace {
    /// Its host name.
    pub host: String,
    /// Its rack, if it declared one.
    pub rack: Option<String>,
    /// Directories its host holds locally: input splits below them prefer this host.
    pub data_roots: Vec<PathBuf>,
}

impl ExecutorPool {
    pub(crate) fn new(cpus: u32) -> ExecutorPool {
        ExecutorPool {
            cpus,
            executors: BTreeMap::new(),
            hosts: FxHashMap::default(),
            racks: FxHashMap::default(),
            rooted: BTreeSet::new(),
            free: BTreeSet::new(),
        }
    }

    /// Registers (or re-registers) an executor with `busy` cores in use; returns its previous host.
    pub(crate) fn add(
        &mut self,
        executor: ExecutorId,
        place: ExecutorPlace,
        cores: u32,
        busy: u32,
    ) -> Option<String> {
        let old = self.remove(executor).map(|s| s.host);
        let ExecutorPlace { host, rack, data_roots } = place;
        let entry = self.hosts.entry(host.clone()).or_default();
        entry.executors += 1;
        if let Some(rack) = &rack {
            entry.rack = Some(rack.clone());
            *self.racks.entry(rack.clone()).or_default() += 1;
        }
        if !data_roots.is_empty() {
            self.rooted.insert(executor);
        }
        self.executors.insert(
            executor,
            ExecutorSlot { host, rack, data_roots, cores, free: cores.saturating_sub(busy) },
        );
        self.refresh(executor);
        old
    }

    pub(crate) fn remove(&mut self, executor: ExecutorId) -> Option<ExecutorSlot> {
        let slot = self.executors.remove(&executor)?;
        self.free.remove(&executor);
        self.rooted.remove(&executor);
        if let Some(h) = self.hosts.get_mut(&slot.host) {
            h.executors -= 1;
            if h.executors == 0 {
                self.hosts.remove(&slot.host);
            }
        }
        if let Some(rack) = &slot.rack
            && let Some(n) = self.racks.get_mut(rack)
        {
            *n -= 1;
            if *n == 0 {
                self.racks.remove(rack);
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

    /// The rack of an executor (as it declared it).
    pub(crate) fn rack_of(&self, executor: ExecutorId) -> Option<&str> {
        self.executors.get(&executor)?.rack.as_deref()
    }

    /// The rack of a host with executors (the last rack one of them declared).
    /// A rack named here has a live executor.
    pub(crate) fn rack_of_host(&self, host: &str) -> Option<&str> {
        let rack = self.hosts.get(host)?.rack.as_deref()?;
        self.racks.contains_key(rack).then_some(rack)
    }

    /// The hosts of executors that announced a data root containing `path`
    /// (compared component by component, no file system access), by executor id, without repeats.
    pub(crate) fn hosts_reading(&self, path: &Path) -> Vec<&str> {
        let mut hosts: Vec<&str> = Vec::new();
        for e in &self.rooted {
            let slot = &self.executors[e];
            if !hosts.contains(&slot.host.as_str())
                && slot.data_roots.iter().any(|r| path.starts_with(r))
            {
                hosts.push(&slot.host);
            }
        }
        hosts
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
