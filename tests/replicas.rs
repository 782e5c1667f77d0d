//! Several replicas of the real binary on one PostgreSQL. The connections Slack and
//! Discord allow one of (Socket Mode, the gateway) are held by exactly one replica at
//! every moment — the fakes count open connections — and when the holder is killed with
//! -9, another takes over within 5 s; a replica stopped with SIGTERM hands over at once.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::bot::Bot;
use support::fake_discord::{self as fd, FakeDiscord};
use support::fake_slack::{APP_TOKEN, FakeSlack, TOKEN};
use support::slack_app::{SECRET, slash_envelope};

const REPLICAS: usize = 3;
/// Kills of whichever replica holds the gateway.
const KILLS: usize = 5;
/// The longest a duty may go without a holder after its holder dies.
const TAKEOVER: Duration = Duration::from_secs(5);

async fn until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

/// The replica whose `/readyz` says it leads `duty`, if exactly one does.
async fn holder(bots: &[Bot], duty: &str) -> Option<usize> {
    let mut found = vec![];
    for (i, b) in bots.iter().enumerate() {
        if !b.running() {
            continue;
        }
        let ready = b.readyz().await.unwrap_or_default();
        let leads = ready
            .lines()
            .find_map(|l| l.strip_prefix("leads "))
            .unwrap_or_default();
        if leads.split(", ").any(|d| d == duty) {
            found.push(i);
        }
    }
    assert!(found.len() <= 1, "{duty} led by replicas {found:?}");
    found.first().copied()
}

async fn wait_holder(bots: &[Bot], duty: &str) -> usize {
    let start = Instant::now();
    loop {
        if let Some(i) = holder(bots, duty).await {
            return i;
        }
        assert!(start.elapsed() < TAKEOVER, "nobody leads {duty}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Cluster {
    slack: FakeSlack,
    discord: FakeDiscord,
    bots: Vec<Bot>,
}

/// The key Discord signs interactions with in these tests.
fn discord_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[42u8; 32])
}

/// Three replicas on a fresh PostgreSQL, with `extra` added to the test config.
async fn cluster(extra: &str) -> Cluster {
    let (slack, saddr) = FakeSlack::start().await;
    let (discord, daddr) = FakeDiscord::start().await;
    let db = support::pg::fresh_database().await;
    let config = format!(
        "{}\n{extra}\n[discord]\nguild_id = \"{}\"\nincident_category = \"{}\"\n",
        support::CONFIG,
        fd::GUILD,
        fd::CATEGORY
    );
    let env = [
        ("SLACK_BOT_TOKEN", TOKEN.to_string()),
        ("SLACK_SIGNING_SECRET", SECRET.to_string()),
        ("SLACK_APP_TOKEN", APP_TOKEN.to_string()),
        ("SLACK_API_URL", format!("http://{saddr}/api")),
        ("DISCORD_BOT_TOKEN", fd::TOKEN.to_string()),
        ("DISCORD_APPLICATION_ID", fd::APP_ID.to_string()),
        ("DISCORD_API_URL", format!("http://{daddr}/api/v10")),
        (
            "DISCORD_PUBLIC_KEY",
            hex::encode(discord_key().verifying_key().to_bytes()),
        ),
    ];
    let mut bots: Vec<Bot> = (0..REPLICAS)
        .map(|_| Bot::new(&config, &db, &env))
        .collect();
    for b in &mut bots {
        b.start();
    }
    for b in &bots {
        b.ready().await;
    }
    Cluster {
        slack,
        discord,
        bots,
    }
}

impl Cluster {
    fn logs(&self) -> String {
        self.bots
            .iter()
            .enumerate()
            .map(|(i, b)| format!("--- replica {i}\n{}", b.logs()))
            .collect()
    }

    /// Socket Mode and the gateway were never open twice at once.
    fn never_held_twice(&self) {
        let (socket, gateway) = (self.slack.socket_live().1, self.discord.gateway_live().1);
        assert!(
            socket == 1 && gateway == 1,
            "at most {socket} Socket Mode and {gateway} gateway connections at once\n{}",
            self.logs()
        );
    }

    /// Both connections are open, once each.
    async fn both_held(&self) {
        until(TAKEOVER, "Socket Mode and the gateway held", || {
            self.slack.socket_live().0 == 1 && self.discord.gateway_live().0 == 1
        })
        .await;
    }

