//! The executor side: the WIT `pipeline` `task` resource, a chain of stages
//! that every record of a partition runs through in one pass.
//!
//! Records enter as bytes. A stage hands its output to the next stage as
//! typed values when the next stage takes exactly that type (no encode or
//! decode in between), otherwise as bytes; the last stage writes into the
//! output batch directly. Typed values travel in chunks of up to [`CHUNK`]
//! (an [`Outbox`] per stage): one virtual call per chunk, and each stage
//! runs its function over a chunk in a monomorphic loop instead of moving
//! every record through a type-erased slot.

pub(crate) mod factories;
pub(crate) mod stages;
mod table;
#[cfg(test)]
mod tests;

use std::any::{TypeId, type_name};
use std::cell::RefCell;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::exports::wisp::task::pipeline::{self as wit, GuestTask};
use crate::bindings::types::{Batch, Op, OpKind};
use crate::codec;
use crate::named::{Names, Unnamed};
use crate::ops;
use wisp_guest_functions::exports::wisp::task::pipeline as functions_wit;

/// One step of a fused chain, built from an op by its factory.
pub(crate) trait Stage {
    /// The type this stage takes through [`Stage::push_values`].
    fn input_type(&self) -> TypeId;
    /// Feeds one encoded record.
    fn push_bytes(&mut self, record: &[u8], next: &mut Next<'_>) -> Result<(), String>;
    /// Feeds typed records of the type named by [`Stage::input_type`], in
    /// order, leaving `values` empty.
    fn push_values(&mut self, values: Values<'_>, next: &mut Next<'_>) -> Result<(), String>;
    /// Passes on the typed records buffered for the next stage.
    fn flush(&mut self, next: &mut Next<'_>) -> Result<(), String>;
    /// Ends the input; emits whatever the stage held back (then the chain
    /// calls [`Stage::flush`]).
    fn finish(&mut self, _next: &mut Next<'_>) -> Result<(), String> {
        Ok(())
    }
}

/// What a factory is told about the op it builds a stage for.
pub(crate) struct OpSpec<'a> {
    pub(crate) kind: OpKind,
    pub(crate) name: &'a str,
    pub(crate) args: &'a [u8],
    pub(crate) partition: u32,
}

impl OpSpec<'_> {
    /// Fails unless the op's kind is `expected` (the shape of the function).
    pub(crate) fn expect_kind(&self, expected: OpKind, function: &str) -> Result<(), String> {
        if self.kind == expected {
            Ok(())
        } else {
            Err(format!(
                "op {} names a {} function ({function}) but was given kind {}",
                self.name,
                kind_name(expected),
                kind_name(self.kind)
            ))
        }
    }

    /// Decodes the op's parameters as an `A`.
    pub(crate) fn args_as<A: DeserializeOwned>(&self) -> Result<A, String> {
        codec::decode(self.args).map_err(|e| {
            format!("cannot decode the args of op {} as {}: {e}", self.name, type_name::<A>())
        })
    }
}

/// The WIT name of an op kind.
pub(crate) fn kind_name(kind: OpKind) -> &'static str {
    match kind {
        OpKind::Map => "map",
        OpKind::Filter => "filter",
        OpKind::FlatMap => "flat-map",
        OpKind::MapPartitions => "map-partitions",
        OpKind::MapValues => "map-values",
        OpKind::FlatMapValues => "flat-map-values",
        OpKind::KeyBy => "key-by",
        OpKind::Combine => "combine",
        OpKind::Merge => "merge",
        OpKind::Fold => "fold",
        OpKind::Reduce => "reduce",
    }
}

/// Decodes one record as a `T`, naming the type on failure.
pub(crate) fn decode_as<T: DeserializeOwned>(record: &[u8]) -> Result<T, String> {
    codec::decode(record).map_err(|e| format!("cannot decode record as {}: {e}", type_name::<T>()))
}

/// Typed records handed from one stage to the next: a type-erased
/// `&mut Vec<T>` with the `TypeId` of `T` (a cheaper `&mut dyn Any`: the
/// type check is a comparison, not a virtual call).
pub(crate) struct Values<'a> {
    vec: *mut (),
    type_id: TypeId,
    lifetime: PhantomData<&'a mut ()>,
}

