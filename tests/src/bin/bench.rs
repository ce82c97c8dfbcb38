//! Benchmarks (not timed tests): word count vs a native Rust baseline in the same run, per-task overhead, and cluster mode.
//!
//! `cargo run --release -p wisp-tests --bin wisp-bench -- [--size-mib N] [--tasks N,N] [--only local|cluster|languages|faults|joins|out-of-core|ui|python|store|broadcast] [--sort-mib N] [--runs N] [--languages c,javascript,python]`
//!
//! The languages section (`--only languages`; not part of the default run, as
//! interpreted guests take minutes on a large corpus) runs the word count of
//! each guest language on the corpus against the Rust guest (`bench/languages.rs`).
//!
//! The cluster section starts a master and two executors of one core each
//! on 127.0.0.1 and measures, in the same run: word count on the corpus
//! against local mode with 2 cores, the QUIC shuffle fetch throughput
//! between the two executors (from the `fetched shuffle blocks` debug lines
//! of requests that started after the join was submitted: bytes over the wall
//! time during which at least one fetch request was in flight, both directions
//! together; also per executor and per request) against raw quinn on
//! loopback with the same endpoint and transport configuration
//! (`wisp::quic_loopback_throughput`), with the CPU spent per byte on both
//! sides, and the launch → status round trip of empty tasks.
//! The faults section (`--only faults`; not part of the default run) starts a
//! master and three one-core executors with default settings and runs the
//! word count on the corpus `--runs` times (5 by default) fault-free and as
//! many times with one executor SIGKILLed at half the fault-free median wall
//! time (a fresh executor replaces it before the next run), alternating; it
//! prints the slowdown and the task attempts rerun (from the event log: task
//! starts beyond the first of each stage partition), and checks every output
//! against the fault-free one.
//!
//! The broadcast section (`--only broadcast`; not part of the default run) times
//! a 5M-row × 100k-key join as a broadcast join and as a shuffle join, same
//! answer (`bench/broadcast.rs`).
//!
//! The joins section (`--only joins`; not part of the default run) times a
//! 5M × 1M-row join and 10 iterations of PageRank on a 2M-edge graph against
//! PySpark's RDD programs over the same files (`bench/joins.rs`).
//!
//! The out-of-core section (`--only out-of-core`, `--sort-mib N`, 4096 by
//! default; not part of the default run) sorts TeraSort records under a
//! 512 MiB executor budget, unconstrained, and with PySpark's `sortByKey`,
//! then groups, reduces and joins pairs whose reduce partitions are 4× a
//! 64 MiB budget, verifying each output (`bench/out_of_core.rs`;
//! `--sort-mib 0` runs only the grouping part, over 1 GiB of pairs).
//!
//! The python section (`--only python`, `--size-mib` 32 by default, `--runs`
//! rounds, `--languages WORD,...` to keep only the programs whose name holds a
//! word; not part of the default run) times the word count and a CSV-like
//! parse-and-aggregate in PySpark, the Rust guest, and Python and JavaScript
//! (plain and with built-ins), interleaved, every answer checked
//! (`bench/python_speed.rs`).
//!
//! The store section (`--only store`; not part of the default run) starts a
//! moto S3 server on 127.0.0.1 and measures a line count and a word count of
//! the corpus read from it against local disk, alternated in the same run, and
//! the driver's commit time per part file (`bench/store.rs`; the figures are
//! moto's more than Wisp's; `--size-mib 256` keeps moto's memory reasonable).
//!
//! Each Wisp run happens in a child process (this binary re-executed) so its
//! peak RSS can be read from `/proc/self/status` at exit.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use wisp::{LocalOptions, RunNotice, run_local_with};
use wisp_tests::{
    API_JOB, JOIN, ProcessGuard, REPO_ROOT, Rng, WORDCOUNT, run_bounded, wait_for, wisp_bin,
    write_corpus,
};

