//! The stage of each op kind, generic over the user's function (already
//! bound to its decoded parameters by the factory).

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;

use super::table::KeyTable;
use super::{Next, Records, Stage, Value, decode_as, encode_into, split_pair, write_key};
use crate::Data;

/// `map`: one record in, `f(record)` out.
pub(crate) struct MapStage<T, U, F> {
    f: F,
    scratch: Vec<u8>,
    types: PhantomData<fn(T) -> U>,
}

impl<T, U, F> MapStage<T, U, F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f, scratch: Vec::new(), types: PhantomData }
    }
}

impl<T: Data, U: Data, F: FnMut(T) -> U + 'static> Stage for MapStage<T, U, F> {
    fn input_type(&self) -> TypeId {
        TypeId::of::<T>()
    }

    fn push_bytes(&mut self, record: &[u8], next: &mut Next<'_>) -> Result<(), String> {
        let t = decode_as::<T>(record)?;
        next.value((self.f)(t), &mut self.scratch)
    }

    fn push_value(&mut self, value: Value<'_>, next: &mut Next<'_>) -> Result<(), String> {
        let t = value.take::<T>()?;
        next.value((self.f)(t), &mut self.scratch)
    }
}

/// `filter`: the record itself out when `f(&record)`; encoded input is
/// passed on as the original bytes.
pub(crate) struct FilterStage<T, F> {
    f: F,
    scratch: Vec<u8>,
    types: PhantomData<fn(T)>,
}

impl<T, F> FilterStage<T, F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f, scratch: Vec::new(), types: PhantomData }
    }
}

impl<T: Data, F: FnMut(&T) -> bool + 'static> Stage for FilterStage<T, F> {
    fn input_type(&self) -> TypeId {
        TypeId::of::<T>()
    }

    fn push_bytes(&mut self, record: &[u8], next: &mut Next<'_>) -> Result<(), String> {
        let t = decode_as::<T>(record)?;
        if !(self.f)(&t) {
            return Ok(());
        }
        if next.accepts::<T>() { next.value(t, &mut self.scratch) } else { next.bytes(record) }
    }

    fn push_value(&mut self, value: Value<'_>, next: &mut Next<'_>) -> Result<(), String> {
        let t = value.take::<T>()?;
        if (self.f)(&t) { next.value(t, &mut self.scratch) } else { Ok(()) }
    }
}

/// `flat-map`: one record in, every item of `f(record)` out.
pub(crate) struct FlatMapStage<T, I, F> {
    f: F,
    scratch: Vec<u8>,
    types: PhantomData<fn(T) -> I>,
}

impl<T, I, F> FlatMapStage<T, I, F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f, scratch: Vec::new(), types: PhantomData }
    }
}

impl<T, I, F> FlatMapStage<T, I, F>
where
    T: Data,
    I: IntoIterator<Item: Data>,
    F: FnMut(T) -> I + 'static,
{
    fn run(&mut self, t: T, next: &mut Next<'_>) -> Result<(), String> {
        for u in (self.f)(t) {
            next.value(u, &mut self.scratch)?;
        }
        Ok(())
    }
}

impl<T, I, F> Stage for FlatMapStage<T, I, F>
where
    T: Data,
    I: IntoIterator<Item: Data> + 'static,
    F: FnMut(T) -> I + 'static,
{
    fn input_type(&self) -> TypeId {
        TypeId::of::<T>()
    }

    fn push_bytes(&mut self, record: &[u8], next: &mut Next<'_>) -> Result<(), String> {
        let t = decode_as::<T>(record)?;
        self.run(t, next)
    }

    fn push_value(&mut self, value: Value<'_>, next: &mut Next<'_>) -> Result<(), String> {
        let t = value.take::<T>()?;
        self.run(t, next)
    }
}

/// `map-values`: a pair in, `(key, f(value))` out; the key's bytes pass
/// unchanged and are never decoded unless the next stage wants a typed pair.
pub(crate) struct MapValuesStage<K, V, W, F> {
    f: F,
    scratch: Vec<u8>,
    types: PhantomData<fn(K, V) -> W>,
}

impl<K, V, W, F> MapValuesStage<K, V, W, F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f, scratch: Vec::new(), types: PhantomData }
    }
}

