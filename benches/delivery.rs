//! Delivery under a backlog and a storm, with the real worker loop against the fake Slack
//! (its answers shaped like Slack's; one message a second per channel, as Slack allows):
//!
//! 1. acknowledgement latency of a durable command (`/sev SEV-1 note …`, signed, over
//!    HTTP, acked after its commit) at a fixed rate, with no backlog;
//! 2. 20,000 rows pending for one channel (delivered at Slack's one a second): the
//!    process's CPU over 10 s of otherwise idle time, and the same acknowledgement
//!    latency again;
//! 3. a storm of 5,000 alerts in one Alertmanager notification into one SEV: how fast
//!    they are stored, and how many channel messages they become.
//!
//! `cargo bench --bench delivery`; BENCH_RATE (default 200/s), BENCH_SECONDS (default 5).

mod support;
#[path = "../tests/support/mod.rs"]
mod test_support;

use figment::providers::Format;
use std::time::{Duration, Instant};

use support::{Load, cpu_seconds, env};

use sevbot::config::RawConfig;
use sevbot::domain::{EventKind, SevId, TimelineEvent};
use sevbot::effects::Effect;
use sevbot::engine::{Alert, AlertBatch};

const SECRET: &str = "bench-signing-secret";
const BACKLOG: usize = 20_000;
const STORM: usize = 5_000;

/// A durable command at `rate`, timed; `label` keeps the trigger ids of runs apart.
async fn acks(load: &Load, rate: u64, seconds: u64, label: &str) -> String {
    let lat = load
        .run(rate, seconds, |i| {
            format!(
                "team_id=T1&channel_id=C_GENERAL&user_id=U_ALICE&command=%2Fsev&text=SEV-2+timeline+note+{label}+{i}&trigger_id=bench.{label}.{i}"
            )
        })
        .await;
    format!(
        "{} commands at {rate}/s ({:.0}/s achieved): p50 {:?}  p99 {:?}  max {:?}",
        lat.sorted.len(),
        lat.achieved,
        lat.p(0.5),
        lat.p(0.99),
        lat.max()
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rate = env("BENCH_RATE", 200);
    let seconds = env("BENCH_SECONDS", 5);
    let (slack, slack_addr) = test_support::fake_slack::FakeSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let raw: RawConfig = figment::Figment::new()
        .merge(figment::providers::Toml::string(&format!(
            "{}\n[availability]\nplatform = \"slack\"\nchannel = \"C_GENERAL\"\n",
            test_support::CONFIG
        )))
        .extract()
        .unwrap();
    let (app, url, stop_tx) = support::slack_app(
        raw,
        dir.path(),
        test_support::fake_slack::TOKEN,
        SECRET,
        format!("http://{slack_addr}/api"),
    )
    .await;
    let stop = stop_tx.subscribe();
    let _workers = app.spawn_workers(&stop);
    let load = Load::new(url, SECRET);
    let store = app.engine.store.clone();
    let pending = || async { sevbot::store::outbox::pending(&store).await.unwrap().0 };

    // SEV-1 in Slack, where the backlog piles up in its channel; SEV-2 on the console,
    // which the commands note on (their own lines go out at once, not at Slack's pace).
    for (platform, user, title) in [
        ("slack", "U_DAVE", "Backlogged"),
        ("console", "dave", "Noted"),
    ] {
        let r = app
            .engine
            .handle(
                &sevbot::engine::Invocation::new(platform, user, "general"),
                &format!("declare durability 3 {title} --new"),
            )
            .await;
        assert!(r.text.contains("declared"), "{}", r.text);
    }
    while pending().await > 0 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    tokio::time::sleep(Duration::from_secs(10)).await;
    println!(
        "delivery: idle with nothing pending: {:.2}% of a core over 10 s",
        (cpu_seconds() - cpu0) / t0.elapsed().as_secs_f64() * 100.0
    );
    println!(
        "delivery: acks without a backlog:  {}",
        acks(&load, rate, seconds, "quiet").await
    );

    // The backlog: rows for one channel, delivered at Slack's one a second.
    let now = chrono::Utc::now().timestamp_millis();
    let mut tx = store.begin().await.unwrap();
    for i in 0..BACKLOG {
        let e = Effect::PostEvent {
            sev: SevId(1),
            event: TimelineEvent {
                at: now,
                actor: "dave".into(),
                event: EventKind::Note {
                    text: format!("backlog note {i}"),
                },
            },
        };
        sevbot::store::outbox::push(&mut tx, "slack", &e, now)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    app.engine.wake_outbox.notify_one();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    tokio::time::sleep(Duration::from_secs(10)).await;
    let share = (cpu_seconds() - cpu0) / t0.elapsed().as_secs_f64();
    println!(
        "delivery: idle with {} rows pending (one channel, sent at Slack's 1/s): {:.2}% of a core over 10 s (target < 3%)",
        pending().await,
        share * 100.0
    );
    println!(
        "delivery: acks with the backlog:   {}",
        acks(&load, rate, seconds, "backlog").await
    );

    // The storm: the first alert files a SEV, then 5,000 more in one notification.
    let alert = |i: usize| Alert {
        status: "firing".into(),
        labels: [
            ("alertname".to_string(), format!("Storm{i}")),
            ("severity".to_string(), "warning".to_string()),
        ]
        .into(),
        annotations: Default::default(),
        starts_at: "2026-03-02T10:00:00Z".into(),
        fingerprint: format!("s{i}"),
        measured: None,
    };
    let one = AlertBatch {
        version: "4".into(),
        group_key: "storm".into(),
        alerts: vec![alert(0)],
    };
    app.engine.alerts(&one).await.unwrap();
    let name = "sev-3-storm0";
    while slack.channel_id(name).is_none() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(12)).await;
    let ch = slack.channel_id(name).unwrap();
    let before = slack.messages(&ch).len();
    let batch = AlertBatch {
        version: "4".into(),
        group_key: "storm".into(),
        alerts: (1..=STORM).map(alert).collect(),
    };
    let t = Instant::now();
    let stored = app.engine.alerts(&batch).await.unwrap();
    let store_s = t.elapsed().as_secs_f64();
    let mut told = 0;
    while told < STORM && t.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        told = slack.messages(&ch)[before..]
            .iter()
            .filter_map(|m| m["text"].as_str())
            .map(|t| {
                t.split(' ')
                    .next()
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(1)
            })
            .sum();
    }
    let messages = slack.messages(&ch).len() - before;
    println!(
        "delivery: storm of {stored} alerts stored in {:.2} s ({:.0} alerts/s) and told in the channel in {messages} messages within {:.1} s",
        store_s,
        stored as f64 / store_s,
        t.elapsed().as_secs_f64()
    );
}
