//! The outbox: effects written in the same transaction as the state change, delivered later
//! by the worker. Rows in one queue (a channel, a person's pages) are delivered strictly in
//! order, so only a queue's oldest pending row — its head — can be claimed. `head` marks it,
//! and a partial index over heads makes claiming cost what the ready queues cost, however
//! many rows wait behind them.
//!
//! On PostgreSQL a row enqueued while its queue's last row is being finished could miss
//! both the head mark (it saw that row pending) and the promotion (the finisher did not
//! see it yet). Finishing takes the queue's advisory lock first; an enqueuer tries it
//! shared without waiting: if it gets it, the finisher waits for its commit and then sees
//! the new row; if not, a finisher is at work and the new row is marked head at once (the
//! claim never takes a head while an older row of its queue is pending). Nobody waits on
//! an enqueuer while holding something it needs, so this cannot deadlock.
//!
//! A claimed row carries a short lease its worker renews while the call is in flight. A row
//! claimed again after its lease ran out (or taken over from a process that is gone) is in
//! *doubt*: its last attempt may have taken effect, so the worker reconciles first.

use sqlx::{AssertSqlSafe, Row};

use super::{Conn, Store, is_postgres as postgres};
use crate::domain::SevId;
use crate::effects::{EFFECT_VERSION, Effect, Lane};

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub platform: String,
    pub queue: String,
    pub effect: String,
    pub version: i64,
    /// Attempts including this one.
    pub attempts: i64,
    /// An earlier attempt's outcome was never observed.
    pub doubt: bool,
    pub lane: Lane,
    pub created_at: i64,
    /// The last row an earlier attempt folded into this one's message.
    pub fold_upto: Option<i64>,
}

const ROW_COLUMNS: &str =
    "id, platform, queue, effect, version, attempts, doubt, priority, created_at, fold_upto";

fn from_row(r: &sqlx::any::AnyRow) -> anyhow::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.try_get("id")?,
        platform: r.try_get("platform")?,
        queue: r.try_get("queue")?,
        effect: r.try_get("effect")?,
        version: r.try_get("version")?,
        attempts: r.try_get("attempts")?,
        doubt: r.try_get::<i64, _>("doubt")? != 0,
        lane: Lane::from_i64(r.try_get("priority")?),
        created_at: r.try_get("created_at")?,
        fold_upto: r.try_get("fold_upto")?,
    })
}

/// Queues `effect` for `platform` (a chat platform or a sink) on its own queue and lane.
/// Inside a piece of group-commit work (`holding`) the row is held and written with the
/// piece's other rows in one statement when the piece ends, still in its transaction.
pub async fn push(
    conn: &mut Conn,
    platform: &str,
    effect: &Effect,
    now: i64,
) -> anyhow::Result<()> {
    let (queue, lane) = effect.route(platform);
    let row = NewRow {
        platform,
        queue: &queue,
        lane,
        paced: effect.pace_key(platform).is_some(),
        effect: &effect.encode()?,
        version: EFFECT_VERSION,
    };
    let held = HELD.try_with(|h| {
        h.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Held::of(&row, now))
    });
    if held.is_err() {
        enqueue(conn, &row, now).await?;
    }
    Ok(())
}

tokio::task_local! {
    /// The rows pushed by the piece of work running in this task, while it is `holding`.
    static HELD: std::sync::Arc<std::sync::Mutex<Vec<Held>>>;
}

/// A row pushed while `holding`, waiting for `write_held`.
pub struct Held {
    platform: String,
    queue: String,
    lane: Lane,
    paced: bool,
    effect: String,
    version: i64,
    now: i64,
}

impl Held {
    fn of(row: &NewRow<'_>, now: i64) -> Held {
        Held {
            platform: row.platform.into(),
            queue: row.queue.into(),
            lane: row.lane,
            paced: row.paced,
            effect: row.effect.into(),
            version: row.version,
            now,
        }
    }
}