impl<'a> Values<'a> {
    fn new<T: 'static>(vec: &'a mut Vec<T>) -> Self {
        Self {
            vec: std::ptr::from_mut(vec).cast(),
            type_id: TypeId::of::<T>(),
            lifetime: PhantomData,
        }
    }

    /// The records, if they are `T`s.
    pub(crate) fn take<T: 'static>(self) -> Result<&'a mut Vec<T>, String> {
        if self.type_id == TypeId::of::<T>() {
            // SAFETY: `vec` came from an `&'a mut Vec<U>` (see `new`) with
            // `TypeId::of::<U>() == TypeId::of::<T>()`, so `U` is `T`; the
            // borrow is still live for `'a` and `self` is consumed.
            return Ok(unsafe { &mut *self.vec.cast::<Vec<T>>() });
        }
        Err(format!("internal error: a stage expected typed {} records", type_name::<T>()))
    }

    /// Runs `f` over every record, in order, emptying the vector (also when
    /// `f` fails: the records after the failing one are dropped).
    #[inline]
    pub(crate) fn each<T: 'static>(
        self,
        mut f: impl FnMut(T) -> Result<(), String>,
    ) -> Result<(), String> {
        for t in self.take::<T>()?.drain(..) {
            f(t)?;
        }
        Ok(())
    }
}

/// Most typed records buffered between two stages.
pub(crate) const CHUNK: usize = 256;

/// What a stage passes on: typed `U`s, buffered for the next stage when it
/// takes `U`s, else encoded and passed on at once.
pub(crate) struct Outbox<U> {
    typed: Vec<U>,
    /// Encoding space for the next stage's [`Stage::push_bytes`].
    pub(crate) scratch: Vec<u8>,
}

impl<U> Default for Outbox<U> {
    fn default() -> Self {
        Self { typed: Vec::new(), scratch: Vec::new() }
    }
}

impl<U: Serialize + 'static> Outbox<U> {
    /// Passes on one record.
    #[inline(always)]
    pub(crate) fn push(&mut self, value: U, next: &mut Next<'_>) -> Result<(), String> {
        if next.accepts::<U>() && self.typed.len() < self.typed.capacity() {
            self.typed.push(value);
            return Ok(());
        }
        self.push_slow(value, next)
    }

    /// Passes on every record of `items`, in order. A collection whose
    /// length is known (the `Vec` a flat-map function usually returns) is
    /// appended to the buffer in one copy, even past [`CHUNK`].
    #[inline]
    pub(crate) fn extend<I: IntoIterator<Item = U>>(
        &mut self,
        items: I,
        next: &mut Next<'_>,
    ) -> Result<(), String> {
        let items = items.into_iter();
        if next.accepts::<U>()
            && let (len, Some(upper)) = items.size_hint()
            && len == upper
        {
            self.typed.extend(items);
            if self.typed.len() >= CHUNK {
                return self.flush(next);
            }
            return Ok(());
        }
        for item in items {
            self.push(item, next)?;
        }
        Ok(())
    }

    /// [`Outbox::push`] into a full (or not yet allocated) buffer, or to a
    /// stage that takes bytes.
    #[inline(never)]
    fn push_slow(&mut self, value: U, next: &mut Next<'_>) -> Result<(), String> {
        if !next.accepts::<U>() {
            return next.write(&mut self.scratch, |buf| encode_into(&value, buf));
        }
        if self.typed.capacity() == 0 {
            self.typed.reserve_exact(CHUNK);
        } else {
            self.flush(next)?;
        }
        self.typed.push(value);
        Ok(())
    }

    /// Hands the buffered records to the next stage.
    pub(crate) fn flush(&mut self, next: &mut Next<'_>) -> Result<(), String> {
        if self.typed.is_empty() {
            return Ok(());
        }
        let result = next.values(&mut self.typed);
        self.typed.clear();
        result
    }
}

impl<K, C> Outbox<(K, C)>
where
    K: DeserializeOwned + Serialize + 'static,
    C: Serialize + 'static,
{
    /// Passes on the pair of already-encoded key bytes and a typed value.
    pub(crate) fn pair(&mut self, key: &[u8], value: C, next: &mut Next<'_>) -> Result<(), String> {
        if next.accepts::<(K, C)>() {
            let key: K = decode_as(key)?;
            return self.push((key, value), next);
        }
        next.write(&mut self.scratch, |buf| {
            write_key(buf, key)?;
            encode_into(&value, buf)
        })
    }
}

/// Splits a pair record into key bytes and value bytes.
pub(crate) fn split_pair(record: &[u8]) -> Result<(&[u8], &[u8]), String> {
    codec::split_pair(record).map_err(|e| format!("{e} ({} bytes)", record.len()))
}

