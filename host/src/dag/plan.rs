//! Builds a task's `Plan` (its partition's lineage expanded down to sources) and its preferred locations.
//!
//! Narrow steps stay in the plan; consecutive guest steps of one component are
//! fused into one `Plan::Guest` (also the map-side combine of a shuffle-map
//! task); shuffle dependencies become shuffle reads of the current map
//! outputs; a persisted RDD reads its cached block or caches what it computes.

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::outputs::{CacheRegistry, MapOutputs};
use crate::ids::{ComponentId, ExecutorId, RddId, ShuffleId};
use crate::lineage::{
    CogroupDep, GuestOps, Lineage, MapSideCombine, NarrowStep, RddKind, RddNode, ReduceSide,
    ShuffleDep, StorageLevel,
};
use crate::task::{
    BlockId, ComponentBytes, MapBlock, Plan, ReduceStep, ResultKind, ShuffleRead, Source, TaskSink,
};
use crate::task_scheduler::{TaskLocation, TaskScheduler};

/// Above this many map partitions, reduce tasks get no location preference (Spark's threshold).
const SHUFFLE_PREF_MAP_THRESHOLD: usize = 1000;
/// A host is preferred by a reduce task if its executors hold at least this fraction of its bytes.
const SHUFFLE_PREF_FRACTION: f64 = 0.2;

/// Why a task's plan could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PlanError {
    /// The lineage has no such RDD.
    #[error("{rdd} is not in the job's lineage")]
    UnknownRdd { rdd: RddId },
    /// The RDD has fewer partitions (or splits, slices, groups) than asked for.
    #[error("{rdd} has no partition {partition}")]
    NoPartition { rdd: RddId, partition: u32 },
    /// A guest step names a component the job did not load.
    #[error("{component} is not loaded by the job")]
    MissingComponent { component: ComponentId },
    /// A shuffle read needs a map output that does not exist.
    #[error("map output {map} of {shuffle} is missing")]
    MissingMapOutput { shuffle: ShuffleId, map: u32 },
}

/// A step of the preferred-locations walk.
enum Visit<'a> {
    /// A partition of an RDD.
    Rdd(RddId, u32),
    /// The bytes of a cogroup's shuffled inputs for one reduce partition,
    /// looked at once its narrow inputs gave no preference.
    ShuffleBytes(Vec<&'a ShuffleDep>, u32),
}

/// What plan building reads: the lineage and components of the stage's job,
/// the current map outputs and cached blocks, and (for preferred locations)
/// the hosts of executors.
pub(crate) struct PlanContext<'a> {
    pub(crate) lineage: &'a Lineage,
    pub(crate) components: &'a [Arc<ComponentBytes>],
    pub(crate) outputs: &'a MapOutputs,
    pub(crate) cache: &'a CacheRegistry,
    pub(crate) cluster: &'a TaskScheduler,
}

