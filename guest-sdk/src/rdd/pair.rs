//! Operations on pair RDDs `Rdd<(K, V)>`: per-key aggregation, grouping,
//! joins, sorting and partitioning. Keys are compared, hashed and sorted by
//! their encoded bytes.
//!
//! Every shuffle has a `*_n` variant taking the number of partitions; the
//! plain one uses [`Context::default_parallelism`](crate::Context::default_parallelism),
//! except the joins and `cogroup`, which use Spark's default partitioner: the
//! hash partitioning of an input that has one (the one with the most
//! partitions), so that an input already partitioned that way is not shuffled.

use std::collections::HashMap;
use std::hash::Hash;

use super::{Rdd, default_partitions};
use crate::bindings::types::{Op, OpKind};
use crate::bindings::wisp::task::driver::{self, JoinKind};
use crate::error::Result;
use crate::ops::{self, Factory, stateless};
use crate::pipeline::factories;
use crate::{Data, codec};

fn add_u64(a: u64, b: u64) -> u64 {
    a + b
}

fn one<V>(_: V) -> u64 {
    1
}

#[allow(
    clippy::type_complexity,
    reason = "the join and cogroup result types are spelled out: they are the API"
)]
impl<K: Data, V: Data> Rdd<(K, V)> {
    fn combine<C>(&self, aggregator: &Op, partitions: u32) -> Rdd<(K, C)> {
        self.then(|id| driver::combine_by_key(id, aggregator, 0, partitions.max(1), true))
    }

    /// A join into `partitions` partitions; 0 lets the host pick Spark's
    /// default partitioner (an input's hash partitioning, if it has one).
    fn join_with<W, R>(&self, other: &Rdd<(K, W)>, kind: JoinKind, partitions: u32) -> Rdd<(K, R)> {
        match (&self.id, &other.id) {
            (Ok(a), Ok(b)) => Rdd::from_driver(driver::join(*a, *b, kind, partitions)),
            (Err(e), _) | (_, Err(e)) => Rdd::failed(e.clone()),
        }
    }

