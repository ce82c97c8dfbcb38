//! What the cluster holds: map outputs per shuffle and cached block locations, kept across jobs.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::ids::{ExecutorId, RddId, ShuffleId};
use crate::task::BlockId;

/// Where one map task's output lives and how big each reduce partition's block is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapStatus {
    /// The executor that wrote (and serves) the output.
    pub executor: ExecutorId,
    /// Bytes per reduce partition.
    pub sizes: Vec<u64>,
}

#[derive(Debug)]
struct ShuffleOutputs {
    statuses: Vec<Option<MapStatus>>,
    available: usize,
}

/// Map statuses of every shuffle (Spark's `MapOutputTracker`), with the
/// epoch of output losses.
///
/// The epoch counts losses: it grows each time the outputs of an executor are
/// found lost (the executor is lost, or a fetch from it failed), and every
/// output of that executor, in every shuffle, is forgotten at once. Task
/// attempts carry the epoch current at their launch; what an attempt launched
/// before an executor's latest loss says about that executor's outputs (a map
/// status it wrote there, a fetch failure naming it) is stale, as decided by
/// `predates_loss` alone.
#[derive(Debug, Default)]
pub struct MapOutputs {
    shuffles: FxHashMap<ShuffleId, ShuffleOutputs>,
    epoch: u64,
    /// The epoch each executor's outputs were last lost at.
    lost_at: FxHashMap<ExecutorId, u64>,
}

impl MapOutputs {
    /// Declares a shuffle with `maps` map partitions (no-op if known).
    pub(crate) fn register_shuffle(&mut self, shuffle: ShuffleId, maps: u32) {
        self.shuffles.entry(shuffle).or_insert_with(|| ShuffleOutputs {
            statuses: vec![None; maps as usize],
            available: 0,
        });
    }

    /// The current epoch (0 until outputs are first lost).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Whether an attempt launched at `epoch` predates the latest loss of
    /// `executor`'s outputs: then the outputs it knows of there are gone. The
    /// one place output staleness is decided.
    pub fn predates_loss(&self, executor: ExecutorId, epoch: u64) -> bool {
        self.lost_at.get(&executor).is_some_and(|&lost| epoch < lost)
    }

    /// Records the output of a map task launched at `epoch` (replacing an
    /// older one); returns false, registering nothing, if its executor's
    /// outputs were lost since the launch.
    pub(crate) fn register(
        &mut self,
        shuffle: ShuffleId,
        map: u32,
        status: MapStatus,
        epoch: u64,
    ) -> bool {
        if self.predates_loss(status.executor, epoch) {
            return false;
        }
        let Some(s) = self.shuffles.get_mut(&shuffle) else {
            return false;
        };
        let Some(slot) = s.statuses.get_mut(map as usize) else {
            return false;
        };
        if slot.is_none() {
            s.available += 1;
        }
        *slot = Some(status);
        true
    }

    /// Forgets every output on `executor`, in every shuffle, as seen by an
    /// attempt launched at `epoch` (pass `epoch()` for what is known now),
    /// and starts a new epoch. Returns the number of outputs forgotten, or
    /// `None` when they were already lost since `epoch` (nothing changes:
    /// outputs registered there since are newer than what the attempt saw).
    pub(crate) fn executor_lost(&mut self, executor: ExecutorId, epoch: u64) -> Option<usize> {
        if self.predates_loss(executor, epoch) {
            return None;
        }
        self.epoch += 1;
        self.lost_at.insert(executor, self.epoch);
        let mut lost = 0;
        for s in self.shuffles.values_mut() {
            for slot in s.statuses.iter_mut() {
                if slot.as_ref().is_some_and(|m| m.executor == executor) {
                    *slot = None;
                    s.available -= 1;
                    lost += 1;
                }
            }
        }
        Some(lost)
    }

    /// Whether every map output of a shuffle exists.
    pub fn is_available(&self, shuffle: ShuffleId) -> bool {
        self.shuffles.get(&shuffle).is_some_and(|s| s.available == s.statuses.len())
    }

    /// Map partitions without output, ascending.
    pub fn missing(&self, shuffle: ShuffleId) -> Vec<u32> {
        match self.shuffles.get(&shuffle) {
            None => Vec::new(),
            Some(s) => s
                .statuses
                .iter()
                .enumerate()
                .filter(|(_, m)| m.is_none())
                .map(|(i, _)| i as u32)
                .collect(),
        }
    }

    /// Every map slot of a shuffle (`None`: missing), by map partition.
    pub fn statuses(&self, shuffle: ShuffleId) -> &[Option<MapStatus>] {
        self.shuffles.get(&shuffle).map(|s| s.statuses.as_slice()).unwrap_or(&[])
    }
}

#[derive(Debug, Default)]
struct RddBlocks {
    /// Executors holding each partition (indexed by partition, grown on demand).
    locations: Vec<Vec<ExecutorId>>,
    /// Partitions held by at least one executor.
    cached: usize,
}

/// Locations of cached blocks (the driver side of Spark's `BlockManagerMaster`).
#[derive(Debug, Default)]
pub struct CacheRegistry {
    rdds: FxHashMap<RddId, RddBlocks>,
}

impl CacheRegistry {
    /// Records that `executor` holds `block`.
    pub(crate) fn add(&mut self, block: BlockId, executor: ExecutorId) {
        let r = self.rdds.entry(block.rdd).or_default();
        let p = block.partition as usize;
        if r.locations.len() <= p {
            r.locations.resize_with(p + 1, Vec::new);
        }
        let locs = &mut r.locations[p];
        if !locs.contains(&executor) {
            if locs.is_empty() {
                r.cached += 1;
            }
            locs.push(executor);
        }
    }

    /// Executors holding a block.
    pub fn locations(&self, block: BlockId) -> &[ExecutorId] {
        self.rdds
            .get(&block.rdd)
            .and_then(|r| r.locations.get(block.partition as usize))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Whether every partition `0..partitions` of an RDD is held somewhere.
    pub fn fully_cached(&self, rdd: RddId, partitions: u32) -> bool {
        self.rdds.get(&rdd).is_some_and(|r| {
            r.cached >= partitions as usize
                && r.locations.iter().take(partitions as usize).all(|l| !l.is_empty())
        })
    }

    /// Forgets every block on an executor; returns whether any was lost.
    pub(crate) fn remove_executor(&mut self, executor: ExecutorId) -> bool {
        let mut any = false;
        for r in self.rdds.values_mut() {
            for locs in r.locations.iter_mut() {
                if let Some(i) = locs.iter().position(|e| *e == executor) {
                    locs.remove(i);
                    any = true;
                    if locs.is_empty() {
                        r.cached -= 1;
                    }
                }
            }
        }
        any
    }

    /// Forgets an RDD's blocks; returns them grouped by the executors holding them.
    pub(crate) fn forget(&mut self, rdd: RddId) -> BTreeMap<ExecutorId, Vec<BlockId>> {
        let mut by_executor: BTreeMap<ExecutorId, Vec<BlockId>> = BTreeMap::new();
        if let Some(r) = self.rdds.remove(&rdd) {
            for (p, locs) in r.locations.into_iter().enumerate() {
                for e in locs {
                    by_executor.entry(e).or_default().push(BlockId { rdd, partition: p as u32 });
                }
            }
        }
        by_executor
    }
}
