//! Signed Slack slash commands, each acknowledged with its durable write (a declare: SEV
//! row, timeline, jobs and outbox in one SQLite transaction), sent at a fixed rate against
//! the real HTTP endpoint. Prints latency percentiles; `cargo bench --bench slack_ack`.
//! Target on a 2-core machine: p99 ≤ 2 ms at 1,000 requests/s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sevbot::adapters::console;
use sevbot::adapters::slack::SlackSettings;
use sevbot::adapters::slack::verify::sign;
use sevbot::app::App;
use sevbot::clock::SystemClock;
use sevbot::config::{self, RawConfig};

const SECRET: &str = "bench-signing-secret";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rate: u64 = std::env::var("BENCH_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let mut raw: RawConfig = figment::Figment::new()
        .merge(figment::providers::Serialized::defaults(
            config::load_raw(None).unwrap(),
        ))
        .extract()
        .unwrap();
    raw.database.url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let (cfg, problems) = config::validate(raw);
    let cfg = cfg.unwrap_or_else(|| panic!("{problems:?}"));
    let settings = SlackSettings {
        bot_token: "xoxb-bench".into(),
        signing_secret: Some(SECRET.into()),
        app_token: None,
        // Nothing is delivered during the run: the outbox worker is not started.
        api_url: "http://127.0.0.1:9/api".into(),
        call_timeout: Duration::from_secs(1),
    };
    let out: console::Output = Arc::new(std::sync::Mutex::new(Box::new(std::io::sink())));
    let app = App::build(
        Arc::new(cfg),
        Arc::new(SystemClock),
        out,
        Some(settings),
        None,
    )
    .await
    .unwrap();
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let (addr, _) = sevbot::http::serve(app.router(), "127.0.0.1:0", stop)
        .await
        .unwrap();
    let url = format!("http://{addr}/slack/commands");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();

    let total = rate * seconds;
    let interval = Duration::from_nanos(1_000_000_000 / rate);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let client = client.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let body = format!(
                "team_id=T1&channel_id=C1&user_id=U1&command=%2Fsev&text=declare+availability+2+Bench+{i}+--new&trigger_id=t.{i}"
            );
            let ts = chrono::Utc::now().timestamp();
            let sig = sign(SECRET.as_bytes(), ts, body.as_bytes());
            // Latency from when the request was due, so a backlog counts against us.
            let r = client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-slack-request-timestamp", ts.to_string())
                .header("x-slack-signature", sig)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let _ = r.bytes().await;
            due.elapsed()
        }));
    }
    let mut lat: Vec<Duration> = Vec::with_capacity(tasks.len());
    for t in tasks {
        lat.push(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    let sevs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sevs")
        .fetch_one(&app.engine.store.pool)
        .await
        .unwrap();
    println!(
        "slack_ack: {} requests at {rate}/s in {:.2} s ({:.0}/s achieved); {sevs} SEVs stored",
        lat.len(),
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency incl. durable write: p50 {:?}  p90 {:?}  p99 {:?}  max {:?}   (target p99 <= 2 ms)",
        p(0.50),
        p(0.90),
        p(0.99),
        lat[lat.len() - 1]
    );
}
