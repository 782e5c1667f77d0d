//! The `/sev` command grammar, shared by every platform. Pure: text in, `Command` or a
//! `UsageError` (one-line reason, the right usage, and a did-you-mean) out.

use std::fmt;

use super::feed::FeedFilter;
pub use super::suggest::closest;
use super::types::{Level, Role, SevId, SevType};
use super::when::When;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Declare {
        sev_type: SevType,
        level: Level,
        title: String,
        customer_impact: bool,
        /// Declare even if the same person just declared one like it.
        force_new: bool,
        /// Restricted like a security SEV: details only for its members (`--private`).
        private: bool,
        /// What a declare form adds beyond the title; recorded as the first timeline note,
        /// in the same transaction as the SEV.
        description: Option<String>,
    },
    Level {
        sev: Option<SevId>,
        level: Level,
        reason: Option<String>,
    },
    Role {
        sev: Option<SevId>,
        role: Role,
        user: String,
    },
    /// Ask the holder of an occupied role (and the IMOC) to hand it over.
    Ask {
        sev: Option<SevId>,
        role: Role,
    },
    Update {
        sev: Option<SevId>,
        text: String,
    },
    /// Acknowledge a page: stops the escalation ladder when it comes from its chain.
    Ack {
        sev: Option<SevId>,
    },
    /// Show (and refresh in the channel) the degraded routes of an availability SEV.
    Impact {
        sev: Option<SevId>,
    },
    /// The customer-facing draft: generate and show it, replace its text, or approve it.
    Draft {
        sev: Option<SevId>,
        action: DraftAction,
    },
    /// The month's SLA ledger.
    Sla,
    /// A practice SEV, optionally fed by a scripted scenario (`/sev drill <type> <level>
    /// [scenario]`).
    Drill {
        sev_type: SevType,
        level: Level,
        scenario: Option<String>,
    },
    /// The report for a month or a quarter (`/sev report [month|quarter|2026-11|2026-Q4]`).
    Report {
        period: super::period::Asked,
    },
    /// The SEV's follow-ups: add one, list them, mark one done.
    Followup {
        sev: Option<SevId>,
        action: FollowupAction,
    },
    /// A resolved SEV back to investigating.
    Reopen {
        sev: Option<SevId>,
        reason: Option<String>,
    },
    /// A new title (the channel keeps its name).
    Retitle {
        sev: Option<SevId>,
        title: String,
    },
    /// The cause is understood and the first mitigation step identified.
    Diagnosed {
        sev: Option<SevId>,
        note: Option<String>,
    },
    Mitigated {
        sev: Option<SevId>,
    },
    Resolved {
        sev: Option<SevId>,
    },
    Close {
        sev: Option<SevId>,
    },
    Cancel {
        sev: Option<SevId>,
        reason: String,
    },
    Status {
        sev: Option<SevId>,
    },
    List,
    /// Who holds each role (or one) now, or at a moment (`/sev oncall [role] [at <time>]`).
    Oncall {
        role: Option<Role>,
        at: Option<When>,
    },
    /// The whole ladder a SEV declared then would follow, with names and minutes
    /// (`/sev simulate <level> [type] [at <time>]`).
    Simulate {
        level: Level,
        sev_type: SevType,
        at: Option<When>,
    },
    Timeline {
        sev: Option<SevId>,
    },
    /// The postmortem document, as it stands.
    Postmortem {
        sev: Option<SevId>,
    },
    Note {
        sev: Option<SevId>,
        text: String,
    },
    /// This channel, or with `email` that address, hears of matching SEVs.
    Subscribe {
        filter: FeedFilter,
        email: Option<String>,
    },
    Unsubscribe {
        email: Option<String>,
    },
    Help {
        topic: Option<String>,
    },
}

