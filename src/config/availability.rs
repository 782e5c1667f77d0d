//! Route availability in the config: the route catalogue (usually `config/routes.toml`),
//! SEV-worthiness thresholds per bucket, the confirmation window and hysteresis, where
//! auto-declared SEVs and approved customer updates go, and the SLA targets.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Problem;
use crate::domain::impact::{Bucket, Route, Thresholds};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityConfig {
    /// A TOML file of `[[routes]]`, relative to the config file.
    #[serde(default)]
    pub routes_file: Option<String>,
    /// Minutes impact must stay SEV-worthy before a SEV is filed.
    #[serde(default = "default_confirm")]
    pub confirm_minutes: u32,
    /// Hysteresis: the share of the gap between a threshold and 100% a degraded route
    /// must close to count as recovered (0.5 with a 99.5% threshold: above 99.75%).
    #[serde(default = "default_margin")]
    pub recover_margin: f64,
    /// Environment variable holding the bearer secret of `POST /api/v1/availability`
    /// and `POST /hooks/alertmanager`.
    #[serde(default = "default_token_env")]
    pub token_env: String,
    /// Where auto-declared SEVs are opened (their platform, and the channel told).
    #[serde(default = "default_platform")]
    pub platform: String,
    #[serde(default = "default_channel")]
    pub channel: String,
    /// Where approved customer updates are posted.
    #[serde(default)]
    pub customer_updates: Option<Destination>,
    /// The customer update template (minijinja), relative to the config file; the
    /// built-in one (config/templates/customer_update.j2) when absent.
    #[serde(default)]
    pub draft_template: Option<String>,
    /// The template's text, read at load time.
    #[serde(skip)]
    pub draft_template_text: Option<String>,
    /// A status page webhook receiving approved customer updates as JSON.
    #[serde(default)]
    pub status_page_url: Option<String>,
    /// PromQL returning a success ratio per `route` label; polled when `PROMETHEUS_URL`
    /// is set.
    #[serde(default = "default_query")]
    pub prometheus_query: String,
    #[serde(default = "default_poll")]
    pub prometheus_poll_seconds: u32,
    /// Contractual and internal availability targets for the month.
    #[serde(default = "default_contract")]
    pub sla_contract: f64,
    #[serde(default = "default_internal")]
    pub sla_internal: f64,
    /// The share of an availability SEV's open time counted as downtime, SEV0..SEV3.
    #[serde(default = "default_weights")]
    pub downtime_weights: [f64; 4],
    /// Availability (percent) below which a route of each bucket is worth SEV0..SEV3;
    /// 0 means "never this level".
    #[serde(default)]
    pub thresholds: RawThresholds,
    /// Alertmanager `severity` label → level.
    #[serde(default = "default_alert_levels")]
    pub alert_levels: std::collections::BTreeMap<String, u8>,
    /// Accept alerts whose `route` label is not in the catalogue (filed under the route
    /// they name); by default such a webhook is refused with 422.
    #[serde(default)]
    pub file_unknown_routes: bool,
    #[serde(default)]
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    pub platform: String,
    pub channel: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThresholds {
    pub critical: [f64; 4],
    pub high: [f64; 4],
    pub medium: [f64; 4],
}

impl Default for RawThresholds {
    fn default() -> Self {
        let t = Thresholds::default();
        let raw = |a: &[Option<f64>; 4]| a.map(|x| x.unwrap_or(0.0));
        RawThresholds {
            critical: raw(&t.critical),
            high: raw(&t.high),
            medium: raw(&t.medium),
        }
    }
}

impl RawThresholds {
    pub fn thresholds(&self) -> Thresholds {
        let f = |a: &[f64; 4]| a.map(|x| (x > 0.0).then_some(x));
        Thresholds {
            critical: f(&self.critical),
            high: f(&self.high),
            medium: f(&self.medium),
        }
    }
}

fn default_confirm() -> u32 {
    3
}
fn default_margin() -> f64 {
    0.5
}
fn default_token_env() -> String {
    "MONITORING_TOKEN".into()
}
fn default_platform() -> String {
    "console".into()
}
fn default_channel() -> String {
    "general".into()
}
fn default_query() -> String {
    "route:availability:ratio_rate5m".into()
}
fn default_poll() -> u32 {
    30
}
fn default_contract() -> f64 {
    99.9
}
fn default_internal() -> f64 {
    99.95
}
fn default_weights() -> [f64; 4] {
    [1.0, 0.5, 0.1, 0.0]
}
fn default_alert_levels() -> std::collections::BTreeMap<String, u8> {
    [
        ("critical".to_string(), 1),
        ("warning".to_string(), 2),
        ("info".to_string(), 3),
    ]
    .into()
}

impl Default for AvailabilityConfig {
    fn default() -> Self {
        AvailabilityConfig {
            routes_file: None,
            confirm_minutes: default_confirm(),
            recover_margin: default_margin(),
            token_env: default_token_env(),
            platform: default_platform(),
            channel: default_channel(),
            customer_updates: None,
            draft_template: None,
            draft_template_text: None,
            status_page_url: None,
            prometheus_query: default_query(),
            prometheus_poll_seconds: default_poll(),
            sla_contract: default_contract(),
            sla_internal: default_internal(),
            downtime_weights: default_weights(),
            thresholds: RawThresholds::default(),
            alert_levels: default_alert_levels(),
            file_unknown_routes: false,
            routes: vec![],
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutesFile {
    routes: Vec<Route>,
}

/// Prometheus is never polled more often than this (a rate over 5 minutes does not move
/// faster, and a busy Prometheus should not be hammered).
pub const MIN_POLL_SECONDS: u32 = 5;

/// The built-in customer update template.
pub const DEFAULT_DRAFT_TEMPLATE: &str = include_str!("../../config/templates/customer_update.j2");

/// Reads `routes_file` and `draft_template` (relative to the config file's directory).
pub(super) fn load_routes(
    a: &mut AvailabilityConfig,
    config_path: Option<&Path>,
    problems: &mut Vec<Problem>,
) {
    let base = config_path.and_then(Path::parent).unwrap_or(Path::new("."));
    if let Some(t) = &a.draft_template {
        let path = base.join(t);
        match std::fs::read_to_string(&path) {
            Ok(text) => a.draft_template_text = Some(text),
            Err(e) => problems.push(Problem::error(
                "availability.draft_template".into(),
                format!("{}: {e}", path.display()),
            )),
        }
    }
    let Some(file) = &a.routes_file else {
        return;
    };
    let path = base.join(file);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            let at = "availability.routes_file".into();
            problems.push(Problem::error(at, format!("{}: {e}", path.display())));
            return;
        }
    };
    use figment::providers::{Format, Toml};
    let shown = path.display().to_string();
    let read =
        super::read::read::<RoutesFile>(&figment::Figment::from(Toml::string(&text)), &shown);
    // Locations inside the routes file name it, not the main file.
    problems.extend(read.problems.into_iter().map(|mut p| {
        if !p.location.starts_with(&shown) {
            p.location = format!("{shown}: {}", p.location);
        }
        p
    }));
    if let Some(parsed) = read.value {
        a.routes.extend(parsed.routes);
    }
}

pub(super) fn check(a: &AvailabilityConfig, problems: &mut Vec<Problem>) {
    risky(a, problems);
    let mut ids = std::collections::HashSet::new();
    for (i, r) in a.routes.iter().enumerate() {
        let loc = format!("routes[{i}] ({})", r.id);
        if !ids.insert(r.id.as_str()) {
            problems.push(Problem::error(
                loc.clone(),
                format!("duplicate route id \"{}\"", r.id),
            ));
        }
        if r.description.trim().is_empty() {
            problems.push(Problem::error(
                loc.clone(),
                "needs a customer-facing description".into(),
            ));
        }
        if r.users_per_minute < 0.0 {
            problems.push(Problem::error(
                loc,
                "users_per_minute cannot be negative".into(),
            ));
        }
    }
    for b in Bucket::ALL {
        let t = match b {
            Bucket::Critical => a.thresholds.critical,
            Bucket::High => a.thresholds.high,
            Bucket::Medium => a.thresholds.medium,
        };
        let set: Vec<f64> = t.iter().copied().filter(|x| *x > 0.0).collect();
        if set.windows(2).any(|w| w[0] > w[1]) || t.iter().any(|x| *x > 100.0) {
            problems.push(Problem::error(
                format!("availability.thresholds.{}", b.as_str()),
                "thresholds are availability percentages for SEV0..SEV3 and must not decrease (SEV0 is the lowest availability)".into(),
            ));
        }
    }
    for (name, target) in [
        ("sla_contract", a.sla_contract),
        ("sla_internal", a.sla_internal),
    ] {
        if !(0.0..100.0).contains(&target) {
            problems.push(Problem::error(
                format!("availability.{name}"),
                "must be a percentage below 100".into(),
            ));
        }
    }
    for (k, l) in &a.alert_levels {
        if *l > 3 {
            problems.push(Problem::error(
                format!("availability.alert_levels.{k}"),
                "levels are 0..3".into(),
            ));
        }
    }
}

/// Values that work but are likely to hurt: said at start-up, not refused.
fn risky(a: &AvailabilityConfig, problems: &mut Vec<Problem>) {
    if a.confirm_minutes == 0 {
        problems.push(Problem::warning(
            "availability.confirm_minutes".into(),
            "0 files an availability SEV on the first bad sample, so one noisy scrape pages people; 2-5 minutes rides out blips".into(),
        ));
    }
    if a.prometheus_poll_seconds < MIN_POLL_SECONDS {
        problems.push(Problem::warning(
            "availability.prometheus_poll_seconds".into(),
            format!(
                "{} is raised to {MIN_POLL_SECONDS}: Prometheus is polled at most every {MIN_POLL_SECONDS} seconds",
                a.prometheus_poll_seconds
            ),
        ));
    }
}

/// The template to render drafts with, checked to compile.
pub(super) fn draft_template(a: &AvailabilityConfig, problems: &mut Vec<Problem>) -> String {
    let text = a
        .draft_template_text
        .clone()
        .unwrap_or_else(|| DEFAULT_DRAFT_TEMPLATE.to_string());
    let env = minijinja::Environment::new();
    if let Err(e) = env.template_from_str(&text) {
        problems.push(Problem::error(
            "availability.draft_template".into(),
            format!("the template does not compile: {e}"),
        ));
    }
    text
}
