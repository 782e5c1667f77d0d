//! The timeline's hash chain: every entry carries SHA-256 over the previous entry's hash and
//! its own content, so changing, removing, inserting or reordering an entry breaks every
//! link after it. The SEV row keeps the count and the last hash, so a removed tail shows too.
//!
//! The chain protects against edits made beside sevbot (SQL, a restored backup); someone who
//! rewrites an entry *and* recomputes every later hash and the SEV's head is caught only by
//! comparing with a head recorded elsewhere, which is why `sevbot audit verify` prints it.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// The link before a SEV's first entry.
pub const GENESIS: Hash = [0; 32];

/// What an entry's hash covers: everything stored about it except its row id (which a dump
/// and restore may change; the order is covered by the chain itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub sev: i64,
    pub at: i64,
    pub actor: &'a str,
    pub kind: &'a str,
    pub detail: &'a str,
}

/// The hash of `entry` following `prev`. Fields are length-prefixed, so no two different
/// entries encode alike; the version tag leaves room for another encoding later.
pub fn link(prev: &Hash, entry: &Entry<'_>) -> Hash {
    let mut h = Sha256::new();
    h.update(b"sevbot-timeline-v1\0");
    h.update(prev);
    h.update(entry.sev.to_be_bytes());
    h.update(entry.at.to_be_bytes());
    for field in [entry.actor, entry.kind, entry.detail] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    let mut out = [0; 32];
    out.copy_from_slice(&h.finalize());
    out
}

pub fn to_hex(h: &Hash) -> String {
    hex::encode(h)
}

