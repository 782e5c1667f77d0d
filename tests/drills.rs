//! Drills never reach anyone outside them. bob starts the shipped `checkout-outage`
//! scenario (config/drills/) with kim as the volunteer — kim is flagged for PagerDuty and
//! PagerDuty is on, a channel subscribes to every SEV, the rotations name alice, ian and
//! the execs: only bob and kim are paged, in chat; nothing reaches PagerDuty, the feed, the
//! customer updates channel, a digest, the SLA ledger or the report, and the ladder pages no exec an
//! hour on. The scenario's prompts arrive on their minutes; the score at the end is what
//! was done. Then a real SEV shows each of those routes working, so their silence above
//! was the drill's doing.

mod support;

use std::sync::Arc;

use sevbot::config::{self, Scenario};
use support::{AVAILABILITY, Backend, Call, T0, TestApp};

const KIM: &str = r##"
[[people]]
id = "kim"
pagerduty = true
handles = { test = "U_KIM" }
[drills]
volunteers = ["kim"]
[[schedules]]
name = "digest"
cron = "*/10 * * * *"
timezone = "UTC"
platform = "test"
channel = "#digest"
"##;

/// The test config with the shipped scenario, read as the binary reads it.
fn drill_config() -> Arc<config::Config> {
    use figment::providers::{Format, Toml};
    let mut raw = support::test_raw_config(&format!("{AVAILABILITY}\n{KIM}"));
    let shipped = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/drills/checkout-outage.toml"
    );
    let scenario: Scenario = figment::Figment::from(Toml::file(shipped))
        .extract()
        .expect("the shipped scenario reads");
    raw.drills
        .scenarios
        .insert("checkout-outage".into(), scenario);
    let (cfg, problems) = config::validate(raw);
    Arc::new(cfg.unwrap_or_else(|| panic!("{problems:?}")))
}

async fn at_minute(app: &TestApp, m: i64) {
    app.clock.set(T0 + m * 60_000);
    app.tick().await;
    app.deliver().await;
}

async fn say(app: &TestApp, m: i64, user: &str, text: &str) -> String {
    at_minute(app, m).await;
    let r = app.cmd(user, "general", text).await;
    app.deliver().await;
    r.text
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&app.engine.store.pool)
        .await
        .unwrap()
}

fn paged(app: &TestApp) -> Vec<String> {
    let mut p: Vec<String> = app.fake.pages().into_iter().map(|(p, _)| p).collect();
    p.sort();
    p.dedup();
    p
}

fn touched(app: &TestApp, channel: &str) -> usize {
    app.fake
        .channel_calls()
        .iter()
        .filter(|c| c.channel() == channel)
        .count()
}

