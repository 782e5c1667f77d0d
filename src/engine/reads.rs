//! Commands that only read: help (with the definitions table) and the list of SEVs.

use super::*;

impl Engine {
    pub(super) fn help(&self, topic: Option<&str>) -> Reply {
        let defs = render_table(&self.cfg().definitions);
        let text = match topic {
            Some(t) => {
                let spec = command_set::find(t).expect("parser checked");
                let mut s = format!("{}\n{}", spec.usage, spec.summary);
                if t == "declare" {
                    s.push_str(&format!("\n\nSEV levels:\n{defs}"));
                }
                s
            }
            None => {
                let lines: Vec<String> = command_set::typed()
                    .map(|s| format!("{} — {}", s.usage, s.summary))
                    .collect();
                format!(
                    "{}\nCommands about one SEV work in its channel as they are, or anywhere with its id (`/sev status SEV-12`).\n\nSEV levels:\n{defs}",
                    lines.join("\n")
                )
            }
        };
        Reply::private(text)
    }

    pub(super) async fn list(
        &self,
        conn: &mut Conn,
        inv: &Invocation,
        actor: &str,
    ) -> anyhow::Result<Reply> {
        let platform = inv.platform.as_str();
        let (open, ended) = sevs::list(conn, 5).await?;
        let mut hidden = std::collections::HashSet::new();
        for i in open.iter().chain(&ended).filter(|i| i.restricted) {
            if !i.may_see(actor, self.viewer(conn, inv, actor, i.id).await?) {
                hidden.insert(i.id);
            }
        }
        let line = |i: &Incident| {
            if hidden.contains(&i.id) {
                return access::redacted_line(i.id, i.sev_type);
            }
            let imoc = i
                .roles
                .get(&Role::Imoc)
                .map(|p| format!(" · IMOC {}", self.name_of(platform, p)))
                .unwrap_or_default();
            format!(
                "{} {} {} · {} · {}{} · #{}",
                i.id,
                i.level,
                i.sev_type,
                i.stage,
                self.esc(platform, &i.title),
                imoc,
                i.channel_name
            )
        };
        let mut text = if open.is_empty() {
            "No open SEVs.".to_string()
        } else {
            format!(
                "Open SEVs:\n{}",
                open.iter().map(line).collect::<Vec<_>>().join("\n")
            )
        };
        if !ended.is_empty() {
            text.push_str(&format!(
                "\nRecently ended:\n{}",
                ended.iter().map(line).collect::<Vec<_>>().join("\n")
            ));
        }
        Ok(Reply::private(text))
    }
}
