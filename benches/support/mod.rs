//! What the benchmarks share: signed Slack slash commands or Discord interactions sent at
//! a fixed rate, open loop (each request its own task, latency timed from its send, and
//! how late the generator sent it reported apart), the process's CPU time, and settings
//! from the environment.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer as _, SigningKey};
use sevbot::adapters::console;
use sevbot::adapters::discord::DiscordSettings;
use sevbot::adapters::slack::SlackSettings;
use sevbot::adapters::slack::verify::sign;
use sevbot::app::App;
use sevbot::clock::SystemClock;
use sevbot::config::RawConfig;

/// The app built for Slack (`token`, `secret`, Web API at `api_url`) on a fresh SQLite file
/// in `dir`, serving its HTTP endpoints; returns it with the slash command URL and the stop
/// switch of its server.
pub async fn slack_app(
    raw: RawConfig,
    dir: &std::path::Path,
    token: &str,
    secret: &str,
    api_url: String,
) -> (App, String, tokio::sync::watch::Sender<bool>) {
    let settings = SlackSettings {
        bot_token: token.into(),
        signing_secret: Some(secret.into()),
        app_token: None,
        api_url,
        call_timeout: Duration::from_secs(10),
    };
    let (app, base, stop) = serve(raw, dir, Some(settings), None).await;
    (app, format!("{base}/slack/commands"), stop)
}

/// Discord's side of a guild for the Discord benchmark.
pub const GUILD: &str = "1000000000000000001";
pub const APP_ID: &str = "1100000000000000000";

/// The app built for Discord HTTP interactions verified with `key`'s public half (REST API
/// at `api_url`), like `slack_app`; returns the interactions URL.
pub async fn discord_app(
    mut raw: RawConfig,
    dir: &std::path::Path,
    key: &SigningKey,
    api_url: String,
) -> (App, String, tokio::sync::watch::Sender<bool>) {
    raw.discord.guild_id = Some(GUILD.into());
    let settings = DiscordSettings {
        bot_token: Some("bench-token".into()),
        application_id: Some(APP_ID.into()),
        public_key: Some(hex::encode(key.verifying_key().to_bytes())),
        api_url,
        call_timeout: Duration::from_secs(10),
    };
    let (app, base, stop) = serve(raw, dir, None, Some(settings)).await;
    (app, format!("{base}/discord/interactions"), stop)
}

async fn serve(
    mut raw: RawConfig,
    dir: &std::path::Path,
    slack: Option<SlackSettings>,
    discord: Option<DiscordSettings>,
) -> (App, String, tokio::sync::watch::Sender<bool>) {
    raw.database.url = format!("sqlite://{}", dir.join("bench.db").display());
    let (cfg, problems) = sevbot::config::validate(raw);
    let cfg = cfg.unwrap_or_else(|| panic!("{problems:?}"));
    let out: console::Output = Arc::new(std::sync::Mutex::new(Box::new(std::io::sink())));
    let app = App::build(Arc::new(cfg), Arc::new(SystemClock), out, slack, discord)
        .await
        .unwrap();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    // Slack and Discord call from many addresses; one load generator must not meet the
    // per-source connection cap meant for a single abusive client.
    let limits = sevbot::http::Limits {
        max_connections_per_source: 0,
        ..Default::default()
    };
    let (addr, _) = sevbot::http::serve_with(app.router(), "127.0.0.1:0", stop, limits)
        .await
        .unwrap();
    (app, format!("http://{addr}"), stop_tx)
}

/// `/sev <sub>` with `options` as Discord sends it from `user` in `channel` (inside its
/// subcommand group when the command set puts it in one).
pub fn discord_command(
    id: u64,
    user: &str,
    channel: &str,
    sub: &str,
    options: serde_json::Value,
) -> String {
    use serde_json::json;
    let mut top = json!({ "name": sub, "type": 1, "options": options });
    if let Some(group) = sevbot::domain::command_set::SET
        .iter()
        .find(|s| s.name == sub)
        .and_then(|s| s.group)
    {
        top = json!({ "name": group.0, "type": 2, "options": [top] });
    }
    let perms = "2248473465835073";
    json!({
        "id": (1_300_000_000_000_000_000u64 + id).to_string(), "application_id": APP_ID,
        "type": 2, "version": 1, "token": format!("aW50ZXJhY3Rpb246{id}"), "locale": "en-US",
        "guild_id": GUILD, "channel_id": channel,
        "channel": { "id": channel, "type": 0, "guild_id": GUILD, "name": "general" },
        "member": { "user": { "id": user, "username": "bench", "discriminator": "0", "avatar": null },
                    "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": false,
                    "mute": false, "flags": 0, "permissions": perms },
        "app_permissions": perms, "entitlements": [],
        "data": { "id": "1200000000000000000", "name": "sev", "type": 1, "guild_id": GUILD,
                  "options": [ top ] },
    })
    .to_string()
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
    /// Requests go to each in turn (several replicas behind a round-robin balancer).
    urls: Vec<String>,
    signer: Arc<Signer>,
}

