//! The `wisp` command line: `wisp run` (local mode), and `wisp master`, `wisp executor`, `wisp submit` (cluster mode).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

use crate::backend::cluster::{self, ExecutorArgs, MasterArgs, SubmitArgs};
use crate::backend::{LocalBackend, LocalConfig};
use crate::config::Conf;
use crate::context::Context;
use crate::event_log::EventLog;
use crate::executor::faults::TestFaults;
use crate::net::{ClusterSecret, Fingerprint};
use crate::task::ComponentBytes;
use crate::wasm::{Runtime, TaskLimits, check_job, content_hash, run_job_main};

/// Wisp: a Spark-style batch engine whose user code is WebAssembly.
#[derive(Parser, Debug)]
#[command(name = "wisp", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a job component in local mode (driver and executor threads in this process).
    Run(RunArgs),
    /// Start a cluster master: accepts executors and job submissions.
    Master(MasterCmd),
    /// Start an executor that registers with a master and runs its tasks.
    Executor(ExecutorCmd),
    /// Submit a job component to a master and print its output.
    Submit(SubmitCmd),
}

/// Arguments of `wisp master`.
#[derive(clap::Args, Debug, Clone)]
struct MasterCmd {
    /// Address to listen on (UDP), e.g. 0.0.0.0:7077.
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    /// File holding the cluster secret (at least 16 bytes).
    #[arg(long, value_name = "FILE")]
    secret_file: PathBuf,
    /// Where the master keeps its TLS identity (default: ~/.wisp/master).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Write each application's event log (one JSON object per line) into `DIR/app-N/`.
    #[arg(long, value_name = "DIR")]
    event_log: Option<PathBuf>,
    /// Configuration, `key=value` (repeatable).
    #[arg(long = "conf", value_name = "KEY=VALUE")]
    conf: Vec<String>,
}

/// Arguments of `wisp executor`.
#[derive(clap::Args, Debug, Clone)]
struct ExecutorCmd {
    /// The master's address, `host:port`.
    #[arg(long, value_name = "ADDR")]
    master: String,
    /// The master's certificate fingerprint (printed by `wisp master`).
    #[arg(long, value_name = "FP")]
    master_fingerprint: String,
    /// File holding the cluster secret.
    #[arg(long, value_name = "FILE")]
    secret_file: PathBuf,
    /// Task slots.
    #[arg(long)]
    cores: u32,
    /// Host name other executors reach this one at (default: the local address used to reach the master).
    #[arg(long, value_name = "NAME")]
    host: Option<String>,
    /// Rack name.
    #[arg(long, value_name = "NAME")]
    rack: Option<String>,
    /// A directory this host holds locally (repeatable): input splits below it prefer this executor's host.
    #[arg(long = "data-root", value_name = "DIR")]
    data_root: Vec<PathBuf>,
    /// Work directory: identity, shuffle files, blocks (default: a new temporary directory).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Configuration, `key=value` (repeatable).
    #[arg(long = "conf", value_name = "KEY=VALUE")]
    conf: Vec<String>,
    /// Test-only fault injection rules (see `wisp::executor::faults`); for the integration tests.
    #[arg(long, value_name = "FILE", hide = true)]
    test_faults: Option<PathBuf>,
}

/// Arguments of `wisp submit`.
#[derive(clap::Args, Debug, Clone)]
struct SubmitCmd {
    /// The master's address, `host:port`.
    #[arg(long, value_name = "ADDR")]
    master: String,
    /// The master's certificate fingerprint (printed by `wisp master`).
    #[arg(long, value_name = "FP")]
    master_fingerprint: String,
    /// File holding the cluster secret.
    #[arg(long, value_name = "FILE")]
    secret_file: PathBuf,
    /// The job: a WebAssembly component implementing the wisp:task job world.
    job: PathBuf,
    /// Configuration, `key=value` (repeatable).
    #[arg(long = "conf", value_name = "KEY=VALUE")]
    conf: Vec<String>,
    /// Arguments passed to the job's main.
    #[arg(last = true)]
    args: Vec<String>,
}

/// Arguments of `wisp run`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// The job: a WebAssembly component implementing the wisp:task job world.
    pub job: PathBuf,
    /// Executor task slots (default: the number of cores).
    #[arg(long)]
    pub cores: Option<u32>,
    /// Write the event log (one JSON object per line) into this directory.
    #[arg(long, value_name = "DIR")]
    pub event_log: Option<PathBuf>,
    /// Configuration, `key=value` (repeatable).
    #[arg(long = "conf", value_name = "KEY=VALUE")]
    pub conf: Vec<String>,
    /// Arguments passed to the job's main.
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// Entry point of the `wisp` binary.
pub fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(&args),
        Command::Master(args) => master(args),
        Command::Executor(args) => executor(args),
        Command::Submit(args) => submit(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wisp: error: {}", error_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error chain on one line.
pub fn error_line(e: &anyhow::Error) -> String {
    let parts: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    let mut line = String::new();
    for p in parts {
        if !line.contains(&p) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&p);
        }
    }
    line.replace('\n', "; ")
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("WISP_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    // Colours only on a terminal: log files (cluster processes log to files) stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).with_ansi(ansi).try_init();
}

