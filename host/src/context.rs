//! The driver-side context of one application (Spark's `SparkContext`): builds the lineage and runs actions as jobs.
//!
//! A job's main calls these methods through the WIT `driver` interface
//! (`context/wit_driver.rs`). Transformations only add lineage nodes;
//! actions submit one job each to the backend and block until it ends.

mod actions;
mod checkpoint;
mod shared;
mod temporary_output;
mod wit_driver;

use std::path::PathBuf;
use std::sync::Arc;

use crate::block::input::list_splits;
use crate::builtins::{BUILTINS_PATH, BuiltinChain};
use crate::driver_loop::LoopHandle;
use crate::ids::{ComponentId, RddId};
use crate::lineage::{
    CogroupDep, CogroupOutput, FileSplit, GuestOps, HostStep, JoinKind, Lineage, MapSideCombine,
    NarrowStep, Op, OpKind, Partitioner, RddKind, ReduceSide, ShuffleDep, StorageLevel,
};
use crate::records::Batch;
use crate::settings::Conf;
use crate::task::ComponentBytes;
use crate::wasm::{GuestInstance, Runtime, content_hash};

pub(crate) use temporary_output::Journal;

/// Why a driver call failed; its message is what the job's main sees.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ContextError {
    /// An RDD id this lineage never made.
    #[error("unknown rdd id {id}")]
    UnknownRdd { id: u32 },
    /// A component id never loaded.
    #[error("unknown component id {id}")]
    UnknownComponent { id: u32 },
    /// An argument out of its domain.
    #[error("invalid argument to {call}: {reason}")]
    InvalidArgument { call: &'static str, reason: String },
    /// Input listing failed (missing path...).
    #[error("{message}")]
    Input { message: String },
    /// The output directory of `save-as-text-file` exists.
    #[error("output directory {path} already exists")]
    OutputExists { path: PathBuf },
    /// Output to a store failed (exists, bad URL, a request failed).
    #[error("{0}")]
    Output(String),
    /// Reading a functions component or preparing output failed.
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    /// An op its component cannot run (unknown function, wrong kind, bad args), found before any task runs.
    #[error("{message}")]
    InvalidOp { message: String },
    /// A functions component is unusable.
    #[error("cannot load functions component {path}: {message}")]
    Component { path: PathBuf, message: String },
    /// A job failed.
    #[error("job failed: {message}")]
    JobFailed { message: String },
    /// A broadcast variable that was never made or was destroyed.
    #[error("broadcast {id} was destroyed (or never made)")]
    NoBroadcast { id: u32 },
    /// A broadcast value past `wisp.broadcast.maxBytes`.
    #[error("broadcast value of {bytes} bytes exceeds wisp.broadcast.maxBytes ({max} bytes)")]
    BroadcastTooLarge { bytes: u64, max: u64 },
    /// An accumulator never made.
    #[error("unknown accumulator id {id}")]
    UnknownAccumulator { id: u32 },
    /// `accumulator-add` from the job's main.
    #[error(
        "accumulator {id}: add is only allowed inside tasks, not from the job's main (the driver reads accumulators; it does not add to them)"
    )]
    AddOnDriver { id: u32 },
    /// `checkpoint` before `set-checkpoint-dir`.
    #[error("checkpoint of rdd {id}: no checkpoint directory (call set_checkpoint_dir first)")]
    NoCheckpointDir { id: u32 },
}

/// Driver state of one application.
pub(crate) struct Context {
    lineage: Lineage,
    components: Arc<Vec<Arc<ComponentBytes>>>,
    conf: Conf,
    backend: LoopHandle,
    runtime: Arc<Runtime>,
    default_parallelism: u32,
    /// Where temporary output directories are recorded (a master's journal), if anywhere.
    output_journal: Option<Arc<Journal>>,
    /// The driver's object-store clients and the output compression.
    io: InputOutput,
    /// Broadcast variables by id (none once destroyed).
    broadcasts: Vec<Option<Arc<ComponentBytes>>>,
    /// Where `checkpoint` writes (`set-checkpoint-dir`).
    checkpoint_dir: Option<crate::store::Location>,
}

