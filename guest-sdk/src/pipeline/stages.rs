//! The stage of each op kind, generic over the user's function (already
//! bound to its decoded parameters by the factory).

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;

use super::table::KeyTable;
use super::{Next, Outbox, Records, Stage, Values, decode_as, encode_into, split_pair, write_key};
use crate::Data;

/// `map`: one record in, `f(record)` out.
pub(crate) struct MapStage<T, U, F> {
    f: F,
    out: Outbox<U>,
    types: PhantomData<fn(T) -> U>,
}

impl<T, U, F> MapStage<T, U, F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f, out: Outbox::default(), types: PhantomData }
    }
}

impl<T: Data, U: Data, F: FnMut(T) -> U + 'static> Stage for MapStage<T, U, F> {
    fn input_type(&self) -> TypeId {
        TypeId::of::<T>()
    }

    fn push_bytes(&mut self, record: &[u8], next: &mut Next<'_>) -> Result<(), String> {
        let t = decode_as::<T>(record)?;
        self.out.push((self.f)(t), next)
    }

    fn push_values(&mut self, values: Values<'_>, next: &mut Next<'_>) -> Result<(), String> {
        values.each(|t: T| self.out.push((self.f)(t), next))
    }

    fn flush(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        self.out.flush(next)
    }
}

/// `filter`: the record itself out when `f(&record)`; encoded input is
/// passed on as the original bytes.
pub(crate) struct FilterStage<T, F> {
    f: F,
    out: Outbox<T>,
    types: PhantomData<fn(T)>,
}

impl<T, F> FilterStage<T, F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f, out: Outbox::default(), types: PhantomData }
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
        if next.accepts::<T>() { self.out.push(t, next) } else { next.bytes(record) }
    }

    fn push_values(&mut self, values: Values<'_>, next: &mut Next<'_>) -> Result<(), String> {
        values.each(|t: T| if (self.f)(&t) { self.out.push(t, next) } else { Ok(()) })
    }

    fn flush(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        self.out.flush(next)
    }
}

/// `flat-map`: one record in, every item of `f(record)` out.
pub(crate) struct FlatMapStage<T, I: IntoIterator, F> {
    f: F,
    out: Outbox<I::Item>,
    types: PhantomData<fn(T) -> I>,
}

impl<T, I: IntoIterator, F> FlatMapStage<T, I, F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f, out: Outbox::default(), types: PhantomData }
    }
}

impl<T, I, F> FlatMapStage<T, I, F>
where
    T: Data,
    I: IntoIterator<Item: Data>,
    F: FnMut(T) -> I + 'static,
{
    fn run(&mut self, t: T, next: &mut Next<'_>) -> Result<(), String> {
        self.out.extend((self.f)(t), next)
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

    fn push_values(&mut self, values: Values<'_>, next: &mut Next<'_>) -> Result<(), String> {
        values.each(|t: T| self.run(t, next))
    }

    fn flush(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        self.out.flush(next)
    }
}

/// `map-values`: a pair in, `(key, f(value))` out; the key's bytes pass
/// unchanged and are never decoded unless the next stage wants a typed pair.
pub(crate) struct MapValuesStage<K, V, W, F> {
    f: F,
    out: Outbox<(K, W)>,
    types: PhantomData<fn(K, V) -> W>,
}

impl<K, V, W, F> MapValuesStage<K, V, W, F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f, out: Outbox::default(), types: PhantomData }
    }
}

impl<K: Data, V: Data, W: Data, F: FnMut(V) -> W + 'static> Stage for MapValuesStage<K, V, W, F> {
    fn input_type(&self) -> TypeId {
        TypeId::of::<(K, V)>()
    }

    fn push_bytes(&mut self, record: &[u8], next: &mut Next<'_>) -> Result<(), String> {
        let (key, value) = split_pair(record)?;
        let v = decode_as::<V>(value)?;
        self.out.pair(key, (self.f)(v), next)
    }

    fn push_values(&mut self, values: Values<'_>, next: &mut Next<'_>) -> Result<(), String> {
        values.each(|(k, v): (K, V)| self.out.push((k, (self.f)(v)), next))
    }

    fn flush(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        self.out.flush(next)
    }
}

/// `flat-map-values`: a pair in, `(key, w)` out for every `w` of
/// `f(value)`, each with the unchanged key bytes.
pub(crate) struct FlatMapValuesStage<K, V, I: IntoIterator, F> {
    f: F,
    key: Vec<u8>,
    out: Outbox<(K, I::Item)>,
    types: PhantomData<fn(K, V) -> I>,
}

impl<K, V, I: IntoIterator, F> FlatMapValuesStage<K, V, I, F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f, key: Vec::new(), out: Outbox::default(), types: PhantomData }
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
            self.out.pair(key, w, next)?;
        }
        Ok(())
    }

    fn push_values(&mut self, values: Values<'_>, next: &mut Next<'_>) -> Result<(), String> {
        values.each(|(k, v): (K, V)| {
            self.key.clear();
            encode_into(&k, &mut self.key)?;
            for w in (self.f)(v) {
                self.out.pair(&self.key, w, next)?;
            }
            Ok(())
        })
    }

    fn flush(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        self.out.flush(next)
    }
}

