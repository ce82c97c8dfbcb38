//! Conversions between the scheduler's task types and their wire mirrors (`From` one way, `TryFrom` or a resolver the other).

use std::path::PathBuf;
use std::sync::Arc;

use super::*;
use crate::accumulators::{AccumUpdate, AccumValue, AccumulatorKind};
use crate::ids::{
    AccumulatorId, BroadcastId, ExecutorId, JobId, RddId, ShuffleId, StageId, TaskId,
};
use crate::lineage::{
    CogroupOutput, FileFormat, FileSplit, HostStep, JoinKind, Op, OpKind, Partitioner, StorageLevel,
};
use crate::records::Batch;
use crate::task::{
    BlockId, Codec, MapBlock, Plan, ReduceStep, ResultKind, ResultValue, SharedVars, ShuffleRead,
    Source, StagedPart, TaskAttempt, TaskDesc, TaskFailure, TaskLimits, TaskMetrics, TaskOutput,
    TaskReport, TaskSink, TaskTimes,
};

fn path_to_wire(path: &std::path::Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        path.to_string_lossy().into_owned().into_bytes()
    }
}

fn path_from_wire(bytes: Vec<u8>) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        PathBuf::from(std::ffi::OsString::from_vec(bytes))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
    }
}

impl From<&Batch> for WireBatch {
    fn from(b: &Batch) -> Self {
        WireBatch { data: b.data.clone(), ends: b.ends.clone() }
    }
}

impl TryFrom<WireBatch> for Batch {
    type Error = ConvertError;
    fn try_from(w: WireBatch) -> Result<Self, ConvertError> {
        let b = Batch { data: w.data, ends: w.ends };
        b.validate().map_err(|source| ConvertError::Batch { source })?;
        Ok(b)
    }
}

impl From<BlockId> for WireBlockId {
    fn from(b: BlockId) -> Self {
        WireBlockId { rdd: b.rdd.0, partition: b.partition }
    }
}

impl From<WireBlockId> for BlockId {
    fn from(b: WireBlockId) -> Self {
        BlockId { rdd: RddId(b.rdd), partition: b.partition }
    }
}

impl From<OpKind> for WireOpKind {
    fn from(k: OpKind) -> Self {
        match k {
            OpKind::Map => WireOpKind::Map,
            OpKind::Filter => WireOpKind::Filter,
            OpKind::FlatMap => WireOpKind::FlatMap,
            OpKind::MapPartitions => WireOpKind::MapPartitions,
            OpKind::MapValues => WireOpKind::MapValues,
            OpKind::FlatMapValues => WireOpKind::FlatMapValues,
            OpKind::KeyBy => WireOpKind::KeyBy,
            OpKind::Combine => WireOpKind::Combine,
            OpKind::Merge => WireOpKind::Merge,
            OpKind::Fold => WireOpKind::Fold,
            OpKind::Reduce => WireOpKind::Reduce,
        }
    }
}

impl From<WireOpKind> for OpKind {
    fn from(k: WireOpKind) -> Self {
        match k {
            WireOpKind::Map => OpKind::Map,
            WireOpKind::Filter => OpKind::Filter,
            WireOpKind::FlatMap => OpKind::FlatMap,
            WireOpKind::MapPartitions => OpKind::MapPartitions,
            WireOpKind::MapValues => OpKind::MapValues,
            WireOpKind::FlatMapValues => OpKind::FlatMapValues,
            WireOpKind::KeyBy => OpKind::KeyBy,
            WireOpKind::Combine => OpKind::Combine,
            WireOpKind::Merge => OpKind::Merge,
            WireOpKind::Fold => OpKind::Fold,
            WireOpKind::Reduce => OpKind::Reduce,
        }
    }
}

impl From<&Op> for WireOp {
    fn from(op: &Op) -> Self {
        WireOp { kind: op.kind.into(), name: op.name.clone(), args: op.args.clone() }
    }
}

impl From<WireOp> for Op {
    fn from(op: WireOp) -> Self {
        Op { kind: op.kind.into(), name: op.name, args: op.args }
    }
}

