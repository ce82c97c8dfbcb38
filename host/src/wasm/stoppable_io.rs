//! `wasi:io` waits that a task's limits can end: `poll`, `pollable.block` and the blocking stream calls, shadowed in the linker.
//!
//! Epoch interruption only fires while wasm code runs; a guest blocked in a
//! host call (`std::thread::sleep` is a monotonic-clock pollable waited on
//! with `wasi:io/poll`) would ignore its time limit and `KillTask`. Every
//! `wasi:io` function that can wait is therefore replaced by one that races
//! the wait against the store's `Stop` and traps with
//! `Trap::Interrupt` when the task is cancelled or past its deadline: the
//! caller then reports `task killed` or the time limit, as for a spinning
//! guest. The non-waiting functions delegate unchanged.

use wasmtime::Trap;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::io::poll::{Host as AsyncPoll, HostPollable as AsyncPollable};
use wasmtime_wasi::p2::bindings::io::streams::{
    self as async_streams, Host as AsyncStreams, HostInputStream as AsyncInput,
    HostOutputStream as AsyncOutput,
};
use wasmtime_wasi::p2::bindings::sync::io::{poll, streams};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable, StreamError, StreamResult};
use wasmtime_wasi::runtime::in_tokio;

use super::host_state::HostState;
use super::stop::Stop;
use super::validate::ComponentError;

/// The store's resource table seen by the shadowed `wasi:io` functions, with its `Stop`.
pub(crate) struct StoppableIo<'a> {
    table: &'a mut ResourceTable,
    stop: &'a Stop,
}

struct HasStoppableIo;

impl HasData for HasStoppableIo {
    type Data<'a> = StoppableIo<'a>;
}

fn view(s: &mut HostState) -> StoppableIo<'_> {
    StoppableIo { table: &mut s.table, stop: &s.stop }
}

/// Replaces the waiting `wasi:io/poll` and `wasi:io/streams` functions of `add_to_linker_sync` with stoppable ones.
pub(crate) fn shadow_waits(linker: &mut Linker<HostState>) -> Result<(), ComponentError> {
    linker.allow_shadowing(true);
    let added = poll::add_to_linker::<HostState, HasStoppableIo>(linker, view)
        .and_then(|()| streams::add_to_linker::<HostState, HasStoppableIo>(linker, view));
    linker.allow_shadowing(false);
    added.map_err(|e| ComponentError::Engine { message: format!("{e:#}") })
}

fn interrupted<T>(r: Result<wasmtime::Result<T>, Trap>) -> wasmtime::Result<T> {
    r.unwrap_or_else(|t| Err(t.into()))
}

fn stream_interrupted<T>(r: Result<StreamResult<T>, Trap>) -> StreamResult<T> {
    r.unwrap_or_else(|t| Err(StreamError::Trap(t.into())))
}

impl poll::Host for StoppableIo<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        let (table, stop) = (&mut *self.table, self.stop);
        interrupted(stop.wait(AsyncPoll::poll(table, pollables)))
    }
}

impl poll::HostPollable for StoppableIo<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        // Never waits: it polls the pollable once.
        in_tokio(AsyncPollable::ready(self.table, pollable))
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        let (table, stop) = (&mut *self.table, self.stop);
        interrupted(stop.wait(AsyncPollable::block(table, pollable)))
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        AsyncPollable::drop(self.table, pollable)
    }
}

impl streams::Host for StoppableIo<'_> {
    fn convert_stream_error(&mut self, err: StreamError) -> wasmtime::Result<streams::StreamError> {
        Ok(match AsyncStreams::convert_stream_error(self.table, err)? {
            async_streams::StreamError::LastOperationFailed(e) => {
                streams::StreamError::LastOperationFailed(e)
            }
            async_streams::StreamError::Closed => streams::StreamError::Closed,
        })
    }
}

impl streams::HostOutputStream for StoppableIo<'_> {
    fn drop(&mut self, stream: Resource<DynOutputStream>) -> wasmtime::Result<()> {
        let (table, stop) = (&mut *self.table, self.stop);
        interrupted(stop.wait(AsyncOutput::drop(table, stream)))
    }

    fn check_write(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<u64> {
        AsyncOutput::check_write(self.table, stream)
    }

    fn write(&mut self, stream: Resource<DynOutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
        AsyncOutput::write(self.table, stream, bytes)
    }

    fn blocking_write_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        bytes: Vec<u8>,
    ) -> StreamResult<()> {
        let (table, stop) = (&mut *self.table, self.stop);
        stream_interrupted(stop.wait(AsyncOutput::blocking_write_and_flush(table, stream, bytes)))
    }

    fn blocking_write_zeroes_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        len: u64,
    ) -> StreamResult<()> {
        let (table, stop) = (&mut *self.table, self.stop);
        stream_interrupted(
            stop.wait(AsyncOutput::blocking_write_zeroes_and_flush(table, stream, len)),
        )
    }

    fn subscribe(
        &mut self,
        stream: Resource<DynOutputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        AsyncOutput::subscribe(self.table, stream)
    }

    fn write_zeroes(&mut self, stream: Resource<DynOutputStream>, len: u64) -> StreamResult<()> {
        AsyncOutput::write_zeroes(self.table, stream, len)
    }

    fn flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        AsyncOutput::flush(self.table, stream)
    }

    fn blocking_flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        let (table, stop) = (&mut *self.table, self.stop);
        stream_interrupted(stop.wait(AsyncOutput::blocking_flush(table, stream)))
    }

    fn splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        AsyncOutput::splice(self.table, dst, src, len)
    }

    fn blocking_splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        let (table, stop) = (&mut *self.table, self.stop);
        stream_interrupted(stop.wait(AsyncOutput::blocking_splice(table, dst, src, len)))
    }
}

impl streams::HostInputStream for StoppableIo<'_> {
    fn drop(&mut self, stream: Resource<DynInputStream>) -> wasmtime::Result<()> {
        let (table, stop) = (&mut *self.table, self.stop);
        interrupted(stop.wait(AsyncInput::drop(table, stream)))
    }

    fn read(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        AsyncInput::read(self.table, stream, len)
    }

    fn blocking_read(
        &mut self,
        stream: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<Vec<u8>> {
        let (table, stop) = (&mut *self.table, self.stop);
        stream_interrupted(stop.wait(AsyncInput::blocking_read(table, stream, len)))
    }

    fn skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        AsyncInput::skip(self.table, stream, len)
    }

    fn blocking_skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        let (table, stop) = (&mut *self.table, self.stop);
        stream_interrupted(stop.wait(AsyncInput::blocking_skip(table, stream, len)))
    }

    fn subscribe(
        &mut self,
        stream: Resource<DynInputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        AsyncInput::subscribe(self.table, stream)
    }
}
