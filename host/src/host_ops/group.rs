//! Reduce-side steps over pairs and records: group values by key, sort by key, drop duplicates — each spilling to disk past its memory.

use super::key_table::{ByGroup, GroupedValues, KeyTable};
use super::spilled::{RankedOutput, for_each_item, rank_bytes, split_rank};
use super::{HostOp, HostOpError, check_output, validate};
use crate::memory::Reservation;
use crate::records::{Batch, put_prefixed, split_pair};
use crate::spill::{ExternalSorter, Sorted, SpillSpace};

/// Least memory an in-memory table asks for at a time.
const TABLE_STEP: u64 = 1 << 20;

/// Iterates over the pairs of a validated batch as `(index, key, value)`.
pub(super) fn pairs<'a>(
    op: &'static str,
    batch: &'a Batch,
) -> impl Iterator<Item = Result<(&'a [u8], &'a [u8]), HostOpError>> + 'a {
    batch.iter().enumerate().map(move |(index, record)| {
        split_pair(record).map_err(|source| HostOpError::NotAPair { op, index, source })
    })
}

/// Where a grouping step is: filling its table, or spilling (items ranked by first sight).
enum Phase {
    Table,
    Spilling { sorter: ExternalSorter, next_rank: u64 },
}

/// What a grouping step hands out at the end.
enum Output {
    /// The input has not ended.
    Pending,
    /// From the in-memory table: group `next` onwards.
    Table { keys: KeyTable, values: GroupedValues, by_group: ByGroup, next: usize },
    /// From disk, in rank order.
    Ranked(RankedOutput),
    /// Everything was handed out.
    Done,
}

/// Groups the values of each key: emits `(k, list<v>)` per key at the end,
/// keys in first-seen order and values in arrival order; spills past its memory.
pub(crate) struct GroupByKey {
    space: SpillSpace,
    reservation: Reservation,
    keys: KeyTable,
    values: GroupedValues,
    phase: Phase,
    output: Output,
}

impl GroupByKey {
    /// An empty grouping spilling into `space`.
    pub(crate) fn new(space: &SpillSpace) -> Self {
        GroupByKey {
            space: space.clone(),
            reservation: space.reservation(),
            keys: KeyTable::default(),
            values: GroupedValues::default(),
            phase: Phase::Table,
            output: Output::Pending,
        }
    }

    /// Writes the table as a sorted run (payload: the key's rank, then a value) and spills from now on.
    fn start_spilling(&mut self) -> Result<(), HostOpError> {
        let keys = std::mem::take(&mut self.keys);
        let values = std::mem::take(&mut self.values);
        let by_group = values.by_group(keys.len());
        let mut sorter = ExternalSorter::new(&self.space, false);
        sorter.add_sorted_run(|w| {
            for id in keys.ids_by_key() {
                let rank = rank_bytes(u64::from(id));
                for &v in by_group.of(id as usize) {
                    w.item(keys.key(id), &[&rank, values.value(v)])?;
                }
            }
            Ok(())
        })?;
        let next_rank = keys.len() as u64;
        drop((keys, values, by_group));
        self.reservation.shrink_to(0);
        self.phase = Phase::Spilling { sorter, next_rank };
        Ok(())
    }
}

