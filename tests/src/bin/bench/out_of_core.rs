//! The out-of-core section of `wisp-bench`: TeraSort under a 512 MiB executor budget against the same sort unconstrained and PySpark's `sortByKey`, and reduce-side operators whose partitions are 4× the budget.
//!
//! TeraSort input: 100-byte lines, a random 10-character key (gensort's ASCII
//! alphabet) and 89 characters of value, generated deterministically under
//! `target/bench-data`. Each run's output is verified here: part files in
//! order are globally sorted by key, and the lines are a permutation of the
//! input (count and an order-independent checksum). Peak RSS is the whole
//! `wisp run` process's high-water mark.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use wisp_tests::{API_JOB, Rng};

use super::joins::{pyspark, run_pyspark};
use super::{ChildRun, run_child};

/// The executor budget of the constrained runs.
const BUDGET_MIB: u64 = 512;
/// Reduce partitions of the sort (each a quarter of 4 GiB: 2× the budget).
const SORT_PARTS: &str = "8";

/// Lines and an order-independent checksum of a set of lines.
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
struct Digest {
    lines: u64,
    checksum: u64,
}

impl Digest {
    fn add(&mut self, line: &[u8]) {
        // FNV-1a per line, summed: equal for any order of the same lines.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in line {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        self.lines += 1;
        self.checksum = self.checksum.wrapping_add(h);
    }
}

/// Runs the section over `mib` MiB of TeraSort records (0: only the grouping part, over 1 GiB of pairs).
pub(crate) fn bench_out_of_core(data_dir: &Path, mib: u64) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir_in(data_dir)?;
    run_child(API_JOB, &["--cores", "2"], &["tiny-tasks", "1"])?;
    if mib == 0 {
        return bench_grouping(data_dir, 1024, &scratch);
    }
    let (input, expected) = terasort_input(data_dir, mib)?;
    let s = |p: &Path| p.display().to_string();
    println!(
        "out-of-core: TeraSort of {} records ({mib} MiB), {SORT_PARTS} reduce partitions, 2 cores",
        expected.lines
    );
    let budget = format!("wisp.executor.memory={BUDGET_MIB}m");
    let mut runs: Vec<(&str, ChildRun)> = Vec::new();
    for (name, flags) in [
        ("wisp, executor memory 512m", vec!["--cores", "2", "--conf", budget.as_str()]),
        ("wisp, default memory (60% of RAM)", vec!["--cores", "2"]),
    ] {
        let out = scratch.path().join(format!("sorted-{}", runs.len()));
        let run = run_child(API_JOB, &flags, &["terasort", &s(&input), &s(&out), SORT_PARTS])?;
        verify_sorted(&out, expected)?;
        std::fs::remove_dir_all(&out)?;
        println!(
            "  {name:<36} {:>8.2} s  peak RSS {:>6} MiB  (sorted, permutation of the input)",
            run.wall.as_secs_f64(),
            run.peak_rss_kib >> 10
        );
        runs.push((name, run));
    }
    let (constrained, free) = (&runs[0].1, &runs[1].1);
    println!(
        "  constrained / unconstrained time: {:.2}; peak RSS over the budget: {} MiB",
        constrained.wall.as_secs_f64() / free.wall.as_secs_f64(),
        (constrained.peak_rss_kib >> 10) as i64 - BUDGET_MIB as i64
    );
    match pyspark() {
        Ok(python) => {
            let out = scratch.path().join("sorted-pyspark");
            let r = run_pyspark(&python, &["terasort", &s(&input), &s(&out), SORT_PARTS])?;
            verify_sorted(&out, expected)?;
            println!(
                "  pyspark sortByKey (local[2]):        {:>8.2} s  ({:.2} s job)  pyspark / wisp 512m: {:.2}",
                r.wall.as_secs_f64(),
                r.job.as_secs_f64(),
                r.wall.as_secs_f64() / constrained.wall.as_secs_f64()
            );
        }
        Err(why) => println!("  pyspark baseline skipped: {why}"),
    }
    bench_grouping(data_dir, mib / 4, &scratch)
}

/// The executor budget of the grouping runs: a quarter of each reduce partition.
const GROUPING_BUDGET_MIB: u64 = 64;

/// `group_by_key`, a guest `reduce_by_key` and a join (api-job `out-of-core`) over `mib` MiB of
/// pairs in 2 reduce partitions, each about 4× a 64 MiB budget, against the same run unconstrained.
fn bench_grouping(data_dir: &Path, mib: u64, scratch: &tempfile::TempDir) -> anyhow::Result<()> {
    let (input, expected) = pairs_input(data_dir, mib)?;
    let s = |p: &Path| p.display().to_string();
    println!(
        "out-of-core: group_by_key, reduce_by_key, join (and sort, distinct) of {} pairs ({mib} MiB), 2 reduce partitions",
        expected.pairs
    );
    let budget = format!("wisp.executor.memory={GROUPING_BUDGET_MIB}m");
    let mut walls = Vec::new();
    for (name, flags) in [
        ("wisp, executor memory 64m", vec!["--cores", "2", "--conf", budget.as_str()]),
        ("wisp, default memory", vec!["--cores", "2"]),
    ] {
        let out = scratch.path().join(format!("grouping-{}", walls.len()));
        let run = run_child(API_JOB, &flags, &["out-of-core", &s(&input), &s(&out)])?;
        for (what, want) in [
            ("grouped", expected.grouped),
            ("reduced", expected.reduced),
            ("joined", expected.joined),
            ("sorted", expected.pairs_digest),
        ] {
            let got = digest_dir(&out.join(what))?;
            anyhow::ensure!(got == want, "{name}: {what} output {got:?} is not {want:?}");
        }
        std::fs::remove_dir_all(&out)?;
        println!(
            "  {name:<36} {:>8.2} s  peak RSS {:>6} MiB  (every output checked)",
            run.wall.as_secs_f64(),
            run.peak_rss_kib >> 10
        );
        walls.push(run.wall.as_secs_f64());
    }
    println!("  constrained / unconstrained time: {:.2}", walls[0] / walls[1]);
    Ok(())
}

