//! The rest of Spark's RDD API, built on the transformations and actions above: ordering
//! (`take_ordered`, `top`), counting (`count_by_value`), indexing (`zip_with_index`,
//! `zip_with_unique_id`), set operations (`subtract`, `subtract_by_key`, `intersection`,
//! `cartesian`), `glom`, `lookup`, tree aggregation (`tree_aggregate`, `tree_reduce`), and the
//! statistics of numbers (`sum`, `mean`, `stats`).

use serde::{Deserialize, Serialize};

use super::Rdd;
use crate::bindings::types::OpKind;
use crate::error::{Error, Result};
use crate::ops::{self, Factory, stateless};
use crate::pipeline::factories::{self, conjure};
use crate::shared::Broadcast;
use crate::{Data, codec};

fn add_u64(a: u64, b: u64) -> u64 {
    a + b
}

/// The `n` smallest of a partition (or of merged partitions), in ascending order.
fn smallest<T: Ord>(mut v: Vec<T>, n: &u64) -> Vec<T> {
    v.sort();
    v.truncate(*n as usize);
    v
}

/// The `n` largest, in descending order.
fn largest<T: Ord>(mut v: Vec<T>, n: &u64) -> Vec<T> {
    v.sort_by(|a, b| b.cmp(a));
    v.truncate(*n as usize);
    v
}

/// `tree_reduce`'s first level: a record folded into a partial result with `F`.
fn reduce_into<T, F: Fn(T, T) -> T + Copy + 'static>(acc: Option<T>, x: T) -> Option<T> {
    Some(match acc {
        Some(a) => conjure::<F>()(a, x),
        None => x,
    })
}

/// `tree_reduce`'s combiner: two partial results merged with `F` (`None`: an empty partition).
fn reduce_options<T, F: Fn(T, T) -> T + Copy + 'static>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(conjure::<F>()(a, b)),
        (a, None) => a,
        (None, b) => b,
    }
}

impl<T: Data> Rdd<T> {
    /// Like [`Rdd::aggregate`], with the partitions' results combined in a tree of `depth`
    /// levels on the executors rather than all on the driver (Spark's `treeAggregate`):
    /// each partition folds with `seq` from `zero`; while more than
    /// `scale + ceil(count / scale)` partial results remain (`scale = max(ceil(count^(1/depth)), 2)`),
    /// they are combined with `comb` into `count / scale` partitions by a shuffle; the driver
    /// combines the rest with `comb` from `zero`. An RDD without partitions gives `zero`.
    ///
    /// # Errors
    ///
    /// A `depth` of 0, or the jobs'.
    pub fn tree_aggregate<U, S, C>(&self, zero: U, seq: S, comb: C, depth: u32) -> Result<U>
    where
        U: Data,
        S: Fn(U, T) -> U + Copy + 'static,
        C: Fn(U, U) -> U + Copy + 'static,
    {
        let _ = seq;
        stateless::<S>();
        stateless::<C>();
        if depth == 0 {
            return Err(Error::msg("tree_aggregate: depth must be at least 1, got 0"));
        }
        let mut count = self.num_partitions()?;
        if count == 0 {
            return Ok(zero);
        }
        let fold = factories::fold_partition::<T, U, S> as Factory;
        let mut partial: Rdd<U> =
            self.transform(&ops::op(OpKind::MapPartitions, fold, codec::to_vec(&zero)?));
        let scale = (f64::from(count).powf(1.0 / f64::from(depth)).ceil() as u32).max(2);
        while count > scale + count.div_ceil(scale) {
            count /= scale;
            let key = factories::key_by_partition_mod::<U> as Factory;
            let keyed: Rdd<(u32, U)> =
                partial.transform(&ops::op(OpKind::MapPartitions, key, codec::to_vec(&count)?));
            partial = keyed.reduce_by_key_n(comb, count).values();
        }
        partial.fold(zero, comb)
    }

