//! Block Kit rendering of sevbot's messages, within Slack's limits (header ≤ 150 chars,
//! section text ≤ 3000, ≤ 50 blocks per message).

use serde_json::{Value, json};

use crate::domain::access::redacted_line;
use crate::domain::actions::{self, CardAction, Emphasis};
use crate::domain::text::fmt_time;
use crate::domain::{Incident, Markup, Role, SevId};
use crate::effects::Message;

pub const MAX_HEADER: usize = 150;
pub const MAX_SECTION: usize = 3000;
pub const MAX_BLOCKS: usize = 50;
pub const MAX_TOPIC: usize = 250;

pub use crate::adapters::text::clip;

/// Escapes the three characters Slack treats as control characters, so typed text can
/// hold no `<!channel>`, `<!here>`, `<!subteam^…>`, `<@U…>` or `<url|label>`: applied to
/// every piece of typed text Slack is sent (block text, fallback text, topics, answers).
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn section(text: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": clip(text, MAX_SECTION) } })
}

fn card_blocks(inc: &Incident, m: &Markup, feed: bool) -> Vec<Value> {
    if inc.redacted {
        return vec![section(&format!(
            "{}\n*Stage:* {}",
            redacted_line(inc.id, inc.sev_type),
            inc.stage
        ))];
    }
    let mention = m.mention;
    let roles: Vec<String> = Role::ALL
        .iter()
        .map(|r| match inc.roles.get(r) {
            Some(p) => format!("*{r}* {}", mention(p)),
            None if inc.required_roles().contains(r) => format!("*{r}* _unassigned_"),
            None => String::new(),
        })
        .filter(|s| !s.is_empty())
        .collect();
    // A plain_text header shows its text as it is: no mentions, no links to escape.
    let mut blocks = vec![
        json!({ "type": "header", "text": { "type": "plain_text", "text": clip(&format!("{} · {} {} · {}", inc.id, inc.level, inc.sev_type, inc.title), MAX_HEADER) } }),
        section(&format!(
            "*Stage:* {}{}\n{}",
            inc.stage,
            if inc.customer_impact {
                " · *customer impact*"
            } else {
                ""
            },
            roles.join(" · ")
        )),
    ];
    if let Some(u) = &inc.latest_update {
        blocks.push(section(&format!("*Latest update:* {}", (m.text)(u))));
    }
    let where_ = if feed {
        format!("Channel #{}", inc.channel_name)
    } else {
        String::new()
    };
    blocks.push(
        json!({ "type": "context", "elements": [ { "type": "mrkdwn", "text": clip(&format!(
        "Declared {} by {}{}{}", fmt_time(inc.declared_at), mention(&inc.declared_by),
        if where_.is_empty() { "" } else { " · " }, where_
    ), MAX_SECTION) } ] }),
    );
    blocks.truncate(MAX_BLOCKS);
    blocks
}

/// The line that links a card to the SEV's page in the web view (an address from the
/// config, not typed text).
fn web_link(url: &str) -> Value {
    json!({ "type": "context", "elements": [ { "type": "mrkdwn",
        "text": format!("<{url}|Open in the web view>") } ] })
}

/// Fallback text (notifications, screen readers) and blocks for one message; `m` escapes
/// typed text and writes sevbot's own mentions; `link` is the SEV's web page, if any.
pub fn render(msg: Message<'_>, m: &Markup, link: Option<&str>) -> (String, Vec<Value>) {
    let text = msg.plain_text(m);
    let blocks = match msg {
        Message::Card(inc) => {
            let mut blocks = card_blocks(inc, m, false);
            blocks.extend(link.map(web_link));
            blocks.extend(card_actions(inc));
            blocks
        }
        Message::FeedAnnouncement(inc, as_of) => {
            let mut blocks = card_blocks(inc, m, true);
            blocks.extend(link.map(web_link));
            if let Some(at) = as_of {
                blocks.push(json!({ "type": "context", "elements": [ { "type": "mrkdwn",
                    "text": format!("Status as of {}", fmt_time(at)) } ] }));
            }
            blocks
        }
        Message::Event(..)
        | Message::Batch(..)
        | Message::Page(..)
        | Message::Impact(_)
        | Message::FollowupDue { .. } => {
            let mut blocks = vec![section(&text)];
            if let Some((action, sev)) = msg.action() {
                blocks.push(
                    json!({ "type": "actions", "block_id": "sev_message_actions",
                    "elements": [button(action, sev)] }),
                );
            }
            blocks
        }
    };
    (clip(&text, MAX_SECTION), blocks)
}

/// One of sevbot's buttons on `sev`.
pub fn button(action: CardAction, sev: SevId) -> Value {
    let mut b = json!({ "type": "button", "action_id": action.id(), "value": sev.to_string(), "text": { "type": "plain_text", "text": action.label() } });
    match action.emphasis() {
        Emphasis::Primary => b["style"] = json!("primary"),
        Emphasis::Secondary | Emphasis::Success => {}
    }
    b
}

