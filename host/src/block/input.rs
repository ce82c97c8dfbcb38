//! Text input: listing a path's files, cutting them into splits (Hadoop's `FileInputFormat` sizing), and reading a split's lines.
//!
//! # Line ownership
//!
//! A line belongs to the split that holds its first byte. A split starting at
//! `start > 0` therefore skips everything up to and including the first `\n`
//! at or after `start - 1`, and the last line of a split is read to its end
//! even past the split's end. Every line of a file is read by exactly one split.
//!
//! `\n` ends a line and a `\r` right before it is dropped; a last line without
//! `\n` is a line; a `\n` at the end of the file does not start another line.
//! Bytes that are not UTF-8 become U+FFFD exactly as `String::from_utf8_lossy`
//! does.
//!
//! Input is a local path or a store URL (`store::Location`): object splits are
//! read with ranged GETs and follow the same rules byte for byte. A `.gz` or
//! `.zst` file is one split, decoded from its first byte to its end.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::lineage::FileSplit;
use crate::records::Batch;
use crate::store::{Codec, Location, RangedReader, StoreError, Stores, codec_of_name, decoder};

/// Largest read from an input file, and the initial line buffer of a large split.
const READ_BUFFER: usize = 1 << 20;
/// Smallest line buffer (small splits need not allocate a full read buffer).
const MIN_BUFFER: usize = 64 << 10;

/// Listing an input path or cutting it into splits failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InputError {
    /// The path does not exist.
    #[error("input path does not exist: {}", path.display())]
    NotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// Reading the path's metadata or listing the directory failed.
    #[error("cannot list input path {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A store URL is malformed, or listing it failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reading the lines of a split failed, or the consumer of its batches did.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError<E> {
    /// Opening, seeking or reading the file failed.
    #[error("cannot read input file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The batch consumer returned an error (carried as is); reading stopped.
    ///
    /// A tuple variant, and no `Display` bound on `E`, so that consumers with
    /// their own failure type (the executor's `TaskFailure`) get it back unchanged.
    #[error("the consumer of the lines stopped reading")]
    Sink(E),
}

/// What reading one split did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReadStats {
    /// Bytes of the lines this split owns, terminators included (over all splits of a file, the file's size).
    pub bytes: u64,
    /// Lines emitted.
    pub lines: u64,
}

/// The input files of `path`: the file itself, or the regular files of a directory
/// (not recursive; names starting with `.` or `_` skipped), sorted by name, with their sizes.
pub(crate) fn list_files(path: &Path) -> Result<Vec<(PathBuf, u64)>, InputError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(InputError::NotFound { path: path.to_path_buf() });
        }
        Err(e) => return Err(io_err(path)(e)),
    };
    if !meta.is_dir() {
        return Ok(vec![(path.to_path_buf(), meta.len())]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io_err(path))? {
        let entry = entry.map_err(io_err(path))?;
        let name = entry.file_name();
        let hidden = name.as_encoded_bytes().first().is_some_and(|b| *b == b'.' || *b == b'_');
        if hidden {
            continue;
        }
        let file = entry.path();
        // Follows symlinks; a dangling link or a vanished file is skipped like a non-file.
        match std::fs::metadata(&file) {
            Ok(m) if m.is_file() => files.push((name, file, m.len())),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&file)(e)),
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files.into_iter().map(|(_, file, len)| (file, len)).collect())
}

/// Wraps an IO error on `path`.
fn io_err(path: &Path) -> impl FnOnce(io::Error) -> InputError + '_ {
    move |source| InputError::Io { path: path.to_path_buf(), source }
}

/// The input files of a local path or a store URL (`list_files`, `Stores::list_input`), sorted by
/// name, with their sizes; an object is named by its URL.
pub(crate) fn list_inputs(path: &str, stores: &Stores) -> Result<Vec<(PathBuf, u64)>, InputError> {
    Ok(match Location::parse(path)? {
        Location::Local(p) => list_files(&p)?,
        Location::Object(url) => stores
            .list_input(&url)?
            .into_iter()
            .map(|o| (PathBuf::from(o.url.to_string()), o.size))
            .collect(),
    })
}

