//! Failure detection and reconnection with default settings: a SIGKILLed executor is lost within seconds, a SIGTERMed master closes its connections, executors register again with a restarted master, and a submission without a master fails at once.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wisp_tests::{API_JOB, WORDCOUNT, wait_for};

use crate::RUN_TIMEOUT;
use crate::harness::{Cluster, START_TIMEOUT, check_wordcount, corpus};

/// How fast a dead peer must be noticed with default settings (`wisp.network.livenessTimeout` is 3s).
const DETECTION_BOUND: Duration = Duration::from_secs(5);

/// Files below `dir` (any depth) whose name ends with `.ext`.
fn files_with_extension(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(files_with_extension(&p, ext));
        } else if p.extension().is_some_and(|x| x == ext) {
            found.push(p);
        }
    }
    found
}

/// CPU time (user + system, in clock ticks) a process has used (Linux `/proc`).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("process stat");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// The `wisp: error:` lines of a stderr text.
fn error_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("wisp: error:")).collect()
}

#[test]
fn a_sigkilled_idle_executor_is_lost_within_5s_with_default_settings() {
    let mut cluster = Cluster::start(2, &[], &[]);
    let mut victim = cluster.executors.remove(0);
    let killed = Instant::now();
    victim.kill();
    let line = cluster
        .master_log_line("the master to declare executor 1 lost", &["executor lost", "executor-1"]);
    let took = killed.elapsed();
    eprintln!("SIGKILLed executor declared lost after {took:?}: {line}");
    assert!(took < DETECTION_BOUND, "executor 1 was declared lost only after {took:?}: {line}");
    // Lost by the connection's liveness timeout, not by the 30 s heartbeat deadline.
    assert!(line.contains("timed out"), "{line}");
    assert!(cluster.executors[0].running(), "executor 2 exited");
    let log = cluster.master_log();
    assert!(
        !log.lines().any(|l| l.contains("executor lost") && l.contains("executor-2")),
        "the live executor 2 was declared lost: {log}"
    );
}

