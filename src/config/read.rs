//! Reading merged layers into a typed config, reporting every structural problem (unknown
//! key, wrong type, bad value) in the user's own words: figment alone stops at the first
//! one and names it by its internal path (`default.people.0.emial`).
//!
//! Each top-level key, and each element of a top-level list, is read on its own, so one
//! mistake does not hide the next. Within one unit an unknown key is reported and dropped
//! and the unit read again; any other problem ends that unit (reading on would only
//! report what follows from it, such as the key it made missing).

use figment::Figment;
use figment::error::Kind;
use figment::value::{Dict, Tag, Value};
use serde::de::DeserializeOwned;

use super::Problem;
use crate::domain::suggest::hint;

/// What was read: the config when it reads (unknown keys dropped, units that did not read
/// left out, so the rest can still be checked), every problem found on the way, and what
/// was left out.
pub(super) struct Read<T> {
    pub value: Option<T>,
    pub problems: Vec<Problem>,
    pub dropped: Dropped,
}

impl<T> Read<T> {
    /// Nothing read: the one problem that stopped it.
    pub(super) fn failed(problem: Problem) -> Read<T> {
        Read {
            value: None,
            problems: vec![problem],
            dropped: Dropped::default(),
        }
    }
}

/// Units left out of the config because they did not read: whole sections, and elements
/// of lists (with their name).
#[derive(Debug, Default)]
pub(super) struct Dropped {
    sections: Vec<String>,
    elements: Vec<(String, usize, Option<String>)>,
}

/// Reads `fig` into `T`. `file` names where the non-environment values came from.
pub(super) fn read<T: DeserializeOwned>(fig: &Figment, file: &str) -> Read<T> {
    let root = match fig.find_value("") {
        Ok(v) => v,
        // The file does not parse at all (TOML syntax): figment's words carry the line.
        Err(e) => {
            return Read::failed(Problem::error(file.to_string(), e.kind.to_string()));
        }
    };
    let mut reader = Reader {
        fig,
        original: root.clone(),
        problems: Vec::new(),
        dropped: Dropped::default(),
    };
    let Value::Dict(tag, mut dict) = root else {
        return Read::failed(Problem::error(
            file.into(),
            "not a table of settings".into(),
        ));
    };
    let keys: Vec<String> = dict.keys().cloned().collect();
    for key in keys {
        let Some(value) = dict.remove(&key) else {
            continue;
        };
        if let Some(kept) = reader.section::<T>(&key, value) {
            dict.insert(key, kept);
        }
    }
    let value = match Value::Dict(tag, dict).deserialize::<T>() {
        Ok(v) => Some(v),
        Err(e) => {
            // Only what no single unit shows: a required top-level key that is missing.
            let at = reader.location(&e.path);
            reader.problems.push(Problem::error(at, describe(&e.kind)));
            None
        }
    };
    Read {
        value,
        problems: reader.problems,
        dropped: reader.dropped,
    }
}

struct Reader<'a> {
    fig: &'a Figment,
    /// The merged layers as given, for locations and sources.
    original: Value,
    problems: Vec<Problem>,
    dropped: Dropped,
}

/// How one unit read.
#[derive(PartialEq)]
enum Unit {
    /// It reads (perhaps after its unknown keys were dropped).
    Reads,
    /// Its own name is unknown.
    Unknown,
    /// It does not read: left out.
    Broken,
}