/// Buttons under the incident card while the SEV is open.
pub fn card_actions(inc: &Incident) -> Option<Value> {
    let buttons: Vec<Value> = actions::on_card(inc)
        .into_iter()
        .map(|a| button(a, inc.id))
        .collect();
    (!buttons.is_empty())
        .then(|| json!({ "type": "actions", "block_id": "sev_card_actions", "elements": buttons }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Level, SevId, SevType, Stage};

    fn inc(title: &str, update: Option<String>) -> Incident {
        Incident {
            id: SevId(3),
            sev_type: SevType::Availability,
            level: Level::new(1).unwrap(),
            stage: Stage::Investigating,
            title: title.into(),
            customer_impact: true,
            declared_by: "alice".into(),
            declared_at: 0,
            platform: "slack".into(),
            channel_name: "sev-3-x".into(),
            roles: [(Role::Imoc, "alice".to_string())].into_iter().collect(),
            latest_update: update,
            restricted: false,
            redacted: false,
            drill: false,
        }
    }

    #[test]
    fn limits_hold_for_huge_content() {
        let i = inc(&"t".repeat(400), Some("u".repeat(10_000)));
        let mention = |p: &str| format!("<@{p}>");
        let m = Markup {
            mention: &mention,
            text: &escape,
        };
        let (text, blocks) = render(Message::Card(&i), &m, None);
        assert!(text.chars().count() <= MAX_SECTION);
        assert!(blocks.len() <= MAX_BLOCKS);
        let header = blocks[0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), MAX_HEADER);
        assert!(header.ends_with('…'));
        for b in &blocks {
            if b["type"] == "section" {
                assert!(b["text"]["text"].as_str().unwrap().chars().count() <= MAX_SECTION);
            }
        }
        // The blocks are valid for slack-morphism's own Block Kit model.
        let parsed: Vec<slack_morphism::prelude::SlackBlock> =
            serde_json::from_value(Value::Array(blocks)).unwrap();
        assert_eq!(
            parsed.len(),
            5,
            "header, stage and roles, update, context, buttons"
        );
    }

    #[test]
    fn a_card_links_to_its_web_page_when_there_is_one() {
        let i = inc("Checkout failing", None);
        let mention = |p: &str| format!("<@{p}>");
        let m = Markup {
            mention: &mention,
            text: &escape,
        };
        let url = "https://sevbot.example.com/sevs/7";
        for msg in [Message::Card(&i), Message::FeedAnnouncement(&i, None)] {
            let (_, without) = render(msg, &m, None);
            assert!(
                !Value::Array(without.clone())
                    .to_string()
                    .contains("web view")
            );
            let (_, with) = render(msg, &m, Some(url));
            assert_eq!(with.len(), without.len() + 1);
            let link = with.iter().find(|b| b.to_string().contains(url)).unwrap();
            assert_eq!(
                link["elements"][0]["text"],
                format!("<{url}|Open in the web view>")
            );
            let parsed: Vec<slack_morphism::prelude::SlackBlock> =
                serde_json::from_value(Value::Array(with)).unwrap();
            assert!(!parsed.is_empty());
        }
        // The buttons stay last on the card.
        let (_, card) = render(Message::Card(&i), &m, Some(url));
        assert_eq!(card.last().unwrap()["type"], "actions");
        // Only a SEV shown in full gets a link: not a redacted one, not other messages.
        assert_eq!(Message::Card(&i).shown_sev(), Some(i.id));
        assert_eq!(
            Message::FeedAnnouncement(&i.redacted(), None).shown_sev(),
            None
        );
        assert_eq!(Message::Impact("x").shown_sev(), None);
    }

    #[test]
    fn card_shows_roles_and_unassigned_ones() {
        let i = inc("Checkout <failing> & more", None);
        let mention = |p: &str| format!("<@{p}>");
        let m = Markup {
            mention: &mention,
            text: &escape,
        };
        let (_, blocks) = render(Message::FeedAnnouncement(&i, None), &m, None);
        let body = blocks[1]["text"]["text"].as_str().unwrap();
        assert!(body.contains("*IMOC* <@alice>"), "{body}");
        assert!(body.contains("*TLOC* _unassigned_"), "{body}");
        assert!(body.contains("*BMOC* _unassigned_"), "{body}");
        assert!(body.contains("customer impact"));
        assert_eq!(clip("abc", 2), "a…");
        assert_eq!(escape("a<b>&"), "a&lt;b&gt;&amp;");
    }

    /// Typed text cannot notify anyone; sevbot's own mentions still do.
    #[test]
    fn typed_broadcasts_are_escaped_and_own_mentions_are_not() {
        let mut i = inc("Leak <!channel> <!here> <!subteam^S1|ops> <@U999>", None);
        i.latest_update = Some("<!everyone> <https://evil.example|re-login>".into());
        let mention = |p: &str| format!("<@U_{p}>");
        let m = Markup {
            mention: &mention,
            text: &escape,
        };
        let (text, blocks) = render(Message::Card(&i), &m, None);
        let all = format!("{text}{}", Value::Array(blocks.clone()));
        for raw in [
            "<!channel>",
            "<!here>",
            "<!subteam",
            "<@U999>",
            "<!everyone>",
            "<https://evil",
        ] {
            let in_mrkdwn = blocks
                .iter()
                .filter(|b| b["type"] != "header")
                .any(|b| b.to_string().contains(raw));
            assert!(
                !in_mrkdwn && !text.contains(raw),
                "{raw} reached Slack: {all}"
            );
        }
        assert!(text.contains("&lt;!channel&gt;"), "{text}");
        assert!(
            all.contains("<@U_alice>"),
            "sevbot's own mention stays a mention: {all}"
        );
    }
}
