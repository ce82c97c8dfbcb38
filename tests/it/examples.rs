//! The join and pagerank examples, checked against answers computed by the test itself.

use std::collections::{BTreeMap, BTreeSet};

use wisp_tests::{JOIN, PAGERANK, Rng, read_output_lines, reference_join, wisp};

use crate::RUN_TIMEOUT;

#[test]
fn join_example_matches_reference_inner_join() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(3);
    let mut left = String::new();
    let mut right = String::new();
    for i in 0..3000 {
        left.push_str(&format!("k{}\tl{i}\n", rng.below(500)));
    }
    for i in 0..2000 {
        right.push_str(&format!("k{}\tr{i}\twith\ttabs\n", rng.below(700)));
    }
    left.push_str("keyonly\n");
    right.push_str("keyonly\n");
    let (l, r, out) = (dir.path().join("l.tsv"), dir.path().join("r.tsv"), dir.path().join("out"));
    std::fs::write(&l, &left).unwrap();
    std::fs::write(&r, &right).unwrap();
    let run = wisp(
        &[
            "run",
            JOIN,
            "--cores",
            "2",
            "--",
            l.to_str().unwrap(),
            r.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
        RUN_TIMEOUT,
    );
    assert!(run.ok(), "{}", run.stderr);

    let expected = reference_join(&left, &right);
    let mut got = read_output_lines(&out);
    got.sort();
    assert!(expected.len() > 1000, "the data should produce many matches");
    assert_eq!(got, expected);
}

/// Spark's SparkPageRank, computed directly.
/// Checks the `page<TAB>rank` lines of a PageRank output directory against `expected`.
pub(crate) fn check_ranks(out: &std::path::Path, expected: &BTreeMap<String, f64>) {
    let mut got = BTreeMap::new();
    for line in read_output_lines(out) {
        let (page, rank) = line.split_once('\t').expect("page<TAB>rank");
        got.insert(page.to_string(), rank.parse::<f64>().expect("a float"));
    }
    assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (page, want) in expected {
        let have = got[page];
        // Sums of the same terms in another order differ in the last bits only.
        assert!((have - want).abs() <= 1e-9 * want.abs(), "{page}: {have} vs {want}");
    }
}

pub(crate) fn reference_pagerank(edges: &str, iterations: usize) -> BTreeMap<String, f64> {
    let mut links: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in edges.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() >= 2 {
            links.entry(parts[0].to_string()).or_default().insert(parts[1].to_string());
        }
    }
    let mut ranks: BTreeMap<String, f64> = links.keys().map(|k| (k.clone(), 1.0)).collect();
    for _ in 0..iterations {
        let mut sums: BTreeMap<String, f64> = BTreeMap::new();
        for (src, urls) in &links {
            if let Some(rank) = ranks.get(src) {
                for u in urls {
                    *sums.entry(u.clone()).or_insert(0.0) += rank / urls.len() as f64;
                }
            }
        }
        ranks = sums.into_iter().map(|(k, s)| (k, 0.15 + 0.85 * s)).collect();
    }
    ranks
}

#[test]
fn pagerank_example_matches_spark_pagerank() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(5);
    let mut edges = String::new();
    for _ in 0..4000 {
        edges.push_str(&format!("p{} p{}\n", rng.below(300), rng.below(400)));
    }
    edges.push_str("p1 p2\np1 p2\nlonely\n\n  p7\tp8  extra\n");
    let (e, out) = (dir.path().join("edges.txt"), dir.path().join("ranks"));
    std::fs::write(&e, &edges).unwrap();
    let run = wisp(
        &["run", PAGERANK, "--cores", "2", "--", e.to_str().unwrap(), "5", out.to_str().unwrap()],
        RUN_TIMEOUT,
    );
    assert!(run.ok(), "{}", run.stderr);
    check_ranks(&out, &reference_pagerank(&edges, 5));
}
