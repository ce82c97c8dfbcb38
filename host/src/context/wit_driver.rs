//! The WIT `driver` interface implemented by the `Context`: a job main's store calls these.

use crate::accumulators::AccumulatorKind;
use crate::ids::{AccumulatorId, BroadcastId, ComponentId, RddId};
use crate::lineage::{JoinKind, Op, OpKind, StorageLevel};
use crate::records::Batch;
use crate::wasm::job_bindings::wisp::task::driver::{self as wit, Host};
use crate::wasm::job_bindings::wisp::task::shared::Host as SharedHost;
use crate::wasm::job_bindings::wisp::task::types as witt;

use super::{Context, ContextError};

impl Context {
    fn with<T>(
        &mut self,
        f: impl FnOnce(&mut Context) -> Result<T, ContextError>,
    ) -> Result<T, String> {
        f(self).map_err(|e| e.to_string())
    }
}

fn op(o: witt::Op) -> Op {
    let kind = match o.kind {
        witt::OpKind::Map => OpKind::Map,
        witt::OpKind::Filter => OpKind::Filter,
        witt::OpKind::FlatMap => OpKind::FlatMap,
        witt::OpKind::MapPartitions => OpKind::MapPartitions,
        witt::OpKind::MapValues => OpKind::MapValues,
        witt::OpKind::FlatMapValues => OpKind::FlatMapValues,
        witt::OpKind::KeyBy => OpKind::KeyBy,
        witt::OpKind::Combine => OpKind::Combine,
        witt::OpKind::Merge => OpKind::Merge,
        witt::OpKind::Fold => OpKind::Fold,
        witt::OpKind::Reduce => OpKind::Reduce,
    };
    Op { kind, name: o.name, args: o.args }
}

fn to_wit(b: Batch) -> witt::Batch {
    witt::Batch { data: b.data, ends: b.ends }
}

fn ids(v: &[u32]) -> Vec<RddId> {
    v.iter().copied().map(RddId).collect()
}

impl Host for Context {
    fn conf(&mut self, key: String) -> Option<String> {
        Context::conf(self, &key)
    }

    fn default_parallelism(&mut self) -> u32 {
        Context::default_parallelism(self)
    }

    fn load_functions(&mut self, path: String) -> Result<u32, String> {
        self.with(|c| c.load_functions(&path).map(|id| id.0))
    }

    fn text_file(&mut self, path: String, min_partitions: u32) -> Result<u32, String> {
        self.with(|c| c.text_file(&path, min_partitions).map(|r| r.0))
    }

    fn parallelize(&mut self, records: witt::Batch, num_slices: u32) -> Result<u32, String> {
        let records = Batch { data: records.data, ends: records.ends };
        self.with(|c| c.parallelize(records, num_slices).map(|r| r.0))
    }

    fn transform(&mut self, parent: u32, o: witt::Op, component: u32) -> Result<u32, String> {
        self.with(|c| c.transform(RddId(parent), op(o), ComponentId(component)).map(|r| r.0))
    }

    fn union(&mut self, rdds: Vec<u32>) -> Result<u32, String> {
        self.with(|c| c.union(&ids(&rdds)).map(|r| r.0))
    }

    fn distinct(&mut self, parent: u32, partitions: u32) -> Result<u32, String> {
        self.with(|c| c.distinct(RddId(parent), partitions).map(|r| r.0))
    }

    fn combine_by_key(
        &mut self,
        parent: u32,
        aggregator: witt::Op,
        component: u32,
        partitions: u32,
        map_side_combine: bool,
    ) -> Result<u32, String> {
        self.with(|c| {
            c.combine_by_key(
                RddId(parent),
                op(aggregator),
                ComponentId(component),
                partitions,
                map_side_combine,
            )
            .map(|r| r.0)
        })
    }

    fn group_by_key(&mut self, parent: u32, partitions: u32) -> Result<u32, String> {
        self.with(|c| c.group_by_key(RddId(parent), partitions).map(|r| r.0))
    }

    fn cogroup(&mut self, parents: Vec<u32>, partitions: u32) -> Result<u32, String> {
        self.with(|c| c.cogroup(&ids(&parents), partitions).map(|r| r.0))
    }

    fn join(
        &mut self,
        left: u32,
        right: u32,
        kind: wit::JoinKind,
        partitions: u32,
    ) -> Result<u32, String> {
        let kind = match kind {
            wit::JoinKind::Inner => JoinKind::Inner,
            wit::JoinKind::LeftOuter => JoinKind::LeftOuter,
            wit::JoinKind::RightOuter => JoinKind::RightOuter,
            wit::JoinKind::FullOuter => JoinKind::FullOuter,
        };
        self.with(|c| c.join(RddId(left), RddId(right), kind, partitions).map(|r| r.0))
    }

    fn sort_by_key(
        &mut self,
        parent: u32,
        ascending: bool,
        partitions: u32,
    ) -> Result<u32, String> {
        self.with(|c| c.sort_by_key(RddId(parent), ascending, partitions).map(|r| r.0))
    }

    fn partition_by(&mut self, parent: u32, partitions: u32) -> Result<u32, String> {
        self.with(|c| c.partition_by(RddId(parent), partitions).map(|r| r.0))
    }

