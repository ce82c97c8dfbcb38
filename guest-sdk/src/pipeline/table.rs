//! The table of an aggregation stage: one combiner per distinct key bytes.
//!
//! Keys of up to 15 bytes (almost every word of a word count, every integer
//! key) are packed with their length into two `u64`s stored in the table
//! itself: a lookup hashes and compares two words and touches one bucket,
//! with no pointer to chase. Longer keys live in a second table of boxed
//! bytes, hashed eight bytes per step and compared word by word (on wasm32
//! both `memcmp` and the `Hash` of `[u8]` are byte loops).

use std::ptr;

use hashbrown::HashTable;

/// The longest key packed inline.
const SHORT: usize = 15;

/// Combiners by key bytes.
pub(crate) struct KeyTable<C> {
    short: HashTable<([u64; 2], C)>,
    long: HashTable<(Box<[u8]>, C)>,
}

impl<C> Default for KeyTable<C> {
    fn default() -> Self {
        Self { short: HashTable::new(), long: HashTable::new() }
    }
}

impl<C> KeyTable<C> {
    /// Folds `v` into the combiner of `key`: `merge(combiner, v)` if the key
    /// has one, else a new combiner `create(v)`.
    #[inline]
    pub(crate) fn add<V>(
        &mut self,
        key: &[u8],
        v: V,
        create: impl FnOnce(V) -> C,
        merge: impl FnOnce(C, V) -> C,
    ) {
        if key.len() <= SHORT {
            let packed = pack(key);
            let hash = hash_packed(packed);
            match self.short.find_mut(hash, |(k, _)| *k == packed) {
                Some((_, c)) => update(c, |c| merge(c, v)),
                None => {
                    self.short.insert_unique(hash, (packed, create(v)), |(k, _)| hash_packed(*k));
                }
            }
        } else {
            self.add_long(key, v, create, merge);
        }
    }

    #[inline(never)]
    fn add_long<V>(
        &mut self,
        key: &[u8],
        v: V,
        create: impl FnOnce(V) -> C,
        merge: impl FnOnce(C, V) -> C,
    ) {
        let hash = hash_bytes(key);
        match self.long.find_mut(hash, |(k, _)| eq_bytes(k, key)) {
            Some((_, c)) => update(c, |c| merge(c, v)),
            None => {
                self.long.insert_unique(hash, (key.into(), create(v)), |(k, _)| hash_bytes(k));
            }
        }
    }

    /// Empties the table, calling `f` with every key and its combiner.
    /// Empties the table, calling `f` on each key and combiner in ascending order of the key bytes
    /// (the order `wit/task.wit` fixes for `combine`/`merge` output, so every SDK writes the same bytes).
    pub(crate) fn drain<E>(
        &mut self,
        mut f: impl FnMut(&[u8], C) -> Result<(), E>,
    ) -> Result<(), E> {
        // Each short key as its bytes zero-padded to 16 (the packed form holds other bytes past the
        // end of very short keys): big-endian, these order like the bytes, with the shorter key first
        // on a tie (a proper prefix) — one integer comparison instead of a byte loop.
        let mut short: Vec<(([u8; 16], usize), C)> = std::mem::take(&mut self.short)
            .into_iter()
            .map(|(p, c)| {
                let (bytes, len) = unpack(p);
                let mut padded = [0u8; 16];
                padded[..len].copy_from_slice(&bytes[..len]);
                ((padded, len), c)
            })
            .collect();
        short.sort_unstable_by_key(|((bytes, len), _)| (u128::from_be_bytes(*bytes), *len));
        let mut long: Vec<(Box<[u8]>, C)> = std::mem::take(&mut self.long).into_iter().collect();
        long.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        // Merge the two sorted runs.
        let (mut short, mut long) = (short.into_iter().peekable(), long.into_iter().peekable());
        loop {
            let take_short = match (short.peek(), long.peek()) {
                (None, None) => return Ok(()),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(((bytes, len), _)), Some((key, _))) => bytes[..*len] <= key[..],
            };
            if take_short {
                let ((bytes, len), c) = short.next().expect("peeked");
                f(&bytes[..len], c)?;
            } else {
                let (key, c) = long.next().expect("peeked");
                f(&key, c)?;
            }
        }
    }
}

