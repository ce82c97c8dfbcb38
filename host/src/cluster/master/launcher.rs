//! One executor's ordered request queue on the master: launches (with component bytes the first time), kills, block drops, peer updates.
//!
//! Each registered executor has one queue served by one tokio task, so an
//! executor sees `Peers`, `LaunchTask`, `KillTask` and `DropBlocks` in the
//! order the master decided them (a reduce task never arrives before the
//! announcement of the block servers it reads from). Component bytes travel
//! with the first task that needs them on that executor.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::registry::{Outbound, Registry};
use crate::dag::SchedulerEvent;
use crate::error_chain::chain;
use crate::ids::{AppId, ExecutorId};
use crate::net::Limits;
use crate::net::protocol::{
    ComponentUpload, ExecutorReply, MasterRequest, WireTask, components_of,
};
use crate::net::rpc::call;
use crate::task::{TaskDesc, TaskFailure, TaskMetrics, TaskReport};

/// Serves one executor's queue until the queue or the connection closes.
pub(crate) async fn serve_queue(
    id: ExecutorId,
    conn: quinn::Connection,
    mut queue: mpsc::UnboundedReceiver<Outbound>,
    registry: Arc<Registry>,
    limits: Limits,
) {
    let mut sent: HashSet<String> = HashSet::new();
    while let Some(msg) = queue.recv().await {
        match msg {
            Outbound::Launch(app, task) => {
                if let Err(message) = launch(&conn, app, &task, &mut sent, limits).await {
                    tracing::warn!(executor = %id, %app, task = %task.id.task, %message, "launch failed");
                    // Never the guest's fault: the task did not start. A launch that did not
                    // arrive, or that the executor refused, is retried like any host failure.
                    let failure = if conn.close_reason().is_some() {
                        TaskFailure::ExecutorLost
                    } else {
                        TaskFailure::Host { message }
                    };
                    let report = TaskReport {
                        accumulators: Vec::new(),
                        task: task.id.task,
                        executor: id,
                        result: Err(failure),
                        cached: vec![],
                        metrics: TaskMetrics::default(),
                        log: String::new(),
                    };
                    registry.post_app(app, SchedulerEvent::TaskFinished(report));
                }
            }
            Outbound::Request(req) => match call::<_, ExecutorReply>(&conn, &req, limits).await {
                Ok(ExecutorReply::Ack) => {}
                Ok(other) => {
                    tracing::warn!(executor = %id, reply = ?other, "request not carried out")
                }
                Err(e) => tracing::debug!(executor = %id, error = %chain(&e), "request failed"),
            },
        }
    }
}

/// Sends one launch, attaching the bytes of components this executor may lack.
async fn launch(
    conn: &quinn::Connection,
    app: AppId,
    task: &TaskDesc,
    sent: &mut HashSet<String>,
    limits: Limits,
) -> Result<(), String> {
    let wire = WireTask::from(task);
    let components = components_of(task);
    let upload = |all: bool, sent: &HashSet<String>| -> Vec<ComponentUpload> {
        let mut seen = HashSet::new();
        components
            .iter()
            .filter(|c| (all || !sent.contains(&c.hash)) && seen.insert(c.hash.clone()))
            .map(|c| ComponentUpload { hash: c.hash.clone(), bytes: c.bytes.clone() })
            .collect()
    };
    let mut request = MasterRequest::LaunchTask {
        app: app.0,
        task: wire.clone(),
        components: upload(false, sent),
    };
    for _ in 0..2 {
        match call::<_, ExecutorReply>(conn, &request, limits).await.map_err(|e| chain(&e))? {
            ExecutorReply::Ack => {
                sent.extend(components.iter().map(|c| c.hash.clone()));
                return Ok(());
            }
            ExecutorReply::UnknownComponent { hash } => {
                tracing::debug!(%hash, "executor lacks a component; resending with bytes");
                request = MasterRequest::LaunchTask {
                    app: app.0,
                    task: wire.clone(),
                    components: upload(true, sent),
                };
            }
            ExecutorReply::Failed { message } => return Err(message),
        }
    }
    Err("the executor does not accept the task's components".into())
}
