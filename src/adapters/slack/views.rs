//! Modals and buttons: the declare modal (with the SEV definitions table in view), the
//! update modal, and what each button and submission means as a `/sev` command. Pure:
//! JSON in, JSON or a command out.

use serde_json::{Value, json};

use super::blocks::{MAX_SECTION, clip};
use crate::domain::actions::CardAction;
use crate::domain::definitions::{SevDefinition, render_table};
use crate::domain::grammar::{self, Command, Declaration, DraftAction};
use crate::domain::{SevId, SevType};

pub const DECLARE: &str = "sev_declare";
pub const UPDATE: &str = "sev_update";
pub const DRAFT: &str = "sev_draft";

fn plain(t: &str) -> Value {
    json!({ "type": "plain_text", "text": t })
}

fn option(text: &str, value: &str) -> Value {
    json!({ "text": plain(&clip(text, 75)), "value": value })
}

/// The modal `/sev` alone opens. `channel` is where the declare was started.
pub fn declare_modal(defs: &[SevDefinition], channel: &str) -> Value {
    let types: Vec<Value> = SevType::ALL
        .iter()
        .map(|t| option(t.as_str(), t.as_str()))
        .collect();
    let mut sorted: Vec<&SevDefinition> = defs.iter().collect();
    sorted.sort_by_key(|d| d.level);
    let levels: Vec<Value> = sorted
        .iter()
        .map(|d| {
            option(
                &format!("{} — {}", d.level, d.summary),
                &d.level.get().to_string(),
            )
        })
        .collect();
    json!({
        "type": "modal",
        "callback_id": DECLARE,
        "private_metadata": channel,
        "title": plain("Declare a SEV"),
        "submit": plain("Declare"),
        "close": plain("Cancel"),
        "blocks": [
            { "type": "input", "block_id": "type", "label": plain("Type"),
              "element": { "type": "static_select", "action_id": "v", "options": types } },
            { "type": "input", "block_id": "level", "label": plain("Level"),
              "element": { "type": "static_select", "action_id": "v", "options": levels } },
            { "type": "input", "block_id": "title", "label": plain("What is broken?"),
              "element": { "type": "plain_text_input", "action_id": "v", "max_length": 150,
                           "placeholder": plain("Checkout failing for EU users") } },
            { "type": "input", "block_id": "description", "optional": true, "label": plain("Details"),
              "element": { "type": "plain_text_input", "action_id": "v", "multiline": true, "max_length": 2900 } },
            { "type": "input", "block_id": "impact", "optional": true, "label": plain("Customer impact"),
              "element": { "type": "checkboxes", "action_id": "v",
                           "options": [ option("Customers are affected (a BMOC is paged)", "yes") ] } },
            { "type": "input", "block_id": "private", "optional": true, "label": plain("Restricted"),
              "element": { "type": "checkboxes", "action_id": "v",
                           "options": [ option("Only its members see it (security SEVs always are)", "yes") ] } },
            { "type": "input", "block_id": "new", "optional": true, "label": plain("Separate incident"),
              "element": { "type": "checkboxes", "action_id": "v",
                           "options": [ option("Declare it even if I just declared a similar SEV", "yes") ] } },
            { "type": "context", "elements": [ { "type": "mrkdwn",
              "text": clip(&format!("*SEV levels*\n{}", render_table(defs)), MAX_SECTION) } ] }
        ]
    })
}

pub fn update_modal(sev: SevId, channel: &str) -> Value {
    json!({
        "type": "modal",
        "callback_id": UPDATE,
        "private_metadata": format!("{sev}|{channel}"),
        "title": plain(&format!("Update {sev}")),
        "submit": plain("Post update"),
        "close": plain("Cancel"),
        "blocks": [
            { "type": "input", "block_id": "text", "label": plain("What changed? What is next?"),
              "element": { "type": "plain_text_input", "action_id": "v", "multiline": true, "max_length": 2900 } }
        ]
    })
}

