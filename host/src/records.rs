//! Host-side record batches and the record encodings of `wit/task.wit` the host needs (pairs, lists, options, tuples).

use std::fmt;

/// A batch of records: concatenated bytes plus each record's end offset (the WIT `batch`).
#[derive(
    Clone,
    Default,
    PartialEq,
    Eq,
    wasmtime::component::ComponentType,
    wasmtime::component::Lift,
    wasmtime::component::Lower,
)]
#[component(record)]
pub struct Batch {
    /// Every record's bytes, concatenated.
    pub data: Vec<u8>,
    /// End offset (exclusive) of each record in `data`.
    pub ends: Vec<u32>,
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(String::from_utf8_lossy)).finish()
    }
}

/// A batch whose offsets are not valid for its data.
#[derive(Debug, thiserror::Error)]
#[error("malformed batch: record {index} ends at offset {end}, {}", self.reason())]
pub struct MalformedBatch {
    /// Index of the first bad record.
    pub index: usize,
    /// Where the previous record ended.
    pub start: u32,
    /// The bad end offset.
    pub end: u32,
    /// Length of the data.
    pub len: usize,
}

impl MalformedBatch {
    fn reason(&self) -> String {
        if self.end < self.start {
            format!("before the previous record's end {} (offsets not increasing)", self.start)
        } else if self.end as usize > self.len {
            format!("past the end of the {} data bytes", self.len)
        } else {
            format!("but the data has {} bytes (offsets do not cover it)", self.len)
        }
    }
}

impl Batch {
    /// An empty batch with room for `bytes` of data and `records` records.
    pub fn with_capacity(bytes: usize, records: usize) -> Self {
        Batch { data: Vec::with_capacity(bytes), ends: Vec::with_capacity(records) }
    }

    /// Builds a batch from records.
    pub fn from_records<I, R>(records: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: AsRef<[u8]>,
    {
        let mut b = Batch::default();
        for r in records {
            b.push(r.as_ref());
        }
        b
    }

    /// Appends one record.
    pub fn push(&mut self, record: &[u8]) {
        self.data.extend_from_slice(record);
        self.ends.push(self.data.len() as u32);
    }

    /// Appends one record written by `write` into the data buffer.
    pub fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        write(&mut self.data);
        self.ends.push(self.data.len() as u32);
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the batch holds no records.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes of record data.
    pub fn byte_len(&self) -> usize {
        self.data.len()
    }

    /// Removes every record, keeping the allocations.
    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    /// Record `i`. Panics if out of range (use on validated batches only).
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.data[start..self.ends[i] as usize]
    }

    /// Iterates over the records.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut start = 0usize;
        self.ends.iter().map(move |&end| {
            let r = &self.data[start..end as usize];
            start = end as usize;
            r
        })
    }

    /// Checks that the offsets are non-decreasing, inside the data, and cover it.
    pub fn validate(&self) -> Result<(), MalformedBatch> {
        let mut start = 0u32;
        for (index, &end) in self.ends.iter().enumerate() {
            if end < start || end as usize > self.data.len() {
                return Err(MalformedBatch { index, start, end, len: self.data.len() });
            }
            start = end;
        }
        if start as usize != self.data.len() {
            return Err(MalformedBatch {
                index: self.ends.len(),
                start,
                end: start,
                len: self.data.len(),
            });
        }
        Ok(())
    }

    /// Appends every record of `other`.
    pub fn extend(&mut self, other: &Batch) {
        let base = self.data.len() as u32;
        self.data.extend_from_slice(&other.data);
        self.ends.extend(other.ends.iter().map(|e| e + base));
    }
}

/// A record that should have been a key/value pair but is not.
#[derive(Debug, thiserror::Error)]
#[error("record of {len} bytes is not a key/value pair (key length {key_len})")]
pub(crate) struct NotAPair {
    /// The record's length.
    pub len: usize,
    /// The key length it claimed, if it had a prefix at all.
    pub key_len: usize,
}

/// Splits a pair record `u32le len(K) ++ K ++ V` into key and value bytes.
pub(crate) fn split_pair(record: &[u8]) -> Result<(&[u8], &[u8]), NotAPair> {
    if record.len() < 4 {
        return Err(NotAPair { len: record.len(), key_len: 0 });
    }
    let key_len = u32::from_le_bytes([record[0], record[1], record[2], record[3]]) as usize;
    if key_len > record.len() - 4 {
        return Err(NotAPair { len: record.len(), key_len });
    }
    Ok((&record[4..4 + key_len], &record[4 + key_len..]))
}

/// Writes a length-prefixed element (every tuple element but the last, every list element).
pub(crate) fn put_prefixed(out: &mut Vec<u8>, element: &[u8]) {
    out.extend_from_slice(&(element.len() as u32).to_le_bytes());
    out.extend_from_slice(element);
}

/// Writes the pair `(key, value)`.
#[cfg(test)]
pub(crate) fn put_pair(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    put_prefixed(out, key);
    out.extend_from_slice(value);
}

/// Writes `option<T>` given T's encoding.
pub(crate) fn put_option(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            out.extend_from_slice(v);
        }
    }
}

/// Encodes a signed integer (`s64`).
#[cfg(test)]
pub(crate) fn encode_i64(x: i64) -> [u8; 8] {
    ((x as u64) ^ (1 << 63)).to_be_bytes()
}

/// Decodes a signed integer (`s64`).
#[cfg(test)]
pub(crate) fn decode_i64(b: [u8; 8]) -> i64 {
    (u64::from_be_bytes(b) ^ (1 << 63)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_roundtrip_and_errors() {
        let mut out = Vec::new();
        put_pair(&mut out, b"key", b"value");
        assert_eq!(out, b"\x03\0\0\0keyvalue");
        assert_eq!(split_pair(&out).unwrap(), (&b"key"[..], &b"value"[..]));
        assert!(split_pair(b"\x09\0\0\0abc").is_err());
        assert!(split_pair(b"ab").is_err());
    }

    #[test]
    fn i64_encoding_orders_like_numbers() {
        let xs = [i64::MIN, -5, -1, 0, 1, 42, i64::MAX];
        for w in xs.windows(2) {
            assert!(encode_i64(w[0]) < encode_i64(w[1]));
        }
        for x in xs {
            assert_eq!(decode_i64(encode_i64(x)), x);
        }
    }

    #[test]
    fn batch_validation() {
        let b = Batch::from_records(["a", "", "bc"]);
        assert_eq!(b.ends, vec![1, 1, 3]);
        b.validate().unwrap();
        let bad = Batch { data: b"abc".to_vec(), ends: vec![2, 1, 3] };
        assert!(bad.validate().is_err());
        let short = Batch { data: b"abc".to_vec(), ends: vec![2] };
        assert!(short.validate().is_err());
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![&b"a"[..], b"", b"bc"]);
    }
}
