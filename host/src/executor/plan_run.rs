//! Evaluates a task's plan push-style: each node pushes its output batches into the sink above it.

use std::sync::Arc;
use std::time::Instant;

use super::{BatchSink, TaskState, guest_failure, host_failure, reduce_combine};
use crate::block::input::read_split_lines;
use crate::block::{BlockManager, DiskBlockWriter, Stored};
use crate::builtins::BuiltinChain;
use crate::host_ops::{Cogroup, HostOp, HostOpError, narrow_op, reduce_op};
use crate::lineage::Op;
use crate::lineage::StorageLevel;
use crate::memory::Reservation;
use crate::records::Batch;
use crate::shuffle::{BlockDecoder, open_block};
use crate::task::BlockId;
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
        Plan::Guest { input, component, ops } if component.is_builtins() => {
            run_builtins(st, input, ops, out)
        }
        Plan::Guest { input, component, ops } => {
            if reduce_combine::is_reduce_combiner(input, ops)
                && reduce_combine::shuffle_input_bytes(input)
                    > reduce_combine::generation_bytes(st.sandbox()?)
            {
                return reduce_combine::run_in_generations(st, input, component, ops, out);
            }
            run_guest(st, input, component, ops, out)
        }
        Plan::Host { input, step } => {
            let op = narrow_op(step, st.task.id.partition);
            run_host_op(st, input, op, out)
        }
        Plan::Reduce { input, step } => {
            let op = reduce_op(step, &st.spill);
            run_host_op(st, input, op, out)
        }
        Plan::Concat(inputs) => {
            for p in inputs {
                run_plan(st, p, out)?;
            }
            Ok(())
        }
        Plan::Cogroup { inputs, output } => {
            let mut cg = Cogroup::new(inputs.len(), *output, &st.spill);
            for (i, p) in inputs.iter().enumerate() {
                let mut sink = CogroupInput { cogroup: &mut cg, input: i };
                run_plan(st, p, &mut sink)?;
            }
            let batch_bytes = st.executor.config().batch_bytes;
            drain(out, |rest| cg.finish(rest, batch_bytes))
        }
        Plan::Cache { input, block, level } => {
            // Still here (not evicted): read it instead of computing it.
            if let Ok(Some(batches)) = st.executor.blocks().get(*block) {
                tracing::debug!(?block, "read cached block");
                st.cached.push(*block);
                return push_cached(st, &batches, out);
            }
            let executor = st.executor;
            let blocks = executor.blocks();
            let mut tee = Tee {
                copy: Copy::Memory(Vec::new()),
                copied: 0,
                reservation: st.spill.reservation(),
                blocks,
                block: *block,
                level: *level,
                out,
            };
            run_plan(st, input, &mut tee)?;
            let stored = match tee.copy {
                Copy::Memory(copies) => blocks.put(*block, copies, *level),
                Copy::Disk(writer) => writer.commit().map(|()| Stored::Disk),
                Copy::Dropped => Ok(Stored::Nowhere),
            };
            tracing::debug!(?block, ?stored, "computed block");
            match stored {
                Ok(Stored::Memory | Stored::Disk) => st.cached.push(*block),
                Ok(Stored::Nowhere) => {}
                Err(e) => tracing::warn!(block = ?block, "could not cache block: {e}"),
            }
            Ok(())
        }
    }
}

pub(super) fn push_nonempty(out: &mut dyn BatchSink, b: &Batch) -> Result<(), TaskFailure> {
    if b.is_empty() { Ok(()) } else { out.push(b) }
}

/// A host step's failure: the executor's (its disk) or the records'.
fn op_failure(e: HostOpError) -> TaskFailure {
    if e.is_host_failure() { host_failure(e.to_string()) } else { guest_failure(e.to_string()) }
}

/// Pushes a finishing step's output on, one bounded batch at a time.
fn drain(
    out: &mut dyn BatchSink,
    mut finish: impl FnMut(&mut Batch) -> Result<bool, HostOpError>,
) -> Result<(), TaskFailure> {
    let mut rest = Batch::default();
    loop {
        rest.clear();
        let done = finish(&mut rest).map_err(op_failure)?;
        push_nonempty(out, &rest)?;
        if done {
            return Ok(());
        }
    }
}

