//! Wisp: a Spark-style batch engine whose user code is WebAssembly components.
//!
//! The driver builds a lazy lineage (`lineage`), the DAG scheduler cuts it
//! into stages (`dag`), the task scheduler places tasks (`task_scheduler`),
//! the backend runs the driver loop and talks to executors (`backend`), and
//! executors run tasks in one shared wasmtime engine (`executor`, `wasm`),
//! writing and reading shuffle files (`shuffle`) and caching blocks (`block`).

pub mod backend;
pub mod block;
pub mod cli;
pub mod config;
pub mod context;
pub mod dag;
pub mod errors;
pub mod event_log;
pub mod executor;
pub mod host_ops;
pub mod ids;
pub mod lineage;
pub mod net;
pub mod records;
pub mod shuffle;
pub mod task;
pub mod task_scheduler;
pub mod wasm;
