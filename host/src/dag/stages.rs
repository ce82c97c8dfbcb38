//! Stages: built from the lineage (one shuffle-map stage per shuffle, reused across jobs), their missing parents and attempts.
//!
//! A stage is `Idle` (not needed now, or complete), `Waiting` (for parent
//! stages) or `Running` one attempt, whose partitions still to succeed are
//! `pending`. Stage creation walks the whole lineage structurally; the walk
//! that decides what to run (`stage_walk`) stops at persisted RDDs whose
//! partitions are all cached and at shuffles whose map outputs all exist.

use std::collections::BTreeSet;
use std::sync::Arc;

use rustc_hash::FxHashSet;

use super::plan::{PlanError, node_components};
use super::{EventRecord, Scheduler, StageKind};
use crate::ids::{JobId, RddId, StageId};
use crate::lineage::{CogroupDep, Lineage, RddKind, ShuffleDep};
use crate::task::ComponentBytes;
use crate::task_scheduler::{PendingTask, TaskSet};

/// What a stage's tasks produce.
#[derive(Clone, Debug)]
pub(crate) enum StageRole {
    /// Shuffle-map tasks computing `dep.parent` and writing `dep.shuffle`.
    Map { dep: ShuffleDep },
    /// Result tasks of one job.
    Result { job: JobId },
}

#[derive(Debug)]
pub(crate) enum StageState {
    /// Not running and not waiting (never needed yet, complete, or abandoned).
    Idle,
    /// Waiting for parent stages to complete.
    Waiting,
    /// An attempt runs; `pending` are its partitions not yet succeeded.
    Running { attempt: u32, pending: FxHashSet<u32> },
}

/// One stage of the application's DAG.
#[derive(Debug)]
pub(crate) struct Stage {
    pub(crate) id: StageId,
    pub(crate) role: StageRole,
    /// The RDD whose partitions the tasks compute.
    pub(crate) rdd: RddId,
    /// Stages whose shuffle output this stage reads.
    pub(crate) parents: Vec<StageId>,
    /// Active jobs that need this stage.
    pub(crate) jobs: BTreeSet<JobId>,
    /// Lineage and components used to build tasks (the newest job's).
    pub(crate) lineage: Arc<Lineage>,
    pub(crate) components: Arc<Vec<Arc<ComponentBytes>>>,
    pub(crate) next_attempt: u32,
    pub(crate) state: StageState,
    /// Consecutive attempts abandoned after fetch failures.
    pub(crate) consecutive_failures: u32,
}

impl Stage {
    pub(crate) fn kind(&self) -> StageKind {
        match self.role {
            StageRole::Map { .. } => StageKind::ShuffleMap,
            StageRole::Result { .. } => StageKind::Result,
        }
    }

    /// The running attempt, if any.
    pub(crate) fn running_attempt(&self) -> Option<u32> {
        match self.state {
            StageState::Running { attempt, .. } => Some(attempt),
            _ => None,
        }
    }
}

/// The shuffle dependencies met walking narrow dependencies from `rdd` (one
/// per shuffle, in walk order), checking that every RDD and component met exists.
fn shuffle_deps(
    lineage: &Lineage,
    components: &[Arc<ComponentBytes>],
    rdd: RddId,
) -> Result<Vec<ShuffleDep>, PlanError> {
    let mut seen = FxHashSet::default();
    let mut stack = vec![rdd];
    let mut deps: Vec<ShuffleDep> = Vec::new();
    seen.insert(rdd);
    while let Some(id) = stack.pop() {
        let node = lineage.get(id).ok_or(PlanError::UnknownRdd { rdd: id })?;
        if let Some(component) =
            node_components(node).into_iter().find(|c| c.0 as usize >= components.len())
        {
            return Err(PlanError::MissingComponent { component });
        }
        let mut narrow = |parent: RddId| {
            if seen.insert(parent) {
                stack.push(parent);
            }
        };
        match &node.kind {
            RddKind::TextFile { .. } | RddKind::Parallel { .. } | RddKind::Files { .. } => {}
            RddKind::Narrow { parent, .. } | RddKind::Coalesce { parent, .. } => narrow(*parent),
            RddKind::Union { parents } => parents.iter().rev().for_each(|p| narrow(*p)),
            RddKind::Shuffled { dep, .. } => deps.push(dep.clone()),
            RddKind::CoGrouped { deps: ds, .. } => {
                deps.extend(ds.iter().filter_map(CogroupDep::shuffle).cloned());
                ds.iter().rev().filter(|d| d.shuffle().is_none()).for_each(|d| narrow(d.parent()));
            }
        }
    }
    let mut shuffles = FxHashSet::default();
    deps.retain(|d| shuffles.insert(d.shuffle));
    for d in &deps {
        lineage.get(d.parent).ok_or(PlanError::UnknownRdd { rdd: d.parent })?;
    }
    Ok(deps)
}

