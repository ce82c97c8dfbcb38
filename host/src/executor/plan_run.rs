//! Evaluates a task's plan push-style: each node pushes its output batches into the sink above it.

use std::sync::Arc;
use std::time::Instant;

use super::{BatchSink, TaskState, guest_failure, host_failure};
use crate::block::input::read_split_lines;
use crate::host_ops::{Cogroup, HostOp, narrow_op, reduce_op};
use crate::lineage::Op;
use crate::records::Batch;
use crate::shuffle::{BlockDecoder, open_block};
use crate::task::{ComponentBytes, MapBlock, Plan, ShuffleRead, Source, TaskFailure};
use crate::wasm::GuestInstance;
use crate::wasm::guest_instance::GuestError;

/// Records per batch when re-batching slices and shuffle blocks for guests.
const MAX_BATCH_RECORDS: usize = 64 * 1024;

/// Microseconds since `t` (the task's time split, `TaskTimes`).
pub(super) fn elapsed_us(t: Instant) -> u64 {
    t.elapsed().as_micros() as u64
}

/// Pushes every record of `plan` into `out`.
pub(crate) fn run_plan(
    st: &mut TaskState<'_>,
    plan: &Plan,
    out: &mut dyn BatchSink,
) -> Result<(), TaskFailure> {
    match plan {
        Plan::Read(source) => read_source(st, source, out),
        Plan::Guest { input, component, ops } => run_guest(st, input, component, ops, out),
        Plan::Host { input, step } => {
            let op = narrow_op(step, st.task.id.partition);
            run_host_op(st, input, op, out)
        }
        Plan::Reduce { input, step } => run_host_op(st, input, reduce_op(step), out),
        Plan::Concat(inputs) => {
            for p in inputs {
                run_plan(st, p, out)?;
            }
            Ok(())
        }
        Plan::Cogroup { inputs, output } => {
            let mut cg = Cogroup::new(inputs.len(), *output);
            for (i, p) in inputs.iter().enumerate() {
                let mut sink = CogroupInput { cogroup: &mut cg, input: i };
                run_plan(st, p, &mut sink)?;
            }
            let mut rest = Batch::default();
            cg.finish(&mut rest).map_err(|e| guest_failure(e.to_string()))?;
            push_nonempty(out, &rest)
        }
        Plan::Cache { input, block, level } => {
            let mut tee = Tee { copies: Vec::new(), out };
            run_plan(st, input, &mut tee)?;
            let copies = tee.copies;
            match st.executor.blocks().put(*block, copies, *level) {
                Ok(()) => st.cached.push(*block),
                Err(e) => tracing::warn!(block = ?block, "could not cache block: {e}"),
            }
            Ok(())
        }
    }
}

fn push_nonempty(out: &mut dyn BatchSink, b: &Batch) -> Result<(), TaskFailure> {
    if b.is_empty() { Ok(()) } else { out.push(b) }
}

