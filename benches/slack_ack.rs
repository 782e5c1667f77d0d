//! Signed Slack slash commands, each acknowledged with its durable write (a declare: SEV
//! row, timeline, jobs and outbox in one SQLite transaction), sent at a fixed rate against
//! the real HTTP endpoint. Prints latency percentiles; `cargo bench --bench slack_ack`.
//! Target on a 2-core machine: p99 ≤ 2 ms at 1,000 requests/s.

mod support;

use sevbot::config::{self, RawConfig};

const SECRET: &str = "bench-signing-secret";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rate = support::env("BENCH_RATE", 1000);
    let seconds = support::env("BENCH_SECONDS", 5);
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
    let lat = load
        .run(rate, seconds, |i| {
            format!(
                "team_id=T1&channel_id=C1&user_id=U1&command=%2Fsev&text=declare+availability+2+Bench+{i}+--new&trigger_id=t.{i}"
            )
        })
        .await;
    let sevs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sevs")
        .fetch_one(&app.engine.store.pool)
        .await
        .unwrap();
    println!(
        "slack_ack: {} requests at {rate}/s in {:.2} s ({:.0}/s achieved); {sevs} SEVs stored",
        lat.sorted.len(),
        lat.elapsed.as_secs_f64(),
        lat.achieved
    );
    println!(
        "latency incl. durable write: p50 {:?}  p90 {:?}  p99 {:?}  max {:?}   (target p99 <= 2 ms)",
        lat.p(0.50),
        lat.p(0.90),
        lat.p(0.99),
        lat.max()
    );
}
