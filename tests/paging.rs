//! Pages, the escalation ladder, acknowledgements and PagerDuty, with the injected clock,
//! on SQLite and on a real PostgreSQL. Security SEVs use the full ladder of the test
//! config: IMOC ian, secondary jo (5 min), ian's manager mia (15), exec hank (30).

mod support;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;
use support::{Backend, TestApp};

const CH: &str = "sev-1-security";

async fn declare(app: &TestApp) {
    let r = app
        .cmd("U_ALICE", "general", "declare security 1 Token leaked")
        .await;
    assert!(r.text.starts_with("SEV-1 declared"), "{}", r.text);
    app.deliver().await;
}

/// Advances to `minutes` after T0, runs the scheduler (twice: a second cycle must find
/// nothing) and delivers.
async fn at_minute(app: &TestApp, minutes: i64) {
    app.clock.set(support::T0 + minutes * 60_000);
    app.tick().await;
    assert_eq!(app.tick().await, 0, "nothing fires twice");
    app.deliver().await;
}

/// Who was paged, in the order the pages were made; every page the platform got is
/// recorded as delivered exactly once (role pages go out together, in any order).
async fn paged(app: &TestApp) -> Vec<String> {
    let mut sent: Vec<String> = app.fake.pages().into_iter().map(|(p, _)| p).collect();
    let recorded: Vec<String> =
        sqlx::query_scalar("SELECT person FROM pages WHERE delivered_at IS NOT NULL ORDER BY id")
            .fetch_all(&app.engine.store.pool)
            .await
            .unwrap();
    let mut delivered = recorded.clone();
    sent.sort();
    delivered.sort();
    assert_eq!(
        sent, delivered,
        "pages sent and pages recorded as delivered"
    );
    recorded
}

both_backends!(
    the_full_ladder_climbs_5_15_30_and_pages_each_once,
    |b| async move {
        let app = TestApp::new(b).await;
        declare(&app).await;
        assert_eq!(
            paged(&app).await,
            vec!["ian", "bob", "carol"],
            "IMOC, TLOC and BMOC paged at once"
        );
        let text = app.fake.page_to("ian");
        assert!(
            text.contains("You are paged as IMOC for SEV-1") && text.contains("/sev ack SEV-1"),
            "{text}"
        );
        at_minute(&app, 4).await;
        assert_eq!(paged(&app).await.len(), 3, "nothing before 5 minutes");
        at_minute(&app, 5).await;
        assert_eq!(paged(&app).await[3..], ["jo"]);
        assert!(
            app.posts_in(CH)
                .iter()
                .any(|p| p == "no ack from <ian> after 5 min, paging <jo> (secondary on call)"),
            "{:?}",
            app.posts_in(CH)
        );
        at_minute(&app, 15).await;
        assert_eq!(paged(&app).await[4..], ["mia"]);
        at_minute(&app, 30).await;
        assert_eq!(paged(&app).await[5..], ["hank"]);
        assert!(
            app.posts_in(CH)
                .iter()
                .any(|p| p.contains("after 30 min, paging <hank> (exec)"))
        );
        let text = app.fake.page_to("hank");
        assert!(
            text.contains("No acknowledgement from ian, jo, mia after 30 min"),
            "{text}"
        );
        at_minute(&app, 120).await;
        assert_eq!(paged(&app).await.len(), 6, "the ladder ends at the exec");
        let escalated: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM incident_events WHERE kind = 'escalated'")
                .fetch_one(&app.engine.store.pool)
                .await
                .unwrap();
        assert_eq!(escalated, 3);
    }
);

both_backends!(an_ack_from_the_chain_stops_the_ladder, |b| async move {
    let app = TestApp::new(b).await;
    declare(&app).await;
    at_minute(&app, 5).await;
    app.clock.set(support::T0 + 7 * 60_000 + 12_000);
    let r = app.cmd("U_JO", CH, "ack").await;
    assert_eq!(
        r.text,
        "SEV-1 acknowledged by @jo after 7 min 12 s; the escalation is stopped."
    );
    app.deliver().await;
    at_minute(&app, 60).await;
    assert_eq!(
        paged(&app).await,
        vec!["ian", "bob", "carol", "jo"],
        "no page after the ack"
    );
    assert!(
        app.posts_in(CH)
            .iter()
            .any(|p| p == "<jo> acknowledged after 7 min 12 s; escalation stopped")
    );
    // Time to ack is on the timeline for the postmortem.
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM incident_events WHERE kind = 'acknowledged'")
            .fetch_one(&app.engine.store.pool)
            .await
            .unwrap();
    assert!(detail.contains("\"seconds\":432"), "{detail}");
});

