//! Storms: machine lines for one channel (alerts, monitoring's notes) wait in a queue of
//! their own and, when their pacing slot comes, everything waiting goes out as one message
//! ("40 alerts: …"). Every line stays on the timeline; people's lines never wait behind
//! them. Impact card edits behind each other collapse into the newest.

use super::Delivery;
use super::attempt::{FOLD_LIMIT, db_retry};
use super::settle::Done;
use crate::effects::{DeliveryError, Effect, Message, Platform};
use crate::store::outbox::{self, OutboxRow};

impl Delivery {
    pub(super) async fn fold(
        &self,
        p: &dyn Platform,
        row: &OutboxRow,
        effect: &Effect,
    ) -> Result<Done, DeliveryError> {
        let behind = outbox::followers(&self.store, &row.queue, row.id, FOLD_LIMIT)
            .await
            .map_err(db_retry)?;
        // An earlier attempt chose its rows: a retry takes exactly those, so a message
        // found after a crash accounts for the same lines.
        let behind = behind
            .into_iter()
            .filter(|f| row.fold_upto.is_none_or(|upto| f.id <= upto));
        match effect {
            Effect::PostEvent { sev, event } => {
                let mut events = vec![event.clone()];
                let mut folded = vec![];
                for f in behind {
                    match Effect::decode(f.version, &f.effect) {
                        Ok(Effect::PostEvent { event, .. }) => {
                            events.push(event);
                            folded.push(f.id);
                        }
                        _ => break,
                    }
                }
                let ch = self.incident_channel(*sev, row).await?;
                let msg = match events.len() {
                    1 => Message::Event(*sev, &events[0]),
                    _ => Message::Batch(*sev, &events),
                };
                if let Some(last) = folded.last()
                    && row.fold_upto.is_none()
                {
                    outbox::set_fold(&self.store, row.id, *last)
                        .await
                        .map_err(db_retry)?;
                }
                let mut done = self.post_once(p, row, &ch, msg).await?;
                if !folded.is_empty() {
                    metrics::counter!("sevbot_outbox_folded_total").increment(folded.len() as u64);
                    tracing::info!(%sev, lines = events.len(), "machine lines folded into one message");
                }
                done.folded = folded;
                Ok(done)
            }
            Effect::UpsertImpact { sev, text } => {
                let mut newest = text.clone();
                let mut folded = vec![];
                for f in behind {
                    match Effect::decode(f.version, &f.effect) {
                        Ok(Effect::UpsertImpact { text, .. }) => {
                            newest = text;
                            folded.push(f.id);
                        }
                        _ => break,
                    }
                }
                let ch = self.incident_channel(*sev, row).await?;
                let mut done = self
                    .upsert(p, row, *sev, &ch, "impact", Message::Impact(&newest))
                    .await?;
                done.folded = folded;
                Ok(done)
            }
            other => self.apply(p, row, other).await,
        }
    }
}
