//! External sorting for operators bigger than their memory: sorted runs spilled to a task's spill directory, merged back in key order.
//!
//! An [`ExternalSorter`] takes `(key, payload)` items, buffers them within
//! the memory its task's account grants, and when refused sorts the buffer
//! by key bytes and writes it as a run file. [`ExternalSorter::finish`]
//! returns a [`Sorted`] stream over the runs and the last buffer, merged
//! with a binary heap. The sort is stable: items with equal keys come out in
//! the order they went in (runs are merged oldest first on ties). Run files
//! are removed when the stream (or the sorter) is dropped; the task removes
//! its whole spill directory when it ends, whatever happened.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::memory::{Reservation, TaskMemory};

/// Buffer of a run's writer.
const WRITE_BUFFER: usize = 1 << 20;
/// Buffer of each run's reader during a merge.
const READ_BUFFER: usize = 64 << 10;
/// Most runs merged at once; more are merged in passes.
const MAX_FAN_IN: usize = 64;
/// Least memory a sorter asks for at a time.
const GROW_STEP: u64 = 1 << 20;
/// Bytes of bookkeeping per buffered item (its entry).
const ENTRY_BYTES: u64 = size_of::<Entry>() as u64;

/// Names spill files uniquely within the process.
static SPILL_SEQ: AtomicU64 = AtomicU64::new(0);

/// A spill that could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpillError {
    /// Writing a run failed (a full disk, most likely).
    #[error("cannot spill {bytes} bytes to {}: {source}", dir.display())]
    Write {
        /// The task's spill directory.
        dir: PathBuf,
        /// Bytes of the run being written.
        bytes: u64,
        /// The underlying error.
        source: io::Error,
    },
    /// Reading a run back failed, or it is not what was written.
    #[error("cannot read spill file {}: {source}", path.display())]
    Read {
        /// The run file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// Where one task attempt spills and what memory it may buffer.
#[derive(Clone)]
pub(crate) struct SpillSpace {
    dir: PathBuf,
    memory: Arc<TaskMemory>,
}

impl SpillSpace {
    /// The space of a task attempt: its spill directory (created on first spill) and its memory account.
    pub(crate) fn new(dir: PathBuf, memory: Arc<TaskMemory>) -> SpillSpace {
        SpillSpace { dir, memory }
    }

    /// The task's memory account.
    pub(crate) fn account(&self) -> &Arc<TaskMemory> {
        &self.memory
    }

    /// Its directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// A reservation on the task's account.
    pub(crate) fn reservation(&self) -> Reservation {
        Reservation::new(self.memory.clone())
    }

    fn new_run_path(&self) -> PathBuf {
        let n = SPILL_SEQ.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!("run-{n}"))
    }
}

/// One buffered item: `data[start..key_end]` is its key, `data[key_end..end]` its payload.
#[derive(Clone, Copy)]
struct Entry {
    start: usize,
    key_end: usize,
    end: usize,
}

/// Counters of one sorter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SpillMetrics {
    /// Runs written.
    pub(crate) spills: u32,
    /// Bytes written to run files.
    pub(crate) bytes: u64,
}

/// Sorts `(key, payload)` items by key bytes within a memory budget, spilling sorted runs.
pub(crate) struct ExternalSorter {
    space: SpillSpace,
    descending: bool,
    reservation: Reservation,
    data: Vec<u8>,
    entries: Vec<Entry>,
    runs: Vec<RunFile>,
    metrics: SpillMetrics,
}

impl ExternalSorter {
    /// An empty sorter, ascending or descending.
    pub(crate) fn new(space: &SpillSpace, descending: bool) -> ExternalSorter {
        ExternalSorter {
            space: space.clone(),
            descending,
            reservation: space.reservation(),
            data: Vec::new(),
            entries: Vec::new(),
            runs: Vec::new(),
            metrics: SpillMetrics::default(),
        }
    }

    /// Whether it has written runs.
    pub(crate) fn spilled(&self) -> bool {
        !self.runs.is_empty()
    }

    /// Its counters so far.
    #[cfg(test)]
    pub(crate) fn metrics(&self) -> SpillMetrics {
        self.metrics
    }

