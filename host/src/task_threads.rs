//! The task threads of an executor: N dedicated threads that run guests, fed by one queue (local mode and the executor process alike).
//!
//! Guests never run on the tokio runtime that serves heartbeats, QUIC and
//! shuffle fetches: every task attempt runs to its end on one of these
//! threads, synchronously.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TrySendError};

/// A pool of task threads running jobs of type `J`.
pub(crate) struct TaskThreads<J> {
    queue: TaskQueue<J>,
    threads: Vec<JoinHandle<()>>,
}

/// Where jobs are queued for a pool's threads (cloneable).
pub(crate) struct TaskQueue<J>(Sender<J>);

impl<J> Clone for TaskQueue<J> {
    fn clone(&self) -> Self {
        TaskQueue(self.0.clone())
    }
}

impl<J> TaskQueue<J> {
    /// Queues a job without blocking.
    pub(crate) fn try_run(&self, job: J) -> Result<(), QueueFull<J>> {
        self.0.try_send(job).map_err(|e| match e {
            TrySendError::Full(j) | TrySendError::Disconnected(j) => QueueFull(j),
        })
    }
}

/// The queue is full (more tasks launched than slots) or its threads stopped; the job comes back.
#[derive(Debug)]
pub(crate) struct QueueFull<J>(pub(crate) J);

impl<J: Send + 'static> TaskThreads<J> {
    /// Starts `threads` threads named `{name}-{i}`, each running `run` on queued jobs until
    /// the pool is dropped or `run` returns false, `niceness` nice levels below the calling
    /// process (`lower_priority`).
    ///
    /// The queue holds at most `capacity` waiting jobs; beyond it `try_run`
    /// refuses (the caller reports a host failure, retried elsewhere) rather
    /// than buffering without limit.
    pub(crate) fn start<F>(
        threads: u32,
        capacity: usize,
        name: &str,
        niceness: u32,
        run: F,
    ) -> std::io::Result<TaskThreads<J>>
    where
        F: Fn(J) -> bool + Clone + Send + 'static,
    {
        let threads = threads.max(1);
        let (queue, rx) = crossbeam_channel::bounded::<J>(capacity.max(1));
        let mut handles = Vec::with_capacity(threads as usize);
        for i in 0..threads {
            let (rx, run): (Receiver<J>, F) = (rx.clone(), run.clone());
            let handle =
                std::thread::Builder::new().name(format!("{name}-{i}")).spawn(move || {
                    lower_priority(niceness);
                    for job in rx {
                        if !run(job) {
                            break;
                        }
                    }
                })?;
            handles.push(handle);
        }
        Ok(TaskThreads { queue: TaskQueue(queue), threads: handles })
    }

    /// The pool's queue.
    pub(crate) fn queue(&self) -> TaskQueue<J> {
        self.queue.clone()
    }

    /// Closes this handle's queue and waits for the threads to finish their
    /// jobs (they stop once every `TaskQueue` clone is dropped too).
    pub(crate) fn join(self) {
        let TaskThreads { queue, threads } = self;
        drop(queue);
        for t in threads {
            let _ = t.join();
        }
    }
}

/// Lowers the calling thread's scheduling priority by `niceness` nice levels (at most to 19).
///
/// Guests are CPU-bound batch work; the executor's tokio threads serve and fetch shuffle
/// blocks, heartbeat and report status. At equal priority a busy task thread on each core
/// leaves the network threads a fair share only, and a shuffle fetch runs at a fraction of
/// what the connection can carry (`wisp-bench --only cluster`: 0.58 of raw quinn at equal
/// priority, 0.77 with the task threads 10 levels lower). Linux applies nice values per
/// thread; elsewhere, or if refused, the thread keeps its priority (logged).
fn lower_priority(niceness: u32) {
    if niceness == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        let lowered = rustix::process::getpriority_process(Some(tid)).and_then(|now| {
            let wanted = now.saturating_add(niceness.min(19) as i32).min(19);
            rustix::process::setpriority_process(Some(tid), wanted)
        });
        if let Err(e) = lowered {
            tracing::debug!(error = %e, niceness, "cannot lower a task thread's priority");
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The nice value of the calling thread, as the kernel reports it.
    fn my_nice() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
    }

    #[test]
    fn task_threads_run_the_given_nice_levels_below_the_process_and_no_lower_than_19() {
        let base = my_nice();
        for (niceness, expected) in [(0, base), (3, (base + 3).min(19)), (40, 19)] {
            let (tx, rx) = crossbeam_channel::unbounded();
            let pool = TaskThreads::start(2, 4, "nice-test", niceness, move |(): ()| {
                tx.send(my_nice()).is_ok()
            })
            .unwrap();
            for _ in 0..2 {
                pool.queue().try_run(()).unwrap();
            }
            let seen: Vec<i32> = (0..2)
                .map(|_| rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap())
                .collect();
            assert_eq!(seen, vec![expected; 2], "niceness {niceness}");
            pool.join();
        }
        assert_eq!(my_nice(), base, "the calling thread keeps its priority");
    }
}
