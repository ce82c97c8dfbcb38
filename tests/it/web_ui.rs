//! The web UI in a real headless chromium while a real job runs (jobs page, stage graph, task counts against the event log, a failed task's guest message), the history server on the finished application's log (with unreadable logs beside it), /metrics through promtool and against the event log, 404s, and a UI port in use.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use wisp_tests::{API_JOB, ProcessGuard, wait_for, wisp, wisp_bin};

use crate::RUN_TIMEOUT;
use crate::harness::START_TIMEOUT;
use crate::web::{count, dump_dom, ensure_program, get_json, http_get, screenshot};

/// What `ui-demo` prints, computed from its definition: `n % 7` of `0..40` counted, grouped by count.
fn expected_demo_stdout() -> String {
    let mut by_key: BTreeMap<u64, u64> = BTreeMap::new();
    for n in 0..40u64 {
        *by_key.entry(n % 7).or_default() += 1;
    }
    let mut by_count: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (k, c) in by_key {
        by_count.entry(c).or_default().push(k.to_string());
    }
    let mut out: String =
        by_count.iter().map(|(c, ks)| format!("{c}={}\n", ks.join(","))).collect();
    out.push_str("boom=failed\ntail=1\n");
    out
}

/// Starts `wisp run api-job ui-demo MS TAIL` with `--ui` and an event log; the process and the UI's address.
fn start_demo(dir: &Path, ms: u32, tail_ms: u32) -> (ProcessGuard, String) {
    let mut cmd = Command::new(wisp_bin());
    cmd.args(["run", API_JOB, "--cores", "2", "--ui=127.0.0.1:0", "--event-log"])
        .arg(dir.join("events"))
        .args(["--", "ui-demo", &ms.to_string(), &tail_ms.to_string()]);
    let log = dir.join("run.log");
    let guard = ProcessGuard::spawn("wisp run --ui", cmd, &log);
    let addr = wait_for("the web UI's address", START_TIMEOUT, || {
        let text = std::fs::read_to_string(&log).ok()?;
        let url = text.lines().find_map(|l| l.strip_prefix("wisp: web UI at http://"))?;
        Some(url.trim_end_matches('/').to_string())
    });
    (guard, addr)
}

