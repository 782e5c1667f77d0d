//! Feed subscriptions: a channel and its filter.

use sqlx::Row;

use super::Conn;
use crate::domain::FeedFilter;

pub struct Subscription {
    pub platform: String,
    pub channel: String,
    pub filter: FeedFilter,
}

/// Creates or replaces the channel's subscription; returns true when it is new.
pub async fn upsert(
    conn: &mut Conn,
    platform: &str,
    channel: &str,
    filter: &FeedFilter,
    by: &str,
    now: i64,
) -> anyhow::Result<bool> {
    let existed: Option<i64> =
        sqlx::query_scalar("SELECT id FROM subscriptions WHERE platform = $1 AND channel = $2")
            .bind(platform)
            .bind(channel)
            .fetch_optional(&mut *conn)
            .await?;
    sqlx::query(
        "INSERT INTO subscriptions (platform, channel, filter, created_by, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (platform, channel) DO UPDATE SET filter = excluded.filter",
    )
    .bind(platform)
    .bind(channel)
    .bind(serde_json::to_string(filter)?)
    .bind(by)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(existed.is_none())
}

pub async fn remove(conn: &mut Conn, platform: &str, channel: &str) -> anyhow::Result<bool> {
    let r = sqlx::query("DELETE FROM subscriptions WHERE platform = $1 AND channel = $2")
        .bind(platform)
        .bind(channel)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() > 0)
}

pub async fn all(conn: &mut Conn) -> anyhow::Result<Vec<Subscription>> {
    let rows = sqlx::query("SELECT platform, channel, filter FROM subscriptions ORDER BY id")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            let f: String = r.try_get("filter")?;
            Ok(Subscription {
                platform: r.try_get("platform")?,
                channel: r.try_get("channel")?,
                filter: serde_json::from_str(&f)?,
            })
        })
        .collect()
}
