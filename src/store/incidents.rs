//! SEVs, their roles, their append-only timeline, and the messages bound to them.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::Conn;
use crate::domain::chain;
use crate::domain::{EventKind, Incident, Level, Role, SevId, SevType, Stage, TimelineEvent};

const SEV_COLUMNS: &str = "id, sev_type, level, stage, title, customer_impact, declared_by, declared_at, \
     platform, channel_name, latest_update, restricted, drill";

pub struct NewSev<'a> {
    pub sev_type: SevType,
    pub level: Level,
    pub title: &'a str,
    pub customer_impact: bool,
    pub restricted: bool,
    /// A practice SEV (`/sev drill`).
    pub drill: bool,
    pub declared_by: &'a str,
    pub platform: &'a str,
    pub origin_channel: &'a str,
    pub now: i64,
}

pub async fn insert(conn: &mut Conn, s: &NewSev<'_>) -> anyhow::Result<SevId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO sevs (sev_type, level, stage, title, customer_impact, declared_by, declared_at, \
         updated_at, platform, origin_channel, channel_name, last_update_at, restricted, drill) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(s.sev_type.as_str())
    .bind(i64::from(s.level.get()))
    .bind(Stage::Declared.as_str())
    .bind(s.title)
    .bind(i64::from(s.customer_impact))
    .bind(s.declared_by)
    .bind(s.now)
    .bind(s.now)
    .bind(s.platform)
    .bind(s.origin_channel)
    .bind("")
    .bind(s.now)
    .bind(i64::from(s.restricted))
    .bind(i64::from(s.drill))
    .fetch_one(conn)
    .await?;
    Ok(SevId(id))
}

fn from_row(r: &AnyRow) -> anyhow::Result<Incident> {
    let ty: String = r.try_get("sev_type")?;
    let stage: String = r.try_get("stage")?;
    let level: i64 = r.try_get("level")?;
    Ok(Incident {
        id: SevId(r.try_get("id")?),
        sev_type: SevType::parse(&ty).ok_or_else(|| anyhow::anyhow!("bad sev_type {ty}"))?,
        level: u8::try_from(level)
            .ok()
            .and_then(Level::new)
            .ok_or_else(|| anyhow::anyhow!("bad level {level}"))?,
        stage: Stage::parse(&stage).ok_or_else(|| anyhow::anyhow!("bad stage {stage}"))?,
        title: r.try_get("title")?,
        customer_impact: r.try_get::<i64, _>("customer_impact")? != 0,
        declared_by: r.try_get("declared_by")?,
        declared_at: r.try_get("declared_at")?,
        platform: r.try_get("platform")?,
        channel_name: r.try_get("channel_name")?,
        roles: BTreeMap::new(),
        latest_update: r.try_get("latest_update")?,
        restricted: r.try_get::<i64, _>("restricted")? != 0,
        redacted: false,
        drill: r.try_get::<i64, _>("drill")? != 0,
    })
}

async fn with_roles(conn: &mut Conn, mut inc: Incident) -> anyhow::Result<Incident> {
    let rows = sqlx::query("SELECT role, person FROM role_assignments WHERE sev_id = $1")
        .bind(inc.id.0)
        .fetch_all(conn)
        .await?;
    for r in &rows {
        add_role(&mut inc, r)?;
    }
    Ok(inc)
}

/// The role a row names, if any (a SEV without roles joins to one row of nulls).
fn add_role(inc: &mut Incident, r: &AnyRow) -> anyhow::Result<()> {
    let role: Option<String> = r.try_get("role")?;
    if let Some(role) = role.as_deref().and_then(Role::parse) {
        inc.roles.insert(role, r.try_get("person")?);
    }
    Ok(())
}

/// Reads a SEV. On PostgreSQL the row stays locked until the transaction ends: whatever
/// is decided from it is decided on the SEV as it is, not as another replica's command
/// in flight is about to leave it (SQLite's single writer needs no lock).
pub async fn load(conn: &mut Conn, id: SevId) -> anyhow::Result<Option<Incident>> {
    let lock = if super::is_postgres(conn) {
        " FOR UPDATE OF s"
    } else {
        ""
    };
    // The SEV and its roles in one statement (a row per role, one without any): every
    // command reads its SEV, and each statement is a round trip the single writer waits on.
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SEV_COLUMNS}, r.role AS role, r.person AS person FROM sevs s \
         LEFT JOIN role_assignments r ON r.sev_id = s.id WHERE s.id = $1{lock}"
    )))
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut inc = from_row(first)?;
    for r in &rows {
        add_role(&mut inc, r)?;
    }
    Ok(Some(inc))
}