/// A key of at most [`SHORT`] bytes as two little-endian words, zero-padded,
/// with its length in the last byte.
#[inline(always)]
fn pack(key: &[u8]) -> [u64; 2] {
    let n = key.len();
    debug_assert!(n <= SHORT);
    let (lo, hi) = if n > 8 {
        // Bytes 8..n are the top n - 8 bytes of the word ending at n.
        (word(key, 0), word(key, n - 8) >> (8 * (16 - n)))
    } else if n == 8 {
        (word(key, 0), 0)
    } else {
        (short(key), 0)
    };
    [lo, hi | ((n as u64) << 56)]
}

/// The bytes and length of a packed key.
fn unpack(packed: [u64; 2]) -> ([u8; 16], usize) {
    let mut bytes = [0; 16];
    bytes[..8].copy_from_slice(&packed[0].to_le_bytes());
    bytes[8..].copy_from_slice(&packed[1].to_le_bytes());
    (bytes, (packed[1] >> 56) as usize)
}

/// The hash of a packed key.
#[inline(always)]
fn hash_packed([lo, hi]: [u64; 2]) -> u64 {
    let h = (lo.wrapping_mul(K).rotate_left(26) ^ hi).wrapping_mul(K);
    h ^ (h >> 32)
}

/// Replaces `*slot` with `f(*slot)` without a placeholder value.
#[inline]
fn update<C>(slot: &mut C, f: impl FnOnce(C) -> C) {
    /// Aborts if `f` unwinds, while `slot` holds a value that was moved out.
    struct AbortOnUnwind;
    impl Drop for AbortOnUnwind {
        fn drop(&mut self) {
            std::process::abort();
        }
    }
    let guard = AbortOnUnwind;
    // SAFETY: `slot` is valid for reads and writes. The value read is moved
    // into `f` and `slot` is overwritten with its result before anything can
    // observe the stale bits; if `f` unwinds instead, the guard aborts the
    // process, so the moved-out value is never dropped twice.
    unsafe { ptr::write(slot, f(ptr::read(slot))) };
    std::mem::forget(guard);
}

/// Multiplier of the hash (the odd constant of rustc-hash's `FxHasher`).
const K: u64 = 0xf135_7aea_2e62_a9c5;

/// The little-endian `u64` at `bytes[at..at + 8]`.
#[inline(always)]
fn word(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"))
}

/// The bytes of a slice shorter than eight bytes as a `u64`; together with
/// the length it identifies the slice.
#[inline(always)]
fn short(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    if n >= 4 {
        // Two overlapping loads: bytes 0..4 and n-4..n, placed where they belong.
        let lo = u64::from(u32::from_le_bytes(bytes[..4].try_into().expect("four bytes")));
        let hi = u64::from(u32::from_le_bytes(bytes[n - 4..].try_into().expect("four bytes")));
        lo | (hi << (8 * (n - 4)))
    } else if n > 0 {
        // First, middle and last byte: all of a slice of 1 to 3 bytes.
        u64::from(bytes[0]) | (u64::from(bytes[n / 2]) << 8) | (u64::from(bytes[n - 1]) << 16)
    } else {
        0
    }
}

/// A fast hash of a byte string, eight bytes per step.
#[inline]
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    let mut h = (n as u64).wrapping_mul(K);
    let mut at = 0;
    while at + 8 <= n {
        h = (h.rotate_left(26) ^ word(bytes, at)).wrapping_mul(K);
        at += 8;
    }
    let tail = &bytes[at..];
    if !tail.is_empty() {
        h = (h.rotate_left(26) ^ short(tail)).wrapping_mul(K);
    }
    // The product's high bits are its best mixed; hashbrown takes its bucket
    // index from the low bits (all it has of the hash on wasm32).
    h ^ (h >> 32)
}

/// Whether two byte strings are equal, compared eight bytes at a time.
#[inline]
pub(crate) fn eq_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return short(a) == short(b);
    }
    let mut at = 0;
    while at + 8 < n {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    // The last eight bytes, overlapping the words already compared.
    word(a, n - 8) == word(b, n - 8)
}

