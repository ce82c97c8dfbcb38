//! The joins section of `wisp-bench`: a 5M × 1M-row join and 10 iterations of PageRank on a 2M-edge graph, Wisp against PySpark's RDD programs over the same files in the same run.
//!
//! The inputs are generated deterministically under `target/bench-data`
//! (join: `k<TAB>v` lines, left key `i % 1,000,000`, right keys a permutation
//! of `0..1,000,000`; graph: `pA pB` lines with uniform random ends). Wisp runs
//! in local mode with 2 cores (`api-job join-checksum`, `examples/pagerank`);
//! PySpark runs `bench/pyspark_jobs.py` on `local[2]` from a venv under
//! `target/pyspark-venv` that this section creates with pip on first use (the
//! baseline is skipped, with a message, when `java` or the install is
//! missing). Both answers are checked against a native computation: the
//! join's row count and checksum, every page's rank within 1e-9 (sums of the
//! same terms in another order).

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use wisp_tests::{API_JOB, PAGERANK, REPO_ROOT, Rng, read_output_lines, run_bounded};

use super::{ChildRun, run_child};

const LEFT_ROWS: u64 = 5_000_000;
const KEYS: u64 = 1_000_000;
const EDGES: u64 = 2_000_000;
const PAGES: u64 = 250_000;
const ITERATIONS: usize = 10;
/// Bound on one PySpark run (the JVM's start included).
const PYSPARK_TIMEOUT: Duration = Duration::from_secs(3600);

/// The join's answer: rows and the sum of `k*1000003 + v*31 + w` modulo 2^64.
#[derive(Debug, PartialEq, Eq)]
struct JoinAnswer {
    count: u64,
    checksum: u64,
}

/// A PySpark run: its wall time, the job time it measured itself, its stdout.
pub(super) struct BaselineRun {
    pub(super) wall: Duration,
    pub(super) job: Duration,
    pub(super) stdout: String,
}

/// Runs the section.
pub(crate) fn bench_joins(data_dir: &Path) -> anyhow::Result<()> {
    let (left, right, join_expected) = join_inputs(data_dir)?;
    let (edges, ranks_expected) = graph_input(data_dir)?;
    let scratch = tempfile::tempdir_in(data_dir)?;
    let baseline = pyspark();
    let spark_version = match &baseline {
        Ok(python) => {
            let mut cmd = Command::new(python);
            cmd.args(["-c", "import pyspark; print(pyspark.__version__)"]);
            piped(cmd, Duration::from_secs(60)).stdout.trim().to_string()
        }
        Err(_) => String::new(),
    };

    // Warm the compile cache so no timed run compiles a component.
    let small = scratch.path().join("small-edges.txt");
    std::fs::write(&small, "p1 p2\np2 p1\n")?;
    let s = |p: &Path| p.display().to_string();
    run_child(API_JOB, &["--cores", "2"], &["tiny-tasks", "1"])?;
    run_child(PAGERANK, &["--cores", "2"], &[&s(&small), "1", &s(&scratch.path().join("w"))])?;

    println!(
        "joins: Wisp local mode (2 cores) against PySpark {spark_version} RDDs (local[2]), same files"
    );
    println!(
        "  join of {LEFT_ROWS} x {KEYS} rows (keys k % {KEYS}): {} rows, checksum {}",
        join_expected.count, join_expected.checksum
    );
    let log = scratch.path().join("join-events");
    let wisp_join = run_child(
        API_JOB,
        &["--cores", "2", "--event-log", &s(&log)],
        &["join-checksum", &s(&left), &s(&right)],
    )?;
    let got = parse_join(&wisp_join.stdout)?;
    anyhow::ensure!(got == join_expected, "wisp's join gave {got:?}, expected {join_expected:?}");
    print_wisp(&wisp_join, shuffle_map_stages(&log)?);
    match &baseline {
        Ok(python) => {
            let run = run_pyspark(python, &["join", &s(&left), &s(&right)])?;
            let got = parse_join(&run.stdout)?;
            anyhow::ensure!(
                got == join_expected,
                "pyspark's join gave {got:?}, expected {join_expected:?}"
            );
            print_baseline(&run, &wisp_join);
        }
        Err(why) => println!("    pyspark: skipped ({why})"),
    }

    println!(
        "  pagerank, {ITERATIONS} iterations over {EDGES} edges ({PAGES} pages; {} ranked)",
        ranks_expected.len()
    );
    let (out, log) = (scratch.path().join("wisp-ranks"), scratch.path().join("rank-events"));
    let iterations = ITERATIONS.to_string();
    let wisp_rank = run_child(
        PAGERANK,
        &["--cores", "2", "--event-log", &s(&log)],
        &[&s(&edges), &iterations, &s(&out)],
    )?;
    check_ranks("wisp", &out, &ranks_expected)?;
    print_wisp(&wisp_rank, shuffle_map_stages(&log)?);
    match &baseline {
        Ok(python) => {
            let out = scratch.path().join("pyspark-ranks");
            let run = run_pyspark(python, &["pagerank", &s(&edges), &iterations, &s(&out)])?;
            check_ranks("pyspark", &out, &ranks_expected)?;
            print_baseline(&run, &wisp_rank);
        }
        Err(why) => println!("    pyspark: skipped ({why})"),
    }
    Ok(())
}