    /// A slash command over Socket Mode and one over the gateway are each answered once,
    /// by whoever holds the connections now.
    async fn both_answer(&self, round: usize) {
        let envelope = format!("env-{round}");
        self.slack
            .push(slash_envelope(&envelope, "U_ALICE", "C_GENERAL", "help"))
            .await;
        until(Duration::from_secs(5), "the Socket Mode ack", || {
            !self.slack.acks_for(&envelope).is_empty()
        })
        .await;
        let id = format!("13000000000000{round:05}");
        let before = self.discord.callbacks().len();
        self.discord.dispatch(
            "INTERACTION_CREATE",
            fd::command(&id, "100000000000000011", fd::GENERAL, "help", json!([])),
        );
        let answered = Instant::now();
        while self.discord.callbacks().len() <= before {
            assert!(
                answered.elapsed() < Duration::from_secs(5),
                "the gateway interaction {id} was not answered within 5 s\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(self.slack.acks_for(&envelope).len(), 1, "acked once");
        let answered = self
            .discord
            .callbacks()
            .iter()
            .filter(|(i, _)| *i == id)
            .count();
        assert_eq!(answered, 1, "answered once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_holds_each_connection_and_another_takes_over_when_it_dies() {
    let mut c = cluster("").await;
    c.both_held().await;
    c.both_answer(0).await;
    let mut takeovers = vec![];
    for round in 1..=KILLS {
        let leader = wait_holder(&c.bots, "discord-gateway").await;
        let identifies = c.discord.gateway_stats().1;
        let killed = Instant::now();
        c.bots[leader].kill();
        until(TAKEOVER, "another replica on the gateway", || {
            c.discord.gateway_stats().1 > identifies && c.discord.gateway_live().0 == 1
        })
        .await;
        takeovers.push(killed.elapsed());
        c.both_held().await;
        let next = wait_holder(&c.bots, "discord-gateway").await;
        assert_ne!(next, leader, "{}", c.logs());
        c.both_answer(round).await;
        c.bots[leader].start();
        c.bots[leader].ready().await;
    }
    // A replica stopped on purpose gives its leads up at once. (An interaction Discord
    // sends while the gateway changes hands is lost: a new session replays nothing.)
    let leader = wait_holder(&c.bots, "slack-socket-mode").await;
    let gateway_moves = wait_holder(&c.bots, "discord-gateway").await == leader;
    let connects = c.slack.socket_connects();
    let identifies = c.discord.gateway_stats().1;
    let stopped = Instant::now();
    assert!(c.bots[leader].terminate(), "{}", c.logs());
    until(TAKEOVER, "Socket Mode handed over", || {
        c.slack.socket_connects() > connects && c.slack.socket_live().0 == 1
    })
    .await;
    let handover = stopped.elapsed();
    let mut handovers = vec![("Socket Mode", handover)];
    if gateway_moves {
        until(TAKEOVER, "the gateway handed over", || {
            c.discord.gateway_stats().1 > identifies && c.discord.gateway_live().0 == 1
        })
        .await;
        handovers.push(("the gateway", stopped.elapsed()));
    }
    c.both_answer(KILLS + 1).await;
    // The metric says the same as /readyz.
    let leader = wait_holder(&c.bots, "slack-socket-mode").await;
    for (i, b) in c.bots.iter().enumerate().filter(|(_, b)| b.running()) {
        let url = format!("http://127.0.0.1:{}/metrics", b.port);
        let metrics = reqwest::get(&url).await.unwrap().text().await.unwrap();
        let line = format!(
            "sevbot_leading{{duty=\"slack-socket-mode\"}} {}",
            u8::from(i == leader)
        );
        assert!(metrics.contains(&line), "replica {i}: no {line}");
    }

    c.never_held_twice();
    let worst = takeovers.iter().max().unwrap();
    println!(
        "gateway takeovers after kill -9: {:?}; worst {worst:?}; hand-overs after SIGTERM: {handovers:?}",
        takeovers
    );
    for (what, took) in handovers {
        assert!(
            took < Duration::from_secs(2),
            "a clean stop hands {what} over without waiting for the lease: {took:?}"
        );
    }
}

/// A new database of `backend` (a SQLite file in `dir`).
async fn fresh_url(backend: support::Backend, dir: &std::path::Path) -> String {
    match backend {
        support::Backend::Sqlite => format!("sqlite://{}", dir.join("s.db").display()),
        support::Backend::Postgres => support::pg::fresh_database().await,
    }
}

/// The lease rule itself, on both backends: a held lease is refused to others, renewed by
/// its holder, taken over once it runs out or is given up; on PostgreSQL also at once
/// when its holder's session is gone, and never by a replica whose own session is gone.
#[tokio::test]
async fn a_lease_is_held_by_one_replica_and_taken_over_when_it_lapses_or_its_holder_dies() {
    use sevbot::store::{Store, leases, replicas};
    for backend in [support::Backend::Sqlite, support::Backend::Postgres] {
        let dir = tempfile::tempdir().unwrap();
        let url = fresh_url(backend, dir.path()).await;
        let store = Store::connect(&url).await.unwrap();
        let t = 1_000_000;
        let a = replicas::register(&store, "a", t).await.unwrap();
        let b = replicas::register(&store, "b", t).await.unwrap();
        let hold = |who: &'static str, now: i64| {
            let store = store.clone();
            async move {
                leases::hold(&store, "gateway", who, now, 3_000)
                    .await
                    .unwrap()
            }
        };
        assert!(hold("a", t).await, "{backend:?}: a free lease is taken");
        if backend == support::Backend::Postgres {
            assert!(!hold("b", t + 100).await, "held by a live replica");
        }
        assert!(hold("a", t + 1_000).await, "renewed by its holder");
        let held = leases::holders(&store, t + 1_000).await.unwrap();
        assert_eq!(held.len(), 1);
        assert_eq!((held[0].owner.as_str(), held[0].until_ms), ("a", t + 4_000));
        if backend == support::Backend::Postgres {
            assert!(!hold("b", t + 3_999).await, "not before it runs out");
        }
        assert!(
            hold("b", t + 4_001).await,
            "{backend:?}: taken once it ran out"
        );
        assert!(!hold("a", t + 4_002).await || backend == support::Backend::Sqlite);
        leases::release(&store, "gateway", "b").await.unwrap();
        if backend == support::Backend::Postgres {
            assert!(hold("a", t + 4_100).await, "given up: free at once");
            // a's process dies: its session goes, and b takes the lease at once.
            drop(a);
            let mut taken = false;
            for _ in 0..100 {
                if hold("b", t + 4_200).await {
                    taken = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(taken, "the lease of a replica whose session is gone");
            // A replica whose own session is gone cannot take one.
            assert!(!hold("a", t + 10_000).await, "a counts as dead");
            drop(b);
        }
    }
}

/// A rolling upgrade: a newer release has applied a migration this one does not know and
/// written an outbox row and a job in encodings this one cannot read. This release still
/// starts and is ready, and leaves those rows for a replica that understands them rather
/// than failing or firing them.
#[tokio::test]
async fn an_older_replica_starts_on_a_newer_schema_and_leaves_newer_rows_alone() {
    use sevbot::effects::{EFFECT_VERSION, Lane};
    use sevbot::engine::job::JOB_VERSION;
    use sevbot::store::{Store, jobs, outbox};
    for backend in [support::Backend::Sqlite, support::Backend::Postgres] {
        let dir = tempfile::tempdir().unwrap();
        let url = fresh_url(backend, dir.path()).await;
        let store = Store::connect(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             SELECT 9999, 'from a newer release', success, checksum, execution_time FROM _sqlx_migrations WHERE version = 1",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        let now = 1_000_000;
        let mut tx = store.begin().await.unwrap();
        let row = outbox::NewRow {
            platform: "slack",
            queue: "slack:page:alice",
            lane: Lane::Page,
            paced: false,
            effect: r#"{"kind":"from_the_future"}"#,
            version: EFFECT_VERSION + 1,
        };
        outbox::enqueue(&mut tx, &row, now).await.unwrap();
        jobs::schedule(
            &mut tx,
            "from_the_future",
            None,
            now,
            "{}",
            JOB_VERSION + 1,
            now,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        drop(store);

        let older = Store::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{backend:?}: refused a newer schema: {e:#}"));
        older.ready().await.expect("ready on a newer schema");
        let later = now + 60_000;
        let claimed = outbox::claim(&older, "older", later, 4_000, 10, &[])
            .await
            .unwrap();
        assert!(claimed.is_empty(), "{backend:?}: claimed a newer row");
        assert_eq!(outbox::next_due(&older, &[]).await.unwrap(), None);
        let due = jobs::claim_due(&older, "older", later, 4_000, 10)
            .await
            .unwrap();
        assert!(due.is_empty(), "{backend:?}: claimed a newer job");
        assert_eq!(jobs::next_due(&older).await.unwrap(), None);
        let (pending, _) = outbox::pending(&older).await.unwrap();
        assert_eq!(pending, 1, "kept for a newer replica, not failed");
    }
}

/// Two replicas handle a command on the same SEV at the same instant: each decides on the
/// SEV as the other left it (the row is locked when read), so one moves it to mitigated
/// and the other is told it already is — never two moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_deciding_on_one_sev_see_each_others_change() {
    let a = support::TestApp::new(support::Backend::Postgres).await;
    let b = a.restart("replica-b").await;
    const SEVS: usize = 8;
    for n in 1..=SEVS {
        let r = a
            .cmd(
                "U_ALICE",
                "general",
                &format!("declare availability 2 Race {n} --new"),
            )
            .await;
        assert!(
            r.text.starts_with(&format!("SEV-{n} declared")),
            "{}",
            r.text
        );
    }
    for n in 1..=SEVS {
        let text = format!("SEV-{n} mitigated");
        let (ra, rb) = tokio::join!(
            a.cmd("U_ALICE", "general", &text),
            b.cmd("U_ALICE", "general", &text)
        );
        let moved = [&ra, &rb]
            .iter()
            .filter(|r| !r.text.contains("already"))
            .count();
        assert_eq!(moved, 1, "SEV-{n}: {:?} / {:?}", ra.text, rb.text);
    }
    let moves: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM incident_events WHERE kind = 'stage_changed' AND detail LIKE '%\"to\":\"mitigated\"%'",
    )
    .fetch_one(&a.engine.store.pool)
    .await
    .unwrap();
    assert_eq!(moves, SEVS as i64, "one move to mitigated per SEV");
}

/// The ladder of these SEVs: a minute after the first page hank, a minute later mia.
const SHORT_LADDER: &str = r#"
[[escalation_policies]]
name = "short"
levels = [2]
steps = [
  { after_minutes = 1, target = "person:hank" },
  { after_minutes = 2, target = "person:mia" },
]
"#;

/// Who is paged on Discord for a SEV nobody acknowledges: alice (IMOC), bob (TLOC), then
/// hank and mia (the ladder), by their Discord ids in the test config.
const DISCORD_PAGED: [&str; 4] = [
    "100000000000000011",
    "100000000000000012",
    "100000000000000024",
    "100000000000000023",
];

/// A load balancer in front of the replicas: each request goes to the next replica in
/// turn, and to the one after when that one is down (the same request again, as a proxy
/// retries it: Slack's trigger_id and Discord's interaction id make a repeat harmless).
struct Balancer {
    http: reqwest::Client,
    next: std::sync::atomic::AtomicUsize,
    ports: Vec<u16>,
}

impl Balancer {
    async fn post(
        &self,
        path: &str,
        ctype: &str,
        body: &str,
        sign: impl Fn(i64) -> Vec<(&'static str, String)>,
    ) {
        let start = Instant::now();
        loop {
            let n = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let port = self.ports[n % self.ports.len()];
            let ts = chrono::Utc::now().timestamp();
            let mut req = self
                .http
                .post(format!("http://127.0.0.1:{port}{path}"))
                .header("content-type", ctype)
                .timeout(Duration::from_secs(3))
                .body(body.to_string());
            for (k, v) in sign(ts) {
                req = req.header(k, v);
            }
            if let Ok(r) = req.send().await
                && r.status() == 200
            {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no replica answered {path}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn slack(&self, user: &str, text: &str) {
        let body = support::slack_app::slash_form(user, "C_GENERAL", text);
        let b = body.clone();
        self.post(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            &body,
            move |ts| {
                vec![
                    ("x-slack-request-timestamp", ts.to_string()),
                    (
                        "x-slack-signature",
                        sevbot::adapters::slack::verify::sign(SECRET.as_bytes(), ts, b.as_bytes()),
                    ),
                ]
            },
        )
        .await;
    }

    async fn discord(&self, interaction: &serde_json::Value) {
        let body = interaction.to_string();
        let b = body.clone();
        self.post(
            "/discord/interactions",
            "application/json",
            &body,
            move |ts| {
                vec![
                    ("x-signature-ed25519", fd::sign(&discord_key(), ts, &b)),
                    ("x-signature-timestamp", ts.to_string()),
                ]
            },
        )
        .await;
    }
}

/// Whether `text` names SEV-`n` (and not SEV-`n`0).
fn names_sev(text: &str, n: usize) -> bool {
    let tag = format!("SEV-{n}");
    text.match_indices(&tag).any(|(i, _)| {
        !text[i + tag.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

/// Three replicas behind a round-robin balancer while a random one is killed with -9 and
/// started again every two seconds, a hundred times (`CHAOS_KILLS` to change): SEVs are
/// declared over Slack and Discord HTTP, half of the Slack ones acknowledged, the others
/// climb a one-minute ladder. Every page is sent exactly once and each ladder step on
/// time (at most 5 s late), every SEV has one channel, and the gateway and Socket Mode are
/// never held twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_killed_a_hundred_times_lose_and_repeat_nothing() {
    const SLACK_SEVS: usize = 8;
    const DISCORD_SEVS: usize = 4;
    let kills: usize = std::env::var("CHAOS_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(100);
    let mut c = cluster(SHORT_LADDER).await;
    c.both_held().await;
    let lb = std::sync::Arc::new(Balancer {
        http: reqwest::Client::new(),
        next: Default::default(),
        ports: c.bots.iter().map(|b| b.port).collect(),
    });
    // The load: declares every 4 s (Slack SEVs get the odd numbers 1, 3, …, Discord
    // SEVs the even ones, in the order they are sent), the odd half of Slack's acked by
    // alice 15 s after.
    let load = {
        let lb = lb.clone();
        tokio::spawn(async move {
            let mut declared = vec![];
            let mut acks = vec![];
            let mut n = 0;
            for i in 0..SLACK_SEVS + DISCORD_SEVS {
                n += 1;
                let at = Instant::now();
                if i % 3 == 2 {
                    let id = format!("13100000000000{n:05}");
                    lb.discord(&fd::command(
                        &id,
                        "100000000000000014",
                        fd::GENERAL,
                        "declare",
                        json!([
                            { "name": "type", "type": 3, "value": "availability" },
                            { "name": "level", "type": 4, "value": 2 },
                            { "name": "title", "type": 3, "value": format!("Chaos {n}") },
                            { "name": "new", "type": 5, "value": true }
                        ]),
                    ))
                    .await;
                    declared.push((n, "discord", at));
                } else {
                    lb.slack("U_DAVE", &format!("declare availability 2 Chaos {n} --new"))
                        .await;
                    declared.push((n, "slack", at));
                    if declared.iter().filter(|d| d.1 == "slack").count() % 2 == 1 {
                        let lb = lb.clone();
                        acks.push((
                            n,
                            tokio::spawn(async move {
                                tokio::time::sleep(Duration::from_secs(15)).await;
                                lb.slack("U_ALICE", &format!("SEV-{n} ack")).await;
                            }),
                        ));
                    }
                }
                tokio::time::sleep(Duration::from_secs(4)).await;
            }
            let mut acked = vec![];
            for (n, task) in acks {
                task.await.unwrap();
                acked.push(n);
            }
            (declared, acked)
        })
    };
    // The chaos: kill -9 a random replica and start it again, every 2 s.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let started = Instant::now();
    for _ in 0..kills {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let victim = (seed % REPLICAS as u64) as usize;
        c.bots[victim].kill();
        c.bots[victim].start();
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let (declared, acked) = load.await.unwrap();
    eprintln!("{kills} kills in {:?}", started.elapsed());
    for b in &c.bots {
        b.ready().await;
    }
    // Every ladder has run out: wait for the outbox to empty.
    let last = declared.iter().map(|d| d.2).max().unwrap();
    let store = sevbot::store::Store::connect(&c.bots[0].db).await.unwrap();
    // The last ladder's last step is due two minutes after its declare.
    tokio::time::sleep_until((last + Duration::from_secs(130)).into()).await;
    support::until_outbox_empty(&store, Duration::from_secs(70), || c.logs()).await;
    let failed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status = 'failed'")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(failed, 0, "rows given up on\n{}", c.logs());
    let calls = c.slack.calls();
    let pages_to = |user: &str, n: usize| -> Vec<Instant> {
        calls
            .iter()
            .filter(|c| c.method == "chat.postMessage" && c.body["channel"] == user)
            .filter(|c| c.body["text"].as_str().is_some_and(|t| names_sev(t, n)))
            .map(|c| c.at)
            .collect()
    };
    let mut late = vec![];
    for (n, platform, at) in &declared {
        let prefix = format!("sev-{n}-chaos-{n}");
        if *platform == "discord" {
            let channels = c.discord.channels();
            let named = channels
                .iter()
                .filter(|(_, ch)| ch.name.starts_with(&prefix))
                .count();
            assert_eq!(named, 1, "SEV-{n}: {named} Discord channels");
            // Pages are DMs: IMOC and TLOC, then (never acknowledged) the whole ladder.
            for user in DISCORD_PAGED {
                let dm = format!("dm-{user}");
                let pages = channels
                    .values()
                    .filter(|ch| ch.name == dm)
                    .flat_map(|ch| ch.messages.values())
                    .filter(|m| names_sev(&m.to_string(), *n))
                    .count();
                assert_eq!(pages, 1, "SEV-{n}: Discord pages to {user}");
            }
            continue;
        }
        let named = c
            .slack
            .channel_names()
            .iter()
            .filter(|c| c.starts_with(&prefix))
            .count();
        assert_eq!(named, 1, "SEV-{n}: {named} Slack channels");
        for first in ["U_ALICE", "U_BOB"] {
            assert_eq!(
                pages_to(first, *n).len(),
                1,
                "SEV-{n}: pages to {first}\n{}",
                c.logs()
            );
        }
        let climbed = !acked.contains(n);
        for (person, minutes) in [("U_HANK", 1u64), ("U_MIA", 2)] {
            let pages = pages_to(person, *n);
            assert_eq!(
                pages.len(),
                usize::from(climbed),
                "SEV-{n}: pages to {person}"
            );
            if let Some(p) = pages.first() {
                let due = *at + Duration::from_secs(60 * minutes);
                assert!(*p >= due, "SEV-{n}: {person} paged early");
                late.push(*p - due);
            }
        }
    }
    let worst = late.iter().max().copied().unwrap_or_default();
    eprintln!(
        "ladder steps: {} fired, worst {worst:?} after due (from the declare request)",
        late.len()
    );
    assert!(!late.is_empty());
    assert!(
        worst <= Duration::from_secs(5),
        "a step fired {worst:?} late: {late:?}"
    );
    c.never_held_twice();
}

/// Discord answers one replica's post with a 429: the other replica holds back from that
/// bucket too (without calling Discord), while another channel's bucket stays open, and
/// posts again once the wait is over.
#[tokio::test]
async fn a_discord_rate_limit_one_replica_hit_holds_the_others_back() {
    use serenity::all::{ChannelId, LightMethod, Route};
    use sevbot::adapters::discord::rest::Rest;
    use sevbot::effects::DeliveryError;
    let (fake, addr) = FakeDiscord::start().await;
    let store = sevbot::store::Store::connect(&support::pg::fresh_database().await)
        .await
        .unwrap();
    let replica = || {
        let mut r = Rest::new(
            fd::TOKEN,
            &format!("http://{addr}/api/v10"),
            Duration::from_secs(5),
        )
        .unwrap();
        r.share_limits(
            store.clone(),
            std::sync::Arc::new(sevbot::clock::SystemClock),
        );
        r
    };
    let (a, b) = (replica(), replica());
    let general = ChannelId::new(fd::GENERAL.parse().unwrap());
    let post = |r: &'static Rest, channel: ChannelId| async move {
        r.call(
            "post",
            LightMethod::Post,
            Route::ChannelMessages {
                channel_id: channel,
            },
            Some(&json!({ "content": "hello" })),
        )
        .await
    };
    let (a, b): (&'static Rest, &'static Rest) = (Box::leak(Box::new(a)), Box::leak(Box::new(b)));
    fake.inject(
        "POST /channels/",
        fd::Fault::Http429 {
            retry_after: 2.0,
            global: false,
        },
    );
    assert!(matches!(
        post(a, general).await,
        Err(DeliveryError::Retry { after: Some(_), .. })
    ));
    let calls = fake.calls().len();
    match post(b, general).await {
        Err(DeliveryError::Retry {
            after: Some(wait), ..
        }) => assert!(
            wait > Duration::from_millis(1_000) && wait <= Duration::from_secs(2),
            "{wait:?}"
        ),
        other => panic!("the other replica posted into the limited bucket: {other:?}"),
    }
    assert_eq!(fake.calls().len(), calls, "nothing reached Discord");
    // Another channel is another bucket: that call goes out (to a channel the fake does
    // not know, so it is refused there).
    let _ = post(b, ChannelId::new(1_000_000_000_000_000_999)).await;
    assert_eq!(
        fake.calls().len(),
        calls + 1,
        "another bucket is not held back"
    );
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    post(b, general)
        .await
        .expect("free again once the wait is over");
}
