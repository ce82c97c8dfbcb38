//! One application: its context, driver loop, job-main thread and event log, run the same way by `wisp run` and by the master.
//!
//! `run` assembles an application on top of any `ExecutorBackend`: it starts
//! the application's driver loop, builds its `Context`, instantiates the job
//! main with the context as its driver (`job_main.rs`) and, when the main
//! returns, stops the loop and tells the executors the application ended.
//! `local.rs` is `wisp run` (executors are task threads of this process);
//! `submitted.rs` is the master's submission handler (executors are
//! processes registered with the master); `stdout.rs` pipes a submitted
//! main's stdout back to its submitter.

pub(crate) mod job_main;
pub(crate) mod local;
mod progress_pump;
mod stdout;
pub(crate) mod submitted;

use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub(crate) use job_main::{JobMainError, check_job};

use crate::context::{Context, Journal};
use crate::dag::Scheduler;
use crate::driver_loop::{ExecutorBackend, RunningLoop};
use crate::error_chain::chain;
use crate::event_log::{EventLog, LogLine};
use crate::ids::AppId;
use crate::observe::{LiveApp, Metrics, Recorder, masked_conf};
use crate::process_settings::AppSettings;
use crate::settings::Conf;
use crate::task::ComponentBytes;
use crate::wasm::{LoadedComponent, Runtime};

/// Why an application did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The driver loop's thread could not start.
    #[error("cannot start the driver loop: {source}")]
    Start {
        /// The spawn error.
        source: std::io::Error,
    },
    /// The job's main failed.
    #[error(transparent)]
    Main(#[from] JobMainError),
}

/// Everything one application needs besides its executors.
pub(crate) struct AppSpec {
    /// Its id (routing on a master, thread and span names).
    pub(crate) app: AppId,
    /// Its name (the job file's name, or what the submitter called it).
    pub(crate) name: String,
    /// `local` or `cluster` (for the UI).
    pub(crate) mode: &'static str,
    /// The job component's bytes (component 0 of the lineage).
    pub(crate) job: Arc<ComponentBytes>,
    /// The same, compiled and checked to be a job.
    pub(crate) loaded: Arc<LoadedComponent>,
    /// The application's configuration.
    pub(crate) conf: Conf,
    /// Its settings (read from `conf` by the caller, which may adjust them).
    pub(crate) settings: AppSettings,
    /// Arguments of the main.
    pub(crate) args: Vec<String>,
    /// The open event log, if any.
    pub(crate) event_log: Option<EventLog>,
    /// Its live status, if anyone watches (web UI, console progress).
    pub(crate) live: Option<Arc<LiveApp>>,
    /// The process's metrics, if served.
    pub(crate) metrics: Option<Arc<Metrics>>,
    /// Where the main's stdout goes (`None`: this process's stdout).
    pub(crate) stdout: Option<File>,
    /// Set when the application is cancelled from outside.
    pub(crate) cancel: Option<Arc<AtomicBool>>,
    /// Where its temporary output directories are recorded (the master's journal), if anywhere.
    pub(crate) output_journal: Option<Arc<Journal>>,
}

/// Runs an application to its end on the calling thread (which becomes its job-main thread).
pub(crate) fn run(
    runtime: &Arc<Runtime>,
    spec: AppSpec,
    backend: &dyn ExecutorBackend,
) -> Result<(), AppError> {
    let _span = tracing::info_span!("app", app = %spec.app).entered();
    let AppSettings {
        scheduler,
        default_parallelism,
        max_split_bytes,
        store,
        output_codec,
        max_broadcast_bytes,
    } = spec.settings;
    let scheduler = Scheduler::new(scheduler);
    let start = LogLine::AppStart {
        time_ms: 0.0,
        app: spec.app.to_string(),
        name: spec.name.clone(),
        mode: spec.mode.to_string(),
        args: spec.args.clone(),
        conf: masked_conf(spec.conf.pairs()),
        start_unix_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    };
    let recorder = Recorder::new(spec.event_log, spec.live, spec.metrics, start);
    let driver_loop = RunningLoop::start(spec.app, scheduler, backend, recorder, spec.cancel)
        .map_err(|source| AppError::Start { source })?;
    let context = Context::new(
        spec.job,
        spec.conf,
        default_parallelism,
        crate::context::InputOutput {
            max_split_bytes,
            stores: crate::store::Stores::new(store),
            codec: output_codec,
            max_broadcast_bytes,
        },
        driver_loop.handle(),
        runtime.clone(),
        spec.output_journal,
    );
    let (result, _context) = job_main::run(runtime, &spec.loaded, context, &spec.args, spec.stdout);
    driver_loop.app_ended(result.as_ref().err().map(|e| chain(e)));
    driver_loop.stop();
    backend.detach();
    result.map_err(AppError::from)
}
