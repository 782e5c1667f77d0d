//! Test harness: the real engine, store, outbox worker and scheduler on a fresh SQLite file
//! or a fresh PostgreSQL database, a manual clock, and a recording platform.
#![allow(dead_code)]

pub mod bot;
pub mod discord_app;
pub mod fake;
pub mod fake_discord;
pub mod fake_jira;
pub mod fake_slack;
pub mod pg;
pub mod slack_app;

use std::sync::Arc;
use std::time::Duration;

use sevbot::clock::ManualClock;
use sevbot::config::{self, Config};
use sevbot::delivery::Delivery;
use sevbot::engine::{Engine, Invocation, Reply};
use sevbot::scheduler::Scheduler;
use sevbot::store::Store;

pub use fake::{Call, Fake};

pub const PLATFORM: &str = "test";

/// 2026-03-02 10:00 UTC, a Monday.
pub const T0: i64 = 1_772_445_600_000;

pub const CONFIG: &str = r#"
admins = ["dave"]
execs = ["hank"]
[[people]]
id = "alice"
handles = { test = "U_ALICE", slack = "U_ALICE", discord = "100000000000000011" }
[[people]]
id = "bob"
handles = { test = "U_BOB", slack = "U_BOB", discord = "100000000000000012" }
[[people]]
id = "carol"
handles = { test = "U_CAROL", slack = "U_CAROL", discord = "100000000000000013" }
[[people]]
id = "dave"
handles = { test = "U_DAVE", slack = "U_DAVE", discord = "100000000000000014" }
# Security SEVs: IMOC ian, secondary jo, ian's manager mia, exec hank (the full ladder).
[[people]]
id = "ian"
manager = "mia"
handles = { test = "U_IAN", slack = "U_IAN", discord = "100000000000000021" }
[[people]]
id = "jo"
handles = { test = "U_JO", slack = "U_JO", discord = "100000000000000022" }
[[people]]
id = "mia"
handles = { test = "U_MIA", slack = "U_MIA", discord = "100000000000000023" }
[[people]]
id = "hank"
handles = { test = "U_HANK", slack = "U_HANK", discord = "100000000000000024" }
[[rotations]]
name = "security-imoc"
role = "imoc"
types = ["security"]
members = ["ian", "jo"]
start_date = "2026-01-05"
[[rotations]]
name = "imoc"
role = "imoc"
members = ["alice"]
start_date = "2026-01-05"
[[rotations]]
name = "tloc"
role = "tloc"
members = ["bob"]
start_date = "2026-01-05"
[[rotations]]
name = "bmoc"
role = "bmoc"
members = ["carol"]
start_date = "2026-01-05"
[reminders]
update_cadence_minutes = [15, 30, 60, 0]
"#;

/// Monitoring for the availability tests: three routes of the catalogue's buckets, SEVs
/// opened on the test platform.
pub const AVAILABILITY: &str = r#"
[availability]
platform = "test"
channel = "general"
confirm_minutes = 3
customer_updates = { platform = "test", channel = "customer-updates" }
[[availability.routes]]
id = "web-checkout"
pattern = "/api/checkout"
service = "billing"
bucket = "critical"
description = "paying for an order"
users_per_minute = 1200.0
[[availability.routes]]
id = "api-cart"
pattern = "/api/cart"
service = "billing"
bucket = "high"
description = "reviewing a cart"
users_per_minute = 300.0
[[availability.routes]]
id = "api-photos"
pattern = "/api/v1/photos"
service = "photos"
bucket = "medium"
description = "browsing photos"
users_per_minute = 900.0
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The test config as written, before validation (to edit it as an operator would).
pub fn test_raw_config(extra: &str) -> config::RawConfig {
    use figment::providers::{Format, Toml};
    figment::Figment::new()
        .merge(Toml::string(&format!("{CONFIG}\n{extra}")))
        .extract()
        .expect("test config parses")
}

pub fn test_config(extra: &str) -> Arc<Config> {
    let (cfg, problems) = config::validate(test_raw_config(extra));
    Arc::new(cfg.unwrap_or_else(|| panic!("test config invalid: {problems:?}")))
}

pub struct TestApp {
    pub url: String,
    pub engine: Engine,
    pub delivery: Arc<Delivery>,
    pub scheduler: Scheduler,
    pub clock: Arc<ManualClock>,
    pub fake: Arc<Fake>,
    /// This "process", registered as alive (dropping it is the process dying).
    pub registration: Option<sevbot::store::replicas::Registration>,
    _dir: Option<Arc<tempfile::TempDir>>,
}

impl TestApp {
    pub async fn new(backend: Backend) -> TestApp {
        Self::with_config(backend, "").await
    }

    pub async fn with_config(backend: Backend, extra: &str) -> TestApp {
        Self::with_clock(backend, extra, Arc::new(ManualClock::new(T0))).await
    }

    /// With a config built by the test (scenarios, say, which files bring).
    #[allow(dead_code)]
    pub async fn with_cfg(backend: Backend, cfg: Arc<Config>) -> TestApp {
        let app = Self::with_config(backend, "").await;
        let app2 = app.restart_with_config("replica-a", cfg).await;
        drop(app);
        app2
    }

