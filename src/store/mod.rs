//! Storage: one `AnyPool` over SQLite (embedded default) or PostgreSQL, the same SQL on
//! both. Every dialect difference lives in this file.

pub mod availability;
pub mod followups;
pub mod incidents;
pub mod jobs;
pub mod leases;
pub mod outbox;
pub mod pacing;
pub mod paging;
pub mod replicas;
pub mod subscriptions;
mod writer;

pub use writer::{BoxFuture, DatabaseError};

use std::time::Duration;

use anyhow::Context;
use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

pub type Conn = AnyConnection;
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Whether a connection is to PostgreSQL (where replicas share the database, so rows a
/// decision rests on are locked).
pub(crate) fn is_postgres(conn: &Conn) -> bool {
    conn.backend_name() == "PostgreSQL"
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pub pool: AnyPool,
    pub backend: Backend,
    /// Group commit for commands (see `writer`).
    writer: writer::Writer,
}

impl Store {
    /// Connects and applies migrations. SQLite files are created when missing.
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            anyhow::bail!(
                "unsupported database URL (use sqlite://path or postgres://…): {}",
                redact(url)
            );
        };
        let pool = match backend {
            Backend::Sqlite => {
                let url = if url.contains("mode=") || url.contains(":memory:") {
                    url.to_string()
                } else if url.contains('?') {
                    format!("{url}&mode=rwc")
                } else {
                    format!("{url}?mode=rwc")
                };
                // One connection: SQLite has one writer anyway, and a single connection
                // never hits SQLITE_BUSY between our own transactions.
                AnyPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
                                 PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await
            }
        }
        .with_context(|| format!("connecting to {}", redact(url)))?;
        let writer = writer::Writer::start(pool.clone());
        let store = Store {
            pool,
            backend,
            writer,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies this release's migrations. Migrations a newer release already applied
    /// (during a rolling upgrade, an older replica restarts on a newer schema) are left
    /// alone rather than refused: migrations add tables, columns and indexes (the rule for a
    /// new one), so the older code still works.
    async fn migrate(&self) -> anyhow::Result<()> {
        let mut migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator
            .set_ignore_missing(true)
            .run(&self.pool)
            .await
            .context("applying database migrations")
    }

    /// Readiness: the database answers and every migration is applied.
    pub async fn ready(&self) -> anyhow::Result<()> {
        let expected = match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").iter().count(),
            Backend::Postgres => sqlx::migrate!("migrations/postgres").iter().count(),
        } as i64;
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await
                .context("database unreachable")?;
        anyhow::ensure!(
            applied >= expected,
            "migrations applied: {applied} of {expected}"
        );
        Ok(())
    }

    /// Runs `work` in a transaction shared with whatever else is being written at the same
    /// moment (group commit: one commit, one fsync for all), inside a savepoint of its own.
    /// Its result comes back only once that transaction is committed; if `work` fails,
    /// only its own writes are rolled back.
    pub async fn write<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut Tx) -> BoxFuture<'a, anyhow::Result<T>> + Send + 'static,
    {
        self.writer.write(work).await
    }

    /// Transactions the group writer has committed since start-up (each holds one or more
    /// writes; see `sevbot_group_commit_size` for how many).
    pub fn group_commits(&self) -> u64 {
        self.writer.commits()
    }

    pub async fn begin(&self) -> anyhow::Result<Tx> {
        Ok(self.pool.begin().await?)
    }

    /// Row locking for claim queries: PostgreSQL lets replicas skip rows another replica is
    /// claiming; SQLite serialises writers, so it needs nothing.
    pub fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }

    /// Locks the rows a read returns until the transaction ends (PostgreSQL); SQLite's
    /// single writer needs nothing.
    pub fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => "FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    /// Records an inbound delivery key; false when it was seen before (a platform retry).
    pub async fn first_delivery(
        &self,
        conn: &mut Conn,
        key: &str,
        now: i64,
    ) -> anyhow::Result<bool> {
        let r = sqlx::query("INSERT INTO inbound_seen (key, received_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(now)
            .execute(conn)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Forgets delivery keys older than `before` (redeliveries come within minutes).
    pub async fn prune_deliveries(&self, conn: &mut Conn, before: i64) -> anyhow::Result<u64> {
        let r = sqlx::query("DELETE FROM inbound_seen WHERE received_at < $1")
            .bind(before)
            .execute(&mut *conn)
            .await?;
        // The console's printed keys serve the same purpose for what it sends.
        sqlx::query("DELETE FROM console_messages WHERE printed_at < $1")
            .bind(before)
            .execute(conn)
            .await?;
        Ok(r.rows_affected())
    }
}

/// A URL without its password, for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{user}:***@{}", &url[..s], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// The `VALUES` list of a multi-row insert: `rows` tuples of `cols` numbered placeholders
/// (`($1, $2), ($3, $4)`), numbered from `$first`, as both SQLite and PostgreSQL take them.
/// One statement instead of one per row: each statement is a round trip to the database
/// while the single writer holds it.
pub fn values_list(rows: usize, cols: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(first + r * cols + c).to_string());
        }
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_list_numbers_every_placeholder_once() {
        assert_eq!(super::values_list(1, 2, 1), "($1, $2)");
        assert_eq!(super::values_list(2, 3, 2), "($2, $3, $4), ($5, $6, $7)");
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://u:secret@h:5/db"),
            "postgres://u:***@h:5/db"
        );
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
    }
}
