//! Asking for an occupied role: the request is a timeline entry that mentions the holder
//! and the IMOC in the SEV's channel. One ask per person and role every few minutes, so a
//! button pressed repeatedly does not page people over and over.

use super::Engine;
use crate::domain::{EventKind, Role, SevId};
use crate::store::Conn;
use crate::store::incidents as sevs;

/// How long an ask stands before the same person may ask again for the same role.
const ASK_AGAIN_AFTER_MS: i64 = 5 * 60_000;

impl Engine {
    /// How long ago `actor` last asked for `role` on `id`, if within the waiting time.
    pub(super) async fn asked_recently(
        &self,
        conn: &mut Conn,
        id: SevId,
        actor: &str,
        role: Role,
        now: i64,
    ) -> anyhow::Result<Option<i64>> {
        let last = sevs::timeline(conn, id).await?.into_iter().rev().find(|e| {
            e.actor == actor
                && matches!(&e.event, EventKind::RoleRequested { role: r, .. } if *r == role)
        });
        Ok(last
            .map(|e| now - e.at)
            .filter(|ago| *ago < ASK_AGAIN_AFTER_MS))
    }
}
