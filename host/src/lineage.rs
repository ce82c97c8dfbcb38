//! The lazy lineage graph: RDD nodes, their partitions and dependencies (pure data, no IO).

use std::path::PathBuf;
use std::sync::Arc;

use crate::ids::{ComponentId, RddId, ShuffleId};
use crate::records::Batch;

/// The shape of a guest function (mirror of the WIT `op-kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Map,
    Filter,
    FlatMap,
    MapPartitions,
    MapValues,
    FlatMapValues,
    KeyBy,
    Combine,
    Merge,
    Fold,
    Reduce,
}

impl OpKind {
    /// Whether the op sees one record at a time (so restarting its instance between records
    /// changes nothing of its output).
    pub fn is_record_wise(self) -> bool {
        matches!(
            self,
            OpKind::Map
                | OpKind::Filter
                | OpKind::FlatMap
                | OpKind::MapValues
                | OpKind::FlatMapValues
                | OpKind::KeyBy
        )
    }

    /// Whether records keep their keys (so a partitioner survives the op).
    pub fn preserves_keys(self) -> bool {
        matches!(
            self,
            OpKind::Filter
                | OpKind::MapValues
                | OpKind::FlatMapValues
                | OpKind::Combine
                | OpKind::Merge
        )
    }
}

/// One guest transformation step (mirror of the WIT `op`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// The function's shape.
    pub kind: OpKind,
    /// The function's registered name in its component.
    pub name: String,
    /// Serialized parameters, opaque to the host.
    pub args: Vec<u8>,
}

/// Consecutive ops of one component, run as one guest task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestOps {
    /// Which loaded component exports the functions.
    pub component: ComponentId,
    /// The ops, in order.
    pub ops: Vec<Op>,
}

/// How a shuffle assigns a record to a reduce partition.
#[derive(Clone, Debug, PartialEq)]
pub enum Partitioner {
    /// Hash of the pair's key bytes modulo the partition count.
    Hash { partitions: u32 },
    /// Range partitioning by key bytes: partition `i` holds keys `<= bounds[i]`
    /// (ascending) and the last partition the rest.
    Range { bounds: Vec<Vec<u8>>, ascending: bool },
    /// Hash of the whole record (for `distinct`).
    RecordHash { partitions: u32 },
    /// Records dealt round-robin from a per-map-task starting point (for `repartition`).
    RoundRobin { partitions: u32 },
}

impl Partitioner {
    /// Number of reduce partitions.
    pub fn partitions(&self) -> u32 {
        match self {
            Partitioner::Hash { partitions }
            | Partitioner::RecordHash { partitions }
            | Partitioner::RoundRobin { partitions } => *partitions,
            Partitioner::Range { bounds, .. } => bounds.len() as u32 + 1,
        }
    }
}

/// What a shuffle-map task does to its output before partitioning it.
#[derive(Clone, Debug, PartialEq)]
pub enum MapSideCombine {
    /// Nothing: every record is shuffled.
    None,
    /// A guest `combine` op (map-side combine of an aggregator).
    Guest(GuestOps),
    /// Drop duplicate records (for `distinct`).
    Distinct,
}

/// A shuffle dependency: the parent's records are repartitioned by a partitioner.
#[derive(Clone, Debug, PartialEq)]
pub struct ShuffleDep {
    /// Identifies the map output, reused by every job that needs it.
    pub shuffle: ShuffleId,
    /// The RDD whose partitions the map tasks compute.
    pub parent: RddId,
    /// Where each record goes.
    pub partitioner: Partitioner,
    /// What map tasks do before writing.
    pub map_side: MapSideCombine,
}

/// What a reduce task does with the records it fetched for one shuffle.
#[derive(Clone, Debug, PartialEq)]
pub enum ReduceSide {
    /// Pass records through (repartition, partition-by).
    None,
    /// A guest op (`merge` of combiners, or `combine` when there was no map-side combine).
    Guest(GuestOps),
    /// Group values by key: `(k, list<v>)`.
    Group,
    /// Sort by key bytes.
    Sort { ascending: bool },
    /// Drop duplicate records.
    Distinct,
}

/// What follows the grouping of several shuffled inputs by key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CogroupOutput {
    /// `(k, (list<v1>, list<v2>, ...))`.
    Cogroup,
    /// The join of two inputs, flattened to one pair per match.
    Join(JoinKind),
}

/// The flavour of a join (mirror of the WIT `join-kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    LeftOuter,
    RightOuter,
    FullOuter,
}

