//! The UI's HTML pages: applications, jobs, a job's stage graph, stages, a stage's tasks, executors, configuration; they reload themselves while the application runs.

use std::fmt::Write as _;

use super::AppRow;
use super::format::{bytes, date, duration, esc};
use super::graph::job_graph;
use crate::observe::status::{AppStatus, JobStatus, StageAttemptStatus, State};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#222}\
header{background:#24292e;color:#fff;padding:8px 16px}header a{color:#fff;margin-right:16px;text-decoration:none}\
main{padding:12px 16px}table{border-collapse:collapse;margin:8px 0;font-size:13px}\
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}\
.running{color:#3a7bd5}.succeeded{color:#3c9a3c}.failed,.unreadable{color:#c0392b}.skipped,.pending{color:#888}\
pre{white-space:pre-wrap;max-width:60em;margin:0}.bar{background:#e3f5e1;display:inline-block;height:10px}";

/// While the application runs, the page fetches itself every second and swaps its `<main>` in
/// (no navigation, so nothing flickers); it stops once the fetched page is no longer live.
const LIVE_SCRIPT: &str = r#"<script id="wisp-live">const t=setInterval(async()=>{try{const r=await fetch(location.href);if(!r.ok)return;const d=new DOMParser().parseFromString(await r.text(),"text/html");document.querySelector("main").replaceWith(d.querySelector("main"));if(!d.getElementById("wisp-live"))clearInterval(t)}catch(e){}},1000)</script>"#;

/// A whole page; it updates itself every second while `live`.
fn page(title: &str, app: Option<&str>, live: bool, body: &str) -> String {
    let mut nav = String::from(r#"<a href="/">Applications</a>"#);
    if let Some(a) = app {
        let a = esc(a);
        let _ = write!(
            nav,
            r#"<a href="/app/{a}/">Jobs</a><a href="/app/{a}/stages">Stages</a><a href="/app/{a}/executors">Executors</a><a href="/app/{a}/environment">Environment</a>"#
        );
    }
    let refresh = if live { LIVE_SCRIPT } else { "" };
    format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>{t} - Wisp</title><style>{STYLE}</style></head><body><header><b>Wisp</b> &nbsp; {nav}</header><main><h2>{t}</h2>{body}</main>{refresh}</body></html>"#,
        t = esc(title)
    )
}

fn state_cell(state: &str) -> String {
    format!(r#"<td class="{state}">{state}</td>"#)
}

/// An error page (unknown ids, unreadable logs).
pub(crate) fn message(title: &str, text: &str) -> String {
    page(title, None, false, &format!("<p>{}</p>", esc(text)))
}

pub(crate) fn applications(rows: &[AppRow], title: &str) -> String {
    let mut b = String::from(
        "<table id=\"apps\"><tr><th>Application</th><th>Name</th><th>Started</th><th>Duration</th><th>State</th><th>Error</th></tr>",
    );
    for r in rows {
        let link = if r.state == "unreadable" {
            esc(&r.id)
        } else {
            format!(r#"<a href="/app/{0}/">{0}</a>"#, esc(&r.id))
        };
        let _ = write!(
            b,
            "<tr class=\"app\" data-state=\"{}\"><td>{link}</td><td>{}</td><td>{}</td><td>{}</td>{}<td>{}</td></tr>",
            r.state,
            esc(&r.name),
            if r.start_unix_ms > 0 { date(r.start_unix_ms) } else { String::new() },
            duration(r.duration_ms),
            state_cell(&r.state),
            esc(r.error.as_deref().unwrap_or(""))
        );
    }
    b.push_str("</table>");
    let live = rows.iter().any(|r| r.state == "running");
    page(title, None, live, &b)
}

fn job_duration(j: &JobStatus, app: &AppStatus) -> f64 {
    j.end_ms.unwrap_or(app.now_ms) - j.start_ms
}

fn title_of(app: &AppStatus) -> String {
    format!("{} ({})", app.name, app.app)
}

pub(crate) fn jobs(app: &AppStatus) -> String {
    let mut b = format!(
        "<p>{} · started {} · {} · args <code>{}</code></p>",
        esc(&app.mode),
        date(app.start_unix_ms),
        match &app.ended {
            None => "running".to_string(),
            Some((t, None)) => format!("succeeded after {}", duration(*t)),
            Some((t, Some(e))) => format!("failed after {}: {}", duration(*t), esc(e)),
        },
        esc(&app.args.join(" "))
    );
    b.push_str("<table id=\"jobs\"><tr><th>Job</th><th>State</th><th>Duration</th><th>Stages: done/all (skipped)</th><th>Tasks: done/all</th><th>Error</th></tr>");
    for j in app.jobs.values().rev() {
        let states: Vec<State> = j.stages.iter().map(|s| j.stage_state(app, *s)).collect();
        let done = states.iter().filter(|s| **s == State::Succeeded).count();
        let skipped = states.iter().filter(|s| **s == State::Skipped).count();
        let (mut tdone, mut tall) = (0, 0);
        for s in &j.ran {
            if let Some(a) = app.latest_attempt(*s) {
                tdone += a.succeeded;
                tall += a.tasks;
            }
        }
        let _ = write!(
            b,
            r#"<tr class="job" data-job="{id}"><td><a href="/app/{app_id}/job/{id}">Job {id}</a></td>{st}<td>{d}</td><td>{done}/{all} ({skipped})</td><td>{tdone}/{tall}</td><td><pre>{err}</pre></td></tr>"#,
            id = j.id,
            app_id = esc(&app.app),
            st = state_cell(j.state.name()),
            d = duration(job_duration(j, app)),
            all = j.stages.len(),
            err = esc(j.error.as_deref().unwrap_or("")),
        );
    }
    b.push_str("</table>");
    page(&title_of(app), Some(&app.app), app.ended.is_none(), &b)
}

fn stage_rows(app: &AppStatus, attempts: &[&StageAttemptStatus], b: &mut String) {
    b.push_str("<table id=\"stages\"><tr><th>Stage</th><th>Attempt</th><th>Kind</th><th>State</th><th>Tasks: done + running / all</th><th>Failed</th><th>Killed</th><th>Duration</th><th>Input</th><th>Output</th><th>Shuffle read</th><th>Shuffle write</th><th>Failure</th></tr>");
    for s in attempts {
        let kind = app.stage_info.get(&s.stage).map_or("", |i| i.kind.as_str());
        let pct = (s.succeeded * 100).checked_div(s.tasks).unwrap_or(0);
        let m = &s.metrics;
        let _ = write!(
            b,
            r#"<tr class="stage" data-stage="{st}" data-attempt="{at}" data-tasks="{all}" data-succeeded="{ok}" data-failed="{failed}"><td><a href="/app/{app_id}/stage/{st}?attempt={at}">Stage {st}</a></td><td>{at}</td><td>{kind}</td>{state}<td><span class="bar" style="width:{pct}px"></span> {ok} + {running} / {all}</td><td>{failed}</td><td>{killed}</td><td>{d}</td><td>{ib} / {ir} records</td><td>{ob} / {or} records</td><td>{sr}</td><td>{sw}</td><td><pre>{f}</pre></td></tr>"#,
            st = s.stage,
            at = s.attempt,
            app_id = esc(&app.app),
            state = state_cell(s.state.name()),
            ok = s.succeeded,
            running = s.running,
            all = s.tasks,
            failed = s.failed,
            killed = s.killed,
            d = duration(s.completed_ms.unwrap_or(app.now_ms) - s.submitted_ms),
            ib = bytes(m.bytes_read),
            ir = m.records_read,
            ob = bytes(m.bytes_written),
            or = m.records_written,
            sr = bytes(m.shuffle_read_bytes),
            sw = bytes(m.shuffle_write_bytes),
            f = esc(s.failure.as_deref().unwrap_or("")),
        );
    }
    b.push_str("</table>");
}

pub(crate) fn job(app: &AppStatus, j: &JobStatus) -> String {
    let mut b = format!(
        "<p>State: <span class=\"{0}\">{0}</span> · duration {1}</p>",
        j.state.name(),
        duration(job_duration(j, app))
    );
    if let Some(e) = &j.error {
        let _ = write!(b, "<p class=\"failed\">Error: <pre>{}</pre></p>", esc(e));
    }
    b.push_str("<h3>Stage graph</h3>");
    b.push_str(&job_graph(app, j, &app.app));
    let attempts: Vec<&StageAttemptStatus> = j.ran.iter().flat_map(|s| app.attempts(*s)).collect();
    b.push_str("<h3>Stages</h3>");
    stage_rows(app, &attempts, &mut b);
    let title = format!("Job {} of {}", j.id, title_of(app));
    page(&title, Some(&app.app), app.ended.is_none(), &b)
}

pub(crate) fn stages(app: &AppStatus) -> String {
    let attempts: Vec<&StageAttemptStatus> = app.stages.values().rev().collect();
    let mut b = String::new();
    stage_rows(app, &attempts, &mut b);
    page(&format!("Stages of {}", title_of(app)), Some(&app.app), app.ended.is_none(), &b)
}

pub(crate) fn stage(app: &AppStatus, s: &StageAttemptStatus) -> String {
    let mut b = String::new();
    if let Some(info) = app.stage_info.get(&s.stage) {
        let _ = write!(
            b,
            "<p>{} stage · RDDs {:?} · reads the shuffle output of stages {:?}</p>",
            esc(&info.kind),
            info.rdds,
            info.parents
        );
    }
    let attempts: Vec<&StageAttemptStatus> = app.attempts(s.stage).collect();
    stage_rows(app, &attempts, &mut b);
    b.push_str("<h3>Tasks</h3><table id=\"tasks\"><tr><th>Task</th><th>Partition</th><th>Attempt</th><th>Executor</th><th>Locality</th><th>Speculative</th><th>State</th><th>Duration</th><th>Records in/out</th><th>Bytes in/out</th><th>Shuffle read/write</th><th>Time: instantiate · guest · input · fetch wait · shuffle write · output (ms)</th><th>Failure</th><th>Log</th></tr>");
    for t in app.stage_tasks(s.stage, s.attempt) {
        let m = &t.metrics;
        let log = if t.log.is_empty() {
            String::new()
        } else {
            format!("<details><summary>log</summary><pre>{}</pre></details>", esc(&t.log))
        };
        let _ = write!(
            b,
            r#"<tr class="task" data-task="{id}" data-state="{state}"><td>{id}</td><td>{p}</td><td>{a}</td><td>{e}</td><td>{loc}</td><td>{spec}</td>{sc}<td>{d}</td><td>{rr} / {rw}</td><td>{br} / {bw}</td><td>{sr} / {sw}</td><td>{i:.1} · {g:.1} · {ir:.1} · {fw:.1} · {swt:.1} · {ow:.1}</td><td class="failure"><pre>{f}</pre></td><td>{log}</td></tr>"#,
            id = t.id.task,
            state = t.state.name(),
            p = t.id.partition,
            a = t.id.attempt,
            e = t.executor,
            loc = esc(&t.locality),
            spec = t.speculative,
            sc = state_cell(t.state.name()),
            d = duration(t.duration_ms.unwrap_or(app.now_ms - t.start_ms)),
            rr = m.records_read,
            rw = m.records_written,
            br = bytes(m.bytes_read),
            bw = bytes(m.bytes_written),
            sr = bytes(m.shuffle_read_bytes),
            sw = bytes(m.shuffle_write_bytes),
            i = m.instantiation_ms,
            g = m.guest_ms,
            ir = m.input_read_ms,
            fw = m.fetch_wait_ms,
            swt = m.shuffle_write_ms,
            ow = m.output_write_ms,
            f = esc(t.failure.as_deref().unwrap_or("")),
        );
    }
    b.push_str("</table>");
    let title = format!("Stage {} (attempt {}) of {}", s.stage, s.attempt, title_of(app));
    page(&title, Some(&app.app), app.ended.is_none(), &b)
}

pub(crate) fn executors(app: &AppStatus) -> String {
    let mut b = String::from(
        "<table id=\"executors\"><tr><th>Executor</th><th>Host</th><th>Cores</th><th>Running tasks</th><th>Tasks done</th><th>Tasks failed</th><th>Memory used / pool</th><th>Guest memory</th><th>Storage memory</th><th>Shuffle read</th><th>Shuffle write</th><th>Last heartbeat</th><th>Removed</th></tr>",
    );
    for e in app.executors.values() {
        let (pool, guests, storage, beat) = match &e.heartbeat {
            Some(h) => {
                let m = &h.memory;
                (
                    format!("{} / {}", bytes(m.operators + m.guests + m.storage), bytes(m.pool)),
                    bytes(m.guests),
                    bytes(m.storage),
                    format!("{} ago", duration(app.now_ms - h.at_ms)),
                )
            }
            None => (String::new(), String::new(), String::new(), "—".to_string()),
        };
        let _ = write!(
            b,
            r#"<tr class="executor" data-executor="{id}"><td>{id}</td><td>{h}</td><td>{c}</td><td>{r}</td><td>{ok}</td><td>{f}</td><td class="memory">{pool}</td><td class="guest-memory">{guests}</td><td>{storage}</td><td>{sr}</td><td>{sw}</td><td class="heartbeat">{beat}</td><td>{rm}</td></tr>"#,
            id = e.id,
            h = esc(&e.host),
            c = e.cores,
            r = e.running,
            ok = e.succeeded,
            f = e.failed,
            sr = bytes(e.shuffle_read_bytes),
            sw = bytes(e.shuffle_write_bytes),
            rm = esc(&e.removed.as_ref().map(|(_, r)| r.clone()).unwrap_or_default()),
        );
    }
    b.push_str("</table>");
    page(&format!("Executors of {}", title_of(app)), Some(&app.app), app.ended.is_none(), &b)
}

pub(crate) fn environment(app: &AppStatus) -> String {
    let mut b = format!("<p>Arguments: <code>{}</code></p>", esc(&app.args.join(" ")));
    b.push_str("<table id=\"conf\"><tr><th>Key</th><th>Value</th></tr>");
    for (k, v) in &app.conf {
        let _ = write!(b, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(v));
    }
    b.push_str("</table><p>Keys not listed have their defaults (docs/configuration.md); values of keys that look secret are masked.</p>");
    page(&format!("Environment of {}", title_of(app)), Some(&app.app), false, &b)
}