pub fn from_hex(s: &str) -> Option<Hash> {
    let mut out = [0; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// One stored entry as `audit verify` reads it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub row: i64,
    pub at: i64,
    pub actor: String,
    pub kind: String,
    pub detail: String,
    /// None for entries recorded before the chain existed (release 0007's migration).
    pub hash: Option<String>,
}

/// What the SEV's row says about its timeline.
#[derive(Debug, Clone, Default)]
pub struct Head {
    pub count: i64,
    pub hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Intact {
        entries: usize,
        /// Entries from before the chain existed, covered by the links after them.
        unchained: usize,
        head: Hash,
    },
    Broken {
        /// 1-based position in the SEV's timeline; `row` is the database id.
        position: usize,
        row: Option<i64>,
        why: String,
    },
}

/// Walks a SEV's entries in order and names the first that does not fit.
///
/// Entries without a hash are accepted only before the first hashed one (they predate the
/// chain); each is linked as if it had been hashed, so editing one later still breaks the
/// first hashed entry after it.
pub fn verify(sev: i64, entries: &[Stored], head: &Head) -> Verdict {
    let mut prev = GENESIS;
    let mut unchained = 0;
    let mut chained = false;
    for (i, e) in entries.iter().enumerate() {
        let expected = link(
            &prev,
            &Entry {
                sev,
                at: e.at,
                actor: &e.actor,
                kind: &e.kind,
                detail: &e.detail,
            },
        );
        let broken = |why: String| Verdict::Broken {
            position: i + 1,
            row: Some(e.row),
            why,
        };
        match &e.hash {
            None if chained => {
                return broken(
                    "has no hash although entries before it do: its hash was removed".into(),
                );
            }
            None => unchained += 1,
            Some(stored) => {
                chained = true;
                if from_hex(stored) != Some(expected) {
                    return broken(
                        "does not match its hash: it was changed, or an entry before it was removed, inserted or reordered".into(),
                    );
                }
            }
        }
        prev = expected;
    }
    let n = entries.len();
    if (n as i64) < head.count {
        return Verdict::Broken {
            position: n + 1,
            row: None,
            why: format!(
                "is missing: the SEV recorded {} entries and {n} remain",
                head.count
            ),
        };
    }
    if (n as i64) > head.count
        || head
            .hash
            .as_deref()
            .is_some_and(|h| from_hex(h) != Some(prev))
    {
        // Entries appended beside sevbot, or the SEV's head rewritten.
        return Verdict::Broken {
            position: n,
            row: entries.last().map(|e| e.row),
            why: format!(
                "is not the last entry the SEV recorded ({} entries, head {})",
                head.count,
                head.hash.as_deref().map(short).unwrap_or("none")
            ),
        };
    }
    Verdict::Intact {
        entries: n,
        unchained,
        head: prev,
    }
}

/// The first 16 hex digits: enough to compare by eye.
pub fn short(h: &str) -> &str {
    h.get(..16).unwrap_or(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(sev: i64, details: &[&str]) -> (Vec<Stored>, Head) {
        let mut prev = GENESIS;
        let mut out = Vec::new();
        for (i, d) in details.iter().enumerate() {
            prev = link(
                &prev,
                &Entry {
                    sev,
                    at: i as i64,
                    actor: "alice",
                    kind: "note",
                    detail: d,
                },
            );
            out.push(Stored {
                row: i as i64 + 10,
                at: i as i64,
                actor: "alice".into(),
                kind: "note".into(),
                detail: d.to_string(),
                hash: Some(to_hex(&prev)),
            });
        }
        let head = Head {
            count: out.len() as i64,
            hash: out.last().and_then(|e| e.hash.clone()),
        };
        (out, head)
    }

    fn broken_at(v: Verdict) -> usize {
        match v {
            Verdict::Broken { position, .. } => position,
            other => panic!("expected a break, got {other:?}"),
        }
    }

    #[test]
    fn an_untouched_chain_is_intact_and_each_change_breaks_it_where_it_happened() {
        let (entries, head) = chain(7, &["a", "b", "c", "d"]);
        assert!(matches!(
            verify(7, &entries, &head),
            Verdict::Intact {
                entries: 4,
                unchained: 0,
                ..
            }
        ));
        // Another SEV's id: every entry is bound to its SEV.
        assert_eq!(broken_at(verify(8, &entries, &head)), 1);

        let mut edited = entries.clone();
        edited[2].detail = "C".into();
        assert_eq!(broken_at(verify(7, &edited, &head)), 3);

        let mut actor = entries.clone();
        actor[1].actor = "mallory".into();
        assert_eq!(broken_at(verify(7, &actor, &head)), 2);

        let mut removed = entries.clone();
        removed.remove(1);
        assert_eq!(broken_at(verify(7, &removed, &head)), 2);

        let mut swapped = entries.clone();
        swapped.swap(1, 2);
        assert_eq!(broken_at(verify(7, &swapped, &head)), 2);

        // Rehashing the edited entry moves the break to the next one.
        let mut rehashed = entries.clone();
        rehashed[1].detail = "B".into();
        let prev = from_hex(rehashed[0].hash.as_deref().unwrap()).unwrap();
        let e = &rehashed[1];
        let h = link(
            &prev,
            &Entry {
                sev: 7,
                at: e.at,
                actor: &e.actor,
                kind: &e.kind,
                detail: &e.detail,
            },
        );
        rehashed[1].hash = Some(to_hex(&h));
        assert_eq!(broken_at(verify(7, &rehashed, &head)), 3);

        let mut tail = entries.clone();
        tail.pop();
        assert_eq!(broken_at(verify(7, &tail, &head)), 4);
    }

    #[test]
    fn entries_from_before_the_chain_are_covered_by_the_first_link_after_them() {
        let (mut entries, head) = chain(3, &["old", "older", "new"]);
        entries[0].hash = None;
        entries[1].hash = None;
        assert!(matches!(
            verify(3, &entries, &head),
            Verdict::Intact { unchained: 2, .. }
        ));
        entries[0].detail = "rewritten".into();
        assert_eq!(broken_at(verify(3, &entries, &head)), 3);

        let (mut stripped, head) = chain(3, &["a", "b", "c"]);
        stripped[2].hash = None;
        assert_eq!(broken_at(verify(3, &stripped, &head)), 3);
    }
}