/// The event log's lines (the one file under `dir`).
fn event_lines(dir: &Path) -> Vec<Value> {
    let file = std::fs::read_dir(dir).unwrap().next().unwrap().unwrap().path();
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Per stage of the log: (tasks of its last attempt, succeeded task ends, failed task ends).
fn task_counts(events: &[Value]) -> BTreeMap<u64, (u64, u64, u64)> {
    let mut out: BTreeMap<u64, (u64, u64, u64)> = BTreeMap::new();
    for e in events {
        let stage = e["stage"].as_u64().unwrap_or(0);
        match e["event"].as_str() {
            Some("stage_submitted") => {
                out.entry(stage).or_default().0 = e["tasks"].as_u64().unwrap()
            }
            Some("task_end") if e["result"] == "succeeded" => out.entry(stage).or_default().1 += 1,
            Some("task_end") => out.entry(stage).or_default().2 += 1,
            _ => {}
        }
    }
    out
}

/// The stages of a job as its `job_start` line lists them.
fn job_stages(events: &[Value], job: u64) -> Vec<u64> {
    let start = events.iter().find(|e| e["event"] == "job_start" && e["job"] == job).unwrap();
    start["stages"].as_array().unwrap().iter().map(|s| s.as_u64().unwrap()).collect()
}

/// Checks the job-0 page (graph and stage rows) and the failed task's page of a UI at `base`.
fn check_pages(base: &str, app: &str, events: &[Value], shots: &str) -> Vec<PathBuf> {
    let mut shots_taken = Vec::new();
    let jobs = dump_dom(&format!("{base}/app/{app}/"));
    assert!(jobs.contains(r#"data-job="0""#) && jobs.contains(r#"data-job="1""#), "{jobs}");
    shots_taken.push(screenshot(&format!("{base}/app/{app}/"), &format!("{shots}-jobs")));
    // Job 0: three stages (two shuffles), drawn as three boxes and two arrows.
    let stages = job_stages(events, 0);
    assert_eq!(stages.len(), 3);
    let page = dump_dom(&format!("{base}/app/{app}/job/0"));
    assert_eq!(count(&page, r#"class="stage-box""#), 3, "{page}");
    assert_eq!(count(&page, r#"class="edge""#), 2, "{page}");
    shots_taken
        .push(screenshot(&format!("{base}/app/{app}/job/0"), &format!("{shots}-job0-graph")));
    // Task counts as the event log has them.
    let counts = task_counts(events);
    for s in &stages {
        let (tasks, ok, failed) = counts[s];
        let row = format!(
            r#"data-stage="{s}" data-attempt="0" data-tasks="{tasks}" data-succeeded="{ok}" data-failed="{failed}""#
        );
        assert!(page.contains(&row), "no row {row} in {page}");
    }
    // Job 1's task panicked: its stage page shows the guest's message.
    let failed_stage = job_stages(events, 1)[0];
    let url = format!("{base}/app/{app}/stage/{failed_stage}");
    let stage_page = dump_dom(&url);
    assert!(stage_page.contains("boom: record 3"), "{stage_page}");
    assert!(stage_page.contains(r#"data-state="failed""#), "{stage_page}");
    shots_taken.push(screenshot(&url, &format!("{shots}-failed-stage")));
    shots_taken
}

#[test]
fn web_ui_follows_a_running_job_and_the_history_server_shows_it_finished() {
    let dir = tempfile::tempdir().unwrap();
    // Stage 0: 4 tasks of 10 records, 150 ms each, on 2 cores: about 3 s of running job; the
    // tail job (45 s) keeps the application alive while a slow browser looks at it.
    let (mut run, addr) = start_demo(dir.path(), 150, 45_000);
    let base = format!("http://{addr}");
    // While job 0 runs, the API says so and the jobs page lists it.
    wait_for("job 0 running", RUN_TIMEOUT, || {
        let jobs = get_json(&addr, "/api/v1/applications/app-0/jobs");
        (jobs[0]["jobId"] == 0 && jobs[0]["status"] == "RUNNING").then_some(())
    });
    let jobs_page = dump_dom(&format!("{base}/app/app-0/"));
    assert!(jobs_page.contains(r#"data-job="0""#), "{jobs_page}");
    // Then, while the tail job (2) runs, jobs 0 and 1 are complete in the event log (flushed at job ends).
    wait_for("job 2 running", RUN_TIMEOUT, || {
        let jobs = get_json(&addr, "/api/v1/applications/app-0/jobs");
        (jobs[0]["jobId"] == 2).then_some(())
    });
    let events = event_lines(&dir.path().join("events"));
    let mut shots = check_pages(&base, "app-0", &events, "live");
    // The JSON API agrees with the log on job 0's task count.
    let job0 = get_json(&addr, "/api/v1/applications/app-0/jobs/0");
    let counts = task_counts(&events);
    let ok0: u64 = job_stages(&events, 0).iter().map(|s| counts[s].1).sum();
    assert_eq!(job0["numCompletedTasks"], ok0);
    // Unknown ids are 404s, never a crash.
    for path in [
        "/app/app-9/",
        "/app/app-0/job/99",
        "/app/app-0/job/x",
        "/app/app-0/stage/99",
        "/app/app-0/stage/0?attempt=7",
        "/api/v1/applications/app-0/stages/99/0/taskList",
        "/api/v1/applications/nope/jobs",
        "/no/such/page",
    ] {
        assert_eq!(http_get(&addr, path).0, 404, "GET {path}");
    }
    let status = run.wait_timeout(RUN_TIMEOUT).expect("wisp run ends");
    assert!(status.success());
    let stdout = std::fs::read_to_string(dir.path().join("run.out")).unwrap();
    assert_eq!(stdout, expected_demo_stdout());

    // The history server: the finished application, plus a corrupt and a truncated log beside it.
    let events_dir = dir.path().join("events");
    let log_file = std::fs::read_dir(&events_dir).unwrap().next().unwrap().unwrap().path();
    let app_id = log_file.file_stem().unwrap().to_string_lossy().into_owned();
    std::fs::write(events_dir.join("corrupt.jsonl"), "this is not json\n").unwrap();
    let whole = std::fs::read_to_string(&log_file).unwrap();
    std::fs::write(events_dir.join("truncated.jsonl"), &whole[..whole.len() - 7]).unwrap();
    let mut cmd = Command::new(wisp_bin());
    cmd.arg("history").arg(&events_dir).args(["--listen", "127.0.0.1:0"]);
    let hlog = dir.path().join("history.log");
    let _history = ProcessGuard::spawn("wisp history", cmd, &hlog);
    let haddr = wait_for("the history server's address", START_TIMEOUT, || {
        let text = std::fs::read_to_string(&hlog).ok()?;
        let url = text.lines().find_map(|l| l.strip_prefix("wisp history server at http://"))?;
        Some(url.trim_end_matches('/').to_string())
    });
    let hbase = format!("http://{haddr}");
    let apps = dump_dom(&format!("{hbase}/"));
    assert!(apps.contains(&format!(r#"href="/app/{app_id}/""#)), "{apps}");
    assert_eq!(count(&apps, r#"data-state="unreadable""#), 2, "{apps}");
    assert!(apps.contains("line 1 is not an event"), "{apps}");
    assert!(apps.contains("truncated"), "{apps}");
    shots.push(screenshot(&format!("{hbase}/"), "history-applications"));
    shots.extend(check_pages(&hbase, &app_id, &event_lines_of(&log_file), "history"));
    for page in ["executors", "environment", "stages"] {
        shots.push(screenshot(&format!("{hbase}/app/{app_id}/{page}"), &format!("history-{page}")));
    }
    assert_eq!(http_get(&haddr, "/app/corrupt/").0, 422);
    assert_eq!(http_get(&haddr, "/app/nothing-here/").0, 404);
    for s in &shots {
        assert!(std::fs::metadata(s).unwrap().len() > 1000, "{}", s.display());
    }
}

fn event_lines_of(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A counter's value in Prometheus text.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[test]
fn metrics_pass_promtool_and_match_the_event_log() {
    let promtool = ensure_program("promtool", "prometheus");
    let dir = tempfile::tempdir().unwrap();
    let (mut run, addr) = start_demo(dir.path(), 5, 8000);
    wait_for("job 2 running", RUN_TIMEOUT, || {
        let jobs = get_json(&addr, "/api/v1/applications/app-0/jobs");
        (jobs[0]["jobId"] == 2).then_some(())
    });
    let (code, text) = http_get(&addr, "/metrics");
    assert_eq!(code, 200);
    let file = dir.path().join("metrics.txt");
    std::fs::write(&file, &text).unwrap();
    let out = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Jobs 0 and 1 ended (their lines are flushed); the tail job's task is running.
    let events = event_lines(&dir.path().join("events"));
    let n = |kind: &str, result: &str| {
        events.iter().filter(|e| e["event"] == kind && e["result"] == result).count() as f64
    };
    assert_eq!(
        sample(&text, r#"wisp_tasks_finished_total{result="succeeded"}"#),
        n("task_end", "succeeded")
    );
    assert_eq!(
        sample(&text, r#"wisp_tasks_finished_total{result="failed"}"#),
        n("task_end", "failed")
    );
    assert_eq!(
        sample(&text, r#"wisp_jobs_finished_total{result="succeeded"}"#),
        n("job_end", "succeeded")
    );
    assert_eq!(
        sample(&text, r#"wisp_jobs_finished_total{result="failed"}"#),
        n("job_end", "failed")
    );
    let shuffle: f64 = events
        .iter()
        .filter(|e| e["event"] == "task_end")
        .map(|e| e["metrics"]["shuffle_write_bytes"].as_f64().unwrap())
        .sum();
    assert_eq!(sample(&text, "wisp_shuffle_written_bytes_total"), shuffle);
    assert_eq!(sample(&text, "wisp_tasks_running"), 1.0);
    assert_eq!(sample(&text, "wisp_executors"), 1.0);
    assert!(sample(&text, "wisp_guest_instantiations_total") >= n("task_end", "succeeded"));
    assert!(sample(&text, "wisp_wasm_memory_bytes") > 0.0);
    // The local executor's memory pool, as /metrics and the executors API (its sampled heartbeat) report it.
    let pool = sample(&text, "wisp_memory_pool_bytes");
    assert!(pool > 0.0, "{text}");
    let executors = wait_for("the local executor's memory sample", RUN_TIMEOUT, || {
        let e = get_json(&addr, "/api/v1/applications/app-0/executors");
        (!e[0]["lastHeartbeat"].is_null()).then_some(e)
    });
    assert_eq!(executors[0]["maxMemory"].as_f64(), Some(pool), "{executors}");
    assert!(executors[0]["memory"]["guests"].as_u64().is_some(), "{executors}");
    assert!(run.wait_timeout(RUN_TIMEOUT).expect("wisp run ends").success());
}

#[test]
fn a_ui_port_in_use_is_one_line_and_the_job_still_runs() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\nb\nc\n").unwrap();
    let ui = format!("--ui={addr}");
    let run = wisp(&["run", API_JOB, &ui, "--", "count", input.to_str().unwrap()], RUN_TIMEOUT);
    assert!(run.ok(), "{}", run.stderr);
    assert_eq!(run.stdout, "count=3\n");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    let expected = format!("cannot serve the web UI: cannot listen on {addr}");
    assert!(lines[0].contains(&expected), "{}", run.stderr);
    let history = wisp(&["history", dir.path().join("missing").to_str().unwrap()], RUN_TIMEOUT);
    assert_eq!(history.code, Some(1));
    assert_eq!(history.stderr.lines().count(), 1, "{}", history.stderr);
    assert!(history.stderr.contains("not a directory"), "{}", history.stderr);
}

/// Ensures `tmux` exists (installed with apt-get when missing).
fn tmux() -> PathBuf {
    ensure_program("tmux", "tmux")
}

/// `tmux capture-pane` of a session.
fn capture(session: &str) -> String {
    let out = Command::new(tmux()).args(["capture-pane", "-p", "-t", session]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Kills a tmux session when dropped.
struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new(tmux()).args(["kill-session", "-t", &self.0]).output();
    }
}

#[test]
fn console_progress_advances_on_a_terminal_and_piped_output_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let done = dir.path().join("done");
    let session = format!("wisp-progress-{}", std::process::id());
    let script = format!(
        "{} run {API_JOB} --cores 2 -- ui-demo 100 1500 > {}; echo $? > {}; sleep 600",
        wisp_bin().display(),
        out.display(),
        done.display()
    );
    let status = Command::new(tmux())
        .args(["new-session", "-d", "-x", "120", "-y", "30", "-s", &session, &script])
        .status()
        .unwrap();
    assert!(status.success());
    let _session = Session(session.clone());
    // The bar of stage 0 advances: at least two different (done + running) / total readings.
    let mut seen = std::collections::BTreeSet::new();
    wait_for("stage 0's bar to advance", RUN_TIMEOUT, || {
        let pane = capture(&session);
        if let Some(line) = pane.lines().find(|l| l.starts_with("[Stage 0:")) {
            seen.insert(line.to_string());
        }
        (seen.len() >= 2 || done.exists()).then_some(())
    });
    assert!(seen.len() >= 2, "the bar never changed: {seen:?}");
    assert!(seen.iter().all(|l| l.ends_with("/ 4]")), "{seen:?}");
    wait_for("the run to end", RUN_TIMEOUT, || done.exists().then_some(()));
    let pane = wait_for("the summary", Duration::from_secs(10), || {
        let pane = capture(&session);
        pane.contains("wisp: 3 jobs").then_some(pane)
    });
    assert!(!pane.contains("[Stage"), "bars are gone when stages end: {pane}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), expected_demo_stdout());
    // Piped (not a terminal): no bar, no summary, the same stdout.
    let piped = wisp(&["run", API_JOB, "--cores", "2", "--", "ui-demo", "20", "10"], RUN_TIMEOUT);
    assert!(piped.ok(), "{}", piped.stderr);
    assert_eq!(piped.stdout, expected_demo_stdout());
    assert!(
        !piped.stderr.contains("[Stage") && !piped.stderr.contains("jobs,"),
        "{}",
        piped.stderr
    );
}

/// The first line of `file` starting with `prefix`, once it is there.
fn line_after(file: &Path, prefix: &str) -> String {
    wait_for(prefix, START_TIMEOUT, || {
        let text = std::fs::read_to_string(file).ok()?;
        text.lines().find_map(|l| l.split_once(prefix).map(|(_, rest)| rest.trim().to_string()))
    })
}

#[test]
fn master_ui_executor_metrics_and_submit_progress() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let secret = d.join("secret");
    std::fs::write(&secret, "0123456789abcdef0123456789abcdef\n").unwrap();
    let master_cmd = |ui: &str| {
        let mut cmd = Command::new(wisp_bin());
        cmd.args(["master", "--listen", "127.0.0.1:0", "--secret-file"])
            .arg(&secret)
            .arg("--state-dir")
            .arg(d.join("state"))
            .arg("--event-log")
            .arg(d.join("events"))
            .args(["--ui-listen", ui]);
        cmd
    };
    // The master's UI has no authentication: any address but a loopback one is refused.
    let mut refused = master_cmd("0.0.0.0:0");
    let refused = wisp_tests::run_bounded(
        {
            refused.stdin(std::process::Stdio::null());
            refused.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
            refused
        },
        RUN_TIMEOUT,
    );
    assert_eq!(refused.code, Some(1));
    assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("loopback address only"), "{}", refused.stderr);

    let mut master = master_cmd("127.0.0.1:0");
    master.env("WISP_LOG", "info");
    let _master = ProcessGuard::spawn("master", master, &d.join("master.log"));
    let listening = line_after(&d.join("master.out"), "wisp master listening on ");
    let words: Vec<&str> = listening.split_whitespace().collect();
    let (addr, fp) = (words[0].to_string(), words[2].to_string());
    let ui = line_after(&d.join("master.out"), "wisp master web UI at http://");
    let ui = ui.trim_end_matches('/').to_string();
    let mut exec = Command::new(wisp_bin());
    exec.env("WISP_LOG", "info")
        .args(["executor", "--master", &addr, "--master-fingerprint", &fp, "--secret-file"])
        .arg(&secret)
        .args(["--cores", "2", "--metrics-listen", "127.0.0.1:0", "--work-dir"])
        .arg(d.join("exec"));
    let _executor = ProcessGuard::spawn("executor", exec, &d.join("executor.log"));
    let metrics_at = line_after(&d.join("executor.log"), "serving metrics at /metrics addr=");
    wait_for("the executor to register", START_TIMEOUT, || {
        let text = std::fs::read_to_string(d.join("master.log")).ok()?;
        text.contains("executor registered").then_some(())
    });
    // `wisp submit` on a terminal (tmux) draws the stage bars the master streams.
    let out = d.join("submit.out");
    let done = d.join("submit.done");
    let session = format!("wisp-submit-{}", std::process::id());
    let script = format!(
        "{} submit --master {addr} --master-fingerprint {fp} --secret-file {} {API_JOB} -- ui-demo 100 3000 > {}; echo $? > {}; sleep 600",
        wisp_bin().display(),
        secret.display(),
        out.display(),
        done.display()
    );
    let status = Command::new(tmux())
        .args(["new-session", "-d", "-x", "120", "-y", "30", "-s", &session, &script])
        .status()
        .unwrap();
    assert!(status.success());
    let _session = Session(session.clone());
    wait_for("a stage bar from the master", RUN_TIMEOUT, || {
        capture(&session)
            .lines()
            .any(|l| l.starts_with("[Stage 0:") && l.ends_with("/ 4]"))
            .then_some(())
    });
    // Meanwhile the master's UI lists the application, named after the job's file.
    let apps = get_json(&ui, "/api/v1/applications");
    assert_eq!(apps.as_array().unwrap().len(), 1, "{apps}");
    let job_file = Path::new(API_JOB).file_name().unwrap().to_str().unwrap();
    assert_eq!(apps[0]["name"], job_file, "{apps}");
    let app = apps[0]["id"].as_str().unwrap().to_string();
    // The executor's heartbeats reach the application: its memory, as the executor's /metrics says.
    let executors = wait_for("a heartbeat on the executors API", RUN_TIMEOUT, || {
        let e = get_json(&ui, &format!("/api/v1/applications/{app}/executors"));
        (!e[0]["lastHeartbeat"].is_null()).then_some(e)
    });
    let (_, text) = http_get(&metrics_at, "/metrics");
    let pool = sample(&text, "wisp_memory_pool_bytes");
    assert!(pool > 0.0, "{text}");
    assert_eq!(executors[0]["maxMemory"].as_f64(), Some(pool), "{executors}");
    let executors_page = dump_dom(&format!("http://{ui}/app/{app}/executors"));
    assert!(executors_page.contains(r#"<td class="heartbeat">"#), "{executors_page}");
    assert!(!executors_page.contains(r#"<td class="memory"></td>"#), "{executors_page}");
    let jobs_page = dump_dom(&format!("http://{ui}/app/{app}/"));
    assert!(jobs_page.contains(r#"data-job="0""#), "{jobs_page}");
    wait_for("the submit to end", RUN_TIMEOUT, || done.exists().then_some(()));
    assert_eq!(std::fs::read_to_string(&done).unwrap().trim(), "0");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), expected_demo_stdout());
    wait_for("the summary", Duration::from_secs(10), || {
        capture(&session).contains("wisp: 3 jobs").then_some(())
    });
    // The executor's /metrics: guests ran there.
    let (code, text) = http_get(&metrics_at, "/metrics");
    assert_eq!(code, 200);
    assert!(sample(&text, "wisp_guest_instantiations_total") >= 9.0, "{text}");
    // The master's and the executor's (its only executor): the application's tasks, as its event log counts them.
    let (_, master_metrics) = http_get(&ui, "/metrics");
    let app_dir = d.join("events").join(&app);
    let events = event_lines(&app_dir);
    let ok =
        events.iter().filter(|e| e["event"] == "task_end" && e["result"] == "succeeded").count();
    let succeeded = r#"wisp_tasks_finished_total{result="succeeded"}"#;
    assert_eq!(sample(&master_metrics, succeeded), ok as f64);
    assert_eq!(sample(&text, succeeded), ok as f64, "{text}");
    assert_eq!(sample(&text, "wisp_tasks_running"), 0.0, "{text}");
}
