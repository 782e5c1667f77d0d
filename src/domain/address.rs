//! E-mail addresses typed in chat or written in the config.

/// A plain `local@domain` address: no display name, spaces, brackets, commas or line
/// breaks, so nothing typed in chat can add a recipient or a header.
pub fn valid_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let clean = |p: &str| {
        !p.is_empty()
            && p.chars().all(|c| {
                c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || !c.is_ascii()
            })
    };
    s.len() <= 254
        && clean(local)
        && clean(domain)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !local.contains("..")
}
