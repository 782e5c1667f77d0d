//! The postmortem: its durations on scripted SEVs with the injected clock — one a person
//! declared, one monitoring filed (detection from the first failing sample) — and what it
//! says of the levels, roles and impact.

mod support;

use sevbot::engine::RouteSample;
use support::{AVAILABILITY, Backend, T0, TestApp};

const MIN: i64 = 60_000;

async fn at(app: &TestApp, minute: i64, user: &str, text: &str) -> String {
    app.clock.set(T0 + minute * MIN);
    let r = app.cmd(user, "general", text).await;
    app.deliver().await;
    r.text
}

/// The row of a phase in the durations table: `| Detection | … | took |`.
fn took(pm: &str, phase: &str) -> String {
    let row = pm
        .lines()
        .find(|l| l.starts_with(&format!("| {phase} |")))
        .unwrap_or_else(|| panic!("no {phase} row in:\n{pm}"));
    row.trim_end_matches('|')
        .rsplit('|')
        .next()
        .unwrap()
        .trim()
        .to_string()
}

#[tokio::test]
async fn a_declared_sev_measures_each_phase() {
    let app = TestApp::new(Backend::Sqlite).await;
    app.clock.set(T0);
    app.cmd(
        "U_DAVE",
        "general",
        "declare availability 2 Search results empty for EU users",
    )
    .await;
    // The pages go out a minute later (the platform was slow).
    app.clock.set(T0 + MIN);
    app.deliver().await;
    let imoc = app.fake.pages()[0].0.clone();
    let handle = format!("U_{}", imoc.to_uppercase());
    at(&app, 4, &handle, "SEV-1 ack").await;
    at(&app, 9, "U_DAVE", "SEV-1 level 1 spreading to the EU").await;
    at(&app, 13, &handle, "SEV-1 diagnosed index shard 3 is full").await;
    at(&app, 21, &handle, "SEV-1 mitigated").await;
    at(&app, 51, &handle, "SEV-1 resolved").await;
    let pm = at(&app, 52, "U_DAVE", "SEV-1 postmortem").await;
    assert_eq!(took(&pm, "Detection"), "1 min", "declared to first paged");
    assert_eq!(took(&pm, "Diagnosis"), "12 min", "first paged to diagnosed");
    assert_eq!(took(&pm, "Recovery"), "8 min", "diagnosed to mitigated");
    assert!(
        pm.contains("Time to acknowledge: 3 min. Time to resolve: 51 min."),
        "{pm}"
    );
    assert!(pm.contains("- SEV2 from 2026"), "{pm}");
    assert!(pm.contains(" — spreading to the EU"), "{pm}");
    assert!(
        pm.contains("marked it diagnosed: index shard 3 is full"),
        "{pm}"
    );
    for section in [
        "## Root cause",
        "## What went well",
        "## What went badly",
        "## Action items",
    ] {
        assert!(pm.contains(section), "{section} in:\n{pm}");
    }
    // The README's sample is this postmortem (`UPDATE_DOCS=1 cargo test --test postmortem`
    // writes it again after a change to the template).
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/postmortem-example.md");
    let written = format!(
        "<!-- Written by tests/postmortem.rs (a_declared_sev_measures_each_phase) from a scripted SEV. -->\n{pm}\n"
    );
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(sample, &written).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(sample).unwrap_or_default(),
        written,
        "docs/postmortem-example.md is out of date: UPDATE_DOCS=1 cargo test --test postmortem"
    );
}

#[tokio::test]
async fn diagnosis_without_a_mark_ends_at_mitigation() {
    let app = TestApp::new(Backend::Sqlite).await;
    app.clock.set(T0);
    app.cmd(
        "U_DAVE",
        "general",
        "declare availability 2 Search [slow](https://evil.example)",
    )
    .await;
    app.deliver().await;
    at(&app, 7, "U_DAVE", "SEV-1 mitigated").await;
    let pm = at(&app, 8, "U_DAVE", "SEV-1 postmortem").await;
    // A title is data in the document too: no link.
    assert!(
        pm.contains(r"Search \[slow\]\(https://evil\.example\)"),
        "{pm}"
    );
    assert!(!pm.contains("[slow](https"), "{pm}");
    assert_eq!(took(&pm, "Detection"), "0 s");
    assert_eq!(took(&pm, "Diagnosis"), "7 min");
    assert!(pm.contains("(taken as the mitigation's start)"), "{pm}");
    assert_eq!(took(&pm, "Recovery"), "0 s");
    assert!(pm.contains("Time to resolve: —"), "still open: {pm}");
}

/// Filed by monitoring: detection starts at the first failing sample, three minutes before
/// the SEV existed (the confirmation window), and the impact is monitoring's.
#[tokio::test]
async fn a_sev_filed_by_monitoring_is_detected_at_its_first_failing_sample() {
    let app = TestApp::with_config(Backend::Sqlite, AVAILABILITY).await;
    for minute in 0..=3 {
        app.clock.set(T0 + minute * MIN);
        let sample = |route: &str, requests, failures| RouteSample {
            route: route.into(),
            window_start: T0 + (minute - 1) * MIN,
            window_end: T0 + minute * MIN,
            requests,
            failures,
        };
        app.engine
            .ingest(
                &[
                    sample("web-checkout", 1000, 100),
                    sample("api-cart", 1000, 0),
                    sample("api-photos", 100_000, 0),
                ],
                "test",
            )
            .await
            .unwrap();
        app.deliver().await;
    }
    let pm = at(&app, 5, "U_ALICE", "SEV-1 postmortem").await;
    assert!(
        pm.contains(r"first signal (first failing sample on web\-checkout), 2026-03-02 10:00 UTC"),
        "{pm}"
    );
    assert_eq!(
        took(&pm, "Detection"),
        "3 min",
        "first failing sample to the IMOC paged"
    );
    assert!(
        pm.contains("- paying for an order (web-checkout, critical): 90.0% since"),
        "the impact card's route: {pm}"
    );
    assert!(pm.contains("- SLA downtime: "), "{pm}");
}

/// `GET /api/v1/sevs/{id}/postmortem`: the same document, for its token only.
#[tokio::test]
async fn the_postmortem_is_served_over_http_with_its_token() {
    let app = TestApp::new(Backend::Sqlite).await;
    app.clock.set(T0);
    app.cmd("U_DAVE", "general", "declare availability 2 Search slow")
        .await;
    app.deliver().await;
    let addr = support::serve(sevbot::adapters::api::routes(
        app.engine.clone(),
        "api-secret",
    ))
    .await;
    let http = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut req = http.get(format!("http://{addr}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let r = req.send().await.unwrap();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), ct, r.text().await.unwrap())
        }
    };
    let (status, ct, body) = get("/api/v1/sevs/SEV-1/postmortem", Some("api-secret")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ct.as_deref(), Some("text/markdown; charset=utf-8"));
    let chat = app.cmd("U_DAVE", "general", "SEV-1 postmortem").await.text;
    assert_eq!(body, chat, "the same document as in chat");
    assert_eq!(get("/api/v1/sevs/SEV-1/postmortem", None).await.0, 401);
    assert_eq!(
        get("/api/v1/sevs/SEV-1/postmortem", Some("nope")).await.0,
        401
    );
    assert_eq!(
        get("/api/v1/sevs/SEV-9/postmortem", Some("api-secret"))
            .await
            .0,
        404
    );
    assert_eq!(
        get("/api/v1/sevs/twelve/postmortem", Some("api-secret"))
            .await
            .0,
        400
    );
}