    /// Adds an item, spilling the buffer first if the budget refuses room for it.
    pub(crate) fn push(&mut self, key: &[u8], payload: &[u8]) -> Result<(), SpillError> {
        self.push_parts(key, &[payload])
    }

    /// Adds an item whose payload is the concatenation of `payload`.
    pub(crate) fn push_parts(&mut self, key: &[u8], payload: &[&[u8]]) -> Result<(), SpillError> {
        let len = key.len() + payload.iter().map(|p| p.len()).sum::<usize>();
        if !self.make_room(len) {
            self.spill()?;
            // An empty buffer takes the item whatever the budget says: progress first.
            self.make_room(len);
        }
        let start = self.data.len();
        self.data.extend_from_slice(key);
        let key_end = self.data.len();
        for p in payload {
            self.data.extend_from_slice(p);
        }
        self.entries.push(Entry { start, key_end, end: self.data.len() });
        Ok(())
    }

    /// Grows the buffers for one more item of `len` bytes if the reservation allows; false if not.
    fn make_room(&mut self, len: usize) -> bool {
        let data_fits = self.data.len() + len <= self.data.capacity();
        let entry_fits = self.entries.len() < self.entries.capacity();
        if data_fits && entry_fits {
            return true;
        }
        let data_cap = if data_fits {
            self.data.capacity()
        } else {
            (self.data.len() + len).max(self.data.capacity() * 3 / 2).max(64 << 10)
        };
        let entry_cap = if entry_fits {
            self.entries.capacity()
        } else {
            (self.entries.capacity() * 3 / 2).max(1024)
        };
        let need = data_cap as u64 + entry_cap as u64 * ENTRY_BYTES;
        let empty = self.entries.is_empty();
        if !self.reservation.ensure(need, GROW_STEP) && !empty {
            return false;
        }
        self.data.reserve_exact(data_cap - self.data.len());
        self.entries.reserve_exact(entry_cap - self.entries.len());
        true
    }

    /// Sorts the buffer (stable) in the sorter's order.
    fn sort_buffer(&mut self) {
        let data = &self.data;
        let key = |e: &Entry| &data[e.start..e.key_end];
        if self.descending {
            self.entries.sort_by(|a, b| key(b).cmp(key(a)));
        } else {
            self.entries.sort_by(|a, b| key(a).cmp(key(b)));
        }
    }

    /// Writes the sorted buffer as a run and empties it (keeping its memory for the next run).
    fn spill(&mut self) -> Result<(), SpillError> {
        if self.entries.is_empty() {
            return Ok(());
        }
        self.sort_buffer();
        let bytes = (self.data.len() + self.entries.len() * 8) as u64;
        let write_error = |source| SpillError::Write { dir: self.space.dir.clone(), bytes, source };
        std::fs::create_dir_all(&self.space.dir).map_err(write_error)?;
        let path = self.space.new_run_path();
        // The run exists (and is removed on drop) from before its first byte.
        let run = RunFile { path };
        let file = File::create(&run.path).map_err(write_error)?;
        let mut w = BufWriter::with_capacity(WRITE_BUFFER, file);
        for e in &self.entries {
            let (key, payload) = (&self.data[e.start..e.key_end], &self.data[e.key_end..e.end]);
            write_item(&mut w, key, payload).map_err(write_error)?;
        }
        w.flush().map_err(write_error)?;
        w.get_ref().sync_data().ok();
        tracing::debug!(dir = %self.space.dir.display(), bytes, items = self.entries.len(), "spilled a sorted run");
        self.runs.push(run);
        self.metrics.spills += 1;
        self.metrics.bytes += bytes;
        self.data.clear();
        self.entries.clear();
        Ok(())
    }

    /// Writes items the caller already has in the sorter's order as a run of
    /// their own, older than everything pushed later: `fill` calls
    /// `RunWriter::item` once per item. The buffer must be empty.
    pub(crate) fn add_sorted_run(
        &mut self,
        fill: impl FnOnce(&mut RunWriter) -> io::Result<()>,
    ) -> Result<(), SpillError> {
        debug_assert!(self.entries.is_empty(), "a sorted run must be older than the buffer");
        let dir = self.space.dir.clone();
        let write_error = |bytes, source| SpillError::Write { dir: dir.clone(), bytes, source };
        std::fs::create_dir_all(&dir).map_err(|e| write_error(0, e))?;
        let run = RunFile { path: self.space.new_run_path() };
        let file = File::create(&run.path).map_err(|e| write_error(0, e))?;
        let mut w = RunWriter { out: BufWriter::with_capacity(WRITE_BUFFER, file), bytes: 0 };
        let written = fill(&mut w).and_then(|()| w.out.flush());
        written.map_err(|e| write_error(w.bytes, e))?;
        self.runs.push(run);
        self.metrics.spills += 1;
        self.metrics.bytes += w.bytes;
        Ok(())
    }

