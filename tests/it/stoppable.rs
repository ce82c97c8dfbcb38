//! Every guest task stops within its limit + 1 s whatever it is doing (spinning in wasm, sleeping, blocked in `wasi:io`), on its time limit, on `KillTask` (a speculation loser) and on job cancellation (Ctrl-C of `wisp submit`); a capture that reached its limit fails the attempt even when the guest ignored its write errors.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use wisp_tests::{HOSTILE, Run, WORDCOUNT, parse_counts, read_output_lines, wait_for, wisp};

use crate::RUN_TIMEOUT;
use crate::harness::{Cluster, START_TIMEOUT};

/// The time limit of the blocking scenarios.
const LIMIT: Duration = Duration::from_secs(2);
/// Wall time of a whole `wisp run` stopped by its 2 s limit (process start and compilation included), generous for a loaded machine.
const WALL_BOUND: Duration = Duration::from_secs(15);
/// What the executor logs when it stops a guest waiting inside the host.
const STOPPED_WAITING: &str = "stopped a guest waiting in wasi:io";

/// `wisp run HOSTILE` in local mode with an event log, one attempt per task; returns the run and its wall time.
fn run_hostile(events: &Path, conf: &[&str], args: &[&str]) -> (Run, Duration) {
    let events = events.to_str().unwrap();
    let mut all = vec!["run", HOSTILE, "--cores", "2", "--event-log", events];
    all.extend_from_slice(&["--conf", "wisp.task.maxFailures=1"]);
    for c in conf {
        all.extend_from_slice(&["--conf", c]);
    }
    all.push("--");
    all.extend_from_slice(args);
    let started = Instant::now();
    let run = wisp(&all, RUN_TIMEOUT);
    (run, started.elapsed())
}

/// The one `wisp: error:` line of a failed run.
fn failure_line(run: &Run) -> String {
    assert_eq!(run.code, Some(1), "expected a failure; stdout: {}", run.stdout);
    let lines: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("wisp: error:")).collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(!run.stderr.contains("panicked at"), "{}", run.stderr);
    lines[0].to_string()
}

/// Every event under `dir` (any depth), files in name order.
fn events_in(dir: &Path) -> Vec<Value> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).collect::<Vec<_>>()
        })
        .collect()
}

fn of<'a>(events: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    events.iter().filter(move |v| v["event"] == kind)
}

fn ms(v: &Value, field: &str) -> f64 {
    v[field].as_f64().unwrap_or_else(|| panic!("no {field} in {v}"))
}

#[test]
fn spinning_sleeping_and_napping_tasks_stop_at_their_time_limit() {
    for scenario in ["spin", "sleep", "naps"] {
        let dir = tempfile::tempdir().unwrap();
        let events = dir.path().join("events");
        let (run, wall) = run_hostile(&events, &["wisp.task.timeout=2s"], &[scenario]);
        let line = failure_line(&run);
        assert!(
            line.contains("task exceeded its time limit (wisp.task.timeout = 2s)"),
            "{scenario}: {line}"
        );
        assert!(wall < WALL_BOUND, "{scenario}: the run took {wall:?}");
        let all = events_in(&events);
        let ends: Vec<&Value> = of(&all, "task_end").collect();
        assert_eq!(ends.len(), 1, "{scenario}: one attempt: {ends:?}");
        assert_eq!(ends[0]["result"], "failed", "{}", ends[0]);
        // The promise: the limit, plus at most 1 s (the deadline starts at the first guest's start, after the launch).
        let took = ms(ends[0], "duration_ms");
        let limit_ms = LIMIT.as_millis() as f64;
        assert!(
            took >= limit_ms && took <= limit_ms + 1000.0,
            "{scenario}: the task ran {took} ms with a {LIMIT:?} limit"
        );
        println!("{scenario}: task stopped after {took:.0} ms (limit 2000 ms), whole run {wall:?}");
    }
}

#[test]
fn a_tasks_stdin_is_closed_so_a_read_ends_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (run, wall) =
        run_hostile(&dir.path().join("events"), &["wisp.task.timeout=2s"], &["stdin"]);
    assert!(run.ok(), "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "stdin=0 bytes, then end of stream");
    assert!(wall < WALL_BOUND, "the run took {wall:?}");
}

#[test]
fn a_capture_overflow_fails_the_attempt_even_when_the_guest_ignores_its_write_errors() {
    for stream in ["stdout", "stderr"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let (run, _) = run_hostile(
            &dir.path().join("events"),
            &[],
            &["flood-ignore", stream, out.to_str().unwrap()],
        );
        let line = failure_line(&run);
        assert!(
            line.contains(&format!(
                "task wrote more than 1 MiB to {stream}, the capture limit per task"
            )),
            "{stream}: {line}"
        );
        assert!(!run.stdout.contains("saved="), "{stream}: {}", run.stdout);
        assert!(!out.exists(), "{stream}: the failed job's output was committed");
        // Nothing beside it either (no hidden staging directory): only the event log.
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec!["events".to_string()], "{stream}: left behind: {left:?}");
    }
}

/// Whether any file named `name` exists under `dir`, at most `depth` levels down.
fn has_file(dir: &Path, name: &str, depth: u32) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() { depth > 0 && has_file(&p, name, depth - 1) } else { e.file_name() == name }
    })
}

