//! Outcomes sevbot did not see. After a crash or a timeout the last attempt may have
//! taken effect; before trying again the worker asks the platform: the channel sevbot made
//! for this SEV is adopted (a suffix is tried only when the name belongs to someone
//! else), and a message posted under the row's key is found instead of posted twice.

use super::Delivery;
use super::attempt::{db_retry, key};
use super::settle::Done;
use crate::domain::SevId;
use crate::domain::naming::channel_name;
use crate::effects::{DeliveryError, Effect, NewChannel, Platform};
use crate::store::incidents as sevs;
use crate::store::outbox::{self, OutboxRow};

/// More collisions than this means something else is wrong with channel creation.
const MAX_NAME_ATTEMPTS: u32 = 20;

impl Delivery {
    /// Opens the SEV's channel, or adopts the one sevbot already made for it: after an
    /// attempt whose outcome is unknown, and when the name is taken. A suffix is tried
    /// only when the name belongs to someone else.
    pub(super) async fn create_channel(
        &self,
        p: &dyn Platform,
        row: &OutboxRow,
        sev: SevId,
        title: &str,
        private: bool,
        first: u32,
    ) -> Result<Done, DeliveryError> {
        let not_before = {
            let mut conn = self.store.pool.acquire().await.map_err(db_retry)?;
            sevs::load(&mut conn, sev)
                .await
                .map_err(db_retry)?
                .map(|i| i.declared_at)
                .unwrap_or(row.created_at)
        };
        let mut attempt = first;
        loop {
            let name = channel_name(sev, title, attempt);
            let spec = NewChannel {
                sev,
                name: &name,
                private,
                title,
                not_before,
            };
            let adopt = |id: String, why: &str| {
                tracing::info!(%sev, channel = name, id, "adopted the channel sevbot had created ({why})");
                Ok(Done {
                    channel: Some((sev, name.clone(), id)),
                    ..Done::default()
                })
            };
            if attempt == first
                && row.doubt
                && let Some(id) = p.find_channel(&spec).await?
            {
                return adopt(id, "after an attempt whose answer was lost");
            }
            match p.create_channel(&spec).await {
                Ok(id) => {
                    return Ok(Done {
                        channel: Some((sev, name.clone(), id)),
                        ..Done::default()
                    });
                }
                Err(DeliveryError::NameTaken) => {
                    if let Some(id) = p.find_channel(&spec).await? {
                        return adopt(id, "its name was taken by itself");
                    }
                    attempt += 1;
                    if attempt >= MAX_NAME_ATTEMPTS {
                        return Err(DeliveryError::Permanent(format!(
                            "channel name taken after {MAX_NAME_ATTEMPTS} attempts"
                        )));
                    }
                    tracing::info!(%sev, taken = name, "channel name belongs to someone else; trying a suffix");
                    // Recorded first: a crash during the next attempt resumes at its name.
                    let next = Effect::CreateChannel {
                        sev,
                        title: title.to_string(),
                        private,
                        attempt,
                    };
                    outbox::rewrite(&self.store, row.id, &next)
                        .await
                        .map_err(db_retry)?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// After an attempt whose outcome is unknown: the id of the message it posted, if the
    /// platform can tell.
    pub(super) async fn posted_before(
        &self,
        p: &dyn Platform,
        row: &OutboxRow,
        channel: &str,
    ) -> Result<Option<String>, DeliveryError> {
        if !row.doubt {
            return Ok(None);
        }
        let found = p.find_post(channel, &key(row), row.created_at).await?;
        if let Some(mid) = &found {
            tracing::info!(
                id = row.id,
                channel,
                message = mid,
                "the message had been posted already; not posting it again"
            );
        }
        Ok(found)
    }
}
