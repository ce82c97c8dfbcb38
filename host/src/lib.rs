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

mod app;
mod block;
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
mod net;
mod process_settings;
mod records;
mod settings;
mod shuffle;
mod task;
mod task_scheduler;
mod task_threads;
mod wasm;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

// The commands of the `wisp` binary.
pub use app::{AppError, JobMainError, LocalOptions, RunError, run_local, run_master};
pub use cluster::ClusterError;
pub use cluster::executor_process::{ExecutorArgs, run_executor};
pub use cluster::master::MasterArgs;
pub use cluster::submit::{SubmitArgs, submit};
pub use settings::{Conf, ConfigError};
pub use error_chain::chain as error_chain;
pub use net::{ClusterSecret, Fingerprint, SecretError};

// The scheduler core as pure data, for the scheduler benchmark's simulated cluster.
pub use dag::{EventRecord, Scheduler, SchedulerCommand, SchedulerConfig, SchedulerEvent};
pub use ids::{ExecutorId, JobId, RddId, StageId, TaskId};
pub use lineage::{Lineage, RddKind, StorageLevel};
pub use records::Batch;
pub use task::{ComponentBytes, Plan, ResultKind, ResultValue, TaskMetrics, TaskOutput, TaskReport};
pub use task_scheduler::TaskLocality;

// The transport's handshake, for the integration tests' protocol probes.
pub use net::protocol::SubmitRequest;
pub use net::{HandshakeError, Limits, NetConfig, PROTOCOL_VERSION, Role};
