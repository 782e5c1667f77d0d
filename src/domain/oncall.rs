//! Who is on call: rotations hand off at a local weekday and time, in their own timezone.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

use super::types::{Role, SevType};

#[derive(Debug, Clone, PartialEq)]
pub struct Rotation {
    pub name: String,
    pub role: Role,
    /// Empty means the rotation covers every SEV type.
    pub types: Vec<SevType>,
    /// Person ids, in hand-off order.
    pub members: Vec<String>,
    pub timezone: Tz,
    /// The day `members[0]` takes over; must fall on the hand-off weekday.
    pub start_date: NaiveDate,
    pub handoff_time: NaiveTime,
    /// 7 for weekly rotations.
    pub period_days: u32,
    /// Local hours the rotation is on duty (`start..end`, may wrap midnight); `None`
    /// means around the clock. Follow-the-sun teams are several rotations for one role.
    pub active_hours: Option<(NaiveTime, NaiveTime)>,
    /// Local weekdays the rotation is on duty; empty means every day.
    pub active_days: Vec<Weekday>,
}

impl Rotation {
    pub fn handoff_weekday(&self) -> Weekday {
        self.start_date.weekday()
    }

    /// The index in `members` of whoever is on call at `at`. Hand-offs count in local wall
    /// time, so a 09:00 hand-off stays at 09:00 across daylight-saving changes.
    pub fn on_call_index(&self, at: DateTime<Utc>) -> Option<usize> {
        if self.members.is_empty() || self.period_days == 0 {
            return None;
        }
        let local: NaiveDateTime = at.with_timezone(&self.timezone).naive_local();
        if !self.active_days.is_empty() && !self.active_days.contains(&local.weekday()) {
            return None;
        }
        if let Some((from, to)) = self.active_hours {
            let t = local.time();
            let on = if from <= to {
                t >= from && t < to
            } else {
                t >= from || t < to
            };
            if !on {
                return None;
            }
        }
        let start = self.start_date.and_time(self.handoff_time);
        let period = i64::from(self.period_days) * 86_400;
        let handoffs = (local - start).num_seconds().div_euclid(period);
        Some(handoffs.rem_euclid(self.members.len() as i64) as usize)
    }

    pub fn on_call(&self, at: DateTime<Utc>) -> Option<&str> {
        self.on_call_index(at).map(|i| self.members[i].as_str())
    }

    /// The next person in line (the secondary), when there is more than one member.
    pub fn secondary(&self, at: DateTime<Utc>) -> Option<&str> {
        let i = self.on_call_index(at)?;
        (self.members.len() > 1).then(|| self.members[(i + 1) % self.members.len()].as_str())
    }

    pub fn covers(&self, t: SevType) -> bool {
        self.types.is_empty() || self.types.contains(&t)
    }
}

/// Who fills `role` for a SEV of type `t` at `at`, and from which rotation: rotations
/// naming the type come before catch-all ones, and the first with someone on duty wins.
pub fn on_call_for(
    rotations: &[Rotation],
    role: Role,
    t: SevType,
    at: DateTime<Utc>,
) -> Option<(&Rotation, &str)> {
    let candidates = rotations.iter().filter(|r| r.role == role && r.covers(t));
    let (typed, general): (Vec<&Rotation>, Vec<&Rotation>) =
        candidates.partition(|r| !r.types.is_empty());
    typed
        .into_iter()
        .chain(general)
        .find_map(|r| r.on_call(at).map(|p| (r, p)))
}