/// Cuts the input files of `path` into splits, sized as Hadoop's `FileInputFormat.getSplits`.
///
/// `goal = total / max(min_partitions, 1)`, `size = max(1, min(goal, max_split_bytes))`;
/// each file is cut into splits of `size` bytes while more than 1.1 × `size`
/// remains, the rest being its last split. An empty file yields one empty
/// split (as Hadoop does), which reads no lines.
pub(crate) fn list_splits(
    path: &str,
    stores: &Stores,
    min_partitions: u32,
    max_split_bytes: u64,
) -> Result<Vec<FileSplit>, InputError> {
    let files = list_inputs(path, stores)?;
    let total: u64 = files.iter().map(|(_, len)| len).sum();
    let goal = total / min_partitions.max(1) as u64;
    let size = goal.min(max_split_bytes).max(1);
    let mut splits = Vec::new();
    for (file, len) in files {
        if len == 0 {
            splits.push(FileSplit { path: file, start: 0, end: 0 });
            continue;
        }
        // A compressed file cannot be cut: one split, read whole.
        if is_compressed(&file) {
            splits.push(FileSplit { path: file, start: 0, end: len });
            continue;
        }
        let mut remaining = len;
        // Hadoop's SPLIT_SLOP: `remaining / size > 1.1`, in integers.
        while remaining as u128 * 10 > size as u128 * 11 {
            let start = len - remaining;
            splits.push(FileSplit { path: file.clone(), start, end: start + size });
            remaining -= size;
        }
        splits.push(FileSplit { path: file, start: len - remaining, end: len });
    }
    tracing::debug!(path, total, split_size = size, splits = splits.len(), "listed input splits");
    Ok(splits)
}

/// Reads the lines a split owns as `string` records, handing them to `consume` in batches of about `batch_bytes`.
///
/// The batch passed to `consume` is reused afterwards; a consumer keeps what it needs by copying.
pub(crate) fn read_split_lines<E>(
    split: &FileSplit,
    stores: &Stores,
    batch_bytes: usize,
    consume: impl FnMut(&Batch) -> Result<(), E>,
) -> Result<ReadStats, ReadError<E>> {
    read_lines(split, stores, batch_bytes, false, consume)
}

