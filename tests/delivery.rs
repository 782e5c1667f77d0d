//! Delivery under stress: a hung call, a storm, answers that never arrive, pages that
//! cannot be delivered, a process that dies holding work. Against the fake Slack and
//! Discord (which answer as the platforms do) and the recording platform.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sevbot::clock::ManualClock;
use sevbot::effects::DeliveryError;
use sevbot::engine::{Alert, AlertBatch};
use sevbot::ops::{self, OutboxAction};
use support::fake_slack::{FakeSlack, Fault};
use support::slack_app::SlackApp;
use support::{Backend, TestApp};

/// Polls `cond` until it holds or `limit` passes; returns how long it took.
async fn within(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

/// The real worker loop and scheduler, as `sevbot run` starts them.
fn run_workers(s: &SlackApp) -> tokio::sync::watch::Sender<bool> {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    for w in s.app.spawn_workers(&stop) {
        drop(w);
    }
    stop_tx
}

/// Direct messages (pages) Slack got that mention `sev`.
fn pages_about(slack: &FakeSlack, sev: &str) -> Vec<String> {
    slack
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|b| b["channel"].as_str().is_some_and(|c| c.starts_with('U')))
        .filter(|b| b["text"].as_str().is_some_and(|t| t.contains(sev)))
        .map(|b| b["channel"].as_str().unwrap().to_string())
        .collect()
}

async fn slack_live(b: Backend, extra: &str, prepare: impl FnOnce(&FakeSlack)) -> SlackApp {
    SlackApp::start_clocked(
        b,
        extra,
        prepare,
        ManualClock::following_wall(),
        Duration::from_secs(10),
    )
    .await
}

both_backends!(a_hung_call_holds_up_only_its_own_queue, |b| async move {
    // SEV-1's channel creation hangs (Slack answers after 30 s; sevbot waits 10 s).
    let s = slack_live(b, "", |slack| {
        slack.inject("conversations.create", Fault::Hang)
    })
    .await;
    let _stop = run_workers(&s);
    s.command(
        "U_DAVE",
        "C_GENERAL",
        "declare availability 1 Checkout failing",
    )
    .await;
    within(Duration::from_secs(5), "SEV-1's creation starts", || {
        !s.slack.calls_to("conversations.create").is_empty()
    })
    .await;
    let took = within(Duration::from_secs(2), "SEV-1's pages", || {
        pages_about(&s.slack, "SEV-1").len() == 3
    })
    .await;
    eprintln!("SEV-1 pages while its channel hangs: {took:?}");
    for (n, title) in [(2, "Search slow"), (3, "Uploads failing")] {
        let declared = Instant::now();
        s.command(
            "U_DAVE",
            "C_GENERAL",
            &format!("declare feature-degradation 2 {title} --new"),
        )
        .await;
        let sev = format!("SEV-{n}");
        within(Duration::from_secs(2), &format!("{sev}'s pages"), || {
            pages_about(&s.slack, &sev).len() == 2
        })
        .await;
        eprintln!("{sev} paged in {:?}", declared.elapsed());
    }
    // Their channels were created too, while SEV-1's call still hangs.
    within(Duration::from_secs(3), "SEV-2 and SEV-3 channels", || {
        s.slack.channel_id("sev-2-search-slow").is_some()
            && s.slack.channel_id("sev-3-uploads-failing").is_some()
    })
    .await;
    assert!(s.slack.channel_id("sev-1-checkout-failing").is_none());
    // The hung call times out, is reconciled, and SEV-1 gets its one channel.
    within(Duration::from_secs(20), "SEV-1's channel", || {
        s.slack.channel_id("sev-1-checkout-failing").is_some()
    })
    .await;
    assert!(
        !s.slack.channel_names().iter().any(|n| n.ends_with("-2")),
        "{:?}",
        s.slack.channel_names()
    );
});

