//! Runs a job's main (`run` export of the `job` world) on the driver, with the driver interface linked.

use wasmtime::{Store, StoreLimitsBuilder};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use super::bindings::job::JobPre;
use super::guest_task::trap_message;
use super::host_state::{DriverHandle, HostState};
use super::validate::{ComponentError, one_line, root_message};
use super::{LoadedComponent, Runtime};

/// Why a job's main did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum JobMainError {
    /// The component is not a job.
    #[error(transparent)]
    NotJob(#[from] ComponentError),
    /// `run` returned an error (an action's failure, or the job's own).
    #[error("{message}")]
    Failed { message: String },
    /// The main trapped or panicked.
    #[error("{message}")]
    Trapped { message: String },
}

/// Checks that a loaded component implements the `job` world.
pub fn check_job(component: &LoadedComponent) -> Result<JobPre<HostState>, ComponentError> {
    JobPre::new(component.pre.clone()).map_err(|e| ComponentError::NotJob { message: root_message(&e) })
}

/// Instantiates the job and calls `run(args)`; gives the driver back afterwards.
///
/// The main's stdout is this process's stdout.
pub fn run_job_main(
    runtime: &Runtime,
    component: &LoadedComponent,
    driver: DriverHandle,
    args: &[String],
) -> (Result<(), JobMainError>, Option<DriverHandle>) {
    run_job_main_with_stdout(runtime, component, driver, args, None)
}

/// `run_job_main`, with the main's stdout written to `stdout` (e.g. a pipe's
/// write end, closed when the main ends) instead of this process's stdout.
pub fn run_job_main_with_stdout(
    runtime: &Runtime,
    component: &LoadedComponent,
    driver: DriverHandle,
    args: &[String],
    stdout: Option<std::fs::File>,
) -> (Result<(), JobMainError>, Option<DriverHandle>) {
    let pre = match check_job(component) {
        Ok(p) => p,
        Err(e) => return (Err(e.into()), Some(driver)),
    };
    let stderr = MemoryOutputPipe::new(4 << 20);
    let mut wasi = WasiCtxBuilder::new();
    match stdout {
        Some(file) => wasi.stdout(wasmtime_wasi::cli::OutputFile::new(file)),
        None => wasi.inherit_stdout(),
    };
    wasi.stderr(stderr.clone()).arg("wisp-job").args(args);
    let state = HostState {
        wasi: wasi.build(),
        table: Default::default(),
        limits: StoreLimitsBuilder::new().memory_size(runtime.max_memory()).instances(64).tables(256).build(),
        driver: Some(driver),
    };
    let mut store = Store::new(runtime.engine(), state);
    store.limiter(|s| &mut s.limits);
    if runtime.meters_fuel() {
        // The main is not metered; only tasks are.
        if let Err(e) = store.set_fuel(u64::MAX) {
            return (Err(JobMainError::Trapped { message: format!("cannot set up the job: {e}") }), store.into_data().driver);
        }
    }
    // The main is not time-limited: actions block inside host calls, not in wasm.
    store.set_epoch_deadline(u64::MAX / 2);
    let result = match pre.instantiate(&mut store) {
        Err(e) => Err(JobMainError::Trapped { message: format!("cannot instantiate job: {}", root_message(&e)) }),
        Ok(job) => match job.call_run(&mut store, args) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(JobMainError::Failed { message: one_line(&message) }),
            Err(e) => Err(JobMainError::Trapped { message: trap_message(&e, &stderr.contents()) }),
        },
    };
    let text = stderr.contents();
    if result.is_ok() || !matches!(result, Err(JobMainError::Trapped { .. })) {
        use std::io::Write;
        let _ = std::io::stderr().write_all(&text);
    }
    let driver = store.into_data().driver;
    (result, driver)
}
