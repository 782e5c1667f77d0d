//! Which sevbot processes are alive, so the work a dead one held is taken over at once
//! rather than after its leases run out.
//!
//! SQLite is used by one process at a time: whoever starts is the only live one, and
//! every lease it finds belongs to a predecessor that is gone. On PostgreSQL each process
//! keeps one connection of its own open for as long as it runs and records that session's
//! backend pid; a process killed with -9 loses its connection at once, so its session
//! vanishes from `pg_stat_activity` and its leases are free.

use sqlx::Connection;

use super::{Backend, Store};

/// The owners of every registered process whose PostgreSQL session is still connected.
pub(crate) const LIVE_OWNERS: &str =
    "SELECT r.owner FROM replicas r JOIN pg_stat_activity a ON a.pid = r.session";

/// Held for the life of the process (on PostgreSQL: the session that proves it alive).
pub struct Registration {
    pub owner: String,
    session: Option<tokio::sync::Mutex<sqlx::AnyConnection>>,
}

impl Registration {
    /// Whether the session that proves this process alive still answers (PostgreSQL).
    pub async fn alive(&self) -> bool {
        match &self.session {
            Some(c) => c.lock().await.ping().await.is_ok(),
            None => true,
        }
    }
}

pub async fn register(store: &Store, owner: &str, now: i64) -> anyhow::Result<Registration> {
    let (session, pid) = match store.backend {
        Backend::Sqlite => (None, None),
        Backend::Postgres => {
            let mut conn = store.pool.acquire().await?.detach();
            let pid: i64 = sqlx::query_scalar("SELECT CAST(pg_backend_pid() AS BIGINT)")
                .fetch_one(&mut conn)
                .await?;
            (Some(tokio::sync::Mutex::new(conn)), Some(pid))
        }
    };
    sqlx::query(
        "INSERT INTO replicas (owner, started_at, session) VALUES ($1, $2, $3) \
         ON CONFLICT (owner) DO UPDATE SET started_at = excluded.started_at, session = excluded.session",
    )
    .bind(owner)
    .bind(now)
    .bind(pid)
    .execute(&store.pool)
    .await?;
    Ok(Registration {
        owner: owner.to_string(),
        session,
    })
}

/// What a reap freed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reaped {
    pub outbox: u64,
    pub jobs: u64,
}

/// Frees the leases of processes that are gone. Outbox rows freed this way are in doubt:
/// the dead process may have been in the middle of sending them.
pub async fn reap(store: &Store, me: &str) -> anyhow::Result<Reaped> {
    // Owners whose leases stay: on SQLite only this process; on PostgreSQL every
    // registered process whose session is still connected.
    let others_alive = |column: &str| match store.backend {
        Backend::Sqlite => String::new(),
        Backend::Postgres => format!(" AND {column} NOT IN ({LIVE_OWNERS})"),
    };
    let mut tx = store.begin().await?;
    let outbox = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE outbox SET lease_owner = NULL, lease_until = NULL, doubt = 1 \
         WHERE status = 'pending' AND lease_owner IS NOT NULL AND lease_owner <> $1{}",
        others_alive("lease_owner")
    )))
    .bind(me)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let jobs = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE jobs SET lease_owner = NULL, lease_until = NULL \
         WHERE done_at IS NULL AND lease_owner IS NOT NULL AND lease_owner <> $1{}",
        others_alive("lease_owner")
    )))
    .bind(me)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // A channel a dead process held for a message is free: whether that message went
    // out is the reconciling of its row, not a reason to hold the channel for seconds.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE pacing SET free_at = 0, owner = NULL \
         WHERE owner IS NOT NULL AND owner <> $1{}",
        others_alive("owner")
    )))
    .bind(me)
    .execute(&mut *tx)
    .await?;
    let gone = match store.backend {
        Backend::Sqlite => "DELETE FROM replicas WHERE owner <> $1",
        Backend::Postgres => {
            "DELETE FROM replicas WHERE owner <> $1 \
             AND (session IS NULL OR session NOT IN (SELECT pid FROM pg_stat_activity))"
        }
    };
    sqlx::query(gone).bind(me).execute(&mut *tx).await?;
    tx.commit().await?;
    if outbox + jobs > 0 {
        tracing::info!(
            outbox,
            jobs,
            "took over the work of a sevbot process that is gone"
        );
    }
    Ok(Reaped { outbox, jobs })
}
