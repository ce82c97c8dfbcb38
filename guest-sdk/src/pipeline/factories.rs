//! Factories: one generic function per op shape, monomorphised for each user
//! function. An op's name is the address of its factory (see `ops`); the
//! factory conjures the zero-sized user function, decodes the op's
//! parameters and builds the stage.

use std::any::type_name;

use super::stages::{
    AggregateMode, AggregateStage, Aggregator, FilterStage, FlatMapStage, FlatMapValuesStage,
    FoldStage, KeyByStage, MapPartitionsStage, MapStage, MapValuesStage, PartitionIter,
    ReduceStage,
};
use super::{OpSpec, Stage, kind_name};
use crate::Data;
use crate::bindings::types::OpKind;

/// What every factory returns.
pub(crate) type Built = Result<Box<dyn Stage>, String>;

/// Makes a value of the zero-sized function type `F`.
pub(crate) fn conjure<F: Copy + 'static>() -> F {
    const {
        assert!(
            size_of::<F>() == 0,
            "wisp: functions given to RDD operations must not capture anything"
        )
    };
    // SAFETY: `F` is zero-sized, so a value of it has no bytes to initialise;
    // it is inhabited because the job's main held a value of it when it named
    // this factory (`ops::op`), and `Copy` rules out drop side effects. `F` is
    // a non-capturing closure or a function item: it has no invariants.
    unsafe { std::mem::zeroed() }
}

/// The mode of an aggregator op: `combine` takes values, `merge` combiners.
fn aggregate_mode(spec: &OpSpec<'_>, function: &str) -> Result<AggregateMode, String> {
    match spec.kind {
        OpKind::Combine => Ok(AggregateMode::Combine),
        OpKind::Merge => Ok(AggregateMode::Merge),
        other => Err(format!(
            "op {} names an aggregator ({function}) but was given kind {}; aggregators run as combine or merge",
            spec.name,
            kind_name(other)
        )),
    }
}

pub(crate) fn map<T: Data, U: Data, F: Fn(T) -> U + Copy + 'static>(spec: &OpSpec<'_>) -> Built {
    spec.expect_kind(OpKind::Map, type_name::<F>())?;
    Ok(Box::new(MapStage::<T, U, _>::new(conjure::<F>())))
}

pub(crate) fn map_with<T: Data, U: Data, A: Data, F: Fn(T, &A) -> U + Copy + 'static>(
    spec: &OpSpec<'_>,
) -> Built {
    spec.expect_kind(OpKind::Map, type_name::<F>())?;
    let (f, a) = (conjure::<F>(), spec.args_as::<A>()?);
    Ok(Box::new(MapStage::<T, U, _>::new(move |t| f(t, &a))))
}

pub(crate) fn filter<T: Data, F: Fn(&T) -> bool + Copy + 'static>(spec: &OpSpec<'_>) -> Built {
    spec.expect_kind(OpKind::Filter, type_name::<F>())?;
    Ok(Box::new(FilterStage::<T, _>::new(conjure::<F>())))
}

pub(crate) fn filter_with<T: Data, A: Data, F: Fn(&T, &A) -> bool + Copy + 'static>(
    spec: &OpSpec<'_>,
) -> Built {
    spec.expect_kind(OpKind::Filter, type_name::<F>())?;
    let (f, a) = (conjure::<F>(), spec.args_as::<A>()?);
    Ok(Box::new(FilterStage::<T, _>::new(move |t: &T| f(t, &a))))
}

