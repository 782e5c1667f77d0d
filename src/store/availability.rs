//! Availability samples, each route's standing, Alertmanager de-duplication, and customer
//! drafts.

use sqlx::Row;

use super::Conn;
use crate::domain::SevId;

pub async fn insert_sample(
    conn: &mut Conn,
    route: &str,
    window: (i64, i64),
    requests: i64,
    failures: i64,
    source: &str,
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO availability_samples (route, window_start, window_end, requests, failures, source, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(route)
    .bind(window.0)
    .bind(window.1)
    .bind(requests)
    .bind(failures)
    .bind(source)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Failed requests per route in the sample windows that overlap [from, to).
pub async fn failures_by_route(
    conn: &mut Conn,
    from: i64,
    to: i64,
) -> anyhow::Result<std::collections::BTreeMap<String, i64>> {
    let rows = sqlx::query(
        "SELECT route, CAST(SUM(failures) AS BIGINT) AS failed FROM availability_samples \
         WHERE window_end > $1 AND window_start < $2 GROUP BY route",
    )
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let failed: Option<i64> = r.try_get("failed")?;
            Ok((r.try_get("route")?, failed.unwrap_or(0)))
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteState {
    pub route: String,
    pub worthy_since: Option<i64>,
    pub level: Option<i64>,
    pub availability: Option<f64>,
    pub sev: Option<SevId>,
    /// The latest window reported: requests, failures, and when it ended.
    pub requests: Option<i64>,
    pub failures: Option<i64>,
    pub window_end: Option<i64>,
}

pub async fn states(conn: &mut Conn) -> anyhow::Result<Vec<RouteState>> {
    let rows = sqlx::query(
        "SELECT route, worthy_since, level, availability_milli, sev_id, requests, failures, window_end FROM route_state ORDER BY route",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let sev: Option<i64> = r.try_get("sev_id")?;
            let milli: Option<i64> = r.try_get("availability_milli")?;
            Ok(RouteState {
                route: r.try_get("route")?,
                worthy_since: r.try_get("worthy_since")?,
                level: r.try_get("level")?,
                availability: milli.map(|m| m as f64 / 1000.0),
                sev: sev.map(SevId),
                requests: r.try_get("requests")?,
                failures: r.try_get("failures")?,
                window_end: r.try_get("window_end")?,
            })
        })
        .collect()
}

pub async fn save_state(conn: &mut Conn, s: &RouteState, now: i64) -> anyhow::Result<()> {
    // Stored as thousandths of a percent: the Any driver binds integers on every backend.
    let milli = s.availability.map(|a| (a * 1000.0).round() as i64);
    sqlx::query(
        "INSERT INTO route_state (route, worthy_since, level, availability_milli, sev_id, requests, failures, window_end, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (route) DO UPDATE SET worthy_since = $10, level = $11, availability_milli = $12, sev_id = $13, \
         requests = $14, failures = $15, window_end = $16, updated_at = $17",
    )
    .bind(&s.route)
    .bind(s.worthy_since)
    .bind(s.level)
    .bind(milli)
    .bind(s.sev.map(|x| x.0))
    .bind(s.requests)
    .bind(s.failures)
    .bind(s.window_end)
    .bind(now)
    .bind(s.worthy_since)
    .bind(s.level)
    .bind(milli)
    .bind(s.sev.map(|x| x.0))
    .bind(s.requests)
    .bind(s.failures)
    .bind(s.window_end)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records an alert state; false when this exact notification was seen before
/// (Alertmanager repeats and retries).
pub async fn first_alert(
    conn: &mut Conn,
    group_key: &str,
    fingerprint: &str,
    status: &str,
    starts_at: &str,
    labels: &str,
    now: i64,
) -> anyhow::Result<bool> {
    let r = sqlx::query(
        "INSERT INTO alert_events (group_key, fingerprint, status, starts_at, labels, received_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (group_key, fingerprint, status, starts_at) DO NOTHING",
    )
    .bind(group_key)
    .bind(fingerprint)
    .bind(status)
    .bind(starts_at)
    .bind(labels)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub id: i64,
    pub body: String,
    pub created_by: String,
    pub approved_by: Option<String>,
}

pub async fn insert_draft(
    conn: &mut Conn,
    sev: SevId,
    body: &str,
    by: &str,
    now: i64,
) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO drafts (sev_id, body, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(sev.0)
    .bind(body)
    .bind(by)
    .bind(now)
    .fetch_one(conn)
    .await?)
}

pub async fn latest_draft(conn: &mut Conn, sev: SevId) -> anyhow::Result<Option<Draft>> {
    let r = sqlx::query(
        "SELECT id, body, created_by, approved_by FROM drafts WHERE sev_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(sev.0)
    .fetch_optional(conn)
    .await?;
    r.map(|r| {
        Ok(Draft {
            id: r.try_get("id")?,
            body: r.try_get("body")?,
            created_by: r.try_get("created_by")?,
            approved_by: r.try_get("approved_by")?,
        })
    })
    .transpose()
}

/// A customer update as drafted, and whether and when it was approved.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftRecord {
    pub id: i64,
    pub body: String,
    pub created_by: String,
    pub created_at: i64,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
}

/// Every customer update drafted for the SEV, oldest first.
pub async fn all_drafts(conn: &mut Conn, sev: SevId) -> anyhow::Result<Vec<DraftRecord>> {
    let rows = sqlx::query(
        "SELECT id, body, created_by, created_at, approved_by, approved_at FROM drafts WHERE sev_id = $1 ORDER BY id",
    )
    .bind(sev.0)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DraftRecord {
                id: r.try_get("id")?,
                body: r.try_get("body")?,
                created_by: r.try_get("created_by")?,
                created_at: r.try_get("created_at")?,
                approved_by: r.try_get("approved_by")?,
                approved_at: r.try_get("approved_at")?,
            })
        })
        .collect()
}

pub async fn approve_draft(conn: &mut Conn, id: i64, by: &str, now: i64) -> anyhow::Result<bool> {
    let r = sqlx::query(
        "UPDATE drafts SET approved_by = $1, approved_at = $2 WHERE id = $3 AND approved_by IS NULL",
    )
    .bind(by)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}
