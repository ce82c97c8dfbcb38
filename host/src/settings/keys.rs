//! Every `--conf` key, declared once: its name, kind, default, unit, where it has an effect and what it means.
//!
//! `KEYS` is the whole table: `Conf` refuses any other `wisp.*` key, the
//! typed getters (`Conf::read`, `Conf::given`) take their defaults from it,
//! and the key tables of `docs/configuration.md` are rendered from it
//! (`settings/docs.rs` checks them). Keys and defaults follow Spark's where the
//! meaning matches. To add a key: declare a `static` here, list it in `KEYS`,
//! read it where its process's settings are built, then regenerate the docs.

use std::fmt;
use std::time::Duration;

/// One configuration key.
#[cfg_attr(
    not(test),
    expect(dead_code, reason = "the docs fields are read by the docs tables' renderer, a test")
)]
#[derive(Debug)]
pub(crate) struct Key {
    /// The name given to `--conf`, e.g. `wisp.task.maxFailures`.
    pub(crate) name: &'static str,
    /// How its value is written and checked.
    pub(crate) kind: Kind,
    /// The value when it is not given.
    pub(crate) default: DefaultValue,
    /// What a number counts (`attempts`, `cores`...), empty when the kind says it all.
    pub(crate) unit: &'static str,
    /// Which commands' `--conf` it has an effect in.
    pub(crate) scope: Scope,
    /// The docs section it is listed in.
    pub(crate) section: Section,
    /// What it means (one table cell of `docs/configuration.md`, Markdown).
    pub(crate) doc: &'static str,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// How a key's value is written and which values are accepted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kind {
    /// A whole number from 1 to 2³² − 1.
    PositiveU32,
    /// A whole number from 1 to 2⁶⁴ − 1.
    PositiveU64,
    /// A whole number within `min..=max`.
    U32 { min: u32, max: u32 },
    /// A size in bytes (`4096`, `512k`, `64m`, `1g`, `1t`; a trailing `b` is allowed) within `min..=max`.
    Bytes { min: u64, max: u64 },
    /// A duration: `500ms`, `3s`, `1.5s`, `2m`, `2min`, or a bare number of seconds.
    Duration,
    /// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (any case).
    Bool,
    /// A finite number within `min..=max`.
    Number { min: f64, max: f64 },
    /// Any non-empty text (an endpoint URL, a region name).
    Text,
    /// One of these words (any case).
    Choice(&'static [&'static str]),
}

/// A key's value when it is not given.
#[cfg_attr(
    not(test),
    expect(dead_code, reason = "the docs fields are read by the docs tables' renderer, a test")
)]
#[derive(Clone, Copy, Debug)]
pub(crate) enum DefaultValue {
    /// This value, written as a user would write it (parsed with the key's kind).
    Value(&'static str),
    /// The value of another key (itself given or defaulted).
    SameAs(&'static Key),
    /// No value: the text says what that means (`none`, `unmetered`).
    Unset(&'static str),
    /// Computed when the settings are built: the text says from what.
    Derived(&'static str),
}

/// Which commands' `--conf` a key has an effect in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Scope {
    /// `wisp run` (local mode).
    pub(crate) run: bool,
    /// `wisp submit`: the job's own value, applied by the master to that job.
    pub(crate) submit: bool,
    /// `wisp master`: the master's own setting, or the default of every job it runs.
    pub(crate) master: bool,
    /// `wisp executor`.
    pub(crate) executor: bool,
}

/// Read per application: local mode, a submitted job, or the master's default for its jobs.
const APPLICATION: Scope = Scope { run: true, submit: true, master: true, executor: false };
/// A task's sandbox: travels with each task; a process's own value is the default of its tasks.
const SANDBOX: Scope = Scope { run: true, submit: true, master: true, executor: true };
/// Read by whatever runs the tasks: local mode's executor threads and executor processes.
const EXECUTOR: Scope = Scope { run: true, submit: false, master: false, executor: true };
/// Read by executor processes only.
const EXECUTOR_PROCESS: Scope = Scope { run: false, submit: false, master: false, executor: true };
/// Read by the cluster processes about their connections.
const NETWORK: Scope = Scope { run: false, submit: false, master: true, executor: true };

/// The docs section a key is listed in (in this order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Section {
    /// `## Tasks and jobs`.
    Tasks,
    /// `## Input and shuffle`.
    InputAndShuffle,
    /// `## Memory`.
    Memory,
    /// `## Scheduling`.
    Scheduling,
    /// `## Cluster`.
    Cluster,
    /// `## Monitoring`.
    Monitoring,
    /// `## Object storage and output`.
    Storage,
}

#[cfg_attr(
    not(test),
    expect(dead_code, reason = "the docs fields are read by the docs tables' renderer, a test")
)]
impl Section {
    /// Every section, in docs order.
    pub(crate) const ALL: [Section; 7] = [
        Section::Tasks,
        Section::InputAndShuffle,
        Section::Memory,
        Section::Scheduling,
        Section::Cluster,
        Section::Monitoring,
        Section::Storage,
    ];