impl Scheduler {
    /// Creates a job's result stage and every ancestor map stage not created yet.
    pub(super) fn create_result_stage(
        &mut self,
        job: JobId,
        lineage: &Arc<Lineage>,
        components: &Arc<Vec<Arc<ComponentBytes>>>,
        rdd: RddId,
    ) -> Result<StageId, PlanError> {
        let deps = shuffle_deps(lineage, components, rdd)?;
        let parents = self.map_stages_for(lineage, components, &deps)?;
        Ok(self.new_stage(StageRole::Result { job }, rdd, parents, lineage, components))
    }

    /// The map stages of `deps`, creating missing ones ancestors first
    /// (iteratively: deep lineages must not exhaust the stack).
    fn map_stages_for(
        &mut self,
        lineage: &Arc<Lineage>,
        components: &Arc<Vec<Arc<ComponentBytes>>>,
        deps: &[ShuffleDep],
    ) -> Result<Vec<StageId>, PlanError> {
        let mut stack: Vec<ShuffleDep> = deps.iter().rev().cloned().collect();
        let mut expanded = FxHashSet::default();
        while let Some(top) = stack.last() {
            if self.shuffle_stages.contains_key(&top.shuffle) {
                stack.pop();
                continue;
            }
            let parent_deps = shuffle_deps(lineage, components, top.parent)?;
            let missing: Vec<ShuffleDep> = parent_deps
                .iter()
                .filter(|d| !self.shuffle_stages.contains_key(&d.shuffle))
                .cloned()
                .collect();
            if missing.is_empty() {
                let dep = stack.pop().expect("non-empty");
                let parents = parent_deps.iter().map(|d| self.shuffle_stages[&d.shuffle]).collect();
                let maps = lineage.node(dep.parent).partitions;
                self.outputs.register_shuffle(dep.shuffle, maps);
                let shuffle = dep.shuffle;
                let rdd = dep.parent;
                let id = self.new_stage(StageRole::Map { dep }, rdd, parents, lineage, components);
                self.shuffle_stages.insert(shuffle, id);
            } else {
                if !expanded.insert(top.shuffle) {
                    // The shuffle depends on itself: the lineage is not a DAG.
                    return Err(PlanError::UnknownRdd { rdd: top.parent });
                }
                stack.extend(missing);
            }
        }
        Ok(deps.iter().map(|d| self.shuffle_stages[&d.shuffle]).collect())
    }

    fn new_stage(
        &mut self,
        role: StageRole,
        rdd: RddId,
        parents: Vec<StageId>,
        lineage: &Arc<Lineage>,
        components: &Arc<Vec<Arc<ComponentBytes>>>,
    ) -> StageId {
        let id = StageId(self.next_stage);
        self.next_stage += 1;
        self.stages.insert(
            id,
            Stage {
                id,
                role,
                rdd,
                parents,
                jobs: BTreeSet::new(),
                lineage: lineage.clone(),
                components: components.clone(),
                next_attempt: 0,
                state: StageState::Idle,
                consecutive_failures: 0,
            },
        );
        id
    }

