//! When a store's guest must stop (its task cancelled, or past its deadline), and host waits that end then.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use wasmtime::Trap;
use wasmtime_wasi::runtime::in_tokio;

use super::EPOCH_TICK;

/// When a store's guest must stop: its task was cancelled, or its deadline passed.
#[derive(Clone, Debug)]
pub(crate) struct Stop {
    /// The task's cancel flag (`None`: a store nobody cancels).
    cancel: Option<Arc<AtomicBool>>,
    deadline: Option<Instant>,
}

impl Stop {
    /// Stops when `cancel` is set or at `deadline`.
    pub(crate) fn new(cancel: Arc<AtomicBool>, deadline: Option<Instant>) -> Stop {
        Stop { cancel: Some(cancel), deadline }
    }

    /// A store that never stops (a job's main).
    pub(crate) fn never() -> Stop {
        Stop { cancel: None, deadline: None }
    }

    /// Whether the guest must stop now.
    pub(crate) fn reached(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed))
            || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Resolves once the guest must stop (checked every epoch tick, and at the deadline).
    async fn reached_later(&self) {
        loop {
            if self.reached() {
                return;
            }
            let tick = tokio::time::Instant::now() + EPOCH_TICK;
            let at = match self.deadline {
                Some(d) => tick.min(tokio::time::Instant::from_std(d)),
                None => tick,
            };
            tokio::time::sleep_until(at).await;
        }
    }

    /// Runs a host wait to completion unless the guest must stop first (then a `Trap::Interrupt`).
    pub(super) fn wait<T>(&self, wait: impl Future<Output = T>) -> Result<T, Trap> {
        if self.cancel.is_none() && self.deadline.is_none() {
            return Ok(in_tokio(wait));
        }
        if self.reached() {
            return Err(Trap::Interrupt);
        }
        let r = in_tokio(async {
            tokio::select! {
                biased;
                done = wait => Ok(done),
                () = self.reached_later() => Err(Trap::Interrupt),
            }
        });
        if r.is_err() {
            tracing::info!(
                "stopped a guest waiting in wasi:io: its task was cancelled or out of time"
            );
        }
        r
    }
}
