//! Requests the master sends an executor process: launch, kill, drop blocks, remove a shuffle, peer updates.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::state::{ExecutorState, QueuedTask, Running};
use crate::error_chain::chain;
use crate::executor::LiveMetrics;
use crate::ids::{AppId, TaskId};
use crate::net::Stream;
use crate::net::protocol::{ComponentUpload, ConvertError, ExecutorReply, MasterRequest, WireTask};
use crate::task::{BlockId, ComponentBytes};
use crate::task_threads::QueueFull;
use crate::wasm::content_hash;

/// Reads one request from the master, carries it out and replies.
pub(super) async fn handle(
    mut s: Stream,
    state: &ExecutorState,
) -> Result<(), crate::net::RpcError> {
    let Some(req) = s.read::<MasterRequest>().await? else { return Ok(()) };
    let reply = match req {
        MasterRequest::LaunchTask { app, task, components } => {
            match launch(state, AppId(app), task, components) {
                Some(reply) => reply,
                None => {
                    // A test fault: the master sees this launch fail in transport.
                    let _ = s.send.reset(1u32.into());
                    return Ok(());
                }
            }
        }
        MasterRequest::KillTask { app, task } => {
            state.cancel(AppId(app), TaskId(task));
            ExecutorReply::Ack
        }
        MasterRequest::DropBlocks { app, blocks } => {
            let blocks: Vec<BlockId> = blocks.into_iter().map(BlockId::from).collect();
            if let Some(e) = state.existing_executor(AppId(app)) {
                e.blocks().remove(&blocks);
            }
            ExecutorReply::Ack
        }
        MasterRequest::DropShipped { app, hash } => {
            state.drop_shipped(AppId(app), &hash);
            ExecutorReply::Ack
        }
        MasterRequest::EndApplication { app } => {
            tokio::task::block_in_place(|| state.end_app(AppId(app)));
            ExecutorReply::Ack
        }
        MasterRequest::Peers { added, removed } => {
            state.peers.update(added, &removed);
            ExecutorReply::Ack
        }
    };
    s.write(&reply).await?;
    s.finish();
    Ok(())
}

/// Accepts a task: keeps the uploaded components, resolves the description and queues it
/// for a task thread. `None`: drop the request without a reply (test faults only).
fn launch(
    state: &ExecutorState,
    app: AppId,
    task: WireTask,
    uploads: Vec<ComponentUpload>,
) -> Option<ExecutorReply> {
    for up in uploads {
        let actual = tokio::task::block_in_place(|| content_hash(&up.bytes));
        if actual != up.hash {
            return Some(ExecutorReply::Failed {
                message: format!("component bytes hash to {actual}, not {}", up.hash),
            });
        }
        // Components and broadcast values alike: each arrives once per executor.
        tracing::info!(%app, hash = %up.hash, bytes = up.bytes.len(), "shipped bytes received");
        state.add_component(ComponentBytes { hash: up.hash, bytes: up.bytes });
    }
    let task = match task.into_task(&|hash: &str| state.component(app, hash)) {
        Ok(task) => task,
        Err(ConvertError::UnknownComponent { hash }) => {
            return Some(ExecutorReply::UnknownComponent { hash });
        }
        Err(e) => return Some(ExecutorReply::Failed { message: chain(&e) }),
    };
    #[cfg(any(test, feature = "testing"))]
    if state.settings.faults.as_ref().is_some_and(|f| f.drop_launch(&task)) {
        return None;
    }
    Some(accept(state, app, task))
}

fn accept(state: &ExecutorState, app: AppId, task: crate::task::TaskDesc) -> ExecutorReply {
    let executor = match tokio::task::block_in_place(|| state.executor(app)) {
        Ok(e) => e,
        Err(e) => {
            return ExecutorReply::Failed {
                message: format!("cannot create the work directory of {app}: {e}"),
            };
        }
    };
    let (cancel, live) = (Arc::new(AtomicBool::new(false)), Arc::new(LiveMetrics::default()));
    let id = task.id.task;
    state.accepted(app, id, Running::new(cancel.clone(), live.clone()));
    match state.tasks.try_run(QueuedTask { app, executor, task, cancel, live }) {
        Ok(()) => ExecutorReply::Ack,
        Err(QueueFull(_)) => {
            state.ended(app, id);
            ExecutorReply::Failed {
                message: "the executor has no free task slot (or is stopping)".into(),
            }
        }
    }
}
