//! Checkpoints (Spark's `RDD.checkpoint` / `localCheckpoint`) and the file sources that are not text lines (`binary-lines`, `whole-text-files`).
//!
//! A reliable checkpoint runs a job writing each partition's records, framed,
//! to `DIR/<application dir>/rdd-N/part-NNNNN` (committed per task by rename),
//! and returns a new RDD that reads those files: its lineage starts there, so
//! the DAG of later jobs and the plans of their tasks stop growing.

use std::path::{Path, PathBuf};

use super::{Context, ContextError};
use crate::block::input::list_files;
use crate::ids::RddId;
use crate::lineage::{FileFormat, FileSplit, RddKind, StorageLevel};
use crate::task::ResultKind;

impl Context {
    /// Where reliable checkpoints go: a fresh directory under `path` for this application.
    pub(crate) fn set_checkpoint_dir(&mut self, path: &str) -> Result<(), ContextError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = Path::new(path).join(format!("wisp-{}-{nanos:x}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| ContextError::Io {
            what: "cannot create the checkpoint directory",
            path: dir.clone(),
            source,
        })?;
        self.checkpoint_dir = Some(dir);
        Ok(())
    }

    /// Writes the RDD's partitions into the checkpoint directory (one job) and returns an RDD reading them.
    pub(crate) fn checkpoint(&mut self, rdd: RddId) -> Result<RddId, ContextError> {
        let node = self.node(rdd)?;
        let (partitions, partitioner) = (node.partitions, node.partitioner.clone());
        let Some(base) = self.checkpoint_dir.clone() else {
            return Err(ContextError::NoCheckpointDir { id: rdd.0 });
        };
        let dir = base.join(format!("rdd-{}", rdd.0));
        if dir.exists() {
            // Checkpointed before: the files are complete (written only by a job that succeeded).
            return Ok(self.read_checkpoint(&dir, partitions, partitioner));
        }
        let temp = base.join(format!(".rdd-{}.writing", rdd.0));
        let _ = std::fs::remove_dir_all(&temp);
        std::fs::create_dir_all(&temp).map_err(|source| ContextError::Io {
            what: "cannot create",
            path: temp.clone(),
            source,
        })?;
        let written =
            self.run_job_all(rdd, ResultKind::SaveRecords { dir: temp.clone() }).and_then(|()| {
                std::fs::rename(&temp, &dir).map_err(|source| ContextError::Io {
                    what: "cannot commit the checkpoint",
                    path: dir.clone(),
                    source,
                })
            });
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&temp);
            return Err(e);
        }
        tracing::debug!(%rdd, dir = %dir.display(), "checkpoint written");
        Ok(self.read_checkpoint(&dir, partitions, partitioner))
    }

    fn read_checkpoint(
        &mut self,
        dir: &Path,
        partitions: u32,
        partitioner: Option<crate::lineage::Partitioner>,
    ) -> RddId {
        let parts = (0..partitions)
            .map(|p| {
                let path: PathBuf = dir.join(format!("part-{p:05}"));
                vec![FileSplit { path, start: 0, end: 0 }]
            })
            .collect();
        let kind = RddKind::Files { format: FileFormat::Records, parts };
        self.lineage.add(kind, partitions, partitioner)
    }

    /// Keeps the RDD's partitions on the executors (memory, then disk) and computes them now:
    /// later jobs start from them. The lineage is kept, so a lost partition is recomputed.
    pub(crate) fn local_checkpoint(&mut self, rdd: RddId) -> Result<RddId, ContextError> {
        self.persist(rdd, StorageLevel::MemoryAndDisk)?;
        self.count(rdd)?;
        Ok(rdd)
    }

    /// Lines of a file or directory as raw bytes.
    pub(crate) fn binary_lines(
        &mut self,
        path: &str,
        min_partitions: u32,
    ) -> Result<RddId, ContextError> {
        let splits = self.input_splits(path, min_partitions)?;
        let n = splits.len() as u32;
        let parts = splits.into_iter().map(|s| vec![s]).collect();
        Ok(self.lineage.add(RddKind::Files { format: FileFormat::RawLines, parts }, n, None))
    }

    /// One `(path, content)` record per file, the files spread over at most `min_partitions`
    /// partitions in name order (contiguous groups of about equal bytes).
    pub(crate) fn whole_text_files(
        &mut self,
        path: &str,
        min_partitions: u32,
    ) -> Result<RddId, ContextError> {
        let files = list_files(Path::new(path))
            .map_err(|e| ContextError::Input { message: e.to_string() })?;
        let total: u64 = files.iter().map(|(_, len)| len).sum();
        let n = (min_partitions.max(1) as usize).min(files.len().max(1));
        let target = total.div_ceil(n as u64).max(1);
        let mut parts: Vec<Vec<FileSplit>> = vec![Vec::new()];
        let mut bytes = 0u64;
        for (path, len) in files {
            let last = parts.last_mut().expect("one group at least");
            if !last.is_empty() && bytes >= target && parts.len() < n {
                parts.push(Vec::new());
                bytes = 0;
            }
            bytes += len;
            parts.last_mut().expect("one group").push(FileSplit { path, start: 0, end: len });
        }
        let partitions = parts.len() as u32;
        Ok(self.lineage.add(
            RddKind::Files { format: FileFormat::WholeText, parts },
            partitions,
            None,
        ))
    }
}
