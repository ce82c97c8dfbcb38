//! Record-level steps the host runs without guest code: sampling, group-by-key, sort-by-key, distinct, cogroup and join.
//!
//! Every step has the shape of a guest task: `push` batches in, `finish` at
//! the end of the partition; output records are appended to `out`. The
//! record encodings are those of `wit/task.wit` (pairs, lists, options,
//! tuples). Steps that need the whole partition (group, sort, cogroup,
//! distinct) keep it in memory, packed in a few large buffers (no allocation
//! per record), within what their task's memory account grants; past that
//! they spill sorted runs to the task's spill directory and merge them
//! (`crate::spill`), with the same output. Output is handed on in batches of
//! bounded size.

mod cogroup;
mod group;
mod key_table;
mod sample;
mod spilled;

#[cfg(test)]
mod tests;

use crate::lineage::HostStep;
use crate::records::{Batch, MalformedBatch, NotAPair};
use crate::spill::{SpillError, SpillSpace};
use crate::task::ReduceStep;

pub(crate) use cogroup::Cogroup;
pub(crate) use group::{Distinct, GroupByKey, SortByKey};
pub(crate) use sample::Sampler;

/// A host step failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HostOpError {
    /// A step that works on pairs got a record that is not one.
    #[error("{op}: record {index} of the batch is not a key/value pair: {source}")]
    NotAPair {
        /// The step.
        op: &'static str,
        /// Index of the record in its batch.
        index: usize,
        /// What is wrong with it.
        source: NotAPair,
    },
    /// A batch's offsets do not describe its data.
    #[error("{op}: {source}")]
    Malformed {
        /// The step.
        op: &'static str,
        /// What is wrong with the batch.
        source: MalformedBatch,
    },
    /// Records were pushed to an input a cogroup does not have.
    #[error("cogroup has {inputs} inputs; there is no input {input}")]
    NoSuchInput {
        /// The input pushed to.
        input: usize,
        /// How many inputs the cogroup has.
        inputs: usize,
    },
    /// A cogroup without inputs, or a join without exactly two.
    #[error("a {what} cannot have {inputs} inputs")]
    InputCount {
        /// `cogroup` or `join`.
        what: &'static str,
        /// How many inputs it was given.
        inputs: usize,
    },
    /// The output batch grew past what its `u32` offsets can address.
    #[error("{op}: output batch exceeds 4 GiB")]
    OutputTooLarge {
        /// The step.
        op: &'static str,
    },
    /// Spilling to local disk failed: the executor's fault, not the data's.
    #[error(transparent)]
    Spill(SpillError),
}

impl HostOpError {
    /// Whether the executor (its disk) failed rather than the records: retried elsewhere.
    pub(crate) fn is_host_failure(&self) -> bool {
        matches!(self, HostOpError::Spill(_))
    }
}

/// A host step with the shape of a guest task.
pub(crate) trait HostOp {
    /// Consumes a batch of input records, appending any output records to `out`.
    fn push(&mut self, batch: &Batch, out: &mut Batch) -> Result<(), HostOpError>;
    /// Ends the input (first call) and appends remaining output records to
    /// `out` until it holds about `max_bytes`; true once everything was
    /// handed out (call again with an emptied `out` while false).
    fn finish(&mut self, out: &mut Batch, max_bytes: usize) -> Result<bool, HostOpError>;
}

/// The host op of a narrow host step, for map partition `partition`.
pub(crate) fn narrow_op(step: &HostStep, partition: u32) -> Box<dyn HostOp + Send> {
    match *step {
        HostStep::Sample { with_replacement, fraction, seed } => {
            Box::new(Sampler::new(with_replacement, fraction, seed, partition))
        }
    }
}

/// The host op of a reduce step, spilling into `space`.
pub(crate) fn reduce_op(step: &ReduceStep, space: &SpillSpace) -> Box<dyn HostOp + Send> {
    match *step {
        ReduceStep::Group => Box::new(GroupByKey::new(space)),
        ReduceStep::Sort { ascending } => Box::new(SortByKey::new(ascending, space)),
        ReduceStep::Distinct => Box::new(Distinct::new(space)),
    }
}

/// Checks a batch before iterating over it.
fn validate(op: &'static str, batch: &Batch) -> Result<(), HostOpError> {
    batch.validate().map_err(|source| HostOpError::Malformed { op, source })
}

/// Fails once `out` holds more data than its offsets can address.
fn check_output(op: &'static str, out: &Batch) -> Result<(), HostOpError> {
    if out.data.len() > u32::MAX as usize {
        Err(HostOpError::OutputTooLarge { op })
    } else {
        Ok(())
    }
}