impl From<JoinKind> for WireJoinKind {
    fn from(k: JoinKind) -> Self {
        match k {
            JoinKind::Inner => WireJoinKind::Inner,
            JoinKind::LeftOuter => WireJoinKind::LeftOuter,
            JoinKind::RightOuter => WireJoinKind::RightOuter,
            JoinKind::FullOuter => WireJoinKind::FullOuter,
        }
    }
}

impl From<WireJoinKind> for JoinKind {
    fn from(k: WireJoinKind) -> Self {
        match k {
            WireJoinKind::Inner => JoinKind::Inner,
            WireJoinKind::LeftOuter => JoinKind::LeftOuter,
            WireJoinKind::RightOuter => JoinKind::RightOuter,
            WireJoinKind::FullOuter => JoinKind::FullOuter,
        }
    }
}

impl From<CogroupOutput> for WireCogroupOutput {
    fn from(c: CogroupOutput) -> Self {
        match c {
            CogroupOutput::Cogroup => WireCogroupOutput::Cogroup,
            CogroupOutput::Join(k) => WireCogroupOutput::Join(k.into()),
        }
    }
}

impl From<WireCogroupOutput> for CogroupOutput {
    fn from(c: WireCogroupOutput) -> Self {
        match c {
            WireCogroupOutput::Cogroup => CogroupOutput::Cogroup,
            WireCogroupOutput::Join(k) => CogroupOutput::Join(k.into()),
        }
    }
}

impl From<StorageLevel> for WireStorageLevel {
    fn from(l: StorageLevel) -> Self {
        match l {
            StorageLevel::MemoryOnly => WireStorageLevel::MemoryOnly,
            StorageLevel::MemoryAndDisk => WireStorageLevel::MemoryAndDisk,
            StorageLevel::DiskOnly => WireStorageLevel::DiskOnly,
        }
    }
}

impl From<WireStorageLevel> for StorageLevel {
    fn from(l: WireStorageLevel) -> Self {
        match l {
            WireStorageLevel::MemoryOnly => StorageLevel::MemoryOnly,
            WireStorageLevel::MemoryAndDisk => StorageLevel::MemoryAndDisk,
            WireStorageLevel::DiskOnly => StorageLevel::DiskOnly,
        }
    }
}

impl From<&HostStep> for WireHostStep {
    fn from(s: &HostStep) -> Self {
        match *s {
            HostStep::Sample { with_replacement, fraction, seed } => {
                WireHostStep::Sample { with_replacement, fraction, seed }
            }
        }
    }
}

impl From<WireHostStep> for HostStep {
    fn from(s: WireHostStep) -> Self {
        match s {
            WireHostStep::Sample { with_replacement, fraction, seed } => {
                HostStep::Sample { with_replacement, fraction, seed }
            }
        }
    }
}

impl From<&ReduceStep> for WireReduceStep {
    fn from(s: &ReduceStep) -> Self {
        match *s {
            ReduceStep::Group => WireReduceStep::Group,
            ReduceStep::Sort { ascending } => WireReduceStep::Sort { ascending },
            ReduceStep::Distinct => WireReduceStep::Distinct,
        }
    }
}

impl From<WireReduceStep> for ReduceStep {
    fn from(s: WireReduceStep) -> Self {
        match s {
            WireReduceStep::Group => ReduceStep::Group,
            WireReduceStep::Sort { ascending } => ReduceStep::Sort { ascending },
            WireReduceStep::Distinct => ReduceStep::Distinct,
        }
    }
}

impl From<&Partitioner> for WirePartitioner {
    fn from(p: &Partitioner) -> Self {
        match p {
            Partitioner::Hash { partitions } => WirePartitioner::Hash { partitions: *partitions },
            Partitioner::Range { bounds, ascending } => WirePartitioner::Range {
                bounds: bounds.iter().map(|b| serde_bytes::ByteBuf::from(b.clone())).collect(),
                ascending: *ascending,
            },
            Partitioner::RecordHash { partitions } => {
                WirePartitioner::RecordHash { partitions: *partitions }
            }
            Partitioner::RoundRobin { partitions } => {
                WirePartitioner::RoundRobin { partitions: *partitions }
            }
        }
    }
}

