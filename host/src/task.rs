//! The task description the scheduler hands to an executor, and what comes back (pure data).
//!
//! A task computes one partition of a stage's final RDD. Its `Plan` is that
//! partition's lineage expanded down to its sources (input split, driver
//! slice, cached block, shuffle blocks); its `TaskSink` says where the
//! records go (shuffle files, or a result for the driver).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::settings::{Conf, ConfigError, keys};

use crate::accumulators::{AccumUpdate, AccumulatorKind};
use crate::ids::{BroadcastId, ExecutorId, JobId, RddId, ShuffleId, StageId, TaskId};
use crate::lineage::{
    CogroupOutput, FileFormat, FileSplit, HostStep, Op, Partitioner, StorageLevel,
};
use crate::records::Batch;

/// A component's bytes and content hash (sha256 hex), shared without copying.
#[derive(Debug)]
pub struct ComponentBytes {
    /// Lowercase hex sha256 of `bytes`: the cache key on executors.
    pub hash: String,
    /// The component binary.
    pub bytes: Vec<u8>,
}

/// The reserved hash of the built-in function library (`wisp:builtins`): not a sha256, so no component has it.
const BUILTINS_HASH: &str = "wisp:builtins";

impl ComponentBytes {
    /// The built-in function library: no bytes; its ops run in the host (`builtins`).
    pub(crate) fn builtins() -> ComponentBytes {
        ComponentBytes { hash: BUILTINS_HASH.into(), bytes: Vec::new() }
    }

    /// Whether this is the built-in function library rather than a wasm component.
    pub(crate) fn is_builtins(&self) -> bool {
        self.hash == BUILTINS_HASH
    }
}

/// A cached partition: (rdd, partition).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockId {
    /// The persisted RDD.
    pub rdd: RddId,
    /// Its partition.
    pub partition: u32,
}

/// One map task's output for the reduce partition being read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapBlock {
    /// The map partition that wrote it.
    pub map: u32,
    /// Where the map output lives.
    pub executor: ExecutorId,
    /// Size in bytes of the block for this reduce partition (0: nothing to fetch).
    pub bytes: u64,
}

/// Everything a reduce task needs to read one shuffle's blocks for its partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShuffleRead {
    /// The shuffle.
    pub shuffle: ShuffleId,
    /// The reduce partition.
    pub reduce: u32,
    /// One entry per map partition.
    pub maps: Vec<MapBlock>,
}

/// Where a plan's records come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// Lines of a byte range of a file.
    File(FileSplit),
    /// Records sent by the driver.
    Slice(Arc<Batch>),
    /// A cached partition held by an executor.
    Cached { block: BlockId, executor: ExecutorId },
    /// Blocks of a shuffle.
    Shuffle(ShuffleRead),
    /// Whole files or byte ranges read in another format than text lines.
    Files { format: FileFormat, splits: Vec<FileSplit> },
}

/// Host-side reduce steps that need the whole input before they emit.
#[derive(Clone, Debug, PartialEq)]
pub enum ReduceStep {
    /// Group values by key: `(k, list<v>)`.
    Group,
    /// Sort pairs by key bytes.
    Sort { ascending: bool },
    /// Drop duplicate records.
    Distinct,
}

/// How to compute the records of one partition.
#[derive(Clone, Debug)]
pub enum Plan {
    /// Read a source.
    Read(Source),
    /// Run consecutive ops of one component over the input, as one guest task.
    Guest { input: Box<Plan>, component: Arc<ComponentBytes>, ops: Vec<Op> },
    /// A narrow host step (sampling) over the input.
    Host { input: Box<Plan>, step: HostStep },
    /// A host reduce step over the whole input.
    Reduce { input: Box<Plan>, step: ReduceStep },
    /// The records of every input, in order (union, coalesce).
    Concat(Vec<Plan>),
    /// Group several pair inputs by key (cogroup, join).
    Cogroup { inputs: Vec<Plan>, output: CogroupOutput },
    /// Pass the input through and keep a copy as a cached block.
    Cache { input: Box<Plan>, block: BlockId, level: StorageLevel },
}

/// What a result task sends back (or writes).
#[derive(Clone, Debug, PartialEq)]
pub enum ResultKind {
    /// Number of records.
    Count,
    /// Every record.
    Collect,
    /// At most this many records, the partition's first.
    Take(u32),
    /// Write the records as text lines to `{dir}/part-NNNNN` (a job-private
    /// temporary directory the driver renames on success), or, when `dir` is an
    /// `s3://` URL, as an open multipart upload of `{dir}/part-NNNNN` that the
    /// driver completes on success (`ResultValue::Staged`). Compressed by `codec`
    /// (`part-NNNNN.gz`, `.zst`).
    SaveText { dir: PathBuf, codec: Codec },
    /// Up to this many keys of pair records, sampled uniformly (for range bounds).
    SampleKeys(u32),
    /// Write the records, each as `u32le length ++ bytes`, to `{dir}/part-NNNNN`
    /// (a reliable checkpoint; committed like `SaveText`: by rename, or staged as an upload on a store).
    SaveRecords { dir: PathBuf },
}