/// The digests of the expected outputs of api-job `out-of-core` over a pairs file.
struct PairsAnswer {
    pairs: u64,
    pairs_digest: Digest,
    grouped: Digest,
    reduced: Digest,
    joined: Digest,
}

/// `k<N> <V>` lines over 2M keys (made once), and the digests of what each job must write.
fn pairs_input(dir: &Path, mib: u64) -> anyhow::Result<(PathBuf, PairsAnswer)> {
    const KEYS: u64 = 2_000_000;
    let path = dir.join(format!("pairs-{mib}m.txt"));
    let generate = |mut each: Box<dyn FnMut(u64, i64) -> anyhow::Result<()> + '_>| {
        let mut rng = Rng::new(77);
        let mut bytes = 0u64;
        while bytes < mib << 20 {
            let (k, v) = (rng.below(KEYS), rng.below(1000) as i64);
            bytes += format!("k{k} {v}\n").len() as u64;
            each(k, v)?;
        }
        Ok::<_, anyhow::Error>(())
    };
    let mut sums: Vec<(u64, i64)> = vec![(0, 0); KEYS as usize];
    let complete = std::fs::metadata(&path).is_ok_and(|m| m.len() >= mib << 20);
    let mut out = if complete { None } else { Some(BufWriter::new(std::fs::File::create(&path)?)) };
    let mut answer = PairsAnswer {
        pairs: 0,
        pairs_digest: Digest::default(),
        grouped: Digest::default(),
        reduced: Digest::default(),
        joined: Digest::default(),
    };
    generate(Box::new(|k, v| {
        let line = format!("k{k} {v}");
        if let Some(out) = out.as_mut() {
            writeln!(out, "{line}")?;
        }
        answer.pairs += 1;
        answer.pairs_digest.add(line.as_bytes());
        let e = &mut sums[k as usize];
        e.0 += 1;
        e.1 += v;
        Ok(())
    }))?;
    if let Some(mut out) = out {
        out.flush()?;
    }
    for (k, &(n, sum)) in sums.iter().enumerate().filter(|(_, e)| e.0 > 0) {
        answer.grouped.add(format!("k{k} {n} {sum}").as_bytes());
        answer.reduced.add(format!("k{k} {sum}").as_bytes());
    }
    generate(Box::new(|k, v| {
        answer.joined.add(format!("k{k} {} {v}", sums[k as usize].1).as_bytes());
        Ok(())
    }))?;
    Ok((path, answer))
}

/// The digest of every line of an output directory's part files.
fn digest_dir(dir: &Path) -> anyhow::Result<Digest> {
    let mut digest = Digest::default();
    let mut line = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("part-")) {
            continue;
        }
        let mut r = BufReader::with_capacity(1 << 20, std::fs::File::open(&path)?);
        loop {
            line.clear();
            if r.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            digest.add(line.strip_suffix(b"\n").unwrap_or(&line));
        }
    }
    Ok(digest)
}

/// The input file (made once) and its digest.
fn terasort_input(dir: &Path, mib: u64) -> anyhow::Result<(PathBuf, Digest)> {
    let path = dir.join(format!("terasort-{mib}m.txt"));
    let records = (mib << 20) / 100;
    const ALPHABET: &[u8] = b" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
    let mut digest = Digest::default();
    let mut rng = Rng::new(2026);
    let complete = std::fs::metadata(&path).is_ok_and(|m| m.len() == records * 100);
    let mut out = if complete {
        None
    } else {
        eprintln!("generating {mib} MiB of TeraSort records at {}", path.display());
        Some(BufWriter::new(std::fs::File::create(&path)?))
    };
    let mut line = [0u8; 100];
    for i in 0..records {
        for b in &mut line[..10] {
            *b = ALPHABET[rng.below(ALPHABET.len() as u64) as usize];
        }
        // The value: the record number, then filler.
        let value = format!("{i:020}");
        line[10..30].copy_from_slice(value.as_bytes());
        for (j, b) in line[30..99].iter_mut().enumerate() {
            *b = b'A' + ((i as usize + j) % 26) as u8;
        }
        line[99] = b'\n';
        digest.add(&line[..99]);
        if let Some(out) = out.as_mut() {
            out.write_all(&line)?;
        }
    }
    if let Some(mut out) = out {
        out.flush()?;
    }
    Ok((path, digest))
}

/// Checks an output directory: keys never decrease across part files in order, and the lines are the input's.
fn verify_sorted(dir: &Path, expected: Digest) -> anyhow::Result<()> {
    let mut parts: Vec<PathBuf> =
        std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    parts.retain(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("part-")));
    parts.sort();
    let mut digest = Digest::default();
    let mut last_key: Vec<u8> = Vec::new();
    let mut line = Vec::new();
    for part in parts {
        let mut r = BufReader::with_capacity(1 << 20, std::fs::File::open(&part)?);
        loop {
            line.clear();
            if r.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            let key = &text[..text.len().min(10)];
            anyhow::ensure!(key >= last_key.as_slice(), "{} is not sorted", part.display());
            last_key.clear();
            last_key.extend_from_slice(key);
            digest.add(text);
        }
    }
    anyhow::ensure!(digest == expected, "output {digest:?} is not the input's {expected:?}");
    Ok(())
}