#[path = "bench/broadcast.rs"]
mod broadcast;
#[path = "bench/faults.rs"]
mod faults;
#[path = "bench/joins.rs"]
mod joins;
#[path = "bench/languages.rs"]
mod languages;
#[path = "bench/out_of_core.rs"]
mod out_of_core;
#[path = "bench/python_speed.rs"]
mod python_speed;
#[path = "bench/store.rs"]
mod store;
#[path = "bench/ui.rs"]
mod ui;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = if args.get(1).map(String::as_str) == Some("--child") {
        child(&args[2..])
    } else {
        bench(&args[1..])
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wisp-bench: error: {}", wisp::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// Child mode: `--child JOB [wisp-run args...] -- JOB-ARGS...`; prints `peak_rss_kib=N` at the end.
fn child(args: &[String]) -> anyhow::Result<()> {
    let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let job = PathBuf::from(&args[0]);
    let mut conf = Vec::new();
    let mut cores = None;
    let mut event_log = None;
    let mut ui_addr = None;
    let mut i = 1;
    while i < split {
        match args[i].as_str() {
            "--cores" => cores = Some(args[i + 1].parse()?),
            "--conf" => conf.push(args[i + 1].clone()),
            "--event-log" => event_log = Some(PathBuf::from(&args[i + 1])),
            "--ui" => ui_addr = Some(args[i + 1].clone()),
            other => anyhow::bail!("unknown child flag {other}"),
        }
        i += 2;
    }
    let job_args = args.get(split + 1..).unwrap_or_default().to_vec();
    let options =
        LocalOptions { job, cores, event_log, conf, args: job_args, progress: false, ui: ui_addr };
    let stop = Arc::new(AtomicBool::new(false));
    let mut poller = None;
    run_local_with(&options, &mut |notice| {
        if let RunNotice::UiListening(addr) = notice {
            poller = Some(ui::poll_ui(addr, stop.clone()));
        }
    })?;
    stop.store(true, Ordering::Relaxed);
    if let Some(p) = poller {
        let requests = p.join().unwrap_or(0);
        eprintln!("ui requests={requests}");
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("0");
    println!("peak_rss_kib={hwm}");
    Ok(())
}

struct ChildRun {
    wall: Duration,
    peak_rss_kib: u64,
    stdout: String,
}

fn run_child(job: &str, flags: &[&str], job_args: &[&str]) -> anyhow::Result<ChildRun> {
    run_child_with(job, flags, job_args, None)
}

/// `run_child` with its own compile cache (`$XDG_CACHE_HOME/wisp/compiled`) under `cache`.
fn run_child_in(
    job: &str,
    flags: &[&str],
    job_args: &[&str],
    cache: &Path,
) -> anyhow::Result<ChildRun> {
    run_child_with(job, flags, job_args, Some(cache))
}

fn run_child_with(
    job: &str,
    flags: &[&str],
    job_args: &[&str],
    cache: Option<&Path>,
) -> anyhow::Result<ChildRun> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("--child").arg(job).args(flags).arg("--").args(job_args);
    if let Some(cache) = cache {
        cmd.env("XDG_CACHE_HOME", cache);
    }
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let start = Instant::now();
    let r = run_bounded(cmd, Duration::from_secs(1800));
    let wall = start.elapsed();
    anyhow::ensure!(r.ok(), "wisp run failed: {}", r.stderr.trim());
    let peak = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("peak_rss_kib="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(ChildRun { wall, peak_rss_kib: peak, stdout: r.stdout })
}

fn bench(args: &[String]) -> anyhow::Result<()> {
    let mut size_mib = None;
    let mut python = false;
    let mut task_counts = vec![1000u32, 10_000];
    let (mut local, mut cluster, mut langs, mut faults) = (true, true, false, false);
    let mut join_section = false;
    let mut broadcast_section = false;
    let mut sort_mib = None;
    let mut ui = false;
    let mut store_section = false;
    let mut runs = 5usize;
    let mut only_languages: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--only" => match it.next().map(String::as_str) {
                Some("local") => cluster = false,
                Some("cluster") => local = false,
                Some("languages") => (local, cluster, langs) = (false, false, true),
                Some("faults") => (local, cluster, faults) = (false, false, true),
                Some("joins") => (local, cluster, join_section) = (false, false, true),
                Some("out-of-core") => (local, cluster, sort_mib) = (false, false, Some(4096)),
                Some("ui") => (local, cluster, ui) = (false, false, true),
                Some("python") => (local, cluster, python) = (false, false, true),
                Some("store") => (local, cluster, store_section) = (false, false, true),
                Some("broadcast") => (local, cluster, broadcast_section) = (false, false, true),
                _ => anyhow::bail!(
                    "--only local|cluster|languages|faults|joins|out-of-core|ui|python|store|broadcast"
                ),
            },
            "--languages" => {
                only_languages = it
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--languages c,javascript,python"))?
                    .split(',')
                    .map(String::from)
                    .collect()
            }
            "--sort-mib" => {
                sort_mib = Some(it.next().ok_or_else(|| anyhow::anyhow!("--sort-mib N"))?.parse()?)
            }
            "--runs" => runs = it.next().ok_or_else(|| anyhow::anyhow!("--runs N"))?.parse()?,
            "--size-mib" => {
                size_mib = Some(it.next().ok_or_else(|| anyhow::anyhow!("--size-mib N"))?.parse()?)
            }
            "--tasks" => {
                task_counts = it
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--tasks N,N"))?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    let data_dir = PathBuf::from(REPO_ROOT).join("target").join("bench-data");
    std::fs::create_dir_all(&data_dir)?;
    if join_section {
        return joins::bench_joins(&data_dir);
    }
    if broadcast_section {
        return broadcast::bench_broadcast(runs);
    }
    if let Some(mib) = sort_mib {
        return out_of_core::bench_out_of_core(&data_dir, mib);
    }
    let size_mib: u64 = size_mib.unwrap_or(if python { 32 } else { 1024 });
    let corpus = data_dir.join(format!("corpus-{size_mib}m.txt"));
    if std::fs::metadata(&corpus).map(|m| m.len()).unwrap_or(0) < size_mib << 20 {
        eprintln!("generating {size_mib} MiB corpus at {}", corpus.display());
        write_corpus(&corpus, size_mib << 20, 42)?;
    }
    if local {
        bench_local(&data_dir, &corpus, &task_counts)?;
    }
    if cluster {
        bench_cluster(&data_dir, &corpus)?;
    }
    if faults {
        faults::bench_faults(&data_dir, &corpus, runs)?;
    }
    if ui {
        ui::bench_ui(&data_dir, &corpus, runs)?;
    }
    if python {
        read_all(&corpus)?;
        let expected = native_word_count(&corpus, 2)?;
        python_speed::bench_python(&data_dir, &corpus, &expected, runs, &only_languages)?;
    }
    if store_section {
        store::bench_store(&data_dir, &corpus, runs)?;
    }
    if langs {
        read_all(&corpus)?;
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let expected = native_word_count(&corpus, threads)?;
        languages::bench_languages(&data_dir, &corpus, &expected, &only_languages)?;
    }
    Ok(())
}

fn bench_local(data_dir: &Path, corpus: &Path, task_counts: &[u32]) -> anyhow::Result<()> {
    let corpus = corpus.to_path_buf();
    let data_dir = data_dir.to_path_buf();
    let task_counts = task_counts.to_vec();
    let bytes = std::fs::metadata(&corpus)?.len();
    let mb = bytes as f64 / 1e6;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);

    // Warm the page cache and the compile cache so neither run pays for them.
    read_all(&corpus)?;
    let scratch = tempfile::tempdir_in(&data_dir)?;
    let cores_s = cores.to_string();
    run_child(
        WORDCOUNT,
        &["--cores", &cores_s],
        &[&corpus_of_small(&data_dir)?, &scratch.path().join("warm").display().to_string()],
    )?;

    let native_start = Instant::now();
    let native = native_word_count(&corpus, cores)?;
    let native_time = native_start.elapsed();
    let plain_start = Instant::now();
    let plain = plain_word_count(&corpus, cores)?;
    let plain_time = plain_start.elapsed();
    anyhow::ensure!(plain == native, "the two native word counts differ");

    let out = scratch.path().join("counts");
    let wisp_run = run_child(
        WORDCOUNT,
        &["--cores", &cores_s],
        &[&corpus.display().to_string(), &out.display().to_string()],
    )?;
    let got = count_output(&out)?;
    anyhow::ensure!(got == native, "wisp's word count differs from the native one");

    println!("word count over {mb:.0} MB ({} distinct words), {cores} cores", native.len());
    println!(
        "  native Rust, tuned ({cores} threads):     {:>7.2} s  {:>7.1} MB/s",
        native_time.as_secs_f64(),
        mb / native_time.as_secs_f64()
    );
    println!(
        "  native Rust, idiomatic ({cores} threads): {:>7.2} s  {:>7.1} MB/s",
        plain_time.as_secs_f64(),
        mb / plain_time.as_secs_f64()
    );
    println!(
        "  wisp local mode:                      {:>7.2} s  {:>7.1} MB/s  peak RSS {:.0} MiB",
        wisp_run.wall.as_secs_f64(),
        mb / wisp_run.wall.as_secs_f64(),
        wisp_run.peak_rss_kib as f64 / 1024.0
    );
    println!(
        "  ratio wisp/native-tuned throughput:     {:.2}",
        native_time.as_secs_f64() / wisp_run.wall.as_secs_f64()
    );
    println!(
        "  ratio wisp/native-idiomatic throughput: {:.2}",
        plain_time.as_secs_f64() / wisp_run.wall.as_secs_f64()
    );

    // The first run compiles the component into the on-disk cache; time the second.
    run_child(API_JOB, &["--cores", &cores_s], &["tiny-tasks", "1"])?;
    let base = run_child(API_JOB, &["--cores", &cores_s], &["tiny-tasks", "1"])?;
    for n in task_counts {
        let r = run_child(API_JOB, &["--cores", &cores_s], &["tiny-tasks", &n.to_string()])?;
        anyhow::ensure!(
            r.stdout.contains(&format!("count={n}")),
            "tiny-tasks {n} printed {:?}",
            r.stdout
        );
        let per_task = r.wall.saturating_sub(base.wall).as_secs_f64() / (n as f64 - 1.0).max(1.0);
        println!(
            "per-task overhead, {n} tiny partitions: {:.1} us/task (job {:.3} s, 1-partition baseline {:.3} s)",
            per_task * 1e6,
            r.wall.as_secs_f64(),
            base.wall.as_secs_f64()
        );
    }
    Ok(())
}

/// A master (with an event log) and executors of one core each, logging to files in a temp dir; killed on drop.
struct BenchCluster {
    dir: tempfile::TempDir,
    _master: ProcessGuard,
    executors: Vec<ProcessGuard>,
    /// Executors started so far (the next one's number is this + 1).
    started: usize,
    addr: String,
    fingerprint: String,
    secret: PathBuf,
}

impl BenchCluster {
    fn start(data_dir: &Path, executors: usize) -> anyhow::Result<BenchCluster> {
        let dir = tempfile::tempdir_in(data_dir)?;
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "wisp-bench-cluster-secret-0123456789\n")?;
        let mut cmd = Command::new(wisp_bin());
        cmd.env("WISP_LOG", "info")
            .args(["master", "--listen", "127.0.0.1:0", "--secret-file"])
            .arg(&secret);
        cmd.arg("--state-dir").arg(dir.path().join("master-state"));
        cmd.arg("--event-log").arg(dir.path().join("events"));
        let master = ProcessGuard::spawn("master", cmd, &dir.path().join("master.log"));
        let out = dir.path().join("master.out");
        let line = wait_for("the master's listening line", Duration::from_secs(60), || {
            std::fs::read_to_string(&out)
                .ok()?
                .lines()
                .find(|l| l.starts_with("wisp master listening on "))
                .map(str::to_string)
        });
        let words: Vec<&str> = line.split_whitespace().collect();
        anyhow::ensure!(words.len() == 7, "unexpected listening line {line:?}");
        let (addr, fingerprint) = (words[4].to_string(), words[6].to_string());
        let mut cluster = BenchCluster {
            dir,
            _master: master,
            executors: Vec::new(),
            started: 0,
            addr,
            fingerprint,
            secret,
        };
        for _ in 0..executors {
            cluster.add_executor();
        }
        cluster.wait_registered(executors);
        Ok(cluster)
    }

    /// Starts one more executor of one core (default settings).
    fn add_executor(&mut self) {
        self.started += 1;
        let i = self.started;
        let mut cmd = Command::new(wisp_bin());
        // Fetch timings are logged at debug by the fetcher.
        cmd.env("WISP_LOG", "info,wisp::cluster::blocks::fetch=debug");
        cmd.args([
            "executor",
            "--master",
            &self.addr,
            "--master-fingerprint",
            &self.fingerprint,
            "--secret-file",
        ])
        .arg(&self.secret);
        cmd.args(["--cores", "1", "--work-dir"]).arg(self.dir.path().join(format!("ex{i}")));
        self.executors.push(ProcessGuard::spawn(
            &format!("executor {i}"),
            cmd,
            &self.dir.path().join(format!("executor-{i}.log")),
        ));
    }

    /// Waits until the master logged `n` executor registrations in all.
    fn wait_registered(&self, n: usize) {
        let log = self.dir.path().join("master.log");
        wait_for("the executors to register", Duration::from_secs(60), || {
            let text = std::fs::read_to_string(&log).ok()?;
            (text.matches("executor registered").count() >= n).then_some(())
        });
    }

    /// The event log's lines of the latest application (`events/app-N/`, N largest).
    fn last_app_events(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let mut apps: Vec<(u64, PathBuf)> = std::fs::read_dir(self.dir.path().join("events"))?
            .filter_map(|e| {
                let p = e.ok()?.path();
                let n = p.file_name()?.to_str()?.strip_prefix("app-")?.parse().ok()?;
                Some((n, p))
            })
            .collect();
        apps.sort();
        let (_, app) = apps.pop().ok_or_else(|| anyhow::anyhow!("no event log"))?;
        let mut events = Vec::new();
        for entry in std::fs::read_dir(app)? {
            let text = std::fs::read_to_string(entry?.path())?;
            for line in text.lines() {
                events.push(serde_json::from_str(line)?);
            }
        }
        Ok(events)
    }

    /// Submits a job and returns its wall time and stdout.
    fn submit(
        &self,
        job: &str,
        conf: &[&str],
        args: &[&str],
    ) -> anyhow::Result<(Duration, String)> {
        let mut cmd = Command::new(wisp_bin());
        cmd.args([
            "submit",
            "--master",
            &self.addr,
            "--master-fingerprint",
            &self.fingerprint,
            "--secret-file",
        ])
        .arg(&self.secret);
        cmd.arg(job);
        for c in conf {
            cmd.args(["--conf", c]);
        }
        cmd.arg("--")
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let start = Instant::now();
        let r = run_bounded(cmd, Duration::from_secs(1800));
        let wall = start.elapsed();
        anyhow::ensure!(r.ok(), "wisp submit failed: {}", r.stderr.trim());
        Ok((wall, r.stdout))
    }

    /// CPU seconds used so far by the executors' network threads (their tokio runtime and its blocking pool).
    fn net_cpu_secs(&self) -> f64 {
        self.thread_cpu_secs("wisp-executor-n")
    }

    /// CPU seconds used so far by the executors' threads whose name starts with `prefix`.
    fn thread_cpu_secs(&self, prefix: &str) -> f64 {
        let mut stats = Vec::new();
        for e in &self.executors {
            let tasks = format!("/proc/{}/task", e.id());
            for t in std::fs::read_dir(&tasks).into_iter().flatten().flatten() {
                let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
                if comm.starts_with(prefix) {
                    stats.push(t.path().join("stat"));
                }
            }
        }
        cpu_secs(&stats)
    }

    /// Every shuffle fetch request the executors logged, in log order.
    fn fetches(&self) -> Vec<Fetch> {
        let field = |line: &str, name: &str| -> Option<u64> {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
        };
        let mut fetches = Vec::new();
        for i in 1.. {
            let Ok(text) =
                std::fs::read_to_string(self.dir.path().join(format!("executor-{i}.log")))
            else {
                break;
            };
            for line in text.lines().filter(|l| l.contains("fetched shuffle blocks")) {
                // The line is logged as the request ends: its timestamp is the end.
                let end = line.split_whitespace().next().and_then(log_time_us);
                if let (Some(bytes), Some(us), Some(end)) =
                    (field(line, "bytes"), field(line, "elapsed_us"), end)
                {
                    fetches.push(Fetch { executor: i, bytes, start: end.saturating_sub(us), end });
                }
            }
        }
        fetches
    }
}

