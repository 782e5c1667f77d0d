//! The read API for tools and people outside chat, authenticated with its own token
//! (`API_TOKEN`, or the variable `server.api_token_env` names) and off while it is unset:
//! `GET /api/v1/sevs` (open and recently ended SEVs), `GET /api/v1/sevs/{id}` (one SEV:
//! card, roles, pages, timeline, postmortem) as JSON with the field names of
//! `engine::views`, `GET /api/v1/sevs/{id}/postmortem` as Markdown, and
//! `GET /api/v1/reports?period=…` (a month or quarter's figures, `domain::report`). The token is
//! nobody in particular, so a restricted SEV shows only its id, type, level and stage.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::monitoring::authorized;
use crate::domain::SevId;
use crate::domain::report::{PERIODS, Period};
use crate::engine::Engine;
use crate::engine::views::{Reader, SevDetail};

#[derive(Clone)]
struct Api {
    engine: Engine,
    token: Arc<[u8]>,
}

pub fn routes(engine: Engine, token: &str) -> Router {
    Router::new()
        .route("/api/v1/sevs", get(list))
        .route("/api/v1/sevs/{id}", get(one))
        .route("/api/v1/sevs/{id}/postmortem", get(postmortem))
        .route("/api/v1/reports", get(reports))
        .with_state(Api {
            engine,
            token: token.as_bytes().into(),
        })
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (status, body.into()).into_response()
}

/// 401 with how to authenticate, unless the request carries the API token.
fn refused(api: &Api, headers: &HeaderMap) -> Option<Response> {
    if authorized(headers, &api.token) {
        return None;
    }
    let mut r = text(
        StatusCode::UNAUTHORIZED,
        "missing or wrong credentials: send Authorization: Bearer <the API token>\n",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        "Bearer".parse().expect("static header"),
    );
    Some(r)
}

/// The SEV an address names, or the 400 that says how to write it.
fn sev_id(id: &str) -> Result<SevId, Box<Response>> {
    SevId::parse(id).ok_or_else(|| {
        Box::new(text(
            StatusCode::BAD_REQUEST,
            format!("\"{id}\" is not a SEV id; write it as SEV-12\n"),
        ))
    })
}

fn failed(e: anyhow::Error, what: &str) -> Response {
    tracing::error!(error = format!("{e:#}"), "could not read {what}");
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("sevbot could not read {what}; its log says why\n"),
    )
}

/// How many recently ended SEVs the list carries.
const RECENTLY_ENDED: i64 = 20;

async fn list(State(api): State<Api>, headers: HeaderMap) -> Response {
    if let Some(r) = refused(&api, &headers) {
        return r;
    }
    match api.engine.sev_list(&Reader::Anyone, RECENTLY_ENDED).await {
        Ok(list) => Json(list).into_response(),
        Err(e) => failed(e, "the SEVs"),
    }
}

#[derive(serde::Deserialize)]
struct ReportQuery {
    period: Option<String>,
}

/// The report for `?period=` (`month`, the default; `quarter`; `2026-11`; `2026-Q4`).
async fn reports(
    State(api): State<Api>,
    headers: HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Response {
    if let Some(r) = refused(&api, &headers) {
        return r;
    }
    let now = api.engine.clock.now_ms();
    let Some(period) = Period::parse(q.period.as_deref(), now) else {
        return text(
            StatusCode::BAD_REQUEST,
            format!(
                "\"{}\" is not a period; write {}\n",
                q.period.unwrap_or_default(),
                PERIODS.replace('`', "")
            ),
        );
    };
    match api.engine.report(period, &Reader::Anyone).await {
        Ok(r) => Json(r).into_response(),
        Err(e) => failed(e, "the report"),
    }
}

/// The SEV `id` names, as the token may see it: 401, 400, 404 or 500 when there is none.
async fn read_sev(api: &Api, headers: &HeaderMap, id: &str) -> Result<SevDetail, Response> {
    if let Some(r) = refused(api, headers) {
        return Err(r);
    }
    let id = sev_id(id).map_err(|r| *r)?;
    match api.engine.sev_detail(id, &Reader::Anyone).await {
        Ok(Some(sev)) => Ok(sev),
        Ok(None) => Err(text(StatusCode::NOT_FOUND, format!("there is no {id}\n"))),
        Err(e) => Err(failed(e, "the SEV")),
    }
}

async fn one(State(api): State<Api>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match read_sev(&api, &headers, &id).await {
        Ok(sev) => Json(sev).into_response(),
        Err(r) => r,
    }
}

async fn postmortem(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let sev = match read_sev(&api, &headers, &id).await {
        Ok(sev) => sev,
        Err(r) => return r,
    };
    match sev.postmortem {
        Some(doc) => (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            doc,
        )
            .into_response(),
        None => text(
            StatusCode::FORBIDDEN,
            format!(
                "{} is restricted: its postmortem is for its members; ask for it with /sev postmortem in its channel\n",
                sev.summary.id
            ),
        ),
    }
}
