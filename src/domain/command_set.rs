//! The `/sev` command set, declared once. The grammar's usage lines and help, its
//! did-you-mean table and aliases, and the Discord application command (subcommands, their
//! typed options and, when the set outgrows Discord's 25 slots, subcommand groups) are all
//! derived from `SET`; tests run every entry's example on every platform.

/// What an option holds, for platforms that ask for arguments one by one (Discord).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    SevType,
    Level,
    Role,
    User,
    /// Free text, at most this many characters.
    Text(u16),
    /// A box to tick.
    Flag,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// The SEV a command is about, e.g. SEV-12; the channel's own SEV when left out.
    Sev,
    /// A subcommand's name (help).
    Topic,
}

/// One typed option of a subcommand.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    pub name: &'static str,
    pub arg: Arg,
    pub required: bool,
    /// ≤ 100 characters (Discord's limit).
    pub about: &'static str,
}

/// One subcommand of `/sev`.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    /// Other words typed for it (`resolve` for `resolved`); not shown in help.
    pub aliases: &'static [&'static str],
    /// The typed form; empty for a subcommand that exists only where arguments are picked
    /// one by one (`new` opens the declare form, `note` is `timeline note` typed).
    pub usage: &'static str,
    /// The help line.
    pub summary: &'static str,
    /// ≤ 100 characters: Discord's description.
    pub brief: &'static str,
    pub options: &'static [Opt],
    /// Discord's subcommand group it goes in (name, description); `None` at the top level.
    /// Discord allows 25 entries at the top and 25 per group, so new commands join a group
    /// once the top is full (a test counts).
    pub group: Option<(&'static str, &'static str)>,
    /// A typed use of it, run on every platform by the tests (after `SEV-1` was declared).
    pub example: &'static str,
}

impl Spec {
    /// Whether it can be typed after `/sev` (and so appears in help).
    pub fn is_typed(&self) -> bool {
        !self.usage.is_empty()
    }
}

const fn opt(name: &'static str, arg: Arg, required: bool, about: &'static str) -> Opt {
    Opt {
        name,
        arg,
        required,
        about,
    }
}

/// The SEV option every command about one SEV takes last.
const SEV: Opt = opt(
    "sev",
    Arg::Sev,
    false,
    "Which SEV, e.g. SEV-12 (default: the one whose channel this is)",
);
const LONG: Arg = Arg::Text(1900);
const ROLE: Opt = opt("role", Arg::Role, true, "The role");

const fn spec(
    name: &'static str,
    usage: &'static str,
    summary: &'static str,
    brief: &'static str,
    options: &'static [Opt],
    example: &'static str,
) -> Spec {
    Spec {
        name,
        aliases: &[],
        usage,
        summary,
        brief,
        options,
        group: None,
        example,
    }
}

/// Before and between incidents: on Discord, `/sev plan oncall`, `simulate`, `sla`,
/// `report` and `drill` (the top level's 25 entries are full).
const PLAN: (&str, &str) = (
    "plan",
    "Before and between incidents: who is on call, whom a SEV would page, SLA, reports, drills",
);

const AT: Opt = opt(
    "at",
    Arg::Text(40),
    false,
    "When, e.g. sat 03:00 or 2026-12-05 03:00, in the rotation's timezone (default: now)",
);

/// After the incident: on Discord, `/sev review postmortem` and `/sev review followup`
/// (the top level's 25 entries are full).
const REVIEW: (&str, &str) = (
    "review",
    "After the incident: the postmortem and follow-ups",
);

impl Spec {
    const fn in_group(mut self, group: (&'static str, &'static str)) -> Spec {
        self.group = Some(group);
        self
    }
}

const fn aka(mut s: Spec, aliases: &'static [&'static str]) -> Spec {
    s.aliases = aliases;
    s
}