/// One shuffle fetch request, as its executor logged it (times in microseconds since the epoch).
#[derive(Clone, Copy)]
struct Fetch {
    executor: usize,
    bytes: u64,
    start: u64,
    end: u64,
}

/// Microseconds since the epoch of a log line's UTC timestamp (`2026-12-04T19:03:42.413553Z`).
fn log_time_us(stamp: &str) -> Option<u64> {
    let (date, time) = stamp.strip_suffix('Z')?.split_once('T')?;
    let d: Vec<i64> = date.split('-').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<u64> = hms.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let (&[y, m, day], &[hh, mm, ss]) = (d.as_slice(), t.as_slice()) else { return None };
    // Days from 1970-01-01 to the date (proleptic Gregorian calendar).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let micros: u64 = format!("{frac:0<6}")[..6].parse().ok()?;
    Some(((days as u64 * 86_400 + hh * 3600 + mm * 60 + ss) * 1_000_000) + micros)
}

/// User + system CPU seconds of the processes or threads whose `stat` files these are (clock ticks of 10 ms).
fn cpu_secs(stats: &[PathBuf]) -> f64 {
    let ticks: u64 = stats
        .iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).ok()?;
            // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
            let rest = &text[text.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .sum();
    ticks as f64 / 100.0
}

/// Microseconds during which at least one of `fetches` was in flight (the union of their intervals).
fn wall_us(fetches: &[Fetch]) -> u64 {
    let mut spans: Vec<(u64, u64)> = fetches.iter().map(|f| (f.start, f.end)).collect();
    spans.sort();
    let (mut total, mut reach) = (0u64, 0u64);
    for (start, end) in spans {
        let start = start.max(reach);
        if end > start {
            total += end - start;
            reach = end;
        }
    }
    total
}

