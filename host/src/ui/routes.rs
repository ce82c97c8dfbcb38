//! The UI's endpoints: HTML pages under `/` and `/app/...`, the JSON API under `/api/v1/...`, and `/metrics`; unknown ids are 404 pages.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::get;

use super::{AppSource, Lookup, api, pages};
use crate::observe::Metrics;
use crate::observe::http_server::metrics_response;
use crate::observe::status::AppStatus;

#[derive(Clone)]
struct Ui {
    source: Arc<dyn AppSource>,
    metrics: Option<Arc<Metrics>>,
}

pub(super) fn router(source: Arc<dyn AppSource>, metrics: Option<Arc<Metrics>>) -> Router {
    let api_app = "/api/v1/applications/{app}";
    Router::new()
        .route("/", get(apps_page))
        .route("/app/{app}", get(|s, p| html(s, p, |a, _| Some(pages::jobs(a)))))
        .route("/app/{app}/", get(|s, p| html(s, p, |a, _| Some(pages::jobs(a)))))
        .route("/app/{app}/job/{id}", get(|s, p| html(s, p, job_page)))
        .route("/app/{app}/stages", get(|s, p| html(s, p, |a, _| Some(pages::stages(a)))))
        .route("/app/{app}/stage/{id}", get(stage_page))
        .route("/app/{app}/executors", get(|s, p| html(s, p, |a, _| Some(pages::executors(a)))))
        .route("/app/{app}/environment", get(|s, p| html(s, p, |a, _| Some(pages::environment(a)))))
        .route("/api/v1/applications", get(api_apps))
        .route(api_app, get(api_one_app))
        .route(&format!("{api_app}/jobs"), get(|s, p| json(s, p, |a, _| Some(api::jobs(a)))))
        .route(&format!("{api_app}/jobs/{{id}}"), get(|s, p| json(s, p, api_job)))
        .route(&format!("{api_app}/stages"), get(|s, p| json(s, p, |a, _| Some(api::stages(a)))))
        .route(&format!("{api_app}/stages/{{id}}"), get(|s, p| json(s, p, api_stage)))
        .route(&format!("{api_app}/stages/{{id}}/{{attempt}}"), get(|s, p| json(s, p, api_attempt)))
        .route(
            &format!("{api_app}/stages/{{id}}/{{attempt}}/taskList"),
            get(|s, p| json(s, p, api_tasks)),
        )
        .route(
            &format!("{api_app}/executors"),
            get(|s, p| json(s, p, |a, _| Some(api::executors(a)))),
        )
        .route(
            &format!("{api_app}/environment"),
            get(|s, p| json(s, p, |a, _| Some(api::environment(a)))),
        )
        .route("/metrics", get(serve_metrics))
        .fallback(|| async { not_found(false, "no such page") })
        .with_state(Ui { source, metrics })
}

type Params = Path<HashMap<String, String>>;

fn not_found(json: bool, what: &str) -> Response {
    if json {
        (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": what }))).into_response()
    } else {
        (StatusCode::NOT_FOUND, Html(pages::message("Not found", what))).into_response()
    }
}

fn number(params: &HashMap<String, String>, key: &str) -> Option<u32> {
    params.get(key)?.parse().ok()
}

/// Runs `f` on the application named in the path; 404 when it or what `f` looks for does not exist.
fn with_app<T>(
    ui: &Ui,
    params: &HashMap<String, String>,
    json: bool,
    f: impl FnOnce(&AppStatus, &HashMap<String, String>) -> Option<T>,
) -> Result<T, Box<Response>> {
    let id = params.get("app").map_or("", String::as_str);
    match ui.source.open(id) {
        Ok(app) => {
            let status = app.lock();
            f(&status, params)
                .ok_or_else(|| Box::new(not_found(json, "no such job, stage or attempt")))
        }
        Err(Lookup::NotFound) => Err(Box::new(not_found(json, &format!("no application {id}")))),
        Err(Lookup::Unreadable(reason)) => {
            let text = format!("the event log of {id} cannot be read: {reason}");
            Err(Box::new(if json {
                (StatusCode::UNPROCESSABLE_ENTITY, Json(serde_json::json!({ "error": text })))
                    .into_response()
            } else {
                (StatusCode::UNPROCESSABLE_ENTITY, Html(pages::message("Unreadable", &text)))
                    .into_response()
            }))
        }
    }
}

async fn html(
    State(ui): State<Ui>,
    Path(params): Params,
    f: impl FnOnce(&AppStatus, &HashMap<String, String>) -> Option<String>,
) -> Response {
    match with_app(&ui, &params, false, f) {
        Ok(page) => Html(page).into_response(),
        Err(r) => *r,
    }
}

async fn json(
    State(ui): State<Ui>,
    Path(params): Params,
    f: impl FnOnce(&AppStatus, &HashMap<String, String>) -> Option<serde_json::Value>,
) -> Response {
    match with_app(&ui, &params, true, f) {
        Ok(v) => Json(v).into_response(),
        Err(r) => *r,
    }
}

async fn apps_page(State(ui): State<Ui>) -> Html<String> {
    Html(pages::applications(&ui.source.list(), "Applications"))
}

fn job_page(a: &AppStatus, p: &HashMap<String, String>) -> Option<String> {
    a.jobs.get(&number(p, "id")?).map(|j| pages::job(a, j))
}

async fn stage_page(
    state: State<Ui>,
    params: Params,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let attempt = query.get("attempt").map(|a| a.parse::<u32>().ok());
    html(state, params, move |a, p| {
        let stage = number(p, "id")?;
        let s = match attempt {
            None => a.latest_attempt(stage)?,
            Some(n) => a.stages.get(&(stage, n?))?,
        };
        Some(pages::stage(a, s))
    })
    .await
}

async fn api_apps(State(ui): State<Ui>) -> Json<serde_json::Value> {
    Json(api::applications(&ui.source.list()))
}

async fn api_one_app(State(ui): State<Ui>, Path(params): Params) -> Response {
    let id = params.get("app").cloned().unwrap_or_default();
    match ui.source.list().into_iter().find(|r| r.id == id) {
        Some(row) => Json(api::applications(&[row])[0].clone()).into_response(),
        None => not_found(true, &format!("no application {id}")),
    }
}

fn api_job(a: &AppStatus, p: &HashMap<String, String>) -> Option<serde_json::Value> {
    a.jobs.get(&number(p, "id")?).map(|j| api::job(a, j))
}

fn api_stage(a: &AppStatus, p: &HashMap<String, String>) -> Option<serde_json::Value> {
    let stage = number(p, "id")?;
    let attempts: Vec<_> = a.attempts(stage).map(|s| api::stage(a, s, true)).collect();
    (!attempts.is_empty()).then_some(serde_json::Value::Array(attempts))
}

fn api_attempt(a: &AppStatus, p: &HashMap<String, String>) -> Option<serde_json::Value> {
    let s = a.stages.get(&(number(p, "id")?, number(p, "attempt")?))?;
    Some(api::stage(a, s, true))
}

fn api_tasks(a: &AppStatus, p: &HashMap<String, String>) -> Option<serde_json::Value> {
    let s = a.stages.get(&(number(p, "id")?, number(p, "attempt")?))?;
    Some(api::task_list(a, s))
}

async fn serve_metrics(State(ui): State<Ui>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok());
    match &ui.metrics {
        Some(m) => metrics_response(m, accept),
        None => not_found(false, "this process serves no metrics"),
    }
}
