//! The built-in function library `wisp:builtins`: ops the host runs natively, without a guest.
//!
//! A job reaches it through the driver's `load-functions` with the reserved
//! path `wisp:builtins` (`BUILTINS_PATH`): the component id it gets back names
//! no wasm component but the reserved `ComponentBytes::builtins()`, and a
//! `Plan::Guest` over it runs here as a `BuiltinChain` on the task thread.
//! Consecutive built-in ops are one plan step (the plan fuses consecutive ops
//! of one component), so they never cross into a guest; a chain mixing
//! built-ins and a guest's functions crosses at each change of component,
//! once per batch.
//!
//! Functions, by op kind (parameters are the op's `args`, as UTF-8 text):
//! - map, map-values, key-by: `lower`, `upper`, `trim` (string → string),
//!   `parse_int` (string → s64), `parse_float` (string → f64),
//!   `csv_field` / `tsv_field` (parameter: the 0-based field index; string →
//!   string), `json_field` (parameter: the field name; a JSON object line →
//!   the field's string value, or its JSON text for other values),
//!   `pair_with_one` (any record → the pair (record, s64 1)), `mean_value`
//!   (a `mean` combiner → f64), `format_pair` (parameter `KEY:VALUE:SEP`,
//!   each type `str`, `s64`, `u64` or `f64`; a pair → the string key, SEP,
//!   value: a word count's `word\tcount` output line).
//! - flat-map, flat-map-values: `split_whitespace` (string → the maximal runs
//!   of non-ASCII-whitespace, as Rust's `split_ascii_whitespace`), `split`
//!   (parameter: the delimiter; every piece, empty ones included).
//! - combine, merge (aggregators of `combine-by-key`): `sum` (s64), `sum_float`
//!   (f64), `count` (any value → s64), `min`, `max` (any value, by its
//!   encoded bytes: numeric order for numbers, code point order for strings),
//!   `mean` (f64 values → the combiner (f64 sum, s64 count)).
//! - reduce: `sum`, `sum_float`, `min`, `max`.
//!
//! A record a built-in cannot take fails the task with one line naming the
//! built-in, the record (truncated) and the partition.
//!
//! The combine tables are charged to the task's memory account as a guest's
//! linear memory is (always granted, counted against the executor's pool, so
//! operators elsewhere spill sooner), in steps of `CHARGE_STEP`.

mod aggregate;
mod text;

use aggregate::{Aggregator, Table};
use text::{RecordFn, Splitter};

use std::sync::Arc;

use crate::lineage::{Op, OpKind};
use crate::memory::TaskMemory;
use crate::records::{Batch, put_prefixed, split_pair};

/// The `load-functions` path that names the built-in library.
pub(crate) const BUILTINS_PATH: &str = "wisp:builtins";