impl Command {
    /// The subcommand name, for metrics and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Declare { .. } => "declare",
            Command::Level { .. } => "level",
            Command::Role { .. } => "role",
            Command::Ask { .. } => "ask",
            Command::Update { .. } => "update",
            Command::Ack { .. } => "ack",
            Command::Impact { .. } => "impact",
            Command::Draft { .. } => "draft",
            Command::Sla => "sla",
            Command::Report { .. } => "report",
            Command::Drill { .. } => "drill",
            Command::Oncall { .. } => "oncall",
            Command::Simulate { .. } => "simulate",
            Command::Diagnosed { .. } => "diagnosed",
            Command::Retitle { .. } => "retitle",
            Command::Reopen { .. } => "reopen",
            Command::Followup { .. } => "followup",
            Command::Mitigated { .. } => "mitigated",
            Command::Resolved { .. } => "resolved",
            Command::Close { .. } => "close",
            Command::Cancel { .. } => "cancel",
            Command::Status { .. } => "status",
            Command::List => "list",
            Command::Timeline { .. } => "timeline",
            Command::Postmortem { .. } => "postmortem",
            Command::Note { .. } => "timeline",
            Command::Subscribe { .. } => "subscribe",
            Command::Unsubscribe { .. } => "unsubscribe",
            Command::Help { .. } => "help",
        }
    }

    /// The SEV a command names explicitly, if any; `None` means "the one whose channel this is".
    pub fn target(&self) -> Option<Option<SevId>> {
        match self {
            Command::Level { sev, .. }
            | Command::Role { sev, .. }
            | Command::Ask { sev, .. }
            | Command::Update { sev, .. }
            | Command::Ack { sev }
            | Command::Impact { sev }
            | Command::Draft { sev, .. }
            | Command::Diagnosed { sev, .. }
            | Command::Retitle { sev, .. }
            | Command::Reopen { sev, .. }
            | Command::Followup { sev, .. }
            | Command::Postmortem { sev }
            | Command::Mitigated { sev }
            | Command::Resolved { sev }
            | Command::Close { sev }
            | Command::Cancel { sev, .. }
            | Command::Status { sev }
            | Command::Timeline { sev }
            | Command::Note { sev, .. } => Some(*sev),
            _ => None,
        }
    }
}

/// Name, usage line and one-line summary of every subcommand; help and errors read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftAction {
    Show,
    Edit(String),
    /// `draft edit` without text: a form with the current draft, where there are forms.
    Form,
    Approve,
}

pub use super::command_set::usage;
use super::command_set::{self, typed};

/// A mistake in what was typed: why, the right usage, and a guess at what was meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    pub reason: String,
    pub usage: &'static str,
    pub suggestion: Option<String>,
}

impl UsageError {
    fn new(cmd: &str, reason: impl Into<String>) -> Self {
        UsageError {
            reason: reason.into(),
            usage: usage(cmd),
            suggestion: None,
        }
    }

    fn suggest(mut self, s: Option<String>) -> Self {
        self.suggestion = s;
        self
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)?;
        if let Some(s) = &self.suggestion {
            write!(f, " Did you mean `{s}`?")?;
        }
        write!(f, "\nUsage: {}", self.usage)
    }
}

/// Parses the text after `/sev` (a leading `/sev` is tolerated too).
pub fn parse(input: &str) -> Result<Command, UsageError> {
    parse_with(input, &plain_user)
}

