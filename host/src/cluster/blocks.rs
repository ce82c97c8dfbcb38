//! Shuffle blocks between executors: where an executor keeps each application's files, who its peers are, serving (`server`) and fetching (`fetch`).

pub(crate) mod fetch;
pub(crate) mod server;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::ids::{AppId, ExecutorId};
use crate::net::protocol::PeerInfo;

/// Where an executor keeps application `app`'s files, below its base directory.
pub(crate) fn app_dir(base: &Path, app: AppId) -> PathBuf {
    base.join(app.to_string())
}

/// Where an executor keeps application `app`'s shuffle files.
pub(crate) fn shuffle_dir(base: &Path, app: AppId) -> PathBuf {
    app_dir(base, app).join("shuffle")
}

/// Other executors' block servers, as announced by the master (`Peers`).
#[derive(Default)]
pub(crate) struct PeerTable {
    peers: Mutex<HashMap<ExecutorId, PeerInfo>>,
}

impl PeerTable {
    /// Applies a `Peers` update.
    pub(crate) fn update(&self, added: Vec<PeerInfo>, removed: &[u32]) {
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        for r in removed {
            peers.remove(&ExecutorId(*r));
        }
        for a in added {
            peers.insert(ExecutorId(a.executor), a);
        }
    }

    /// The block server of an executor, if announced.
    pub(crate) fn get(&self, executor: ExecutorId) -> Option<PeerInfo> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner()).get(&executor).cloned()
    }
}
