//! Console progress (indicatif): one bar per running stage on stderr, `[Stage 3:=====>   (120 + 2) / 200]`, gone when the stage ends; drawn only on a terminal.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::LiveApp;
use super::progress::{StageProgress, running_stages};

/// How often the bars are redrawn (and the live status polled).
const REFRESH: Duration = Duration::from_millis(200);

/// Whether progress can be drawn: stderr is a terminal.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// The bars of the running stages.
pub struct ConsoleProgress {
    multi: MultiProgress,
    style: ProgressStyle,
    bars: BTreeMap<(u32, u32), ProgressBar>,
}

impl Default for ConsoleProgress {
    fn default() -> Self {
        ConsoleProgress::new()
    }
}

impl ConsoleProgress {
    /// Bars drawn on stderr (hidden when stderr is not a terminal).
    pub fn new() -> ConsoleProgress {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(5));
        let style = ProgressStyle::with_template("[Stage {prefix}:{bar:40} {msg}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        ConsoleProgress { multi, style, bars: BTreeMap::new() }
    }

    /// Shows exactly these stages: new ones get a bar, ended ones lose theirs.
    pub fn update(&mut self, stages: &[StageProgress]) {
        let now: BTreeMap<(u32, u32), &StageProgress> =
            stages.iter().map(|s| ((s.stage, s.attempt), s)).collect();
        self.bars.retain(|key, bar| {
            let keep = now.contains_key(key);
            if !keep {
                bar.finish_and_clear();
                self.multi.remove(bar);
            }
            keep
        });
        for (key, s) in now {
            let bar = self.bars.entry(key).or_insert_with(|| {
                let prefix = if s.attempt == 0 {
                    s.stage.to_string()
                } else {
                    format!("{} (retry {})", s.stage, s.attempt)
                };
                self.multi.add(
                    ProgressBar::new(u64::from(s.total))
                        .with_style(self.style.clone())
                        .with_prefix(prefix),
                )
            });
            bar.set_length(u64::from(s.total));
            bar.set_position(u64::from(s.completed));
            bar.set_message(format!("({} + {}) / {}", s.completed, s.running, s.total));
        }
    }

    /// Removes every bar.
    pub fn clear(&mut self) {
        self.update(&[]);
        let _ = self.multi.clear();
    }
}

/// A thread drawing a live application's running stages until stopped.
pub(crate) struct ProgressThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ProgressThread {
    pub(crate) fn start(live: Arc<LiveApp>) -> std::io::Result<ProgressThread> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new().name("wisp-progress".into()).spawn(move || {
            let mut console = ConsoleProgress::new();
            while !flag.load(Ordering::Relaxed) {
                let stages = running_stages(&live.lock());
                console.update(&stages);
                std::thread::park_timeout(REFRESH);
            }
            console.clear();
        })?;
        Ok(ProgressThread { stop, thread: Some(thread) })
    }

    fn stop_now(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for ProgressThread {
    fn drop(&mut self) {
        self.stop_now();
    }
}
