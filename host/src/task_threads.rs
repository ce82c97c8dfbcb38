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
    /// the pool is dropped or `run` returns false.
    ///
    /// The queue holds at most `capacity` waiting jobs; beyond it `try_run`
    /// refuses (the caller reports a host failure, retried elsewhere) rather
    /// than buffering without limit.
    pub(crate) fn start<F>(
        threads: u32,
        capacity: usize,
        name: &str,
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
