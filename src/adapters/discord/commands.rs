//! The `/sev` application command: its definition (subcommands with typed options, kept in
//! sync with Discord on start-up) and the translation of an invocation back into the shared
//! `/sev` grammar, so every platform runs the same parser.

use serde_json::{Value, json};
use serenity::all::{ApplicationId, GuildId, LightMethod, Route};

use super::rest::Rest;
use crate::config::{CommandScope, DiscordConfig};
use crate::effects::DeliveryError;

use crate::domain::feed::FeedFilter;
use crate::domain::grammar::{self, Command, Declaration, DraftAction};
use crate::domain::{Role, SevId, SevType};

const STRING: u8 = 3;
const INTEGER: u8 = 4;
const BOOLEAN: u8 = 5;
const USER: u8 = 6;
const SUB_COMMAND: u8 = 1;

fn opt(kind: u8, name: &str, description: &str, required: bool) -> Value {
    json!({ "type": kind, "name": name, "description": description, "required": required })
}

fn with(mut o: Value, key: &str, v: Value) -> Value {
    o[key] = v;
    o
}

fn level_opt(name: &str, description: &str, required: bool) -> Value {
    let choices: Vec<Value> = (0..=3)
        .map(|l| json!({ "name": format!("SEV{l}"), "value": l }))
        .collect();
    with(
        opt(INTEGER, name, description, required),
        "choices",
        json!(choices),
    )
}

fn type_opt(required: bool) -> Value {
    let choices: Vec<Value> = SevType::ALL
        .iter()
        .map(|t| json!({ "name": t.as_str(), "value": t.as_str() }))
        .collect();
    with(
        opt(STRING, "type", "The kind of incident", required),
        "choices",
        json!(choices),
    )
}

fn sev_opt() -> Value {
    with(
        opt(
            STRING,
            "sev",
            "Which SEV, e.g. SEV-12 (default: the one whose channel this is)",
            false,
        ),
        "max_length",
        json!(12),
    )
}

fn sub(name: &str, description: &str, options: Vec<Value>) -> Value {
    json!({ "type": SUB_COMMAND, "name": name, "description": description, "options": options })
}

/// The application command, as sent to `PUT /applications/{id}/commands`.
pub fn definition() -> Value {
    let text = |name: &str, d: &str| with(opt(STRING, name, d, true), "max_length", json!(1900));
    let roles: Vec<Value> = Role::ALL
        .iter()
        .map(|r| json!({ "name": r.title(), "value": r.as_str() }))
        .collect();
    json!({
        "name": "sev",
        "type": 1,
        "description": "Declare and run incidents (SEVs)",
        "options": [
            sub("declare", "Declare a SEV", vec![
                type_opt(true),
                level_opt("level", "0 is the most critical", true),
                with(opt(STRING, "title", "What is broken, e.g. Checkout failing", true), "max_length", json!(150)),
                opt(BOOLEAN, "customer_impact", "Customers are affected (a BMOC is assigned)", false),
                opt(BOOLEAN, "private", "Only its members see it (security SEVs always are)", false),
                opt(BOOLEAN, "new", "Declare even if you just declared a similar SEV", false),
            ]),
            sub("new", "Declare a SEV with a form", vec![]),
            sub("level", "Change the level (lowering urgency needs the IMOC)", vec![
                level_opt("level", "The new level", true),
                opt(STRING, "reason", "Why", false),
                sev_opt(),
            ]),
            sub("role", "Hand a role to someone", vec![
                with(opt(STRING, "role", "The role", true), "choices", json!(roles)),
                opt(USER, "user", "Who takes it", true),
                sev_opt(),
            ]),
            sub("ask", "Ask a role's holder (and the IMOC) to hand it to you", vec![
                with(opt(STRING, "role", "The role", true), "choices", json!(roles)),
                sev_opt(),
            ]),
            sub("update", "Post a status update", vec![text("text", "What changed, what is next"), sev_opt()]),
            sub("ack", "Acknowledge your page (stops the escalation)", vec![sev_opt()]),
            sub("impact", "Degraded routes: availability, users affected, budget burned", vec![sev_opt()]),
            sub("draft", "The customer update for the BMOC: show, edit, approve", vec![
                with(opt(STRING, "action", "What to do (default: show)", false), "choices", json!([
                    { "name": "show", "value": "show" }, { "name": "edit", "value": "edit" }, { "name": "approve", "value": "approve" }
                ])),
                with(opt(STRING, "text", "The new text (for edit)", false), "max_length", json!(1900)),
                sev_opt(),
            ]),
            sub("sla", "This month's downtime against the SLA", vec![]),
            sub("mitigated", "Users are no longer affected", vec![sev_opt()]),
            sub("resolved", "The cause is fixed and recovery confirmed", vec![sev_opt()]),
            sub("close", "Close a resolved SEV (IMOC)", vec![sev_opt()]),
            sub("cancel", "Cancel a SEV that was not an incident (IMOC)", vec![text("reason", "Why it is cancelled"), sev_opt()]),
            sub("status", "Show the SEV", vec![sev_opt()]),
            sub("list", "List open SEVs", vec![]),
            sub("timeline", "Show the timeline", vec![sev_opt()]),
            sub("note", "Add a note to the timeline", vec![text("text", "The note"), sev_opt()]),
            sub("subscribe", "Announce SEVs in this channel, edited in place", vec![
                type_opt(false),
                level_opt("max_level", "Only this level and more critical", false),
            ]),
            sub("unsubscribe", "Stop announcing SEVs in this channel", vec![]),
            sub("help", "Show help", vec![opt(STRING, "command", "A command to explain", false)]),
        ]
    })
}

