//! Discord rendering of sevbot's messages — a summary embed with buttons for the card,
//! an embed for feeds, plain content for timeline lines — built with serenity's builders
//! and kept inside Discord's limits (2000-character content; embeds: title 256,
//! description 4096, 6000 characters in all, 10 per message; 5 buttons per row).

use serenity::all::{
    ButtonStyle, CreateActionRow, CreateAllowedMentions, CreateButton, CreateEmbed,
    CreateEmbedFooter, CreateMessage, EditMessage,
};

use crate::adapters::text::clip;
use crate::domain::incident::fmt_time;
use crate::domain::{Incident, Role, Stage};
use crate::effects::Message;

pub const MAX_CONTENT: usize = 2000;
pub const MAX_EMBED_TITLE: usize = 256;
pub const MAX_EMBED_DESCRIPTION: usize = 4096;
pub const MAX_EMBED_TOTAL: usize = 6000;
pub const MAX_FOOTER: usize = 2048;
pub const MAX_TOPIC: usize = 1024;
pub const MAX_BUTTONS_PER_ROW: usize = 5;

/// Colours by level, so a SEV0 stands out in a busy feed.
fn colour(inc: &Incident) -> u32 {
    if !inc.stage.is_open() {
        return 0x95a5a6;
    }
    match inc.level.get() {
        0 => 0xe74c3c,
        1 => 0xe67e22,
        2 => 0xf1c40f,
        _ => 0x3498db,
    }
}

/// Title, description and footer of the summary embed, clipped so their sum stays
/// within Discord's 6000 characters.
pub fn embed_parts(inc: &Incident, mention: &dyn Fn(&str) -> String) -> (String, String, String) {
    let title = clip(
        &format!(
            "{} · {} {} · {}",
            inc.id, inc.level, inc.sev_type, inc.title
        ),
        MAX_EMBED_TITLE,
    );
    let roles: Vec<String> = Role::ALL
        .iter()
        .filter_map(|r| match inc.roles.get(r) {
            Some(p) => Some(format!("**{r}** {}", mention(p))),
            None if inc.required_roles().contains(r) => Some(format!("**{r}** _unassigned_")),
            None => None,
        })
        .collect();
    let mut description = format!(
        "**Stage:** {}{}\n{}",
        inc.stage,
        if inc.customer_impact {
            " · **customer impact**"
        } else {
            ""
        },
        roles.join(" · ")
    );
    if let Some(u) = &inc.latest_update {
        description.push_str(&format!("\n**Latest update:** {u}"));
    }
    let footer = clip(
        &format!(
            "Declared {} · #{}",
            fmt_time(inc.declared_at),
            inc.channel_name
        ),
        MAX_FOOTER,
    );
    let room = MAX_EMBED_TOTAL - title.chars().count() - footer.chars().count();
    let description = clip(&description, MAX_EMBED_DESCRIPTION.min(room));
    (title, description, footer)
}

fn embed(inc: &Incident, mention: &dyn Fn(&str) -> String) -> CreateEmbed {
    let (title, description, footer) = embed_parts(inc, mention);
    CreateEmbed::new()
        .title(title)
        .description(description)
        .colour(colour(inc))
        .footer(CreateEmbedFooter::new(footer))
}

/// A feed's embed; a scheduled status push says when the status was confirmed.
fn feed_embed(inc: &Incident, as_of: Option<i64>, mention: &dyn Fn(&str) -> String) -> CreateEmbed {
    let e = embed(inc, mention);
    match as_of {
        Some(at) => {
            let (_, _, footer) = embed_parts(inc, mention);
            e.footer(CreateEmbedFooter::new(clip(
                &format!("{footer} · status as of {}", fmt_time(at)),
                MAX_FOOTER,
            )))
        }
        None => e,
    }
}

/// Buttons under the card while the SEV is open; `custom_id` is `action:SEV-n`.
pub fn card_buttons(inc: &Incident) -> Vec<CreateActionRow> {
    if !inc.stage.is_open() {
        return vec![];
    }
    let id = inc.id;
    let mut buttons: Vec<CreateButton> = inc
        .required_roles()
        .into_iter()
        .map(|r| {
            CreateButton::new(format!("sev_role_{}:{id}", r.as_str()))
                .label(format!("Take {r}"))
                .style(ButtonStyle::Secondary)
        })
        .collect();
    buttons.push(
        CreateButton::new(format!("sev_update:{id}"))
            .label("Post update")
            .style(ButtonStyle::Primary),
    );
    if inc.stage != Stage::Mitigated {
        buttons.push(
            CreateButton::new(format!("sev_mitigated:{id}"))
                .label("Mitigated")
                .style(ButtonStyle::Secondary),
        );
    }
    buttons.push(
        CreateButton::new(format!("sev_resolved:{id}"))
            .label("Resolved")
            .style(ButtonStyle::Success),
    );
    buttons
        .chunks(MAX_BUTTONS_PER_ROW)
        .map(|row| CreateActionRow::Buttons(row.to_vec()))
        .collect()
}