fn read_source(
    st: &mut TaskState<'_>,
    source: &Source,
    out: &mut dyn BatchSink,
) -> Result<(), TaskFailure> {
    match source {
        Source::File(split) => {
            let batch_bytes = st.executor.config().batch_bytes;
            let mut records = 0u64;
            let (live, mut so_far) = (st.live, st.metrics.clone());
            let (read_start, mut downstream_us) = (Instant::now(), 0);
            let stats = read_split_lines(split, batch_bytes, |b: &Batch| {
                records += b.len() as u64;
                if let Some(live) = live {
                    so_far.records_read += b.len() as u64;
                    so_far.bytes_read += b.byte_len() as u64;
                    live.store(&so_far);
                }
                let t = Instant::now();
                let pushed = out.push(b);
                downstream_us += elapsed_us(t);
                pushed
            })
            .map_err(|e| match e {
                crate::block::input::ReadError::Sink(f) => f,
                other => host_failure(other.to_string()),
            })?;
            st.metrics.times.input_read_us += elapsed_us(read_start).saturating_sub(downstream_us);
            st.metrics.records_read += records;
            st.metrics.bytes_read += stats.bytes;
            st.publish();
            Ok(())
        }
        Source::Slice(batch) => {
            st.metrics.records_read += batch.len() as u64;
            st.metrics.bytes_read += batch.byte_len() as u64;
            push_chunked(batch, out)
        }
        Source::Cached { block, executor } => {
            if *executor != st.executor.id() {
                return Err(host_failure(format!(
                    "cached block {block:?} is on {executor}, not reachable from {}",
                    st.executor.id()
                )));
            }
            let batches = st
                .executor
                .blocks()
                .get(*block)
                .map_err(|e| host_failure(format!("cached block {block:?} unreadable: {e}")))?
                .ok_or_else(|| {
                    host_failure(format!("cached block {block:?} is missing on {executor}"))
                })?;
            for b in batches.iter() {
                st.metrics.records_read += b.len() as u64;
                st.metrics.bytes_read += b.byte_len() as u64;
                push_nonempty(out, b)?;
            }
            Ok(())
        }
        Source::Shuffle(read) => read_shuffle(st, read, out),
    }
}

fn push_chunked(batch: &Batch, out: &mut dyn BatchSink) -> Result<(), TaskFailure> {
    if batch.len() <= MAX_BATCH_RECORDS {
        return push_nonempty(out, batch);
    }
    let mut chunk = Batch::default();
    for r in batch.iter() {
        chunk.push(r);
        if chunk.len() >= MAX_BATCH_RECORDS {
            out.push(&chunk)?;
            chunk.clear();
        }
    }
    push_nonempty(out, &chunk)
}

fn read_shuffle(
    st: &mut TaskState<'_>,
    read: &ShuffleRead,
    out: &mut dyn BatchSink,
) -> Result<(), TaskFailure> {
    let batch_bytes = st.executor.config().batch_bytes;
    let me = st.executor.id();
    let mut batch = Batch::default();
    let (local, remote): (Vec<&MapBlock>, Vec<&MapBlock>) =
        read.maps.iter().filter(|m| m.bytes > 0).partition(|m| m.executor == me);
    let dir = st.executor.shuffle_dir();
    for m in local {
        let fetch_failed = |message: String| TaskFailure::FetchFailed {
            shuffle: read.shuffle,
            map: m.map,
            executor: m.executor,
            message,
        };
        let mut reader = open_block(&dir, read.shuffle, m.map, read.reduce)
            .map_err(|e| fetch_failed(e.to_string()))?;
        st.metrics.shuffle_read_bytes += reader.len();
        loop {
            batch.clear();
            let t = Instant::now();
            let more = reader.next_batch(&mut batch, batch_bytes);
            st.metrics.times.input_read_us += elapsed_us(t);
            if !more.map_err(|e| fetch_failed(e.to_string()))? {
                break;
            }
            st.metrics.records_read += batch.len() as u64;
            st.metrics.bytes_read += batch.byte_len() as u64;
            st.publish();
            push_nonempty(out, &batch)?;
        }
    }
    if remote.is_empty() {
        return Ok(());
    }
    let remote: Vec<MapBlock> = remote.into_iter().cloned().collect();
    let fetcher = st.executor.fetcher().clone();
    let (metrics, live) = (&mut st.metrics, st.live);
    let (fetch_start, mut downstream_us) = (Instant::now(), 0);
    let fetched = fetcher.fetch(read.shuffle, read.reduce, &remote, &mut |m, bytes| {
        let t = Instant::now();
        let fetch_failed = |message: String| TaskFailure::FetchFailed {
            shuffle: read.shuffle,
            map: m.map,
            executor: m.executor,
            message,
        };
        metrics.shuffle_read_bytes += bytes.len() as u64;
        let mut decoder = BlockDecoder::new(bytes);
        loop {
            batch.clear();
            if !decoder
                .next_batch(&mut batch, batch_bytes)
                .map_err(|e| fetch_failed(e.to_string()))?
            {
                break;
            }
            metrics.records_read += batch.len() as u64;
            metrics.bytes_read += batch.byte_len() as u64;
            if let Some(live) = live {
                live.store(metrics);
            }
            push_nonempty(out, &batch)?;
        }
        downstream_us += elapsed_us(t);
        Ok(())
    });
    metrics.times.fetch_wait_us += elapsed_us(fetch_start).saturating_sub(downstream_us);
    fetched
}