fn read_source(
    st: &mut TaskState<'_>,
    source: &Source,
    out: &mut dyn BatchSink,
) -> Result<(), TaskFailure> {
    match source {
        Source::File(split) => {
            let batch_bytes = st.executor.config().batch_bytes;
            let stores = st.executor.config().stores.clone();
            let mut records = 0u64;
            let (live, mut so_far) = (st.live, st.metrics.clone());
            let (read_start, mut downstream_us) = (Instant::now(), 0);
            let stats = read_split_lines(split, &stores, batch_bytes, |b: &Batch| {
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
        Source::Files { format, splits } => {
            let batch_bytes = st.executor.config().batch_bytes;
            let stores = st.executor.config().stores.clone();
            let mut records = 0u64;
            let stats =
                crate::block::formats::read_files(*format, splits, &stores, batch_bytes, |b| {
                    records += b.len() as u64;
                    out.push(b)
                })
                .map_err(|e| match e {
                    crate::block::input::ReadError::Sink(f) => f,
                    other => host_failure(other.to_string()),
                })?;
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
            tracing::debug!(?block, "read cached block");
            push_cached(st, &batches, out)
        }
        Source::Shuffle(read) => read_shuffle(st, read, out),
    }
}

/// Pushes a cached partition's batches (in batches of bounded size).
fn push_cached(
    st: &mut TaskState<'_>,
    batches: &[Batch],
    out: &mut dyn BatchSink,
) -> Result<(), TaskFailure> {
    for b in batches {
        st.metrics.records_read += b.len() as u64;
        st.metrics.bytes_read += b.byte_len() as u64;
        push_chunked(b, out)?;
    }
    Ok(())
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
    // Remote requests first, so that the fetch runs while the local blocks are read (as in Spark).
    let remote: Vec<MapBlock> = remote.into_iter().cloned().collect();
    let mut arrivals = (!remote.is_empty())
        .then(|| st.executor.fetcher().start(read.shuffle, read.reduce, &remote));
    let dir = st.executor.shuffle_dir();
    for m in local {
        let mut reader = open_block(&dir, read.shuffle, m.map, read.reduce)
            .map_err(|e| fetch_failed(read, m, e.to_string()))?;
        st.metrics.shuffle_read_bytes += reader.len();
        loop {
            batch.clear();
            let t = Instant::now();
            let more = reader.next_batch(&mut batch, batch_bytes);
            st.metrics.times.input_read_us += elapsed_us(t);
            if !more.map_err(|e| fetch_failed(read, m, e.to_string()))? {
                break;
            }
            st.metrics.records_read += batch.len() as u64;
            st.metrics.bytes_read += batch.byte_len() as u64;
            st.publish();
            push_nonempty(out, &batch)?;
        }
    }
    let Some(arrivals) = arrivals.as_mut() else { return Ok(()) };
    loop {
        let t = Instant::now();
        let next = arrivals.next();
        st.metrics.times.fetch_wait_us += elapsed_us(t);
        let Some(fetched) = next else { return Ok(()) };
        let fetched = fetched?;
        st.metrics.shuffle_read_bytes += fetched.bytes.len() as u64;
        let mut decoder = BlockDecoder::new(&fetched.bytes);
        loop {
            batch.clear();
            if !decoder
                .next_batch(&mut batch, batch_bytes)
                .map_err(|e| fetch_failed(read, &fetched.block, e.to_string()))?
            {
                break;
            }
            st.metrics.records_read += batch.len() as u64;
            st.metrics.bytes_read += batch.byte_len() as u64;
            st.publish();
            push_nonempty(out, &batch)?;
        }
    }
}

/// A shuffle block that could not be read, for the scheduler to regenerate its map output.
fn fetch_failed(read: &ShuffleRead, m: &MapBlock, message: String) -> TaskFailure {
    TaskFailure::FetchFailed { shuffle: read.shuffle, map: m.map, executor: m.executor, message }
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

/// Runs built-in ops (`wisp:builtins`) over the input on this thread: no guest, no instance.
fn run_builtins(
    st: &mut TaskState<'_>,
    input: &Plan,
    ops: &[Op],
    out: &mut dyn BatchSink,
) -> Result<(), TaskFailure> {
    let chain = BuiltinChain::new(ops, st.task.id.partition)
        .map_err(|e| guest_failure(e.to_string()))?
        .with_account(st.spill.account().clone());
    let mut sink = BuiltinSink { chain, out, scratch: Batch::default(), guest_us: 0 };
    let result = run_plan(st, input, &mut sink).and_then(|()| {
        let t = Instant::now();
        sink.scratch.clear();
        let rest = sink.chain.finish(&mut sink.scratch).map_err(|e| guest_failure(e.to_string()));
        sink.guest_us += elapsed_us(t);
        rest?;
        push_nonempty(sink.out, &sink.scratch)
    });
    st.metrics.times.guest_us += sink.guest_us;
    result
}

struct BuiltinSink<'a> {
    chain: BuiltinChain,
    out: &'a mut dyn BatchSink,
    scratch: Batch,
    /// Time inside the built-ins (counted as the guest's).
    guest_us: u64,
}

impl BatchSink for BuiltinSink<'_> {
    fn push(&mut self, batch: &Batch) -> Result<(), TaskFailure> {
        let t = Instant::now();
        self.scratch.clear();
        let done =
            self.chain.push(batch, &mut self.scratch).map_err(|e| guest_failure(e.to_string()));
        self.guest_us += elapsed_us(t);
        done?;
        push_nonempty(self.out, &self.scratch)
    }
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
    let batch_bytes = st.executor.config().batch_bytes;
    drain(out, |rest| op.finish(rest, batch_bytes))
}

struct HostOpSink<'a> {
    op: &'a mut dyn HostOp,
    out: &'a mut dyn BatchSink,
    scratch: Batch,
}

impl BatchSink for HostOpSink<'_> {
    fn push(&mut self, batch: &Batch) -> Result<(), TaskFailure> {
        self.scratch.clear();
        self.op.push(batch, &mut self.scratch).map_err(op_failure)?;
        push_nonempty(self.out, &self.scratch)
    }
}

