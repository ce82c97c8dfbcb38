//! One submitted application: validate the component, wait for executors, run its main with its own driver loop, stream its output back.
//!
//! Each submission is an application with its own `Scheduler` on its own
//! driver loop thread (as each Spark application has its own driver):
//! lineage ids (RDDs, shuffles, blocks) and task ids are per application, so
//! a scheduler shared by several applications would confuse them. All loops
//! share the registered executors through the `Registry`.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::super::driver_loop;
use super::super::{BackendHandle, LoopMessage};
use super::chain;
use super::master::Shared;
use super::port::ClusterPort;
use crate::config::Conf;
use crate::context::Context;
use crate::dag::{Scheduler, SchedulerConfig};
use crate::event_log::EventLog;
use crate::net::framing;
use crate::net::protocol::{JobEvent, SubmitRequest};
use crate::net::{Limits, Stream};
use crate::task::ComponentBytes;
use crate::wasm::{check_job, content_hash, run_job_main_with_stdout};

/// Each stream a submitter opens is one job.
pub(crate) async fn serve_submitter(conn: quinn::Connection, shared: Arc<Shared>) {
    while let Ok(Some(s)) = Stream::accept(&conn, shared.limits).await {
        tokio::spawn(serve_job(s, shared.clone()));
    }
}

async fn serve_job(mut s: Stream, shared: Arc<Shared>) {
    let (component, args, conf) = match s.read::<SubmitRequest>().await {
        Ok(Some(SubmitRequest::SubmitJob { component, args, conf })) => (component, args, conf),
        Ok(None) => return,
        first => {
            let cause = match first {
                Err(e) => chain(&e),
                _ => "a job stream must start with SubmitJob (got CancelJob)".to_string(),
            };
            let message = format!("bad submission: {cause}");
            tracing::warn!(%message);
            let _ = s.write(&JobEvent::JobDone { result: Err(message) }).await;
            s.finish();
            return;
        }
    };
    tracing::info!(component_bytes = component.len(), ?args, "job submitted");
    let cancel = Arc::new(AtomicBool::new(false));
    let (events, mut rx) = mpsc::unbounded_channel::<JobEvent>();
    let (thread_shared, thread_cancel) = (shared.clone(), cancel.clone());
    let spawned = std::thread::Builder::new()
        .name("wisp-job-main".into())
        .spawn(move || run_submission(&thread_shared, component, args, conf, thread_cancel, events));
    if let Err(e) = spawned {
        let _ = s.write(&JobEvent::JobDone { result: Err(format!("cannot start the job's thread: {e}")) }).await;
        s.finish();
        return;
    }
    let Stream { mut send, mut recv, limits } = s;
    // The client cancels with `CancelJob`, by finishing its side, or by going away.
    let watch_cancel = cancel.clone();
    let watcher = tokio::spawn(async move {
        match framing::read_message::<SubmitRequest, _>(&mut recv, &limits).await {
            Ok(Some(SubmitRequest::CancelJob)) => tracing::info!("the submitter cancelled its job"),
            Ok(Some(SubmitRequest::SubmitJob { .. })) => tracing::warn!("second SubmitJob on a job's stream; cancelling the job"),
            Ok(None) => tracing::info!("the submitter closed its job stream; cancelling its job"),
            Err(e) => tracing::info!(error = %chain(&e), "the submitter's job stream broke; cancelling its job"),
        }
        watch_cancel.store(true, Ordering::Relaxed);
    });
    while let Some(event) = rx.recv().await {
        let done = matches!(event, JobEvent::JobDone { .. });
        if let JobEvent::JobDone { result } = &event {
            tracing::info!(?result, "job done");
        }
        if let Err(e) = write(&mut send, &event, &limits).await {
            tracing::info!(error = %chain(&e), "submitter gone; cancelling its job");
            cancel.store(true, Ordering::Relaxed);
        }
        if done {
            let _ = send.finish();
            break;
        }
    }
    watcher.abort();
}

async fn write(send: &mut quinn::SendStream, event: &JobEvent, limits: &Limits) -> Result<(), crate::net::FrameError> {
    framing::write_message(send, event, limits).await
}

/// The job thread: everything up to `JobDone`.
fn run_submission(
    shared: &Shared,
    component: Vec<u8>,
    args: Vec<String>,
    conf: Vec<(String, String)>,
    cancel: Arc<AtomicBool>,
    events: mpsc::UnboundedSender<JobEvent>,
) {
    let result = run_main(shared, component, &args, &conf, &cancel, &events);
    let _ = events.send(JobEvent::JobDone { result });
}

