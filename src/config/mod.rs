//! Configuration: defaults → TOML file → `SEVBOT_*` environment, then validated into the
//! domain's types. `check` reports every problem with where it is, instead of the first.

use serde::{Deserialize, Serialize};

use crate::domain::Level;
use crate::domain::definitions::SevDefinition;
use crate::domain::escalation::Policy;
use crate::domain::oncall::Rotation;

mod availability;
mod cron;
mod drills;
mod email;
mod escalation;
mod explain;
mod feeds;
mod levels;
mod live;
mod load;
mod names;
mod oncall;
mod people;
mod postmortem;
mod read;
mod sections;
mod tickets;
mod web;
pub use availability::{AvailabilityConfig, Destination, MIN_POLL_SECONDS};
pub use drills::{DrillsConfig, Scenario};
pub use email::{EmailConfig, MailList};
pub use escalation::{PagerDutyConfig, RawPolicy, RawSchedule, RawStep, Schedule, ScheduleKind};
pub use explain::explain;
pub use feeds::{Feed, RawFeed};
pub use levels::default_definitions;
pub use live::Live;
pub use load::{ignored_env, load_raw, resolve_path};
pub use people::{Learned, Person, RawPerson, RawRotation};
pub use postmortem::PostmortemConfig;
pub use sections::{
    CommandScope, ConsoleConfig, DatabaseConfig, DiscordConfig, LogConfig, RemindersConfig,
    ServerConfig,
};
pub use tickets::{JiraConfig, TrackerWebhookConfig};
pub use web::WebConfig;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub console: ConsoleConfig,
    /// Person ids who may downgrade, cancel or close any SEV.
    #[serde(default)]
    pub admins: Vec<String>,
    #[serde(default)]
    pub people: Vec<RawPerson>,
    #[serde(default)]
    pub rotations: Vec<RawRotation>,
    #[serde(default = "default_definitions")]
    pub definitions: Vec<SevDefinition>,
    #[serde(default)]
    pub reminders: RemindersConfig,
    #[serde(default)]
    pub feeds: Vec<RawFeed>,
    #[serde(default)]
    pub discord: DiscordConfig,
    /// Person ids paged by an `exec` escalation step.
    #[serde(default)]
    pub execs: Vec<String>,
    #[serde(default)]
    pub escalation_policies: Vec<RawPolicy>,
    #[serde(default)]
    pub pagerduty: PagerDutyConfig,
    #[serde(default)]
    pub schedules: Vec<RawSchedule>,
    #[serde(default)]
    pub availability: AvailabilityConfig,
    #[serde(default)]
    pub postmortem: PostmortemConfig,
    #[serde(default)]
    pub email: EmailConfig,
    #[serde(default)]
    pub jira: JiraConfig,
    #[serde(default)]
    pub tracker_webhook: TrackerWebhookConfig,
    #[serde(default)]
    pub web: WebConfig,
    #[serde(default)]
    pub drills: DrillsConfig,
}

/// The validated configuration the program runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub console: ConsoleConfig,
    /// Person ids who may downgrade, cancel or close any SEV.
    pub admins: Vec<String>,
    /// What each level means; all four, in order.
    pub definitions: Vec<SevDefinition>,
    pub reminders: RemindersConfig,
    pub discord: DiscordConfig,
    /// Person ids paged by an `exec` escalation step.
    pub execs: Vec<String>,
    pub pagerduty: PagerDutyConfig,
    pub availability: AvailabilityConfig,
    pub email: EmailConfig,
    pub jira: JiraConfig,
    pub tracker_webhook: TrackerWebhookConfig,
    pub web: WebConfig,
    pub drills: DrillsConfig,
    pub people: Vec<Person>,
    pub rotations: Vec<Rotation>,
    pub feeds: Vec<Feed>,
    pub policies: Vec<Policy>,
    pub schedules: Vec<Schedule>,
    /// The customer update template (minijinja).
    pub draft_template: String,
    /// The postmortem template (minijinja, Markdown).
    pub postmortem_template: String,
    /// Platform handles learned while running (Slack users found by e-mail), shared by
    /// every clone, so a look-up that succeeds late serves mentions, pages and commands.
    pub learned: Learned,
}

