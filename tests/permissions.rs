//! Who may do what: the table in README.md ("Who may do what"), read from the README and
//! checked cell by cell against the engine, so the documentation and the rules cannot
//! drift apart.

mod support;

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

/// One row of the table: how to set the SEV up, what the actor types, and the timeline
/// event that shows it happened.
struct Row {
    declare: &'static str,
    setup: Option<(&'static str, &'static str)>,
    command: &'static str,
    kind: &'static str,
}

fn row(action: &str) -> Row {
    let sev1 = "declare availability 1 Permissions --customer-impact --new";
    let r = |command, kind| Row {
        declare: sev1,
        setup: None,
        command,
        kind,
    };
    match action {
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
            declare: "declare availability 2 Permissions --new",
            ..r("role bmoc @U_FRANK", "role_assigned")
        },
        "hand on the TLOC role" => r("role tloc @U_FRANK", "role_assigned"),
        "hand on the IMOC role" => r("role imoc @U_FRANK", "role_assigned"),
        "edit the customer update" => r("draft edit We are on it.", "draft_proposed"),
        other => panic!("README row \"{other}\" has no scenario in tests/permissions.rs"),
    }
}

/// The table's rows: (action, one "yes"/"no" per column).
fn table() -> Vec<(String, Vec<bool>)> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Who may do what")
        .nth(1)
        .expect("README has a \"Who may do what\" section");
    // The first table of the section: its rows run from the first '|' line to the next
    // line that is not one.
    let mut lines = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'));
    let header: Vec<String> = cells(lines.next().expect("a table"));
    let columns: Vec<&str> = ACTORS.iter().map(|(c, _, _)| *c).collect();
    assert_eq!(header[1..], columns, "the table's columns");
    lines
        .skip(1)
        .map(|l| {
            let c = cells(l);
            let yes = c[1..]
                .iter()
                .map(|v| match v.as_str() {
                    "yes" => true,
                    "no" => false,
                    other => panic!("cell \"{other}\" in row {}: yes or no", c[0]),
                })
                .collect();
            (c[0].clone(), yes)
        })
        .collect()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cell_of_the_readme_table_holds() {
    let app = TestApp::with_config(Backend::Sqlite, PEOPLE).await;
    let rows = table();
    assert!(rows.len() >= 10, "{} rows", rows.len());
    let mut sev = 0i64;
    let mut wrong = vec![];
    for (action, allowed) in &rows {
        let r = row(action);
        for ((column, handle, actor), yes) in ACTORS.iter().zip(allowed) {
            sev += 1;
            let d = app.cmd("U_EVE", "general", r.declare).await;
            assert!(
                d.text.starts_with(&format!("SEV-{sev} declared")),
                "{}",
                d.text
            );
            if let Some((who, setup)) = r.setup {
                app.cmd(who, "general", &format!("SEV-{sev} {setup}")).await;
            }
            let before = count(&app, sev, r.kind, actor).await;
            let reply = app
                .cmd(handle, "general", &format!("SEV-{sev} {}", r.command))
                .await;
            let happened = count(&app, sev, r.kind, actor).await > before;
            if happened != *yes {
                wrong.push(format!(
                    "{action} / {column}: README says {}, the engine {} ({})",
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
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
