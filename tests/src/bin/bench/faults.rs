//! The faults section of `wisp-bench`: word count on a master with 3 one-core executors, fault-free and with one executor SIGKILLed halfway, alternating; slowdown and task attempts rerun.

use std::path::Path;
use std::time::{Duration, Instant};

use wisp_tests::WORDCOUNT;

use super::{BenchCluster, corpus_of_small, count_output, median, read_all};

/// Task attempts started beyond the first of each (stage, partition): reruns after failures.
fn tasks_rerun(events: &[serde_json::Value]) -> usize {
    let starts: Vec<(u64, u64)> = events
        .iter()
        .filter(|e| e["event"] == "task_start")
        .map(|e| (e["stage"].as_u64().unwrap_or(0), e["partition"].as_u64().unwrap_or(0)))
        .collect();
    let distinct: std::collections::BTreeSet<_> = starts.iter().collect();
    starts.len() - distinct.len()
}

/// Master + 3 one-core executors, default settings: the word count fault-free and with one
/// executor SIGKILLed halfway (by the fault-free median), `runs` times each, alternating.
pub(crate) fn bench_faults(data_dir: &Path, corpus: &Path, runs: usize) -> anyhow::Result<()> {
    let mb = std::fs::metadata(corpus)?.len() as f64 / 1e6;
    let mut cluster = BenchCluster::start(data_dir, 3)?;
    let scratch = tempfile::tempdir_in(data_dir)?;
    let path = |p: &Path| p.display().to_string();
    read_all(corpus)?;
    let small = corpus_of_small(data_dir)?;
    cluster.submit(WORDCOUNT, &[], &[&small, &path(&scratch.path().join("warm"))])?;

    let reference_out = scratch.path().join("reference");
    let (first, _) = cluster.submit(WORDCOUNT, &[], &[&path(corpus), &path(&reference_out)])?;
    let reference = count_output(&reference_out)?;
    let mut clean = vec![first.as_secs_f64()];
    let mut faulty: Vec<(f64, usize, f64)> = Vec::new();
    let mut registered = 3;
    for run in 0..runs {
        if run > 0 {
            let out = scratch.path().join(format!("clean-{run}"));
            let (wall, _) = cluster.submit(WORDCOUNT, &[], &[&path(corpus), &path(&out)])?;
            anyhow::ensure!(count_output(&out)? == reference, "fault-free run {run} differs");
            clean.push(wall.as_secs_f64());
        }
        let kill_after = Duration::from_secs_f64(median(clean.clone()) / 2.0);
        let out = scratch.path().join(format!("faulty-{run}"));
        let mut victim = cluster.executors.remove(run % cluster.executors.len());
        let (wall, killed_at) = std::thread::scope(|s| {
            let job = s.spawn(|| cluster.submit(WORDCOUNT, &[], &[&path(corpus), &path(&out)]));
            let start = Instant::now();
            while start.elapsed() < kill_after && !job.is_finished() {
                std::thread::sleep(Duration::from_millis(10));
            }
            let killed_at = start.elapsed().as_secs_f64();
            victim.kill();
            let (wall, _) = job.join().expect("submit thread")?;
            anyhow::Ok((wall, killed_at))
        })?;
        anyhow::ensure!(count_output(&out)? == reference, "run {run} with a fault differs");
        let rerun = tasks_rerun(&cluster.last_app_events()?);
        faulty.push((wall.as_secs_f64(), rerun, killed_at));
        let note = if rerun == 0 { " (the loss came too late to matter)" } else { "" };
        println!(
            "  run {}: fault-free {:.2} s; executor SIGKILLed at {killed_at:.2} s: {:.2} s, {rerun} task attempts rerun{note}",
            run + 1,
            clean[run],
            wall.as_secs_f64()
        );
        // A fresh executor replaces the killed one before the next runs.
        cluster.add_executor();
        registered += 1;
        cluster.wait_registered(registered);
    }
    let clean_median = median(clean.clone());
    let faulty_median = median(faulty.iter().map(|f| f.0).collect());
    let worst = faulty.iter().map(|f| f.0).fold(0.0, f64::max);
    let reruns: Vec<usize> = faulty.iter().map(|f| f.1).collect();
    println!(
        "faults: word count over {mb:.0} MB, master + 3 executors x 1 core, default settings, {runs} runs each"
    );
    println!(
        "  fault-free: median {clean_median:.2} s (runs: {})",
        clean.iter().map(|w| format!("{w:.2}")).collect::<Vec<_>>().join(", ")
    );
    println!(
        "  one executor SIGKILLed halfway: median {faulty_median:.2} s, worst {worst:.2} s (runs: {})",
        faulty.iter().map(|f| format!("{:.2}", f.0)).collect::<Vec<_>>().join(", ")
    );
    println!(
        "  slowdown: median {:.2}x, worst {:.2}x (target <= 2x); task attempts rerun per run: {reruns:?}",
        faulty_median / clean_median,
        worst / clean_median
    );
    Ok(())
}
