//! Who may do what: the table in README.md ("Who may do what"), read from the README and
//! checked cell by cell against the engine, so the documentation and the rules cannot
//! drift apart.

mod support;

use serde_json::{Value, json};
use sevbot::domain::actions::CardAction;
use sevbot::domain::{Role, SevId};
use sevbot::engine::{Invocation, Offer};
use sevbot::store::Store;
use support::discord_app::DiscordApp;
use support::fake_discord::{self as fd, GENERAL};
use support::slack_app::SlackApp;
use support::{Backend, TestApp};

/// The SEV's people, by column: (column heading, handle on the test platform and Slack,
/// Discord user id, person id on the timeline; someone outside the config is `@handle`).
const ACTORS: [(&str, &str, &str, &str); 7] = [
    ("IMOC", "U_ALICE", "100000000000000011", "alice"),
    ("TLOC", "U_BOB", "100000000000000012", "bob"),
    ("BMOC", "U_CAROL", "100000000000000013", "carol"),
    ("declarer", "U_EVE", "100000000000000031", "eve"),
    ("admin", "U_DAVE", "100000000000000014", "dave"),
    (
        "anyone in the config",
        "U_FRANK",
        "100000000000000032",
        "frank",
    ),
    ("not in the config", "U_NOBODY", "100000000000000099", ""),
];

const PEOPLE: &str = r#"
[[people]]
id = "eve"
handles = { test = "U_EVE", slack = "U_EVE", discord = "100000000000000031" }
[[people]]
id = "frank"
handles = { test = "U_FRANK", slack = "U_FRANK", discord = "100000000000000032" }
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
        "read the postmortem" => Row {
            kind: None,
            ..r("postmortem", "")
        },
        "add a follow-up" => r("followup add Write the runbook", "followup_added"),
        "raise the level" => r("level 0 spreading", "level_changed"),
        "lower the level" => r("level 2 contained", "level_changed"),
        "mark mitigated" => r("mitigated", "stage_changed"),
        "mark diagnosed" => r("diagnosed found it", "diagnosed"),
        "reopen a resolved SEV" => Row {
            setup: Some(("U_ALICE", "resolved")),
            ..r("reopen still failing", "stage_changed")
        },
        "reopen a closed SEV" => Row {
            setup: Some(("U_ALICE", "resolved ; close")),
            ..r("reopen still failing", "stage_changed")
        },
        "retitle" => r("retitle A better title", "retitled"),
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
    let columns: Vec<&str> = ACTORS.iter().map(|(c, ..)| *c).collect();
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

async fn count(store: &Store, sev: i64, kind: &str, actor: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM incident_events WHERE sev_id = $1 AND kind = $2 AND actor = $3",
    )
    .bind(sev)
    .bind(kind)
    .bind(actor)
    .fetch_one(&store.pool)
    .await
    .unwrap()
}

/// Where the actors type: a public channel, or the SEV's own.
#[derive(Clone, Copy)]
enum Place {
    Elsewhere,
    ItsChannel,
}

/// The platform the cells are tried on, each through its own front door: the engine with
/// the test platform, Slack's signed slash commands, Discord's signed interactions. (Boxed:
/// the apps are large.)
enum Desk {
    Test(Box<TestApp>),
    Slack(Box<SlackApp>),
    Discord(Box<DiscordApp>, std::sync::atomic::AtomicU64),
}

impl Desk {
    fn store(&self) -> &Store {
        match self {
            Desk::Test(a) => &a.engine.store,
            Desk::Slack(s) => &s.app.engine.store,
            Desk::Discord(d, _) => &d.app.engine.store,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Desk::Test(_) => "test platform",
            Desk::Slack(_) => "Slack",
            Desk::Discord(..) => "Discord",
        }
    }

    fn general(&self) -> String {
        match self {
            Desk::Test(_) => "general".into(),
            Desk::Slack(_) => "C_GENERAL".into(),
            Desk::Discord(..) => GENERAL.into(),
        }
    }

    async fn deliver(&self) {
        match self {
            Desk::Test(a) => a.deliver().await,
            Desk::Slack(s) => s.deliver().await,
            Desk::Discord(d, _) => d.deliver().await,
        }
    }

    /// The id of the channel created as `name`, to type in.
    fn channel(&self, name: &str) -> Option<String> {
        match self {
            Desk::Test(a) => a
                .fake
                .channel_calls()
                .iter()
                .any(|c| c.channel() == name)
                .then(|| name.to_string()),
            Desk::Slack(s) => s.slack.channel_id(name),
            Desk::Discord(d, _) => d
                .fake
                .channels()
                .into_iter()
                .find(|(_, c)| c.name == name)
                .map(|(id, _)| id),
        }
    }

