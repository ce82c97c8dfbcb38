//! Scheduler scale benchmark (not a timed test): the sans-IO scheduler core driven by simulated executors, no wasm and no network.
//!
//! `cargo run --release -p wisp-tests --bin scheduler-bench -- [--tasks 10000,100000,1000000] [--executors 1000] [--cores 8]`
//!
//! 1,000 executors × 8 cores on 125 hosts. Per N: job 1 computes and
//! persists an RDD of N partitions (tasks without preference; every task
//! reports its block cached where it ran, so the blocks spread over the
//! executors); job 2 reads the cached RDD, so every task prefers the
//! executor holding its block (delay scheduling at process-local). Every
//! `LaunchTask` is answered at once with a successful `TaskFinished`; time
//! is the real elapsed time, as the driver loop passes it. Each N runs in a
//! child process (this binary re-executed) so that its peak RSS (`VmHWM`) is
//! its own.

use std::collections::VecDeque;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use wisp::{
    Batch, ComponentBytes, EventRecord, ExecutorId, JobId, Lineage, Plan, RddId, RddKind,
    ResultKind, ResultValue, Scheduler, SchedulerCommand, SchedulerConfig, SchedulerEvent,
    StorageLevel, TaskLocality, TaskMetrics, TaskOutput, TaskReport,
};

const EXECUTORS_PER_HOST: u32 = 8;

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
            eprintln!("scheduler-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

struct Options {
    tasks: Vec<u32>,
    executors: u32,
    cores: u32,
}

fn options(args: &[String]) -> anyhow::Result<Options> {
    let mut o = Options { tasks: vec![10_000, 100_000, 1_000_000], executors: 1000, cores: 8 };
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).with_context(|| format!("{} needs a value", args[i]))?;
        match args[i].as_str() {
            "--tasks" => {
                o.tasks = value.split(',').map(|n| n.trim().parse()).collect::<Result<_, _>>()?
            }
            "--executors" => o.executors = value.parse()?,
            "--cores" => o.cores = value.parse()?,
            other => bail!("unknown flag {other}"),
        }
        i += 2;
    }
    Ok(o)
}