    /// With a clock of the test's choosing (the wall clock's time, for tests beside real
    /// servers).
    pub async fn with_clock(backend: Backend, extra: &str, clock: Arc<ManualClock>) -> TestApp {
        let (url, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                (
                    format!("sqlite://{}", dir.path().join("sevbot.db").display()),
                    Some(Arc::new(dir)),
                )
            }
            Backend::Postgres => (pg::fresh_database().await, None),
        };

        let fake = Arc::new(Fake::new(PLATFORM));
        Self::assemble(url, dir, clock, fake, test_config(extra), "replica-a").await
    }

    async fn assemble(
        url: String,
        dir: Option<Arc<tempfile::TempDir>>,
        clock: Arc<ManualClock>,
        fake: Arc<Fake>,
        cfg: Arc<Config>,
        owner: &str,
    ) -> TestApp {
        let store = Store::connect(&url)
            .await
            .expect("store connects and migrates");
        let sinks = sevbot::adapters::sinks::configured(&cfg).expect("sinks");
        let engine = Engine::new(store.clone(), clock.clone(), cfg).with_sinks(&sinks);
        let delivery = Delivery::new(store, clock.clone(), vec![fake.clone()], owner.into())
            .with_sinks(sinks)
            .with_wakers(engine.wake_outbox.clone(), engine.wake_jobs.clone());
        // As at start-up: alive, and taking over the work of processes that are gone.
        let registration = delivery.recover().await.expect("start-up recovery");
        let scheduler = Scheduler::new(engine.clone(), owner.into());
        TestApp {
            url,
            engine,
            delivery: Arc::new(delivery),
            scheduler,
            clock,
            fake,
            registration: Some(registration),
            _dir: dir,
        }
    }

    /// The same database, clock and platform, as a freshly started process named `owner`.
    pub async fn restart(&self, owner: &str) -> TestApp {
        Self::assemble(
            self.url.clone(),
            self._dir.clone(),
            self.clock.clone(),
            self.fake.clone(),
            self.engine.cfg(),
            owner,
        )
        .await
    }

    /// Like `restart`, with a different configuration (an operator edited it).
    pub async fn restart_with_config(&self, owner: &str, cfg: Arc<Config>) -> TestApp {
        Self::assemble(
            self.url.clone(),
            self._dir.clone(),
            self.clock.clone(),
            self.fake.clone(),
            cfg,
            owner,
        )
        .await
    }

    pub async fn cmd(&self, user: &str, channel: &str, text: &str) -> Reply {
        let inv = Invocation::new(PLATFORM, user, channel);
        self.engine.handle(&inv, text).await
    }

    /// Delivers everything ready now.
    pub async fn deliver(&self) {
        self.delivery
            .drain(Duration::from_secs(20))
            .await
            .expect("delivery");
    }

    pub async fn tick(&self) -> usize {
        self.scheduler.tick().await.expect("scheduler tick")
    }

    pub fn advance_minutes(&self, m: u64) {
        self.clock.advance(Duration::from_secs(m * 60));
    }

    pub async fn pending_outbox(&self) -> i64 {
        sevbot::store::outbox::pending(&self.engine.store)
            .await
            .unwrap()
            .0
    }

    /// Pages go to PagerDuty too, at `url`, for people and rotations flagged in config.
    pub fn enable_pagerduty(&mut self, url: &str) {
        self.add_sink(Arc::new(
            sevbot::adapters::sinks::pagerduty::PagerDuty::new(url, "test-routing-key").unwrap(),
        ));
    }

    /// Registers a sink beside those the config switches on, as start-up would.
    pub fn add_sink(&mut self, sink: Arc<dyn sevbot::effects::Sink>) {
        let mut sinks = sevbot::adapters::sinks::configured(&self.engine.cfg()).unwrap();
        sinks.push(sink.clone());
        self.engine = self.engine.clone().with_sinks(&sinks);
        self.scheduler.engine = self.engine.clone();
        Arc::get_mut(&mut self.delivery)
            .expect("add sinks before the app is shared")
            .register_sink(sink);
    }

    pub fn posts_in(&self, channel: &str) -> Vec<String> {
        self.fake
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Post {
                    channel: ch, text, ..
                } if ch == channel => Some(text),
                _ => None,
            })
            .collect()
    }
}

/// A writer the test can read back: a console's screen, or everything logged.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Serves `router` on a free local port for the rest of the test; returns its address.
/// Waits until nothing is pending in the outbox of `store`; fails after `limit`, showing
/// `why()` (the processes' logs, say).
pub async fn until_outbox_empty(
    store: &sevbot::store::Store,
    limit: std::time::Duration,
    why: impl Fn() -> String,
) {
    let start = std::time::Instant::now();
    loop {
        let (pending, _) = sevbot::store::outbox::pending(store).await.unwrap();
        if pending == 0 {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "{pending} rows still pending:\n{}",
            why()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A local port nobody listens on now (for a child process to bind).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn serve(router: axum::Router) -> std::net::SocketAddr {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    // Never stopped: the server lives as long as the test's runtime.
    std::mem::forget(stop_tx);
    let (addr, _) = sevbot::http::serve(router, "127.0.0.1:0", stop)
        .await
        .expect("the test server binds a local port");
    addr
}

/// GETs `url` with a Bearer token and reads the answer as JSON (the read API).
#[allow(dead_code)]
pub async fn get_json(http: &reqwest::Client, url: &str, token: &str) -> serde_json::Value {
    let body = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"))
}

/// Runs an async test body against both storage backends.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)(Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)(Backend::Postgres).await
            }
        }
    };
}