both_backends!(acks_are_refused_clearly, |b| async move {
    let app = TestApp::new(b).await;
    declare(&app).await;
    let r = app.cmd("U_DAVE", CH, "ack").await;
    assert!(r.ephemeral);
    assert!(
        r.text.starts_with("You were not paged for SEV-1, so you cannot silence its pages (paged so far: @ian (IMOC), @bob (TLOC), @carol (BMOC))"),
        "{}",
        r.text
    );
    // The TLOC acknowledges their own page; the IMOC's ladder goes on.
    let r = app.cmd("U_BOB", CH, "ack").await;
    assert_eq!(r.text, "SEV-1: @bob acknowledged their page after 0 s.");
    let r = app.cmd("U_BOB", CH, "ack").await;
    assert!(
        r.text.starts_with("You already acknowledged SEV-1 at"),
        "{}",
        r.text
    );
    at_minute(&app, 5).await;
    assert!(
        paged(&app).await.contains(&"jo".to_string()),
        "bob's ack did not stop the ladder"
    );
    // The manager acknowledges the escalation; the secondary's page is stopped with it.
    at_minute(&app, 15).await;
    let r = app.cmd("U_MIA", "anywhere", "SEV-1 ack").await;
    assert!(
        r.text.contains("acknowledged by @mia after 15 min"),
        "{}",
        r.text
    );
    let r = app.cmd("U_JO", CH, "ack").await;
    assert!(
        r.text.starts_with("SEV-1 was already acknowledged by @mia"),
        "{}",
        r.text
    );
    app.cmd("U_IAN", CH, "resolved").await;
    let r = app.cmd("U_IAN", CH, "ack").await;
    assert!(r.text.contains("nothing to acknowledge"), "{}", r.text);
});

both_backends!(resolving_or_cancelling_stops_the_pages, |b| async move {
    let app = TestApp::new(b).await;
    declare(&app).await;
    let r = app.cmd("U_IAN", CH, "cancel false alarm").await;
    assert!(r.text.contains("cancelled"), "{}", r.text);
    at_minute(&app, 60).await;
    assert_eq!(paged(&app).await.len(), 3);
});

both_backends!(
    taking_a_role_never_silences_anyone_elses_page,
    |b| async move {
        let app = TestApp::new(b).await;
        declare(&app).await;
        // dave (an admin) takes the IMOC role over from ian: ian's page stays open and the
        // escalation goes on until someone answers it.
        let r = app.cmd("U_DAVE", CH, "role imoc @dave").await;
        assert!(
            r.text.contains("@dave made @dave IMOC (was @ian)"),
            "{}",
            r.text
        );
        at_minute(&app, 5).await;
        assert_eq!(paged(&app).await, vec!["ian", "bob", "carol", "jo"]);
        // The IMOC answers for the escalation: dave, never paged, may acknowledge it.
        let r = app.cmd("U_DAVE", CH, "ack").await;
        assert!(r.text.contains("the escalation is stopped"), "{}", r.text);
        at_minute(&app, 60).await;
        assert_eq!(
            paged(&app).await,
            vec!["ian", "bob", "carol", "jo"],
            "no escalation after the IMOC's ack"
        );
    }
);

both_backends!(
    someone_paged_by_the_ladder_who_takes_the_imoc_role_answers_it,
    |b| async move {
        let app = TestApp::new(b).await;
        declare(&app).await;
        at_minute(&app, 5).await;
        // jo was paged by the first step; ian (the IMOC) hands her the role.
        app.cmd("U_IAN", CH, "role imoc @jo").await;
        let r = app.cmd("U_JO", CH, "ack").await;
        assert!(r.text.contains("the escalation is stopped"), "{}", r.text);
        at_minute(&app, 60).await;
        assert_eq!(
            paged(&app).await.len(),
            5,
            "ian, bob, carol, jo, then jo as IMOC"
        );
    }
);

