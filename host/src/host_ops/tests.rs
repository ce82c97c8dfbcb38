//! Tests of host ops against hand-encoded expected records.

use std::collections::HashMap;

use super::*;
use crate::lineage::{CogroupOutput, JoinKind};
use crate::spill::tests::space;

/// Memory budgets (KiB) every grouping test runs under: plenty, a little (spills after the
/// first batch), none (every record spilled on its own, merged in passes).
const BUDGETS: [u64; 3] = [1 << 20, 16, 0];

/// Asserts the spill directory of a finished step holds nothing.
fn assert_no_runs(dir: &tempfile::TempDir) {
    let spill = dir.path().join("spill");
    if let Ok(entries) = std::fs::read_dir(&spill) {
        let left: Vec<_> = entries.collect();
        assert!(left.is_empty(), "spill files left: {left:?}");
    }
}

/// Ends a step and collects its output, handed out in batches of at most about `max` bytes.
fn finish_all(op: &mut dyn HostOp, max: usize) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    loop {
        let mut out = Batch::default();
        let done = op.finish(&mut out, max).unwrap();
        out.validate().unwrap();
        assert!(out.byte_len() < max + (64 << 10), "a batch of {} bytes", out.byte_len());
        all.extend(records(&out));
        if done {
            return all;
        }
    }
}

/// Ends a cogroup and collects its output.
fn finish_cogroup(c: &mut Cogroup) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    loop {
        let mut out = Batch::default();
        let done = c.finish(&mut out, 4096).unwrap();
        out.validate().unwrap();
        all.extend(records(&out));
        if done {
            return all;
        }
    }
}

