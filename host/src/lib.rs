//! Wisp: a Spark-style batch engine whose user code is WebAssembly components.
//!
//! An application (`app`) runs a job component's main on the driver with a
//! `Context` (`context`) that builds a lazy lineage (`lineage`); each action
//! becomes a job that the DAG scheduler cuts into stages (`dag`) and the task
//! scheduler places on executors (`task_scheduler`), both driven by one
//! driver loop per application (`driver_loop`). Executors run tasks in one
//! shared wasmtime engine (`executor`, `wasm`) on dedicated task threads
//! (`task_threads`), writing and reading shuffle files (`shuffle`) and
//! caching blocks (`block`). Local mode (`local`) keeps the executor in the
//! driver's process; cluster mode (`cluster`) runs a master, executor
//! processes and a submit client over QUIC (`net`). Every `--conf` key is
//! declared once (`settings`); each process kind reads its typed settings in
//! one place (`process_settings`).
//!
//! The public surface is what the `wisp` binary (crate `wisp-cli`), the
//! integration tests and the benchmarks need; everything else is internal.
//! Test-only code (fault injection, protocol probes, the fuzz entry point) is
//! compiled only with the `testing` feature, in `wisp::testing`.

mod accumulators;
mod app;
mod block;
mod builtins;
mod cluster;
mod context;
mod dag;
mod driver_loop;
mod error_chain;
mod event_log;
mod executor;
mod host_ops;
mod ids;
mod lineage;
mod local;
mod memory;
mod net;
mod observe;
mod process_settings;
mod records;
mod settings;
mod shuffle;
mod spill;
mod store;
mod task;
mod task_scheduler;
mod task_threads;
mod ui;
mod wasm;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

// Each item is re-exported from the module that defines it.

// The commands of the `wisp` binary.
pub use app::AppError;
pub use app::job_main::JobMainError;
pub use app::local::{LocalOptions, RunError, RunNotice, run_local, run_local_with};
pub use app::submitted::run_master;
pub use cluster::ClusterError;
pub use cluster::executor_process::{ExecutorArgs, run_executor};
pub use cluster::master::MasterArgs;
pub use cluster::submit::{SubmitArgs, SubmitNotice, submit};
pub use error_chain::chain as error_chain;
pub use net::auth::{ClusterSecret, SecretError};
pub use net::tls::Fingerprint;
pub use observe::console::{ConsoleProgress, stderr_is_terminal};
pub use observe::progress::{RunSummary, StageProgress};
pub use settings::{Conf, ConfigError};
pub use ui::UiError;
pub use ui::history::{HistoryArgs, run_history};

// The scheduler core as pure data, for the scheduler benchmark's simulated cluster.
pub use dag::config::SchedulerConfig;
pub use dag::events::EventRecord;
pub use dag::{Scheduler, SchedulerCommand, SchedulerEvent};
pub use ids::{AppId, ComponentId, ExecutorId, JobId, RddId, ShuffleId, StageId, TaskId};
pub use lineage::{Lineage, RddKind, StorageLevel};
pub use records::Batch;
pub use task::{
    ComponentBytes, Plan, ResultKind, ResultValue, TaskMetrics, TaskOutput, TaskReport,
};
pub use task_scheduler::TaskLocality;

// The transport's handshake, for the integration tests' protocol probes.
pub use net::endpoint::{HandshakeError, NetConfig};
pub use net::framing::Limits;
pub use net::protocol::{PROTOCOL_VERSION, Role, SubmitRequest};

// Raw quinn throughput with Wisp's transport configuration, the shuffle-fetch benchmark's baseline.
pub use net::loopback::{LoopbackError, LoopbackRun, quic_loopback_throughput};