/// Every subcommand, in the order help lists them.
pub const SET: &[Spec] = &[
    spec(
        "declare",
        "/sev declare <type> <level> <title…> [--customer-impact] [--private] [--new]",
        "declare a SEV; type is availability, durability, security or feature-degradation; level 0-3 (0 most critical)",
        "Declare a SEV",
        &[
            opt("type", Arg::SevType, true, "The kind of incident"),
            opt("level", Arg::Level, true, "0 is the most critical"),
            opt(
                "title",
                Arg::Text(150),
                true,
                "What is broken, e.g. Checkout failing",
            ),
            opt(
                "customer_impact",
                Arg::Flag,
                false,
                "Customers are affected (a BMOC is assigned)",
            ),
            opt(
                "private",
                Arg::Flag,
                false,
                "Only its members see it (security SEVs always are)",
            ),
            opt(
                "new",
                Arg::Flag,
                false,
                "Declare even if you just declared a similar SEV",
            ),
        ],
        "declare availability 1 --customer-impact Round trip",
    ),
    spec("new", "", "", "Declare a SEV with a form", &[], ""),
    spec(
        "level",
        "/sev level <0-3> [reason…]",
        "change the level (lowering urgency needs the IMOC)",
        "Change the level (lowering urgency needs the IMOC)",
        &[
            opt("level", Arg::Level, true, "The new level"),
            opt("reason", LONG, false, "Why"),
            SEV,
        ],
        "SEV-1 level 0 spreading",
    ),
    spec(
        "role",
        "/sev role <imoc|tloc|bmoc> <@user>",
        "hand a role to someone",
        "Hand a role to someone",
        &[ROLE, opt("user", Arg::User, true, "Who takes it"), SEV],
        "SEV-1 role tloc @frank",
    ),
    spec(
        "ask",
        "/sev ask <imoc|tloc|bmoc>",
        "ask the holder of a role (and the IMOC) to hand it to you",
        "Ask a role's holder (and the IMOC) to hand it to you",
        &[ROLE, SEV],
        "SEV-1 ask bmoc",
    ),
    spec(
        "update",
        "/sev update <text…>",
        "post a status update to the channel and the feeds",
        "Post a status update",
        &[opt("text", LONG, true, "What changed, what is next"), SEV],
        "SEV-1 update all good",
    ),
    aka(
        spec(
            "ack",
            "/sev ack",
            "acknowledge your page (stops the escalation if you are in its chain)",
            "Acknowledge your page (stops the escalation)",
            &[SEV],
            "SEV-1 ack",
        ),
        &["acknowledge"],
    ),
    spec(
        "impact",
        "/sev impact",
        "degraded routes: availability, since when, users affected, error budget burned",
        "Degraded routes: availability, users affected, budget burned",
        &[SEV],
        "SEV-1 impact",
    ),
    spec(
        "draft",
        "/sev draft [edit <text…> | approve]",
        "the customer-facing update for the BMOC: show, edit, approve (BMOC or IMOC)",
        "The customer update for the BMOC: show, edit, approve",
        &[
            opt(
                "action",
                Arg::Choice(&["show", "edit", "approve"]),
                false,
                "What to do (default: show)",
            ),
            opt("text", LONG, false, "The new text (for edit)"),
            SEV,
        ],
        "SEV-1 draft",
    ),
    spec(
        "sla",
        "/sev sla",
        "this month's downtime against the 99.9% contract and the 99.95% internal target",
        "This month's downtime against the SLA",
        &[],
        "sla",
    )
    .in_group(PLAN),
    spec(
        "followup",
        "/sev followup [add <text…> [@owner] [due YYYY-MM-DD] | list | done <n>]",
        "the SEV's follow-ups: add one (also after it is closed), list them, mark one done",
        "The SEV's follow-ups: add, list, done",
        &[
            opt(
                "action",
                Arg::Choice(&["list", "add", "done"]),
                false,
                "What to do (default: list)",
            ),
            opt("text", LONG, false, "What is to be done (for add)"),
            opt("owner", Arg::User, false, "Who does it (for add)"),
            opt("due", Arg::Text(10), false, "When, as YYYY-MM-DD (for add)"),
            opt("number", Arg::Text(6), false, "Which one (for done)"),
            SEV,
        ],
        "SEV-1 followup add Alert on queue depth @bob due 2026-03-10",
    )
    .in_group(REVIEW),
    spec(
        "reopen",
        "/sev reopen [reason…]",
        "a resolved SEV is back: investigating again, the IMOC paged anew if its level has a ladder",
        "A resolved SEV is back: investigating again",
        &[opt("reason", LONG, false, "What came back"), SEV],
        "SEV-1 reopen errors are back",
    ),
    spec(
        "retitle",
        "/sev retitle <title…>",
        "give the SEV a better title (declarer, IMOC or admin); the channel keeps its name",
        "Give the SEV a better title (the channel keeps its name)",
        &[
            opt(
                "title",
                Arg::Text(150),
                true,
                "What is broken, as we now know it",
            ),
            SEV,
        ],
        "SEV-1 retitle Round trip in the EU",
    ),
    spec(
        "diagnosed",
        "/sev diagnosed [note…]",
        "the cause is understood and the first mitigation step identified (ends diagnosis in the postmortem)",
        "The cause is understood; the first mitigation step is known",
        &[opt("note", LONG, false, "What was found"), SEV],
        "SEV-1 diagnosed bad deploy of the cart service",
    ),
    aka(
        spec(
            "mitigated",
            "/sev mitigated",
            "users are no longer affected",
            "Users are no longer affected",
            &[SEV],
            "SEV-1 mitigated",
        ),
        &["mitigate"],
    ),
    aka(
        spec(
            "resolved",
            "/sev resolved",
            "the cause is fixed and recovery confirmed",
            "The cause is fixed and recovery confirmed",
            &[SEV],
            "SEV-1 resolved",
        ),
        &["resolve"],
    ),
    spec(
        "close",
        "/sev close",
        "close a resolved SEV (IMOC)",
        "Close a resolved SEV (IMOC)",
        &[SEV],
        "SEV-1 close",
    ),
    spec(
        "cancel",
        "/sev cancel <reason…>",
        "cancel a SEV that was not an incident (IMOC)",
        "Cancel a SEV that was not an incident (IMOC)",
        &[opt("reason", LONG, true, "Why it is cancelled"), SEV],
        "SEV-1 cancel a false alarm",
    ),
    spec(
        "status",
        "/sev status",
        "show the SEV: level, stage, roles, latest update",
        "Show the SEV",
        &[SEV],
        "SEV-1 status",
    ),
    spec(
        "list",
        "/sev list",
        "list open SEVs",
        "List open SEVs",
        &[],
        "list",
    ),
    spec(
        "oncall",
        "/sev oncall [role] [at <time>]",
        "who holds each role now, or at a time (in the rotation's timezone)",
        "Who is on call now, or at a time",
        &[
            opt("role", Arg::Role, false, "The role (default: all three)"),
            AT,
        ],
        "oncall imoc at sat 03:00",
    )
    .in_group(PLAN),
    spec(
        "simulate",
        "/sev simulate <level> [type] [at <time>]",
        "whom a SEV declared now (or then) would page, and when, step by step",
        "Whom a SEV declared now, or at a time, would page",
        &[
            opt("level", Arg::Level, true, "The SEV level"),
            opt(
                "type",
                Arg::SevType,
                false,
                "The SEV type (default: availability)",
            ),
            AT,
        ],
        "simulate 1 security at sat 03:00",
    )
    .in_group(PLAN),
    spec(
        "drill",
        "/sev drill <type> <level> [scenario]",
        "a practice SEV, marked DRILL everywhere: only you and the drill volunteers are paged, roles are yours to take; nothing reaches feeds, paging services, execs, customers, the SLA or reports; a scenario from config/drills feeds it prompts; scored at the end",
        "Start a practice SEV (a drill), optionally from a scenario",
        &[
            opt("type", Arg::SevType, true, "The SEV type"),
            opt("level", Arg::Level, true, "The SEV level"),
            opt(
                "scenario",
                Arg::Text(60),
                false,
                "A scenario from config/drills, e.g. checkout-outage",
            ),
        ],
        "drill availability 2",
    )
    .in_group(PLAN),
    spec(
        "report",
        "/sev report [month|quarter|2026-11|2026-Q4]",
        "SEVs by type and level, time to acknowledge, detect, diagnose and recover, downtime against the budgets, the routes behind it, open follow-ups",
        "The month's or quarter's report",
        &[opt(
            "period",
            Arg::Text(20),
            false,
            "month (default), quarter, a month as 2026-11 or a quarter as 2026-Q4",
        )],
        "report quarter",
    )
    .in_group(PLAN),
    spec(
        "timeline",
        "/sev timeline [note <text…>]",
        "show the timeline, or add a note to it",
        "Show the timeline",
        &[SEV],
        "SEV-1 timeline",
    ),
    spec(
        "note",
        "",
        "",
        "Add a note to the timeline",
        &[opt("text", LONG, true, "The note"), SEV],
        "SEV-1 timeline note rolled back",
    ),
    spec(
        "postmortem",
        "/sev postmortem",
        "the postmortem document as it stands: durations, level and role history, impact, timeline",
        "The postmortem document as it stands",
        &[SEV],
        "SEV-1 postmortem",
    )
    .in_group(REVIEW),
    spec(
        "subscribe",
        "/sev subscribe [email=<address>] [type=<type>[,<type>…]] [level<=<0-3>]",
        "announce matching SEVs in this channel (edited in place), or by e-mail to an address (a thread per SEV)",
        "Announce SEVs in this channel, or by e-mail",
        &[
            opt("type", Arg::SevType, false, "The kind of incident"),
            opt(
                "max_level",
                Arg::Level,
                false,
                "Only this level and more critical",
            ),
            opt(
                "email",
                Arg::Text(254),
                false,
                "An e-mail address to send each SEV's thread to, instead of this channel",
            ),
        ],
        "subscribe",
    ),
    spec(
        "unsubscribe",
        "/sev unsubscribe [email=<address>]",
        "stop announcing SEVs in this channel, or to an e-mail address",
        "Stop announcing SEVs in this channel, or by e-mail",
        &[opt(
            "email",
            Arg::Text(254),
            false,
            "The e-mail address to stop sending to",
        )],
        "unsubscribe",
    ),
    spec(
        "help",
        "/sev help [command]",
        "show help",
        "Show help",
        &[opt("command", Arg::Topic, false, "A command to explain")],
        "help declare",
    ),
];

