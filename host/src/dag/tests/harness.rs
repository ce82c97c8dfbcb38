//! A simulated cluster for scheduler tests: executors that run task plans over in-memory records.
//!
//! The simulation interprets `Plan`s itself (slices, shuffle files kept per
//! executor, cached blocks, a few named guest ops), so that tests check
//! answers computed independently of the scheduler. A lost executor loses
//! its shuffle files and blocks, so reading them later fails like a real
//! fetch would.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use crate::dag::{
    EventRecord, JobFailure, Scheduler, SchedulerCommand, SchedulerConfig, SchedulerEvent,
    StageKind,
};
use crate::ids::{ComponentId, ExecutorId, JobId, RddId, ShuffleId, StageId, TaskId};
use crate::lineage::{
    FileSplit, GuestOps, Lineage, MapSideCombine, NarrowStep, Op, OpKind, Partitioner, RddKind,
    ReduceSide, ShuffleDep, StorageLevel,
};
use crate::records::Batch;
use crate::task::{
    BlockId, ComponentBytes, Plan, ReduceStep, ResultKind, ResultValue, Source, TaskDesc,
    TaskFailure, TaskMetrics, TaskOutput, TaskReport, TaskSink,
};
use crate::task_scheduler::TaskLocality;

/// A `TaskStarted` record's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Start {
    pub(crate) task: TaskId,
    pub(crate) job: JobId,
    pub(crate) partition: u32,
    pub(crate) attempt: u32,
    pub(crate) executor: ExecutorId,
    pub(crate) locality: TaskLocality,
    pub(crate) speculative: bool,
}

/// What the simulated executor does with a task.
pub(crate) enum Step {
    /// Run the plan and report its outcome.
    Run,
    /// Report this failure.
    Fail(TaskFailure),
    /// Leave it running.
    Hold,
}

pub(crate) struct Sim {
    pub(crate) sched: Scheduler,
    pub(crate) now: Duration,
    /// Launched and not yet reported, by task id.
    pub(crate) running: BTreeMap<TaskId, (ExecutorId, TaskDesc)>,
    /// Every launch, in order.
    pub(crate) launched: Vec<(ExecutorId, TaskDesc)>,
    pub(crate) records: Vec<EventRecord>,
    pub(crate) finished: BTreeMap<JobId, Result<Vec<ResultValue>, JobFailure>>,
    pub(crate) kills: Vec<(ExecutorId, TaskId)>,
    /// Accumulator updates the scheduler told the shell to merge.
    pub(crate) merged: Vec<crate::accumulators::AccumUpdate>,
    pub(crate) drops: Vec<(ExecutorId, Vec<BlockId>)>,
    /// Shuffle files: one batch per reduce partition, by (shuffle, map, executor).
    pub(crate) files: BTreeMap<(ShuffleId, u32, ExecutorId), Vec<Batch>>,
    /// Cached blocks by (block, executor).
    pub(crate) blocks: BTreeMap<(BlockId, ExecutorId), Batch>,
    pub(crate) components: Arc<Vec<Arc<ComponentBytes>>>,
    /// Whether killed tasks report `Killed` at once (otherwise they keep running).
    pub(crate) answer_kills: bool,
    /// Reports to deliver (answers to kills).
    outbox: VecDeque<TaskReport>,
    next_job: u32,
}

impl Sim {
    /// `executors` executors (ids 0.., host `h{i}`) with `cores` cores each, default config.
    pub(crate) fn new(executors: u32, cores: u32) -> Sim {
        Sim::with_config(executors, cores, SchedulerConfig::default())
    }

    pub(crate) fn with_config(executors: u32, cores: u32, config: SchedulerConfig) -> Sim {
        let components = (0..3)
            .map(|i| Arc::new(ComponentBytes { hash: format!("c{i}"), bytes: vec![i as u8] }))
            .collect::<Vec<_>>();
        let mut sim = Sim {
            sched: Scheduler::new(config),
            now: Duration::ZERO,
            running: BTreeMap::new(),
            launched: Vec::new(),
            records: Vec::new(),
            finished: BTreeMap::new(),
            kills: Vec::new(),
            merged: Vec::new(),
            drops: Vec::new(),
            files: BTreeMap::new(),
            blocks: BTreeMap::new(),
            components: Arc::new(components),
            answer_kills: true,
            outbox: VecDeque::new(),
            next_job: 0,
        };
        for i in 0..executors {
            sim.add_executor(i, cores);
        }
        sim
    }