fn default_cores() -> u32 {
    std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1)
}

/// Directory for compiled components (`$WISP_CACHE_DIR`, else `$XDG_CACHE_HOME/wisp`, else `~/.cache/wisp`).
fn compile_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("WISP_CACHE_DIR") {
        return (!d.is_empty()).then(|| PathBuf::from(d));
    }
    let base =
        std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    Some(base.join("wisp").join("compiled"))
}

/// Runs a job in local mode; what its main prints goes to stdout.
pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let conf = Conf::from_args(&args.conf)?;
    let cores = args.cores.unwrap_or_else(default_cores);
    if cores == 0 {
        bail!("--cores must be at least 1");
    }
    let bytes = std::fs::read(&args.job).with_context(|| format!("cannot read job {}", args.job.display()))?;
    let job = Arc::new(ComponentBytes { hash: content_hash(&bytes), bytes });
    let limits = TaskLimits::from_conf(&conf)?;
    let runtime = Runtime::new(limits, compile_cache_dir())?;
    let loaded = runtime.load(&job).with_context(|| format!("{} is not a usable Wisp job", args.job.display()))?;
    check_job(&loaded).with_context(|| format!("{} is not a usable Wisp job", args.job.display()))?;
    let event_log = args.event_log.as_deref().map(EventLog::create).transpose()?;
    let work_root = std::env::temp_dir().join(format!("wisp-{}-{}", std::process::id(), unique()));
    let backend = LocalBackend::start(LocalConfig { cores, conf: conf.clone(), work_root, event_log }, runtime.clone())?;
    let context = Context::new(job, conf, backend.handle(), runtime.clone())?;
    let (result, context) = run_job_main(&runtime, &loaded, Box::new(context), &args.args);
    drop(context);
    backend.shutdown();
    result.map_err(anyhow::Error::from)
}

fn unique() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos() as u64).unwrap_or(0)
}

fn secret(path: &Path) -> anyhow::Result<ClusterSecret> {
    ClusterSecret::from_file(path).with_context(|| format!("cannot use secret file {}", path.display()))
}

fn fingerprint(text: &str) -> anyhow::Result<Fingerprint> {
    text.parse::<Fingerprint>().map_err(|e| anyhow::anyhow!("invalid --master-fingerprint: {e}"))
}

/// `wisp master`: prints `wisp master listening on ADDR fingerprint FP`, then serves until killed.
fn master(args: MasterCmd) -> anyhow::Result<()> {
    let conf = Conf::from_args(&args.conf)?;
    let state_dir = match args.state_dir {
        Some(d) => d,
        None => std::env::var_os("HOME").map(|h| Path::new(&h).join(".wisp").join("master")).context("no --state-dir and no $HOME")?,
    };
    let master_args = MasterArgs {
        listen: args.listen,
        secret: secret(&args.secret_file)?,
        state_dir,
        conf,
        event_log: args.event_log,
        compile_cache: compile_cache_dir(),
    };
    cluster::run_master(master_args, |addr, fp| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "wisp master listening on {addr} fingerprint {fp}");
        let _ = out.flush();
    })?;
    Ok(())
}

/// `wisp executor`: serves until the master goes away.
fn executor(args: ExecutorCmd) -> anyhow::Result<()> {
    if args.cores == 0 {
        bail!("--cores must be at least 1");
    }
    let work_dir = args.work_dir.unwrap_or_else(|| std::env::temp_dir().join(format!("wisp-executor-{}-{}", std::process::id(), unique())));
    let test_faults = args.test_faults.as_deref().map(TestFaults::load).transpose()?;
    cluster::run_executor(ExecutorArgs {
        master: args.master,
        master_fingerprint: fingerprint(&args.master_fingerprint)?,
        secret: secret(&args.secret_file)?,
        cores: args.cores,
        host: args.host,
        rack: args.rack,
        data_roots: args.data_root.iter().map(std::path::absolute).collect::<Result<_, _>>().context("invalid --data-root")?,
        work_dir,
        conf: Conf::from_args(&args.conf)?,
        compile_cache: compile_cache_dir(),
        test_faults: test_faults.map(Arc::new),
    })?;
    Ok(())
}

/// `wisp submit`: the job's output goes to stdout, progress to stderr.
fn submit(args: SubmitCmd) -> anyhow::Result<()> {
    let mut conf = Vec::new();
    for c in &args.conf {
        let (k, v) = c.split_once('=').with_context(|| format!("invalid --conf `{c}`: expected key=value"))?;
        conf.push((k.trim().to_string(), v.trim().to_string()));
    }
    let component = std::fs::read(&args.job).with_context(|| format!("cannot read job {}", args.job.display()))?;
    let submit_args = SubmitArgs {
        master: args.master,
        master_fingerprint: fingerprint(&args.master_fingerprint)?,
        secret: secret(&args.secret_file)?,
        component,
        args: args.args,
        conf,
    };
    let mut out = std::io::stdout();
    cluster::submit(submit_args, &mut out, &mut |state| eprintln!("wisp: {state}"))?;
    Ok(())
}
