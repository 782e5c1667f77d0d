//! kill -9 at the worst moments. The real binary runs against the fake Slack; a call is
//! held after Slack has done the work (the channel exists, the message is posted, the page
//! is in the DM) and the process is killed before it sees the answer. A new process is
//! started at once. Afterwards: no second channel, no message or page posted twice,
//! nothing lost, and the queues moving again within two seconds of each restart. A declare
//! form with its description is killed mid-transaction and across its request: all of it
//! or none of it, once.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Backend;
use support::bot::Bot;
use support::fake_slack::{FakeSlack, Fault, TOKEN};
use support::slack_app::{SECRET, signed_post, slash_form, view_submission};

/// Kills of each kind per backend.
const ROUNDS: usize = 5;

#[derive(Debug, Clone, Copy)]
enum Moment {
    /// conversations.create done, its answer not yet seen.
    ChannelCreation,
    /// A message posted in an incident channel, its answer not yet seen.
    Post,
    /// A page in someone's DM, its answer not yet seen.
    Page,
}

trait Commands {
    async fn declare(&self, n: usize);
    async fn command(&self, user: &str, channel: &str, text: &str);
}

impl Commands for Bot {
    /// Dave declares SEV-`n` ("Chaos n"); alice (IMOC) and bob (TLOC) are paged.
    async fn declare(&self, n: usize) {
        let text = format!("declare availability 2 Chaos {n} --new");
        self.command("U_DAVE", "C_GENERAL", &text).await;
    }

    async fn command(&self, user: &str, channel: &str, text: &str) {
        let r = signed_post(
            &reqwest::Client::new(),
            &format!("http://127.0.0.1:{}/slack/commands", self.port),
            SECRET,
            "application/x-www-form-urlencoded",
            slash_form(user, channel, text),
            chrono::Utc::now().timestamp(),
        )
        .await;
        assert_eq!(r.status(), 200, "{text}");
    }
}

/// Posts an interaction (a form submitted) to the bot on `port`; the status, or `None`
/// when the process died before answering.
async fn submit(port: u16, payload: &Value) -> Option<u16> {
    let form = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let ts = chrono::Utc::now().timestamp();
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/slack/interactions"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header(
            "x-slack-signature",
            sevbot::adapters::slack::verify::sign(SECRET.as_bytes(), ts, form.as_bytes()),
        )
        .body(form)
        .send()
        .await;
    r.ok().map(|r| r.status().as_u16())
}

async fn until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until a message (`prefix` "C": into a channel, "U": a DM, that is a page) has
/// reached Slack since call number `before`.
async fn until_sent(slack: &FakeSlack, before: usize, prefix: &str, what: &str) {
    until(Duration::from_secs(10), what, || {
        slack.calls()[before..].iter().any(|c| {
            c.method == "chat.postMessage"
                && c.body["channel"]
                    .as_str()
                    .is_some_and(|ch| ch.starts_with(prefix))
        })
    })
    .await;
}

/// sevbot started on a fresh database of backend `b`, talking to the fake Slack at `slack`.
async fn running(b: Backend, slack: std::net::SocketAddr) -> Bot {
    let db = match b {
        Backend::Sqlite => String::new(),
        Backend::Postgres => support::pg::fresh_database().await,
    };
    let env = [
        ("SLACK_BOT_TOKEN", TOKEN.to_string()),
        ("SLACK_SIGNING_SECRET", SECRET.to_string()),
        ("SLACK_API_URL", format!("http://{slack}/api")),
    ];
    let mut bot = Bot::new(support::CONFIG, &db, &env);
    bot.start();
    bot.ready().await;
    bot
}

