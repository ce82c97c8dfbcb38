//! One guest instance inside a task attempt: a fresh `Store`, an instance of a cached component, and its pipeline `task` resource.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wasmtime::component::ResourceAny;
use wasmtime::{Store, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::p2::pipe::ClosedInputStream;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use wasmtime::component::{Func, TypedFunc};

use super::bindings::job::wisp::task::types as wit;
use super::capture::CapturePipe;
use super::host_state::HostState;
use super::stats::MeteredLimits;
use super::stop::Stop;
use super::validate::one_line;
use super::{LoadedComponent, Runtime, Sandbox};
use crate::lineage::{Op, OpKind};
use crate::records::Batch;

/// Why a guest task failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GuestError {
    /// The guest returned an error (bad op, bad record, ...).
    #[error("{message}")]
    Failed { message: String },
    /// The guest trapped (panic, limit, interrupt); its instance is dead.
    #[error("{message}")]
    Trapped { message: String },
    /// The guest returned a batch whose offsets are wrong.
    #[error("guest returned a malformed batch: {}", source.to_string().trim_start_matches("malformed batch: "))]
    Malformed { source: crate::records::MalformedBatch },
    /// The task was cancelled by the scheduler.
    #[error("task killed")]
    Killed,
}

/// Bytes of stdout and of stderr kept per guest task; a guest reaching it fails, whether or not it saw its writes fail.
pub(crate) const OUTPUT_CAPTURE: usize = 1 << 20;

/// Where the scratch directory appears inside the guest.
pub(crate) const SCRATCH_GUEST_PATH: &str = "/scratch";

/// What a guest task wrote to its stdout and stderr (at most `OUTPUT_CAPTURE` bytes each).
#[derive(Clone, Debug, Default)]
pub(crate) struct GuestOutput {
    /// Its stdout.
    pub stdout: Vec<u8>,
    /// Its stderr.
    pub stderr: Vec<u8>,
}

/// The captured stdout and stderr pipes of one store.
#[derive(Clone)]
struct Capture {
    stdout: CapturePipe,
    stderr: CapturePipe,
}

impl Capture {
    fn new() -> Capture {
        Capture {
            stdout: CapturePipe::new(OUTPUT_CAPTURE),
            stderr: CapturePipe::new(OUTPUT_CAPTURE),
        }
    }

    /// Which stream, if any, reached its capture limit (further writes failed); two atomic loads.
    fn overflowed(&self) -> Option<&'static str> {
        if self.stdout.reached_limit() {
            Some("stdout")
        } else if self.stderr.reached_limit() {
            Some("stderr")
        } else {
            None
        }
    }

    /// The attempt's failure once a stream reached its limit.
    fn overflow_message(stream: &str) -> String {
        format!(
            "task wrote more than {} MiB to {stream}, the capture limit per task",
            OUTPUT_CAPTURE >> 20
        )
    }
}

/// A running guest instance (one per run of consecutive same-component ops in a task).
pub(crate) struct GuestInstance {
    store: Store<HostState>,
    push: Func,
    finish: TypedFunc<(ResourceAny,), (Result<Batch, String>,)>,
    task: ResourceAny,
    capture: Capture,
    cancel: Arc<AtomicBool>,
    sandbox: Sandbox,
}