    /// Handles an event 1 ms after the previous one, then every report it
    /// provoked (killed tasks answer at once).
    pub(crate) fn send(&mut self, event: SchedulerEvent) {
        self.now += Duration::from_millis(1);
        self.handle_now(event);
    }

    /// Lets `d` pass, then sends a `Tick`.
    pub(crate) fn tick(&mut self, d: Duration) {
        self.now += d;
        self.handle_now(SchedulerEvent::Tick);
    }

    fn handle_now(&mut self, event: SchedulerEvent) {
        self.sched.handle(self.now, event);
        self.apply();
        while let Some(r) = self.outbox.pop_front() {
            self.now += Duration::from_millis(1);
            self.sched.handle(self.now, SchedulerEvent::TaskFinished(r));
            self.apply();
        }
    }

    fn apply(&mut self) {
        for c in self.sched.drain_commands() {
            match c {
                SchedulerCommand::LaunchTask { executor, task } => {
                    assert!(!self.running.contains_key(&task.id.task), "task id reused");
                    self.launched.push((executor, task.clone()));
                    self.running.insert(task.id.task, (executor, task));
                }
                SchedulerCommand::MergeAccumulators { updates } => self.merged.extend(updates),
                SchedulerCommand::KillTask { executor, task } => {
                    self.kills.push((executor, task));
                    let (e, _) =
                        self.running.get(&task).expect("kill of a task that is not running");
                    assert_eq!(*e, executor);
                    if !self.answer_kills {
                        continue;
                    }
                    self.running.remove(&task);
                    self.outbox.push_back(TaskReport {
                        accumulators: Vec::new(),
                        task,
                        executor,
                        result: Err(TaskFailure::Killed),
                        cached: Vec::new(),
                        metrics: TaskMetrics::default(),
                        log: String::new(),
                    });
                }
                SchedulerCommand::JobFinished { job, result } => {
                    assert!(self.finished.insert(job, result).is_none(), "{job} finished twice");
                }
                SchedulerCommand::DropBlocks { executor, blocks } => {
                    for b in &blocks {
                        self.blocks.remove(&(*b, executor));
                    }
                    self.drops.push((executor, blocks));
                }
                SchedulerCommand::Record(r) => self.records.push(r),
            }
        }
    }

    pub(crate) fn add_executor(&mut self, id: u32, cores: u32) {
        self.add_executor_on(id, &format!("h{id}"), cores);
    }

    pub(crate) fn add_executor_on(&mut self, id: u32, host: &str, cores: u32) {
        self.add_executor_at(id, host, None, &[], cores);
    }

    /// Adds an executor on `host` in `rack` announcing `data_roots`.
    pub(crate) fn add_executor_at(
        &mut self,
        id: u32,
        host: &str,
        rack: Option<&str>,
        data_roots: &[&str],
        cores: u32,
    ) {
        self.send(SchedulerEvent::ExecutorAdded {
            executor: ExecutorId(id),
            host: host.to_string(),
            rack: rack.map(str::to_string),
            data_roots: data_roots.iter().map(std::path::PathBuf::from).collect(),
            cores,
        });
    }

    /// Kills an executor: its files, blocks and running tasks vanish.
    pub(crate) fn lose(&mut self, id: u32) {
        let e = ExecutorId(id);
        self.files.retain(|k, _| k.2 != e);
        self.blocks.retain(|k, _| k.1 != e);
        self.running.retain(|_, (x, _)| *x != e);
        self.send(SchedulerEvent::ExecutorLost { executor: e, reason: "process exited".into() });
    }

    pub(crate) fn submit(
        &mut self,
        lineage: &Lineage,
        rdd: RddId,
        partitions: Vec<u32>,
        result: ResultKind,
    ) -> JobId {
        let job = JobId(self.next_job);
        self.next_job += 1;
        self.send(SchedulerEvent::JobSubmitted {
            job,
            lineage: Arc::new(lineage.clone()),
            rdd,
            partitions,
            result,
            components: self.components.clone(),
            shared: Default::default(),
        });
        job
    }

    /// Collects all partitions of `rdd`.
    pub(crate) fn collect(&mut self, lineage: &Lineage, rdd: RddId) -> JobId {
        let n = lineage.node(rdd).partitions;
        self.submit(lineage, rdd, (0..n).collect(), ResultKind::Collect)
    }