/// Every call Slack's channel lane may make at once hangs: pages still leave, in a lane of
/// their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_leave_while_every_channel_call_hangs() {
    let s = slack_live(Backend::Sqlite, "", |slack| {
        for _ in 0..4 {
            slack.inject("conversations.create", Fault::Hang);
        }
    })
    .await;
    let _stop = run_workers(&s);
    for n in 1..=4 {
        s.command(
            "U_DAVE",
            "C_GENERAL",
            &format!("declare feature-degradation 2 Stuck {n} --new"),
        )
        .await;
    }
    within(Duration::from_secs(5), "four hung creations", || {
        s.slack.calls_to("conversations.create").len() == 4
    })
    .await;
    let declared = Instant::now();
    s.command(
        "U_DAVE",
        "C_GENERAL",
        "declare availability 1 Checkout failing --new",
    )
    .await;
    within(Duration::from_secs(2), "SEV-5's pages", || {
        pages_about(&s.slack, "SEV-5").len() == 3
    })
    .await;
    eprintln!(
        "SEV-5 paged {:?} after its declare, with the channel lane full",
        declared.elapsed()
    );
    assert_eq!(
        s.slack.calls_to("conversations.create").len(),
        4,
        "SEV-5's channel waits for a free call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_is_folded_and_never_delays_a_person() {
    let monitoring_on_slack = "[availability]\nplatform = \"slack\"\nchannel = \"C_GENERAL\"\n";
    let s = slack_live(Backend::Sqlite, monitoring_on_slack, |_| {}).await;
    let _stop = run_workers(&s);
    // The first alert declares the SEV (monitoring's own), and it settles.
    let alert = |i: usize| Alert {
        status: "firing".into(),
        labels: [
            ("alertname".to_string(), format!("PodCrashLooping{i}")),
            ("severity".to_string(), "warning".to_string()),
        ]
        .into(),
        annotations: Default::default(),
        starts_at: "2026-03-02T10:00:00Z".into(),
        fingerprint: format!("f{i}"),
        measured: None,
    };
    let first = AlertBatch {
        version: "4".into(),
        group_key: "storm".into(),
        alerts: vec![alert(0)],
    };
    assert_eq!(s.app.engine.alerts(&first).await.unwrap(), 1);
    let name = "sev-1-podcrashlooping0";
    within(Duration::from_secs(20), "the SEV settles", || {
        s.slack
            .channel_id(name)
            .is_some_and(|c| s.slack.messages(&c).len() >= 9)
    })
    .await;
    let ch = s.slack.channel_id(name).unwrap();
    let settled = s.slack.messages(&ch).len();
    // 2,000 more alerts from Alertmanager into the open SEV, then the IMOC's update.
    let alerts: Vec<Alert> = (1..=2000).map(alert).collect();
    let batch = AlertBatch {
        version: "4".into(),
        group_key: "storm".into(),
        alerts,
    };
    assert_eq!(s.app.engine.alerts(&batch).await.unwrap(), 2000);
    let sent = Instant::now();
    s.command("U_ALICE", &ch, "update rolled back the deploy")
        .await;
    let took = within(Duration::from_secs(3), "the IMOC's update", || {
        s.slack.messages(&ch).iter().any(|m| {
            m["text"]
                .as_str()
                .unwrap_or("")
                .contains("rolled back the deploy")
        })
    })
    .await;
    eprintln!("update posted {took:?} after it was sent, behind 2,000 alerts");
    assert!(sent.elapsed() < Duration::from_secs(3));
    // The alerts arrive in a handful of messages, and every one is on the timeline.
    within(Duration::from_secs(15), "the storm delivered", || {
        s.slack
            .messages(&ch)
            .iter()
            .any(|m| m["text"].as_str().unwrap_or("").contains("lists every one"))
    })
    .await;
    let alert_messages: Vec<String> = s.slack.messages(&ch)[settled..]
        .iter()
        .filter_map(|m| m["text"].as_str().map(String::from))
        .filter(|t| t.contains("PodCrashLooping"))
        .collect();
    assert!(
        (1..=5).contains(&alert_messages.len()),
        "{} messages",
        alert_messages.len()
    );
    let told: usize = alert_messages
        .iter()
        .map(|t| {
            t.lines()
                .next()
                .and_then(|l| l.split(' ').next())
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(1)
        })
        .sum();
    assert_eq!(told, 2000, "{alert_messages:?}");
    assert_eq!(
        s.count("SELECT COUNT(*) FROM incident_events WHERE kind = 'alert'")
            .await,
        2001
    );
}

