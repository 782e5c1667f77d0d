//! Did-you-mean: the candidate closest to what was typed, for the grammar, feed filters and
//! the configuration.

/// The closest candidate within a small edit distance, for did-you-mean hints.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&word, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `; did you mean "x"?` when a candidate is close to `word`, else nothing: to append to a
/// message that says what is wrong.
pub fn hint<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates)
        .map(|g| format!("; did you mean \"{g}\"?"))
        .unwrap_or_default()
}
