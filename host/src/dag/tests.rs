//! DAG scheduler tests: the whole `Scheduler` driven by a simulated cluster (`harness`), as pure data.

mod copartitioned;
mod epochs;
mod faults;
mod harness;
mod jobs;
mod locality;
mod scale;
mod speculation;
mod stages;