/// How the driver cuts input (listing local files or a store) and writes output.
pub(crate) struct InputOutput {
    /// Largest input split (`wisp.files.maxPartitionBytes`).
    pub(crate) max_split_bytes: u64,
    /// This process's clients, with the application's `wisp.s3.*` settings.
    pub(crate) stores: Arc<crate::store::Stores>,
    /// `wisp.output.compress`.
    pub(crate) codec: crate::store::Codec,
    /// Largest broadcast value (`wisp.broadcast.maxBytes`): what the driver may ship to executors.
    pub(crate) max_broadcast_bytes: u64,
}

impl Context {
    /// A context for a job whose own component is `job` (component 0). Its
    /// default parallelism is `default_parallelism`, else the backend's total
    /// cores; `io` says how input is cut, output written and how big a broadcast may be
    /// (the application's settings).
    pub(crate) fn new(
        job: Arc<ComponentBytes>,
        conf: Conf,
        default_parallelism: Option<u32>,
        io: InputOutput,
        backend: LoopHandle,
        runtime: Arc<Runtime>,
        output_journal: Option<Arc<Journal>>,
    ) -> Context {
        let default_parallelism =
            default_parallelism.unwrap_or_else(|| backend.total_cores().max(1));
        Context {
            lineage: Lineage::default(),
            components: Arc::new(vec![job]),
            conf,
            backend,
            runtime,
            default_parallelism,
            output_journal,
            io,
            broadcasts: Vec::new(),
            checkpoint_dir: None,
        }
    }

    /// A configuration value.
    pub(crate) fn conf(&self, key: &str) -> Option<String> {
        self.conf.get(key).map(str::to_string)
    }

    /// Default partition count of shuffles.
    pub(crate) fn default_parallelism(&self) -> u32 {
        self.default_parallelism
    }

    fn node(&self, id: RddId) -> Result<&crate::lineage::RddNode, ContextError> {
        self.lineage.get(id).ok_or(ContextError::UnknownRdd { id: id.0 })
    }

    fn check_component(&self, id: ComponentId) -> Result<(), ContextError> {
        if (id.0 as usize) < self.components.len() {
            Ok(())
        } else {
            Err(ContextError::UnknownComponent { id: id.0 })
        }
    }

    /// Checks that the component exports the ops' functions with these kinds and args, by building
    /// the guest chain once on the driver (microseconds), so a bad op fails here rather than in every task.
    fn check_ops(&self, component: ComponentId, ops: &[Op]) -> Result<(), ContextError> {
        self.check_component(component)?;
        let bytes = &self.components[component.0 as usize];
        if bytes.is_builtins() {
            return BuiltinChain::new(ops, 0)
                .map(drop)
                .map_err(|e| ContextError::InvalidOp { message: e.to_string() });
        }
        let loaded = self
            .runtime
            .load(bytes)
            .map_err(|e| ContextError::InvalidOp { message: e.to_string() })?;
        let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sandbox = self
            .runtime
            .sandbox(&crate::task::TaskLimits::default(), None)
            .map_err(|e| ContextError::InvalidOp { message: e.to_string() })?;
        GuestInstance::start(&self.runtime, &loaded, ops, 0, cancel, &sandbox)
            .map(drop)
            .map_err(|e| ContextError::InvalidOp { message: e.to_string() })
    }

    fn partitions_arg(call: &'static str, n: u32) -> Result<u32, ContextError> {
        if n == 0 {
            return Err(ContextError::InvalidArgument {
                call,
                reason: "the number of partitions must be positive".into(),
            });
        }
        Ok(n)
    }

