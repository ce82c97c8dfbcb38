//! The executor's block manager (cached partitions in memory or on local disk) and input splits (`input`).

pub(crate) mod input;

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::lineage::StorageLevel;
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

/// Cached partitions of one executor. Executor-local state, shared by its task threads.
pub(crate) struct BlockManager {
    memory: Mutex<HashMap<BlockId, Arc<Vec<Batch>>>>,
    disk_dir: PathBuf,
}

impl BlockManager {
    /// A block manager keeping disk blocks under `disk_dir`.
    pub(crate) fn new(disk_dir: PathBuf) -> std::io::Result<BlockManager> {
        std::fs::create_dir_all(&disk_dir)?;
        Ok(BlockManager { memory: Mutex::new(HashMap::new()), disk_dir })
    }

    fn path(&self, block: BlockId) -> PathBuf {
        self.disk_dir.join(format!("rdd_{}_{}", block.rdd.0, block.partition))
    }

    /// Stores a computed partition.
    pub(crate) fn put(
        &self,
        block: BlockId,
        batches: Vec<Batch>,
        level: StorageLevel,
    ) -> Result<(), BlockError> {
        match level {
            StorageLevel::MemoryOnly | StorageLevel::MemoryAndDisk => {
                self.memory
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(block, Arc::new(batches));
                Ok(())
            }
            StorageLevel::DiskOnly => {
                let path = self.path(block);
                let tmp = path.with_extension("tmp");
                let io = |source| BlockError::Io { path: path.clone(), source };
                let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
                for b in &batches {
                    for r in b.iter() {
                        f.write_all(&(r.len() as u32).to_le_bytes()).map_err(io)?;
                        f.write_all(r).map_err(io)?;
                    }
                }
                f.flush().map_err(io)?;
                drop(f);
                std::fs::rename(&tmp, &path).map_err(io)
            }
        }
    }

    /// A cached partition, if this executor holds it.
    pub(crate) fn get(&self, block: BlockId) -> Result<Option<Arc<Vec<Batch>>>, BlockError> {
        if let Some(b) = self.memory.lock().unwrap_or_else(|p| p.into_inner()).get(&block) {
            return Ok(Some(b.clone()));
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
        let mut mem = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        for b in blocks {
            mem.remove(b);
            let _ = std::fs::remove_file(self.path(*b));
        }
    }
}