    /// Ends the input: the items in order, merged from the runs and the buffer.
    pub(crate) fn finish(mut self) -> Result<Sorted, SpillError> {
        if self.spilled() {
            // The last buffer joins the runs, so the stream holds read buffers only.
            self.spill()?;
            self.data = Vec::new();
            self.entries = Vec::new();
            self.reservation.shrink_to(0);
        }
        self.sort_buffer();
        let mut runs = std::mem::take(&mut self.runs);
        // Merge passes until the runs fit one merge (oldest runs first, keeping the sort stable).
        while runs.len() + 1 > MAX_FAN_IN {
            let rest = runs.split_off(MAX_FAN_IN);
            let merged = self.merge_to_run(runs)?;
            runs = std::iter::once(merged).chain(rest).collect();
        }
        let mut sources: Vec<Source> = Vec::with_capacity(runs.len() + 1);
        for run in runs {
            sources.push(Source::File(RunReader::open(run)?));
        }
        let memory = MemoryRun {
            data: std::mem::take(&mut self.data),
            entries: std::mem::take(&mut self.entries),
            next: 0,
            current: None,
        };
        sources.push(Source::Memory(memory));
        let reservation = std::mem::replace(&mut self.reservation, self.space.reservation());
        Sorted::new(sources, self.descending, reservation)
    }

    /// Merges `runs` into one new run file.
    fn merge_to_run(&mut self, runs: Vec<RunFile>) -> Result<RunFile, SpillError> {
        let sources = runs
            .into_iter()
            .map(|r| RunReader::open(r).map(Source::File))
            .collect::<Result<_, _>>()?;
        let mut merged = Sorted::new(sources, self.descending, self.space.reservation())?;
        let path = self.space.new_run_path();
        let run = RunFile { path };
        let dir = self.space.dir.clone();
        let write_error = |source| SpillError::Write { dir: dir.clone(), bytes: 0, source };
        let mut w =
            BufWriter::with_capacity(WRITE_BUFFER, File::create(&run.path).map_err(write_error)?);
        let mut bytes = 0u64;
        while let Some((key, payload)) = merged.next_item()? {
            write_item(&mut w, key, payload).map_err(write_error)?;
            bytes += (key.len() + payload.len() + 8) as u64;
        }
        w.flush().map_err(write_error)?;
        self.metrics.bytes += bytes;
        Ok(run)
    }
}

fn write_item(w: &mut impl Write, key: &[u8], payload: &[u8]) -> io::Result<()> {
    write_item_parts(w, key, &[payload])
}

fn write_item_parts(w: &mut impl Write, key: &[u8], payload: &[&[u8]]) -> io::Result<()> {
    w.write_all(&(key.len() as u32).to_le_bytes())?;
    w.write_all(key)?;
    let len: usize = payload.iter().map(|p| p.len()).sum();
    w.write_all(&(len as u32).to_le_bytes())?;
    for p in payload {
        w.write_all(p)?;
    }
    Ok(())
}

/// Writes one run of items given in order ([`ExternalSorter::add_sorted_run`]).
pub(crate) struct RunWriter {
    out: BufWriter<File>,
    bytes: u64,
}

impl RunWriter {
    /// Appends an item whose payload is the concatenation of `payload`.
    pub(crate) fn item(&mut self, key: &[u8], payload: &[&[u8]]) -> io::Result<()> {
        self.bytes += (key.len() + payload.iter().map(|p| p.len()).sum::<usize>() + 8) as u64;
        write_item_parts(&mut self.out, key, payload)
    }
}

/// A run file, removed when dropped.
struct RunFile {
    path: PathBuf,
}