/// Why a built-in chain could not be built or failed on a record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum BuiltinError {
    /// The op names no built-in of its kind.
    #[error("wisp:builtins has no {kind} function {name:?} (its {kind} functions: {known})")]
    Unknown { name: String, kind: &'static str, known: &'static str },
    /// The op's parameter does not fit the built-in.
    #[error("built-in {name}: bad parameter {args:?}: {reason}")]
    BadArgs { name: &'static str, args: String, reason: String },
    /// A record the built-in cannot take.
    #[error("built-in {name} failed on record {record} of partition {partition}: {reason}")]
    BadRecord { name: &'static str, record: String, partition: u32, reason: String },
}

/// A record's bytes for an error message: lossy UTF-8, at most 60 characters, quoted.
fn preview(record: &[u8]) -> String {
    let text = String::from_utf8_lossy(record);
    let mut short: String = text.chars().take(60).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("{short:?}")
}

/// One op of a built-in chain.
enum Stage {
    Map(RecordFn),
    MapValues(RecordFn),
    KeyBy(RecordFn),
    FlatMap(Splitter),
    FlatMapValues(Splitter),
    Combine(Table),
    Merge(Table),
    Reduce(Aggregator, Option<Vec<u8>>),
}

impl Stage {
    fn new(op: &Op) -> Result<Stage, BuiltinError> {
        let args = &op.args;
        Ok(match op.kind {
            OpKind::Map => Stage::Map(RecordFn::new(&op.name, args, "map")?),
            OpKind::MapValues => Stage::MapValues(RecordFn::new(&op.name, args, "map-values")?),
            OpKind::KeyBy => Stage::KeyBy(RecordFn::new(&op.name, args, "key-by")?),
            OpKind::FlatMap => Stage::FlatMap(Splitter::new(&op.name, args, "flat-map")?),
            OpKind::FlatMapValues => {
                Stage::FlatMapValues(Splitter::new(&op.name, args, "flat-map-values")?)
            }
            OpKind::Combine => Stage::Combine(Table::new(Aggregator::new(&op.name, "combine")?)),
            OpKind::Merge => Stage::Merge(Table::new(Aggregator::new(&op.name, "merge")?)),
            OpKind::Reduce => Stage::Reduce(Aggregator::reducer(&op.name)?, None),
            OpKind::Filter | OpKind::MapPartitions | OpKind::Fold => {
                return Err(BuiltinError::Unknown {
                    name: op.name.clone(),
                    kind: kind_name(op.kind),
                    known: "none",
                });
            }
        })
    }

    /// The built-in's name (for errors).
    fn name(&self) -> &'static str {
        match self {
            Stage::Map(f) | Stage::MapValues(f) | Stage::KeyBy(f) => f.name(),
            Stage::FlatMap(s) | Stage::FlatMapValues(s) => s.name(),
            Stage::Combine(t) | Stage::Merge(t) => t.aggregator().name(),
            Stage::Reduce(a, _) => a.name(),
        }
    }

    /// Runs over one batch, appending what it emits to `out`.
    fn push(&mut self, input: &Batch, out: &mut Batch) -> Result<(), (String, Vec<u8>)> {
        let bad = |r: &[u8], why: String| (why, r.to_vec());
        match self {
            Stage::Map(f) => {
                for r in input.iter() {
                    let mut failed = None;
                    out.push_with(|buf| failed = f.apply(r, buf).err());
                    if let Some(why) = failed {
                        return Err(bad(r, why));
                    }
                }
            }
            Stage::MapValues(f) => {
                for r in input.iter() {
                    let (k, v) = split_pair(r).map_err(|e| bad(r, e.to_string()))?;
                    let mut failed = None;
                    out.push_with(|buf| {
                        put_prefixed(buf, k);
                        failed = f.apply(v, buf).err();
                    });
                    if let Some(why) = failed {
                        return Err(bad(v, why));
                    }
                }
            }
            Stage::KeyBy(f) => {
                let mut key = Vec::new();
                for r in input.iter() {
                    key.clear();
                    f.apply(r, &mut key).map_err(|why| bad(r, why))?;
                    out.push_with(|buf| {
                        put_prefixed(buf, &key);
                        buf.extend_from_slice(r);
                    });
                }
            }
            Stage::FlatMap(s) => {
                for r in input.iter() {
                    s.split(r, |piece| out.push(piece));
                }
            }
            Stage::FlatMapValues(s) => {
                for r in input.iter() {
                    let (k, v) = split_pair(r).map_err(|e| bad(r, e.to_string()))?;
                    s.split(v, |piece| {
                        out.push_with(|buf| {
                            put_prefixed(buf, k);
                            buf.extend_from_slice(piece);
                        })
                    });
                }
            }
            Stage::Combine(t) => {
                for r in input.iter() {
                    let (k, v) = split_pair(r).map_err(|e| bad(r, e.to_string()))?;
                    t.add_value(k, v).map_err(|why| bad(r, why))?;
                }
            }
            Stage::Merge(t) => {
                for r in input.iter() {
                    let (k, c) = split_pair(r).map_err(|e| bad(r, e.to_string()))?;
                    t.add_combiner(k, c).map_err(|why| bad(r, why))?;
                }
            }
            Stage::Reduce(a, acc) => {
                for r in input.iter() {
                    a.check(r).map_err(|why| bad(r, why))?;
                    *acc = Some(match acc.take() {
                        None => r.to_vec(),
                        Some(prev) => a.reduce(&prev, r).map_err(|why| bad(r, why))?,
                    });
                }
            }
        }
        Ok(())
    }

    /// What the op emits when its input ends.
    fn finish(&mut self, out: &mut Batch) {
        match self {
            Stage::Combine(t) | Stage::Merge(t) => t.drain(out),
            Stage::Reduce(_, acc) => {
                if let Some(v) = acc.take() {
                    out.push(&v);
                }
            }
            _ => {}
        }
    }
}