impl Config {
    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.id == id)
    }

    /// The person behind a platform handle; a person id is accepted too, so `@alice` works
    /// on any platform for people named in the config.
    pub fn person_by_handle(&self, platform: &str, handle: &str) -> Option<&Person> {
        self.people
            .iter()
            .find(|p| {
                p.handles
                    .get(platform)
                    .is_some_and(|h| h.eq_ignore_ascii_case(handle))
            })
            .or_else(|| {
                let learned = self.learned.person_for(platform, handle)?;
                self.person(&learned)
            })
            .or_else(|| {
                self.people
                    .iter()
                    .find(|p| p.id.eq_ignore_ascii_case(handle))
            })
    }

    /// The person's handle on `platform`: from the config, else as learned at run time.
    pub fn handle(&self, person: &str, platform: &str) -> Option<String> {
        self.person(person)
            .and_then(|p| p.handles.get(platform).cloned())
            .or_else(|| self.learned.get(platform, person))
    }

    /// A person's name from the config, else the id or handle as given (for places that
    /// name people without mentioning them).
    pub fn display_name(&self, id: &str) -> String {
        self.person(id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| id.to_string())
    }

    pub fn is_admin(&self, person: &str) -> bool {
        self.admins.iter().any(|a| a == person)
    }

    /// Whether `channel` is a feed the operator marked private, where restricted SEVs show
    /// in full.
    pub fn is_private_feed(&self, platform: &str, channel: &str) -> bool {
        self.feeds
            .iter()
            .any(|f| f.private && f.platform == platform && f.channel == channel)
    }

    pub fn update_cadence_minutes(&self, level: Level) -> u32 {
        self.reminders
            .update_cadence_minutes
            .get(usize::from(level.get()))
            .copied()
            .unwrap_or(0)
    }
}

/// One thing wrong with the configuration, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub location: String,
    pub message: String,
    pub fatal: bool,
}

impl Problem {
    pub fn error(location: String, message: String) -> Problem {
        Problem {
            location,
            message,
            fatal: true,
        }
    }