    fn repartition(&mut self, parent: u32, partitions: u32) -> Result<u32, String> {
        self.with(|c| c.repartition(RddId(parent), partitions).map(|r| r.0))
    }

    fn coalesce(&mut self, parent: u32, partitions: u32) -> Result<u32, String> {
        self.with(|c| c.coalesce(RddId(parent), partitions).map(|r| r.0))
    }

    fn sample(
        &mut self,
        parent: u32,
        with_replacement: bool,
        fraction: f64,
        seed: u64,
    ) -> Result<u32, String> {
        self.with(|c| c.sample(RddId(parent), with_replacement, fraction, seed).map(|r| r.0))
    }

    fn persist(&mut self, rdd: u32, level: wit::StorageLevel) -> Result<(), String> {
        let level = match level {
            wit::StorageLevel::MemoryOnly => StorageLevel::MemoryOnly,
            wit::StorageLevel::MemoryAndDisk => StorageLevel::MemoryAndDisk,
            wit::StorageLevel::DiskOnly => StorageLevel::DiskOnly,
        };
        self.with(|c| c.persist(RddId(rdd), level))
    }

    fn unpersist(&mut self, rdd: u32) -> Result<(), String> {
        self.with(|c| c.unpersist(RddId(rdd)))
    }

    fn num_partitions(&mut self, rdd: u32) -> Result<u32, String> {
        self.with(|c| Context::num_partitions(c, RddId(rdd)))
    }

    fn count(&mut self, rdd: u32) -> Result<u64, String> {
        self.with(|c| c.count(RddId(rdd)))
    }

    fn collect(&mut self, rdd: u32) -> Result<witt::Batch, String> {
        self.with(|c| c.collect(RddId(rdd))).map(to_wit)
    }

    fn take(&mut self, rdd: u32, n: u32) -> Result<witt::Batch, String> {
        self.with(|c| c.take(RddId(rdd), n)).map(to_wit)
    }

    fn run_partitions(
        &mut self,
        rdd: u32,
        ops: Vec<witt::Op>,
        component: u32,
    ) -> Result<Vec<witt::Batch>, String> {
        self.with(|c| {
            c.run_partitions(RddId(rdd), ops.into_iter().map(op).collect(), ComponentId(component))
        })
        .map(|v| v.into_iter().map(to_wit).collect())
    }

    fn save_as_text_file(&mut self, rdd: u32, path: String) -> Result<(), String> {
        self.with(|c| c.save_as_text_file(RddId(rdd), &path))
    }

    fn broadcast(&mut self, value: Vec<u8>) -> Result<u32, String> {
        self.with(|c| c.broadcast(value).map(|b| b.0))
    }

    fn destroy_broadcast(&mut self, id: u32) -> Result<(), String> {
        self.with(|c| c.destroy_broadcast(BroadcastId(id)))
    }

    fn accumulator(&mut self, kind: wit::AccumulatorKind) -> Result<u32, String> {
        let kind = match kind {
            wit::AccumulatorKind::LongSum => AccumulatorKind::LongSum,
            wit::AccumulatorKind::DoubleSum => AccumulatorKind::DoubleSum,
            wit::AccumulatorKind::LongMin => AccumulatorKind::LongMin,
            wit::AccumulatorKind::LongMax => AccumulatorKind::LongMax,
            wit::AccumulatorKind::DoubleMin => AccumulatorKind::DoubleMin,
            wit::AccumulatorKind::DoubleMax => AccumulatorKind::DoubleMax,
            wit::AccumulatorKind::Collection => AccumulatorKind::Collection,
        };
        Ok(Context::accumulator(self, kind).0)
    }

    fn accumulator_value(&mut self, id: u32) -> Result<Vec<u8>, String> {
        self.with(|c| Context::accumulator_value(c, AccumulatorId(id)))
    }

    fn set_checkpoint_dir(&mut self, path: String) -> Result<(), String> {
        self.with(|c| c.set_checkpoint_dir(&path))
    }

    fn checkpoint(&mut self, rdd: u32) -> Result<u32, String> {
        self.with(|c| c.checkpoint(RddId(rdd)).map(|r| r.0))
    }

    fn local_checkpoint(&mut self, rdd: u32) -> Result<u32, String> {
        self.with(|c| c.local_checkpoint(RddId(rdd)).map(|r| r.0))
    }

    fn binary_lines(&mut self, path: String, min_partitions: u32) -> Result<u32, String> {
        self.with(|c| c.binary_lines(&path, min_partitions).map(|r| r.0))
    }

    fn whole_text_files(&mut self, path: String, min_partitions: u32) -> Result<u32, String> {
        self.with(|c| c.whole_text_files(&path, min_partitions).map(|r| r.0))
    }
}

impl SharedHost for Context {
    fn broadcast_value(&mut self, id: u32) -> Result<Vec<u8>, String> {
        self.with(|c| Context::broadcast_value(c, BroadcastId(id)))
    }

    fn accumulator_add(&mut self, id: u32, _value: Vec<u8>) -> Result<(), String> {
        Err(ContextError::AddOnDriver { id }.to_string())
    }
}