    /// Its heading.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Section::Tasks => "Tasks and jobs",
            Section::InputAndShuffle => "Input and shuffle",
            Section::Memory => "Memory",
            Section::Scheduling => "Scheduling",
            Section::Cluster => "Cluster",
            Section::Monitoring => "Monitoring",
            Section::Storage => "Object storage and output",
        }
    }
}

// ---- Tasks and jobs ----

/// Attempts of one task before its job fails.
pub(crate) static TASK_MAX_FAILURES: Key = Key {
    name: "wisp.task.maxFailures",
    kind: Kind::PositiveU32,
    default: DefaultValue::Value("4"),
    unit: "attempts",
    scope: APPLICATION,
    section: Section::Tasks,
    doc: "attempts of one task (counted failures) before its job fails; fetch failures, lost executors and kills do not count",
};

/// Cores each task occupies.
pub(crate) static TASK_CPUS: Key = Key {
    name: "wisp.task.cpus",
    kind: Kind::PositiveU32,
    default: DefaultValue::Value("1"),
    unit: "cores",
    scope: APPLICATION,
    section: Section::Tasks,
    doc: "cores each task occupies (local mode: at most `--cores`)",
};

/// Largest linear memory of one guest task.
pub(crate) static TASK_MEMORY: Key = Key {
    name: "wisp.task.memory",
    kind: Kind::Bytes { min: 1 << 20, max: 4 << 30 },
    default: DefaultValue::Value("1g"),
    unit: "",
    scope: SANDBOX,
    section: Section::Tasks,
    doc: "largest linear memory of one guest task; a task needing more fails naming this key. An executor never grants more than its own value",
};

/// Wall-time limit of one guest task.
pub(crate) static TASK_TIMEOUT: Key = Key {
    name: "wisp.task.timeout",
    kind: Kind::Duration,
    default: DefaultValue::Unset("none"),
    unit: "",
    scope: SANDBOX,
    section: Section::Tasks,
    doc: "wall-time limit of one task attempt from its first guest's start, whether it runs wasm or waits inside WASI (a sleep, a stream); a breach fails the attempt within the limit + 1 s, naming this key (`0` = none)",
};

/// Fuel budget of one guest task.
pub(crate) static TASK_FUEL: Key = Key {
    name: "wisp.task.fuel",
    kind: Kind::PositiveU64,
    default: DefaultValue::Unset("unmetered"),
    unit: "fuel units",
    scope: SANDBOX,
    section: Section::Tasks,
    doc: "fuel (about one unit per wasm instruction) one guest task may burn; metering is on only in processes whose own configuration sets this key (`wisp run`, or executors started with `--conf wisp.task.fuel=N`), where it is the default for jobs that set none",
};

/// A private scratch directory per task attempt.
pub(crate) static TASK_SCRATCH: Key = Key {
    name: "wisp.task.scratch",
    kind: Kind::Bool,
    default: DefaultValue::Value("false"),
    unit: "",
    scope: SANDBOX,
    section: Section::Tasks,
    doc: "give each task attempt a private, empty read-write directory, `/scratch` in the guest, removed when the attempt ends",
};

/// Whether deterministic guest failures are retried.
pub(crate) static TASK_RETRY_GUEST_FAILURES: Key = Key {
    name: "wisp.task.retryGuestFailures",
    kind: Kind::Bool,
    default: DefaultValue::Value("true"),
    unit: "",
    scope: APPLICATION,
    section: Section::Tasks,
    doc: "retry a task whose guest failed deterministically (trap, panic, limit breach, error); `false` fails the job on the first such failure. Executor-side IO failures are always retried",
};