/// The rotation that fills `role` for a SEV of type `t`: one naming the type wins over a
/// catch-all one.
pub fn rotation_for(rotations: &[Rotation], role: Role, t: SevType) -> Option<&Rotation> {
    let all: Vec<_> = rotations
        .iter()
        .filter(|r| r.role == role && r.covers(t))
        .collect();
    all.iter()
        .find(|r| !r.types.is_empty())
        .or_else(|| all.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rot(tz: Tz) -> Rotation {
        Rotation {
            name: "primary".into(),
            role: Role::Imoc,
            types: vec![],
            members: vec!["alice".into(), "bob".into(), "carol".into()],
            timezone: tz,
            start_date: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(), // a Monday
            handoff_time: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            period_days: 7,
            active_hours: None,
            active_days: vec![],
        }
    }

    fn at(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        tz.with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn weekly_handoff_at_local_time() {
        let tz = chrono_tz::Europe::Berlin;
        let r = rot(tz);
        assert_eq!(r.handoff_weekday(), Weekday::Mon);
        assert_eq!(r.on_call(at(tz, 2026, 1, 5, 9, 0)), Some("alice"));
        assert_eq!(r.on_call(at(tz, 2026, 1, 12, 8, 59)), Some("alice"));
        assert_eq!(r.on_call(at(tz, 2026, 1, 12, 9, 0)), Some("bob"));
        assert_eq!(r.on_call(at(tz, 2026, 1, 19, 9, 0)), Some("carol"));
        assert_eq!(r.on_call(at(tz, 2026, 1, 26, 9, 0)), Some("alice"));
        assert_eq!(r.secondary(at(tz, 2026, 1, 26, 9, 0)), Some("bob"));
        // Before the start the order runs backwards rather than leaving nobody on call.
        assert_eq!(r.on_call(at(tz, 2026, 1, 5, 8, 0)), Some("carol"));
    }

    #[test]
    fn handoff_stays_at_nine_across_dst() {
        let tz = chrono_tz::Europe::Berlin;
        let r = rot(tz);
        // Clocks go forward on 2026-03-29; the 2026-03-30 hand-off is still at 09:00 local.
        let before = r.on_call(at(tz, 2026, 3, 30, 8, 59)).unwrap().to_string();
        let after = r.on_call(at(tz, 2026, 3, 30, 9, 0)).unwrap().to_string();
        assert_ne!(before, after);
    }

    #[test]
    fn typed_rotation_wins() {
        let general = rot(chrono_tz::UTC);
        let mut security = rot(chrono_tz::UTC);
        security.name = "security".into();
        security.types = vec![SevType::Security];
        let rs = vec![general, security];
        assert_eq!(
            rotation_for(&rs, Role::Imoc, SevType::Security)
                .unwrap()
                .name,
            "security"
        );
        assert_eq!(
            rotation_for(&rs, Role::Imoc, SevType::Durability)
                .unwrap()
                .name,
            "primary"
        );
        assert!(rotation_for(&rs, Role::Bmoc, SevType::Durability).is_none());
    }

    #[test]
    fn follow_the_sun_rotations_hand_over_by_hours() {
        let tz = chrono_tz::UTC;
        let mut day = rot(tz);
        day.name = "day".into();
        day.active_hours = Some((
            NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(20, 0, 0).unwrap(),
        ));
        day.active_days = vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ];
        let mut night = rot(tz);
        night.name = "night".into();
        night.members = vec!["dave".into()];
        night.active_hours = Some((
            NaiveTime::from_hms_opt(20, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
        ));
        let rs = vec![day, night];
        let who = |d: u32, h: u32| {
            on_call_for(
                &rs,
                Role::Imoc,
                SevType::Availability,
                at(tz, 2026, 3, d, h, 0),
            )
            .map(|(r, p)| (r.name.clone(), p.to_string()))
        };
        assert_eq!(
            who(2, 10),
            Some(("day".into(), "carol".into())),
            "Monday 10:00"
        );
        assert_eq!(
            who(2, 21),
            Some(("night".into(), "dave".into())),
            "Monday 21:00 (wraps midnight)"
        );
        assert_eq!(who(3, 7), Some(("night".into(), "dave".into())));
        assert_eq!(who(7, 12), None, "Saturday noon: nobody");
    }

    #[test]
    fn empty_rotation_has_nobody() {
        let mut r = rot(chrono_tz::UTC);
        r.members.clear();
        assert_eq!(r.on_call(Utc::now()), None);
    }
}