impl HostOp for GroupByKey {
    fn push(&mut self, batch: &Batch, _out: &mut Batch) -> Result<(), HostOpError> {
        validate("group-by-key", batch)?;
        if let Phase::Table = self.phase {
            let (n, bytes) = (batch.len(), batch.byte_len());
            let planned = self.keys.planned_bytes(n, bytes) + self.values.planned_bytes(n, bytes);
            if self.reservation.ensure(planned, TABLE_STEP) || self.values.len() == 0 {
                self.keys.reserve(n, bytes);
                self.values.reserve(n, bytes);
                for pair in pairs("group-by-key", batch) {
                    let (key, value) = pair?;
                    let (id, _) = self.keys.intern(key);
                    self.values.push(id, value);
                }
                return Ok(());
            }
            self.start_spilling()?;
        }
        let Phase::Spilling { sorter, next_rank } = &mut self.phase else { unreachable!() };
        for pair in pairs("group-by-key", batch) {
            let (key, value) = pair?;
            let rank = rank_bytes(*next_rank);
            *next_rank += 1;
            sorter.push_parts(key, &[&rank, value])?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Batch, max_bytes: usize) -> Result<bool, HostOpError> {
        if let Output::Pending = self.output {
            self.output = match std::mem::replace(&mut self.phase, Phase::Table) {
                Phase::Table => {
                    let keys = std::mem::take(&mut self.keys);
                    let values = std::mem::take(&mut self.values);
                    let by_group = values.by_group(keys.len());
                    Output::Table { keys, values, by_group, next: 0 }
                }
                Phase::Spilling { sorter, .. } => {
                    Output::Ranked(regroup(&self.space, sorter.finish()?)?)
                }
            };
        }
        let done = match &mut self.output {
            Output::Pending | Output::Done => true,
            Output::Table { keys, values, by_group, next } => {
                while *next < keys.len() && out.byte_len() < max_bytes {
                    let g = *next;
                    out.push_with(|data| {
                        put_prefixed(data, keys.key(g as u32));
                        for &v in by_group.of(g) {
                            put_prefixed(data, values.value(v));
                        }
                    });
                    check_output("group-by-key", out)?;
                    *next += 1;
                }
                *next == keys.len()
            }
            Output::Ranked(ranked) => ranked.drain(out, max_bytes)?,
        };
        if done {
            self.output = Output::Done;
            self.reservation.shrink_to(0);
        }
        Ok(done)
    }
}

/// The `(k, list<v>)` records of merged `(key, rank + value)` items, in rank order.
fn regroup(space: &SpillSpace, mut sorted: Sorted) -> Result<RankedOutput, HostOpError> {
    let mut output = RankedOutput::new(space);
    let mut record = Vec::new();
    let mut rank = 0;
    for_each_item(&mut sorted, |first, key, payload| {
        let (r, value) = split_rank(payload);
        if first {
            if !record.is_empty() {
                output.push(rank, &record)?;
            }
            record.clear();
            put_prefixed(&mut record, key);
            rank = r;
        }
        put_prefixed(&mut record, value);
        Ok(())
    })?;
    if !record.is_empty() {
        output.push(rank, &record)?;
    }
    Ok(output)
}

/// Sorts pairs by key bytes (stable: equal keys keep their arrival order), spilling sorted runs past its memory.
pub(crate) struct SortByKey {
    sorter: Option<ExternalSorter>,
    sorted: Option<Sorted>,
}

impl SortByKey {
    /// A sort in ascending or descending key order, spilling into `space`.
    pub(crate) fn new(ascending: bool, space: &SpillSpace) -> Self {
        SortByKey { sorter: Some(ExternalSorter::new(space, !ascending)), sorted: None }
    }
}

impl HostOp for SortByKey {
    fn push(&mut self, batch: &Batch, _out: &mut Batch) -> Result<(), HostOpError> {
        validate("sort-by-key", batch)?;
        let sorter = self.sorter.as_mut().expect("pushed after finish");
        for pair in pairs("sort-by-key", batch) {
            let (key, value) = pair?;
            sorter.push(key, value)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Batch, max_bytes: usize) -> Result<bool, HostOpError> {
        if let Some(sorter) = self.sorter.take() {
            self.sorted = Some(sorter.finish()?);
        }
        let Some(sorted) = self.sorted.as_mut() else { return Ok(true) };
        while out.byte_len() < max_bytes {
            let Some((key, value)) = sorted.next_item()? else {
                self.sorted = None;
                return Ok(true);
            };
            out.push_with(|data| {
                put_prefixed(data, key);
                data.extend_from_slice(value);
            });
        }
        check_output("sort-by-key", out)?;
        Ok(false)
    }
}

/// Emits each distinct record (by its bytes) once, when first seen while it
/// fits in memory; past its memory the rest come out at the end, in
/// first-seen order.
pub(crate) struct Distinct {
    space: SpillSpace,
    reservation: Reservation,
    seen: KeyTable,
    phase: Phase,
    output: Option<RankedOutput>,
}

/// Payload flag of a record already emitted (from the table).
const EMITTED: u8 = 1;

impl Distinct {
    /// An empty set of seen records, spilling into `space`.
    pub(crate) fn new(space: &SpillSpace) -> Self {
        Distinct {
            space: space.clone(),
            reservation: space.reservation(),
            seen: KeyTable::default(),
            phase: Phase::Table,
            output: None,
        }
    }

    /// Writes the seen records as a sorted run, flagged as emitted, and spills from now on.
    fn start_spilling(&mut self) -> Result<(), HostOpError> {
        let seen = std::mem::take(&mut self.seen);
        let mut sorter = ExternalSorter::new(&self.space, false);
        sorter.add_sorted_run(|w| {
            for id in seen.ids_by_key() {
                w.item(seen.key(id), &[&rank_bytes(u64::from(id)), &[EMITTED]])?;
            }
            Ok(())
        })?;
        let next_rank = seen.len() as u64;
        drop(seen);
        self.reservation.shrink_to(0);
        self.phase = Phase::Spilling { sorter, next_rank };
        Ok(())
    }
}

impl HostOp for Distinct {
    fn push(&mut self, batch: &Batch, out: &mut Batch) -> Result<(), HostOpError> {
        validate("distinct", batch)?;
        if let Phase::Table = self.phase {
            let (n, bytes) = (batch.len(), batch.byte_len());
            if self.reservation.ensure(self.seen.planned_bytes(n, bytes), TABLE_STEP)
                || self.seen.len() == 0
            {
                self.seen.reserve(n, bytes);
                for record in batch.iter() {
                    if self.seen.intern(record).1 {
                        out.push(record);
                    }
                }
                return check_output("distinct", out);
            }
            self.start_spilling()?;
        }
        let Phase::Spilling { sorter, next_rank } = &mut self.phase else { unreachable!() };
        for record in batch.iter() {
            let rank = rank_bytes(*next_rank);
            *next_rank += 1;
            sorter.push_parts(record, &[&rank, &[0]])?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Batch, max_bytes: usize) -> Result<bool, HostOpError> {
        if let Phase::Spilling { sorter, .. } = std::mem::replace(&mut self.phase, Phase::Table) {
            let mut sorted = sorter.finish()?;
            let mut output = RankedOutput::new(&self.space);
            for_each_item(&mut sorted, |first, record, payload| {
                let (rank, flag) = split_rank(payload);
                // A group's first item is its earliest sighting: emitted already, or to emit now.
                if first && flag != [EMITTED] {
                    output.push(rank, record)?;
                }
                Ok(())
            })?;
            self.output = Some(output);
        }
        self.seen = KeyTable::default();
        self.reservation.shrink_to(0);
        match self.output.as_mut() {
            None => Ok(true),
            Some(output) => {
                let done = output.drain(out, max_bytes)?;
                check_output("distinct", out)?;
                Ok(done)
            }
        }
    }
}
