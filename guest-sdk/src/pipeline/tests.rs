//! Pipeline tests, run natively: op chains built exactly as a job's main
//! names them, fed batches of encoded records, checked against answers
//! computed directly (and hand-written bytes where the bytes matter).

use std::collections::HashMap;

use super::Chain;
use super::factories;
use crate::Data;
use crate::PartitionIter;
use crate::bindings::types::{Op, OpKind};
use crate::codec::{decode, to_vec};
use crate::ops::{self, Factory};

fn words(line: String) -> Vec<String> {
    line.split_ascii_whitespace().map(str::to_owned).collect()
}

fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn map_op<T: Data, U: Data, F: Fn(T) -> U + Copy + 'static>(_: F) -> Op {
    ops::op(OpKind::Map, factories::map::<T, U, F> as Factory, Vec::new())
}

fn flat_map_op<T: Data, I: IntoIterator<Item: Data> + 'static, F: Fn(T) -> I + Copy + 'static>(
    _: F,
) -> Op {
    ops::op(OpKind::FlatMap, factories::flat_map::<T, I, F> as Factory, Vec::new())
}

fn filter_op<T: Data, F: Fn(&T) -> bool + Copy + 'static>(_: F) -> Op {
    ops::op(OpKind::Filter, factories::filter::<T, F> as Factory, Vec::new())
}

fn reduce_by_key_op<K: Data, V: Data, F: Fn(V, V) -> V + Copy + 'static>(kind: OpKind, _: F) -> Op {
    ops::op(kind, factories::reduce_by_key::<K, V, F> as Factory, Vec::new())
}

/// Runs `ops` over the given batches; returns every output record.
fn run(ops: &[Op], batches: &[Vec<Vec<u8>>]) -> Result<Vec<Vec<u8>>, String> {
    run_partition(ops, 0, batches)
}

fn run_partition(
    ops: &[Op],
    partition: u32,
    batches: &[Vec<Vec<u8>>],
) -> Result<Vec<Vec<u8>>, String> {
    let mut chain = Chain::new(ops, partition)?;
    let mut out = Vec::new();
    let mut collect = |batch: crate::bindings::types::Batch| {
        let mut start = 0;
        for end in batch.ends {
            out.push(batch.data[start..end as usize].to_vec());
            start = end as usize;
        }
    };
    for records in batches {
        let (data, ends) = flatten(records);
        collect(chain.push(&data, &ends)?);
    }
    collect(chain.finish()?);
    Ok(out)
}

fn flatten(records: &[Vec<u8>]) -> (Vec<u8>, Vec<u32>) {
    let mut data = Vec::new();
    let mut ends = Vec::new();
    for r in records {
        data.extend_from_slice(r);
        ends.push(u32::try_from(data.len()).unwrap());
    }
    (data, ends)
}

fn strings(lines: &[&str]) -> Vec<Vec<u8>> {
    lines.iter().map(|l| l.as_bytes().to_vec()).collect()
}

fn decode_all<T: Data>(records: &[Vec<u8>]) -> Vec<T> {
    records.iter().map(|r| decode(r).unwrap()).collect()
}

const TEXT: [&str; 5] =
    ["the quick brown fox", "jumps over the lazy dog", "", "  the   end ", "fox\tdog\x0cthe"];

