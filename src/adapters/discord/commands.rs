//! The `/sev` application command: its definition, derived from the command set
//! (`domain::command_set`) and kept in sync with Discord on start-up, and the typed
//! `Command` an invocation stands for (option values taken as given, never re-parsed).

use serde_json::{Value, json};
use serenity::all::{ApplicationId, GuildId, LightMethod, Route};

use super::rest::Rest;
use crate::config::{CommandScope, DiscordConfig};
use crate::effects::DeliveryError;

use crate::domain::command_set::{Arg, Opt, SET, Spec};
use crate::domain::grammar::{self, Command, Declaration, DraftAction, FollowupAction};
use crate::domain::{Role, SevId, SevType};

const SUB_COMMAND: u8 = 1;
const SUB_COMMAND_GROUP: u8 = 2;
const STRING: u8 = 3;
const INTEGER: u8 = 4;
const BOOLEAN: u8 = 5;
const USER: u8 = 6;

/// Discord's shape of one option of the command set.
fn option(o: &Opt) -> Value {
    let (kind, extra) = match o.arg {
        Arg::SevType => (
            STRING,
            json!({ "choices": SevType::ALL.iter().map(|t| json!({ "name": t.as_str(), "value": t.as_str() })).collect::<Vec<_>>() }),
        ),
        Arg::Level => (
            INTEGER,
            json!({ "choices": (0..=3).map(|l| json!({ "name": format!("SEV{l}"), "value": l })).collect::<Vec<_>>() }),
        ),
        Arg::Role => (
            STRING,
            json!({ "choices": Role::ALL.iter().map(|r| json!({ "name": r.title(), "value": r.as_str() })).collect::<Vec<_>>() }),
        ),
        Arg::Choice(words) => (
            STRING,
            json!({ "choices": words.iter().map(|w| json!({ "name": w, "value": w })).collect::<Vec<_>>() }),
        ),
        Arg::User => (USER, json!({})),
        Arg::Flag => (BOOLEAN, json!({})),
        Arg::Text(max) => (STRING, json!({ "max_length": max })),
        Arg::Sev => (STRING, json!({ "max_length": 12 })),
        Arg::Topic => (STRING, json!({})),
    };
    let mut v =
        json!({ "type": kind, "name": o.name, "description": o.about, "required": o.required });
    if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
        v.extend(extra.clone());
    }
    v
}

/// The application command for a command set: each entry a subcommand, inside its group
/// when it has one.
fn definition_of(set: &[Spec]) -> Value {
    let mut top: Vec<Value> = vec![];
    for s in set {
        let sub = json!({
            "type": SUB_COMMAND,
            "name": s.name,
            "description": s.brief,
            "options": s.options.iter().map(option).collect::<Vec<_>>(),
        });
        let Some((group, about)) = s.group else {
            top.push(sub);
            continue;
        };
        match top.iter_mut().find(|o| o["name"] == group) {
            Some(g) => g["options"].as_array_mut().expect("a group").push(sub),
            None => top.push(json!({
                "type": SUB_COMMAND_GROUP,
                "name": group,
                "description": about,
                "options": [sub],
            })),
        }
    }
    json!({
        "name": "sev",
        "type": 1,
        "description": "Declare and run incidents (SEVs)",
        "options": top,
    })
}

