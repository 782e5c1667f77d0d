//! The SEV's e-mail thread: the configured lists and e-mail subscriptions that match a SEV
//! are bound to it (and keep hearing of it, as feeds do); a newly bound address gets the
//! opening message, then every address a reply per status update and stage change.

use super::*;
use crate::domain::mail;

/// The platform name e-mail subscriptions are stored under.
pub const EMAIL: &str = "email";

impl Engine {
    pub(super) async fn mail(
        &self,
        tx: &mut Tx,
        inc: &Incident,
        events: &[TimelineEvent],
        now: i64,
    ) -> anyhow::Result<()> {
        let (Some(sink), Some(from)) = (&self.mail_sink, &self.cfg().email.from) else {
            return Ok(());
        };
        let mut wanted: Vec<String> = self
            .cfg()
            .email
            .lists()
            .into_iter()
            .filter(|l| l.filter.matches(inc.sev_type, inc.level))
            .map(|l| l.address)
            .collect();
        for sub in subscriptions::all(tx).await? {
            if sub.platform == EMAIL && sub.filter.matches(inc.sev_type, inc.level) {
                wanted.push(sub.channel);
            }
        }
        let mut fresh = vec![];
        for address in wanted {
            if sevs::bind_message(tx, inc.id, sink, &address, "mail").await? {
                fresh.push(address);
            }
        }
        let domain = mail::sender_domain(from);
        let thread = mail::thread_id(inc, domain);
        let bound = sevs::bound_channels(tx, inc.id, "mail").await?;
        let effects = self.with_markup(Self::PLAIN, |m| {
            let mut effects = vec![];
            for (_, address) in bound {
                let view = if inc.restricted && !self.cfg().email.is_private(&address) {
                    inc.redacted()
                } else {
                    inc.clone()
                };
                let mut texts = vec![];
                if fresh.contains(&address) {
                    texts.push((mail::opening(&view, m), thread.clone()));
                }
                for ev in events {
                    if let Some(t) = mail::reply(&view, ev, m) {
                        texts.push((t, mail::reply_id(inc, ev, domain)));
                    }
                }
                for (text, message_id) in texts {
                    effects.push(Effect::Email {
                        sev: inc.id,
                        to: address.clone(),
                        subject: text.subject,
                        body: text.body,
                        message_id,
                        thread: thread.clone(),
                    });
                }
            }
            effects
        });
        for effect in effects {
            self.enqueue(tx, sink, effect, now).await?;
        }
        Ok(())
    }
}