fn expected_counts() -> HashMap<String, i64> {
    let mut counts = HashMap::new();
    for line in TEXT {
        for w in line.split_ascii_whitespace() {
            *counts.entry(w.to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

#[test]
fn word_count_map_side_then_reduce_side() {
    let map_side = [
        flat_map_op(words),
        map_op(|w: String| (w, 1i64)),
        reduce_by_key_op::<String, i64, _>(OpKind::Combine, add),
    ];
    // Two map tasks over two halves of the input, several batches each.
    let first = run(&map_side, &[strings(&TEXT[..2]), strings(&TEXT[2..3])]).unwrap();
    let second = run(&map_side, &[strings(&TEXT[3..])]).unwrap();
    let reduce_side = [
        reduce_by_key_op::<String, i64, _>(OpKind::Merge, add),
        map_op(|(w, c): (String, i64)| format!("{w}\t{c}")),
    ];
    let lines = run(&reduce_side, &[first, Vec::new(), second]).unwrap();
    let mut got: Vec<String> = decode_all(&lines);
    got.sort();
    let mut want: Vec<String> =
        expected_counts().into_iter().map(|(w, c)| format!("{w}\t{c}")).collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn combine_output_is_pair_records() {
    let ops =
        [map_op(|w: String| (w, 1i64)), reduce_by_key_op::<String, i64, _>(OpKind::Combine, add)];
    let out = run(&ops, &[strings(&["a", "a", "a"])]).unwrap();
    // u32le len(k) ++ "a" ++ s64(3).
    assert_eq!(out, vec![vec![1, 0, 0, 0, b'a', 0x80, 0, 0, 0, 0, 0, 0, 3]]);
}

#[test]
fn no_ops_pass_records_through() {
    let input = strings(&["x", "", "yz"]);
    assert_eq!(run(&[], std::slice::from_ref(&input)).unwrap(), input);
}

#[test]
fn filter_reemits_the_original_bytes() {
    // Bytes of a (String, i64) pair; the filter's output is those exact bytes.
    let records: Vec<Vec<u8>> = [("a", 1i64), ("b", -2), ("c", 3)]
        .iter()
        .map(|(k, v)| to_vec(&(*k, *v)).unwrap())
        .collect();
    let ops = [filter_op(|p: &(String, i64)| p.1 > 0)];
    assert_eq!(
        run(&ops, std::slice::from_ref(&records)).unwrap(),
        vec![records[0].clone(), records[2].clone()]
    );
}

#[test]
fn filter_then_map_fused() {
    let ops = [
        map_op(|s: String| s.len() as u64),
        filter_op(|n: &u64| n % 2 == 1),
        map_op(|n: u64| n * 10),
        flat_map_op(|n: u64| vec![n; 2]),
    ];
    let out: Vec<u64> = decode_all(&run(&ops, &[strings(&["a", "bb", "ccc", ""])]).unwrap());
    assert_eq!(out, vec![10, 10, 30, 30]);
}

#[test]
fn typed_records_keep_their_order_across_chunks_and_batches() {
    // Enough records that every typed hand-off fills several chunks, spread
    // over batches that do not line up with the chunk size.
    let n = 5 * super::CHUNK as u64 + 17;
    let lines: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let records: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
    let batches: Vec<Vec<Vec<u8>>> = records.chunks(300).map(<[_]>::to_vec).collect();
    let ops = [
        map_op(|s: String| s.parse::<u64>().unwrap()),
        flat_map_op(|i: u64| vec![i; (i % 3) as usize]),
        filter_op(|i: &u64| !i.is_multiple_of(5)),
        // An iterator of unknown length: items go on one at a time.
        flat_map_op(|i: u64| (0..2u64).map(move |j| 2 * i + j).filter(|x| !x.is_multiple_of(7))),
        map_op(|i: u64| i * 2),
    ];
    let got: Vec<u64> = decode_all(&run(&ops, &batches).unwrap());
    let want: Vec<u64> = (0..n)
        .flat_map(|i| vec![i; (i % 3) as usize])
        .filter(|i| !i.is_multiple_of(5))
        .flat_map(|i| [2 * i, 2 * i + 1])
        .filter(|x| !x.is_multiple_of(7))
        .map(|i| i * 2)
        .collect();
    assert_eq!(got, want);
}

#[test]
fn word_count_over_many_chunks() {
    let text: Vec<String> =
        (0..2000).map(|i| format!("w{} w{} common w{}", i % 7, i % 131, i % 1009)).collect();
    let lines: Vec<&str> = text.iter().map(String::as_str).collect();
    let map_side = [
        flat_map_op(words),
        map_op(|w: String| (w, 1i64)),
        reduce_by_key_op::<String, i64, _>(OpKind::Combine, add),
    ];
    let pairs = run(&map_side, &[strings(&lines[..700]), strings(&lines[700..])]).unwrap();
    let mut got: Vec<(String, i64)> = decode_all(&pairs);
    got.sort();
    let mut want: HashMap<String, i64> = HashMap::new();
    for w in lines.iter().flat_map(|l| l.split_ascii_whitespace()) {
        *want.entry(w.to_owned()).or_insert(0) += 1;
    }
    let mut want: Vec<(String, i64)> = want.into_iter().collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn key_by_pairs_key_with_original_record() {
    fn key_op<T: Data, K: Data, F: Fn(&T) -> K + Copy + 'static>(_: F) -> Op {
        ops::op(OpKind::KeyBy, factories::key_by::<T, K, F> as Factory, Vec::new())
    }
    let out = run(&[key_op(|s: &String| s.len() as u64)], &[strings(&["hey"])]).unwrap();
    assert_eq!(out, vec![[&8u32.to_le_bytes()[..], &[0, 0, 0, 0, 0, 0, 0, 3], b"hey"].concat()]);
    // Fused with a following map that takes the typed pair.
    let out = run(
        &[key_op(|s: &String| s.len() as u64), map_op(|(k, s): (u64, String)| format!("{k}:{s}"))],
        &[strings(&["hey", ""])],
    )
    .unwrap();
    assert_eq!(decode_all::<String>(&out), vec!["3:hey".to_owned(), "0:".to_owned()]);
}

#[test]
fn map_values_never_decodes_the_key() {
    fn values_op<K: Data, V: Data, W: Data, F: Fn(V) -> W + Copy + 'static>(_: F) -> Op {
        ops::op(OpKind::MapValues, factories::map_values::<K, V, W, F> as Factory, Vec::new())
    }
    // The key bytes (3 bytes) are not a valid i64; map-values must pass them unchanged.
    let record = [&3u32.to_le_bytes()[..], b"abc", &to_vec(&5u64).unwrap()].concat();
    let out = run(&[values_op::<i64, u64, u64, _>(|v| v + 1)], &[vec![record]]).unwrap();
    assert_eq!(out, vec![[&3u32.to_le_bytes()[..], b"abc", &to_vec(&6u64).unwrap()].concat()]);
}

#[test]
fn flat_map_values_repeats_the_key() {
    fn op<
        K: Data,
        V: Data,
        I: IntoIterator<Item: Data> + 'static,
        F: Fn(V) -> I + Copy + 'static,
    >(
        _: F,
    ) -> Op {
        ops::op(
            OpKind::FlatMapValues,
            factories::flat_map_values::<K, V, I, F> as Factory,
            Vec::new(),
        )
    }
    let input =
        vec![to_vec(&("k".to_owned(), 3u64)).unwrap(), to_vec(&("z".to_owned(), 0u64)).unwrap()];
    let out: Vec<(String, u64)> = decode_all(
        &run(&[op::<String, u64, _, _>(|n: u64| 0..n)], std::slice::from_ref(&input)).unwrap(),
    );
    assert_eq!(out, vec![("k".to_owned(), 0), ("k".to_owned(), 1), ("k".to_owned(), 2)]);
    // Typed input (from a map) gives the same.
    let ops = [map_op(|p: (String, u64)| p), op::<String, u64, _, _>(|n: u64| 0..n)];
    let typed: Vec<(String, u64)> = decode_all(&run(&ops, &[input]).unwrap());
    assert_eq!(typed, out);
}

#[test]
fn aggregators_combine_and_merge() {
    fn agg_op<
        K: Data,
        V: Data,
        U: Data + Clone,
        S: Fn(U, V) -> U + Copy + 'static,
        C: Fn(U, U) -> U + Copy + 'static,
    >(
        kind: OpKind,
        zero: &U,
        _: S,
        _: C,
    ) -> Op {
        ops::op(
            kind,
            factories::aggregate_by_key::<K, V, U, S, C> as Factory,
            to_vec(zero).unwrap(),
        )
    }
    // Per key: (sum, count) of the values.
    let seq = |(s, c): (i64, u64), v: i64| (s + v, c + 1);
    let comb = |(s1, c1): (i64, u64), (s2, c2): (i64, u64)| (s1 + s2, c1 + c2);
    let pairs = [("a", 1i64), ("b", 10), ("a", 2), ("a", -4), ("b", 1)];
    let input: Vec<Vec<u8>> = pairs.iter().map(|p| to_vec(p).unwrap()).collect();
    let part1 = run(
        &[agg_op::<String, i64, _, _, _>(OpKind::Combine, &(0i64, 0u64), seq, comb)],
        &[input[..2].to_vec()],
    )
    .unwrap();
    let part2 = run(
        &[agg_op::<String, i64, _, _, _>(OpKind::Combine, &(0i64, 0u64), seq, comb)],
        &[input[2..].to_vec()],
    )
    .unwrap();
    let merged = run(
        &[agg_op::<String, i64, _, _, _>(OpKind::Merge, &(0i64, 0u64), seq, comb)],
        &[part1, part2],
    )
    .unwrap();
    let mut got: Vec<(String, (i64, u64))> = decode_all(&merged);
    got.sort();
    assert_eq!(got, vec![("a".to_owned(), (-1, 3)), ("b".to_owned(), (11, 2))]);

    // combine_by_key into a list, and fold_by_key with a zero.
    fn combine_op<
        K: Data,
        V: Data,
        C: Data,
        A: Fn(V) -> C + Copy + 'static,
        B: Fn(C, V) -> C + Copy + 'static,
        M: Fn(C, C) -> C + Copy + 'static,
    >(
        _: A,
        _: B,
        _: M,
    ) -> Op {
        ops::op(
            OpKind::Combine,
            factories::combine_by_key::<K, V, C, A, B, M> as Factory,
            Vec::new(),
        )
    }
    let lists = run(
        &[combine_op::<String, i64, Vec<i64>, _, _, _>(
            |v| vec![v],
            |mut c: Vec<i64>, v| {
                c.push(v);
                c
            },
            |mut a: Vec<i64>, b| {
                a.extend(b);
                a
            },
        )],
        std::slice::from_ref(&input),
    )
    .unwrap();
    let mut got: Vec<(String, Vec<i64>)> = decode_all(&lists);
    got.sort();
    assert_eq!(got, vec![("a".to_owned(), vec![1, 2, -4]), ("b".to_owned(), vec![10, 1])]);

    fn fold_op<K: Data, V: Data + Clone, F: Fn(V, V) -> V + Copy + 'static>(zero: &V, _: F) -> Op {
        ops::op(
            OpKind::Combine,
            factories::fold_by_key::<K, V, F> as Factory,
            to_vec(zero).unwrap(),
        )
    }
    let folded = run(&[fold_op::<String, i64, _>(&100, add)], &[input]).unwrap();
    let mut got: Vec<(String, i64)> = decode_all(&folded);
    got.sort();
    assert_eq!(got, vec![("a".to_owned(), 99), ("b".to_owned(), 111)]);
}

#[test]
fn fold_and_reduce_emit_one_record() {
    fn fold_op<T: Data, U: Data, F: Fn(U, T) -> U + Copy + 'static>(zero: &U, _: F) -> Op {
        ops::op(OpKind::Fold, factories::fold::<T, U, F> as Factory, to_vec(zero).unwrap())
    }
    fn reduce_op<T: Data, F: Fn(T, T) -> T + Copy + 'static>(_: F) -> Op {
        ops::op(OpKind::Reduce, factories::reduce::<T, F> as Factory, Vec::new())
    }
    let nums: Vec<Vec<u8>> = (1..=10i64).map(|n| to_vec(&n).unwrap()).collect();
    let sum_len = |acc: u64, s: String| acc + s.len() as u64;
    assert_eq!(
        decode_all::<u64>(&run(&[fold_op(&7u64, sum_len)], &[strings(&["ab", "c"])]).unwrap()),
        vec![10]
    );
    assert_eq!(decode_all::<u64>(&run(&[fold_op(&7u64, sum_len)], &[]).unwrap()), vec![7]);
    assert_eq!(decode_all::<i64>(&run(&[reduce_op(add)], &[nums]).unwrap()), vec![55]);
    assert!(run(&[reduce_op(add)], &[vec![]]).unwrap().is_empty());
}

#[test]
fn map_partitions_sees_the_whole_partition() {
    fn op<
        T: Data,
        I: IntoIterator<Item: Data> + 'static,
        F: Fn(u32, PartitionIter<T>) -> I + Copy + 'static,
    >(
        _: F,
    ) -> Op {
        ops::op(
            OpKind::MapPartitions,
            factories::map_partitions_with_index::<T, I, F> as Factory,
            Vec::new(),
        )
    }
    let f = |index: u32, records: PartitionIter<String>| {
        let all: Vec<String> = records.collect();
        vec![format!("{index}:{}", all.join(","))]
    };
    let out = run_partition(
        &[map_op(|s: String| s.to_uppercase()), op(f)],
        4,
        &[strings(&["a", "b"]), strings(&["c"])],
    )
    .unwrap();
    assert_eq!(decode_all::<String>(&out), vec!["4:A,B,C".to_owned()]);
    // A record that does not decode fails the task after the iterator ends.
    let lazy = |_: u32, records: PartitionIter<i64>| records.map(|n| n * 2);
    let error = run(&[op(lazy)], &[vec![to_vec(&1i64).unwrap(), vec![1, 2]]]).unwrap_err();
    assert!(
        error.starts_with("cannot decode record as i64: record of 2 bytes is not an i64"),
        "{error}"
    );
}

#[test]
fn with_variants_decode_their_args() {
    fn map_with_op<T: Data, U: Data, A: Data, F: Fn(T, &A) -> U + Copy + 'static>(
        _: F,
        args: &A,
    ) -> Op {
        ops::op(OpKind::Map, factories::map_with::<T, U, A, F> as Factory, to_vec(args).unwrap())
    }
    fn filter_with_op<T: Data, A: Data, F: Fn(&T, &A) -> bool + Copy + 'static>(
        _: F,
        args: &A,
    ) -> Op {
        ops::op(OpKind::Filter, factories::filter_with::<T, A, F> as Factory, to_vec(args).unwrap())
    }
    let ops = [
        filter_with_op(|s: &String, min: &usize| s.len() >= *min, &2usize),
        map_with_op(|s: String, suffix: &String| s + suffix, &"!".to_owned()),
    ];
    let out: Vec<String> = decode_all(&run(&ops, &[strings(&["a", "bb", "ccc"])]).unwrap());
    assert_eq!(out, vec!["bb!".to_owned(), "ccc!".to_owned()]);
    let bad = [map_with_op(|s: String, n: &u64| format!("{s}{n}"), &0u64)];
    let mut bad = bad.to_vec();
    bad[0].args = vec![1, 2];
    let error = Chain::new(&bad, 0).err().unwrap();
    assert!(error.contains("cannot decode the args of op rust:"), "{error}");
}

