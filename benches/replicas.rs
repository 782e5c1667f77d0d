//! Several replicas on one PostgreSQL: signed Slack slash commands spread round-robin over
//! 1, 2 and 3 replicas of the real binary (each a process of its own, as deployed), open
//! loop at fixed rates, on a PostgreSQL server that syncs every commit to disk. Prints
//! p50/p99/max per run and the highest rate each kind sustained with each replica count.
//! `cargo bench --bench replicas` (`BENCH_RATES`, `BENCH_SECONDS` as for `slack_ack`).
//! Slack's Web API is unreachable here, so what the commands post waits in the outbox with
//! backoff: the acks are measured, not delivery. Then the failover time of a leader: the
//! replica leading a duty (polling Prometheus here; the Discord gateway and Socket Mode
//! are held the same way) is killed with -9, and the time until another replica's
//! `/readyz` says it leads is measured (`BENCH_FAILOVERS`, default 10).

#[allow(dead_code)]
#[path = "../tests/support/pg.rs"]
mod pg;
mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SECRET: &str = "bench-signing-secret";

/// A replica of the real binary, killed when dropped.
struct Replica(Child);

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a replica on `db` serving on `port`.
fn replica(db: &str, port: u16, dir: &std::path::Path) -> Replica {
    replica_with(db, port, dir, &[])
}

fn replica_with(db: &str, port: u16, dir: &std::path::Path, env: &[(&str, &str)]) -> Replica {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/config/sevbot.toml");
    let child = Command::new(env!("CARGO_BIN_EXE_sevbot"))
        .args(["--config", config, "run", "--console", "off"])
        .current_dir(dir)
        .env("DATABASE_URL", db)
        .env("SEVBOT_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("SLACK_BOT_TOKEN", "xoxb-bench")
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("SLACK_API_URL", "http://127.0.0.1:9/api")
        .env("RUST_LOG", "error")
        .env_remove("SLACK_APP_TOKEN")
        .env_remove("DISCORD_BOT_TOKEN")
        .env_remove("DISCORD_PUBLIC_KEY")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sevbot");
    Replica(child)
}

async fn ready(port: u16) {
    let url = format!("http://127.0.0.1:{port}/readyz");
    for _ in 0..1000 {
        if reqwest::get(&url).await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("a replica did not become ready");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    for n in 1..=3 {
        let db = pg::fresh_durable_database().await;
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let _replicas: Vec<Replica> = ports.iter().map(|p| replica(&db, *p, dir.path())).collect();
        for p in &ports {
            ready(*p).await;
        }
        let urls = ports
            .iter()
            .map(|p| format!("http://127.0.0.1:{p}/slack/commands"))
            .collect();
        let load = support::Load::spread(urls, support::Signer::Slack(SECRET.into()));
        support::declare_first(&load).await;
        let kinds: [support::Kind; 2] = [
            ("timeline note (durable)", support::slack_note),
            ("declare (durable)", support::slack_declare),
        ];
        support::matrix(&format!("replicas={n}"), &load, &kinds).await;
    }
    failover(dir.path()).await;
}

/// Whether the replica on `port` says it leads `duty`.
async fn leads(port: u16, duty: &str) -> bool {
    let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await else {
        return false;
    };
    let body = r.text().await.unwrap_or_default();
    body.lines()
        .find_map(|l| l.strip_prefix("leads "))
        .is_some_and(|l| l.split(", ").any(|d| d == duty))
}

/// Kills the leader of Prometheus polling again and again; prints how long the duty went
/// without a leader each time.
async fn failover(dir: &std::path::Path) {
    const DUTY: &str = "prometheus-poll";
    let db = pg::fresh_durable_database().await;
    // Prometheus is unreachable; the duty is held all the same.
    let env = [("PROMETHEUS_URL", "http://127.0.0.1:9")];
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut replicas: Vec<Option<Replica>> = ports
        .iter()
        .map(|p| Some(replica_with(&db, *p, dir, &env)))
        .collect();
    for p in &ports {
        ready(*p).await;
    }
    let mut took = vec![];
    for _ in 0..support::env("BENCH_FAILOVERS", 10) {
        let leader = loop {
            let mut found = None;
            for (i, p) in ports.iter().enumerate() {
                if leads(*p, DUTY).await {
                    found = Some(i);
                }
            }
            if let Some(i) = found {
                break i;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let killed = std::time::Instant::now();
        replicas[leader] = None;
        'next: loop {
            for (i, p) in ports.iter().enumerate() {
                if i != leader && leads(*p, DUTY).await {
                    break 'next;
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        took.push(killed.elapsed());
        replicas[leader] = Some(replica_with(&db, ports[leader], dir, &env));
        ready(ports[leader]).await;
    }
    took.sort();
    println!(
        "replicas failover of a leader after kill -9 ({} kills): median {:.2?}, max {:.2?}",
        took.len(),
        took[took.len() / 2],
        took[took.len() - 1]
    );
}