impl From<WirePartitioner> for Partitioner {
    fn from(p: WirePartitioner) -> Self {
        match p {
            WirePartitioner::Hash { partitions } => Partitioner::Hash { partitions },
            WirePartitioner::Range { bounds, ascending } => Partitioner::Range {
                bounds: bounds.into_iter().map(|b| b.into_vec()).collect(),
                ascending,
            },
            WirePartitioner::RecordHash { partitions } => Partitioner::RecordHash { partitions },
            WirePartitioner::RoundRobin { partitions } => Partitioner::RoundRobin { partitions },
        }
    }
}

impl From<&ResultKind> for WireResultKind {
    fn from(k: &ResultKind) -> Self {
        match k {
            ResultKind::Count => WireResultKind::Count,
            ResultKind::Collect => WireResultKind::Collect,
            ResultKind::Take(n) => WireResultKind::Take(*n),
            ResultKind::SaveText { dir, codec } => WireResultKind::SaveText {
                dir: path_to_wire(dir),
                codec: match codec {
                    Codec::None => 0,
                    Codec::Gzip => 1,
                    Codec::Zstd => 2,
                },
            },
            ResultKind::SaveRecords { dir } => {
                WireResultKind::SaveRecords { dir: path_to_wire(dir) }
            }
            ResultKind::SampleKeys(n) => WireResultKind::SampleKeys(*n),
        }
    }
}

impl From<WireResultKind> for ResultKind {
    fn from(k: WireResultKind) -> Self {
        match k {
            WireResultKind::Count => ResultKind::Count,
            WireResultKind::Collect => ResultKind::Collect,
            WireResultKind::Take(n) => ResultKind::Take(n),
            WireResultKind::SaveText { dir, codec } => ResultKind::SaveText {
                dir: path_from_wire(dir),
                codec: match codec {
                    1 => Codec::Gzip,
                    2 => Codec::Zstd,
                    _ => Codec::None,
                },
            },
            WireResultKind::SaveRecords { dir } => {
                ResultKind::SaveRecords { dir: path_from_wire(dir) }
            }
            WireResultKind::SampleKeys(n) => ResultKind::SampleKeys(n),
        }
    }
}

impl From<&TaskSink> for WireSink {
    fn from(s: &TaskSink) -> Self {
        match s {
            TaskSink::ShuffleWrite { shuffle, partitioner, map_side_combine } => {
                WireSink::ShuffleWrite {
                    shuffle: shuffle.0,
                    partitioner: partitioner.into(),
                    map_side_combine: *map_side_combine,
                }
            }
            TaskSink::Result(k) => WireSink::Result(k.into()),
        }
    }
}

impl From<WireSink> for TaskSink {
    fn from(s: WireSink) -> Self {
        match s {
            WireSink::ShuffleWrite { shuffle, partitioner, map_side_combine } => {
                TaskSink::ShuffleWrite {
                    shuffle: ShuffleId(shuffle),
                    partitioner: partitioner.into(),
                    map_side_combine,
                }
            }
            WireSink::Result(k) => TaskSink::Result(k.into()),
        }
    }
}

impl From<&ShuffleRead> for WireShuffleRead {
    fn from(r: &ShuffleRead) -> Self {
        WireShuffleRead {
            shuffle: r.shuffle.0,
            reduce: r.reduce,
            maps: r
                .maps
                .iter()
                .map(|m| WireMapBlock { map: m.map, executor: m.executor.0, bytes: m.bytes })
                .collect(),
        }
    }
}

impl From<WireShuffleRead> for ShuffleRead {
    fn from(r: WireShuffleRead) -> Self {
        ShuffleRead {
            shuffle: ShuffleId(r.shuffle),
            reduce: r.reduce,
            maps: r
                .maps
                .into_iter()
                .map(|m| MapBlock { map: m.map, executor: ExecutorId(m.executor), bytes: m.bytes })
                .collect(),
        }
    }
}