#[test]
fn errors_name_what_was_wrong() {
    let error = run(&[map_op(|n: i64| n + 1)], &[vec![vec![1, 2, 3]]]).unwrap_err();
    assert_eq!(error, "cannot decode record as i64: record of 3 bytes is not an i64");

    let mut wrong_kind = map_op(|n: i64| n + 1);
    wrong_kind.kind = OpKind::Filter;
    let error = Chain::new(&[wrong_kind], 0).err().unwrap();
    assert!(
        error.contains("names a map function") && error.ends_with("but was given kind filter"),
        "{error}"
    );

    let mut unknown = map_op(|n: i64| n + 1);
    unknown.name = "split-words".to_owned();
    let error = Chain::new(&[unknown], 0).err().unwrap();
    assert_eq!(
        error,
        "op name \"split-words\" does not name a function exported by this component"
    );

    let error =
        run(&[reduce_by_key_op::<String, i64, _>(OpKind::Combine, add)], &[vec![vec![9, 0, 0]]])
            .unwrap_err();
    assert!(error.contains("not a key/value pair"), "{error}");

    let mut chain = Chain::new(&[], 0).unwrap();
    for (data, ends, what) in [
        (&b"abc"[..], &[2u32, 1][..], "before the previous end"),
        (b"abc", &[4], "past the 3 data bytes"),
        (b"abc", &[2], "3 data bytes but the records end at 2"),
        (b"abc", &[], "3 data bytes but the records end at 0"),
    ] {
        let error = chain.push(data, ends).unwrap_err();
        assert!(error.starts_with("malformed batch: ") && error.contains(what), "{error}");
    }
    assert!(chain.push(b"", &[]).unwrap().ends.is_empty());
    assert!(chain.push(b"ab", &[0, 2, 2]).unwrap().ends == vec![0, 2, 2]);
}