    /// Like [`Rdd::reduce`], combined in a tree of `depth` levels (Spark's `treeReduce`).
    ///
    /// # Errors
    ///
    /// As [`Rdd::tree_aggregate`], and when the RDD is empty.
    pub fn tree_reduce<F: Fn(T, T) -> T + Copy + 'static>(&self, f: F, depth: u32) -> Result<T> {
        let _ = f;
        stateless::<F>();
        self.tree_aggregate(None, reduce_into::<T, F>, reduce_options::<T, F>, depth)?
            .ok_or_else(|| Error::msg("tree_reduce: the RDD is empty"))
    }

    /// Every partition as one list (Spark's `glom`).
    pub fn glom(&self) -> Rdd<Vec<T>> {
        self.map_partitions(|it| std::iter::once(it.collect::<Vec<T>>()))
    }

    /// The `n` smallest records in ascending order (Spark's `takeOrdered`): each partition
    /// keeps its `n` smallest, the driver merges them.
    ///
    /// # Errors
    ///
    /// The job's.
    pub fn take_ordered(&self, n: usize) -> Result<Vec<T>>
    where
        T: Ord,
    {
        let parts = self.glom().map_with(smallest::<T>, n as u64).collect()?;
        Ok(smallest(parts.into_iter().flatten().collect(), &(n as u64)))
    }

    /// The `n` largest records in descending order (Spark's `top`).
    ///
    /// # Errors
    ///
    /// The job's.
    pub fn top(&self, n: usize) -> Result<Vec<T>>
    where
        T: Ord,
    {
        let parts = self.glom().map_with(largest::<T>, n as u64).collect()?;
        Ok(largest(parts.into_iter().flatten().collect(), &(n as u64)))
    }

    /// How many times each distinct record occurs (Spark's `countByValue`), in no particular order.
    ///
    /// # Errors
    ///
    /// The job's.
    pub fn count_by_value(&self) -> Result<Vec<(T, u64)>> {
        self.map(|x: T| (x, 1u64)).reduce_by_key(add_u64).collect()
    }

    /// Each record paired with its index: partition order, then order within the partition
    /// (Spark's `zipWithIndex`; like Spark it runs a job to count the partitions first).
    ///
    /// # Errors
    ///
    /// The counting job's.
    pub fn zip_with_index(&self) -> Result<Rdd<(T, u64)>> {
        let counts = self
            .map_partitions_with_index(|i, it| std::iter::once((i, it.count() as u64)))
            .collect()?;
        let mut offsets =
            vec![0u64; counts.iter().map(|(i, _)| *i as usize + 1).max().unwrap_or(0)];
        let mut next = 0;
        let mut sorted = counts;
        sorted.sort();
        for (i, n) in sorted {
            offsets[i as usize] = next;
            next += n;
        }
        Ok(self.indexed().flat_map_with(
            |(i, v): (u32, Vec<T>), offsets: &Vec<u64>| {
                let start = offsets[i as usize];
                v.into_iter().zip(start..).collect::<Vec<_>>()
            },
            offsets,
        ))
    }

    /// Each record paired with a unique id: the k-th record of partition i of n gets
    /// `k * n + i` (Spark's `zipWithUniqueId`; no job runs).
    ///
    /// # Errors
    ///
    /// The error this RDD carries.
    pub fn zip_with_unique_id(&self) -> Result<Rdd<(T, u64)>> {
        let n = u64::from(self.num_partitions()?);
        Ok(self.indexed().flat_map_with(
            |(i, v): (u32, Vec<T>), n: &u64| {
                v.into_iter()
                    .enumerate()
                    .map(|(k, x)| (x, k as u64 * n + u64::from(i)))
                    .collect::<Vec<_>>()
            },
            n,
        ))
    }

    /// Each partition's records with its index.
    fn indexed(&self) -> Rdd<(u32, Vec<T>)> {
        self.map_partitions_with_index(|i, it| std::iter::once((i, it.collect::<Vec<T>>())))
    }

    /// The records of this RDD that do not occur in `other`, duplicates kept (Spark's `subtract`).
    pub fn subtract(&self, other: &Rdd<T>) -> Rdd<T>
    where
        T: Clone,
    {
        self.map(|x: T| (x, ())).subtract_by_key(&other.map(|x: T| (x, ()))).keys()
    }

    /// The distinct records that occur in both RDDs (Spark's `intersection`).
    pub fn intersection(&self, other: &Rdd<T>) -> Rdd<T> {
        self.map(|x: T| (x, ())).cogroup(&other.map(|x: T| (x, ()))).flat_map(
            |(x, (a, b)): (T, (Vec<()>, Vec<()>))| (!a.is_empty() && !b.is_empty()).then_some(x),
        )
    }

    /// Every pair `(a, b)` of a record of this RDD and one of `other` (Spark's `cartesian`).
    /// `other` is collected and broadcast, so it should fit in memory; the result has this
    /// RDD's partitions.
    ///
    /// # Errors
    ///
    /// The job collecting `other`, or the broadcast's.
    pub fn cartesian<U: Data + Clone>(&self, other: &Rdd<U>) -> Result<Rdd<(T, U)>>
    where
        T: Clone,
    {
        let right = Broadcast::register(&other.collect()?)?;
        Ok(self.flat_map_with(
            |x: T, right: &Broadcast<Vec<U>>| {
                right.value().iter().map(|y| (x.clone(), y.clone())).collect::<Vec<_>>()
            },
            right,
        ))
    }
}

