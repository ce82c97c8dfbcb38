//! The `wisp` subcommands and their arguments: `wisp run` (local mode), and `wisp master`, `wisp executor`, `wisp submit` (cluster mode).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

use wisp::{
    ClusterSecret, Conf, ConsoleProgress, ExecutorArgs, Fingerprint, HistoryArgs, LocalOptions,
    MasterArgs, RunNotice, SubmitArgs, SubmitNotice,
};

/// Wisp: a Spark-style batch engine whose user code is WebAssembly.
#[derive(Parser, Debug)]
#[command(name = "wisp", version, about)]
pub(crate) struct Cli {
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
    /// Serve the web UI of finished applications from a directory of event logs.
    History(HistoryCmd),
}

/// Arguments of `wisp history`.
#[derive(clap::Args, Debug, Clone)]
struct HistoryCmd {
    /// The event-log directory (`--event-log DIR` of `wisp run` or `wisp master`).
    dir: PathBuf,
    /// Address to listen on (HTTP); bind another address than 127.0.0.1 only on a trusted network.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:18080")]
    listen: String,
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
    /// Serve the web UI, its JSON API and /metrics on this loopback address (e.g. 127.0.0.1:4040).
    #[arg(long, value_name = "ADDR")]
    ui_listen: Option<String>,
    /// Configuration, `key=value` (repeatable).
    #[arg(long = "conf", value_name = "KEY=VALUE")]
    conf: Vec<String>,
}

/// How an executor or a submit client reaches the master.
#[derive(clap::Args, Debug, Clone)]
struct MasterContact {
    /// The master's address, `host:port`.
    #[arg(long, value_name = "ADDR")]
    master: String,
    /// The master's certificate fingerprint (printed by `wisp master`).
    #[arg(long, value_name = "FP")]
    master_fingerprint: String,
    /// File holding the cluster secret.
    #[arg(long, value_name = "FILE")]
    secret_file: PathBuf,
}

impl MasterContact {
    /// The address, the pinned fingerprint and the secret, checked.
    fn resolve(self) -> anyhow::Result<(String, Fingerprint, ClusterSecret)> {
        Ok((self.master, fingerprint(&self.master_fingerprint)?, secret(&self.secret_file)?))
    }
}

/// Arguments of `wisp executor`.
#[derive(clap::Args, Debug, Clone)]
struct ExecutorCmd {
    #[command(flatten)]
    contact: MasterContact,
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
    /// Serve Prometheus metrics at http://ADDR/metrics (bind a non-loopback address only on a trusted network).
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<String>,
}

/// Arguments of `wisp submit`.
#[derive(clap::Args, Debug, Clone)]
struct SubmitCmd {
    #[command(flatten)]
    contact: MasterContact,
    /// The job: a WebAssembly component implementing the wisp:task job world.
    job: PathBuf,
    /// Configuration, `key=value` (repeatable).
    #[arg(long = "conf", value_name = "KEY=VALUE")]
    conf: Vec<String>,
    /// No progress bars and no summary on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Arguments passed to the job's main.
    #[arg(last = true)]
    args: Vec<String>,
}

/// Arguments of `wisp run`.
#[derive(clap::Args, Debug, Clone)]
struct RunArgs {
    /// The job: a WebAssembly component implementing the wisp:task job world.
    job: PathBuf,
    /// Executor task slots (default: the number of cores).
    #[arg(long)]
    cores: Option<u32>,
    /// Write the event log (one JSON object per line) into this directory.
    #[arg(long, value_name = "DIR")]
    event_log: Option<PathBuf>,
    /// Configuration, `key=value` (repeatable).
    #[arg(long = "conf", value_name = "KEY=VALUE")]
    conf: Vec<String>,
    /// No progress bars and no summary on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Serve the web UI, its JSON API and /metrics while the job runs (default 127.0.0.1:4040).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, require_equals = true,
          default_missing_value = "127.0.0.1:4040")]
    ui: Option<String>,
    /// Arguments passed to the job's main.
    #[arg(last = true)]
    args: Vec<String>,
}

/// Runs a parsed command line.
pub(crate) fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => run_local(args),
        Command::Master(args) => master(args),
        Command::Executor(args) => executor(args),
        Command::Submit(args) => submit(args),
        Command::History(args) => history(args),
    }
}

/// `wisp run`: the job's main prints to stdout.
fn run_local(args: RunArgs) -> anyhow::Result<()> {
    let options = LocalOptions {
        job: args.job,
        cores: args.cores,
        event_log: args.event_log,
        conf: args.conf,
        args: args.args,
        progress: !args.quiet,
        ui: args.ui,
    };
    let summary = wisp::run_local_with(&options, &mut |notice| match notice {
        RunNotice::UiListening(addr) => eprintln!("wisp: web UI at http://{addr}/"),
        RunNotice::UiFailed(e) => eprintln!("wisp: {e}; the job runs without it"),
    })?;
    if options.progress && !progress_off(&options.conf) && wisp::stderr_is_terminal() {
        eprintln!("wisp: {summary}");
    }
    Ok(())
}