    /// Answers one running task.
    pub(crate) fn answer(&mut self, task: TaskId, step: Step) {
        let (executor, desc) = self.running.get(&task).cloned().expect("task is running");
        let (result, cached) = match step {
            Step::Hold => return,
            Step::Fail(f) => (Err(f), Vec::new()),
            Step::Run => self.execute(executor, &desc),
        };
        self.running.remove(&task);
        // Every attempt that ran adds 1 to accumulator 0: the merged total counts partitions.
        let accumulators = match &result {
            Ok(_) => vec![crate::accumulators::AccumUpdate {
                id: crate::ids::AccumulatorId(0),
                value: crate::accumulators::AccumValue::Long(1),
            }],
            Err(_) => Vec::new(),
        };
        self.report(TaskReport {
            accumulators,
            task,
            executor,
            result,
            cached,
            metrics: TaskMetrics::default(),
            log: String::new(),
        });
    }

    /// The merged total of accumulator 0 (one per attempt whose updates were merged).
    pub(crate) fn merged_count(&self) -> usize {
        self.merged.len()
    }

    pub(crate) fn report(&mut self, report: TaskReport) {
        self.send(SchedulerEvent::TaskFinished(report));
    }

    /// Runs every task (lowest id first) until none is running.
    pub(crate) fn run(&mut self) {
        self.run_with(|_, _| Step::Run);
    }

    /// Answers running tasks (lowest id first) as `decide` says, until none
    /// is running or every running task is held.
    pub(crate) fn run_with(&mut self, mut decide: impl FnMut(&Sim, &TaskDesc) -> Step) {
        let mut held = BTreeSet::new();
        while let Some(task) = self.running.keys().find(|t| !held.contains(*t)).copied() {
            let step = decide(self, &self.running[&task].1);
            if matches!(step, Step::Hold) {
                held.insert(task);
            }
            self.answer(task, step);
        }
    }

    pub(crate) fn ok(&self, job: JobId) -> &Vec<ResultValue> {
        match self.finished.get(&job) {
            Some(Ok(v)) => v,
            other => panic!("{job} did not succeed: {other:?}"),
        }
    }

    pub(crate) fn err(&self, job: JobId) -> &str {
        match self.finished.get(&job) {
            Some(Err(e)) => &e.message,
            other => panic!("{job} did not fail: {other:?}"),
        }
    }

    /// Every record of a collect job, sorted.
    /// The executors the scheduler's cache registry says hold `block`.
    pub(crate) fn cache_holders(&self, block: BlockId) -> Vec<ExecutorId> {
        self.sched.cache().locations(block).to_vec()
    }

    pub(crate) fn collected(&self, job: JobId) -> Vec<String> {
        let mut out = Vec::new();
        for v in self.ok(job) {
            let ResultValue::Records(b) = v else { panic!("not records: {v:?}") };
            out.extend(b.iter().map(|r| String::from_utf8(r.to_vec()).unwrap()));
        }
        out.sort();
        out
    }

    /// (stage, attempt, kind, tasks) of every stage submission, in order.
    pub(crate) fn submissions(&self) -> Vec<(StageId, u32, StageKind, u32)> {
        self.records
            .iter()
            .filter_map(|r| match r {
                EventRecord::StageSubmitted { stage, attempt, kind, tasks, .. } => {
                    Some((*stage, *attempt, *kind, *tasks))
                }
                _ => None,
            })
            .collect()
    }

    /// Launched tasks of a stage: (stage attempt, partition, executor), in launch order.
    pub(crate) fn launches_of(&self, stage: StageId) -> Vec<(u32, u32, ExecutorId)> {
        self.launched
            .iter()
            .filter(|(_, t)| t.id.stage == stage)
            .map(|(e, t)| (t.id.stage_attempt, t.id.partition, *e))
            .collect()
    }

