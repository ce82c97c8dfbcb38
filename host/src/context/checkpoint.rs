//! Checkpoints (Spark's `RDD.checkpoint` / `localCheckpoint`) and the file sources that are not text lines (`binary-lines`, `whole-text-files`).
//!
//! A reliable checkpoint runs a job writing each partition's records, framed,
//! to `DIR/<application dir>/rdd-N/part-NNNNN` and returns a new RDD that reads
//! those files: its lineage starts there, so the DAG of later jobs and the plans
//! of their tasks stop growing. On a local disk each task commits its file by
//! rename and the driver renames the directory into place; on a store
//! (`s3://`) the tasks stage their files as open uploads and the driver commits
//! them with `save_as_text_file`'s protocol (`store/commit.rs`), `_SUCCESS`
//! last: nothing is readable under `rdd-N` unless the whole job succeeded.

use std::path::{Path, PathBuf};

use super::actions::commit_staged;
use super::{Context, ContextError};
use crate::block::input::list_inputs;
use crate::ids::RddId;
use crate::lineage::{FileFormat, FileSplit, Partitioner, RddKind, StorageLevel};
use crate::store::{Location, ObjectOutput, ObjectUrl};
use crate::task::ResultKind;

/// The object a store checkpoint writes last (as `save_as_text_file` does): the checkpoint is complete.
const SUCCESS: &str = "_SUCCESS";

impl Context {
    /// Where reliable checkpoints go: a fresh directory (or key prefix) under `path` for this
    /// application. A local directory is created now; a store's bucket is checked now.
    pub(crate) fn set_checkpoint_dir(&mut self, path: &str) -> Result<(), ContextError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!("wisp-{}-{nanos:x}", std::process::id());
        let store_err = |e: crate::store::StoreError| {
            ContextError::Output(format!("cannot use checkpoint directory {path}: {e}"))
        };
        let dir = match Location::parse(path).map_err(store_err)? {
            Location::Local(base) => {
                let dir = base.join(name);
                std::fs::create_dir_all(&dir).map_err(|source| ContextError::Io {
                    what: "cannot create the checkpoint directory",
                    path: dir.clone(),
                    source,
                })?;
                Location::Local(dir)
            }
            Location::Object(base) => {
                if base.key.is_empty() {
                    return Err(ContextError::Output(format!(
                        "cannot use checkpoint directory {path}: it needs a key prefix below the bucket"
                    )));
                }
                // Nothing to create on a store; listing fails now if the bucket is missing or unreachable.
                self.io.stores.list_dir(&base).map_err(store_err)?;
                Location::Object(base.child(&name))
            }
        };
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
        let name = format!("rdd-{}", rdd.0);
        let part = |p: u32| format!("part-{p:05}");
        let files: Vec<PathBuf> = match base {
            Location::Local(base) => {
                let dir = base.join(&name);
                self.checkpoint_local(rdd, &base, &dir)?;
                (0..partitions).map(|p| dir.join(part(p))).collect()
            }
            Location::Object(base) => {
                let dir = base.child(&name);
                self.checkpoint_to_store(rdd, &dir)?;
                (0..partitions).map(|p| PathBuf::from(dir.child(&part(p)).to_string())).collect()
            }
        };
        Ok(self.read_checkpoint(files, partitioner))
    }

    /// The job of a checkpoint to a local directory: part files committed by rename, then the directory.
    fn checkpoint_local(
        &mut self,
        rdd: RddId,
        base: &Path,
        dir: &Path,
    ) -> Result<(), ContextError> {
        if dir.exists() {
            // Checkpointed before: the files are complete (written only by a job that succeeded).
            return Ok(());
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
                std::fs::rename(&temp, dir).map_err(|source| ContextError::Io {
                    what: "cannot commit the checkpoint",
                    path: dir.to_path_buf(),
                    source,
                })
            });
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&temp);
            return Err(e);
        }
        tracing::debug!(%rdd, dir = %dir.display(), "checkpoint written");
        Ok(())
    }

    /// The job of a checkpoint to a store prefix: part files staged by the tasks as open uploads,
    /// completed by the driver only when the job succeeded, `_SUCCESS` last.
    fn checkpoint_to_store(&mut self, rdd: RddId, dir: &ObjectUrl) -> Result<(), ContextError> {
        let stores = self.io.stores.clone();
        let failed = |e: String| ContextError::Output(format!("checkpoint of rdd {}: {e}", rdd.0));
        // Checkpointed before: `_SUCCESS` is written only after every part file was completed.
        if stores.head(&dir.child(SUCCESS)).map_err(|e| failed(e.to_string()))?.is_some() {
            return Ok(());
        }
        let output =
            ObjectOutput::prepare(stores, dir.clone()).map_err(|e| failed(e.to_string()))?;
        let parts = self.all_partitions(rdd)?;
        let sink = ResultKind::SaveRecords { dir: PathBuf::from(dir.to_string()) };
        let values = self.run_job(rdd, parts.clone(), sink)?;
        commit_staged(&output, &parts, values, "")?;
        tracing::debug!(%rdd, dir = %dir, "checkpoint written");
        Ok(())
    }

    /// An RDD reading one checkpoint file per partition.
    fn read_checkpoint(&mut self, files: Vec<PathBuf>, partitioner: Option<Partitioner>) -> RddId {
        let partitions = files.len() as u32;
        let parts =
            files.into_iter().map(|path| vec![FileSplit { path, start: 0, end: 0 }]).collect();
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

    /// Lines of a file, a directory or a store prefix as raw bytes.
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

    /// One `(path, content)` record per file (local, or an object named by its URL), the files spread over at most `min_partitions`
    /// partitions in name order (contiguous groups of about equal bytes).
    pub(crate) fn whole_text_files(
        &mut self,
        path: &str,
        min_partitions: u32,
    ) -> Result<RddId, ContextError> {
        let files = list_inputs(path, &self.io.stores)
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