#[test]
fn a_sigtermed_master_tells_submit_and_executors_at_once_and_they_serve_its_successor() {
    let mut cluster = Cluster::start(2, &[], &[]);
    let dir = cluster.dir.path().to_path_buf();
    let pids: Vec<u32> = cluster.executors.iter().map(|e| e.id()).collect();
    // One task that spins forever occupies one executor's only core.
    let mut submit = cluster.spawn_submit("submit-spin", API_JOB, &["spin"]);
    let submit_log = dir.join("submit-spin.log");
    let before: Vec<u64> = pids.iter().map(|p| cpu_ticks(*p)).collect();
    // Executors log nothing per task at `info`: the spinning task shows as CPU time.
    let spinning = wait_for("an executor to spin", RUN_TIMEOUT, || {
        assert!(
            submit.running(),
            "the submit client exited early: {}",
            std::fs::read_to_string(&submit_log).unwrap_or_default()
        );
        (0..2).find(|&i| cpu_ticks(pids[i]) > before[i] + 100).map(|i| i + 1)
    });
    let terminated = Instant::now();
    cluster.master.terminate();
    let status = submit.wait_timeout(DETECTION_BOUND);
    let took = terminated.elapsed();
    let stderr = std::fs::read_to_string(&submit_log).unwrap();
    let status = status.unwrap_or_else(|| panic!("submit still running {took:?} after SIGTERM"));
    eprintln!("wisp submit exited {took:?} after the master's SIGTERM");
    assert_eq!(status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(
        error_lines(&stderr),
        ["wisp: error: lost the connection to the master: the master is shutting down"],
        "stderr: {stderr}"
    );
    let status = cluster.master.wait_timeout(Duration::from_secs(10)).expect("the master exits");
    assert!(status.success(), "the master's exit status after SIGTERM: {status:?}");
    for i in 1..=2 {
        let log = cluster.executor_log_path(i);
        let line =
            wait_for(&format!("executor {i} to hear the master close"), DETECTION_BOUND, || {
                let text = std::fs::read_to_string(&log).ok()?;
                text.lines().find(|l| l.contains("lost the master")).map(str::to_string)
            });
        assert!(line.contains("the master is shutting down"), "executor {i}: {line}");
    }
    let took = terminated.elapsed();
    eprintln!("both executors heard the master close within {took:?}");
    // The spinning attempt was cancelled and its thread joined before the executor registers again.
    let log = cluster.executor_log_path(spinning);
    let line = wait_for("the spinning executor to end its registration", START_TIMEOUT, || {
        let text = std::fs::read_to_string(&log).ok()?;
        text.lines().find(|l| l.contains("registration ended")).map(str::to_string)
    });
    assert!(line.contains("cancelled=1"), "executor {spinning}: {line}");

    // The same executors run the next job.
    cluster.restart_master();
    cluster.wait_registered(2);
    let (input, expected) = corpus(&dir, "after.txt", 300_000, 7);
    let out = dir.join("out-after");
    check_wordcount(&cluster.submit(WORDCOUNT, &[], &[&input, &out], None), &out, &expected);
    for (e, pid) in cluster.executors.iter_mut().zip(pids) {
        assert!(e.running() && e.id() == pid, "{} is not the same process", e.name());
    }
}

#[test]
fn executors_register_again_with_a_restarted_master_and_the_next_job_succeeds() {
    let mut cluster = Cluster::start(2, &[], &[]);
    let dir = cluster.dir.path().to_path_buf();
    let pids: Vec<u32> = cluster.executors.iter().map(|e| e.id()).collect();
    let (input, expected) = corpus(&dir, "corpus.txt", 12 << 20, 17);

    // A shuffle job whose master is SIGKILLed once an executor has written a map output.
    let out_lost = dir.join("out-lost");
    let small_splits = ["wisp.files.maxPartitionBytes=128k"];
    let (in_s, out_s) = (input.to_str().unwrap(), out_lost.to_str().unwrap());
    let mut doomed = cluster.spawn_submit_with("doomed", WORDCOUNT, &small_splits, &[in_s, out_s]);
    let executor_dirs = [cluster.executor_dir(1), cluster.executor_dir(2)];
    wait_for("a map output", RUN_TIMEOUT, || {
        assert!(doomed.running(), "the job ended before any map output was written");
        executor_dirs.iter().any(|d| !files_with_extension(d, "index").is_empty()).then_some(())
    });
    let killed = Instant::now();
    cluster.master.kill();
    let status = doomed.wait_timeout(DETECTION_BOUND);
    let took = killed.elapsed();
    let stderr = std::fs::read_to_string(dir.join("doomed.log")).unwrap();
    let status = status.unwrap_or_else(|| panic!("submit still running {took:?} after SIGKILL"));
    eprintln!("wisp submit exited {took:?} after the master's SIGKILL");
    assert_eq!(status.code(), Some(1), "stderr: {stderr}");
    let errors = error_lines(&stderr);
    assert_eq!(errors.len(), 1, "stderr: {stderr}");
    assert!(
        errors[0].starts_with(
            "wisp: error: lost the connection to the master: the master stopped answering"
        ),
        "stderr: {stderr}"
    );
    assert!(!out_lost.exists(), "the failed job's output was committed");
    // The dead master's temporary output directory is still beside the output…
    let leftovers = || -> Vec<String> {
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".out-lost.wisp-temporary-"))
            .collect()
    };
    assert_eq!(leftovers().len(), 1, "the killed master's temporary output directory");

    // Submitted while no master listens: one line, quickly.
    let started = Instant::now();
    let out_early = dir.join("out-early");
    let run = cluster.submit(WORDCOUNT, &[], &[&input, &out_early], None);
    let took = started.elapsed();
    eprintln!("submission without a master failed after {took:?}");
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("wisp: error: cannot connect to the master at "),
        "{}",
        run.stderr
    );
    assert!(took < Duration::from_secs(15), "the failed submission took {took:?}");

    // The executors dropped the dead master's applications: their files are gone.
    for i in 1..=2 {
        let log = cluster.executor_log_path(i);
        wait_for(&format!("executor {i} to end its registration"), START_TIMEOUT, || {
            std::fs::read_to_string(&log).ok()?.contains("registration ended").then_some(())
        });
        let left = files_with_extension(&cluster.executor_dir(i), "index");
        assert!(left.is_empty(), "executor {i} kept shuffle files: {left:?}");
    }

    cluster.restart_master();
    cluster.wait_registered(2);
    // …until the restarted master removes it at start (its journal lists it, its writer is gone).
    assert_eq!(leftovers(), Vec::<String>::new(), "the restarted master left the leftover");
    let out = dir.join("out");
    check_wordcount(&cluster.submit(WORDCOUNT, &[], &[&input, &out], None), &out, &expected);
    let logs = [cluster.executor_log_path(1), cluster.executor_log_path(2)];
    for ((e, pid), log) in cluster.executors.iter_mut().zip(pids).zip(logs) {
        assert!(e.running() && e.id() == pid, "{} is not the same process", e.name());
        let log = std::fs::read_to_string(log).unwrap();
        assert!(log.contains("registered again after losing the master"), "{log}");
    }
}

#[test]
fn a_job_submitted_while_no_master_listens_fails_with_one_line() {
    let mut cluster = Cluster::start(0, &[], &[]);
    cluster.master.kill();
    let dir = cluster.dir.path().to_path_buf();
    let started = Instant::now();
    let run = cluster.submit(WORDCOUNT, &[], &[&dir.join("in"), &dir.join("out")], None);
    let took = started.elapsed();
    eprintln!("submission without a master failed after {took:?}");
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let lines: Vec<&str> = run.stderr.trim().lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(lines[0].starts_with("wisp: error: cannot connect to the master at "), "{}", lines[0]);
    assert!(took < Duration::from_secs(15), "the failed submission took {took:?}");
}