pub(crate) fn flat_map<T, I, F>(spec: &OpSpec<'_>) -> Built
where
    T: Data,
    I: IntoIterator<Item: Data> + 'static,
    F: Fn(T) -> I + Copy + 'static,
{
    spec.expect_kind(OpKind::FlatMap, type_name::<F>())?;
    Ok(Box::new(FlatMapStage::<T, I, _>::new(conjure::<F>())))
}

pub(crate) fn flat_map_with<T, A, I, F>(spec: &OpSpec<'_>) -> Built
where
    T: Data,
    A: Data,
    I: IntoIterator<Item: Data> + 'static,
    F: Fn(T, &A) -> I + Copy + 'static,
{
    spec.expect_kind(OpKind::FlatMap, type_name::<F>())?;
    let (f, a) = (conjure::<F>(), spec.args_as::<A>()?);
    Ok(Box::new(FlatMapStage::<T, I, _>::new(move |t| f(t, &a))))
}

pub(crate) fn map_partitions<T, I, F>(spec: &OpSpec<'_>) -> Built
where
    T: Data,
    I: IntoIterator<Item: Data> + 'static,
    F: Fn(PartitionIter<T>) -> I + Copy + 'static,
{
    spec.expect_kind(OpKind::MapPartitions, type_name::<F>())?;
    let f = conjure::<F>();
    Ok(Box::new(MapPartitionsStage::<T, I, _>::new(spec.partition, move |_, records| f(records))))
}

pub(crate) fn map_partitions_with_index<T, I, F>(spec: &OpSpec<'_>) -> Built
where
    T: Data,
    I: IntoIterator<Item: Data> + 'static,
    F: Fn(u32, PartitionIter<T>) -> I + Copy + 'static,
{
    spec.expect_kind(OpKind::MapPartitions, type_name::<F>())?;
    Ok(Box::new(MapPartitionsStage::<T, I, _>::new(spec.partition, conjure::<F>())))
}

/// Folds each partition with `F` from the zero in the op's args into one record, as it
/// streams by (a transformation: `Rdd::tree_aggregate`'s first level).
pub(crate) fn fold_partition<T: Data, U: Data, F: Fn(U, T) -> U + Copy + 'static>(
    spec: &OpSpec<'_>,
) -> Built {
    spec.expect_kind(OpKind::MapPartitions, type_name::<F>())?;
    let zero = spec.args_as::<U>()?;
    Ok(Box::new(FoldStage::<T, U, _>::new(zero, conjure::<F>())))
}

/// Keys each record by its partition's index modulo the `u32` in the op's args
/// (`Rdd::tree_aggregate`'s levels).
pub(crate) fn key_by_partition_mod<U: Data>(spec: &OpSpec<'_>) -> Built {
    spec.expect_kind(OpKind::MapPartitions, "key_by_partition_mod")?;
    let modulus = spec.args_as::<u32>()?.max(1);
    Ok(Box::new(MapPartitionsStage::<U, Vec<(u32, U)>, _>::new(
        spec.partition,
        move |i: u32, records: PartitionIter<U>| {
            records.map(|u| (i % modulus, u)).collect::<Vec<_>>()
        },
    )))
}

pub(crate) fn map_values<K: Data, V: Data, W: Data, F: Fn(V) -> W + Copy + 'static>(
    spec: &OpSpec<'_>,
) -> Built {
    spec.expect_kind(OpKind::MapValues, type_name::<F>())?;
    Ok(Box::new(MapValuesStage::<K, V, W, _>::new(conjure::<F>())))
}

pub(crate) fn map_values_with<K, V, W, A, F>(spec: &OpSpec<'_>) -> Built
where
    K: Data,
    V: Data,
    W: Data,
    A: Data,
    F: Fn(V, &A) -> W + Copy + 'static,
{
    spec.expect_kind(OpKind::MapValues, type_name::<F>())?;
    let (f, a) = (conjure::<F>(), spec.args_as::<A>()?);
    Ok(Box::new(MapValuesStage::<K, V, W, _>::new(move |v| f(v, &a))))
}

pub(crate) fn flat_map_values<K, V, I, F>(spec: &OpSpec<'_>) -> Built
where
    K: Data,
    V: Data,
    I: IntoIterator<Item: Data> + 'static,
    F: Fn(V) -> I + Copy + 'static,
{
    spec.expect_kind(OpKind::FlatMapValues, type_name::<F>())?;
    Ok(Box::new(FlatMapValuesStage::<K, V, I, _>::new(conjure::<F>())))
}

pub(crate) fn key_by<T: Data, K: Data, F: Fn(&T) -> K + Copy + 'static>(
    spec: &OpSpec<'_>,
) -> Built {
    spec.expect_kind(OpKind::KeyBy, type_name::<F>())?;
    Ok(Box::new(KeyByStage::<T, K, _>::new(conjure::<F>())))
}

pub(crate) fn reduce_by_key<K: Data, V: Data, F: Fn(V, V) -> V + Copy + 'static>(
    spec: &OpSpec<'_>,
) -> Built {
    let mode = aggregate_mode(spec, type_name::<F>())?;
    let f = conjure::<F>();
    let aggregator = Aggregator { create: |v: V| v, merge_value: f, merge_combiners: f };
    Ok(Box::new(AggregateStage::<K, V, V, _, _, _>::new(mode, aggregator)))
}

pub(crate) fn fold_by_key<K: Data, V: Data + Clone, F: Fn(V, V) -> V + Copy + 'static>(
    spec: &OpSpec<'_>,
) -> Built {
    let mode = aggregate_mode(spec, type_name::<F>())?;
    let (f, zero) = (conjure::<F>(), spec.args_as::<V>()?);
    let aggregator =
        Aggregator { create: move |v: V| f(zero.clone(), v), merge_value: f, merge_combiners: f };
    Ok(Box::new(AggregateStage::<K, V, V, _, _, _>::new(mode, aggregator)))
}

pub(crate) fn aggregate_by_key<K, V, U, S, C>(spec: &OpSpec<'_>) -> Built
where
    K: Data,
    V: Data,
    U: Data + Clone,
    S: Fn(U, V) -> U + Copy + 'static,
    C: Fn(U, U) -> U + Copy + 'static,
{
    let mode = aggregate_mode(spec, type_name::<S>())?;
    let (seq, comb, zero) = (conjure::<S>(), conjure::<C>(), spec.args_as::<U>()?);
    let aggregator = Aggregator {
        create: move |v: V| seq(zero.clone(), v),
        merge_value: seq,
        merge_combiners: comb,
    };
    Ok(Box::new(AggregateStage::<K, V, U, _, _, _>::new(mode, aggregator)))
}

pub(crate) fn combine_by_key<K, V, C, Cr, Mv, Mc>(spec: &OpSpec<'_>) -> Built
where
    K: Data,
    V: Data,
    C: Data,
    Cr: Fn(V) -> C + Copy + 'static,
    Mv: Fn(C, V) -> C + Copy + 'static,
    Mc: Fn(C, C) -> C + Copy + 'static,
{
    let mode = aggregate_mode(spec, type_name::<Cr>())?;
    let aggregator = Aggregator {
        create: conjure::<Cr>(),
        merge_value: conjure::<Mv>(),
        merge_combiners: conjure::<Mc>(),
    };
    Ok(Box::new(AggregateStage::<K, V, C, _, _, _>::new(mode, aggregator)))
}

pub(crate) fn fold<T: Data, U: Data, F: Fn(U, T) -> U + Copy + 'static>(
    spec: &OpSpec<'_>,
) -> Built {
    spec.expect_kind(OpKind::Fold, type_name::<F>())?;
    let zero = spec.args_as::<U>()?;
    Ok(Box::new(FoldStage::<T, U, _>::new(zero, conjure::<F>())))
}

pub(crate) fn reduce<T: Data, F: Fn(T, T) -> T + Copy + 'static>(spec: &OpSpec<'_>) -> Built {
    spec.expect_kind(OpKind::Reduce, type_name::<F>())?;
    Ok(Box::new(ReduceStage::<T, _>::new(conjure::<F>())))
}