impl GuestInstance {
    /// Instantiates the component in a fresh store, sandboxed as `sandbox` says, and creates its pipeline task.
    pub(crate) fn start(
        runtime: &Runtime,
        component: &LoadedComponent,
        ops: &[Op],
        partition: u32,
        cancel: Arc<AtomicBool>,
        sandbox: &Sandbox,
    ) -> Result<GuestInstance, GuestError> {
        let capture = Capture::new();
        let mut wasi = WasiCtxBuilder::new();
        // Stdin is closed (a read ends at once); no socket can be created, no name looked up, no
        // address reached: nothing a task does can wait on the outside world (docs/security.md).
        wasi.stdin(ClosedInputStream)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .stdout(capture.stdout.clone())
            .stderr(capture.stderr.clone())
            .allow_blocking_current_thread(true);
        if let Some(dir) = &sandbox.scratch {
            wasi.preopened_dir(dir, SCRATCH_GUEST_PATH, FsPerms::ReadWrite).map_err(|e| {
                GuestError::Failed {
                    message: format!("cannot grant the scratch directory {}: {e}", dir.display()),
                }
            })?;
        }
        let limits = StoreLimitsBuilder::new()
            .memory_size(sandbox.memory)
            .instances(64)
            .tables(256)
            .trap_on_grow_failure(true)
            .build();
        let limits = MeteredLimits::new(limits, Some(runtime.stats().clone()))
            .with_account(sandbox.account.clone());
        let stop = Stop::new(cancel.clone(), sandbox.deadline);
        let state = HostState::for_task(wasi.build(), limits, stop.clone(), sandbox.shared.clone());
        let mut store = Store::new(runtime.engine(), state);
        store.limiter(|s| &mut s.limits);
        if runtime.meters_fuel() {
            store
                .set_fuel(sandbox.fuel.unwrap_or(u64::MAX))
                .map_err(|e| GuestError::Failed { message: e.to_string() })?;
        }
        // Every tick the running guest checks its stop; a guest blocked in `wasi:io` checks it there.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if stop.reached() {
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Continue(1))
        });
        let setup = |e: wasmtime::Error| GuestError::Trapped {
            message: format!(
                "cannot instantiate component: {}",
                one_line(&e.root_cause().to_string())
            ),
        };
        let started = std::time::Instant::now();
        let instance = component.pre.instantiate(&mut store).map_err(setup)?;
        let instantiated = started.elapsed();
        let exports = &component.pipeline;
        let create = instance
            .get_typed_func::<(&[wit::Op], u32), (Result<ResourceAny, String>,)>(
                &mut store,
                &exports.create,
            )
            .map_err(setup)?;
        let push = instance
            .get_func(&mut store, exports.push)
            .ok_or_else(|| setup(wasmtime::format_err!("no push export")))?;
        let finish = instance.get_typed_func(&mut store, exports.finish).map_err(setup)?;
        let wit_ops: Vec<wit::Op> = ops.iter().map(to_wit_op).collect();
        let created = create.call(&mut store, (&wit_ops, partition)).map(|(r,)| r);
        let refused = store.data_mut().refused.take();
        let task = check(created, &capture, &cancel, sandbox, refused)?;
        tracing::debug!(
            partition,
            instantiate_us = instantiated.as_micros() as u64,
            create_us = (started.elapsed() - instantiated).as_micros() as u64,
            memory_bytes = store.data().limits.memory_bytes(),
            "guest instance started"
        );
        Ok(GuestInstance { store, push, finish, task, capture, cancel, sandbox: sandbox.clone() })
    }

    /// Linear memory the instance holds now, bytes (it never shrinks while the instance lives).
    pub(crate) fn memory_bytes(&self) -> u64 {
        self.store.data().limits.memory_bytes()
    }

    /// What the guest wrote to stdout and stderr so far.
    pub(crate) fn output(&self) -> GuestOutput {
        GuestOutput {
            stdout: self.capture.stdout.contents(),
            stderr: self.capture.stderr.contents(),
        }
    }

    /// Pushes one batch through the guest chain; returns what it produced.
    pub(crate) fn push(&mut self, input: &Batch) -> Result<Batch, GuestError> {
        // Typed per call (a cheap check) because the borrowed batch's lifetime is per call.
        let r = self
            .push
            .typed::<(ResourceAny, &Batch), (Result<Batch, String>,)>(&self.store)
            .and_then(|f| f.call(&mut self.store, (self.task, input)))
            .map(|(r,)| r);
        let refused = self.store.data_mut().refused.take();
        let out = check(r, &self.capture, &self.cancel, &self.sandbox, refused)?;
        out.validate().map_err(|source| GuestError::Malformed { source })?;
        Ok(out)
    }

    /// Ends the input; returns the chain's remaining output.
    pub(crate) fn finish(&mut self) -> Result<Batch, GuestError> {
        let r = self.finish.call(&mut self.store, (self.task,)).map(|(r,)| r);
        let refused = self.store.data_mut().refused.take();
        let out = check(r, &self.capture, &self.cancel, &self.sandbox, refused)?;
        out.validate().map_err(|source| GuestError::Malformed { source })?;
        Ok(out)
    }
}

