//! Secrets out of sight: the placeholder, and URLs with their credentials cut out.

use url::Url;

pub const REDACTED: &str = "***";

/// Hides the credentials of a URL such as `postgres://user:pw@host/db` or `https://tok@hook/x`:
/// a password becomes `***`; a user name alone (a token in the user-info) does too. Text that does not
/// parse as a URL is hidden whole, since it may be a secret in the wrong field. Query values are hidden
/// too: webhooks often take their token as `?token=...`.
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some(REDACTED));
            } else if !url.username().is_empty() && url.scheme().starts_with("http") {
                let _ = url.set_username(REDACTED);
            }
            hide_query_values(&mut url);
            url.to_string()
        }
        Err(_) => REDACTED.to_string(),
    }
}

fn hide_query_values(url: &mut Url) {
    if url.query().is_none() {
        return;
    }
    let keys: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(keys.iter().map(|k| (k.as_str(), REDACTED)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_survive() {
        for (raw, want) in [
            ("postgres://u:pw@h/db", "postgres://u:***@h/db"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("https://tok@hook.example/x", "https://***@hook.example/x"),
            ("https://a:b@am:9093", "https://a:***@am:9093/"),
            ("not a url with secret", "***"),
            (
                "https://hook.example/x?token=SECRET&a=1",
                "https://hook.example/x?token=***&a=***",
            ),
            (
                "postgres://u:pw@h/db?password=SECRET",
                "postgres://u:***@h/db?password=***",
            ),
        ] {
            assert_eq!(redact_url(raw), want, "{raw}");
        }
    }
}