fn bench_cluster(data_dir: &Path, corpus: &Path) -> anyhow::Result<()> {
    let mb = std::fs::metadata(corpus)?.len() as f64 / 1e6;
    let cluster = BenchCluster::start(data_dir, 2)?;
    let scratch = tempfile::tempdir_in(data_dir)?;
    let path = |p: &Path| p.display().to_string();
    read_all(corpus)?;

    // Word count: master + 2 executors × 1 core against local mode with 2 cores, same input, same run.
    let small = corpus_of_small(data_dir)?;
    cluster.submit(WORDCOUNT, &[], &[&small, &path(&scratch.path().join("warm-cluster"))])?;
    run_child(WORDCOUNT, &["--cores", "2"], &[&small, &path(&scratch.path().join("warm-local"))])?;
    let (cluster_out, local_out) =
        (scratch.path().join("wc-cluster"), scratch.path().join("wc-local"));
    let (cluster_wall, _) =
        cluster.submit(WORDCOUNT, &[], &[&path(corpus), &path(&cluster_out)])?;
    let local = run_child(WORDCOUNT, &["--cores", "2"], &[&path(corpus), &path(&local_out)])?;
    anyhow::ensure!(
        count_output(&cluster_out)? == count_output(&local_out)?,
        "cluster and local word counts differ"
    );
    println!("cluster mode, master + 2 executors x 1 core, on 127.0.0.1");
    println!(
        "  word count over {mb:.0} MB, cluster:       {:>7.2} s  {:>7.1} MB/s",
        cluster_wall.as_secs_f64(),
        mb / cluster_wall.as_secs_f64()
    );
    println!(
        "  word count over {mb:.0} MB, local 2 cores: {:>7.2} s  {:>7.1} MB/s",
        local.wall.as_secs_f64(),
        mb / local.wall.as_secs_f64()
    );
    println!(
        "  ratio cluster/local wall time: {:.2} (target <= 1.3)",
        cluster_wall.as_secs_f64() / local.wall.as_secs_f64()
    );

    // Shuffle throughput: a join whose left side (~256 MB, no matches) is shuffled in full across the two executors;
    // half of every map output is fetched by the other executor, in blocks of tens of MB.
    let left = scratch.path().join("left.tsv");
    {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(&left)?);
        let mut rng = Rng::new(77);
        let mut written = 0u64;
        while written < 256 << 20 {
            let line = format!(
                "k{}\t{:016x}{:016x}{:016x}\n",
                rng.below(1 << 40),
                rng.next_u64(),
                rng.next_u64(),
                rng.next_u64()
            );
            w.write_all(line.as_bytes())?;
            written += line.len() as u64;
        }
        w.flush()?;
    }
    let right = scratch.path().join("right.tsv");
    std::fs::write(&right, "nomatch\tx\n")?;
    // Raw quinn on loopback with the same endpoint and transport configuration, in the same run:
    // 256 MiB on one stream, and on two streams at once (each on its own 2-thread runtime, as the
    // two executors fetch from each other), three times each; the medians, and the CPU this
    // process spent per byte.
    let raw_bytes = 256u64 << 20;
    let raw_quinn = |transfers: usize| -> anyhow::Result<f64> {
        let (mut rates, mut payloads) = (Vec::new(), Vec::new());
        let cpu_before = cpu_secs(&["/proc/self/stat".into()]);
        for _ in 0..3 {
            let run = wisp::quic_loopback_throughput(raw_bytes, 2, transfers)?;
            rates.push((transfers as u64 * raw_bytes) as f64 / run.took.as_secs_f64() / 1e6);
            payloads.push(run.udp_payload.to_string());
        }
        let ns_per_byte = (cpu_secs(&["/proc/self/stat".into()]) - cpu_before) * 1e9
            / (3 * transfers as u64 * raw_bytes) as f64;
        rates.sort_by(f64::total_cmp);
        let streams = if transfers == 1 {
            "one stream".to_string()
        } else {
            format!("{transfers} streams at once")
        };
        println!(
            "  raw quinn on loopback, same transport config, 256 MiB on {streams}: {:.0} MB/s (median of {:.0}, {:.0}, {:.0}); {ns_per_byte:.2} CPU ns/byte; UDP payload reached {} bytes",
            rates[1],
            rates[0],
            rates[1],
            rates[2],
            payloads.join("/")
        );
        Ok(rates[1])
    };
    let (raw_one, raw_two) = (raw_quinn(1)?, raw_quinn(2)?);
    let net_cpu_before = cluster.net_cpu_secs();
    let task_cpu_before = cluster.thread_cpu_secs("wisp-task");
    // The join's fetches are those that started after it was submitted (each executor's log
    // also holds the word count's).
    let submitted_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let conf = ["wisp.files.maxPartitionBytes=64m"];
    let (join_wall, _) = cluster.submit(
        JOIN,
        &conf,
        &[&path(&left), &path(&right), &path(&scratch.path().join("join-out"))],
    )?;
    let fetches: Vec<Fetch> =
        cluster.fetches().into_iter().filter(|f| f.start >= submitted_us).collect();
    let bytes: u64 = fetches.iter().map(|f| f.bytes).sum();
    anyhow::ensure!(bytes > 0, "the join fetched no remote shuffle blocks");
    let rate = |bytes: u64, us: u64| bytes as f64 / us.max(1) as f64; // MB/s
    let wall = wall_us(&fetches);
    let summed: u64 = fetches.iter().map(|f| f.end - f.start).sum();
    let largest = fetches.iter().max_by_key(|f| f.bytes).copied().expect("a fetch");
    println!(
        "  QUIC shuffle fetch between the executors: {} requests, {:.1} MB in {:.2} s of wall time with a fetch in flight: {:.0} MB/s = {:.2} x raw quinn on one stream, {:.2} x on two (join {:.2} s)",
        fetches.len(),
        bytes as f64 / 1e6,
        wall as f64 / 1e6,
        rate(bytes, wall),
        rate(bytes, wall) / raw_one,
        rate(bytes, wall) / raw_two,
        join_wall.as_secs_f64()
    );
    let net_cpu = cluster.net_cpu_secs() - net_cpu_before;
    let task_cpu = cluster.thread_cpu_secs("wisp-task") - task_cpu_before;
    println!(
        "    the executors' network threads (serving and fetching, both ends) used {net_cpu:.2} CPU s: {:.2} CPU ns/byte fetched; their task threads (map, decode, join) {task_cpu:.2} CPU s in the join's {:.2} s",
        net_cpu * 1e9 / bytes as f64,
        join_wall.as_secs_f64()
    );
    for executor in 1..=2 {
        let mine: Vec<Fetch> = fetches.iter().filter(|f| f.executor == executor).copied().collect();
        let mine_bytes: u64 = mine.iter().map(|f| f.bytes).sum();
        println!(
            "    executor {executor} fetched {:.1} MB in {:.2} s of fetching: {:.0} MB/s",
            mine_bytes as f64 / 1e6,
            wall_us(&mine) as f64 / 1e6,
            rate(mine_bytes, wall_us(&mine))
        );
    }
    println!(
        "    per request: {:.0} MB/s (bytes over the requests' summed times, overlaps counted twice); largest request {:.1} MB at {:.0} MB/s",
        rate(bytes, summed),
        largest.bytes as f64 / 1e6,
        rate(largest.bytes, largest.end - largest.start)
    );

    // Task round trip (launch → status) of empty tasks: (t(N) − t(1)) / N with N one-record partitions.
    cluster.submit(API_JOB, &[], &["tiny-tasks", "1"])?;
    let (base, _) = cluster.submit(API_JOB, &[], &["tiny-tasks", "1"])?;
    for n in [1000u32, 5000] {
        let (wall, out) = cluster.submit(API_JOB, &[], &["tiny-tasks", &n.to_string()])?;
        anyhow::ensure!(out.contains(&format!("count={n}")), "tiny-tasks {n} printed {out:?}");
        let per_task = wall.saturating_sub(base).as_secs_f64() / (n as f64 - 1.0);
        println!(
            "  empty-task round trip, {n} tasks on 2 executors: {:.1} us/task (job {:.3} s, 1-task baseline {:.3} s)",
            per_task * 1e6,
            wall.as_secs_f64(),
            base.as_secs_f64()
        );
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn corpus_of_small(dir: &Path) -> anyhow::Result<String> {
    let p = dir.join("warmup.txt");
    if !p.exists() {
        write_corpus(&p, 1 << 20, 1)?;
    }
    Ok(p.display().to_string())
}

fn read_all(path: &Path) -> anyhow::Result<()> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    while f.read(&mut buf)? > 0 {}
    Ok(())
}