/// Parses with the platform's reading of a person (`user`: a mention to a handle).
pub fn parse_with(
    input: &str,
    user_in: &dyn Fn(&str) -> Option<String>,
) -> Result<Command, UsageError> {
    let mut words: Vec<&str> = input.split_whitespace().collect();
    if words
        .first()
        .is_some_and(|w| w.eq_ignore_ascii_case("/sev"))
    {
        words.remove(0);
    }
    // `/sev SEV-4 update …` names the SEV before the subcommand.
    let mut sev = None;
    if let Some(id) = words.first().and_then(|w| SevId::parse(w)) {
        sev = Some(id);
        words.remove(0);
    }
    let Some((&first, rest)) = words.split_first() else {
        return Ok(Command::Help { topic: None });
    };
    // Aliases (`resolve`) are read as the command they stand for.
    let typed_name = first.to_ascii_lowercase();
    let name = command_set::find(&typed_name)
        .map(|s| s.name.to_string())
        .unwrap_or_else(|| typed_name.clone());
    let mut rest: Vec<&str> = rest.to_vec();
    // …or right after it: `/sev update SEV-4 …`.
    // `level sev-1` is a level (SEV1), not a SEV id: after `level` a word is the SEV only
    // when a level follows it.
    let level_follows = || rest.get(1).is_some_and(|w| parse_level("level", w).is_ok());
    if sev.is_none()
        && name != "declare"
        && (name != "level" || level_follows())
        && let Some(id) = rest.first().and_then(|w| SevId::parse(w))
    {
        sev = Some(id);
        rest.remove(0);
    }
    let text = rest.join(" ");
    // Aliases (`resolve`, `mitigate`, `acknowledge`) are answered with the command's usage.
    let no_args = |cmd: Command| {
        if rest.is_empty() {
            Ok(cmd)
        } else {
            Err(UsageError::new(
                cmd.name(),
                format!("`{typed_name}` takes no arguments, but got \"{text}\"."),
            ))
        }
    };
    match name.as_str() {
        "declare" => parse_declare(&rest),
        "level" => {
            let Some((lvl, reason)) = rest.split_first() else {
                return Err(UsageError::new("level", "Which level? Give 0-3."));
            };
            let level = parse_level("level", lvl)?;
            let reason = (!reason.is_empty()).then(|| reason.join(" "));
            Ok(Command::Level { sev, level, reason })
        }
        "role" => {
            let [role, user, ..] = rest.as_slice() else {
                return Err(UsageError::new("role", "Name a role and a person."));
            };
            if rest.len() > 2 {
                return Err(UsageError::new(
                    "role",
                    "One role and one person at a time.",
                ));
            }
            let Some(role) = Role::parse(role) else {
                return Err(
                    UsageError::new("role", format!("Unknown role \"{role}\".")).suggest(
                        closest(role, Role::ALL.iter().map(|r| r.as_str())).map(str::to_string),
                    ),
                );
            };
            let user = user_in(user).ok_or_else(|| {
                UsageError::new(
                    "role",
                    format!("\"{user}\" is not a person; mention them like @alice."),
                )
            })?;
            Ok(Command::Role { sev, role, user })
        }
        "ask" => {
            let [role] = rest.as_slice() else {
                return Err(UsageError::new("ask", "Name the one role you ask for."));
            };
            let Some(role) = Role::parse(role) else {
                return Err(
                    UsageError::new("ask", format!("Unknown role \"{role}\".")).suggest(
                        closest(role, Role::ALL.iter().map(|r| r.as_str())).map(str::to_string),
                    ),
                );
            };
            Ok(Command::Ask { sev, role })
        }
        "update" => {
            if text.is_empty() {
                return Err(UsageError::new(
                    "update",
                    "The update is empty; say what changed.",
                ));
            }
            Ok(Command::Update { sev, text })
        }
        "ack" => no_args(Command::Ack { sev }),
        "impact" => no_args(Command::Impact { sev }),
        "sla" => no_args(Command::Sla),
        "report" => report(&rest),
        "drill" => drill(&rest),
        "draft" => match rest.split_first() {
            None => Ok(Command::Draft {
                sev,
                action: DraftAction::Show,
            }),
            Some((w, tail)) if w.eq_ignore_ascii_case("approve") && tail.is_empty() => {
                Ok(Command::Draft {
                    sev,
                    action: DraftAction::Approve,
                })
            }
            Some((w, tail)) if w.eq_ignore_ascii_case("edit") => Ok(Command::Draft {
                sev,
                action: match tail.is_empty() {
                    true => DraftAction::Form,
                    false => DraftAction::Edit(tail.join(" ")),
                },
            }),
            Some(_) => Err(UsageError::new(
                "draft",
                "`draft` alone shows the draft; `draft edit <text…>` replaces it; `draft approve` publishes it.",
            )),
        },
        "diagnosed" => Ok(Command::Diagnosed {
            sev,
            note: (!text.is_empty()).then_some(text),
        }),
        "postmortem" => no_args(Command::Postmortem { sev }),
        "retitle" => retitle(sev, &text),
        "followup" => followup(sev, &rest, user_in),
        "reopen" => Ok(Command::Reopen {
            sev,
            reason: (!text.is_empty()).then_some(text),
        }),
        "mitigated" => no_args(Command::Mitigated { sev }),
        "resolved" => no_args(Command::Resolved { sev }),
        "close" => no_args(Command::Close { sev }),
        "cancel" => {
            if text.is_empty() {
                return Err(UsageError::new(
                    "cancel",
                    "Say why the SEV is being cancelled.",
                ));
            }
            Ok(Command::Cancel { sev, reason: text })
        }
        "status" => no_args(Command::Status { sev }),
        "list" => no_args(Command::List),
        "oncall" => oncall(&rest),
        "simulate" => simulate(&rest),
        "timeline" => match rest.split_first() {
            None => Ok(Command::Timeline { sev }),
            Some((w, note)) if w.eq_ignore_ascii_case("note") => {
                if note.is_empty() {
                    Err(UsageError::new("timeline", "The note is empty."))
                } else {
                    Ok(Command::Note {
                        sev,
                        text: note.join(" "),
                    })
                }
            }
            Some((w, _)) => Err(UsageError::new(
                "timeline",
                format!("`timeline` takes `note <text…>` or nothing, not \"{w}\"."),
            )),
        },
        "subscribe" => {
            let (email, rest) = email_option("subscribe", &rest)?;
            FeedFilter::parse(&rest)
                .map(|filter| Command::Subscribe { filter, email })
                .map_err(|(reason, suggestion)| {
                    UsageError::new("subscribe", reason).suggest(suggestion)
                })
        }
        "unsubscribe" => match email_option("unsubscribe", &rest)? {
            (email, rest) if rest.is_empty() => Ok(Command::Unsubscribe { email }),
            (_, rest) => Err(UsageError::new(
                "unsubscribe",
                format!(
                    "`unsubscribe` takes nothing or `email=<address>`, not \"{}\".",
                    rest[0]
                ),
            )),
        },
        "help" => match rest.first() {
            None => Ok(Command::Help { topic: None }),
            Some(t) => {
                let t = t.to_ascii_lowercase();
                if let Some(spec) = command_set::find(&t) {
                    Ok(Command::Help {
                        topic: Some(spec.name.to_string()),
                    })
                } else {
                    Err(
                        UsageError::new("help", format!("There is no command \"{t}\".")).suggest(
                            closest(&t, typed().map(|s| s.name)).map(|c| format!("/sev help {c}")),
                        ),
                    )
                }
            }
        },
        other => {
            let guess = closest(other, typed().map(|s| s.name));
            Err(UsageError {
                reason: format!("Unknown command \"{other}\"."),
                usage: guess.map(usage).unwrap_or("/sev help"),
                suggestion: guess.map(|g| format!("/sev {g}")),
            })
        }
    }
}

