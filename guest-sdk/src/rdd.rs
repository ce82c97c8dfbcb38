//! `Rdd<T>`: the typed, lazy lineage API of a job's main, and its actions.
//!
//! A transformation records a node through the `driver` import and returns
//! a new `Rdd` at once; if the driver call failed, the returned `Rdd` carries
//! the error, every transformation of it carries it on, and the next action
//! returns it. Functions passed to transformations must not capture
//! anything (checked at compile time); parameters travel through the
//! `*_with` variants, serialized into the op.

mod more;
mod pair;

pub use more::StatCounter;

use std::marker::PhantomData;

use crate::bindings::types::{Op, OpKind};
use crate::bindings::wisp::task::driver::{self, StorageLevel as WitStorageLevel};
use crate::context::decode_batch;
use crate::error::{Error, Result};
use crate::ops::{self, Factory, stateless};
use crate::pipeline::factories;
use crate::{Data, PartitionIter, codec};

/// A lazily computed, partitioned collection of `T` records.
///
/// Cloning an `Rdd` clones the handle, not the data.
#[must_use = "an RDD is lazy: nothing runs until an action (count, collect, save_as_text_file, ...)"]
pub struct Rdd<T> {
    id: Result<u32>,
    types: PhantomData<fn() -> T>,
}

impl<T> Clone for Rdd<T> {
    fn clone(&self) -> Self {
        Self { id: self.id.clone(), types: PhantomData }
    }
}

impl<T> std::fmt::Debug for Rdd<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.id {
            Ok(id) => write!(f, "Rdd<{}>({id})", std::any::type_name::<T>()),
            Err(e) => write!(f, "Rdd<{}>(failed: {e})", std::any::type_name::<T>()),
        }
    }
}

/// How a persisted RDD keeps its partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StorageLevel {
    /// In executor memory; evicted partitions are recomputed.
    MemoryOnly,
    /// In executor memory, spilling to the executor's local disk.
    MemoryAndDisk,
    /// On the executor's local disk.
    DiskOnly,
}

impl From<StorageLevel> for WitStorageLevel {
    fn from(level: StorageLevel) -> Self {
        match level {
            StorageLevel::MemoryOnly => Self::MemoryOnly,
            StorageLevel::MemoryAndDisk => Self::MemoryAndDisk,
            StorageLevel::DiskOnly => Self::DiskOnly,
        }
    }
}

impl<T> Rdd<T> {
    pub(crate) fn from_driver(id: std::result::Result<u32, String>) -> Self {
        Self { id: id.map_err(Error::msg), types: PhantomData }
    }

    pub(crate) fn failed(error: Error) -> Self {
        Self { id: Err(error), types: PhantomData }
    }

    /// A new RDD made by a driver call on this one's id.
    pub(crate) fn then<U>(
        &self,
        call: impl FnOnce(u32) -> std::result::Result<u32, String>,
    ) -> Rdd<U> {
        match &self.id {
            Ok(id) => Rdd::from_driver(call(*id)),
            Err(e) => Rdd::failed(e.clone()),
        }
    }

    /// The driver's id of this RDD, or the error that prevented creating it.
    ///
    /// # Errors
    ///
    /// The error of the driver call that created this RDD (or an ancestor).
    pub fn raw_id(&self) -> Result<u32> {
        self.id.clone()
    }

    /// Views a driver RDD id (for example one made through [`crate::raw`])
    /// as an `Rdd<T>`. The records must be encodings of `T`.
    pub fn from_raw_id(id: u32) -> Self {
        Self { id: Ok(id), types: PhantomData }
    }
}

/// The default number of partitions of a shuffle.
pub(crate) fn default_partitions() -> u32 {
    driver::default_parallelism().max(1)
}

impl<T: Data> Rdd<T> {
    fn transform<U>(&self, op: &Op) -> Rdd<U> {
        self.then(|id| driver::transform(id, op, 0))
    }

