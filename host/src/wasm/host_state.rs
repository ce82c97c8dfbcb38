//! The per-store host state: a sandboxed WASI context, resource limits, and the store's `driver` (a refusing one inside tasks).

use std::any::Any;

use wasmtime::component::{HasData, HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::job::wisp::task::driver::{self, Host as DriverHost};
use super::bindings::job::wisp::task::types;
use super::stats::MeteredLimits;
use super::stop::Stop;
use super::validate::ComponentError;

/// What answers a store's calls to the WIT `driver` interface.
///
/// A job's main gets the application's driver (its context); a task's store
/// gets one that refuses every call, since the driver lives on the driver
/// only. The runtime never knows what implements it.
pub(crate) trait Driver: DriverHost + Send {
    /// The implementation itself, for its owner to take back after the main ended.
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

impl<T: DriverHost + Send + 'static> Driver for T {
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

/// State of one `Store`.
pub(crate) struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: MeteredLimits,
    /// The store's driver (`NotOnTheDriver` inside tasks).
    pub(crate) driver: Box<dyn Driver>,
    /// When the guest's waits inside `wasi:io` must end (its task cancelled or out of time).
    pub(crate) stop: Stop,
}

impl HostState {
    /// The state of a task's store: no driver, waits that end at `stop`.
    pub(crate) fn for_task(wasi: WasiCtx, limits: MeteredLimits, stop: Stop) -> HostState {
        HostState {
            wasi,
            table: ResourceTable::new(),
            limits,
            driver: Box::new(super::no_driver::NotOnTheDriver),
            stop,
        }
    }

    /// The state of a job main's store, talking to `driver`.
    pub(crate) fn for_job_main(
        wasi: WasiCtx,
        limits: MeteredLimits,
        driver: Box<dyn Driver>,
    ) -> HostState {
        HostState { wasi, table: ResourceTable::new(), limits, driver, stop: Stop::never() }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Projects a store's state onto its driver for the generated `add_to_linker`.
struct StoreDriver;

impl HasData for StoreDriver {
    type Data<'a> = &'a mut dyn Driver;
}

impl types::Host for HostState {}

/// Adds the `driver` interface (and its `types`) to the linker: calls go to the store's driver.
pub(crate) fn add_driver_to_linker(linker: &mut Linker<HostState>) -> Result<(), ComponentError> {
    types::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
        .and_then(|()| driver::add_to_linker::<HostState, StoreDriver>(linker, |s| &mut *s.driver))
        .map_err(|e| ComponentError::Engine { message: format!("{e:#}") })
}