    /// Loads a functions component so that ops can name its functions.
    /// The reserved path `wisp:builtins` names the host's built-in library (`builtins`), loaded once.
    pub(crate) fn load_functions(&mut self, path: &str) -> Result<ComponentId, ContextError> {
        if path == BUILTINS_PATH {
            if let Some(i) = self.components.iter().position(|c| c.is_builtins()) {
                return Ok(ComponentId(i as u32));
            }
            let id = ComponentId(self.components.len() as u32);
            Arc::make_mut(&mut self.components).push(Arc::new(ComponentBytes::builtins()));
            return Ok(id);
        }
        let path = PathBuf::from(path);
        let bytes = std::fs::read(&path).map_err(|source| ContextError::Io {
            what: "cannot read",
            path: path.clone(),
            source,
        })?;
        let component = Arc::new(ComponentBytes { hash: content_hash(&bytes), bytes });
        self.runtime
            .load(&component)
            .map_err(|e| ContextError::Component { path: path.clone(), message: e.to_string() })?;
        let id = ComponentId(self.components.len() as u32);
        Arc::make_mut(&mut self.components).push(component);
        Ok(id)
    }

    /// The splits of a file, a directory or a store prefix (at least `min_partitions`).
    pub(crate) fn input_splits(
        &self,
        path: &str,
        min_partitions: u32,
    ) -> Result<Vec<FileSplit>, ContextError> {
        list_splits(path, &self.io.stores, min_partitions.max(1), self.io.max_split_bytes)
            .map_err(|e| ContextError::Input { message: e.to_string() })
    }

    /// Lines of a file or directory.
    pub(crate) fn text_file(
        &mut self,
        path: &str,
        min_partitions: u32,
    ) -> Result<RddId, ContextError> {
        let splits = self.input_splits(path, min_partitions)?;
        let n = splits.len() as u32;
        Ok(self.lineage.add(RddKind::TextFile { splits }, n, None))
    }

    /// Records given by the job, in `slices` contiguous partitions.
    pub(crate) fn parallelize(
        &mut self,
        records: Batch,
        slices: u32,
    ) -> Result<RddId, ContextError> {
        let slices = Self::partitions_arg("parallelize", slices)?;
        records.validate().map_err(|e| ContextError::InvalidArgument {
            call: "parallelize",
            reason: e.to_string(),
        })?;
        let len = records.len() as u64;
        let parts = (0..slices as u64)
            .map(|i| {
                let (a, b) =
                    ((i * len / slices as u64) as usize, ((i + 1) * len / slices as u64) as usize);
                Arc::new(Batch::from_records((a..b).map(|j| records.get(j))))
            })
            .collect();
        Ok(self.lineage.add(RddKind::Parallel { slices: parts }, slices, None))
    }

    /// A narrow guest op over every partition.
    pub(crate) fn transform(
        &mut self,
        parent: RddId,
        op: Op,
        component: ComponentId,
    ) -> Result<RddId, ContextError> {
        self.check_component(component)?;
        if matches!(op.kind, OpKind::Combine | OpKind::Merge | OpKind::Fold | OpKind::Reduce) {
            return Err(ContextError::InvalidArgument {
                call: "transform",
                reason: format!("{:?} ops run only inside aggregations and actions", op.kind),
            });
        }
        self.check_ops(component, std::slice::from_ref(&op))?;
        let p = self.node(parent)?;
        let (n, partitioner) =
            (p.partitions, if op.kind.preserves_keys() { p.partitioner.clone() } else { None });
        let step = NarrowStep::Guest(GuestOps { component, ops: vec![op] });
        Ok(self.lineage.add(RddKind::Narrow { parent, step }, n, partitioner))
    }

    /// The partitions of several RDDs in order.
    pub(crate) fn union(&mut self, rdds: &[RddId]) -> Result<RddId, ContextError> {
        let mut n = 0u32;
        for r in rdds {
            n += self.node(*r)?.partitions;
        }
        Ok(self.lineage.add(RddKind::Union { parents: rdds.to_vec() }, n, None))
    }

    fn shuffled(
        &mut self,
        parent: RddId,
        partitioner: Partitioner,
        map_side: MapSideCombine,
        reduce: ReduceSide,
        keep_partitioner: bool,
    ) -> RddId {
        let shuffle = self.lineage.new_shuffle();
        let n = partitioner.partitions();
        let dep = ShuffleDep { shuffle, parent, partitioner: partitioner.clone(), map_side };
        self.lineage.add(
            RddKind::Shuffled { dep, reduce },
            n,
            keep_partitioner.then_some(partitioner),
        )
    }