/// Consecutive fetch-failed attempts of a stage before its jobs fail.
pub(crate) static STAGE_MAX_CONSECUTIVE_ATTEMPTS: Key = Key {
    name: "wisp.stage.maxConsecutiveAttempts",
    kind: Kind::PositiveU32,
    default: DefaultValue::Value("4"),
    unit: "attempts",
    scope: APPLICATION,
    section: Section::Tasks,
    doc: "attempts of a stage after fetch failures before its jobs fail",
};

/// Default partition count of shuffles.
pub(crate) static DEFAULT_PARALLELISM: Key = Key {
    name: "wisp.default.parallelism",
    kind: Kind::PositiveU32,
    default: DefaultValue::Derived("total executor cores"),
    unit: "partitions",
    scope: APPLICATION,
    section: Section::Tasks,
    doc: "partitions of shuffles when the job does not say",
};

// ---- Input and shuffle ----

/// Largest input split.
pub(crate) static MAX_PARTITION_BYTES: Key = Key {
    name: "wisp.files.maxPartitionBytes",
    kind: Kind::Bytes { min: 1, max: u64::MAX },
    default: DefaultValue::Value("32m"),
    unit: "",
    scope: APPLICATION,
    section: Section::InputAndShuffle,
    doc: "largest input split of `text-file` (Hadoop's sizing: `min(total / minPartitions, this)`)",
};

/// Largest broadcast variable.
pub(crate) static BROADCAST_MAX_BYTES: Key = Key {
    name: "wisp.broadcast.maxBytes",
    kind: Kind::Bytes { min: 1, max: u64::MAX },
    default: DefaultValue::Value("1g"),
    unit: "",
    scope: APPLICATION,
    section: Section::InputAndShuffle,
    doc: "largest value `broadcast` accepts (its bytes are kept on the driver and once on each executor)",
};

/// Bytes a shuffle writer buffers before spilling.
pub(crate) static SHUFFLE_SPILL_MEMORY: Key = Key {
    name: "wisp.shuffle.spill.memory",
    kind: Kind::Bytes { min: 0, max: u64::MAX },
    default: DefaultValue::Value("64m"),
    unit: "",
    scope: EXECUTOR,
    section: Section::InputAndShuffle,
    doc: "bytes a shuffle writer buffers before spilling to disk",
};

/// Remote shuffle bytes a reduce task fetches at once.
pub(crate) static REDUCER_MAX_BYTES_IN_FLIGHT: Key = Key {
    name: "wisp.reducer.maxBytesInFlight",
    kind: Kind::Bytes { min: 0, max: u64::MAX },
    default: DefaultValue::Value("48m"),
    unit: "",
    scope: EXECUTOR_PROCESS,
    section: Section::InputAndShuffle,
    doc: "remote shuffle bytes a reduce task fetches at once (cluster mode)",
};

/// How much lower than the executor's own threads its task threads run.
pub(crate) static EXECUTOR_TASK_NICENESS: Key = Key {
    name: "wisp.executor.taskNiceness",
    kind: Kind::U32 { min: 0, max: 19 },
    default: DefaultValue::Value("10"),
    unit: "",
    scope: EXECUTOR,
    section: Section::Tasks,
    doc: "how many `nice` levels (Linux) the task threads run below the executor's own threads, so that serving and fetching shuffle blocks, heartbeats and status reports get the CPU first while guests keep every core busy (0: the same priority)",
};

// ---- Memory ----

/// The memory budget of an executor.
pub(crate) static EXECUTOR_MEMORY: Key = Key {
    name: "wisp.executor.memory",
    kind: Kind::Bytes { min: 1 << 20, max: u64::MAX },
    default: DefaultValue::Derived("60% of the machine's physical memory"),
    unit: "",
    scope: EXECUTOR,
    section: Section::Memory,
    doc: "memory budget of an executor (local mode: of `wisp run`): its task slots' fixed buffers (8 MiB each, plus `wisp.reducer.maxBytesInFlight` in cluster mode), then one pool for execution (sort, group, join and shuffle buffers, which spill to disk when refused; guests' linear memory, counted but never refused: `wisp.task.memory` caps it) and storage (cached blocks, least recently used evicted first). Too small for the task slots is an error at start naming the minimum",
};

/// The share of the memory pool cached blocks keep against execution.
pub(crate) static MEMORY_STORAGE_FRACTION: Key = Key {
    name: "wisp.memory.storageFraction",
    kind: Kind::Number { min: 0.0, max: 1.0 },
    default: DefaultValue::Value("0.5"),
    unit: "",
    scope: EXECUTOR,
    section: Section::Memory,
    doc: "fraction of the memory pool whose cached blocks execution memory never evicts (Spark's `spark.memory.storageFraction`); storage may use more while execution does not need it",
};

