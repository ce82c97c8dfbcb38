//! An insertion-ordered set of byte keys packed in one arena (no allocation per key), and values grouped by key id.

use crate::shuffle::{fmix64, partition_hash};

/// Mixed into the table hash so that slots do not follow reduce partitions
/// (every key of a reduce partition has the same `partition_hash % n`).
const TABLE_SALT: u64 = 0x2545_F491_4F6C_DD1D;

/// Distinct keys, numbered in first-seen order.
#[derive(Default)]
pub(crate) struct KeyTable {
    /// Open addressing with linear probing: 0 is empty, else key id + 1.
    slots: Vec<u32>,
    /// Hash of each key.
    hashes: Vec<u64>,
    /// End of each key in `arena`.
    ends: Vec<usize>,
    arena: Vec<u8>,
}

/// The capacity a vector of `len` elements and capacity `cap` needs for `extra` more: unchanged if
/// they fit, else at least half again (so growth stays amortised).
fn grown(len: usize, cap: usize, extra: usize) -> usize {
    if len + extra <= cap { cap } else { (len + extra).max(cap + cap / 2) }
}

impl KeyTable {
    /// Bytes its buffers would occupy with room for `keys` more keys of `bytes` bytes in all.
    pub(crate) fn planned_bytes(&self, keys: usize, bytes: usize) -> u64 {
        let n = self.len();
        let mut slots = self.slots.len().max(1024);
        while (n + keys) * 2 > slots {
            slots *= 2;
        }
        (grown(self.arena.len(), self.arena.capacity(), bytes)
            + grown(n, self.hashes.capacity(), keys) * 8
            + grown(n, self.ends.capacity(), keys) * 8
            + slots * 4) as u64
    }

    /// Makes the room `planned_bytes` counted (slots grow as keys arrive).
    pub(crate) fn reserve(&mut self, keys: usize, bytes: usize) {
        reserve_for(&mut self.arena, bytes);
        reserve_for(&mut self.hashes, keys);
        reserve_for(&mut self.ends, keys);
    }

    /// The ids of its keys in ascending order of their bytes.
    pub(crate) fn ids_by_key(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = (0..self.len() as u32).collect();
        ids.sort_unstable_by(|&a, &b| self.key(a).cmp(self.key(b)));
        ids
    }

    /// Number of distinct keys.
    pub(crate) fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Key `id`.
    pub(crate) fn key(&self, id: u32) -> &[u8] {
        let id = id as usize;
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.arena[start..self.ends[id]]
    }

    /// The id of `key`, adding it if new; the flag says whether it was new.
    pub(crate) fn intern(&mut self, key: &[u8]) -> (u32, bool) {
        if (self.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let hash = fmix64(partition_hash(key) ^ TABLE_SALT);
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                let id = self.len() as u32;
                self.slots[i] = id + 1;
                self.hashes.push(hash);
                self.arena.extend_from_slice(key);
                self.ends.push(self.arena.len());
                return (id, true);
            }
            let id = slot - 1;
            if self.hashes[id as usize] == hash && self.key(id) == key {
                return (id, false);
            }
            i = (i + 1) & mask;
        }
    }

    /// Doubles the slots and re-inserts every key.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(1024);
        let mask = size - 1;
        let mut slots = vec![0u32; size];
        for (id, &hash) in self.hashes.iter().enumerate() {
            let mut i = hash as usize & mask;
            while slots[i] != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = id as u32 + 1;
        }
        self.slots = slots;
    }
}

/// Grows `v` to hold `extra` more elements, as `grown` plans.
fn reserve_for<T>(v: &mut Vec<T>, extra: usize) {
    let cap = grown(v.len(), v.capacity(), extra);
    if cap > v.capacity() {
        v.reserve_exact(cap - v.len());
    }
}

/// Values tagged with the id of their key, packed in one arena.
#[derive(Default)]
pub(crate) struct GroupedValues {
    data: Vec<u8>,
    ends: Vec<usize>,
    groups: Vec<u32>,
}

impl GroupedValues {
    /// Bytes its buffers would occupy with room for `values` more values of `bytes` bytes in all.
    pub(crate) fn planned_bytes(&self, values: usize, bytes: usize) -> u64 {
        let n = self.groups.len();
        (grown(self.data.len(), self.data.capacity(), bytes)
            + grown(n, self.ends.capacity(), values) * 8
            + grown(n, self.groups.capacity(), values) * 4) as u64
    }

    /// Makes the room `planned_bytes` counted.
    pub(crate) fn reserve(&mut self, values: usize, bytes: usize) {
        reserve_for(&mut self.data, bytes);
        reserve_for(&mut self.ends, values);
        reserve_for(&mut self.groups, values);
    }

    /// Number of values.
    pub(crate) fn len(&self) -> usize {
        self.groups.len()
    }

    /// Adds a value of key `group`.
    pub(crate) fn push(&mut self, group: u32, value: &[u8]) {
        self.data.extend_from_slice(value);
        self.ends.push(self.data.len());
        self.groups.push(group);
    }

    /// Value number `i` in arrival order.
    pub(crate) fn value(&self, i: u32) -> &[u8] {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }

    /// The values of each of `groups` keys, in arrival order (a counting sort):
    /// key `g`'s value numbers are `order[starts[g]..starts[g + 1]]`.
    pub(crate) fn by_group(&self, groups: usize) -> ByGroup {
        let mut starts = vec![0usize; groups + 1];
        for &g in &self.groups {
            starts[g as usize + 1] += 1;
        }
        for g in 0..groups {
            starts[g + 1] += starts[g];
        }
        let mut next = starts.clone();
        let mut order = vec![0u32; self.groups.len()];
        for (i, &g) in self.groups.iter().enumerate() {
            order[next[g as usize]] = i as u32;
            next[g as usize] += 1;
        }
        ByGroup { starts, order }
    }
}

/// Value numbers sorted by key, from [`GroupedValues::by_group`].
pub(crate) struct ByGroup {
    starts: Vec<usize>,
    order: Vec<u32>,
}

impl ByGroup {
    /// The value numbers of key `g`, in arrival order.
    pub(crate) fn of(&self, g: usize) -> &[u32] {
        &self.order[self.starts[g]..self.starts[g + 1]]
    }
}
