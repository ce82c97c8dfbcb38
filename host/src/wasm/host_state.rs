//! The per-store host state: a sandboxed WASI context, resource limits, the store's `driver` (a refusing one inside tasks) and its shared variables.

use std::any::Any;
use std::sync::Arc;

use wasmtime::component::{HasData, HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::job::wisp::task::driver::{self, Host as DriverHost};
use super::bindings::job::wisp::task::shared::{self, Host as SharedHost};
use super::bindings::job::wisp::task::types;
use super::bindings::job_v0_1::wisp::task::driver as driver_v0_1;
use super::shared_vars::TaskShared;
use super::stats::MeteredLimits;
use super::stop::Stop;
use super::validate::ComponentError;

/// What answers a store's calls to the WIT `driver` interface.
///
/// A job's main gets the application's driver (its context); a task's store
/// gets one that refuses every call, since the driver lives on the driver
/// only. The runtime never knows what implements it. A job main's store asks
/// it for broadcast values and accumulator adds too (`shared`).
pub(crate) trait Driver: DriverHost + SharedHost + Send {
    /// The implementation itself, for its owner to take back after the main ended.
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

impl<T: DriverHost + SharedHost + Send + 'static> Driver for T {
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
    /// A task's broadcast variables and accumulator updates (none in a job main's store,
    /// whose `shared` calls go to its driver).
    pub(crate) shared: Option<Arc<TaskShared>>,
    /// Why the host refused a task's shared-variable call (a destroyed broadcast, a bad
    /// accumulator update): the cause of the task's failure, whatever the guest did next
    /// (the SDKs panic, since a value they cannot read leaves them nothing to return).
    pub(crate) refused: Option<String>,
}

impl HostState {
    /// The state of a task's store: no driver, waits that end at `stop`.
    pub(crate) fn for_task(
        wasi: WasiCtx,
        limits: MeteredLimits,
        stop: Stop,
        shared: Arc<TaskShared>,
    ) -> HostState {
        HostState {
            wasi,
            table: ResourceTable::new(),
            limits,
            driver: Box::new(super::no_driver::NotOnTheDriver),
            stop,
            shared: Some(shared),
            refused: None,
        }
    }

    /// The state of a job main's store, talking to `driver`.
    pub(crate) fn for_job_main(
        wasi: WasiCtx,
        limits: MeteredLimits,
        driver: Box<dyn Driver>,
    ) -> HostState {
        HostState {
            wasi,
            table: ResourceTable::new(),
            limits,
            driver,
            stop: Stop::never(),
            shared: None,
            refused: None,
        }
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

impl SharedHost for HostState {
    fn broadcast_value(&mut self, id: u32) -> Result<Vec<u8>, String> {
        match &self.shared {
            Some(task) => task.broadcast_value(id).inspect_err(|e| self.refused = Some(e.clone())),
            None => self.driver.broadcast_value(id),
        }
    }

    fn accumulator_add(&mut self, id: u32, value: Vec<u8>) -> Result<(), String> {
        match &self.shared {
            Some(task) => {
                task.accumulator_add(id, value).inspect_err(|e| self.refused = Some(e.clone()))
            }
            None => self.driver.accumulator_add(id, value),
        }
    }
}

/// Projects a store's state onto its driver as the 0.1.0 `driver` (`v0_1.rs` delegates).
struct StoreDriverV0_1;

impl HasData for StoreDriverV0_1 {
    type Data<'a> = super::v0_1::DriverV0_1<'a>;
}

/// Adds the `driver` and `shared` interfaces (and their `types`) to the linker, in this
/// version and as 0.1.0: calls go to the store's driver and shared variables.
pub(crate) fn add_driver_to_linker(linker: &mut Linker<HostState>) -> Result<(), ComponentError> {
    types::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
        .and_then(|()| driver::add_to_linker::<HostState, StoreDriver>(linker, |s| &mut *s.driver))
        .and_then(|()| shared::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s))
        .and_then(|()| linker.instance("wisp:task/types@0.1.0").map(drop))
        .and_then(|()| {
            driver_v0_1::add_to_linker::<HostState, StoreDriverV0_1>(linker, |s| {
                super::v0_1::DriverV0_1(&mut *s.driver)
            })
        })
        .map_err(|e| ComponentError::Engine { message: format!("{e:#}") })
}