/// Where a task's output records go.
#[derive(Clone, Debug)]
pub enum TaskSink {
    /// Partition into one data file and one index file on the executor's disk.
    ShuffleWrite {
        shuffle: ShuffleId,
        partitioner: Partitioner,
        /// The plan's last guest op is the shuffle's map-side combiner: its output is partial
        /// (the reduce side merges), so the executor may restart it in generations to bound
        /// its guest's memory, emitting a key more than once.
        map_side_combine: bool,
    },
    /// Produce a result for the driver.
    Result(ResultKind),
}

/// Who an attempt is: its unique id and where it belongs (job, stage attempt,
/// partition, attempt number). Plain data, shared by the task description,
/// the task scheduler's assignments and ended attempts, and the event records.
///
/// Types that embed it name the field `id` (`desc.id.partition`), since
/// `attempt` would read `desc.attempt.attempt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskAttempt {
    /// Unique id of this task attempt.
    pub task: TaskId,
    /// The job that submitted the stage (first job, for shared stages).
    pub job: JobId,
    /// The stage.
    pub stage: StageId,
    /// The stage's attempt number.
    pub stage_attempt: u32,
    /// The partition of the stage's RDD.
    pub partition: u32,
    /// Attempt number of this partition within the stage attempt (0 first).
    pub attempt: u32,
}

impl TaskAttempt {
    /// The span of the attempt's stage (job, stage, stage attempt), on the driver and on executors.
    pub(crate) fn stage_span(&self) -> tracing::Span {
        tracing::debug_span!(
            "stage",
            job = %self.job,
            stage = %self.stage,
            stage_attempt = self.stage_attempt
        )
    }
}

/// A task to run: one partition of one stage attempt.
#[derive(Clone, Debug)]
pub struct TaskDesc {
    /// Which attempt this is.
    pub id: TaskAttempt,
    /// How to compute the records.
    pub plan: Plan,
    /// Where they go.
    pub sink: TaskSink,
    /// The job's sandbox settings for its guests.
    pub limits: TaskLimits,
    /// The broadcast variables and accumulators its guests may use.
    pub shared: SharedVars,
}

/// The application's shared variables a task can reach: live broadcast
/// variables (their bytes travel like components: by hash, once per executor)
/// and the kinds of its accumulators (index = id).
#[derive(Clone, Debug, Default)]
pub struct SharedVars {
    /// Live broadcast variables.
    pub broadcasts: Arc<Vec<(BroadcastId, Arc<ComponentBytes>)>>,
    /// Every accumulator's kind.
    pub accumulators: Arc<Vec<AccumulatorKind>>,
}

/// A job's sandbox settings for each of its tasks (`wisp.task.*`), as the job
/// gave them. Unset values take the executor's own (its configuration, else the
/// defaults); an executor never grants more memory than its own limit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskLimits {
    /// Largest linear memory of one guest, in bytes (`wisp.task.memory`, default 1g).
    pub memory: Option<u64>,
    /// Wall-time limit of one guest task (`wisp.task.timeout`; `0` means none, the default).
    pub timeout: Option<Duration>,
    /// Fuel (roughly, wasm instructions) one guest task may burn (`wisp.task.fuel`; default unmetered).
    pub fuel: Option<u64>,
    /// Whether each task gets a private scratch directory, `/scratch` in the guest (`wisp.task.scratch`).
    pub scratch: bool,
}

/// The default (and for cluster jobs the executor's) memory limit of one guest: 1 GiB, the declared default of `wisp.task.memory`.
pub(crate) const DEFAULT_TASK_MEMORY: u64 = 1 << 30;

impl TaskLimits {
    /// The `wisp.task.*` sandbox keys of a configuration, as given (unset
    /// keys stay unset: a job's take the executor's own, a process's take the declared defaults).
    pub fn from_conf(conf: &Conf) -> Result<TaskLimits, ConfigError> {
        Ok(TaskLimits {
            memory: conf.given(&keys::TASK_MEMORY)?,
            timeout: conf.given(&keys::TASK_TIMEOUT)?,
            fuel: conf.given(&keys::TASK_FUEL)?,
            scratch: conf.read(&keys::TASK_SCRATCH)?,
        })
    }
}