    /// Applies `f` to every value; keys pass unchanged (their bytes are not
    /// even decoded).
    pub fn map_values<W: Data, F: Fn(V) -> W + Copy + 'static>(&self, f: F) -> Rdd<(K, W)> {
        let _ = f;
        stateless::<F>();
        let op =
            ops::op(OpKind::MapValues, factories::map_values::<K, V, W, F> as Factory, Vec::new());
        self.then(|id| driver::transform(id, &op, 0))
    }

    /// Applies `f(value, &args)` to every value.
    pub fn map_values_with<A: Data, W: Data, F: Fn(V, &A) -> W + Copy + 'static>(
        &self,
        f: F,
        args: A,
    ) -> Rdd<(K, W)> {
        let _ = f;
        stateless::<F>();
        match codec::to_vec(&args) {
            Ok(args) => {
                let op = ops::op(
                    OpKind::MapValues,
                    factories::map_values_with::<K, V, W, A, F> as Factory,
                    args,
                );
                self.then(|id| driver::transform(id, &op, 0))
            }
            Err(e) => Rdd::failed(e.into()),
        }
    }

    /// Replaces every pair `(k, v)` by `(k, w)` for every `w` of `f(v)`.
    pub fn flat_map_values<I, F>(&self, f: F) -> Rdd<(K, I::Item)>
    where
        I: IntoIterator<Item: Data> + 'static,
        F: Fn(V) -> I + Copy + 'static,
    {
        let _ = f;
        stateless::<F>();
        let op = ops::op(
            OpKind::FlatMapValues,
            factories::flat_map_values::<K, V, I, F> as Factory,
            Vec::new(),
        );
        self.then(|id| driver::transform(id, &op, 0))
    }

    /// The keys.
    pub fn keys(&self) -> Rdd<K> {
        self.map(|(k, _): (K, V)| k)
    }

    /// The values.
    pub fn values(&self) -> Rdd<V> {
        self.map(|(_, v): (K, V)| v)
    }

    /// The values of each key merged with `f` (associative and
    /// commutative), combining on the map side first.
    pub fn reduce_by_key<F: Fn(V, V) -> V + Copy + 'static>(&self, f: F) -> Rdd<(K, V)> {
        self.reduce_by_key_n(f, default_partitions())
    }

    /// [`Rdd::reduce_by_key`] into `partitions` partitions.
    pub fn reduce_by_key_n<F: Fn(V, V) -> V + Copy + 'static>(
        &self,
        f: F,
        partitions: u32,
    ) -> Rdd<(K, V)> {
        let _ = f;
        stateless::<F>();
        self.combine(
            &ops::op(OpKind::Combine, factories::reduce_by_key::<K, V, F> as Factory, Vec::new()),
            partitions,
        )
    }

    /// The values of each key folded with `f`, starting from `zero` in each
    /// partition (Spark's `foldByKey`).
    pub fn fold_by_key<F: Fn(V, V) -> V + Copy + 'static>(&self, zero: V, f: F) -> Rdd<(K, V)>
    where
        V: Clone,
    {
        self.fold_by_key_n(zero, f, default_partitions())
    }

    /// [`Rdd::fold_by_key`] into `partitions` partitions.
    pub fn fold_by_key_n<F: Fn(V, V) -> V + Copy + 'static>(
        &self,
        zero: V,
        f: F,
        partitions: u32,
    ) -> Rdd<(K, V)>
    where
        V: Clone,
    {
        let _ = f;
        stateless::<F>();
        match codec::to_vec(&zero) {
            Ok(args) => self.combine(
                &ops::op(OpKind::Combine, factories::fold_by_key::<K, V, F> as Factory, args),
                partitions,
            ),
            Err(e) => Rdd::failed(e.into()),
        }
    }

    /// The values of each key aggregated into a `U`: folded with `seq` from
    /// `zero`, and partial results merged with `comb` (Spark's `aggregateByKey`).
    pub fn aggregate_by_key<U, S, C>(&self, zero: U, seq: S, comb: C) -> Rdd<(K, U)>
    where
        U: Data + Clone,
        S: Fn(U, V) -> U + Copy + 'static,
        C: Fn(U, U) -> U + Copy + 'static,
    {
        self.aggregate_by_key_n(zero, seq, comb, default_partitions())
    }

    /// [`Rdd::aggregate_by_key`] into `partitions` partitions.
    pub fn aggregate_by_key_n<U, S, C>(
        &self,
        zero: U,
        seq: S,
        comb: C,
        partitions: u32,
    ) -> Rdd<(K, U)>
    where
        U: Data + Clone,
        S: Fn(U, V) -> U + Copy + 'static,
        C: Fn(U, U) -> U + Copy + 'static,
    {
        let _ = (seq, comb);
        stateless::<S>();
        stateless::<C>();
        match codec::to_vec(&zero) {
            Ok(args) => {
                let factory = factories::aggregate_by_key::<K, V, U, S, C> as Factory;
                self.combine(&ops::op(OpKind::Combine, factory, args), partitions)
            }
            Err(e) => Rdd::failed(e.into()),
        }
    }

    /// The values of each key turned into a combiner `C` (Spark's
    /// `combineByKey`): `create` makes one from a key's first value in a
    /// partition, `merge_value` adds a value, `merge_combiners` merges two.
    pub fn combine_by_key<C, Cr, Mv, Mc>(
        &self,
        create: Cr,
        merge_value: Mv,
        merge_combiners: Mc,
    ) -> Rdd<(K, C)>
    where
        C: Data,
        Cr: Fn(V) -> C + Copy + 'static,
        Mv: Fn(C, V) -> C + Copy + 'static,
        Mc: Fn(C, C) -> C + Copy + 'static,
    {
        self.combine_by_key_n(create, merge_value, merge_combiners, default_partitions())
    }

    /// [`Rdd::combine_by_key`] into `partitions` partitions.
    pub fn combine_by_key_n<C, Cr, Mv, Mc>(
        &self,
        create: Cr,
        merge_value: Mv,
        merge_combiners: Mc,
        partitions: u32,
    ) -> Rdd<(K, C)>
    where
        C: Data,
        Cr: Fn(V) -> C + Copy + 'static,
        Mv: Fn(C, V) -> C + Copy + 'static,
        Mc: Fn(C, C) -> C + Copy + 'static,
    {
        let _ = (create, merge_value, merge_combiners);
        stateless::<Cr>();
        stateless::<Mv>();
        stateless::<Mc>();
        let factory = factories::combine_by_key::<K, V, C, Cr, Mv, Mc> as Factory;
        self.combine(&ops::op(OpKind::Combine, factory, Vec::new()), partitions)
    }

    /// All the values of each key, one pair per key.
    pub fn group_by_key(&self) -> Rdd<(K, Vec<V>)> {
        self.group_by_key_n(default_partitions())
    }

    /// [`Rdd::group_by_key`] into `partitions` partitions.
    pub fn group_by_key_n(&self, partitions: u32) -> Rdd<(K, Vec<V>)> {
        self.then(|id| driver::group_by_key(id, partitions.max(1)))
    }

    /// Pairs `(k, (v, w))` for every `v` and `w` of a key on both sides.
    pub fn join<W: Data>(&self, other: &Rdd<(K, W)>) -> Rdd<(K, (V, W))> {
        self.join_with(other, JoinKind::Inner, 0)
    }

    /// [`Rdd::join`] into `partitions` partitions.
    pub fn join_n<W: Data>(&self, other: &Rdd<(K, W)>, partitions: u32) -> Rdd<(K, (V, W))> {
        self.join_with(other, JoinKind::Inner, partitions.max(1))
    }

    /// Every pair of `self`, with each matching value of `other` or `None`.
    pub fn left_outer_join<W: Data>(&self, other: &Rdd<(K, W)>) -> Rdd<(K, (V, Option<W>))> {
        self.join_with(other, JoinKind::LeftOuter, 0)
    }

    /// [`Rdd::left_outer_join`] into `partitions` partitions.
    pub fn left_outer_join_n<W: Data>(
        &self,
        other: &Rdd<(K, W)>,
        partitions: u32,
    ) -> Rdd<(K, (V, Option<W>))> {
        self.join_with(other, JoinKind::LeftOuter, partitions.max(1))
    }

    /// Every pair of `other`, with each matching value of `self` or `None`.
    pub fn right_outer_join<W: Data>(&self, other: &Rdd<(K, W)>) -> Rdd<(K, (Option<V>, W))> {
        self.join_with(other, JoinKind::RightOuter, 0)
    }

    /// [`Rdd::right_outer_join`] into `partitions` partitions.
    pub fn right_outer_join_n<W: Data>(
        &self,
        other: &Rdd<(K, W)>,
        partitions: u32,
    ) -> Rdd<(K, (Option<V>, W))> {
        self.join_with(other, JoinKind::RightOuter, partitions.max(1))
    }

    /// Every key of either side, with the matching values or `None`.
    pub fn full_outer_join<W: Data>(
        &self,
        other: &Rdd<(K, W)>,
    ) -> Rdd<(K, (Option<V>, Option<W>))> {
        self.join_with(other, JoinKind::FullOuter, 0)
    }

    /// [`Rdd::full_outer_join`] into `partitions` partitions.
    pub fn full_outer_join_n<W: Data>(
        &self,
        other: &Rdd<(K, W)>,
        partitions: u32,
    ) -> Rdd<(K, (Option<V>, Option<W>))> {
        self.join_with(other, JoinKind::FullOuter, partitions.max(1))
    }

    /// For every key of either side, all its values on each side.
    pub fn cogroup<W: Data>(&self, other: &Rdd<(K, W)>) -> Rdd<(K, (Vec<V>, Vec<W>))> {
        self.cogroup_with(other, 0)
    }

    /// [`Rdd::cogroup`] into `partitions` partitions.
    pub fn cogroup_n<W: Data>(
        &self,
        other: &Rdd<(K, W)>,
        partitions: u32,
    ) -> Rdd<(K, (Vec<V>, Vec<W>))> {
        self.cogroup_with(other, partitions.max(1))
    }

    /// A cogroup into `partitions` partitions (0: as [`Rdd::join_with`]).
    fn cogroup_with<W: Data>(
        &self,
        other: &Rdd<(K, W)>,
        partitions: u32,
    ) -> Rdd<(K, (Vec<V>, Vec<W>))> {
        match (&self.id, &other.id) {
            (Ok(a), Ok(b)) => Rdd::from_driver(driver::cogroup(&[*a, *b], partitions)),
            (Err(e), _) | (_, Err(e)) => Rdd::failed(e.clone()),
        }
    }

    /// The pairs sorted by key (by the keys' encoded bytes: numeric order
    /// for numbers, byte order for strings), range-partitioned.
    pub fn sort_by_key(&self, ascending: bool) -> Rdd<(K, V)> {
        self.sort_by_key_n(ascending, default_partitions())
    }

    /// [`Rdd::sort_by_key`] into `partitions` partitions.
    pub fn sort_by_key_n(&self, ascending: bool, partitions: u32) -> Rdd<(K, V)> {
        self.then(|id| driver::sort_by_key(id, ascending, partitions.max(1)))
    }

    /// The pairs hash-partitioned by key into `partitions` partitions.
    pub fn partition_by(&self, partitions: u32) -> Rdd<(K, V)> {
        self.then(|id| driver::partition_by(id, partitions.max(1)))
    }

    /// The number of pairs of each key.
    ///
    /// # Errors
    ///
    /// The error this RDD carries, or the failed job's.
    pub fn count_by_key(&self) -> Result<HashMap<K, u64>>
    where
        K: Eq + Hash,
    {
        Ok(self.map_values(one::<V>).reduce_by_key(add_u64).collect()?.into_iter().collect())
    }

    /// The pairs as a map (for a key seen twice, the later value wins).
    ///
    /// # Errors
    ///
    /// The error this RDD carries, or the failed job's.
    pub fn collect_as_map(&self) -> Result<HashMap<K, V>>
    where
        K: Eq + Hash,
    {
        Ok(self.collect()?.into_iter().collect())
    }
}
