//! Pages and the frozen escalation ladder of each SEV.

use sqlx::Row;

use super::Conn;
use crate::domain::escalation::Ladder;
use crate::domain::{Role, SevId};

#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub id: i64,
    pub person: String,
    pub role: Option<Role>,
    /// 0: paged as the role holder; n: paged by the ladder's step n.
    pub step: i64,
    pub paged_at: i64,
    pub acked_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub pagerduty: bool,
    /// When a route first delivered it.
    pub delivered_at: Option<i64>,
    /// When every route had failed: nobody was reached.
    pub failed_at: Option<i64>,
    /// The last route failure's reason, with its fix.
    pub failure: Option<String>,
}

impl Page {
    pub fn is_open(&self) -> bool {
        self.acked_at.is_none() && self.closed_at.is_none()
    }

    /// The ladder's chain: the IMOC's page and every step's pages.
    pub fn in_chain(&self) -> bool {
        self.step > 0 || self.role == Some(Role::Imoc)
    }
}

const PAGE_COLUMNS: &str = "id, person, role, step, paged_at, acked_at, closed_at, pagerduty, delivered_at, failed_at, failure";

fn page_from(r: &sqlx::any::AnyRow) -> anyhow::Result<Page> {
    let role: Option<String> = r.try_get("role")?;
    let pd: i64 = r.try_get("pagerduty")?;
    Ok(Page {
        id: r.try_get("id")?,
        person: r.try_get("person")?,
        role: role.as_deref().and_then(Role::parse),
        step: r.try_get("step")?,
        paged_at: r.try_get("paged_at")?,
        acked_at: r.try_get("acked_at")?,
        closed_at: r.try_get("closed_at")?,
        pagerduty: pd != 0,
        delivered_at: r.try_get("delivered_at")?,
        failed_at: r.try_get("failed_at")?,
        failure: r.try_get("failure")?,
    })
}

/// The ladder as stored: frozen steps plus its acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLadder {
    pub ladder: Ladder,
    pub started_at: i64,
    pub acked_at: Option<i64>,
    pub acked_by: Option<String>,
}

/// Freezes `ladder` onto the SEV from `now`, unacknowledged; an earlier ladder (before a
/// reopen, or a raise onto a stricter policy) is replaced with its acknowledgement.
pub async fn freeze(conn: &mut Conn, sev: SevId, ladder: &Ladder, now: i64) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO ladders (sev_id, policy, steps, started_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (sev_id) DO UPDATE SET policy = excluded.policy, steps = excluded.steps, \
         started_at = excluded.started_at, acked_at = NULL, acked_by = NULL",
    )
    .bind(sev.0)
    .bind(&ladder.policy)
    .bind(serde_json::to_string(&ladder.steps)?)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn ladder(conn: &mut Conn, sev: SevId) -> anyhow::Result<Option<StoredLadder>> {
    let row = sqlx::query(
        "SELECT policy, steps, started_at, acked_at, acked_by FROM ladders WHERE sev_id = $1",
    )
    .bind(sev.0)
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let steps: String = r.try_get("steps")?;
    Ok(Some(StoredLadder {
        ladder: Ladder {
            policy: r.try_get("policy")?,
            steps: serde_json::from_str(&steps)?,
        },
        started_at: r.try_get("started_at")?,
        acked_at: r.try_get("acked_at")?,
        acked_by: r.try_get("acked_by")?,
    }))
}

/// Marks the ladder acknowledged; false if it already was.
pub async fn ack_ladder(conn: &mut Conn, sev: SevId, by: &str, now: i64) -> anyhow::Result<bool> {
    let r = sqlx::query(
        "UPDATE ladders SET acked_at = $1, acked_by = $2 WHERE sev_id = $3 AND acked_at IS NULL",
    )
    .bind(now)
    .bind(by)
    .bind(sev.0)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn insert(
    conn: &mut Conn,
    sev: SevId,
    person: &str,
    role: Option<Role>,
    step: i64,
    pagerduty: bool,
    now: i64,
) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO pages (sev_id, person, role, step, paged_at, pagerduty) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(sev.0)
    .bind(person)
    .bind(role.map(|r| r.as_str()))
    .bind(step)
    .bind(now)
    .bind(i64::from(pagerduty))
    .fetch_one(conn)
    .await?)
}

pub async fn all(conn: &mut Conn, sev: SevId) -> anyhow::Result<Vec<Page>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {PAGE_COLUMNS} FROM pages WHERE sev_id = $1 ORDER BY id"
    )))
    .bind(sev.0)
    .fetch_all(conn)
    .await?;
    rows.iter().map(page_from).collect()
}

pub async fn get(conn: &mut Conn, id: i64) -> anyhow::Result<Option<Page>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {PAGE_COLUMNS} FROM pages WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(page_from).transpose()
}

/// The newest page of `person` for the SEV (rows written before pages carried their id).
pub async fn latest(conn: &mut Conn, sev: SevId, person: &str) -> anyhow::Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT MAX(id) FROM pages WHERE sev_id = $1 AND person = $2")
            .bind(sev.0)
            .bind(person)
            .fetch_one(conn)
            .await?,
    )
}

/// A route delivered the page.
pub async fn delivered(conn: &mut Conn, id: i64, now: i64) -> anyhow::Result<Option<Page>> {
    sqlx::query("UPDATE pages SET delivered_at = COALESCE(delivered_at, $1) WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    get(conn, id).await
}

/// A route could not deliver the page; once every route failed (the chat message, and
/// PagerDuty where the page also went there) and none delivered it, the page failed.
pub async fn route_failed(
    conn: &mut Conn,
    id: i64,
    reason: &str,
    now: i64,
) -> anyhow::Result<Option<Page>> {
    sqlx::query(
        "UPDATE pages SET routes_failed = routes_failed + 1, failure = $1, \
           failed_at = CASE WHEN delivered_at IS NULL AND routes_failed + 1 >= 1 + pagerduty THEN $2 ELSE failed_at END \
         WHERE id = $3",
    )
    .bind(reason)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    get(conn, id).await
}

/// Acknowledges `person`'s open pages for the SEV; returns how many.
pub async fn ack_person(
    conn: &mut Conn,
    sev: SevId,
    person: &str,
    now: i64,
) -> anyhow::Result<u64> {
    let r = sqlx::query(
        "UPDATE pages SET acked_at = $1 WHERE sev_id = $2 AND person = $3 AND acked_at IS NULL AND closed_at IS NULL",
    )
    .bind(now)
    .bind(sev.0)
    .bind(person)
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

/// Stops every open page of the SEV (resolved, cancelled, or the ladder acknowledged).
pub async fn close_open(conn: &mut Conn, sev: SevId, now: i64) -> anyhow::Result<u64> {
    let r = sqlx::query(
        "UPDATE pages SET closed_at = $1 WHERE sev_id = $2 AND acked_at IS NULL AND closed_at IS NULL",
    )
    .bind(now)
    .bind(sev.0)
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

/// Stops the open pages of the ladder's chain (the IMOC's page and every step's) once
/// someone in it acknowledged; role pages of the TLOC and BMOC stay theirs to answer.
pub async fn close_chain(conn: &mut Conn, sev: SevId, now: i64) -> anyhow::Result<u64> {
    let r = sqlx::query(
        "UPDATE pages SET closed_at = $1 WHERE sev_id = $2 AND acked_at IS NULL AND closed_at IS NULL \
         AND (step > 0 OR role = 'imoc')",
    )
    .bind(now)
    .bind(sev.0)
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}
