//! Feed filters: which SEVs a subscribed channel hears about.

use serde::{Deserialize, Serialize};

use super::suggest::closest;
use super::types::{Level, SevType};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedFilter {
    /// Empty means every type.
    #[serde(default)]
    pub types: Vec<SevType>,
    /// Only SEVs at this level or more critical (a lower number).
    #[serde(default)]
    pub max_level: Option<Level>,
}

impl FeedFilter {
    pub fn matches(&self, sev_type: SevType, level: Level) -> bool {
        (self.types.is_empty() || self.types.contains(&sev_type))
            && self.max_level.is_none_or(|m| level <= m)
    }

    /// Parses `type=a,b` and `level<=N` (bare type names are accepted too). Errors carry
    /// the reason and a did-you-mean.
    pub fn parse(words: &[&str]) -> Result<FeedFilter, (String, Option<String>)> {
        let mut f = FeedFilter::default();
        for w in words {
            let lower = w.to_ascii_lowercase();
            if let Some(list) = lower.strip_prefix("type=") {
                for t in list.split(',').filter(|t| !t.is_empty()) {
                    f.add_type(t)?;
                }
            } else if let Some(n) = lower
                .strip_prefix("level<=")
                .or_else(|| lower.strip_prefix("max-level="))
            {
                let lvl = n
                    .trim_start_matches("sev")
                    .parse::<u8>()
                    .ok()
                    .and_then(Level::new)
                    .ok_or_else(|| (format!("\"{w}\": levels are 0-3."), None))?;
                f.max_level = Some(lvl);
            } else if SevType::parse(&lower).is_some() {
                f.add_type(&lower)?;
            } else {
                let guess = closest(&lower, ["type=", "level<="])
                    .map(str::to_string)
                    .or_else(|| {
                        closest(&lower, SevType::ALL.map(|t| t.as_str()))
                            .map(|t| format!("type={t}"))
                    });
                return Err((format!("Unknown filter \"{w}\"."), guess));
            }
        }
        Ok(f)
    }

    fn add_type(&mut self, t: &str) -> Result<(), (String, Option<String>)> {
        let ty = SevType::parse(t).ok_or_else(|| {
            (
                format!("Unknown SEV type \"{t}\"."),
                closest(t, SevType::ALL.map(|t| t.as_str())).map(|g| format!("type={g}")),
            )
        })?;
        if !self.types.contains(&ty) {
            self.types.push(ty);
        }
        Ok(())
    }

    pub fn describe(&self) -> String {
        let types = if self.types.is_empty() {
            "all types".to_string()
        } else {
            self.types
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.max_level {
            Some(l) => format!("{types}, {l} and more critical"),
            None => format!("{types}, every level"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        let f = FeedFilter::parse(&["type=availability", "level<=1"]).unwrap();
        let l = |n| Level::new(n).unwrap();
        assert!(f.matches(SevType::Availability, l(0)));
        assert!(f.matches(SevType::Availability, l(1)));
        assert!(!f.matches(SevType::Availability, l(2)));
        assert!(!f.matches(SevType::Security, l(0)));
        assert!(FeedFilter::default().matches(SevType::Durability, l(3)));
        assert_eq!(f.describe(), "availability, SEV1 and more critical");
    }

    #[test]
    fn mistakes() {
        let (why, guess) = FeedFilter::parse(&["type=securty"]).unwrap_err();
        assert!(why.contains("securty"));
        assert_eq!(guess.as_deref(), Some("type=security"));
        let (_, guess) = FeedFilter::parse(&["availabilty"]).unwrap_err();
        assert_eq!(guess.as_deref(), Some("type=availability"));
        assert!(FeedFilter::parse(&["level<=4"]).is_err());
        assert_eq!(
            FeedFilter::parse(&["security", "type=security"])
                .unwrap()
                .types,
            vec![SevType::Security]
        );
    }
}