    pub fn warning(location: String, message: String) -> Problem {
        Problem {
            location,
            message,
            fatal: false,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.fatal { "error" } else { "warning" };
        write!(f, "{kind}: {}: {}", self.location, self.message)
    }
}

/// The configuration at `path` (with the environment) read and validated: the config when
/// nothing is fatal, every problem found, and the log settings to report them with (the
/// defaults when the file does not read).
pub struct Checked {
    pub config: Option<Config>,
    pub problems: Vec<Problem>,
    pub log: LogConfig,
}

pub fn check(path: Option<&std::path::Path>) -> Checked {
    let read = load::load(path);
    let mut problems = read.problems;
    let Some(raw) = read.value else {
        return Checked {
            config: None,
            problems,
            log: LogConfig::default(),
        };
    };
    let log = raw.log.clone();
    let read_cleanly = !problems.iter().any(|p| p.fatal);
    let mut more = Vec::new();
    names::check_platforms(&raw, &mut more);
    let platforms_known = !more.iter().any(|p| p.fatal);
    let (config, checked) = validate(raw);
    more.extend(checked);
    problems.extend(more.into_iter().filter_map(|p| read.dropped.place(p)));
    Checked {
        config: config.filter(|_| read_cleanly && platforms_known),
        problems,
        log,
    }
}

/// Validates everything and returns the config with all problems found (warnings do not
/// stop the bot; errors do).
pub fn validate(raw: RawConfig) -> (Option<Config>, Vec<Problem>) {
    let mut problems = Vec::new();
    sections::check_server(&raw.server, &mut problems);
    let (people, rotations) = people::people_and_rotations(&raw, &mut problems);
    levels::check_definitions(&raw.definitions, &mut problems);
    sections::check_reminders(&raw.reminders, &mut problems);
    let feeds = feeds::feeds(&raw.feeds, &mut problems);
    sections::check_discord(&raw.discord, &raw.people, &mut problems);
    let policies = escalation::parse_policies(&raw, &rotations, chrono::Utc::now(), &mut problems);
    let schedules = escalation::parse_schedules(&raw, &mut problems);
    availability::check(&raw.availability, &mut problems);
    let draft_template = availability::draft_template(&raw.availability, &mut problems);
    let postmortem_template = postmortem::template(&raw.postmortem, &mut problems);
    email::check(&raw.email, &mut problems);
    tickets::check(&raw.jira, &mut problems);
    web::check(&raw.web, &mut problems);
    drills::check(
        &raw.drills,
        raw.people.iter().map(|p| p.id.as_str()),
        &mut problems,
    );
    let ok = !problems.iter().any(|p| p.fatal);
    // The sections are handed on as checked; the raw lists they were checked from
    // (people, rotations, feeds, policies, schedules) stay here.
    let RawConfig {
        server,
        database,
        log,
        console,
        admins,
        definitions,
        reminders,
        discord,
        execs,
        pagerduty,
        availability,
        email,
        jira,
        tracker_webhook,
        web,
        drills,
        ..
    } = raw;
    let cfg = ok.then_some(Config {
        server,
        database,
        log,
        console,
        admins,
        definitions,
        reminders,
        discord,
        execs,
        pagerduty,
        availability,
        email,
        jira,
        tracker_webhook,
        web,
        drills,
        people,
        rotations,
        feeds,
        policies,
        schedules,
        draft_template,
        postmortem_template,
        learned: Learned::default(),
    });
    (cfg, problems)
}

/// A valid configuration from TOML text, for unit tests elsewhere in the crate.
#[cfg(test)]
pub(crate) fn from_toml(text: &str) -> Config {
    use figment::Figment;
    use figment::providers::{Format, Serialized, Toml};
    let raw: RawConfig = Figment::from(Serialized::defaults(RawConfig::empty()))
        .merge(Toml::string(text))
        .extract()
        .unwrap();
    let (cfg, problems) = validate(raw);
    cfg.unwrap_or_else(|| panic!("{problems:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::Figment;
    use figment::providers::{Format, Serialized, Toml};

    fn raw(toml: &str) -> RawConfig {
        Figment::from(Serialized::defaults(RawConfig::empty()))
            .merge(Toml::string(toml))
            .extract()
            .unwrap()
    }

    #[test]
    fn example_config_is_valid() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/sevbot.toml"))
                .unwrap();
        let (cfg, problems) = validate(raw(&text));
        assert!(problems.is_empty(), "{problems:?}");
        let cfg = cfg.unwrap();
        assert!(!cfg.people.is_empty());
        assert!(!cfg.rotations.is_empty());
    }

    #[test]
    fn problems_carry_locations() {
        let (cfg, problems) = validate(raw(r#"
            admins = ["ghost"]
            [[people]]
            id = "alice"
            timezone = "Mars/Olympus"
            [[rotations]]
            name = "imoc"
            role = "imoc"
            members = ["alice", "zed"]
            start_date = "2026-13-01"
            "#));
        assert!(cfg.is_none());
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        let has = |s: &str| text.iter().any(|t| t.contains(s));
        assert!(
            has("error: admins[0]: unknown person \"ghost\""),
            "{text:?}"
        );
        assert!(
            has("people[0] (alice).timezone: unknown timezone"),
            "{text:?}"
        );
        assert!(
            has("rotations[0] (imoc).members[1]: unknown person \"zed\""),
            "{text:?}"
        );
        assert!(has("rotations[0] (imoc).start_date"), "{text:?}");
        assert!(has("warning: rotations: no TLOC rotation"), "{text:?}");
    }

    #[test]
    fn typos_in_keys_fail_loudly() {
        let r: Result<RawConfig, _> = Figment::from(Serialized::defaults(RawConfig::empty()))
            .merge(Toml::string("[[people]]\nid = \"a\"\nemial = \"x\""))
            .extract();
        assert!(r.unwrap_err().to_string().contains("emial"));
    }

    #[test]
    fn definitions_must_be_ordered() {
        let (_, problems) = validate(raw(r#"
            [[definitions]]
            level = 0
            availability_below = 99.0
            summary = "a"
            [[definitions]]
            level = 1
            availability_below = 90.0
            summary = "b"
            "#));
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert!(
            text.iter()
                .any(|t| t.contains("SEV0 must need a lower availability")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.contains("SEV2 has no definition")),
            "{text:?}"
        );
    }
}
