//! Tests of shuffle files: routing by every partitioner, spilling, reading back and corrupt input.

use std::path::Path;

use super::reader::{ShuffleReadError, read_block, read_index};
use super::*;
use crate::lineage::Partitioner;
use crate::records::{Batch, put_pair};

/// The hash as documented, written out byte by byte (independent of the word-loop implementation).
fn reference_hash(bytes: &[u8]) -> u64 {
    const M: u64 = 0xBF58476D1CE4E5B9;
    let mut h = 0x9E3779B97F4A7C15u64 ^ (bytes.len() as u64).wrapping_mul(M);
    for chunk in bytes.chunks(8) {
        let mut w = 0u64;
        for (i, b) in chunk.iter().enumerate() {
            w |= (*b as u64) << (8 * i);
        }
        h = (h ^ w).wrapping_mul(M).rotate_left(31);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ceb9fe1a85ec53);
    h ^ (h >> 33)
}

/// Tiny deterministic generator for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, max: u64) -> Vec<u8> {
        let len = self.below(max + 1) as usize;
        (0..len).map(|_| b'a' + self.below(6) as u8).collect()
    }
}

fn pair(k: &[u8], v: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_pair(&mut out, k, v);
    out
}

/// Pair records with short, often repeated keys, in a few batches.
fn sample_batches(seed: u64) -> Vec<Batch> {
    let mut rng = Rng(seed);
    (0..4)
        .map(|_| {
            let n = rng.below(300) as usize;
            Batch::from_records((0..n).map(|_| pair(&rng.bytes(5), &rng.bytes(20))))
        })
        .collect()
}

/// Writes `batches`, commits, and returns the per-partition lengths.
fn write_all(
    dir: &Path,
    shuffle: ShuffleId,
    map: u32,
    partitioner: Partitioner,
    budget: usize,
    batches: &[Batch],
) -> Vec<u64> {
    let mut w = ShuffleWriter::new(dir, shuffle, map, partitioner, budget).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    let m = w.metrics();
    assert_eq!(m.records, batches.iter().map(|b| b.len() as u64).sum::<u64>());
    let lengths = w.commit().unwrap();
    assert_eq!(m.bytes, lengths.iter().sum::<u64>());
    lengths
}

/// Reads every block back two ways (whole, streamed in small batches) and checks they agree.
fn read_all(
    dir: &Path,
    shuffle: ShuffleId,
    map: u32,
    partitions: u32,
    lengths: &[u64],
) -> Vec<Vec<Vec<u8>>> {
    (0..partitions)
        .map(|r| {
            let block = read_block(dir, shuffle, map, r).unwrap();
            assert_eq!(block.len() as u64, lengths[r as usize]);
            let mut whole = Batch::default();
            decode_block(&block, &mut whole).unwrap();
            let mut streamed = Batch::default();
            let mut reader = open_block(dir, shuffle, map, r).unwrap();
            let mut chunk = Batch::default();
            while reader.next_batch(&mut chunk, 37).unwrap() {
                streamed.extend(&chunk);
                chunk.clear();
            }
            assert_eq!(whole, streamed);
            whole.iter().map(<[u8]>::to_vec).collect()
        })
        .collect()
}

fn key_of(record: &[u8]) -> &[u8] {
    let n = u32::from_le_bytes(record[..4].try_into().unwrap()) as usize;
    &record[4..4 + n]
}

/// Checks a round trip where the test decides each record's partition.
fn check_round_trip(partitioner: Partitioner, expected_partition: impl Fn(usize, &[u8]) -> usize) {
    let dir = tempfile::tempdir().unwrap();
    let n = partitioner.partitions();
    let batches = sample_batches(n as u64 * 31 + 7);
    let mut expected = vec![Vec::new(); n as usize];
    let mut index = 0;
    for b in &batches {
        for r in b.iter() {
            expected[expected_partition(index, r)].push(r.to_vec());
            index += 1;
        }
    }
    let lengths = write_all(dir.path(), ShuffleId(3), 5, partitioner, usize::MAX, &batches);
    assert_eq!(lengths.len(), n as usize);
    assert_eq!(read_all(dir.path(), ShuffleId(3), 5, n, &lengths), expected);
    let offsets = read_index(dir.path(), ShuffleId(3), 5).unwrap();
    assert_eq!(offsets.len(), n as usize + 1);
}

#[test]
fn hash_matches_its_documented_definition() {
    let mut rng = Rng(1);
    for len in 0..40 {
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        assert_eq!(partition_hash(&bytes), reference_hash(&bytes), "len {len}");
    }
    // Pinned values: the hash must never change between versions.
    assert_eq!(partition_hash(b""), reference_hash(b""));
    assert_eq!(partition_hash(b""), 0x9ca0_66f1_a4ab_2eea, "{:#x}", partition_hash(b""));
    assert_eq!(partition_hash(b"wisp"), 0xec4f_b2e5_c7b2_2f60, "{:#x}", partition_hash(b"wisp"));
}