both_backends!(
    a_page_that_cannot_be_delivered_is_said_and_the_ladder_moves_on,
    |b| async move {
        let app = TestApp::new(b).await;
        let why =
            "no Slack user has the email ian@example.com; set handles.slack for ian in the config";
        app.fake
            .unreachable("ian", DeliveryError::Permanent(why.into()));
        let r = app
            .cmd("U_ALICE", "general", "declare security 1 Token leaked")
            .await;
        assert!(r.text.starts_with("SEV-1 declared"), "{}", r.text);
        app.deliver().await;
        let ch = "sev-1-security";
        let posts = app.posts_in(ch);
        assert!(
            posts.contains(&format!(
                "could not page <ian> as IMOC on test: {why}; nobody reached them, so the escalation moves on now"
            )),
            "{posts:?}"
        );
        assert!(
            !posts.iter().any(|p| p == "paged <ian> as IMOC"),
            "{posts:?}"
        );
        // The secondary is paged now, not after five minutes.
        assert_eq!(app.tick().await, 1);
        app.deliver().await;
        assert!(
            app.fake.pages().iter().any(|(p, _)| p == "jo"),
            "{:?}",
            app.fake.pages()
        );
        let posts = app.posts_in(ch);
        assert!(
            posts
                .contains(&"<ian> could not be paged, paging <jo> (secondary on call)".to_string()),
            "{posts:?}"
        );
        let page = app.fake.page_to("jo");
        assert!(
            page.starts_with("ian could not be paged: the page for SEV-1 climbed to you"),
            "{page}"
        );
        // On the timeline, and in `/sev status`.
        let kinds: Vec<String> = sqlx::query_scalar(
            "SELECT kind FROM incident_events WHERE kind IN ('paged', 'page_failed') ORDER BY id",
        )
        .fetch_all(&app.engine.store.pool)
        .await
        .unwrap();
        assert_eq!(kinds.iter().filter(|k| *k == "page_failed").count(), 1);
        assert_eq!(
            kinds.iter().filter(|k| *k == "paged").count(),
            3,
            "bob, carol, jo"
        );
        // Counted for the operator's dashboards, with the reason kept on the row.
        let now = sevbot::clock::Clock::now_ms(app.clock.as_ref());
        let stats = sevbot::store::outbox::stats(&app.engine.store, now)
            .await
            .unwrap();
        assert_eq!((stats.failed, stats.in_flight), (1, 0), "{stats:?}");
        let status = app.cmd("U_ALICE", ch, "status").await.text;
        assert!(
            status.contains(&format!("Could not be paged:\n• <ian>: {why}"))
                || status.contains(&format!("Could not be paged:\n• @ian: {why}")),
            "{status}"
        );
    }
);

/// Slack is down while sevbot starts: the e-mail look-up fails then, and succeeds when
/// the page needs it. A person Slack does not know is said in the channel with the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_users_are_looked_up_when_a_page_needs_them() {
    let extra = r#"
