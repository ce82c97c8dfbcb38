//! The `wisp submit` client: uploads a job, prints its output as it streams back, returns its outcome.

use std::io::Write;

use super::{ClusterError, resolve};
use crate::net::protocol::{JobEvent, SubmitRequest};
use crate::net::{ClusterSecret, Fingerprint, NetConfig, Role, Stream, connect_with};

/// What `wisp submit` sends.
pub struct SubmitArgs {
    /// The master's address (`host:port`).
    pub master: String,
    /// The master's certificate fingerprint.
    pub master_fingerprint: Fingerprint,
    /// The cluster secret.
    pub secret: ClusterSecret,
    /// The job's component bytes.
    pub component: Vec<u8>,
    /// Arguments of the job's main.
    pub args: Vec<String>,
    /// `--conf` pairs.
    pub conf: Vec<(String, String)>,
}

/// Submits a job and waits for its end; its stdout goes to `out`, progress lines to `progress`.
pub fn submit(args: SubmitArgs, out: &mut dyn Write, progress: &mut dyn FnMut(&str)) -> Result<(), ClusterError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| ClusterError::Start { what: "tokio runtime", source })?;
    rt.block_on(run(args, out, progress))
}

async fn run(args: SubmitArgs, out: &mut dyn Write, progress: &mut dyn FnMut(&str)) -> Result<(), ClusterError> {
    let addr = resolve(&args.master).await?;
    // Keep-alives well inside any `wisp.network.timeout` the master may use: a job can print nothing for long.
    let net = NetConfig { keep_alive: std::time::Duration::from_millis(500), ..NetConfig::default() };
    let client = connect_with(addr, args.master_fingerprint, &args.secret, Role::Submitter, &net)
        .await
        .map_err(|source| ClusterError::Connect { addr: args.master.clone(), source })?;
    let rpc = |source| ClusterError::Rpc { source };
    let mut s = Stream::open(&client.conn, net.limits).await.map_err(rpc)?;
    s.write(&SubmitRequest::SubmitJob { component: args.component, args: args.args, conf: args.conf }).await.map_err(rpc)?;
    // The send side stays open: finishing it would cancel the job.
    let result = loop {
        match s.read::<JobEvent>().await {
            Ok(Some(JobEvent::JobOutput { chunk })) => {
                out.write_all(&chunk).and_then(|()| out.flush()).map_err(|source| ClusterError::Output { source })?;
            }
            Ok(Some(JobEvent::JobState { message })) => progress(&message),
            Ok(Some(JobEvent::JobDone { result })) => break result.map_err(|message| ClusterError::JobFailed { message }),
            Ok(None) => break Err(ClusterError::MasterLost { message: "the master ended the job stream before the job ended".into() }),
            Err(e) => break Err(ClusterError::MasterLost { message: super::chain(&e) }),
        }
    };
    s.finish();
    client.close().await;
    result
}
