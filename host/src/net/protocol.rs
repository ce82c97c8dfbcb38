//! The wire protocol: every message Wisp processes exchange, as serde types encoded with postcard.
//!
//! This is the only module whose types derive `Serialize`/`Deserialize`
//! (house rule); scheduler types convert to and from the wire mirrors in
//! `protocol::task` at this boundary. `docs/protocol.md` describes the
//! conversation on each kind of stream; the summary:
//!
//! - **Handshake** (the first bidirectional stream, opened by the server):
//!   `Challenge` → `Hello` → `HandshakeReply` (`Welcome` or `Refused`).
//! - **Master → executor** streams: one `MasterRequest`, answered by one
//!   `ExecutorReply`.
//! - **Executor → master** streams: one `ExecutorRequest`, answered by one
//!   `MasterReply`.
//! - **Submit client → master**: one stream per job: `SubmitRequest::SubmitJob`,
//!   then possibly `SubmitRequest::CancelJob`; the master answers with
//!   `JobEvent`s ending in `JobEvent::JobDone`.
//! - **Executor → executor** (block server): `BlockRequest::FetchBlocks`,
//!   answered per map by `BlockReply::Block` followed by `Chunk` frames, or
//!   `BlockReply::Missing`.
//!
//! Every message is sent inside an `Envelope` (see `framing`), so a message
//! whose encoding exceeds one frame travels as chunks.

pub(crate) mod task;

use serde::{Deserialize, Serialize};

use crate::memory::MemoryUse;

pub(crate) use task::{
    ConvertError, WireBlockId, WireTask, WireTaskMetrics, WireTaskReport, components_of,
};

/// The protocol version this build speaks; peers must speak the same one.
pub const PROTOCOL_VERSION: u32 = 5;

/// The TLS application protocol (ALPN) of every Wisp connection.
///
/// It names the transport family and stays `wisp/1` across protocol
/// versions, so that a peer of another version still completes TLS and gets
/// a clear refusal from the in-band version check instead of a TLS alert.
pub(crate) const ALPN: &[u8] = b"wisp/1";

/// Domain-separation label mixed into every authentication proof.
pub(crate) const AUTH_LABEL: &[u8] = b"wisp-auth-v1";

// ---------------------------------------------------------------------------
// Handshake
// ---------------------------------------------------------------------------

/// Server → client, first frame of the handshake stream: the server's
/// version and a fresh random nonce the client must prove knowledge of the
/// cluster secret against.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// The server's protocol version (first field, so any version can read it).
    pub version: u32,
    /// 32 random bytes, fresh per connection.
    pub nonce: [u8; 32],
}

/// What a connecting peer is.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// An executor registering with the master.
    Executor {
        /// Host name other executors and the scheduler's locality use.
        host: String,
        /// Rack, for rack-local scheduling.
        rack: Option<String>,
        /// Task slots it offers.
        cores: u32,
        /// UDP port of its block server (shuffle fetches), on `host`.
        shuffle_port: u16,
        /// sha256 hex fingerprint of its block server's certificate, pinned by fetchers.
        shuffle_fingerprint: String,
        /// Input roots it can read (for node-local input splits).
        data_roots: Vec<String>,
    },
    /// A `wisp submit` client.
    Submitter,
    /// An executor connecting to another executor's block server.
    Peer {
        /// The fetching executor's id.
        executor: u32,
    },
}

impl Role {
    /// One byte naming the variant (logs, tests).
    pub fn tag(&self) -> u8 {
        match self {
            Role::Executor { .. } => 1,
            Role::Submitter => 2,
            Role::Peer { .. } => 3,
        }
    }

    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Role::Executor { .. } => "executor",
            Role::Submitter => "submitter",
            Role::Peer { .. } => "peer",
        }
    }
}

/// Client → server, answer to the `Challenge`.
///
/// `proof = HMAC-SHA256(secret, AUTH_LABEL || nonce || version as u32le ||
/// postcard(role))`: it binds the nonce, the version and every field of the
/// role, so none can be replayed or altered.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hello {
    /// The client's protocol version (first field, so any version can read it).
    pub version: u32,
    /// What the client is.
    pub role: Role,
    /// The authentication proof.
    pub proof: [u8; 32],
}

