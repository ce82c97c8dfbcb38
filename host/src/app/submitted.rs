//! Applications submitted to a master: the master's `SubmissionHandler`, and `run_master` that wires it in.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use super::progress_pump::ProgressPump;
use super::{AppSpec, check_job, stdout};
use crate::cluster::ClusterError;
use crate::cluster::master::{
    self, JobEvents, MasterArgs, MasterExecutors, Submission, SubmissionHandler,
};
use crate::context::Journal;
use crate::error_chain::chain;
use crate::event_log::EventLog;
use crate::net::Fingerprint;
use crate::observe::http_server::HttpServer;
use crate::observe::progress::summary;
use crate::observe::{LiveApp, Metrics};
use crate::process_settings::{AppSettings, MasterSettings};
use crate::settings::compile_cache_dir;
use crate::task::ComponentBytes;
use crate::ui::live::LiveApps;
use crate::ui::serve;
use crate::wasm::{Runtime, content_hash};

/// The journal of temporary output directories, under the master's state directory.
const OUTPUT_JOURNAL_DIR: &str = "temporary-outputs";

/// Runs `wisp master` until its process ends; `ready` is told the bound address, the
/// fingerprint to pin and the web UI's address (with `ui_listen`).
pub fn run_master(
    args: MasterArgs,
    ready: impl FnOnce(SocketAddr, Fingerprint, Option<SocketAddr>),
) -> Result<(), ClusterError> {
    let settings = MasterSettings::from_conf(&args.conf)?;
    let runtime = Runtime::new(settings.task_limits.clone(), compile_cache_dir())
        .map_err(|e| ClusterError::Runtime { message: e.to_string() })?;
    // Job mains run in this process: the temporary outputs a killed master left are its own to clean.
    let output_journal = Arc::new(Journal::new(args.state_dir.join(OUTPUT_JOURNAL_DIR)));
    output_journal.clean();
    let apps = Arc::new(LiveApps::default());
    // Guests run on the executors: the master's metrics are its applications' only.
    let metrics = Metrics::new(None, None);
    let ui = match &args.ui_listen {
        Some(addr) => Some(start_ui(addr, apps.clone(), metrics.clone())?),
        None => None,
    };
    let ui_addr = ui.as_ref().map(HttpServer::addr);
    let handler = Arc::new(SubmittedApps {
        runtime,
        event_log: args.event_log.clone(),
        output_journal,
        apps,
        metrics,
    });
    let result = master::run(args, &settings, handler, |addr, fp| ready(addr, fp, ui_addr));
    drop(ui);
    result
}

/// The master's UI has no authentication of its own: it is served on loopback addresses only
/// (reach it from elsewhere through an SSH tunnel). See docs/security.md.
fn start_ui(
    addr: &str,
    apps: Arc<LiveApps>,
    metrics: Arc<Metrics>,
) -> Result<HttpServer, ClusterError> {
    let loopback = addr.parse::<SocketAddr>().is_ok_and(|a| a.ip().is_loopback());
    if !loopback {
        return Err(ClusterError::Ui {
            message: format!(
                "--ui-listen {addr}: the master's web UI has no authentication, so it listens on a loopback address only (e.g. 127.0.0.1:4040; reach it through an SSH tunnel)"
            ),
        });
    }
    serve(addr, apps, Some(metrics)).map_err(|e| ClusterError::Ui { message: e.to_string() })
}

/// Runs each submission as an application whose job main runs in this (the master's) process.
struct SubmittedApps {
    runtime: Arc<Runtime>,
    /// Each application's event log goes to `DIR/app-N/`.
    event_log: Option<PathBuf>,
    /// Where the applications' temporary output directories are recorded.
    output_journal: Arc<Journal>,
    /// Every application's live status, for the web UI.
    apps: Arc<LiveApps>,
    /// The master's metrics.
    metrics: Arc<Metrics>,
}

impl SubmissionHandler for SubmittedApps {
    fn run(
        &self,
        submission: Submission,
        executors: &MasterExecutors,
        events: &JobEvents,
    ) -> Result<(), String> {
        let Submission { name, component, args, conf, cancel } = submission;
        let settings =
            AppSettings::from_conf(&conf).map_err(|e| format!("bad configuration: {e}"))?;
        let job = Arc::new(ComponentBytes { hash: content_hash(&component), bytes: component });
        let not_job = |e: &dyn std::error::Error| {
            format!("the submitted file is not a usable Wisp job: {}", chain(e))
        };
        let loaded = self.runtime.load(&job).map_err(|e| not_job(&e))?;
        check_job(&loaded).map_err(|e| not_job(&e))?;
        let executors = executors
            .join(&cancel, |message| events.state(message))
            .map_err(|_| "job cancelled".to_string())?;
        let app = executors.app();
        let event_log = match &self.event_log {
            Some(dir) => Some(EventLog::create(&dir.join(app.to_string())).map_err(|e| chain(&e))?),
            None => None,
        };
        let live = LiveApp::new();
        self.apps.add(live.clone());
        let pump = ProgressPump::start(live.clone(), events.clone())
            .map_err(|e| format!("cannot start the progress thread: {e}"))?;
        let output = events.clone();
        let (stdout, stdout_pump) = stdout::piped(move |chunk| output.output(chunk))
            .map_err(|e| format!("cannot create the job's stdout pipe: {e}"))?;
        let spec = AppSpec {
            app,
            name,
            mode: "cluster",
            job,
            loaded,
            conf,
            settings,
            args,
            event_log,
            live: Some(live.clone()),
            metrics: Some(self.metrics.clone()),
            stdout: Some(stdout),
            cancel: Some(cancel),
            output_journal: Some(self.output_journal.clone()),
        };
        let result = super::run(&self.runtime, spec, &executors);
        drop(pump);
        let _ = stdout_pump.join();
        if result.is_ok() {
            events.summary(summary(&live.lock()).to_string());
        }
        result.map_err(|e| chain(&e))
    }
}
