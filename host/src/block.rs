//! The executor's block manager (cached partitions in memory or on local disk, least recently used evicted first) and input splits (`input`).

pub(crate) mod formats;
pub(crate) mod input;

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

use crate::lineage::StorageLevel;
use crate::memory::{MemoryManager, StorageEvictor};
use crate::records::Batch;
use crate::task::BlockId;

/// A block could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BlockError {
    /// Disk IO on a block file failed.
    #[error("block file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A block file is corrupt.
    #[error("block file {path} is corrupt")]
    Corrupt { path: PathBuf },
}

/// Where a block went when it was put.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stored {
    /// In memory.
    Memory,
    /// On local disk (asked for, or a memory-and-disk block that did not fit).
    Disk,
    /// Nowhere: a memory-only block that does not fit the storage memory.
    Nowhere,
}

/// A block in the memory store.
struct MemoryBlock {
    batches: Arc<Vec<Batch>>,
    bytes: u64,
    level: StorageLevel,
    /// When it was last put or read (a tick of the store's clock).
    last_use: u64,
}

#[derive(Default)]
struct MemoryStore {
    blocks: HashMap<BlockId, MemoryBlock>,
    clock: u64,
}

/// Cached partitions of one executor. Executor-local state, shared by its task threads.
///
/// Memory blocks hold storage memory of the executor's budget. When a new
/// block does not fit, least recently used blocks of *other* RDDs are evicted
/// (as Spark's memory store does: a partition never evicts its own RDD's
/// siblings); memory-and-disk blocks move to disk, memory-only blocks are
/// dropped (a task that needs one again recomputes it from its lineage). A
/// block larger than the whole storage memory is not kept in memory.
/// Execution memory may evict blocks too, above the protected region.
pub(crate) struct BlockManager {
    memory: Mutex<MemoryStore>,
    budget: Arc<MemoryManager>,
    disk_dir: PathBuf,
}

/// Bytes a block occupies in memory: its records and their offsets.
fn block_bytes(batches: &[Batch]) -> u64 {
    batches.iter().map(|b| (b.byte_len() + 4 * b.len()) as u64).sum()
}

impl BlockManager {
    /// A block manager keeping disk blocks under `disk_dir` and memory blocks within `budget`'s storage memory.
    pub(crate) fn new(
        disk_dir: PathBuf,
        budget: Arc<MemoryManager>,
    ) -> std::io::Result<Arc<BlockManager>> {
        std::fs::create_dir_all(&disk_dir)?;
        let manager =
            Arc::new(BlockManager { memory: Mutex::default(), budget: budget.clone(), disk_dir });
        let weak: Weak<dyn StorageEvictor> = Arc::downgrade(&(manager.clone() as Arc<_>));
        budget.add_evictor(weak);
        Ok(manager)
    }