/// How a cogroup reads one of its inputs (Spark's `CoGroupedRDD` dependencies).
#[derive(Clone, Debug, PartialEq)]
pub enum CogroupDep {
    /// The input is shuffled into the cogroup's partitioner.
    Shuffle(ShuffleDep),
    /// The input already follows the cogroup's partitioner: partition `i`
    /// reads the parent's partition `i` (one-to-one, no shuffle).
    Narrow(RddId),
}

impl CogroupDep {
    /// The shuffle dependency, if the input is shuffled.
    pub fn shuffle(&self) -> Option<&ShuffleDep> {
        match self {
            CogroupDep::Shuffle(dep) => Some(dep),
            CogroupDep::Narrow(_) => None,
        }
    }

    /// The parent RDD read by this input.
    pub fn parent(&self) -> RddId {
        match self {
            CogroupDep::Shuffle(dep) => dep.parent,
            CogroupDep::Narrow(parent) => *parent,
        }
    }
}

/// A byte range of one input file; lines starting inside it belong to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSplit {
    /// The file.
    pub path: PathBuf,
    /// First byte of the range.
    pub start: u64,
    /// End of the range (exclusive).
    pub end: u64,
}

/// How a `Files` source turns file bytes into records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// The lines a split owns as `bytes` records: no U+FFFD replacement (`binary-lines`).
    RawLines,
    /// One `(path, content)` pair of strings per whole file (`whole-text-files`).
    WholeText,
    /// `u32le length ++ bytes` framed records, one whole file per split (checkpoints).
    Records,
}

impl FileFormat {
    /// Every format, in the order of their wire numbers.
    pub const ALL: [FileFormat; 3] =
        [FileFormat::RawLines, FileFormat::WholeText, FileFormat::Records];
}

/// A record-level step the host runs itself, without guest code.
#[derive(Clone, Debug, PartialEq)]
pub enum HostStep {
    /// Bernoulli or Poisson sampling seeded per partition.
    Sample { with_replacement: bool, fraction: f64, seed: u64 },
}

/// A narrow transformation.
#[derive(Clone, Debug, PartialEq)]
pub enum NarrowStep {
    /// Guest ops of one component.
    Guest(GuestOps),
    /// A host step.
    Host(HostStep),
}

/// How the partitions of an RDD are computed.
#[derive(Clone, Debug)]
pub enum RddKind {
    /// Lines of input files, one partition per split.
    TextFile { splits: Vec<FileSplit> },
    /// Records given by the driver, one slice per partition.
    Parallel { slices: Vec<Arc<Batch>> },
    /// Files read in `format`: partition `i` reads `parts[i]` (a checkpoint's
    /// files, raw lines, whole files).
    Files { format: FileFormat, parts: Vec<Vec<FileSplit>> },
    /// A narrow step applied to each partition of the parent.
    Narrow { parent: RddId, step: NarrowStep },
    /// The partitions of every parent, in order.
    Union { parents: Vec<RddId> },
    /// Partition `i` is the concatenation of the parent partitions `groups[i]`.
    Coalesce { parent: RddId, groups: Vec<Vec<u32>> },
    /// The output of one shuffle, read per reduce partition.
    Shuffled { dep: ShuffleDep, reduce: ReduceSide },
    /// Several inputs with the same partitioner (each shuffled, or already
    /// partitioned that way), grouped by key.
    CoGrouped { deps: Vec<CogroupDep>, output: CogroupOutput },
}

/// How a persisted RDD keeps its partitions (mirror of the WIT `storage-level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageLevel {
    MemoryOnly,
    MemoryAndDisk,
    DiskOnly,
}

/// One node of the lineage.
#[derive(Clone, Debug)]
pub struct RddNode {
    /// Its id (its index in the lineage).
    pub id: RddId,
    /// How its partitions are computed.
    pub kind: RddKind,
    /// Number of partitions.
    pub partitions: u32,
    /// The partitioner its records are known to follow, if any.
    pub partitioner: Option<Partitioner>,
    /// Whether computed partitions are kept, and how.
    pub persist: Option<StorageLevel>,
}

/// A dependency of an RDD on a parent.
#[derive(Clone, Debug, PartialEq)]
pub enum Dependency {
    /// Each partition depends on a few parent partitions; same stage.
    Narrow(RddId),
    /// All-to-all; a stage boundary.
    Shuffle(ShuffleDep),
}

/// The lineage graph of one application: RDDs are only ever added.
#[derive(Clone, Debug, Default)]
pub struct Lineage {
    rdds: Vec<RddNode>,
    next_shuffle: u32,
}

impl Lineage {
    /// Adds a node and returns its id.
    pub fn add(
        &mut self,
        kind: RddKind,
        partitions: u32,
        partitioner: Option<Partitioner>,
    ) -> RddId {
        let id = RddId(self.rdds.len() as u32);
        self.rdds.push(RddNode { id, kind, partitions, partitioner, persist: None });
        id
    }

