//! The map side of a shuffle: routes records to reduce partitions, buffers and spills them, commits one data and one index file.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{partition_hash, shuffle_file_names};
use crate::ids::ShuffleId;
use crate::lineage::Partitioner;
use crate::memory::Reservation;
use crate::records::{Batch, MalformedBatch, NotAPair, split_pair};

/// Size of the buffered writers and readers of shuffle files.
const IO_BUFFER: usize = 1 << 20;

/// Least execution memory the buffers ask their task's account for at a time.
const RESERVATION_STEP: u64 = 1 << 20;

/// Makes temporary names unique within the process (attempts of one map task may run at once).
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Serialises the two renames of a commit, so that a data file and its index land together in this process.
static COMMIT_LOCK: Mutex<()> = Mutex::new(());

/// A shuffle-map output that could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ShuffleWriteError {
    /// The partitioner has no reduce partitions.
    #[error("shuffle {shuffle} has a partitioner with no partitions")]
    NoPartitions {
        /// The shuffle being written.
        shuffle: ShuffleId,
    },
    /// A record routed by its key is not a key/value pair.
    #[error("cannot partition record {index} of the batch by key: {source}")]
    NotAPair {
        /// Index of the record in its batch.
        index: usize,
        /// What is wrong with it.
        source: NotAPair,
    },
    /// The batch's offsets do not describe its data.
    #[error("cannot write a malformed batch to a shuffle: {source}")]
    Malformed {
        /// What is wrong with it.
        source: MalformedBatch,
    },
    /// Creating, writing or renaming a file failed.
    #[error("cannot write shuffle file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// Counters of one map task's shuffle output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct ShuffleWriteMetrics {
    /// Records written.
    pub records: u64,
    /// Bytes of framed records written (the data file's final size).
    pub bytes: u64,
    /// How many times the buffers were spilled to disk.
    pub spills: u32,
    /// Bytes written to spill files.
    pub spilled_bytes: u64,
}

/// How records are assigned to reduce partitions (a `Partitioner` prepared for routing).
enum Router {
    Hash { n: u64 },
    RecordHash { n: u64 },
    Range { bounds: Vec<Vec<u8>>, ascending: bool },
    RoundRobin { n: u32, next: u32 },
}

impl Router {
    /// The reduce partition of record `index` of a batch.
    #[inline]
    fn route(&mut self, index: usize, record: &[u8]) -> Result<usize, ShuffleWriteError> {
        Ok(match self {
            Router::Hash { n } => {
                let (key, _) = split_pair(record)
                    .map_err(|source| ShuffleWriteError::NotAPair { index, source })?;
                (partition_hash(key) % *n) as usize
            }
            Router::RecordHash { n } => (partition_hash(record) % *n) as usize,
            Router::Range { bounds, ascending } => {
                let (key, _) = split_pair(record)
                    .map_err(|source| ShuffleWriteError::NotAPair { index, source })?;
                range_partition(bounds, *ascending, key)
            }
            Router::RoundRobin { n, next } => {
                let p = *next;
                *next = if p + 1 == *n { 0 } else { p + 1 };
                p as usize
            }
        })
    }
}

/// Spark's `RangePartitioner.getPartition`: `bounds` are sorted ascending; the
/// first `i` with `key <= bounds[i]` (else `bounds.len()`), mirrored when descending.
pub(crate) fn range_partition(bounds: &[Vec<u8>], ascending: bool, key: &[u8]) -> usize {
    let i = bounds.partition_point(|b| b.as_slice() < key);
    if ascending { i } else { bounds.len() - i }
}

/// The spill file of a writer and the segments each spill left in it.
struct Spill {
    path: PathBuf,
    file: BufWriter<File>,
    /// Per spill, per reduce partition: (offset, length) in the spill file.
    segments: Vec<Vec<(u64, u64)>>,
    /// Bytes written so far.
    len: u64,
}

/// Writes one map task's output of one shuffle, partitioned by reduce id.
///
/// Records are framed (`u32le len ++ bytes`) into one in-memory buffer per
/// reduce partition; when the buffered bytes exceed the memory budget, every
/// buffer is appended to a spill file and emptied. `commit` concatenates,
/// per reduce partition, the spilled segments in order and then the buffer,
/// so the data file is the same whether or not the writer spilled.
pub(crate) struct ShuffleWriter {
    dir: PathBuf,
    shuffle: ShuffleId,
    map: u32,
    router: Router,
    buffers: Vec<Vec<u8>>,
    buffered: usize,
    budget: usize,
    /// The task's execution memory the buffers hold (none: bounded by `budget` only).
    reservation: Option<Reservation>,
    spill: Option<Spill>,
    metrics: ShuffleWriteMetrics,
}