impl Drop for RunFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads a run back item by item.
struct RunReader {
    run: RunFile,
    reader: BufReader<File>,
    key: Vec<u8>,
    payload: Vec<u8>,
}

impl RunReader {
    fn open(run: RunFile) -> Result<RunReader, SpillError> {
        let file = File::open(&run.path)
            .map_err(|source| SpillError::Read { path: run.path.clone(), source })?;
        Ok(RunReader {
            run,
            reader: BufReader::with_capacity(READ_BUFFER, file),
            key: Vec::new(),
            payload: Vec::new(),
        })
    }

    /// Reads the next item into `key`/`payload`; false at the end.
    fn advance(&mut self) -> Result<bool, SpillError> {
        let read_error = |source| SpillError::Read { path: self.run.path.clone(), source };
        let mut len = [0u8; 4];
        match self.reader.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(e) => return Err(read_error(e)),
        }
        read_field(&mut self.reader, u32::from_le_bytes(len), &mut self.key).map_err(read_error)?;
        self.reader.read_exact(&mut len).map_err(read_error)?;
        read_field(&mut self.reader, u32::from_le_bytes(len), &mut self.payload)
            .map_err(read_error)?;
        Ok(true)
    }
}

fn read_field(r: &mut impl Read, len: u32, into: &mut Vec<u8>) -> io::Result<()> {
    into.clear();
    r.take(u64::from(len)).read_to_end(into)?;
    if into.len() != len as usize {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "run file ends inside an item"));
    }
    Ok(())
}

/// The sorted buffer, as the newest run.
struct MemoryRun {
    data: Vec<u8>,
    entries: Vec<Entry>,
    next: usize,
    current: Option<Entry>,
}

/// One input of a merge.
enum Source {
    File(RunReader),
    Memory(MemoryRun),
}

impl Source {
    fn advance(&mut self) -> Result<bool, SpillError> {
        match self {
            Source::File(r) => r.advance(),
            Source::Memory(m) => {
                m.current = m.entries.get(m.next).copied();
                m.next += 1;
                Ok(m.current.is_some())
            }
        }
    }

    fn key(&self) -> &[u8] {
        match self {
            Source::File(r) => &r.key,
            Source::Memory(m) => m.current.map_or(&[][..], |e| &m.data[e.start..e.key_end]),
        }
    }

    fn payload(&self) -> &[u8] {
        match self {
            Source::File(r) => &r.payload,
            Source::Memory(m) => m.current.map_or(&[][..], |e| &m.data[e.key_end..e.end]),
        }
    }
}

/// One merged item: its key and payload.
pub(crate) type Item<'a> = (&'a [u8], &'a [u8]);

/// The merged items of a sorter, in order.
pub(crate) struct Sorted {
    sources: Vec<Source>,
    /// Indices of sources with a current item, a binary min-heap by (key, index).
    heap: Vec<usize>,
    descending: bool,
    /// The source whose item was handed out last (advanced on the next call).
    last: Option<usize>,
    /// The memory of the last buffer, held until the stream ends.
    _reservation: Reservation,
}

impl Sorted {
    fn new(
        sources: Vec<Source>,
        descending: bool,
        reservation: Reservation,
    ) -> Result<Sorted, SpillError> {
        let mut s =
            Sorted { sources, heap: Vec::new(), descending, last: None, _reservation: reservation };
        for i in 0..s.sources.len() {
            if s.sources[i].advance()? {
                s.heap.push(i);
                s.sift_up(s.heap.len() - 1);
            }
        }
        Ok(s)
    }