fn run_guest(
    st: &mut TaskState<'_>,
    input: &Plan,
    component: &Arc<ComponentBytes>,
    ops: &[Op],
    out: &mut dyn BatchSink,
) -> Result<(), TaskFailure> {
    let loaded = st.executor.runtime().load(component).map_err(|e| guest_failure(e.to_string()))?;
    let sandbox = st.sandbox()?.clone();
    let t = Instant::now();
    let guest = GuestInstance::start(
        st.executor.runtime(),
        &loaded,
        ops,
        st.task.id.partition,
        st.cancel.clone(),
        &sandbox,
    )
    .map_err(guest_error)?;
    st.metrics.times.instantiation_us += elapsed_us(t);
    let mut sink = GuestSink { guest, out, guest_us: 0 };
    let result = run_plan(st, input, &mut sink).and_then(|()| {
        let t = Instant::now();
        let rest = sink.guest.finish().map_err(guest_error);
        sink.guest_us += elapsed_us(t);
        push_nonempty(sink.out, &rest?)
    });
    st.metrics.times.guest_us += sink.guest_us;
    st.keep_output(&sink.guest.output());
    result
}

pub(crate) fn guest_error(e: GuestError) -> TaskFailure {
    match e {
        GuestError::Killed => TaskFailure::Killed,
        other => guest_failure(other.to_string()),
    }
}

struct GuestSink<'a> {
    guest: GuestInstance,
    out: &'a mut dyn BatchSink,
    /// Time inside the guest's calls.
    guest_us: u64,
}

impl BatchSink for GuestSink<'_> {
    fn push(&mut self, batch: &Batch) -> Result<(), TaskFailure> {
        let t = Instant::now();
        let produced = self.guest.push(batch).map_err(guest_error);
        self.guest_us += elapsed_us(t);
        let produced = produced?;
        push_nonempty(self.out, &produced)
    }
}

fn run_host_op(
    st: &mut TaskState<'_>,
    input: &Plan,
    mut op: Box<dyn HostOp>,
    out: &mut dyn BatchSink,
) -> Result<(), TaskFailure> {
    let mut sink = HostOpSink { op: op.as_mut(), out, scratch: Batch::default() };
    run_plan(st, input, &mut sink)?;
    let mut rest = Batch::default();
    op.finish(&mut rest).map_err(|e| guest_failure(e.to_string()))?;
    push_nonempty(out, &rest)
}

struct HostOpSink<'a> {
    op: &'a mut dyn HostOp,
    out: &'a mut dyn BatchSink,
    scratch: Batch,
}

impl BatchSink for HostOpSink<'_> {
    fn push(&mut self, batch: &Batch) -> Result<(), TaskFailure> {
        self.scratch.clear();
        self.op.push(batch, &mut self.scratch).map_err(|e| guest_failure(e.to_string()))?;
        push_nonempty(self.out, &self.scratch)
    }
}

struct CogroupInput<'a> {
    cogroup: &'a mut Cogroup,
    input: usize,
}

impl BatchSink for CogroupInput<'_> {
    fn push(&mut self, batch: &Batch) -> Result<(), TaskFailure> {
        self.cogroup.push_input(self.input, batch).map_err(|e| guest_failure(e.to_string()))
    }
}

struct Tee<'a> {
    copies: Vec<Batch>,
    out: &'a mut dyn BatchSink,
}

impl BatchSink for Tee<'_> {
    fn push(&mut self, batch: &Batch) -> Result<(), TaskFailure> {
        self.copies.push(batch.clone());
        self.out.push(batch)
    }
}