/// Records being built: one flat buffer and end offsets, as in a `batch`.
#[derive(Default)]
pub(crate) struct Records {
    pub(crate) data: Vec<u8>,
    pub(crate) ends: Vec<u32>,
}

impl Records {
    fn with_capacity(bytes: usize, records: usize) -> Self {
        Self { data: Vec::with_capacity(bytes), ends: Vec::with_capacity(records) }
    }

    fn end_record(&mut self) {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "guest memory is at most 4 GiB, so an offset always fits"
        )]
        self.ends.push(self.data.len() as u32);
    }

    pub(crate) fn push(&mut self, record: &[u8]) {
        self.data.extend_from_slice(record);
        self.end_record();
    }

    /// Appends one record written by `write`; on error nothing is appended.
    pub(crate) fn push_with(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), String>,
    ) -> Result<(), String> {
        let start = self.data.len();
        match write(&mut self.data) {
            Ok(()) => {
                self.end_record();
                Ok(())
            }
            Err(e) => {
                self.data.truncate(start);
                Err(e)
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The `i`th record.
    pub(crate) fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.data[start..self.ends[i] as usize]
    }
}

/// Encodes `value` at the end of `out`, naming the type on failure.
pub(crate) fn encode_into<U: Serialize>(value: &U, out: &mut Vec<u8>) -> Result<(), String> {
    codec::encode(value, out).map_err(|e| format!("cannot encode {}: {e}", type_name::<U>()))
}

/// The stages after the current one, then the output batch.
pub(crate) struct Next<'a> {
    rest: &'a mut [Box<dyn Stage>],
    /// The input type of each stage of `rest`.
    types: &'a [TypeId],
    out: &'a mut Records,
}

impl Next<'_> {
    /// Whether the next stage takes typed `U` records.
    pub(crate) fn accepts<U: 'static>(&self) -> bool {
        self.types.first() == Some(&TypeId::of::<U>())
    }

    /// Passes on one encoded record.
    pub(crate) fn bytes(&mut self, record: &[u8]) -> Result<(), String> {
        match self.rest.split_first_mut() {
            None => {
                self.out.push(record);
                Ok(())
            }
            Some((head, tail)) => head.push_bytes(
                record,
                &mut Next { rest: tail, types: &self.types[1..], out: self.out },
            ),
        }
    }

    /// Passes on one record written by `write`: straight into the output
    /// batch at the end of the chain, else through `scratch`.
    pub(crate) fn write(
        &mut self,
        scratch: &mut Vec<u8>,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), String>,
    ) -> Result<(), String> {
        match self.rest.split_first_mut() {
            None => self.out.push_with(write),
            Some((head, tail)) => {
                scratch.clear();
                write(scratch)?;
                head.push_bytes(
                    scratch,
                    &mut Next { rest: tail, types: &self.types[1..], out: self.out },
                )
            }
        }
    }

    /// Hands typed records to the next stage, which takes `U`s.
    fn values<U: 'static>(&mut self, values: &mut Vec<U>) -> Result<(), String> {
        match self.rest.split_first_mut() {
            Some((head, tail)) => head.push_values(
                Values::new(values),
                &mut Next { rest: tail, types: &self.types[1..], out: self.out },
            ),
            None => Err(format!(
                "internal error: typed {} records past the end of the chain",
                type_name::<U>()
            )),
        }
    }
}

/// Writes the `u32le len ++ key` head of a pair record.
pub(crate) fn write_key(buf: &mut Vec<u8>, key: &[u8]) -> Result<(), String> {
    let len = u32::try_from(key.len())
        .map_err(|_| format!("key of {} bytes is longer than 4 GiB", key.len()))?;
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(key);
    Ok(())
}

/// A fused chain of stages over one partition.
pub(crate) struct Chain {
    stages: Vec<Box<dyn Stage>>,
    /// The input type of each stage.
    types: Vec<TypeId>,
    /// Bytes and records of the largest output so far, to size the next one.
    hint: (usize, usize),
    finished: bool,
}

impl Chain {
    /// Builds the chain of `ops` for partition `partition`, in a component
    /// without stable names.
    #[cfg(test)]
    pub(crate) fn new(ops: &[Op], partition: u32) -> Result<Self, String> {
        Self::named::<Unnamed>(ops, partition)
    }