fn count_output(dir: &Path) -> anyhow::Result<HashMap<String, i64>> {
    let mut m = HashMap::new();
    for line in wisp_tests::read_output_lines(dir) {
        let (w, c) = line.rsplit_once('\t').ok_or_else(|| anyhow::anyhow!("bad line {line:?}"))?;
        m.insert(w.to_string(), c.parse()?);
    }
    Ok(m)
}

/// The file cut into `threads` byte ranges at newlines.
fn cut_at_lines(data: &[u8], threads: usize) -> Vec<usize> {
    let mut cuts = vec![0usize];
    for t in 1..threads {
        let mut at = data.len() * t / threads;
        while at < data.len() && data[at - 1] != b'\n' {
            at += 1;
        }
        cuts.push(at);
    }
    cuts.push(data.len());
    cuts
}

/// Counts words in `threads` line-aligned chunks of the file in parallel, one map per thread, then merges the maps.
fn count_in_threads<M>(
    path: &Path,
    threads: usize,
    count: fn(&[u8]) -> M,
) -> anyhow::Result<HashMap<String, i64>>
where
    M: IntoIterator<Item = (String, i64)> + Send,
{
    let data = std::fs::read(path)?;
    let cuts = cut_at_lines(&data, threads);
    let maps: Vec<M> = std::thread::scope(|s| {
        let handles: Vec<_> = cuts
            .windows(2)
            .map(|w| {
                let chunk = &data[w[0]..w[1]];
                s.spawn(move || count(chunk))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("native worker")).collect()
    });
    let mut total: HashMap<String, i64> = HashMap::new();
    for m in maps {
        for (k, v) in m {
            *total.entry(k).or_insert(0) += v;
        }
    }
    Ok(total)
}

/// The word count most people would write: an owned `String` per word and std's `HashMap` entry API.
fn plain_word_count(path: &Path, threads: usize) -> anyhow::Result<HashMap<String, i64>> {
    count_in_threads(path, threads, |chunk| {
        let mut m: HashMap<String, i64> = HashMap::new();
        for line in String::from_utf8_lossy(chunk).lines() {
            for word in line.split_ascii_whitespace() {
                *m.entry(word.to_string()).or_insert(0) += 1;
            }
        }
        m
    })
}

/// A tuned native word count: no allocation for words already seen, and FxHash.
fn native_word_count(path: &Path, threads: usize) -> anyhow::Result<HashMap<String, i64>> {
    count_in_threads(path, threads, |chunk| {
        let mut m: FxHashMap<String, i64> = FxHashMap::default();
        for line in chunk.split(|&b| b == b'\n') {
            let text = String::from_utf8_lossy(line);
            for word in text.split_ascii_whitespace() {
                match m.get_mut(word) {
                    Some(c) => *c += 1,
                    None => {
                        m.insert(word.to_string(), 1);
                    }
                }
            }
        }
        m
    })
}