async fn chaos(b: Backend) {
    let (slack, addr) = FakeSlack::start().await;
    let mut bot = running(b, addr).await;
    let hold = || Fault::Slow(Duration::from_secs(60));
    let moments = [Moment::ChannelCreation, Moment::Post, Moment::Page];
    let mut sevs = 0;
    let mut updates = vec![];
    let mut restarts = vec![];
    for round in 0..ROUNDS {
        for moment in moments {
            let before = slack.calls().len();
            match moment {
                Moment::ChannelCreation => {
                    slack.inject("conversations.create", hold());
                    sevs += 1;
                    bot.declare(sevs).await;
                    until(Duration::from_secs(10), "the creation call", || {
                        slack.calls()[before..]
                            .iter()
                            .any(|c| c.method == "conversations.create")
                    })
                    .await;
                }
                Moment::Post => {
                    // An incident channel that exists, and a line for it.
                    let ch = slack
                        .channel_id("sev-1-chaos-1")
                        .expect("SEV-1 has its channel");
                    slack.inject_for("chat.postMessage", "C", hold());
                    let text = format!("chaos update {round}");
                    bot.command("U_ALICE", &ch, &format!("SEV-1 update {text}"))
                        .await;
                    updates.push(text);
                    until_sent(&slack, before, "C", "a post").await;
                }
                Moment::Page => {
                    slack.inject_for("chat.postMessage", "U", hold());
                    sevs += 1;
                    bot.declare(sevs).await;
                    until_sent(&slack, before, "U", "a page").await;
                }
            }
            bot.kill();
            let at_kill = slack.calls().len();
            let restarted = Instant::now();
            bot.start();
            // The queues move again: the new process calls Slack (reconciling first).
            until(
                Duration::from_secs(5),
                "the first call after the restart",
                || slack.calls().len() > at_kill,
            )
            .await;
            restarts.push((moment, restarted.elapsed()));
            // The outbox may call Slack before the HTTP server listens: wait for it before
            // the next round's command.
            bot.ready().await;
        }
    }
    // Everything settles: every SEV has its one channel, every line and page went out.
    let store = sevbot::store::Store::connect(&bot.db).await.unwrap();
    support::until_outbox_empty(&store, Duration::from_secs(60), || bot.logs()).await;
    let failed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status <> 'delivered'")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(failed, 0, "{}", bot.logs());

    // No second channel: one per SEV, none suffixed.
    let names = slack.channel_names();
    let mut expected: Vec<String> = (1..=sevs).map(|n| format!("sev-{n}-chaos-{n}")).collect();
    expected.sort();
    assert_eq!(names, expected);
    let creates: Vec<String> = slack
        .calls()
        .iter()
        .filter(|c| c.method == "conversations.create" || c.method == "conversations.list")
        .map(|c| format!("{} {}", c.method, c.body["name"]))
        .collect();
    assert_eq!(
        slack.calls_to("conversations.create").len(),
        sevs,
        "created once each: {creates:?}\n{}",
        bot.logs()
    );
    // Nothing posted twice in any channel or DM; every update once.
    let mut places: Vec<String> = names.iter().map(|n| slack.channel_id(n).unwrap()).collect();
    places.extend(["DU_ALICE", "DU_BOB"].map(String::from));
    for place in &places {
        let mut seen = BTreeMap::new();
        for m in slack.messages(place) {
            if let Some(k) = m["metadata"]["event_payload"]["key"].as_str() {
                *seen.entry(k.to_string()).or_insert(0) += 1;
            }
        }
        let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "posted twice in {place}: {twice:?}");
    }
    let sev1 = slack.messages(&slack.channel_id("sev-1-chaos-1").unwrap());
    for u in &updates {
        let n = sev1
            .iter()
            .filter(|m| m["text"].as_str().unwrap_or("").ends_with(u.as_str()))
            .count();
        assert_eq!(n, 1, "{u}");
    }
    // Every page reached its person once: each SEV2 paged its IMOC (alice) and TLOC (bob).
    for user in ["DU_ALICE", "DU_BOB"] {
        assert_eq!(slack.messages(user).len(), sevs, "{user}");
    }
    let logs = bot.logs();
    assert!(
        logs.contains("adopted the channel sevbot had created"),
        "{logs}"
    );
    assert!(
        logs.contains("took over the work of a sevbot process that is gone"),
        "{logs}"
    );
    for (moment, took) in &restarts {
        eprintln!(
            "{b:?}: after a kill during {moment:?}, Slack heard from the new process {took:?} after its start"
        );
        assert!(*took < Duration::from_secs(2), "{moment:?}: {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_the_worst_moments_on_sqlite() {
    chaos(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_the_worst_moments_on_postgres() {
    chaos(Backend::Postgres).await;
}

/// The declare form of SEV "Form n", with a description of two lines; each from someone
/// else (one person's second declare within minutes is asked "is this the same incident?").
fn declare_form(n: usize) -> Value {
    view_submission(
        &format!("U_FORM{n}"),
        "sev_declare",
        "C_GENERAL",
        json!({
            "type": { "v": { "type": "static_select", "selected_option": { "value": "availability" } } },
            "level": { "v": { "type": "static_select", "selected_option": { "value": "2" } } },
            "title": { "v": { "type": "plain_text_input", "value": format!("Form {n}") } },
            "description": { "v": { "type": "plain_text_input", "value": format!("why {n}\nsecond line {n}") } },
            "impact": { "v": { "type": "checkboxes", "selected_options": [] } }
        }),
    )
}

/// A declare with a description is one transaction: kill -9 while it is being written (the
/// SEV row written, its timeline waiting on a lock another session holds) or at moments
/// swept across the request, then redeliver the unanswered form as Slack would. Every SEV
/// exists once, with its description as its first note; none exists without it.
async fn declare_forms(b: Backend) {
    let (_slack, addr) = FakeSlack::start().await;
    let mut bot = running(b, addr).await;
    let store = sevbot::store::Store::connect(&bot.db).await.unwrap();

    // The worst moment, made certain. On PostgreSQL a trigger makes the description's
    // insert wait on a lock this test holds: the SEV row and its "declared" event are
    // written, the note is not. On SQLite another connection holds the write lock, so the
    // declare waits inside its transaction before its first write.
    let forms: Vec<Value> = (0..10).map(declare_form).collect();
    let mut holder = store.pool.acquire().await.unwrap();
    let (hold, release) = match b {
        Backend::Sqlite => ("BEGIN IMMEDIATE", "ROLLBACK"),
        Backend::Postgres => (
            "CREATE FUNCTION hold_notes() RETURNS trigger AS $$ BEGIN \
               IF NEW.kind = 'note' THEN PERFORM pg_advisory_lock(4242); PERFORM pg_advisory_unlock(4242); END IF; \
               RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER hold_notes BEFORE INSERT ON incident_events \
               FOR EACH ROW EXECUTE FUNCTION hold_notes(); \
             SELECT pg_advisory_lock(4242);",
            "SELECT pg_advisory_unlock(4242); DROP TRIGGER hold_notes ON incident_events; \
             DROP FUNCTION hold_notes();",
        ),
    };
    sqlx::raw_sql(hold).execute(&mut *holder).await.unwrap();
    let (port, first) = (bot.port, forms[0].clone());
    let pending = tokio::spawn(async move { submit(port, &first).await });
    if let Backend::Postgres = b {
        let waiting = || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
            )
            .fetch_one(&store.pool)
            .await
            .unwrap()
        };
        let start = Instant::now();
        while waiting().await == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the note never waited"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    } else {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(!pending.is_finished(), "the declare waits on the lock");
    bot.kill();
    assert_eq!(
        pending.await.unwrap(),
        None,
        "no answer from a killed process"
    );
    sqlx::raw_sql(release).execute(&mut *holder).await.unwrap();
    drop(holder);
    let count = |title: &str| {
        let pool = store.pool.clone();
        let title = title.to_string();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sevs WHERE title = $1")
                .bind(title)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        count("Form 0").await,
        0,
        "killed mid-declare: nothing of it stays"
    );
    bot.start();
    bot.ready().await;

    // Kills swept across the request; whatever was not answered is delivered again.
    let mut unanswered = vec![0];
    for (n, form) in forms.iter().enumerate().skip(1) {
        let (port, form) = (bot.port, form.clone());
        let sent = tokio::spawn(async move { submit(port, &form).await });
        tokio::time::sleep(Duration::from_millis(4 * n as u64)).await;
        bot.kill();
        if sent.await.unwrap() != Some(200) {
            unanswered.push(n);
        }
        bot.start();
        bot.ready().await;
    }
    for &n in &unanswered {
        assert_eq!(
            submit(bot.port, &forms[n]).await,
            Some(200),
            "Form {n} again"
        );
    }
    // A redelivery of an answered form changes nothing either.
    assert_eq!(submit(bot.port, &forms[9]).await, Some(200));
    eprintln!(
        "{b:?}: {} of 10 declare forms were cut off by kill -9 and delivered again",
        unanswered.len()
    );

    for n in 0..10 {
        let title = format!("Form {n}");
        assert_eq!(count(&title).await, 1, "{title}:\n{}", bot.logs());
        let id: i64 = sqlx::query_scalar("SELECT id FROM sevs WHERE title = $1")
            .bind(&title)
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let events: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT kind, at, detail FROM incident_events WHERE sev_id = $1 ORDER BY id LIMIT 2",
        )
        .bind(id)
        .fetch_all(&store.pool)
        .await
        .unwrap();
        assert_eq!(events[0].0, "declared", "{title}");
        assert_eq!(events[1].0, "note", "{title}: {events:?}");
        assert_eq!(events[1].1, events[0].1, "{title}: the same transaction");
        assert!(
            events[1].2.contains(&format!("why {n}\\nsecond line {n}")),
            "{title}: {}",
            events[1].2
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declare_form_is_all_or_nothing_under_kill_9_on_sqlite() {
    declare_forms(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declare_form_is_all_or_nothing_under_kill_9_on_postgres() {
    declare_forms(Backend::Postgres).await;
}