/// `u32le len`, written out by hand.
fn le(n: usize) -> Vec<u8> {
    vec![n as u8, (n >> 8) as u8, (n >> 16) as u8, (n >> 24) as u8]
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A pair `(k, v)`.
fn p(k: &[u8], v: &[u8]) -> Vec<u8> {
    cat(&[&le(k.len()), k, v])
}

/// A list of elements.
fn list(elems: &[&[u8]]) -> Vec<u8> {
    elems.iter().flat_map(|e| cat(&[&le(e.len()), e])).collect()
}

/// `some(v)` / `none`.
fn some(v: &[u8]) -> Vec<u8> {
    cat(&[b"\x01", v])
}
const NONE: &[u8] = b"\x00";

fn batch(records: &[Vec<u8>]) -> Batch {
    Batch::from_records(records)
}

fn records(b: &Batch) -> Vec<Vec<u8>> {
    b.iter().map(<[u8]>::to_vec).collect()
}

/// Runs an op over batches; returns what push emitted and what finish emitted.
fn run(op: &mut dyn HostOp, batches: &[Batch]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut pushed = Batch::default();
    for b in batches {
        op.push(b, &mut pushed).unwrap();
    }
    pushed.validate().unwrap();
    (records(&pushed), finish_all(op, 4096))
}

/// Runs a step made by `make` under every budget of `budgets`; each run must give `check` what it expects.
fn under_budgets<T: HostOp>(
    budgets: &[u64],
    make: impl Fn(&SpillSpace) -> T,
    batches: &[Batch],
    check: impl Fn(Vec<Vec<u8>>, Vec<Vec<u8>>),
) {
    for &kib in budgets {
        let (dir, space) = space(kib);
        let mut op = make(&space);
        let (pushed, finished) = run(&mut op, batches);
        drop(op);
        assert_no_runs(&dir);
        check(pushed, finished);
    }
}

#[test]
fn group_by_key_literal_bytes() {
    let input = [batch(&[p(b"a", b"1"), p(b"bb", b"2")]), batch(&[p(b"a", b"3"), p(b"", b"")])];
    let expected: Vec<Vec<u8>> = vec![
        b"\x01\0\0\0a\x01\0\0\x001\x01\0\0\x003".to_vec(),
        b"\x02\0\0\0bb\x01\0\0\x002".to_vec(),
        b"\0\0\0\0\0\0\0\0".to_vec(),
    ];
    under_budgets(&BUDGETS, GroupByKey::new, &input, |pushed, finished| {
        assert!(pushed.is_empty());
        assert_eq!(finished, expected);
    });
}

#[test]
fn group_by_key_many_keys() {
    let mut expected_order = Vec::new();
    let mut expected: HashMap<Vec<u8>, Vec<Vec<u8>>> = HashMap::new();
    let mut batches = Vec::new();
    for b in 0..10 {
        let mut recs = Vec::new();
        for i in 0..3000u32 {
            let key = format!("k{}", (i * 7919 + b * 13) % 4001).into_bytes();
            let value = format!("{b}-{i}").into_bytes();
            if !expected.contains_key(&key) {
                expected_order.push(key.clone());
            }
            expected.entry(key.clone()).or_default().push(value.clone());
            recs.push(p(&key, &value));
        }
        batches.push(batch(&recs));
    }
    let want: Vec<Vec<u8>> = expected_order
        .iter()
        .map(|k| {
            let vs: Vec<&[u8]> = expected[k].iter().map(Vec::as_slice).collect();
            p(k, &list(&vs))
        })
        .collect();
    under_budgets(&BUDGETS[..2], GroupByKey::new, &batches, |_, finished| {
        assert_eq!(finished, want);
    });
}

#[test]
fn sort_by_key_is_stable_both_ways() {
    let input = [
        batch(&[p(b"b", b"1"), p(b"ab", b"1"), p(b"b", b"2")]),
        batch(&[p(b"a", b"1"), p(b"c", b"1"), p(b"a", b"2"), p(b"", b"e")]),
    ];
    let asc_want = [
        p(b"", b"e"),
        p(b"a", b"1"),
        p(b"a", b"2"),
        p(b"ab", b"1"),
        p(b"b", b"1"),
        p(b"b", b"2"),
        p(b"c", b"1"),
    ];
    under_budgets(
        &BUDGETS,
        |s| SortByKey::new(true, s),
        &input,
        |_, asc| {
            assert_eq!(asc, asc_want);
        },
    );
    let desc_want = [
        p(b"c", b"1"),
        p(b"b", b"1"),
        p(b"b", b"2"),
        p(b"ab", b"1"),
        p(b"a", b"1"),
        p(b"a", b"2"),
        p(b"", b"e"),
    ];
    under_budgets(
        &BUDGETS,
        |s| SortByKey::new(false, s),
        &input,
        |_, desc| {
            assert_eq!(desc, desc_want);
        },
    );
}

#[test]
fn sort_by_key_of_many_records_spills_and_stays_stable() {
    let recs: Vec<Vec<u8>> = (0..50_000u32)
        .map(|i| p(&((i * 7919) % 5000).to_be_bytes(), format!("v{i}").as_bytes()))
        .collect();
    let mut want = recs.clone();
    // Keys are the first bytes after the 4-byte length, all 4 long: a stable sort by record prefix.
    want.sort_by(|a, b| a[4..8].cmp(&b[4..8]));
    let batches: Vec<Batch> = recs.chunks(4000).map(batch).collect();
    under_budgets(
        &BUDGETS[..2],
        |s| SortByKey::new(true, s),
        &batches,
        |_, sorted| {
            assert_eq!(sorted, want);
        },
    );
}

#[test]
fn distinct_emits_first_occurrences_eagerly() {
    let (_dir, space) = space(1 << 20);
    let mut op = Distinct::new(&space);
    let mut out = Batch::default();
    op.push(&Batch::from_records(["x", "y", "x", ""]), &mut out).unwrap();
    assert_eq!(out, Batch::from_records(["x", "y", ""]));
    out.clear();
    op.push(&Batch::from_records(["y", "z", ""]), &mut out).unwrap();
    assert_eq!(out, Batch::from_records(["z"]));
    assert!(op.finish(&mut out, 4096).unwrap());
    assert_eq!(out, Batch::from_records(["z"]));

    let recs: Vec<Vec<u8>> =
        (0..20_000u32).map(|i| ((i * 31) % 7000).to_le_bytes().to_vec()).collect();
    let mut seen = std::collections::HashSet::new();
    let want: Vec<Vec<u8>> = recs.iter().filter(|r| seen.insert(r.to_vec())).cloned().collect();
    let batches = [batch(&recs[..9000]), batch(&recs[9000..])];
    under_budgets(&BUDGETS[..1], Distinct::new, &batches, |pushed, finished| {
        assert_eq!(pushed, want);
        assert!(finished.is_empty());
    });
    // Past its memory the rest comes at the end: first sightings still in order, each once.
    let batches: Vec<Batch> = recs.chunks(2000).map(batch).collect();
    under_budgets(&BUDGETS[1..], Distinct::new, &batches, |pushed, finished| {
        assert!(!finished.is_empty());
        assert_eq!([pushed, finished].concat(), want);
    });
}

#[test]
fn non_pairs_are_errors() {
    let bad = Batch::from_records([p(b"k", b"v"), b"xy".to_vec()]);
    let mut out = Batch::default();
    let (_dir, space) = space(1 << 20);
    for op in [&mut GroupByKey::new(&space) as &mut dyn HostOp, &mut SortByKey::new(true, &space)] {
        let err = op.push(&bad, &mut out).unwrap_err();
        assert!(matches!(err, HostOpError::NotAPair { index: 1, .. }), "{err}");
    }
    let mut c = Cogroup::new(2, CogroupOutput::Cogroup, &space);
    assert!(matches!(c.push_input(0, &bad), Err(HostOpError::NotAPair { index: 1, .. })));
    assert!(matches!(
        c.push_input(2, &Batch::default()),
        Err(HostOpError::NoSuchInput { input: 2, inputs: 2 })
    ));
    let mut join3 = Cogroup::new(3, CogroupOutput::Join(JoinKind::Inner), &space);
    assert!(matches!(
        join3.push_input(0, &Batch::default()),
        Err(HostOpError::InputCount { inputs: 3, .. })
    ));
    assert!(matches!(join3.finish(&mut out, 1), Err(HostOpError::InputCount { inputs: 3, .. })));
    let mut none = Cogroup::new(0, CogroupOutput::Cogroup, &space);
    assert!(matches!(none.finish(&mut out, 1), Err(HostOpError::InputCount { inputs: 0, .. })));
    let malformed = Batch { data: b"abc".to_vec(), ends: vec![5] };
    assert!(matches!(
        Distinct::new(&space).push(&malformed, &mut out),
        Err(HostOpError::Malformed { .. })
    ));
}

/// Left: k1 → a, b; k2 → c; k3 → x (left only). Right: k1 → X, Y; k2 → Z; k4 → W (right only).
/// The right side's first batch arrives between the left's two, so k4 is seen before k3.
/// Runs under every budget, which must all give the same output.
fn run_join(kind: JoinKind) -> Vec<Vec<u8>> {
    let outputs: Vec<Vec<Vec<u8>>> = BUDGETS
        .iter()
        .map(|&kib| {
            let (dir, space) = space(kib);
            let mut j = Cogroup::new(2, CogroupOutput::Join(kind), &space);
            j.push_input(0, &batch(&[p(b"k1", b"a"), p(b"k2", b"c")])).unwrap();
            j.push_input(1, &batch(&[p(b"k4", b"W"), p(b"k1", b"X"), p(b"k2", b"Z")])).unwrap();
            j.push_input(0, &batch(&[p(b"k1", b"b"), p(b"k3", b"x")])).unwrap();
            j.push_input(1, &batch(&[p(b"k1", b"Y")])).unwrap();
            let out = finish_cogroup(&mut j);
            drop(j);
            assert_no_runs(&dir);
            out
        })
        .collect();
    assert!(outputs.iter().all(|o| *o == outputs[0]), "{kind:?}: budgets disagree");
    outputs[0].clone()
}

#[test]
fn inner_join() {
    let vw = |k: &[u8], v: &[u8], w: &[u8]| p(k, &cat(&[&le(v.len()), v, w]));
    let want = vec![
        vw(b"k1", b"a", b"X"),
        vw(b"k1", b"a", b"Y"),
        vw(b"k1", b"b", b"X"),
        vw(b"k1", b"b", b"Y"),
        vw(b"k2", b"c", b"Z"),
    ];
    assert_eq!(run_join(JoinKind::Inner), want);
    assert_eq!(want[0], b"\x02\0\0\0k1\x01\0\0\0aX");
}

#[test]
fn left_outer_join() {
    let v_ow = |k: &[u8], v: &[u8], w: &[u8]| p(k, &cat(&[&le(v.len()), v, w]));
    let want = vec![
        v_ow(b"k1", b"a", &some(b"X")),
        v_ow(b"k1", b"a", &some(b"Y")),
        v_ow(b"k1", b"b", &some(b"X")),
        v_ow(b"k1", b"b", &some(b"Y")),
        v_ow(b"k2", b"c", &some(b"Z")),
        v_ow(b"k3", b"x", NONE),
    ];
    assert_eq!(run_join(JoinKind::LeftOuter), want);
    assert_eq!(want[5], b"\x02\0\0\0k3\x01\0\0\0x\x00");
}

#[test]
fn right_outer_join() {
    let ov_w = |k: &[u8], ov: &[u8], w: &[u8]| p(k, &cat(&[&le(ov.len()), ov, w]));
    let want = vec![
        ov_w(b"k1", &some(b"a"), b"X"),
        ov_w(b"k1", &some(b"a"), b"Y"),
        ov_w(b"k1", &some(b"b"), b"X"),
        ov_w(b"k1", &some(b"b"), b"Y"),
        ov_w(b"k2", &some(b"c"), b"Z"),
        ov_w(b"k4", NONE, b"W"),
    ];
    assert_eq!(run_join(JoinKind::RightOuter), want);
    assert_eq!(want[5], b"\x02\0\0\0k4\x01\0\0\0\x00W");
    assert_eq!(want[0], b"\x02\0\0\0k1\x02\0\0\0\x01aX");
}

#[test]
fn full_outer_join() {
    let ov_ow = |k: &[u8], ov: &[u8], ow: &[u8]| p(k, &cat(&[&le(ov.len()), ov, ow]));
    let want = vec![
        ov_ow(b"k1", &some(b"a"), &some(b"X")),
        ov_ow(b"k1", &some(b"a"), &some(b"Y")),
        ov_ow(b"k1", &some(b"b"), &some(b"X")),
        ov_ow(b"k1", &some(b"b"), &some(b"Y")),
        ov_ow(b"k2", &some(b"c"), &some(b"Z")),
        ov_ow(b"k4", NONE, &some(b"W")),
        ov_ow(b"k3", &some(b"x"), NONE),
    ];
    assert_eq!(run_join(JoinKind::FullOuter), want);
    assert_eq!(want[5], b"\x02\0\0\0k4\x01\0\0\0\x00\x01W");
}

#[test]
fn cogroup_of_three_inputs() {
    let tuple = |l1: &[&[u8]], l2: &[&[u8]], l3: &[&[u8]]| {
        let (l1, l2) = (list(l1), list(l2));
        cat(&[&le(l1.len()), &l1, &le(l2.len()), &l2, &list(l3)])
    };
    let want = vec![
        p(b"z", &tuple(&[], &[], &[b"3"])),
        p(b"a", &tuple(&[b"1", b"2"], &[], &[b"4"])),
        p(b"m", &tuple(&[], &[b""], &[])),
    ];
    assert_eq!(want[2], b"\x01\0\0\0m\0\0\0\0\x04\0\0\0\0\0\0\0");
    for kib in BUDGETS {
        let (dir, space) = space(kib);
        let mut c = Cogroup::new(3, CogroupOutput::Cogroup, &space);
        c.push_input(2, &batch(&[p(b"z", b"3"), p(b"a", b"4")])).unwrap();
        c.push_input(0, &batch(&[p(b"a", b"1"), p(b"a", b"2")])).unwrap();
        c.push_input(1, &batch(&[p(b"m", b"")])).unwrap();
        assert_eq!(finish_cogroup(&mut c), want, "{kib} KiB");
        drop(c);
        assert_no_runs(&dir);

        let mut single = Cogroup::new(1, CogroupOutput::Cogroup, &space);
        single.push_input(0, &batch(&[p(b"k", b"v"), p(b"k", b"w")])).unwrap();
        assert_eq!(finish_cogroup(&mut single), vec![p(b"k", &list(&[b"v", b"w"]))]);
    }
}

#[test]
fn joins_of_many_keys_spill_and_match_nested_loops() {
    // Left: 20,000 pairs over 3,000 keys; right: 6,000 pairs over keys 1,500..4,500.
    let left: Vec<(Vec<u8>, Vec<u8>)> = (0..20_000u32)
        .map(|i| (format!("k{}", (i * 7919) % 3000).into_bytes(), format!("l{i}").into_bytes()))
        .collect();
    let right: Vec<(Vec<u8>, Vec<u8>)> = (0..6000u32)
        .map(|i| (format!("k{}", 1500 + i % 3000).into_bytes(), format!("r{i}").into_bytes()))
        .collect();
    // Inner join by nested loops, keys in first-seen order over left then right.
    let mut order: Vec<&[u8]> = Vec::new();
    for (k, _) in left.iter().chain(&right) {
        if !order.contains(&k.as_slice()) {
            order.push(k);
        }
    }
    let mut want = Vec::new();
    for k in &order {
        for (_, v) in left.iter().filter(|(lk, _)| lk == k) {
            for (_, w) in right.iter().filter(|(rk, _)| rk == k) {
                want.push(p(k, &cat(&[&le(v.len()), v, w])));
            }
        }
    }
    for kib in [1 << 20, 16] {
        let (dir, space) = space(kib);
        let mut j = Cogroup::new(2, CogroupOutput::Join(JoinKind::Inner), &space);
        for chunk in left.chunks(3000) {
            let recs: Vec<Vec<u8>> = chunk.iter().map(|(k, v)| p(k, v)).collect();
            j.push_input(0, &batch(&recs)).unwrap();
        }
        for chunk in right.chunks(3000) {
            let recs: Vec<Vec<u8>> = chunk.iter().map(|(k, v)| p(k, v)).collect();
            j.push_input(1, &batch(&recs)).unwrap();
        }
        assert_eq!(finish_cogroup(&mut j), want, "{kib} KiB");
        drop(j);
        assert_no_runs(&dir);
    }
}

fn sample(
    with_replacement: bool,
    fraction: f64,
    seed: u64,
    partition: u32,
    n: u32,
) -> Vec<Vec<u8>> {
    let recs: Vec<Vec<u8>> = (0..n).map(|i| i.to_be_bytes().to_vec()).collect();
    let mut op = Sampler::new(with_replacement, fraction, seed, partition);
    let (pushed, finished) =
        run(&mut op, &[batch(&recs[..(n / 2) as usize]), batch(&recs[(n / 2) as usize..])]);
    assert!(finished.is_empty());
    pushed
}

#[test]
fn bernoulli_sampling_is_reproducible_and_unbiased() {
    let a = sample(false, 0.3, 42, 0, 100_000);
    assert_eq!(a, sample(false, 0.3, 42, 0, 100_000));
    assert_ne!(a, sample(false, 0.3, 42, 1, 100_000));
    assert_ne!(a, sample(false, 0.3, 43, 0, 100_000));
    // Mean 30,000, standard deviation ~145.
    assert!((29_400..=30_600).contains(&a.len()), "{}", a.len());
    assert!(a.windows(2).all(|w| w[0] < w[1]), "kept in order, each once");
    assert!(sample(false, 0.0, 1, 0, 1000).is_empty());
    assert!(sample(false, f64::NAN, 1, 0, 1000).is_empty());
    assert_eq!(sample(false, 1.0, 1, 0, 1000).len(), 1000);
}

#[test]
fn poisson_sampling_has_the_right_mean_and_variance() {
    for (fraction, n) in [(0.5, 100_000u32), (2.5, 40_000), (45.0, 4_000)] {
        let out = sample(true, fraction, 7, 3, n);
        assert_eq!(out, sample(true, fraction, 7, 3, n));
        let mut counts = vec![0u64; n as usize];
        for r in &out {
            counts[u32::from_be_bytes(r[..4].try_into().unwrap()) as usize] += 1;
        }
        let mean = counts.iter().sum::<u64>() as f64 / n as f64;
        let var = counts.iter().map(|&c| (c as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        let tolerance = 6.0 * (fraction / n as f64).sqrt();
        assert!((mean - fraction).abs() < tolerance, "fraction {fraction}: mean {mean}");
        assert!((var / fraction - 1.0).abs() < 0.1, "fraction {fraction}: variance {var}");
        assert!(out.windows(2).all(|w| w[0] <= w[1]), "copies are adjacent and in order");
    }
}

#[test]
fn factories_build_the_steps() {
    let mut out = Batch::default();
    let (_dir, space) = space(1 << 20);
    let mut sort = reduce_op(&ReduceStep::Sort { ascending: false }, &space);
    sort.push(&batch(&[p(b"a", b""), p(b"b", b"")]), &mut out).unwrap();
    assert!(sort.finish(&mut out, 4096).unwrap());
    assert_eq!(records(&out), vec![p(b"b", b""), p(b"a", b"")]);
    let mut s = narrow_op(&HostStep::Sample { with_replacement: false, fraction: 1.0, seed: 0 }, 0);
    out.clear();
    s.push(&Batch::from_records(["r"]), &mut out).unwrap();
    assert_eq!(out, Batch::from_records(["r"]));
}