struct CogroupInput<'a> {
    cogroup: &'a mut Cogroup,
    input: usize,
}

impl BatchSink for CogroupInput<'_> {
    fn push(&mut self, batch: &Batch) -> Result<(), TaskFailure> {
        self.cogroup.push_input(self.input, batch).map_err(op_failure)
    }
}

/// Where a partition being cached is copied while it flows on.
enum Copy {
    /// In memory, within what the task's account grants.
    Memory(Vec<Batch>),
    /// Too big for memory: streamed to the block's disk file (memory-and-disk, disk-only).
    Disk(DiskBlockWriter),
    /// Too big for memory and memory-only (or its disk file failed): not cached.
    Dropped,
}

/// Passes batches on and copies them for the block manager.
struct Tee<'a> {
    copy: Copy,
    /// Bytes copied in memory so far.
    copied: u64,
    reservation: Reservation,
    blocks: &'a BlockManager,
    block: BlockId,
    level: StorageLevel,
    out: &'a mut dyn BatchSink,
}

/// Least memory a copy asks for at a time.
const COPY_STEP: u64 = 1 << 20;

impl Tee<'_> {
    fn copy(&mut self, batch: &Batch) {
        if let Copy::Memory(copies) = &mut self.copy {
            let need = self.copied + batch.byte_len() as u64 + 4 * batch.len() as u64;
            if self.level != StorageLevel::DiskOnly && self.reservation.ensure(need, COPY_STEP) {
                copies.push(batch.clone());
                self.copied = need;
                return;
            }
            let copies = std::mem::take(copies);
            self.reservation.shrink_to(0);
            self.copy = self.spill_copy(copies);
        }
        if let Copy::Disk(writer) = &mut self.copy
            && let Err(e) = writer.write(batch)
        {
            tracing::warn!(block = ?self.block, "cannot write the block to disk, not caching it: {e}");
            self.copy = Copy::Dropped;
        }
    }

    /// The copy once memory refused it: on disk if the level allows.
    fn spill_copy(&self, copies: Vec<Batch>) -> Copy {
        if self.level == StorageLevel::MemoryOnly {
            tracing::info!(block = ?self.block, "partition larger than the memory it may use: not cached");
            return Copy::Dropped;
        }
        let written = self
            .blocks
            .disk_writer(self.block)
            .and_then(|mut w| copies.iter().try_for_each(|b| w.write(b)).map(|()| w));
        match written {
            Ok(w) => Copy::Disk(w),
            Err(e) => {
                tracing::warn!(block = ?self.block, "cannot write the block to disk, not caching it: {e}");
                Copy::Dropped
            }
        }
    }
}

impl BatchSink for Tee<'_> {
    fn push(&mut self, batch: &Batch) -> Result<(), TaskFailure> {
        self.copy(batch);
        self.out.push(batch)
    }
}
