//! The `driver` interface of `wisp:task@0.1.0`, for job mains built against it: every call goes to the store's current driver.

use super::bindings::job::wisp::task::driver::{JoinKind, StorageLevel};
use super::bindings::job::wisp::task::types::{Batch, Op};
use super::bindings::job_v0_1::wisp::task::driver as old;
use super::host_state::Driver;

/// A store's driver seen through the 0.1.0 `driver` interface (a strict subset of 0.2.0's).
pub(crate) struct DriverV0_1<'a>(pub(crate) &'a mut dyn Driver);

fn join_kind(k: old::JoinKind) -> JoinKind {
    match k {
        old::JoinKind::Inner => JoinKind::Inner,
        old::JoinKind::LeftOuter => JoinKind::LeftOuter,
        old::JoinKind::RightOuter => JoinKind::RightOuter,
        old::JoinKind::FullOuter => JoinKind::FullOuter,
    }
}

fn storage_level(l: old::StorageLevel) -> StorageLevel {
    match l {
        old::StorageLevel::MemoryOnly => StorageLevel::MemoryOnly,
        old::StorageLevel::MemoryAndDisk => StorageLevel::MemoryAndDisk,
        old::StorageLevel::DiskOnly => StorageLevel::DiskOnly,
    }
}

impl old::Host for DriverV0_1<'_> {
    fn conf(&mut self, key: String) -> Option<String> {
        self.0.conf(key)
    }
    fn default_parallelism(&mut self) -> u32 {
        self.0.default_parallelism()
    }
    fn load_functions(&mut self, path: String) -> Result<u32, String> {
        self.0.load_functions(path)
    }
    fn text_file(&mut self, path: String, min_partitions: u32) -> Result<u32, String> {
        self.0.text_file(path, min_partitions)
    }
    fn parallelize(&mut self, records: Batch, num_slices: u32) -> Result<u32, String> {
        self.0.parallelize(records, num_slices)
    }
    fn transform(&mut self, parent: u32, op: Op, component: u32) -> Result<u32, String> {
        self.0.transform(parent, op, component)
    }
    fn union(&mut self, rdds: Vec<u32>) -> Result<u32, String> {
        self.0.union(rdds)
    }
    fn distinct(&mut self, parent: u32, partitions: u32) -> Result<u32, String> {
        self.0.distinct(parent, partitions)
    }
    fn combine_by_key(
        &mut self,
        parent: u32,
        aggregator: Op,
        component: u32,
        partitions: u32,
        map_side_combine: bool,
    ) -> Result<u32, String> {
        self.0.combine_by_key(parent, aggregator, component, partitions, map_side_combine)
    }
    fn group_by_key(&mut self, parent: u32, partitions: u32) -> Result<u32, String> {
        self.0.group_by_key(parent, partitions)
    }
    fn cogroup(&mut self, parents: Vec<u32>, partitions: u32) -> Result<u32, String> {
        self.0.cogroup(parents, partitions)
    }
    fn join(
        &mut self,
        left: u32,
        right: u32,
        kind: old::JoinKind,
        partitions: u32,
    ) -> Result<u32, String> {
        self.0.join(left, right, join_kind(kind), partitions)
    }
    fn sort_by_key(
        &mut self,
        parent: u32,
        ascending: bool,
        partitions: u32,
    ) -> Result<u32, String> {
        self.0.sort_by_key(parent, ascending, partitions)
    }
    fn partition_by(&mut self, parent: u32, partitions: u32) -> Result<u32, String> {
        self.0.partition_by(parent, partitions)
    }
    fn repartition(&mut self, parent: u32, partitions: u32) -> Result<u32, String> {
        self.0.repartition(parent, partitions)
    }
    fn coalesce(&mut self, parent: u32, partitions: u32) -> Result<u32, String> {
        self.0.coalesce(parent, partitions)
    }
    fn sample(
        &mut self,
        parent: u32,
        with_replacement: bool,
        fraction: f64,
        seed: u64,
    ) -> Result<u32, String> {
        self.0.sample(parent, with_replacement, fraction, seed)
    }
    fn persist(&mut self, rdd: u32, level: old::StorageLevel) -> Result<(), String> {
        self.0.persist(rdd, storage_level(level))
    }
    fn unpersist(&mut self, rdd: u32) -> Result<(), String> {
        self.0.unpersist(rdd)
    }
    fn num_partitions(&mut self, rdd: u32) -> Result<u32, String> {
        self.0.num_partitions(rdd)
    }
    fn count(&mut self, rdd: u32) -> Result<u64, String> {
        self.0.count(rdd)
    }
    fn collect(&mut self, rdd: u32) -> Result<Batch, String> {
        self.0.collect(rdd)
    }
    fn take(&mut self, rdd: u32, n: u32) -> Result<Batch, String> {
        self.0.take(rdd, n)
    }
    fn run_partitions(
        &mut self,
        rdd: u32,
        ops: Vec<Op>,
        component: u32,
    ) -> Result<Vec<Batch>, String> {
        self.0.run_partitions(rdd, ops, component)
    }
    fn save_as_text_file(&mut self, rdd: u32, path: String) -> Result<(), String> {
        self.0.save_as_text_file(rdd, path)
    }
}