/// Runs `work`, holding back the outbox rows it pushes; returns its output and those rows,
/// in the order pushed, for `write_held` in the same transaction. A command's dozen
/// effects become one statement instead of a dozen round trips while the writer holds the
/// database.
pub async fn holding<F: std::future::Future>(work: F) -> (F::Output, Vec<Held>) {
    let held = std::sync::Arc::default();
    let out = HELD.scope(std::sync::Arc::clone(&held), work).await;
    let rows = std::mem::take(&mut *held.lock().unwrap_or_else(|p| p.into_inner()));
    (out, rows)
}

/// Rows in one multi-row insert: far below SQLite's 32,766 bound parameters.
const HELD_PER_STATEMENT: usize = 500;

/// Writes rows held by `holding`, in order, as `enqueue` would one by one: the first row
/// of each queue is its head when nothing else is pending there (or, on PostgreSQL, when
/// the queue's head is being finished); the rest of that queue wait behind it.
pub async fn write_held(conn: &mut Conn, rows: Vec<Held>) -> anyhow::Result<()> {
    let mut seen = std::collections::HashSet::new();
    // Per row: None behind an earlier row of its queue, else whether its queue is being
    // finished (asked once per queue, before the insert, as `enqueue` does).
    let mut first: Vec<Option<bool>> = Vec::with_capacity(rows.len());
    for row in &rows {
        first.push(if seen.insert(row.queue.as_str()) {
            Some(finishing(conn, &row.queue).await?)
        } else {
            None
        });
    }
    for (rows, first) in rows
        .chunks(HELD_PER_STATEMENT)
        .zip(first.chunks(HELD_PER_STATEMENT))
    {
        let mut sql = String::from(
            "INSERT INTO outbox (platform, queue, effect, created_at, next_attempt_at, priority, paced, version, head) VALUES ",
        );
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        for (i, f) in first.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let cols: Vec<String> = (0..8).map(|_| next()).collect();
            let head = match f {
                Some(_) => format!(
                    "CASE WHEN {} = 1 OR NOT EXISTS (SELECT 1 FROM outbox WHERE queue = {} AND status = 'pending') THEN 1 ELSE 0 END",
                    next(),
                    next()
                ),
                None => "0".into(),
            };
            sql.push_str(&format!("({}, {head})", cols.join(", ")));
        }
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (row, f) in rows.iter().zip(first) {
            q = q
                .bind(row.platform.as_str())
                .bind(row.queue.as_str())
                .bind(row.effect.as_str())
                .bind(row.now)
                .bind(row.now)
                .bind(row.lane as i64)
                .bind(i64::from(row.paced))
                .bind(row.version);
            if let Some(finishing) = f {
                q = q.bind(i64::from(*finishing)).bind(row.queue.as_str());
            }
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Whether `queue`'s head is being finished right now (PostgreSQL: its advisory lock is
/// held; see the module's comment). SQLite's single writer never overlaps.
async fn finishing(conn: &mut Conn, queue: &str) -> anyhow::Result<bool> {
    Ok(postgres(conn)
        && !sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_xact_lock_shared(hashtext($1))")
            .bind(queue)
            .fetch_one(&mut *conn)
            .await?)
}

/// A row to queue: where it goes and what it carries.
#[derive(Debug, Clone, Copy)]
pub struct NewRow<'a> {
    pub platform: &'a str,
    pub queue: &'a str,
    pub lane: Lane,
    /// A message into a channel: it waits for the channel's pacing slot.
    pub paced: bool,
    pub effect: &'a str,
    pub version: i64,
}

/// Takes `queue`'s lock for finishing its head (PostgreSQL; SQLite's single writer needs
/// none). Call it first in the transaction.
pub async fn lock_queue(conn: &mut Conn, queue: &str) -> anyhow::Result<()> {
    if postgres(conn) {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(queue)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// A row at the end of its queue, due at `now`; it is the queue's head when nothing else
/// is pending there (or, on PostgreSQL, when the queue's head is being finished).
pub async fn enqueue(conn: &mut Conn, row: &NewRow<'_>, now: i64) -> anyhow::Result<i64> {
    let finishing = finishing(conn, row.queue).await?;
    Ok(sqlx::query_scalar(
        "INSERT INTO outbox (platform, queue, effect, created_at, next_attempt_at, priority, paced, version, head) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
           CASE WHEN $9 = 1 OR NOT EXISTS (SELECT 1 FROM outbox WHERE queue = $10 AND status = 'pending') THEN 1 ELSE 0 END) \
         RETURNING id",
    )
    .bind(row.platform)
    .bind(row.queue)
    .bind(row.effect)
    .bind(now)
    .bind(now)
    .bind(row.lane as i64)
    .bind(i64::from(row.paced))
    .bind(row.version)
    .bind(i64::from(finishing))
    .bind(row.queue)
    .fetch_one(conn)
    .await?)
}

/// Claims the heads of up to `limit` queues that are due now and not leased (or whose
/// lease ran out), pages first. `full` lists (platform, lane is pages) pairs with no free
/// capacity, whose rows are left alone.
pub async fn claim(
    store: &Store,
    owner: &str,
    now: i64,
    lease_ms: i64,
    limit: i64,
    full: &[(String, bool)],
) -> anyhow::Result<Vec<OutboxRow>> {
    let filter = lanes_filter(full, 6);
    let sql = format!(
        "UPDATE outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, \
           doubt = CASE WHEN lease_owner IS NULL THEN doubt ELSE 1 END \
         WHERE id IN (\
           SELECT o.id FROM outbox o WHERE o.status = 'pending' AND o.head = 1 AND o.next_attempt_at <= $3 \
           AND o.version <= {EFFECT_VERSION} AND (o.lease_until IS NULL OR o.lease_until < $4) \
           AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.status = 'pending' AND p.queue = o.queue AND p.id < o.id){filter} \
           ORDER BY o.priority, o.next_attempt_at, o.id LIMIT $5 {}) \
         RETURNING {ROW_COLUMNS}",
        store.skip_locked()
    );
    let mut q = sqlx::query(AssertSqlSafe(sql))
        .bind(owner)
        .bind(now + lease_ms)
        .bind(now)
        .bind(now)
        .bind(limit);
    for (platform, _) in full {
        q = q.bind(platform.as_str());
    }
    let rows = q.fetch_all(&store.pool).await?;
    let mut out: Vec<OutboxRow> = rows.iter().map(from_row).collect::<anyhow::Result<_>>()?;
    out.sort_by_key(|r| (r.lane, r.id));
    Ok(out)
}

/// The pending rows waiting behind `head` in its queue, oldest first (a storm to fold).
pub async fn followers(
    store: &Store,
    queue: &str,
    head: i64,
    limit: i64,
) -> anyhow::Result<Vec<OutboxRow>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {ROW_COLUMNS} FROM outbox WHERE status = 'pending' AND queue = $1 AND id > $2 ORDER BY id LIMIT $3"
    )))
    .bind(queue)
    .bind(head)
    .bind(limit)
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Records which rows a folded message takes in, before it is sent.
pub async fn set_fold(store: &Store, id: i64, upto: i64) -> anyhow::Result<()> {
    sqlx::query("UPDATE outbox SET fold_upto = $1 WHERE id = $2")
        .bind(upto)
        .bind(id)
        .execute(&store.pool)
        .await?;
    Ok(())
}