    /// Distinct records.
    pub(crate) fn distinct(
        &mut self,
        parent: RddId,
        partitions: u32,
    ) -> Result<RddId, ContextError> {
        let partitions = Self::partitions_arg("distinct", partitions)?;
        self.node(parent)?;
        let p = Partitioner::RecordHash { partitions };
        Ok(self.shuffled(parent, p, MapSideCombine::Distinct, ReduceSide::Distinct, false))
    }

    /// Values of each key aggregated by a guest aggregator.
    pub(crate) fn combine_by_key(
        &mut self,
        parent: RddId,
        aggregator: Op,
        component: ComponentId,
        partitions: u32,
        map_side_combine: bool,
    ) -> Result<RddId, ContextError> {
        let partitions = Self::partitions_arg("combine-by-key", partitions)?;
        let target = Partitioner::Hash { partitions };
        let op = |kind| GuestOps { component, ops: vec![Op { kind, ..aggregator.clone() }] };
        self.check_ops(component, &op(OpKind::Combine).ops)?;
        let p = self.node(parent)?;
        if p.partitioner.as_ref() == Some(&target) {
            // Already partitioned by key as asked: aggregate in place, no shuffle (as Spark does).
            let n = p.partitions;
            let step = NarrowStep::Guest(op(OpKind::Combine));
            return Ok(self.lineage.add(RddKind::Narrow { parent, step }, n, Some(target)));
        }
        let (map_side, reduce) = if map_side_combine {
            (MapSideCombine::Guest(op(OpKind::Combine)), ReduceSide::Guest(op(OpKind::Merge)))
        } else {
            (MapSideCombine::None, ReduceSide::Guest(op(OpKind::Combine)))
        };
        Ok(self.shuffled(parent, target, map_side, reduce, true))
    }

    /// `(k, list<v>)` per key.
    pub(crate) fn group_by_key(
        &mut self,
        parent: RddId,
        partitions: u32,
    ) -> Result<RddId, ContextError> {
        let partitions = Self::partitions_arg("group-by-key", partitions)?;
        self.node(parent)?;
        Ok(self.shuffled(
            parent,
            Partitioner::Hash { partitions },
            MapSideCombine::None,
            ReduceSide::Group,
            true,
        ))
    }

    /// A cogroup of `parents` into `partitions` hash partitions (Spark's
    /// `CoGroupedRDD`): a parent already hash-partitioned that way is read
    /// one-to-one without a shuffle, the others are shuffled. The result
    /// keeps the partitioner, so a following aggregation or join with the
    /// same partitioner needs no shuffle either.
    fn cogrouped(
        &mut self,
        parents: &[RddId],
        partitions: u32,
        output: CogroupOutput,
    ) -> Result<RddId, ContextError> {
        let partitioner = Partitioner::Hash { partitions };
        let mut deps = Vec::with_capacity(parents.len());
        for &parent in parents {
            if self.node(parent)?.partitioner.as_ref() == Some(&partitioner) {
                deps.push(CogroupDep::Narrow(parent));
                continue;
            }
            let shuffle = self.lineage.new_shuffle();
            deps.push(CogroupDep::Shuffle(ShuffleDep {
                shuffle,
                parent,
                partitioner: partitioner.clone(),
                map_side: MapSideCombine::None,
            }));
        }
        Ok(self.lineage.add(RddKind::CoGrouped { deps, output }, partitions, Some(partitioner)))
    }

    /// The partition count of a cogroup or join called with `partitions`
    /// (0: Spark's default partitioner, `Lineage::default_hash_partitions`).
    fn cogroup_partitions(&self, parents: &[RddId], partitions: u32) -> Result<u32, ContextError> {
        for &parent in parents {
            self.node(parent)?;
        }
        Ok(match partitions {
            0 => self.lineage.default_hash_partitions(parents, self.default_parallelism),
            n => n,
        })
    }

