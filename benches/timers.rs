//! Timer accuracy with 100,000 jobs pending: 1,000 jobs fall due over ten seconds while
//! 99,000 wait far in the future; the real scheduler loop fires them. Prints how late each
//! fired (`done_at - due_at`); `cargo bench --bench timers`. Target: within 100 ms of due.

use std::sync::Arc;
use std::time::Duration;

use sevbot::clock::{Clock, SystemClock};
use sevbot::config::{self, RawConfig};
use sevbot::engine::{Engine, Job};
use sevbot::scheduler::Scheduler;
use sevbot::store::Store;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let pending: i64 = std::env::var("BENCH_PENDING")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let due_soon: i64 = 1_000;
    let dir = tempfile::tempdir().unwrap();
    let mut raw: RawConfig = config::load_raw(None).unwrap();
    raw.database.url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let (cfg, problems) = config::validate(raw);
    let cfg = Arc::new(cfg.unwrap_or_else(|| panic!("{problems:?}")));
    let store = Store::connect(&cfg.database.url).await.unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let engine = Engine::new(store.clone(), clock.clone(), cfg);
    let now = clock.now_ms();
    let mut tx = store.begin().await.unwrap();
    for i in 0..pending - due_soon {
        // A reminder for a SEV that does not exist: fires and does nothing, like a real
        // job that finds its SEV closed.
        Job::UpdateReminder { repeat: 0 }
            .schedule(&mut tx, None, now + 86_400_000 + i, now)
            .await
            .unwrap();
    }
    // Due from two seconds after the set-up, however long the set-up took.
    let start = clock.now_ms() + 2_000;
    for i in 0..due_soon {
        Job::UpdateReminder { repeat: 0 }
            .schedule(&mut tx, None, start + i * 10, now)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let scheduler = Arc::new(Scheduler::new(engine, "bench".into()));
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(scheduler.run(Duration::from_secs(1), stop));
    tokio::time::sleep(Duration::from_millis(
        (start - clock.now_ms() + due_soon * 10 + 1_000) as u64,
    ))
    .await;
    let _ = stop_tx.send(true);
    let _ = task.await;
    let mut late: Vec<i64> = sqlx::query_scalar(
        "SELECT done_at - due_at FROM jobs WHERE done_at IS NOT NULL AND cancelled = 0",
    )
    .fetch_all(&store.pool)
    .await
    .unwrap();
    late.sort();
    let p = |q: f64| late[((late.len() as f64 * q) as usize).min(late.len() - 1)];
    println!(
        "timers: {} of {due_soon} due jobs fired with {pending} pending; lateness p50 {} ms, p99 {} ms, max {} ms (target ≤ 100 ms)",
        late.len(),
        p(0.5),
        p(0.99),
        late.last().unwrap()
    );
}
