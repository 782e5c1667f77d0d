//! Reports on scripted months, on the injected clock: February and March 2026 are played
//! out SEV by SEV (a SEV across the month's end, one filed by monitoring with two failing
//! routes, a restricted one with an overdue follow-up, a cancelled one), then `/sev report`,
//! `/api/v1/reports` and the web page are read for February, March and the quarter, and
//! every figure is checked against what the script did.

mod support;

use chrono::DateTime;
use serde_json::Value;
use sevbot::config::WebConfig;
use sevbot::engine::RouteSample;
use sevbot::web::Access;
use support::{AVAILABILITY, Backend, TestApp};

const API: &str = "api-s3cret";
const WEB: &str = "web-s3cret";

fn ms(t: &str) -> i64 {
    DateTime::parse_from_rfc3339(t).unwrap().timestamp_millis()
}

async fn at(app: &TestApp, t: &str) {
    app.clock.set(ms(t));
    app.tick().await;
    app.deliver().await;
}

async fn say(app: &TestApp, user: &str, t: &str, text: &str) -> String {
    at(app, t).await;
    let r = app.cmd(user, "general", text).await;
    app.deliver().await;
    r.text
}

/// The samples of one minute ending at `t`: checkout and cart failing as given.
async fn minute(app: &TestApp, t: &str, checkout: i64, cart: i64) {
    at(app, t).await;
    let end = ms(t);
    let sample = |route: &str, failures| RouteSample {
        route: route.into(),
        window_start: end - 60_000,
        window_end: end,
        requests: 1000,
        failures,
    };
    app.engine
        .ingest(
            &[
                sample("web-checkout", checkout),
                sample("api-cart", cart),
                sample("api-photos", 0),
            ],
            "test",
        )
        .await
        .unwrap();
    app.deliver().await;
}

/// February and March 2026, as the module comment tells.
async fn script(app: &TestApp) {
    // SEV-1: a SEV1 in February, acknowledged after 2 min, diagnosed at 6, mitigated at
    // 10: 10 min × 0.5 = 5.0 min of downtime.
    // Declared by dave, so alice (the IMOC) is paged rather than acknowledging her own.
    let r = say(
        app,
        "U_DAVE",
        "2026-02-27T10:00:00Z",
        "declare availability 1 Checkout down in February",
    )
    .await;
    assert!(r.contains("SEV-1"), "{r}");
    let r = say(app, "U_ALICE", "2026-02-27T10:02:00Z", "SEV-1 ack").await;
    assert!(r.contains("acknowledged"), "{r}");
    say(
        app,
        "U_ALICE",
        "2026-02-27T10:06:00Z",
        "SEV-1 diagnosed bad deploy",
    )
    .await;
    say(app, "U_ALICE", "2026-02-27T10:10:00Z", "SEV-1 mitigated").await;
    say(app, "U_ALICE", "2026-02-27T10:15:00Z", "SEV-1 resolved").await;

    // SEV-2: a SEV2 across the month's end, 10 min in February and 20 in March (× 0.1).
    let r = say(
        app,
        "U_BOB",
        "2026-02-28T23:50:00Z",
        "declare availability 2 Cart slow over the month's end",
    )
    .await;
    assert!(r.contains("SEV-2"), "{r}");
    let r = say(app, "U_ALICE", "2026-02-28T23:54:00Z", "SEV-2 ack").await;
    assert!(r.contains("acknowledged"), "{r}");
    say(app, "U_ALICE", "2026-03-01T00:20:00Z", "SEV-2 mitigated").await;

    // SEV-3: monitoring files it after three bad minutes of checkout (10% failing), cart
    // fails too from 10:05; mitigated at 10:13: 10 min × 0.5 = 5.0 min.
    for (t, cart) in [
        ("2026-03-02T10:00:00Z", 0),
        ("2026-03-02T10:01:00Z", 0),
        ("2026-03-02T10:02:00Z", 0),
        ("2026-03-02T10:03:00Z", 0),
    ] {
        minute(app, t, 100, cart).await;
    }
    let r = say(app, "U_ALICE", "2026-03-02T10:05:00Z", "SEV-3 ack").await;
    assert!(r.contains("acknowledged"), "{r}");
    for t in [
        "2026-03-02T10:06:00Z",
        "2026-03-02T10:08:00Z",
        "2026-03-02T10:10:00Z",
        "2026-03-02T10:12:00Z",
    ] {
        minute(app, t, 100, 50).await;
    }
    let r = say(app, "U_ALICE", "2026-03-02T10:13:00Z", "SEV-3 mitigated").await;
    assert!(!r.contains("not"), "{r}");

    // SEV-4: restricted, with an overdue follow-up; SEV-3 gets one due later.
    let r = say(
        app,
        "U_CAROL",
        "2026-03-02T10:20:00Z",
        "declare security 2 Token leak in the build logs",
    )
    .await;
    assert!(r.contains("SEV-4"), "{r}");
    let r = say(
        app,
        "U_CAROL",
        "2026-03-02T10:25:00Z",
        "SEV-4 followup add rotate the signing keys due 2026-03-01",
    )
    .await;
    assert!(r.contains("#1"), "{r}");
    let r = say(
        app,
        "U_ALICE",
        "2026-03-02T10:30:00Z",
        "SEV-3 followup add retry budget for checkout @bob due 2026-03-20",
    )
    .await;
    assert!(r.contains("#1"), "{r}");
    say(app, "U_CAROL", "2026-03-02T10:40:00Z", "SEV-4 resolved").await;

    // SEV-5: cancelled, counted apart.
    let r = say(
        app,
        "U_DAVE",
        "2026-03-03T09:00:00Z",
        "declare durability 3 Disk alarm",
    )
    .await;
    assert!(r.contains("SEV-5"), "{r}");
    say(
        app,
        "U_DAVE",
        "2026-03-03T09:05:00Z",
        "SEV-5 cancel not an incident",
    )
    .await;
    at(app, "2026-03-05T12:00:00Z").await;
}

