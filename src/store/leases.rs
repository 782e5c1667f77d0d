//! Leases on duties only one replica may perform at a time. One statement takes a free
//! lease, renews our own, or takes over one whose holder is gone (its lease ran out, or
//! on PostgreSQL its session vanished: a process killed with -9 loses its connection at
//! once). A replica whose own session is gone cannot take or keep a lease, because the
//! others already count it as dead.

use super::{Backend, Store};

/// Who holds a duty, for `/readyz` and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub name: String,
    pub owner: String,
    pub until_ms: i64,
}

/// The owners that count as alive: on PostgreSQL every registered process whose session
/// is connected; on SQLite (one process) only `$2`, this one.
fn alive(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SELECT $2",
        Backend::Postgres => super::replicas::LIVE_OWNERS,
    }
}

/// Takes or renews `name` for `owner` until `now + ttl_ms`; true when `owner` holds it.
pub async fn hold(
    store: &Store,
    name: &str,
    owner: &str,
    now: i64,
    ttl_ms: i64,
) -> anyhow::Result<bool> {
    let alive = alive(store.backend);
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO leases (name, owner, until_ms, since_ms) \
         SELECT $1, $2, $3, $4 WHERE $2 IN ({alive}) \
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until_ms = excluded.until_ms, \
           since_ms = CASE WHEN leases.owner = excluded.owner THEN leases.since_ms ELSE excluded.since_ms END \
         WHERE leases.owner = excluded.owner OR leases.until_ms < $4 OR leases.owner NOT IN ({alive})"
    )))
    .bind(name)
    .bind(owner)
    .bind(now + ttl_ms)
    .bind(now)
    .execute(&store.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives `name` up at once (a graceful stop), if `owner` holds it.
pub async fn release(store: &Store, name: &str, owner: &str) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM leases WHERE name = $1 AND owner = $2")
        .bind(name)
        .bind(owner)
        .execute(&store.pool)
        .await?;
    Ok(())
}

/// Every lease not yet run out at `now`.
pub async fn holders(store: &Store, now: i64) -> anyhow::Result<Vec<Holder>> {
    use sqlx::Row;
    let rows =
        sqlx::query("SELECT name, owner, until_ms FROM leases WHERE until_ms >= $1 ORDER BY name")
            .bind(now)
            .fetch_all(&store.pool)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(Holder {
                name: r.try_get("name")?,
                owner: r.try_get("owner")?,
                until_ms: r.try_get("until_ms")?,
            })
        })
        .collect()
}