/// The SEV whose incident channel this is.
pub async fn by_channel(
    conn: &mut Conn,
    platform: &str,
    channel: &str,
) -> anyhow::Result<Option<SevId>> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM sevs WHERE platform = $1 AND channel_id = $2")
            .bind(platform)
            .bind(channel)
            .fetch_optional(conn)
            .await?;
    Ok(id.map(SevId))
}

/// Open SEVs, most critical first, then the most recently ended ones.
pub async fn list(
    conn: &mut Conn,
    ended_limit: i64,
) -> anyhow::Result<(Vec<Incident>, Vec<Incident>)> {
    let open = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SEV_COLUMNS} FROM sevs WHERE stage IN ('declared', 'investigating', 'mitigated') \
         ORDER BY level, id"
    )))
    .fetch_all(&mut *conn)
    .await?;
    let ended = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SEV_COLUMNS} FROM sevs WHERE stage IN ('resolved', 'closed', 'cancelled') \
         ORDER BY updated_at DESC, id DESC LIMIT $1"
    )))
    .bind(ended_limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = (Vec::new(), Vec::new());
    for r in open {
        out.0.push(with_roles(conn, from_row(&r)?).await?);
    }
    for r in ended {
        out.1.push(with_roles(conn, from_row(&r)?).await?);
    }
    Ok(out)
}

/// SEVs that may touch [from, to): declared before its end and not over before its start
/// (drills left out), oldest first; reports and the SLA ledger clip their minutes.
pub async fn touching(conn: &mut Conn, from: i64, to: i64) -> anyhow::Result<Vec<Incident>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SEV_COLUMNS} FROM sevs WHERE drill = 0 AND declared_at < $1 \
         AND (stage IN ('declared', 'investigating', 'mitigated') OR updated_at >= $2) ORDER BY id"
    )))
    .bind(to)
    .bind(from)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(with_roles(conn, from_row(&r)?).await?);
    }
    Ok(out)
}

/// Writes the mutable fields back; roles are upserted.
/// Writes what changed from `before`: the row, and the roles handed to someone new.
pub async fn save<'b>(
    conn: &mut Conn,
    before: &Incident,
    inc: &Incident,
    now: i64,
    by: &(dyn Fn(Role) -> &'b str + Sync),
) -> anyhow::Result<()> {
    // Only roles changed (a declare's roles filled, a role taken): the row stays as it is,
    // one statement fewer for the single writer. `updated_at` is the row's time, which
    // orders ended SEVs; roles are not part of it.
    let row_changed = (before.level, before.stage, &before.latest_update)
        != (inc.level, inc.stage, &inc.latest_update)
        || (&before.channel_name, &before.title) != (&inc.channel_name, &inc.title);
    if row_changed {
        sqlx::query(
            "UPDATE sevs SET level = $1, stage = $2, latest_update = $3, channel_name = $4, updated_at = $5, \
             title = $6 WHERE id = $7",
        )
        .bind(i64::from(inc.level.get()))
        .bind(inc.stage.as_str())
        .bind(inc.latest_update.clone())
        .bind(inc.channel_name.clone())
        .bind(now)
        .bind(inc.title.clone())
        .bind(inc.id.0)
        .execute(&mut *conn)
        .await?;
    }
    let changed: Vec<_> = inc
        .roles
        .iter()
        .filter(|(r, p)| before.roles.get(r) != Some(*p))
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO role_assignments (sev_id, role, person, assigned_at, assigned_by) \
         VALUES {} ON CONFLICT (sev_id, role) DO UPDATE SET \
         person = excluded.person, assigned_at = excluded.assigned_at, assigned_by = excluded.assigned_by \
         WHERE role_assignments.person <> excluded.person",
        super::values_list(changed.len(), 5, 1)
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for (role, person) in changed {
        q = q
            .bind(inc.id.0)
            .bind(role.as_str())
            .bind(person.as_str())
            .bind(now)
            .bind(by(*role));
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

pub async fn touch_last_update(conn: &mut Conn, id: SevId, now: i64) -> anyhow::Result<()> {
    sqlx::query("UPDATE sevs SET last_update_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn last_update_at(conn: &mut Conn, id: SevId) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT last_update_at FROM sevs WHERE id = $1")
            .bind(id.0)
            .fetch_one(conn)
            .await?,
    )
}

pub async fn set_channel(
    conn: &mut Conn,
    id: SevId,
    name: &str,
    channel_id: &str,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE sevs SET channel_name = $1, channel_id = $2 WHERE id = $3")
        .bind(name)
        .bind(channel_id)
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn channel_id(conn: &mut Conn, id: SevId) -> anyhow::Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT channel_id FROM sevs WHERE id = $1")
            .bind(id.0)
            .fetch_optional(conn)
            .await?
            .flatten(),
    )
}

