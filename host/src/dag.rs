//! DAG scheduler (logical level): the sans-IO scheduler state machine that turns jobs into stages and stages into tasks.
//!
//! `Scheduler` owns all scheduling state: jobs, stages and their attempts,
//! map outputs and cached-block locations (`outputs`), and the physical
//! `TaskScheduler`. The shell (the driver loop in `backend`) feeds it
//! `SchedulerEvent`s with the current time and performs the
//! `SchedulerCommand`s it produced:
//!
//! ```text
//! scheduler.handle(now, event);
//! for command in scheduler.drain_commands() { /* launch, kill, reply, drop, log */ }
//! ```
//!
//! `handle` never blocks and does no IO; time is only ever the `now` given.
//! Every handled event ends with an offer of free cores, so launches follow
//! immediately. Contract with the shell: every `LaunchTask` is answered by
//! exactly one `TaskFinished` (a killed task reports `TaskFailure::Killed`)
//! unless its executor is reported lost first; every `JobSubmitted` gets one
//! `JobFinished`.
//!
//! Submodules: `stages` (stage creation, missing parents, stage attempts),
//! `jobs` (job submission, results, failure and cleanup), `reports` (task
//! reports, executor loss, unpersist), `plan` (task plans and preferred
//! locations), `outputs` (map outputs and cache registry), `events` (the
//! event-log records).

pub(crate) mod config;
pub(crate) mod events;
mod jobs;
mod outputs;
mod plan;
mod reports;
mod stages;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustc_hash::{FxHashMap, FxHashSet};

pub(crate) use config::SchedulerConfig;
pub(crate) use events::{EventRecord, StageKind};
pub(crate) use outputs::{CacheRegistry, MapOutputs};
pub(crate) use plan::PlanError;

use crate::accumulators::AccumUpdate;
use crate::ids::{ExecutorId, JobId, RddId, ShuffleId, StageId, TaskId};
use crate::lineage::Lineage;
use crate::task::{
    BlockId, ComponentBytes, ResultKind, ResultValue, SharedVars, TaskDesc, TaskReport,
};
use crate::task_scheduler::{Assignment, ExecutorPlace, TaskScheduler};
use jobs::Job;
use stages::{Stage, StageRole};

/// Something that happened, told to the scheduler (past tense).
#[derive(Clone, Debug)]
pub enum SchedulerEvent {
    /// An executor registered (again: its host, rack, data roots and cores are updated).
    ExecutorAdded {
        executor: ExecutorId,
        /// Its host name (node-local placement).
        host: String,
        /// Its rack (`wisp executor --rack`): rack-local placement; `None` when undeclared.
        rack: Option<String>,
        /// Directories its host reads locally (`wisp executor --data-root`): a
        /// text-file split below one prefers this host.
        data_roots: Vec<PathBuf>,
        /// Task slots.
        cores: u32,
    },
    /// An executor went away: its running tasks, map outputs and cached blocks are gone.
    ExecutorLost { executor: ExecutorId, reason: String },
    /// An action asked for `partitions` of `rdd`.
    JobSubmitted {
        /// Chosen by the shell; unique per application.
        job: JobId,
        /// The application's lineage (append-only; any snapshot holding `rdd`).
        lineage: Arc<Lineage>,
        /// The RDD whose partitions are computed.
        rdd: RddId,
        /// The partitions, in the order results are returned (no duplicates).
        partitions: Vec<u32>,
        /// What each result task produces.
        result: ResultKind,
        /// The loaded components, indexed by `ComponentId`.
        components: Arc<Vec<Arc<ComponentBytes>>>,
        /// The application's broadcast variables and accumulators when the job was submitted.
        shared: SharedVars,
    },
    /// The caller gave up on a job.
    JobCancelled { job: JobId },
    /// An executor reported a task attempt's end.
    TaskFinished(TaskReport),
    /// An RDD is no longer persisted: its blocks are dropped.
    RddUnpersisted { rdd: RddId },
    /// Periodic wake-up: time passed, so delay scheduling may relax a task
    /// set's locality level and speculation may find slow tasks.
    Tick,
}

/// A job's failure: one line, including the guest's own message when a task failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JobFailure {
    /// E.g. `task 3 of stage 1 failed 4 times; last failure: <guest message>`.
    pub message: String,
}

/// Something for the shell to do (imperative).
#[derive(Clone, Debug)]
pub enum SchedulerCommand {
    /// Send a task to an executor.
    LaunchTask { executor: ExecutorId, task: TaskDesc },
    /// Cancel a running task attempt; its executor still reports it (`Killed`).
    KillTask { executor: ExecutorId, task: TaskId },
    /// Reply to the job's submitter: results in the order of the requested partitions.
    JobFinished { job: JobId, result: Result<Vec<ResultValue>, JobFailure> },
    /// Tell an executor to delete cached blocks.
    DropBlocks { executor: ExecutorId, blocks: Vec<BlockId> },
    /// Append to the event log.
    Record(EventRecord),
    /// Merge the accumulator updates of a task attempt: the first successful
    /// attempt of its (stage, partition); later ones (retries, speculative
    /// copies, recomputations after lost map outputs) never produce this.
    MergeAccumulators { updates: Vec<AccumUpdate> },
}

/// The scheduler core: DAG scheduler state plus the task scheduler.
#[derive(Debug)]
pub struct Scheduler {
    config: SchedulerConfig,
    tasks: TaskScheduler,
    stages: BTreeMap<StageId, Stage>,
    shuffle_stages: FxHashMap<ShuffleId, StageId>,
    jobs: BTreeMap<JobId, Job>,
    outputs: MapOutputs,
    cache: CacheRegistry,
    /// RDDs unpersisted and not persisted again by a later job's lineage:
    /// blocks of theirs reported by tasks still running are dropped at once.
    unpersisted: FxHashSet<RddId>,
    next_stage: u32,
    now: Duration,
    commands: Vec<SchedulerCommand>,
    /// The newest job's broadcast variables and accumulators, given to every task.
    shared: SharedVars,
    /// (stage, partition) whose accumulator updates were merged: each at most once.
    accumulated: FxHashSet<(StageId, u32)>,
}

