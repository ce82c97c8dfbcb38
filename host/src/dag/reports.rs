//! Reactions to the cluster: task reports, lost executors, unpersisted RDDs.

use super::outputs::MapStatus;
use super::stages::StageRole;
use super::{EventRecord, Scheduler, SchedulerCommand};
use crate::ids::{ExecutorId, RddId};
use crate::task::{BlockId, TaskFailure, TaskMetrics, TaskOutput, TaskReport};
use crate::task_scheduler::{EndedTask, ReportVerdict, TaskOutcome};

impl Scheduler {
    pub(super) fn task_finished(&mut self, report: TaskReport) {
        // Staleness is decided by the task scheduler, in one place.
        let (ended, outcome) = match self.tasks.status_update(self.now, &report) {
            ReportVerdict::Unknown => {
                tracing::debug!(task = %report.task, executor = %report.executor, "report of unknown task attempt ignored");
                return;
            }
            ReportVerdict::Ended { task, outcome } => (task, outcome),
        };
        let failure = report.result.as_ref().err().map(TaskFailure::message);
        self.record_task_end(&ended, report.metrics.clone(), failure, report.log.clone());
        if outcome == TaskOutcome::Stale {
            // Its partition is done (a speculative copy won, say) or its stage
            // attempt is gone: nothing it produced counts, and blocks it cached
            // that the registry does not hold there are dropped.
            tracing::debug!(task = %ended.id.task, stage = %ended.id.stage, "stale report ignored");
            self.drop_unregistered(report.executor, &report.cached);
            return;
        }
        self.blocks_cached(report.executor, &report.cached);
        match outcome {
            TaskOutcome::Stale | TaskOutcome::Retrying | TaskOutcome::Requeued => {}
            TaskOutcome::Succeeded { kill } => {
                self.kill(kill);
                let Ok(output) = report.result else {
                    unreachable!("succeeded outcome of a failed report")
                };
                // Once per (stage, partition): a rerun after lost map outputs
                // or a second successful copy adds nothing.
                let first = self.accumulated.insert((ended.id.stage, ended.id.partition));
                if first && !report.accumulators.is_empty() {
                    self.emit(SchedulerCommand::MergeAccumulators { updates: report.accumulators });
                }
                self.task_succeeded(&ended, output);
            }
            TaskOutcome::TooManyFailures { message } => self.abort_stage(ended.id.stage, message),
            TaskOutcome::FetchFailed => {
                let Err(TaskFailure::FetchFailed { shuffle, map, executor, message }) =
                    &report.result
                else {
                    unreachable!("fetch-failed outcome of another report")
                };
                // The executor cannot serve its outputs: all of them are lost,
                // so the parent stages rerun every lost partition in one attempt.
                self.outputs_lost(*executor, ended.epoch, "a fetch from it failed");
                let stage =
                    self.stages.get_mut(&ended.id.stage).expect("live task sets have stages");
                stage.consecutive_failures += 1;
                let failures = stage.consecutive_failures;
                let reason =
                    format!("fetch of {shuffle} map {map} from {executor} failed: {message}");
                self.abandon_attempt(ended.id.stage, &reason);
                if failures >= self.config.max_stage_attempts {
                    let message = format!(
                        "stage {} failed {failures} consecutive attempts; last failure: {reason}",
                        ended.id.stage.0
                    );
                    self.abort_stage(ended.id.stage, message);
                } else {
                    self.submit_stage(ended.id.stage);
                    self.revalidate_running();
                }
            }
        }
    }

    /// Forgets every map output on `executor` (all shuffles), as known to an
    /// attempt launched at `epoch`; returns whether any was forgotten. Nothing
    /// changes when they were already lost since `epoch`.
    fn outputs_lost(&mut self, executor: ExecutorId, epoch: u64, why: &str) -> bool {
        match self.outputs.executor_lost(executor, epoch) {
            None => {
                tracing::debug!(%executor, epoch, why, "map outputs already lost since that epoch");
                false
            }
            Some(lost) => {
                let epoch = self.outputs.epoch();
                tracing::info!(%executor, lost, epoch, why, "map outputs of the executor lost");
                lost > 0
            }
        }
    }