impl Reader<'_> {
    /// Reads one top-level key; returns what to keep of it (None: unknown, or broken).
    fn section<T: DeserializeOwned>(&mut self, key: &str, value: Value) -> Option<Value> {
        let Value::Array(tag, items) = value else {
            let mut unit = value;
            return match self.unit::<T>(&[key.to_string()], &mut unit, |v| wrap(key, v)) {
                Unit::Reads => Some(unit),
                Unit::Unknown => None,
                Unit::Broken => {
                    self.dropped.sections.push(key.to_string());
                    None
                }
            };
        };
        // A list is read element by element, once the key itself is known to be one.
        let empty = Value::Array(tag, Vec::new());
        if let Err(e) = wrap(key, empty).deserialize::<T>()
            && e.path.len() <= 1
        {
            self.report(&[key.to_string()], &e.kind);
            if !matches!(e.kind, Kind::UnknownField(..)) {
                self.dropped.sections.push(key.to_string());
            }
            return None;
        }
        let mut kept = Vec::with_capacity(items.len());
        for (i, mut item) in items.into_iter().enumerate() {
            let at = [key.to_string(), i.to_string()];
            match self.unit::<T>(&at, &mut item, |v| wrap(key, Value::Array(tag, vec![v]))) {
                Unit::Reads => kept.push(item),
                _ => self
                    .dropped
                    .elements
                    .push((key.to_string(), i, label(&item))),
            }
        }
        Some(Value::Array(tag, kept))
    }

    /// Reads one unit (at `at` in the config) wrapped as a whole config; returns whether
    /// it is known. Unknown keys inside it are reported and removed from `unit`.
    fn unit<T: DeserializeOwned>(
        &mut self,
        at: &[String],
        unit: &mut Value,
        wrap: impl Fn(Value) -> Value,
    ) -> Unit {
        // `wrap` adds the section key (and an index 0 for a list element) in front.
        let depth = at.len();
        loop {
            let e = match wrap(unit.clone()).deserialize::<T>() {
                Ok(_) => return Unit::Reads,
                Err(e) => e,
            };
            if e.path.len() < depth {
                // About the config as a whole (a missing required key): not this unit's.
                return Unit::Reads;
            }
            let inner = &e.path[depth..];
            let path: Vec<String> = at.iter().chain(inner).cloned().collect();
            let unknown = matches!(e.kind, Kind::UnknownField(..));
            self.report(&path, &e.kind);
            if unknown && inner.is_empty() {
                // The section's own name is unknown.
                return Unit::Unknown;
            }
            if !unknown || !remove(unit, inner) {
                return Unit::Broken;
            }
        }
    }

    fn report(&mut self, path: &[String], kind: &Kind) {
        let at = self.location(path);
        self.problems.push(Problem::error(at, describe(kind)));
    }

    /// `people[0] (alice).emial` for the file; the variable's name for the environment.
    fn location(&self, path: &[String]) -> String {
        if let Some(var) = self.env_var(path) {
            return format!("environment {var}");
        }
        let mut out = String::new();
        let mut node = Some(&self.original);
        for seg in path {
            let index = seg.parse::<usize>().ok();
            node = match (node, index) {
                (Some(Value::Array(_, items)), Some(i)) => items.get(i),
                (Some(Value::Dict(_, d)), _) => d.get(seg),
                _ => None,
            };
            match index {
                Some(i) => {
                    out.push_str(&format!("[{i}]"));
                    if let Some(name) = node.and_then(label) {
                        out.push_str(&format!(" ({name})"));
                    }
                }
                None if out.is_empty() => out.push_str(seg),
                None => {
                    out.push('.');
                    out.push_str(seg);
                }
            }
        }
        if out.is_empty() { "config".into() } else { out }
    }

    /// The environment variable a value at `path` came from, if it did.
    fn env_var(&self, path: &[String]) -> Option<String> {
        let tag = find(&self.original, path)?.tag();
        let from_env = self
            .fig
            .get_metadata(tag)
            .is_some_and(|m| m.name.contains("environment"));
        if !from_env {
            return None;
        }
        let plain = match path {
            [s, k] if s == "database" && k == "url" => Some("DATABASE_URL"),
            [s, k] if s == "server" && k == "http_addr" => Some("SEVBOT_HTTP_ADDR"),
            _ => None,
        };
        if let Some(p) = plain.filter(|p| std::env::var_os(p).is_some()) {
            return Some(p.into());
        }
        Some(format!("SEVBOT_{}", path.join("__").to_ascii_uppercase()))
    }
}