// ---- Scheduling ----

/// How long a task set waits at each locality level.
pub(crate) static LOCALITY_WAIT: Key = Key {
    name: "wisp.locality.wait",
    kind: Kind::Duration,
    default: DefaultValue::Value("3s"),
    unit: "",
    scope: APPLICATION,
    section: Section::Scheduling,
    doc: "how long a task set waits at a locality level before accepting the next worse one",
};

/// The wait at process-local.
pub(crate) static LOCALITY_WAIT_PROCESS: Key = Key {
    name: "wisp.locality.wait.process",
    kind: Kind::Duration,
    default: DefaultValue::SameAs(&LOCALITY_WAIT),
    unit: "",
    scope: APPLICATION,
    section: Section::Scheduling,
    doc: "wait at process-local (cached block on the executor)",
};

/// The wait at node-local.
pub(crate) static LOCALITY_WAIT_NODE: Key = Key {
    name: "wisp.locality.wait.node",
    kind: Kind::Duration,
    default: DefaultValue::SameAs(&LOCALITY_WAIT),
    unit: "",
    scope: APPLICATION,
    section: Section::Scheduling,
    doc: "wait at node-local (data on the executor's host)",
};

/// The wait at rack-local.
pub(crate) static LOCALITY_WAIT_RACK: Key = Key {
    name: "wisp.locality.wait.rack",
    kind: Kind::Duration,
    default: DefaultValue::SameAs(&LOCALITY_WAIT),
    unit: "",
    scope: APPLICATION,
    section: Section::Scheduling,
    doc: "wait at rack-local",
};

/// Speculative copies of slow tasks.
pub(crate) static SPECULATION: Key = Key {
    name: "wisp.speculation",
    kind: Kind::Bool,
    default: DefaultValue::Value("false"),
    unit: "",
    scope: APPLICATION,
    section: Section::Scheduling,
    doc: "launch speculative copies of slow tasks",
};

/// How often running tasks are checked for speculation.
pub(crate) static SPECULATION_INTERVAL: Key = Key {
    name: "wisp.speculation.interval",
    kind: Kind::Duration,
    default: DefaultValue::Value("100ms"),
    unit: "",
    scope: APPLICATION,
    section: Section::Scheduling,
    doc: "how often running tasks are checked",
};

/// How many times slower than the median a task must be to be speculated.
pub(crate) static SPECULATION_MULTIPLIER: Key = Key {
    name: "wisp.speculation.multiplier",
    kind: Kind::Number { min: 1.0, max: f64::INFINITY },
    default: DefaultValue::Value("1.5"),
    unit: "",
    scope: APPLICATION,
    section: Section::Scheduling,
    doc: "a task slower than this × the median successful runtime is speculated",
};

/// Fraction of a stage's tasks that must finish before speculating.
pub(crate) static SPECULATION_QUANTILE: Key = Key {
    name: "wisp.speculation.quantile",
    kind: Kind::Number { min: 0.0, max: 1.0 },
    default: DefaultValue::Value("0.75"),
    unit: "",
    scope: APPLICATION,
    section: Section::Scheduling,
    doc: "fraction of a stage's tasks that must have finished first",
};

/// The least runtime of a task before it may be speculated.
pub(crate) static SPECULATION_MIN_TASK_RUNTIME: Key = Key {
    name: "wisp.speculation.minTaskRuntime",
    kind: Kind::Duration,
    default: DefaultValue::Value("100ms"),
    unit: "",
    scope: APPLICATION,
    section: Section::Scheduling,
    doc: "tasks shorter than this are never speculated",
};

/// Exclude executors on which tasks failed.
pub(crate) static EXCLUDE_ON_FAILURE_ENABLED: Key = Key {
    name: "wisp.excludeOnFailure.enabled",
    kind: Kind::Bool,
    default: DefaultValue::Value("false"),
    unit: "",
    scope: APPLICATION,
    section: Section::Scheduling,
    doc: "exclude executors after failures",
};

/// Failures of one task on one executor before the task never runs there again.
pub(crate) static EXCLUDE_TASK_MAX_ATTEMPTS_PER_EXECUTOR: Key = Key {
    name: "wisp.excludeOnFailure.task.maxTaskAttemptsPerExecutor",
    kind: Kind::PositiveU32,
    default: DefaultValue::Value("1"),
    unit: "failures",
    scope: APPLICATION,
    section: Section::Scheduling,
    doc: "failures of one task on one executor before that executor is excluded for the task",
};

