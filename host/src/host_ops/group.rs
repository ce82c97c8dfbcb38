//! Reduce-side steps over pairs and records: group values by key, sort by key, drop duplicates.

use super::key_table::{GroupedValues, KeyTable};
use super::{HostOp, HostOpError, check_output, validate};
use crate::records::{Batch, put_prefixed, split_pair};

/// Iterates over the pairs of a validated batch as `(index, key, value)`.
pub(super) fn pairs<'a>(
    op: &'static str,
    batch: &'a Batch,
) -> impl Iterator<Item = Result<(&'a [u8], &'a [u8]), HostOpError>> + 'a {
    batch.iter().enumerate().map(move |(index, record)| {
        split_pair(record).map_err(|source| HostOpError::NotAPair { op, index, source })
    })
}

/// Groups the values of each key: emits `(k, list<v>)` per key at the end,
/// keys in first-seen order and values in arrival order.
#[derive(Default)]
pub(crate) struct GroupByKey {
    keys: KeyTable,
    values: GroupedValues,
}

impl GroupByKey {
    /// An empty grouping.
    pub(crate) fn new() -> Self {
        Self::default()
    }
}

impl HostOp for GroupByKey {
    fn push(&mut self, batch: &Batch, _out: &mut Batch) -> Result<(), HostOpError> {
        validate("group-by-key", batch)?;
        for pair in pairs("group-by-key", batch) {
            let (key, value) = pair?;
            let (id, _) = self.keys.intern(key);
            self.values.push(id, value);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Batch) -> Result<(), HostOpError> {
        let GroupByKey { keys, values } = std::mem::take(self);
        let by_group = values.by_group(keys.len());
        for g in 0..keys.len() {
            out.push_with(|data| {
                put_prefixed(data, keys.key(g as u32));
                for &v in by_group.of(g) {
                    put_prefixed(data, values.value(v));
                }
            });
            check_output("group-by-key", out)?;
        }
        Ok(())
    }
}

/// One buffered pair of [`SortByKey`]: the record is `data[start..end]`, its key `data[start + 4..key_end]`.
#[derive(Clone, Copy)]
struct Entry {
    start: usize,
    key_end: usize,
    end: usize,
}

/// Sorts pairs by key bytes (stable: equal keys keep their arrival order) and emits them at the end.
#[derive(Default)]
pub(crate) struct SortByKey {
    ascending: bool,
    data: Vec<u8>,
    entries: Vec<Entry>,
}

impl SortByKey {
    /// A sort in ascending or descending key order.
    pub(crate) fn new(ascending: bool) -> Self {
        SortByKey { ascending, ..Self::default() }
    }
}

impl HostOp for SortByKey {
    fn push(&mut self, batch: &Batch, _out: &mut Batch) -> Result<(), HostOpError> {
        validate("sort-by-key", batch)?;
        for (index, record) in batch.iter().enumerate() {
            let (key, _) = split_pair(record).map_err(|source| HostOpError::NotAPair {
                op: "sort-by-key",
                index,
                source,
            })?;
            let start = self.data.len();
            self.data.extend_from_slice(record);
            self.entries.push(Entry {
                start,
                key_end: start + 4 + key.len(),
                end: self.data.len(),
            });
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Batch) -> Result<(), HostOpError> {
        let data = std::mem::take(&mut self.data);
        let mut entries = std::mem::take(&mut self.entries);
        let key = |e: &Entry| &data[e.start + 4..e.key_end];
        if self.ascending {
            entries.sort_by(|a, b| key(a).cmp(key(b)));
        } else {
            entries.sort_by(|a, b| key(b).cmp(key(a)));
        }
        for e in &entries {
            out.push(&data[e.start..e.end]);
            check_output("sort-by-key", out)?;
        }
        Ok(())
    }
}

/// Emits each distinct record (by its bytes) once, when first seen.
#[derive(Default)]
pub(crate) struct Distinct {
    seen: KeyTable,
}

impl Distinct {
    /// An empty set of seen records.
    pub(crate) fn new() -> Self {
        Self::default()
    }
}

impl HostOp for Distinct {
    fn push(&mut self, batch: &Batch, out: &mut Batch) -> Result<(), HostOpError> {
        validate("distinct", batch)?;
        for record in batch.iter() {
            if self.seen.intern(record).1 {
                out.push(record);
            }
        }
        check_output("distinct", out)
    }

    fn finish(&mut self, _out: &mut Batch) -> Result<(), HostOpError> {
        self.seen = KeyTable::default();
        Ok(())
    }
}
