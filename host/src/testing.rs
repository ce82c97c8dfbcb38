//! Test-only code, compiled only with the `testing` cargo feature (which `wisp-tests` and `host/fuzz` enable): never in a shipped `wisp`.
//!
//! - `faults`: fault rules an executor process applies to its task attempts,
//!   read from the file named by `WISP_TEST_FAULTS` (fail, stall, lose
//!   shuffle output, exit, refuse a launch).
//! - `probe`: blocking clients that poke a running master with unusual input
//!   (another protocol version, raw bytes, a half-open connection).
//! - `fuzz`: untrusted bytes decoded as every message a peer can send (the
//!   body of the cargo-fuzz target and of the corpus replay test).

mod faults;
mod fuzz;
mod probe;

pub use faults::{FAULTS_ENV, FaultsError, TestFaults};
pub use fuzz::{Decoded, decode_untrusted, encode_seed};
pub use probe::{Probe, ProbeError, hold_half_open};