/// Distinct failed tasks of a stage on one executor before it is excluded for the stage.
pub(crate) static EXCLUDE_STAGE_MAX_FAILED_TASKS_PER_EXECUTOR: Key = Key {
    name: "wisp.excludeOnFailure.stage.maxFailedTasksPerExecutor",
    kind: Kind::PositiveU32,
    default: DefaultValue::Value("2"),
    unit: "tasks",
    scope: APPLICATION,
    section: Section::Scheduling,
    doc: "distinct failed tasks of a stage on one executor before it is excluded for the stage",
};

// ---- Cluster ----

/// An executor sending no heartbeat for this long is declared lost; also the listening side's idle timeout.
pub(crate) static NETWORK_TIMEOUT: Key = Key {
    name: "wisp.network.timeout",
    kind: Kind::Duration,
    default: DefaultValue::Value("30s"),
    unit: "",
    scope: NETWORK,
    section: Section::Cluster,
    doc: "an executor whose connection is up but which sends no heartbeat for this long is lost; also the idle timeout a listening endpoint offers peers that are not Wisp processes, and (× 3/4, at most 10s) the handshake deadline (at least 500ms)",
};

/// A connection to a peer that sends nothing (not even a QUIC keep-alive) for this long is dead.
pub(crate) static NETWORK_LIVENESS_TIMEOUT: Key = Key {
    name: "wisp.network.livenessTimeout",
    kind: Kind::Duration,
    default: DefaultValue::Value("3s"),
    unit: "",
    scope: Scope { run: false, submit: true, master: true, executor: true },
    section: Section::Cluster,
    doc: "idle timeout of the connections Wisp processes open (executor → master, executor → executor, `wisp submit` → master; QUIC keeps it to the smaller of both sides' values): each side sends QUIC keep-alives every quarter of it, so only a dead, hung or unreachable peer falls silent this long. A SIGKILLed executor is then lost, and a dead master noticed by executors and `wisp submit`, within about 1.25 × this. `wisp submit` reads its own `--conf` (at least 500ms)",
};

/// How often executors send heartbeats.
pub(crate) static EXECUTOR_HEARTBEAT_INTERVAL: Key = Key {
    name: "wisp.executor.heartbeatInterval",
    kind: Kind::Duration,
    default: DefaultValue::Value("10s"),
    unit: "",
    scope: EXECUTOR_PROCESS,
    section: Section::Cluster,
    doc: "how often executors report their running tasks and memory (at least 50ms)",
};

/// How long an executor that lost its master keeps trying to register again.
pub(crate) static EXECUTOR_RECONNECT_TIMEOUT: Key = Key {
    name: "wisp.executor.reconnectTimeout",
    kind: Kind::Duration,
    default: DefaultValue::Value("5m"),
    unit: "",
    scope: EXECUTOR_PROCESS,
    section: Section::Cluster,
    doc: "how long an executor that lost its master (closed, timed out, or declared this executor lost) keeps trying to register again, with exponential backoff and jitter (0.25s doubling to 8s), before it exits; it drops the state of the old master's applications first (`0`: one attempt)",
};

// ---- Monitoring ----

/// Where the console progress bars are drawn.
const CONSOLE: Scope = Scope { run: true, submit: true, master: false, executor: false };

/// Whether `wisp run` and `wisp submit` draw the running stages' progress.
pub(crate) static UI_SHOW_CONSOLE_PROGRESS: Key = Key {
    name: "wisp.ui.showConsoleProgress",
    kind: Kind::Bool,
    default: DefaultValue::Value("true"),
    unit: "",
    scope: CONSOLE,
    section: Section::Monitoring,
    doc: "draw one progress bar per running stage on stderr, `[Stage 3:=====>   (120 + 2) / 200]`, and a one-line summary on success; only when stderr is a terminal (piped output never changes); `--quiet` turns it off too",
};

// ---- Object storage and output ----

/// Read by the process that touches the store with its own value: the driver (listing, commit)
/// with the application's, executors (reading, writing) with theirs; local mode's `--conf` is both.
const STORE: Scope = Scope { run: true, submit: true, master: true, executor: true };

