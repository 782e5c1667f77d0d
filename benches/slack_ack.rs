//! Signed Slack slash commands against the real HTTP endpoint, open loop at fixed rates,
//! each acknowledged only after its durable write is committed: a read-only command
//! (`help`), a timeline note (one durable write) and a declare (SEV row, timeline, ladder,
//! jobs and outbox), at 200, 1,000 and 5,000 requests/s. Prints p50/p99/max per run and the
//! highest rate each kind sustained. `cargo bench --bench slack_ack`.
//! Targets on a 2-core machine: durable commands at 1,000/s with p99 ≤ 2 ms, and ≥ 5,000
//! durable commands/s sustained.

mod support;

use std::time::Duration;

use sevbot::config::{self, RawConfig};

const SECRET: &str = "bench-signing-secret";

/// A run is sustained when every request was answered 200, at 95% of its rate or more,
/// with p99 under 100 ms.
fn sustained(lat: &support::Latencies, rate: u64) -> bool {
    lat.refused == 0
        && lat.achieved >= rate as f64 * 0.95
        && lat.p(0.99) < Duration::from_millis(100)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds = support::env("BENCH_SECONDS", 3);
    let rates: Vec<u64> = std::env::var("BENCH_RATES")
        .ok()
        .map(|r| r.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![200, 1000, 5000]);
    let dir = tempfile::tempdir().unwrap();
    let raw: RawConfig = figment::Figment::new()
        .merge(figment::providers::Serialized::defaults(
            config::load_raw(None).unwrap(),
        ))
        .extract()
        .unwrap();
    // Nothing is delivered during the run: the outbox worker is not started.
    let (app, url, _stop) = support::slack_app(
        raw,
        dir.path(),
        "xoxb-bench",
        SECRET,
        "http://127.0.0.1:9/api".into(),
    )
    .await;
    let load = support::Load::new(url, SECRET);
    // The SEV the notes go to.
    load.run(1, 1, |_| {
        "team_id=T1&channel_id=C1&user_id=U1&command=%2Fsev&text=declare+availability+2+Bench&trigger_id=t.0".to_string()
    })
    .await;
    type Body = fn(u64) -> String;
    let kinds: [(&str, Body); 3] = [
        ("help (read-only)", |i| {
            format!("team_id=T1&channel_id=C1&user_id=U1&command=%2Fsev&text=help&trigger_id=h.{i}")
        }),
        ("timeline note (durable)", |i| {
            format!(
                "team_id=T1&channel_id=C1&user_id=U1&command=%2Fsev&text=SEV-1+timeline+note+step+{i}&trigger_id=n.{i}"
            )
        }),
        ("declare (durable)", |i| {
            format!(
                "team_id=T1&channel_id=C1&user_id=U1&command=%2Fsev&text=declare+availability+2+Bench+{i}+--new&trigger_id=d.{i}"
            )
        }),
    ];
    for (name, body) in kinds {
        let mut best = None;
        for &rate in &rates {
            let lat = load.run(rate, seconds, body).await;
            println!(
                "slack_ack {name:<24} {rate:>5}/s: achieved {:>6.0}/s  p50 {:>9.2?}  p99 {:>9.2?}  max {:>9.2?}  not 200: {}",
                lat.achieved,
                lat.p(0.50),
                lat.p(0.99),
                lat.max(),
                lat.refused
            );
            if sustained(&lat, rate) {
                best = Some(rate);
            }
            // Let a backlog from an overloaded run drain before the next.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        match best {
            Some(r) => println!("slack_ack {name}: sustained up to {r}/s of those tried"),
            None => println!("slack_ack {name}: none of the rates tried was sustained"),
        }
    }
    let sevs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sevs")
        .fetch_one(&app.engine.store.pool)
        .await
        .unwrap();
    println!("slack_ack: {sevs} SEVs stored (target p99 <= 2 ms at 1,000 durable commands/s)");
}