/// The application command, as sent to `PUT /applications/{id}/commands`.
pub fn definition() -> Value {
    definition_of(SET)
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
    // A subcommand in a group sits one level deeper.
    let sub = match &data["options"][0] {
        g if g["type"] == SUB_COMMAND_GROUP => &g["options"][0],
        s => s,
    };
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
        "drill" => {
            let words: Vec<String> = ["type", "level", "scenario"]
                .iter()
                .filter_map(|k| get(k))
                .collect();
            grammar::drill(&words.iter().map(String::as_str).collect::<Vec<_>>()).map_err(usage)?
        }
        "report" => grammar::report(&get("period").as_deref().into_iter().collect::<Vec<_>>())
            .map_err(usage)?,
        "ack" => Command::Ack { sev },
        "impact" => Command::Impact { sev },
        "diagnosed" => Command::Diagnosed {
            sev,
            note: get("note"),
        },
        "postmortem" => Command::Postmortem { sev },
        "followup" => Command::Followup {
            sev,
            action: match get("action").as_deref() {
                Some("add") => {
                    grammar::followup_add(&need("text")?, get("owner"), get("due").as_deref())
                        .map_err(usage)?
                }
                Some("done") => {
                    let n = need("number")?;
                    FollowupAction::Done(
                        n.trim_start_matches('#')
                            .parse()
                            .map_err(|_| format!("\"{n}\" is not a follow-up number"))?,
                    )
                }
                _ => FollowupAction::List,
            },
        },
        "reopen" => Command::Reopen {
            sev,
            reason: get("reason"),
        },
        "retitle" => grammar::retitle(sev, &need("title")?).map_err(usage)?,
        "mitigated" => Command::Mitigated { sev },
        "resolved" => Command::Resolved { sev },
        "close" => Command::Close { sev },
        "status" => Command::Status { sev },
        "timeline" => Command::Timeline { sev },
        "list" => Command::List,
        // Picked options become the typed words, so both are read by the same grammar.
        "oncall" | "simulate" => {
            let mut words: Vec<String> = ["level", "type", "role"]
                .iter()
                .filter_map(|k| get(k))
                .collect();
            if let Some(at) = get("at") {
                // "at sat 03:00" typed into the box means "sat 03:00".
                let at = at.strip_prefix("at ").unwrap_or(&at).to_string();
                words.push("at".into());
                words.extend(at.split_whitespace().map(str::to_string));
            }
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let parse = if name == "oncall" {
                grammar::oncall
            } else {
                grammar::simulate
            };
            parse(&words).map_err(usage)?
        }
        // The typed options become the grammar's words, so both check them alike.
        "subscribe" | "unsubscribe" => {
            let mut words = vec![name.to_string()];
            if let Some(e) = get("email") {
                words.push(format!("email={}", e.trim()));
            }
            if let Some(ty) = get("type") {
                words.push(format!("type={ty}"));
            }
            if let Some(l) = get("max_level") {
                words.push(format!("level<={l}"));
            }
            grammar::parse(&words.join(" ")).map_err(usage)?
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

    fn invoke(sub: &str, options: Value) -> Value {
        json!({ "id": "1", "name": "sev", "type": 1, "options": [ { "name": sub, "type": 1, "options": options } ] })
    }

    /// Discord's limits on an application command: 25 entries at the top and per group,
    /// 25 options per subcommand, lowercase names ≤ 32, descriptions ≤ 100, and at most 8,000
    /// characters of names, descriptions and choice values in all.
    fn check_limits(def: &Value) -> usize {
        fn walk(v: &Value, depth: usize, total: &mut usize) {
            for k in ["name", "description"] {
                if let Some(t) = v[k].as_str() {
                    *total += t.chars().count();
                }
            }
            if let Some(n) = v["name"].as_str() {
                assert!(
                    n.len() <= 32
                        && n.chars()
                            .all(|c| c.is_ascii_lowercase() || c == '_' || c == '-'),
                    "{n}"
                );
                assert!(
                    v["description"].as_str().unwrap().chars().count() <= 100,
                    "{n}"
                );
            }
            for c in v["choices"].as_array().into_iter().flatten() {
                *total += c["name"].as_str().unwrap().len() + c["value"].to_string().len();
            }
            let opts = v["options"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            assert!(opts.len() <= 25, "{} has {} entries", v["name"], opts.len());
            let first_optional = opts
                .iter()
                .position(|o| o["required"] == false)
                .unwrap_or(opts.len());
            assert!(
                opts[first_optional..].iter().all(|o| o["required"] != true),
                "{}: required options go first",
                v["name"]
            );
            assert!(depth <= 3, "groups nest once");
            for o in opts {
                walk(o, depth + 1, total);
            }
        }
        let mut total = 0;
        walk(def, 0, &mut total);
        assert!(total <= 8000, "{total} characters");
        total
    }

    #[test]
    fn the_definition_is_the_command_set_within_discords_limits() {
        let def = definition();
        check_limits(&def);
        let subs: Vec<&str> = def["options"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|o| match o["type"].as_u64() {
                Some(2) => o["options"].as_array().unwrap().iter().collect(),
                _ => vec![o],
            })
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        // Every entry once (a group gathers its members where it first appears).
        let mut declared: Vec<&str> = SET.iter().map(|s| s.name).collect();
        let mut subs = subs;
        declared.sort();
        subs.sort();
        assert_eq!(subs, declared);
    }

    /// Once the top level is full, commands go in groups: the definition nests them and an
    /// invocation from inside a group reads the same as one from the top.
    #[test]
    fn subcommand_groups_are_built_and_read() {
        let mut set: Vec<Spec> = SET.to_vec();
        for s in set
            .iter_mut()
            .filter(|s| ["timeline", "note"].contains(&s.name))
        {
            s.group = Some(("record", "The SEV's record"));
        }
        let def = definition_of(&set);
        check_limits(&def);
        let group = def["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == "record")
            .unwrap();
        assert_eq!(group["type"], 2);
        assert_eq!(group["options"][1]["name"], "note");
        let nested = json!({ "id": "1", "name": "sev", "type": 1, "options": [
            { "name": "record", "type": 2, "options": [
                { "name": "note", "type": 1, "options": [{ "name": "text", "type": 3, "value": "a\nb" }] }
            ] }
        ] });
        assert_eq!(
            to_command(&nested).unwrap(),
            Command::Note {
                sev: None,
                text: "a\nb".into()
            }
        );
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
    /// command set, with its required options filled as Discord would, becomes a command.
    #[test]
    fn every_subcommand_becomes_a_command() {
        for spec in SET {
            let name = spec.name;
            if name == "new" {
                continue; // opens the declare form; it has no command of its own
            }
            let options: Vec<Value> = spec
                .options
                .iter()
                .filter(|o| o.required)
                .map(option)
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
