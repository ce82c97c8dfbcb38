//! The reduce side of a shuffle: finds a block through the index file, reads it, and decodes its framed records into batches.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::shuffle_file_names;
use crate::ids::ShuffleId;
use crate::records::Batch;

/// Size of the buffered reader of a block.
const IO_BUFFER: usize = 1 << 20;

/// A shuffle block that could not be read or decoded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ShuffleReadError {
    /// The map output's file does not exist (lost or never committed).
    #[error("shuffle file {} does not exist", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// Reading a file failed.
    #[error("cannot read shuffle file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The index file is not a valid list of offsets.
    #[error("corrupt shuffle index {}: {reason}", path.display())]
    CorruptIndex {
        /// The index file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The index has no block for this reduce partition.
    #[error("reduce partition {reduce} is out of range of shuffle index {} ({partitions} partitions)", path.display())]
    OutOfRange {
        /// The index file.
        path: PathBuf,
        /// The requested reduce partition.
        reduce: u32,
        /// How many the index has.
        partitions: u32,
    },
    /// The data file's size disagrees with its index.
    #[error("shuffle data file {} has {actual} bytes but its index says {expected}", path.display())]
    DataSize {
        /// The data file.
        path: PathBuf,
        /// The size the index gives.
        expected: u64,
        /// The file's size.
        actual: u64,
    },
    /// The records of a block are not properly framed.
    #[error("corrupt shuffle block at byte {offset}: {reason}")]
    CorruptBlock {
        /// Offset in the block of the bad frame.
        offset: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
}

fn io_error(path: &Path, source: io::Error) -> ShuffleReadError {
    if source.kind() == io::ErrorKind::NotFound {
        ShuffleReadError::Missing { path: path.to_path_buf() }
    } else {
        ShuffleReadError::Io { path: path.to_path_buf(), source }
    }
}

/// Reads and validates the index of one map output: `R + 1` offsets, starting at 0, non-decreasing.
pub(super) fn read_index(
    dir: &Path,
    shuffle: ShuffleId,
    map: u32,
) -> Result<Vec<u64>, ShuffleReadError> {
    let (_, index_name) = shuffle_file_names(shuffle, map);
    let path = dir.join(index_name);
    let bytes = std::fs::read(&path).map_err(|e| io_error(&path, e))?;
    let corrupt = |reason: String| ShuffleReadError::CorruptIndex { path: path.clone(), reason };
    if bytes.len() % 8 != 0 || bytes.len() < 16 {
        return Err(corrupt(format!(
            "length {} is not a multiple of 8 of at least 16",
            bytes.len()
        )));
    }
    let offsets: Vec<u64> = bytes
        .chunks_exact(8)
        .map(|w| u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]))
        .collect();
    if offsets[0] != 0 {
        return Err(corrupt(format!("first offset is {}, not 0", offsets[0])));
    }
    if let Some(i) = offsets.windows(2).position(|w| w[1] < w[0]) {
        return Err(corrupt(format!(
            "offset {} decreases from {} to {}",
            i + 1,
            offsets[i],
            offsets[i + 1]
        )));
    }
    Ok(offsets)
}

/// Where the block of `reduce` lives: the data file and the byte range `start..end`, checked against the file's size.
pub(crate) fn block_range(
    dir: &Path,
    shuffle: ShuffleId,
    map: u32,
    reduce: u32,
) -> Result<(PathBuf, u64, u64), ShuffleReadError> {
    let offsets = read_index(dir, shuffle, map)?;
    let partitions = (offsets.len() - 1) as u32;
    if reduce >= partitions {
        let path = dir.join(shuffle_file_names(shuffle, map).1);
        return Err(ShuffleReadError::OutOfRange { path, reduce, partitions });
    }
    let path = dir.join(shuffle_file_names(shuffle, map).0);
    let actual = std::fs::metadata(&path).map_err(|e| io_error(&path, e))?.len();
    let expected = offsets[offsets.len() - 1];
    if actual != expected {
        return Err(ShuffleReadError::DataSize { path, expected, actual });
    }
    Ok((path, offsets[reduce as usize], offsets[reduce as usize + 1]))
}

/// Reads the whole block of reduce partition `reduce` written by map task `map` (its framed bytes).
#[cfg(test)]
pub(crate) fn read_block(
    dir: &Path,
    shuffle: ShuffleId,
    map: u32,
    reduce: u32,
) -> Result<Vec<u8>, ShuffleReadError> {
    let (path, start, end) = block_range(dir, shuffle, map, reduce)?;
    let mut block = vec![0u8; (end - start) as usize];
    if block.is_empty() {
        return Ok(block);
    }
    let mut file = File::open(&path).map_err(|e| io_error(&path, e))?;
    file.seek(SeekFrom::Start(start)).map_err(|e| io_error(&path, e))?;
    file.read_exact(&mut block).map_err(|e| io_error(&path, e))?;
    Ok(block)
}

