//! The SEV vocabulary: type, level, stage, role and the human id.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum SevType {
    Availability,
    Durability,
    Security,
    FeatureDegradation,
}

impl SevType {
    pub const ALL: [SevType; 4] = [
        SevType::Availability,
        SevType::Durability,
        SevType::Security,
        SevType::FeatureDegradation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SevType::Availability => "availability",
            SevType::Durability => "durability",
            SevType::Security => "security",
            SevType::FeatureDegradation => "feature-degradation",
        }
    }

    /// Accepts the canonical name and the short forms people type under stress.
    pub fn parse(s: &str) -> Option<SevType> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "availability" | "avail" => Some(SevType::Availability),
            "durability" | "data-loss" => Some(SevType::Durability),
            "security" | "sec" => Some(SevType::Security),
            "feature-degradation" | "feature" | "degradation" => Some(SevType::FeatureDegradation),
            _ => None,
        }
    }
}

impl fmt::Display for SevType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SEV level 0–3; 0 is the most critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Level(u8);

impl Level {
    pub const MOST_CRITICAL: Level = Level(0);
    pub const LEAST_CRITICAL: Level = Level(3);

    pub fn new(n: u8) -> Option<Level> {
        (n <= 3).then_some(Level(n))
    }

    pub fn get(self) -> u8 {
        self.0
    }

    pub fn all() -> impl Iterator<Item = Level> {
        (0..=3).map(Level)
    }
}

impl TryFrom<u8> for Level {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, Self::Error> {
        Level::new(n).ok_or_else(|| format!("level must be 0-3, got {n}"))
    }
}

impl From<Level> for u8 {
    fn from(l: Level) -> u8 {
        l.0
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SEV{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Declared,
    Investigating,
    Mitigated,
    Resolved,
    Closed,
    Cancelled,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Declared,
        Stage::Investigating,
        Stage::Mitigated,
        Stage::Resolved,
        Stage::Closed,
        Stage::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Declared => "declared",
            Stage::Investigating => "investigating",
            Stage::Mitigated => "mitigated",
            Stage::Resolved => "resolved",
            Stage::Closed => "closed",
            Stage::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Open SEVs still need people: they are listed, reminded and can change level.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Stage::Declared | Stage::Investigating | Stage::Mitigated
        )
    }

    pub fn is_final(self) -> bool {
        matches!(self, Stage::Closed | Stage::Cancelled)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Imoc,
    Tloc,
    Bmoc,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Imoc, Role::Tloc, Role::Bmoc];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Imoc => "imoc",
            Role::Tloc => "tloc",
            Role::Bmoc => "bmoc",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
    }

    pub fn title(self) -> &'static str {
        match self {
            Role::Imoc => "IMOC",
            Role::Tloc => "TLOC",
            Role::Bmoc => "BMOC",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// The human id people say out loud: `SEV-42`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SevId(pub i64);

impl SevId {
    /// Accepts `SEV-42`, `sev42`, `#42`; never a bare number, which would be ambiguous with levels.
    pub fn parse(s: &str) -> Option<SevId> {
        let lower = s.to_ascii_lowercase();
        let digits = lower
            .strip_prefix("sev-")
            .or_else(|| lower.strip_prefix("sev"))
            .or_else(|| lower.strip_prefix('#'))?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 15 {
            return None;
        }
        // `sev1` alone is far more likely a level than SEV-1; only accept it with a dash
        // when it could be read as a level.
        if !lower.starts_with("sev-") && !lower.starts_with('#') {
            return None;
        }
        digits.parse().ok().filter(|n| *n > 0).map(SevId)
    }
}

impl fmt::Display for SevId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SEV-{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip_and_aliases() {
        for t in SevType::ALL {
            assert_eq!(SevType::parse(t.as_str()), Some(t));
        }
        assert_eq!(
            SevType::parse("Feature_Degradation"),
            Some(SevType::FeatureDegradation)
        );
        assert_eq!(SevType::parse("outage"), None);
    }

    #[test]
    fn levels_are_bounded() {
        assert!(Level::new(3).is_some());
        assert!(Level::new(4).is_none());
        assert_eq!(Level::new(1).unwrap().to_string(), "SEV1");
    }

    #[test]
    fn sev_ids() {
        assert_eq!(SevId::parse("SEV-42"), Some(SevId(42)));
        assert_eq!(SevId::parse("sev-7"), Some(SevId(7)));
        assert_eq!(SevId::parse("#9"), Some(SevId(9)));
        assert_eq!(SevId::parse("sev1"), None);
        assert_eq!(SevId::parse("SEV-"), None);
        assert_eq!(SevId::parse("SEV-0"), None);
        assert_eq!(SevId::parse("SEV-4x"), None);
        assert_eq!(SevId(3).to_string(), "SEV-3");
    }

    #[test]
    fn open_and_final_stages() {
        assert!(Stage::Mitigated.is_open());
        assert!(!Stage::Resolved.is_open());
        assert!(Stage::Cancelled.is_final());
        assert!(!Stage::Resolved.is_final());
    }
}
