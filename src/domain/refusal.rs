//! Why a command was not carried out, as data: the engine and the domain return a
//! `Refusal`, tests assert on the variant, metrics count by `reason()`, and the words people
//! read are written here and nowhere else. Names and channels in it are already shown the
//! way the platform shows them (the engine renders them before refusing); titles are
//! escaped by the engine too, since only it knows the platform.

use std::fmt;

use super::grammar::usage;
use super::lifecycle;
use super::types::{Level, Role, SevId, Stage};
use super::words::{REDACTED, fmt_duration, fmt_time};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Closed or cancelled: nothing changes any more.
    Final {
        id: SevId,
        stage: Stage,
    },
    /// Mitigated or later: the level is history.
    LevelFrozen {
        id: SevId,
        stage: Stage,
    },
    SameLevel {
        id: SevId,
        level: Level,
    },
    /// Lowering urgency (`what`: downgrade, close, cancel) is for the IMOC, or the declarer
    /// while nobody holds it, or an admin.
    NeedsImoc {
        id: SevId,
        what: &'static str,
        imoc: Option<String>,
        declarer: String,
    },
    /// The stage cannot move there (`to` Cancelled words it as a cancel).
    CannotMove {
        id: SevId,
        from: Stage,
        to: Stage,
    },
    AlreadyHolds {
        id: SevId,
        person: String,
        role: Role,
    },
    /// Someone outside the config tried to `doing` (hand out roles, take roles).
    NotInConfig {
        id: SevId,
        doing: &'static str,
    },
    /// An occupied role is not seized: only its holder, the IMOC or an admin hands it on.
    RoleOccupied {
        id: SevId,
        role: Role,
        holder: String,
        imoc: Option<String>,
    },
    NobodyHolds {
        id: SevId,
        role: Role,
    },
    YouHold {
        id: SevId,
        role: Role,
    },
    /// Asking is for those who may not simply take it.
    MayTakeIt {
        id: SevId,
        role: Role,
    },
    AskedRecently {
        id: SevId,
        role: Role,
        seconds_ago: i64,
    },
    /// A restricted SEV, asked about from outside: says nothing about it.
    Restricted {
        id: SevId,
    },
    NotASevChannel {
        here: String,
        command: &'static str,
    },
    SameTitle {
        id: SevId,
    },
    /// A follow-up's owner must be a person in the config (to be named and reminded).
    UnknownOwner {
        user: String,
        guess: Option<String>,
    },
    NoSuchFollowup {
        id: SevId,
        number: i64,
    },
    /// Only a resolved or closed SEV reopens (an open one is open; a cancelled one was no
    /// incident).
    CannotReopen {
        id: SevId,
        stage: Stage,
    },
    /// The closed SEV's channel was deleted after its retention: there is nowhere to reopen it.
    ChannelDeleted {
        id: SevId,
    },
    /// Titles are corrected by the declarer, the IMOC or an admin.
    NotTitleOwner {
        id: SevId,
        imoc: Option<String>,
        declarer: String,
    },
    /// Only an open SEV can be marked `what` (diagnosed).
    NotOpen {
        id: SevId,
        stage: Stage,
        what: &'static str,
    },
    NoSuchSev {
        id: SevId,
    },
    UnknownPerson {
        user: String,
        guess: Option<String>,
    },
    NothingToAck {
        id: SevId,
        stage: Stage,
    },
    NotPaged {
        id: SevId,
        paged: Vec<String>,
    },
    AlreadyAcked {
        id: SevId,
        at: i64,
    },
    AckedByOther {
        id: SevId,
        by: String,
        at: i64,
    },
    PageStopped {
        id: SevId,
    },
    /// The customer update is the BMOC's or the IMOC's to `what` (edit, approve).
    NotDraftOwner {
        id: SevId,
        what: &'static str,
        bmoc: String,
        imoc: String,
    },
    DraftTextMissing {
        id: SevId,
    },
    NoDraft {
        id: SevId,
    },
    DraftPublished {
        id: SevId,
        draft: i64,
    },
    /// The same person declared a SEV like it moments ago.
    JustDeclared {
        id: SevId,
        title: String,
        seconds_ago: i64,
        channel: String,
    },
    SecurityFeed {
        here: String,
    },
    NotSubscribed {
        here: String,
    },
    /// An e-mail subscription while no e-mail is sent.
    MailOff,
    /// A drill's role for someone who does not take part in it.
    NotInDrill {
        id: SevId,
        person: String,
        /// Who takes part (by name).
        people: String,
    },
    /// A channel subscribed where sevbot cannot post: every announcement would fail.
    CannotPost {
        here: String,
        /// What lets sevbot post there, in the platform's terms.
        fix: String,
    },
}

