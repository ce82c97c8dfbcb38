//! The history server's source: the event logs under a directory, indexed by their first and last lines; an application is replayed only when opened.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::live::row;
use super::{AppRow, AppSource, Lookup, UiError, serve};
use crate::event_log::LogLine;
use crate::observe::LiveApp;
use crate::observe::status::AppStatus;

/// How much of a log's end is read to find its last line.
const TAIL_BYTES: u64 = 256 << 10;

/// What `wisp history` serves.
#[derive(Clone, Debug)]
pub struct HistoryArgs {
    /// The directory of event logs (`wisp run --event-log DIR` or `wisp master --event-log DIR`).
    pub dir: PathBuf,
    /// Where to listen, `host:port`.
    pub listen: String,
}

/// Runs the history server until the process ends; `ready` is told the bound address.
pub fn run_history(args: HistoryArgs, ready: impl FnOnce(SocketAddr)) -> Result<(), UiError> {
    if !args.dir.is_dir() {
        return Err(UiError::NoDirectory { dir: args.dir });
    }
    let source = Arc::new(HistoryDir::new(args.dir));
    let server = serve(&args.listen, source, None)?;
    ready(server.addr());
    loop {
        std::thread::park();
    }
}

/// What identifies a version of a file: its modification time and length.
type Version = (Option<SystemTime>, u64);

/// One log file as the index knows it.
#[derive(Clone)]
struct Entry {
    version: Version,
    row: AppRow,
}

/// The event logs below one directory (`DIR/*.jsonl` and `DIR/*/*.jsonl`).
pub(crate) struct HistoryDir {
    dir: PathBuf,
    index: Mutex<HashMap<PathBuf, Entry>>,
    opened: Mutex<HashMap<PathBuf, (Version, Arc<LiveApp>)>>,
}

impl HistoryDir {
    pub(crate) fn new(dir: PathBuf) -> HistoryDir {
        HistoryDir { dir, index: Mutex::default(), opened: Mutex::default() }
    }

    /// The log files and the ids the UI names them by (`stem`, or `subdir-stem`).
    fn files(&self) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        let Ok(top) = std::fs::read_dir(&self.dir) else { return out };
        for e in top.flatten() {
            let path = e.path();
            if path.is_dir() {
                let sub = e.file_name().to_string_lossy().into_owned();
                for f in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                    if let Some(stem) = log_stem(&f.path()) {
                        out.push((format!("{sub}-{stem}"), f.path()));
                    }
                }
            } else if let Some(stem) = log_stem(&path) {
                out.push((stem, path));
            }
        }
        out
    }

    fn path_of(&self, id: &str) -> Option<PathBuf> {
        self.files().into_iter().find(|(i, _)| i == id).map(|(_, p)| p)
    }
}

fn log_stem(path: &Path) -> Option<String> {
    (path.extension()? == "jsonl")
        .then(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))?
}

fn version(path: &Path) -> Version {
    std::fs::metadata(path).map_or((None, 0), |m| (m.modified().ok(), m.len()))
}

/// Reads a log's first and last lines: enough to list it (or to say why it cannot be read).
fn index_entry(id: &str, path: &Path) -> AppRow {
    let unreadable = |reason: String| AppRow {
        id: id.to_string(),
        name: path.display().to_string(),
        start_unix_ms: 0,
        duration_ms: 0.0,
        state: "unreadable".to_string(),
        error: Some(reason),
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return unreadable(format!("cannot open: {e}")),
    };
    let mut first = String::new();
    if let Err(e) = BufReader::new(&mut file).read_line(&mut first) {
        return unreadable(format!("cannot read: {e}"));
    }
    let mut status = AppStatus::default();
    match serde_json::from_str::<LogLine>(first.trim_end()) {
        Ok(line @ LogLine::AppStart { .. }) => status.apply(&line),
        Ok(_) => return unreadable("the first line is not `app_start`".to_string()),
        Err(e) => return unreadable(format!("line 1 is not an event: {e}")),
    }
    let len = file.metadata().map_or(0, |m| m.len());
    let mut tail = Vec::new();
    let from = len.saturating_sub(TAIL_BYTES);
    if let Err(e) = file.seek(SeekFrom::Start(from)).and_then(|_| file.read_to_end(&mut tail)) {
        return unreadable(format!("cannot read: {e}"));
    }
    if tail.last() != Some(&b'\n') {
        return unreadable(format!("truncated: the last line (at byte {len}) has no end"));
    }
    let text = String::from_utf8_lossy(&tail);
    let last = text.trim_end().rsplit('\n').next().unwrap_or("");
    match serde_json::from_str::<LogLine>(last) {
        Ok(line) => status.apply(&line),
        Err(e) => return unreadable(format!("the last line is not an event: {e}")),
    }
    let mut r = row(id, &status);
    if status.ended.is_none() {
        r.state = "incomplete".to_string();
    }
    r
}

/// Replays a whole log.
fn replay(path: &Path) -> Result<AppStatus, String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut status = AppStatus::default();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("cannot read line {}: {e}", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: LogLine = serde_json::from_str(&line)
            .map_err(|e| format!("line {} is not an event: {e}", n + 1))?;
        if n == 0 && !matches!(parsed, LogLine::AppStart { .. }) {
            return Err("the first line is not `app_start`".to_string());
        }
        status.apply(&parsed);
    }
    Ok(status)
}

impl AppSource for HistoryDir {
    fn list(&self) -> Vec<AppRow> {
        let files = self.files();
        let mut index = self.index.lock().unwrap_or_else(|p| p.into_inner());
        index.retain(|path, _| files.iter().any(|(_, p)| p == path));
        let mut rows: Vec<AppRow> = files
            .iter()
            .map(|(id, path)| {
                let v = version(path);
                match index.get(path) {
                    Some(e) if e.version == v => e.row.clone(),
                    _ => {
                        let row = index_entry(id, path);
                        index.insert(path.clone(), Entry { version: v, row: row.clone() });
                        row
                    }
                }
            })
            .collect();
        rows.sort_by(|a, b| b.start_unix_ms.cmp(&a.start_unix_ms).then(a.id.cmp(&b.id)));
        rows
    }

    fn open(&self, id: &str) -> Result<Arc<LiveApp>, Lookup> {
        let path = self.path_of(id).ok_or(Lookup::NotFound)?;
        let v = version(&path);
        let mut opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((seen, app)) = opened.get(&path)
            && *seen == v
        {
            return Ok(app.clone());
        }
        let mut status = replay(&path).map_err(Lookup::Unreadable)?;
        // The UI names the application by its file (ids repeat across local runs).
        status.app = id.to_string();
        let app = LiveApp::from_status(status);
        opened.insert(path, (v, app.clone()));
        Ok(app)
    }
}
