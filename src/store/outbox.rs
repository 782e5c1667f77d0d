//! The outbox: effects written in the same transaction as the state change, delivered later
//! by a worker. Rows in one queue (a channel) are delivered strictly in order: only the
//! oldest unfinished row of a queue can be claimed.

use sqlx::{AssertSqlSafe, Row};

use super::{Conn, Store};

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub platform: String,
    pub queue: String,
    pub effect: String,
    pub attempts: i64,
}

pub async fn enqueue(
    conn: &mut Conn,
    platform: &str,
    queue: &str,
    effect: &str,
    now: i64,
) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO outbox (platform, queue, effect, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(platform)
    .bind(queue)
    .bind(effect)
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await?)
}

/// Claims the head row of up to `limit` queues that are ready now.
pub async fn claim(
    store: &Store,
    owner: &str,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> anyhow::Result<Vec<OutboxRow>> {
    let sql = format!(
        "UPDATE outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 WHERE id IN (\
           SELECT o.id FROM outbox o WHERE o.status = 'pending' AND o.next_attempt_at <= $3 \
           AND (o.lease_until IS NULL OR o.lease_until < $4) \
           AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.queue = o.queue AND p.status = 'pending' AND p.id < o.id) \
           ORDER BY o.id LIMIT $5 {}) \
         RETURNING id, platform, queue, effect, attempts",
        store.skip_locked()
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(owner)
        .bind(now + lease_ms)
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(&store.pool)
        .await?;
    let mut out: Vec<OutboxRow> = rows
        .iter()
        .map(|r| {
            Ok(OutboxRow {
                id: r.try_get("id")?,
                platform: r.try_get("platform")?,
                queue: r.try_get("queue")?,
                effect: r.try_get("effect")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    out.sort_by_key(|r| r.id);
    Ok(out)
}

/// Finishes a delivered row; false if this owner no longer holds it.
pub async fn delivered(conn: &mut Conn, id: i64, owner: &str, now: i64) -> anyhow::Result<bool> {
    let r = sqlx::query(
        "UPDATE outbox SET status = 'delivered', delivered_at = $1, lease_owner = NULL, lease_until = NULL \
         WHERE id = $2 AND lease_owner = $3 AND status = 'pending'",
    )
    .bind(now)
    .bind(id)
    .bind(owner)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn retry_later(
    store: &Store,
    id: i64,
    owner: &str,
    at: i64,
    error: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET next_attempt_at = $1, last_error = $2, lease_owner = NULL, lease_until = NULL \
         WHERE id = $3 AND lease_owner = $4 AND status = 'pending'",
    )
    .bind(at)
    .bind(error)
    .bind(id)
    .bind(owner)
    .execute(&store.pool)
    .await?;
    Ok(())
}

/// A permanent failure: kept with its error for the operator, and the queue moves on.
pub async fn failed(store: &Store, id: i64, owner: &str, error: &str) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET status = 'failed', last_error = $1, lease_owner = NULL, lease_until = NULL \
         WHERE id = $2 AND lease_owner = $3 AND status = 'pending'",
    )
    .bind(error)
    .bind(id)
    .bind(owner)
    .execute(&store.pool)
    .await?;
    Ok(())
}

/// Rewrites a pending row's effect (a channel name retried after a collision).
pub async fn rewrite(store: &Store, id: i64, effect: &str) -> anyhow::Result<()> {
    sqlx::query("UPDATE outbox SET effect = $1 WHERE id = $2")
        .bind(effect)
        .bind(id)
        .execute(&store.pool)
        .await?;
    Ok(())
}

pub async fn pending(store: &Store) -> anyhow::Result<(i64, Option<i64>)> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, MIN(next_attempt_at) AS next FROM outbox WHERE status = 'pending'",
    )
    .fetch_one(&store.pool)
    .await?;
    Ok((row.try_get("n")?, row.try_get("next")?))
}

/// Queue heads that are due now, whoever holds them (rows waiting behind a head in
/// backoff are not ready).
pub async fn ready(store: &Store, now: i64) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox o WHERE o.status = 'pending' AND o.next_attempt_at <= $1 \
         AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.queue = o.queue AND p.status = 'pending' AND p.id < o.id)",
    )
    .bind(now)
    .fetch_one(&store.pool)
    .await?)
}

/// Puts a claimed row back until `at` without counting it as a failed attempt (pacing).
pub async fn defer(store: &Store, id: i64, owner: &str, at: i64) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET next_attempt_at = $1, attempts = attempts - 1, lease_owner = NULL, lease_until = NULL \
         WHERE id = $2 AND lease_owner = $3 AND status = 'pending'",
    )
    .bind(at)
    .bind(id)
    .bind(owner)
    .execute(&store.pool)
    .await?;
    Ok(())
}

/// Whether a row was queued after `id` in `queue` and is still pending.
pub async fn has_later(store: &Store, queue: &str, id: i64) -> anyhow::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE queue = $1 AND id > $2 AND status = 'pending'",
    )
    .bind(queue)
    .bind(id)
    .fetch_one(&store.pool)
    .await?;
    Ok(n > 0)
}

/// Puts a claimed row back until `at` because the platform asked for a wait (a rate
/// limit): recorded as the row's last error, but not counted as a failed attempt.
pub async fn wait(
    store: &Store,
    id: i64,
    owner: &str,
    at: i64,
    reason: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET next_attempt_at = $1, last_error = $2, attempts = attempts - 1, lease_owner = NULL, lease_until = NULL \
         WHERE id = $3 AND lease_owner = $4 AND status = 'pending'",
    )
    .bind(at)
    .bind(reason)
    .bind(id)
    .bind(owner)
    .execute(&store.pool)
    .await?;
    Ok(())
}
