//! Actions: each runs one job over the lineage and assembles the per-partition results.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::temporary_output::TemporaryOutput;
use super::{Context, ContextError};
use crate::ids::{ComponentId, RddId};
use crate::lineage::{GuestOps, MapSideCombine, NarrowStep, Op, Partitioner, RddKind, ReduceSide};
use crate::records::Batch;
use crate::store::{Codec, Location, ObjectOutput, ObjectUrl, OutputError};
use crate::task::{ResultKind, ResultValue};

/// Keys sampled per output partition to choose range bounds (Spark samples 20 per partition).
const SAMPLE_KEYS_PER_PARTITION: u32 = 20;

impl Context {
    /// Runs one job over some partitions of an RDD.
    pub(super) fn run_job(
        &mut self,
        rdd: RddId,
        partitions: Vec<u32>,
        result: ResultKind,
    ) -> Result<Vec<ResultValue>, ContextError> {
        self.node(rdd)?;
        if partitions.is_empty() {
            return Ok(Vec::new());
        }
        let lineage = Arc::new(self.lineage.clone());
        self.backend
            .run_job(lineage, rdd, partitions, result, self.components.clone(), self.shared_vars())
            .map_err(|message| ContextError::JobFailed { message })
    }

    /// Runs a job over every partition whose results are `Saved` (written by the tasks).
    pub(super) fn run_job_all(
        &mut self,
        rdd: RddId,
        result: ResultKind,
    ) -> Result<(), ContextError> {
        let parts = self.all_partitions(rdd)?;
        self.run_job(rdd, parts, result).map(drop)
    }

    pub(super) fn all_partitions(&self, rdd: RddId) -> Result<Vec<u32>, ContextError> {
        Ok((0..self.node(rdd)?.partitions).collect())
    }

    /// Number of records.
    pub(crate) fn count(&mut self, rdd: RddId) -> Result<u64, ContextError> {
        let parts = self.all_partitions(rdd)?;
        let values = self.run_job(rdd, parts, ResultKind::Count)?;
        Ok(values.iter().map(|v| if let ResultValue::Count(n) = v { *n } else { 0 }).sum())
    }

    /// Every record, in partition order.
    pub(crate) fn collect(&mut self, rdd: RddId) -> Result<Batch, ContextError> {
        let parts = self.all_partitions(rdd)?;
        let values = self.run_job(rdd, parts, ResultKind::Collect)?;
        Ok(concat(&values))
    }