/// Runs each size in a child process and prints a table.
fn bench(args: &[String]) -> anyhow::Result<()> {
    let o = options(args)?;
    let exe = std::env::current_exe()?;
    println!(
        "scheduler-bench: {} executors x {} cores on {} hosts; every launch answered at once",
        o.executors,
        o.cores,
        o.executors.div_ceil(EXECUTORS_PER_HOST)
    );
    println!();
    println!(
        "{:>9} | {:>26} | {:>38} | {:>9} | {:>9}",
        "tasks",
        "job 1: compute+cache",
        "job 2: read cached (process-local)",
        "peak RSS",
        "RSS/task"
    );
    println!(
        "{:>9} | {:>12} {:>13} | {:>12} {:>13} {:>11} | {:>9} | {:>9}",
        "", "tasks/s", "us/task", "tasks/s", "us/task", "local", "MiB", "bytes"
    );
    let mut rows = Vec::new();
    for n in &o.tasks {
        let out = Command::new(&exe)
            .args(["--child", &n.to_string(), &o.executors.to_string(), &o.cores.to_string()])
            .output()
            .context("running a child")?;
        if !out.status.success() {
            bail!("child for {n} tasks failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let line = String::from_utf8(out.stdout)?;
        let f: Vec<f64> = line
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .context("child output")?;
        let [t1, t2, local, hwm_kib, base_kib] = f[..] else { bail!("child output: {line}") };
        let n = *n as f64;
        println!(
            "{:>9} | {:>12.0} {:>13.2} | {:>12.0} {:>13.2} {:>10.1}% | {:>9.1} | {:>9.0}",
            n,
            n / t1,
            t1 / n * 1e6,
            n / t2,
            t2 / n * 1e6,
            local * 100.0,
            hwm_kib / 1024.0,
            (hwm_kib - base_kib) * 1024.0 / n
        );
        rows.push((n, t1 + t2));
    }
    if let (Some(first), Some(last)) = (rows.first(), rows.last())
        && last.0 > first.0
    {
        let growth = (last.1 / first.1).ln() / (last.0 / first.0).ln();
        println!();
        println!(
            "cost grows as N^{growth:.2} from {} to {} tasks (1.00 = linear)",
            first.0, last.0
        );
    }
    Ok(())
}

/// Child mode: `--child N EXECUTORS CORES`; prints `job1_secs job2_secs local_fraction vmhwm_kib baseline_kib`.
fn child(args: &[String]) -> anyhow::Result<()> {
    let [n, executors, cores] = args else { bail!("child arguments: N EXECUTORS CORES") };
    let (n, executors, cores): (u32, u32, u32) = (n.parse()?, executors.parse()?, cores.parse()?);
    let baseline = status_kib("VmRSS")?;
    let start = Instant::now();
    let mut sim = SimCluster {
        sched: Scheduler::new(SchedulerConfig::default()),
        start,
        launches: VecDeque::new(),
        started: 0,
        local: 0,
    };
    for e in 0..executors {
        let host = format!("host-{}", e / EXECUTORS_PER_HOST);
        sim.handle(SchedulerEvent::ExecutorAdded {
            executor: ExecutorId(e),
            host,
            rack: None,
            data_roots: Vec::new(),
            cores,
        });
    }
    let mut lineage = Lineage::default();
    let slice = Arc::new(Batch::from_records(["record"]));
    let rdd = lineage.add(RddKind::Parallel { slices: vec![slice; n as usize] }, n, None);
    lineage.set_persist(rdd, Some(StorageLevel::MemoryOnly));
    let lineage = Arc::new(lineage);
    let components =
        Arc::new(vec![Arc::new(ComponentBytes { hash: "none".into(), bytes: Vec::new() })]);

    let t1 = sim.run_job(JobId(0), &lineage, rdd, n, &components)?;
    sim.started = 0;
    sim.local = 0;
    let t2 = sim.run_job(JobId(1), &lineage, rdd, n, &components)?;
    let local = sim.local as f64 / sim.started.max(1) as f64;
    println!(
        "{} {} {} {} {}",
        t1.as_secs_f64(),
        t2.as_secs_f64(),
        local,
        status_kib("VmHWM")?,
        baseline
    );
    Ok(())
}

struct SimCluster {
    sched: Scheduler,
    start: Instant,
    /// Launched tasks not answered yet.
    launches: VecDeque<TaskReport>,
    started: u64,
    local: u64,
}

impl SimCluster {
    fn handle(&mut self, event: SchedulerEvent) -> Option<Result<Vec<ResultValue>, String>> {
        self.sched.handle(self.start.elapsed(), event);
        let mut finished = None;
        for c in self.sched.drain_commands() {
            match c {
                SchedulerCommand::LaunchTask { executor, task } => {
                    let cached = match &task.plan {
                        Plan::Cache { block, .. } => vec![*block],
                        _ => Vec::new(),
                    };
                    self.launches.push_back(TaskReport {
                        accumulators: Vec::new(),
                        task: task.id.task,
                        executor,
                        result: Ok(TaskOutput::Result(ResultValue::Count(1))),
                        cached,
                        metrics: TaskMetrics::default(),
                        log: String::new(),
                    });
                }
                SchedulerCommand::Record(EventRecord::TaskStarted { locality, .. }) => {
                    self.started += 1;
                    self.local += (locality == TaskLocality::ProcessLocal) as u64;
                }
                SchedulerCommand::JobFinished { result, .. } => {
                    finished = Some(result.map_err(|e| e.message))
                }
                _ => {}
            }
        }
        finished
    }

    /// Runs one job over every partition; returns its wall time.
    fn run_job(
        &mut self,
        job: JobId,
        lineage: &Arc<Lineage>,
        rdd: RddId,
        n: u32,
        components: &Arc<Vec<Arc<ComponentBytes>>>,
    ) -> anyhow::Result<Duration> {
        let t = Instant::now();
        let mut done = self.handle(SchedulerEvent::JobSubmitted {
            job,
            lineage: lineage.clone(),
            rdd,
            partitions: (0..n).collect(),
            result: ResultKind::Count,
            components: components.clone(),
            shared: Default::default(),
        });
        while done.is_none() {
            let Some(report) = self.launches.pop_front() else {
                bail!("{job} stalled with nothing running")
            };
            done = self.handle(SchedulerEvent::TaskFinished(report));
        }
        let elapsed = t.elapsed();
        let values = done.expect("loop ends when done").map_err(anyhow::Error::msg)?;
        let total: u64 =
            values.iter().map(|v| if let ResultValue::Count(c) = v { *c } else { 0 }).sum();
        if total != n as u64 {
            bail!("{job} counted {total} records, expected {n}");
        }
        Ok(elapsed)
    }
}

/// A `/proc/self/status` field in KiB.
fn status_kib(field: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .with_context(|| format!("no {field} in /proc/self/status"))?;
    Ok(line.split_whitespace().nth(1).context("malformed status line")?.parse()?)
}
