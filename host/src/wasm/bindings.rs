//! Host bindings of `wit/task.wit`: generated for the `job` world (driver imports, `run`), typed by hand for the pipeline.
//!
//! The pipeline's `push`/`finish` are called through typed functions on our
//! own `records::Batch` (which derives the component traits), so batches
//! cross the boundary without an extra host-side copy.

use wasmtime::component::{Component, ComponentExportIndex};

use super::validate::ComponentError;

/// Bindings of the `job` world: the driver interface a job's main imports, and its `run` export.
pub(crate) mod job {
    wasmtime::component::bindgen!({
        world: "job",
        path: "../wit",
    });
}

/// Bindings of the `job` world of `wisp:task@0.1.0` (`wit/0.1.0/task.wit`), for components
/// built against it: only its `driver` is generated (its `types` are the current ones, which
/// 0.2.0 left unchanged); calls go to the same driver (`v0_1.rs`).
pub(crate) mod job_v0_1 {
    wasmtime::component::bindgen!({
        world: "job",
        path: "../wit/0.1.0",
        with: { "wisp:task/types@0.1.0": super::job::wisp::task::types },
    });
}

/// The exported pipeline interface, by version: every Wisp component exports one.
pub(super) const PIPELINE_INTERFACES: [&str; 2] =
    ["wisp:task/pipeline@0.2.0", "wisp:task/pipeline@0.1.0"];

/// Export indices of the pipeline's functions in one component, looked up once.
#[derive(Clone, Debug)]
pub(crate) struct PipelineExports {
    pub(crate) create: ComponentExportIndex,
    pub(crate) push: ComponentExportIndex,
    pub(crate) finish: ComponentExportIndex,
}

impl PipelineExports {
    /// Finds `wisp:task/pipeline` and its `task` functions.
    pub(crate) fn find(component: &Component) -> Result<PipelineExports, ComponentError> {
        let missing = |what: &str| ComponentError::NotPipeline {
            message: format!("missing export `{what}`"),
        };
        let iface = PIPELINE_INTERFACES
            .iter()
            .find_map(|name| component.get_export_index(None, name))
            .ok_or_else(|| missing(PIPELINE_INTERFACES[0]))?;
        let get = |name: &str| {
            component.get_export_index(Some(&iface), name).ok_or_else(|| missing(name))
        };
        Ok(PipelineExports {
            create: get("[static]task.create")?,
            push: get("[method]task.push")?,
            finish: get("[method]task.finish")?,
        })
    }
}
