//! Runs a job's main (`run` export of the `job` world) on the driver, with the application's `Context` as its driver.

use wasmtime::{Store, StoreLimitsBuilder};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use wasmtime::component::ComponentExportIndex;

use crate::context::Context;
use crate::wasm::{
    ComponentError, HostState, LoadedComponent, MeteredLimits, Runtime, one_line, root_message,
    trap_message,
};

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

/// Checks that a loaded component implements the `job` world (of any version the host
/// runs: `run` is the world's own export, unversioned, and the pipeline was found at load).
pub(crate) fn check_job(
    component: &LoadedComponent,
) -> Result<ComponentExportIndex, ComponentError> {
    component
        .pre
        .component()
        .get_export_index(None, "run")
        .ok_or_else(|| ComponentError::NotJob { message: "missing export `run`".to_string() })
}

/// `run(args) -> result<_, string>` of an instance.
type RunFunc = wasmtime::component::TypedFunc<(Vec<String>,), (Result<(), String>,)>;

/// Instantiates the job with `context` as its driver and calls `run(args)`; gives the context back afterwards.
///
/// The main's stdout is `stdout` (for example a pipe's write end, closed when
/// the main ends), or this process's stdout.
pub(super) fn run(
    runtime: &Runtime,
    component: &LoadedComponent,
    context: Context,
    args: &[String],
    stdout: Option<std::fs::File>,
) -> (Result<(), JobMainError>, Option<Context>) {
    let run_export = match check_job(component) {
        Ok(p) => p,
        Err(e) => return (Err(e.into()), Some(context)),
    };
    let stderr = MemoryOutputPipe::new(4 << 20);
    let mut wasi = WasiCtxBuilder::new();
    match stdout {
        Some(file) => wasi.stdout(wasmtime_wasi::cli::OutputFile::new(file)),
        None => wasi.inherit_stdout(),
    };
    wasi.stderr(stderr.clone()).arg("wisp-job").args(args);
    let limits = StoreLimitsBuilder::new()
        .memory_size(runtime.max_memory())
        .instances(64)
        .tables(256)
        .build();
    let limits = MeteredLimits::new(limits, None);
    let state = HostState::for_job_main(wasi.build(), limits, Box::new(context));
    let mut store = Store::new(runtime.engine(), state);
    store.limiter(|s| &mut s.limits);
    if runtime.meters_fuel() {
        // The main is not metered; only tasks are.
        if let Err(e) = store.set_fuel(u64::MAX) {
            return (
                Err(JobMainError::Trapped { message: format!("cannot set up the job: {e}") }),
                take_context(store),
            );
        }
    }
    // The main is not time-limited: actions block inside host calls, not in wasm.
    store.set_epoch_deadline(u64::MAX / 2);
    let instance = component.pre.instantiate(&mut store).and_then(|instance| {
        instance.get_typed_func::<(Vec<String>,), (Result<(), String>,)>(&mut store, run_export)
    });
    let result = match instance {
        Err(e) => Err(JobMainError::Trapped {
            message: format!("cannot instantiate job: {}", root_message(&e)),
        }),
        Ok(run) => match call_run(&mut store, &run, args) {
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
    (result, take_context(store))
}

fn call_run(
    store: &mut Store<HostState>,
    run: &RunFunc,
    args: &[String],
) -> wasmtime::Result<Result<(), String>> {
    let (result,) = run.call(&mut *store, (args.to_vec(),))?;
    Ok(result)
}

/// The context back out of the main's store.
fn take_context(store: Store<HostState>) -> Option<Context> {
    store.into_data().driver.into_any().downcast::<Context>().ok().map(|c| *c)
}