    /// Registers blocks a task cached (whatever its outcome: the executor
    /// holds them), or drops them again if their RDD was unpersisted meanwhile.
    fn blocks_cached(&mut self, executor: ExecutorId, blocks: &[BlockId]) {
        if blocks.is_empty() || !self.tasks.has_executor(executor) {
            return;
        }
        let (unwanted, wanted): (Vec<BlockId>, Vec<BlockId>) =
            blocks.iter().partition(|b| self.unpersisted.contains(&b.rdd));
        for block in wanted {
            self.cache.add(block, executor);
        }
        if !unwanted.is_empty() {
            self.emit(SchedulerCommand::DropBlocks { executor, blocks: unwanted });
        }
    }

    /// Tells an executor to drop blocks a stale attempt cached, unless the
    /// registry has them there (another attempt cached the same block on it).
    fn drop_unregistered(&mut self, executor: ExecutorId, blocks: &[BlockId]) {
        let unwanted: Vec<BlockId> = blocks
            .iter()
            .filter(|b| !self.cache.locations(**b).contains(&executor))
            .copied()
            .collect();
        if !unwanted.is_empty() && self.tasks.has_executor(executor) {
            self.emit(SchedulerCommand::DropBlocks { executor, blocks: unwanted });
        }
    }

    fn record_task_end(
        &mut self,
        t: &EndedTask,
        metrics: TaskMetrics,
        failure: Option<String>,
        log: String,
    ) {
        self.record(EventRecord::TaskEnded {
            id: t.id,
            executor: t.executor,
            start: t.start,
            end: self.now,
            metrics,
            succeeded: failure.is_none(),
            failure,
            log,
        });
    }

    fn task_succeeded(&mut self, ended: &EndedTask, output: TaskOutput) {
        let role = self.stages[&ended.id.stage].role.clone();
        match (role, output) {
            (StageRole::Map { dep }, TaskOutput::MapStatus { sizes }) => {
                let status = MapStatus { executor: ended.executor, sizes };
                if !self.outputs.register(dep.shuffle, ended.id.partition, status, ended.epoch) {
                    // Its executor's outputs were lost after it launched: the
                    // partition counts as done, and the stage, when done, runs
                    // again for its missing outputs (as Spark ignores a "possibly
                    // bogus" map completion).
                    tracing::info!(task = %ended.id.task, executor = %ended.executor, "map output written before its executor's outputs were lost ignored");
                }
                if self.partition_done(ended.id.stage, ended.id.partition) {
                    self.stage_succeeded(ended.id.stage);
                }
            }
            (StageRole::Result { job }, TaskOutput::Result(value)) => {
                self.result_received(job, ended.id.partition, value)
            }
            (_, output) => {
                let message = format!(
                    "task {} of stage {} returned the wrong kind of output: {output:?}",
                    ended.id.partition, ended.id.stage.0
                );
                self.abort_stage(ended.id.stage, message);
            }
        }
    }

    pub(super) fn executor_lost(&mut self, executor: ExecutorId, reason: &str) {
        tracing::info!(%executor, %reason, "executor lost");
        let failure = format!("executor lost: {reason}");
        for t in self.tasks.remove_executor(executor) {
            self.record_task_end(&t, TaskMetrics::default(), Some(failure.clone()), String::new());
        }
        let lost_outputs = self.outputs_lost(executor, self.outputs.epoch(), reason);
        let lost_blocks = self.cache.remove_executor(executor);
        if lost_outputs || lost_blocks {
            self.revalidate_running();
        }
    }

    pub(super) fn rdd_unpersisted(&mut self, rdd: RddId) {
        self.unpersisted.insert(rdd);
        let dropped = self.cache.forget(rdd);
        if dropped.is_empty() {
            return;
        }
        for (executor, blocks) in dropped {
            self.emit(SchedulerCommand::DropBlocks { executor, blocks });
        }
        self.revalidate_running();
    }
}