/// The S3 endpoint.
pub(crate) static S3_ENDPOINT: Key = Key {
    name: "wisp.s3.endpoint",
    kind: Kind::Text,
    default: DefaultValue::Unset("`AWS_ENDPOINT_URL`, else AWS's own endpoint of the region"),
    unit: "",
    scope: STORE,
    section: Section::Storage,
    doc: "endpoint URL of the S3-compatible store behind `s3://` URLs (`http://127.0.0.1:9000` for a local server)",
};

/// The S3 region.
pub(crate) static S3_REGION: Key = Key {
    name: "wisp.s3.region",
    kind: Kind::Text,
    default: DefaultValue::Unset("`AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`"),
    unit: "",
    scope: STORE,
    section: Section::Storage,
    doc: "region requests are signed for",
};

/// Path-style addressing.
pub(crate) static S3_PATH_STYLE: Key = Key {
    name: "wisp.s3.pathStyle",
    kind: Kind::Bool,
    default: DefaultValue::Unset("path-style unless `AWS_VIRTUAL_HOSTED_STYLE_REQUEST` is `true`"),
    unit: "",
    scope: STORE,
    section: Section::Storage,
    doc: "address buckets as `endpoint/bucket/key` (path style, what most S3-compatible servers want) rather than `bucket.endpoint/key`",
};

/// Plain HTTP endpoints.
pub(crate) static S3_ALLOW_HTTP: Key = Key {
    name: "wisp.s3.allowHttp",
    kind: Kind::Bool,
    default: DefaultValue::Unset("`AWS_ALLOW_HTTP`, else `false`"),
    unit: "",
    scope: STORE,
    section: Section::Storage,
    doc: "allow an `http://` endpoint (no TLS); credentials are never sent in clear text, but requests are signed over it",
};

/// Retries of a failed store request.
pub(crate) static S3_MAX_RETRIES: Key = Key {
    name: "wisp.s3.maxRetries",
    kind: Kind::Number { min: 0.0, max: 100.0 },
    default: DefaultValue::Value("3"),
    unit: "retries",
    scope: STORE,
    section: Section::Storage,
    doc: "retries of a store request that failed transiently (5xx, timeout, connection error), with exponential backoff from 100ms; past them the task fails as a host failure (retried on another executor) or the driver's call fails",
};

/// How long a request is retried.
pub(crate) static S3_RETRY_TIMEOUT: Key = Key {
    name: "wisp.s3.retryTimeout",
    kind: Kind::Duration,
    default: DefaultValue::Value("30s"),
    unit: "",
    scope: STORE,
    section: Section::Storage,
    doc: "longest time one store request is retried, whatever `wisp.s3.maxRetries` says",
};

/// Size of each ranged GET.
pub(crate) static S3_READ_CHUNK: Key = Key {
    name: "wisp.s3.readChunk",
    kind: Kind::Bytes { min: 64 << 10, max: 1 << 30 },
    default: DefaultValue::Value("8m"),
    unit: "",
    scope: STORE,
    section: Section::Storage,
    doc: "bytes of each ranged GET reading an object split; a task keeps one more GET in flight ahead of its reader (its read-ahead: at most twice this per reading task)",
};

/// Size of each uploaded part.
pub(crate) static S3_PART_SIZE: Key = Key {
    name: "wisp.s3.partSize",
    kind: Kind::Bytes { min: 5 << 20, max: 5 << 30 },
    default: DefaultValue::Value("16m"),
    unit: "",
    scope: STORE,
    section: Section::Storage,
    doc: "bytes of each part of a part file's multipart upload (the memory a writing task buffers)",
};

/// Output compression of `save-as-text-file`.
pub(crate) static OUTPUT_COMPRESS: Key = Key {
    name: "wisp.output.compress",
    kind: Kind::Choice(&["none", "gzip", "zstd"]),
    default: DefaultValue::Value("none"),
    unit: "",
    scope: APPLICATION,
    section: Section::Storage,
    doc: "compress the part files of `save-as-text-file` (`part-00000.gz`, `part-00000.zst`), on local disks and stores alike; input is decompressed by extension (`.gz`, `.zst`) whatever this says",
};

