//! With the real thing: Debian's Prometheus 2.42 scrapes a small exporter (per-route
//! request counters, checkout failing 10%), a recording rule computes route availability,
//! an alerting rule fires, Alertmanager 0.25 delivers the webhook to sevbot, sevbot
//! declares an availability SEV, and its impact card reads the same number back from
//! Prometheus. `.ci/run` installs `prometheus` and `prometheus-alertmanager`.

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sevbot::clock::ManualClock;
use support::{Backend, TestApp};

const TOKEN: &str = "it-monitoring-secret";

fn binary(name: &str) -> String {
    let path = format!("/usr/bin/{name}");
    assert!(
        std::path::Path::new(&path).exists(),
        "{path} is missing: install Debian's prometheus and prometheus-alertmanager (.ci/run does)"
    );
    path
}

/// Kills the child when the test ends, however it ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Serves `http_requests_total` for two routes; checkout fails one request in ten.
async fn exporter() -> u16 {
    let ok = Arc::new(AtomicU64::new(0));
    let tick = ok.clone();
    tokio::spawn(async move {
        loop {
            tick.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let n = ok.load(Ordering::SeqCst);
            async move {
                format!(
                    "# TYPE http_requests_total counter\n\
                     http_requests_total{{route=\"/api/checkout\",code=\"200\"}} {}\n\
                     http_requests_total{{route=\"/api/checkout\",code=\"500\"}} {}\n\
                     http_requests_total{{route=\"/api/cart\",code=\"200\"}} {}\n\
                     http_requests_total{{route=\"/api/cart\",code=\"500\"}} 0\n",
                    n * 9,
                    n,
                    n * 10
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_and_alertmanager_file_a_sev_whose_impact_card_matches() {
    let (prometheus, alertmanager) = (binary("prometheus"), binary("prometheus-alertmanager"));
    let dir = tempfile::tempdir().unwrap();
    // Real time: Prometheus and Alertmanager run on the wall clock.
    let now = chrono::Utc::now().timestamp_millis();
    let cfg = support::AVAILABILITY.replace(
        "confirm_minutes = 3",
        "confirm_minutes = 3\nprometheus_query = \"route:availability:ratio_rate30s\"",
    );
    let app = TestApp::with_clock(Backend::Sqlite, &cfg, Arc::new(ManualClock::new(now))).await;
    let (prom_port, am_port) = (support::free_port(), support::free_port());
    // As `run` does with PROMETHEUS_URL set: an alert without a figure is measured there.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let prom_url = format!("http://127.0.0.1:{prom_port}");
    let router = sevbot::adapters::monitoring::routes(app.engine.clone(), TOKEN, Some(&prom_url));
    let (sevbot_addr, _) = sevbot::http::serve(router, "127.0.0.1:0", stop)
        .await
        .unwrap();
    let exporter = exporter().await;

    let am_config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am_config,
        format!(
            "route:\n  receiver: sevbot\n  group_by: [alertname, route]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n\
             receivers:\n- name: sevbot\n  webhook_configs:\n  - url: http://{sevbot_addr}/hooks/alertmanager\n    send_resolved: true\n    http_config:\n      authorization:\n        type: Bearer\n        credentials: {TOKEN}\n"
        ),
    )
    .unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        r#"groups:
- name: availability
  interval: 1s
  rules:
  - record: route:availability:ratio_rate30s
    expr: sum by (route) (rate(http_requests_total{code!~"5.."}[30s])) / sum by (route) (rate(http_requests_total[30s]))
  - alert: RouteAvailabilityLow
    expr: route:availability:ratio_rate30s < 0.95
    labels:
      severity: critical
      service: billing
    annotations:
      summary: availability below 95%
"#,
    )
    .unwrap();
    let prom_config = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom_config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files: [{}]\n\
             alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['127.0.0.1:{am_port}']\n\
             scrape_configs:\n- job_name: exporter\n  static_configs:\n  - targets: ['127.0.0.1:{exporter}']\n",
            rules.display()
        ),
    )
    .unwrap();
    let log = |name: &str| Stdio::from(std::fs::File::create(dir.path().join(name)).unwrap());
    let _am = Guard(
        Command::new(alertmanager)
            .arg(format!("--config.file={}", am_config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("am").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(log("alertmanager.log"))
            .spawn()
            .expect("alertmanager starts"),
    );
    let _prom = Guard(
        Command::new(prometheus)
            .arg(format!("--config.file={}", prom_config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(log("prometheus.log"))
            .spawn()
            .expect("prometheus starts"),
    );

    // The alert fires and Alertmanager delivers it: a SEV is declared.
    let mut declared = None;
    for _ in 0..120 {
        app.clock.set(chrono::Utc::now().timestamp_millis());
        let row: Option<(i64, String, i64)> = sqlx::query_as("SELECT id, title, level FROM sevs")
            .fetch_optional(&app.engine.store.pool)
            .await
            .unwrap();
        if row.is_some() {
            declared = row;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let tail = |name: &str| {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    };
    let (_, title, level) = declared.unwrap_or_else(|| {
        panic!(
            "no SEV within 60 s.\nprometheus:\n{}\nalertmanager:\n{}",
            tail("prometheus.log"),
            tail("alertmanager.log")
        )
    });
    assert_eq!(title, "RouteAvailabilityLow on web-checkout");
    assert_eq!(level, 1, "severity=critical maps to SEV1");

    // Before any poll, the card, the customer draft and the postmortem say the failing
    // share Prometheus gave when the alert arrived (the alert carries no figure): about
    // 10 %, not 100 % available and "about 1 %".
    let figure = |text: &str, after: &str, until: char| -> f64 {
        let start = text
            .find(after)
            .unwrap_or_else(|| panic!("no {after:?} in:\n{text}"))
            + after.len();
        text[start..]
            .split(until)
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    let card = app.cmd("U_ALICE", "general", "SEV-1 impact").await.text;
    let available = figure(&card, "(web-checkout, critical): ", '%');
    assert!((85.0..=95.0).contains(&available), "{card}");
    let draft = app.cmd("U_CAROL", "general", "SEV-1 draft").await.text;
    let failing = figure(&draft, "about ", '%');
    assert!((5.0..=15.0).contains(&failing), "{draft}");
    let pm = app.cmd("U_ALICE", "general", "SEV-1 postmortem").await.text;
    assert!(pm.contains(&format!("{available:.1}% since")), "{pm}");

    // The impact card reads Prometheus' own number.
    let client = reqwest::Client::new();
    let n = sevbot::adapters::monitoring::poll_once(
        &app.engine,
        &client,
        &format!("http://127.0.0.1:{prom_port}"),
        "route:availability:ratio_rate30s",
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(n, 2);
    let r = app.cmd("U_ALICE", "general", "SEV-1 impact").await;
    assert!(
        r.text
            .contains("paying for an order (web-checkout, critical): 90.0%"),
        "{}",
        r.text
    );
    assert!(
        !r.text.contains("reviewing a cart"),
        "the healthy route is not listed: {}",
        r.text
    );
    let _ = stop_tx.send(true);
}
