//! Declaring a SEV: the row, its first timeline entries, roles from the rotations, the
//! channel, pages, invites and the first announcements, in one transaction.

use super::*;

impl Engine {
    pub(super) async fn declare(
        &self,
        tx: &mut Tx,
        new: NewSev<'_>,
        description: Option<String>,
    ) -> anyhow::Result<Reply> {
        let now = new.now;
        let id = sevs::insert(tx, &new).await?;
        tracing::Span::current().record("sev", id.0);
        let mut inc = Incident {
            id,
            sev_type: new.sev_type,
            level: new.level,
            stage: Stage::Declared,
            title: new.title.to_string(),
            customer_impact: new.customer_impact,
            declared_by: new.declared_by.to_string(),
            declared_at: now,
            platform: new.platform.to_string(),
            channel_name: channel_name(
                id,
                &channel_basis(new.title, new.sev_type, new.restricted, new.drill),
                0,
            ),
            roles: Default::default(),
            latest_update: None,
            restricted: new.restricted,
            redacted: false,
            drill: new.drill,
        };
        let mut declared = vec![EventKind::Declared {
            sev_type: inc.sev_type,
            level: inc.level,
            title: inc.title.clone(),
            customer_impact: inc.customer_impact,
        }];
        declared.extend(description.map(|text| EventKind::Note { text }));
        let roles = match inc.drill {
            true => self.drill_roles(&inc),
            false => self.fill_roles(&inc, now),
        };
        self.enqueue(
            tx,
            &inc.platform,
            Effect::CreateChannel {
                sev: id,
                title: channel_basis(&inc.title, inc.sev_type, inc.restricted, inc.drill)
                    .into_owned(),
                private: inc.restricted,
                attempt: 0,
            },
            now,
        )
        .await?;
        let mut recorded = self
            .record_all(
                tx,
                &mut inc,
                &[(new.declared_by, &declared), (SYSTEM_ACTOR, &roles)],
                now,
            )
            .await?;
        let filled = recorded[declared.len()..].to_vec();
        if inc.drill {
            self.page_drill_people(tx, &inc, now).await?;
        } else {
            self.start_ladder(tx, &inc, now).await?;
        }
        let declarer = new.declared_by.to_string();
        recorded.extend(
            self.page_new_roles(tx, &mut inc, &declarer, &filled, now)
                .await?,
        );
        let mut invitees = invitees(&inc);
        if inc.drill {
            invitees = self.drill_people(&inc);
        }
        self.enqueue(
            tx,
            &inc.platform,
            Effect::Invite {
                sev: id,
                people: invitees,
            },
            now,
        )
        .await?;
        self.publish(tx, &inc, &recorded, true, now).await?;
        // A new SEV's last update is its declaration.
        self.plan_reminder(tx, &inc, Some(now), now).await?;
        metrics::counter!("sevbot_sevs_declared_total", "type" => inc.sev_type.as_str(), "level" => inc.level.to_string())
            .increment(1);

        let roles: Vec<String> = Role::ALL
            .iter()
            .filter_map(|r| {
                inc.roles
                    .get(r)
                    .map(|p| format!("{r} {}", self.name_of(&inc.platform, p)))
            })
            .collect();
        let unfilled: Vec<String> = inc
            .missing_roles()
            .iter()
            .map(|r| format!("{r} unassigned (`/sev role {} @someone`)", r.as_str()))
            .collect();
        let meaning = definition_for(&self.cfg().definitions, inc.level)
            .map(|d| format!("\n{} means: {}", inc.level, d.summary))
            .unwrap_or_default();
        let restricted = if inc.restricted {
            "\nRestricted: only you see this answer, the channel is private, and feeds and \
             `/sev list` show it without its title or people. Invite responders to the channel."
        } else {
            ""
        };
        Ok(Reply {
            offer: None,
            refusal: None,
            declared: Some(id),
            text: format!(
                "{id} declared: {} {} \"{}\". Channel #{}. {}.{meaning}{restricted}\nDeclared by mistake? `/sev cancel {id} <reason>`.",
                inc.level,
                inc.sev_type,
                self.esc(&inc.platform, &inc.title),
                inc.channel_name,
                [roles, unfilled].concat().join(", ")
            ),
            ephemeral: inc.restricted,
        })
    }

    /// Whoever is on call now for each required role that is still empty.
    pub(super) fn fill_roles(&self, inc: &Incident, now: i64) -> Vec<EventKind> {
        let at = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
        inc.missing_roles()
            .into_iter()
            .map(|role| match on_call_for(&self.cfg().rotations, role, inc.sev_type, at) {
                Some((_, person)) => EventKind::RoleAssigned { role, person: person.to_string(), previous: None },
                None => EventKind::RoleUnfilled {
                    role,
                    why: match rotation_for(&self.cfg().rotations, role, inc.sev_type) {
                        Some(_) => format!("no {role} rotation for {} SEVs is on duty now; assign one with `/sev role {} @someone`", inc.sev_type, role.as_str()),
                        None => format!("no {role} rotation covers {} SEVs; assign one with `/sev role {} @someone`", inc.sev_type, role.as_str()),
                    },
                },
            })
            .collect()
    }
}

/// Who is invited to a new SEV's channel: the declarer and the role holders, each once, in
/// that order; never sevbot itself (the declarer of what monitoring files).
pub(super) fn invitees(inc: &Incident) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for p in std::iter::once(&inc.declared_by).chain(inc.roles.values()) {
        if p != SYSTEM_ACTOR && !out.contains(p) {
            out.push(p.clone());
        }
    }
    out
}
