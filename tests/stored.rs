//! What sevbot stores for later — outbox effects and jobs — is a format other releases
//! read. Every variant has a golden encoding under tests/fixtures/stored/; the rows the
//! previous release wrote (v1) still decode and still deliver.
//!
//! After a deliberate change of encoding: bump the version, add the upgrade to the decoder,
//! and run with SEVBOT_BLESS=1 to rewrite the current goldens.

mod support;

use std::path::PathBuf;

use serde_json::Value;
use sevbot::effects::{EFFECT_VERSION, Effect};
use sevbot::engine::Job;
use sevbot::engine::job::JOB_VERSION;
use support::{Backend, TestApp};

fn fixtures(rel: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stored"
    ))
    .join(rel)
}

fn read_json(path: &PathBuf) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (SEVBOT_BLESS=1 writes it)", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn bless() -> bool {
    std::env::var("SEVBOT_BLESS").is_ok_and(|v| v == "1")
}

#[test]
fn every_effect_has_a_golden_encoding() {
    let dir = fixtures(&format!("v{EFFECT_VERSION}/effects"));
    for e in Effect::examples() {
        let path = dir.join(format!("{}.json", e.label()));
        let now: Value = serde_json::from_str(&e.encode().unwrap()).unwrap();
        if bless() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, serde_json::to_string_pretty(&now).unwrap() + "\n").unwrap();
        }
        assert_eq!(
            now,
            read_json(&path),
            "{} changed its stored encoding: bump EFFECT_VERSION and teach Effect::decode the old one",
            e.label()
        );
        assert_eq!(
            Effect::decode(EFFECT_VERSION, &now.to_string()).unwrap(),
            e,
            "{} round-trips",
            e.label()
        );
    }
}

/// The previous release's rows, as it wrote them, read today.
fn v1_effects() -> Vec<(String, Effect)> {
    let mut out: Vec<(String, Effect)> = std::fs::read_dir(fixtures("v1/effects"))
        .unwrap()
        .map(|f| {
            let path = f.unwrap().path();
            let text = read_json(&path).to_string();
            let e = Effect::decode(1, &text)
                .unwrap_or_else(|err| panic!("{} no longer decodes: {err:#}", path.display()));
            (path.file_stem().unwrap().to_string_lossy().to_string(), e)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn version_1_effects_decode_to_what_they_meant() {
    let all = v1_effects();
    assert_eq!(
        all.len(),
        13,
        "one v1 row per variant of the previous release"
    );
    let examples = Effect::examples();
    for (name, e) in &all {
        // The same example, minus what version 2 added (the page's row, its person).
        let expected = examples
            .iter()
            .find(|x| x.label() == e.label())
            .unwrap_or_else(|| panic!("{name} decodes to a variant without an example"));
        let strip = |e: &Effect| match e.clone() {
            Effect::Page {
                incident,
                person,
                why,
                ..
            } => Effect::Page {
                incident,
                person,
                why,
                page: None,
            },
            Effect::ExternalPage {
                sev,
                action,
                dedup_key,
                summary,
                severity,
                ..
            } => Effect::ExternalPage {
                sev,
                action,
                dedup_key,
                summary,
                severity,
                person: None,
                page: None,
            },
            other => other,
        };
        assert_eq!(strip(e), strip(expected), "{name}");
    }
    assert!(
        Effect::decode(EFFECT_VERSION + 1, "{}")
            .unwrap_err()
            .to_string()
            .contains("newer sevbot")
    );
}

#[test]
fn every_job_has_a_golden_encoding_and_version_1_jobs_still_read() {
    let dir = fixtures(&format!("v{JOB_VERSION}/jobs"));
    let golden: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|f| {
            let v = read_json(&f.unwrap().path());
            (
                v["kind"].as_str().unwrap().to_string(),
                v["payload"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for job in Job::examples() {
        let stored = (job.kind().to_string(), job.payload());
        assert!(
            golden.contains(&stored),
            "{stored:?} has no golden row in {}",
            dir.display()
        );
    }
    for (kind, payload) in &golden {
        let job = Job::decode(kind, 1, payload)
            .unwrap_or_else(|e| panic!("{kind} {payload} no longer reads: {e:#}"));
        assert_eq!(job.kind(), kind);
        assert!(
            Job::examples().contains(&job),
            "{kind} {payload} reads as {job:?}"
        );
    }
}

/// Rows exactly as the previous release stored them (version 1 and its queues) go out
/// through today's worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_1_rows_still_deliver() {
    // The status page fixture's host is example.com's: point it at a local receiver.
    let received = std::sync::Arc::new(std::sync::Mutex::new(0));
    let r = received.clone();
    let router = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(move || {
                let r = r.clone();
                async move {
                    *r.lock().unwrap() += 1;
                    axum::http::StatusCode::OK
                }
            }),
        )
        .route("/v2/enqueue", axum::routing::post(|| async { "{}" }));
    let addr = support::serve(router).await;
    let mut app = TestApp::new(Backend::Sqlite).await;
    app.enable_pagerduty(&format!("http://{addr}/v2/enqueue"));
    for i in 1..=7 {
        let r = app
            .cmd(
                "U_ALICE",
                "general",
                &format!("declare availability 2 Thing {i} --new"),
            )
            .await;
        assert!(r.text.contains("declared"), "{}", r.text);
    }
    app.deliver().await;
    let before = app.fake.calls().len();
    let mut ids = vec![];
    // An archived channel takes no posts (as on Slack): the channel is put away last.
    let mut v1 = v1_effects();
    v1.sort_by_key(|(_, e)| {
        matches!(
            e,
            Effect::ArchiveChannel { .. } | Effect::DeleteChannel { .. }
        )
    });
    for (name, e) in v1 {
        let mut json = read_json(&fixtures(&format!("v1/effects/{name}.json"))).to_string();
        json = json.replace("http://status.example/hook", &format!("http://{addr}/hook"));
        let platform = match &e {
            Effect::ExternalPage { .. } => "pagerduty",
            Effect::StatusPage { .. } => "statuspage",
            _ => support::PLATFORM,
        };
        let (queue, lane) = e.route(platform);
        let row = sevbot::store::outbox::NewRow {
            platform,
            queue: &queue,
            lane,
            paced: e.pace_key(platform).is_some(),
            effect: &json,
            version: 1,
        };
        let mut conn = app.engine.store.pool.acquire().await.unwrap();
        let id = sevbot::store::outbox::enqueue(&mut conn, &row, support::T0)
            .await
            .unwrap();
        ids.push((name, id));
    }
    app.deliver().await;
    for (name, id) in &ids {
        let status: String = sqlx::query_scalar("SELECT status FROM outbox WHERE id = $1")
            .bind(id)
            .fetch_one(&app.engine.store.pool)
            .await
            .unwrap();
        assert_eq!(status, "delivered", "{name} (row {id})");
    }
    assert_eq!(
        *received.lock().unwrap(),
        1,
        "the status page got its update"
    );
    assert!(app.fake.calls().len() > before);
}