fn parse_declare(rest: &[&str]) -> Result<Command, UsageError> {
    let mut customer_impact = false;
    let mut force_new = false;
    let mut private = false;
    let mut words = Vec::new();
    for w in rest {
        match w.to_ascii_lowercase().as_str() {
            "--customer-impact" | "--customer" => customer_impact = true,
            "--new" => force_new = true,
            "--private" => private = true,
            flag if flag.starts_with("--") => {
                return Err(
                    UsageError::new("declare", format!("Unknown flag \"{w}\".")).suggest(
                        closest(flag, ["--customer-impact", "--private", "--new"])
                            .map(str::to_string),
                    ),
                );
            }
            _ => words.push(*w),
        }
    }
    let Some((ty, after)) = words.split_first() else {
        return Err(UsageError::new(
            "declare",
            "Give the type, level and a title.",
        ));
    };
    let Some((lvl, title)) = after.split_first() else {
        return Err(UsageError::new(
            "declare",
            "Give a level (0-3) and a title.",
        ));
    };
    declare(
        ty,
        lvl,
        &title.join(" "),
        Declaration {
            customer_impact,
            force_new,
            private,
            description: None,
        },
    )
}

/// What `/sev followup` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowupAction {
    Add {
        text: String,
        /// A person as the platform read the mention (a handle).
        owner: Option<String>,
        /// `YYYY-MM-DD`.
        due: Option<String>,
    },
    List,
    Done(i64),
}

/// `followup add <text…> [@owner] [due YYYY-MM-DD]`, `followup list`, `followup done <n>`.
fn followup(
    sev: Option<SevId>,
    rest: &[&str],
    user_in: &dyn Fn(&str) -> Option<String>,
) -> Result<Command, UsageError> {
    let action = match rest.split_first() {
        None => FollowupAction::List,
        Some((w, [])) if w.eq_ignore_ascii_case("list") => FollowupAction::List,
        Some((w, [n])) if w.eq_ignore_ascii_case("done") => {
            let n = n.trim_start_matches('#');
            match n.parse::<i64>() {
                Ok(n) if n > 0 => FollowupAction::Done(n),
                _ => {
                    return Err(UsageError::new(
                        "followup",
                        format!(
                            "\"{n}\" is not a follow-up number; `/sev followup list` shows them."
                        ),
                    ));
                }
            }
        }
        Some((w, words)) if w.eq_ignore_ascii_case("add") => {
            let mut words = words.to_vec();
            let mut due = None;
            if let [.., d, date] = words.as_slice()
                && d.eq_ignore_ascii_case("due")
            {
                due = Some(date.to_string());
                words.truncate(words.len() - 2);
            }
            // The owner is a mention at the end (`@alice`, or the platform's own form).
            let mut owner = None;
            if let Some(last) = words.last()
                && (last.starts_with('@') || last.starts_with("<@"))
            {
                owner = Some(user_in(last).ok_or_else(|| {
                    UsageError::new(
                        "followup",
                        format!("\"{last}\" is not a person; mention them like @alice."),
                    )
                })?);
                words.pop();
            }
            let text = words.join(" ");
            followup_add(&text, owner, due.as_deref())?
        }
        Some(_) => {
            return Err(UsageError::new(
                "followup",
                "`followup add <text…> [@owner] [due YYYY-MM-DD]`, `followup list` or `followup done <n>`.",
            ));
        }
    };
    Ok(Command::Followup { sev, action })
}

