//! Discord modals (declare, update) and what each button press and modal submission means
//! as a `/sev` command. Pure: JSON in, a builder or a command out.

use serde_json::Value;
use serenity::all::{CreateActionRow, CreateInputText, CreateModal, InputTextStyle};

use crate::domain::actions::CardAction;
use crate::domain::definitions::SevDefinition;
use crate::domain::grammar::{self, Command, Declaration, DraftAction};
use crate::domain::{SevId, SevType};

pub const DECLARE: &str = "sev_declare";
pub const UPDATE: &str = "sev_update";
pub const DRAFT: &str = "sev_draft";
/// Discord: modal titles ≤ 45, labels ≤ 45, placeholders ≤ 100 characters.
const MAX_PLACEHOLDER: usize = 100;

fn input(style: InputTextStyle, label: &str, id: &str, required: bool) -> CreateInputText {
    CreateInputText::new(style, label, id).required(required)
}

/// The form behind `/sev new`: the same fields as the Slack modal, as text inputs (the
/// levels table goes in the placeholder, so it is in view while choosing).
pub fn declare_modal(defs: &[SevDefinition]) -> CreateModal {
    let types: Vec<&str> = SevType::ALL.iter().map(|t| t.as_str()).collect();
    let mut sorted: Vec<&SevDefinition> = defs.iter().collect();
    sorted.sort_by_key(|d| d.level);
    let levels = sorted
        .iter()
        .map(|d| {
            let word = d.summary.split([':', ' ']).next().unwrap_or_default();
            format!("{} {word}", d.level.get())
        })
        .collect::<Vec<_>>()
        .join(", ");
    let rows = vec![
        input(InputTextStyle::Short, "Type", "type", true)
            .placeholder(crate::adapters::text::clip(
                &types.join(", "),
                MAX_PLACEHOLDER,
            ))
            .max_length(20),
        input(
            InputTextStyle::Short,
            "Level (0 is the most critical)",
            "level",
            true,
        )
        .placeholder(crate::adapters::text::clip(&levels, MAX_PLACEHOLDER))
        .max_length(4),
        input(InputTextStyle::Short, "What is broken?", "title", true)
            .placeholder("Checkout failing for EU users")
            .max_length(150),
        input(InputTextStyle::Paragraph, "Details", "description", false).max_length(2900),
        input(
            InputTextStyle::Short,
            "Customers affected? (yes/no)",
            "impact",
            false,
        )
        .placeholder("no")
        .max_length(3),
    ];
    CreateModal::new(DECLARE, "Declare a SEV")
        .components(rows.into_iter().map(CreateActionRow::InputText).collect())
}

pub fn update_modal(sev: SevId) -> CreateModal {
    CreateModal::new(format!("{UPDATE}:{sev}"), format!("Update {sev}")).components(vec![
        CreateActionRow::InputText(
            input(
                InputTextStyle::Paragraph,
                "What changed? What is next?",
                "text",
                true,
            )
            .max_length(1900),
        ),
    ])
}

/// The customer update, prefilled with the current draft.
pub fn draft_modal(sev: SevId, text: &str) -> CreateModal {
    let mut field = input(
        InputTextStyle::Paragraph,
        "Customer update (plain language)",
        "text",
        true,
    )
    .max_length(1900);
    if !text.is_empty() {
        field = field.value(crate::adapters::text::clip(text, 1900));
    }
    CreateModal::new(format!("{DRAFT}:{sev}"), format!("Draft for {sev}"))
        .components(vec![CreateActionRow::InputText(field)])
}

/// What a component or modal interaction asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    Command(Command),
    UpdateModal(SevId),
    Nothing,
}

/// Text inputs by custom_id, from a MODAL_SUBMIT's `data` (action rows of inputs, or the
/// newer label components that hold one input each).
fn fields(data: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for row in data["components"].as_array().into_iter().flatten() {
        let inner: Vec<&Value> = match row["components"].as_array() {
            Some(list) => list.iter().collect(),
            None => vec![&row["component"]],
        };
        for c in inner {
            if let (Some(id), Some(v)) = (c["custom_id"].as_str(), c["value"].as_str()) {
                out.push((id.to_string(), v.trim().to_string()));
            }
        }
    }
    out
}