#[test]
fn hash_spreads_keys_over_partitions() {
    let keys = 100_000u32;
    for n in [2u64, 7, 8, 64, 200] {
        let mut counts = vec![0u64; n as usize];
        for i in 0..keys {
            counts[(partition_hash(format!("word{i}").as_bytes()) % n) as usize] += 1;
        }
        // Chi-square against the uniform distribution: mean n - 1, standard deviation sqrt(2(n - 1)).
        let mean = keys as f64 / n as f64;
        let chi2: f64 = counts.iter().map(|&c| (c as f64 - mean).powi(2) / mean).sum();
        let df = (n - 1) as f64;
        assert!(chi2 < df + 6.0 * (2.0 * df).sqrt(), "{n}: chi2 {chi2}, {counts:?}");
    }
}

#[test]
fn hash_partitioner_round_trip() {
    for n in [1u32, 3, 8] {
        check_round_trip(Partitioner::Hash { partitions: n }, |_, r| {
            (reference_hash(key_of(r)) % n as u64) as usize
        });
    }
}

#[test]
fn record_hash_partitioner_round_trip() {
    check_round_trip(Partitioner::RecordHash { partitions: 5 }, |_, r| {
        (reference_hash(r) % 5) as usize
    });
}

#[test]
fn range_partitioner_round_trip() {
    let bounds: Vec<Vec<u8>> = vec![b"b".to_vec(), b"cc".to_vec(), b"e".to_vec()];
    let by_scan =
        |key: &[u8]| bounds.iter().position(|b| key <= b.as_slice()).unwrap_or(bounds.len());
    check_round_trip(Partitioner::Range { bounds: bounds.clone(), ascending: true }, |_, r| {
        by_scan(key_of(r))
    });
    check_round_trip(Partitioner::Range { bounds: bounds.clone(), ascending: false }, |_, r| {
        bounds.len() - by_scan(key_of(r))
    });
    check_round_trip(Partitioner::Range { bounds: Vec::new(), ascending: true }, |_, _| 0);
}

#[test]
fn round_robin_partitioner_round_trip() {
    let start = (reference_hash(&5u32.to_le_bytes()) % 4) as usize;
    check_round_trip(Partitioner::RoundRobin { partitions: 4 }, |i, _| (start + i) % 4);
}

#[test]
fn non_pair_record_is_an_error_for_key_partitioners() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = ShuffleWriter::new(
        dir.path(),
        ShuffleId(0),
        0,
        Partitioner::Hash { partitions: 2 },
        1 << 20,
    )
    .unwrap();
    let batch = Batch::from_records([pair(b"k", b"v"), b"xy".to_vec()]);
    let err = w.write(&batch).unwrap_err();
    assert!(matches!(err, ShuffleWriteError::NotAPair { index: 1, .. }), "{err}");
    assert!(err.to_string().contains("record 1"), "{err}");
    let mut w = ShuffleWriter::new(
        dir.path(),
        ShuffleId(0),
        0,
        Partitioner::RecordHash { partitions: 2 },
        0,
    )
    .unwrap();
    w.write(&batch).unwrap();
    let err =
        ShuffleWriter::new(dir.path(), ShuffleId(0), 0, Partitioner::Hash { partitions: 0 }, 0)
            .err()
            .unwrap();
    assert!(matches!(err, ShuffleWriteError::NoPartitions { .. }));
}

fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn spilling_gives_the_same_files() {
    let batches = sample_batches(99);
    let reference = tempfile::tempdir().unwrap();
    let lengths = write_all(
        reference.path(),
        ShuffleId(1),
        2,
        Partitioner::Hash { partitions: 6 },
        usize::MAX,
        &batches,
    );
    let (data, index) = shuffle_file_names(ShuffleId(1), 2);
    assert_eq!(dir_names(reference.path()), vec![data.clone(), index.clone()]);
    for budget in [0usize, 1, 50, 1000] {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ShuffleWriter::new(
            dir.path(),
            ShuffleId(1),
            2,
            Partitioner::Hash { partitions: 6 },
            budget,
        )
        .unwrap();
        for b in &batches {
            w.write(b).unwrap();
        }
        assert!(w.metrics().spills > 0, "budget {budget}");
        assert_eq!(w.commit().unwrap(), lengths);
        assert_eq!(
            dir_names(dir.path()),
            vec![data.clone(), index.clone()],
            "spill file left behind"
        );
        for name in [&data, &index] {
            assert_eq!(
                std::fs::read(dir.path().join(name)).unwrap(),
                std::fs::read(reference.path().join(name)).unwrap(),
                "budget {budget}: {name}"
            );
        }
    }
}