    /// Applies `f` to every record.
    pub fn map<U: Data, F: Fn(T) -> U + Copy + 'static>(&self, f: F) -> Rdd<U> {
        let _ = f;
        stateless::<F>();
        self.transform(&ops::op(OpKind::Map, factories::map::<T, U, F> as Factory, Vec::new()))
    }

    /// Applies `f` to every record, with parameters `args` (serialized into
    /// the op and decoded once per task).
    pub fn map_with<A: Data, U: Data, F: Fn(T, &A) -> U + Copy + 'static>(
        &self,
        f: F,
        args: A,
    ) -> Rdd<U> {
        let _ = f;
        stateless::<F>();
        match codec::to_vec(&args) {
            Ok(args) => self.transform(&ops::op(
                OpKind::Map,
                factories::map_with::<T, U, A, F> as Factory,
                args,
            )),
            Err(e) => Rdd::failed(e.into()),
        }
    }

    /// Keeps the records for which `f` is true.
    pub fn filter<F: Fn(&T) -> bool + Copy + 'static>(&self, f: F) -> Rdd<T> {
        let _ = f;
        stateless::<F>();
        self.transform(&ops::op(OpKind::Filter, factories::filter::<T, F> as Factory, Vec::new()))
    }

    /// Keeps the records for which `f(record, &args)` is true.
    pub fn filter_with<A: Data, F: Fn(&T, &A) -> bool + Copy + 'static>(
        &self,
        f: F,
        args: A,
    ) -> Rdd<T> {
        let _ = f;
        stateless::<F>();
        match codec::to_vec(&args) {
            Ok(args) => self.transform(&ops::op(
                OpKind::Filter,
                factories::filter_with::<T, A, F> as Factory,
                args,
            )),
            Err(e) => Rdd::failed(e.into()),
        }
    }

    /// Replaces every record by all the items of `f(record)`.
    pub fn flat_map<I, F>(&self, f: F) -> Rdd<I::Item>
    where
        I: IntoIterator<Item: Data> + 'static,
        F: Fn(T) -> I + Copy + 'static,
    {
        let _ = f;
        stateless::<F>();
        self.transform(&ops::op(
            OpKind::FlatMap,
            factories::flat_map::<T, I, F> as Factory,
            Vec::new(),
        ))
    }

    /// Replaces every record by all the items of `f(record, &args)`.
    pub fn flat_map_with<A, I, F>(&self, f: F, args: A) -> Rdd<I::Item>
    where
        A: Data,
        I: IntoIterator<Item: Data> + 'static,
        F: Fn(T, &A) -> I + Copy + 'static,
    {
        let _ = f;
        stateless::<F>();
        match codec::to_vec(&args) {
            Ok(args) => self.transform(&ops::op(
                OpKind::FlatMap,
                factories::flat_map_with::<T, A, I, F> as Factory,
                args,
            )),
            Err(e) => Rdd::failed(e.into()),
        }
    }

    /// Replaces each partition by `f(its records)`. `f` runs once per
    /// partition, after the partition's last record arrived.
    pub fn map_partitions<I, F>(&self, f: F) -> Rdd<I::Item>
    where
        I: IntoIterator<Item: Data> + 'static,
        F: Fn(PartitionIter<T>) -> I + Copy + 'static,
    {
        let _ = f;
        stateless::<F>();
        self.transform(&ops::op(
            OpKind::MapPartitions,
            factories::map_partitions::<T, I, F> as Factory,
            Vec::new(),
        ))
    }

    /// Like [`Rdd::map_partitions`], with the partition's index.
    pub fn map_partitions_with_index<I, F>(&self, f: F) -> Rdd<I::Item>
    where
        I: IntoIterator<Item: Data> + 'static,
        F: Fn(u32, PartitionIter<T>) -> I + Copy + 'static,
    {
        let _ = f;
        stateless::<F>();
        let factory = factories::map_partitions_with_index::<T, I, F> as Factory;
        self.transform(&ops::op(OpKind::MapPartitions, factory, Vec::new()))
    }

    /// Pairs every record with the key `f(&record)`: `(f(&r), r)`.
    pub fn key_by<K: Data, F: Fn(&T) -> K + Copy + 'static>(&self, f: F) -> Rdd<(K, T)> {
        let _ = f;
        stateless::<F>();
        self.transform(&ops::op(OpKind::KeyBy, factories::key_by::<T, K, F> as Factory, Vec::new()))
    }

    /// The records grouped by the key `f(&record)`, in
    /// [`Context::default_parallelism`](crate::Context::default_parallelism) partitions.
    pub fn group_by<K: Data, F: Fn(&T) -> K + Copy + 'static>(&self, f: F) -> Rdd<(K, Vec<T>)> {
        self.key_by(f).group_by_key()
    }

    /// The records sorted by the key `f(&record)` (by its encoded bytes,
    /// which is numeric order for numbers and byte order for strings).
    pub fn sort_by<K: Data, F: Fn(&T) -> K + Copy + 'static>(
        &self,
        f: F,
        ascending: bool,
    ) -> Rdd<T> {
        self.key_by(f).sort_by_key(ascending).values()
    }

    /// The partitions of `self`, then those of `other`.
    pub fn union(&self, other: &Rdd<T>) -> Rdd<T> {
        match (&self.id, &other.id) {
            (Ok(a), Ok(b)) => Rdd::from_driver(driver::union(&[*a, *b])),
            (Err(e), _) | (_, Err(e)) => Rdd::failed(e.clone()),
        }
    }

    /// The distinct records (compared by their encoded bytes), in the
    /// default number of partitions.
    pub fn distinct(&self) -> Rdd<T> {
        self.distinct_n(default_partitions())
    }

    /// The distinct records, in `partitions` partitions.
    pub fn distinct_n(&self, partitions: u32) -> Rdd<T> {
        self.then(|id| driver::distinct(id, partitions.max(1)))
    }

    /// A reproducible random sample: each record kept with probability
    /// `fraction` (without replacement), or repeated a Poisson(`fraction`)
    /// number of times (with replacement).
    pub fn sample(&self, with_replacement: bool, fraction: f64, seed: u64) -> Rdd<T> {
        self.then(|id| driver::sample(id, with_replacement, fraction, seed))
    }

    /// The records spread evenly over `partitions` partitions by a shuffle.
    pub fn repartition(&self, partitions: u32) -> Rdd<T> {
        self.then(|id| driver::repartition(id, partitions.max(1)))
    }

    /// At most `partitions` partitions, merging neighbours without a shuffle.
    pub fn coalesce(&self, partitions: u32) -> Rdd<T> {
        self.then(|id| driver::coalesce(id, partitions.max(1)))
    }

    /// Keeps this RDD's partitions once computed, at `level`; returns `self`.
    pub fn persist(&self, level: StorageLevel) -> Rdd<T> {
        self.then(|id| driver::persist(id, level.into()).map(|()| id))
    }

    /// Writes this RDD's partitions into the checkpoint directory now (a job) and
    /// returns an RDD reading them back: its lineage starts there (Spark's
    /// `checkpoint`, eager, returning the checkpointed RDD).
    pub fn checkpoint(&self) -> Rdd<T> {
        self.then(driver::checkpoint)
    }

    /// Keeps this RDD's partitions on the executors and computes them now (a job);
    /// later jobs start from them (Spark's `localCheckpoint`, eager).
    pub fn local_checkpoint(&self) -> Rdd<T> {
        self.then(driver::local_checkpoint)
    }

    /// [`Rdd::persist`] in memory.
    pub fn cache(&self) -> Rdd<T> {
        self.persist(StorageLevel::MemoryOnly)
    }

    /// Forgets this RDD's kept partitions.
    ///
    /// # Errors
    ///
    /// The error this RDD carries, or the driver's.
    pub fn unpersist(&self) -> Result<()> {
        driver::unpersist(self.raw_id()?).map_err(Error::msg)
    }

    /// The number of partitions.
    ///
    /// # Errors
    ///
    /// The error this RDD carries, or the driver's.
    pub fn num_partitions(&self) -> Result<u32> {
        driver::num_partitions(self.raw_id()?).map_err(Error::msg)
    }

    // ---- actions ----

    /// The number of records.
    ///
    /// # Errors
    ///
    /// The error this RDD carries, or the failed job's.
    pub fn count(&self) -> Result<u64> {
        driver::count(self.raw_id()?).map_err(Error::msg)
    }

    /// Every record, in partition order.
    ///
    /// # Errors
    ///
    /// The error this RDD carries, the failed job's, or a record that does
    /// not decode as a `T`.
    pub fn collect(&self) -> Result<Vec<T>> {
        let batch = driver::collect(self.raw_id()?).map_err(Error::msg)?;
        decode_batch(&batch)
    }

    /// The first `n` records in partition order, computing as few
    /// partitions as possible.
    ///
    /// # Errors
    ///
    /// As [`Rdd::collect`].
    pub fn take(&self, n: usize) -> Result<Vec<T>> {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        let batch = driver::take(self.raw_id()?, n).map_err(Error::msg)?;
        decode_batch(&batch)
    }

    /// The first record.
    ///
    /// # Errors
    ///
    /// As [`Rdd::collect`], and when the RDD is empty.
    pub fn first(&self) -> Result<T> {
        self.take(1)?.into_iter().next().ok_or_else(|| Error::msg("first: the RDD is empty"))
    }

    /// Runs `op` (a `fold` or `reduce`) over every partition and decodes each
    /// partition's output.
    fn run_partitions<U: Data>(&self, op: &Op) -> Result<Vec<U>> {
        let batches = driver::run_partitions(self.raw_id()?, std::slice::from_ref(op), 0)
            .map_err(Error::msg)?;
        let mut results = Vec::with_capacity(batches.len());
        for batch in &batches {
            results.extend(decode_batch::<U>(batch)?);
        }
        Ok(results)
    }

    /// The records combined pairwise by `f` (which should be associative
    /// and commutative): each partition is reduced on an executor, then the
    /// partitions' results here.
    ///
    /// # Errors
    ///
    /// As [`Rdd::collect`], and when the RDD is empty.
    pub fn reduce<F: Fn(T, T) -> T + Copy + 'static>(&self, f: F) -> Result<T> {
        stateless::<F>();
        let results = self.run_partitions::<T>(&ops::op(
            OpKind::Reduce,
            factories::reduce::<T, F> as Factory,
            Vec::new(),
        ))?;
        results.into_iter().reduce(f).ok_or_else(|| Error::msg("reduce: the RDD is empty"))
    }

    /// Every partition folded with `f` from `zero`, then the partitions'
    /// results folded with `f` from `zero` (Spark's `fold`).
    ///
    /// # Errors
    ///
    /// As [`Rdd::collect`].
    pub fn fold<F: Fn(T, T) -> T + Copy + 'static>(&self, zero: T, f: F) -> Result<T> {
        stateless::<F>();
        let op =
            ops::op(OpKind::Fold, factories::fold::<T, T, F> as Factory, codec::to_vec(&zero)?);
        Ok(self.run_partitions::<T>(&op)?.into_iter().fold(zero, f))
    }

    /// Every partition folded with `seq` from `zero`, then the partitions'
    /// results combined with `comb` from `zero` (Spark's `aggregate`).
    ///
    /// # Errors
    ///
    /// As [`Rdd::collect`].
    pub fn aggregate<U, S, C>(&self, zero: U, seq: S, comb: C) -> Result<U>
    where
        U: Data,
        S: Fn(U, T) -> U + Copy + 'static,
        C: Fn(U, U) -> U + Copy + 'static,
    {
        let _ = seq;
        stateless::<S>();
        stateless::<C>();
        let op =
            ops::op(OpKind::Fold, factories::fold::<T, U, S> as Factory, codec::to_vec(&zero)?);
        Ok(self.run_partitions::<U>(&op)?.into_iter().fold(zero, comb))
    }
}

impl Rdd<String> {
    /// Writes the records as lines to `part-NNNNN` files in a new directory
    /// `path` (plus an empty `_SUCCESS`). Fails if `path` exists.
    ///
    /// # Errors
    ///
    /// The error this RDD carries, or the failed job's.
    pub fn save_as_text_file(&self, path: &str) -> Result<()> {
        driver::save_as_text_file(self.raw_id()?, path).map_err(Error::msg)
    }
}