/// Marks a claimed row delivered; false if this owner no longer holds it.
pub async fn delivered(conn: &mut Conn, id: i64, owner: &str, now: i64) -> anyhow::Result<bool> {
    let r = sqlx::query(
        "UPDATE outbox SET status = 'delivered', delivered_at = $1, head = 0, lease_owner = NULL, lease_until = NULL \
         WHERE id = $2 AND lease_owner = $3 AND status = 'pending'",
    )
    .bind(now)
    .bind(id)
    .bind(owner)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Marks rows that were folded into a delivered head (or made moot by it) delivered.
pub async fn delivered_with(conn: &mut Conn, ids: &[i64], now: i64) -> anyhow::Result<()> {
    for chunk in ids.chunks(200) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "UPDATE outbox SET status = 'delivered', delivered_at = $1, head = 0 WHERE status = 'pending' AND id IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(now);
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Makes the next pending row of `queue` its head; a message waits for the channel's
/// next pacing slot (`not_before`).
pub async fn promote(conn: &mut Conn, queue: &str, not_before: i64) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET head = 1, \
           next_attempt_at = CASE WHEN paced = 1 AND next_attempt_at < $1 THEN $2 ELSE next_attempt_at END \
         WHERE id = (SELECT MIN(id) FROM outbox WHERE queue = $3 AND status = 'pending')",
    )
    .bind(not_before)
    .bind(not_before)
    .bind(queue)
    .execute(conn)
    .await?;
    Ok(())
}