pub async fn append_event(conn: &mut Conn, id: SevId, ev: &TimelineEvent) -> anyhow::Result<()> {
    append_events(conn, id, std::slice::from_ref(ev)).await
}

/// Appends to the timeline, each entry linked to the one before (see `domain::chain`).
/// Bumping the SEV's count first locks its row on PostgreSQL, so two transactions appending
/// to one SEV take turns instead of forking the chain.
pub async fn append_events(
    conn: &mut Conn,
    id: SevId,
    events: &[TimelineEvent],
) -> anyhow::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    // Two statements however many events: the count and old head, the entries (which
    // move the head).
    let n = events.len() as i64;
    // Counting first takes the SEV's row lock (PostgreSQL), so concurrent appends chain
    // one after the other rather than from the same head.
    let row = sqlx::query(
        "UPDATE sevs SET timeline_count = timeline_count + $1 WHERE id = $2 \
         RETURNING timeline_count, timeline_head",
    )
    .bind(n)
    .bind(id.0)
    .fetch_one(&mut *conn)
    .await?;
    let before: i64 = row.try_get::<i64, _>("timeline_count")? - n;
    let head: Option<String> = row.try_get("timeline_head")?;
    let mut prev = match head {
        Some(h) => chain::from_hex(&h)
            .ok_or_else(|| anyhow::anyhow!("SEV-{} has an unreadable timeline head {h:?}", id.0))?,
        None if before == 0 => chain::GENESIS,
        None => unchained_head(conn, id).await?,
    };
    let mut rows = Vec::with_capacity(events.len());
    for ev in events {
        let detail = serde_json::to_string(&ev.event)?;
        let kind = serde_json::to_value(&ev.event)?
            .get("kind")
            .and_then(|k| k.as_str().map(str::to_string))
            .unwrap_or_default();
        prev = chain::link(
            &prev,
            &chain::Entry {
                sev: id.0,
                at: ev.at,
                actor: ev.actor.as_str(),
                kind: &kind,
                detail: &detail,
            },
        );
        rows.push((ev, kind, detail, chain::to_hex(&prev)));
    }
    let sql = format!(
        "INSERT INTO incident_events (sev_id, at, actor, kind, detail, hash) VALUES {}",
        super::values_list(rows.len(), 6, 1)
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for (ev, kind, detail, hash) in rows {
        q = q
            .bind(id.0)
            .bind(ev.at)
            .bind(ev.actor.as_str())
            .bind(kind)
            .bind(detail)
            .bind(hash);
    }
    // The new head is set by the insert itself (trigger `incident_events_head`).
    q.execute(&mut *conn).await?;
    Ok(())
}

/// The link after entries recorded before the chain existed (a SEV from an older release).
async fn unchained_head(conn: &mut Conn, id: SevId) -> anyhow::Result<chain::Hash> {
    let (entries, _) = chain_of(conn, id).await?;
    let mut prev = chain::GENESIS;
    for e in &entries {
        prev = chain::link(
            &prev,
            &chain::Entry {
                sev: id.0,
                at: e.at,
                actor: &e.actor,
                kind: &e.kind,
                detail: &e.detail,
            },
        );
    }
    Ok(prev)
}