    /// Every task start: (task, job, partition, attempt, executor, locality, speculative), in order.
    pub(crate) fn starts(&self) -> Vec<Start> {
        self.records
            .iter()
            .filter_map(|r| match r {
                EventRecord::TaskStarted { id, executor, locality, speculative, .. } => {
                    Some(Start {
                        task: id.task,
                        job: id.job,
                        partition: id.partition,
                        attempt: id.attempt,
                        executor: *executor,
                        locality: *locality,
                        speculative: *speculative,
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// The running attempt of a partition of a job, if exactly one runs.
    pub(crate) fn running_attempt(&self, job: JobId, partition: u32) -> Option<TaskId> {
        let mut it = self
            .running
            .iter()
            .filter(|(_, (_, t))| t.id.job == job && t.id.partition == partition)
            .map(|(id, _)| *id);
        let first = it.next();
        if it.next().is_some() { None } else { first }
    }

    /// Stage ids of launched tasks, in launch order.
    pub(crate) fn launched_stages(&self) -> Vec<StageId> {
        self.launched.iter().map(|(_, t)| t.id.stage).collect()
    }

    fn execute(
        &mut self,
        executor: ExecutorId,
        desc: &TaskDesc,
    ) -> (Result<TaskOutput, TaskFailure>, Vec<BlockId>) {
        let mut cached = Vec::new();
        let records = match self.eval(&desc.plan, executor, &mut cached) {
            Ok(r) => r,
            Err(f) => return (Err(f), cached),
        };
        let output = match &desc.sink {
            TaskSink::ShuffleWrite { shuffle, partitioner, .. } => {
                let n = partitioner.partitions() as usize;
                let mut buckets = vec![Batch::default(); n];
                for r in records.iter() {
                    buckets[(fnv(r) % n as u64) as usize].push(r);
                }
                let sizes = buckets.iter().map(|b| (b.byte_len() + b.len()) as u64).collect();
                self.files.insert((*shuffle, desc.id.partition, executor), buckets);
                TaskOutput::MapStatus { sizes }
            }
            TaskSink::Result(kind) => TaskOutput::Result(match kind {
                ResultKind::Count => ResultValue::Count(records.len() as u64),
                ResultKind::Take(n) => {
                    ResultValue::Records(Batch::from_records(records.iter().take(*n as usize)))
                }
                ResultKind::SaveText { .. } | ResultKind::SaveRecords { .. } => ResultValue::Saved,
                ResultKind::Collect | ResultKind::SampleKeys(_) => ResultValue::Records(records),
            }),
        };
        (Ok(output), cached)
    }

    fn eval(
        &mut self,
        plan: &Plan,
        executor: ExecutorId,
        cached: &mut Vec<BlockId>,
    ) -> Result<Batch, TaskFailure> {
        Ok(match plan {
            Plan::Read(Source::Slice(b)) => (**b).clone(),
            // The simulation has no files: a split reads one record, its file's name.
            Plan::Read(Source::File(f)) => {
                Batch::from_records([f.path.to_string_lossy().into_owned()])
            }
            Plan::Read(Source::Files { splits, .. }) => {
                Batch::from_records(splits.iter().map(|f| f.path.to_string_lossy().into_owned()))
            }
            // As the real executor: it reads only its own blocks.
            Plan::Read(Source::Cached { block, executor: holder }) if *holder != executor => {
                return Err(TaskFailure::Guest {
                    message: format!(
                        "cached block {block:?} is on {holder}, not reachable from {executor}"
                    ),
                });
            }
            Plan::Read(Source::Cached { block, executor: holder }) => {
                match self.blocks.get(&(*block, *holder)) {
                    Some(b) => b.clone(),
                    None => {
                        return Err(TaskFailure::Guest {
                            message: format!("block {block:?} missing on {holder}"),
                        });
                    }
                }
            }
            Plan::Read(Source::Shuffle(read)) => {
                let mut out = Batch::default();
                for m in &read.maps {
                    match self.files.get(&(read.shuffle, m.map, m.executor)) {
                        Some(buckets) => out.extend(&buckets[read.reduce as usize]),
                        None => {
                            return Err(TaskFailure::FetchFailed {
                                shuffle: read.shuffle,
                                map: m.map,
                                executor: m.executor,
                                message: "connection refused".into(),
                            });
                        }
                    }
                }
                out
            }
            Plan::Guest { input, ops, .. } => {
                let mut b = self.eval(input, executor, cached)?;
                for op in ops {
                    b = apply(op, b)?;
                }
                b
            }
            Plan::Host { input, .. } => self.eval(input, executor, cached)?,
            Plan::Reduce { input, step } => {
                let b = self.eval(input, executor, cached)?;
                let mut v: Vec<Vec<u8>> = b.iter().map(<[u8]>::to_vec).collect();
                v.sort();
                if *step == ReduceStep::Distinct {
                    v.dedup();
                }
                Batch::from_records(v)
            }
            Plan::Concat(inputs) => {
                let mut out = Batch::default();
                for i in inputs {
                    out.extend(&self.eval(i, executor, cached)?);
                }
                out
            }
            Plan::Cogroup { inputs, .. } => {
                // The simulation's join: keys (whole records) present in every input.
                let mut sets = Vec::new();
                for i in inputs {
                    let b = self.eval(i, executor, cached)?;
                    sets.push(b.iter().map(<[u8]>::to_vec).collect::<BTreeSet<_>>());
                }
                let first = sets.first().cloned().unwrap_or_default();
                Batch::from_records(
                    first.into_iter().filter(|k| sets.iter().all(|s| s.contains(k))),
                )
            }
            // As the real executor: a block it still holds is read, not computed.
            Plan::Cache { block, .. } if self.blocks.contains_key(&(*block, executor)) => {
                cached.push(*block);
                self.blocks[&(*block, executor)].clone()
            }
            Plan::Cache { input, block, .. } => {
                let b = self.eval(input, executor, cached)?;
                self.blocks.insert((*block, executor), b.clone());
                cached.push(*block);
                b
            }
        })
    }
}

/// The simulation's guest ops, by name: `words` splits on spaces, `upper`
/// upper-cases, `dedup` drops duplicates, `fail` fails with its args as message.
fn apply(op: &Op, b: Batch) -> Result<Batch, TaskFailure> {
    Ok(match op.name.as_str() {
        "words" => Batch::from_records(
            b.iter().flat_map(|r| r.split(|c| *c == b' ')).filter(|w| !w.is_empty()),
        ),
        "upper" => Batch::from_records(b.iter().map(|r| r.to_ascii_uppercase())),
        "dedup" => Batch::from_records(b.iter().collect::<BTreeSet<_>>()),
        "fail" => {
            return Err(TaskFailure::Guest {
                message: String::from_utf8_lossy(&op.args).into_owned(),
            });
        }
        _ => b,
    })
}

fn fnv(r: &[u8]) -> u64 {
    r.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3))
}

// ---- lineage builders ----

pub(crate) fn op(name: &str) -> Op {
    Op { kind: OpKind::Map, name: name.to_string(), args: Vec::new() }
}

pub(crate) fn ops(component: u32, names: &[&str]) -> GuestOps {
    GuestOps { component: ComponentId(component), ops: names.iter().map(|n| op(n)).collect() }
}

/// A driver-side RDD: one slice per partition, records are the strings given.
pub(crate) fn parallel(l: &mut Lineage, parts: &[&[&str]]) -> RddId {
    let slices = parts.iter().map(|p| Arc::new(Batch::from_records(p.iter()))).collect();
    l.add(RddKind::Parallel { slices }, parts.len() as u32, None)
}

/// A text file RDD, one split (one partition) per path; the simulation reads a split as one record, its path.
pub(crate) fn text_files(l: &mut Lineage, paths: &[&str]) -> RddId {
    let splits: Vec<FileSplit> =
        paths.iter().map(|p| FileSplit { path: p.into(), start: 0, end: 1 }).collect();
    let n = splits.len() as u32;
    l.add(RddKind::TextFile { splits }, n, None)
}

/// A narrow guest step of `component` running the named ops.
pub(crate) fn guest(l: &mut Lineage, parent: RddId, component: u32, names: &[&str]) -> RddId {
    let n = l.node(parent).partitions;
    l.add(RddKind::Narrow { parent, step: NarrowStep::Guest(ops(component, names)) }, n, None)
}

/// A shuffle of `parent` into `partitions` partitions.
pub(crate) fn shuffled(
    l: &mut Lineage,
    parent: RddId,
    partitions: u32,
    map_side: MapSideCombine,
    reduce: ReduceSide,
) -> RddId {
    let dep = shuffle_dep(l, parent, partitions, map_side);
    l.add(RddKind::Shuffled { dep, reduce }, partitions, None)
}

pub(crate) fn shuffle_dep(
    l: &mut Lineage,
    parent: RddId,
    partitions: u32,
    map_side: MapSideCombine,
) -> ShuffleDep {
    let shuffle = l.new_shuffle();
    ShuffleDep { shuffle, parent, partitioner: Partitioner::RecordHash { partitions }, map_side }
}

/// `distinct()`: map-side distinct, shuffle, reduce-side distinct.
pub(crate) fn distinct(l: &mut Lineage, parent: RddId, partitions: u32) -> RddId {
    shuffled(l, parent, partitions, MapSideCombine::Distinct, ReduceSide::Distinct)
}

pub(crate) fn persist(l: &mut Lineage, rdd: RddId) {
    l.set_persist(rdd, Some(StorageLevel::MemoryOnly));
}

/// Words of a text, each once, sorted: the independent answer of a distinct-words job.
pub(crate) fn distinct_words(parts: &[&[&str]]) -> Vec<String> {
    let set: BTreeSet<String> = parts
        .iter()
        .flat_map(|p| p.iter())
        .flat_map(|line| line.split(' '))
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect();
    set.into_iter().collect()
}

pub(crate) const TEXT: &[&[&str]] = &[
    &["the quick brown fox", "jumps over"],
    &["the lazy dog", ""],
    &["a quick dog", "the end"],
    &["fox and dog and cat"],
];