mod named {
    //! Functions named by stable strings (`export_functions!`, `main!(run, functions {...})`).

    use super::*;

    fn lowercase(word: String) -> String {
        word.to_lowercase()
    }

    #[allow(clippy::ptr_arg, reason = "a filter function takes `&T`, here `&String`")]
    fn long(word: &String) -> bool {
        word.len() > 3
    }

    crate::__wisp_names!(TestNames {
        "tokenize" => flat_map(words),
        "lowercase" => map(lowercase),
        "long" => filter(long),
        "pair" => map(|w: String| (w, 1i64)),
        "sum" => reduce_by_key::<String, _>(add),
    });

    fn op(kind: OpKind, name: &str) -> Op {
        Op { kind, name: name.to_owned(), args: Vec::new() }
    }

    fn run_named(ops: &[Op], records: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
        let mut chain = Chain::named::<TestNames>(ops, 0)?;
        let (data, ends) = flatten(records);
        let mut out = Vec::new();
        for batch in [chain.push(&data, &ends)?, chain.finish()?] {
            let mut start = 0;
            for end in batch.ends {
                out.push(batch.data[start..end as usize].to_vec());
                start = end as usize;
            }
        }
        Ok(out)
    }

    #[test]
    fn named_functions_run_fused_like_rust_names() {
        let ops = [
            op(OpKind::FlatMap, "tokenize"),
            op(OpKind::Map, "lowercase"),
            op(OpKind::Filter, "long"),
            op(OpKind::Map, "pair"),
            op(OpKind::Combine, "sum"),
        ];
        let lines = ["The QUICK brown fox", "jumps over THE lazy dog", "quick quick"];
        let got: Vec<(String, i64)> = decode_all(&run_named(&ops, &strings(&lines)).unwrap());
        let mut want: HashMap<String, i64> = HashMap::new();
        for w in lines
            .iter()
            .flat_map(|l| l.split_ascii_whitespace())
            .map(str::to_lowercase)
            .filter(|w| w.len() > 3)
        {
            *want.entry(w).or_default() += 1;
        }
        let mut want: Vec<(String, i64)> = want.into_iter().collect();
        want.sort();
        assert_eq!(got, want, "combine emits in ascending key order");
    }