[[people]]
id = "erin"
email = "erin@example.com"
[[people]]
id = "finn"
email = "finn@example.com"
[[rotations]]
name = "durability-imoc"
role = "imoc"
types = ["durability"]
members = ["erin"]
start_date = "2026-01-05"
[[rotations]]
name = "durability-tloc"
role = "tloc"
types = ["durability"]
members = ["finn"]
start_date = "2026-01-05"
"#;
    let s = SlackApp::start_with(Backend::Sqlite, extra, |slack| {
        // Unreachable during start-up: both look-ups fail.
        slack.inject("users.lookupByEmail", Fault::Http500);
        slack.inject("users.lookupByEmail", Fault::Http500);
    })
    .await;
    s.slack.user("erin@example.com", "U_ERIN");
    s.command(
        "U_DAVE",
        "C_GENERAL",
        "declare durability 2 Backups lagging",
    )
    .await;
    s.deliver().await;
    assert_eq!(pages_about(&s.slack, "SEV-1"), vec!["U_ERIN".to_string()]);
    let ch = s.slack.channel_id("sev-1-backups-lagging").unwrap();
    let texts = s.slack.texts(&ch);
    assert!(
        texts.iter().any(|t| t == "paged <@U_ERIN> as IMOC"),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.starts_with("could not page finn as TLOC on Slack: no Slack user has the email finn@example.com; set handles.slack for finn in the config")),
        "{texts:?}"
    );
}

/// A success answer sevbot cannot read is retried (after looking for the message) a few
/// times, then failed with the reason; the operator lists it, fixes the cause and retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_answers_are_retried_a_few_times_then_shown_to_the_operator() {
    let s = SlackApp::start(Backend::Sqlite).await;
    s.command(
        "U_ALICE",
        "C_GENERAL",
        "declare availability 1 Checkout failing",
    )
    .await;
    s.deliver().await;
    let ch = s.slack.channel_id("sev-1-checkout-failing").unwrap();
    for _ in 0..5 {
        s.slack.inject("chat.postMessage", Fault::Garbage);
    }
    s.command("U_ALICE", &ch, "update the provider is back")
        .await;
    for _ in 0..6 {
        s.clock.advance(Duration::from_secs(60));
        s.deliver().await;
    }
    let store = &s.app.engine.store;
    let now = sevbot::clock::Clock::now_ms(s.clock.as_ref());
    let list = ops::outbox(store, OutboxAction::List { all: false }, now)
        .await
        .unwrap();
    assert!(list.contains("failed"), "{list}");
    assert!(
        list.contains("5 answers in a row sevbot could not read"),
        "{list}"
    );
    let id: i64 = sqlx::query_scalar("SELECT id FROM outbox WHERE status = 'failed'")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert!(
        ops::outbox(store, OutboxAction::Retry(id), now)
            .await
            .unwrap()
            .contains("sent again")
    );
    s.deliver().await;
    let posted: Vec<Value> = s
        .slack
        .messages(&ch)
        .into_iter()
        .filter(|m| {
            m["text"]
                .as_str()
                .unwrap_or("")
                .contains("the provider is back")
        })
        .collect();
    assert_eq!(posted.len(), 1, "posted once, after the retry");
    assert_eq!(
        ops::outbox(store, OutboxAction::List { all: false }, now)
            .await
            .unwrap(),
        "Nothing failed or stuck in the outbox."
    );
    assert!(
        ops::outbox(store, OutboxAction::Drop(id), now)
            .await
            .unwrap_err()
            .to_string()
            .contains("No failed or pending outbox row")
    );
}