impl<K: Data + Clone, V: Data> Rdd<(K, V)> {
    /// The pairs whose key does not occur in `other` (Spark's `subtractByKey`).
    pub fn subtract_by_key<W: Data>(&self, other: &Rdd<(K, W)>) -> Rdd<(K, V)> {
        self.cogroup(other).flat_map(|(k, (vs, ws)): (K, (Vec<V>, Vec<W>))| {
            let keep = if ws.is_empty() { vs } else { Vec::new() };
            keep.into_iter().map(move |v| (k.clone(), v)).collect::<Vec<_>>()
        })
    }

    /// The values of `key` (Spark's `lookup`).
    ///
    /// # Errors
    ///
    /// The job's.
    pub fn lookup(&self, key: K) -> Result<Vec<V>>
    where
        K: PartialEq,
    {
        self.filter_with(|(k, _): &(K, V), key: &K| k == key, key).values().collect()
    }
}

/// Count, mean, variance, min and max of numbers (Spark's `StatCounter`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatCounter {
    /// How many numbers.
    pub count: u64,
    /// Their mean (0 when there are none).
    pub mean: f64,
    /// Sum of squared differences from the mean.
    m2: f64,
    /// The largest (-inf when there are none).
    pub max: f64,
    /// The smallest (+inf when there are none).
    pub min: f64,
}

impl StatCounter {
    fn new() -> StatCounter {
        StatCounter { count: 0, mean: 0.0, m2: 0.0, max: f64::NEG_INFINITY, min: f64::INFINITY }
    }

    fn add(mut self, x: f64) -> StatCounter {
        let delta = x - self.mean;
        self.count += 1;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
        self.max = self.max.max(x);
        self.min = self.min.min(x);
        self
    }

    fn merge(self, o: StatCounter) -> StatCounter {
        if self.count == 0 {
            return o;
        }
        if o.count == 0 {
            return self;
        }
        let count = self.count + o.count;
        let delta = o.mean - self.mean;
        let mean = self.mean + delta * o.count as f64 / count as f64;
        let m2 = self.m2 + o.m2 + delta * delta * self.count as f64 * o.count as f64 / count as f64;
        StatCounter { count, mean, m2, max: self.max.max(o.max), min: self.min.min(o.min) }
    }

    /// The sum.
    #[must_use]
    pub fn sum(&self) -> f64 {
        self.mean * self.count as f64
    }

    /// The population variance (NaN when there are none).
    #[must_use]
    pub fn variance(&self) -> f64 {
        if self.count == 0 { f64::NAN } else { self.m2 / self.count as f64 }
    }

    /// The sample variance (NaN with fewer than two).
    #[must_use]
    pub fn sample_variance(&self) -> f64 {
        if self.count <= 1 { f64::NAN } else { self.m2 / (self.count - 1) as f64 }
    }

    /// The population standard deviation.
    #[must_use]
    pub fn stdev(&self) -> f64 {
        self.variance().sqrt()
    }

    /// The sample standard deviation.
    #[must_use]
    pub fn sample_stdev(&self) -> f64 {
        self.sample_variance().sqrt()
    }
}

impl Rdd<f64> {
    /// Count, mean, variance, min and max in one pass (Spark's `stats`).
    ///
    /// # Errors
    ///
    /// The job's.
    pub fn stats(&self) -> Result<StatCounter> {
        self.aggregate(StatCounter::new(), StatCounter::add, StatCounter::merge)
    }

    /// The sum (0 for none; Spark's `sum`).
    ///
    /// # Errors
    ///
    /// The job's.
    pub fn sum(&self) -> Result<f64> {
        self.fold(0.0, |a, b| a + b)
    }

    /// The mean (NaN for none; Spark's `mean`).
    ///
    /// # Errors
    ///
    /// The job's.
    pub fn mean(&self) -> Result<f64> {
        let s = self.stats()?;
        Ok(if s.count == 0 { f64::NAN } else { s.mean })
    }
}
