//! What the benchmarks share: signed Slack slash commands sent at a fixed rate (latency
//! counted from when each was due, so a backlog counts against sevbot), the process's CPU
//! time, and settings from the environment.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use sevbot::adapters::console;
use sevbot::adapters::slack::SlackSettings;
use sevbot::adapters::slack::verify::sign;
use sevbot::app::App;
use sevbot::clock::SystemClock;
use sevbot::config::RawConfig;

/// The app built for Slack (`token`, `secret`, Web API at `api_url`) on a fresh SQLite file
/// in `dir`, serving its HTTP endpoints; returns it with the slash command URL and the stop
/// switch of its server.
pub async fn slack_app(
    mut raw: RawConfig,
    dir: &std::path::Path,
    token: &str,
    secret: &str,
    api_url: String,
) -> (App, String, tokio::sync::watch::Sender<bool>) {
    raw.database.url = format!("sqlite://{}", dir.join("bench.db").display());
    let (cfg, problems) = sevbot::config::validate(raw);
    let cfg = cfg.unwrap_or_else(|| panic!("{problems:?}"));
    let settings = SlackSettings {
        bot_token: token.into(),
        signing_secret: Some(secret.into()),
        app_token: None,
        api_url,
        call_timeout: Duration::from_secs(10),
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
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    // Slack calls from many addresses; one load generator must not meet the per-source
    // connection cap meant for a single abusive client.
    let limits = sevbot::http::Limits {
        max_connections_per_source: 0,
        ..Default::default()
    };
    let (addr, _) = sevbot::http::serve_with(app.router(), "127.0.0.1:0", stop, limits)
        .await
        .unwrap();
    (app, format!("http://{addr}/slack/commands"), stop_tx)
}

pub fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds this process has used (user + system), from /proc (ticks of 1/100 s).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields after the command name: state is 0, utime 11, stime 12.
    (ticks(11) + ticks(12)) / 100.0
}

pub struct Load {
    client: reqwest::Client,
    url: String,
    secret: String,
}

/// Latencies of one run, sorted.
pub struct Latencies {
    pub sorted: Vec<Duration>,
    /// Requests not answered 200 (the server shedding load: 503, 429, a closed connection).
    pub refused: usize,
    /// Requests per second achieved.
    pub achieved: f64,
    pub elapsed: Duration,
}

impl Latencies {
    pub fn p(&self, q: f64) -> Duration {
        let n = self.sorted.len();
        self.sorted[((n as f64 * q) as usize).min(n - 1)]
    }

    pub fn max(&self) -> Duration {
        self.sorted[self.sorted.len() - 1]
    }
}

impl Load {
    /// Slash commands to `url` (`/slack/commands`), signed with `secret`.
    pub fn new(url: String, secret: &str) -> Load {
        Load {
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()
                .unwrap(),
            url,
            secret: secret.into(),
        }
    }

    /// Sends `body(i)` (a form-encoded slash command) `rate` times a second for `seconds`.
    pub async fn run(&self, rate: u64, seconds: u64, body: impl Fn(u64) -> String) -> Latencies {
        let total = rate * seconds;
        let interval = Duration::from_nanos(1_000_000_000 / rate);
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(total as usize);
        for i in 0..total {
            let due = start + interval * i as u32;
            tokio::time::sleep_until(due.into()).await;
            let client = self.client.clone();
            let url = self.url.clone();
            let secret = self.secret.clone();
            let body = body(i);
            tasks.push(tokio::spawn(async move {
                let ts = chrono::Utc::now().timestamp();
                let sig = sign(secret.as_bytes(), ts, body.as_bytes());
                let r = client
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-slack-request-timestamp", ts.to_string())
                    .header("x-slack-signature", sig)
                    .body(body)
                    .send()
                    .await;
                // A connection refused or closed when the server sheds load counts as not
                // answered, like a 503.
                let ok = match r {
                    Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                (due.elapsed(), ok)
            }));
        }
        let mut sorted = Vec::with_capacity(tasks.len());
        let mut refused = 0;
        for t in tasks {
            let (latency, ok) = t.await.unwrap();
            sorted.push(latency);
            refused += usize::from(!ok);
        }
        let elapsed = start.elapsed();
        sorted.sort();
        Latencies {
            refused,
            achieved: sorted.len() as f64 / elapsed.as_secs_f64(),
            sorted,
            elapsed,
        }
    }
}