fn print_wisp(run: &ChildRun, shuffle_map_stages: usize) {
    println!(
        "    wisp:    {:>7.2} s  peak RSS {:.0} MiB  ({shuffle_map_stages} shuffle-map stages)",
        run.wall.as_secs_f64(),
        run.peak_rss_kib as f64 / 1024.0
    );
}

fn print_baseline(run: &BaselineRun, wisp: &ChildRun) {
    let w = wisp.wall.as_secs_f64();
    println!(
        "    pyspark: {:>7.2} s  (job {:.2} s without the JVM's start)  ratio pyspark/wisp {:.2} (job only {:.2})",
        run.wall.as_secs_f64(),
        run.job.as_secs_f64(),
        run.wall.as_secs_f64() / w,
        run.job.as_secs_f64() / w
    );
}

/// Distinct shuffle-map stages submitted, from the one event log under `dir`.
fn shuffle_map_stages(dir: &Path) -> anyhow::Result<usize> {
    let mut stages = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir)? {
        for line in std::fs::read_to_string(entry?.path())?.lines() {
            let v: Value = serde_json::from_str(line)?;
            if v["event"] == "stage_submitted" && v["kind"] == "shuffle-map" {
                stages.insert(v["stage"].as_u64().unwrap_or(u64::MAX));
            }
        }
    }
    Ok(stages.len())
}

/// Writes `path` with `write` unless it exists (through a temporary name, so
/// an interrupted run leaves nothing half written).
fn write_once(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    if path.exists() {
        return Ok(());
    }
    eprintln!("generating {}", path.display());
    let tmp = path.with_extension("tmp");
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    write(&mut w)?;
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The two join inputs and their answer, computed while generating them.
fn join_inputs(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf, JoinAnswer)> {
    let mut rng = Rng::new(2026);
    // Right: every key once, in a scrambled order (7919 is prime to 10^6).
    let right: Vec<(u64, u64)> =
        (0..KEYS).map(|j| ((j * 7919) % KEYS, rng.below(1 << 32))).collect();
    let left: Vec<(u64, u64)> = (0..LEFT_ROWS).map(|i| (i % KEYS, rng.below(1 << 32))).collect();
    let mut by_key = vec![0u64; KEYS as usize];
    for &(k, w) in &right {
        by_key[k as usize] = w;
    }
    let checksum = left.iter().fold(0u64, |sum, &(k, v)| {
        sum.wrapping_add(
            k.wrapping_mul(1_000_003)
                .wrapping_add(v.wrapping_mul(31))
                .wrapping_add(by_key[k as usize]),
        )
    });
    let (l, r) = (dir.join("join-left-5m.tsv"), dir.join("join-right-1m.tsv"));
    for (path, rows) in [(&l, &left), (&r, &right)] {
        write_once(path, |w| {
            for (k, v) in rows {
                writeln!(w, "{k}\t{v}")?;
            }
            Ok(())
        })?;
    }
    Ok((l, r, JoinAnswer { count: LEFT_ROWS, checksum }))
}

/// The edge file and Spark's PageRank of it, computed natively.
fn graph_input(dir: &Path) -> anyhow::Result<(PathBuf, HashMap<String, f64>)> {
    let mut rng = Rng::new(7);
    let edges: Vec<(u32, u32)> =
        (0..EDGES).map(|_| (rng.below(PAGES) as u32, rng.below(PAGES) as u32)).collect();
    let path = dir.join("graph-2m.txt");
    write_once(&path, |w| {
        for (a, b) in &edges {
            writeln!(w, "p{a} p{b}")?;
        }
        Ok(())
    })?;
    let mut links: Vec<Vec<u32>> = vec![Vec::new(); PAGES as usize];
    for &(a, b) in &edges {
        links[a as usize].push(b);
    }
    for l in &mut links {
        l.sort_unstable();
        l.dedup();
    }
    let mut ranks: Vec<Option<f64>> =
        links.iter().map(|l| (!l.is_empty()).then_some(1.0)).collect();
    for _ in 0..ITERATIONS {
        let mut sums: Vec<Option<f64>> = vec![None; PAGES as usize];
        for (page, urls) in links.iter().enumerate() {
            if let Some(rank) = ranks[page] {
                for &u in urls {
                    *sums[u as usize].get_or_insert(0.0) += rank / urls.len() as f64;
                }
            }
        }
        ranks = sums.into_iter().map(|s| s.map(|s| 0.15 + 0.85 * s)).collect();
    }
    let expected = ranks
        .into_iter()
        .enumerate()
        .filter_map(|(p, r)| r.map(|r| (format!("p{p}"), r)))
        .collect();
    Ok((path, expected))
}

fn parse_join(stdout: &str) -> anyhow::Result<JoinAnswer> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("count="))
        .ok_or_else(|| anyhow::anyhow!("no count= line in {stdout:?}"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let v = line
            .split_whitespace()
            .find_map(|f| f.strip_prefix(name))
            .ok_or_else(|| anyhow::anyhow!("no {name} in {line:?}"))?;
        Ok(v.parse()?)
    };
    Ok(JoinAnswer { count: field("count=")?, checksum: field("checksum=")? })
}

