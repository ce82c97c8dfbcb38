//! Temporary output directories of `save-as-text-file`: held by a lock while their writer lives, so that leftovers of dead writers are recognised and removed.
//!
//! A writer of the output `DIR/NAME` works in `DIR/.NAME.wisp-temporary-<pid>-<n>`
//! and holds an exclusive `flock` on that directory (`File::lock` on an open
//! handle of the directory itself) until it renames the directory into place
//! or removes it. The kernel releases the lock when the process ends in any
//! way, SIGKILL included, so a lock that can be taken means a writer that is
//! gone. The pid in the name is only for people: a pid may have been given to
//! another process since, a lock cannot outlive its process. Before it
//! writes, every writer removes the siblings of its output whose lock it can
//! take (`TemporaryOutput::create`). A process that writes outputs for others
//! (the master: submitted job mains run in its process) also records each
//! directory in a `Journal` under its state directory, and at start removes
//! the directories its journal lists whose lock it can take, wherever they are.
//!
//! Where the file system cannot lock, writers work unlocked and nothing is
//! ever taken for a leftover there.

use std::fs::{File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What every temporary output directory's name holds, after `.NAME`.
const MARKER: &str = ".wisp-temporary-";

/// Makes temporary names unique within the process (two applications of a master may write the same output).
static NEXT: AtomicU64 = AtomicU64::new(0);

/// The name prefix of the temporary directories of output `name`.
fn prefix(name: &str) -> String {
    format!(".{name}{MARKER}")
}

/// A temporary output directory this process holds; removed when dropped unless committed.
#[derive(Debug)]
pub(crate) struct TemporaryOutput {
    path: PathBuf,
    /// The open, locked directory (`None` where the file system cannot lock).
    lock: Option<File>,
    journal_entry: Option<PathBuf>,
    committed: bool,
}

impl TemporaryOutput {
    /// Removes the leftovers of dead writers of `parent/name`, then makes and locks a fresh
    /// temporary directory beside it (recorded in `journal` first, if given).
    pub(crate) fn create(
        parent: &Path,
        name: &str,
        journal: Option<&Journal>,
    ) -> io::Result<TemporaryOutput> {
        remove_dead_siblings(parent, name);
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let id = format!("{}-{n}", std::process::id());
            let path = parent.join(format!("{}{id}", prefix(name)));
            let journal_entry = journal.map(|j| j.record(&id, &path)).transpose()?;
            let mut held = TemporaryOutput { path, lock: None, journal_entry, committed: false };
            match std::fs::create_dir(&held.path) {
                Ok(()) => {}
                // A dead process with our pid left it, and a live writer scanning holds it now.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    held.committed = true; // not ours: never remove it
                    continue;
                }
                Err(e) => {
                    held.committed = true;
                    return Err(e);
                }
            }
            match lock(&held.path) {
                Ok(file) => held.lock = Some(file),
                Err(e) => {
                    tracing::debug!(path = %held.path.display(), error = %e, "cannot lock the temporary output directory; working unlocked");
                    return Ok(held);
                }
            }
            // Between `create_dir` and `lock` another writer may have taken the unlocked
            // directory for a leftover and removed it: then start again under a new name.
            if still_there(&held.path, held.lock.as_ref()) {
                return Ok(held);
            }
        }
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the directory to `out`; on failure it is removed when `self` drops.
    pub(crate) fn commit(mut self, out: &Path) -> io::Result<()> {
        std::fs::rename(&self.path, out)?;
        self.committed = true;
        Ok(())
    }

    /// Lets go of the directory as a killed process would: unlocked, left in place, still in the journal.
    #[cfg(test)]
    fn abandon(mut self) {
        self.committed = true;
        self.journal_entry = None;
    }
}

impl Drop for TemporaryOutput {
    fn drop(&mut self) {
        // Removed while still locked, so no other writer ever sees it half removed.
        if !self.committed
            && let Err(e) = std::fs::remove_dir_all(&self.path)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove a temporary output directory");
        }
        if let Some(entry) = &self.journal_entry {
            let _ = std::fs::remove_file(entry);
        }
    }
}

/// Opens `dir` and takes its exclusive lock (waiting while a scanning writer holds it).
fn lock(dir: &Path) -> io::Result<File> {
    let file = File::open(dir)?;
    file.lock()?;
    Ok(file)
}

/// Whether `path` still names the directory `file` has open.
fn still_there(path: &Path, file: Option<&File>) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let (Ok(now), Some(Ok(held))) = (std::fs::metadata(path), file.map(File::metadata)) else {
            return false;
        };
        now.dev() == held.dev() && now.ino() == held.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.is_dir()
    }
}

/// Removes every temporary directory of `parent/name` whose writer is gone.
fn remove_dead_siblings(parent: &Path, name: &str) {
    let prefix = prefix(name);
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let is_ours = entry.file_name().to_str().is_some_and(|n| n.starts_with(&prefix));
        if is_ours && entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_if_dead(&entry.path());
        }
    }
}