    /// Builds the chain of `ops` for partition `partition`; ops name
    /// functions by `rust:<N>` or by the stable names of `N`.
    pub(crate) fn named<N: Names>(ops: &[Op], partition: u32) -> Result<Self, String> {
        let stages = ops
            .iter()
            .map(|op| {
                let factory = ops::resolve(&op.name, N::lookup, N::NAMES)?;
                factory(&OpSpec { kind: op.kind, name: &op.name, args: &op.args, partition })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let types = stages.iter().map(|s| s.input_type()).collect();
        Ok(Self { stages, types, hint: (0, 0), finished: false })
    }

    fn output(&self) -> Records {
        Records::with_capacity(self.hint.0, self.hint.1)
    }

    fn done(&mut self, out: Records) -> Batch {
        self.hint = (self.hint.0.max(out.data.len()), self.hint.1.max(out.ends.len()));
        Batch { data: out.data, ends: out.ends }
    }

    /// Runs every record of a batch through the chain.
    pub(crate) fn push(&mut self, data: &[u8], ends: &[u32]) -> Result<Batch, String> {
        if self.finished {
            return Err("push after finish".to_owned());
        }
        check_batch(data, ends)?;
        let mut out = self.output();
        let mut start = 0;
        match self.stages.split_first_mut() {
            None => {
                out.data.extend_from_slice(data);
                out.ends.extend_from_slice(ends);
            }
            Some((head, tail)) => {
                let mut next = Next { rest: tail, types: &self.types[1..], out: &mut out };
                for &end in ends {
                    let end = end as usize;
                    head.push_bytes(&data[start..end], &mut next)?;
                    start = end;
                }
                for i in 0..self.stages.len() {
                    let (head, tail) = self.stages[i..].split_first_mut().expect("i is in range");
                    head.flush(&mut Next {
                        rest: tail,
                        types: &self.types[i + 1..],
                        out: &mut out,
                    })?;
                }
            }
        }
        Ok(self.done(out))
    }

    /// Flushes every stage in order, each one's output running through the
    /// stages after it.
    pub(crate) fn finish(&mut self) -> Result<Batch, String> {
        if std::mem::replace(&mut self.finished, true) {
            return Err("finish called twice".to_owned());
        }
        let mut out = self.output();
        for i in 0..self.stages.len() {
            let (head, tail) = self.stages[i..].split_first_mut().expect("i is in range");
            let mut next = Next { rest: tail, types: &self.types[i + 1..], out: &mut out };
            head.finish(&mut next)?;
            head.flush(&mut next)?;
        }
        Ok(self.done(out))
    }
}

/// Checks a batch's end offsets against its data.
pub(crate) fn check_batch(data: &[u8], ends: &[u32]) -> Result<(), String> {
    let mut previous = 0;
    for (i, &end) in ends.iter().enumerate() {
        if end < previous {
            return Err(format!(
                "malformed batch: end offset {end} of record {i} is before the previous end {previous}"
            ));
        }
        if end as usize > data.len() {
            return Err(format!(
                "malformed batch: end offset {end} of record {i} is past the {} data bytes",
                data.len()
            ));
        }
        previous = end;
    }
    if previous as usize != data.len() {
        return Err(format!(
            "malformed batch: {} data bytes but the records end at {previous}",
            data.len()
        ));
    }
    Ok(())
}

/// The `task` resource the component exports; `N` holds the component's
/// stable function names ([`Unnamed`] for none).
pub struct Task<N: Names = Unnamed> {
    chain: RefCell<Chain>,
    names: PhantomData<N>,
}

impl<N: Names> Task<N> {
    fn create(ops: &[Op], partition: u32) -> Result<Self, String> {
        Ok(Self { chain: RefCell::new(Chain::named::<N>(ops, partition)?), names: PhantomData })
    }
}

impl<N: Names> GuestTask for Task<N> {
    fn create(ops: Vec<Op>, partition: u32) -> Result<wit::Task, String> {
        Ok(wit::Task::new(Self::create(&ops, partition)?))
    }

    fn push(&self, input: Batch) -> Result<Batch, String> {
        self.chain.borrow_mut().push(&input.data, &input.ends)
    }

    fn finish(&self) -> Result<Batch, String> {
        self.chain.borrow_mut().finish()
    }
}

/// The same resource, exported by a `functions` component.
impl<N: Names> functions_wit::GuestTask for Task<N> {
    fn create(ops: Vec<Op>, partition: u32) -> Result<functions_wit::Task, String> {
        Ok(functions_wit::Task::new(Self::create(&ops, partition)?))
    }

    fn push(&self, input: Batch) -> Result<Batch, String> {
        self.chain.borrow_mut().push(&input.data, &input.ends)
    }

    fn finish(&self) -> Result<Batch, String> {
        self.chain.borrow_mut().finish()
    }
}