    /// A fresh shuffle id.
    pub fn new_shuffle(&mut self) -> ShuffleId {
        let id = ShuffleId(self.next_shuffle);
        self.next_shuffle += 1;
        id
    }

    /// Number of shuffles created so far (their ids are `0..count`).
    pub fn shuffle_count(&self) -> u32 {
        self.next_shuffle
    }

    /// The node with this id, if any.
    pub fn get(&self, id: RddId) -> Option<&RddNode> {
        self.rdds.get(id.0 as usize)
    }

    /// The node with this id; panics on an id not made by this lineage.
    pub fn node(&self, id: RddId) -> &RddNode {
        &self.rdds[id.0 as usize]
    }

    /// Sets (or clears) the storage level of an RDD.
    pub fn set_persist(&mut self, id: RddId, level: Option<StorageLevel>) {
        if let Some(n) = self.rdds.get_mut(id.0 as usize) {
            n.persist = level;
        }
    }

    /// Number of RDDs.
    pub fn len(&self) -> usize {
        self.rdds.len()
    }

    /// Whether no RDD exists.
    pub fn is_empty(&self) -> bool {
        self.rdds.is_empty()
    }

    /// The hash partition count Spark's default partitioner picks for an
    /// operation over `parents` (ids made by this lineage): that of the
    /// parent with the most hash partitions, if it is within an order of
    /// magnitude of the largest parent or not below `default_parallelism`;
    /// otherwise `default_parallelism`.
    pub fn default_hash_partitions(&self, parents: &[RddId], default_parallelism: u32) -> u32 {
        let largest = parents.iter().map(|p| self.node(*p).partitions).max().unwrap_or(0);
        let hashed = parents
            .iter()
            .filter_map(|p| match self.node(*p).partitioner {
                Some(Partitioner::Hash { partitions }) => Some(partitions),
                _ => None,
            })
            .max();
        match hashed {
            Some(n)
                if default_parallelism <= n
                    || (largest as f64).log10() - (n as f64).log10() < 1.0 =>
            {
                n
            }
            _ => default_parallelism,
        }
    }

    /// The dependencies of an RDD, in parent order.
    pub fn dependencies(&self, id: RddId) -> Vec<Dependency> {
        match &self.node(id).kind {
            RddKind::TextFile { .. } | RddKind::Parallel { .. } | RddKind::Files { .. } => {
                Vec::new()
            }
            RddKind::Narrow { parent, .. } | RddKind::Coalesce { parent, .. } => {
                vec![Dependency::Narrow(*parent)]
            }
            RddKind::Union { parents } => parents.iter().map(|p| Dependency::Narrow(*p)).collect(),
            RddKind::Shuffled { dep, .. } => vec![Dependency::Shuffle(dep.clone())],
            RddKind::CoGrouped { deps, .. } => deps
                .iter()
                .map(|d| match d {
                    CogroupDep::Shuffle(dep) => Dependency::Shuffle(dep.clone()),
                    CogroupDep::Narrow(parent) => Dependency::Narrow(*parent),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rdd(l: &mut Lineage, partitions: u32, partitioner: Option<Partitioner>) -> RddId {
        l.add(RddKind::Parallel { slices: Vec::new() }, partitions, partitioner)
    }

    #[test]
    fn default_hash_partitions_follow_sparks_default_partitioner() {
        let mut l = Lineage::default();
        let plain = rdd(&mut l, 50, None);
        let hash3 = rdd(&mut l, 3, Some(Partitioner::Hash { partitions: 3 }));
        let hash8 = rdd(&mut l, 8, Some(Partitioner::Hash { partitions: 8 }));
        let range =
            rdd(&mut l, 9, Some(Partitioner::Range { bounds: vec![vec![1]; 8], ascending: true }));
        // No hash-partitioned parent: the default parallelism.
        assert_eq!(l.default_hash_partitions(&[plain, range], 4), 4);
        // The hash-partitioned parent with the most partitions.
        assert_eq!(l.default_hash_partitions(&[hash3, hash8], 4), 8);
        assert_eq!(l.default_hash_partitions(&[hash3, range], 2), 3);
        // 3 is over ten times fewer than 50 and below the default of 4: not eligible.
        assert_eq!(l.default_hash_partitions(&[plain, hash3], 4), 4);
        // 8 is within an order of magnitude of 50.
        assert_eq!(l.default_hash_partitions(&[plain, hash8], 16), 8);
        // Not eligible by size, but not below the default parallelism either.
        assert_eq!(l.default_hash_partitions(&[plain, hash3], 2), 3);
    }
}