impl From<&Source> for WireSource {
    fn from(s: &Source) -> Self {
        match s {
            Source::File(f) => WireSource::File(WireFileSplit {
                path: path_to_wire(&f.path),
                start: f.start,
                end: f.end,
            }),
            Source::Slice(b) => WireSource::Slice(b.as_ref().into()),
            Source::Cached { block, executor } => {
                WireSource::Cached { block: (*block).into(), executor: executor.0 }
            }
            Source::Shuffle(r) => WireSource::Shuffle(r.into()),
            Source::Files { format, splits } => WireSource::Files {
                format: FileFormat::ALL.iter().position(|f| f == format).unwrap_or(0) as u8,
                splits: splits
                    .iter()
                    .map(|f| WireFileSplit {
                        path: path_to_wire(&f.path),
                        start: f.start,
                        end: f.end,
                    })
                    .collect(),
            },
        }
    }
}

impl TryFrom<WireSource> for Source {
    type Error = ConvertError;
    fn try_from(s: WireSource) -> Result<Self, ConvertError> {
        Ok(match s {
            WireSource::File(f) => {
                Source::File(FileSplit { path: path_from_wire(f.path), start: f.start, end: f.end })
            }
            WireSource::Slice(b) => Source::Slice(Arc::new(b.try_into()?)),
            WireSource::Cached { block, executor } => {
                Source::Cached { block: block.into(), executor: ExecutorId(executor) }
            }
            WireSource::Shuffle(r) => Source::Shuffle(r.into()),
            WireSource::Files { format, splits } => Source::Files {
                format: *FileFormat::ALL
                    .get(format as usize)
                    .ok_or(ConvertError::Invalid { what: "file format" })?,
                splits: splits
                    .into_iter()
                    .map(|f| FileSplit { path: path_from_wire(f.path), start: f.start, end: f.end })
                    .collect(),
            },
        })
    }
}

impl From<&Plan> for WirePlan {
    fn from(plan: &Plan) -> Self {
        /// Appends `plan`'s nodes (children first) and returns the index of its root.
        fn push(plan: &Plan, nodes: &mut Vec<WirePlanNode>) -> u32 {
            let node = match plan {
                Plan::Read(s) => WirePlanNode::Read(s.into()),
                Plan::Guest { input, component, ops } => WirePlanNode::Guest {
                    input: push(input, nodes),
                    component: component.hash.clone(),
                    ops: ops.iter().map(WireOp::from).collect(),
                },
                Plan::Host { input, step } => {
                    WirePlanNode::Host { input: push(input, nodes), step: step.into() }
                }
                Plan::Reduce { input, step } => {
                    WirePlanNode::Reduce { input: push(input, nodes), step: step.into() }
                }
                Plan::Concat(inputs) => {
                    WirePlanNode::Concat(inputs.iter().map(|p| push(p, nodes)).collect())
                }
                Plan::Cogroup { inputs, output } => WirePlanNode::Cogroup {
                    inputs: inputs.iter().map(|p| push(p, nodes)).collect(),
                    output: (*output).into(),
                },
                Plan::Cache { input, block, level } => WirePlanNode::Cache {
                    input: push(input, nodes),
                    block: (*block).into(),
                    level: (*level).into(),
                },
            };
            nodes.push(node);
            nodes.len() as u32 - 1
        }
        let mut nodes = Vec::new();
        push(plan, &mut nodes);
        WirePlan { nodes }
    }
}