impl<K: Data, V: Data, W: Data, F: FnMut(V) -> W + 'static> Stage for MapValuesStage<K, V, W, F> {
    fn input_type(&self) -> TypeId {
        TypeId::of::<(K, V)>()
    }

    fn push_bytes(&mut self, record: &[u8], next: &mut Next<'_>) -> Result<(), String> {
        let (key, value) = split_pair(record)?;
        let v = decode_as::<V>(value)?;
        next.pair::<K, W>(key, (self.f)(v), &mut self.scratch)
    }

    fn push_value(&mut self, value: Value<'_>, next: &mut Next<'_>) -> Result<(), String> {
        let (k, v) = value.take::<(K, V)>()?;
        next.value((k, (self.f)(v)), &mut self.scratch)
    }
}

/// `flat-map-values`: a pair in, `(key, w)` out for every `w` of
/// `f(value)`, each with the unchanged key bytes.
pub(crate) struct FlatMapValuesStage<K, V, I, F> {
    f: F,
    key: Vec<u8>,
    scratch: Vec<u8>,
    types: PhantomData<fn(K, V) -> I>,
}

impl<K, V, I, F> FlatMapValuesStage<K, V, I, F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f, key: Vec::new(), scratch: Vec::new(), types: PhantomData }
    }
}

impl<K, V, I, F> Stage for FlatMapValuesStage<K, V, I, F>
where
    K: Data,
    V: Data,
    I: IntoIterator<Item: Data> + 'static,
    F: FnMut(V) -> I + 'static,
{
    fn input_type(&self) -> TypeId {
        TypeId::of::<(K, V)>()
    }

    fn push_bytes(&mut self, record: &[u8], next: &mut Next<'_>) -> Result<(), String> {
        let (key, value) = split_pair(record)?;
        let v = decode_as::<V>(value)?;
        for w in (self.f)(v) {
            next.pair::<K, I::Item>(key, w, &mut self.scratch)?;
        }
        Ok(())
    }

    fn push_value(&mut self, value: Value<'_>, next: &mut Next<'_>) -> Result<(), String> {
        let (k, v) = value.take::<(K, V)>()?;
        self.key.clear();
        encode_into(&k, &mut self.key)?;
        for w in (self.f)(v) {
            next.pair::<K, I::Item>(&self.key, w, &mut self.scratch)?;
        }
        Ok(())
    }
}

/// `key-by`: a record in, `(f(&record), record)` out, the record's original
/// bytes unchanged.
pub(crate) struct KeyByStage<T, K, F> {
    f: F,
    key: Vec<u8>,
    scratch: Vec<u8>,
    types: PhantomData<fn(T) -> K>,
}

impl<T, K, F> KeyByStage<T, K, F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f, key: Vec::new(), scratch: Vec::new(), types: PhantomData }
    }
}

impl<T: Data, K: Data, F: FnMut(&T) -> K + 'static> Stage for KeyByStage<T, K, F> {
    fn input_type(&self) -> TypeId {
        TypeId::of::<T>()
    }

    fn push_bytes(&mut self, record: &[u8], next: &mut Next<'_>) -> Result<(), String> {
        let t = decode_as::<T>(record)?;
        let k = (self.f)(&t);
        if next.accepts::<(K, T)>() {
            return next.value((k, t), &mut self.scratch);
        }
        self.key.clear();
        encode_into(&k, &mut self.key)?;
        let key = &self.key;
        next.write(&mut self.scratch, |buf| {
            write_key(buf, key)?;
            buf.extend_from_slice(record);
            Ok(())
        })
    }

    fn push_value(&mut self, value: Value<'_>, next: &mut Next<'_>) -> Result<(), String> {
        let t = value.take::<T>()?;
        let k = (self.f)(&t);
        next.value((k, t), &mut self.scratch)
    }
}

/// The encoding of a key: a `String`'s own bytes (its encoding), else the
/// key encoded into `buf`.
fn key_bytes<'k, K: Data>(key: &'k K, buf: &'k mut Vec<u8>) -> Result<&'k [u8], String> {
    // `K` is concrete here, so this check compiles to a constant.
    if let Some(s) = (key as &dyn Any).downcast_ref::<String>() {
        return Ok(s.as_bytes());
    }
    buf.clear();
    encode_into(key, buf)?;
    Ok(buf)
}

/// The three functions of an aggregator (Spark's `Aggregator`).
pub(crate) struct Aggregator<Cr, Mv, Mc> {
    pub(crate) create: Cr,
    pub(crate) merge_value: Mv,
    pub(crate) merge_combiners: Mc,
}

/// Whether an aggregation stage takes values (`combine`) or combiners (`merge`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggregateMode {
    Combine,
    Merge,
}