both_backends!(a_drill_reaches_nobody_outside_it, |b| async move {
    let mut app = TestApp::with_cfg(b, drill_config()).await;
    // Nothing listens here: a page that reached PagerDuty would stay in the outbox.
    app.enable_pagerduty("http://127.0.0.1:9/v2/enqueue");
    app.engine.ensure_schedules().await.unwrap();
    let r = app.cmd("U_CAROL", "feed", "subscribe").await;
    assert!(r.text.starts_with("Subscribed #feed"), "{}", r.text);

    let r = say(&app, 0, "U_BOB", "drill availability 1 checkout-outage").await;
    assert!(
        r.contains("SEV-1 declared") && r.contains("DRILL: Checkout failing for EU customers"),
        "{r}"
    );
    assert!(
        r.contains("IMOC unassigned"),
        "roles are the trainee's: {r}"
    );
    let channel = app
        .fake
        .calls()
        .iter()
        .find_map(|c| match c {
            Call::Create { name, .. } => Some(name.clone()),
            _ => None,
        })
        .unwrap();
    assert!(channel.contains("drill"), "{channel}");
    assert_eq!(paged(&app), ["bob", "kim"]);
    let page = app.fake.page_to("kim");
    assert!(page.starts_with("DRILL, practice only"), "{page}");
    assert!(page.contains(&format!("#{channel}")), "{page}");
    let posts = app.posts_in(&channel).join("\n");
    assert!(posts.contains("This is a DRILL"), "{posts}");
    assert!(
        !posts.contains("DRILL, minute"),
        "no prompt before its minute: {posts}"
    );

    // Minute 1: the first prompt, with its make-believe monitoring.
    at_minute(&app, 1).await;
    let posts = app.posts_in(&channel).join("\n");
    assert!(
        posts.contains("DRILL, minute 1: Monitoring: web-checkout errors jumped")
            && posts.contains("web-checkout at 88.0% (120 of 1000 requests failing)"),
        "{posts}"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM availability_samples").await,
        0,
        "the scenario's samples are not monitoring's"
    );

    // Roles: the drill's people only.
    let r = say(&app, 2, "U_BOB", "SEV-1 role imoc @U_BOB").await;
    assert!(r.contains("IMOC"), "{r}");
    let r = say(&app, 2, "U_BOB", "SEV-1 role tloc @U_ALICE").await;
    assert!(
        r.contains("SEV-1 is a drill: only its people (bob, kim) take part"),
        "{r}"
    );
    let r = say(&app, 2, "U_BOB", "SEV-1 role tloc @U_KIM").await;
    assert!(r.contains("TLOC"), "{r}");
    let r = say(
        &app,
        2,
        "U_BOB",
        "SEV-1 followup add check the gateway @U_HANK",
    )
    .await;
    assert!(r.contains("is a drill"), "no reminder for hank: {r}");
    say(&app, 3, "U_BOB", "SEV-1 update investigating the deploy").await;
    at_minute(&app, 5).await;
    assert!(
        app.posts_in(&channel)
            .join("\n")
            .contains("DRILL, minute 5: Support: 14 tickets"),
    );

    // The customer update: drafted and approved, sent nowhere.
    let r = say(&app, 6, "U_BOB", "SEV-1 draft").await;
    assert!(r.contains("draft"), "{r}");
    let r = say(&app, 7, "U_BOB", "SEV-1 draft approve").await;
    assert!(r.contains("a drill, so it was sent nowhere"), "{r}");
    assert_eq!(touched(&app, "customer-updates"), 0);

    // Raised (a SEV0 needs a BMOC and may have a stricter ladder) and lowered again: the
    // rotations still fill nothing and page nobody.
    let r = say(&app, 8, "U_BOB", "SEV-1 level 0 worse than we thought").await;
    assert!(r.contains("SEV0"), "{r}");
    let r = say(&app, 9, "U_BOB", "SEV-1 level 1 contained").await;
    assert!(r.contains("SEV1"), "{r}");
    assert_eq!(paged(&app), ["bob", "kim"]);

    // An hour with no acknowledgement from anyone the ladder would page: nobody else.
    say(&app, 20, "U_BOB", "SEV-1 update rolling back").await;
    let r = say(&app, 40, "U_BOB", "SEV-1 resolved").await;
    assert!(
        r.contains(
            "DRILL over, the score: ran 40 min: first update after 3 min; updates on cadence 2 of 2 (every 30 min); \
             IMOC after 2 min, TLOC after 2 min, BMOC not filled; customer update drafted and approved."
        ),
        "{r}"
    );
    assert!(
        app.posts_in(&channel)
            .join("\n")
            .contains("DRILL over, the score: ran 40 min"),
        "the channel hears the score"
    );
    at_minute(&app, 60).await;
    assert_eq!(paged(&app), ["bob", "kim"], "nobody outside the drill");
    assert_eq!(touched(&app, "feed"), 0, "no feed hears of a drill");
    let digests: Vec<String> = app
        .fake
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Reply { channel, text, .. } if channel == "digest" => Some(text),
            _ => None,
        })
        .collect();
    assert!(
        digests.len() >= 3,
        "digests while the drill ran: {digests:?}"
    );
    assert!(
        digests.iter().all(|d| d == "SEV digest: no open SEVs."),
        "the drill is in no digest: {digests:?}"
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM outbox WHERE platform = 'pagerduty'"
        )
        .await,
        0,
        "PagerDuty never"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM jobs WHERE kind = 'escalate'").await,
        0,
        "no ladder"
    );
    let sla = app.cmd("U_CAROL", "general", "sla").await.text;
    assert!(sla.contains("0.0 min of downtime"), "{sla}");
    let report = app.cmd("U_CAROL", "general", "report").await.text;
    assert!(report.contains("SEVs: 0;"), "{report}");

    // The same routes for a real SEV: the feed hears, kim's page reaches PagerDuty, alice
    // is paged by the rotation.
    let r = say(
        &app,
        61,
        "U_CAROL",
        "declare availability 1 Real checkout outage",
    )
    .await;
    assert!(r.contains("SEV-2"), "{r}");
    // bob holds TLOC from the rotation and hands it to kim.
    let r = say(&app, 62, "U_BOB", "SEV-2 role tloc @U_KIM").await;
    assert!(r.contains("TLOC"), "{r}");
    assert!(touched(&app, "feed") > 0);
    assert!(paged(&app).contains(&"alice".to_string()));
    assert!(
        count(
            &app,
            "SELECT COUNT(*) FROM outbox WHERE platform = 'pagerduty'"
        )
        .await
            > 0
    );
});

#[tokio::test]
async fn an_unknown_scenario_is_named_with_the_ones_there_are() {
    let app = TestApp::with_cfg(Backend::Sqlite, drill_config()).await;
    let r = app
        .cmd("U_BOB", "general", "drill availability 1 checkout-outgae")
        .await;
    assert!(
        r.text
            .contains("There is no drill scenario \"checkout-outgae\"")
            && r.text.contains("checkout-outage"),
        "{}",
        r.text
    );
    assert!(app.fake.pages().is_empty());
    let r = app.cmd("U_BOB", "general", "drill availability").await;
    assert!(r.text.contains("Usage: /sev drill"), "{}", r.text);
    // A security drill: private like any security SEV, its channel still named a drill, and
    // its pages only for its people (bob, kim), never the security rotation's.
    let r = app.cmd("U_BOB", "general", "drill security 2").await;
    assert!(
        r.text.contains("DRILL: practice SEV2 security SEV"),
        "{}",
        r.text
    );
    app.deliver().await;
    let created: Vec<(String, bool)> = app
        .fake
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Create { name, private } => Some((name, private)),
            _ => None,
        })
        .collect();
    assert_eq!(created, [("sev-1-drill-security".to_string(), true)]);
    assert_eq!(paged(&app), ["bob", "kim"]);
}