/// Server → client, the handshake's outcome.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) enum HandshakeReply {
    /// Accepted; an executor learns its id.
    Welcome {
        /// The id assigned to a registering executor (`None` for other roles).
        executor_id: Option<u32>,
    },
    /// Refused; the server closes the connection after sending this.
    Refused {
        /// Why, for the client's error message (never reveals the secret).
        reason: String,
    },
}

// ---------------------------------------------------------------------------
// Payload chunks
// ---------------------------------------------------------------------------

/// A slice of a streamed payload (a large message, a shuffle block).
///
/// `framing` writes and reads this frame by hand (`chunk_header`,
/// `read_chunk_into`) so that the bytes are never copied into or out of
/// this struct; its tests check that both agree with this definition.
#[allow(
    dead_code,
    reason = "the wire form of payload chunks; framing encodes it by hand, tests check they agree"
)]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// The bytes.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

// ---------------------------------------------------------------------------
// Master ↔ executor
// ---------------------------------------------------------------------------

/// A component's bytes, shipped with the first task that needs it on an executor.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
pub(crate) struct ComponentUpload {
    /// Lowercase hex sha256 of `bytes`; the receiver checks it.
    pub hash: String,
    /// The component binary.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for ComponentUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentUpload")
            .field("hash", &self.hash)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Another executor's block server, for shuffle fetches.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) struct PeerInfo {
    /// Its id.
    pub executor: u32,
    /// Host name or address.
    pub host: String,
    /// UDP port of its block server.
    pub shuffle_port: u16,
    /// Fingerprint of its block server's certificate.
    pub fingerprint: String,
}

/// Master → executor: the first (and only) message of a master-opened stream.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(crate) enum MasterRequest {
    /// Run a task. `components` carries the bytes of every component the
    /// task needs that the master has not yet sent to this executor; others
    /// are referred to by hash inside `task`.
    LaunchTask {
        /// The application (submission) the task belongs to: ids of tasks, shuffles and blocks are per application.
        app: u32,
        /// The task description.
        task: WireTask,
        /// Components the executor does not have yet.
        components: Vec<ComponentUpload>,
    },
    /// Cancel a running task attempt (it then reports `Killed`).
    KillTask {
        /// The application (submission) the task belongs to: ids of tasks, shuffles and blocks are per application.
        app: u32,
        /// The attempt.
        task: u32,
    },
    /// Forget cached blocks (unpersist).
    DropBlocks {
        /// The application (submission) the task belongs to: ids of tasks, shuffles and blocks are per application.
        app: u32,
        /// The blocks.
        blocks: Vec<WireBlockId>,
    },
    /// The application ended: drop everything the executor keeps for it (cached blocks, shuffle
    /// and spill files, its work directory) and the shipped bytes (components, broadcast
    /// values) that no other application has used.
    EndApplication {
        /// The application (submission).
        app: u32,
    },
    /// A broadcast value was destroyed: forget its bytes (by content hash) unless another
    /// application's tasks used them too.
    DropShipped {
        /// The application (submission).
        app: u32,
        /// The value's content hash.
        hash: String,
    },
    /// Changes to the set of executors' block servers.
    Peers {
        /// Executors that joined (or whose address changed).
        added: Vec<PeerInfo>,
        /// Executors that are gone.
        removed: Vec<u32>,
    },
}

/// Executor → master: the answer to a `MasterRequest`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) enum ExecutorReply {
    /// Done (for `LaunchTask`: accepted; the outcome comes as `TaskStatus`).
    Ack,
    /// `LaunchTask` named a component this executor does not have: resend with its bytes.
    UnknownComponent {
        /// Its hash.
        hash: String,
    },
    /// The request could not be carried out.
    Failed {
        /// Why.
        message: String,
    },
}

/// Executor → master: the first (and only) message of an executor-opened stream.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(crate) enum ExecutorRequest {
    /// Liveness, with the metrics of every running attempt.
    Heartbeat {
        /// The attempts running now.
        running: Vec<RunningTask>,
        /// Its memory pool now.
        memory: WireMemory,
    },
    /// A task attempt finished.
    TaskStatus {
        /// The application (submission) the task belongs to: ids of tasks, shuffles and blocks are per application.
        app: u32,
        /// Its report (boxed: the other variant is small).
        report: Box<WireTaskReport>,
    },
}

/// A task attempt still running on an executor, as its heartbeat reports it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) struct RunningTask {
    /// The application (submission) the task belongs to.
    pub app: u32,
    /// The task attempt id.
    pub task: u32,
    /// Milliseconds since the executor accepted it.
    pub elapsed_ms: u64,
    /// Its metrics so far (published by the task thread at batch boundaries).
    pub metrics: WireTaskMetrics,
}

