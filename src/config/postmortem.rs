//! `[postmortem]`: the template each SEV's postmortem is rendered from.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Problem;

pub const DEFAULT_POSTMORTEM_TEMPLATE: &str =
    include_str!("../../config/templates/postmortem.md.j2");

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostmortemConfig {
    /// The postmortem template (minijinja, Markdown), relative to the config file; the
    /// built-in one (config/templates/postmortem.md.j2) when absent.
    #[serde(default)]
    pub template: Option<String>,
    /// The template's text, read at load time.
    #[serde(skip)]
    pub template_text: Option<String>,
}

/// Reads `template` relative to the config file's directory.
pub(super) fn load(
    p: &mut PostmortemConfig,
    config_path: Option<&Path>,
    problems: &mut Vec<Problem>,
) {
    let Some(t) = &p.template else {
        return;
    };
    let base = config_path.and_then(Path::parent).unwrap_or(Path::new("."));
    let path = base.join(t);
    match std::fs::read_to_string(&path) {
        Ok(text) => p.template_text = Some(text),
        Err(e) => problems.push(Problem::error(
            "postmortem.template".into(),
            format!("{}: {e}", path.display()),
        )),
    }
}

/// The template's text, checked to compile.
pub(super) fn template(p: &PostmortemConfig, problems: &mut Vec<Problem>) -> String {
    let text = p
        .template_text
        .clone()
        .unwrap_or_else(|| DEFAULT_POSTMORTEM_TEMPLATE.to_string());
    if let Err(e) = minijinja::Environment::new().template_from_str(&text) {
        problems.push(Problem::error(
            "postmortem.template".into(),
            format!("the template does not compile: {e}"),
        ));
    }
    text
}