#[test]
fn dropped_writer_leaves_no_files_and_commit_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let mut w =
        ShuffleWriter::new(dir.path(), ShuffleId(1), 0, Partitioner::Hash { partitions: 2 }, 0)
            .unwrap();
    w.write(&Batch::from_records([pair(b"a", b"1")])).unwrap();
    drop(w);
    assert!(dir_names(dir.path()).is_empty());
    write_all(
        dir.path(),
        ShuffleId(1),
        0,
        Partitioner::RecordHash { partitions: 2 },
        0,
        &[Batch::from_records(["a", "b"])],
    );
    let lengths =
        write_all(dir.path(), ShuffleId(1), 0, Partitioner::RecordHash { partitions: 2 }, 0, &[]);
    assert_eq!(lengths, vec![0, 0]);
    assert!(read_block(dir.path(), ShuffleId(1), 0, 1).unwrap().is_empty());
}

#[test]
fn missing_and_corrupt_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let s = ShuffleId(4);
    let err = read_block(p, s, 0, 0).unwrap_err();
    assert!(matches!(err, ShuffleReadError::Missing { .. }));
    assert!(err.to_string().contains("shuffle_4_0.index"), "{err}");

    let batch = Batch::from_records([pair(b"k1", b"v"), pair(b"k2", b"value")]);
    write_all(p, s, 0, Partitioner::Hash { partitions: 3 }, 0, &[batch]);
    let (data_name, index_name) = shuffle_file_names(s, 0);
    let index_path = p.join(&index_name);
    let data_path = p.join(&data_name);
    let index = std::fs::read(&index_path).unwrap();
    let data = std::fs::read(&data_path).unwrap();

    let err = read_block(p, s, 0, 3).unwrap_err();
    assert!(matches!(err, ShuffleReadError::OutOfRange { reduce: 3, partitions: 3, .. }), "{err}");

    let u64s = |xs: &[u64]| xs.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let bad_indexes: Vec<Vec<u8>> = vec![
        Vec::new(),
        index[..index.len() - 3].to_vec(),
        index[..8].to_vec(),
        u64s(&[1, 2, 3, data.len() as u64]),
        u64s(&[0, 20, 10, data.len() as u64]),
    ];
    for bad in bad_indexes {
        std::fs::write(&index_path, &bad).unwrap();
        for r in 0..4 {
            let err = read_block(p, s, 0, r).unwrap_err();
            assert!(matches!(err, ShuffleReadError::CorruptIndex { .. }), "{bad:?}: {err}");
            assert!(err.to_string().contains(&index_name), "{err}");
        }
    }

    std::fs::write(&index_path, &index).unwrap();
    std::fs::write(&data_path, &data[..data.len() - 1]).unwrap();
    let err = read_block(p, s, 0, 0).unwrap_err();
    assert!(matches!(err, ShuffleReadError::DataSize { .. }), "{err}");
    assert!(err.to_string().contains(&data_name), "{err}");
    std::fs::remove_file(&data_path).unwrap();
    assert!(matches!(read_block(p, s, 0, 0).unwrap_err(), ShuffleReadError::Missing { .. }));

    // A consistent index over a badly framed block: the decoders report it.
    let garbage = [9u8, 0, 0, 0, b'a', b'b', 1];
    std::fs::write(&data_path, garbage).unwrap();
    std::fs::write(&index_path, u64s(&[0, garbage.len() as u64])).unwrap();
    let mut reader = open_block(p, s, 0, 0).unwrap();
    let mut out = Batch::default();
    assert!(matches!(
        reader.next_batch(&mut out, 1 << 20),
        Err(ShuffleReadError::CorruptBlock { offset: 0, .. })
    ));
}

#[test]
fn corrupt_blocks_never_panic() {
    let mut good = Vec::new();
    for r in [&b"abc"[..], b"", b"hello world"] {
        good.extend_from_slice(&(r.len() as u32).to_le_bytes());
        good.extend_from_slice(r);
    }
    let mut out = Batch::default();
    decode_block(&good, &mut out).unwrap();
    assert_eq!(out, Batch::from_records(["abc", "", "hello world"]));
    for cut in 0..good.len() {
        let mut out = Batch::from_records(["keep"]);
        let result = decode_block(&good[..cut], &mut out);
        if [0, 7, 11].contains(&cut) {
            result.unwrap();
        } else {
            assert!(matches!(result, Err(ShuffleReadError::CorruptBlock { .. })), "cut {cut}");
            assert_eq!(
                out,
                Batch::from_records(["keep"]),
                "a failed decode leaves the batch as it was"
            );
        }
    }
    let mut rng = Rng(5);
    for _ in 0..2000 {
        let block: Vec<u8> = (0..rng.below(24))
            .map(|_| if rng.below(3) == 0 { rng.next() as u8 } else { rng.below(4) as u8 })
            .collect();
        let mut out = Batch::default();
        if decode_block(&block, &mut out).is_ok() {
            out.validate().unwrap();
        }
    }
}