/// An added follow-up, typed or from options: some text, a due date that is a date.
pub fn followup_add(
    text: &str,
    owner: Option<String>,
    due: Option<&str>,
) -> Result<FollowupAction, UsageError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(UsageError::new(
            "followup",
            "Say what is to be done, e.g. `/sev followup add Alert on queue depth @bob due 2026-03-10`.",
        ));
    }
    if let Some(d) = due
        && chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err()
    {
        return Err(UsageError::new(
            "followup",
            format!("\"{d}\" is not a date like 2026-03-10."),
        ));
    }
    Ok(FollowupAction::Add {
        text: text.to_string(),
        owner,
        due: due.map(str::to_string),
    })
}

/// The options of a declare, as flags typed or boxes ticked in a form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declaration {
    pub customer_impact: bool,
    pub force_new: bool,
    pub private: bool,
    pub description: Option<String>,
}

/// A declare from its parts, checked the same way whether they were typed or picked in a
/// form: the title is kept as given (flags or quotes in it are part of the title).
pub fn declare(ty: &str, level: &str, title: &str, d: Declaration) -> Result<Command, UsageError> {
    let sev_type = parse_type("declare", ty)?;
    let level = parse_level("declare", level)?;
    let title = check_title("declare", title)?;
    Ok(Command::Declare {
        sev_type,
        level,
        title,
        customer_impact: d.customer_impact,
        force_new: d.force_new,
        private: d.private,
        description: d.description.filter(|t| !t.trim().is_empty()),
    })
}

/// A SEV type as typed, or why it is not one.
pub fn parse_type(cmd: &str, ty: &str) -> Result<SevType, UsageError> {
    SevType::parse(ty).ok_or_else(|| {
        UsageError::new(
            cmd,
            format!("Unknown SEV type \"{ty}\"; types are availability, durability, security, feature-degradation."),
        )
        .suggest(closest(ty, SevType::ALL.iter().map(|t| t.as_str())).map(str::to_string))
    })
}

/// `<type> <level> [scenario]`, as typed or picked.
pub fn drill(words: &[&str]) -> Result<Command, UsageError> {
    let (ty, level, scenario) = match words {
        [ty, level] => (*ty, *level, None),
        [ty, level, scenario] => (*ty, *level, Some(scenario.to_ascii_lowercase())),
        _ => {
            return Err(UsageError::new(
                "drill",
                "Give the type and level, then optionally a scenario: drill availability 1 checkout-outage.",
            ));
        }
    };
    Ok(Command::Drill {
        sev_type: parse_type("drill", ty)?,
        level: parse_level("drill", level)?,
        scenario,
    })
}

/// A retitle, checked like a declare's title; typed or from an option, taken as given.
pub fn retitle(sev: Option<SevId>, title: &str) -> Result<Command, UsageError> {
    Ok(Command::Retitle {
        sev,
        title: check_title("retitle", title)?,
    })
}

fn check_title(cmd: &str, title: &str) -> Result<String, UsageError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(UsageError::new(
            cmd,
            "The title is missing; say what is broken, e.g. \"Checkout failing\".",
        ));
    }
    if title.chars().count() > 150 {
        return Err(UsageError::new(
            cmd,
            "The title is over 150 characters; keep it short and put detail in `/sev update`.",
        ));
    }
    Ok(title.to_string())
}

/// `[role] [at <time>]`, as typed or picked.
pub fn oncall(words: &[&str]) -> Result<Command, UsageError> {
    let (words, at) = moment("oncall", words)?;
    let role = match words {
        [] => None,
        [r] => Some(Role::parse(r).ok_or_else(|| {
            UsageError::new("oncall", format!("Unknown role \"{r}\"."))
                .suggest(closest(r, Role::ALL.iter().map(|r| r.as_str())).map(str::to_string))
        })?),
        _ => {
            return Err(UsageError::new(
                "oncall",
                "Name at most one role, then `at` and a time.",
            ));
        }
    };
    Ok(Command::Oncall { role, at })
}

/// `[month|quarter|2026-11|2026-Q4]`, as typed or picked.
pub fn report(words: &[&str]) -> Result<Command, UsageError> {
    use super::period::{Asked, PERIODS};
    let word = match words {
        [] => None,
        [w] => Some(*w),
        _ => {
            return Err(UsageError::new(
                "report",
                format!("Name one period: {PERIODS}."),
            ));
        }
    };
    match Asked::parse(word) {
        Some(period) => Ok(Command::Report { period }),
        None => Err(UsageError::new(
            "report",
            format!(
                "\"{}\" is not a period; write {PERIODS}.",
                word.unwrap_or_default()
            ),
        )
        .suggest(
            word.and_then(|w| closest(w, ["month", "quarter"]))
                .map(str::to_string),
        )),
    }
}

