//! The broadcast section of `wisp-bench`: a 5M-row table joined with a 100k-row lookup table as a broadcast (map-side) join and as a shuffle join, same run, same answer.
//!
//! Both run `shared-vars bjoin` in local mode with 2 cores: the rows are
//! generated inside the tasks (`(i, i*7919 % 100000)`), the lookup table
//! (`key -> "name-KEY"`) is built on the driver and either broadcast or
//! parallelized and joined. Both answers are checked against the checksum
//! computed here. The bytes an executor receives for the broadcast are the
//! encoded table, once (it travels by hash with the first task there; in local
//! mode tasks share the driver's copy).

use std::time::Duration;

use wisp_tests::SHARED_VARS;

use super::run_child;

const ROWS: u64 = 5_000_000;
const KEYS: u64 = 100_000;
const PARTS: u64 = 8;

/// Runs the section.
pub(crate) fn bench_broadcast(runs: usize) -> anyhow::Result<()> {
    let expected = (0..ROWS).fold(0u64, |acc, i| {
        let k = i.wrapping_mul(7919) % KEYS;
        acc.wrapping_add(i.wrapping_mul(31)).wrapping_add(format!("name-{k}").len() as u64)
    });
    // The broadcast value's encoding: a list of strings, each `u32le len ++ bytes`.
    let table_bytes: u64 = (0..KEYS).map(|k| 4 + format!("name-{k}").len() as u64).sum();
    let (rows, keys, parts) = (ROWS.to_string(), KEYS.to_string(), PARTS.to_string());
    let mut best = Vec::new();
    for mode in ["shuffle", "broadcast"] {
        let mut times: Vec<Duration> = Vec::new();
        for _ in 0..runs.max(1) {
            let run =
                run_child(SHARED_VARS, &["--cores", "2"], &["bjoin", mode, &rows, &keys, &parts])?;
            let answer = format!("checksum={expected}");
            anyhow::ensure!(
                run.stdout.lines().any(|l| l == answer),
                "{mode} join answered {} instead of {answer}",
                run.stdout.trim()
            );
            times.push(run.wall);
        }
        times.sort();
        best.push(times[0]);
        println!(
            "broadcast section: {mode:>9} join of {ROWS} rows with {KEYS} keys: best {:.2} s of {} runs",
            times[0].as_secs_f64(),
            times.len()
        );
    }
    println!(
        "broadcast section: broadcast join / shuffle join time = {:.2}; broadcast value {:.2} MB, received once per executor",
        best[1].as_secs_f64() / best[0].as_secs_f64(),
        table_bytes as f64 / 1e6
    );
    Ok(())
}