/// Whether `--conf wisp.ui.showConsoleProgress=false` (or `0`, `no`, `off`) is among `conf`.
fn progress_off(conf: &[String]) -> bool {
    conf.iter().any(|c| {
        c.split_once('=').is_some_and(|(k, v)| {
            k.trim() == "wisp.ui.showConsoleProgress"
                && matches!(v.trim().to_ascii_lowercase().as_str(), "false" | "0" | "no" | "off")
        })
    })
}

fn unique() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}

fn secret(path: &Path) -> anyhow::Result<ClusterSecret> {
    ClusterSecret::from_file(path)
        .with_context(|| format!("cannot use secret file {}", path.display()))
}

fn fingerprint(text: &str) -> anyhow::Result<Fingerprint> {
    text.parse::<Fingerprint>().map_err(|e| anyhow::anyhow!("invalid --master-fingerprint: {e}"))
}

/// `wisp master`: prints `wisp master listening on ADDR fingerprint FP`, then serves until killed.
fn master(args: MasterCmd) -> anyhow::Result<()> {
    let conf = Conf::from_args(&args.conf)?;
    let state_dir = match args.state_dir {
        Some(d) => d,
        None => std::env::var_os("HOME")
            .map(|h| Path::new(&h).join(".wisp").join("master"))
            .context("no --state-dir and no $HOME")?,
    };
    let master_args = MasterArgs {
        listen: args.listen,
        secret: secret(&args.secret_file)?,
        state_dir,
        conf,
        event_log: args.event_log,
        ui_listen: args.ui_listen,
    };
    wisp::run_master(master_args, |addr, fp, ui| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "wisp master listening on {addr} fingerprint {fp}");
        if let Some(ui) = ui {
            let _ = writeln!(out, "wisp master web UI at http://{ui}/");
        }
        let _ = out.flush();
    })?;
    Ok(())
}

/// `wisp history`: prints `wisp history server at http://ADDR/`, then serves until killed.
fn history(args: HistoryCmd) -> anyhow::Result<()> {
    wisp::run_history(HistoryArgs { dir: args.dir, listen: args.listen }, |addr| {
        eprintln!("wisp history server at http://{addr}/");
    })?;
    Ok(())
}

/// `wisp executor`: serves until the master goes away.
fn executor(args: ExecutorCmd) -> anyhow::Result<()> {
    let conf = Conf::from_args(&args.conf)?;
    if args.cores == 0 {
        bail!("--cores must be at least 1");
    }
    let work_dir = args.work_dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("wisp-executor-{}-{}", std::process::id(), unique()))
    });
    let (master, master_fingerprint, secret) = args.contact.resolve()?;
    wisp::run_executor(ExecutorArgs {
        master,
        master_fingerprint,
        secret,
        cores: args.cores,
        host: args.host,
        rack: args.rack,
        data_roots: args
            .data_root
            .iter()
            .map(std::path::absolute)
            .collect::<Result<_, _>>()
            .context("invalid --data-root")?,
        work_dir,
        conf,
        metrics_listen: args.metrics_listen,
    })?;
    Ok(())
}

/// `wisp submit`: the job's output goes to stdout, progress to stderr.
fn submit(args: SubmitCmd) -> anyhow::Result<()> {
    let mut conf = Vec::new();
    for c in &args.conf {
        let (k, v) = c
            .split_once('=')
            .with_context(|| format!("invalid --conf `{c}`: expected key=value"))?;
        conf.push((k.trim().to_string(), v.trim().to_string()));
    }
    let component = std::fs::read(&args.job)
        .with_context(|| format!("cannot read job {}", args.job.display()))?;
    let (master, master_fingerprint, secret) = args.contact.resolve()?;
    let name = args
        .job
        .file_name()
        .map_or_else(|| args.job.display().to_string(), |n| n.to_string_lossy().into_owned());
    let submit_args =
        SubmitArgs { master, master_fingerprint, secret, name, component, args: args.args, conf };
    let draw = !args.quiet && !progress_off(&args.conf) && wisp::stderr_is_terminal();
    let mut bars = draw.then(ConsoleProgress::new);
    let mut out = std::io::stdout();
    let result = wisp::submit(submit_args, &mut out, &mut |notice| match notice {
        SubmitNotice::State(state) => eprintln!("wisp: {state}"),
        SubmitNotice::Stages(stages) => {
            if let Some(b) = &mut bars {
                b.update(stages);
            }
        }
        SubmitNotice::Summary(summary) => {
            if let Some(b) = &mut bars {
                b.clear();
                eprintln!("wisp: {summary}");
            }
        }
    });
    if let Some(b) = &mut bars {
        b.clear();
    }
    result?;
    Ok(())
}