    /// The person id (config id, or `@handle` for someone outside it) the timeline records.
    fn timeline_id(&self, actor: usize) -> String {
        let (_, handle, discord, id) = ACTORS[actor];
        match (id, self) {
            ("", Desk::Discord(..)) => format!("@{discord}"),
            ("", _) => format!("@{handle}"),
            (id, _) => id.to_string(),
        }
    }

    /// Runs `/sev <text>` as `actor` in `channel`: the answer, and whether only they see it.
    /// `@U_FRANK` in the text is a mention of that person, written as the platform writes it.
    async fn run(&self, actor: usize, channel: &str, text: &str) -> (String, bool) {
        let (_, handle, discord, _) = ACTORS[actor];
        match self {
            Desk::Test(a) => {
                let r = a.cmd(handle, channel, text).await;
                (r.text, r.ephemeral)
            }
            Desk::Slack(s) => {
                let text = text
                    .split(' ')
                    .map(|w| match w.strip_prefix('@') {
                        Some(h) => format!("<@{h}>"),
                        None => w.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                let r = s.command(handle, channel, &text).await;
                (
                    r["text"].as_str().unwrap_or_default().to_string(),
                    r["response_type"] == "ephemeral",
                )
            }
            Desk::Discord(d, ids) => {
                let (sub, options) = discord_command(text);
                let id = 1_400_000_000_000_000_000
                    + ids.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let r = d
                    .signed(&fd::command(
                        &id.to_string(),
                        discord,
                        channel,
                        &sub,
                        options,
                    ))
                    .await;
                (DiscordApp::content(&r), r["data"]["flags"] == 64)
            }
        }
    }
}

/// The `/sev` subcommand and options Discord sends for the same command typed as text.
fn discord_command(text: &str) -> (String, Value) {
    let mut words: Vec<&str> = text.split_whitespace().collect();
    let sev = words
        .first()
        .filter(|w| w.starts_with("SEV-"))
        .map(|w| w.to_string());
    if sev.is_some() {
        words.remove(0);
    }
    let rest = |n: usize| words[n.min(words.len())..].join(" ");
    let string = |name: &str, v: String| json!({ "name": name, "type": 3, "value": v });
    let int = |name: &str, v: &str| json!({ "name": name, "type": 4, "value": v.parse::<i64>().unwrap() });
    let user = |mention: &str| {
        let handle = mention.trim_start_matches('@');
        let (_, _, id, _) = ACTORS
            .iter()
            .find(|a| a.1 == handle || a.3 == handle)
            .expect("a known actor");
        json!({ "name": "user", "type": 6, "value": id })
    };
    let mut options = vec![];
    let sub = match words[0] {
        "declare" => {
            options.push(string("type", words[1].into()));
            options.push(int("level", words[2]));
            let title: Vec<&str> = words[3..]
                .iter()
                .copied()
                .filter(|w| !w.starts_with("--"))
                .collect();
            options.push(string("title", title.join(" ")));
            for (flag, name) in [
                ("--customer-impact", "customer_impact"),
                ("--private", "private"),
                ("--new", "new"),
            ] {
                if words.contains(&flag) {
                    options.push(json!({ "name": name, "type": 5, "value": true }));
                }
            }
            "declare"
        }
        "timeline" if words.get(1) == Some(&"note") => {
            options.push(string("text", rest(2)));
            "note"
        }
        "update" => {
            options.push(string("text", rest(1)));
            "update"
        }
        "level" => {
            options.push(int("level", words[1]));
            if words.len() > 2 {
                options.push(string("reason", rest(2)));
            }
            "level"
        }
        "cancel" => {
            options.push(string("reason", rest(1)));
            "cancel"
        }
        "role" => {
            options.push(string("role", words[1].into()));
            options.push(user(words[2]));
            "role"
        }
        "ask" => {
            options.push(string("role", words[1].into()));
            "ask"
        }
        "draft" => {
            if let Some(action) = words.get(1) {
                options.push(string("action", action.to_string()));
            }
            if words.len() > 2 {
                options.push(string("text", rest(2)));
            }
            "draft"
        }
        "retitle" => {
            options.push(string("title", rest(1)));
            "retitle"
        }
        "followup" => {
            let mut w: Vec<&str> = words[1..].to_vec();
            if let Some(action) = w.first() {
                options.push(string("action", action.to_string()));
                w.remove(0);
            }
            if let [.., "due", date] = w.as_slice() {
                options.push(string("due", date.to_string()));
                w.truncate(w.len() - 2);
            }
            if let Some(last) = w.last().filter(|l| l.starts_with('@')) {
                let mut owner = user(last);
                owner["name"] = json!("owner");
                options.push(owner);
                w.pop();
            }
            if !w.is_empty() {
                options.push(string("text", w.join(" ")));
            }
            "followup"
        }
        "reopen" => {
            if words.len() > 1 {
                options.push(string("reason", rest(1)));
            }
            "reopen"
        }
        "oncall" | "simulate" => {
            let at = words.iter().position(|w| *w == "at").unwrap_or(words.len());
            let before = &words[1..at];
            if words[0] == "simulate" {
                options.push(int("level", before[0]));
                if let Some(ty) = before.get(1) {
                    options.push(string("type", ty.to_string()));
                }
            } else if let Some(role) = before.first() {
                options.push(string("role", role.to_string()));
            }
            if at < words.len() {
                options.push(string("at", rest(at + 1)));
            }
            words[0]
        }
        "diagnosed" => {
            if words.len() > 1 {
                options.push(string("note", rest(1)));
            }
            "diagnosed"
        }
        "drill" => {
            options.push(string("type", words[1].into()));
            options.push(int("level", words[2]));
            if let Some(scenario) = words.get(3) {
                options.push(string("scenario", scenario.to_string()));
            }
            "drill"
        }
        "report" => {
            if let Some(period) = words.get(1) {
                options.push(string("period", period.to_string()));
            }
            "report"
        }
        "help" => {
            if let Some(topic) = words.get(1) {
                options.push(string("command", topic.to_string()));
            }
            "help"
        }
        other => other,
    };
    if let Some(sev) = sev {
        options.push(string("sev", sev));
    }
    (sub.to_string(), Value::Array(options))
}

/// Runs every cell of `table` on fresh SEVs (restricted ones with `--private`) and returns
/// the cells where the platform disagrees with the README.
async fn check(
    desk: &Desk,
    next: &mut i64,
    table: &Table,
    private: bool,
    place: Place,
) -> Vec<String> {
    let mut wrong = vec![];
    let general = desk.general();
    for (action, allowed) in table {
        let r = row(action);
        for (actor, ((column, ..), yes)) in ACTORS.iter().zip(allowed).enumerate() {
            *next += 1;
            let sev = *next;
            let flags = if private { " --private" } else { "" };
            let (d, _) = desk
                .run(
                    3,
                    &general,
                    &format!("declare availability {} {TITLE}{flags} --new", r.level),
                )
                .await;
            assert!(
                d.starts_with(&format!("SEV-{sev} declared")),
                "{}: {d}",
                desk.name()
            );
            let channel = match place {
                Place::Elsewhere => general.clone(),
                Place::ItsChannel => {
                    let name = if private {
                        format!("sev-{sev}-availability")
                    } else {
                        format!("sev-{sev}-permissions")
                    };
                    // A delivery that ran slow on a loaded machine is retried a moment
                    // later: wait for the channel rather than for one pass of the outbox.
                    let mut found = None;
                    for _ in 0..100 {
                        desk.deliver().await;
                        found = desk.channel(&name);
                        if found.is_some() {
                            break;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    found.unwrap_or_else(|| panic!("{}: {name} was created", desk.name()))
                }
            };
            if let Some((who, setup)) = r.setup {
                let who = ACTORS.iter().position(|a| a.1 == who).unwrap();
                for step in setup.split(" ; ") {
                    desk.run(who, &general, &format!("SEV-{sev} {step}")).await;
                }
            }
            let by = desk.timeline_id(actor);
            let before = match r.kind {
                Some(kind) => count(desk.store(), sev, kind, &by).await,
                None => 0,
            };
            let (text, ephemeral) = desk
                .run(actor, &channel, &format!("SEV-{sev} {}", r.command))
                .await;
            let happened = match r.kind {
                Some(kind) => count(desk.store(), sev, kind, &by).await > before,
                // The postmortem goes as a file where the platform takes files.
                None => text.contains(TITLE) || text.contains("postmortem as of"),
            };
            let place = match place {
                Place::Elsewhere => "elsewhere",
                Place::ItsChannel => "in its channel",
            };
            let sev_kind = if private { "restricted" } else { "open" };
            if happened != *yes {
                wrong.push(format!(
                    "{} · {action} / {column} ({sev_kind} SEV, {place}): README says {}, sevbot {} ({text})",
                    desk.name(),
                    if *yes { "yes" } else { "no" },
                    if happened { "allowed it" } else { "refused" },
                ));
            } else if !yes {
                assert!(
                    ephemeral,
                    "{}: a refusal is for the asker only: {text}",
                    desk.name()
                );
                if private
                    && matches!(place, "elsewhere")
                    && !["IMOC", "TLOC", "BMOC", "declarer", "admin"].contains(column)
                {
                    assert!(
                        !text.contains(TITLE) && text.contains("restricted"),
                        "{}: a refusal tells nothing of a restricted SEV: {text}",
                        desk.name()
                    );
                }
            }
        }
    }
    wrong
}

/// Every cell of both tables: open SEVs from a public channel, restricted SEVs in their
/// channel (the open table holds there) and from a public channel.
async fn every_cell(desk: Desk) {
    let tables = tables();
    assert_eq!(tables.len(), 2, "an open table and a restricted one");
    assert!(tables.iter().all(|t| t.len() >= 12));
    let (open, restricted) = (&tables[0], &tables[1]);
    let mut sev = 0i64;
    let mut wrong = check(&desk, &mut sev, open, false, Place::Elsewhere).await;
    wrong.extend(check(&desk, &mut sev, open, true, Place::ItsChannel).await);
    wrong.extend(check(&desk, &mut sev, restricted, true, Place::Elsewhere).await);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cell_of_the_readme_tables_holds_in_the_engine() {
    every_cell(Desk::Test(Box::new(
        TestApp::with_config(Backend::Sqlite, PEOPLE).await,
    )))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cell_of_the_readme_tables_holds_on_slack() {
    every_cell(Desk::Slack(Box::new(
        SlackApp::start_with(Backend::Sqlite, PEOPLE, |_| {}).await,
    )))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cell_of_the_readme_tables_holds_on_discord() {
    every_cell(Desk::Discord(
        Box::new(DiscordApp::with(PEOPLE).await),
        Default::default(),
    ))
    .await;
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
        let offer = Offer {
            sev: SevId(1),
            action: CardAction::AskForRole(Role::Tloc),
        };
        assert_eq!(r.offer, Some(offer));

        // Pressing it asks: the holder and the IMOC are told in the SEV's channel, by mention.
        let press = offer.action.command(offer.sev, "U_FRANK").unwrap();
        let inv = Invocation::new("test", "U_FRANK", "general");
        let r = app.engine.execute(&inv, press, None, false).await.unwrap();
        assert!(!r.text.contains("You"), "{}", r.text);
        app.deliver().await;
        let asked: Vec<String> = app
            .posts_in(channel)
            .into_iter()
            .filter(|p| p.contains("asks for TLOC"))
            .collect();
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert!(asked[0].contains("<bob> or <alice>"), "{}", asked[0]);
        assert_eq!(
            count(&app.engine.store, 1, "role_requested", "frank").await,
            1
        );
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
        assert_eq!(
            count(&app.engine.store, 1, "role_requested", "frank").await,
            1
        );
        app.advance_minutes(6);
        app.cmd("U_FRANK", "general", "SEV-1 ask tloc").await;
        assert_eq!(
            count(&app.engine.store, 1, "role_requested", "frank").await,
            2
        );

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

/// Every subcommand of the grammar, typed on each platform (Slack's slash command,
/// Discord's subcommand and options), reaches the engine and is acted on or refused for a
/// reason of the SEV's, never answered "unknown" or with its usage. A new command without
/// an example here fails this test.
async fn every_subcommand_runs(desk: Desk) {
    // Every subcommand the command set declares, by its own example (a forms-only entry,
    // `new`, has none; `note` is typed as `timeline note`).
    let examples: Vec<(&str, &str)> = sevbot::domain::command_set::SET
        .iter()
        .filter(|s| !s.example.is_empty())
        .map(|s| (s.name, s.example))
        .collect();
    assert_eq!(examples[0].0, "declare", "the others need a SEV");
    let general = desk.general();
    for (name, text) in examples {
        let (answer, _) = desk.run(0, &general, text).await;
        assert!(
            !answer.is_empty()
                && !answer.contains("did not understand")
                && (name == "help" || !answer.contains("Usage:")),
            "{}: `{text}` answered {answer:?}",
            desk.name()
        );
        if name == "declare" {
            assert!(answer.starts_with("SEV-1 declared"), "{answer}");
            desk.deliver().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subcommand_runs_on_every_platform() {
    every_subcommand_runs(Desk::Test(Box::new(
        TestApp::with_config(Backend::Sqlite, PEOPLE).await,
    )))
    .await;
    every_subcommand_runs(Desk::Slack(Box::new(
        SlackApp::start_with(Backend::Sqlite, PEOPLE, |_| {}).await,
    )))
    .await;
    every_subcommand_runs(Desk::Discord(
        Box::new(DiscordApp::with(PEOPLE).await),
        Default::default(),
    ))
    .await;
}
