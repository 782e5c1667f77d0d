//! What a person is told when sevbot itself fails while handling their command: worded by
//! what failed, since "the database is failing" sends an operator to the wrong place when
//! a template in the configuration is at fault. Nothing was changed in every case (the
//! transaction rolled back), and the answer says so.

/// The kinds of internal failure a person can be told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The database refused, timed out or went away.
    Database,
    /// A message template from the configuration failed to render.
    Template,
    /// Anything else: a bug, to be reported.
    Internal,
}

impl Failure {
    pub const ALL: [Failure; 3] = [Failure::Database, Failure::Template, Failure::Internal];

    pub fn of(e: &anyhow::Error) -> Failure {
        let database = |c: &(dyn std::error::Error + 'static)| {
            c.downcast_ref::<sqlx::Error>().is_some()
                || c.downcast_ref::<crate::store::DatabaseError>().is_some()
        };
        if e.chain().any(database) {
            Failure::Database
        } else if e
            .chain()
            .any(|c| c.downcast_ref::<minijinja::Error>().is_some())
        {
            Failure::Template
        } else {
            Failure::Internal
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Failure::Database => "database",
            Failure::Template => "template",
            Failure::Internal => "internal",
        }
    }

    /// The answer to the person whose command failed.
    pub fn tell(&self, e: &anyhow::Error) -> String {
        match self {
            Failure::Database => {
                "sevbot could not save that because its database is failing; nothing was changed. \
                 Try again in a moment, and tell the sevbot operator if it persists."
                    .into()
            }
            Failure::Template => format!(
                "sevbot could not write that message: a template in its configuration failed ({}). \
                 Nothing was changed; tell the sevbot operator (`sevbot check-config`).",
                root(e)
            ),
            Failure::Internal => format!(
                "sevbot failed while handling that ({}); nothing was changed. \
                 Tell the sevbot operator, with the time: the log has the details.",
                root(e)
            ),
        }
    }
}

/// The innermost cause, on one line: what went wrong rather than where.
fn root(e: &anyhow::Error) -> String {
    e.root_cause()
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn each_failure_is_told_by_its_kind() {
        let db = anyhow::Error::from(sqlx::Error::PoolTimedOut).context("load SEV-1");
        assert_eq!(Failure::of(&db), Failure::Database);
        assert!(Failure::of(&db).tell(&db).contains("database is failing"));

        let tpl: anyhow::Result<()> = Err(minijinja::Error::new(
            minijinja::ErrorKind::UndefinedError,
            "routes is undefined",
        ))
        .context("render customer_update.j2");
        let tpl = tpl.unwrap_err();
        assert_eq!(Failure::of(&tpl), Failure::Template);
        let told = Failure::of(&tpl).tell(&tpl);
        assert!(
            told.contains("template") && told.contains("routes is undefined"),
            "{told}"
        );
        assert!(!told.contains("database"), "{told}");

        let bug = anyhow::anyhow!("SEV-3 vanished in its own transaction");
        assert_eq!(Failure::of(&bug), Failure::Internal);
        assert!(Failure::of(&bug).tell(&bug).contains("vanished"));
    }
}