impl Refusal {
    /// The metric label (`sevbot_refusals_total{reason}`).
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Final { .. } => "final",
            Refusal::LevelFrozen { .. } => "level_frozen",
            Refusal::SameLevel { .. } => "same_level",
            Refusal::NeedsImoc { .. } => "needs_imoc",
            Refusal::CannotMove { .. } => "cannot_move",
            Refusal::AlreadyHolds { .. } => "already_holds",
            Refusal::NotInConfig { .. } => "not_in_config",
            Refusal::RoleOccupied { .. } => "role_occupied",
            Refusal::NobodyHolds { .. } => "nobody_holds",
            Refusal::YouHold { .. } => "you_hold",
            Refusal::MayTakeIt { .. } => "may_take_it",
            Refusal::AskedRecently { .. } => "asked_recently",
            Refusal::Restricted { .. } => "restricted",
            Refusal::NotASevChannel { .. } => "not_a_sev_channel",
            Refusal::NoSuchSev { .. } => "no_such_sev",
            Refusal::NotOpen { .. } => "not_open",
            Refusal::SameTitle { .. } => "same_title",
            Refusal::UnknownOwner { .. } => "unknown_owner",
            Refusal::NoSuchFollowup { .. } => "no_such_followup",
            Refusal::CannotReopen { .. } => "cannot_reopen",
            Refusal::ChannelDeleted { .. } => "channel_deleted",
            Refusal::NotTitleOwner { .. } => "not_title_owner",
            Refusal::UnknownPerson { .. } => "unknown_person",
            Refusal::NothingToAck { .. } => "nothing_to_ack",
            Refusal::NotPaged { .. } => "not_paged",
            Refusal::AlreadyAcked { .. } => "already_acked",
            Refusal::AckedByOther { .. } => "acked_by_other",
            Refusal::PageStopped { .. } => "page_stopped",
            Refusal::NotDraftOwner { .. } => "not_draft_owner",
            Refusal::DraftTextMissing { .. } => "draft_text_missing",
            Refusal::NoDraft { .. } => "no_draft",
            Refusal::DraftPublished { .. } => "draft_published",
            Refusal::JustDeclared { .. } => "just_declared",
            Refusal::SecurityFeed { .. } => "security_feed",
            Refusal::NotSubscribed { .. } => "not_subscribed",
            Refusal::MailOff => "mail_off",
            Refusal::NotInDrill { .. } => "not_in_drill",
            Refusal::CannotPost { .. } => "cannot_post",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Final { id, stage } => write!(
                f,
                "{id} is {stage}; nothing more can change but its notes (`/sev {id} timeline note …`). `/sev list` shows the open SEVs."
            ),
            Refusal::LevelFrozen { id, stage } => {
                write!(f, "{id} is {stage}; its level can no longer change.")
            }
            Refusal::SameLevel { id, level } => write!(f, "{id} is already {level}."),
            Refusal::NeedsImoc {
                id,
                what,
                imoc: Some(imoc),
                ..
            } => write!(
                f,
                "Only {id}'s IMOC ({imoc}) or an admin may {what} it; ask them."
            ),
            Refusal::NeedsImoc {
                id,
                what,
                imoc: None,
                declarer,
            } => write!(
                f,
                "Only {id}'s declarer ({declarer}) or an admin may {what} it while nobody holds the IMOC role; ask them."
            ),
            Refusal::CannotMove { id, from, to } => {
                let why = lifecycle::refusal(*from, *to);
                match to {
                    Stage::Cancelled => write!(f, "Can't cancel {id}: {why}."),
                    _ => write!(f, "Can't mark {id} {to}: {why}."),
                }
            }
            Refusal::AlreadyHolds { id, person, role } => {
                write!(f, "{person} already holds {role} on {id}.")
            }
            Refusal::NotInConfig { id, doing } => write!(
                f,
                "Only people in the sevbot config {doing} on {id}; ask an admin to add you ([[people]] in the config)."
            ),
            Refusal::RoleOccupied {
                id,
                role,
                holder,
                imoc,
            } => {
                let imoc = imoc
                    .as_ref()
                    .map(|i| format!(", the IMOC ({i})"))
                    .unwrap_or_default();
                write!(
                    f,
                    "{holder} holds {role} on {id}. Only they{imoc} or an admin can hand it over; ask them with `/sev {id} ask {}`.",
                    role.as_str()
                )
            }
            Refusal::NobodyHolds { id, role } => write!(
                f,
                "Nobody holds {role} on {id}; take it with `/sev {id} role {} @you`.",
                role.as_str()
            ),
            Refusal::YouHold { id, role } => write!(f, "You already hold {role} on {id}."),
            Refusal::MayTakeIt { id, role } => write!(
                f,
                "You may hand {role} on yourself: `/sev {id} role {} @you`.",
                role.as_str()
            ),
            Refusal::AskedRecently {
                id,
                role,
                seconds_ago,
            } => write!(
                f,
                "You asked for {role} on {id} {} ago; they were told in its channel. Ask again in a few minutes if nothing happens.",
                fmt_duration(*seconds_ago)
            ),
            Refusal::Restricted { id } => write!(
                f,
                "{id} is restricted: outside its private channel only its declarer, its role holders, \
                 whoever was paged for it and admins can see or change it. Ask one of them to add you \
                 to its channel."
            ),
            Refusal::NotASevChannel { here, command } => write!(
                f,
                "{here} is not a SEV channel; name the SEV, e.g. `/sev {command} SEV-12 …` (`/sev list` shows them)."
            ),
            Refusal::SameTitle { id } => write!(f, "{id} already has that title."),
            Refusal::UnknownOwner { user, guess } => {
                write!(
                    f,
                    "I don't know @{user}: follow-up owners must be people in the sevbot config ([[people]])."
                )?;
                if let Some(g) = guess {
                    write!(f, " Did you mean @{g}?")?;
                }
                Ok(())
            }
            Refusal::NoSuchFollowup { id, number } => write!(
                f,
                "{id} has no open follow-up #{number}; `/sev {id} followup list` shows them."
            ),
            Refusal::CannotReopen { id, stage } => match stage {
                Stage::Cancelled => write!(
                    f,
                    "{id} was cancelled as no incident, so it cannot be reopened; declare a new SEV and name {id} in its first update."
                ),
                _ => write!(
                    f,
                    "{id} is {stage}, still open; only a resolved or closed SEV can be reopened."
                ),
            },
            Refusal::ChannelDeleted { id } => write!(
                f,
                "{id}'s channel was deleted after its retention (discord.archive_retention_days), so it cannot be reopened; declare a new SEV and name {id} in its first update."
            ),
            Refusal::NotTitleOwner { id, imoc, declarer } => {
                let imoc = imoc
                    .as_ref()
                    .map(|i| format!("its IMOC ({i}), "))
                    .unwrap_or_default();
                write!(
                    f,
                    "Only {imoc}its declarer ({declarer}) or an admin may retitle {id}; ask them."
                )
            }
            Refusal::NotOpen { id, stage, what } => {
                write!(f, "{id} is {stage}; only an open SEV can be marked {what}.")
            }
            Refusal::NoSuchSev { id } => {
                write!(f, "There is no {id}; `/sev list` shows the SEVs.")
            }
            Refusal::UnknownPerson { user, guess } => {
                write!(
                    f,
                    "I don't know @{user}: role holders must be people in the sevbot config ([[people]])."
                )?;
                if let Some(g) = guess {
                    write!(f, " Did you mean @{g}?")?;
                }
                write!(f, "\nUsage: {}", usage("role"))
            }
            Refusal::NothingToAck { id, stage } => write!(
                f,
                "{id} is {stage}; its pages were stopped, so there is nothing to acknowledge."
            ),
            Refusal::NotPaged { id, paged } => write!(
                f,
                "You were not paged for {id}, so you cannot silence its pages (paged so far: {}). To help, take a role: `/sev {id} role tloc @you`.",
                if paged.is_empty() {
                    "nobody".into()
                } else {
                    paged.join(", ")
                }
            ),
            Refusal::AlreadyAcked { id, at } => {
                write!(f, "You already acknowledged {id} at {}.", fmt_time(*at))
            }
            Refusal::AckedByOther { id, by, at } => write!(
                f,
                "{id} was already acknowledged by {by} at {}; your page was stopped then.",
                fmt_time(*at)
            ),
            Refusal::PageStopped { id } => write!(f, "Your page for {id} was already stopped."),
            Refusal::NotDraftOwner {
                id,
                what,
                bmoc,
                imoc,
            } => write!(
                f,
                "Only {id}'s BMOC ({bmoc}) or IMOC ({imoc}) may {what} the customer update."
            ),
            Refusal::DraftTextMissing { id } => write!(
                f,
                "Give the new text: `/sev {id} draft edit <text…>` (on Slack and Discord, `draft edit` alone opens a form with the current draft)."
            ),
            Refusal::NoDraft { id } => {
                write!(f, "{id} has no draft yet; `/sev {id} draft` writes one.")
            }
            Refusal::DraftPublished { id, draft } => write!(
                f,
                "Draft #{draft} was already approved and published; `/sev {id} draft` writes a new one."
            ),
            Refusal::JustDeclared {
                id,
                title,
                seconds_ago,
                channel,
            } => write!(
                f,
                "You declared {id} \"{title}\" {seconds_ago} s ago (#{channel}). Is this the same incident? Post to it with `/sev {id} update …`; \
                 to open a separate SEV, repeat your command with --new (in the declare form, tick \"Separate incident\")."
            ),
            Refusal::SecurityFeed { here } => write!(
                f,
                "Security SEVs are restricted, so {here} cannot subscribe to them: every feed \
                 shows them only as \"SEV-n · security · {REDACTED}\". To see them in full, the \
                 sevbot operator lists a private channel under [[feeds]] with private = true."
            ),
            Refusal::MailOff => write!(
                f,
                "sevbot sends no e-mail here: the operator sets [email] from in the config and \
                 SMTP_URL in the environment (smtp://user:pass@host:587 or smtps://…), then restarts it."
            ),
            Refusal::NotInDrill { id, person, people } => write!(
                f,
                "{id} is a drill: only its people ({people}) take part, so {person} is not paged or given a role. \
                 The operator lists volunteers under [drills] volunteers."
            ),
            Refusal::NotSubscribed { here } => {
                write!(
                    f,
                    "{here} is not subscribed; `/sev subscribe` subscribes it."
                )
            }
            Refusal::CannotPost { here, fix } => write!(
                f,
                "Not subscribed: sevbot cannot post in {here}, so every SEV announcement would fail. {fix} Then `/sev subscribe` again."
            ),
        }
    }
}
