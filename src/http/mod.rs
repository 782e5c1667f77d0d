//! The operator's HTTP surface: liveness, readiness and Prometheus metrics. Platform
//! endpoints (Slack, Discord, webhooks) mount on the same router, and every request passes
//! the `guard` (timeouts, connection caps, authentication budgets).

pub mod guard;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use metrics_exporter_prometheus::PrometheusHandle;
use tower::ServiceExt as _;

pub use guard::{Guard, Limits, Peer};

use crate::leadership::Leading;
use crate::store::Store;

/// The process-wide metrics recorder (installed once, even when tests start several apps).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let h = telemetry::builder()
                .install_recorder()
                .unwrap_or_else(|_| telemetry::builder().build_recorder().handle());
            telemetry::describe();
            h
        })
        .clone()
}

#[derive(Clone)]
struct Http {
    store: Store,
    metrics: PrometheusHandle,
    replica: String,
    leading: Leading,
}

/// Health, readiness and metrics. `replica` names this process and `leading` holds the
/// duties it leads, both shown by `/readyz`.
pub fn router(store: Store, replica: String, leading: Leading) -> Router {
    let state = Http {
        store,
        metrics: metrics_handle(),
        replica,
        leading,
    };
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(state)
}

async fn readyz(State(h): State<Http>) -> (StatusCode, String) {
    match h.store.ready().await {
        Ok(()) => {
            let leads = h.leading.names();
            let leads = if leads.is_empty() {
                "nothing".to_string()
            } else {
                leads.join(", ")
            };
            (
                StatusCode::OK,
                format!("ready\nreplica {}\nleads {leads}\n", h.replica),
            )
        }
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

/// Binds and serves until `stop` fires with the default limits; returns the bound address
/// (port 0 picks one).
pub async fn serve(
    app: Router,
    addr: &str,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    serve_with(app, addr, stop, Limits::default()).await
}

/// How long in-flight requests may finish once a stop is asked for.
const DRAIN: Duration = Duration::from_secs(5);

/// Binds and serves until `stop` fires. Connections past the caps are answered at once
/// and closed; a request whose headers or body do not arrive in time is dropped (408 for
/// a body); after `stop`, requests in flight get `DRAIN` to finish.
pub async fn serve_with(
    app: Router,
    addr: &str,
    mut stop: tokio::sync::watch::Receiver<bool>,
    limits: Limits,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {addr}: {e} (set server.http_addr or SEVBOT_HTTP_ADDR)")
    })?;
    let bound = listener.local_addr()?;
    let guard = Guard::new(limits);
    let app = app.layer(axum::middleware::from_fn_with_state(
        guard.clone(),
        guard::screen,
    ));
    let task = tokio::spawn(async move {
        // Each connection holds a receiver; `closed()` resolves once all are gone.
        let (close_tx, close_rx) = tokio::sync::watch::channel(());
        let (drain_tx, drain_rx) = tokio::sync::watch::channel(false);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = stop.changed() => break,
            };
            let ticket = match guard.admit(peer.ip()) {
                Ok(t) => t,
                Err(refusal) => {
                    tokio::spawn(turn_away(stream, refusal));
                    continue;
                }
            };
            let svc = app
                .clone()
                .map_request(move |mut req: axum::extract::Request<Incoming>| {
                    req.extensions_mut().insert(Peer(peer.ip()));
                    req.map(Body::new)
                });
            let header_timeout = guard.limits.header_timeout;
            let (close_rx, mut drain_rx) = (close_rx.clone(), drain_rx.clone());
            tokio::spawn(async move {
                let _ticket = ticket;
                let _close_rx = close_rx;
                let mut conn = std::pin::pin!(
                    http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(header_timeout)
                        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc))
                        .with_upgrades()
                );
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(error = %e, %peer, "connection ended");
                        }
                        return;
                    }
                    _ = drain_rx.wait_for(|d| *d) => conn.as_mut().graceful_shutdown(),
                }
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, %peer, "connection ended while draining");
                }
            });
        }
        drop(listener);
        drop(close_rx);
        let _ = drain_tx.send(true);
        if tokio::time::timeout(DRAIN, close_tx.closed())
            .await
            .is_err()
        {
            tracing::warn!("requests still in flight after the drain period; stopping anyway");
        }
    });
    Ok((bound, task))
}

/// Answers a connection past the caps without reading from it, then closes it.
async fn turn_away(mut stream: tokio::net::TcpStream, refusal: guard::Refusal) {
    use tokio::io::AsyncWriteExt;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(refusal.response()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
