//! Query strings and path values as the API accepts them: known names only, once each, UTF-8 without
//! control characters, short. Anything else is a 400 whose message echoes at most `ECHO_CHARS` characters.

use std::collections::HashMap;

use percent_encoding::percent_decode_str;

/// Characters of a client's value repeated in an error message; enough to recognise it, too few to flood
/// a log or reflect a payload.
pub const ECHO_CHARS: usize = 40;

/// The longest value accepted (a month, a date, a group name or a card id are far shorter).
pub const MAX_VALUE_BYTES: usize = 256;

/// The longest query string accepted.
pub const MAX_QUERY_BYTES: usize = 2048;

/// Why a query or path value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("the query string is longer than {MAX_QUERY_BYTES} bytes")]
    QueryTooLong,
    #[error("unknown parameter {name} (allowed: {allowed})")]
    Unknown { name: String, allowed: String },
    #[error("parameter {name} is given more than once")]
    Repeated { name: String },
    #[error("{name} is not valid UTF-8")]
    NotUtf8 { name: String },
    #[error("{name} contains a control character: {value}")]
    Control { name: String, value: String },
    #[error("{name} is longer than {MAX_VALUE_BYTES} bytes: {value}")]
    TooLong { name: String, value: String },
}

/// `value` as an error message may show it: quoted, cut to `ECHO_CHARS` characters, each control
/// character shown as `�` (escapes like `\u{3347a}` would make a message ten times longer).
pub fn echo(value: &str) -> String {
    let mut chars = value.chars();
    let head: String = chars
        .by_ref()
        .take(ECHO_CHARS)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    let more = if chars.next().is_some() { "…" } else { "" };
    format!("\"{head}\"{more}")
}

/// The decoded parameters of one query string.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params(HashMap<&'static str, String>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// Parses `raw` (the part after `?`), accepting only the names in `allowed`, each at most once.
pub fn parse_query(raw: Option<&str>, allowed: &[&'static str]) -> Result<Params, ParamError> {
    let raw = raw.unwrap_or("");
    if raw.len() > MAX_QUERY_BYTES {
        return Err(ParamError::QueryTooLong);
    }
    let mut out = HashMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode("a parameter name", k)?;
        let Some(&known) = allowed.iter().find(|a| **a == name) else {
            return Err(ParamError::Unknown {
                name: echo(&name),
                allowed: allowed.join(", "),
            });
        };
        let value = checked_value(known, &decode(known, v)?)?;
        if out.insert(known, value).is_some() {
            return Err(ParamError::Repeated { name: known.into() });
        }
    }
    Ok(Params(out))
}

/// A path value (already percent-decoded by the router) held to the rules of query values.
pub fn checked_value(name: &str, value: &str) -> Result<String, ParamError> {
    if value.chars().any(char::is_control) {
        return Err(ParamError::Control {
            name: name.into(),
            value: echo(value),
        });
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(ParamError::TooLong {
            name: name.into(),
            value: echo(value),
        });
    }
    Ok(value.to_owned())
}

/// Form decoding: `+` is a space, `%XX` a byte; the bytes must be UTF-8.
fn decode(name: &str, raw: &str) -> Result<String, ParamError> {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ParamError::NotUtf8 { name: name.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOWED: &[&str] = &["month", "top"];

    #[test]
    fn known_names_once_each() {
        let p = parse_query(Some("month=2026-11&top=5"), ALLOWED).unwrap();
        assert_eq!(p.get("month"), Some("2026-11"));
        assert_eq!(p.get("top"), Some("5"));
        assert_eq!(parse_query(None, ALLOWED).unwrap(), Params::default());
        assert_eq!(
            parse_query(Some("month=a+b%20c"), ALLOWED)
                .unwrap()
                .get("month"),
            Some("a b c")
        );
    }

    #[test]
    fn hostile_queries_are_refused_with_short_messages() {
        let long = format!("month={}", "9".repeat(10_000));
        for (raw, starts) in [
            (
                "montth=1",
                "unknown parameter \"montth\" (allowed: month, top)",
            ),
            ("month=1&month=2", "parameter month is given more than once"),
            ("month=%FF", "month is not valid UTF-8"),
            ("%FF=1", "a parameter name is not valid UTF-8"),
            (
                "month=%00",
                "month contains a control character: \"\u{fffd}\"",
            ),
            (long.as_str(), "the query string is longer than"),
        ] {
            let e = parse_query(Some(raw), ALLOWED).unwrap_err().to_string();
            assert!(e.starts_with(starts), "{raw}: {e}");
            assert!(e.len() < 120, "{e}");
        }
        let e = parse_query(Some(&format!("month={}", "x".repeat(300))), ALLOWED)
            .unwrap_err()
            .to_string();
        assert!(e.contains("longer than 256 bytes"), "{e}");
        assert!(e.len() < 120, "{e}");
    }

    #[test]
    fn echo_is_cut_and_escaped() {
        assert_eq!(echo("ab"), "\"ab\"");
        assert_eq!(echo("\0"), "\"\u{fffd}\"");
        let long = echo(&"é".repeat(100));
        assert_eq!(long.chars().count(), ECHO_CHARS + 3);
    }

    mod fuzz {
        //! The query parsers as fuzz targets: any query string gives parameters (the route answers 2xx)
        //! or a short message (400), never a panic.
        use super::*;
        use crate::http::api::{daily_range, usage_request};
        use proptest::prelude::*;

        /// Query-ish text: names the routes know, percent escapes (valid or not), separators, anything.
        fn query() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                prop::sample::select(vec![
                    "month",
                    "group_by",
                    "format",
                    "top",
                    "from",
                    "to",
                    "=",
                    "&",
                    "%",
                    "%00",
                    "%FF",
                    "%C3%28",
                    "%E4%B8%AD",
                    "+",
                    "2026-11",
                    "2026-13",
                    "csv",
                    "json",
                    "tag",
                    "2026-11-01",
                    "-1",
                    "99999999999999999999",
                ])
                .prop_map(str::to_owned),
                "%[0-9A-Fa-f]{2}",
                ".{0,8}",
            ];
            proptest::collection::vec(piece, 0..16).prop_map(|v| v.concat())
        }

        fn short(message: &str) -> bool {
            message.chars().count() <= 200
        }

        proptest! {
            #[test]
            fn fuzz_parse_query_never_panics(raw in query()) {
                match parse_query(Some(&raw), &["month", "from"]) {
                    Ok(p) => {
                        for v in [p.get("month"), p.get("from")].into_iter().flatten() {
                            prop_assert!(!v.chars().any(char::is_control));
                            prop_assert!(v.len() <= MAX_VALUE_BYTES);
                        }
                    }
                    Err(e) => prop_assert!(short(&e.to_string()), "{e}"),
                }
            }

            #[test]
            fn fuzz_usage_and_daily_parsers_answer_or_explain_briefly(raw in query()) {
                if let Err(e) = usage_request(Some(&raw)) {
                    prop_assert!(short(&e), "{e}");
                }
                if let Err(e) = daily_range(Some(&raw)) {
                    prop_assert!(short(&e), "{e}");
                }
            }

            #[test]
            fn fuzz_any_text_is_echoed_briefly(text in any::<String>()) {
                // Two quotes and an ellipsis around at most ECHO_CHARS characters, none a control.
                let shown = echo(&text);
                prop_assert!(shown.chars().count() <= ECHO_CHARS + 3, "{shown}");
                prop_assert!(!shown.chars().any(char::is_control), "{shown}");
                let _ = checked_value("card", &text);
            }
        }
    }
}
