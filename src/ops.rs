//! Operator commands on the outbox (`sevbot outbox list|retry|drop`): what failed or is
//! stuck, with the reason, and the two things an operator can do about a row once the
//! cause is fixed — send it again, or give up on it so its queue moves on.

use std::fmt::Write;

use crate::domain::text::fmt_duration;
use crate::store::Store;
use crate::store::outbox::{self, Listed};

/// A pending row this long past due is listed as stuck.
const STUCK_MS: i64 = 60_000;

#[derive(Debug, Clone, Copy)]
pub enum OutboxAction {
    List { all: bool },
    Retry(i64),
    Drop(i64),
}

/// Runs one action; `Err` carries the message for a refused one (exit 1).
pub async fn outbox(store: &Store, action: OutboxAction, now: i64) -> anyhow::Result<String> {
    match action {
        OutboxAction::List { all } => {
            let rows = outbox::list(store, now, STUCK_MS, all).await?;
            Ok(render(&rows, now, all))
        }
        OutboxAction::Retry(id) => match outbox::retry(store, id, now).await? {
            true => Ok(format!(
                "Row {id} will be sent again now (a running sevbot picks it up within its poll interval)."
            )),
            false => anyhow::bail!(
                "No failed or pending outbox row {id}; `sevbot outbox list` shows them."
            ),
        },
        OutboxAction::Drop(id) => match outbox::drop_row(store, id, now).await? {
            true => Ok(format!(
                "Row {id} dropped; it is kept as `dropped` and its queue moves on."
            )),
            false => anyhow::bail!(
                "No failed or pending outbox row {id}; `sevbot outbox list` shows them."
            ),
        },
    }
}

fn render(rows: &[Listed], now: i64, all: bool) -> String {
    if rows.is_empty() {
        return match all {
            true => "The outbox is empty: everything was delivered.".into(),
            false => "Nothing failed or stuck in the outbox.".into(),
        };
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:<8} {:<10} {:<28} {:<15} {:>5} {:>10} {:>10}  ERROR",
        "ID", "STATE", "PLATFORM", "QUEUE", "EFFECT", "TRIES", "AGE", "NEXT"
    );
    for r in rows {
        let state = match (r.status.as_str(), &r.leased_by) {
            ("pending", Some(_)) => "sending",
            (s, _) => s,
        };
        let next = match r.status.as_str() {
            "pending" if r.next_attempt_at > now => {
                format!("in {}", fmt_duration((r.next_attempt_at - now) / 1000))
            }
            "pending" => "now".into(),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "{:<8} {:<8} {:<10} {:<28} {:<15} {:>5} {:>10} {:>10}  {}",
            r.id,
            state,
            r.platform,
            r.queue,
            r.label,
            r.attempts,
            fmt_duration((now - r.created_at) / 1000),
            next,
            r.last_error.as_deref().unwrap_or("")
        );
    }
    let _ = write!(
        out,
        "{} row(s). `sevbot outbox retry ID` sends one again once the cause is fixed; `sevbot outbox drop ID` gives up on it.",
        rows.len()
    );
    out
}