/// Checks every `page<TAB>rank` line of an output directory against the native ranks.
fn check_ranks(who: &str, out: &Path, expected: &HashMap<String, f64>) -> anyhow::Result<()> {
    let lines = read_output_lines(out);
    anyhow::ensure!(
        lines.len() == expected.len(),
        "{who} ranked {} pages, expected {}",
        lines.len(),
        expected.len()
    );
    for line in lines {
        let (page, rank) =
            line.split_once('\t').ok_or_else(|| anyhow::anyhow!("{who}: bad line {line:?}"))?;
        let rank: f64 = rank.parse()?;
        let want = expected
            .get(page)
            .ok_or_else(|| anyhow::anyhow!("{who} ranked {page}, which has no rank"))?;
        anyhow::ensure!(
            (rank - want).abs() <= 1e-9 * want.abs(),
            "{who}: {page} has rank {rank}, expected {want}"
        );
    }
    Ok(())
}

/// The venv's python with pyspark importable (installing it on first use),
/// or why the baseline cannot run.
pub(super) fn pyspark() -> Result<PathBuf, String> {
    let mut java = Command::new("java");
    java.arg("-version").stdout(Stdio::null()).stderr(Stdio::null());
    if !java.status().is_ok_and(|s| s.success()) {
        return Err("no working `java` on PATH; Spark needs Java 17 or later".into());
    }
    let venv = Path::new(REPO_ROOT).join("target").join("pyspark-venv");
    let python = venv.join("bin").join("python");
    let importable = |python: &Path| {
        let mut cmd = Command::new(python);
        cmd.args(["-c", "import pyspark"]).stdout(Stdio::null()).stderr(Stdio::null());
        cmd.status().is_ok_and(|s| s.success())
    };
    if python.exists() && importable(&python) {
        return Ok(python);
    }
    eprintln!("installing pyspark into {} (pip)", venv.display());
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "venv"]).arg(&venv);
    let made = piped(cmd, Duration::from_secs(300));
    if !made.ok() {
        return Err(format!("python3 -m venv failed: {}", last_line(&made.stderr)));
    }
    let mut cmd = Command::new(venv.join("bin").join("pip"));
    cmd.args(["install", "--quiet", "pyspark"]);
    let installed = piped(cmd, Duration::from_secs(1800));
    if !installed.ok() || !importable(&python) {
        return Err(format!("pip install pyspark failed: {}", last_line(&installed.stderr)));
    }
    Ok(python)
}

/// Runs `cmd` with its output captured, killed after `timeout`.
fn piped(mut cmd: Command, timeout: Duration) -> wisp_tests::Run {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    run_bounded(cmd, timeout)
}

fn last_line(text: &str) -> &str {
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output")
}

pub(super) fn run_pyspark(python: &Path, args: &[&str]) -> anyhow::Result<BaselineRun> {
    let script = Path::new(REPO_ROOT).join("tests/src/bin/bench/pyspark_jobs.py");
    let mut cmd = Command::new(python);
    cmd.arg(&script).args(args).env("PYSPARK_PYTHON", python).env("PYSPARK_DRIVER_PYTHON", python);
    let start = Instant::now();
    let r = piped(cmd, PYSPARK_TIMEOUT);
    let wall = start.elapsed();
    anyhow::ensure!(r.ok(), "pyspark {} failed: {}", args[0], r.stderr.trim());
    let job = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("job_seconds="))
        .ok_or_else(|| anyhow::anyhow!("no job_seconds= in {:?}", r.stdout))?
        .parse::<f64>()?;
    Ok(BaselineRun { wall, job: Duration::from_secs_f64(job), stdout: r.stdout })
}
