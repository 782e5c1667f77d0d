//! Signed Slack slash commands against the real HTTP endpoint, open loop at fixed rates,
//! each acknowledged only after its durable write is committed: a read-only command
//! (`help`), a timeline note (one durable write) and a declare (SEV row, timeline, ladder,
//! jobs and outbox), at 200, 1,000 and 5,000 requests/s. Prints p50/p99/max per run and the
//! highest rate each kind sustained. `cargo bench --bench slack_ack`. The load comes from
//! a second process (this executable again), as from an outside load tool.
//! Targets on a 2-core machine: durable commands at 1,000/s with p99 ≤ 2 ms, and ≥ 5,000
//! durable commands/s sustained.

mod support;

use sevbot::config;

const SECRET: &str = "bench-signing-secret";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Some(url) = support::load_url() {
        return load(url).await;
    }
    let dir = tempfile::tempdir().unwrap();
    // Nothing is delivered during the run: the outbox worker is not started.
    let (app, url, _stop) = support::slack_app(
        config::load_raw(None).unwrap(),
        dir.path(),
        "xoxb-bench",
        SECRET,
        "http://127.0.0.1:9/api".into(),
    )
    .await;
    support::fsync_floor("slack_ack", dir.path());
    if support::load_in_process() {
        load(url).await;
    } else {
        support::load_from_child(&url).await;
    }
    support::report_stored("slack_ack", &app).await;
}

/// The load generator's process.
async fn load(url: String) {
    let load = support::Load::new(url, SECRET);
    support::declare_first(&load).await;
    let kinds: [support::Kind; 3] = [
        ("help (read-only)", |i| {
            format!("team_id=T1&channel_id=C1&user_id=U1&command=%2Fsev&text=help&trigger_id=h.{i}")
        }),
        ("timeline note (durable)", support::slack_note),
        ("declare (durable)", support::slack_declare),
    ];
    support::matrix("slack_ack", &load, &kinds).await;
}