/// Cards and feeds name people without pinging them on every edit; timeline lines
/// (a role handed over) do ping the person named.
fn mentions(msg: &Message<'_>) -> CreateAllowedMentions {
    match msg {
        Message::Event(..) | Message::Page(..) => CreateAllowedMentions::new().all_users(true),
        Message::Impact(_) => CreateAllowedMentions::new().empty_users().empty_roles(),
        _ => CreateAllowedMentions::new().empty_users().empty_roles(),
    }
}

/// The body of a new message.
pub fn create(msg: Message<'_>, mention: &dyn Fn(&str) -> String) -> CreateMessage {
    let m = CreateMessage::new().allowed_mentions(mentions(&msg));
    match msg {
        Message::Card(inc) => m.embed(embed(inc, mention)).components(card_buttons(inc)),
        Message::FeedAnnouncement(inc, as_of) => m.embed(feed_embed(inc, as_of, mention)),
        Message::Event(..) | Message::Batch(..) | Message::Page(..) | Message::Impact(_) => m
            .content(clip(&msg.plain_text(mention), MAX_CONTENT))
            .components(message_buttons(&msg)),
    }
}

/// The reminder's "Post update" and the page's "Acknowledge".
fn message_buttons(msg: &Message<'_>) -> Vec<CreateActionRow> {
    msg.action()
        .map(|(action, label, sev)| {
            vec![CreateActionRow::Buttons(vec![
                CreateButton::new(format!("{action}:{sev}"))
                    .label(label)
                    .style(ButtonStyle::Primary),
            ])]
        })
        .unwrap_or_default()
}

/// The body that edits a message in place (buttons disappear once the SEV is closed).
pub fn edit(msg: Message<'_>, mention: &dyn Fn(&str) -> String) -> EditMessage {
    let m = EditMessage::new().allowed_mentions(mentions(&msg));
    match msg {
        Message::Card(inc) => m.embed(embed(inc, mention)).components(card_buttons(inc)),
        Message::FeedAnnouncement(inc, as_of) => m.embed(feed_embed(inc, as_of, mention)),
        Message::Event(..) | Message::Batch(..) | Message::Page(..) | Message::Impact(_) => m
            .content(clip(&msg.plain_text(mention), MAX_CONTENT))
            .components(message_buttons(&msg)),
    }
}

/// A plain message (answers posted in a channel), pinging nobody but `user`.
pub fn text(text: &str, user: Option<u64>) -> CreateMessage {
    let allowed = match user {
        Some(u) => CreateAllowedMentions::new().users([u]),
        None => CreateAllowedMentions::new().empty_users(),
    };
    CreateMessage::new()
        .content(clip(text, MAX_CONTENT))
        .allowed_mentions(allowed.empty_roles())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Level, SevId, SevType};
    use std::collections::BTreeMap;

    fn inc(title: &str, update: Option<String>) -> Incident {
        Incident {
            id: SevId(7),
            sev_type: SevType::Availability,
            level: Level::new(1).unwrap(),
            stage: Stage::Investigating,
            title: title.into(),
            customer_impact: true,
            channel_name: "sev-7-x".into(),
            declared_by: "alice".into(),
            declared_at: 0,
            platform: "discord".into(),
            roles: BTreeMap::new(),
            latest_update: update,
        }
    }

    #[test]
    fn embeds_stay_within_discord_limits() {
        let long = "x".repeat(10_000);
        let i = inc(&long, Some(long.clone()));
        let (t, d, f) = embed_parts(&i, &|p| format!("<@{p}>"));
        assert!(t.chars().count() <= MAX_EMBED_TITLE);
        assert!(d.chars().count() <= MAX_EMBED_DESCRIPTION);
        assert!(t.chars().count() + d.chars().count() + f.chars().count() <= MAX_EMBED_TOTAL);
        let body = serde_json::to_value(create(Message::Card(&i), &|p| p.to_string())).unwrap();
        assert_eq!(body["embeds"].as_array().unwrap().len(), 1);
        assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
        let ev = serde_json::to_value(text(&long, Some(9))).unwrap();
        assert_eq!(ev["content"].as_str().unwrap().chars().count(), MAX_CONTENT);
    }

    #[test]
    fn buttons_fit_rows_of_five_and_vanish_when_closed() {
        let mut i = inc("t", None);
        let rows = serde_json::to_value(card_buttons(&i)).unwrap();
        let count: usize = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let n = r["components"].as_array().unwrap().len();
                assert!(n <= MAX_BUTTONS_PER_ROW);
                n
            })
            .sum();
        assert_eq!(count, i.required_roles().len() + 3);
        assert!(rows.to_string().contains("\"sev_update:SEV-7\""));
        i.stage = Stage::Closed;
        assert!(card_buttons(&i).is_empty());
        let edit = serde_json::to_value(edit(Message::Card(&i), &|p| p.to_string())).unwrap();
        assert_eq!(edit["components"], serde_json::json!([]), "buttons removed");
    }
}