fn kind_name(kind: OpKind) -> &'static str {
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

/// Least growth of the combine tables charged to the task's account at a time.
const CHARGE_STEP: u64 = 1 << 20;

/// Consecutive built-in ops over one partition, fused: each batch goes through every op in turn.
pub(crate) struct BuiltinChain {
    stages: Vec<Stage>,
    partition: u32,
    /// The task's account the combine tables are charged to, and how much is charged.
    account: Option<Arc<TaskMemory>>,
    charged: u64,
    /// Scratch batches between ops, kept across batches.
    a: Batch,
    b: Batch,
}

impl BuiltinChain {
    /// Builds the chain; fails if an op names no built-in of its kind or has a bad parameter.
    pub(crate) fn new(ops: &[Op], partition: u32) -> Result<BuiltinChain, BuiltinError> {
        let stages = ops.iter().map(Stage::new).collect::<Result<_, _>>()?;
        Ok(BuiltinChain {
            stages,
            partition,
            account: None,
            charged: 0,
            a: Batch::default(),
            b: Batch::default(),
        })
    }

    /// Charges the combine tables to `account` from now on.
    pub(crate) fn with_account(mut self, account: Arc<TaskMemory>) -> BuiltinChain {
        self.account = Some(account);
        self
    }

    /// Bytes the combine tables hold (an estimate).
    fn table_bytes(&self) -> u64 {
        self.stages
            .iter()
            .map(|s| match s {
                Stage::Combine(t) | Stage::Merge(t) => t.bytes(),
                _ => 0,
            })
            .sum()
    }

    /// Brings the charge up to the tables' size (a step at a time), or down once they are drained.
    fn charge(&mut self) {
        let Some(account) = &self.account else { return };
        let held = self.table_bytes();
        if held >= self.charged + CHARGE_STEP {
            account.acquire_guest(held - self.charged);
            self.charged = held;
        } else if held < self.charged && held == 0 {
            account.release_guest(self.charged);
            self.charged = 0;
        }
    }

    /// Bytes charged to the account now.
    #[cfg(test)]
    pub(crate) fn charged(&self) -> u64 {
        self.charged
    }

    /// Feeds one batch; appends the records the chain produced to `out`.
    pub(crate) fn push(&mut self, input: &Batch, out: &mut Batch) -> Result<(), BuiltinError> {
        let r = self.run_from(0, input, out);
        self.charge();
        r
    }

    /// Ends the input; appends the remaining records (combiners, reductions) to `out`.
    pub(crate) fn finish(&mut self, out: &mut Batch) -> Result<(), BuiltinError> {
        for i in 0..self.stages.len() {
            let mut left = Batch::default();
            self.stages[i].finish(&mut left);
            if !left.is_empty() {
                self.run_from(i + 1, &left, out)?;
            }
        }
        self.charge();
        Ok(())
    }

    fn run_from(
        &mut self,
        first: usize,
        input: &Batch,
        out: &mut Batch,
    ) -> Result<(), BuiltinError> {
        let n = self.stages.len();
        if first >= n {
            out.extend(input);
            return Ok(());
        }
        let (mut a, mut b) = (std::mem::take(&mut self.a), std::mem::take(&mut self.b));
        let mut from_input = true;
        let mut result = Ok(());
        for i in first..n {
            let last = i + 1 == n;
            b.clear();
            let src: &Batch = if from_input { input } else { &a };
            let dst: &mut Batch = if last { &mut *out } else { &mut b };
            let stage = &mut self.stages[i];
            if let Err((reason, record)) = stage.push(src, dst) {
                result = Err(BuiltinError::BadRecord {
                    name: stage.name(),
                    record: preview(&record),
                    partition: self.partition,
                    reason,
                });
                break;
            }
            if last {
                break;
            }
            std::mem::swap(&mut a, &mut b);
            from_input = false;
            if a.is_empty() {
                break;
            }
        }
        (self.a, self.b) = (a, b);
        result
    }
}

impl Drop for BuiltinChain {
    fn drop(&mut self) {
        if let Some(account) = &self.account
            && self.charged > 0
        {
            account.release_guest(self.charged);
        }
    }
}

#[cfg(test)]
mod tests;