both_backends!(
    a_restart_mid_ladder_fires_the_next_step_once_on_time,
    |b| async move {
        let app = TestApp::new(b).await;
        declare(&app).await;
        at_minute(&app, 5).await;
        // A replica claims the 15-minute step and dies (kill -9) before firing it.
        app.clock.set(support::T0 + 15 * 60_000);
        let now = sevbot::clock::Clock::now_ms(app.clock.as_ref());
        let claimed = sevbot::store::jobs::claim_due(&app.engine.store, "crashed", now, 30_000, 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        // The process started after it takes the step over at once: the dead one's
        // session is gone, so its lease is not waited out.
        let survivor = app.restart("replica-b").await;
        assert_eq!(survivor.tick().await, 1);
        assert_eq!(survivor.tick().await, 0);
        survivor.deliver().await;
        assert_eq!(
            paged(&survivor).await,
            vec!["ian", "bob", "carol", "jo", "mia"]
        );
        // The 30-minute step is still on schedule after the restart.
        at_minute(&survivor, 30).await;
        assert_eq!(paged(&survivor).await.last().unwrap(), "hank");
    }
);

/// Two engines on one PostgreSQL database tick at the same moments: each step is fired by
/// exactly one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_share_one_ladder_on_postgres() {
    let a = TestApp::new(Backend::Postgres).await;
    let b = a.restart("replica-b").await;
    declare(&a).await;
    // At 30 minutes the SEV1's first update reminder is due as well.
    for (minute, due) in [(5, 1), (15, 1), (30, 2)] {
        a.clock.set(support::T0 + minute * 60_000);
        let (x, y) = tokio::join!(a.tick(), b.tick());
        assert_eq!(x + y, due, "minute {minute}: each due job fired once");
        a.deliver().await;
    }
    assert_eq!(a.tick().await + b.tick().await, 0);
    assert_eq!(
        paged(&a).await,
        vec!["ian", "bob", "carol", "jo", "mia", "hank"]
    );
}

/// A local PagerDuty Events API: records events, can be down.
#[derive(Clone, Default)]
struct FakePagerDuty {
    events: Arc<Mutex<Vec<Value>>>,
    down: Arc<Mutex<bool>>,
}