    fn path(&self, block: BlockId) -> PathBuf {
        self.disk_dir.join(format!("rdd_{}_{}", block.rdd.0, block.partition))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryStore> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores a computed partition at `level`; says where it went.
    pub(crate) fn put(
        &self,
        block: BlockId,
        batches: Vec<Batch>,
        level: StorageLevel,
    ) -> Result<Stored, BlockError> {
        if level == StorageLevel::DiskOnly {
            self.write_disk(block, &batches)?;
            return Ok(Stored::Disk);
        }
        let bytes = block_bytes(&batches);
        if bytes > self.budget.usable() {
            tracing::info!(
                ?block,
                bytes,
                storage = self.budget.usable(),
                "block is larger than the executor's whole storage memory: not kept in memory"
            );
        } else if self.make_room(block, bytes) {
            let mut store = self.lock();
            store.clock += 1;
            let last_use = store.clock;
            let old = store
                .blocks
                .insert(block, MemoryBlock { batches: Arc::new(batches), bytes, level, last_use });
            if let Some(old) = old {
                self.budget.release_storage(old.bytes);
            }
            return Ok(Stored::Memory);
        }
        let (execution, storage) = self.budget.used();
        tracing::debug!(?block, bytes, execution, storage, "no storage memory for the block");
        if level == StorageLevel::MemoryAndDisk {
            self.write_disk(block, &batches)?;
            Ok(Stored::Disk)
        } else {
            tracing::info!(?block, bytes, "no storage memory for a memory-only block: not cached");
            Ok(Stored::Nowhere)
        }
    }

    /// Takes `bytes` of storage memory for `block`, evicting least recently used blocks of other RDDs if needed.
    fn make_room(&self, block: BlockId, bytes: u64) -> bool {
        loop {
            if self.budget.try_acquire_storage(bytes) {
                return true;
            }
            let victim = {
                let store = self.lock();
                store
                    .blocks
                    .iter()
                    .filter(|(id, _)| id.rdd != block.rdd)
                    .min_by_key(|(_, b)| b.last_use)
                    .map(|(id, _)| *id)
            };
            match victim {
                Some(id) => {
                    self.evict_one(id);
                }
                None => return false,
            }
        }
    }

    /// Evicts one memory block (to disk if its level allows); returns the storage memory released.
    fn evict_one(&self, id: BlockId) -> u64 {
        let Some(b) = self.lock().blocks.remove(&id) else { return 0 };
        if b.level == StorageLevel::MemoryAndDisk {
            match self.write_disk(id, &b.batches) {
                Ok(()) => tracing::debug!(block = ?id, bytes = b.bytes, "evicted block to disk"),
                Err(e) => tracing::warn!(block = ?id, "evicted block dropped, not written: {e}"),
            }
        } else {
            tracing::debug!(block = ?id, bytes = b.bytes, "evicted memory-only block");
        }
        self.budget.release_storage(b.bytes);
        b.bytes
    }

    fn write_disk(&self, block: BlockId, batches: &[Batch]) -> Result<(), BlockError> {
        let mut w = self.disk_writer(block)?;
        for b in batches {
            w.write(b)?;
        }
        w.commit()
    }

    /// Writes a block to disk batch by batch (a partition too big to copy in memory first).
    pub(crate) fn disk_writer(&self, block: BlockId) -> Result<DiskBlockWriter, BlockError> {
        let path = self.path(block);
        let tmp = path.with_extension("tmp");
        let file = std::fs::File::create(&tmp)
            .map_err(|source| BlockError::Io { path: tmp.clone(), source })?;
        Ok(DiskBlockWriter { out: std::io::BufWriter::new(file), tmp, path })
    }

    /// A cached partition, if this executor holds it (in memory or on disk).
    pub(crate) fn get(&self, block: BlockId) -> Result<Option<Arc<Vec<Batch>>>, BlockError> {
        {
            let mut store = self.lock();
            store.clock += 1;
            let now = store.clock;
            if let Some(b) = store.blocks.get_mut(&block) {
                b.last_use = now;
                return Ok(Some(b.batches.clone()));
            }
        }
        let path = self.path(block);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(BlockError::Io { path, source }),
        };
        let mut batch = Batch::default();
        crate::shuffle::decode_block(&bytes, &mut batch)
            .map_err(|_| BlockError::Corrupt { path })?;
        Ok(Some(Arc::new(vec![batch])))
    }

    /// Forgets blocks (memory and disk).
    pub(crate) fn remove(&self, blocks: &[BlockId]) {
        let mut store = self.lock();
        for b in blocks {
            if let Some(m) = store.blocks.remove(b) {
                self.budget.release_storage(m.bytes);
            }
            let _ = std::fs::remove_file(self.path(*b));
        }
    }
}

/// A block being written to disk; nothing is visible under its name until `commit`.
pub(crate) struct DiskBlockWriter {
    out: std::io::BufWriter<std::fs::File>,
    tmp: PathBuf,
    path: PathBuf,
}

impl DiskBlockWriter {
    /// Appends a batch's records.
    pub(crate) fn write(&mut self, batch: &Batch) -> Result<(), BlockError> {
        let io = |source| BlockError::Io { path: self.tmp.clone(), source };
        for r in batch.iter() {
            self.out.write_all(&(r.len() as u32).to_le_bytes()).map_err(io)?;
            self.out.write_all(r).map_err(io)?;
        }
        Ok(())
    }

    /// Publishes the block under its name.
    pub(crate) fn commit(mut self) -> Result<(), BlockError> {
        let io = |path: &PathBuf, source| BlockError::Io { path: path.clone(), source };
        self.out.flush().map_err(|e| io(&self.tmp, e))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| io(&self.path, e))
    }
}

impl Drop for DiskBlockWriter {
    fn drop(&mut self) {
        // Removes the temporary file of an uncommitted block (a no-op once renamed).
        let _ = std::fs::remove_file(&self.tmp);
    }
}