/// How each request is signed, as its platform does.
pub enum Signer {
    /// Slack: HMAC-SHA256 with the signing secret over `v0:timestamp:body`.
    Slack(String),
    /// Discord: Ed25519 over timestamp + body.
    Discord(SigningKey),
}

impl Signer {
    fn sign(&self, req: reqwest::RequestBuilder, body: &str) -> reqwest::RequestBuilder {
        let ts = chrono::Utc::now().timestamp();
        match self {
            Signer::Slack(secret) => req
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-slack-request-timestamp", ts.to_string())
                .header(
                    "x-slack-signature",
                    sign(secret.as_bytes(), ts, body.as_bytes()),
                ),
            Signer::Discord(key) => req
                .header("content-type", "application/json")
                .header("x-signature-timestamp", ts.to_string())
                .header(
                    "x-signature-ed25519",
                    hex::encode(key.sign(format!("{ts}{body}").as_bytes()).to_bytes()),
                ),
        }
    }
}

/// Latencies of one run, sorted.
pub struct Latencies {
    /// From each request's send to its whole answer.
    pub sorted: Vec<Duration>,
    /// How late the generator sent each request after its due instant, sorted: tokio's
    /// timer fires on whole milliseconds, so up to 1 ms of it is the timer's, not the
    /// server's; more than that is the generator starved of CPU (then the run is not the
    /// open loop it claims to be, and this says so).
    pub late: Vec<Duration>,
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

    /// The generator's lateness at quantile `q`.
    pub fn late(&self, q: f64) -> Duration {
        let n = self.late.len();
        self.late[((n as f64 * q) as usize).min(n - 1)]
    }
}

impl Load {
    /// Slash commands to `url` (`/slack/commands`), signed with `secret`.
    pub fn new(url: String, secret: &str) -> Load {
        Load::signed(url, Signer::Slack(secret.into()))
    }

    /// Requests to `url` signed by `signer`.
    pub fn signed(url: String, signer: Signer) -> Load {
        Load::spread(vec![url], signer)
    }

    /// Requests to each of `urls` in turn, signed by `signer`.
    pub fn spread(urls: Vec<String>, signer: Signer) -> Load {
        Load {
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()
                .unwrap(),
            urls,
            signer: Arc::new(signer),
        }
    }

