//! What monitoring sends: `POST /api/v1/availability` (per-route samples) and
//! `POST /hooks/alertmanager` (Alertmanager webhook v4), both authenticated with the
//! monitoring secret (bearer, or basic with it as the password), size-capped, validated
//! with precise 4xx answers, and stored before they are answered; and a Prometheus poller
//! that turns a per-route success ratio into samples. An alert that fires for a route
//! without saying how bad it is gets the route's figure from Prometheus as it arrives.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::engine::Engine;
use crate::engine::{AlertBatch, RouteSample};

pub const MAX_BODY: usize = 256 * 1024;
pub const MAX_SAMPLES: usize = 1000;
/// How far ahead of sevbot's clock a sample window may end (clocks differ a little).
pub const MAX_FUTURE_MS: i64 = 5 * 60_000;
/// How old a sample window may be: older ones describe the past, not an incident now.
pub const MAX_AGE_MS: i64 = 24 * 3_600_000;

/// How long an arriving alert waits for Prometheus' figure before it is stored without.
pub const MEASURE_WITHIN: Duration = Duration::from_secs(2);

#[derive(Clone)]
struct Monitoring {
    engine: Engine,
    token: Arc<[u8]>,
    /// `PROMETHEUS_URL`, asked for the figure an alert does not carry.
    prometheus: Option<(String, reqwest::Client)>,
}

/// The monitoring endpoints; with `prometheus` (its base URL), firing alerts without a
/// figure are measured there before they are stored.
pub fn routes(engine: Engine, token: &str, prometheus: Option<&str>) -> Router {
    let client = reqwest::Client::builder()
        .timeout(MEASURE_WITHIN)
        .build()
        .unwrap_or_default();
    Router::new()
        .route("/api/v1/availability", post(availability))
        .route("/hooks/alertmanager", post(alertmanager))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Monitoring {
            engine,
            token: token.as_bytes().into(),
            prometheus: prometheus.map(|u| (u.to_string(), client)),
        })
}

/// Same time whatever the mismatch, so the secret cannot be guessed byte by byte.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// Bearer, or basic with the token as the password; compared in constant time.
pub(crate) fn authorized(headers: &HeaderMap, token: &[u8]) -> bool {
    let Some(h) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if let Some(bearer) = h.strip_prefix("Bearer ") {
        return same(bearer.trim().as_bytes(), token);
    }
    if let Some(basic) = h.strip_prefix("Basic ") {
        use base64::Engine as _;
        if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(basic.trim()) {
            let password = decoded.splitn(2, |c| *c == b':').nth(1).unwrap_or_default();
            return same(password, token);
        }
    }
    false
}

fn problem(status: StatusCode, detail: impl Into<String>) -> Response {
    (status, Json(json!({ "error": detail.into() }))).into_response()
}

fn unauthorized() -> Response {
    let mut r = problem(
        StatusCode::UNAUTHORIZED,
        "missing or wrong credentials: send Authorization: Bearer <the monitoring token>",
    );
    r.headers_mut()
        .insert("www-authenticate", "Bearer".parse().expect("static header"));
    r
}

async fn availability(State(m): State<Monitoring>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&headers, &m.token) {
        return unauthorized();
    }
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return problem(StatusCode::BAD_REQUEST, format!("not JSON: {e}")),
    };
    let samples = match validate(&m.engine, &v) {
        Ok(s) => s,
        Err(e) => return problem(StatusCode::UNPROCESSABLE_ENTITY, e),
    };
    match m.engine.ingest(&samples, "api").await {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(json!({ "accepted": samples.len() })),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "availability samples not stored");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "not stored; retry (the database is failing)",
            )
        }
    }
}

/// Every sample must be whole: one bad sample refuses the batch, naming where and why.
fn validate(engine: &Engine, v: &Value) -> Result<Vec<RouteSample>, String> {
    let list = v["samples"].as_array().ok_or(
        "expected {\"samples\": [ {route, window_start, window_end, requests, failures}, … ]}",
    )?;
    if list.is_empty() {
        return Err("samples is empty".into());
    }
    if list.len() > MAX_SAMPLES {
        return Err(format!(
            "at most {MAX_SAMPLES} samples per request, got {}",
            list.len()
        ));
    }
    let known = &engine.cfg().availability.routes;
    let mut out = vec![];
    for (i, s) in list.iter().enumerate() {
        let at = |m: &str| format!("samples[{i}]: {m}");
        let route = s["route"]
            .as_str()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| at("route is missing"))?;
        if !known.iter().any(|r| r.id == route) {
            return Err(at(&format!(
                "unknown route \"{route}\" (the catalogue has {})",
                known
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let int = |k: &str| {
            s[k].as_i64()
                .ok_or_else(|| at(&format!("{k} must be an integer")))
        };
        let (start, end, requests, failures) = (
            int("window_start")?,
            int("window_end")?,
            int("requests")?,
            int("failures")?,
        );
        if end <= start {
            return Err(at(
                "window_end must be after window_start (milliseconds since the epoch)",
            ));
        }
        let now = engine.clock.now_ms();
        if end > now + MAX_FUTURE_MS {
            return Err(at(&format!(
                "window_end is {} s in the future; check the sender's clock (milliseconds since the epoch, at most 5 minutes ahead)",
                (end - now) / 1000
            )));
        }
        if end < now - MAX_AGE_MS {
            return Err(at(
                "window_end is more than a day old; send current windows (milliseconds since the epoch)",
            ));
        }
        if requests < 0 || failures < 0 || failures > requests {
            return Err(at("need 0 <= failures <= requests"));
        }
        out.push(RouteSample {
            route: route.to_string(),
            window_start: start,
            window_end: end,
            requests,
            failures,
        });
    }
    Ok(out)
}

async fn alertmanager(State(m): State<Monitoring>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&headers, &m.token) {
        return unauthorized();
    }
    let batch: AlertBatch = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("not an Alertmanager webhook: {e}"),
            );
        }
    };
    if let Err(e) = check_webhook(&m.engine, &batch) {
        return problem(StatusCode::UNPROCESSABLE_ENTITY, e);
    }
    let mut batch = batch;
    if let Some((url, client)) = &m.prometheus {
        measure(&m.engine, client, url, &mut batch).await;
    }
    match m.engine.alerts(&batch).await {
        Ok(new) => Json(json!({ "new": new })).into_response(),
        // 5xx: Alertmanager retries, and nothing was half-stored.
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "alert not stored");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "not stored; Alertmanager will retry",
            )
        }
    }
}

