//! `sevbot audit verify [SEV-n]`: walks each SEV's hash-chained timeline and names the first
//! entry that does not fit, so a postmortem or a security review can rely on the record.

use std::fmt::Write;

use crate::domain::SevId;
use crate::domain::chain::{self, Verdict};
use crate::store::incidents as sevs;
use crate::store::{Backend, Store};

pub struct Report {
    pub text: String,
    pub intact: bool,
}

/// Checks one SEV, or all of them; `Err` when the SEV does not exist or the database fails.
pub async fn verify(store: &Store, only: Option<SevId>) -> anyhow::Result<Report> {
    // One snapshot, so entries a running sevbot appends meanwhile are not taken for a break.
    let mut conn = store.begin().await?;
    if store.backend == Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *conn)
            .await?;
    }
    let ids = match only {
        Some(id) => {
            let exists = sevs::all_ids(&mut conn).await?.contains(&id);
            anyhow::ensure!(exists, "There is no {id} in this database.");
            vec![id]
        }
        None => sevs::all_ids(&mut conn).await?,
    };
    let mut text = String::new();
    let mut broken = 0;
    for id in &ids {
        let (entries, head) = sevs::chain_of(&mut conn, *id).await?;
        match chain::verify(id.0, &entries, &head) {
            Verdict::Intact {
                entries: n,
                unchained,
                head,
            } => {
                let _ = write!(
                    text,
                    "{id}: intact, {n} entries, head {}",
                    chain::to_hex(&head)
                );
                if unchained > 0 {
                    let _ = write!(
                        text,
                        " ({unchained} recorded before the chain existed, covered by the links after them)"
                    );
                }
                text.push('\n');
            }
            Verdict::Broken { position, row, why } => {
                broken += 1;
                let what = row
                    .and_then(|r| entries.iter().find(|e| e.row == r))
                    .map(|e| {
                        format!(
                            " (row {}, {}, {}, {})",
                            e.row,
                            chrono::DateTime::from_timestamp_millis(e.at)
                                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                                .unwrap_or_else(|| e.at.to_string()),
                            e.actor,
                            e.kind
                        )
                    })
                    .unwrap_or_default();
                let _ = writeln!(text, "{id}: BROKEN at entry {position}{what}: it {why}");
            }
        }
    }
    let _ = write!(
        text,
        "{} SEV(s) checked: {} intact, {broken} broken.",
        ids.len(),
        ids.len() - broken
    );
    if broken > 0 {
        text.push_str(
            " An entry was changed, removed or added beside sevbot; compare with a backup or a head recorded earlier.",
        );
    }
    Ok(Report {
        text,
        intact: broken == 0,
    })
}