/// Puts `/sev` in place with a bulk overwrite, which is idempotent: on every start the
/// registered command becomes exactly `definition()`. Guild commands change at once (for
/// development); global ones reach every server the app is installed in.
pub async fn register(
    rest: &Rest,
    application_id: u64,
    cfg: &DiscordConfig,
) -> Result<&'static str, DeliveryError> {
    let app = ApplicationId::new(application_id);
    let guild = cfg
        .guild_id
        .as_deref()
        .and_then(|g| g.parse::<u64>().ok())
        .filter(|_| cfg.commands == CommandScope::Guild);
    let (route, scope) = match guild {
        Some(g) => (
            Route::GuildCommands {
                application_id: app,
                guild_id: GuildId::new(g),
            },
            "guild",
        ),
        None => (
            Route::Commands {
                application_id: app,
            },
            "global",
        ),
    };
    rest.call(
        "register /sev",
        LightMethod::Put,
        route,
        Some(&json!([definition()])),
    )
    .await?;
    Ok(scope)
}

/// The command an APPLICATION_COMMAND interaction's `data` stands for. Option values are
/// taken as given: a title or an update is never split into words and re-read.
pub fn to_command(data: &Value) -> Result<Command, String> {
    if data["name"] != "sev" {
        return Err(format!("unknown command {}", data["name"]));
    }
    let sub = &data["options"][0];
    let name = sub["name"]
        .as_str()
        .ok_or("the command has no subcommand")?;
    let get = |k: &str| -> Option<String> {
        sub["options"]
            .as_array()?
            .iter()
            .find(|o| o["name"] == k)
            .map(|o| match &o["value"] {
                Value::String(s) => s.trim().to_string(),
                v => v.to_string(),
            })
            .filter(|v| !v.is_empty())
    };
    let flag = |k: &str| get(k).is_some_and(|v| v == "true");
    let need = |k: &str| get(k).ok_or_else(|| format!("`{k}` is required"));
    let sev = match get("sev") {
        Some(s) => Some(
            SevId::parse(&s)
                .ok_or_else(|| format!("\"{s}\" is not a SEV id; write it as SEV-12"))?,
        ),
        None => None,
    };
    let role = || {
        let r = need("role")?;
        Role::parse(&r).ok_or_else(|| format!("unknown role \"{r}\""))
    };
    let usage = |e: grammar::UsageError| e.reason;
    Ok(match name {
        "declare" => grammar::declare(
            &need("type")?,
            &need("level")?,
            &need("title")?,
            Declaration {
                customer_impact: flag("customer_impact"),
                private: flag("private"),
                force_new: flag("new"),
                description: None,
            },
        )
        .map_err(usage)?,
        "level" => Command::Level {
            sev,
            level: grammar::parse_level("level", &need("level")?).map_err(usage)?,
            reason: get("reason"),
        },
        "role" => Command::Role {
            sev,
            role: role()?,
            user: need("user")?,
        },
        "ask" => Command::Ask { sev, role: role()? },
        "update" => Command::Update {
            sev,
            text: need("text")?,
        },
        "note" => Command::Note {
            sev,
            text: need("text")?,
        },
        "cancel" => Command::Cancel {
            sev,
            reason: need("reason")?,
        },
        "draft" => Command::Draft {
            sev,
            action: match get("action").as_deref() {
                Some("approve") => DraftAction::Approve,
                Some("edit") => get("text").map_or(DraftAction::Form, DraftAction::Edit),
                _ => DraftAction::Show,
            },
        },
        "sla" => Command::Sla,
        "ack" => Command::Ack { sev },
        "impact" => Command::Impact { sev },
        "mitigated" => Command::Mitigated { sev },
        "resolved" => Command::Resolved { sev },
        "close" => Command::Close { sev },
        "status" => Command::Status { sev },
        "timeline" => Command::Timeline { sev },
        "list" => Command::List,
        "unsubscribe" => Command::Unsubscribe,
        "subscribe" => {
            let mut words = vec![];
            if let Some(ty) = get("type") {
                words.push(format!("type={ty}"));
            }
            if let Some(l) = get("max_level") {
                words.push(format!("level<={l}"));
            }
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            Command::Subscribe(FeedFilter::parse(&words).map_err(|(why, _)| why)?)
        }
        // A help topic is one word of the grammar; the grammar checks it and suggests.
        "help" => grammar::parse(&format!("help {}", get("command").unwrap_or_default()))
            .map_err(usage)?,
        other => return Err(format!("unknown subcommand {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Level;
    use crate::domain::grammar::COMMANDS;

    fn invoke(sub: &str, options: Value) -> Value {
        json!({ "id": "1", "name": "sev", "type": 1, "options": [ { "name": sub, "type": 1, "options": options } ] })
    }

    #[test]
    fn every_grammar_command_has_a_subcommand() {
        let def = definition();
        let subs: Vec<&str> = def["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        for (name, _, _) in COMMANDS {
            assert!(
                subs.contains(name),
                "{name} missing from the Discord command"
            );
        }
        // Discord's rules: at most 25 options (subcommands) per command, names lowercase
        // ≤ 32, descriptions ≤ 100, required options first.
        assert!(subs.len() <= 25, "{} subcommands", subs.len());
        // Discord's rules: names lowercase ≤ 32, descriptions ≤ 100, required options first.
        for s in def["options"].as_array().unwrap() {
            assert!(s["description"].as_str().unwrap().len() <= 100);
            let opts = s["options"].as_array().unwrap();
            let first_optional = opts
                .iter()
                .position(|o| o["required"] == false)
                .unwrap_or(opts.len());
            assert!(
                opts[first_optional..]
                    .iter()
                    .all(|o| o["required"] == false),
                "{}",
                s["name"]
            );
            for o in opts {
                let n = o["name"].as_str().unwrap();
                assert!(
                    n.len() <= 32 && n.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{n}"
                );
            }
        }
    }

    #[test]
    fn invocations_become_typed_commands_with_their_text_as_given() {
        let declare = to_command(&invoke(
            "declare",
            json!([
                { "name": "type", "type": 3, "value": "availability" },
                { "name": "level", "type": 4, "value": 1 },
                { "name": "title", "type": 3, "value": "Checkout --new -- \"failing\" " },
                { "name": "customer_impact", "type": 5, "value": true }
            ]),
        ))
        .unwrap();
        assert_eq!(
            declare,
            Command::Declare {
                sev_type: SevType::Availability,
                level: Level::new(1).unwrap(),
                title: "Checkout --new -- \"failing\"".into(),
                customer_impact: true,
                force_new: false,
                private: false,
                description: None,
            }
        );
        let sev = Some(SevId(4));
        assert_eq!(
            to_command(&invoke(
                "role",
                json!([
                    { "name": "role", "type": 3, "value": "tloc" },
                    { "name": "user", "type": 6, "value": "80351110224678912" },
                    { "name": "sev", "type": 3, "value": "SEV-4" }
                ]),
            ))
            .unwrap(),
            Command::Role {
                sev,
                role: Role::Tloc,
                user: "80351110224678912".into()
            }
        );
        assert_eq!(
            to_command(&invoke("mitigated", json!([]))).unwrap(),
            Command::Mitigated { sev: None }
        );
        assert_eq!(
            to_command(&invoke(
                "level",
                json!([{ "name": "level", "type": 4, "value": 2 }])
            ))
            .unwrap(),
            Command::Level {
                sev: None,
                level: Level::new(2).unwrap(),
                reason: None
            }
        );
        assert_eq!(
            to_command(&invoke("subscribe", json!([{ "name": "type", "value": "security" }, { "name": "max_level", "value": 1 }]))).unwrap(),
            grammar::parse("subscribe type=security level<=1").unwrap()
        );
        assert_eq!(
            to_command(&invoke(
                "note",
                json!([{ "name": "text", "value": "db failover\nstep 2" }])
            ))
            .unwrap(),
            Command::Note {
                sev: None,
                text: "db failover\nstep 2".into()
            }
        );
        assert_eq!(
            to_command(&invoke(
                "draft",
                json!([{ "name": "action", "value": "edit" }])
            ))
            .unwrap(),
            Command::Draft {
                sev: None,
                action: DraftAction::Form
            }
        );
        assert_eq!(
            to_command(&invoke("update", json!([]))).unwrap_err(),
            "`text` is required"
        );
        assert!(to_command(&invoke("level", json!([{ "name": "level", "value": 7 }]))).is_err());
        assert!(to_command(&json!({ "name": "other" })).is_err());
    }

    /// A forgotten arm would be a runtime "unknown subcommand": every subcommand of the
    /// definition, with its required options filled, becomes a command of the grammar.
    #[test]
    fn every_subcommand_becomes_a_command() {
        let def = definition();
        for s in def["options"].as_array().unwrap() {
            let name = s["name"].as_str().unwrap();
            if name == "new" {
                continue; // opens the declare form; it has no command of its own
            }
            let options: Vec<Value> = s["options"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|o| o["required"] == true)
                .map(|o| {
                    let kind = u8::try_from(o["type"].as_u64().unwrap()).unwrap();
                    let value = match (o["name"].as_str().unwrap(), kind) {
                        (_, _) if o["choices"].is_array() => o["choices"][0]["value"].clone(),
                        ("type", _) => json!("availability"),
                        (_, INTEGER) => json!(1),
                        (_, USER) => json!("42"),
                        (_, BOOLEAN) => json!(true),
                        _ => json!("some text"),
                    };
                    json!({ "name": o["name"], "type": o["type"], "value": value })
                })
                .collect();
            let command = to_command(&invoke(name, Value::Array(options)))
                .unwrap_or_else(|e| panic!("/sev {name}: {e}"));
            let expected = if name == "note" { "timeline" } else { name };
            assert_eq!(command.name(), expected, "/sev {name}");
        }
    }
}