    #[test]
    fn named_and_rust_names_mix_in_one_chain() {
        let ops = [op(OpKind::FlatMap, "tokenize"), map_op(|w: String| w.len() as i64)];
        let got: Vec<i64> = decode_all(&run_named(&ops, &strings(&["a bb  ccc"])).unwrap());
        assert_eq!(got, vec![1, 2, 3]);
    }

    #[test]
    fn unknown_or_misused_names_are_errors_naming_the_exports() {
        let error = Chain::named::<TestNames>(&[op(OpKind::FlatMap, "split")], 0).err().unwrap();
        assert_eq!(
            error,
            "op name \"split\" does not name a function exported by this component \
             (its named functions: tokenize, lowercase, long, pair, sum)"
        );
        let error = Chain::named::<TestNames>(&[op(OpKind::Map, "tokenize")], 0).err().unwrap();
        assert!(
            error.starts_with("op tokenize names a flat-map function")
                && error.ends_with("but was given kind map"),
            "{error}"
        );
        // Unnamed components know no names at all.
        assert!(Chain::new(&[op(OpKind::FlatMap, "tokenize")], 0).is_err());
    }

    #[test]
    fn name_checks_reject_reserved_and_repeated_names() {
        crate::named::check_names(&["a", "b", "rust"]);
        for names in [&["rust:1"][..], &["a", "a"], &[""]] {
            let result = std::panic::catch_unwind(|| crate::named::check_names(names));
            assert!(result.is_err(), "{names:?} accepted");
        }
    }
}
