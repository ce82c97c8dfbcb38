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

/// The exported interface every Wisp component must have.
pub(super) const PIPELINE_INTERFACE: &str = "wisp:task/pipeline@0.1.0";

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
        let iface = component
            .get_export_index(None, PIPELINE_INTERFACE)
            .ok_or_else(|| missing(PIPELINE_INTERFACE))?;
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