    /// `(k, (list<v1>, ...))` over several pair RDDs (`partitions` 0: the default partitioner).
    pub(crate) fn cogroup(
        &mut self,
        parents: &[RddId],
        partitions: u32,
    ) -> Result<RddId, ContextError> {
        if parents.is_empty() {
            return Err(ContextError::InvalidArgument {
                call: "cogroup",
                reason: "no RDDs given".into(),
            });
        }
        let partitions = self.cogroup_partitions(parents, partitions)?;
        self.cogrouped(parents, partitions, CogroupOutput::Cogroup)
    }

    /// A join of two pair RDDs (`partitions` 0: the default partitioner).
    pub(crate) fn join(
        &mut self,
        left: RddId,
        right: RddId,
        kind: JoinKind,
        partitions: u32,
    ) -> Result<RddId, ContextError> {
        let partitions = self.cogroup_partitions(&[left, right], partitions)?;
        self.cogrouped(&[left, right], partitions, CogroupOutput::Join(kind))
    }

    /// Hash-partitions pairs by key (no-op if already so partitioned).
    pub(crate) fn partition_by(
        &mut self,
        parent: RddId,
        partitions: u32,
    ) -> Result<RddId, ContextError> {
        let partitions = Self::partitions_arg("partition-by", partitions)?;
        let target = Partitioner::Hash { partitions };
        if self.node(parent)?.partitioner.as_ref() == Some(&target) {
            return Ok(parent);
        }
        Ok(self.shuffled(parent, target, MapSideCombine::None, ReduceSide::None, true))
    }

    /// Spreads records evenly over `partitions` with a shuffle.
    pub(crate) fn repartition(
        &mut self,
        parent: RddId,
        partitions: u32,
    ) -> Result<RddId, ContextError> {
        let partitions = Self::partitions_arg("repartition", partitions)?;
        self.node(parent)?;
        Ok(self.shuffled(
            parent,
            Partitioner::RoundRobin { partitions },
            MapSideCombine::None,
            ReduceSide::None,
            false,
        ))
    }

    /// Merges neighbouring partitions down to at most `partitions`, without a shuffle.
    pub(crate) fn coalesce(
        &mut self,
        parent: RddId,
        partitions: u32,
    ) -> Result<RddId, ContextError> {
        let partitions = Self::partitions_arg("coalesce", partitions)?;
        let have = self.node(parent)?.partitions;
        let n = partitions.min(have.max(1));
        let groups = (0..n as u64)
            .map(|i| {
                ((i * have as u64 / n as u64) as u32..((i + 1) * have as u64 / n as u64) as u32)
                    .collect()
            })
            .collect();
        Ok(self.lineage.add(RddKind::Coalesce { parent, groups }, n, None))
    }

    /// A reproducible random sample.
    pub(crate) fn sample(
        &mut self,
        parent: RddId,
        with_replacement: bool,
        fraction: f64,
        seed: u64,
    ) -> Result<RddId, ContextError> {
        let ok = fraction.is_finite() && fraction >= 0.0 && (with_replacement || fraction <= 1.0);
        if !ok {
            return Err(ContextError::InvalidArgument {
                call: "sample",
                reason: format!("fraction {fraction} must be in [0, 1] (or >= 0 with replacement)"),
            });
        }
        let p = self.node(parent)?;
        let (n, partitioner) = (p.partitions, p.partitioner.clone());
        let step = NarrowStep::Host(HostStep::Sample { with_replacement, fraction, seed });
        Ok(self.lineage.add(RddKind::Narrow { parent, step }, n, partitioner))
    }

    /// Keeps the RDD's partitions once computed.
    pub(crate) fn persist(&mut self, rdd: RddId, level: StorageLevel) -> Result<(), ContextError> {
        self.node(rdd)?;
        self.lineage.set_persist(rdd, Some(level));
        Ok(())
    }

    /// Forgets the RDD's kept partitions.
    pub(crate) fn unpersist(&mut self, rdd: RddId) -> Result<(), ContextError> {
        self.node(rdd)?;
        self.lineage.set_persist(rdd, None);
        self.backend.unpersist(rdd);
        Ok(())
    }

    /// Number of partitions.
    pub(crate) fn num_partitions(&self, rdd: RddId) -> Result<u32, ContextError> {
        Ok(self.node(rdd)?.partitions)
    }
}
