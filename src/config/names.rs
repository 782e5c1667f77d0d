//! Names the config refers to (people, rotations, platforms, timezones), checked with a
//! did-you-mean, so a typo is answered with the name that was meant.

use chrono_tz::Tz;

use super::{Problem, RawConfig};
pub use crate::domain::suggest::hint;

/// The chat platforms a feed, schedule or handle may name.
pub const PLATFORMS: [&str; 3] = ["console", "slack", "discord"];

/// `unknown person "dav"; did you mean "dave"?`
pub fn unknown_person<'a>(id: &str, people: impl IntoIterator<Item = &'a str>) -> String {
    format!("unknown person \"{id}\"{}", hint(id, people))
}

/// What is wrong with a platform name, if anything.
fn unknown_platform(name: &str) -> Option<String> {
    (!PLATFORMS.contains(&name)).then(|| {
        format!(
            "unknown platform \"{name}\"{} (one of {})",
            hint(name, PLATFORMS),
            PLATFORMS.join(", ")
        )
    })
}

/// Every platform the config names, checked against the binary's platforms. (The library
/// takes any platform an embedder registers, so `validate` leaves names alone.)
pub fn check_platforms(raw: &RawConfig, problems: &mut Vec<Problem>) {
    // A handle for a platform sevbot does not have is never used (a warning); a post
    // meant for one would wait forever (an error).
    for (i, p) in raw.people.iter().enumerate() {
        for platform in p.handles.keys() {
            if let Some(m) = unknown_platform(platform) {
                let at = format!("people[{i}] ({}).handles.{platform}", p.id);
                problems.push(Problem::warning(at, format!("{m}: never used")));
            }
        }
    }
    let mut check = |name: &str, location: String| {
        if let Some(m) = unknown_platform(name) {
            problems.push(Problem::error(location, m));
        }
    };
    for (i, f) in raw.feeds.iter().enumerate() {
        check(&f.platform, format!("feeds[{i}].platform"));
    }
    for (i, s) in raw.schedules.iter().enumerate() {
        check(&s.platform, format!("schedules[{i}] ({}).platform", s.name));
    }
    let a = &raw.availability;
    check(&a.platform, "availability.platform".into());
    if let Some(d) = &a.customer_updates {
        check(&d.platform, "availability.customer_updates.platform".into());
    }
}

pub fn parse_tz(s: &str) -> Result<Tz, String> {
    s.parse::<Tz>().map_err(|_| {
        let guess = hint(s, chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()));
        format!("unknown timezone \"{s}\"{guess} (an IANA name like Europe/Berlin)")
    })
}