/// Every declared key, in docs order within each section.
pub(crate) static KEYS: &[&Key] = &[
    &TASK_MAX_FAILURES,
    &TASK_CPUS,
    &TASK_MEMORY,
    &TASK_TIMEOUT,
    &TASK_FUEL,
    &TASK_SCRATCH,
    &TASK_RETRY_GUEST_FAILURES,
    &EXECUTOR_TASK_NICENESS,
    &STAGE_MAX_CONSECUTIVE_ATTEMPTS,
    &DEFAULT_PARALLELISM,
    &MAX_PARTITION_BYTES,
    &BROADCAST_MAX_BYTES,
    &SHUFFLE_SPILL_MEMORY,
    &REDUCER_MAX_BYTES_IN_FLIGHT,
    &EXECUTOR_MEMORY,
    &MEMORY_STORAGE_FRACTION,
    &LOCALITY_WAIT,
    &LOCALITY_WAIT_PROCESS,
    &LOCALITY_WAIT_NODE,
    &LOCALITY_WAIT_RACK,
    &SPECULATION,
    &SPECULATION_INTERVAL,
    &SPECULATION_MULTIPLIER,
    &SPECULATION_QUANTILE,
    &SPECULATION_MIN_TASK_RUNTIME,
    &EXCLUDE_ON_FAILURE_ENABLED,
    &EXCLUDE_TASK_MAX_ATTEMPTS_PER_EXECUTOR,
    &EXCLUDE_STAGE_MAX_FAILED_TASKS_PER_EXECUTOR,
    &NETWORK_TIMEOUT,
    &NETWORK_LIVENESS_TIMEOUT,
    &EXECUTOR_HEARTBEAT_INTERVAL,
    &EXECUTOR_RECONNECT_TIMEOUT,
    &UI_SHOW_CONSOLE_PROGRESS,
    &S3_ENDPOINT,
    &S3_REGION,
    &S3_PATH_STYLE,
    &S3_ALLOW_HTTP,
    &S3_MAX_RETRIES,
    &S3_RETRY_TIMEOUT,
    &S3_READ_CHUNK,
    &S3_PART_SIZE,
    &OUTPUT_COMPRESS,
];

/// The prefix of the keys Wisp owns: any other key under it is refused.
pub(crate) const RESERVED_PREFIX: &str = "wisp.";

/// The declared key of this name.
pub(crate) fn lookup(name: &str) -> Option<&'static Key> {
    KEYS.iter().copied().find(|k| k.name == name)
}

/// The declared key an unknown name most likely meant: the nearest by edit
/// distance (ignoring case) if within `max(2, len / 4)` edits, else the
/// nearest sharing its last segment (`wisp.executor.fuel` → `wisp.task.fuel`).
pub(crate) fn nearest(unknown: &str) -> Option<&'static Key> {
    let unknown = unknown.to_ascii_lowercase();
    let scored =
        || KEYS.iter().map(|k| (edit_distance(&unknown, &k.name.to_ascii_lowercase()), *k));
    let limit = (unknown.chars().count() / 4).max(2);
    let close = scored().min_by_key(|(d, _)| *d).filter(|(d, _)| *d <= limit);
    let last = |name: &str| name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    let unknown_last = last(&unknown);
    close
        .or_else(|| {
            scored()
                .filter(|(_, k)| !unknown_last.is_empty() && last(k.name) == unknown_last)
                .min_by_key(|(d, _)| *d)
        })
        .map(|(_, k)| k)
}

/// Levenshtein distance (insertions, deletions, substitutions), by characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substituted = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substituted.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// A parsed value of a key.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// `PositiveU32`, `PositiveU64`, `U32`.
    Int(u64),
    /// `Bytes`.
    Bytes(u64),
    /// `Duration`.
    Duration(Duration),
    /// `Bool`.
    Bool(bool),
    /// `Number`.
    Number(f64),
    /// `Text`.
    Text(String),
    /// `Choice`: the word as declared.
    Choice(&'static str),
}

