//! Wire mirrors of the task description and task report (`crate::task`), with conversions both ways.
//!
//! The scheduler-side types stay free of serde; these mirrors are what
//! travels. Differences from the host types:
//!
//! - A guest step names its component by content hash; the receiver resolves
//!   the hash through its component cache (`ComponentResolver`) and an
//!   unknown hash is a conversion error.
//! - The plan tree is sent flat (`WirePlan::nodes`, children before parents,
//!   referred to by index), so decoding never recurses and a hostile frame
//!   cannot overflow the stack; conversion checks that it is a tree no deeper
//!   than `MAX_PLAN_DEPTH`.
//! - Paths travel as raw OS bytes (Unix) so that no file name is mangled.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::records::MalformedBatch;
use crate::task::{ComponentBytes, Plan, TaskDesc};

mod convert;

/// The deepest plan a received task may have.
pub(crate) const MAX_PLAN_DEPTH: usize = 256;

/// A received task or report that cannot become a scheduler value.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The task refers to a component this side does not have.
    #[error("unknown component {hash}")]
    UnknownComponent {
        /// Its hash.
        hash: String,
    },
    /// A plan node refers to a node that is not an earlier one, or to one already used.
    #[error("malformed plan: node {node} refers to input {input}")]
    BadPlanInput {
        /// The referring node.
        node: usize,
        /// The bad index.
        input: u32,
    },
    /// The plan has no root (no nodes, or nodes left unused).
    #[error("malformed plan: {nodes} nodes do not form one tree")]
    NotATree {
        /// Number of nodes.
        nodes: usize,
    },
    /// The plan is deeper than `MAX_PLAN_DEPTH`.
    #[error("plan deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// A value no variant of its type has.
    #[error("invalid {what} in task message")]
    Invalid {
        /// What it should be.
        what: &'static str,
    },
    /// A batch's offsets do not fit its data.
    #[error("bad records in task message")]
    Batch {
        /// The batch's fault.
        #[source]
        source: MalformedBatch,
    },
}

/// Finds a component by hash (the executor's component cache).
pub(crate) trait ComponentResolver {
    /// The component with this hash, if known.
    fn resolve(&self, hash: &str) -> Option<Arc<ComponentBytes>>;
}

impl ComponentResolver for HashMap<String, Arc<ComponentBytes>> {
    fn resolve(&self, hash: &str) -> Option<Arc<ComponentBytes>> {
        self.get(hash).cloned()
    }
}

impl<F: Fn(&str) -> Option<Arc<ComponentBytes>>> ComponentResolver for F {
    fn resolve(&self, hash: &str) -> Option<Arc<ComponentBytes>> {
        self(hash)
    }
}

/// Every component a task's plan runs, once each, in plan order, then its
/// broadcast values (the master ships those the executor has not seen with the
/// `LaunchTask`).
pub(crate) fn components_of(task: &TaskDesc) -> Vec<Arc<ComponentBytes>> {
    fn walk(plan: &Plan, out: &mut Vec<Arc<ComponentBytes>>) {
        match plan {
            Plan::Read(_) => {}
            Plan::Guest { input, component, .. } => {
                walk(input, out);
                // The built-in library is not shipped: every executor has it.
                if !component.is_builtins() && !out.iter().any(|c| c.hash == component.hash) {
                    out.push(component.clone());
                }
            }
            Plan::Host { input, .. } | Plan::Reduce { input, .. } | Plan::Cache { input, .. } => {
                walk(input, out)
            }
            Plan::Concat(inputs) | Plan::Cogroup { inputs, .. } => {
                inputs.iter().for_each(|p| walk(p, out))
            }
        }
    }
    let mut out = Vec::new();
    walk(&task.plan, &mut out);
    // Broadcast values travel the same way, by hash, once per executor.
    for (_, b) in task.shared.broadcasts.iter() {
        if !out.iter().any(|c| c.hash == b.hash) {
            out.push(b.clone());
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Mirrors
// ---------------------------------------------------------------------------

/// Mirror of `TaskDesc`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(crate) struct WireTask {
    pub id: WireTaskAttempt,
    pub plan: WirePlan,
    pub sink: WireSink,
    pub limits: WireTaskLimits,
    pub shared: WireSharedVars,
}

/// Mirror of `SharedVars`: broadcasts by (id, content hash), resolved like
/// components (their bytes travel in `LaunchTask.components` the first time);
/// accumulator kinds by number.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct WireSharedVars {
    pub broadcasts: Vec<(u32, String)>,
    pub accumulators: Vec<u8>,
}

/// Mirror of `AccumUpdate` (a double as its bits).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum WireAccumUpdate {
    Long { id: u32, value: i64 },
    Double { id: u32, bits: u64 },
    Items { id: u32, items: Vec<Vec<u8>> },
}

/// Mirror of `TaskAttempt`. Postcard writes a nested struct as its fields in
/// order, so `WireTask`'s encoding is the same as when these were its own fields.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireTaskAttempt {
    pub task: u32,
    pub job: u32,
    pub stage: u32,
    pub stage_attempt: u32,
    pub partition: u32,
    pub attempt: u32,
}

/// Mirror of `TaskLimits` (timeout in milliseconds).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct WireTaskLimits {
    pub memory: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub fuel: Option<u64>,
    pub scratch: bool,
}

/// Mirror of `Plan`, flattened: `nodes[root]` is the plan, inputs are
/// indices of earlier nodes, each used once.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(crate) struct WirePlan {
    pub nodes: Vec<WirePlanNode>,
}

