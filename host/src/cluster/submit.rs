//! The `wisp submit` client: uploads a job, prints its output as it streams back, returns its outcome; Ctrl-C cancels the job.

use std::io::Write;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::{ClusterError, client_net, resolve};
use crate::error_chain::chain;
use crate::net::framing;
use crate::net::protocol::{JobEvent, SubmitRequest};
use crate::net::{ClusterSecret, Fingerprint, Role, Stream, connect_with};
use crate::observe::progress::StageProgress;
use crate::process_settings::SubmitSettings;

/// How long the client waits, after sending `CancelJob`, for the master to confirm the job ended.
const CANCEL_WAIT: Duration = Duration::from_secs(10);

/// What `wisp submit` hears from the master besides the job's output.
#[derive(Debug)]
pub enum SubmitNotice<'a> {
    /// A state change, e.g. `waiting for executors`.
    State(&'a str),
    /// The running stages' progress (empty: none runs).
    Stages(&'a [StageProgress]),
    /// The application's one-line summary, before a successful end.
    Summary(&'a str),
}

/// What `wisp submit` sends.
pub struct SubmitArgs {
    /// The master's address (`host:port`).
    pub master: String,
    /// The master's certificate fingerprint.
    pub master_fingerprint: Fingerprint,
    /// The cluster secret.
    pub secret: ClusterSecret,
    /// The application's name (the UI and event log show it): the job file's name.
    pub name: String,
    /// The job's component bytes.
    pub component: Vec<u8>,
    /// Arguments of the job's main.
    pub args: Vec<String>,
    /// `--conf` pairs.
    pub conf: Vec<(String, String)>,
}

/// Submits a job and waits for its end; its stdout goes to `out`, progress lines to `progress`.
///
/// SIGINT (Ctrl-C) sends `CancelJob`: the master cancels the job's running
/// job and kills its tasks, and this returns `ClusterError::Cancelled` once
/// the master confirms the end (or after a bounded wait, or at a second
/// Ctrl-C).
pub fn submit(
    args: SubmitArgs,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(SubmitNotice<'_>),
) -> Result<(), ClusterError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| ClusterError::Start { what: "tokio runtime", source })?;
    rt.block_on(run(args, out, progress))
}

async fn run(
    args: SubmitArgs,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(SubmitNotice<'_>),
) -> Result<(), ClusterError> {
    // Installed before anything else, so that a Ctrl-C at any point cancels instead of killing the process.
    let mut interrupt = signal(SignalKind::interrupt())
        .map_err(|source| ClusterError::Start { what: "SIGINT handler", source })?;
    let timers = SubmitSettings::from_pairs(&args.conf)?.net;
    let addr = resolve(&args.master).await?;
    // Keep-alives keep a job that prints nothing for long connected, and a dead
    // master is noticed within `wisp.network.livenessTimeout`.
    let net = client_net(timers, "master");
    let connecting =
        connect_with(addr, args.master_fingerprint, &args.secret, Role::Submitter, &net);
    let client = tokio::select! {
        c = connecting => c.map_err(|source| ClusterError::Connect { addr: args.master.clone(), source })?,
        _ = interrupt.recv() => return Err(ClusterError::Cancelled),
    };
    let conn = client.conn.clone();
    let gone = |cause: String| ClusterError::MasterLost {
        message: master_gone(&conn, timers.liveness_timeout).unwrap_or(cause),
    };
    let rpc = |source: crate::net::RpcError| match conn.close_reason() {
        Some(_) => gone(chain(&source)),
        None => ClusterError::Rpc { source },
    };
    let mut s = Stream::open(&client.conn, net.limits).await.map_err(rpc)?;
    s.write(&SubmitRequest::SubmitJob {
        name: args.name,
        component: args.component,
        args: args.args,
        conf: args.conf,
    })
    .await
    .map_err(rpc)?;
    // The send side stays open: finishing it would cancel the job. Events are read on
    // their own task, so that waiting for a signal never interrupts a frame half-read.
    let Stream { mut send, mut recv, limits } = s;
    let (tx, mut events) = mpsc::channel(16);
    let reader = tokio::spawn(async move {
        loop {
            let event = framing::read_message::<JobEvent, _>(&mut recv, &limits).await;
            let last = matches!(event, Ok(Some(JobEvent::JobDone { .. })) | Ok(None) | Err(_));
            if tx.send(event).await.is_err() || last {
                break;
            }
        }
    });
    let mut cancel_deadline: Option<tokio::time::Instant> = None;
    let result = loop {
        let deadline = cancel_deadline
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86400 * 365));
        let event = tokio::select! {
            e = events.recv() => e,
            _ = interrupt.recv() => {
                if cancel_deadline.is_some() {
                    break Err(ClusterError::Cancelled);
                }
                progress(SubmitNotice::State("cancelling the job (Ctrl-C again to stop waiting)"));
                if let Err(e) = framing::write_message(&mut send, &SubmitRequest::CancelJob, &limits).await {
                    tracing::debug!(error = %chain(&e), "cannot send CancelJob; closing the connection cancels the job");
                    break Err(ClusterError::Cancelled);
                }
                cancel_deadline = Some(tokio::time::Instant::now() + CANCEL_WAIT);
                continue;
            }
            _ = tokio::time::sleep_until(deadline), if cancel_deadline.is_some() => break Err(ClusterError::Cancelled),
        };
        match event {
            Some(Ok(Some(JobEvent::JobOutput { chunk }))) => {
                out.write_all(&chunk)
                    .and_then(|()| out.flush())
                    .map_err(|source| ClusterError::Output { source })?;
            }
            Some(Ok(Some(JobEvent::JobState { message }))) => {
                progress(SubmitNotice::State(&message))
            }
            Some(Ok(Some(JobEvent::JobProgress { stages }))) => {
                let stages: Vec<StageProgress> = stages.iter().copied().map(Into::into).collect();
                progress(SubmitNotice::Stages(&stages));
            }
            Some(Ok(Some(JobEvent::JobSummary { summary }))) => {
                progress(SubmitNotice::Summary(&summary))
            }
            Some(Ok(Some(JobEvent::JobDone { result }))) => {
                break match result {
                    Ok(()) => Ok(()),
                    Err(_) if cancel_deadline.is_some() => Err(ClusterError::Cancelled),
                    Err(message) => Err(ClusterError::JobFailed { message }),
                };
            }
            _ if cancel_deadline.is_some() => break Err(ClusterError::Cancelled),
            Some(Ok(None)) | None => {
                break Err(gone("the master ended the job stream before the job ended".into()));
            }
            Some(Err(e)) => break Err(gone(chain(&e))),
        }
    };
    reader.abort();
    let _ = send.finish();
    client.close().await;
    result
}

/// Why the master's connection ended, said for a user, if it did: it closed it (its reason,
/// e.g. `the master is shutting down`), or it fell silent for the liveness timeout.
fn master_gone(conn: &quinn::Connection, liveness: Duration) -> Option<String> {
    Some(match conn.close_reason()? {
        quinn::ConnectionError::ApplicationClosed(c) if !c.reason.is_empty() => {
            String::from_utf8_lossy(&c.reason).into_owned()
        }
        quinn::ConnectionError::TimedOut => format!(
            "the master stopped answering (nothing heard for {liveness:?}, \
             wisp.network.livenessTimeout): it died or is unreachable"
        ),
        other => other.to_string(),
    })
}