    /// Whether source `a`'s item comes before source `b`'s.
    fn before(&self, a: usize, b: usize) -> bool {
        let (ka, kb) = (self.sources[a].key(), self.sources[b].key());
        let order = if self.descending { kb.cmp(ka) } else { ka.cmp(kb) };
        order.then(a.cmp(&b)).is_lt()
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.before(self.heap[i], self.heap[parent]) {
                self.heap.swap(i, parent);
                i = parent;
            } else {
                break;
            }
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut best = i;
            if l < self.heap.len() && self.before(self.heap[l], self.heap[best]) {
                best = l;
            }
            if r < self.heap.len() && self.before(self.heap[r], self.heap[best]) {
                best = r;
            }
            if best == i {
                return;
            }
            self.heap.swap(i, best);
            i = best;
        }
    }

    /// The next item in order, or `None` at the end.
    pub(crate) fn next_item(&mut self) -> Result<Option<Item<'_>>, SpillError> {
        if let Some(last) = self.last.take() {
            if self.sources[last].advance()? {
                self.sift_down(0);
            } else {
                let end = self.heap.len() - 1;
                self.heap.swap(0, end);
                self.heap.pop();
                if !self.heap.is_empty() {
                    self.sift_down(0);
                }
            }
        }
        let Some(&top) = self.heap.first() else { return Ok(None) };
        self.last = Some(top);
        let source = &self.sources[top];
        Ok(Some((source.key(), source.payload())))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::memory::MemoryManager;

    /// A space in a fresh directory with `kib` KiB of execution memory.
    pub(crate) fn space(kib: u64) -> (tempfile::TempDir, SpillSpace) {
        let dir = tempfile::tempdir().unwrap();
        let manager = MemoryManager::with_usable(kib << 10);
        let space = SpillSpace::new(dir.path().join("spill"), Arc::new(manager.task()));
        (dir, space)
    }

    fn drain(sorted: &mut Sorted) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some((k, p)) = sorted.next_item().unwrap() {
            out.push((k.to_vec(), p.to_vec()));
        }
        out
    }

    /// Items with few distinct keys (so stability shows) and the expected order from std's stable sort.
    fn items(n: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..n)
            .map(|i| {
                let k = (i.wrapping_mul(2_654_435_761) % 997).to_be_bytes().to_vec();
                (k, format!("payload-{i}-{}", "x".repeat((i % 50) as usize)).into_bytes())
            })
            .collect()
    }

    #[test]
    fn spilled_sorts_equal_a_stable_in_memory_sort_in_both_directions() {
        for descending in [false, true] {
            let (dir, space) = space(1024);
            let input = items(200_000);
            let mut sorter = ExternalSorter::new(&space, descending);
            for (k, p) in &input {
                sorter.push(k, p).unwrap();
            }
            assert!(sorter.metrics().spills >= 3, "{:?}", sorter.metrics());
            let mut sorted = sorter.finish().unwrap();
            let mut expected = input.clone();
            if descending {
                expected.sort_by(|a, b| b.0.cmp(&a.0));
            } else {
                expected.sort_by(|a, b| a.0.cmp(&b.0));
            }
            assert_eq!(drain(&mut sorted), expected);
            drop(sorted);
            let left: Vec<_> = std::fs::read_dir(dir.path().join("spill")).unwrap().collect();
            assert!(left.is_empty(), "run files left: {left:?}");
        }
    }

    #[test]
    fn many_runs_are_merged_in_passes() {
        let (_dir, space) = space(128);
        let input = items(400_000);
        let mut sorter = ExternalSorter::new(&space, false);
        for (k, p) in &input {
            sorter.push(k, p).unwrap();
        }
        assert!(sorter.metrics().spills as usize > MAX_FAN_IN, "{:?}", sorter.metrics());
        let mut expected = input.clone();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(drain(&mut sorter.finish().unwrap()), expected);
    }

    #[test]
    fn a_sorter_that_fits_writes_nothing() {
        let (dir, space) = space(64 << 10);
        let mut sorter = ExternalSorter::new(&space, false);
        for (k, p) in items(1000) {
            sorter.push(&k, &p).unwrap();
        }
        assert!(!sorter.spilled());
        assert_eq!(drain(&mut sorter.finish().unwrap()).len(), 1000);
        assert!(!dir.path().join("spill").exists());
    }

    #[test]
    fn an_unwritable_spill_directory_names_itself_and_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"not a directory").unwrap();
        let manager = MemoryManager::with_usable(1 << 20);
        let space = SpillSpace::new(blocker.join("spill"), Arc::new(manager.task()));
        let mut sorter = ExternalSorter::new(&space, false);
        let err = (0..200_000u32)
            .try_for_each(|i| sorter.push(&i.to_be_bytes(), &[7u8; 100]))
            .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("cannot spill "), "{text}");
        assert!(text.contains(&format!("bytes to {}", blocker.join("spill").display())), "{text}");
    }
}
