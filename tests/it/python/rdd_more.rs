//! The rest of the Python RDD API (`guest-sdk/python/wisp/more.py`: ordering, indexing, set operations, statistics, tree aggregation, raw sources, `format_pair`) against answers computed here.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use wisp_tests::{Rng, wisp};

use super::{python_job, results};
use crate::RUN_TIMEOUT;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Population mean and variance.
fn mean_var(v: &[i64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<i64>() as f64 / n;
    (mean, v.iter().map(|x| (*x as f64 - mean).powi(2)).sum::<f64>() / n)
}

#[test]
fn python_rest_of_the_rdd_api_matches_answers_computed_here() {
    let job = python_job("rdd_more_job");
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(29);
    let xs: Vec<i64> = (0..200).map(|_| rng.below(41) as i64 - 20).collect();
    // The ys' keys mod 5 are 0, 1 and 2 only, so subtract_by_key keeps the xs of keys 3 and 4.
    let ys: Vec<i64> = (0..40)
        .map(|_| rng.below(41) as i64 - 20)
        .filter(|y| y.rem_euclid(5) < 3)
        .take(12)
        .collect();
    let write = |name: &str, v: &[i64]| {
        let path = dir.path().join(name);
        std::fs::write(&path, v.iter().map(|x| format!("{x}\n")).collect::<String>()).unwrap();
        path
    };
    let (a, b) = (write("xs.txt", &xs), write("ys.txt", &ys));
    let latin1_lines: [&[u8]; 4] = [b"caf\xe9", b"na\xefve ok", b"", b"\xff\xfe \xe0"];
    let latin1 = dir.path().join("latin1.txt");
    std::fs::write(&latin1, latin1_lines.join(&b"\n"[..])).unwrap();
    let texts = dir.path().join("texts");
    std::fs::create_dir(&texts).unwrap();
    let files = [("one.txt", "hello world\nfoo"), ("two.txt", "naïve bar bar")];
    for (name, text) in files {
        std::fs::write(texts.join(name), text).unwrap();
    }
    let run = wisp(
        &[
            "run",
            job.to_str().unwrap(),
            "--cores",
            "3",
            "--",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            latin1.to_str().unwrap(),
            texts.to_str().unwrap(),
        ],
        RUN_TIMEOUT,
    );
    assert!(run.ok(), "the job failed: {}", run.stderr);
    let got = results(&run.stdout);

    let mut sorted = xs.clone();
    sorted.sort_unstable();
    let desc: Vec<i64> = sorted.iter().rev().copied().collect();
    let mut want: BTreeMap<&str, Value> = BTreeMap::new();
    want.insert("take_ordered", json!(sorted[..5]));
    want.insert("take_ordered_key", json!(desc[..4]));
    want.insert("top", json!(desc[..5]));
    want.insert("top_all", json!(desc));
    let mut counts: BTreeMap<i64, u64> = BTreeMap::new();
    xs.iter().for_each(|x| *counts.entry(*x).or_default() += 1);
    want.insert("count_by_value", json!(counts.iter().collect::<Vec<_>>()));
    let indexed: Vec<(i64, usize)> = xs.iter().enumerate().map(|(i, x)| (*x, i)).collect();
    want.insert("zip_with_index", json!(indexed));
    want.insert("unique_ids", json!([xs.len(), xs.len()]));
    let ys_set: BTreeSet<i64> = ys.iter().copied().collect();
    let xs_set: BTreeSet<i64> = xs.iter().copied().collect();
    let subtract: Vec<i64> = sorted.iter().copied().filter(|x| !ys_set.contains(x)).collect();
    want.insert("subtract", json!(subtract));
    want.insert("intersection", json!(xs_set.intersection(&ys_set).collect::<Vec<_>>()));
    let mut cart: Vec<(i64, i64)> = ys.iter().flat_map(|a| ys.iter().map(|b| (*a, -*b))).collect();
    cart.sort_unstable();
    want.insert("cartesian", json!(cart));
    want.insert("glom_values", json!(sorted));
    let y_keys: BTreeSet<i64> = ys.iter().map(|y| y.rem_euclid(5)).collect();
    let mut sbk: Vec<(i64, i64)> =
        xs.iter().map(|x| (x.rem_euclid(5), *x)).filter(|(k, _)| !y_keys.contains(k)).collect();
    sbk.sort_unstable();
    assert!(!sbk.is_empty());
    want.insert("subtract_by_key", json!(sbk));
    let three: Vec<i64> = sorted.iter().copied().filter(|x| x.rem_euclid(5) == 3).collect();
    want.insert("lookup3", json!(three));
    want.insert("lookup_missing", json!([]));
    let total: i64 = xs.iter().sum();
    want.insert("sum", json!(total));
    want.insert("empty", json!([0, true, [], {}]));
    let squares: i64 = xs.iter().map(|x| x * x).sum();
    for depth in 1..=3 {
        want.insert(
            ["tree_aggregate1", "tree_aggregate2", "tree_aggregate3"][depth - 1],
            json!([squares, xs.len()]),
        );
        want.insert(["tree_reduce1", "tree_reduce2", "tree_reduce3"][depth - 1], json!(desc[0]));
    }
    want.insert("tree_reduce_empty", json!("tree_reduce() of an empty RDD"));
    let raw: Vec<Vec<u8>> = latin1_lines.iter().map(|l| l.to_vec()).collect();
    want.insert("binary_lines", json!(raw));
    want.insert("binary_lengths", json!(raw.iter().map(Vec::len).collect::<Vec<_>>()));
    want.insert("whole_text_files", json!(files));
    let mut words: Vec<&str> = files.iter().flat_map(|(_, t)| t.split_whitespace()).collect();
    words.sort_unstable();
    let mut eq: Vec<String> = words.iter().map(|w| format!("{w}={}", w.chars().count())).collect();
    eq.sort();
    want.insert("format_pair", json!(eq));
    let mut arrows: Vec<String> =
        words.iter().map(|w| format!("{w} -> {}", w.chars().count() as f64 / 2.0)).collect();
    arrows.sort();
    want.insert("format_pair_float", json!(arrows));
    for (name, value) in &want {
        assert_eq!(got.get(*name), Some(value), "{name}");
    }

    // Partition sizes: every record once; statistics within rounding.
    let glom: Vec<u64> = serde_json::from_value(got["glom"].clone()).unwrap();
    assert_eq!(glom.iter().sum::<u64>(), xs.len() as u64, "{glom:?}");
    assert!(close(number(&got["sum_float"]), total as f64 / 4.0));
    let (mean, var) = mean_var(&xs);
    let n = xs.len() as f64;
    let stats = &got["stats"];
    assert_eq!(stats["count"], json!(xs.len()));
    for (field, value) in [
        ("mean", mean),
        ("sum", total as f64),
        ("min", sorted[0] as f64),
        ("max", desc[0] as f64),
        ("variance", var),
        ("stdev", var.sqrt()),
        ("sample_variance", var * n / (n - 1.0)),
        ("sample_stdev", (var * n / (n - 1.0)).sqrt()),
    ] {
        assert!(close(number(&stats[field]), value), "stats {field}: {stats}");
    }
    let (ymean, yvar) = mean_var(&ys);
    let m = ys.len() as f64;
    let want_y = [ymean, yvar, yvar.sqrt(), yvar * m / (m - 1.0), (yvar * m / (m - 1.0)).sqrt()];
    let got_y: Vec<f64> = serde_json::from_value(got["mean_variance_stdev"].clone()).unwrap();
    assert!(got_y.iter().zip(want_y).all(|(g, w)| close(*g, w)), "{got_y:?} vs {want_y:?}");
    assert_eq!(
        got.len(),
        want.len() + 4,
        "unexpected results: {:?}",
        got.keys().collect::<Vec<_>>()
    );
}
