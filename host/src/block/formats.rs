//! File sources in formats other than text lines: raw line bytes, whole text files, and the framed records of checkpoints.
//!
//! A checkpoint file holds a partition's records, each as `u32le length ++ bytes`,
//! written by the `SaveRecords` result sink; reading one gives back exactly the
//! records written, in order.
//!
//! Every file is a local path or a store URL (`input::open_raw`); a whole text
//! file named `.gz`/`.zst` is decoded, as `text_file` decodes it.

use std::io::{self, Read};
use std::path::Path;

use super::input::{ReadError, ReadStats, open_raw, read_lines};
use crate::lineage::{FileFormat, FileSplit};
use crate::records::Batch;
use crate::store::{Codec, Stores, codec_of_name, decoder};

/// Reads `splits` in `format`, handing records to `consume` in batches of about `batch_bytes`.
pub(crate) fn read_files<E>(
    format: FileFormat,
    splits: &[FileSplit],
    stores: &Stores,
    batch_bytes: usize,
    mut consume: impl FnMut(&Batch) -> Result<(), E>,
) -> Result<ReadStats, ReadError<E>> {
    let mut stats = ReadStats::default();
    for split in splits {
        let s = match format {
            FileFormat::RawLines => read_lines(split, stores, batch_bytes, true, &mut consume)?,
            FileFormat::WholeText => whole_text(&split.path, stores, &mut consume)?,
            FileFormat::Records => records(&split.path, stores, batch_bytes, &mut consume)?,
        };
        stats.bytes += s.bytes;
        stats.lines += s.lines;
    }
    Ok(stats)
}

/// The bytes of a file or object from its start (decoded when `codec` says so).
fn open<E>(
    path: &Path,
    stores: &Stores,
    codec: Codec,
) -> Result<Box<dyn Read + Send>, ReadError<E>> {
    let io_err = |source| ReadError::Io { path: path.to_path_buf(), source };
    decoder(codec, open_raw(path, stores, 0, u64::MAX).map_err(io_err)?).map_err(io_err)
}

/// One `(path, content)` pair record: both strings, invalid UTF-8 replaced by U+FFFD.
fn whole_text<E>(
    path: &Path,
    stores: &Stores,
    consume: &mut impl FnMut(&Batch) -> Result<(), E>,
) -> Result<ReadStats, ReadError<E>> {
    let codec = path.to_str().map_or(Codec::None, codec_of_name);
    let mut bytes = Vec::new();
    open(path, stores, codec)?
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Io { path: path.to_path_buf(), source })?;
    let name = path.to_string_lossy();
    let content = String::from_utf8_lossy(&bytes);
    let mut batch = Batch::with_capacity(name.len() + content.len() + 4, 1);
    batch.data.extend_from_slice(&(name.len() as u32).to_le_bytes());
    batch.data.extend_from_slice(name.as_bytes());
    batch.data.extend_from_slice(content.as_bytes());
    batch.ends.push(batch.data.len() as u32);
    consume(&batch).map_err(ReadError::Sink)?;
    Ok(ReadStats { bytes: bytes.len() as u64, lines: 1 })
}

/// The framed records of one checkpoint file.
fn records<E>(
    path: &Path,
    stores: &Stores,
    batch_bytes: usize,
    consume: &mut impl FnMut(&Batch) -> Result<(), E>,
) -> Result<ReadStats, ReadError<E>> {
    let io_err = |source| ReadError::Io { path: path.to_path_buf(), source };
    let mut reader = io::BufReader::with_capacity(1 << 20, open(path, stores, Codec::None)?);
    let mut batch = Batch::with_capacity(batch_bytes.min(1 << 20) + 1024, 1024);
    let mut stats = ReadStats::default();
    loop {
        let mut len = [0u8; 4];
        match reader.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(io_err(e)),
        }
        let len = u32::from_le_bytes(len) as usize;
        let start = batch.data.len();
        batch.data.resize(start + len, 0);
        reader.read_exact(&mut batch.data[start..]).map_err(|e| {
            io_err(io::Error::new(e.kind(), format!("truncated checkpoint record: {e}")))
        })?;
        batch.ends.push(batch.data.len() as u32);
        stats.lines += 1;
        stats.bytes += 4 + len as u64;
        if batch.data.len() >= batch_bytes.max(1) {
            consume(&batch).map_err(ReadError::Sink)?;
            batch.clear();
        }
    }
    if !batch.ends.is_empty() {
        consume(&batch).map_err(ReadError::Sink)?;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(format: FileFormat, splits: &[FileSplit]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let stores = Stores::new(crate::store::StoreSettings::default());
        read_files::<()>(format, splits, &stores, 7, |b| {
            out.extend(b.iter().map(<[u8]>::to_vec));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn raw_lines_keep_invalid_utf8_and_records_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let latin1 = dir.path().join("latin1.txt");
        std::fs::write(&latin1, b"caf\xe9\r\nna\xefve\nlast").unwrap();
        let len = std::fs::metadata(&latin1).unwrap().len();
        // Two splits: the second starts mid-line, its lines belong to the first.
        let splits = [
            FileSplit { path: latin1.clone(), start: 0, end: 3 },
            FileSplit { path: latin1.clone(), start: 3, end: len },
        ];
        let expected: Vec<Vec<u8>> =
            vec![b"caf\xe9".to_vec(), b"na\xefve".to_vec(), b"last".to_vec()];
        assert_eq!(read(FileFormat::RawLines, &splits), expected);

        let framed = dir.path().join("part-00000");
        let records: Vec<Vec<u8>> = vec![vec![], b"x".to_vec(), vec![0xff; 20]];
        let mut bytes = Vec::new();
        for r in &records {
            bytes.extend_from_slice(&(r.len() as u32).to_le_bytes());
            bytes.extend_from_slice(r);
        }
        std::fs::write(&framed, bytes).unwrap();
        let whole = [FileSplit { path: framed, start: 0, end: 0 }];
        assert_eq!(read(FileFormat::Records, &whole), records);

        let text = [FileSplit { path: latin1.clone(), start: 0, end: len }];
        let pair = &read(FileFormat::WholeText, &text)[0];
        let name = latin1.to_string_lossy();
        assert_eq!(&pair[..4], &(name.len() as u32).to_le_bytes());
        assert_eq!(&pair[4 + name.len()..], "caf\u{fffd}\r\nna\u{fffd}ve\nlast".as_bytes());

        // A compressed whole file is decoded; an empty file is an empty content.
        let packed = dir.path().join("z.txt.zst");
        std::fs::write(&packed, zstd::encode_all(&b"one\ntwo\n"[..], 3).unwrap()).unwrap();
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, b"").unwrap();
        let files = [
            FileSplit { path: packed.clone(), start: 0, end: 1 },
            FileSplit { path: empty.clone(), start: 0, end: 0 },
        ];
        let pairs = read(FileFormat::WholeText, &files);
        let content = |pair: &[u8], path: &Path| pair[4 + path.to_string_lossy().len()..].to_vec();
        assert_eq!(content(&pairs[0], &packed), b"one\ntwo\n");
        assert_eq!(content(&pairs[1], &empty), b"");
    }
}
