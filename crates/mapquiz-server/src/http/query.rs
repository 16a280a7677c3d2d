//! Query-string parameters, read by hand so that each malformed one gets its own French message.

/// The first value of `key` in the query, decoded.
pub fn first(query: Option<&str>, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// `raw` as an integer within `range`.
pub fn bounded(raw: &str, range: std::ops::RangeInclusive<u32>) -> Option<u32> {
    raw.trim().parse::<u32>().ok().filter(|n| range.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_value_and_bounds_integers() {
        assert_eq!(first(Some("a=1&b=%C3%A9&a=2"), "a").as_deref(), Some("1"));
        assert_eq!(first(Some("a=1&b=%C3%A9"), "b").as_deref(), Some("é"));
        assert_eq!(first(None, "a"), None);
        assert_eq!(bounded("5", 1..=10), Some(5));
        assert_eq!(bounded("0", 1..=10), None);
        assert_eq!(bounded("x", 1..=10), None);
        assert_eq!(bounded("-1", 1..=10), None);
    }
}
