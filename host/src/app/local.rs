//! `wisp run`: one application in local mode (driver loop and executor task threads in this process).

use std::path::PathBuf;
use std::sync::Arc;

use super::{AppError, AppSpec, check_job};
use crate::event_log::{EventLog, EventLogError};
use crate::executor::ExecutorConfig;
use crate::ids::{AppId, ExecutorId};
use crate::local::{LocalExecutors, StartError};
use crate::observe::console::{ProgressThread, stderr_is_terminal};
use crate::observe::progress::{RunSummary, summary};
use crate::observe::{LiveApp, Metrics};
use crate::process_settings::LocalSettings;
use crate::settings::{Conf, ConfigError, compile_cache_dir};
use crate::task::ComponentBytes;
use crate::ui::live::LiveApps;
use crate::ui::{UiError, serve};
use crate::wasm::{ComponentError, Runtime, content_hash};

/// What `wisp run` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct LocalOptions {
    /// The job: a WebAssembly component implementing the wisp:task job world.
    pub job: PathBuf,
    /// Executor task slots (default: the number of cores).
    pub cores: Option<u32>,
    /// Write the event log (one JSON object per line) into this directory.
    pub event_log: Option<PathBuf>,
    /// Configuration, `key=value` pairs.
    pub conf: Vec<String>,
    /// Arguments passed to the job's main.
    pub args: Vec<String>,
    /// Draw the running stages' progress on stderr (only when it is a terminal).
    pub progress: bool,
    /// Serve the web UI, its JSON API and `/metrics` on this address (`host:port`) while the job runs.
    pub ui: Option<String>,
}

/// What `wisp run` tells its caller before the job ends.
#[derive(Debug)]
pub enum RunNotice {
    /// The web UI serves at this address.
    UiListening(std::net::SocketAddr),
    /// The web UI could not start; the job runs without it.
    UiFailed(UiError),
}

/// Why `wisp run` failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `--cores 0`.
    #[error("--cores must be at least 1")]
    NoCores,
    /// The job file could not be read.
    #[error("cannot read job {path}")]
    ReadJob {
        /// The job's path.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The wasm runtime could not start.
    #[error(transparent)]
    Runtime(ComponentError),
    /// The file is not a job component.
    #[error("{path} is not a usable Wisp job")]
    NotAJob {
        /// The job's path.
        path: PathBuf,
        /// Why.
        source: ComponentError,
    },
    /// The event log could not be created.
    #[error(transparent)]
    EventLog(#[from] EventLogError),
    /// The executor could not start.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The application failed.
    #[error(transparent)]
    App(#[from] AppError),
}

fn default_cores() -> u32 {
    std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1)
}

/// Runs a job in local mode; what its main prints goes to this process's stdout. On success,
/// says what it did (summed from its event-log lines).
pub fn run_local(options: &LocalOptions) -> Result<RunSummary, RunError> {
    run_local_with(options, &mut |_| {})
}

/// `run_local`, telling `notice` where the web UI serves (or why it does not).
pub fn run_local_with(
    options: &LocalOptions,
    notice: &mut dyn FnMut(RunNotice),
) -> Result<RunSummary, RunError> {
    let conf = Conf::from_args(&options.conf)?;
    let cores = options.cores.unwrap_or_else(default_cores);
    if cores == 0 {
        return Err(RunError::NoCores);
    }
    let settings = LocalSettings::from_conf(&conf, cores)?;
    let bytes = std::fs::read(&options.job)
        .map_err(|source| RunError::ReadJob { path: options.job.clone(), source })?;
    let job = Arc::new(ComponentBytes { hash: content_hash(&bytes), bytes });
    let runtime =
        Runtime::new(settings.task_limits, compile_cache_dir()).map_err(RunError::Runtime)?;
    let not_a_job = |source| RunError::NotAJob { path: options.job.clone(), source };
    let loaded = runtime.load(&job).map_err(not_a_job)?;
    check_job(&loaded).map_err(not_a_job)?;
    let event_log = options.event_log.as_deref().map(EventLog::create).transpose()?;
    let progress = options.progress && settings.show_progress && stderr_is_terminal();
    let live = LiveApp::new();
    let work_root = std::env::temp_dir().join(format!("wisp-{}-{}", std::process::id(), unique()));
    let executor_config = ExecutorConfig {
        id: ExecutorId(0),
        work_dir: work_root.join("executor-0"),
        shuffle_spill_memory: settings.shuffle_spill_memory,
        batch_bytes: crate::executor::BATCH_BYTES,
        stores: crate::store::Stores::new(settings.app.store.clone()),
    };
    let memory = settings.memory.manager()?;
    let metrics = options
        .ui
        .is_some()
        .then(|| Metrics::new(Some(runtime.stats().clone()), Some(memory.clone())));
    let executors = LocalExecutors::start(
        cores,
        settings.task_niceness,
        work_root,
        executor_config,
        runtime.clone(),
        memory,
    )?;
    let spec = AppSpec {
        app: AppId(0),
        name: options.job.file_name().map_or_else(
            || options.job.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        mode: "local",
        job,
        loaded,
        conf,
        settings: settings.app,
        args: options.args.clone(),
        event_log,
        live: Some(live.clone()),
        metrics: metrics.clone(),
        stdout: None,
        cancel: None,
        output_journal: None,
    };
    let ui = options.ui.as_deref().and_then(|addr| {
        let apps = Arc::new(LiveApps::default());
        apps.add(live.clone());
        match serve(addr, apps, metrics.clone()) {
            Ok(server) => {
                notice(RunNotice::UiListening(server.addr()));
                Some(server)
            }
            Err(e) => {
                notice(RunNotice::UiFailed(e));
                None
            }
        }
    });
    let bars = if progress { ProgressThread::start(live.clone()).ok() } else { None };
    let result = super::run(&runtime, spec, &executors);
    drop(bars);
    drop(ui);
    executors.shutdown();
    result?;
    Ok(summary(&live.lock()))
}

fn unique() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}