impl Kind {
    /// Parses a value written for this kind; the error is the reason, as `ConfigError::BadValue` shows it.
    pub(crate) fn parse(self, text: &str) -> Result<Value, String> {
        let text = text.trim();
        match self {
            Kind::PositiveU32 => text
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .map(|n| Value::Int(n.into()))
                .ok_or_else(|| "expected a positive 32-bit integer".to_string()),
            Kind::PositiveU64 => text
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .map(Value::Int)
                .ok_or_else(|| "expected a positive number".to_string()),
            Kind::U32 { min, max } => text
                .parse::<u32>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .map(|n| Value::Int(n.into()))
                .ok_or_else(|| format!("expected a whole number between {min} and {max}")),
            Kind::Bytes { min, max } => {
                let n = parse_bytes(text)
                    .ok_or_else(|| "expected a size such as 512k, 64m or 1g".to_string())?;
                if (min..=max).contains(&n) {
                    Ok(Value::Bytes(n))
                } else {
                    Err(format!("expected a size {}", range_text(min, max, format_bytes)))
                }
            }
            Kind::Duration => parse_duration(text)
                .map(Value::Duration)
                .ok_or_else(|| "expected a duration such as 500ms, 3s or 2m".to_string()),
            Kind::Bool => match text.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Value::Bool(true)),
                "false" | "0" | "no" | "off" => Ok(Value::Bool(false)),
                _ => Err("expected true or false".to_string()),
            },
            Kind::Number { min, max } => text
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && (min..=max).contains(f))
                .map(Value::Number)
                .ok_or_else(|| {
                    format!("expected a number {}", range_text(min, max, |f| f.to_string()))
                }),
            Kind::Text if text.is_empty() => Err("expected a non-empty value".to_string()),
            Kind::Text => Ok(Value::Text(text.to_string())),
            Kind::Choice(words) => words
                .iter()
                .find(|w| w.eq_ignore_ascii_case(text))
                .map(|w| Value::Choice(w))
                .ok_or_else(|| format!("expected one of {}", words.join(", "))),
        }
    }

    /// How its values look, for the docs (`integer ≥ 1`, `size between 1m and 4g`...).
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the docs tables' renderer, a test"))]
    pub(crate) fn describe(self) -> String {
        match self {
            Kind::PositiveU32 | Kind::PositiveU64 => "integer ≥ 1".to_string(),
            Kind::U32 { min, max } => format!("integer between {min} and {max}"),
            Kind::Bytes { min: 0, max: u64::MAX } => "size".to_string(),
            Kind::Bytes { min, max } => format!("size {}", range_text(min, max, format_bytes)),
            Kind::Duration => "duration".to_string(),
            Kind::Bool => "boolean".to_string(),
            Kind::Number { min, max } => {
                format!("number {}", range_text(min, max, |f| f.to_string()))
            }
            Kind::Text => "text".to_string(),
            Kind::Choice(words) => format!("one of `{}`", words.join("`, `")),
        }
    }
}

/// `between A and B`, or `of at least A` when `max` is the type's top.
fn range_text<T: PartialOrd + Copy + Bounded>(
    min: T,
    max: T,
    show: impl Fn(T) -> String,
) -> String {
    if max.is_top() {
        format!("of at least {}", show(min))
    } else {
        format!("between {} and {}", show(min), show(max))
    }
}

/// The top of a range's type: an unbounded maximum.
trait Bounded {
    fn is_top(&self) -> bool;
}

impl Bounded for u64 {
    fn is_top(&self) -> bool {
        *self == u64::MAX
    }
}

impl Bounded for f64 {
    fn is_top(&self) -> bool {
        *self == f64::INFINITY
    }
}

/// A size as a user would write it (`1m`, `4g`; bytes if not a whole unit).
pub(crate) fn format_bytes(n: u64) -> String {
    for (shift, suffix) in [(40, 't'), (30, 'g'), (20, 'm'), (10, 'k')] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{}{suffix}", n >> shift);
        }
    }
    n.to_string()
}

/// `4096`, `512k`, `64m`, `1g`, `1t` (any case, optional trailing `b`).
pub(crate) fn parse_bytes(v: &str) -> Option<u64> {
    let v = v.trim().to_ascii_lowercase();
    let v = v.strip_suffix('b').unwrap_or(&v);
    let (num, mult) = match v.chars().last()? {
        'k' => (&v[..v.len() - 1], 1u64 << 10),
        'm' => (&v[..v.len() - 1], 1 << 20),
        'g' => (&v[..v.len() - 1], 1 << 30),
        't' => (&v[..v.len() - 1], 1 << 40),
        _ => (v, 1),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

/// `500ms`, `3s`, `1.5s`, `2m`, `2min`, or a bare number of seconds.
pub(crate) fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Some(n) = v.strip_suffix("ms") {
        return n.trim().parse().ok().map(Duration::from_millis);
    }
    if let Some(n) = v.strip_suffix("min").or_else(|| v.strip_suffix('m')) {
        return n.trim().parse::<u64>().ok().map(|m| Duration::from_secs(m * 60));
    }
    if let Some(n) = v.strip_suffix('s') {
        return n
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| *s >= 0.0)
            .and_then(|s| Duration::try_from_secs_f64(s).ok());
    }
    v.parse::<f64>().ok().filter(|s| *s >= 0.0).and_then(|s| Duration::try_from_secs_f64(s).ok())
}

#[cfg(test)]
mod tests;
