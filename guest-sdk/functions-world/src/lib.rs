//! The bindings of the `functions` world of `wit/task.wit` (`pipeline` only),
//! used by `wisp_guest::export_functions!`.
//!
//! They live in their own crate because wit-bindgen names the export macro
//! of an interface after the interface alone: the `job` and `functions`
//! worlds both export `wisp:task/pipeline`, so one crate cannot hold the
//! public export macros of both. `wisp-guest` generates the `job` world with
//! its `types` taken from here, so `Op` and `Batch` are the same Rust types
//! in both worlds and one `Task` implements both `pipeline` exports.

#![allow(missing_docs, clippy::all, unsafe_op_in_unsafe_fn)]

extern crate self as wisp_guest_functions;

#[doc(hidden)]
pub use wit_bindgen;

wit_bindgen::generate!({
    path: "../../wit",
    world: "functions",
    pub_export_macro: true,
    export_macro_name: "__export_wisp_functions",
    default_bindings_module: "wisp_guest::__private::functions_bindings",
    runtime_path: "wisp_guest_functions::wit_bindgen::rt",
});
