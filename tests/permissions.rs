//! Who may do what: the table in README.md ("Who may do what"), read from the README and
//! checked cell by cell against the engine, so the documentation and the rules cannot
//! drift apart.

mod support;

use sevbot::domain::{Role, SevId};
use sevbot::engine::Offer;
use support::{Backend, TestApp};

/// The SEV's people, by column: (column heading, test handle, person id on the timeline).
const ACTORS: [(&str, &str, &str); 7] = [
    ("IMOC", "U_ALICE", "alice"),
    ("TLOC", "U_BOB", "bob"),
    ("BMOC", "U_CAROL", "carol"),
    ("declarer", "U_EVE", "eve"),
    ("admin", "U_DAVE", "dave"),
    ("anyone in the config", "U_FRANK", "frank"),
    ("not in the config", "U_NOBODY", "@U_NOBODY"),
];

const PEOPLE: &str = r#"
[[people]]
id = "eve"
handles = { test = "U_EVE" }
[[people]]
id = "frank"
handles = { test = "U_FRANK" }
"#;

/// One row of a table: how to set the SEV up, what the actor types, and how to tell it
/// happened (a timeline event of this kind by the actor, or for `None` an answer that
/// shows the SEV's title).
struct Row {
    level: &'static str,
    setup: Option<(&'static str, &'static str)>,
    command: &'static str,
    kind: Option<&'static str>,
}

const TITLE: &str = "Permissions";

fn row(action: &str) -> Row {
    let r = |command, kind| Row {
        level: "1 --customer-impact",
        setup: None,
        command,
        kind: Some(kind),
    };
    match action {
        "see its status and timeline" => Row {
            kind: None,
            ..r("status", "")
        },
        "post an update" => r("update all hands", "update"),
        "add a timeline note" => r("timeline note a note", "note"),
        "raise the level" => r("level 0 spreading", "level_changed"),
        "lower the level" => r("level 2 contained", "level_changed"),
        "mark mitigated" => r("mitigated", "stage_changed"),
        "cancel" => r("cancel a false alarm", "stage_changed"),
        "close a resolved SEV" => Row {
            setup: Some(("U_ALICE", "resolved")),
            ..r("close", "stage_changed")
        },
        // A SEV2 without customer impact needs no BMOC: the role is vacant.
        "fill a vacant role" => Row {
            level: "2",
            ..r("role bmoc @U_FRANK", "role_assigned")
        },
        "hand on the TLOC role" => r("role tloc @U_FRANK", "role_assigned"),
        "hand on the IMOC role" => r("role imoc @U_FRANK", "role_assigned"),
        "ask for the TLOC role" => r("ask tloc", "role_requested"),
        "edit the customer update" => r("draft edit We are on it.", "draft_proposed"),
        other => panic!("README row \"{other}\" has no scenario in tests/permissions.rs"),
    }
}

type Table = Vec<(String, Vec<bool>)>;

/// The section's tables, in order: each row is (action, one "yes"/"no" per column).
fn tables() -> Vec<Table> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Who may do what")
        .nth(1)
        .expect("README has a \"Who may do what\" section");
    let section = section.split("\n## ").next().unwrap();
    let columns: Vec<&str> = ACTORS.iter().map(|(c, _, _)| *c).collect();
    let mut out: Vec<Table> = vec![];
    let mut in_table = false;
    for line in section.lines() {
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let c = cells(line);
        if !in_table {
            in_table = true;
            assert_eq!(c[1..], columns, "the table's columns");
            out.push(vec![]);
            continue;
        }
        if c[1].starts_with("---") {
            continue;
        }
        let yes = c[1..]
            .iter()
            .map(|v| match v.as_str() {
                "yes" => true,
                "no" => false,
                other => panic!("cell \"{other}\" in row {}: yes or no", c[0]),
            })
            .collect();
        out.last_mut().unwrap().push((c[0].clone(), yes));
    }
    out
}

fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

async fn count(app: &TestApp, sev: i64, kind: &str, actor: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM incident_events WHERE sev_id = $1 AND kind = $2 AND actor = $3",
    )
    .bind(sev)
    .bind(kind)
    .bind(actor)
    .fetch_one(&app.engine.store.pool)
    .await
    .unwrap()
}

/// Where the actors type: a public channel, or the SEV's own.
#[derive(Clone, Copy)]
enum Place {
    Elsewhere,
    ItsChannel,
}

