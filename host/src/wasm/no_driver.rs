//! The `driver` a task's store gets: every call fails, since only a job's main talks to the driver.

use super::bindings::job::wisp::task::driver::{AccumulatorKind, Host, JoinKind, StorageLevel};
use super::bindings::job::wisp::task::shared::Host as SharedHost;
use super::bindings::job::wisp::task::types::{Batch, Op};

/// Refuses every driver call (tasks run on executors, away from the application).
pub(crate) struct NotOnTheDriver;

/// What a task gets for calling a driver function.
const REFUSED: &str =
    "driver functions can only be called from a job's main, not from inside a task";

fn refused<T>() -> Result<T, String> {
    Err(REFUSED.to_string())
}

impl Host for NotOnTheDriver {
    fn conf(&mut self, _key: String) -> Option<String> {
        None
    }
    fn default_parallelism(&mut self) -> u32 {
        1
    }
    fn load_functions(&mut self, _path: String) -> Result<u32, String> {
        refused()
    }
    fn text_file(&mut self, _path: String, _min_partitions: u32) -> Result<u32, String> {
        refused()
    }
    fn parallelize(&mut self, _records: Batch, _num_slices: u32) -> Result<u32, String> {
        refused()
    }
    fn transform(&mut self, _parent: u32, _op: Op, _component: u32) -> Result<u32, String> {
        refused()
    }
    fn union(&mut self, _rdds: Vec<u32>) -> Result<u32, String> {
        refused()
    }
    fn distinct(&mut self, _parent: u32, _partitions: u32) -> Result<u32, String> {
        refused()
    }
    fn combine_by_key(&mut self, _: u32, _: Op, _: u32, _: u32, _: bool) -> Result<u32, String> {
        refused()
    }
    fn group_by_key(&mut self, _parent: u32, _partitions: u32) -> Result<u32, String> {
        refused()
    }
    fn cogroup(&mut self, _parents: Vec<u32>, _partitions: u32) -> Result<u32, String> {
        refused()
    }
    fn join(
        &mut self,
        _left: u32,
        _right: u32,
        _kind: JoinKind,
        _partitions: u32,
    ) -> Result<u32, String> {
        refused()
    }
    fn sort_by_key(
        &mut self,
        _parent: u32,
        _ascending: bool,
        _partitions: u32,
    ) -> Result<u32, String> {
        refused()
    }
    fn partition_by(&mut self, _parent: u32, _partitions: u32) -> Result<u32, String> {
        refused()
    }
    fn repartition(&mut self, _parent: u32, _partitions: u32) -> Result<u32, String> {
        refused()
    }
    fn coalesce(&mut self, _parent: u32, _partitions: u32) -> Result<u32, String> {
        refused()
    }
    fn sample(&mut self, _: u32, _: bool, _: f64, _: u64) -> Result<u32, String> {
        refused()
    }
    fn persist(&mut self, _rdd: u32, _level: StorageLevel) -> Result<(), String> {
        refused()
    }
    fn unpersist(&mut self, _rdd: u32) -> Result<(), String> {
        refused()
    }
    fn num_partitions(&mut self, _rdd: u32) -> Result<u32, String> {
        refused()
    }
    fn count(&mut self, _rdd: u32) -> Result<u64, String> {
        refused()
    }
    fn collect(&mut self, _rdd: u32) -> Result<Batch, String> {
        refused()
    }
    fn take(&mut self, _rdd: u32, _n: u32) -> Result<Batch, String> {
        refused()
    }
    fn run_partitions(
        &mut self,
        _rdd: u32,
        _ops: Vec<Op>,
        _component: u32,
    ) -> Result<Vec<Batch>, String> {
        refused()
    }
    fn save_as_text_file(&mut self, _rdd: u32, _path: String) -> Result<(), String> {
        refused()
    }
    fn broadcast(&mut self, _value: Vec<u8>) -> Result<u32, String> {
        refused()
    }
    fn destroy_broadcast(&mut self, _id: u32) -> Result<(), String> {
        refused()
    }
    fn accumulator(&mut self, _kind: AccumulatorKind) -> Result<u32, String> {
        refused()
    }
    fn accumulator_value(&mut self, _id: u32) -> Result<Vec<u8>, String> {
        refused()
    }
    fn set_checkpoint_dir(&mut self, _path: String) -> Result<(), String> {
        refused()
    }
    fn checkpoint(&mut self, _rdd: u32) -> Result<u32, String> {
        refused()
    }
    fn local_checkpoint(&mut self, _rdd: u32) -> Result<u32, String> {
        refused()
    }
    fn binary_lines(&mut self, _path: String, _min_partitions: u32) -> Result<u32, String> {
        refused()
    }
    fn whole_text_files(&mut self, _path: String, _min_partitions: u32) -> Result<u32, String> {
        refused()
    }
}

/// A task's store answers `shared` calls from its own task state (`HostState`), never from here.
impl SharedHost for NotOnTheDriver {
    fn broadcast_value(&mut self, _id: u32) -> Result<Vec<u8>, String> {
        refused()
    }
    fn accumulator_add(&mut self, _id: u32, _value: Vec<u8>) -> Result<(), String> {
        refused()
    }
}