/// `<level> [type] [at <time>]`, as typed or picked; the type is availability unless said.
pub fn simulate(words: &[&str]) -> Result<Command, UsageError> {
    let (words, at) = moment("simulate", words)?;
    let (level, ty) = match words {
        [level] => (*level, None),
        [level, ty] => (*level, Some(*ty)),
        _ => {
            return Err(UsageError::new(
                "simulate",
                "Say the level, then optionally the type and `at` a time: simulate 1 security at sat 03:00.",
            ));
        }
    };
    let level = parse_level("simulate", level)?;
    let sev_type = match ty {
        None => SevType::Availability,
        Some(ty) => parse_type("simulate", ty)?,
    };
    Ok(Command::Simulate {
        level,
        sev_type,
        at,
    })
}

/// Splits `… at <time>` off the words.
fn moment<'a, 'b>(
    cmd: &str,
    words: &'b [&'a str],
) -> Result<(&'b [&'a str], Option<When>), UsageError> {
    let Some(i) = words.iter().position(|w| w.eq_ignore_ascii_case("at")) else {
        return Ok((words, None));
    };
    let time = &words[i + 1..];
    match When::parse(time) {
        Some(w) => Ok((&words[..i], Some(w))),
        None => Err(UsageError::new(
            cmd,
            format!(
                "\"{}\" is not a time; write {}.",
                time.join(" "),
                super::when::FORMS
            ),
        )),
    }
}

/// `0`–`3`, or `sev0`/`sev-0` as people say it; nothing else (no sign: `-1` is not SEV1).
pub fn parse_level(cmd: &str, word: &str) -> Result<Level, UsageError> {
    let lower = word.to_ascii_lowercase();
    let digits = match lower.strip_prefix("sev") {
        Some(rest) => rest.strip_prefix('-').unwrap_or(rest),
        None => &lower,
    };
    let parsed = match digits.bytes().all(|b| b.is_ascii_digit()) && !digits.is_empty() {
        true => digits.parse::<u32>().map_err(|_| ()),
        false => Err(()),
    };
    match parsed {
        Ok(n) => u8::try_from(n).ok().and_then(Level::new).ok_or_else(|| {
            UsageError::new(
                cmd,
                format!("Level {n} does not exist; levels are 0-3, 0 the most critical."),
            )
        }),
        Err(_) => Err(UsageError::new(
            cmd,
            format!("\"{word}\" is not a level; levels are 0-3, 0 the most critical."),
        )),
    }
}

/// Takes `email=<address>` out of a subscription's words; the address must be a plain
/// `local@domain` (lower-cased), so chat cannot add a recipient or a header.
fn email_option<'a>(
    cmd: &str,
    words: &[&'a str],
) -> Result<(Option<String>, Vec<&'a str>), UsageError> {
    let mut email = None;
    let mut rest = vec![];
    for w in words {
        match w
            .strip_prefix("email=")
            .or_else(|| w.strip_prefix("EMAIL="))
        {
            Some(a) => {
                // Slack links an address it sees: `<mailto:a@b.com|a@b.com>`.
                let a = a.strip_prefix("<mailto:").unwrap_or(a);
                let a = a.split('|').next().unwrap_or(a);
                let a = a
                    .trim_matches(|c| c == '<' || c == '>')
                    .to_ascii_lowercase();
                if !super::address::valid_address(&a) {
                    return Err(UsageError::new(
                        cmd,
                        format!(
                            "\"{a}\" is not an e-mail address (one address, like sre@example.com)."
                        ),
                    ));
                }
                email = Some(a);
            }
            None => rest.push(*w),
        }
    }
    Ok((email, rest))
}

