//! What the outbox learned from the platforms, recorded where people look, in the same
//! transaction that finishes the row: the channel that now exists, a page that reached
//! someone ("paged" is said only then), a page that could not — with the reason and the
//! fix, and the escalation moved on at once when nobody could be reached.

use super::{JOB_ESCALATE, SYSTEM_ACTOR};
use crate::domain::{EventKind, SevId, TimelineEvent};
use crate::effects::{Effect, MACHINE_QUEUE};
use crate::store::incidents as sevs;
use crate::store::paging::{self, Page};
use crate::store::{Conn, jobs, outbox};

/// Records the channel on the SEV and the timeline; machine chatter that waited for the
/// channel is due now.
pub async fn channel_created(
    conn: &mut Conn,
    platform: &str,
    sev: SevId,
    name: &str,
    channel_id: &str,
    now: i64,
) -> anyhow::Result<()> {
    sevs::set_channel(conn, sev, name, channel_id).await?;
    outbox::wake_queue(conn, &format!("{platform}:{sev}{MACHINE_QUEUE}"), now).await?;
    let ev = TimelineEvent {
        at: now,
        actor: SYSTEM_ACTOR.into(),
        event: EventKind::ChannelCreated { name: name.into() },
    };
    sevs::append_event(conn, sev, &ev).await
}

/// The binding (channel and purpose) a tracker's ticket key is kept under.
pub const TICKET: &str = "ticket";

/// A tracker opened the SEV's ticket: its key is kept for the comments that follow, and
/// the channel gets the link.
pub async fn ticket_opened(
    conn: &mut Conn,
    sink: &str,
    via: &str,
    sev: SevId,
    ticket: &crate::effects::TicketRef,
    now: i64,
) -> anyhow::Result<()> {
    sevs::bind_message(conn, sev, sink, TICKET, TICKET).await?;
    sevs::set_message_id(conn, sev, sink, TICKET, TICKET, &ticket.key).await?;
    let ev = EventKind::TicketOpened {
        via: via.to_string(),
        key: ticket.key.clone(),
        url: ticket.url.clone(),
    };
    tell(conn, sev, ev, now).await
}

/// One route of one page.
#[derive(Debug, Clone, Copy)]
pub struct PageRoute<'a> {
    pub sev: SevId,
    pub person: &'a str,
    /// The page's row; `None` for rows written before pages carried it.
    pub page: Option<i64>,
    /// The route, as people call it ("Slack", "PagerDuty").
    pub via: &'a str,
    /// The SEV's own chat platform (named on the timeline only when it fails).
    pub chat: bool,
}

/// A route delivered the page: now the timeline says "paged", in the channel too.
pub async fn page_delivered(conn: &mut Conn, r: PageRoute<'_>, now: i64) -> anyhow::Result<()> {
    // Rows from before pages carried their id were recorded as paged when queued.
    let Some(id) = r.page else { return Ok(()) };
    let Some(page) = paging::delivered(conn, id, now).await? else {
        return Ok(());
    };
    let ev = EventKind::Paged {
        person: page.person.clone(),
        role: page.role,
        step: page.step as u32,
        via: (!r.chat).then(|| r.via.to_string()),
    };
    tell(conn, r.sev, ev, now).await
}

/// A route could not deliver the page. Said in the SEV's channel and on its timeline;
/// when no route reached a page of the escalation chain, the next step is due now rather
/// than after an acknowledgement that cannot come. Returns whether a step was moved.
pub async fn page_failed(
    conn: &mut Conn,
    r: PageRoute<'_>,
    reason: &str,
    now: i64,
) -> anyhow::Result<bool> {
    let id = match r.page {
        Some(id) => Some(id),
        None => paging::latest(conn, r.sev, r.person).await?,
    };
    let Some(page) = (match id {
        Some(id) => paging::route_failed(conn, id, reason, now).await?,
        None => None,
    }) else {
        return Ok(false);
    };
    let unpaged = page.failed_at.is_some();
    let escalating = unpaged
        && escalation_waits_on(conn, r.sev, &page).await?
        && jobs::expedite(conn, r.sev, JOB_ESCALATE, now).await?;
    let ev = EventKind::PageFailed {
        person: page.person.clone(),
        role: page.role,
        step: page.step as u32,
        via: r.via.to_string(),
        reason: reason.to_string(),
        unpaged,
        escalating,
    };
    tell(conn, r.sev, ev, now).await?;
    Ok(escalating)
}

/// Whether the ladder is waiting for an acknowledgement that `page`'s failure makes
/// impossible: the page is in the chain, the SEV is open and unacknowledged, and every
/// page of its step failed.
async fn escalation_waits_on(conn: &mut Conn, sev: SevId, page: &Page) -> anyhow::Result<bool> {
    if !page.in_chain() {
        return Ok(false);
    }
    let open = sevs::load(conn, sev)
        .await?
        .is_some_and(|i| i.stage.is_open());
    let acked = paging::ladder(conn, sev)
        .await?
        .is_none_or(|l| l.acked_at.is_some());
    if !open || acked {
        return Ok(false);
    }
    let step = paging::all(conn, sev).await?;
    Ok(step
        .iter()
        .filter(|p| p.in_chain() && p.step == page.step)
        .all(|p| p.failed_at.is_some()))
}

/// Appends `ev` to the SEV's timeline and posts it in its channel.
async fn tell(conn: &mut Conn, sev: SevId, ev: EventKind, now: i64) -> anyhow::Result<()> {
    let Some(inc) = sevs::load(conn, sev).await? else {
        return Ok(());
    };
    let event = TimelineEvent {
        at: now,
        actor: SYSTEM_ACTOR.into(),
        event: ev,
    };
    sevs::append_event(conn, sev, &event).await?;
    outbox::push(conn, &inc.platform, &Effect::PostEvent { sev, event }, now).await?;
    Ok(())
}