/// `combine` and `merge`: one combiner per distinct key bytes, emitted at
/// the end. Keys are never decoded on the way in.
pub(crate) struct AggregateStage<K, V, C, Cr, Mv, Mc> {
    mode: AggregateMode,
    aggregator: Aggregator<Cr, Mv, Mc>,
    table: KeyTable<C>,
    key: Vec<u8>,
    scratch: Vec<u8>,
    types: PhantomData<fn(K, V)>,
}

impl<K, V, C, Cr, Mv, Mc> AggregateStage<K, V, C, Cr, Mv, Mc>
where
    K: Data,
    V: Data,
    C: Data,
    Cr: FnMut(V) -> C + 'static,
    Mv: FnMut(C, V) -> C + 'static,
    Mc: FnMut(C, C) -> C + 'static,
{
    pub(crate) fn new(mode: AggregateMode, aggregator: Aggregator<Cr, Mv, Mc>) -> Self {
        Self { mode, aggregator, table: KeyTable::default(), key: Vec::new(), scratch: Vec::new(), types: PhantomData }
    }

    fn add_value(table: &mut KeyTable<C>, agg: &mut Aggregator<Cr, Mv, Mc>, key: &[u8], v: V) {
        table.add(key, v, &mut agg.create, &mut agg.merge_value);
    }

    fn add_combiner(table: &mut KeyTable<C>, agg: &mut Aggregator<Cr, Mv, Mc>, key: &[u8], c: C) {
        table.add(key, c, |c| c, &mut agg.merge_combiners);
    }
}

impl<K, V, C, Cr, Mv, Mc> Stage for AggregateStage<K, V, C, Cr, Mv, Mc>
where
    K: Data,
    V: Data,
    C: Data,
    Cr: FnMut(V) -> C + 'static,
    Mv: FnMut(C, V) -> C + 'static,
    Mc: FnMut(C, C) -> C + 'static,
{
    fn input_type(&self) -> TypeId {
        match self.mode {
            AggregateMode::Combine => TypeId::of::<(K, V)>(),
            AggregateMode::Merge => TypeId::of::<(K, C)>(),
        }
    }

    fn push_bytes(&mut self, record: &[u8], _next: &mut Next<'_>) -> Result<(), String> {
        let (key, value) = split_pair(record)?;
        match self.mode {
            AggregateMode::Combine => {
                let v = decode_as::<V>(value)?;
                Self::add_value(&mut self.table, &mut self.aggregator, key, v);
            }
            AggregateMode::Merge => {
                let c = decode_as::<C>(value)?;
                Self::add_combiner(&mut self.table, &mut self.aggregator, key, c);
            }
        }
        Ok(())
    }

    fn push_value(&mut self, value: Value<'_>, _next: &mut Next<'_>) -> Result<(), String> {
        match self.mode {
            AggregateMode::Combine => {
                let (k, v) = value.take::<(K, V)>()?;
                let key = key_bytes(&k, &mut self.key)?;
                Self::add_value(&mut self.table, &mut self.aggregator, key, v);
            }
            AggregateMode::Merge => {
                let (k, c) = value.take::<(K, C)>()?;
                let key = key_bytes(&k, &mut self.key)?;
                Self::add_combiner(&mut self.table, &mut self.aggregator, key, c);
            }
        }
        Ok(())
    }

    fn finish(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        let scratch = &mut self.scratch;
        self.table.drain(|key, c| next.pair::<K, C>(key, c, scratch))
    }
}

/// `fold`: every record folded into an accumulator that starts at the zero
/// value; exactly one record out at the end.
pub(crate) struct FoldStage<T, U, F> {
    f: F,
    acc: Option<U>,
    scratch: Vec<u8>,
    types: PhantomData<fn(T)>,
}

impl<T, U, F> FoldStage<T, U, F> {
    pub(crate) fn new(zero: U, f: F) -> Self {
        Self { f, acc: Some(zero), scratch: Vec::new(), types: PhantomData }
    }
}

impl<T: Data, U: Data, F: FnMut(U, T) -> U + 'static> FoldStage<T, U, F> {
    fn add(&mut self, t: T) -> Result<(), String> {
        let acc = self.acc.take().ok_or("fold got a record after its end")?;
        self.acc = Some((self.f)(acc, t));
        Ok(())
    }
}