impl ShuffleWriter {
    /// A writer for map task `map` of `shuffle`, writing into `dir`, buffering up to `memory_budget` bytes.
    pub(crate) fn new(
        dir: &Path,
        shuffle: ShuffleId,
        map: u32,
        partitioner: Partitioner,
        memory_budget: usize,
    ) -> Result<Self, ShuffleWriteError> {
        let partitions = partitioner.partitions();
        if partitions == 0 {
            return Err(ShuffleWriteError::NoPartitions { shuffle });
        }
        let router = match partitioner {
            Partitioner::Hash { partitions } => Router::Hash { n: partitions as u64 },
            Partitioner::RecordHash { partitions } => Router::RecordHash { n: partitions as u64 },
            Partitioner::Range { bounds, ascending } => Router::Range { bounds, ascending },
            Partitioner::RoundRobin { partitions } => Router::RoundRobin {
                n: partitions,
                next: (partition_hash(&map.to_le_bytes()) % partitions as u64) as u32,
            },
        };
        Ok(ShuffleWriter {
            dir: dir.to_path_buf(),
            shuffle,
            map,
            router,
            buffers: vec![Vec::new(); partitions as usize],
            buffered: 0,
            budget: memory_budget,
            reservation: None,
            spill: None,
            metrics: ShuffleWriteMetrics::default(),
        })
    }

    /// Buffers only what `reservation` can get from its task's memory account (besides `memory_budget`).
    pub(crate) fn with_reservation(mut self, reservation: Reservation) -> Self {
        self.reservation = Some(reservation);
        self
    }

    /// Whether the buffers may hold `bytes`: within the writer's own cap and what the task's account grants.
    fn may_buffer(&mut self, bytes: usize) -> bool {
        bytes <= self.budget
            && self.reservation.as_mut().is_none_or(|r| r.ensure(bytes as u64, RESERVATION_STEP))
    }

    /// Counters so far.
    #[cfg(test)]
    pub(super) fn metrics(&self) -> ShuffleWriteMetrics {
        self.metrics
    }

    /// Routes every record of `batch` to its reduce partition.
    pub(crate) fn write(&mut self, batch: &Batch) -> Result<(), ShuffleWriteError> {
        batch.validate().map_err(|source| ShuffleWriteError::Malformed { source })?;
        let mut start = 0usize;
        for (index, &end) in batch.ends.iter().enumerate() {
            let record = &batch.data[start..end as usize];
            start = end as usize;
            let p = self.router.route(index, record)?;
            let buf = &mut self.buffers[p];
            buf.extend_from_slice(&(record.len() as u32).to_le_bytes());
            buf.extend_from_slice(record);
            self.buffered += 4 + record.len();
            if !self.may_buffer(self.buffered) {
                self.spill()?;
            }
        }
        self.metrics.records += batch.len() as u64;
        self.metrics.bytes += 4 * batch.len() as u64 + batch.data.len() as u64;
        Ok(())
    }

    /// Appends every buffer to the spill file and empties the buffers.
    fn spill(&mut self) -> Result<(), ShuffleWriteError> {
        if self.spill.is_none() {
            let path = self.dir.join(temp_name(self.shuffle, self.map, "spill"));
            let file = File::create(&path)
                .map_err(|source| ShuffleWriteError::Io { path: path.clone(), source })?;
            self.spill = Some(Spill {
                path,
                file: BufWriter::with_capacity(IO_BUFFER, file),
                segments: Vec::new(),
                len: 0,
            });
        }
        let Some(spill) = self.spill.as_mut() else {
            return Ok(());
        };
        let keep = (self.budget / self.buffers.len()).max(64 << 10);
        let mut segments = Vec::with_capacity(self.buffers.len());
        for buf in &mut self.buffers {
            spill
                .file
                .write_all(buf)
                .map_err(|source| ShuffleWriteError::Io { path: spill.path.clone(), source })?;
            segments.push((spill.len, buf.len() as u64));
            spill.len += buf.len() as u64;
            if buf.capacity() > keep {
                *buf = Vec::new();
            } else {
                buf.clear();
            }
        }
        spill.segments.push(segments);
        self.metrics.spills += 1;
        self.metrics.spilled_bytes += self.buffered as u64;
        tracing::debug!(shuffle = %self.shuffle, map = self.map, bytes = self.buffered, "spilled shuffle buffers");
        self.buffered = 0;
        if let Some(r) = self.reservation.as_mut() {
            r.shrink_to(0);
        }
        Ok(())
    }