struct Served {
    base: String,
    http: reqwest::Client,
}

impl Served {
    async fn new(app: &TestApp) -> Served {
        let web = WebConfig {
            user_header: Some("x-auth-request-user".into()),
            proxy_addresses: vec![std::net::IpAddr::from([127, 0, 0, 1])],
            ..WebConfig::default()
        };
        let access = Access::new(&web, Some(WEB.into())).expect("configured");
        let router = sevbot::web::routes(app.engine.clone(), access)
            .merge(sevbot::adapters::api::routes(app.engine.clone(), API));
        Served {
            base: format!("http://{}", support::serve(router).await),
            http: reqwest::Client::new(),
        }
    }

    async fn api(&self, query: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}/api/v1/reports{query}", self.base))
            .bearer_auth(API)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn json(&self, query: &str) -> Value {
        let (status, body) = self.api(query).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    async fn page(&self, path: &str, header: (&str, &str)) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header(header.0, header.1)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

fn counts(v: &Value, key: &str) -> Vec<(String, u64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c[key].to_string().replace('"', ""),
                c["count"].as_u64().unwrap(),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn pair(v: &Value) -> (Value, Value, u64) {
    (
        v["median_seconds"].clone(),
        v["p90_seconds"].clone(),
        v["count"].as_u64().unwrap(),
    )
}

both_backends!(reports_add_up_scripted_months, |b| async move {
    let app = TestApp::with_config(b, AVAILABILITY).await;
    app.engine.ensure_schedules().await.unwrap();
    script(&app).await;
    let s = Served::new(&app).await;

    // March to date.
    let m = s.json("").await;
    assert_eq!(m["period"]["key"], "2026-03");
    assert_eq!(m["period"]["label"], "March 2026");
    assert_eq!(m["period"]["to_date"], true);
    assert_eq!(m["sevs"]["total"], 2, "SEV-3 and SEV-4: {m}");
    assert_eq!(m["sevs"]["cancelled"], 1);
    assert_eq!(
        counts(&m["sevs"]["by_type"], "type"),
        [("availability".into(), 1), ("security".into(), 1)]
    );
    assert_eq!(
        counts(&m["sevs"]["by_level"], "level"),
        [("1".into(), 1), ("2".into(), 1)]
    );
    // SEV-3 was paged when filed (10:03) and acknowledged at 10:05; nobody acknowledged
    // SEV-4.
    assert_eq!(
        pair(&m["times"]["to_acknowledge"]),
        (120.into(), 120.into(), 1),
        "{m}"
    );
    assert_eq!(
        m["downtime"]["minutes"], 7.0,
        "SEV-2's 2.0 and SEV-3's 5.0: {m}"
    );
    assert_eq!(m["downtime"]["contract"]["budget_minutes"], 44.6);
    assert_eq!(m["downtime"]["contract"]["left_minutes"], 37.6);
    assert_eq!(m["downtime"]["internal"]["budget_minutes"], 22.3);
    let routes = m["routes"].as_array().unwrap();
    let names: Vec<&str> = routes
        .iter()
        .map(|r| r["route"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web-checkout", "api-cart"], "{m}");
    let route_minutes: f64 = routes.iter().map(|r| r["minutes"].as_f64().unwrap()).sum();
    assert!(
        (route_minutes - 5.0).abs() < 0.15,
        "SEV-3's 5.0 min split over its routes: {m}"
    );
    assert!(
        routes[0]["failed_requests"].as_i64().unwrap()
            > routes[1]["failed_requests"].as_i64().unwrap()
    );
    assert_eq!(m["followups"]["open"], 2);
    assert_eq!(m["followups"]["overdue"], 1);
    let items = m["followups"]["items"].as_array().unwrap();
    assert_eq!(items[0]["sev"], "SEV-3");
    assert_eq!(items[0]["text"], "retry budget for checkout");
    assert_eq!(items[0]["owner"], "bob");
    assert_eq!(items[1]["sev"], "SEV-4");
    assert_eq!(items[1]["overdue"], true);
    assert!(
        items[1]["text"].is_null(),
        "a token sees no restricted text: {m}"
    );
    assert!(!m.to_string().contains("signing keys"));

    // SEV-3's page and API carry monitoring's view of its impact as it changed.
    let sev3 = support::get_json(&s.http, &format!("{}/api/v1/sevs/SEV-3", s.base), API).await;
    let impact = sev3["impact"].as_array().unwrap();
    assert!(!impact.is_empty(), "{sev3}");
    assert!(
        impact[0]["summary"]
            .as_str()
            .unwrap()
            .contains("web-checkout"),
        "{sev3}"
    );
    let (_, page) = s
        .page("/sevs/3", ("authorization", &format!("Bearer {WEB}")))
        .await;
    assert!(page.contains("<h2>Impact</h2>") && !page.contains("Nothing from monitoring."));

    // February: SEV-1 and SEV-2 (declared on the 28th).
    let f = s.json("?period=2026-02").await;
    assert_eq!(f["period"]["to_date"], false);
    assert_eq!(f["period"]["days"], 28);
    assert_eq!(f["sevs"]["total"], 2);
    assert_eq!(f["sevs"]["cancelled"], 0);
    assert_eq!(
        pair(&f["times"]["to_acknowledge"]),
        (120.into(), 240.into(), 2)
    );
    assert_eq!(pair(&f["times"]["detection"]), (0.into(), 0.into(), 2));
    // SEV-1 diagnosed 6 min after its page; SEV-2 never marked, so mitigated (30 min).
    assert_eq!(pair(&f["times"]["diagnosis"]), (360.into(), 1800.into(), 2));
    assert_eq!(pair(&f["times"]["recovery"]), (0.into(), 240.into(), 2));
    assert_eq!(f["downtime"]["minutes"], 6.0, "5.0 + SEV-2's 1.0: {f}");
    assert_eq!(f["downtime"]["contract"]["budget_minutes"], 40.3);
    assert_eq!(f["routes"], Value::Array(vec![]), "no samples in February");
    assert_eq!(f["followups"]["open"], 0);

    // The quarter to date: January to March.
    let q = s.json("?period=quarter").await;
    assert_eq!(q["period"]["key"], "2026-Q1");
    assert_eq!(q["period"]["days"], 90);
    assert_eq!(q["sevs"]["total"], 4);
    assert_eq!(q["downtime"]["minutes"], 13.0);
    assert_eq!(q["downtime"]["contract"]["budget_minutes"], 129.6);
    let (status, body) = s.api("?period=2026-13").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("2026-Q4"), "says what to write: {body}");
    let r = s
        .http
        .get(format!("{}/api/v1/reports", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // In chat: the same figures, privately, the restricted follow-up's text for those who
    // may see it only.
    // Someone with no part in SEV-4 (bob and mia were paged for it, dave is an admin).
    let r = app.cmd("U_ZED", "general", "report").await;
    assert!(r.ephemeral);
    let t = r.text;
    assert!(t.starts_with("Report, March 2026 to date (UTC):"), "{t}");
    assert!(
        t.contains("SEVs: 2 (availability 1, security 1); by level SEV0 0, SEV1 1, SEV2 1, SEV3 0; 1 cancelled, not counted."),
        "{t}"
    );
    assert!(t.contains("acknowledge 2 min / 2 min"), "{t}");
    assert!(
        t.contains("Downtime: 7.0 min. Contract 99.9%: 44.6 min allowed, 37.6 left."),
        "{t}"
    );
    assert!(t.contains("Routes behind it: web-checkout"), "{t}");
    assert!(t.contains("Open follow-ups: 2 (1 overdue)"), "{t}");
    assert!(
        t.contains("SEV-4 #1 (restricted)") && !t.contains("signing keys"),
        "{t}"
    );
    let carol = app.cmd("U_CAROL", "general", "report").await.text;
    assert!(
        carol.contains("SEV-4 #1 rotate the signing keys, due 2026-03-01, overdue"),
        "its declarer sees it: {carol}"
    );
    let feb = app.cmd("U_BOB", "general", "report 2026-02").await.text;
    assert!(feb.starts_with("Report, February 2026 (UTC):"), "{feb}");
    assert!(
        feb.contains("diagnosis 6 min / 30 min") && feb.contains("recovery 0 s / 4 min"),
        "{feb}"
    );
    let bad = app.cmd("U_BOB", "general", "report quartr").await.text;
    assert!(
        bad.contains("\"quartr\" is not a period") && bad.contains("Did you mean `quarter`?"),
        "{bad}"
    );

    // On the web: the same numbers, charts, links; the restricted text only for carol.
    let (status, page) = s
        .page(
            "/reports?period=2026-03",
            ("authorization", &format!("Bearer {WEB}")),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<h1>Report, March 2026 to date</h1>"),
        "{page}"
    );
    assert!(
        page.contains("7 minutes") || page.contains("7.0 minutes"),
        "{page}"
    );
    assert!(page.contains("<code>web-checkout</code>"), "{page}");
    assert!(page.contains("<a href=\"/sevs/4\">SEV-4</a> #1"), "{page}");
    assert!(!page.contains("signing keys"), "{page}");
    assert_eq!(page.matches("<svg class=\"bars\"").count(), 3, "{page}");
    assert!(
        page.contains("href=\"/reports?period=2026-02\""),
        "previous month: {page}"
    );
    let (_, as_carol) = s.page("/reports", ("x-auth-request-user", "carol")).await;
    assert!(as_carol.contains("rotate the signing keys"), "{as_carol}");
    let (status, _) = s
        .page(
            "/reports?period=someday",
            ("authorization", &format!("Bearer {WEB}")),
        )
        .await;
    assert_eq!(status, 400);
});
