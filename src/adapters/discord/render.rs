//! Discord rendering of sevbot's messages — a summary embed with buttons for the card,
//! an embed for feeds, plain content for timeline lines — built with serenity's builders
//! and kept inside Discord's limits (2000-character content; embeds: title 256,
//! description 4096, 6000 characters in all, 10 per message; 5 buttons per row).

use serenity::all::{
    ButtonStyle, CreateActionRow, CreateAllowedMentions, CreateButton, CreateEmbed,
    CreateEmbedFooter, CreateMessage, EditMessage,
};

use crate::adapters::text::clip;
use crate::domain::access::redacted_line;
use crate::domain::actions::{self, CardAction, Emphasis};
use crate::domain::text::fmt_time;
use crate::domain::{Incident, Markup, Role, SevId};
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

/// Typed text shown as typed: Discord's markdown and mention syntax are backslash-escaped
/// (a `[Click](https://…)` is no masked link, `<@123>` and `<@&123>` mention nobody) and
/// `@everyone` / `@here` are broken with a zero-width space. `allowed_mentions` backs this
/// up: only the people sevbot itself names may be notified.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '<' | '>' | '[' | ']' | '(' | ')' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out.replace("@everyone", "@\u{200b}everyone")
        .replace("@here", "@\u{200b}here")
}

