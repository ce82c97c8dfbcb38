//! A reduce-side guest combiner whose input is bigger than its guest should hold: combined in generations, spilled, merged back in key order.
//!
//! A reduce task whose first guest op is `combine` or `merge` holds one
//! combiner per distinct key in the guest until the input ends. When the
//! task's shuffle input is larger than a *generation* (a quarter of the
//! guest's memory limit or of a task slot's share of the executor's memory,
//! whichever is smaller), the host feeds the guest one generation of input
//! at a time, each in a fresh instance running only that op, and sorts the
//! combiners each generation emits into an [`ExternalSorter`] (spilling
//! within the task's memory). The merged combiners then go, in ascending key
//! order, through fresh instances running the op as `merge`, each given at
//! most a generation of input and cut only between keys, so every key is
//! merged in exactly one instance and no instance holds more than a
//! generation's combiners. The ops after the combiner run in one more
//! instance over that output. The output is the same as one instance's: one
//! `(k, c)` per key, in ascending key order.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::plan_run::{guest_error, push_nonempty, run_plan};
use super::{BatchSink, Executor, TaskState, host_failure};
use crate::lineage::{Op, OpKind};
use crate::records::{Batch, put_prefixed, split_pair};
use crate::spill::ExternalSorter;
use crate::task::{ComponentBytes, Plan, Source, TaskFailure};
use crate::wasm::{GuestInstance, GuestOutput, LoadedComponent, Sandbox};

/// Whether a guest step is a reduce-side combiner over a shuffle read (and so may run in generations).
pub(super) fn is_reduce_combiner(input: &Plan, ops: &[Op]) -> bool {
    matches!(input, Plan::Read(Source::Shuffle(_)))
        && ops.first().is_some_and(|op| matches!(op.kind, OpKind::Combine | OpKind::Merge))
}

/// Input bytes one guest instance combines at most: a quarter of its memory limit or of a task
/// slot's share of the executor's memory, whichever is smaller.
pub(super) fn generation_bytes(sandbox: &Sandbox) -> u64 {
    let share = sandbox.account.as_ref().map_or(u64::MAX, |a| a.slot_share());
    ((sandbox.memory as u64).min(share) / 4).max(1 << 20)
}

/// Bytes of shuffle input a plan reads (known before the read).
pub(super) fn shuffle_input_bytes(input: &Plan) -> u64 {
    match input {
        Plan::Read(Source::Shuffle(read)) => read.maps.iter().map(|m| m.bytes).sum(),
        _ => 0,
    }
}

/// What starting a guest instance needs, detached from the task state so sinks can start them.
pub(super) struct Starter<'a> {
    executor: &'a Executor,
    loaded: Arc<LoadedComponent>,
    partition: u32,
    cancel: Arc<AtomicBool>,
    pub(super) sandbox: Sandbox,
}

impl<'a> Starter<'a> {
    /// Loads the component (compiled once per executor) for instances of the task's sandbox.
    pub(super) fn new(
        st: &mut TaskState<'a>,
        component: &Arc<ComponentBytes>,
    ) -> Result<Starter<'a>, TaskFailure> {
        let loaded = st
            .executor
            .runtime()
            .load(component)
            .map_err(|e| super::guest_failure(e.to_string()))?;
        Ok(Starter {
            executor: st.executor,
            loaded,
            partition: st.task.id.partition,
            cancel: st.cancel.clone(),
            sandbox: st.sandbox()?.clone(),
        })
    }

    pub(super) fn start(&self, ops: &[Op]) -> Result<GuestInstance, TaskFailure> {
        GuestInstance::start(
            self.executor.runtime(),
            &self.loaded,
            ops,
            self.partition,
            self.cancel.clone(),
            &self.sandbox,
        )
        .map_err(guest_error)
    }
}

