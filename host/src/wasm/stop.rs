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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_wait_that_never_ends_is_stopped_by_the_deadline_or_the_cancel_flag() {
        let deadline = Stop::new(
            Arc::new(AtomicBool::new(false)),
            Some(Instant::now() + Duration::from_millis(100)),
        );
        let started = Instant::now();
        assert_eq!(deadline.wait(std::future::pending::<()>()), Err(Trap::Interrupt));
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(100) && took < Duration::from_secs(5), "{took:?}");

        let flag = Arc::new(AtomicBool::new(false));
        let cancelled = Stop::new(flag.clone(), None);
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            flag.store(true, Ordering::Relaxed);
        });
        assert_eq!(cancelled.wait(std::future::pending::<()>()), Err(Trap::Interrupt));
        setter.join().unwrap();
        assert!(cancelled.reached());

        // A wait that ends is not disturbed, and a store nobody stops just waits.
        let running = Stop::new(Arc::new(AtomicBool::new(false)), None);
        assert_eq!(running.wait(async { 7 }), Ok(7));
        assert_eq!(Stop::never().wait(async { 8 }), Ok(8));
        assert!(!Stop::never().reached());
    }
}