    /// Sends `body(i)` (a slash command or interaction) `rate` times a second for `seconds`.
    pub async fn run(&self, rate: u64, seconds: u64, body: impl Fn(u64) -> String) -> Latencies {
        let total = rate * seconds;
        let interval = Duration::from_nanos(1_000_000_000 / rate);
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(total as usize);
        for i in 0..total {
            let due = start + interval * i as u32;
            tokio::time::sleep_until(due.into()).await;
            let client = self.client.clone();
            let url = self.urls[i as usize % self.urls.len()].clone();
            let signer = self.signer.clone();
            let body = body(i);
            tasks.push(tokio::spawn(async move {
                // Timed from the send, not from `due`: each request is its own task, so a
                // slow server never holds a later send back (no coordinated omission);
                // how late the send itself was is kept apart.
                let sent = Instant::now();
                let r = signer
                    .sign(client.post(&url), &body)
                    .body(body)
                    .send()
                    .await;
                // A connection refused or closed when the server sheds load counts as not
                // answered, like a 503.
                let ok = match r {
                    Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                (sent.elapsed(), sent - due, ok)
            }));
        }
        let mut sorted = Vec::with_capacity(tasks.len());
        let mut late = Vec::with_capacity(tasks.len());
        let mut refused = 0;
        for t in tasks {
            let (latency, behind, ok) = t.await.unwrap();
            sorted.push(latency);
            late.push(behind);
            refused += usize::from(!ok);
        }
        let elapsed = start.elapsed();
        sorted.sort();
        late.sort();
        Latencies {
            refused,
            late,
            achieved: sorted.len() as f64 / elapsed.as_secs_f64(),
            sorted,
            elapsed,
        }
    }
}

/// A run is sustained when every request was answered 200, at 95% of its rate or more,
/// with p99 under 100 ms.
pub fn sustained(lat: &Latencies, rate: u64) -> bool {
    lat.refused == 0
        && lat.achieved >= rate as f64 * 0.95
        && lat.p(0.99) < Duration::from_millis(100)
}

/// The rates to try (`BENCH_RATES`, default 200, 1,000 and 5,000 a second).
pub fn rates() -> Vec<u64> {
    std::env::var("BENCH_RATES")
        .ok()
        .map(|r| r.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![200, 1000, 5000])
}

/// Declares SEV-1 through `load` (Slack), the SEV the benchmarks' notes go to.
pub async fn declare_first(load: &Load) {
    let first = load
        .run(1, 1, |_| {
            "team_id=T1&channel_id=C1&user_id=U1&command=%2Fsev&text=declare+availability+2+Bench&trigger_id=t.0".to_string()
        })
        .await;
    assert_eq!(first.refused, 0, "the first declare was not answered 200");
}

/// The i-th timeline note on SEV-1, as a Slack slash command.
pub fn slack_note(i: u64) -> String {
    format!(
        "team_id=T1&channel_id=C1&user_id=U1&command=%2Fsev&text=SEV-1+timeline+note+step+{i}&trigger_id=n.{i}"
    )
}

/// The i-th declare, as a Slack slash command.
pub fn slack_declare(i: u64) -> String {
    format!(
        "team_id=T1&channel_id=C1&user_id=U1&command=%2Fsev&text=declare+availability+2+Bench+{i}+--new&trigger_id=d.{i}"
    )
}

/// A kind of request: its name and its body for the i-th request.
pub type Kind = (&'static str, fn(u64) -> String);

/// Each kind at each rate for `BENCH_SECONDS` (default 3): prints p50/p99/max per run and
/// the highest rate each kind sustained, lines prefixed with `bench`.
pub async fn matrix(bench: &str, load: &Load, kinds: &[Kind]) {
    let seconds = env("BENCH_SECONDS", 3);
    let rates = rates();
    for (name, body) in kinds {
        let mut best = None;
        for &rate in &rates {
            let lat = load.run(rate, seconds, body).await;
            println!(
                "{bench} {name:<24} {rate:>5}/s: achieved {:>6.0}/s  p50 {:>9.2?}  p99 {:>9.2?}  max {:>9.2?}  not 200: {}  (sends late p99 {:.2?})",
                lat.achieved,
                lat.p(0.50),
                lat.p(0.99),
                lat.max(),
                lat.refused,
                lat.late(0.99),
            );
            if sustained(&lat, rate) {
                best = Some(rate);
            }
            // Let a backlog from an overloaded run drain before the next.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        match best {
            Some(r) => println!("{bench} {name}: sustained up to {r}/s of those tried"),
            None => println!("{bench} {name}: none of the rates tried was sustained"),
        }
    }
}

/// How many SEVs the run stored, with the target it is judged by.
pub async fn report_stored(bench: &str, app: &App) {
    let sevs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sevs")
        .fetch_one(&app.engine.store.pool)
        .await
        .unwrap();
    println!("{bench}: {sevs} SEVs stored (target p99 <= 2 ms at 1,000 durable commands/s)");
}

/// `BENCH_LOAD_IN_PROCESS` set: the load generator runs in sevbot's own process and
/// runtime instead (how the figures before 2026-12-02 were taken).
pub fn load_in_process() -> bool {
    std::env::var_os("BENCH_LOAD_IN_PROCESS").is_some()
}

/// Set in the load generator's process: the URL to load.
const LOAD_URL: &str = "BENCH_LOAD_URL";

/// In the load generator's process, the URL it is to load.
pub fn load_url() -> Option<String> {
    std::env::var(LOAD_URL).ok()
}

/// Runs this benchmark's own executable again as the load generator against `url` and
/// waits for it: like an outside load tool, it has its own runtime and threads, so what
/// it costs to send requests and time them is not counted as sevbot's work (the two
/// processes still share the machine's cores).
pub async fn load_from_child(url: &str) {
    let exe = std::env::current_exe().unwrap();
    let status = tokio::process::Command::new(exe)
        .env(LOAD_URL, url)
        .status()
        .await
        .unwrap();
    assert!(status.success(), "the load generator failed: {status}");
}

/// What one fsync costs in `dir` (where the database is), from 200 appends of 4 KiB each
/// made durable: no durable command can be acknowledged faster than the commit's fsync,
/// so this is the floor under its latency. Prints and returns (p50, p99).
pub fn fsync_floor(bench: &str, dir: &std::path::Path) -> (Duration, Duration) {
    use std::io::Write;
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path).unwrap();
    let mut took: Vec<Duration> = (0..200)
        .map(|_| {
            f.write_all(&[0u8; 4096]).unwrap();
            let t = Instant::now();
            f.sync_data().unwrap();
            t.elapsed()
        })
        .collect();
    std::fs::remove_file(&path).unwrap();
    took.sort();
    let (p50, p99) = (took[100], took[198]);
    println!("{bench}: one fsync where the database lives: p50 {p50:.2?}, p99 {p99:.2?}");
    (p50, p99)
}