/// Whether an attempt on executor `i` is asleep: its scratch directory
/// (`executor-N/app-N/scratch/ATTEMPT/`, removed when the attempt ends) holds the guest's marker.
fn asleep_on(cluster: &Cluster, i: usize) -> bool {
    has_file(&cluster.executor_dir(i), "sleeping", 5)
}

#[test]
fn ctrl_c_of_a_submit_whose_task_sleeps_stops_the_task_and_frees_the_executor() {
    // One executor with one core: the word count afterwards runs only if the sleeping task's thread is free.
    let cluster = Cluster::start(1, &[], &[]);
    let dir = cluster.dir.path();
    let log = dir.join("submit-sleep.log");
    let mut submit =
        cluster.spawn_submit_with("submit-sleep", HOSTILE, &["wisp.task.scratch=true"], &["sleep"]);
    wait_for("the task to fall asleep", START_TIMEOUT, || {
        assert!(
            submit.running(),
            "the submit client exited early: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        asleep_on(&cluster, 1).then_some(())
    });
    let pid = submit.id().to_string();
    let interrupted = Instant::now();
    let status = Command::new("kill").args(["-INT", &pid]).status().expect("run kill");
    assert!(status.success(), "kill -INT {pid} failed");
    let status = submit
        .wait_timeout(Duration::from_secs(30))
        .expect("the submit client should exit within 30 s of Ctrl-C");
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(1), "exit status {status:?}; stderr: {stderr}");
    assert_eq!(stderr.lines().last(), Some("wisp: error: job cancelled"), "stderr: {stderr}");
    // The attempt ended: its scratch directory is removed when it does.
    wait_for("the sleeping attempt to end", Duration::from_secs(30), || {
        (!asleep_on(&cluster, 1)).then_some(())
    });
    let stopped = interrupted.elapsed();
    println!("Ctrl-C to the sleeping attempt's end: {stopped:?}");
    assert!(stopped < Duration::from_secs(10), "the sleeping task ended {stopped:?} after Ctrl-C");
    let executor_log = std::fs::read_to_string(cluster.executor_log_path(1)).unwrap();
    assert!(executor_log.contains(STOPPED_WAITING), "executor log: {executor_log}");

    let input = dir.join("c.txt");
    wisp_tests::write_corpus(&input, 200_000, 6).unwrap();
    let expected = wisp_tests::reference_word_count(&std::fs::read(&input).unwrap());
    let out = dir.join("out");
    let run = cluster.submit(WORDCOUNT, &[], &[&input, &out], None);
    assert!(run.ok(), "submit failed: {}", run.stderr);
    assert_eq!(parse_counts(&read_output_lines(&out)), expected);
}

#[test]
fn a_speculation_loser_sleeping_in_the_host_is_killed_when_the_copy_wins() {
    // Partition 0's first attempt starts within 3 s of the job and sleeps an hour; a copy starts once it ran
    // 4 s, so after those 3 s, and does not sleep.
    let conf = [
        "wisp.speculation=true",
        "wisp.speculation.interval=50ms",
        "wisp.speculation.quantile=0.5",
        "wisp.speculation.minTaskRuntime=4s",
    ];
    let cluster = Cluster::start(2, &conf, &[]);
    let run = cluster.submit(HOSTILE, &["wisp.task.scratch=true"], &[Path::new("speculate")], None);
    assert!(run.ok(), "submit failed: {}", run.stderr);
    assert_eq!(run.stdout, format!("sum={}\nslept=1\n", (0..8).sum::<u64>()));

    let events = cluster.events();
    let copy = of(&events, "task_start")
        .find(|v| v["partition"] == 0 && v["speculative"] == true)
        .expect("a speculative copy of partition 0");
    let slow = of(&events, "task_start")
        .find(|v| v["stage"] == copy["stage"] && v["partition"] == 0 && v["attempt"] == 0)
        .expect("the first attempt of partition 0");
    assert_ne!(slow["executor"], copy["executor"], "the copy runs on another executor");
    let end_of = |start: &Value| {
        of(&events, "task_end").find(|v| v["task"] == start["task"]).cloned().unwrap_or_else(|| {
            panic!("no task_end for {start}; events: {events:?}");
        })
    };
    let (copy_end, slow_end) = (end_of(copy), end_of(slow));
    assert_eq!(copy_end["result"], "succeeded", "{copy_end}");
    assert_eq!(slow_end["result"], "failed", "{slow_end}");
    assert_eq!(slow_end["failure"], "task killed", "{slow_end}");
    let late = ms(&slow_end, "time_ms") - ms(&copy_end, "time_ms");
    println!("the sleeping loser ended {late:.0} ms after the copy won");
    assert!(late < 2000.0, "the loser ended {late} ms after the copy won: it was not stopped");
    let loser = slow["executor"].as_u64().unwrap() as usize;
    let executor_log = std::fs::read_to_string(cluster.executor_log_path(loser)).unwrap();
    assert!(executor_log.contains(STOPPED_WAITING), "executor {loser} log: {executor_log}");
    for i in 1..=2 {
        assert!(!asleep_on(&cluster, i), "an attempt still sleeps on executor {i}");
    }
}