/// Splits a guest call's two layers of failure: traps (outer) and returned errors (inner); a
/// call that returned after its guest filled a capture fails too, whatever the guest did with
/// the write errors (nothing it produced may be committed). A call that trapped after the host
/// refused one of its shared-variable calls (`refused`) fails with the host's reason, not
/// with the trap (the Rust SDK panics: its `value()` has no error to return); a guest that
/// returned an error keeps its own message, which names its function.
fn check<T>(
    r: wasmtime::Result<Result<T, String>>,
    capture: &Capture,
    cancel: &AtomicBool,
    sandbox: &Sandbox,
    refused: Option<String>,
) -> Result<T, GuestError> {
    if r.is_ok()
        && let Some(stream) = capture.overflowed()
    {
        return Err(GuestError::Failed { message: Capture::overflow_message(stream) });
    }
    if let (Some(message), Err(_)) = (refused, &r)
        && !cancel.load(Ordering::Relaxed)
    {
        return Err(GuestError::Failed { message: one_line(&message) });
    }
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(message)) => Err(GuestError::Failed { message: one_line(&message) }),
        Err(e) if cancel.load(Ordering::Relaxed) => {
            tracing::debug!("guest interrupted after cancel: {}", e.root_cause());
            Err(GuestError::Killed)
        }
        Err(e) => Err(GuestError::Trapped {
            message: limit_message(&e, capture, sandbox)
                .unwrap_or_else(|| trap_message(&e, &capture.stderr.contents())),
        }),
    }
}

/// Names the limit a trap comes from, if it comes from one.
fn limit_message(e: &wasmtime::Error, capture: &Capture, sandbox: &Sandbox) -> Option<String> {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => {
            let t = sandbox.timeout?;
            return Some(format!(
                "task exceeded its time limit ({} = {t:?})",
                crate::settings::keys::TASK_TIMEOUT
            ));
        }
        Some(wasmtime::Trap::OutOfFuel) => {
            let fuel = sandbox.fuel?;
            return Some(format!(
                "task ran out of fuel ({} = {fuel})",
                crate::settings::keys::TASK_FUEL
            ));
        }
        _ => {}
    }
    if let Some(stream) = capture.overflowed() {
        return Some(Capture::overflow_message(stream));
    }
    let cause = e.root_cause().to_string();
    cause.contains("forcing trap when growing memory").then(|| {
        format!(
            "task exceeded its memory limit ({} = {} bytes)",
            crate::settings::keys::TASK_MEMORY,
            sandbox.memory
        )
    })
}

fn to_wit_op(op: &Op) -> wit::Op {
    let kind = match op.kind {
        OpKind::Map => wit::OpKind::Map,
        OpKind::Filter => wit::OpKind::Filter,
        OpKind::FlatMap => wit::OpKind::FlatMap,
        OpKind::MapPartitions => wit::OpKind::MapPartitions,
        OpKind::MapValues => wit::OpKind::MapValues,
        OpKind::FlatMapValues => wit::OpKind::FlatMapValues,
        OpKind::KeyBy => wit::OpKind::KeyBy,
        OpKind::Combine => wit::OpKind::Combine,
        OpKind::Merge => wit::OpKind::Merge,
        OpKind::Fold => wit::OpKind::Fold,
        OpKind::Reduce => wit::OpKind::Reduce,
    };
    wit::Op { kind, name: op.name.clone(), args: op.args.clone() }
}

/// A trap's cause plus what the guest said on stderr (a Rust panic message), on one line.
pub(crate) fn trap_message(e: &wasmtime::Error, stderr: &[u8]) -> String {
    let cause = e.root_cause().to_string();
    let cause = cause.lines().next().unwrap_or("").trim().to_string();
    let text = String::from_utf8_lossy(stderr);
    match panic_message(&text) {
        Some(p) => format!("guest panicked: {p} ({cause})"),
        None if text.trim().is_empty() => format!("guest trapped: {cause}"),
        None => format!("guest trapped: {cause}; stderr: {}", one_line(tail(&text, 2000))),
    }
}

/// Extracts `at FILE:LINE:COL: MESSAGE` from Rust's default panic output.
fn panic_message(text: &str) -> Option<String> {
    // The first occurrence: the message itself may contain "panicked at".
    let start = text
        .find(" panicked at ")
        .map(|i| i + 1)
        .or_else(|| text.starts_with("panicked at ").then_some(0))?;
    let rest = &text[start + "panicked at ".len()..];
    let rest = rest.split("\nnote: ").next().unwrap_or(rest);
    let (location, message) = rest.split_once(":\n").unwrap_or((rest, ""));
    Some(format!("{} at {}", one_line(message), location.trim()))
}

fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut i = s.len() - max;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_rust_panic_message() {
        let text = "thread '<unnamed>' (1) panicked at src/lib.rs:12:5:\nboom: record 3\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(panic_message(text).unwrap(), "boom: record 3 at src/lib.rs:12:5");
        assert!(panic_message("nothing here").is_none());
        let nested = "thread '<unnamed>' (1) panicked at src/lib.rs:7:5:\nguest panicked at record 500\nnote: run with\n";
        assert_eq!(
            panic_message(nested).unwrap(),
            "guest panicked at record 500 at src/lib.rs:7:5"
        );
    }
}