/// Makes a queue's waiting head due now (what it waited for has happened).
pub async fn wake_queue(conn: &mut Conn, queue: &str, now: i64) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET next_attempt_at = $1 WHERE queue = $2 AND status = 'pending' AND head = 1 AND next_attempt_at > $3",
    )
    .bind(now)
    .bind(queue)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// How a claimed row goes back to wait.
#[derive(Debug, Clone, Copy)]
pub struct Release<'a> {
    pub at: i64,
    /// Recorded for the operator (`sevbot outbox list`).
    pub error: Option<&'a str>,
    /// The attempt may have taken effect: reconcile before the next one.
    pub doubt: bool,
    /// Whether it counts as a failed attempt (a rate limit or pacing does not).
    pub counts: bool,
}

pub async fn release(store: &Store, id: i64, owner: &str, r: Release<'_>) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET next_attempt_at = $1, last_error = COALESCE($2, last_error), doubt = $3, \
           attempts = attempts - $4, lease_owner = NULL, lease_until = NULL \
         WHERE id = $5 AND lease_owner = $6 AND status = 'pending'",
    )
    .bind(r.at)
    .bind(r.error)
    .bind(i64::from(r.doubt))
    .bind(i64::from(!r.counts))
    .bind(id)
    .bind(owner)
    .execute(&store.pool)
    .await?;
    Ok(())
}

/// Puts back a row that waits for its SEV's channel: due again at `fallback`, or at once
/// if the channel appeared meanwhile. The SEV row is locked while deciding, so a channel
/// recorded concurrently either is seen here or finds this row waiting and wakes it.
pub async fn release_until_channel(
    store: &Store,
    id: i64,
    owner: &str,
    sev: SevId,
    now: i64,
    fallback: i64,
) -> anyhow::Result<()> {
    let mut tx = store.begin().await?;
    let channel: Option<Option<String>> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT channel_id FROM sevs WHERE id = $1 {}",
        store.for_update()
    )))
    .bind(sev.0)
    .fetch_optional(&mut *tx)
    .await?;
    let at = match channel.flatten() {
        Some(_) => now,
        None => fallback,
    };
    sqlx::query(
        "UPDATE outbox SET next_attempt_at = $1, attempts = attempts - 1, lease_owner = NULL, lease_until = NULL \
         WHERE id = $2 AND lease_owner = $3 AND status = 'pending'",
    )
    .bind(at)
    .bind(id)
    .bind(owner)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A permanent failure: kept with its error for the operator, and the queue moves on.
