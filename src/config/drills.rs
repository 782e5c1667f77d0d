//! `[drills]`: who volunteers to take part in practice SEVs, and the scripted scenarios
//! (`config/drills/*.toml`, one file per scenario, named by its file) that feed them
//! prompts and availability samples over time.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Problem, names};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillsConfig {
    /// Person ids paged and invited with whoever starts a drill; nobody else takes part.
    #[serde(default)]
    pub volunteers: Vec<String>,
    /// The folder of scenario files, relative to the config file.
    #[serde(default)]
    pub scenarios_dir: Option<String>,
    /// The scenarios read from it, by name (the file's name without `.toml`).
    #[serde(skip)]
    pub scenarios: BTreeMap<String, Scenario>,
}

/// A scripted practice incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The drill's title (shown after "DRILL: "); required (checked, so that each key of
    /// the file is read and reported on its own).
    #[serde(default)]
    pub title: String,
    /// What the trainee is told at the start (the first timeline note).
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub steps: Vec<Step>,
}

/// What happens `after_minutes` into the drill: a prompt, and what monitoring would show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub after_minutes: u32,
    pub prompt: String,
    #[serde(default)]
    pub samples: Vec<Sample>,
}

/// One route's requests and failures in the scenario's make-believe minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    pub route: String,
    pub requests: u64,
    pub failures: u64,
}

/// A drill may run a day at most: a step later than that is a typo.
const LONGEST_MINUTES: u32 = 24 * 60;

/// Reads every `*.toml` in `scenarios_dir` (relative to the config file's directory).
pub(super) fn load(d: &mut DrillsConfig, config_path: Option<&Path>, problems: &mut Vec<Problem>) {
    let Some(dir) = &d.scenarios_dir else {
        return;
    };
    let base = config_path.and_then(Path::parent).unwrap_or(Path::new("."));
    let dir = base.join(dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(Problem::error(
                "drills.scenarios_dir".into(),
                format!("{}: {e}", dir.display()),
            ));
            return;
        }
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for path in files {
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(Problem::error(shown, e.to_string()));
                continue;
            }
        };
        use figment::providers::{Format, Toml};
        let read =
            super::read::read::<Scenario>(&figment::Figment::from(Toml::string(&text)), &shown);
        problems.extend(read.problems.into_iter().map(|mut p| {
            if !p.location.starts_with(&shown) {
                p.location = format!("{shown}: {}", p.location);
            }
            p
        }));
        if let Some(s) = read.value {
            d.scenarios.insert(name.to_ascii_lowercase(), s);
        }
    }
}

pub(super) fn check<'a>(
    d: &DrillsConfig,
    people: impl IntoIterator<Item = &'a str> + Clone,
    problems: &mut Vec<Problem>,
) {
    for (i, v) in d.volunteers.iter().enumerate() {
        if !people.clone().into_iter().any(|p| p == v) {
            problems.push(Problem::error(
                format!("drills.volunteers[{i}]"),
                names::unknown_person(v, people.clone()),
            ));
        }
    }
    for (name, s) in &d.scenarios {
        let at = |what: String| format!("drills scenario \"{name}\": {what}");
        if s.title.trim().is_empty() {
            problems.push(Problem::error(
                at("title".into()),
                "missing: name the incident the drill plays".into(),
            ));
        }
        for (i, step) in s.steps.iter().enumerate() {
            if step.prompt.trim().is_empty() {
                problems.push(Problem::error(
                    at(format!("steps[{i}].prompt")),
                    "empty: say what the trainee sees".into(),
                ));
            }
            if step.after_minutes > LONGEST_MINUTES {
                problems.push(Problem::error(
                    at(format!("steps[{i}].after_minutes")),
                    format!("{} is more than a day", step.after_minutes),
                ));
            }
            if i > 0 && step.after_minutes < s.steps[i - 1].after_minutes {
                problems.push(Problem::error(
                    at(format!("steps[{i}].after_minutes")),
                    "steps must come in order of time".into(),
                ));
            }
            for (j, x) in step.samples.iter().enumerate() {
                if x.failures > x.requests || x.requests == 0 || x.route.trim().is_empty() {
                    problems.push(Problem::error(
                        at(format!("steps[{i}].samples[{j}]")),
                        "needs a route, requests > 0 and failures ≤ requests".into(),
                    ));
                }
            }
        }
    }
}