impl WirePlan {
    /// Rebuilds the plan tree, resolving component hashes; checks that the
    /// nodes form one tree (each node but the last used exactly once, by a
    /// later node) no deeper than `MAX_PLAN_DEPTH`. Iterative: never recurses.
    pub(crate) fn into_plan(
        self,
        components: &dyn ComponentResolver,
    ) -> Result<Plan, ConvertError> {
        let count = self.nodes.len();
        let mut built: Vec<Option<(Plan, usize)>> = Vec::with_capacity(count);
        for (i, node) in self.nodes.into_iter().enumerate() {
            let mut take = |input: u32| -> Result<(Plan, usize), ConvertError> {
                let bad = ConvertError::BadPlanInput { node: i, input };
                let slot = built.get_mut(input as usize).ok_or(bad)?;
                slot.take().ok_or(ConvertError::BadPlanInput { node: i, input })
            };
            let (plan, depth) = match node {
                WirePlanNode::Read(s) => (Plan::Read(s.try_into()?), 1),
                WirePlanNode::Guest { input, component, ops } => {
                    let (input, d) = take(input)?;
                    let component = components
                        .resolve(&component)
                        .ok_or(ConvertError::UnknownComponent { hash: component })?;
                    (
                        Plan::Guest {
                            input: Box::new(input),
                            component,
                            ops: ops.into_iter().map(Op::from).collect(),
                        },
                        d + 1,
                    )
                }
                WirePlanNode::Host { input, step } => {
                    let (input, d) = take(input)?;
                    (Plan::Host { input: Box::new(input), step: step.into() }, d + 1)
                }
                WirePlanNode::Reduce { input, step } => {
                    let (input, d) = take(input)?;
                    (Plan::Reduce { input: Box::new(input), step: step.into() }, d + 1)
                }
                WirePlanNode::Concat(inputs) => {
                    let (plans, d) = take_all(inputs, &mut take)?;
                    (Plan::Concat(plans), d + 1)
                }
                WirePlanNode::Cogroup { inputs, output } => {
                    let (plans, d) = take_all(inputs, &mut take)?;
                    (Plan::Cogroup { inputs: plans, output: output.into() }, d + 1)
                }
                WirePlanNode::Cache { input, block, level } => {
                    let (input, d) = take(input)?;
                    (
                        Plan::Cache {
                            input: Box::new(input),
                            block: block.into(),
                            level: level.into(),
                        },
                        d + 1,
                    )
                }
            };
            if depth > MAX_PLAN_DEPTH {
                return Err(ConvertError::TooDeep { max: MAX_PLAN_DEPTH });
            }
            built.push(Some((plan, depth)));
        }
        let root = built.pop().flatten();
        match root {
            Some((plan, _)) if built.iter().all(Option::is_none) => Ok(plan),
            _ => Err(ConvertError::NotATree { nodes: count }),
        }
    }
}

fn take_all(
    inputs: Vec<u32>,
    take: &mut impl FnMut(u32) -> Result<(Plan, usize), ConvertError>,
) -> Result<(Vec<Plan>, usize), ConvertError> {
    let mut depth = 0;
    let mut plans = Vec::with_capacity(inputs.len());
    for input in inputs {
        let (p, d) = take(input)?;
        depth = depth.max(d);
        plans.push(p);
    }
    Ok((plans, depth))
}

impl From<TaskAttempt> for WireTaskAttempt {
    fn from(a: TaskAttempt) -> Self {
        WireTaskAttempt {
            task: a.task.0,
            job: a.job.0,
            stage: a.stage.0,
            stage_attempt: a.stage_attempt,
            partition: a.partition,
            attempt: a.attempt,
        }
    }
}

impl From<WireTaskAttempt> for TaskAttempt {
    fn from(a: WireTaskAttempt) -> Self {
        TaskAttempt {
            task: TaskId(a.task),
            job: JobId(a.job),
            stage: StageId(a.stage),
            stage_attempt: a.stage_attempt,
            partition: a.partition,
            attempt: a.attempt,
        }
    }
}

impl From<&TaskDesc> for WireTask {
    fn from(t: &TaskDesc) -> Self {
        WireTask {
            id: t.id.into(),
            plan: (&t.plan).into(),
            sink: (&t.sink).into(),
            limits: WireTaskLimits {
                memory: t.limits.memory,
                timeout_ms: t.limits.timeout.map(|d| d.as_millis().min(u64::MAX as u128) as u64),
                fuel: t.limits.fuel,
                scratch: t.limits.scratch,
            },
            shared: WireSharedVars {
                broadcasts: t
                    .shared
                    .broadcasts
                    .iter()
                    .map(|(id, b)| (id.0, b.hash.clone()))
                    .collect(),
                accumulators: t.shared.accumulators.iter().map(|k| k.number()).collect(),
            },
        }
    }
}