/// An Alertmanager webhook sevbot acts on: version "4", every alert firing or resolved,
/// routes from the catalogue (unless `file_unknown_routes`).
fn check_webhook(engine: &Engine, batch: &AlertBatch) -> Result<(), String> {
    if batch.version != "4" {
        return Err(format!(
            "webhook version \"{}\" is not supported; sevbot reads Alertmanager's version \"4\"",
            batch.version
        ));
    }
    let a = &engine.cfg().availability;
    for (i, alert) in batch.alerts.iter().enumerate() {
        if alert.status != "firing" && alert.status != "resolved" {
            return Err(format!(
                "alerts[{i}]: status \"{}\" is neither \"firing\" nor \"resolved\"",
                alert.status
            ));
        }
        if let Some(route) = alert.labels.get("route")
            && !a.file_unknown_routes
            && !a
                .routes
                .iter()
                .any(|r| &r.id == route || &r.pattern == route)
        {
            return Err(format!(
                "alerts[{i}]: route \"{route}\" is not in the catalogue (set availability.file_unknown_routes = true to accept it)"
            ));
        }
    }
    Ok(())
}

/// Polls `{PROMETHEUS_URL}/api/v1/query` for a per-route success ratio (a `route` label)
/// and feeds it in as samples, until `stop`.
pub async fn poll_prometheus(
    engine: Engine,
    url: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let a = engine.cfg().availability.clone();
    let every = Duration::from_secs(u64::from(
        a.prometheus_poll_seconds
            .max(crate::config::MIN_POLL_SECONDS),
    ));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    loop {
        match poll_once(&engine, &client, &url, &a.prometheus_query, every).await {
            Ok(n) => tracing::debug!(samples = n, "Prometheus polled"),
            Err(e) => tracing::warn!(
                error = format!("{e:#}"),
                "Prometheus poll failed; will try again"
            ),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Firing alerts for a route that carry no figure (no `availability` or `value`
/// annotation) get the route's current availability from Prometheus. If Prometheus does
/// not answer in time the alert is stored without, and the figure is said to be unknown.
async fn measure(engine: &Engine, client: &reqwest::Client, url: &str, batch: &mut AlertBatch) {
    let lacking = |a: &crate::engine::Alert| {
        a.status == "firing"
            && a.labels.contains_key("route")
            && crate::domain::impact::alert_figure(&a.annotations).is_none()
    };
    if !batch.alerts.iter().any(lacking) {
        return;
    }
    let query = &engine.cfg().availability.prometheus_query;
    let ratios = match route_ratios(client, url, query).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "Prometheus did not give the alert's figure; stored without it"
            );
            return;
        }
    };
    for a in batch.alerts.iter_mut() {
        if lacking(a)
            && let Some((_, ratio)) = ratios
                .iter()
                .find(|(r, _)| Some(r) == a.labels.get("route"))
        {
            a.measured = Some(ratio * 100.0);
        }
    }
}

/// The query's vector: (the `route` label, its success ratio 0–1), finite values only.
async fn route_ratios(
    client: &reqwest::Client,
    url: &str,
    query: &str,
) -> anyhow::Result<Vec<(String, f64)>> {
    let resp: Value = client
        .get(format!("{}/api/v1/query", url.trim_end_matches('/')))
        .query(&[("query", query)])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(resp["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let route = r["metric"]["route"].as_str()?;
            let ratio = r["value"][1].as_str()?.parse::<f64>().ok()?;
            ratio
                .is_finite()
                .then(|| (route.to_string(), ratio.clamp(0.0, 1.0)))
        })
        .collect())
}

/// One poll: the query's vector → samples (a ratio carries no request count, so each
/// sample stands for 10,000 requests).
pub async fn poll_once(
    engine: &Engine,
    client: &reqwest::Client,
    url: &str,
    query: &str,
    window: Duration,
) -> anyhow::Result<usize> {
    let now = engine.clock.now_ms();
    let known = &engine.cfg().availability.routes;
    let mut samples = vec![];
    for (route, ratio) in route_ratios(client, url, query).await? {
        let Some(id) = known
            .iter()
            .find(|k| k.id == route || k.pattern == route)
            .map(|k| k.id.clone())
        else {
            continue;
        };
        let requests = 10_000i64;
        let failures = ((1.0 - ratio) * requests as f64).round() as i64;
        samples.push(RouteSample {
            route: id,
            window_start: now - window.as_millis() as i64,
            window_end: now,
            requests,
            failures,
        });
    }
    if !samples.is_empty() {
        engine.ingest(&samples, "prometheus").await?;
    }
    Ok(samples.len())
}