fn run_main(
    shared: &Shared,
    component: Vec<u8>,
    args: &[String],
    pairs: &[(String, String)],
    cancel: &Arc<AtomicBool>,
    events: &mpsc::UnboundedSender<JobEvent>,
) -> Result<(), String> {
    // The job's settings override the master's (the cluster's defaults).
    let mut conf = shared.conf.clone();
    for (k, v) in pairs {
        conf.set(k.trim(), v.trim());
    }
    let scheduler_config = SchedulerConfig::from_conf(&conf).map_err(|e| format!("bad configuration: {e}"))?;
    let job = Arc::new(ComponentBytes { hash: content_hash(&component), bytes: component });
    let not_job = |e: &dyn std::error::Error| format!("the submitted file is not a usable Wisp job: {}", chain(e));
    let loaded = shared.runtime.load(&job).map_err(|e| not_job(&e))?;
    check_job(&loaded).map_err(|e| not_job(&e))?;
    if shared.registry.len() == 0 {
        let _ = events.send(JobEvent::JobState { message: "waiting for executors".into() });
        while shared.registry.len() == 0 {
            if cancel.load(Ordering::Relaxed) {
                return Err("job cancelled".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = events.send(JobEvent::JobState { message: "executors registered; starting".into() });
    }
    let app = shared.next_app.fetch_add(1, Ordering::Relaxed);
    let event_log = match &shared.event_log {
        Some(dir) => Some(EventLog::create(&dir.join(format!("app-{app}"))).map_err(|e| chain(&e))?),
        None => None,
    };
    let (tx, rx) = crossbeam_channel::bounded::<LoopMessage>(4096);
    let port = Box::new(ClusterPort { app, registry: shared.registry.clone() });
    let scheduler = Scheduler::new(scheduler_config);
    let driver = std::thread::Builder::new()
        .name(format!("wisp-driver-loop-{app}"))
        .spawn(move || driver_loop::run(scheduler, rx, port, event_log, Instant::now()))
        .map_err(|e| format!("cannot start the driver loop: {e}"))?;
    shared.registry.add_app(app, tx.clone());
    let handle = BackendHandle {
        tx: tx.clone(),
        next_job: Arc::new(AtomicU32::new(0)),
        cores: shared.registry.cores.clone(),
        cancel: Some(cancel.clone()),
    };
    let (result, shuffles) = run_app(shared, job, conf, handle, args, events);
    shared.registry.remove_app(app, shuffles);
    let _ = tx.send(LoopMessage::Shutdown);
    let _ = driver.join();
    result
}

fn run_app(
    shared: &Shared,
    job: Arc<ComponentBytes>,
    conf: Conf,
    handle: BackendHandle,
    args: &[String],
    events: &mpsc::UnboundedSender<JobEvent>,
) -> (Result<(), String>, u32) {
    match start_app(shared, job, conf, handle, args, events) {
        Ok(done) => done,
        Err(e) => (Err(e), 0),
    }
}

/// Runs the main; returns its outcome and how many shuffles its lineage created.
fn start_app(
    shared: &Shared,
    job: Arc<ComponentBytes>,
    conf: Conf,
    handle: BackendHandle,
    args: &[String],
    events: &mpsc::UnboundedSender<JobEvent>,
) -> Result<(Result<(), String>, u32), String> {
    let loaded = shared.runtime.load(&job).map_err(|e| e.to_string())?;
    let context = Context::new(job, conf, handle, shared.runtime.clone()).map_err(|e| chain(&e))?;
    let (mut reader, writer) = std::io::pipe().map_err(|e| format!("cannot create the job's stdout pipe: {e}"))?;
    let stdout = std::fs::File::from(OwnedFd::from(writer));
    let output = events.clone();
    let pump = std::thread::Builder::new()
        .name("wisp-job-stdout".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 << 10];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if output.send(JobEvent::JobOutput { chunk: buf[..n].to_vec() }).is_err() {
                            break;
                        }
                    }
                }
            }
        })
        .map_err(|e| format!("cannot start the job's output thread: {e}"))?;
    let (result, context) = run_job_main_with_stdout(&shared.runtime, &loaded, Box::new(context), args, Some(stdout));
    let shuffles = context.as_ref().map_or(0, |c| c.lineage().shuffle_count());
    drop(context);
    let _ = pump.join();
    Ok((result.map_err(|e| e.to_string()), shuffles))
}