/// The customer update, editable before the BMOC approves it.
pub fn draft_modal(sev: SevId, channel: &str, text: &str) -> Value {
    json!({
        "type": "modal",
        "callback_id": DRAFT,
        "private_metadata": format!("{sev}|{channel}"),
        "title": plain(&format!("Draft for {sev}")),
        "submit": plain("Save draft"),
        "close": plain("Cancel"),
        "blocks": [
            { "type": "input", "block_id": "text", "label": plain("Customer update (plain language, no internal names)"),
              "element": { "type": "plain_text_input", "action_id": "v", "multiline": true, "max_length": 2900,
                           "initial_value": clip(text, 2900) } }
        ]
    })
}

/// What an interaction asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    /// Run this command as `user` in `channel`.
    Command {
        user: String,
        channel: String,
        command: Command,
    },
    OpenUpdateModal {
        trigger_id: String,
        sev: SevId,
        channel: String,
    },
    Nothing,
}

/// Reads a `block_actions` or `view_submission` payload. Text from forms is taken as typed:
/// line breaks, quotes and words that look like flags stay part of it.
pub fn interpret(p: &Value) -> Result<Intent, String> {
    let user = p["user"]["id"]
        .as_str()
        .ok_or("payload without user.id")?
        .to_string();
    match p["type"].as_str() {
        Some("block_actions") => {
            let action = &p["actions"][0];
            let Some(card) = action["action_id"].as_str().and_then(CardAction::parse) else {
                return Ok(Intent::Nothing);
            };
            let sev = action["value"]
                .as_str()
                .and_then(SevId::parse)
                .ok_or("button without a SEV id")?;
            let channel = p["channel"]["id"]
                .as_str()
                .ok_or("button outside a channel")?
                .to_string();
            match card.command(sev, &user) {
                Some(command) => Ok(Intent::Command {
                    user,
                    channel,
                    command,
                }),
                None => {
                    let trigger_id = p["trigger_id"]
                        .as_str()
                        .ok_or("button without trigger_id")?
                        .to_string();
                    Ok(Intent::OpenUpdateModal {
                        trigger_id,
                        sev,
                        channel,
                    })
                }
            }
        }
        Some("view_submission") => {
            let view = &p["view"];
            let values = &view["state"]["values"];
            let field = |block: &str| -> Option<String> {
                let v = &values[block]["v"];
                v["selected_option"]["value"]
                    .as_str()
                    .or(v["value"].as_str())
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
            };
            // The SEV a form is about, and the channel it was opened from.
            let about = |what: &str| -> Result<(SevId, String), String> {
                let meta = view["private_metadata"].as_str().unwrap_or_default();
                meta.split_once('|')
                    .and_then(|(sev, ch)| Some((SevId::parse(sev)?, ch.to_string())))
                    .ok_or_else(|| format!("{what} form without its SEV"))
            };
            let (channel, command) = match view["callback_id"].as_str() {
                Some(DECLARE) => {
                    let ticked = |block: &str| {
                        values[block]["v"]["selected_options"]
                            .as_array()
                            .is_some_and(|o| !o.is_empty())
                    };
                    let command = grammar::declare(
                        &field("type").ok_or("no type chosen")?,
                        &field("level").ok_or("no level chosen")?,
                        &field("title").ok_or("no title given")?,
                        Declaration {
                            customer_impact: ticked("impact"),
                            private: ticked("private"),
                            force_new: ticked("new"),
                            description: field("description"),
                        },
                    )
                    .map_err(|e| e.reason)?;
                    let channel = view["private_metadata"].as_str().unwrap_or_default();
                    (channel.to_string(), command)
                }
                Some(DRAFT) => {
                    let (sev, channel) = about("draft")?;
                    let text = field("text").ok_or("the draft is empty")?;
                    let action = DraftAction::Edit(text);
                    (
                        channel,
                        Command::Draft {
                            sev: Some(sev),
                            action,
                        },
                    )
                }
                Some(UPDATE) => {
                    let (sev, channel) = about("update")?;
                    let text = field("text").ok_or("the update is empty")?;
                    (
                        channel,
                        Command::Update {
                            sev: Some(sev),
                            text,
                        },
                    )
                }
                _ => return Ok(Intent::Nothing),
            };
            Ok(Intent::Command {
                user,
                channel,
                command,
            })
        }
        _ => Ok(Intent::Nothing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_definitions;

    #[test]
    fn modals_fit_slack_limits_and_its_model() {
        let m = declare_modal(&default_definitions(), "C1");
        assert!(m["title"]["text"].as_str().unwrap().chars().count() <= 24);
        let v: slack_morphism::prelude::SlackView = serde_json::from_value(m.clone()).unwrap();
        assert!(matches!(v, slack_morphism::prelude::SlackView::Modal(_)));
        assert!(
            m.to_string().contains("SEV0: Critical"),
            "the definitions table is in view"
        );
        let u = update_modal(SevId(12), "C1");
        assert!(u["title"]["text"].as_str().unwrap().chars().count() <= 24);
        let _: slack_morphism::prelude::SlackView = serde_json::from_value(u).unwrap();
    }

    fn submission(callback: &str, meta: &str, values: Value) -> Value {
        json!({ "type": "view_submission", "user": { "id": "U1" },
                "view": { "callback_id": callback, "private_metadata": meta, "state": { "values": values } } })
    }

    #[test]
    fn declare_submission_becomes_a_command() {
        let p = submission(
            DECLARE,
            "C9",
            json!({
                "type": { "v": { "type": "static_select", "selected_option": { "value": "security" } } },
                "level": { "v": { "type": "static_select", "selected_option": { "value": "1" } } },
                "title": { "v": { "type": "plain_text_input", "value": " Token leaked --new -- \"prod\" " } },
                "description": { "v": { "type": "plain_text_input", "value": "found in a public gist\nrotated" } },
                "impact": { "v": { "type": "checkboxes", "selected_options": [ { "value": "yes" } ] } }
            }),
        );
        assert_eq!(
            interpret(&p).unwrap(),
            Intent::Command {
                user: "U1".into(),
                channel: "C9".into(),
                command: grammar::declare(
                    "security",
                    "1",
                    "Token leaked --new -- \"prod\"",
                    Declaration {
                        customer_impact: true,
                        description: Some("found in a public gist\nrotated".into()),
                        ..Declaration::default()
                    },
                )
                .unwrap(),
            }
        );
        let p = submission(
            DECLARE,
            "C9",
            json!({ "type": { "v": { "selected_option": null } } }),
        );
        assert_eq!(interpret(&p).unwrap_err(), "no type chosen");
    }

    #[test]
    fn buttons_become_commands() {
        let click = |action: &str| {
            json!({ "type": "block_actions", "user": { "id": "U7" }, "channel": { "id": "C5" }, "trigger_id": "t.1",
                    "actions": [ { "action_id": action, "value": "SEV-4" } ] })
        };
        let cmd = |text: &str| Intent::Command {
            user: "U7".into(),
            channel: "C5".into(),
            command: grammar::parse(text).unwrap(),
        };
        assert_eq!(
            interpret(&click("sev_role_tloc")).unwrap(),
            cmd("SEV-4 role tloc U7")
        );
        assert_eq!(
            interpret(&click("sev_mitigated")).unwrap(),
            cmd("SEV-4 mitigated")
        );
        assert_eq!(
            interpret(&click("sev_resolved")).unwrap(),
            cmd("SEV-4 resolved")
        );
        assert_eq!(
            interpret(&click("sev_update")).unwrap(),
            Intent::OpenUpdateModal {
                trigger_id: "t.1".into(),
                sev: SevId(4),
                channel: "C5".into()
            }
        );
        assert_eq!(
            interpret(&click("something_else")).unwrap(),
            Intent::Nothing
        );
        let p = submission(
            UPDATE,
            "SEV-4|C5",
            json!({ "text": { "v": { "value": "rolled back\n\nnext: failover" } } }),
        );
        assert_eq!(
            interpret(&p).unwrap(),
            Intent::Command {
                user: "U1".into(),
                channel: "C5".into(),
                command: Command::Update {
                    sev: Some(SevId(4)),
                    text: "rolled back\n\nnext: failover".into()
                },
            }
        );
    }
}