/// A person as typed without any platform's markup: `@alice` or `alice`. Each platform
/// reads its own mention syntax (`<@U123|alice>` on Slack) and hands the grammar the
/// handle (`Platform::user_in`).
pub fn plain_user(word: &str) -> Option<String> {
    let inner = word.strip_prefix('@').unwrap_or(word);
    let ok = !inner.is_empty()
        && inner
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'));
    ok.then(|| inner.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lvl(n: u8) -> Level {
        Level::new(n).unwrap()
    }

    fn err(s: &str) -> UsageError {
        parse(s).expect_err(s)
    }

    #[test]
    fn declare_forms() {
        assert_eq!(
            parse("/sev declare availability 1 Checkout failing").unwrap(),
            Command::Declare {
                sev_type: SevType::Availability,
                level: lvl(1),
                title: "Checkout failing".into(),
                customer_impact: false,
                force_new: false,
                private: false,
                description: None,
            }
        );
        assert_eq!(
            parse("declare security SEV0 --customer-impact Leaked keys").unwrap(),
            Command::Declare {
                sev_type: SevType::Security,
                level: lvl(0),
                title: "Leaked keys".into(),
                customer_impact: true,
                force_new: false,
                private: false,
                description: None,
            }
        );
    }

    #[test]
    fn declare_mistakes() {
        let e = err("declare availability 5 Boom");
        assert!(e.reason.contains("Level 5 does not exist"), "{e}");
        assert!(e.to_string().contains("Usage: /sev declare <type> <level>"));
        let e = err("declare availabilty 1 Boom");
        assert_eq!(e.suggestion.as_deref(), Some("availability"));
        let e = err("declare availability 1");
        assert!(e.reason.contains("title is missing"));
        assert!(err("declare").reason.contains("type, level and a title"));
        assert!(err("declare availability").reason.contains("level"));
        assert!(
            err("declare availability x Boom")
                .reason
                .contains("not a level")
        );
        // Only 0-3 (or sev0-sev3): no sign, no dash, nothing after the digit.
        for word in ["-1", "+1", "sev--1", "1.0", "01x", "sev", "-0"] {
            assert!(
                err(&format!("declare availability {word} Boom"))
                    .reason
                    .contains("not a level"),
                "{word}"
            );
        }
        for (word, n) in [("0", 0), ("3", 3), ("SEV2", 2), ("sev1", 1), ("sev-1", 1)] {
            match parse(&format!("declare availability {word} Boom")).unwrap() {
                Command::Declare { level, .. } => assert_eq!(level.get(), n, "{word}"),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            err("declare availability 1 Boom --custmer-impact")
                .suggestion
                .as_deref(),
            Some("--customer-impact")
        );
        assert!(
            err(&format!("declare availability 1 {}", "x".repeat(151)))
                .reason
                .contains("150")
        );
    }

    #[test]
    fn unknown_subcommand_suggests_the_near_miss() {
        let e = err("/sev delcare availability 1 x");
        assert_eq!(e.suggestion.as_deref(), Some("/sev declare"));
        assert!(e.usage.starts_with("/sev declare"));
        assert_eq!(
            err("mitigate_d").suggestion.as_deref(),
            Some("/sev mitigated")
        );
        let e = err("frobnicate");
        assert_eq!(e.suggestion, None);
        assert_eq!(e.usage, "/sev help");
    }

    #[test]
    fn sev_ids_before_or_after_the_subcommand() {
        assert_eq!(
            parse("SEV-4 update all good").unwrap(),
            Command::Update {
                sev: Some(SevId(4)),
                text: "all good".into()
            }
        );
        assert_eq!(
            parse("update SEV-4 all good").unwrap(),
            Command::Update {
                sev: Some(SevId(4)),
                text: "all good".into()
            }
        );
        assert_eq!(
            parse("mitigated").unwrap(),
            Command::Mitigated { sev: None }
        );
        assert_eq!(
            parse("close sev-2").unwrap(),
            Command::Close {
                sev: Some(SevId(2))
            }
        );
    }

    #[test]
    fn level_role_and_text_commands() {
        assert_eq!(
            parse("level 2 impact is smaller").unwrap(),
            Command::Level {
                sev: None,
                level: lvl(2),
                reason: Some("impact is smaller".into())
            }
        );
        assert_eq!(
            parse("level sev-0").unwrap(),
            Command::Level {
                sev: None,
                level: lvl(0),
                reason: None
            }
        );
        assert!(err("level").reason.contains("Which level"));
        assert!(err("level 9").reason.contains("Level 9"));
        assert_eq!(
            parse("role imoc @alice").unwrap(),
            Command::Role {
                sev: None,
                role: Role::Imoc,
                user: "alice".into()
            }
        );
        // Platform markup is the platform's to read: the grammar alone refuses it.
        assert!(parse("role tloc <@U024BE7LH|bob>").is_err());
        let slack = |w: &str| {
            w.strip_prefix("<@")
                .map(|m| m.trim_end_matches('>').to_string())
        };
        assert_eq!(
            parse_with("role TLOC <@U024BE7LH>", &slack).unwrap(),
            Command::Role {
                sev: None,
                role: Role::Tloc,
                user: "U024BE7LH".into()
            }
        );
        assert_eq!(err("role imco @a").suggestion.as_deref(), Some("imoc"));
        assert!(err("role imoc").reason.contains("Name a role and a person"));
        assert!(err("role imoc @a @b").reason.contains("One role"));
        assert!(err("role imoc <@>").reason.contains("not a person"));
        assert!(err("role imoc @").reason.contains("not a person"));
        assert!(err("update").reason.contains("empty"));
        assert!(err("cancel").reason.contains("why"));
        assert_eq!(
            parse("cancel false alarm").unwrap(),
            Command::Cancel {
                sev: None,
                reason: "false alarm".into()
            }
        );
        assert!(err("close now").reason.contains("takes no arguments"));
        assert_eq!(parse("list").unwrap(), Command::List);
        assert_eq!(parse("status").unwrap(), Command::Status { sev: None });
    }

    #[test]
    fn timeline_and_notes() {
        assert_eq!(parse("timeline").unwrap(), Command::Timeline { sev: None });
        assert_eq!(
            parse("timeline note rolled back deploy 1234").unwrap(),
            Command::Note {
                sev: None,
                text: "rolled back deploy 1234".into()
            }
        );
        assert!(err("timeline note").reason.contains("empty"));
        assert!(err("timeline show").reason.contains("note"));
    }

    #[test]
    fn subscribe_and_help() {
        assert_eq!(
            parse("subscribe").unwrap(),
            Command::Subscribe {
                filter: FeedFilter::default(),
                email: None
            }
        );
        assert_eq!(
            parse("subscribe email=SRE@example.com level<=1").unwrap(),
            Command::Subscribe {
                filter: FeedFilter {
                    types: vec![],
                    max_level: Some(lvl(1))
                },
                email: Some("sre@example.com".into())
            }
        );
        assert!(err("subscribe email=sre").reason.contains("e-mail address"));
        assert_eq!(
            parse("subscribe email=<mailto:sre@example.com|sre@example.com>").unwrap(),
            parse("subscribe email=sre@example.com").unwrap()
        );
        assert!(
            err("subscribe email=a@example.com,b@example.com")
                .reason
                .contains("e-mail address")
        );
        assert_eq!(
            parse("unsubscribe email=sre@example.com").unwrap(),
            Command::Unsubscribe {
                email: Some("sre@example.com".into())
            }
        );
        assert!(err("unsubscribe now").reason.contains("email="));
        assert_eq!(
            parse("subscribe type=availability,security level<=1").unwrap(),
            Command::Subscribe {
                filter: FeedFilter {
                    types: vec![SevType::Availability, SevType::Security],
                    max_level: Some(lvl(1))
                },
                email: None
            }
        );
        assert!(err("subscribe level<=7").reason.contains("0-3"));
        assert_eq!(
            parse("unsubscribe").unwrap(),
            Command::Unsubscribe { email: None }
        );
        assert_eq!(parse("").unwrap(), Command::Help { topic: None });
        assert_eq!(parse("/sev").unwrap(), Command::Help { topic: None });
        assert_eq!(
            parse("help declare").unwrap(),
            Command::Help {
                topic: Some("declare".into())
            }
        );
        assert_eq!(
            err("help decalre").suggestion.as_deref(),
            Some("/sev help declare")
        );
    }

    /// Every typed entry of the command set parses, from its example, to the command it
    /// declares: a forgotten arm would answer "Unknown command".
    #[test]
    fn every_declared_command_parses_from_its_example() {
        for spec in typed() {
            let cmd = parse(spec.example).unwrap_or_else(|e| panic!("{}: {e}", spec.example));
            assert_eq!(cmd.name(), spec.name, "{}", spec.example);
            for alias in spec.aliases {
                let aliased = spec.example.replacen(spec.name, alias, 1);
                assert_eq!(parse(&aliased).unwrap().name(), spec.name, "{aliased}");
            }
        }
    }

    #[test]
    fn new_flag_marks_a_deliberate_second_declare() {
        let Command::Declare {
            force_new, title, ..
        } = parse("declare availability 1 Images slow --new").unwrap()
        else {
            panic!("not a declare")
        };
        assert!(force_new);
        assert_eq!(title, "Images slow");
        let Command::Declare { private, title, .. } =
            parse("declare durability 2 --private Payroll export lost").unwrap()
        else {
            panic!("not a declare")
        };
        assert!(private);
        assert_eq!(title, "Payroll export lost");
        assert_eq!(
            err("declare availability 1 x --nwe").suggestion.as_deref(),
            Some("--new")
        );
    }

    #[test]
    fn level_words_that_look_like_ids_and_aliases_with_arguments() {
        // `level sev-1` means SEV1, not SEV-1; a SEV id is taken only when a level follows.
        assert_eq!(
            parse("level sev-1").unwrap(),
            Command::Level {
                sev: None,
                level: lvl(1),
                reason: None
            }
        );
        assert_eq!(
            parse("level SEV-4 2").unwrap(),
            Command::Level {
                sev: Some(SevId(4)),
                level: lvl(2),
                reason: None
            }
        );
        // Aliases with arguments get the real command's usage, not `/sev help`.
        for (alias, usage) in [
            ("resolve now", "/sev resolved"),
            ("mitigate please", "/sev mitigated"),
            ("acknowledge it", "/sev ack"),
        ] {
            assert_eq!(err(alias).usage, usage, "{alias}");
        }
    }
}
