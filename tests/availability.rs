//! Route availability end to end: samples and Alertmanager webhooks over HTTP (the real
//! captures in ../shared/fixtures/alertmanager/), SEVs filed by monitoring after the
//! confirmation window, proposals as impact changes, the impact card, customer drafts
//! and the SLA ledger. On SQLite and PostgreSQL.

mod support;

use serde_json::{Value, json};
use sevbot::engine::RouteSample;
use support::{AVAILABILITY, Backend, Call, T0, TestApp};

const TOKEN: &str = "monitoring-secret";

async fn app(b: Backend) -> TestApp {
    TestApp::with_config(b, AVAILABILITY).await
}

fn sample(route: &str, minute: i64, requests: i64, failures: i64) -> RouteSample {
    RouteSample {
        route: route.into(),
        window_start: T0 + (minute - 1) * 60_000,
        window_end: T0 + minute * 60_000,
        requests,
        failures,
    }
}

/// Checkout at `pct`% and the rest healthy, reported at `minute`.
async fn report(app: &TestApp, minute: i64, checkout_failures_per_1000: i64) {
    app.clock.set(T0 + minute * 60_000);
    app.engine
        .ingest(
            &[
                sample("web-checkout", minute, 1000, checkout_failures_per_1000),
                sample("api-cart", minute, 1000, 0),
                sample("api-photos", minute, 100_000, 0),
            ],
            "test",
        )
        .await
        .unwrap();
    app.deliver().await;
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&app.engine.store.pool)
        .await
        .unwrap()
}

both_backends!(
    a_critical_route_at_90_percent_files_a_sev_after_the_confirmation_window,
    |b| async move {
        let app = app(b).await;
        for minute in 0..3 {
            report(&app, minute, 100).await; // 90%: SEV1 for a critical route
            assert_eq!(
                count(&app, "SELECT COUNT(*) FROM sevs").await,
                0,
                "minute {minute}: still confirming"
            );
        }
        report(&app, 3, 100).await;
        let (level, by, t): (i64, String, String) =
            sqlx::query_as("SELECT level, declared_by, sev_type FROM sevs")
                .fetch_one(&app.engine.store.pool)
                .await
                .unwrap();
        assert_eq!(
            (level, by.as_str(), t.as_str()),
            (1, "sevbot", "availability"),
            "global availability looked fine (99.9%)"
        );
        assert!(
            app.fake.pages().iter().any(|(p, _)| p == "alice"),
            "the IMOC is paged"
        );
        // Told once where monitoring files SEVs, and sevbot does not invite itself.
        let told: Vec<String> = app
            .fake
            .channel_calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Reply { channel, text, .. } if channel == "general" => Some(text),
                _ => None,
            })
            .collect();
        assert!(
            told.iter()
                .any(|t| t.contains(": SEV-1 declared: SEV1 availability"))
                && !told.iter().any(|t| t.contains("declared SEV-1 declared")),
            "{told:?}"
        );
        for c in app.fake.calls() {
            if let Call::Invite { people, .. } = c {
                assert!(!people.contains(&"sevbot".to_string()), "{people:?}");
            }
        }
        let ch = "sev-1-availability-web-checkout-degraded";
        let impact: Vec<String> = app
            .posts_in(ch)
            .into_iter()
            .filter(|p| p.starts_with("impact:"))
            .collect();
        assert_eq!(impact.len(), 1, "{:?}", app.fake.calls());
        assert!(
            impact[0].contains(
                "paying for an order (web-checkout, critical): 90.0% since 2026-03-02 10:00 UTC · ~"
            ) && impact[0].contains("error budget"),
            "{}",
            impact[0]
        );
        // Worse: proposed once, not declared again; the card is edited in place.
        report(&app, 4, 150).await;
        report(&app, 5, 150).await;
        assert_eq!(count(&app, "SELECT COUNT(*) FROM sevs").await, 1);
        let proposals: Vec<String> = app
            .posts_in(ch)
            .into_iter()
            .filter(|p| p.contains("suggests"))
            .collect();
        assert_eq!(proposals, vec!["monitoring: global availability 99.85%, web-checkout at 85.0%; this suggests SEV0 (confirm with `/sev level 0`)".to_string()]);
        assert!(
            app.fake
                .calls()
                .iter()
                .any(|c| matches!(c, Call::Edit { text, .. } if text.contains("85.0%")))
        );
        // Recovery is announced once; hysteresis keeps 99.7% degraded (threshold 99.5 + 0.5).
        report(&app, 6, 3).await;
        assert!(
            !app.posts_in(ch).iter().any(|p| p.contains("back within")),
            "99.7% is not recovered yet"
        );
        report(&app, 7, 0).await;
        report(&app, 8, 0).await;
        let back: Vec<String> = app
            .posts_in(ch)
            .into_iter()
            .filter(|p| p.contains("back within"))
            .collect();
        assert_eq!(back.len(), 1, "{back:?}");
    }
);

