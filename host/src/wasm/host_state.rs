//! The per-store host state: a sandboxed WASI context, resource limits, and the driver (job main only).

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// The driver a job's main talks to; absent in task stores.
pub type DriverHandle = Box<crate::context::Context>;

/// State of one `Store`.
pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: StoreLimits,
    /// The job's driver context; `None` inside tasks, where driver calls fail.
    pub(crate) driver: Option<DriverHandle>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