/// The subcommands that can be typed, in help's order.
pub fn typed() -> impl Iterator<Item = &'static Spec> {
    SET.iter().filter(|s| s.is_typed())
}

/// The typed subcommand a word names, by its name or an alias, in any case.
pub fn find(word: &str) -> Option<&'static Spec> {
    typed().find(|s| {
        s.name.eq_ignore_ascii_case(word) || s.aliases.iter().any(|a| a.eq_ignore_ascii_case(word))
    })
}

/// The usage line of a typed subcommand (`/sev help` for anything else).
pub fn usage(name: &str) -> &'static str {
    find(name).map(|s| s.usage).unwrap_or("/sev help")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_is_consistent() {
        let mut names = std::collections::HashSet::new();
        for s in SET {
            for n in std::iter::once(s.name).chain(s.aliases.iter().copied()) {
                assert!(names.insert(n), "{n} declared twice");
            }
            assert!(s.brief.len() <= 100 && !s.brief.is_empty(), "{}", s.name);
            if s.is_typed() {
                assert!(
                    s.usage.starts_with(&format!("/sev {}", s.name)),
                    "{}",
                    s.name
                );
                assert!(!s.summary.is_empty(), "{}", s.name);
            }
            // Discord lists required options before optional ones.
            let first_optional = s
                .options
                .iter()
                .position(|o| !o.required)
                .unwrap_or(s.options.len());
            assert!(
                s.options[first_optional..].iter().all(|o| !o.required),
                "{}",
                s.name
            );
            for o in s.options {
                assert!(o.about.len() <= 100, "{}.{}", s.name, o.name);
            }
        }
        assert_eq!(find("Resolve").map(|s| s.name), Some("resolved"));
        assert_eq!(usage("acknowledge"), "/sev ack");
        assert!(find("new").is_none(), "forms-only entries are not typed");
    }
}
