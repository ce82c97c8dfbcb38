//! The built-in aggregators (`sum`, `sum_float`, `count`, `min`, `max`, `mean`) and the combine table they fill.

use rustc_hash::FxHashMap;

use super::BuiltinError;
use super::text::{decode_f64, decode_i64, encode_f64, encode_i64};
use crate::records::{Batch, put_prefixed};

/// Names of the aggregators (in errors).
const AGGREGATORS: &str = "sum, sum_float, count, min, max, mean";
/// Names of the reducers (in errors).
const REDUCERS: &str = "sum, sum_float, min, max";

/// A built-in aggregator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Aggregator {
    Sum,
    SumFloat,
    Count,
    Min,
    Max,
    Mean,
}

/// A combiner in the table.
enum Acc {
    Int(i64),
    Float(f64),
    Bytes(Vec<u8>),
    Mean(f64, i64),
}

impl Aggregator {
    pub(super) fn new(name: &str, kind: &'static str) -> Result<Aggregator, BuiltinError> {
        Ok(match name {
            "sum" => Aggregator::Sum,
            "sum_float" => Aggregator::SumFloat,
            "count" => Aggregator::Count,
            "min" => Aggregator::Min,
            "max" => Aggregator::Max,
            "mean" => Aggregator::Mean,
            _ => return Err(BuiltinError::Unknown { name: name.into(), kind, known: AGGREGATORS }),
        })
    }

    /// The aggregator of a `reduce` op (its records are values and combiners at once).
    pub(super) fn reducer(name: &str) -> Result<Aggregator, BuiltinError> {
        match Aggregator::new(name, "reduce") {
            Ok(
                a @ (Aggregator::Sum | Aggregator::SumFloat | Aggregator::Min | Aggregator::Max),
            ) => Ok(a),
            _ => Err(BuiltinError::Unknown { name: name.into(), kind: "reduce", known: REDUCERS }),
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Aggregator::Sum => "sum",
            Aggregator::SumFloat => "sum_float",
            Aggregator::Count => "count",
            Aggregator::Min => "min",
            Aggregator::Max => "max",
            Aggregator::Mean => "mean",
        }
    }

    /// The combiner of one value.
    fn create(self, v: &[u8]) -> Result<Acc, String> {
        Ok(match self {
            Aggregator::Sum => Acc::Int(decode_i64(v)?),
            Aggregator::SumFloat => Acc::Float(decode_f64(v)?),
            Aggregator::Count => Acc::Int(1),
            Aggregator::Min | Aggregator::Max => Acc::Bytes(v.to_vec()),
            Aggregator::Mean => Acc::Mean(decode_f64(v)?, 1),
        })
    }

    /// Decodes a combiner (a `merge` op's input).
    fn decode_combiner(self, c: &[u8]) -> Result<Acc, String> {
        Ok(match self {
            Aggregator::Sum | Aggregator::Count => Acc::Int(decode_i64(c)?),
            Aggregator::SumFloat => Acc::Float(decode_f64(c)?),
            Aggregator::Min | Aggregator::Max => Acc::Bytes(c.to_vec()),
            Aggregator::Mean => {
                let (s, n) = decode_mean(c)?;
                Acc::Mean(s, n)
            }
        })
    }

    /// Merges `more` into `acc`.
    fn merge(self, acc: &mut Acc, more: Acc) -> Result<(), String> {
        match (acc, more) {
            (Acc::Int(a), Acc::Int(b)) => {
                *a = a.checked_add(b).ok_or_else(|| "the s64 sum overflows".to_string())?
            }
            (Acc::Float(a), Acc::Float(b)) => *a += b,
            (Acc::Bytes(a), Acc::Bytes(b)) => {
                let take = if self == Aggregator::Min { b < *a } else { b > *a };
                if take {
                    *a = b;
                }
            }
            (Acc::Mean(s, n), Acc::Mean(t, m)) => {
                *s += t;
                *n += m;
            }
            _ => return Err("combiners of different shapes".into()),
        }
        Ok(())
    }