/// Reads a MESSAGE_COMPONENT (button) or MODAL_SUBMIT interaction's `data`, for `user`.
/// Text from forms is taken as typed: line breaks, quotes and flag-like words stay in it.
pub fn interpret(kind: u64, data: &Value, user: &str) -> Result<Intent, String> {
    let custom = data["custom_id"].as_str().unwrap_or_default();
    let (action, arg) = custom.split_once(':').unwrap_or((custom, ""));
    match kind {
        super::MESSAGE_COMPONENT => {
            let Some(card) = CardAction::parse(action) else {
                return Ok(Intent::Nothing);
            };
            let sev = SevId::parse(arg).ok_or("button without a SEV id")?;
            Ok(match card.command(sev, user) {
                Some(c) => Intent::Command(c),
                None => Intent::UpdateModal(sev),
            })
        }
        super::MODAL_SUBMIT => {
            let f = fields(data);
            let get = |k: &str| {
                f.iter()
                    .find(|(id, v)| id == k && !v.is_empty())
                    .map(|(_, v)| v.clone())
            };
            let sev = || SevId::parse(arg).ok_or("form without its SEV");
            let command = match action {
                DECLARE => {
                    let impact = get("impact").is_some_and(|v| {
                        matches!(v.to_ascii_lowercase().as_str(), "y" | "yes" | "true")
                    });
                    grammar::declare(
                        &get("type").ok_or("no type given")?.to_ascii_lowercase(),
                        &get("level").ok_or("no level given")?,
                        &get("title").ok_or("no title given")?,
                        Declaration {
                            customer_impact: impact,
                            description: get("description"),
                            ..Declaration::default()
                        },
                    )
                    .map_err(|e| e.reason)?
                }
                DRAFT => Command::Draft {
                    sev: Some(sev()?),
                    action: DraftAction::Edit(get("text").ok_or("the draft is empty")?),
                },
                UPDATE => Command::Update {
                    sev: Some(sev()?),
                    text: get("text").ok_or("the update is empty")?,
                },
                _ => return Ok(Intent::Nothing),
            };
            Ok(Intent::Command(command))
        }
        _ => Ok(Intent::Nothing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_definitions;
    use serde_json::json;

    #[test]
    fn modals_fit_discord_limits() {
        let m = serde_json::to_value(declare_modal(&default_definitions())).unwrap();
        assert!(m["title"].as_str().unwrap().chars().count() <= 45);
        let rows = m["components"].as_array().unwrap();
        assert!(rows.len() <= 5);
        for r in rows {
            let c = &r["components"][0];
            assert!(c["label"].as_str().unwrap().chars().count() <= 45, "{c}");
            if let Some(p) = c["placeholder"].as_str() {
                assert!(p.chars().count() <= MAX_PLACEHOLDER);
            }
        }
        assert!(m.to_string().contains("0 Critical, 1 Major"), "{m}");
        let u = serde_json::to_value(update_modal(SevId(12))).unwrap();
        assert_eq!(u["custom_id"], "sev_update:SEV-12");
    }

    fn submit(custom_id: &str, values: &[(&str, &str)]) -> Value {
        let rows: Vec<Value> = values
            .iter()
            .map(|(id, v)| json!({ "type": 1, "components": [ { "type": 4, "custom_id": id, "value": v } ] }))
            .collect();
        json!({ "custom_id": custom_id, "components": rows })
    }

    #[test]
    fn submissions_and_buttons_become_commands() {
        let d = submit(
            DECLARE,
            &[
                ("type", "Security"),
                ("level", "SEV1"),
                ("title", " Token leaked --new -- \"prod\" "),
                ("description", "found in a public gist\nrotated at 10:02"),
                ("impact", "yes"),
            ],
        );
        assert_eq!(
            interpret(5, &d, "42").unwrap(),
            Intent::Command(
                grammar::declare(
                    "security",
                    "1",
                    "Token leaked --new -- \"prod\"",
                    Declaration {
                        customer_impact: true,
                        description: Some("found in a public gist\nrotated at 10:02".into()),
                        ..Declaration::default()
                    },
                )
                .unwrap()
            )
        );
        assert_eq!(
            interpret(5, &submit(DECLARE, &[("type", "security")]), "42").unwrap_err(),
            "no level given"
        );
        let u = submit(
            "sev_update:SEV-4",
            &[("text", "rolled back\n\nnext: failover")],
        );
        assert_eq!(
            interpret(5, &u, "42").unwrap(),
            Intent::Command(Command::Update {
                sev: Some(SevId(4)),
                text: "rolled back\n\nnext: failover".into()
            })
        );
        let click = |id: &str| json!({ "custom_id": id, "component_type": 2 });
        assert_eq!(
            interpret(3, &click("sev_role_tloc:SEV-4"), "42").unwrap(),
            Intent::Command(Command::Role {
                sev: Some(SevId(4)),
                role: crate::domain::Role::Tloc,
                user: "42".into()
            })
        );
        assert_eq!(
            interpret(3, &click("sev_update:SEV-4"), "42").unwrap(),
            Intent::UpdateModal(SevId(4))
        );
        assert_eq!(
            interpret(3, &click("other:SEV-4"), "42").unwrap(),
            Intent::Nothing
        );
        assert!(interpret(3, &click("sev_resolved"), "42").is_err());
    }
}