/// Runs every cell of `table` on fresh SEVs (restricted ones with `--private`) and returns
/// the cells where the engine disagrees with the README.
async fn check(
    app: &TestApp,
    next: &mut i64,
    table: &Table,
    private: bool,
    place: Place,
) -> Vec<String> {
    let mut wrong = vec![];
    for (action, allowed) in table {
        let r = row(action);
        for ((column, handle, actor), yes) in ACTORS.iter().zip(allowed) {
            *next += 1;
            let sev = *next;
            let flags = if private { " --private" } else { "" };
            let d = app
                .cmd(
                    "U_EVE",
                    "general",
                    &format!("declare availability {} {TITLE}{flags} --new", r.level),
                )
                .await;
            assert!(
                d.text.starts_with(&format!("SEV-{sev} declared")),
                "{}",
                d.text
            );
            let channel = match place {
                Place::Elsewhere => "general".to_string(),
                Place::ItsChannel => {
                    app.deliver().await;
                    let name = if private {
                        format!("sev-{sev}-availability")
                    } else {
                        format!("sev-{sev}-permissions")
                    };
                    assert!(
                        app.fake.channel_calls().iter().any(|c| c.channel() == name),
                        "{name} was created"
                    );
                    name
                }
            };
            if let Some((who, setup)) = r.setup {
                app.cmd(who, "general", &format!("SEV-{sev} {setup}")).await;
            }
            let before = match r.kind {
                Some(kind) => count(app, sev, kind, actor).await,
                None => 0,
            };
            let reply = app
                .cmd(handle, &channel, &format!("SEV-{sev} {}", r.command))
                .await;
            let happened = match r.kind {
                Some(kind) => count(app, sev, kind, actor).await > before,
                None => reply.text.contains(TITLE),
            };
            let place = match place {
                Place::Elsewhere => "elsewhere",
                Place::ItsChannel => "in its channel",
            };
            let sev_kind = if private { "restricted" } else { "open" };
            if happened != *yes {
                wrong.push(format!(
                    "{action} / {column} ({sev_kind} SEV, {place}): README says {}, the engine {} ({})",
                    if *yes { "yes" } else { "no" },
                    if happened { "allowed it" } else { "refused" },
                    reply.text
                ));
            } else if !yes {
                assert!(
                    reply.ephemeral,
                    "a refusal is for the asker only: {}",
                    reply.text
                );
                if private
                    && matches!(place, "elsewhere")
                    && !["IMOC", "TLOC", "BMOC", "declarer", "admin"].contains(column)
                {
                    assert!(
                        !reply.text.contains(TITLE) && reply.text.contains("restricted"),
                        "a refusal tells nothing of a restricted SEV: {}",
                        reply.text
                    );
                }
            }
        }
    }
    wrong
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cell_of_the_readme_tables_holds() {
    let app = TestApp::with_config(Backend::Sqlite, PEOPLE).await;
    let tables = tables();
    assert_eq!(tables.len(), 2, "an open table and a restricted one");
    assert!(tables.iter().all(|t| t.len() >= 12));
    let (open, restricted) = (&tables[0], &tables[1]);
    let mut sev = 0i64;
    let mut wrong = check(&app, &mut sev, open, false, Place::Elsewhere).await;
    wrong.extend(check(&app, &mut sev, open, true, Place::ItsChannel).await);
    wrong.extend(check(&app, &mut sev, restricted, true, Place::Elsewhere).await);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

both_backends!(
    a_refused_hand_over_offers_to_ask_the_holder_and_the_imoc,
    |b| async move {
        let app = TestApp::with_config(b, PEOPLE).await;
        app.cmd(
            "U_EVE",
            "general",
            "declare availability 1 Checkout failing",
        )
        .await;
        app.deliver().await;
        let channel = "sev-1-checkout-failing";

        // Frank may not seize bob's TLOC role; he is offered to ask for it.
        let r = app
            .cmd("U_FRANK", "general", "SEV-1 role tloc @U_FRANK")
            .await;
        assert!(r.ephemeral, "{}", r.text);
        assert!(r.text.contains("`/sev SEV-1 ask tloc`"), "{}", r.text);
        let offer = Offer::AskForRole {
            sev: SevId(1),
            role: Role::Tloc,
        };
        assert_eq!(r.offer, Some(offer));
        assert_eq!(offer.command(), "SEV-1 ask tloc");

        // Asking tells the holder and the IMOC in the SEV's channel, by mention.
        let r = app.cmd("U_FRANK", "general", &offer.command()).await;
        assert!(!r.text.contains("You"), "{}", r.text);
        app.deliver().await;
        let asked: Vec<String> = app
            .posts_in(channel)
            .into_iter()
            .filter(|p| p.contains("asks for TLOC"))
            .collect();
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert!(asked[0].contains("<bob> or <alice>"), "{}", asked[0]);
        assert_eq!(count(&app, 1, "role_requested", "frank").await, 1);
        // Nothing was handed over, and nobody's page was touched.
        let status = app.cmd("U_FRANK", "general", "SEV-1 status").await.text;
        assert!(status.contains("TLOC @bob"), "{status}");

        // Pressing it again within five minutes pings nobody again.
        let again = app.cmd("U_FRANK", "general", "SEV-1 ask tloc").await;
        assert!(
            again
                .text
                .starts_with("You asked for TLOC on SEV-1 0 s ago"),
            "{}",
            again.text
        );
        assert_eq!(count(&app, 1, "role_requested", "frank").await, 1);
        app.advance_minutes(6);
        app.cmd("U_FRANK", "general", "SEV-1 ask tloc").await;
        assert_eq!(count(&app, 1, "role_requested", "frank").await, 2);

        // No offer, and no ask, for those who need none or may not.
        app.cmd(
            "U_EVE",
            "general",
            "declare availability 2 --new Search slow",
        )
        .await;
        for (who, cmd, says) in [
            ("U_ALICE", "SEV-1 ask tloc", "You may hand TLOC on yourself"),
            ("U_BOB", "SEV-1 ask tloc", "You already hold TLOC"),
            (
                "U_NOBODY",
                "SEV-1 ask tloc",
                "Only people in the sevbot config",
            ),
            ("U_FRANK", "SEV-2 ask bmoc", "Nobody holds BMOC on SEV-2"),
        ] {
            let r = app.cmd(who, "general", cmd).await;
            assert!(r.text.contains(says), "{who} {cmd}: {}", r.text);
            assert!(r.ephemeral && r.offer.is_none());
        }
        let r = app
            .cmd("U_NOBODY", "general", "SEV-1 role tloc @U_NOBODY")
            .await;
        assert!(r.offer.is_none(), "{}", r.text);
    }
);
