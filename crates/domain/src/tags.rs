//! Card tags. GSL gives `tag_names` as one free-text field; users type commas, full-width commas,
//! semicolons and enumeration commas between tags. The text is split once, when a card is merged, and
//! every reader (metrics, alerts, reports) uses the resulting list.

/// Every character GSL users put between two tags.
pub const TAG_SEPARATORS: &[char] = &[',', '，', ';', '；', '、', '|', '\n', '\r', '\t'];

/// The tags in `tag_names`, trimmed, empty ones dropped, in the order given.
pub fn split_tags(tag_names: &str) -> impl Iterator<Item = &str> {
    tag_names
        .split(TAG_SEPARATORS)
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, expected: &[&str]) {
        assert_eq!(split_tags(raw).collect::<Vec<_>>(), expected, "{raw:?}");
    }

    #[test]
    fn splits_on_every_separator_users_type() {
        check("a,b", &["a", "b"]);
        check("a，b", &["a", "b"]);
        check("华北、车联网", &["华北", "车联网"]);
        check(" a ; b；c |d ", &["a", "b", "c", "d"]);
        check("north china,a", &["north china", "a"]);
        check("a,,b, ,", &["a", "b"]);
        check("", &[]);
    }
}