async fn pagerduty() -> (FakePagerDuty, String) {
    let pd = FakePagerDuty::default();
    async fn enqueue(
        State(pd): State<FakePagerDuty>,
        body: axum::Json<Value>,
    ) -> (StatusCode, String) {
        if *pd.down.lock().unwrap() {
            return (StatusCode::SERVICE_UNAVAILABLE, "down".into());
        }
        pd.events.lock().unwrap().push(body.0.clone());
        (
            StatusCode::ACCEPTED,
            format!(
                r#"{{"status":"success","message":"Event processed","dedup_key":{}}}"#,
                body.0["dedup_key"]
            ),
        )
    }
    let app = axum::Router::new()
        .route("/v2/enqueue", axum::routing::post(enqueue))
        .with_state(pd.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (pd, format!("http://{addr}/v2/enqueue"))
}

both_backends!(
    pagerduty_follows_the_sev_and_its_outage_delays_no_chat_page,
    |b| async move {
        let (pd, url) = pagerduty().await;
        *pd.down.lock().unwrap() = true;
        let mut app = TestApp::with_config(
            b,
            "[[people]]\nid = \"kim\"\npagerduty = true\nhandles = { test = \"U_KIM\" }\n",
        )
        .await;
        app.enable_pagerduty(&url);
        declare(&app).await;
        app.cmd("U_IAN", CH, "role tloc @kim").await;
        app.deliver().await;
        assert!(
            paged(&app).await.contains(&"kim".to_string()),
            "the chat page went out while PagerDuty is down"
        );
        assert!(pd.events.lock().unwrap().is_empty());
        *pd.down.lock().unwrap() = false;
        app.clock.advance(std::time::Duration::from_secs(60));
        app.deliver().await;
        {
            let events = pd.events.lock().unwrap();
            assert_eq!(events.len(), 1, "{events:?}");
            let e = &events[0];
            assert_eq!(e["event_action"], "trigger");
            assert_eq!(e["dedup_key"], "sevbot/SEV-1/kim");
            assert_eq!(e["routing_key"], "test-routing-key");
            assert_eq!(e["payload"]["severity"], "error");
            assert_eq!(e["payload"]["source"], "sevbot");
            assert!(
                e["payload"]["summary"]
                    .as_str()
                    .unwrap()
                    .contains("Token leaked")
            );
        }
        // Only the ladder's chain stops PagerDuty by acknowledging; resolving resolves it.
        app.cmd("U_IAN", CH, "ack").await;
        app.cmd("U_IAN", CH, "resolved").await;
        app.deliver().await;
        let actions: Vec<(String, String)> = pd
            .events
            .lock()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["event_action"].as_str().unwrap().to_string(),
                    e["dedup_key"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            actions,
            vec![
                ("trigger".to_string(), "sevbot/SEV-1/kim".to_string()),
                ("acknowledge".into(), "sevbot/SEV-1/kim".into()),
                ("resolve".into(), "sevbot/SEV-1/kim".into()),
            ]
        );
    }
);

both_backends!(reminders_repeat_a_bounded_number_of_times, |b| async move {
    let app = TestApp::new(b).await;
    app.cmd(
        "U_ALICE",
        "general",
        "declare availability 1 Checkout failing",
    )
    .await;
    app.deliver().await;
    for minute in (30..=300).step_by(30) {
        at_minute(&app, minute).await;
    }
    let reminders: Vec<String> = app
        .posts_in("sev-1-checkout-failing")
        .into_iter()
        .filter(|p| p.starts_with("no update for"))
        .collect();
    assert_eq!(
        reminders,
        vec![
            "no update for 30 min: <alice>, please post one (`/sev update …`)".to_string(),
            "no update for 60 min: <alice>, please post one (`/sev update …`)".into(),
            "no update for 90 min: <alice>, please post one (`/sev update …`)".into(),
            "no update for 120 min: <alice>, please post one (`/sev update …`)".into(),
        ],
        "the first reminder and 3 repeats, then silence"
    );
    // An update starts the count over.
    app.cmd("U_ALICE", "sev-1-checkout-failing", "update still on it")
        .await;
    at_minute(&app, 331).await;
    at_minute(&app, 332).await;
    let n = app
        .posts_in("sev-1-checkout-failing")
        .into_iter()
        .filter(|p| p.starts_with("no update for"))
        .count();
    assert_eq!(n, 5);
});

const DIGEST: &str = "[[schedules]]\nname = \"night digest\"\ncron = \"30 2 * * *\"\ntimezone = \"Europe/Berlin\"\nplatform = \"test\"\nchannel = \"#sev-feed\"\n";

fn digests(app: &TestApp) -> Vec<String> {
    app.fake
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            support::Call::Reply { channel, text, .. } if channel == "sev-feed" => Some(text),
            _ => None,
        })
        .collect()
}

both_backends!(
    cron_digests_run_across_daylight_saving_once_each,
    |b| async move {
        let app = TestApp::with_config(b, DIGEST).await;
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_millis()
        };
        app.clock.set(at("2026-03-27T12:00:00Z"));
        app.cmd("U_ALICE", "general", "declare availability 3 Search slow")
            .await; // SEV3: no reminders
        app.engine.ensure_schedules().await.unwrap();
        app.engine.ensure_schedules().await.unwrap();
        let planned: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'scheduled_post' AND done_at IS NULL",
        )
        .fetch_one(&app.engine.store.pool)
        .await
        .unwrap();
        assert_eq!(
            planned, 1,
            "one pending occurrence per schedule, however often it is ensured"
        );
        // 02:30 in Berlin: CET, then the spring-forward night (runs at 03:00 CEST), then CEST.
        let mut app = app;
        for (i, when) in [
            "2026-03-28T01:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:30:00Z",
        ]
        .iter()
        .enumerate()
        {
            app.clock.set(at(when) - 1_000);
            assert_eq!(app.tick().await, 0, "not before {when}");
            app.clock.set(at(when));
            assert_eq!(app.tick().await, 1, "at {when}");
            app.deliver().await;
            assert_eq!(digests(&app).len(), i + 1);
            // A restart in between plans nothing twice.
            app = app.restart("replica-b").await;
            app.engine.ensure_schedules().await.unwrap();
        }
        let d = digests(&app);
        assert!(d[0].starts_with("SEV digest: 1 open SEV\n• SEV-1 SEV3 availability · declared · Search slow · IMOC @alice · no update yet"), "{}", d[0]);
    }
);

