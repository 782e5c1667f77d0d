//! The operator's HTTP surface: liveness, readiness and Prometheus metrics. Platform
//! endpoints (Slack, Discord, webhooks) mount on the same router.

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::store::Store;

/// The process-wide metrics recorder (installed once, even when tests start several apps).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let h = PrometheusBuilder::new()
                .install_recorder()
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder().handle());
            describe_metrics();
            h
        })
        .clone()
}

fn describe_metrics() {
    metrics::describe_counter!(
        "sevbot_commands_total",
        "`/sev` commands received, by subcommand"
    );
    metrics::describe_counter!(
        "sevbot_sevs_declared_total",
        "SEVs declared, by type and level"
    );
    metrics::describe_counter!(
        "sevbot_outbox_deliveries_total",
        "outbox delivery attempts, by platform, effect and result"
    );
    metrics::describe_gauge!("sevbot_outbox_pending", "outbox rows not yet delivered");
    metrics::describe_histogram!(
        "sevbot_job_lateness_seconds",
        "how late jobs fired after their due time"
    );
    metrics::describe_gauge!("sevbot_jobs_pending", "jobs waiting to fire");
    metrics::describe_gauge!(
        "sevbot_jobs_oldest_overdue_seconds",
        "how overdue the oldest pending job is"
    );
    metrics::describe_counter!("sevbot_jobs_fired_total", "jobs fired, by kind");
}

#[derive(Clone)]
struct Http {
    store: Store,
    metrics: PrometheusHandle,
}

pub fn router(store: Store) -> Router {
    let state = Http {
        store,
        metrics: metrics_handle(),
    };
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(state)
}

async fn readyz(State(h): State<Http>) -> (StatusCode, String) {
    match h.store.ready().await {
        Ok(()) => (StatusCode::OK, "ready\n".into()),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {e:#}\n"),
        ),
    }
}

async fn metrics_text(State(h): State<Http>) -> ([(&'static str, &'static str); 1], String) {
    h.metrics.run_upkeep();
    (
        [("content-type", "text/plain; version=0.0.4")],
        h.metrics.render(),
    )
}

/// Binds and serves until `stop` fires; returns the bound address (port 0 picks one).
pub async fn serve(
    app: Router,
    addr: &str,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {addr}: {e} (set server.http_addr or SEVBOT_HTTP_ADDR)")
    })?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.changed().await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "http server stopped");
        }
    });
    Ok((bound, task))
}
