//! A moment someone types to ask "who then?": `sat 03:00`, `03:00`, `2026-12-05 03:00`, or
//! an exact RFC 3339 time. Without an offset it is a wall-clock time, read in the timezone
//! of whatever it is asked about (the rotation's), and the next such moment from now.

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// An exact instant (it carried an offset or `Z`).
    Exact(DateTime<Utc>),
    /// A wall-clock time: on that date, on the next such weekday, or the next time the
    /// clock shows it.
    Local {
        date: Option<NaiveDate>,
        weekday: Option<Weekday>,
        time: NaiveTime,
    },
}

/// What people may type, for error messages.
pub const FORMS: &str = "a time like 03:00, sat 03:00, 2026-12-05 03:00 or 2026-12-05T03:00:00Z";

impl When {
    pub fn parse(words: &[&str]) -> Option<When> {
        match words {
            [one] => {
                if let Ok(t) = DateTime::parse_from_rfc3339(one) {
                    return Some(When::Exact(t.with_timezone(&Utc)));
                }
                if let Ok(dt) = NaiveDateTime::parse_from_str(one, "%Y-%m-%dT%H:%M") {
                    return Some(local(Some(dt.date()), None, dt.time()));
                }
                Some(local(None, None, time(one)?))
            }
            [day, t] => {
                let time = time(t)?;
                if let Ok(d) = NaiveDate::parse_from_str(day, "%Y-%m-%d") {
                    return Some(local(Some(d), None, time));
                }
                Some(local(None, Some(day.parse::<Weekday>().ok()?), time))
            }
            _ => None,
        }
    }

    /// The instant it means in `tz`, asked at `now`: the next matching moment at or after
    /// now for a weekday or bare time; a wall-clock time that does not exist there (a
    /// daylight-saving gap) is taken an hour later.
    pub fn resolve(self, tz: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
        let (date, weekday, time) = match self {
            When::Exact(t) => return t,
            When::Local {
                date,
                weekday,
                time,
            } => (date, weekday, time),
        };
        let at = |d: NaiveDate| in_zone(tz, d.and_time(time));
        if let Some(d) = date {
            return at(d);
        }
        let today = now.with_timezone(&tz).date_naive();
        (0..=7)
            .map(|n| today + Duration::days(n))
            .filter(|d| weekday.is_none_or(|w| d.weekday() == w))
            .map(at)
            .find(|t| *t >= now)
            .unwrap_or_else(|| at(today + Duration::days(7)))
    }
}

fn local(date: Option<NaiveDate>, weekday: Option<Weekday>, time: NaiveTime) -> When {
    When::Local {
        date,
        weekday,
        time,
    }
}

fn time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

fn in_zone(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    tz.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(local + Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&local))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn at(text: &str, tz: Tz, now: &str) -> String {
        let words: Vec<&str> = text.split_whitespace().collect();
        When::parse(&words)
            .unwrap_or_else(|| panic!("{text}"))
            .resolve(tz, utc(now))
            .to_rfc3339()
    }

    #[test]
    fn times_are_read_in_the_zone_and_are_the_next_such_moment() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // Wednesday 2026-12-02 20:00 UTC = 21:00 in Berlin.
        let now = "2026-12-02T20:00:00Z";
        assert_eq!(at("sat 03:00", berlin, now), "2026-12-05T02:00:00+00:00");
        assert_eq!(
            at("saturday 03:00", berlin, now),
            "2026-12-05T02:00:00+00:00"
        );
        assert_eq!(
            at("22:00", berlin, now),
            "2026-12-02T21:00:00+00:00",
            "later today"
        );
        assert_eq!(
            at("20:00", berlin, now),
            "2026-12-03T19:00:00+00:00",
            "passed: tomorrow"
        );
        assert_eq!(
            at("wed 20:00", berlin, now),
            "2026-12-09T19:00:00+00:00",
            "next week"
        );
        assert_eq!(
            at("2026-07-01 09:00", berlin, now),
            "2026-07-01T07:00:00+00:00",
            "summer time"
        );
        assert_eq!(
            at("2026-07-01T09:00", berlin, now),
            "2026-07-01T07:00:00+00:00"
        );
        assert_eq!(
            at("2026-12-05T03:00:00Z", berlin, now),
            "2026-12-05T03:00:00+00:00",
            "exact"
        );
        // 02:30 does not exist in Berlin on 2026-03-29: an hour later.
        assert_eq!(
            at("2026-03-29 02:30", berlin, now),
            "2026-03-29T01:30:00+00:00"
        );
    }

    #[test]
    fn anything_else_is_not_a_time() {
        for bad in [
            "",
            "soon",
            "sat",
            "25:00",
            "sat 3pm",
            "2026-13-01 03:00",
            "a b c",
        ] {
            let words: Vec<&str> = bad.split_whitespace().collect();
            assert_eq!(When::parse(&words), None, "{bad}");
        }
    }
}
