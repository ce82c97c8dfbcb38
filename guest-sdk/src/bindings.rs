//! The bindings of the `job` world, generated from `wit/task.wit`, with
//! paths that work from the job's crate (`main!` expands there). The `types`
//! interface comes from `wisp-guest-functions` (the `functions` world), so
//! both worlds' `pipeline` exports take the same `Op` and `Batch`.

#![allow(missing_docs, clippy::all, unsafe_op_in_unsafe_fn)]

wit_bindgen::generate!({
    path: "../wit",
    world: "job",
    pub_export_macro: true,
    export_macro_name: "__export_wisp_job",
    default_bindings_module: "wisp_guest::__private::bindings",
    runtime_path: "wisp_guest::__private::wit_bindgen::rt",
    with: { "wisp:task/types@0.1.0": wisp_guest_functions::wisp::task::types },
});

/// The `types` interface (shared with the `functions` world).
pub use wisp_guest_functions::wisp::task::types;