// Answers that never arrive (Slack did the work; sevbot timed out): the retry finds the
// channel, the card and the page that went out, and sends none of them twice.
both_backends!(
    lost_answers_are_reconciled_not_repeated_on_slack,
    |b| async move {
        let slow = Fault::Slow(Duration::from_millis(800));
        let s = SlackApp::start_with(b, "", |slack| {
            slack.inject("conversations.create", slow.clone());
            slack.inject("chat.postMessage", slow.clone());
            slack.inject("chat.postMessage", slow.clone());
            slack.inject("chat.postMessage", slow.clone());
            slack.inject("chat.postMessage", slow.clone());
        })
        .await;
        s.command(
            "U_DAVE",
            "C_GENERAL",
            "declare availability 1 Checkout failing",
        )
        .await;
        for _ in 0..10 {
            s.deliver().await;
            // Let the slow answers finish, then step over the retry backoff.
            tokio::time::sleep(Duration::from_millis(900)).await;
            s.clock.advance(Duration::from_secs(5));
        }
        s.deliver().await;
        assert_eq!(
            s.count("SELECT COUNT(*) FROM outbox WHERE status <> 'delivered'")
                .await,
            0
        );
        assert!(
            s.count("SELECT COUNT(*) FROM outbox WHERE attempts > 1")
                .await
                >= 5,
            "five calls timed out and were tried again"
        );
        assert_eq!(
            s.slack.calls_to("conversations.create").len(),
            1,
            "created once, adopted after the timeout"
        );
        assert_eq!(s.slack.channel_names(), vec!["sev-1-checkout-failing"]);
        assert_no_repeats(&s.slack, &["sev-1-checkout-failing"]);
        for user in ["U_ALICE", "U_BOB", "U_CAROL"] {
            assert_eq!(
                s.slack.messages(&format!("D{user}")).len(),
                1,
                "{user} paged once"
            );
        }
        let ch = s.slack.channel_id("sev-1-checkout-failing").unwrap();
        assert_eq!(
            s.slack.calls_to("pins.add").len(),
            1,
            "one card, pinned once"
        );
        assert!(!s.slack.messages(&ch).is_empty());
    }
);

/// No message was posted twice: every outbox key appears once in the channel.
fn assert_no_repeats(slack: &FakeSlack, channels: &[&str]) {
    for name in channels {
        let ch = slack.channel_id(name).unwrap();
        let mut keys: Vec<String> = slack
            .messages(&ch)
            .iter()
            .filter_map(|m| {
                m["metadata"]["event_payload"]["key"]
                    .as_str()
                    .map(String::from)
            })
            .collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n, "a message was posted twice in {name}");
    }
}

// A process dies holding rows (kill -9 mid-call): the next one to start resumes them at
// once, reconciled, instead of waiting out the lease.
both_backends!(
    a_restart_resumes_a_dead_process_rows_at_once,
    |b| async move {
        let app = TestApp::new(b).await;
        app.cmd(
            "U_ALICE",
            "general",
            "declare availability 1 Checkout failing",
        )
        .await;
        let now = sevbot::clock::Clock::now_ms(app.clock.as_ref());
        let held = sevbot::store::outbox::claim(&app.engine.store, "dead", now, 60_000, 100, &[])
            .await
            .unwrap();
        assert!(!held.is_empty());
        let again = app.restart("replica-b").await;
        again.deliver().await;
        assert_eq!(
            again.pending_outbox().await,
            0,
            "nothing waited for the 60 s lease"
        );
        assert_eq!(again.fake.pages().len(), 2);
        // The rows the dead process held were in doubt: each was looked for first, and
        // the card went out once.
        let cards = again
            .posts_in("sev-1-checkout-failing")
            .into_iter()
            .filter(|p| p.starts_with("card:"))
            .count();
        assert_eq!(cards, 1);
        let doubted: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE doubt = 1")
            .fetch_one(&again.engine.store.pool)
            .await
            .unwrap();
        assert_eq!(doubted as usize, held.len());
    }
);

/// Two processes on one PostgreSQL: the one holding rows mid-call dies (its database
/// session ends, as with kill -9); the live one takes them over within 5 s, reconciled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_replica_takes_over_a_dead_ones_rows_within_5_s() {
    let clock = Arc::new(ManualClock::following_wall());
    let mut a = TestApp::with_clock(Backend::Postgres, "", clock).await;
    let b = a.restart("replica-b").await;
    a.cmd(
        "U_ALICE",
        "general",
        "declare availability 1 Checkout failing",
    )
    .await;
    let now = sevbot::clock::Clock::now_ms(a.clock.as_ref());
    let held = sevbot::store::outbox::claim(&a.engine.store, "replica-a", now, 60_000, 100, &[])
        .await
        .unwrap();
    assert!(!held.is_empty());
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(b.delivery.clone().run(Duration::from_millis(200), stop));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        b.fake.pages().len(),
        0,
        "replica-a is alive: its leases (60 s here) are respected"
    );
    let died = Instant::now();
    drop(a.registration.take());
    let store = b.engine.store.clone();
    let start = Instant::now();
    loop {
        let pending = sevbot::store::outbox::pending(&store).await.unwrap().0;
        if pending == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{pending} rows still waiting"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "taken over and delivered {:?} after the death",
        died.elapsed()
    );
    assert_eq!(b.fake.pages().len(), 2);
}

