//! Accumulators as pure data: their kinds, a task attempt's updates (merged as they are added) and the driver's values.
//!
//! A guest adds record-encoded values (`s64` or `f64`, or any bytes for a
//! collection); the task keeps one partial value per accumulator, reported
//! with its result; the driver merges the partial values of the attempts the
//! scheduler accepts (see `docs/shared-variables.md` for what "once" means).

use std::sync::Mutex;

use crate::ids::AccumulatorId;

/// What an accumulator computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccumulatorKind {
    /// Wrapping sum of `i64`.
    LongSum,
    /// Sum of `f64`.
    DoubleSum,
    /// Smallest `i64`.
    LongMin,
    /// Largest `i64`.
    LongMax,
    /// Smallest `f64`.
    DoubleMin,
    /// Largest `f64`.
    DoubleMax,
    /// Every value added.
    Collection,
}

impl AccumulatorKind {
    /// Every kind, in the order of their wire numbers.
    pub const ALL: [AccumulatorKind; 7] = [
        AccumulatorKind::LongSum,
        AccumulatorKind::DoubleSum,
        AccumulatorKind::LongMin,
        AccumulatorKind::LongMax,
        AccumulatorKind::DoubleMin,
        AccumulatorKind::DoubleMax,
        AccumulatorKind::Collection,
    ];

    /// Its wire number (index in `ALL`).
    pub fn number(self) -> u8 {
        AccumulatorKind::ALL.iter().position(|k| *k == self).unwrap_or(0) as u8
    }

    /// The kind with this wire number.
    pub fn from_number(n: u8) -> Option<AccumulatorKind> {
        AccumulatorKind::ALL.get(n as usize).copied()
    }

    fn is_long(self) -> bool {
        matches!(
            self,
            AccumulatorKind::LongSum | AccumulatorKind::LongMin | AccumulatorKind::LongMax
        )
    }
}

/// A partial or final value.
#[derive(Clone, Debug, PartialEq)]
pub enum AccumValue {
    /// Of a long kind.
    Long(i64),
    /// Of a double kind.
    Double(f64),
    /// Of a collection.
    Items(Vec<Vec<u8>>),
}

/// Why an added value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AddError {
    /// The accumulator is not one of the job's.
    #[error("unknown accumulator id {id}")]
    Unknown { id: u32 },
    /// The bytes are not an 8-byte number.
    #[error("accumulator {id} takes 8-byte {what} values, got {len} bytes")]
    BadValue { id: u32, what: &'static str, len: usize },
}

/// `s64` record encoding.
pub(crate) fn encode_long(x: i64) -> [u8; 8] {
    ((x as u64) ^ (1 << 63)).to_be_bytes()
}

fn decode_long(b: [u8; 8]) -> i64 {
    (u64::from_be_bytes(b) ^ (1 << 63)) as i64
}

/// `f64` record encoding.
pub(crate) fn encode_double(x: f64) -> [u8; 8] {
    let bits = x.to_bits();
    let mapped = if bits >> 63 == 0 { bits ^ (1 << 63) } else { !bits };
    mapped.to_be_bytes()
}

fn decode_double(b: [u8; 8]) -> f64 {
    let mapped = u64::from_be_bytes(b);
    let bits = if mapped >> 63 == 1 { mapped ^ (1 << 63) } else { !mapped };
    f64::from_bits(bits)
}

/// Decodes one added value of an accumulator of `kind`.
pub(crate) fn decode_add(
    id: AccumulatorId,
    kind: AccumulatorKind,
    bytes: Vec<u8>,
) -> Result<AccumValue, AddError> {
    if kind == AccumulatorKind::Collection {
        return Ok(AccumValue::Items(vec![bytes]));
    }
    let what = if kind.is_long() { "s64" } else { "f64" };
    let b: [u8; 8] = bytes[..].try_into().map_err(|_| AddError::BadValue {
        id: id.0,
        what,
        len: bytes.len(),
    })?;
    Ok(if kind.is_long() {
        AccumValue::Long(decode_long(b))
    } else {
        AccumValue::Double(decode_double(b))
    })
}

/// Merges `b` into `a` as `kind` says.
pub(crate) fn merge(kind: AccumulatorKind, a: &mut AccumValue, b: AccumValue) {
    use AccumulatorKind as K;
    match (a, b) {
        (AccumValue::Long(x), AccumValue::Long(y)) => {
            *x = match kind {
                K::LongMin => (*x).min(y),
                K::LongMax => (*x).max(y),
                _ => x.wrapping_add(y),
            }
        }
        (AccumValue::Double(x), AccumValue::Double(y)) => {
            *x = match kind {
                K::DoubleMin => x.min(y),
                K::DoubleMax => x.max(y),
                _ => *x + y,
            }
        }
        (AccumValue::Items(x), AccumValue::Items(y)) => x.extend(y),
        (a, b) => tracing::warn!(?kind, ?a, ?b, "accumulator update of another kind ignored"),
    }
}

/// The record encoding of an accumulator's value as `accumulator-value` returns it:
/// `s64`/`f64` for sums (0 when nothing was added), `option<s64>`/`option<f64>` for
/// min and max, `list<bytes>` for a collection.
pub(crate) fn encode_value(kind: AccumulatorKind, value: Option<&AccumValue>) -> Vec<u8> {
    use AccumulatorKind as K;
    match (kind, value) {
        (K::LongSum, None) => encode_long(0).to_vec(),
        (K::DoubleSum, None) => encode_double(0.0).to_vec(),
        (K::Collection, None) => Vec::new(),
        (_, None) => vec![0],
        (K::LongSum, Some(AccumValue::Long(x))) => encode_long(*x).to_vec(),
        (K::DoubleSum, Some(AccumValue::Double(x))) => encode_double(*x).to_vec(),
        (_, Some(AccumValue::Long(x))) => [&[1u8][..], &encode_long(*x)].concat(),
        (_, Some(AccumValue::Double(x))) => [&[1u8][..], &encode_double(*x)].concat(),
        (_, Some(AccumValue::Items(items))) => {
            let mut out = Vec::new();
            for item in items {
                out.extend_from_slice(&(item.len() as u32).to_le_bytes());
                out.extend_from_slice(item);
            }
            out
        }
    }
}

