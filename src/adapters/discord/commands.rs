//! The `/sev` application command: its definition (subcommands with typed options, kept in
//! sync with Discord on start-up) and the translation of an invocation back into the shared
//! `/sev` grammar, so every platform runs the same parser.

use serde_json::{Value, json};
use serenity::all::{ApplicationId, GuildId, LightMethod, Route};

use super::rest::Rest;
use crate::config::{CommandScope, DiscordConfig};
use crate::effects::DeliveryError;

use crate::domain::{Role, SevType};

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

/// The `/sev` text an APPLICATION_COMMAND interaction's `data` stands for.
pub fn to_text(data: &Value) -> Result<String, String> {
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
    };
    let flag = |k: &str| get(k).is_some_and(|v| v == "true");
    let prefix = get("sev").map(|s| format!("{s} ")).unwrap_or_default();
    let need = |k: &str| get(k).ok_or_else(|| format!("`{k}` is required"));
    let text = match name {
        "declare" => format!(
            "declare {} {} {}{}{}{}",
            need("type")?,
            need("level")?,
            need("title")?,
            if flag("customer_impact") {
                " --customer-impact"
            } else {
                ""
            },
            if flag("private") { " --private" } else { "" },
            if flag("new") { " --new" } else { "" }
        ),
        "level" => format!(
            "{prefix}level {} {}",
            need("level")?,
            get("reason").unwrap_or_default()
        ),
        "role" => format!("{prefix}role {} <@{}>", need("role")?, need("user")?),
        "ask" => format!("{prefix}ask {}", need("role")?),
        "update" => format!("{prefix}update {}", need("text")?),
        "note" => format!("{prefix}timeline note {}", need("text")?),
        "cancel" => format!("{prefix}cancel {}", need("reason")?),
        "draft" => match get("action").as_deref() {
            Some("approve") => format!("{prefix}draft approve"),
            Some("edit") => format!("{prefix}draft edit {}", need("text")?),
            _ => format!("{prefix}draft"),
        },
        "sla" => "sla".to_string(),
        "ack" | "impact" | "mitigated" | "resolved" | "close" | "status" | "timeline" => {
            format!("{prefix}{name}")
        }
        "list" | "unsubscribe" => name.to_string(),
        "subscribe" => {
            let mut t = "subscribe".to_string();
            if let Some(ty) = get("type") {
                t.push_str(&format!(" type={ty}"));
            }
            if let Some(l) = get("max_level") {
                t.push_str(&format!(" level<={l}"));
            }
            t
        }
        "help" => format!("help {}", get("command").unwrap_or_default()),
        other => return Err(format!("unknown subcommand {other}")),
    };
    Ok(text.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::grammar::{self, COMMANDS};

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
    fn invocations_become_grammar_text() {
        let t = to_text(&invoke(
            "declare",
            json!([
                { "name": "type", "type": 3, "value": "availability" },
                { "name": "level", "type": 4, "value": 1 },
                { "name": "title", "type": 3, "value": "Checkout failing " },
                { "name": "customer_impact", "type": 5, "value": true }
            ]),
        ))
        .unwrap();
        assert_eq!(
            t,
            "declare availability 1 Checkout failing --customer-impact"
        );
        assert!(grammar::parse(&t).is_ok());
        let t = to_text(&invoke(
            "role",
            json!([
                { "name": "role", "type": 3, "value": "tloc" },
                { "name": "user", "type": 6, "value": "80351110224678912" },
                { "name": "sev", "type": 3, "value": "SEV-4" }
            ]),
        ))
        .unwrap();
        assert_eq!(t, "SEV-4 role tloc <@80351110224678912>");
        assert!(grammar::parse(&t).is_ok());
        assert_eq!(
            to_text(&invoke("mitigated", json!([]))).unwrap(),
            "mitigated"
        );
        assert_eq!(
            to_text(&invoke(
                "level",
                json!([{ "name": "level", "type": 4, "value": 2 }])
            ))
            .unwrap(),
            "level 2"
        );
        assert_eq!(
            to_text(&invoke("subscribe", json!([{ "name": "type", "value": "security" }, { "name": "max_level", "value": 1 }]))).unwrap(),
            "subscribe type=security level<=1"
        );
        assert_eq!(
            to_text(&invoke(
                "note",
                json!([{ "name": "text", "value": "db failover" }])
            ))
            .unwrap(),
            "timeline note db failover"
        );
        assert_eq!(
            to_text(&invoke("update", json!([]))).unwrap_err(),
            "`text` is required"
        );
        assert!(to_text(&json!({ "name": "other" })).is_err());
    }
}