pub async fn failed(conn: &mut Conn, id: i64, owner: &str, error: &str) -> anyhow::Result<bool> {
    let r = sqlx::query(
        "UPDATE outbox SET status = 'failed', last_error = $1, head = 0, lease_owner = NULL, lease_until = NULL \
         WHERE id = $2 AND lease_owner = $3 AND status = 'pending'",
    )
    .bind(error)
    .bind(id)
    .bind(owner)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Rewrites a pending row's effect (a channel name retried after a collision).
pub async fn rewrite(store: &Store, id: i64, effect: &Effect) -> anyhow::Result<()> {
    sqlx::query("UPDATE outbox SET effect = $1, version = $2 WHERE id = $3")
        .bind(effect.encode()?)
        .bind(EFFECT_VERSION)
        .bind(id)
        .execute(&store.pool)
        .await?;
    Ok(())
}

/// Extends this owner's leases: its calls are still in flight.
pub async fn renew(store: &Store, owner: &str, until: i64) -> anyhow::Result<u64> {
    let r = sqlx::query(
        "UPDATE outbox SET lease_until = $1 WHERE lease_owner = $2 AND status = 'pending'",
    )
    .bind(until)
    .bind(owner)
    .execute(&store.pool)
    .await?;
    Ok(r.rows_affected())
}

/// Leaves out the rows of `full` lanes (platform, pages); placeholders start at `$first`.
fn lanes_filter(full: &[(String, bool)], first: usize) -> String {
    full.iter()
        .enumerate()
        .map(|(i, (_, pages))| {
            let cmp = if *pages { "= 0" } else { "> 0" };
            format!(
                " AND NOT (o.platform = ${} AND o.priority {cmp})",
                first + i
            )
        })
        .collect()
}

/// The earliest time a head becomes claimable (due, or its lease running out), if any,
/// leaving out `full` lanes (a finished call wakes the worker for those). A second head
/// waiting behind an older row of its queue is not counted.
pub async fn next_due(store: &Store, full: &[(String, bool)]) -> anyhow::Result<Option<i64>> {
    let sql = format!(
        "SELECT MIN(CASE WHEN o.lease_until IS NOT NULL AND o.lease_until > o.next_attempt_at THEN o.lease_until ELSE o.next_attempt_at END) \
         FROM outbox o WHERE o.status = 'pending' AND o.head = 1 AND o.version <= {EFFECT_VERSION} \
         AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.status = 'pending' AND p.queue = o.queue AND p.id < o.id){}",
        lanes_filter(full, 1)
    );
    let mut q = sqlx::query_scalar(AssertSqlSafe(sql));
    for (platform, _) in full {
        q = q.bind(platform.as_str());
    }
    Ok(q.fetch_one(&store.pool).await?)
}

/// Marks heads that lost their mark. The queue locks above should leave nothing to do;
/// this is the backstop, and a repair is logged.
pub async fn repair_heads(store: &Store) -> anyhow::Result<u64> {
    let r = sqlx::query(
        "UPDATE outbox SET head = 1 WHERE status = 'pending' AND head = 0 \
         AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.status = 'pending' AND p.queue = outbox.queue AND p.id < outbox.id)",
    )
    .execute(&store.pool)
    .await?;
    Ok(r.rows_affected())
}

pub async fn pending(store: &Store) -> anyhow::Result<(i64, Option<i64>)> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, MIN(next_attempt_at) AS next FROM outbox WHERE status = 'pending'",
    )
    .fetch_one(&store.pool)
    .await?;
    Ok((row.try_get("n")?, row.try_get("next")?))
}

/// Queue heads that are due now, held or not (another worker may be delivering them); a
/// head with an older row of its queue still pending is not ready.
pub async fn ready(store: &Store, now: i64) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox o WHERE o.status = 'pending' AND o.head = 1 AND o.next_attempt_at <= $1 \
         AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.status = 'pending' AND p.queue = o.queue AND p.id < o.id)",
    )
    .bind(now)
    .fetch_one(&store.pool)
    .await?)
}

/// Whether a row was queued after `id` in `queue` and is still pending.
pub async fn has_later(store: &Store, queue: &str, id: i64) -> anyhow::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND queue = $1 AND id > $2",
    )
    .bind(queue)
    .bind(id)
    .fetch_one(&store.pool)
    .await?;
    Ok(n > 0)
}

/// Rows by state, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    pub pending: i64,
    pub in_flight: i64,
    pub failed: i64,
    /// How long the longest-waiting due head has been due (ms).
    pub oldest_ready_ms: i64,
}

pub async fn stats(store: &Store, now: i64) -> anyhow::Result<Stats> {
    // One pass over the table, read every few seconds; delivered rows are pruned weekly.
    let r = sqlx::query(
        "SELECT \
           CAST(COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS BIGINT) AS pending, \
           CAST(COALESCE(SUM(CASE WHEN status = 'pending' AND lease_until >= $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS in_flight, \
           CAST(COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS failed, \
           MIN(CASE WHEN status = 'pending' AND head = 1 THEN next_attempt_at END) AS oldest \
         FROM outbox WHERE status IN ('pending', 'failed')",
    )
    .bind(now)
    .fetch_one(&store.pool)
    .await?;
    let oldest: Option<i64> = r.try_get("oldest")?;
    Ok(Stats {
        pending: r.try_get("pending")?,
        in_flight: r.try_get("in_flight")?,
        failed: r.try_get("failed")?,
        oldest_ready_ms: oldest.map(|o| (now - o).max(0)).unwrap_or(0),
    })
}