/// Title, description and footer of the summary embed, clipped so their sum stays
/// within Discord's 6000 characters.
pub fn embed_parts(inc: &Incident, m: &Markup) -> (String, String, String) {
    if inc.redacted {
        return (
            redacted_line(inc.id, inc.sev_type),
            format!("**Stage:** {}", inc.stage),
            format!("#{}", inc.channel_name),
        );
    }
    let mention = m.mention;
    let title = clip(
        &format!(
            "{} · {} {} · {}",
            inc.id,
            inc.level,
            inc.sev_type,
            (m.text)(&inc.title)
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
        description.push_str(&format!("\n**Latest update:** {}", (m.text)(u)));
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

/// The card's embed; its title links to the SEV's web page when there is one.
fn embed(inc: &Incident, m: &Markup, link: Option<&str>) -> CreateEmbed {
    let (title, description, footer) = embed_parts(inc, m);
    let e = CreateEmbed::new()
        .title(title)
        .description(description)
        .colour(colour(inc))
        .footer(CreateEmbedFooter::new(footer));
    match link {
        Some(url) => e.url(url),
        None => e,
    }
}

/// A feed's embed; a scheduled status push says when the status was confirmed.
fn feed_embed(inc: &Incident, as_of: Option<i64>, m: &Markup, link: Option<&str>) -> CreateEmbed {
    let e = embed(inc, m, link);
    match as_of {
        Some(at) => {
            let (_, _, footer) = embed_parts(inc, m);
            e.footer(CreateEmbedFooter::new(clip(
                &format!("{footer} · status as of {}", fmt_time(at)),
                MAX_FOOTER,
            )))
        }
        None => e,
    }
}

/// One of sevbot's buttons; `custom_id` is `action:SEV-n`.
pub fn button(action: CardAction, sev: SevId) -> CreateButton {
    CreateButton::new(format!("{}:{sev}", action.id()))
        .label(action.label())
        .style(match action.emphasis() {
            Emphasis::Primary => ButtonStyle::Primary,
            Emphasis::Secondary => ButtonStyle::Secondary,
            Emphasis::Success => ButtonStyle::Success,
        })
}

/// Buttons under the card while the SEV is open.
pub fn card_buttons(inc: &Incident) -> Vec<CreateActionRow> {
    let buttons: Vec<CreateButton> = actions::on_card(inc)
        .into_iter()
        .map(|a| button(a, inc.id))
        .collect();
    buttons
        .chunks(MAX_BUTTONS_PER_ROW)
        .map(|row| CreateActionRow::Buttons(row.to_vec()))
        .collect()
}

/// Who may be notified: nobody for cards, feeds and the impact card (edited again and
/// again); for timeline lines and pages only the people sevbot itself named (`users`),
/// never a role, `@everyone` or anyone typed into the text.
fn mentions(msg: &Message<'_>, users: &[u64]) -> CreateAllowedMentions {
    let none = CreateAllowedMentions::new().empty_users().empty_roles();
    match msg {
        Message::Event(..) | Message::Page(..) => CreateAllowedMentions::new()
            .users(users.iter().copied())
            .empty_roles(),
        _ => none,
    }
}

/// The body of a new message; `named` tells who sevbot mentioned while rendering it;
/// `link` is the SEV's web page, if any.
pub fn create(
    msg: Message<'_>,
    m: &Markup,
    named: &dyn Fn() -> Vec<u64>,
    link: Option<&str>,
) -> CreateMessage {
    let body = match msg {
        Message::Card(inc) => CreateMessage::new()
            .embed(embed(inc, m, link))
            .components(card_buttons(inc)),
        Message::FeedAnnouncement(inc, as_of) => {
            CreateMessage::new().embed(feed_embed(inc, as_of, m, link))
        }
        Message::Event(..)
        | Message::Batch(..)
        | Message::Page(..)
        | Message::Impact(_)
        | Message::FollowupDue { .. } => CreateMessage::new()
            .content(clip(&msg.plain_text(m), MAX_CONTENT))
            .components(message_buttons(&msg)),
    };
    body.allowed_mentions(mentions(&msg, &named()))
}

/// The reminder's "Post update" and the page's "Acknowledge".
fn message_buttons(msg: &Message<'_>) -> Vec<CreateActionRow> {
    msg.action()
        .map(|(action, sev)| vec![CreateActionRow::Buttons(vec![button(action, sev)])])
        .unwrap_or_default()
}

/// The body that edits a message in place (buttons disappear once the SEV is closed).
pub fn edit(
    msg: Message<'_>,
    m: &Markup,
    named: &dyn Fn() -> Vec<u64>,
    link: Option<&str>,
) -> EditMessage {
    let body = match msg {
        Message::Card(inc) => EditMessage::new()
            .embed(embed(inc, m, link))
            .components(card_buttons(inc)),
        Message::FeedAnnouncement(inc, as_of) => {
            EditMessage::new().embed(feed_embed(inc, as_of, m, link))
        }
        Message::Event(..)
        | Message::Batch(..)
        | Message::Page(..)
        | Message::Impact(_)
        | Message::FollowupDue { .. } => EditMessage::new()
            .content(clip(&msg.plain_text(m), MAX_CONTENT))
            .components(message_buttons(&msg)),
    };
    body.allowed_mentions(mentions(&msg, &named()))
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
    use crate::domain::{Level, SevType, Stage};
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
            restricted: false,
            redacted: false,
            drill: false,
        }
    }

    #[test]
    fn embeds_stay_within_discord_limits() {
        let long = "x".repeat(10_000);
        let i = inc(&long, Some(long.clone()));
        let mention = |p: &str| format!("<@{p}>");
        let m = Markup {
            mention: &mention,
            text: &escape,
        };
        let (t, d, f) = embed_parts(&i, &m);
        assert!(t.chars().count() <= MAX_EMBED_TITLE);
        assert!(d.chars().count() <= MAX_EMBED_DESCRIPTION);
        assert!(t.chars().count() + d.chars().count() + f.chars().count() <= MAX_EMBED_TOTAL);
        let body = serde_json::to_value(create(Message::Card(&i), &m, &Vec::new, None)).unwrap();
        assert_eq!(body["embeds"].as_array().unwrap().len(), 1);
        assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
        let ev = serde_json::to_value(text(&long, Some(9))).unwrap();
        assert_eq!(ev["content"].as_str().unwrap().chars().count(), MAX_CONTENT);
    }

    #[test]
    fn typed_markdown_and_mentions_are_shown_not_acted_on() {
        assert_eq!(
            escape("[Click to re-login](https://evil.example/login)"),
            "\\[Click to re\\-login\\]\\(https://evil.example/login\\)".replace("\\-", "-")
        );
        assert_eq!(
            escape("<@123> <@&9> <#5>"),
            "\\<@123\\> \\<@&9\\> \\<\\#5\\>"
        );
        assert_eq!(
            escape("hi @everyone and @here"),
            "hi @\u{200b}everyone and @\u{200b}here"
        );
        assert_eq!(escape("**bold** `code`"), "\\*\\*bold\\*\\* \\`code\\`");
        assert_eq!(escape("plain words, 99.5%"), "plain words, 99.5%");
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
        let same = |p: &str| p.to_string();
        let m = Markup::plain(&same);
        let edit = serde_json::to_value(edit(Message::Card(&i), &m, &Vec::new, None)).unwrap();
        assert_eq!(edit["components"], serde_json::json!([]), "buttons removed");
        // With a web view, the card's title links to the SEV's page.
        let url = "https://sevbot.example.com/sevs/7";
        let body =
            serde_json::to_value(create(Message::Card(&i), &m, &Vec::new, Some(url))).unwrap();
        assert_eq!(body["embeds"][0]["url"], url);
        let body = serde_json::to_value(super::edit(
            Message::FeedAnnouncement(&i, None),
            &m,
            &Vec::new,
            Some(url),
        ))
        .unwrap();
        assert_eq!(body["embeds"][0]["url"], url);
        let body = serde_json::to_value(create(Message::Card(&i), &m, &Vec::new, None)).unwrap();
        assert!(body["embeds"][0].get("url").is_none());
    }
}