/// A result task's value.
#[derive(Clone, Debug, PartialEq)]
pub enum ResultValue {
    /// Record count.
    Count(u64),
    /// Records.
    Records(Batch),
    /// Part file written.
    Saved,
    /// Part file uploaded to a store, not yet visible: the driver completes it at job commit.
    Staged(StagedPart),
}

/// Compression of written part files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Codec {
    /// Plain text.
    #[default]
    None,
    /// gzip.
    Gzip,
    /// Zstandard.
    Zstd,
}

impl Codec {
    /// The extension of the files it writes (`""`, `".gz"`, `".zst"`).
    pub fn extension(self) -> &'static str {
        match self {
            Codec::None => "",
            Codec::Gzip => ".gz",
            Codec::Zstd => ".zst",
        }
    }
}

/// A part file uploaded as a multipart upload left open (invisible until completed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StagedPart {
    /// The object's key in the output's bucket.
    pub key: String,
    /// The store's id of the upload.
    pub upload_id: String,
    /// The store's ids of its parts, in order.
    pub parts: Vec<String>,
}

/// What a successful task produced.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskOutput {
    /// A map task's output: bytes per reduce partition, on the executor that ran it.
    MapStatus { sizes: Vec<u64> },
    /// A result task's value.
    Result(ResultValue),
}

/// Counters of one task attempt, reported to the event log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskMetrics {
    /// Records read from the task's sources.
    pub records_read: u64,
    /// Bytes read from the task's sources.
    pub bytes_read: u64,
    /// Records handed to the sink.
    pub records_written: u64,
    /// Bytes handed to the sink.
    pub bytes_written: u64,
    /// Shuffle bytes fetched.
    pub shuffle_read_bytes: u64,
    /// Shuffle bytes written.
    pub shuffle_write_bytes: u64,
    /// Where the attempt's time went.
    pub times: TaskTimes,
}

/// Where one task attempt's time went, in microseconds on the executor's clock.
///
/// Each part is measured around one kind of call, excluding the time spent
/// downstream of it, so the parts do not overlap; their sum is at most the
/// attempt's duration (the rest is host steps and bookkeeping).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskTimes {
    /// Instantiating guests (a fresh store per guest instance).
    pub instantiation_us: u64,
    /// Inside guest calls (`push`, `finish`).
    pub guest_us: u64,
    /// Reading input splits, cached blocks and local shuffle blocks.
    pub input_read_us: u64,
    /// Waiting for remote shuffle blocks.
    pub fetch_wait_us: u64,
    /// Routing records into shuffle files and writing them.
    pub shuffle_write_us: u64,
    /// Writing output files (`save-as-text-file`).
    pub output_write_us: u64,
}

/// Why a task attempt failed; decides retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskFailure {
    /// Guest code failed deterministically (trap, panic, limit breach, error
    /// result, bad record) or the task's own input was bad; the message is the guest's.
    Guest { message: String },
    /// The executor failed to run the task (disk or IO error, lost connection
    /// to a source): another attempt elsewhere may well succeed.
    Host { message: String },
    /// A shuffle block could not be read: that map output is lost.
    FetchFailed { shuffle: ShuffleId, map: u32, executor: ExecutorId, message: String },
    /// The executor went away.
    ExecutorLost,
    /// The scheduler cancelled the attempt.
    Killed,
}

impl TaskFailure {
    /// A one-line description for logs and errors.
    pub fn message(&self) -> String {
        match self {
            TaskFailure::Guest { message } | TaskFailure::Host { message } => message.clone(),
            TaskFailure::FetchFailed { shuffle, map, executor, message } => {
                format!("fetch of {shuffle} map {map} from {executor} failed: {message}")
            }
            TaskFailure::ExecutorLost => "executor lost".to_string(),
            TaskFailure::Killed => "task killed".to_string(),
        }
    }
}

/// A finished task attempt, as reported by its executor.
#[derive(Clone, Debug)]
pub struct TaskReport {
    /// The attempt.
    pub task: TaskId,
    /// The executor that ran it.
    pub executor: ExecutorId,
    /// Success or failure.
    pub result: Result<TaskOutput, TaskFailure>,
    /// Blocks the task cached on its executor.
    pub cached: Vec<BlockId>,
    /// The attempt's accumulator updates (merged by the driver only for the
    /// first successful attempt of its stage partition).
    pub accumulators: Vec<AccumUpdate>,
    /// Counters.
    pub metrics: TaskMetrics,
    /// The end of what the task's guests wrote to stdout and stderr (bounded; empty if nothing).
    pub log: String,
}
