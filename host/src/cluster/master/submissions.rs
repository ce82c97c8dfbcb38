//! Job submissions on the master: each stream a submitter opens is one application, run by the `SubmissionHandler` on its own thread.
//!
//! The master does not know what an application is: it reads the
//! submission, overlays the job's `--conf` on its own, hands both to the
//! handler on a dedicated thread, streams the handler's `JobEvent`s back and
//! turns the submitter going away into a cancellation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;

use super::app_executors::MasterExecutors;
use crate::error_chain::chain;
use crate::net::framing;
use crate::net::protocol::{JobEvent, SubmitRequest, WireStageProgress};
use crate::net::{Limits, Stream};
use crate::settings::Conf;

/// Events buffered between an application's threads and its submitter's stream; senders wait beyond it.
const JOB_EVENTS_CAPACITY: usize = 64;

/// One submitted job, as the master received it.
pub(crate) struct Submission {
    /// The application's name, as the submitter gave it.
    pub(crate) name: String,
    /// The job component's bytes.
    pub(crate) component: Vec<u8>,
    /// Arguments of its main.
    pub(crate) args: Vec<String>,
    /// The master's configuration with the job's `--conf` on top.
    pub(crate) conf: Conf,
    /// Set when the submitter cancels or goes away.
    pub(crate) cancel: Arc<AtomicBool>,
}

/// Runs submitted applications (implemented by the application layer).
pub(crate) trait SubmissionHandler: Send + Sync + 'static {
    /// Runs one submission to its end on the calling (dedicated) thread; the
    /// error is the job's one-line failure, sent to the submitter.
    fn run(
        &self,
        submission: Submission,
        executors: &MasterExecutors,
        events: &JobEvents,
    ) -> Result<(), String>;
}

/// Where an application's progress and output go: its submitter's stream.
#[derive(Clone)]
pub(crate) struct JobEvents(mpsc::Sender<JobEvent>);

impl JobEvents {
    /// A progress line (`wisp: …` on the submitter's stderr).
    pub(crate) fn state(&self, message: &str) {
        let _ = self.0.blocking_send(JobEvent::JobState { message: message.to_string() });
    }

    /// A chunk of the main's stdout; false once the submitter is gone.
    pub(crate) fn output(&self, chunk: Vec<u8>) -> bool {
        self.0.blocking_send(JobEvent::JobOutput { chunk }).is_ok()
    }

    /// The running stages' progress.
    pub(crate) fn progress(&self, stages: Vec<WireStageProgress>) -> bool {
        self.0.blocking_send(JobEvent::JobProgress { stages }).is_ok()
    }

    /// The application's one-line summary.
    pub(crate) fn summary(&self, summary: String) {
        let _ = self.0.blocking_send(JobEvent::JobSummary { summary });
    }

    fn done(&self, result: Result<(), String>) {
        let _ = self.0.blocking_send(JobEvent::JobDone { result });
    }
}

/// What every submission stream shares.
pub(crate) struct Submissions {
    pub(crate) handler: Arc<dyn SubmissionHandler>,
    pub(crate) executors: MasterExecutors,
    pub(crate) limits: Limits,
    /// The master's own configuration: every application's defaults.
    pub(crate) conf: Conf,
}

/// Each stream a submitter opens is one job.
pub(crate) async fn serve_submitter(conn: quinn::Connection, submissions: Arc<Submissions>) {
    while let Ok(Some(s)) = Stream::accept(&conn, submissions.limits).await {
        tokio::spawn(serve_job(s, submissions.clone()));
    }
}

async fn serve_job(mut s: Stream, submissions: Arc<Submissions>) {
    let (name, component, args, pairs) = match s.read::<SubmitRequest>().await {
        Ok(Some(SubmitRequest::SubmitJob { name, component, args, conf })) => {
            (name, component, args, conf)
        }
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
    tracing::info!(%name, component_bytes = component.len(), ?args, "job submitted");
    // The job's settings override the master's (the cluster's defaults); an unknown `wisp.*` key refuses the job.
    let conf = match Conf::from_pairs(&pairs) {
        Ok(job_conf) => submissions.conf.overlaid(&job_conf),
        Err(e) => {
            let message = e.to_string();
            tracing::warn!(%message, "job refused");
            let _ = s.write(&JobEvent::JobDone { result: Err(message) }).await;
            s.finish();
            return;
        }
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let submission = Submission { name, component, args, conf, cancel: cancel.clone() };
    let (tx, mut rx) = mpsc::channel::<JobEvent>(JOB_EVENTS_CAPACITY);
    let events = JobEvents(tx);
    let thread_submissions = submissions.clone();
    let spawned = std::thread::Builder::new().name("wisp-job-main".into()).spawn(move || {
        let s = &thread_submissions;
        let result = s.handler.run(submission, &s.executors, &events);
        events.done(result);
    });
    if let Err(e) = spawned {
        let _ = s
            .write(&JobEvent::JobDone {
                result: Err(format!("cannot start the job's thread: {e}")),
            })
            .await;
        s.finish();
        return;
    }
    let Stream { mut send, mut recv, limits } = s;
    // The client cancels with `CancelJob`, by finishing its side, or by going away.
    let watch_cancel = cancel.clone();
    let watcher = tokio::spawn(async move {
        match framing::read_message::<SubmitRequest, _>(&mut recv, &limits).await {
            Ok(Some(SubmitRequest::CancelJob)) => tracing::info!("the submitter cancelled its job"),
            Ok(Some(SubmitRequest::SubmitJob { .. })) => {
                tracing::warn!("second SubmitJob on a job's stream; cancelling the job")
            }
            Ok(None) => tracing::info!("the submitter closed its job stream; cancelling its job"),
            Err(e) => {
                tracing::info!(error = %chain(&e), "the submitter's job stream broke; cancelling its job")
            }
        }
        watch_cancel.store(true, Ordering::Relaxed);
    });
    while let Some(event) = rx.recv().await {
        let done = matches!(event, JobEvent::JobDone { .. });
        if let JobEvent::JobDone { result } = &event {
            tracing::info!(?result, "job done");
        }
        if let Err(e) = framing::write_message(&mut send, &event, &limits).await {
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