/// An executor's memory pool at a heartbeat, bytes (`memory::MemoryUse` on the wire).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct WireMemory {
    /// The pool execution and storage share.
    pub pool: u64,
    /// Held by running tasks' host operators.
    pub operators: u64,
    /// Guests' linear memory.
    pub guests: u64,
    /// Cached blocks in memory.
    pub storage: u64,
}

impl From<MemoryUse> for WireMemory {
    fn from(m: MemoryUse) -> WireMemory {
        WireMemory { pool: m.pool, operators: m.operators, guests: m.guests, storage: m.storage }
    }
}

impl From<WireMemory> for MemoryUse {
    fn from(m: WireMemory) -> MemoryUse {
        MemoryUse { pool: m.pool, operators: m.operators, guests: m.guests, storage: m.storage }
    }
}

/// Master → executor: the answer to an `ExecutorRequest`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) enum MasterReply {
    /// Received.
    Ack,
    /// The master no longer knows this executor (it was declared lost): reconnect and register again.
    Reregister,
}

// ---------------------------------------------------------------------------
// Submit client ↔ master
// ---------------------------------------------------------------------------

/// Submit client → master, on the job's stream.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
pub enum SubmitRequest {
    /// Run a job: its component's `run` export is the job's main.
    SubmitJob {
        /// The application's name (the component's file name unless `wisp.app.name` says otherwise).
        name: String,
        /// The job's component.
        #[serde(with = "serde_bytes")]
        component: Vec<u8>,
        /// Arguments for the job's main.
        args: Vec<String>,
        /// `--conf k=v` settings.
        conf: Vec<(String, String)>,
    },
    /// Cancel the job (Ctrl-C); sent later on the same stream.
    CancelJob,
}

impl std::fmt::Debug for SubmitRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubmitRequest::SubmitJob { name, component, args, conf } => f
                .debug_struct("SubmitJob")
                .field("name", name)
                .field("component_len", &component.len())
                .field("args", args)
                .field("conf", conf)
                .finish(),
            SubmitRequest::CancelJob => f.write_str("CancelJob"),
        }
    }
}

/// Master → submit client, on the job's stream; the last one is `JobDone`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names, reason = "the message names docs/protocol.md uses")]
pub(crate) enum JobEvent {
    /// Progress for the user (e.g. "waiting for executors").
    JobState {
        /// The message.
        message: String,
    },
    /// A piece of the job main's stdout.
    JobOutput {
        /// The bytes.
        #[serde(with = "serde_bytes")]
        chunk: Vec<u8>,
    },
    /// The running stages' progress (sent when it changes, at most a few times a second).
    JobProgress {
        /// One entry per running stage attempt.
        stages: Vec<WireStageProgress>,
    },
    /// What the application did, on one line (sent before a successful `JobDone`).
    JobSummary {
        /// The line.
        summary: String,
    },
    /// The job ended.
    JobDone {
        /// `Err` holds the job's error text.
        result: Result<(), String>,
    },
}

/// One running stage attempt's progress: `[Stage 3:=====>   (120 + 2) / 200]`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WireStageProgress {
    pub stage: u32,
    pub attempt: u32,
    pub total: u32,
    pub completed: u32,
    pub running: u32,
}

// ---------------------------------------------------------------------------
// Executor ↔ executor (block server)
// ---------------------------------------------------------------------------

/// Fetcher → block server: the first (and only) request of a stream.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) enum BlockRequest {
    /// The blocks of several map outputs for one reduce partition.
    FetchBlocks {
        /// The application (submission) the task belongs to: ids of tasks, shuffles and blocks are per application.
        app: u32,
        /// The shuffle.
        shuffle: u32,
        /// The reduce partition.
        reduce: u32,
        /// The map partitions whose blocks are wanted, in the order to send them.
        maps: Vec<u32>,
    },
}

/// Block server → fetcher, once per requested map, in request order.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) enum BlockReply {
    /// The block follows as `Chunk` frames totalling `len` bytes.
    Block {
        /// The map partition.
        map: u32,
        /// Total bytes of the block.
        len: u64,
    },
    /// The block cannot be served (the fetcher reports a fetch failure).
    Missing {
        /// The map partition.
        map: u32,
        /// Why.
        message: String,
    },
}