#[cfg(test)]
mod tests {

    #[test]
    fn drain_yields_keys_in_ascending_byte_order() {
        let keys: Vec<&[u8]> = vec![
            b"b",
            b"a",
            b"ab",
            b"a\0",
            b"",
            b"a\0\0",
            b"\xff",
            b"abcdefghijklmno",
            b"abcdefghijklmnop",
            b"abcdefghijklmn",
            b"zzzzzzzzzzzzzzzzzzzz",
            b"aaaaaaaaaaaaaaaaaaaaaa",
            b"abcdefgh",
            b"abcdefg",
            b"abcdefghi",
        ];
        let mut t = KeyTable::default();
        for k in &keys {
            t.add(k, 1u64, |v| v, |c, v| c + v);
        }
        let mut seen: Vec<Vec<u8>> = Vec::new();
        t.drain(|k, _| {
            seen.push(k.to_vec());
            Ok::<(), ()>(())
        })
        .unwrap();
        let mut want: Vec<Vec<u8>> = keys.iter().map(|k| k.to_vec()).collect();
        want.sort();
        assert_eq!(seen, want);
    }
    use super::*;

    #[test]
    fn eq_bytes_agrees_with_slice_equality() {
        let base: Vec<u8> = (0..40u8).collect();
        for n in 0..base.len() {
            let a = &base[..n];
            assert!(eq_bytes(a, a));
            assert_eq!(eq_bytes(a, &base[..n.saturating_sub(1)]), n == 0);
            for i in 0..n {
                let mut b = a.to_vec();
                b[i] ^= 0x80;
                assert!(!eq_bytes(a, &b), "length {n}, byte {i} differs");
                assert_ne!(hash_bytes(a), hash_bytes(&b), "length {n}, byte {i} differs");
            }
        }
    }

    #[test]
    fn packed_keys_round_trip_and_differ() {
        let base: Vec<u8> = (1..=16u8).collect();
        let mut seen = std::collections::HashSet::new();
        for n in 0..=SHORT {
            let key = &base[..n];
            let packed = pack(key);
            let (bytes, len) = unpack(packed);
            assert_eq!(&bytes[..len], key);
            assert!(seen.insert(packed));
            let mut zeroed = key.to_vec();
            if let Some(last) = zeroed.last_mut() {
                *last = 0;
                assert_ne!(pack(&zeroed), packed);
            }
            assert!(seen.insert(pack(&vec![0; n])) || n == 0);
        }
    }

    #[test]
    fn short_slices_are_identified_by_their_bytes_and_length() {
        let mut seen = std::collections::HashSet::new();
        for n in 0..4usize {
            for v in 0..(1u32 << (8 * n as u32)).min(1 << 16) {
                let bytes = &v.to_le_bytes()[..n];
                assert!(seen.insert((n, short(bytes))), "{bytes:?}");
            }
        }
        assert_eq!(short(b"abcdefg"), u64::from_le_bytes(*b"abcdefg\0"));
        assert_eq!(short(b"abcd"), u64::from_le_bytes(*b"abcd\0\0\0\0"));
    }

    #[test]
    fn adds_create_then_merge() {
        let mut table = KeyTable::default();
        let words = [
            "a",
            "bb",
            "",
            "a",
            "a longer key of many bytes",
            "bb",
            "a",
            "a longer key of many bytez",
            "",
        ];
        for w in words {
            table.add(w.as_bytes(), 1i64, |v| v, |c, v| c + v);
        }
        let mut counts = Vec::new();
        table
            .drain(|k, c| {
                counts.push((k.to_vec(), c));
                Ok::<_, ()>(())
            })
            .unwrap();
        counts.sort();
        let expected: Vec<(Vec<u8>, i64)> = vec![
            (b"".to_vec(), 2),
            (b"a".to_vec(), 3),
            (b"a longer key of many bytes".to_vec(), 1),
            (b"a longer key of many bytez".to_vec(), 1),
            (b"bb".to_vec(), 2),
        ];
        assert_eq!(counts, expected);
        table.drain(|k, _| Err(k.to_vec())).expect("drained");
    }
}