/// One accumulator's partial value from one task attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct AccumUpdate {
    /// The accumulator.
    pub id: AccumulatorId,
    /// Its partial value.
    pub value: AccumValue,
}

/// The updates of one task attempt, merged as its guests add (shared by the attempt's guest instances).
#[derive(Debug, Default)]
pub(crate) struct TaskAccumulators {
    kinds: std::sync::Arc<Vec<AccumulatorKind>>,
    values: Mutex<Vec<Option<AccumValue>>>,
}

impl TaskAccumulators {
    /// Updates for a job whose accumulators have these kinds (index = id).
    pub(crate) fn new(kinds: std::sync::Arc<Vec<AccumulatorKind>>) -> TaskAccumulators {
        TaskAccumulators { kinds, values: Mutex::default() }
    }

    /// Adds one encoded value.
    pub(crate) fn add(&self, id: AccumulatorId, bytes: Vec<u8>) -> Result<(), AddError> {
        let kind = *self.kinds.get(id.0 as usize).ok_or(AddError::Unknown { id: id.0 })?;
        let value = decode_add(id, kind, bytes)?;
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        if values.len() <= id.0 as usize {
            values.resize(id.0 as usize + 1, None);
        }
        match &mut values[id.0 as usize] {
            Some(v) => merge(kind, v, value),
            slot => *slot = Some(value),
        }
        Ok(())
    }

    /// The attempt's updates (taken: a second call returns none).
    pub(crate) fn take(&self) -> Vec<AccumUpdate> {
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *values)
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|value| AccumUpdate { id: AccumulatorId(i as u32), value }))
            .collect()
    }
}

/// The driver's accumulators of one application: kinds and merged values.
#[derive(Debug, Default)]
pub(crate) struct Accumulators {
    kinds: Vec<AccumulatorKind>,
    values: Vec<Option<AccumValue>>,
}

impl Accumulators {
    /// A new accumulator.
    pub(crate) fn create(&mut self, kind: AccumulatorKind) -> AccumulatorId {
        self.kinds.push(kind);
        self.values.push(None);
        AccumulatorId(self.kinds.len() as u32 - 1)
    }

    /// Every accumulator's kind (index = id), as tasks need them.
    pub(crate) fn kinds(&self) -> Vec<AccumulatorKind> {
        self.kinds.clone()
    }

    /// Merges one accepted attempt's updates.
    pub(crate) fn merge_updates(&mut self, updates: Vec<AccumUpdate>) {
        for u in updates {
            let i = u.id.0 as usize;
            let Some(&kind) = self.kinds.get(i) else {
                tracing::warn!(id = %u.id, "update of an unknown accumulator ignored");
                continue;
            };
            match &mut self.values[i] {
                Some(v) => merge(kind, v, u.value),
                slot => *slot = Some(u.value),
            }
        }
    }

    /// An accumulator's value in its record encoding.
    pub(crate) fn encoded(&self, id: AccumulatorId) -> Option<Vec<u8>> {
        let kind = *self.kinds.get(id.0 as usize)?;
        Some(encode_value(kind, self.values[id.0 as usize].as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_updates_merge_per_kind_and_encode_as_records() {
        let kinds = std::sync::Arc::new(vec![
            AccumulatorKind::LongSum,
            AccumulatorKind::DoubleMax,
            AccumulatorKind::Collection,
            AccumulatorKind::LongMin,
        ]);
        let t = TaskAccumulators::new(kinds.clone());
        for x in [3i64, -5, 10] {
            t.add(AccumulatorId(0), encode_long(x).to_vec()).unwrap();
        }
        t.add(AccumulatorId(1), encode_double(-1.5).to_vec()).unwrap();
        t.add(AccumulatorId(1), encode_double(2.25).to_vec()).unwrap();
        t.add(AccumulatorId(2), b"ab".to_vec()).unwrap();
        assert_eq!(
            t.add(AccumulatorId(0), vec![1, 2]),
            Err(AddError::BadValue { id: 0, what: "s64", len: 2 })
        );
        assert_eq!(t.add(AccumulatorId(9), vec![]), Err(AddError::Unknown { id: 9 }));
        let mut driver = Accumulators::default();
        for k in kinds.iter() {
            driver.create(*k);
        }
        driver.merge_updates(t.take());
        assert!(t.take().is_empty());
        assert_eq!(driver.encoded(AccumulatorId(0)).unwrap(), encode_long(8).to_vec());
        assert_eq!(
            driver.encoded(AccumulatorId(1)).unwrap(),
            [&[1u8][..], &encode_double(2.25)].concat()
        );
        assert_eq!(driver.encoded(AccumulatorId(2)).unwrap(), vec![2, 0, 0, 0, b'a', b'b']);
        assert_eq!(driver.encoded(AccumulatorId(3)).unwrap(), vec![0]);
        // Hand-computed encodings (wit/encoding-vectors.jsonl: s64 1 and f64 1.0).
        assert_eq!(encode_long(1), [0x80, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(encode_double(1.0), [0xbf, 0xf0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(decode_double(encode_double(-3.5).to_owned()), -3.5);
    }
}
