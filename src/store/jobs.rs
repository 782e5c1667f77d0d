//! Durable timers. A job is a row with a due time; replicas claim due rows under a lease,
//! and only the lease holder may mark one done, inside the transaction that acts on it.

use sqlx::{AssertSqlSafe, Row};

use super::{Conn, Store};
use crate::domain::SevId;

/// The encoding written today (unchanged since the first release). A job this release
/// cannot read (a higher version, written by a newer replica during a rolling upgrade) is
/// never claimed here: it waits for a replica that understands it. A new job kind bumps
/// the version, so an older replica leaves it alone too.
pub const JOB_VERSION: i64 = 1;

/// A job row as stored; `engine::job::Job::decode` reads what it does.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub sev_id: Option<SevId>,
    pub due_at: i64,
    pub payload: String,
    pub version: i64,
    /// Claims so far, this one included.
    pub attempts: i64,
}

pub async fn schedule(
    conn: &mut Conn,
    kind: &str,
    sev: Option<SevId>,
    due_at: i64,
    payload: &str,
    version: i64,
    now: i64,
) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO jobs (kind, sev_id, due_at, payload, version, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(kind)
    .bind(sev.map(|s| s.0))
    .bind(due_at)
    .bind(payload)
    .bind(version)
    .bind(now)
    .fetch_one(conn)
    .await?)
}

/// Cancels a SEV's pending jobs of one kind (a new update replaces the pending reminder).
pub async fn cancel(conn: &mut Conn, sev: SevId, kind: &str, now: i64) -> anyhow::Result<u64> {
    let r = sqlx::query(
        "UPDATE jobs SET done_at = $1, cancelled = 1 WHERE sev_id = $2 AND kind = $3 AND done_at IS NULL",
    )
    .bind(now)
    .bind(sev.0)
    .bind(kind)
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

/// Claims up to `limit` due jobs whose lease is free or expired (a crashed replica's).
pub async fn claim_due(
    store: &Store,
    owner: &str,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> anyhow::Result<Vec<Job>> {
    let sql = format!(
        "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 WHERE id IN (\
           SELECT id FROM jobs WHERE done_at IS NULL AND due_at <= $3 AND version <= {JOB_VERSION} \
           AND (lease_until IS NULL OR lease_until < $4) ORDER BY due_at, id LIMIT $5 {}) \
         RETURNING id, kind, sev_id, due_at, payload, version, attempts",
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
    let mut jobs: Vec<Job> = rows
        .iter()
        .map(|r| {
            Ok(Job {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                sev_id: r.try_get::<Option<i64>, _>("sev_id")?.map(SevId),
                due_at: r.try_get("due_at")?,
                payload: r.try_get("payload")?,
                version: r.try_get("version")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    jobs.sort_by_key(|j| (j.due_at, j.id));
    Ok(jobs)
}

/// Marks the job done if this owner still holds it; false means another replica took it
/// over (our lease expired) and the caller must roll back.
pub async fn complete(conn: &mut Conn, id: i64, owner: &str, now: i64) -> anyhow::Result<bool> {
    let r = sqlx::query(
        "UPDATE jobs SET done_at = $1 WHERE id = $2 AND lease_owner = $3 AND done_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .bind(owner)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Gives a claimed job back for a later retry, with why it failed.
pub async fn release(
    store: &Store,
    id: i64,
    owner: &str,
    retry_at: i64,
    error: &str,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE jobs SET lease_owner = NULL, lease_until = NULL, due_at = $1, last_error = $2 WHERE id = $3 AND lease_owner = $4 AND done_at IS NULL")
        .bind(retry_at)
        .bind(error)
        .bind(id)
        .bind(owner)
        .execute(&store.pool)
        .await?;
    Ok(())
}

/// Gives up on a claimed job that keeps failing: done, marked failed, with the reason.
pub async fn give_up(
    store: &Store,
    id: i64,
    owner: &str,
    now: i64,
    error: &str,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE jobs SET done_at = $1, failed = 1, last_error = $2 WHERE id = $3 AND lease_owner = $4 AND done_at IS NULL")
        .bind(now)
        .bind(error)
        .bind(id)
        .bind(owner)
        .execute(&store.pool)
        .await?;
    Ok(())
}

/// When the next unclaimed job falls due (read from the due-time index, so it costs the
/// same with a hundred thousand jobs pending). A job another replica holds is looked at
/// again on the poll interval.
pub async fn next_due(store: &Store) -> anyhow::Result<Option<i64>> {
    Ok(sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT MIN(due_at) FROM jobs WHERE done_at IS NULL AND lease_owner IS NULL AND version <= {JOB_VERSION}"
    )))
    .fetch_one(&store.pool)
    .await?)
}

/// Brings a SEV's next pending job of `kind` forward to now (a failed page moves the
/// escalation on at once); returns whether there was one to move.
pub async fn expedite(conn: &mut Conn, sev: SevId, kind: &str, now: i64) -> anyhow::Result<bool> {
    let r = sqlx::query(
        "UPDATE jobs SET due_at = $1 WHERE id = \
           (SELECT MIN(id) FROM jobs WHERE sev_id = $2 AND kind = $3 AND done_at IS NULL AND due_at > $4)",
    )
    .bind(now)
    .bind(sev.0)
    .bind(kind)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Pending jobs and how late the most overdue one is (ms), for the auditor metric.
pub async fn backlog(store: &Store, now: i64) -> anyhow::Result<(i64, i64)> {
    let row =
        sqlx::query("SELECT COUNT(*) AS n, MIN(due_at) AS oldest FROM jobs WHERE done_at IS NULL")
            .fetch_one(&store.pool)
            .await?;
    let n: i64 = row.try_get("n")?;
    let oldest: Option<i64> = row.try_get("oldest")?;
    Ok((n, oldest.map(|o| (now - o).max(0)).unwrap_or(0)))
}

/// Whether a SEV has a pending job of this kind.
pub async fn pending_for(conn: &mut Conn, sev: SevId, kind: &str) -> anyhow::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE sev_id = $1 AND kind = $2 AND done_at IS NULL",
    )
    .bind(sev.0)
    .bind(kind)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

pub async fn pending_of_kind(conn: &mut Conn, kind: &str) -> anyhow::Result<bool> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = $1 AND done_at IS NULL")
            .bind(kind)
            .fetch_one(conn)
            .await?;
    Ok(n > 0)
}

/// Pending jobs of a kind: (id, payload).
pub async fn pending(conn: &mut Conn, kind: &str) -> anyhow::Result<Vec<(i64, String)>> {
    Ok(sqlx::query_as(
        "SELECT id, payload FROM jobs WHERE kind = $1 AND done_at IS NULL ORDER BY id",
    )
    .bind(kind)
    .fetch_all(conn)
    .await?)
}

/// Cancels one pending job (a schedule removed from the config).
pub async fn cancel_id(conn: &mut Conn, id: i64, now: i64) -> anyhow::Result<()> {
    sqlx::query("UPDATE jobs SET done_at = $1, cancelled = 1 WHERE id = $2 AND done_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