    /// Merges one value into `acc` without building its combiner when it can.
    fn add_value(self, acc: &mut Acc, v: &[u8]) -> Result<(), String> {
        match (self, &mut *acc) {
            (Aggregator::Sum, Acc::Int(a)) => {
                *a = a
                    .checked_add(decode_i64(v)?)
                    .ok_or_else(|| "the s64 sum overflows".to_string())?
            }
            (Aggregator::Count, Acc::Int(a)) => *a += 1,
            (Aggregator::Min | Aggregator::Max, Acc::Bytes(a)) => {
                let take = if self == Aggregator::Min { v < &a[..] } else { v > &a[..] };
                if take {
                    a.clear();
                    a.extend_from_slice(v);
                }
            }
            _ => self.merge(acc, self.create(v)?)?,
        }
        Ok(())
    }

    fn encode(acc: &Acc, out: &mut Vec<u8>) {
        match acc {
            Acc::Int(v) => out.extend_from_slice(&encode_i64(*v)),
            Acc::Float(v) => out.extend_from_slice(&encode_f64(*v)),
            Acc::Bytes(b) => out.extend_from_slice(b),
            Acc::Mean(s, n) => {
                put_prefixed(out, &encode_f64(*s));
                out.extend_from_slice(&encode_i64(*n));
            }
        }
    }

    /// Checks a `reduce` op's record (a value of the aggregator's type).
    pub(super) fn check(self, r: &[u8]) -> Result<(), String> {
        self.create(r).map(drop)
    }

    /// Two records of a `reduce` op reduced to one.
    pub(super) fn reduce(self, a: &[u8], b: &[u8]) -> Result<Vec<u8>, String> {
        let mut acc = self.create(a)?;
        self.merge(&mut acc, self.create(b)?)?;
        let mut out = Vec::with_capacity(8);
        Aggregator::encode(&acc, &mut out);
        Ok(out)
    }
}

/// The `mean` combiner: the tuple (f64 sum, s64 count).
pub(super) fn decode_mean(c: &[u8]) -> Result<(f64, i64), String> {
    if c.len() != 20 || c[..4] != 8u32.to_le_bytes() {
        return Err(format!("{} bytes are not a mean combiner (f64 sum, s64 count)", c.len()));
    }
    Ok((decode_f64(&c[4..12])?, decode_i64(&c[12..])?))
}

/// The combiners of a `combine` or `merge` op, by key bytes; out in ascending key order.
pub(super) struct Table {
    aggregator: Aggregator,
    map: FxHashMap<Vec<u8>, Acc>,
    /// An estimate of the bytes the table holds (keys, entries, byte combiners).
    bytes: u64,
}

/// What an entry costs besides its key's bytes: the key's `Vec`, the `Acc`, the hash table's slot.
const ENTRY_BYTES: u64 = (size_of::<(Vec<u8>, Acc)>() + 16) as u64;

impl Table {
    pub(super) fn new(aggregator: Aggregator) -> Table {
        Table { aggregator, map: FxHashMap::default(), bytes: 0 }
    }

    /// An estimate of the memory the table holds, bytes.
    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }

    fn insert(&mut self, k: &[u8], acc: Acc) {
        let extra = if let Acc::Bytes(b) = &acc { b.len() } else { 0 };
        self.bytes += ENTRY_BYTES + (k.len() + extra) as u64;
        self.map.insert(k.to_vec(), acc);
    }

    pub(super) fn aggregator(&self) -> Aggregator {
        self.aggregator
    }

    /// Adds a value (a `combine` op's input).
    pub(super) fn add_value(&mut self, k: &[u8], v: &[u8]) -> Result<(), String> {
        match self.map.get_mut(k) {
            Some(acc) => self.aggregator.add_value(acc, v),
            None => {
                let acc = self.aggregator.create(v)?;
                self.insert(k, acc);
                Ok(())
            }
        }
    }

    /// Adds a combiner (a `merge` op's input).
    pub(super) fn add_combiner(&mut self, k: &[u8], c: &[u8]) -> Result<(), String> {
        let more = self.aggregator.decode_combiner(c)?;
        match self.map.get_mut(k) {
            Some(acc) => self.aggregator.merge(acc, more),
            None => {
                self.insert(k, more);
                Ok(())
            }
        }
    }

    /// Every `(key, combiner)` pair in ascending key-byte order; the table is left empty.
    pub(super) fn drain(&mut self, out: &mut Batch) {
        self.bytes = 0;
        let mut entries: Vec<(Vec<u8>, Acc)> = std::mem::take(&mut self.map).into_iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (k, acc) in &entries {
            out.push_with(|buf| {
                put_prefixed(buf, k);
                Aggregator::encode(acc, buf);
            });
        }
    }
}