/// Opens the block of reduce partition `reduce` written by map task `map` for streaming.
pub(crate) fn open_block(
    dir: &Path,
    shuffle: ShuffleId,
    map: u32,
    reduce: u32,
) -> Result<BlockReader, ShuffleReadError> {
    let (path, start, end) = block_range(dir, shuffle, map, reduce)?;
    let mut file = File::open(&path).map_err(|e| io_error(&path, e))?;
    file.seek(SeekFrom::Start(start)).map_err(|e| io_error(&path, e))?;
    let capacity = ((end - start) as usize).clamp(4096, IO_BUFFER);
    Ok(BlockReader {
        reader: BufReader::with_capacity(capacity, file.take(end - start)),
        path,
        len: end - start,
        pos: 0,
    })
}

/// Whether `len` more bytes fit a batch whose offsets are `u32`.
fn fits(out: &Batch, len: usize) -> bool {
    out.data.len().checked_add(len).is_some_and(|total| total <= u32::MAX as usize)
}

/// Streams the records of one block from its data file, in batches.
pub(crate) struct BlockReader {
    reader: BufReader<io::Take<File>>,
    path: PathBuf,
    len: u64,
    pos: u64,
}

impl BlockReader {
    /// The block's size in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Appends records to `out` until it holds at least `max_bytes` of data or the block ends;
    /// returns false once the block was already exhausted (nothing appended).
    pub(crate) fn next_batch(
        &mut self,
        out: &mut Batch,
        max_bytes: usize,
    ) -> Result<bool, ShuffleReadError> {
        if self.pos == self.len {
            return Ok(false);
        }
        let start = out.data.len();
        while self.pos < self.len && out.data.len() - start < max_bytes.max(1) {
            let offset = self.pos;
            let corrupt = |reason| ShuffleReadError::CorruptBlock { offset, reason };
            if self.len - self.pos < 4 {
                return Err(corrupt("truncated record length"));
            }
            let mut prefix = [0u8; 4];
            self.read_exact(&mut prefix)?;
            let len = u32::from_le_bytes(prefix) as usize;
            if len as u64 > self.len - self.pos {
                return Err(corrupt("record extends past the end of the block"));
            }
            if !fits(out, len) {
                return Err(corrupt("record does not fit in a batch"));
            }
            let buf = self.reader.fill_buf().map_err(|e| io_error(&self.path, e))?;
            if buf.len() >= len {
                out.data.extend_from_slice(&buf[..len]);
                self.reader.consume(len);
                self.pos += len as u64;
            } else {
                let at = out.data.len();
                out.data.resize(at + len, 0);
                if let Err(e) = self.read_exact(&mut out.data[at..]) {
                    out.data.truncate(at);
                    return Err(e);
                }
            }
            out.ends.push(out.data.len() as u32);
        }
        Ok(true)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ShuffleReadError> {
        self.reader.read_exact(buf).map_err(|e| io_error(&self.path, e))?;
        self.pos += buf.len() as u64;
        Ok(())
    }
}

/// Decodes the framed records of an in-memory block (a fetched remote block), in batches.
pub(crate) struct BlockDecoder<'a> {
    block: &'a [u8],
    pos: usize,
}

impl<'a> BlockDecoder<'a> {
    /// A decoder positioned at the block's first record.
    pub(crate) fn new(block: &'a [u8]) -> Self {
        BlockDecoder { block, pos: 0 }
    }

    /// Appends records to `out` until it holds at least `max_bytes` of data or the block ends;
    /// returns false once the block was already exhausted (nothing appended).
    pub(crate) fn next_batch(
        &mut self,
        out: &mut Batch,
        max_bytes: usize,
    ) -> Result<bool, ShuffleReadError> {
        if self.pos == self.block.len() {
            return Ok(false);
        }
        let start = out.data.len();
        while self.pos < self.block.len() && out.data.len() - start < max_bytes.max(1) {
            let offset = self.pos as u64;
            let corrupt = |reason| ShuffleReadError::CorruptBlock { offset, reason };
            let rest = &self.block[self.pos..];
            let Some(prefix) = rest.get(..4) else {
                return Err(corrupt("truncated record length"));
            };
            let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
            let Some(record) = rest.get(4..4 + len) else {
                return Err(corrupt("record extends past the end of the block"));
            };
            if !fits(out, len) {
                return Err(corrupt("record does not fit in a batch"));
            }
            out.data.extend_from_slice(record);
            out.ends.push(out.data.len() as u32);
            self.pos += 4 + len;
        }
        Ok(true)
    }
}

/// Appends every record of an in-memory block to `out`; on a framing error `out` is left as it was.
pub(crate) fn decode_block(block: &[u8], out: &mut Batch) -> Result<(), ShuffleReadError> {
    let (bytes, records) = (out.data.len(), out.ends.len());
    let mut decoder = BlockDecoder::new(block);
    loop {
        match decoder.next_batch(out, usize::MAX) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(e) => {
                out.data.truncate(bytes);
                out.ends.truncate(records);
                return Err(e);
            }
        }
    }
}