impl<T: Data, U: Data, F: FnMut(U, T) -> U + 'static> Stage for FoldStage<T, U, F> {
    fn input_type(&self) -> TypeId {
        TypeId::of::<T>()
    }

    fn push_bytes(&mut self, record: &[u8], _next: &mut Next<'_>) -> Result<(), String> {
        let t = decode_as::<T>(record)?;
        self.add(t)
    }

    fn push_value(&mut self, value: Value<'_>, _next: &mut Next<'_>) -> Result<(), String> {
        let t = value.take::<T>()?;
        self.add(t)
    }

    fn finish(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        match self.acc.take() {
            Some(acc) => next.value(acc, &mut self.scratch),
            None => Ok(()),
        }
    }
}

/// `reduce`: records reduced pairwise; one record out, none for no input.
pub(crate) struct ReduceStage<T, F> {
    f: F,
    acc: Option<T>,
    scratch: Vec<u8>,
}

impl<T, F> ReduceStage<T, F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f, acc: None, scratch: Vec::new() }
    }
}

impl<T: Data, F: FnMut(T, T) -> T + 'static> ReduceStage<T, F> {
    fn add(&mut self, t: T) {
        self.acc = Some(match self.acc.take() {
            None => t,
            Some(acc) => (self.f)(acc, t),
        });
    }
}

impl<T: Data, F: FnMut(T, T) -> T + 'static> Stage for ReduceStage<T, F> {
    fn input_type(&self) -> TypeId {
        TypeId::of::<T>()
    }

    fn push_bytes(&mut self, record: &[u8], _next: &mut Next<'_>) -> Result<(), String> {
        let t = decode_as::<T>(record)?;
        self.add(t);
        Ok(())
    }

    fn push_value(&mut self, value: Value<'_>, _next: &mut Next<'_>) -> Result<(), String> {
        let t = value.take::<T>()?;
        self.add(t);
        Ok(())
    }

    fn finish(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        match self.acc.take() {
            Some(acc) => next.value(acc, &mut self.scratch),
            None => Ok(()),
        }
    }
}

/// `map-partitions`: the partition's records are kept (encoded) until the
/// input ends, then `f(partition index, records)` runs once.
pub(crate) struct MapPartitionsStage<T, I, F> {
    f: F,
    partition: u32,
    held: Records,
    scratch: Vec<u8>,
    types: PhantomData<fn(T) -> I>,
}

impl<T, I, F> MapPartitionsStage<T, I, F> {
    pub(crate) fn new(partition: u32, f: F) -> Self {
        Self { f, partition, held: Records::default(), scratch: Vec::new(), types: PhantomData }
    }
}

impl<T, I, F> Stage for MapPartitionsStage<T, I, F>
where
    T: Data,
    I: IntoIterator<Item: Data> + 'static,
    F: FnMut(u32, PartitionIter<T>) -> I + 'static,
{
    fn input_type(&self) -> TypeId {
        TypeId::of::<T>()
    }

    fn push_bytes(&mut self, record: &[u8], _next: &mut Next<'_>) -> Result<(), String> {
        self.held.push(record);
        Ok(())
    }

    fn push_value(&mut self, value: Value<'_>, _next: &mut Next<'_>) -> Result<(), String> {
        let t = value.take::<T>()?;
        self.held.push_with(|buf| encode_into(&t, buf))
    }

    fn finish(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        let error = Rc::new(RefCell::new(None));
        let records = PartitionIter { records: std::mem::take(&mut self.held), position: 0, error: Rc::clone(&error), types: PhantomData };
        for u in (self.f)(self.partition, records) {
            next.value(u, &mut self.scratch)?;
            if let Some(e) = error.borrow_mut().take() {
                return Err(e);
            }
        }
        error.borrow_mut().take().map_or(Ok(()), Err)
    }
}

/// An iterator over the records of one partition, given to the function of
/// [`Rdd::map_partitions`](crate::Rdd::map_partitions).
///
/// Records are decoded one at a time as the iterator advances. If a record
/// cannot be decoded the iterator ends early and the task fails with the
/// decode error.
pub struct PartitionIter<T> {
    records: Records,
    position: usize,
    error: Rc<RefCell<Option<String>>>,
    types: PhantomData<fn() -> T>,
}

impl<T: Data> Iterator for PartitionIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.position >= self.records.len() || self.error.borrow().is_some() {
            return None;
        }
        let record = self.records.get(self.position);
        self.position += 1;
        match decode_as::<T>(record) {
            Ok(t) => Some(t),
            Err(e) => {
                *self.error.borrow_mut() = Some(e);
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.records.len() - self.position))
    }
}

impl<T> std::fmt::Debug for PartitionIter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionIter").field("records", &self.records.len()).field("position", &self.position).finish()
    }
}