impl Scheduler {
    /// A scheduler with no executors and no jobs.
    pub fn new(config: SchedulerConfig) -> Scheduler {
        Scheduler {
            tasks: TaskScheduler::new(&config.task_scheduler),
            config,
            stages: BTreeMap::new(),
            shuffle_stages: FxHashMap::default(),
            jobs: BTreeMap::new(),
            outputs: MapOutputs::default(),
            cache: CacheRegistry::default(),
            unpersisted: FxHashSet::default(),
            next_stage: 0,
            now: Duration::ZERO,
            commands: Vec::new(),
            shared: SharedVars::default(),
            accumulated: FxHashSet::default(),
        }
    }

    /// Handles one event at time `now` (since application start); the
    /// commands it produces are queued for `drain_commands`.
    pub fn handle(&mut self, now: Duration, event: SchedulerEvent) {
        self.now = now;
        match event {
            SchedulerEvent::ExecutorAdded { executor, host, rack, data_roots, cores } => {
                tracing::debug!(%executor, %host, ?rack, ?data_roots, cores, "executor added");
                self.tasks.register_executor(
                    executor,
                    ExecutorPlace { host, rack, data_roots },
                    cores,
                );
            }
            SchedulerEvent::ExecutorLost { executor, reason } => {
                self.executor_lost(executor, &reason)
            }
            SchedulerEvent::JobSubmitted {
                job,
                lineage,
                rdd,
                partitions,
                result,
                components,
                shared,
            } => {
                self.shared = shared;
                self.job_submitted(job, lineage, rdd, partitions, result, components)
            }
            SchedulerEvent::JobCancelled { job } => {
                if self.jobs.contains_key(&job) {
                    self.fail_job(job, format!("{job} was cancelled"));
                }
            }
            SchedulerEvent::TaskFinished(report) => self.task_finished(report),
            SchedulerEvent::RddUnpersisted { rdd } => self.rdd_unpersisted(rdd),
            SchedulerEvent::Tick => {}
        }
        self.tasks.check_speculation(now);
        self.launch_tasks();
    }

    /// Takes the commands produced so far, in order.
    pub fn drain_commands(&mut self) -> Vec<SchedulerCommand> {
        std::mem::take(&mut self.commands)
    }

    /// The settings.
    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// Jobs submitted and not yet finished.
    pub fn active_jobs(&self) -> Vec<JobId> {
        self.jobs.keys().copied().collect()
    }

    /// Map outputs of every shuffle.
    pub fn map_outputs(&self) -> &MapOutputs {
        &self.outputs
    }

    /// Cached block locations.
    pub fn cache(&self) -> &CacheRegistry {
        &self.cache
    }

    /// The physical scheduler.
    pub fn task_scheduler(&self) -> &TaskScheduler {
        &self.tasks
    }

    fn emit(&mut self, command: SchedulerCommand) {
        self.commands.push(command);
    }

    fn record(&mut self, record: EventRecord) {
        self.commands.push(SchedulerCommand::Record(record));
    }

    fn kill(&mut self, kills: Vec<(ExecutorId, TaskId)>) {
        for (executor, task) in kills {
            self.emit(SchedulerCommand::KillTask { executor, task });
        }
    }

    /// Offers free cores to queued tasks and launches what was placed. A task
    /// whose plan cannot be built fails its stage's jobs.
    fn launch_tasks(&mut self) {
        loop {
            let epoch = self.outputs.epoch();
            let mut assignments = self.tasks.resource_offers(self.now, epoch).into_iter();
            let mut failed = None;
            for a in assignments.by_ref() {
                match self.task_desc(&a) {
                    Ok(task) => {
                        self.record(EventRecord::TaskStarted {
                            id: a.id,
                            executor: a.executor,
                            time: self.now,
                            locality: a.locality,
                            speculative: a.speculative,
                        });
                        self.emit(SchedulerCommand::LaunchTask { executor: a.executor, task });
                    }
                    Err(e) => {
                        self.tasks.cancel_launch(a.id.task);
                        failed = Some((a.id.stage, e));
                        break;
                    }
                }
            }
            let Some((stage, error)) = failed else { return };
            for a in assignments {
                self.tasks.cancel_launch(a.id.task);
            }
            tracing::warn!(%stage, %error, "cannot build task");
            self.abort_stage(stage, format!("cannot build a task of stage {}: {error}", stage.0));
        }
    }

    fn task_desc(&self, a: &Assignment) -> Result<TaskDesc, PlanError> {
        let stage = &self.stages[&a.id.stage];
        let ctx = self.plan_context(stage);
        let (plan, sink) = match &stage.role {
            StageRole::Map { dep } => ctx.map_task(dep, a.id.partition, a.executor)?,
            StageRole::Result { job } => {
                ctx.result_task(stage.rdd, a.id.partition, &self.jobs[job].kind, a.executor)?
            }
        };
        Ok(TaskDesc {
            id: a.id,
            plan,
            sink,
            limits: self.config.task_limits.clone(),
            shared: self.shared.clone(),
        })
    }

    fn plan_context<'a>(&'a self, stage: &'a Stage) -> plan::PlanContext<'a> {
        plan::PlanContext {
            lineage: &stage.lineage,
            components: &stage.components,
            outputs: &self.outputs,
            cache: &self.cache,
            cluster: &self.tasks,
        }
    }
}