    /// Writes the data file and then the index file; returns the bytes of each reduce partition's block.
    pub(crate) fn commit(mut self) -> Result<Vec<u64>, ShuffleWriteError> {
        let (data_name, index_name) = shuffle_file_names(self.shuffle, self.map);
        let data_path = self.dir.join(&data_name);
        let index_path = self.dir.join(&index_name);
        let data_tmp = self.dir.join(temp_name(self.shuffle, self.map, "data"));
        let index_tmp = self.dir.join(temp_name(self.shuffle, self.map, "index"));
        let result = self.write_files(&data_tmp, &index_tmp).and_then(|lengths| {
            let _guard = COMMIT_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            rename(&data_tmp, &data_path)?;
            rename(&index_tmp, &index_path)?;
            Ok(lengths)
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&data_tmp);
            let _ = std::fs::remove_file(&index_tmp);
        }
        if let Ok(lengths) = &result {
            tracing::debug!(
                shuffle = %self.shuffle,
                map = self.map,
                records = self.metrics.records,
                bytes = self.metrics.bytes,
                spills = self.metrics.spills,
                partitions = lengths.len(),
                "committed shuffle map output"
            );
        }
        result
    }

    /// Writes the temporary data and index files.
    fn write_files(
        &mut self,
        data_tmp: &Path,
        index_tmp: &Path,
    ) -> Result<Vec<u64>, ShuffleWriteError> {
        let mut spill_reader = match self.spill.as_mut() {
            Some(spill) => {
                spill.file.flush().map_err(io_err(&spill.path))?;
                Some(File::open(&spill.path).map_err(io_err(&spill.path))?)
            }
            None => None,
        };
        let data = File::create(data_tmp).map_err(io_err(data_tmp))?;
        let mut data = BufWriter::with_capacity(IO_BUFFER, data);
        let mut lengths = Vec::with_capacity(self.buffers.len());
        for (r, buf) in self.buffers.iter().enumerate() {
            let mut len = 0u64;
            if let (Some(spill), Some(reader)) = (self.spill.as_ref(), spill_reader.as_mut()) {
                for segments in &spill.segments {
                    let (offset, seg_len) = segments[r];
                    if seg_len == 0 {
                        continue;
                    }
                    reader.seek(SeekFrom::Start(offset)).map_err(io_err(&spill.path))?;
                    let copied = io::copy(&mut Read::by_ref(reader).take(seg_len), &mut data)
                        .map_err(io_err(data_tmp))?;
                    if copied != seg_len {
                        let source = io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "spill file is shorter than written",
                        );
                        return Err(ShuffleWriteError::Io { path: spill.path.clone(), source });
                    }
                    len += seg_len;
                }
            }
            data.write_all(buf).map_err(io_err(data_tmp))?;
            len += buf.len() as u64;
            lengths.push(len);
        }
        data.into_inner().map_err(|e| ShuffleWriteError::Io {
            path: data_tmp.to_path_buf(),
            source: e.into_error(),
        })?;

        let mut index = Vec::with_capacity(8 * (lengths.len() + 1));
        let mut offset = 0u64;
        index.extend_from_slice(&offset.to_le_bytes());
        for len in &lengths {
            offset += len;
            index.extend_from_slice(&offset.to_le_bytes());
        }
        std::fs::write(index_tmp, &index).map_err(io_err(index_tmp))?;
        Ok(lengths)
    }
}

impl Drop for ShuffleWriter {
    fn drop(&mut self) {
        if let Some(spill) = self.spill.take() {
            let Spill { path, file, .. } = spill;
            drop(file.into_parts());
            if let Err(error) = std::fs::remove_file(&path) {
                tracing::warn!(file = %path.display(), %error, "cannot remove shuffle spill file");
            }
        }
    }
}

/// A process-unique temporary file name for one map output.
fn temp_name(shuffle: ShuffleId, map: u32, what: &str) -> String {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("shuffle_{}_{map}.{what}.{}-{n}.tmp", shuffle.0, std::process::id())
}

/// Wraps an IO error on `path`.
fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ShuffleWriteError + '_ {
    move |source| ShuffleWriteError::Io { path: path.to_path_buf(), source }
}

fn rename(from: &Path, to: &Path) -> Result<(), ShuffleWriteError> {
    std::fs::rename(from, to)
        .map_err(|source| ShuffleWriteError::Io { path: to.to_path_buf(), source })
}