both_backends!(
    open_sevs_status_is_pushed_to_feeds_at_their_cadence,
    |b| async move {
        let app = TestApp::new(b).await;
        app.cmd("U_CAROL", "ops", "subscribe").await;
        app.cmd(
            "U_ALICE",
            "general",
            "declare availability 1 Checkout failing",
        )
        .await; // SEV1: 30 min
        app.deliver().await;
        at_minute(&app, 30).await;
        let in_ops: Vec<support::Call> = app
            .fake
            .calls()
            .into_iter()
            .filter(|c| c.channel() == "ops")
            .collect();
        let posts = in_ops
            .iter()
            .filter(|c| matches!(c, support::Call::Post { .. }))
            .count();
        assert_eq!(posts, 1, "announced once");
        assert!(
        in_ops.iter().any(|c| matches!(c, support::Call::Edit { text, .. } if text.contains("Status as of 2026-03-02 10:30 UTC"))),
        "{in_ops:?}"
    );
        // Resolved: no more pushes.
        app.cmd("U_ALICE", "sev-1-checkout-failing", "resolved")
            .await;
        app.deliver().await;
        let before = app.fake.calls().len();
        at_minute(&app, 120).await;
        assert_eq!(app.fake.calls().len(), before);
    }
);

both_backends!(
    editing_the_config_does_not_change_who_an_open_sev_pages,
    |b| async move {
        let app = TestApp::new(b).await;
        declare(&app).await;
        // The operator makes carol the exec and removes ian's manager, then restarts.
        let mut raw = support::test_raw_config("");
        raw.execs = vec!["carol".into()];
        for p in raw.people.iter_mut().filter(|p| p.id == "ian") {
            p.manager = None;
        }
        let (cfg, problems) = sevbot::config::validate(raw);
        let cfg = cfg.unwrap_or_else(|| panic!("{problems:?}"));
        let edited = app.restart_with_config("replica-b", Arc::new(cfg)).await;
        for minute in [5, 15, 30] {
            at_minute(&edited, minute).await;
        }
        assert_eq!(
            paged(&edited).await,
            vec!["ian", "bob", "carol", "jo", "mia", "hank"],
            "the ladder frozen at declare"
        );
        // A SEV declared now follows the new config.
        edited.clock.set(support::T0 + 1000 * 60_000);
        edited
            .cmd("U_ALICE", "general", "declare security 1 Second leak --new")
            .await;
        edited.deliver().await;
        let ladder: String = sqlx::query_scalar("SELECT steps FROM ladders WHERE sev_id = 2")
            .fetch_one(&edited.engine.store.pool)
            .await
            .unwrap();
        assert!(
            ladder.contains("[\"carol\"]") && !ladder.contains("hank"),
            "{ladder}"
        );
    }
);

both_backends!(
    a_reopened_sev_pages_its_imoc_and_climbs_from_then,
    |b| async move {
        let app = TestApp::new(b).await;
        declare(&app).await;
        app.cmd("U_IAN", CH, "ack").await;
        at_minute(&app, 10).await;
        app.cmd("U_IAN", CH, "resolved").await;
        at_minute(&app, 40).await;
        let before = paged(&app).await.len();
        // Someone else sees it come back: ian is paged anew, the ladder runs from now.
        let r = app.cmd("U_BOB", CH, "reopen errors are back").await;
        assert!(r.refusal.is_none(), "{}", r.text);
        app.deliver().await;
        assert_eq!(paged(&app).await[before..], ["ian"]);
        assert!(
            app.fake.last_page_to("ian").contains("SEV-1 was reopened."),
            "{}",
            app.fake.last_page_to("ian")
        );
        let r = app.cmd("U_IAN", CH, "status").await;
        assert!(r.text.contains("investigating"), "{}", r.text);
        at_minute(&app, 44).await;
        assert_eq!(paged(&app).await.len(), before + 1, "not before 5 min");
        at_minute(&app, 45).await;
        assert_eq!(
            paged(&app).await[before + 1..],
            ["jo"],
            "5 min after the reopen"
        );
        // Only a resolved or closed SEV reopens.
        let r = app.cmd("U_BOB", CH, "reopen again").await;
        assert!(
            matches!(
                r.refusal,
                Some(sevbot::domain::Refusal::CannotReopen { .. })
            ),
            "{}",
            r.text
        );
    }
);