impl PlanContext<'_> {
    fn node(&self, rdd: RddId) -> Result<&RddNode, PlanError> {
        self.lineage.get(rdd).ok_or(PlanError::UnknownRdd { rdd })
    }

    fn component(&self, id: ComponentId) -> Result<&Arc<ComponentBytes>, PlanError> {
        self.components.get(id.0 as usize).ok_or(PlanError::MissingComponent { component: id })
    }

    /// The plan and sink of a shuffle-map task: the parent's partition, then
    /// the map-side combine, written as shuffle output.
    pub(crate) fn map_task(
        &self,
        dep: &ShuffleDep,
        partition: u32,
        on: ExecutorId,
    ) -> Result<(Plan, TaskSink), PlanError> {
        let input = self.rdd_plan(dep.parent, partition, on, &mut FxHashSet::default())?;
        let plan = match &dep.map_side {
            MapSideCombine::None => input,
            MapSideCombine::Guest(ops) => self.guest(input, ops)?,
            MapSideCombine::Distinct => {
                Plan::Reduce { input: Box::new(input), step: ReduceStep::Distinct }
            }
        };
        Ok((
            plan,
            TaskSink::ShuffleWrite {
                shuffle: dep.shuffle,
                partitioner: dep.partitioner.clone(),
                map_side_combine: matches!(dep.map_side, MapSideCombine::Guest(_)),
            },
        ))
    }

    /// The plan and sink of a result task.
    pub(crate) fn result_task(
        &self,
        rdd: RddId,
        partition: u32,
        kind: &ResultKind,
        on: ExecutorId,
    ) -> Result<(Plan, TaskSink), PlanError> {
        let plan = self.rdd_plan(rdd, partition, on, &mut FxHashSet::default())?;
        Ok((plan, TaskSink::Result(kind.clone())))
    }

    /// The records of one partition of an RDD, for a task running on
    /// executor `on`: read from cache when `on` holds the persisted RDD's
    /// block, otherwise computed (and cached if no executor holds it yet).
    ///
    /// Executors do not fetch cached blocks from each other, so a task placed
    /// away from the block (delay scheduling gave up waiting, a speculative
    /// copy) recomputes the partition from its lineage, without caching a
    /// second copy. Only when that is impossible (a shuffle output below it is
    /// gone) does it name a holder, and then fails on `on` and is retried.
    /// `caching` holds the blocks the task's plan already caches: a block
    /// met twice in one task (a cogroup or union of two RDDs derived from the
    /// same persisted one) is cached by its first occurrence only.
    fn rdd_plan(
        &self,
        rdd: RddId,
        partition: u32,
        on: ExecutorId,
        caching: &mut FxHashSet<BlockId>,
    ) -> Result<Plan, PlanError> {
        let node = self.node(rdd)?;
        if partition >= node.partitions {
            return Err(PlanError::NoPartition { rdd, partition });
        }
        let Some(level) = node.persist else {
            return self.compute(node, partition, on, caching);
        };
        let block = BlockId { rdd, partition };
        let holders = self.cache.locations(block);
        if holders.contains(&on) {
            // Read where it is; recomputed (and cached again) if `on` evicted it meanwhile.
            caching.insert(block);
            return Ok(match self.compute(node, partition, on, caching) {
                Ok(computed) => Plan::Cache { input: Box::new(computed), block, level },
                Err(_) => Plan::Read(Source::Cached { block, executor: on }),
            });
        }
        match (holders.first(), self.compute(node, partition, on, caching)) {
            (None, computed) if caching.insert(block) => {
                Ok(Plan::Cache { input: Box::new(computed?), block, level })
            }
            (None, computed) => computed,
            (Some(_), Ok(computed)) => Ok(computed),
            (Some(&executor), Err(PlanError::MissingMapOutput { .. })) => {
                Ok(Plan::Read(Source::Cached { block, executor }))
            }
            (Some(_), Err(e)) => Err(e),
        }
    }

    fn compute(
        &self,
        node: &RddNode,
        partition: u32,
        on: ExecutorId,
        caching: &mut FxHashSet<BlockId>,
    ) -> Result<Plan, PlanError> {
        let missing = || PlanError::NoPartition { rdd: node.id, partition };
        let p = partition as usize;
        Ok(match &node.kind {
            RddKind::TextFile { splits } => {
                Plan::Read(Source::File(splits.get(p).ok_or_else(missing)?.clone()))
            }
            RddKind::Parallel { slices } => {
                Plan::Read(Source::Slice(slices.get(p).ok_or_else(missing)?.clone()))
            }
            RddKind::Files { format, parts } => Plan::Read(Source::Files {
                format: *format,
                splits: parts.get(p).ok_or_else(missing)?.clone(),
            }),
            RddKind::Narrow { parent, step } => {
                let input = self.rdd_plan(*parent, partition, on, caching)?;
                match step {
                    NarrowStep::Guest(ops) => self.guest(input, ops)?,
                    NarrowStep::Host(step) => {
                        Plan::Host { input: Box::new(input), step: step.clone() }
                    }
                }
            }
            RddKind::Union { parents } => {
                let mut offset = 0u32;
                let mut found = None;
                for parent in parents {
                    let n = self.node(*parent)?.partitions;
                    if partition < offset + n {
                        found = Some((*parent, partition - offset));
                        break;
                    }
                    offset += n;
                }
                let (parent, p) = found.ok_or_else(missing)?;
                self.rdd_plan(parent, p, on, caching)?
            }
            RddKind::Coalesce { parent, groups } => {
                let group = groups.get(p).ok_or_else(missing)?;
                Plan::Concat(
                    group
                        .iter()
                        .map(|q| self.rdd_plan(*parent, *q, on, caching))
                        .collect::<Result<_, _>>()?,
                )
            }
            RddKind::Shuffled { dep, reduce } => {
                let read = self.shuffle_read(dep.shuffle, partition)?;
                match reduce {
                    ReduceSide::None => read,
                    ReduceSide::Guest(ops) => self.guest(read, ops)?,
                    ReduceSide::Group => {
                        Plan::Reduce { input: Box::new(read), step: ReduceStep::Group }
                    }
                    ReduceSide::Sort { ascending } => Plan::Reduce {
                        input: Box::new(read),
                        step: ReduceStep::Sort { ascending: *ascending },
                    },
                    ReduceSide::Distinct => {
                        Plan::Reduce { input: Box::new(read), step: ReduceStep::Distinct }
                    }
                }
            }
            RddKind::CoGrouped { deps, output } => Plan::Cogroup {
                inputs: deps
                    .iter()
                    .map(|d| match d {
                        CogroupDep::Shuffle(dep) => self.shuffle_read(dep.shuffle, partition),
                        CogroupDep::Narrow(parent) => {
                            self.rdd_plan(*parent, partition, on, caching)
                        }
                    })
                    .collect::<Result<_, _>>()?,
                output: *output,
            },
        })
    }

    /// Runs guest ops over `input`, fusing them into `input` when it is
    /// already a guest step of the same component.
    fn guest(&self, input: Plan, ops: &GuestOps) -> Result<Plan, PlanError> {
        let component = self.component(ops.component)?;
        match input {
            Plan::Guest { input, component: c, ops: mut fused }
                if Arc::ptr_eq(&c, component) || c.hash == component.hash =>
            {
                fused.extend(ops.ops.iter().cloned());
                Ok(Plan::Guest { input, component: c, ops: fused })
            }
            input => Ok(Plan::Guest {
                input: Box::new(input),
                component: component.clone(),
                ops: ops.ops.clone(),
            }),
        }
    }

    fn shuffle_read(&self, shuffle: ShuffleId, reduce: u32) -> Result<Plan, PlanError> {
        let maps = self
            .outputs
            .statuses(shuffle)
            .iter()
            .enumerate()
            .map(|(m, status)| {
                let map = m as u32;
                let s = status.as_ref().ok_or(PlanError::MissingMapOutput { shuffle, map })?;
                Ok(MapBlock {
                    map,
                    executor: s.executor,
                    bytes: s.sizes.get(reduce as usize).copied().unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Plan::Read(Source::Shuffle(ShuffleRead { shuffle, reduce, maps })))
    }

    /// Where a partition of an RDD would best be computed: the executors
    /// caching it in memory (their hosts, when cached on disk only) or,
    /// walking narrow dependencies, the first non-empty preference of an
    /// ancestor (a cached block, or the hosts holding most of a shuffle
    /// read's bytes, or the hosts whose executors announced a data root
    /// holding a text-file split).
    ///
    /// A cogroup looks at its narrow (co-partitioned) inputs first, then at
    /// the bytes of its shuffled ones.
    pub(crate) fn preferred_locations(&self, rdd: RddId, partition: u32) -> Vec<TaskLocation> {
        let mut stack = vec![Visit::Rdd(rdd, partition)];
        while let Some(visit) = stack.pop() {
            let (rdd, p) = match visit {
                Visit::Rdd(rdd, p) => (rdd, p),
                Visit::ShuffleBytes(deps, p) => {
                    let locs = self.shuffle_locations(&deps, p);
                    if !locs.is_empty() {
                        return locs;
                    }
                    continue;
                }
            };
            let Some(node) = self.lineage.get(rdd) else {
                continue;
            };
            if let Some(level) = node.persist {
                let locs = self.cache.locations(BlockId { rdd, partition: p });
                if !locs.is_empty() {
                    return match level {
                        StorageLevel::MemoryOnly | StorageLevel::MemoryAndDisk => {
                            locs.iter().map(|e| TaskLocation::Executor(*e)).collect()
                        }
                        StorageLevel::DiskOnly => {
                            let mut hosts: Vec<TaskLocation> = Vec::new();
                            for host in locs.iter().filter_map(|e| self.cluster.executor_host(*e)) {
                                if !hosts
                                    .iter()
                                    .any(|h| matches!(h, TaskLocation::Host(x) if x == host))
                                {
                                    hosts.push(TaskLocation::Host(host.to_string()));
                                }
                            }
                            hosts
                        }
                    };
                }
            }
            match &node.kind {
                RddKind::TextFile { splits } => {
                    if let Some(split) = splits.get(p as usize) {
                        let hosts = self.cluster.hosts_reading(&split.path);
                        if !hosts.is_empty() {
                            return hosts
                                .into_iter()
                                .map(|h| TaskLocation::Host(h.to_string()))
                                .collect();
                        }
                    }
                }
                RddKind::Parallel { .. } | RddKind::Files { .. } => {}
                RddKind::Narrow { parent, .. } => stack.push(Visit::Rdd(*parent, p)),
                RddKind::Union { parents } => {
                    let mut offset = 0u32;
                    for parent in parents {
                        let n = self.lineage.get(*parent).map_or(0, |n| n.partitions);
                        if p < offset + n {
                            stack.push(Visit::Rdd(*parent, p - offset));
                            break;
                        }
                        offset += n;
                    }
                }
                RddKind::Coalesce { parent, groups } => {
                    if let Some(group) = groups.get(p as usize) {
                        stack.extend(group.iter().rev().map(|q| Visit::Rdd(*parent, *q)));
                    }
                }
                RddKind::Shuffled { dep, .. } => {
                    let locs = self.shuffle_locations(&[dep], p);
                    if !locs.is_empty() {
                        return locs;
                    }
                }
                RddKind::CoGrouped { deps, .. } => {
                    let shuffled: Vec<&ShuffleDep> =
                        deps.iter().filter_map(CogroupDep::shuffle).collect();
                    if !shuffled.is_empty() {
                        stack.push(Visit::ShuffleBytes(shuffled, p));
                    }
                    let narrow = deps.iter().rev().filter(|d| d.shuffle().is_none());
                    stack.extend(narrow.map(|d| Visit::Rdd(d.parent(), p)));
                }
            }
        }
        Vec::new()
    }

    /// Hosts whose executors hold at least a fifth of a reduce partition's
    /// shuffle bytes, most bytes first (node-local: shuffle files are on disk).
    fn shuffle_locations(&self, deps: &[&ShuffleDep], reduce: u32) -> Vec<TaskLocation> {
        let mut bytes: FxHashMap<&str, u64> = FxHashMap::default();
        let mut total = 0u64;
        for dep in deps {
            let statuses = self.outputs.statuses(dep.shuffle);
            if statuses.len() > SHUFFLE_PREF_MAP_THRESHOLD {
                return Vec::new();
            }
            for s in statuses.iter().flatten() {
                let b = s.sizes.get(reduce as usize).copied().unwrap_or(0);
                total += b;
                if let Some(host) = self.cluster.executor_host(s.executor) {
                    *bytes.entry(host).or_default() += b;
                }
            }
        }
        if total == 0 {
            return Vec::new();
        }
        let mut best: Vec<(&str, u64)> = bytes
            .into_iter()
            .filter(|(_, b)| *b as f64 >= total as f64 * SHUFFLE_PREF_FRACTION)
            .collect();
        best.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        best.into_iter().map(|(h, _)| TaskLocation::Host(h.to_string())).collect()
    }
}

/// The components a node's own steps (and the map-side combines of its
/// shuffle dependencies) run.
pub(crate) fn node_components(node: &RddNode) -> Vec<ComponentId> {
    let map_side = |dep: &ShuffleDep| match &dep.map_side {
        MapSideCombine::Guest(g) => Some(g.component),
        _ => None,
    };
    match &node.kind {
        RddKind::Narrow { step: NarrowStep::Guest(g), .. } => vec![g.component],
        RddKind::Shuffled { dep, reduce } => {
            let reduce = match reduce {
                ReduceSide::Guest(g) => Some(g.component),
                _ => None,
            };
            map_side(dep).into_iter().chain(reduce).collect()
        }
        RddKind::CoGrouped { deps, .. } => {
            deps.iter().filter_map(CogroupDep::shuffle).filter_map(map_side).collect()
        }
        _ => Vec::new(),
    }
}
