//! The applications of this process as the UI's source: the one of `wisp run --ui`, or every application submitted to a master.

use std::sync::{Arc, Mutex};

use super::{AppRow, AppSource, Lookup};
use crate::observe::LiveApp;
use crate::observe::status::AppStatus;

/// Applications running or run in this process, oldest first.
#[derive(Default)]
pub(crate) struct LiveApps {
    apps: Mutex<Vec<Arc<LiveApp>>>,
}

/// How many finished applications a master keeps showing (the oldest are forgotten first).
const KEEP_FINISHED: usize = 100;

impl LiveApps {
    /// Adds an application (its status filled by its driver loop).
    pub(crate) fn add(&self, app: Arc<LiveApp>) {
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        apps.push(app);
        let finished = apps.iter().filter(|a| a.lock().ended.is_some()).count();
        if finished > KEEP_FINISHED {
            let mut drop = finished - KEEP_FINISHED;
            apps.retain(|a| {
                let forget = drop > 0 && a.lock().ended.is_some();
                if forget {
                    drop -= 1;
                }
                !forget
            });
        }
    }
}

/// The applications page's row of an application's status.
pub(crate) fn row(id: &str, s: &AppStatus) -> AppRow {
    let (state, error, duration_ms) = match &s.ended {
        None => ("running", None, s.now_ms),
        Some((end, None)) => ("succeeded", None, *end),
        Some((end, Some(e))) => ("failed", Some(e.clone()), *end),
    };
    AppRow {
        id: id.to_string(),
        name: s.name.clone(),
        start_unix_ms: s.start_unix_ms,
        duration_ms,
        state: state.to_string(),
        error,
    }
}

impl AppSource for LiveApps {
    fn list(&self) -> Vec<AppRow> {
        let apps = self.apps.lock().unwrap_or_else(|p| p.into_inner()).clone();
        apps.iter()
            .rev()
            .map(|a| {
                let s = a.lock();
                row(&s.app, &s)
            })
            .collect()
    }

    fn open(&self, id: &str) -> Result<Arc<LiveApp>, Lookup> {
        let apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        apps.iter().find(|a| a.lock().app == id).cloned().ok_or(Lookup::NotFound)
    }
}
