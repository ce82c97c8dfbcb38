//! A job's stage graph as SVG: stages as boxes in columns by depth, shuffle dependencies as arrows from parent to child, skipped stages greyed (as Spark draws them).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::format::esc;
use crate::observe::status::{AppStatus, JobStatus, State};

const BOX_W: u32 = 150;
const BOX_H: u32 = 54;
const GAP_X: u32 = 70;
const GAP_Y: u32 = 24;
const PAD: u32 = 12;

fn fill(state: State) -> (&'static str, &'static str) {
    match state {
        State::Pending => ("#f4f4f4", "#999"),
        State::Running => ("#dceeff", "#3a7bd5"),
        State::Succeeded => ("#e3f5e1", "#3c9a3c"),
        State::Failed => ("#fde2e1", "#c0392b"),
        State::Skipped => ("#e6e6e6", "#bbb"),
    }
}

/// The edges (parent, child) between stages of the job.
pub(crate) fn edges(app: &AppStatus, job: &JobStatus) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for s in &job.stages {
        if let Some(info) = app.stage_info.get(s) {
            for p in &info.parents {
                if job.stages.contains(p) {
                    out.push((*p, *s));
                }
            }
        }
    }
    out
}

/// The SVG of one job's stages.
pub(crate) fn job_graph(app: &AppStatus, job: &JobStatus, app_id: &str) -> String {
    let edges = edges(app, job);
    // Depth: the longest chain of parents (stage ids ascend from parents to children).
    let mut depth: BTreeMap<u32, u32> = BTreeMap::new();
    for s in &job.stages {
        let d = edges
            .iter()
            .filter(|(_, c)| c == s)
            .map(|(p, _)| depth.get(p).map_or(0, |d| d + 1))
            .max()
            .unwrap_or(0);
        depth.insert(*s, d);
    }
    let mut rows_in: BTreeMap<u32, u32> = BTreeMap::new();
    let mut pos: BTreeMap<u32, (u32, u32)> = BTreeMap::new();
    for (s, d) in &depth {
        let row = rows_in.entry(*d).or_insert(0);
        pos.insert(*s, (PAD + d * (BOX_W + GAP_X), PAD + *row * (BOX_H + GAP_Y)));
        *row += 1;
    }
    let width = PAD * 2 + (depth.values().max().map_or(0, |d| d + 1)) * (BOX_W + GAP_X) - GAP_X;
    let height = PAD * 2 + rows_in.values().max().copied().unwrap_or(1) * (BOX_H + GAP_Y) - GAP_Y;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg class="stage-graph" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>"##
    );
    for (p, c) in &edges {
        let (px, py) = pos[p];
        let (cx, cy) = pos[c];
        let _ = write!(
            svg,
            r##"<line class="edge" data-from="{p}" data-to="{c}" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#555" stroke-width="1.5" marker-end="url(#arrow)"/>"##,
            px + BOX_W,
            py + BOX_H / 2,
            cx,
            cy + BOX_H / 2
        );
    }
    for (s, (x, y)) in &pos {
        let state = job.stage_state(app, *s);
        let (bg, stroke) = fill(state);
        let counts = match (state, app.latest_attempt(*s)) {
            (State::Skipped, _) => "skipped".to_string(),
            (_, Some(a)) => format!("{}/{} tasks", a.succeeded, a.tasks),
            (_, None) => "pending".to_string(),
        };
        let kind = app.stage_info.get(s).map_or("", |i| i.kind.as_str());
        let _ = write!(
            svg,
            r##"<a href="/app/{app}/stage/{s}"><g class="stage-box" data-stage="{s}" data-state="{st}"><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{bg}" stroke="{stroke}" stroke-width="1.5"/><text x="{tx}" y="{ty1}" font-size="13" font-weight="bold" fill="#222">Stage {s}</text><text x="{tx}" y="{ty2}" font-size="11" fill="#444">{kind} · {counts}</text></g></a>"##,
            app = esc(app_id),
            st = state.name(),
            tx = x + 10,
            ty1 = y + 21,
            ty2 = y + 40,
            kind = esc(kind),
        );
    }
    svg.push_str("</svg>");
    svg
}