impl WireTask {
    /// The scheduler's task description, with component hashes resolved by `components`.
    pub(crate) fn into_task(
        self,
        components: &dyn ComponentResolver,
    ) -> Result<TaskDesc, ConvertError> {
        Ok(TaskDesc {
            id: self.id.into(),
            plan: self.plan.into_plan(components)?,
            sink: self.sink.into(),
            limits: TaskLimits {
                memory: self.limits.memory,
                timeout: self.limits.timeout_ms.map(std::time::Duration::from_millis),
                fuel: self.limits.fuel,
                scratch: self.limits.scratch,
            },
            shared: self.shared.into_shared(components)?,
        })
    }
}

impl WireSharedVars {
    fn into_shared(self, components: &dyn ComponentResolver) -> Result<SharedVars, ConvertError> {
        let broadcasts = self
            .broadcasts
            .into_iter()
            .map(|(id, hash)| match components.resolve(&hash) {
                Some(b) => Ok((BroadcastId(id), b)),
                None => Err(ConvertError::UnknownComponent { hash }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let accumulators = self
            .accumulators
            .into_iter()
            .map(|n| {
                AccumulatorKind::from_number(n)
                    .ok_or(ConvertError::Invalid { what: "accumulator kind" })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SharedVars { broadcasts: Arc::new(broadcasts), accumulators: Arc::new(accumulators) })
    }
}

impl From<&AccumUpdate> for WireAccumUpdate {
    fn from(u: &AccumUpdate) -> Self {
        let id = u.id.0;
        match &u.value {
            AccumValue::Long(value) => WireAccumUpdate::Long { id, value: *value },
            AccumValue::Double(x) => WireAccumUpdate::Double { id, bits: x.to_bits() },
            AccumValue::Items(items) => WireAccumUpdate::Items { id, items: items.clone() },
        }
    }
}

impl From<WireAccumUpdate> for AccumUpdate {
    fn from(u: WireAccumUpdate) -> Self {
        let (id, value) = match u {
            WireAccumUpdate::Long { id, value } => (id, AccumValue::Long(value)),
            WireAccumUpdate::Double { id, bits } => (id, AccumValue::Double(f64::from_bits(bits))),
            WireAccumUpdate::Items { id, items } => (id, AccumValue::Items(items)),
        };
        AccumUpdate { id: AccumulatorId(id), value }
    }
}

impl From<&TaskMetrics> for WireTaskMetrics {
    fn from(m: &TaskMetrics) -> Self {
        WireTaskMetrics {
            records_read: m.records_read,
            bytes_read: m.bytes_read,
            records_written: m.records_written,
            bytes_written: m.bytes_written,
            shuffle_read_bytes: m.shuffle_read_bytes,
            shuffle_write_bytes: m.shuffle_write_bytes,
            times_us: [
                m.times.instantiation_us,
                m.times.guest_us,
                m.times.input_read_us,
                m.times.fetch_wait_us,
                m.times.shuffle_write_us,
                m.times.output_write_us,
            ],
        }
    }
}

impl From<WireTaskMetrics> for TaskMetrics {
    fn from(m: WireTaskMetrics) -> Self {
        TaskMetrics {
            records_read: m.records_read,
            bytes_read: m.bytes_read,
            records_written: m.records_written,
            bytes_written: m.bytes_written,
            shuffle_read_bytes: m.shuffle_read_bytes,
            shuffle_write_bytes: m.shuffle_write_bytes,
            times: TaskTimes {
                instantiation_us: m.times_us[0],
                guest_us: m.times_us[1],
                input_read_us: m.times_us[2],
                fetch_wait_us: m.times_us[3],
                shuffle_write_us: m.times_us[4],
                output_write_us: m.times_us[5],
            },
        }
    }
}

impl From<&TaskFailure> for WireTaskFailure {
    fn from(f: &TaskFailure) -> Self {
        match f {
            TaskFailure::Guest { message } => WireTaskFailure::Guest { message: message.clone() },
            TaskFailure::Host { message } => WireTaskFailure::Host { message: message.clone() },
            TaskFailure::FetchFailed { shuffle, map, executor, message } => {
                WireTaskFailure::FetchFailed {
                    shuffle: shuffle.0,
                    map: *map,
                    executor: executor.0,
                    message: message.clone(),
                }
            }
            TaskFailure::ExecutorLost => WireTaskFailure::ExecutorLost,
            TaskFailure::Killed => WireTaskFailure::Killed,
        }
    }
}

impl From<WireTaskFailure> for TaskFailure {
    fn from(f: WireTaskFailure) -> Self {
        match f {
            WireTaskFailure::Guest { message } => TaskFailure::Guest { message },
            WireTaskFailure::Host { message } => TaskFailure::Host { message },
            WireTaskFailure::FetchFailed { shuffle, map, executor, message } => {
                TaskFailure::FetchFailed {
                    shuffle: ShuffleId(shuffle),
                    map,
                    executor: ExecutorId(executor),
                    message,
                }
            }
            WireTaskFailure::ExecutorLost => TaskFailure::ExecutorLost,
            WireTaskFailure::Killed => TaskFailure::Killed,
        }
    }
}

impl From<&TaskOutput> for WireTaskOutput {
    fn from(o: &TaskOutput) -> Self {
        match o {
            TaskOutput::MapStatus { sizes } => WireTaskOutput::MapStatus { sizes: sizes.clone() },
            TaskOutput::Result(ResultValue::Count(n)) => {
                WireTaskOutput::Result(WireResultValue::Count(*n))
            }
            TaskOutput::Result(ResultValue::Records(b)) => {
                WireTaskOutput::Result(WireResultValue::Records(b.into()))
            }
            TaskOutput::Result(ResultValue::Saved) => {
                WireTaskOutput::Result(WireResultValue::Saved)
            }
            TaskOutput::Result(ResultValue::Staged(p)) => {
                WireTaskOutput::Result(WireResultValue::Staged(Box::new(WireStagedPart {
                    key: p.key.clone(),
                    upload_id: p.upload_id.clone(),
                    parts: p.parts.clone(),
                })))
            }
        }
    }
}

impl TryFrom<WireTaskOutput> for TaskOutput {
    type Error = ConvertError;
    fn try_from(o: WireTaskOutput) -> Result<Self, ConvertError> {
        Ok(match o {
            WireTaskOutput::MapStatus { sizes } => TaskOutput::MapStatus { sizes },
            WireTaskOutput::Result(WireResultValue::Count(n)) => {
                TaskOutput::Result(ResultValue::Count(n))
            }
            WireTaskOutput::Result(WireResultValue::Records(b)) => {
                TaskOutput::Result(ResultValue::Records(b.try_into()?))
            }
            WireTaskOutput::Result(WireResultValue::Saved) => {
                TaskOutput::Result(ResultValue::Saved)
            }
            WireTaskOutput::Result(WireResultValue::Staged(p)) => {
                let WireStagedPart { key, upload_id, parts } = *p;
                TaskOutput::Result(ResultValue::Staged(StagedPart { key, upload_id, parts }))
            }
        })
    }
}

impl From<&TaskReport> for WireTaskReport {
    fn from(r: &TaskReport) -> Self {
        WireTaskReport {
            task: r.task.0,
            executor: r.executor.0,
            result: match &r.result {
                Ok(o) => Ok(o.into()),
                Err(f) => Err(f.into()),
            },
            cached: r.cached.iter().map(|b| (*b).into()).collect(),
            metrics: (&r.metrics).into(),
            log: r.log.clone(),
            accumulators: r.accumulators.iter().map(WireAccumUpdate::from).collect(),
        }
    }
}

impl TryFrom<WireTaskReport> for TaskReport {
    type Error = ConvertError;
    fn try_from(r: WireTaskReport) -> Result<Self, ConvertError> {
        Ok(TaskReport {
            accumulators: r.accumulators.into_iter().map(AccumUpdate::from).collect(),
            task: TaskId(r.task),
            executor: ExecutorId(r.executor),
            result: match r.result {
                Ok(o) => Ok(o.try_into()?),
                Err(f) => Err(f.into()),
            },
            cached: r.cached.into_iter().map(BlockId::from).collect(),
            metrics: r.metrics.into(),
            log: r.log,
        })
    }
}
