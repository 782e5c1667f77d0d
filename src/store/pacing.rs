//! Per-channel pacing shared by the replicas on PostgreSQL: a row per paced channel says
//! when it may next be posted to. A replica takes the channel for one message (holding it
//! for a short while; a replica that dies mid-call has its holds freed by the reaping of
//! its work), and on finishing sets when the next message may go. On SQLite there is one
//! process, and its memory paces alone.

use super::Store;

/// Takes `key` for one message when it is free at `now`, holding it for `owner` until
/// `hold_until` (freed at once if `owner` dies); otherwise says when it will be free.
pub async fn take(
    store: &Store,
    key: &str,
    owner: &str,
    now: i64,
    hold_until: i64,
) -> anyhow::Result<Result<(), i64>> {
    let taken = sqlx::query(
        "INSERT INTO pacing (key, free_at, owner) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET free_at = excluded.free_at, owner = excluded.owner \
         WHERE pacing.free_at <= $4",
    )
    .bind(key)
    .bind(hold_until)
    .bind(owner)
    .bind(now)
    .execute(&store.pool)
    .await?
    .rows_affected();
    if taken == 1 {
        return Ok(Ok(()));
    }
    let free_at: Option<i64> = sqlx::query_scalar("SELECT free_at FROM pacing WHERE key = $1")
        .bind(key)
        .fetch_optional(&store.pool)
        .await?;
    Ok(Err(free_at.unwrap_or(now)))
}

/// Frees `key` from the hold this replica took (`held_until`): the next message may go at
/// `free_at`. A hold that ran out and was taken by another replica is left alone.
pub async fn free(store: &Store, key: &str, held_until: i64, free_at: i64) -> anyhow::Result<()> {
    sqlx::query("UPDATE pacing SET free_at = $1, owner = NULL WHERE key = $2 AND free_at = $3")
        .bind(free_at)
        .bind(key)
        .bind(held_until)
        .execute(&store.pool)
        .await?;
    Ok(())
}

/// Records that `key` (a platform's rate-limit bucket, learned from a 429) may not be used
/// before `until`, for every replica; a later limit already recorded stands.
pub async fn limit(store: &Store, key: &str, until: i64) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO pacing (key, free_at) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET free_at = excluded.free_at \
         WHERE pacing.free_at < excluded.free_at",
    )
    .bind(key)
    .bind(until)
    .execute(&store.pool)
    .await?;
    Ok(())
}

/// The latest time `key` or `global` may not be used before, if that is after `now`.
pub async fn limited_until(
    store: &Store,
    key: &str,
    global: &str,
    now: i64,
) -> anyhow::Result<Option<i64>> {
    Ok(
        sqlx::query_scalar(
            "SELECT MAX(free_at) FROM pacing WHERE key IN ($1, $2) AND free_at > $3",
        )
        .bind(key)
        .bind(global)
        .bind(now)
        .fetch_one(&store.pool)
        .await?,
    )
}
