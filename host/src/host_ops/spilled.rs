//! What the grouping steps share once they spilled: items ranked by first sight, grouped back by key, emitted in rank order.
//!
//! A step that outgrows its memory writes its in-memory table as one sorted
//! run and from then on sends every record to an [`ExternalSorter`] keyed by
//! its key bytes, each item's payload starting with the *rank* of its key's
//! first sighting (the key's id for keys from the table, later arrivals
//! numbered after them). At the end the merged items are walked key group
//! by key group; the records a group produces go to a second sorter keyed by
//! the group's smallest rank, so the output comes in the same order as when
//! everything fits in memory: keys in first-seen order.

use super::HostOpError;
use crate::records::Batch;
use crate::spill::{ExternalSorter, Sorted, SpillError, SpillSpace};

/// Bytes of a rank at the start of a payload.
pub(super) const RANK_BYTES: usize = 8;

impl From<SpillError> for HostOpError {
    fn from(e: SpillError) -> Self {
        HostOpError::Spill(e)
    }
}

/// A rank as the bytes that sort like it.
pub(super) fn rank_bytes(rank: u64) -> [u8; RANK_BYTES] {
    rank.to_be_bytes()
}

/// Splits a payload into its rank and the rest.
pub(super) fn split_rank(payload: &[u8]) -> (u64, &[u8]) {
    let (rank, rest) = payload.split_at(RANK_BYTES);
    (u64::from_be_bytes(rank.try_into().expect("eight bytes")), rest)
}

/// Walks merged items one key group at a time: `on_item(first_of_group, key, payload)`.
pub(super) fn for_each_item(
    sorted: &mut Sorted,
    mut on_item: impl FnMut(bool, &[u8], &[u8]) -> Result<(), HostOpError>,
) -> Result<(), HostOpError> {
    let mut previous: Option<Vec<u8>> = None;
    while let Some((key, payload)) = sorted.next_item()? {
        let first = previous.as_deref() != Some(key);
        if first {
            previous = Some(key.to_vec());
        }
        on_item(first, key, payload)?;
    }
    Ok(())
}

/// The output records of a spilled step, reordered by rank, handed out in bounded batches.
pub(super) struct RankedOutput {
    sorter: Option<ExternalSorter>,
    sorted: Option<Sorted>,
}

impl RankedOutput {
    /// An empty output.
    pub(super) fn new(space: &SpillSpace) -> RankedOutput {
        RankedOutput { sorter: Some(ExternalSorter::new(space, false)), sorted: None }
    }

    /// Adds the records of `batch`, all of rank `rank`.
    pub(super) fn push_batch(&mut self, rank: u64, batch: &Batch) -> Result<(), HostOpError> {
        let sorter = self.sorter.as_mut().expect("pushed before draining");
        for record in batch.iter() {
            sorter.push(&rank_bytes(rank), record)?;
        }
        Ok(())
    }

    /// Adds one record of rank `rank`.
    pub(super) fn push(&mut self, rank: u64, record: &[u8]) -> Result<(), HostOpError> {
        let sorter = self.sorter.as_mut().expect("pushed before draining");
        sorter.push(&rank_bytes(rank), record)?;
        Ok(())
    }

    /// Appends records to `out` until it holds `max_bytes`; true once everything was handed out.
    pub(super) fn drain(&mut self, out: &mut Batch, max_bytes: usize) -> Result<bool, HostOpError> {
        if let Some(sorter) = self.sorter.take() {
            self.sorted = Some(sorter.finish()?);
        }
        let Some(sorted) = self.sorted.as_mut() else { return Ok(true) };
        while out.byte_len() < max_bytes {
            match sorted.next_item()? {
                Some((_, record)) => out.push(record),
                None => {
                    self.sorted = None;
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}