/// `read_split_lines`, or with `raw` each line's bytes as they are (no U+FFFD replacement).
pub(crate) fn read_lines<E>(
    split: &FileSplit,
    stores: &Stores,
    batch_bytes: usize,
    raw: bool,
    mut consume: impl FnMut(&Batch) -> Result<(), E>,
) -> Result<ReadStats, ReadError<E>> {
    let mut stats = ReadStats::default();
    if split.start >= split.end {
        return Ok(stats);
    }
    let path = &split.path;
    let io_err = |source| ReadError::Io { path: path.clone(), source };
    let codec = path.to_str().map_or(Codec::None, codec_of_name);
    // A split that starts mid-file begins one byte early, so that a `\n` right
    // before `start` marks `start` as a line start; the partial first line is skipped.
    // A compressed file is one split: its decoded bytes are read to their end.
    let mut skipping = split.start > 0 && codec == Codec::None;
    let origin = if skipping { split.start - 1 } else { 0 };
    let end = if codec == Codec::None { split.end } else { u64::MAX };
    let mut file =
        decoder(codec, open_raw(path, stores, origin, end).map_err(io_err)?).map_err(io_err)?;
    let split_len = (split.end - split.start) as usize;
    let mut buf = vec![0u8; split_len.saturating_add(MIN_BUFFER).clamp(MIN_BUFFER, READ_BUFFER)];
    let batch_bytes = batch_bytes.max(1);
    let mut batch = Batch::with_capacity(batch_bytes.min(READ_BUFFER) + 1024, 1024);

    // buf[cursor..filled] holds unread bytes; buf[cursor] is at file offset `pos`;
    // buf[cursor..scan] holds no `\n` (so a long line is searched only once).
    let (mut cursor, mut scan, mut filled) = (0usize, 0usize, 0usize);
    let mut pos = origin;
    // buf[cursor..valid] is known to be UTF-8; buf[last_nl] is the last `\n` read (0 if none).
    let (mut valid, mut last_nl) = (0usize, 0usize);
    let mut eof = false;
    loop {
        match memchr::memchr(b'\n', &buf[scan..filled]).map(|i| scan + i) {
            Some(nl) => {
                let line_len = (nl + 1 - cursor) as u64;
                if skipping {
                    skipping = false;
                } else {
                    if !raw && nl > valid {
                        // One validation covers every complete line read so far (fast path: copy as is).
                        valid = cursor + utf8_prefix(&buf[cursor..last_nl]);
                    }
                    push_line(&mut batch, &buf[cursor..nl], raw || nl <= valid);
                    stats.lines += 1;
                    stats.bytes += line_len;
                }
                cursor = nl + 1;
                scan = cursor;
                pos += line_len;
                if pos >= end {
                    break;
                }
                if batch.data.len() >= batch_bytes {
                    consume(&batch).map_err(ReadError::Sink)?;
                    batch.clear();
                }
            }
            None if eof => {
                if cursor < filled && !skipping {
                    push_line(&mut batch, &buf[cursor..filled], raw);
                    stats.lines += 1;
                    stats.bytes += (filled - cursor) as u64;
                }
                break;
            }
            None => {
                // Keep the partial line (unless it is being skipped) and read more.
                if skipping {
                    pos += (filled - cursor) as u64;
                    cursor = filled;
                }
                buf.copy_within(cursor..filled, 0);
                filled -= cursor;
                (cursor, scan, valid, last_nl) = (0, filled, 0, 0);
                if filled == buf.len() {
                    buf.resize(buf.len() * 2, 0);
                }
                let want = (buf.len() - filled).min(READ_BUFFER);
                let n = read_some(&mut *file, &mut buf[filled..filled + want]).map_err(io_err)?;
                if n == 0 {
                    eof = true;
                    continue;
                }
                if let Some(i) = memchr::memrchr(b'\n', &buf[filled..filled + n]) {
                    last_nl = filled + i;
                }
                filled += n;
            }
        }
    }
    if !batch.is_empty() {
        consume(&batch).map_err(ReadError::Sink)?;
    }
    Ok(stats)
}

/// Whether a file's name says it is compressed (not splittable).
pub(crate) fn is_compressed(file: &Path) -> bool {
    file.to_str().is_some_and(|name| codec_of_name(name) != Codec::None)
}

/// The raw bytes of a local file or an object from `origin` (GETs bounded by `end` until the reader goes past it).
pub(crate) fn open_raw(
    path: &Path,
    stores: &Stores,
    origin: u64,
    end: u64,
) -> io::Result<Box<dyn Read + Send>> {
    match Location::of_path(path).map_err(StoreError::into_io)? {
        Location::Local(p) => {
            let mut file = File::open(p)?;
            if origin > 0 {
                file.seek(SeekFrom::Start(origin))?;
            }
            Ok(Box::new(file))
        }
        Location::Object(url) => Ok(Box::new(
            RangedReader::open(stores, &url, origin, end).map_err(StoreError::into_io)?,
        )),
    }
}

/// Length of the longest valid UTF-8 prefix of `bytes`.
fn utf8_prefix(bytes: &[u8]) -> usize {
    match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(e) => e.valid_up_to(),
    }
}

/// Appends one line (without its `\n`) as a record, dropping a final `\r`; `checked` says it is known to be UTF-8.
#[inline]
fn push_line(batch: &mut Batch, line: &[u8], checked: bool) {
    let line = match line.split_last() {
        Some((b'\r', rest)) => rest,
        _ => line,
    };
    if checked || std::str::from_utf8(line).is_ok() {
        batch.data.extend_from_slice(line);
    } else {
        batch.data.extend_from_slice(String::from_utf8_lossy(line).as_bytes());
    }
    batch.ends.push(batch.data.len() as u32);
}

/// One `read`, retried on interruption.
fn read_some(file: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests;