/// The console records what it printed under each row's key, so a retry after a crash
/// looks before printing again.
#[tokio::test]
async fn the_console_remembers_what_it_printed() {
    use sevbot::effects::{Message, Platform};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let store = sevbot::store::Store::connect(&url).await.unwrap();
    let screen = support::Captured::default();
    let buf = screen.0.clone();
    let out: sevbot::adapters::console::Output = Arc::new(std::sync::Mutex::new(Box::new(screen)));
    let console =
        sevbot::adapters::console::ConsolePlatform::new(store, support::test_config(""), out);
    let inc = sevbot::effects::Effect::examples()
        .into_iter()
        .find_map(|e| match e {
            sevbot::effects::Effect::Page { incident, .. } => Some(incident),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        console.find_post("sev-7", "sevbot-1", 0).await.unwrap(),
        None
    );
    let id = console
        .post("sev-7", Message::Impact("impact text"), "sevbot-1")
        .await
        .unwrap();
    assert_eq!(
        console.find_post("sev-7", "sevbot-1", 0).await.unwrap(),
        Some(id)
    );
    assert!(!console.find_page("bob", "sevbot-2", 0).await.unwrap());
    console
        .page("bob", Message::Page(&inc, "You are paged."), "sevbot-2")
        .await
        .unwrap();
    assert!(console.find_page("bob", "sevbot-2", 0).await.unwrap());
    let printed = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    assert_eq!(printed.matches("[page → @bob]").count(), 1, "{printed}");
}

// A command's outbox rows are held and written in one statement when its work ends: they
// keep the order they were pushed in, the first of each queue is its head only when
// nothing else waits there, and work that fails leaves none of them.
both_backends!(
    rows_written_together_keep_their_queues_order_and_heads,
    |b| async move {
        use sevbot::effects::Effect;
        use sevbot::store::outbox;
        let app = TestApp::new(b).await;
        let store = app.engine.store.clone();
        let reply = |channel: &str, text: &str| Effect::Reply {
            channel: channel.into(),
            user: None,
            text: text.into(),
        };
        // Already waiting in #b, pushed outside any group write.
        let mut conn = store.pool.acquire().await.unwrap();
        outbox::push(&mut conn, support::PLATFORM, &reply("b", "b0"), support::T0)
            .await
            .unwrap();
        drop(conn);
        let rows = [reply("a", "a1"), reply("b", "b1"), reply("a", "a2")];
        let pushed = rows.clone();
        store
            .write(move |tx| {
                Box::pin(async move {
                    for r in &pushed {
                        outbox::push(tx, support::PLATFORM, r, support::T0).await?;
                    }
                    Ok(())
                })
            })
            .await
            .unwrap();
        let failed: anyhow::Result<()> = store
            .write(move |tx| {
                Box::pin(async move {
                    outbox::push(tx, support::PLATFORM, &reply("c", "c1"), support::T0).await?;
                    anyhow::bail!("the command failed after queueing")
                })
            })
            .await;
        assert!(failed.is_err());
        let stored: Vec<(String, i64)> =
            sqlx::query_as("SELECT queue, head FROM outbox ORDER BY id")
                .fetch_all(&store.pool)
                .await
                .unwrap();
        let q = |c: &str| format!("{}:#{c}", support::PLATFORM);
        assert_eq!(
            stored,
            vec![(q("b"), 1), (q("a"), 1), (q("b"), 0), (q("a"), 0)],
            "in push order; heads only where nothing waited; nothing of the failed work"
        );
        app.deliver().await;
        let said = |c: &str| -> Vec<String> {
            app.fake
                .calls()
                .into_iter()
                .filter_map(|call| match call {
                    support::Call::Reply { channel, text, .. } if channel == c => Some(text),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(said("a"), ["a1", "a2"]);
        assert_eq!(said("b"), ["b0", "b1"]);
        assert!(said("c").is_empty());
    }
);

/// Two replicas deliver one SEV's channel on one PostgreSQL: its own queue (an IMOC's
/// updates) and its machine queue (alerts) go out through either, and together they keep
/// Slack's one message a second into the channel, as one process does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_pace_one_channel_together() {
    const ROUNDS: usize = 6;
    let monitoring_on_slack = "[availability]\nplatform = \"slack\"\nchannel = \"C_GENERAL\"\n";
    let s = slack_live(Backend::Postgres, monitoring_on_slack, |_| {}).await;
    let slack: Arc<dyn sevbot::effects::Platform> = s.app.slack.as_ref().unwrap().1.clone();
    let b = Arc::new(sevbot::delivery::Delivery::new(
        s.app.engine.store.clone(),
        s.app.engine.clock.clone(),
        vec![slack],
        "replica-b".into(),
    ));
    let _alive = b.recover().await.unwrap();
    let (_stop_b, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(b.clone().run(Duration::from_millis(50), stop));
    let _stop = run_workers(&s);
    let alert = |i: usize| Alert {
        status: "firing".into(),
        labels: [("alertname".to_string(), format!("Disk{i}"))].into(),
        annotations: Default::default(),
        starts_at: "2026-03-02T10:00:00Z".into(),
        fingerprint: format!("d{i}"),
        measured: None,
    };
    let batch = |i: usize| AlertBatch {
        version: "4".into(),
        group_key: "disks".into(),
        alerts: vec![alert(i)],
    };
    s.app.engine.alerts(&batch(0)).await.unwrap();
    let name = "sev-1-disk0";
    within(Duration::from_secs(20), "the SEV's channel", || {
        s.slack.channel_id(name).is_some()
    })
    .await;
    let ch = s.slack.channel_id(name).unwrap();
    // The channel exists at Slack a moment before sevbot has recorded it as the SEV's (a
    // command typed there before then is "not a SEV channel"); the card follows the record.
    within(
        Duration::from_secs(20),
        "the SEV's card in its channel",
        || !s.slack.texts(&ch).is_empty(),
    )
    .await;
    // Both queues have work at the same moments, over and over.
    let mut replies = vec![];
    for round in 1..=ROUNDS {
        let (update, alerts) = (format!("update step {round}"), batch(round));
        let (alerted, reply) = tokio::join!(
            s.app.engine.alerts(&alerts),
            s.command("U_ALICE", &ch, &update)
        );
        alerted.unwrap();
        replies.push(reply);
        tokio::time::sleep(Duration::from_millis(1_000)).await;
    }
    support::until_outbox_empty(&s.app.engine.store, Duration::from_secs(60), String::new).await;
    let texts = s.slack.texts(&ch);
    for r in 1..=ROUNDS {
        let step = format!("step {r}");
        assert!(
            texts.iter().any(|t| t.contains(&step)),
            "{step}: {texts:?}\nits command was answered {}",
            replies[r - 1]
        );
    }
    // Slack's limit is on messages posted; edits (the card) are not paced.
    let into_channel: Vec<Instant> = s
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.method == "chat.postMessage")
        .filter(|c| c.body["channel"] == Value::String(ch.clone()))
        .map(|c| c.at)
        .collect();
    let gaps: Vec<Duration> = into_channel.windows(2).map(|w| w[1] - w[0]).collect();
    eprintln!(
        "{} calls into the channel, gaps {gaps:?}",
        into_channel.len()
    );
    assert!(into_channel.len() >= 7, "{}", into_channel.len());
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(900)),
        "two calls into one channel within a second: {gaps:?}"
    );
}
