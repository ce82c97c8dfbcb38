//! Task sinks: the shuffle writer of map tasks and the result builders of result tasks.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use super::map_combine;
use super::plan_run::{elapsed_us, run_plan};
use super::{BatchSink, TaskState, guest_failure, host_failure, io_failure};
use crate::records::{Batch, split_pair};
use crate::settings::keys::SHUFFLE_SPILL_MEMORY;
use crate::shuffle::ShuffleWriter;
use crate::store::{Codec, Encoder, Location, ObjectUrl, PartUpload, StagedPart, encoder};
use crate::task::{ResultKind, ResultValue, TaskFailure, TaskOutput, TaskSink};

/// Runs the task's plan into its sink and returns what the driver needs.
pub(crate) fn run(st: &mut TaskState<'_>) -> Result<TaskOutput, TaskFailure> {
    let task = st.task;
    match &task.sink {
        TaskSink::ShuffleWrite { shuffle, partitioner, map_side_combine } => {
            let dir = st.executor.shuffle_dir();
            let budget = st.executor.config().shuffle_spill_memory;
            let writer =
                ShuffleWriter::new(&dir, *shuffle, task.id.partition, partitioner.clone(), budget)
                    .map_err(|e| guest_failure(format!("{SHUFFLE_SPILL_MEMORY}: {e}")))?
                    .with_reservation(st.spill.reservation());
            let mut sink = ShuffleSink { writer, records: 0, bytes: 0, us: 0 };
            match map_combine::generational(&task.plan, *map_side_combine) {
                Some((input, component, ops)) => {
                    map_combine::run(st, input, component, ops, &mut sink)?
                }
                None => run_plan(st, &task.plan, &mut sink)?,
            }
            let (records, bytes) = (sink.records, sink.bytes);
            let t = Instant::now();
            let sizes = sink.writer.commit().map_err(shuffle_write_failure)?;
            st.metrics.times.shuffle_write_us += sink.us + elapsed_us(t);
            st.metrics.records_written += records;
            st.metrics.bytes_written += bytes;
            st.metrics.shuffle_write_bytes += sizes.iter().sum::<u64>();
            Ok(TaskOutput::MapStatus { sizes })
        }
        TaskSink::Result(kind) => {
            let value = match kind {
                ResultKind::Count => {
                    let mut sink = Counter(0);
                    run_plan(st, &task.plan, &mut sink)?;
                    st.metrics.records_written += sink.0;
                    ResultValue::Count(sink.0)
                }
                ResultKind::Collect | ResultKind::Take(_) => {
                    let limit =
                        if let ResultKind::Take(n) = kind { *n as usize } else { usize::MAX };
                    let mut sink = Collector { batch: Batch::default(), limit };
                    run_plan(st, &task.plan, &mut sink)?;
                    st.metrics.records_written += sink.batch.len() as u64;
                    st.metrics.bytes_written += sink.batch.byte_len() as u64;
                    ResultValue::Records(sink.batch)
                }
                ResultKind::SampleKeys(n) => {
                    let mut sink = KeySampler {
                        keys: Vec::new(),
                        seen: 0,
                        limit: *n as usize,
                        rng: 0x9E37_79B9_7F4A_7C15 ^ task.id.partition as u64,
                    };
                    run_plan(st, &task.plan, &mut sink)?;
                    ResultValue::Records(Batch::from_records(sink.keys))
                }
                ResultKind::SaveText { dir, codec } => save_text(st, dir, *codec, false)?,
                ResultKind::SaveRecords { dir } => save_text(st, dir, Codec::None, true)?,
            };
            Ok(TaskOutput::Result(value))
        }
    }
}

struct ShuffleSink {
    writer: ShuffleWriter,
    records: u64,
    bytes: u64,
    /// Time in the writer.
    us: u64,
}

impl BatchSink for ShuffleSink {
    fn push(&mut self, batch: &Batch) -> Result<(), TaskFailure> {
        self.records += batch.len() as u64;
        self.bytes += batch.byte_len() as u64;
        let t = Instant::now();
        let written = self.writer.write(batch).map_err(shuffle_write_failure);
        self.us += elapsed_us(t);
        written
    }
}

struct Counter(u64);

impl BatchSink for Counter {
    fn push(&mut self, batch: &Batch) -> Result<(), TaskFailure> {
        self.0 += batch.len() as u64;
        Ok(())
    }
}

struct Collector {
    batch: Batch,
    limit: usize,
}

impl BatchSink for Collector {
    fn push(&mut self, batch: &Batch) -> Result<(), TaskFailure> {
        if self.limit == usize::MAX {
            self.batch.extend(batch);
        } else {
            for r in batch.iter().take(self.limit.saturating_sub(self.batch.len())) {
                self.batch.push(r);
            }
        }
        Ok(())
    }
}

/// Reservoir sample of the keys of pair records (deterministic per partition).
struct KeySampler {
    keys: Vec<Vec<u8>>,
    seen: u64,
    limit: usize,
    rng: u64,
}

impl KeySampler {
    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }
}

impl BatchSink for KeySampler {
    fn push(&mut self, batch: &Batch) -> Result<(), TaskFailure> {
        for r in batch.iter() {
            let (key, _) = split_pair(r).map_err(|e| guest_failure(format!("sort-by-key: {e}")))?;
            self.seen += 1;
            if self.keys.len() < self.limit {
                self.keys.push(key.to_vec());
            } else {
                let j = (self.next() % self.seen) as usize;
                if j < self.limit {
                    self.keys[j] = key.to_vec();
                }
            }
        }
        Ok(())
    }
}