/// One node of a flattened `Plan`; the root is the last node.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(crate) enum WirePlanNode {
    Read(WireSource),
    Guest { input: u32, component: String, ops: Vec<WireOp> },
    Host { input: u32, step: WireHostStep },
    Reduce { input: u32, step: WireReduceStep },
    Concat(Vec<u32>),
    Cogroup { inputs: Vec<u32>, output: WireCogroupOutput },
    Cache { input: u32, block: WireBlockId, level: WireStorageLevel },
}

/// Mirror of `Source`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum WireSource {
    File(WireFileSplit),
    Slice(WireBatch),
    Cached {
        block: WireBlockId,
        executor: u32,
    },
    Shuffle(WireShuffleRead),
    /// `Source::Files`: the format's number in `FileFormat::ALL`, and its splits.
    Files {
        format: u8,
        splits: Vec<WireFileSplit>,
    },
}

/// Mirror of `FileSplit`; the path is raw OS bytes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct WireFileSplit {
    #[serde(with = "serde_bytes")]
    pub path: Vec<u8>,
    pub start: u64,
    pub end: u64,
}

/// Mirror of `records::Batch`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct WireBatch {
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    pub ends: Vec<u32>,
}

/// Mirror of `BlockId`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireBlockId {
    pub rdd: u32,
    pub partition: u32,
}

/// Mirror of `ShuffleRead`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct WireShuffleRead {
    pub shuffle: u32,
    pub reduce: u32,
    pub maps: Vec<WireMapBlock>,
}

/// Mirror of `MapBlock`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireMapBlock {
    pub map: u32,
    pub executor: u32,
    pub bytes: u64,
}

/// Mirror of `lineage::Op`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct WireOp {
    pub kind: WireOpKind,
    pub name: String,
    #[serde(with = "serde_bytes")]
    pub args: Vec<u8>,
}

/// Mirror of `lineage::OpKind`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireOpKind {
    Map,
    Filter,
    FlatMap,
    MapPartitions,
    MapValues,
    FlatMapValues,
    KeyBy,
    Combine,
    Merge,
    Fold,
    Reduce,
}

/// Mirror of `lineage::HostStep`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum WireHostStep {
    Sample { with_replacement: bool, fraction: f64, seed: u64 },
}

/// Mirror of `ReduceStep`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum WireReduceStep {
    Group,
    Sort { ascending: bool },
    Distinct,
}

/// Mirror of `lineage::CogroupOutput`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireCogroupOutput {
    Cogroup,
    Join(WireJoinKind),
}

/// Mirror of `lineage::JoinKind`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireJoinKind {
    Inner,
    LeftOuter,
    RightOuter,
    FullOuter,
}

/// Mirror of `lineage::StorageLevel`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireStorageLevel {
    MemoryOnly,
    MemoryAndDisk,
    DiskOnly,
}

/// Mirror of `TaskSink`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum WireSink {
    ShuffleWrite { shuffle: u32, partitioner: WirePartitioner, map_side_combine: bool },
    Result(WireResultKind),
}

/// Mirror of `lineage::Partitioner`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum WirePartitioner {
    Hash { partitions: u32 },
    Range { bounds: Vec<serde_bytes::ByteBuf>, ascending: bool },
    RecordHash { partitions: u32 },
    RoundRobin { partitions: u32 },
}

/// Mirror of `ResultKind`; the directory is raw OS bytes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum WireResultKind {
    Count,
    Collect,
    Take(u32),
    SaveText {
        #[serde(with = "serde_bytes")]
        dir: Vec<u8>,
        /// 0 none, 1 gzip, 2 zstd.
        codec: u8,
    },
    SampleKeys(u32),
    SaveRecords {
        #[serde(with = "serde_bytes")]
        dir: Vec<u8>,
    },
}

/// Mirror of `TaskReport`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct WireTaskReport {
    pub task: u32,
    pub executor: u32,
    pub result: Result<WireTaskOutput, WireTaskFailure>,
    pub cached: Vec<WireBlockId>,
    pub metrics: WireTaskMetrics,
    pub log: String,
    pub accumulators: Vec<WireAccumUpdate>,
}

/// Mirror of `TaskOutput`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum WireTaskOutput {
    MapStatus { sizes: Vec<u64> },
    Result(WireResultValue),
}

/// Mirror of `ResultValue`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum WireResultValue {
    Count(u64),
    Records(WireBatch),
    Saved,
    /// Boxed: a report's size stays that of its common variants.
    Staged(Box<WireStagedPart>),
}

/// Mirror of `StagedPart`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct WireStagedPart {
    pub key: String,
    pub upload_id: String,
    pub parts: Vec<String>,
}

/// Mirror of `TaskFailure`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum WireTaskFailure {
    Guest { message: String },
    Host { message: String },
    FetchFailed { shuffle: u32, map: u32, executor: u32, message: String },
    ExecutorLost,
    Killed,
}

/// Mirror of `TaskMetrics`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct WireTaskMetrics {
    pub records_read: u64,
    pub bytes_read: u64,
    pub records_written: u64,
    pub bytes_written: u64,
    pub shuffle_read_bytes: u64,
    pub shuffle_write_bytes: u64,
    /// `TaskTimes` in microseconds: instantiation, guest, input read, fetch wait, shuffle
    /// write, output write.
    pub times_us: [u64; 6],
}