/// A SEV's entries as stored, with what its row says of them, for `audit verify`.
pub async fn chain_of(
    conn: &mut Conn,
    id: SevId,
) -> anyhow::Result<(Vec<chain::Stored>, chain::Head)> {
    let rows = sqlx::query(
        "SELECT id, at, actor, kind, detail, hash FROM incident_events WHERE sev_id = $1 ORDER BY id",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?;
    let entries = rows
        .iter()
        .map(|r| {
            Ok(chain::Stored {
                row: r.try_get("id")?,
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                kind: r.try_get("kind")?,
                detail: r.try_get("detail")?,
                hash: r.try_get("hash")?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let head = sqlx::query("SELECT timeline_count, timeline_head FROM sevs WHERE id = $1")
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| -> anyhow::Result<chain::Head> {
            Ok(chain::Head {
                count: r.try_get("timeline_count")?,
                hash: r.try_get("timeline_head")?,
            })
        })
        .transpose()?
        .unwrap_or_default();
    Ok((entries, head))
}

/// Every SEV's id, oldest first.
pub async fn all_ids(conn: &mut Conn) -> anyhow::Result<Vec<SevId>> {
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM sevs ORDER BY id")
        .fetch_all(conn)
        .await?;
    Ok(ids.into_iter().map(SevId).collect())
}

pub async fn timeline(conn: &mut Conn, id: SevId) -> anyhow::Result<Vec<TimelineEvent>> {
    let rows =
        sqlx::query("SELECT at, actor, detail FROM incident_events WHERE sev_id = $1 ORDER BY id")
            .bind(id.0)
            .fetch_all(conn)
            .await?;
    rows.iter()
        .map(|r| {
            let detail: String = r.try_get("detail")?;
            Ok(TimelineEvent {
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                event: serde_json::from_str::<EventKind>(&detail)?,
            })
        })
        .collect()
}

/// A message sevbot keeps editing (the incident card, a feed announcement). Returns true
/// when the binding is new.
pub async fn bind_message(
    conn: &mut Conn,
    id: SevId,
    platform: &str,
    channel: &str,
    purpose: &str,
) -> anyhow::Result<bool> {
    let r = sqlx::query(
        "INSERT INTO message_bindings (sev_id, platform, channel, purpose) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (sev_id, platform, channel, purpose) DO NOTHING",
    )
    .bind(id.0)
    .bind(platform)
    .bind(channel)
    .bind(purpose)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn bound_channels(
    conn: &mut Conn,
    id: SevId,
    purpose: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let rows = sqlx::query("SELECT platform, channel FROM message_bindings WHERE sev_id = $1 AND purpose = $2 ORDER BY platform, channel")
        .bind(id.0)
        .bind(purpose)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("platform")?, r.try_get("channel")?)))
        .collect()
}

pub async fn message_id(
    conn: &mut Conn,
    id: SevId,
    platform: &str,
    channel: &str,
    purpose: &str,
) -> anyhow::Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT message_id FROM message_bindings WHERE sev_id = $1 AND platform = $2 AND channel = $3 AND purpose = $4",
    )
    .bind(id.0)
    .bind(platform)
    .bind(channel)
    .bind(purpose)
    .fetch_optional(conn)
    .await?
    .flatten())
}

pub async fn set_message_id(
    conn: &mut Conn,
    id: SevId,
    platform: &str,
    channel: &str,
    purpose: &str,
    message_id: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE message_bindings SET message_id = $1 WHERE sev_id = $2 AND platform = $3 AND channel = $4 AND purpose = $5",
    )
    .bind(message_id)
    .bind(id.0)
    .bind(platform)
    .bind(channel)
    .bind(purpose)
    .execute(conn)
    .await?;
    Ok(())
}

/// The newest open SEV of this type that `actor` declared since `since`.
pub async fn recent_declare(
    conn: &mut Conn,
    actor: &str,
    sev_type: SevType,
    since: i64,
) -> anyhow::Result<Option<Incident>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SEV_COLUMNS} FROM sevs WHERE declared_by = $1 AND sev_type = $2 AND declared_at >= $3 \
         AND stage IN ('declared', 'investigating', 'mitigated') ORDER BY id DESC LIMIT 1"
    )))
    .bind(actor)
    .bind(sev_type.as_str())
    .bind(since)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(r) => Ok(Some(from_row(&r)?)),
        None => Ok(None),
    }
}

/// Where the SEV was declared (the channel the declare command came from).
pub async fn origin_channel(conn: &mut Conn, id: SevId) -> anyhow::Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT origin_channel FROM sevs WHERE id = $1")
            .bind(id.0)
            .fetch_optional(conn)
            .await?,
    )
}
