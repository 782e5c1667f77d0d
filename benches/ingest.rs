//! Monitoring ingestion on SQLite: per-route samples through `engine.ingest` (stored and
//! evaluated in one transaction per batch) and Alertmanager alerts through
//! `engine.alerts` (de-duplicated, stored, acted on). Prints rates;
//! `cargo bench --bench ingest`. Target on a 2-core machine: at least 5,000 alerts/s.

use std::sync::Arc;
use std::time::Instant;

use sevbot::clock::SystemClock;
use sevbot::config::{self, RawConfig};
use sevbot::engine::{Alert, AlertBatch, Engine, RouteSample};
use sevbot::store::Store;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let batch: usize = std::env::var("BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sevbot.toml");
    let mut raw: RawConfig = config::load_raw(Some(&path)).unwrap();
    raw.database.url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let (cfg, problems) = config::validate(raw);
    let cfg = Arc::new(cfg.unwrap_or_else(|| panic!("{problems:?}")));
    let routes: Vec<String> = cfg
        .availability
        .routes
        .iter()
        .map(|r| r.id.clone())
        .collect();
    let store = Store::connect(&cfg.database.url).await.unwrap();
    let engine = Engine::new(store, Arc::new(SystemClock), cfg);

    // Healthy samples: stored and evaluated, nothing declared.
    let start = Instant::now();
    let mut n = 0;
    for round in 0..rounds {
        let now = chrono::Utc::now().timestamp_millis();
        let samples: Vec<RouteSample> = (0..batch)
            .map(|i| RouteSample {
                route: routes[(round * batch + i) % routes.len()].clone(),
                window_start: now - 60_000,
                window_end: now,
                requests: 1000,
                failures: 0,
            })
            .collect();
        engine.ingest(&samples, "bench").await.unwrap();
        n += samples.len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "samples: {n} in {secs:.2} s = {:.0}/s (batches of {batch})",
        n as f64 / secs
    );

    // Alerts: distinct fingerprints, all resolved (stored and de-duplicated; a firing one
    // would declare a SEV, measured by the engine tests instead).
    let start = Instant::now();
    let mut n = 0;
    for round in 0..rounds {
        let alerts: Vec<Alert> = (0..batch)
            .map(|i| Alert {
                status: "resolved".into(),
                labels: [("alertname".to_string(), "HighErrorRate".to_string())].into(),
                annotations: Default::default(),
                starts_at: "2026-11-21T22:40:16Z".into(),
                fingerprint: format!("{round:06}{i:06}"),
                measured: None,
            })
            .collect();
        let b = AlertBatch {
            version: "4".into(),
            group_key: "{}:{alertname=\"HighErrorRate\"}".into(),
            alerts,
        };
        n += engine.alerts(&b).await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "alerts: {n} in {secs:.2} s = {:.0}/s (webhooks of {batch}); target ≥ 5,000/s",
        n as f64 / secs
    );

    // A storm: firing alerts for one route, the first declaring a SEV and every later one
    // attaching to it (each on its timeline and told in its channel).
    let route = routes[0].clone();
    let storm = |round: usize, i: usize| Alert {
        status: "firing".into(),
        labels: [
            ("alertname".to_string(), "HighErrorRate".to_string()),
            ("route".to_string(), route.clone()),
            ("instance".to_string(), format!("web-{i}")),
        ]
        .into(),
        annotations: Default::default(),
        starts_at: "2026-11-21T22:40:16Z".into(),
        fingerprint: format!("storm{round:06}{i:06}"),
        measured: None,
    };
    let webhook = |alerts: Vec<Alert>| AlertBatch {
        version: "4".into(),
        group_key: "{}:{alertname=\"HighErrorRate\"}".into(),
        alerts,
    };
    engine.alerts(&webhook(vec![storm(0, 0)])).await.unwrap();
    let start = Instant::now();
    let mut n = 0;
    for round in 1..=rounds {
        let alerts = (0..batch).map(|i| storm(round, i)).collect();
        n += engine.alerts(&webhook(alerts)).await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let sevs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sevs")
        .fetch_one(&engine.store.pool)
        .await
        .unwrap();
    println!(
        "firing alerts into one open SEV: {n} in {secs:.2} s = {:.0}/s (webhooks of {batch}, {sevs} SEV declared); target ≥ 5,000/s",
        n as f64 / secs
    );
}
