//! The SEV's ticket in each tracker sink (Jira, the tracker webhook): opened at the
//! declaration, a comment for each update and stage change the outside hears of, the
//! postmortem attached when the SEV is resolved. A restricted SEV's ticket says what its
//! e-mail to an uncleared list says: no title, people or update text, no postmortem.

use super::*;
use crate::domain::mail;
use crate::domain::words::fmt_time;
use crate::effects::TicketAction;

impl Engine {
    pub(super) async fn tickets(
        &self,
        tx: &mut Tx,
        inc: &Incident,
        events: &[TimelineEvent],
        now: i64,
    ) -> anyhow::Result<()> {
        if self.ticket_sinks.is_empty() {
            return Ok(());
        }
        let resolved = events.iter().any(|e| {
            matches!(
                e.event,
                EventKind::StageChanged {
                    to: Stage::Resolved,
                    ..
                }
            )
        });
        let postmortem = match resolved && !inc.restricted {
            true => Some(self.postmortem(tx, inc, now).await?),
            false => None,
        };
        let view = if inc.restricted {
            inc.redacted()
        } else {
            inc.clone()
        };
        let mut actions = self.with_markup(Self::PLAIN, |m| {
            let mut actions = vec![];
            for ev in events {
                if matches!(ev.event, EventKind::Declared { .. }) {
                    actions.push(TicketAction::Open {
                        summary: mail::subject(&view),
                        description: crate::domain::text::card_text(&view, m),
                        level: inc.level,
                        sev_type: inc.sev_type,
                        label: format!(
                            "sevbot-{}-{}",
                            inc.id.to_string().to_ascii_lowercase(),
                            inc.declared_at
                        ),
                    });
                } else if let Some(line) = mail::outside_line(&view, ev, m) {
                    actions.push(TicketAction::Comment {
                        text: format!("{}: {line}", fmt_time(ev.at)),
                    });
                }
            }
            actions
        });
        if let Some(content) = postmortem {
            actions.push(TicketAction::Attach {
                filename: format!("postmortem-{}.md", inc.id),
                content,
            });
        }
        for sink in &self.ticket_sinks {
            for action in &actions {
                let effect = Effect::Ticket {
                    sev: inc.id,
                    action: action.clone(),
                };
                self.enqueue(tx, sink, effect, now).await?;
            }
        }
        Ok(())
    }
}