/// `key-by`: a record in, `(f(&record), record)` out, the record's original
/// bytes unchanged.
pub(crate) struct KeyByStage<T, K, F> {
    f: F,
    key: Vec<u8>,
    out: Outbox<(K, T)>,
    types: PhantomData<fn(T) -> K>,
}

impl<T, K, F> KeyByStage<T, K, F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f, key: Vec::new(), out: Outbox::default(), types: PhantomData }
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
            return self.out.push((k, t), next);
        }
        self.key.clear();
        encode_into(&k, &mut self.key)?;
        let key = &self.key;
        next.write(&mut self.out.scratch, |buf| {
            write_key(buf, key)?;
            buf.extend_from_slice(record);
            Ok(())
        })
    }

    fn push_values(&mut self, values: Values<'_>, next: &mut Next<'_>) -> Result<(), String> {
        values.each(|t: T| {
            let k = (self.f)(&t);
            self.out.push((k, t), next)
        })
    }

    fn flush(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        self.out.flush(next)
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
    out: Outbox<(K, C)>,
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
        Self {
            mode,
            aggregator,
            table: KeyTable::default(),
            key: Vec::new(),
            out: Outbox::default(),
            types: PhantomData,
        }
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

    fn push_values(&mut self, values: Values<'_>, _next: &mut Next<'_>) -> Result<(), String> {
        let (table, aggregator, buf) = (&mut self.table, &mut self.aggregator, &mut self.key);
        match self.mode {
            AggregateMode::Combine => values.each(|(k, v): (K, V)| {
                Self::add_value(table, aggregator, key_bytes(&k, buf)?, v);
                Ok(())
            }),
            AggregateMode::Merge => values.each(|(k, c): (K, C)| {
                Self::add_combiner(table, aggregator, key_bytes(&k, buf)?, c);
                Ok(())
            }),
        }
    }

    fn flush(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        self.out.flush(next)
    }

    fn finish(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        let out = &mut self.out;
        self.table.drain(|key, c| out.pair(key, c, next))
    }
}

/// `fold`: every record folded into an accumulator that starts at the zero
/// value; exactly one record out at the end.
pub(crate) struct FoldStage<T, U, F> {
    f: F,
    acc: Option<U>,
    out: Outbox<U>,
    types: PhantomData<fn(T)>,
}

impl<T, U, F> FoldStage<T, U, F> {
    pub(crate) fn new(zero: U, f: F) -> Self {
        Self { f, acc: Some(zero), out: Outbox::default(), types: PhantomData }
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

    fn push_values(&mut self, values: Values<'_>, _next: &mut Next<'_>) -> Result<(), String> {
        values.each(|t: T| self.add(t))
    }

    fn flush(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        self.out.flush(next)
    }

    fn finish(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        match self.acc.take() {
            Some(acc) => self.out.push(acc, next),
            None => Ok(()),
        }
    }
}

/// `reduce`: records reduced pairwise; one record out, none for no input.
pub(crate) struct ReduceStage<T, F> {
    f: F,
    acc: Option<T>,
    out: Outbox<T>,
}

impl<T, F> ReduceStage<T, F> {
    pub(crate) fn new(f: F) -> Self {
        Self { f, acc: None, out: Outbox::default() }
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

    fn push_values(&mut self, values: Values<'_>, _next: &mut Next<'_>) -> Result<(), String> {
        values.each(|t: T| {
            self.add(t);
            Ok(())
        })
    }

    fn flush(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        self.out.flush(next)
    }

    fn finish(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        match self.acc.take() {
            Some(acc) => self.out.push(acc, next),
            None => Ok(()),
        }
    }
}

/// `map-partitions`: the partition's records are kept (encoded) until the
/// input ends, then `f(partition index, records)` runs once.
pub(crate) struct MapPartitionsStage<T, I: IntoIterator, F> {
    f: F,
    partition: u32,
    held: Records,
    out: Outbox<I::Item>,
    types: PhantomData<fn(T) -> I>,
}

impl<T, I: IntoIterator, F> MapPartitionsStage<T, I, F> {
    pub(crate) fn new(partition: u32, f: F) -> Self {
        Self { f, partition, held: Records::default(), out: Outbox::default(), types: PhantomData }
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

    fn push_values(&mut self, values: Values<'_>, _next: &mut Next<'_>) -> Result<(), String> {
        values.each(|t: T| self.held.push_with(|buf| encode_into(&t, buf)))
    }

    fn flush(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        self.out.flush(next)
    }

    fn finish(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        let error = Rc::new(RefCell::new(None));
        let records = PartitionIter {
            records: std::mem::take(&mut self.held),
            position: 0,
            error: Rc::clone(&error),
            types: PhantomData,
        };
        for u in (self.f)(self.partition, records) {
            self.out.push(u, next)?;
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
        f.debug_struct("PartitionIter")
            .field("records", &self.records.len())
            .field("position", &self.position)
            .finish()
    }
}