    /// The first `n` records, scanning as few partitions as it can (Spark's `take`).
    pub(crate) fn take(&mut self, rdd: RddId, n: u32) -> Result<Batch, ContextError> {
        let total = self.node(rdd)?.partitions;
        let mut out = Batch::default();
        let mut scanned = 0u32;
        while (out.len() as u32) < n && scanned < total {
            let want = if scanned == 0 {
                1
            } else if out.is_empty() {
                scanned.saturating_mul(4)
            } else {
                let est = (1.5 * n as f64 * scanned as f64 / out.len() as f64).ceil() as u32;
                est.saturating_sub(scanned).clamp(1, scanned.saturating_mul(4))
            };
            let parts: Vec<u32> = (scanned..total.min(scanned.saturating_add(want))).collect();
            scanned += parts.len() as u32;
            let left = n - out.len() as u32;
            for v in self.run_job(rdd, parts, ResultKind::Take(left))? {
                if let ResultValue::Records(b) = v {
                    for r in b.iter().take((n as usize).saturating_sub(out.len())) {
                        out.push(r);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Runs extra guest ops over every partition and returns each partition's output.
    pub(crate) fn run_partitions(
        &mut self,
        rdd: RddId,
        ops: Vec<Op>,
        component: ComponentId,
    ) -> Result<Vec<Batch>, ContextError> {
        self.check_ops(component, &ops)?;
        let n = self.node(rdd)?.partitions;
        let step = NarrowStep::Guest(GuestOps { component, ops });
        let tail = self.lineage.add(RddKind::Narrow { parent: rdd, step }, n, None);
        let parts = self.all_partitions(tail)?;
        let values = self.run_job(tail, parts, ResultKind::Collect)?;
        Ok(values
            .into_iter()
            .map(|v| if let ResultValue::Records(b) = v { b } else { Batch::default() })
            .collect())
    }

    /// Writes string records as `part-NNNNN` text files plus `_SUCCESS`, all or nothing.
    pub(crate) fn save_as_text_file(&mut self, rdd: RddId, path: &str) -> Result<(), ContextError> {
        let codec = self.io.codec;
        let out = match Location::parse(path).map_err(|e| ContextError::Output(e.to_string()))? {
            Location::Local(out) => out,
            Location::Object(url) => return self.save_to_store(rdd, url, codec),
        };
        if out.exists() {
            return Err(ContextError::OutputExists { path: out });
        }
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        std::fs::create_dir_all(&parent).map_err(|source| ContextError::Io {
            what: "cannot create",
            path: parent.clone(),
            source,
        })?;
        // Leftovers of dead writers of this output are removed first (`temporary_output.rs`).
        let temp = TemporaryOutput::create(&parent, &name, self.output_journal.as_deref())
            .map_err(|source| ContextError::Io {
                what: "cannot create a temporary directory beside",
                path: out.clone(),
                source,
            })?;
        let dir = temp.path().to_path_buf();
        self.all_partitions(rdd).and_then(|parts| {
            self.run_job(rdd, parts, ResultKind::SaveText { dir: dir.clone(), codec })
        })?;
        std::fs::write(dir.join("_SUCCESS"), b"").map_err(|source| ContextError::Io {
            what: "cannot write",
            path: dir.clone(),
            source,
        })?;
        if out.exists() {
            return Err(ContextError::OutputExists { path: out });
        }
        // On any error the temporary directory is removed when `temp` drops.
        temp.commit(&out).map_err(|source| ContextError::Io {
            what: "cannot commit output to",
            path: out.clone(),
            source,
        })
    }

    /// Writes string records to a store prefix with the rename-free commit protocol
    /// (`store/commit.rs`): refused if anything is there, visible only when the job succeeded.
    fn save_to_store(
        &mut self,
        rdd: RddId,
        url: ObjectUrl,
        codec: Codec,
    ) -> Result<(), ContextError> {
        let output_err = |e: OutputError| ContextError::Output(e.to_string());
        let output =
            ObjectOutput::prepare(self.io.stores.clone(), url.clone()).map_err(output_err)?;
        let parts = self.all_partitions(rdd)?;
        let dir = PathBuf::from(url.to_string());
        let values = self.run_job(rdd, parts.clone(), ResultKind::SaveText { dir, codec })?;
        commit_staged(&output, &parts, values, codec.extension())
    }

    /// Pairs sorted by key across range partitions chosen from a sample (runs a sampling job now, as Spark does).
    pub(crate) fn sort_by_key(
        &mut self,
        parent: RddId,
        ascending: bool,
        partitions: u32,
    ) -> Result<RddId, ContextError> {
        let partitions = Self::partitions_arg("sort-by-key", partitions)?;
        let have = self.node(parent)?.partitions.max(1);
        let per_partition =
            (SAMPLE_KEYS_PER_PARTITION * partitions).div_ceil(have).saturating_mul(3).max(1);
        let mut keys: Vec<Vec<u8>> = Vec::new();
        if partitions > 1 {
            let parts = self.all_partitions(parent)?;
            for v in self.run_job(parent, parts, ResultKind::SampleKeys(per_partition))? {
                if let ResultValue::Records(b) = v {
                    keys.extend(b.iter().map(<[u8]>::to_vec));
                }
            }
        }
        // Bounds are ascending whatever the direction; a descending partitioner mirrors the index (as Spark's).
        let bounds = range_bounds(keys, partitions);
        let partitioner = Partitioner::Range { bounds, ascending };
        Ok(self.shuffled(
            parent,
            partitioner,
            MapSideCombine::None,
            ReduceSide::Sort { ascending },
            true,
        ))
    }
}

/// Chooses `partitions - 1` distinct, evenly spaced bounds from sampled keys.
pub(crate) fn range_bounds(mut keys: Vec<Vec<u8>>, partitions: u32) -> Vec<Vec<u8>> {
    keys.sort_unstable();
    let mut bounds: Vec<Vec<u8>> = Vec::new();
    if keys.is_empty() || partitions <= 1 {
        return bounds;
    }
    for i in 1..partitions as usize {
        let k = &keys[(i * keys.len() / partitions as usize).min(keys.len() - 1)];
        if bounds.last() != Some(k) {
            bounds.push(k.clone());
        }
    }
    bounds
}

fn concat(values: &[ResultValue]) -> Batch {
    let mut out = Batch::default();
    for v in values {
        if let ResultValue::Records(b) = v {
            out.extend(b);
        }
    }
    out
}

/// Commits the part files a store job's tasks staged (one per partition, named `part-NNNNN{extension}`)
/// with the rename-free protocol (`store/commit.rs`); anything else reported aborts them all.
pub(super) fn commit_staged(
    output: &ObjectOutput,
    parts: &[u32],
    values: Vec<ResultValue>,
    extension: &str,
) -> Result<(), ContextError> {
    let mut staged = Vec::with_capacity(values.len());
    let mut unexpected = None;
    for (partition, value) in parts.iter().zip(values) {
        match value {
            ResultValue::Staged(part) if part.key == output.part_url(*partition, extension).key => {
                staged.push(part)
            }
            ResultValue::Staged(part) => {
                unexpected.get_or_insert(format!("an upload of {}", part.key));
                staged.push(part);
            }
            other => {
                unexpected.get_or_insert(format!("{other:?}"));
            }
        }
    }
    if let Some(what) = unexpected {
        output.abort(staged);
        return Err(ContextError::Output(format!(
            "cannot commit {}: a task reported {what} instead of its part file",
            output.url()
        )));
    }
    output.commit(staged).map_err(|e| ContextError::Output(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_spaced_and_distinct() {
        let keys: Vec<Vec<u8>> = (0u8..100).map(|i| vec![i]).collect();
        let b = range_bounds(keys, 4);
        assert_eq!(b, vec![vec![25], vec![50], vec![75]]);
        let dup: Vec<Vec<u8>> = vec![vec![1]; 10];
        assert_eq!(range_bounds(dup, 4), vec![vec![1]]);
        assert!(range_bounds(Vec::new(), 4).is_empty());
    }
}