/// A row as the operator sees it (`sevbot outbox list`).
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: i64,
    pub platform: String,
    pub queue: String,
    pub label: String,
    pub status: String,
    pub attempts: i64,
    pub created_at: i64,
    pub next_attempt_at: i64,
    pub leased_by: Option<String>,
    pub last_error: Option<String>,
}

/// Failed rows, and pending rows that have failed at least once or waited `stuck_ms`
/// past their due time; with `all`, every pending row too.
pub async fn list(
    store: &Store,
    now: i64,
    stuck_ms: i64,
    all: bool,
) -> anyhow::Result<Vec<Listed>> {
    let rows = sqlx::query(
        "SELECT id, platform, queue, effect, version, status, attempts, created_at, next_attempt_at, lease_owner, last_error \
         FROM outbox WHERE status = 'failed' OR (status = 'pending' AND \
           ($1 = 1 OR attempts > 0 OR last_error IS NOT NULL OR next_attempt_at < $2)) \
         ORDER BY id LIMIT 1000",
    )
    .bind(i64::from(all))
    .bind(now - stuck_ms)
    .fetch_all(&store.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let effect: String = r.try_get("effect")?;
            let label = Effect::decode(r.try_get("version")?, &effect)
                .map(|e| e.label().to_string())
                .unwrap_or_else(|_| "unreadable".into());
            Ok(Listed {
                id: r.try_get("id")?,
                platform: r.try_get("platform")?,
                queue: r.try_get("queue")?,
                label,
                status: r.try_get("status")?,
                attempts: r.try_get("attempts")?,
                created_at: r.try_get("created_at")?,
                next_attempt_at: r.try_get("next_attempt_at")?,
                leased_by: r.try_get("lease_owner")?,
                last_error: r.try_get("last_error")?,
            })
        })
        .collect()
}

/// The queue of row `id`, locked for changing its head (operator actions).
async fn locked_queue_of(tx: &mut Conn, id: i64) -> anyhow::Result<Option<String>> {
    let queue: Option<String> = sqlx::query_scalar("SELECT queue FROM outbox WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(q) = &queue {
        lock_queue(tx, q).await?;
    }
    Ok(queue)
}

/// Puts a failed or waiting row back at once (an operator fixed the cause). A row a
/// worker held is in doubt: it is reconciled before being sent again.
pub async fn retry(store: &Store, id: i64, now: i64) -> anyhow::Result<bool> {
    let mut tx = store.begin().await?;
    if locked_queue_of(&mut tx, id).await?.is_none() {
        return Ok(false);
    }
    let r = sqlx::query(
        "UPDATE outbox SET status = 'pending', next_attempt_at = $1, attempts = 0, \
           doubt = CASE WHEN lease_owner IS NULL THEN doubt ELSE 1 END, lease_owner = NULL, lease_until = NULL, \
           head = CASE WHEN EXISTS (SELECT 1 FROM outbox p WHERE p.status = 'pending' AND p.queue = outbox.queue AND p.id < outbox.id) THEN 0 ELSE 1 END \
         WHERE id = $2 AND status IN ('pending', 'failed')",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(r.rows_affected() == 1)
}

/// Gives up on a row (kept as `dropped`); its queue moves on.
pub async fn drop_row(store: &Store, id: i64, now: i64) -> anyhow::Result<bool> {
    let mut tx = store.begin().await?;
    locked_queue_of(&mut tx, id).await?;
    let queue: Option<String> = sqlx::query_scalar(
        "UPDATE outbox SET status = 'dropped', head = 0, delivered_at = $1, lease_owner = NULL, lease_until = NULL, \
           last_error = COALESCE(last_error, 'dropped by the operator') \
         WHERE id = $2 AND status IN ('pending', 'failed') RETURNING queue",
    )
    .bind(now)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(queue) = queue else {
        tx.rollback().await?;
        return Ok(false);
    };
    promote(&mut tx, &queue, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Forgets delivered rows older than `before` (the timeline keeps what happened).
pub async fn prune(conn: &mut Conn, before: i64) -> anyhow::Result<u64> {
    let r = sqlx::query("DELETE FROM outbox WHERE status = 'delivered' AND delivered_at < $1")
        .bind(before)
        .execute(conn)
        .await?;
    Ok(r.rows_affected())
}