/// Runs the combiner in generations (see the module docs).
pub(super) fn run_in_generations(
    st: &mut TaskState<'_>,
    input: &Plan,
    component: &Arc<ComponentBytes>,
    ops: &[Op],
    out: &mut dyn BatchSink,
) -> Result<(), TaskFailure> {
    let starter = Starter::new(st, component)?;
    let limit = generation_bytes(&starter.sandbox);
    tracing::debug!(
        input = shuffle_input_bytes(input),
        generation = limit,
        "reduce-side combiner runs in generations"
    );
    let first = &ops[..1];
    let mut generations = Generations {
        starter: &starter,
        ops: first,
        guest: None,
        bytes: 0,
        limit,
        sorter: ExternalSorter::new(&st.spill, false),
        logs: Vec::new(),
    };
    run_plan(st, input, &mut generations)?;
    generations.end()?;
    let Generations { sorter, logs, .. } = generations;
    for log in &logs {
        st.keep_output(log);
    }
    let mut sorted = sorter.finish().map_err(|e| host_failure(e.to_string()))?;

    // The combiners in key order, merged in instances cut between keys.
    let merge = [Op { kind: OpKind::Merge, ..ops[0].clone() }];
    let mut rest = match &ops[1..] {
        [] => None,
        tail => Some(starter.start(tail)?),
    };
    let mut downstream = Downstream { rest: rest.as_mut(), out };
    let batch_bytes = st.executor.config().batch_bytes;
    let mut merger: Option<GuestInstance> = None;
    let mut chunk_bytes = 0u64;
    let mut batch = Batch::default();
    let mut last_key: Vec<u8> = Vec::new();
    let mut logs = Vec::new();
    let failed = |e: crate::spill::SpillError| host_failure(e.to_string());
    while let Some((key, combiner)) = sorted.next_item().map_err(failed)? {
        let new_key = key != last_key.as_slice();
        if new_key && chunk_bytes >= limit {
            // Every value of the previous keys went to this instance: its output is final.
            let mut done = merger.take().expect("a chunk has an instance");
            done.push(&batch).map_err(guest_error).and_then(|o| downstream.push(&o))?;
            batch.clear();
            let output = done.finish().map_err(guest_error)?;
            logs.push(done.output());
            downstream.push(&output)?;
            chunk_bytes = 0;
        }
        if new_key {
            last_key.clear();
            last_key.extend_from_slice(key);
        }
        if merger.is_none() {
            merger = Some(starter.start(&merge)?);
        }
        batch.push_with(|data| {
            put_prefixed(data, key);
            data.extend_from_slice(combiner);
        });
        chunk_bytes += (key.len() + combiner.len() + 8) as u64;
        if batch.byte_len() >= batch_bytes {
            let guest = merger.as_mut().expect("started above");
            let produced = guest.push(&batch).map_err(guest_error)?;
            downstream.push(&produced)?;
            batch.clear();
        }
    }
    if let Some(mut done) = merger {
        let produced = done.push(&batch).map_err(guest_error)?;
        downstream.push(&produced)?;
        let output = done.finish().map_err(guest_error)?;
        logs.push(done.output());
        downstream.push(&output)?;
    }
    let result = match downstream.rest.take() {
        Some(guest) => {
            let output = guest.finish().map_err(guest_error);
            logs.push(guest.output());
            output.and_then(|o| push_nonempty(downstream.out, &o))
        }
        None => Ok(()),
    };
    for log in &logs {
        st.keep_output(log);
    }
    result
}

/// The first pass: the input, one generation per fresh instance, its combiners into the sorter.
struct Generations<'s, 'a> {
    starter: &'s Starter<'a>,
    ops: &'s [Op],
    guest: Option<GuestInstance>,
    bytes: u64,
    limit: u64,
    sorter: ExternalSorter,
    logs: Vec<GuestOutput>,
}

impl Generations<'_, '_> {
    /// Sorts a batch of `(k, c)` pairs a generation emitted.
    fn keep(&mut self, combiners: &Batch) -> Result<(), TaskFailure> {
        for (index, record) in combiners.iter().enumerate() {
            let (key, value) = split_pair(record).map_err(|e| {
                super::guest_failure(format!(
                    "combiner output record {index} is not a key/value pair: {e}"
                ))
            })?;
            self.sorter.push(key, value).map_err(|e| host_failure(e.to_string()))?;
        }
        Ok(())
    }

    /// Ends the current generation, if one is running.
    fn end(&mut self) -> Result<(), TaskFailure> {
        if let Some(mut guest) = self.guest.take() {
            let output = guest.finish().map_err(guest_error);
            self.logs.push(guest.output());
            self.keep(&output?)?;
        }
        self.bytes = 0;
        Ok(())
    }
}

impl BatchSink for Generations<'_, '_> {
    fn push(&mut self, batch: &Batch) -> Result<(), TaskFailure> {
        if self.guest.is_none() {
            self.guest = Some(self.starter.start(self.ops)?);
        }
        let guest = self.guest.as_mut().expect("started above");
        let produced = guest.push(batch).map_err(guest_error)?;
        self.keep(&produced)?;
        self.bytes += batch.byte_len() as u64;
        if self.bytes >= self.limit {
            self.end()?;
        }
        Ok(())
    }
}

/// The merged combiners' way out: through the ops after the combiner, if any.
struct Downstream<'g, 'o> {
    rest: Option<&'g mut GuestInstance>,
    out: &'o mut dyn BatchSink,
}

impl Downstream<'_, '_> {
    fn push(&mut self, batch: &Batch) -> Result<(), TaskFailure> {
        if batch.is_empty() {
            return Ok(());
        }
        match self.rest.as_mut() {
            Some(guest) => {
                let produced = guest.push(batch).map_err(guest_error)?;
                push_nonempty(self.out, &produced)
            }
            None => self.out.push(batch),
        }
    }
}
