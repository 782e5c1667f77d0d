//! Follow-ups of a SEV, numbered per SEV.

use sqlx::Row;

use super::Conn;
use crate::domain::SevId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followup {
    pub number: i64,
    pub text: String,
    pub owner: Option<String>,
    /// `YYYY-MM-DD`.
    pub due: Option<String>,
    pub done_at: Option<i64>,
}

/// Adds one with the next number; returns the number.
pub async fn add(
    conn: &mut Conn,
    sev: SevId,
    text: &str,
    owner: Option<&str>,
    due: Option<&str>,
    by: &str,
    now: i64,
) -> anyhow::Result<i64> {
    let number: i64 = sqlx::query_scalar(
        "INSERT INTO followups (sev_id, number, text, owner, due, created_by, created_at) \
         SELECT $1, COALESCE(MAX(number), 0) + 1, $2, $3, $4, $5, $6 FROM followups WHERE sev_id = $7 \
         RETURNING number",
    )
    .bind(sev.0)
    .bind(text)
    .bind(owner)
    .bind(due)
    .bind(by)
    .bind(now)
    .bind(sev.0)
    .fetch_one(&mut *conn)
    .await?;
    Ok(number)
}

pub async fn get(conn: &mut Conn, sev: SevId, number: i64) -> anyhow::Result<Option<Followup>> {
    Ok(all(conn, sev)
        .await?
        .into_iter()
        .find(|f| f.number == number))
}

pub async fn all(conn: &mut Conn, sev: SevId) -> anyhow::Result<Vec<Followup>> {
    let rows = sqlx::query(
        "SELECT number, text, owner, due, done_at FROM followups WHERE sev_id = $1 ORDER BY number",
    )
    .bind(sev.0)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Followup {
                number: r.try_get("number")?,
                text: r.try_get("text")?,
                owner: r.try_get("owner")?,
                due: r.try_get("due")?,
                done_at: r.try_get("done_at")?,
            })
        })
        .collect()
}

/// Marks follow-up `number` done; false when there is no such open follow-up.
pub async fn done(
    conn: &mut Conn,
    sev: SevId,
    number: i64,
    by: &str,
    now: i64,
) -> anyhow::Result<bool> {
    let r = sqlx::query(
        "UPDATE followups SET done_at = $1, done_by = $2 WHERE sev_id = $3 AND number = $4 AND done_at IS NULL",
    )
    .bind(now)
    .bind(by)
    .bind(sev.0)
    .bind(number)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}