both_backends!(
    a_closed_sev_reopens_in_its_channel_brought_back,
    |b| async move {
        let app = TestApp::new(b).await;
        declare(&app).await;
        app.cmd("U_IAN", CH, "ack").await;
        app.cmd("U_IAN", CH, "resolved").await;
        app.cmd("U_IAN", CH, "close").await;
        app.deliver().await;
        assert!(
            app.fake.archived.lock().unwrap().contains(CH),
            "archived at close"
        );
        at_minute(&app, 30).await;
        let before = paged(&app).await.len();
        let r = app
            .cmd("U_BOB", "general", "SEV-1 reopen the fix did not hold")
            .await;
        assert!(r.refusal.is_none(), "{}", r.text);
        app.deliver().await;
        // The channel is back before anything is posted in it, and takes the news.
        assert!(app.fake.archived.lock().unwrap().is_empty());
        assert!(
            app.posts_in(CH)
                .iter()
                .any(|p| p.contains("closed → investigating") && p.contains("the fix did not hold")),
            "{:?}",
            app.posts_in(CH)
        );
        assert_eq!(paged(&app).await[before..], ["ian"]);
        assert_eq!(
            app.pending_outbox().await,
            0,
            "nothing failed on the archive"
        );
        // Closed again, and a platform that cannot bring the channel back: said where
        // the SEV was declared, with the platform's reason and the way on.
        app.cmd("U_IAN", CH, "resolved").await;
        app.cmd("U_IAN", CH, "close").await;
        app.deliver().await;
        app.fake.fail_next_of(
            "unarchive",
            sevbot::effects::DeliveryError::Permanent("not_in_channel".into()),
        );
        app.cmd("U_BOB", "general", "SEV-1 reopen once more").await;
        app.deliver().await;
        let told: Vec<String> = app
            .fake
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                support::fake::Call::Reply { channel, text, .. } if channel == "general" => {
                    Some(text)
                }
                _ => None,
            })
            .collect();
        assert!(
            told.iter().any(|p| p.contains(
                "SEV-1 is reopened, but its channel could not be brought back: not_in_channel"
            )),
            "{told:?}"
        );
    }
);

// Raising the level onto a stricter policy: the new ladder runs from the raise, with the
// IMOC paged again.
both_backends!(
    raising_the_level_onto_a_stricter_policy_re_arms_the_ladder,
    |b| async move {
        let app = TestApp::with_config(
            b,
            "[[escalation_policies]]\nname = \"critical\"\nlevels = [0]\nsteps = [{ after_minutes = 2, target = \"exec\" }]\n",
        )
        .await;
        declare(&app).await; // SEV1: the default ladder, 5 → secondary
        app.cmd("U_IAN", CH, "ack").await;
        at_minute(&app, 10).await;
        let before = paged(&app).await.len();
        let r = app.cmd("U_BOB", CH, "level 0 every region").await;
        assert!(r.refusal.is_none(), "{}", r.text);
        app.deliver().await;
        assert_eq!(paged(&app).await[before..], ["ian"], "the IMOC, again");
        assert!(
            app.fake
                .last_page_to("ian")
                .contains("SEV-1 was raised to SEV0."),
            "{}",
            app.fake.last_page_to("ian")
        );
        at_minute(&app, 12).await;
        assert_eq!(
            paged(&app).await[before + 1..],
            ["hank"],
            "SEV0's exec step, 2 min after the raise"
        );
        let ladder: String = sqlx::query_scalar("SELECT policy FROM ladders WHERE sev_id = 1")
            .fetch_one(&app.engine.store.pool)
            .await
            .unwrap();
        assert_eq!(ladder, "critical");
    }
);
