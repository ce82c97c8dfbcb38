//! A submitted application's progress streamed to its submitter: the running stages a few times a second while they change.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::cluster::master::JobEvents;
use crate::net::protocol::WireStageProgress;
use crate::observe::LiveApp;
use crate::observe::progress::running_stages;

/// How often the running stages are looked at (a message goes out only when they changed).
const INTERVAL: Duration = Duration::from_millis(250);

/// The thread sending `JobProgress` events; stops (after clearing the submitter's bars) when dropped.
pub(super) struct ProgressPump {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ProgressPump {
    pub(super) fn start(live: Arc<LiveApp>, events: JobEvents) -> std::io::Result<ProgressPump> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread =
            std::thread::Builder::new().name("wisp-progress-pump".into()).spawn(move || {
                let mut last: Vec<WireStageProgress> = Vec::new();
                while !flag.load(Ordering::Relaxed) {
                    let now: Vec<WireStageProgress> =
                        running_stages(&live.lock()).into_iter().map(Into::into).collect();
                    if now != last {
                        if !events.progress(now.clone()) {
                            return;
                        }
                        last = now;
                    }
                    std::thread::park_timeout(INTERVAL);
                }
                if !last.is_empty() {
                    events.progress(Vec::new());
                }
            })?;
        Ok(ProgressPump { stop, thread: Some(thread) })
    }
}

impl Drop for ProgressPump {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}