/// `{key: value}`, a config with only that key.
fn wrap(key: &str, value: Value) -> Value {
    let mut d = Dict::new();
    d.insert(key.to_string(), value);
    Value::Dict(Tag::Default, d)
}

/// The element's `id` or `name`, to say which one is meant.
fn label(v: &Value) -> Option<String> {
    let Value::Dict(_, d) = v else { return None };
    ["id", "name", "address", "channel"]
        .iter()
        .find_map(|k| d.get(*k).and_then(|v| v.as_str()).map(str::to_string))
}

fn find<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(root, |node, seg| match node {
        Value::Dict(_, d) => d.get(seg),
        Value::Array(_, items) => items.get(seg.parse::<usize>().ok()?),
        _ => None,
    })
}

/// Removes the key at `path` (relative to `unit`); whether it was there.
fn remove(unit: &mut Value, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut node = unit;
    for seg in parents {
        node = match node {
            Value::Dict(_, d) => match d.get_mut(seg) {
                Some(n) => n,
                None => return false,
            },
            Value::Array(_, items) => {
                match seg.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                    Some(n) => n,
                    None => return false,
                }
            }
            _ => return false,
        };
    }
    match node {
        Value::Dict(_, d) => d.remove(last).is_some(),
        _ => false,
    }
}

/// A problem in words, with a did-you-mean where a close name exists.
pub(super) fn describe(kind: &Kind) -> String {
    match kind {
        Kind::UnknownField(field, expected) => {
            let guess = hint(field, expected.iter().copied());
            if guess.is_empty() && !expected.is_empty() {
                format!(
                    "unknown key \"{field}\" (known here: {})",
                    expected.join(", ")
                )
            } else {
                format!("unknown key \"{field}\"{guess}")
            }
        }
        Kind::UnknownVariant(v, expected) => {
            let guess = hint(v, expected.iter().copied());
            if guess.is_empty() {
                format!("unknown value \"{v}\" (one of: {})", expected.join(", "))
            } else {
                format!("unknown value \"{v}\"{guess}")
            }
        }
        Kind::MissingField(f) => format!("missing key \"{f}\""),
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
            format!("expected {expected}, found {actual}")
        }
        Kind::InvalidLength(n, expected) => format!("expected {expected}, found {n} items"),
        Kind::Message(m) => m.clone(),
        other => other.to_string(),
    }
}

impl Dropped {
    /// Puts a problem found in what was read back into the user's terms: a list index
    /// counted without the left-out elements becomes the index in the file. None when the
    /// problem may only follow from something left out (a person left out is "unknown"
    /// wherever named; a list left short lacks a role), so it is not reported.
    pub(super) fn place(&self, mut p: Problem) -> Option<Problem> {
        if self.sections.iter().any(|s| under(&p.location, s)) {
            return None;
        }
        for (key, _, name) in &self.elements {
            let named = name
                .as_ref()
                .is_some_and(|n| p.message.contains(&format!("\"{n}\"")));
            if named || p.location == *key {
                return None;
            }
        }
        if let Some((key, rest)) = p.location.split_once('[')
            && let Some((index, tail)) = rest.split_once(']')
            && let Ok(mut i) = index.parse::<usize>()
        {
            // Walk the left-out indices in order: each one at or before the element
            // moves it one further in the file.
            let mut gone: Vec<usize> = self
                .elements
                .iter()
                .filter(|(k, ..)| k == key)
                .map(|(_, j, _)| *j)
                .collect();
            gone.sort_unstable();
            for j in gone {
                if j <= i {
                    i += 1;
                }
            }
            p.location = format!("{key}[{i}]{tail}");
        }
        Some(p)
    }
}

/// Whether `location` is `section` or inside it.
fn under(location: &str, section: &str) -> bool {
    location
        .strip_prefix(section)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[', ':', ' ']))
}