impl StorageEvictor for BlockManager {
    fn evict(&self, bytes: u64) -> u64 {
        let mut freed = 0;
        while freed < bytes {
            let victim = {
                let store = self.lock();
                store.blocks.iter().min_by_key(|(_, b)| b.last_use).map(|(id, _)| *id)
            };
            let Some(id) = victim else { break };
            freed += self.evict_one(id);
        }
        freed
    }
}

impl Drop for BlockManager {
    fn drop(&mut self) {
        let store = self.memory.get_mut().unwrap_or_else(|p| p.into_inner());
        let held: u64 = store.blocks.values().map(|b| b.bytes).sum();
        self.budget.release_storage(held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RddId;

    fn block(rdd: u32, partition: u32) -> BlockId {
        BlockId { rdd: RddId(rdd), partition }
    }

    /// A partition of `n` records of 1000 bytes (about 1 MB).
    fn partition(n: usize, fill: u8) -> Vec<Batch> {
        vec![Batch::from_records((0..n).map(|_| vec![fill; 1000]))]
    }

    #[test]
    fn full_memory_evicts_the_least_recently_used_block_of_another_rdd() {
        let dir = tempfile::tempdir().unwrap();
        let budget = MemoryManager::with_usable(3_100_000);
        let blocks = BlockManager::new(dir.path().join("blocks"), budget.clone()).unwrap();
        let (a0, a1, b0) = (block(1, 0), block(1, 1), block(2, 0));
        assert_eq!(
            blocks.put(a0, partition(1000, 1), StorageLevel::MemoryAndDisk).unwrap(),
            Stored::Memory
        );
        assert_eq!(
            blocks.put(a1, partition(1000, 2), StorageLevel::MemoryOnly).unwrap(),
            Stored::Memory
        );
        // Reading a0 makes a1 the least recently used.
        assert!(blocks.get(a0).unwrap().is_some());
        assert_eq!(
            blocks.put(b0, partition(1000, 3), StorageLevel::MemoryOnly).unwrap(),
            Stored::Memory
        );
        // Full: the least recently used block of another RDD (a1, memory-only) is dropped.
        assert_eq!(
            blocks.put(block(2, 1), partition(1000, 4), StorageLevel::MemoryOnly).unwrap(),
            Stored::Memory
        );
        assert!(blocks.get(a1).unwrap().is_none());
        // Then a0 (memory-and-disk) moves to disk, and reads back equal.
        assert_eq!(
            blocks.put(block(3, 0), partition(1000, 5), StorageLevel::MemoryOnly).unwrap(),
            Stored::Memory
        );
        assert!(dir.path().join("blocks/rdd_1_0").exists());
        let a0_back = blocks.get(a0).unwrap().unwrap();
        let records: Vec<Vec<u8>> =
            a0_back.iter().flat_map(|b| b.iter().map(<[u8]>::to_vec)).collect();
        assert_eq!(records, vec![vec![1u8; 1000]; 1000]);
        assert_eq!(budget.used().1, 3 * 1_004_000);
    }

    #[test]
    fn a_block_larger_than_the_storage_memory_is_not_kept_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let budget = MemoryManager::with_usable(500_000);
        let blocks = BlockManager::new(dir.path().join("blocks"), budget.clone()).unwrap();
        assert_eq!(
            blocks.put(block(1, 0), partition(1000, 1), StorageLevel::MemoryOnly).unwrap(),
            Stored::Nowhere
        );
        assert_eq!(
            blocks.put(block(1, 1), partition(1000, 1), StorageLevel::MemoryAndDisk).unwrap(),
            Stored::Disk
        );
        assert_eq!(budget.used(), (0, 0));
        assert!(blocks.get(block(1, 1)).unwrap().is_some());
    }

    #[test]
    fn execution_memory_evicts_cached_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let budget = MemoryManager::with_usable(4_000_000);
        let blocks = BlockManager::new(dir.path().join("blocks"), budget.clone()).unwrap();
        for p in 0..3 {
            blocks.put(block(1, p), partition(1000, 1), StorageLevel::MemoryAndDisk).unwrap();
        }
        let task = budget.task();
        // Less than 1 MB is free: a guest's growth evicts blocks (whole ones, so perhaps below
        // the protected half), and the evicted memory-and-disk blocks still read back.
        task.acquire_guest(2_500_000);
        let storage = budget.used().1;
        assert!(storage <= 1_500_000, "{storage}");
        assert!((0..3).all(|p| blocks.get(block(1, p)).unwrap().is_some()));
    }
}
