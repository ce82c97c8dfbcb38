//! Jobs: submission (stage creation and validation), per-partition results, success, failure and cleanup.

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::stages::{StageRole, StageState};
use super::{EventRecord, JobFailure, Scheduler, SchedulerCommand};
use crate::ids::{JobId, RddId, StageId};
use crate::lineage::Lineage;
use crate::task::{ComponentBytes, ResultKind, ResultValue};

/// An active job.
#[derive(Debug)]
pub(crate) struct Job {
    /// What result tasks produce.
    pub(crate) kind: ResultKind,
    /// The job's result stage.
    pub(crate) final_stage: StageId,
    /// Requested partitions, in result order.
    partitions: Vec<u32>,
    /// Position of each requested partition in `partitions`.
    positions: FxHashMap<u32, usize>,
    results: Vec<Option<ResultValue>>,
    remaining: usize,
    /// The result stage and all its ancestors.
    stages: Vec<StageId>,
}

impl Job {
    /// Requested partitions without a result yet, in request order.
    pub(crate) fn missing_partitions(&self) -> Vec<u32> {
        self.partitions
            .iter()
            .zip(&self.results)
            .filter(|(_, r)| r.is_none())
            .map(|(p, _)| *p)
            .collect()
    }
}

impl Scheduler {
    pub(super) fn job_submitted(
        &mut self,
        job: JobId,
        lineage: Arc<Lineage>,
        rdd: RddId,
        partitions: Vec<u32>,
        kind: ResultKind,
        components: Arc<Vec<Arc<ComponentBytes>>>,
    ) {
        if self.jobs.contains_key(&job) {
            tracing::warn!(%job, "job submitted twice; ignored");
            return;
        }
        let refuse = |this: &mut Scheduler, message: String| {
            this.record(EventRecord::JobStarted { job, time: this.now, stages: Vec::new() });
            this.job_ended(job, Err(JobFailure { message }));
        };
        let Some(node) = lineage.get(rdd) else {
            return refuse(self, format!("{job}: {rdd} is not in the lineage"));
        };
        let mut seen = FxHashSet::default();
        if let Some(p) = partitions.iter().find(|p| **p >= node.partitions || !seen.insert(**p)) {
            let message = format!(
                "{job}: partition {p} of {rdd} is out of range (0..{}) or repeated",
                node.partitions
            );
            return refuse(self, message);
        }
        if partitions.is_empty() {
            self.record(EventRecord::JobStarted { job, time: self.now, stages: Vec::new() });
            return self.job_ended(job, Ok(Vec::new()));
        }
        let final_stage = match self.create_result_stage(job, &lineage, &components, rdd) {
            Ok(s) => s,
            Err(e) => return refuse(self, format!("{job}: {e}")),
        };
        let stages = self.stage_closure(final_stage);
        for s in &stages {
            let stage = self.stages.get_mut(s).expect("closure of existing stages");
            stage.jobs.insert(job);
            if lineage.len() >= stage.lineage.len() {
                stage.lineage = lineage.clone();
                stage.components = components.clone();
            }
        }
        self.unpersisted.retain(|rdd| lineage.get(*rdd).is_none_or(|n| n.persist.is_none()));
        let positions = partitions.iter().enumerate().map(|(i, p)| (*p, i)).collect();
        let n = partitions.len();
        self.jobs.insert(
            job,
            Job {
                kind,
                final_stage,
                partitions,
                positions,
                results: vec![None; n],
                remaining: n,
                stages: stages.clone(),
            },
        );
        tracing::info!(%job, %rdd, partitions = n, stages = stages.len(), "job submitted");
        self.record(EventRecord::JobStarted { job, time: self.now, stages });
        self.submit_stage(final_stage);
    }

    /// Stores a result task's value; finishes the job when it was the last.
    pub(super) fn result_received(&mut self, job_id: JobId, partition: u32, value: ResultValue) {
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return;
        };
        let Some(&pos) = job.positions.get(&partition) else {
            return;
        };
        if job.results[pos].is_none() {
            job.results[pos] = Some(value);
            job.remaining -= 1;
        }
        let final_stage = job.final_stage;
        let done = job.remaining == 0;
        self.partition_done(final_stage, partition);
        if done {
            self.stage_succeeded(final_stage);
            let job = self.jobs.get_mut(&job_id).expect("checked above");
            let results =
                job.results.iter_mut().map(|r| r.take().expect("all results in")).collect();
            self.job_ended(job_id, Ok(results));
        }
    }

    /// Fails every active job that needs a stage.
    pub(super) fn abort_stage(&mut self, stage: StageId, message: String) {
        let jobs: Vec<JobId> =
            self.stages.get(&stage).map(|s| s.jobs.iter().copied().collect()).unwrap_or_default();
        if jobs.is_empty() {
            self.abandon_attempt(stage, &message);
        }
        for job in jobs {
            self.fail_job(job, message.clone());
        }
    }

    /// Fails a job (its stages that no other job needs are abandoned).
    pub(super) fn fail_job(&mut self, job: JobId, message: String) {
        tracing::info!(%job, %message, "job failed");
        self.job_ended(job, Err(JobFailure { message }));
    }

    /// Replies to the job's submitter, logs its end and forgets it.
    fn job_ended(&mut self, job_id: JobId, result: Result<Vec<ResultValue>, JobFailure>) {
        let error = result.as_ref().err().map(|e| e.message.clone());
        if let Some(job) = self.jobs.remove(&job_id) {
            let reason = error.clone().unwrap_or_else(|| format!("{job_id} ended"));
            for s in job.stages {
                let Some(stage) = self.stages.get_mut(&s) else {
                    continue;
                };
                stage.jobs.remove(&job_id);
                if !stage.jobs.is_empty() {
                    continue;
                }
                if stage.running_attempt().is_some() {
                    self.abandon_attempt(s, &reason);
                }
                let stage = self.stages.get_mut(&s).expect("exists");
                stage.state = StageState::Idle;
                if matches!(stage.role, StageRole::Result { .. }) {
                    self.stages.remove(&s);
                }
            }
        }
        self.record(EventRecord::JobEnded {
            job: job_id,
            time: self.now,
            succeeded: error.is_none(),
            error,
        });
        self.emit(SchedulerCommand::JobFinished { job: job_id, result });
    }
}