/// Removes the temporary directory `path` if no live writer holds its lock; whether it is gone now.
fn remove_if_dead(path: &Path) -> bool {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return e.kind() == io::ErrorKind::NotFound,
    };
    match file.try_lock() {
        Ok(()) => match std::fs::remove_dir_all(path) {
            Ok(()) => {
                tracing::info!(path = %path.display(), "removed the temporary output directory of a writer that is gone");
                true
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove the temporary output directory of a writer that is gone");
                false
            }
        },
        Err(TryLockError::WouldBlock) => false,
        Err(TryLockError::Error(e)) => {
            tracing::debug!(path = %path.display(), error = %e, "cannot lock a temporary output directory; leaving it");
            false
        }
    }
}

/// The record of the temporary output directories one process (the master) made: a file
/// per directory, holding its path, removed when the directory is committed or removed.
#[derive(Debug)]
pub(crate) struct Journal {
    dir: PathBuf,
}

impl Journal {
    /// The journal kept in `dir` (created when the first entry is written).
    pub(crate) fn new(dir: PathBuf) -> Journal {
        Journal { dir }
    }

    /// Records `temp` as entry `id`; returns the entry's file.
    fn record(&self, id: &str, temp: &Path) -> io::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)?;
        let entry = self.dir.join(id);
        let partial = self.dir.join(format!("{id}.partial"));
        std::fs::write(&partial, path_bytes(temp))?;
        std::fs::rename(&partial, &entry)?;
        Ok(entry)
    }

    /// Removes the directories the journal lists whose writer is gone (a previous run of this
    /// process killed mid-job), and their entries; returns how many directories it removed.
    pub(crate) fn clean(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return 0 };
        let mut removed = 0;
        for entry in entries.flatten().map(|e| e.path()) {
            let listed = std::fs::read(&entry).ok().map(|b| bytes_path(&b));
            // Only ever a temporary output directory, whatever a damaged entry says.
            let temp = listed.filter(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains(MARKER))
            });
            let gone = match temp {
                Some(temp) if temp.is_dir() => {
                    let gone = remove_if_dead(&temp);
                    removed += usize::from(gone);
                    gone
                }
                _ => true,
            };
            if gone {
                let _ = std::fs::remove_file(&entry);
            }
        }
        removed
    }
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().into_owned().into_bytes()
}

#[cfg(unix)]
fn bytes_path(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn bytes_path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_dead_writers_directory_is_removed_and_a_live_ones_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        // A leftover of a writer long gone (an old name, never locked), with a part file in it.
        let dead = dir.path().join(".out.wisp-temporary-4194303");
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join("part-00000"), b"a\t1\n").unwrap();
        // Another output's leftover and an unrelated hidden directory are not this writer's business.
        std::fs::create_dir(dir.path().join(".other.wisp-temporary-1-0")).unwrap();
        std::fs::create_dir(dir.path().join(".out.keep")).unwrap();

        let live = TemporaryOutput::create(dir.path(), "out", None).unwrap();
        let live_name = live.path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(live_name.starts_with(&format!(".out.wisp-temporary-{}-", std::process::id())));
        assert_eq!(names(dir.path()), [".other.wisp-temporary-1-0", ".out.keep", &live_name]);

        // A second writer of the same output leaves the first one's directory alone.
        let second = TemporaryOutput::create(dir.path(), "out", None).unwrap();
        assert!(live.path().is_dir());
        assert_ne!(live.path(), second.path());
        drop(second);
        assert!(live.path().is_dir());

        // Once its writer lets go without committing (as a killed process does), it is a leftover.
        let left = live.path().to_path_buf();
        live.abandon();
        assert!(left.is_dir());
        let third = TemporaryOutput::create(dir.path(), "out", None).unwrap();
        assert!(!left.exists(), "the abandoned directory was not removed");
        third.commit(&dir.path().join("out")).unwrap();
        assert_eq!(names(dir.path()), [".other.wisp-temporary-1-0", ".out.keep", "out"]);
    }

    #[test]
    fn the_journal_lists_held_directories_and_cleans_abandoned_ones() {
        let state = tempfile::tempdir().unwrap();
        let outputs = tempfile::tempdir().unwrap();
        let journal = Journal::new(state.path().join("temporary-outputs"));

        let committed = TemporaryOutput::create(outputs.path(), "a", Some(&journal)).unwrap();
        let held = TemporaryOutput::create(outputs.path(), "b", Some(&journal)).unwrap();
        let abandoned = TemporaryOutput::create(outputs.path(), "c", Some(&journal)).unwrap();
        assert_eq!(names(&journal.dir).len(), 3);
        committed.commit(&outputs.path().join("a")).unwrap();
        assert_eq!(names(&journal.dir).len(), 2, "a committed directory leaves the journal");
        let (held_path, abandoned_path) =
            (held.path().to_path_buf(), abandoned.path().to_path_buf());
        abandoned.abandon();

        // A damaged entry never makes the journal remove anything but a temporary directory.
        std::fs::write(journal.dir.join("damaged"), path_bytes(&outputs.path().join("a"))).unwrap();
        assert_eq!(journal.clean(), 1);
        assert!(!abandoned_path.exists(), "the abandoned directory is gone");
        assert!(held_path.is_dir(), "a directory still held is kept");
        assert!(outputs.path().join("a").is_dir(), "a committed output is never touched");
        assert_eq!(names(&journal.dir).len(), 1, "only the held directory's entry remains");
        drop(held);
        assert!(names(&journal.dir).is_empty());
        assert_eq!(names(outputs.path()), ["a"]);
    }
}
