//! Integration tests: real `wisp` processes running real wasm components (built from source by build.rs) on real files.

mod api;
mod bad_input;
mod builtins;
mod c_guest;
mod cluster;
mod copartitioned;
mod examples;
mod guest_lang;
mod harness;
mod js;
mod leftovers;
mod memory;
mod python;
mod reliability;
mod scheduling;
mod shared_vars;
mod shared_vars_js;
mod stoppable;
mod store;
mod web;
mod web_ui;
mod wordcount;

use std::time::Duration;

/// Upper bound for any single `wisp` run in these tests.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(180);
