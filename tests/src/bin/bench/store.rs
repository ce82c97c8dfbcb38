//! The `--only store` section: reading the corpus from a real S3-compatible server (moto on 127.0.0.1) against the same bytes on local disk, in the same run, and the cost of the rename-free commit per part file.
//!
//! Every figure is dominated by moto (a Python server on the same two cores),
//! not by Wisp: it measures the store path's overhead on this machine, not S3's.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wisp_tests::moto::Moto;
use wisp_tests::{API_JOB, WORDCOUNT, run_bounded, wisp_bin};

use super::{count_output, median, native_word_count, read_all};

/// Part files of the commit measurement.
const COMMIT_PARTS: [u32; 2] = [8, 64];

/// One `wisp run` with the server's environment: wall time and stderr.
fn run(moto: &Moto, job: &str, conf: &[&str], args: &[&str]) -> anyhow::Result<(f64, String)> {
    let mut cmd = Command::new(wisp_bin());
    cmd.envs(moto.env()).env("WISP_LOG", "info").args(["run", job, "--cores", "2"]);
    for c in conf {
        cmd.args(["--conf", c]);
    }
    cmd.arg("--").args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let r = run_bounded(cmd, Duration::from_secs(1800));
    let wall = start.elapsed().as_secs_f64();
    anyhow::ensure!(r.ok(), "wisp run failed: {}", r.stderr.trim());
    Ok((wall, r.stdout + &r.stderr))
}

/// The `commit_ms=` of the driver's `committed output` log line.
fn commit_ms(log: &str) -> Option<f64> {
    let line = log.lines().find(|l| l.contains("committed output"))?;
    let field = line.split_whitespace().find_map(|w| w.strip_prefix("commit_ms="))?;
    field.parse().ok()
}

pub(super) fn bench_store(data_dir: &Path, corpus: &Path, runs: usize) -> anyhow::Result<()> {
    let bytes = std::fs::metadata(corpus)?.len();
    let mb = bytes as f64 / 1e6;
    let moto = Moto::start();
    moto.create_bucket("bench");
    let upload = Instant::now();
    moto.put("bench", "corpus/corpus.txt", std::fs::read(corpus)?);
    let upload_s = upload.elapsed().as_secs_f64();
    read_all(corpus)?;
    let corpus_s = corpus.display().to_string();
    let text = std::fs::read(corpus)?;
    let lines = text.iter().filter(|b| **b == b'\n').count()
        + usize::from(text.last().is_some_and(|b| *b != b'\n'));
    let want = format!("count={lines}");
    drop(text);
    // Read throughput: a line count (no guest code: the host reads and counts), alternated.
    let (mut local, mut store) = (Vec::new(), Vec::new());
    for i in 0..=runs {
        for (input, times) in
            [(&corpus_s, &mut local), (&"s3://bench/corpus".to_string(), &mut store)]
        {
            let (wall, out) = run(&moto, API_JOB, &[], &["count", input])?;
            anyhow::ensure!(out.lines().any(|l| l == want), "{input}: expected {want} in {out}");
            if i > 0 {
                times.push(wall);
            }
        }
    }
    // moto's own speed: the whole object in one GET by the test's client, the same server.
    let get = Instant::now();
    let got = moto.get("bench", "corpus/corpus.txt").len() as u64;
    let get_s = get.elapsed().as_secs_f64();
    anyhow::ensure!(got == bytes, "the object read back has {got} bytes");
    // And in 8 MiB ranged GETs one after the other (the pattern of a split's reader, without Wisp).
    let ranged = Instant::now();
    let mut at = 0;
    while at < bytes {
        let end = (at + (8 << 20)).min(bytes);
        at += moto.get_range("bench", "corpus/corpus.txt", at..end).len() as u64;
    }
    let ranged_s = ranged.elapsed().as_secs_f64();
    let (l, s) = (median(local), median(store));
    println!("store: read {mb:.0} MB (moto upload {:.1} MB/s, not Wisp)", mb / upload_s);
    println!("  line count, local disk: {:.2}s ({:.0} MB/s)", l, mb / l);
    println!(
        "  line count, moto s3://: {:.2}s ({:.0} MB/s), {:.2}x the local time",
        s,
        mb / s,
        s / l
    );
    println!(
        "  one plain GET of the object (moto's ceiling): {get_s:.2}s ({:.0} MB/s); the s3 line count reads at {:.0}% of that",
        mb / get_s,
        100.0 * get_s / s
    );
    println!(
        "  8 MiB ranged GETs of the object by the test's client: {ranged_s:.2}s ({:.0} MB/s); the s3 line count (2 tasks) reads at {:.0}% of that",
        mb / ranged_s,
        100.0 * ranged_s / s
    );

    // Word count both ways, checked against the native count.
    let threads = 2;
    let expected = native_word_count(corpus, threads)?;
    let scratch = tempfile::tempdir_in(data_dir)?;
    let out = scratch.path().join("wc");
    let (wl, _) = run(&moto, WORDCOUNT, &[], &[&corpus_s, &out.display().to_string()])?;
    anyhow::ensure!(count_output(&out)? == expected, "local word count differs");
    let (ws, _) = run(&moto, WORDCOUNT, &[], &["s3://bench/corpus", "s3://bench/wc"])?;
    println!("  word count local→local {wl:.2}s, s3→s3 {ws:.2}s ({:.2}x)", ws / wl);

    // Commit cost: the same small output with N part files, to local disk and to the store.
    for n in COMMIT_PARTS {
        let par = format!("wisp.default.parallelism={n}");
        let small = scratch.path().join(format!("small-{n}.txt"));
        std::fs::write(&small, "a b c d e f g h i j k l m n o p\n".repeat(1000))?;
        let small_s = small.display().to_string();
        let out = scratch.path().join(format!("commit-{n}"));
        let (local_wall, _) =
            run(&moto, WORDCOUNT, &[&par], &[&small_s, &out.display().to_string()])?;
        let url = format!("s3://bench/commit-{n}");
        let (store_wall, log) = run(&moto, WORDCOUNT, &[&par], &[&small_s, &url])?;
        let ms = commit_ms(&log).ok_or_else(|| anyhow::anyhow!("no `committed output` line"))?;
        println!(
            "  commit of {n} part files: {ms:.1} ms ({:.2} ms per part file); job {local_wall:.2}s to local disk, {store_wall:.2}s to s3 (+{:.1} ms per part file)",
            ms / n as f64,
            (store_wall - local_wall) * 1e3 / n as f64
        );
    }
    Ok(())
}