struct TextWriter<W: Write> {
    /// The writer, until the sink is finished.
    file: Option<Encoder<W>>,
    /// Records framed as `u32le length ++ bytes` (checkpoint files) rather than lines.
    framed: bool,
    records: u64,
    bytes: u64,
    /// Time writing.
    us: u64,
}

impl<W: Write> BatchSink for TextWriter<W> {
    fn push(&mut self, batch: &Batch) -> Result<(), TaskFailure> {
        let t = Instant::now();
        let file = self.file.as_mut().expect("no push after the sink is finished");
        for r in batch.iter() {
            let written = if self.framed {
                file.write_all(&(r.len() as u32).to_le_bytes()).and_then(|()| file.write_all(r))
            } else {
                file.write_all(r).and_then(|()| file.write_all(b"\n"))
            };
            written.map_err(|e| host_failure(format!("writing output: {e}")))?;
        }
        self.records += batch.len() as u64;
        let per_record = if self.framed { 4 } else { 1 };
        self.bytes += batch.byte_len() as u64 + per_record * batch.len() as u64;
        self.us += elapsed_us(t);
        Ok(())
    }
}

/// Writes the partition's part file (lines, or `framed` records for a checkpoint): in a local
/// directory (`save_local`), or as an open upload to a store.
fn save_text(
    st: &mut TaskState<'_>,
    dir: &Path,
    codec: Codec,
    framed: bool,
) -> Result<ResultValue, TaskFailure> {
    let name = format!("part-{:05}{}", st.task.id.partition, codec.extension());
    match Location::of_path(dir).map_err(|e| host_failure(e.to_string()))? {
        Location::Local(dir) => {
            save_local(st, &dir, &name, codec, framed).map(|()| ResultValue::Saved)
        }
        Location::Object(url) => {
            save_object(st, &url.child(&name), codec, framed).map(ResultValue::Staged)
        }
    }
}

/// Writes the partition (as lines, or `framed` records) to a task-attempt file, then renames it
/// to `part-NNNNN` (task commit).
fn save_local(
    st: &mut TaskState<'_>,
    dir: &Path,
    name: &str,
    codec: Codec,
    framed: bool,
) -> Result<(), TaskFailure> {
    let task = st.task;
    let final_path = dir.join(name);
    let temp = dir.join(format!(".{name}.{}.attempt-{}", task.id.task.0, task.id.attempt));
    let file = std::fs::File::create(&temp).map_err(|e| io_failure("cannot create", &temp, e))?;
    let file = encoder(codec, std::io::BufWriter::with_capacity(1 << 20, file))
        .map_err(|e| io_failure("cannot create", &temp, e))?;
    let mut sink = TextWriter { file: Some(file), framed, records: 0, bytes: 0, us: 0 };
    let written = run_plan(st, &task.plan, &mut sink).and_then(|()| {
        let t = Instant::now();
        let file = sink.file.take().expect("the writer is there until finished");
        let committed = file
            .finish()
            .and_then(|mut w| w.flush())
            .map_err(|e| io_failure("cannot write", &temp, e))
            .and_then(|()| {
                std::fs::rename(&temp, &final_path)
                    .map_err(|e| io_failure("cannot commit", &final_path, e))
            });
        sink.us += elapsed_us(t);
        committed
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    st.metrics.records_written += sink.records;
    st.metrics.bytes_written += sink.bytes;
    st.metrics.times.output_write_us += sink.us;
    written
}

/// Writes the partition as a multipart upload of `url` left open for the driver's commit
/// (`store/commit.rs`); a failed attempt's upload is aborted when it drops.
fn save_object(
    st: &mut TaskState<'_>,
    url: &ObjectUrl,
    codec: Codec,
    framed: bool,
) -> Result<StagedPart, TaskFailure> {
    let task = st.task;
    let stores = st.executor.config().stores.clone();
    let upload = PartUpload::create(&stores, url).map_err(|e| host_failure(e.to_string()))?;
    let file = encoder(codec, upload).map_err(|e| host_failure(format!("{url}: {e}")))?;
    let mut sink = TextWriter { file: Some(file), framed, records: 0, bytes: 0, us: 0 };
    let staged = run_plan(st, &task.plan, &mut sink).and_then(|()| {
        let t = Instant::now();
        let file = sink.file.take().expect("the writer is there until finished");
        let staged = file
            .finish()
            .map_err(|e| host_failure(format!("cannot write {url}: {e}")))
            .and_then(|upload| upload.finish().map_err(|e| host_failure(e.to_string())));
        sink.us += elapsed_us(t);
        staged
    });
    st.metrics.records_written += sink.records;
    st.metrics.bytes_written += sink.bytes;
    st.metrics.times.output_write_us += sink.us;
    staged
}

/// A shuffle write's IO error is the executor's; a record that cannot be partitioned is the task's own.
fn shuffle_write_failure(e: crate::shuffle::ShuffleWriteError) -> TaskFailure {
    match e {
        crate::shuffle::ShuffleWriteError::Io { .. } => host_failure(e.to_string()),
        other => guest_failure(other.to_string()),
    }
}