    /// A stage and all its ancestors, ascending (parents before children).
    pub(super) fn stage_closure(&self, id: StageId) -> Vec<StageId> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![id];
        while let Some(s) = stack.pop() {
            if seen.insert(s) {
                stack.extend(self.stages[&s].parents.iter().copied());
            }
        }
        seen.into_iter().collect()
    }

    /// Walks a stage's RDDs along narrow dependencies, stopping at persisted
    /// RDDs whose partitions are all cached: returns the parent stages whose
    /// map outputs are missing and the RDDs the stage computes (ascending).
    pub(super) fn stage_walk(&self, id: StageId) -> (Vec<StageId>, Vec<RddId>) {
        let stage = &self.stages[&id];
        let lineage = &stage.lineage;
        let mut missing = Vec::new();
        let mut rdds = Vec::new();
        let mut seen = FxHashSet::default();
        let mut stack = vec![stage.rdd];
        seen.insert(stage.rdd);
        while let Some(rdd) = stack.pop() {
            let Some(node) = lineage.get(rdd) else {
                continue;
            };
            rdds.push(rdd);
            if node.persist.is_some() && self.cache.fully_cached(rdd, node.partitions) {
                continue;
            }
            let mut narrow = |parent: RddId| {
                if seen.insert(parent) {
                    stack.push(parent);
                }
            };
            let shuffles: Vec<&ShuffleDep> = match &node.kind {
                RddKind::TextFile { .. } | RddKind::Parallel { .. } | RddKind::Files { .. } => {
                    Vec::new()
                }
                RddKind::Narrow { parent, .. } | RddKind::Coalesce { parent, .. } => {
                    narrow(*parent);
                    Vec::new()
                }
                RddKind::Union { parents } => {
                    parents.iter().for_each(|p| narrow(*p));
                    Vec::new()
                }
                RddKind::Shuffled { dep, .. } => vec![dep],
                RddKind::CoGrouped { deps, .. } => deps
                    .iter()
                    .filter_map(|d| match d {
                        CogroupDep::Shuffle(dep) => Some(dep),
                        CogroupDep::Narrow(parent) => {
                            narrow(*parent);
                            None
                        }
                    })
                    .collect(),
            };
            for dep in shuffles {
                if !self.outputs.is_available(dep.shuffle)
                    && let Some(s) = self.shuffle_stages.get(&dep.shuffle)
                {
                    missing.push(*s);
                }
            }
        }
        missing.sort();
        missing.dedup();
        rdds.sort();
        (missing, rdds)
    }

    /// Runs a stage if its parents are complete, otherwise makes it wait and
    /// submits its missing parents (Spark's `submitStage`).
    pub(super) fn submit_stage(&mut self, id: StageId) {
        let stage = &self.stages[&id];
        if !matches!(stage.state, StageState::Idle) || stage.jobs.is_empty() {
            return;
        }
        let (missing, _) = self.stage_walk(id);
        if missing.is_empty() {
            self.submit_missing_tasks(id);
        } else {
            self.stages.get_mut(&id).expect("exists").state = StageState::Waiting;
            for parent in missing {
                self.submit_stage(parent);
            }
        }
    }

    /// Starts a new attempt of a stage over its missing partitions.
    fn submit_missing_tasks(&mut self, id: StageId) {
        let (_, rdds) = self.stage_walk(id);
        let stage = &self.stages[&id];
        let partitions = match &stage.role {
            StageRole::Map { dep } => self.outputs.missing(dep.shuffle),
            StageRole::Result { job } => self.jobs[job].missing_partitions(),
        };
        let ctx = self.plan_context(stage);
        let tasks: Vec<PendingTask> = partitions
            .iter()
            .map(|&partition| PendingTask {
                partition,
                preferred: ctx.preferred_locations(stage.rdd, partition),
            })
            .collect();
        let job = *stage.jobs.first().expect("submitted stages have a job");
        let record = EventRecord::StageSubmitted {
            stage: id,
            attempt: stage.next_attempt,
            kind: stage.kind(),
            rdds,
            tasks: tasks.len() as u32,
            parents: stage.parents.clone(),
            time: self.now,
        };
        let stage = self.stages.get_mut(&id).expect("exists");
        let attempt = stage.next_attempt;
        stage.next_attempt += 1;
        stage.state =
            StageState::Running { attempt, pending: partitions.iter().copied().collect() };
        tracing::debug!(stage = %id, attempt, tasks = tasks.len(), "stage submitted");
        self.record(record);
        if tasks.is_empty() {
            self.stage_succeeded(id);
        } else {
            self.tasks.submit_task_set(
                self.now,
                TaskSet { job, stage: id, stage_attempt: attempt, tasks },
            );
        }
    }

    /// Marks a partition of the running attempt done; returns whether none is pending any more.
    pub(super) fn partition_done(&mut self, id: StageId, partition: u32) -> bool {
        match &mut self.stages.get_mut(&id).expect("exists").state {
            StageState::Running { pending, .. } => {
                pending.remove(&partition);
                pending.is_empty()
            }
            _ => false,
        }
    }

    /// Ends the running attempt successfully and reacts: a map stage submits
    /// its waiting children, or itself again if outputs were lost meanwhile.
    pub(super) fn stage_succeeded(&mut self, id: StageId) {
        let stage = self.stages.get_mut(&id).expect("exists");
        let Some(attempt) = stage.running_attempt() else {
            return;
        };
        stage.state = StageState::Idle;
        stage.consecutive_failures = 0;
        let role = stage.role.clone();
        let kill = self.tasks.remove_task_set(id, attempt);
        self.kill(kill);
        self.record(EventRecord::StageCompleted {
            stage: id,
            attempt,
            time: self.now,
            failure: None,
        });
        if let StageRole::Map { dep } = role {
            if self.outputs.is_available(dep.shuffle) {
                self.submit_waiting_children(id);
            } else {
                self.submit_stage(id);
            }
        }
    }

    fn submit_waiting_children(&mut self, parent: StageId) {
        let children: Vec<StageId> = self
            .stages
            .values()
            .filter(|s| matches!(s.state, StageState::Waiting) && s.parents.contains(&parent))
            .map(|s| s.id)
            .collect();
        for child in children {
            self.stages.get_mut(&child).expect("exists").state = StageState::Idle;
            self.submit_stage(child);
        }
    }

    /// Abandons the running attempt of a stage (its running tasks are
    /// killed) and leaves it idle; returns whether an attempt was running.
    pub(super) fn abandon_attempt(&mut self, id: StageId, reason: &str) -> bool {
        let stage = self.stages.get_mut(&id).expect("exists");
        let attempt = stage.running_attempt();
        stage.state = StageState::Idle;
        let Some(attempt) = attempt else { return false };
        let kill = self.tasks.remove_task_set(id, attempt);
        self.kill(kill);
        self.record(EventRecord::StageCompleted {
            stage: id,
            attempt,
            time: self.now,
            failure: Some(reason.to_string()),
        });
        true
    }

    /// After map outputs or cached blocks were lost: every running stage that
    /// now misses a parent's output steps back (its attempt is abandoned, it
    /// waits for the parent to recompute what was lost). Plans are built at
    /// launch, so running stages never read outputs that are gone.
    pub(super) fn revalidate_running(&mut self) {
        let running: Vec<StageId> =
            self.stages.values().filter(|s| s.running_attempt().is_some()).map(|s| s.id).collect();
        for id in running {
            if self.stages.get(&id).is_none_or(|s| s.running_attempt().is_none()) {
                continue;
            }
            let (missing, _) = self.stage_walk(id);
            if !missing.is_empty() {
                let parents: Vec<String> = missing.iter().map(|s| s.0.to_string()).collect();
                tracing::info!(stage = %id, ?missing, "parent output lost; resubmitting");
                self.abandon_attempt(
                    id,
                    &format!("output of parent stage {} lost", parents.join(", ")),
                );
                self.submit_stage(id);
            }
        }
    }
}