both_backends!(flapping_does_not_file, |b| async move {
    let app = app(b).await;
    for (minute, failures) in [(0, 100), (1, 100), (2, 0), (3, 100), (4, 100), (5, 0)] {
        report(&app, minute, failures).await;
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM sevs").await, 0);
});

both_backends!(impact_draft_and_sla, |b| async move {
    let app = app(b).await;
    for minute in 0..=3 {
        report(&app, minute, 100).await;
    }
    let ch = "sev-1-availability-web-checkout-degraded";
    let r = app.cmd("U_ALICE", ch, "impact").await;
    assert!(
        r.text
            .contains("paying for an order (web-checkout, critical): 90.0%"),
        "{}",
        r.text
    );
    // The draft speaks customer language only.
    let r = app.cmd("U_BOB", ch, "draft").await;
    assert!(r.text.contains("Investigating: since 10:00 UTC, about 10% of attempts at paying for an order are failing."), "{}", r.text);
    for internal in ["web-checkout", "billing", "SEV-1 SEV1"] {
        let draft = r.text.split("\n\n").nth(1).unwrap();
        assert!(!draft.contains(internal), "{internal} leaked into: {draft}");
    }
    // Only the BMOC or IMOC may change or approve it.
    let r = app.cmd("U_BOB", ch, "draft approve").await;
    assert!(
        r.ephemeral
            && r.text
                .starts_with("Only SEV-1's BMOC (@carol) or IMOC (@alice) may approve"),
        "{}",
        r.text
    );
    app.cmd(
        "U_CAROL",
        ch,
        "draft edit We are fixing a problem with payments.",
    )
    .await;
    let r = app.cmd("U_CAROL", ch, "draft approve").await;
    assert!(r.text.contains("approved and published"), "{}", r.text);
    app.deliver().await;
    assert!(app.fake.calls().iter().any(|c| matches!(c, Call::Reply { channel, text, .. } if channel == "customer-updates" && text == "We are fixing a problem with payments.")));
    let r = app.cmd("U_CAROL", ch, "draft approve").await;
    assert!(r.text.contains("already approved"), "{}", r.text);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM incident_events WHERE kind IN ('draft_proposed', 'draft_approved')").await, 3);
    // Mitigated 20 minutes after the declaration: 20 min at SEV1 × 0.5 = 10 min downtime.
    app.clock.set(T0 + 23 * 60_000);
    app.cmd("U_ALICE", ch, "mitigated").await;
    app.clock.set(T0 + 60 * 60_000);
    let r = app.cmd("U_DAVE", "general", "sla").await;
    assert_eq!(
        r.text,
        "SLA, March 2026 to date: 10.0 min of downtime (SEV-1 10.0).\nContract 99.9%: 44.6 min allowed, 34.6 left\nInternal 99.95%: 22.3 min allowed, 12.3 left"
    );
});

// The HTTP endpoints: authentication, validation, and the real Alertmanager captures.
both_backends!(
    monitoring_endpoints_authenticate_validate_and_deduplicate,
    |b| async move {
        let app = app(b).await;
        let addr = support::serve(sevbot::adapters::monitoring::routes(
            app.engine.clone(),
            TOKEN,
            None,
        ))
        .await;
        let http = reqwest::Client::new();
        let post = |path: &str, body: String, auth: Option<&str>| {
            let mut r = http
                .post(format!("http://{addr}{path}"))
                .header("content-type", "application/json")
                .body(body);
            if let Some(a) = auth {
                r = r.header("authorization", a);
            }
            r.send()
        };
        let bearer = format!("Bearer {TOKEN}");
        let good = json!({ "samples": [ { "route": "api-cart", "window_start": T0 - 60_000, "window_end": T0, "requests": 100, "failures": 1 } ] });
        assert_eq!(
            post("/api/v1/availability", good.to_string(), None)
                .await
                .unwrap()
                .status(),
            401
        );
        assert_eq!(
            post(
                "/api/v1/availability",
                good.to_string(),
                Some("Bearer wrong")
            )
            .await
            .unwrap()
            .status(),
            401
        );
        assert_eq!(
            post("/api/v1/availability", "{".into(), Some(&bearer))
                .await
                .unwrap()
                .status(),
            400
        );
        for (bad, why) in [
            (
                json!({ "samples": [ { "route": "nope", "window_start": 1, "window_end": 2, "requests": 1, "failures": 0 } ] }),
                "samples[0]: unknown route \"nope\"",
            ),
            (
                json!({ "samples": [ { "route": "api-cart", "window_start": T0 - 60_000, "window_end": T0, "requests": 1, "failures": 5 } ] }),
                "samples[0]: need 0 <= failures <= requests",
            ),
            (
                json!({ "samples": [ { "route": "api-cart", "window_start": T0, "window_end": T0 - 60_000, "requests": 1, "failures": 0 } ] }),
                "samples[0]: window_end must be after",
            ),
            (
                // The year 2500: it would hide every real sample of the route after it.
                json!({ "samples": [ { "route": "api-cart", "window_start": 16_725_225_600_000i64, "window_end": 16_725_225_660_000i64, "requests": 1, "failures": 0 } ] }),
                "samples[0]: window_end is 14952780060 s in the future",
            ),
            (
                json!({ "samples": [ { "route": "api-cart", "window_start": T0 - 90_000_000, "window_end": T0 - 86_460_000, "requests": 1, "failures": 0 } ] }),
                "samples[0]: window_end is more than a day old",
            ),
            (json!({ "rows": [] }), "expected {\"samples\""),
        ] {
            let r = post("/api/v1/availability", bad.to_string(), Some(&bearer))
                .await
                .unwrap();
            assert_eq!(r.status(), 422);
            let v: Value = r.json().await.unwrap();
            assert!(v["error"].as_str().unwrap().starts_with(why), "{v}");
        }
        let huge = json!({ "samples": [], "pad": "x".repeat(300_000) });
        assert_eq!(
            post("/api/v1/availability", huge.to_string(), Some(&bearer))
                .await
                .unwrap()
                .status(),
            413
        );
        assert_eq!(
            count(&app, "SELECT COUNT(*) FROM availability_samples").await,
            0,
            "nothing from refused requests"
        );
        let r = post("/api/v1/availability", good.to_string(), Some(&bearer))
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        assert_eq!(
            count(&app, "SELECT COUNT(*) FROM availability_samples").await,
            1
        );

        // Only Alertmanager's webhook version 4, alerts firing or resolved, routes of the
        // catalogue: anything else is refused with the reason, and nothing is stored.
        let alert = |status: &str, route: &str| json!({ "status": status, "labels": { "alertname": "X", "route": route }, "startsAt": "2026-03-02T10:00:00Z", "fingerprint": "f" });
        for (bad, why) in [
            (json!({}), "webhook version \"\" is not supported"),
            (
                json!({ "version": "1", "groupKey": "g", "alerts": [alert("firing", "api-cart")] }),
                "webhook version \"1\" is not supported",
            ),
            (
                json!({ "version": "4", "groupKey": "g", "alerts": [alert("weird", "api-cart")] }),
                "alerts[0]: status \"weird\" is neither",
            ),
            (
                json!({ "version": "4", "groupKey": "g", "alerts": [alert("firing", "/not/ours")] }),
                "alerts[0]: route \"/not/ours\" is not in the catalogue",
            ),
        ] {
            let r = post("/hooks/alertmanager", bad.to_string(), Some(&bearer))
                .await
                .unwrap();
            assert_eq!(r.status(), 422, "{bad}");
            let v: Value = r.json().await.unwrap();
            assert!(v["error"].as_str().unwrap().starts_with(why), "{v}");
        }
        assert_eq!(count(&app, "SELECT COUNT(*) FROM alert_events").await, 0);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM sevs").await, 0);

        // Alertmanager 0.25 captures: firing declares (basic auth works too), a repeat is
        // recognised, the resolution goes on the timeline.
        let path = format!(
            "{}/../shared/fixtures/alertmanager/webhook-v4-alertmanager-0.25.jsonl",
            env!("CARGO_MANIFEST_DIR")
        );
        let lines = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e} (the tests need ../shared)"));
        let hooks: Vec<Value> = lines
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        use base64::Engine as _;
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("alertmanager:{TOKEN}"))
        );
        assert_eq!(
            post(
                "/hooks/alertmanager",
                hooks[0]["body"].to_string(),
                Some("Basic eDp5")
            )
            .await
            .unwrap()
            .status(),
            401
        );
        let r: Value = post(
            "/hooks/alertmanager",
            hooks[0]["body"].to_string(),
            Some(&basic),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(r["new"], 2);
        let r: Value = post(
            "/hooks/alertmanager",
            hooks[0]["body"].to_string(),
            Some(&bearer),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(r["new"], 0, "a repeated notification changes nothing");
        assert_eq!(
            count(&app, "SELECT COUNT(*) FROM sevs").await,
            1,
            "both alerts of the group share one SEV"
        );
        let title: String = sqlx::query_scalar("SELECT title FROM sevs")
            .fetch_one(&app.engine.store.pool)
            .await
            .unwrap();
        assert_eq!(title, "HighErrorRate on api-cart");
        assert_eq!(hooks[1]["body"]["status"], "resolved");
        let r: Value = post(
            "/hooks/alertmanager",
            hooks[1]["body"].to_string(),
            Some(&bearer),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(r["new"], 2);
        app.deliver().await;
        // Alerts that arrive together are told in one message (each on its own line).
        let posts = app.posts_in("sev-1-higherrorrate-on-api-cart");
        let resolved: Vec<&String> = posts
            .iter()
            .filter(|p| p.contains("resolved; consider"))
            .collect();
        assert_eq!(resolved.len(), 1, "{posts:?}");
        assert!(resolved[0].starts_with("4 alerts:"), "{}", resolved[0]);
        assert_eq!(resolved[0].matches("resolved; consider").count(), 2);
        // The Prometheus rule's capture attaches to the same SEV.
        let path = format!(
            "{}/../shared/fixtures/alertmanager/webhook-v4-prometheus-route-availability.jsonl",
            env!("CARGO_MANIFEST_DIR")
        );
        let line = std::fs::read_to_string(&path).unwrap();
        let hook: Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
        let r: Value = post(
            "/hooks/alertmanager",
            hook["body"].to_string(),
            Some(&bearer),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(r["new"], 1);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM sevs").await, 1);
    }
);

both_backends!(
    the_prometheus_poller_turns_ratios_into_samples,
    |b| async move {
        let app = app(b).await;
        // A Prometheus answering an instant vector query, as /api/v1/query does.
        async fn query(
            q: axum::extract::Query<std::collections::HashMap<String, String>>,
        ) -> axum::Json<Value> {
            assert_eq!(
                q.0.get("query").map(String::as_str),
                Some("route:availability:ratio_rate5m")
            );
            axum::Json(
                json!({ "status": "success", "data": { "resultType": "vector", "result": [
            { "metric": { "route": "/api/checkout" }, "value": [1772445600.0, "0.9"] },
            { "metric": { "route": "api-cart" }, "value": [1772445600.0, "1"] },
            { "metric": { "route": "/unknown" }, "value": [1772445600.0, "0.1"] },
            { "metric": { "route": "api-photos" }, "value": [1772445600.0, "NaN"] }
        ] } }),
            )
        }
        let router = axum::Router::new().route("/api/v1/query", axum::routing::get(query));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let client = reqwest::Client::new();
        let n = sevbot::adapters::monitoring::poll_once(
            &app.engine,
            &client,
            &format!("http://{addr}"),
            "route:availability:ratio_rate5m",
            std::time::Duration::from_secs(30),
        )
        .await
        .unwrap();
        assert_eq!(n, 2, "known routes with a number");
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT route, requests, failures FROM availability_samples ORDER BY route",
        )
        .fetch_all(&app.engine.store.pool)
        .await
        .unwrap();
        assert_eq!(
            rows,
            vec![
                ("api-cart".to_string(), 10_000, 0),
                ("web-checkout".to_string(), 10_000, 1_000)
            ]
        );
    }
);

both_backends!(an_approved_update_reaches_the_status_page, |b| async move {
    #[derive(Clone, Default)]
    struct Page(std::sync::Arc<std::sync::Mutex<Vec<Value>>>);
    let page = Page::default();
    async fn receive(
        axum::extract::State(p): axum::extract::State<Page>,
        body: axum::Json<Value>,
    ) -> axum::http::StatusCode {
        p.0.lock().unwrap().push(body.0);
        axum::http::StatusCode::CREATED
    }
    let router = axum::Router::new()
        .route("/updates", axum::routing::post(receive))
        .with_state(page.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let config = AVAILABILITY.replace(
        "customer_updates = { platform = \"test\", channel = \"customer-updates\" }",
        &format!("customer_updates = {{ platform = \"test\", channel = \"customer-updates\" }}\nstatus_page_url = \"http://{addr}/updates\""),
    );
    let app = TestApp::with_config(b, &config).await;
    for minute in 0..=3 {
        report(&app, minute, 100).await;
    }
    let ch = "sev-1-availability-web-checkout-degraded";
    app.cmd("U_CAROL", ch, "draft").await;
    app.cmd("U_CAROL", ch, "draft approve").await;
    app.deliver().await;
    let got = page.0.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["incident"], "SEV-1");
    assert!(
        got[0]["body"]
            .as_str()
            .unwrap()
            .starts_with("Investigating:"),
        "{got:?}"
    );
});

/// A SEV filed from an alert: without a figure the card and the customer update say so
/// instead of "100 %" and "about 1 %"; with the rule's figure (`availability:
/// "{{ $value }}"`) they say the real share, and so does the postmortem.
#[tokio::test]
async fn an_alert_without_a_figure_prints_no_made_up_number() {
    let fire = |fingerprint: &str, annotations: Value| -> sevbot::engine::AlertBatch {
        serde_json::from_value(json!({
            "version": "4",
            "groupKey": format!("{{}}:{{route=\"web-checkout\",fp=\"{fingerprint}\"}}"),
            "alerts": [{
                "status": "firing",
                "labels": { "alertname": "RouteAvailabilityLow", "route": "web-checkout", "severity": "critical" },
                "annotations": annotations,
                "startsAt": "2026-03-02T09:58:00Z",
                "fingerprint": fingerprint
            }]
        }))
        .unwrap()
    };
    let app = app(Backend::Sqlite).await;
    app.clock.set(T0);
    app.engine
        .alerts(&fire("a1", json!({ "summary": "availability below 95%" })))
        .await
        .unwrap();
    app.deliver().await;
    let card = app.cmd("U_ALICE", "general", "SEV-1 impact").await.text;
    assert!(
        card.contains("paying for an order (web-checkout, critical): degraded since")
            && card.contains("availability unknown"),
        "{card}"
    );
    assert!(!card.contains("100.0%"), "{card}");
    let draft = app.cmd("U_CAROL", "general", "SEV-1 draft").await.text;
    assert!(
        draft.contains("some attempts at paying for an order are failing"),
        "{draft}"
    );
    assert!(!draft.contains("about 1%"), "{draft}");
    let r = app.cmd("U_CAROL", "general", "SEV-1 draft approve").await;
    assert!(r.refusal.is_none(), "{}", r.text);
    // Detection starts when the alert started firing, two minutes before it arrived.
    let pm = app.cmd("U_ALICE", "general", "SEV-1 postmortem").await.text;
    assert!(
        pm.contains("RouteAvailabilityLow started firing), 2026-03-02 09:58 UTC"),
        "{pm}"
    );
    assert!(pm.contains("availability unknown"), "{pm}");

    // The rule's own figure: 70 % available is 30 % failing, everywhere.
    app.clock.set(T0 + 60_000);
    app.engine
        .alerts(&fire(
            "a2",
            json!({ "summary": "low", "availability": "0.7" }),
        ))
        .await
        .unwrap();
    app.deliver().await;
    let card = app.cmd("U_ALICE", "general", "SEV-1 impact").await.text;
    assert!(
        card.contains("(web-checkout, critical): 70.0% since"),
        "{card}"
    );
    // The first draft was published; the next one is written from today's figure.
    let draft = app.cmd("U_CAROL", "general", "SEV-1 draft").await.text;
    assert!(draft.contains("about 30% of attempts"), "{draft}");
    let pm = app.cmd("U_ALICE", "general", "SEV-1 postmortem").await.text;
    assert!(pm.contains("70.0% since"), "{pm}");
}

/// One notification with several alerts and no SEV open: the first declares, the others
/// attach to that SEV (found once for the notification), and a resolved one is told on
/// its timeline; repeats of the same notification change nothing.
#[tokio::test]
async fn one_notification_files_one_sev_for_all_its_alerts() {
    let app = app(Backend::Sqlite).await;
    app.clock.set(T0);
    let alert = |status: &str, name: &str, route: &str| {
        json!({
            "status": status,
            "labels": { "alertname": name, "route": route, "severity": "critical" },
            "annotations": {},
            "startsAt": "2026-03-02T09:58:00Z",
            "fingerprint": format!("{name}-{route}")
        })
    };
    let batch: sevbot::engine::AlertBatch = serde_json::from_value(json!({
        "version": "4",
        "groupKey": "{}:{alertname=~\"Route.*\"}",
        "alerts": [
            alert("firing", "RouteAvailabilityLow", "web-checkout"),
            alert("firing", "RouteAvailabilityLow", "api-login"),
            alert("resolved", "RouteLatencyHigh", "web-checkout"),
            alert("firing", "RouteErrorsHigh", "web-checkout"),
        ]
    }))
    .unwrap();
    assert_eq!(app.engine.alerts(&batch).await.unwrap(), 4);
    assert_eq!(app.engine.alerts(&batch).await.unwrap(), 0, "a repeat");
    let count = |sql: &str| {
        let pool = app.engine.store.pool.clone();
        let sql = sql.to_string();
        async move {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM sevs").await, 1);
    assert_eq!(
        count("SELECT COUNT(*) FROM incident_events WHERE sev_id = 1 AND kind = 'alert'").await,
        4
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM route_state WHERE sev_id = 1").await,
        2,
        "both firing routes point at the SEV"
    );
}
