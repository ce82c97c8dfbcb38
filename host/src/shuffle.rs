//! Shuffle files: map tasks partition their output into one data file plus one index file; reduce tasks read blocks back.
//!
//! # File format
//!
//! A map task `m` of shuffle `s` writes, in the executor's shuffle directory:
//!
//! * `shuffle_{s}_{m}.data`: the blocks of reduce partitions `0..R`,
//!   concatenated. A block is a sequence of records, each framed as
//!   `u32le len ++ bytes`. An empty block takes no bytes.
//! * `shuffle_{s}_{m}.index`: `R + 1` little-endian `u64` offsets into the
//!   data file; block `r` is the byte range `offsets[r]..offsets[r + 1]`,
//!   `offsets[0]` is 0 and `offsets[R]` is the data file's length.
//!
//! Both are written under temporary names and renamed, the data file first
//! and the index last: a present index is the commit point of a map output.
//! A later attempt of the same map task replaces an older pair.
//!
//! # Partitioning
//!
//! Hash partitioners use [`partition_hash`], a fixed 64-bit hash that never
//! depends on the process, platform or version, so every executor and every
//! attempt routes a key to the same reduce partition.

mod reader;
mod writer;

#[cfg(test)]
mod tests;

use crate::ids::ShuffleId;

pub(crate) use reader::{BlockDecoder, block_range, decode_block, open_block};
pub(crate) use writer::{ShuffleWriteError, ShuffleWriter};

/// Multiplier of the word-mixing step (the 64-bit golden-ratio-derived constant of splitmix64).
const HASH_MUL: u64 = 0xBF58_476D_1CE4_E5B9;
/// Initial state.
const HASH_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// The stable hash of key (or record) bytes that decides reduce partitions: partition = `hash % n`.
///
/// Definition (fixed forever; changing it would reroute keys between
/// executors of different versions):
///
/// ```text
/// h = 0x9E3779B97F4A7C15 ^ (len * 0xBF58476D1CE4E5B9)
/// for each 8-byte word w of the input (little-endian; the last partial word zero-padded):
///     h = rotl((h ^ w) * 0xBF58476D1CE4E5B9, 31)
/// return fmix64(h)   // MurmurHash3's finalizer, so that the low bits are well mixed
/// ```
///
/// All arithmetic wraps. Throughput is about one multiply per 8 bytes.
pub(crate) fn partition_hash(bytes: &[u8]) -> u64 {
    let mut h = HASH_SEED ^ (bytes.len() as u64).wrapping_mul(HASH_MUL);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        h = (h ^ w).wrapping_mul(HASH_MUL).rotate_left(31);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut tail = [0u8; 8];
        tail[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(HASH_MUL).rotate_left(31);
    }
    fmix64(h)
}

/// MurmurHash3's 64-bit finalizer: a bijection that spreads every input bit over the output.
pub(crate) fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^= h >> 33;
    h
}

/// The names of the data and index files of one map output: `(shuffle_{s}_{m}.data, shuffle_{s}_{m}.index)`.
pub(crate) fn shuffle_file_names(shuffle: ShuffleId, map: u32) -> (String, String) {
    (format!("shuffle_{}_{map}.data", shuffle.0), format!("shuffle_{}_{map}.index", shuffle.0))
}
