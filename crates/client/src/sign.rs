//! AK/SK request signing, `SDK-HMAC-SHA256` exactly as the official SDK does it (gsl-api.md §4.2).

use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// Everything but `A-Za-z0-9-_.~` is escaped (Python `quote(s, safe='~')`).
const SDK_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, SDK_ESCAPE).to_string()
}

/// The canonical query: pairs sorted by key then value, both encoded, `k=v` joined by `&`.
/// The SDK sends exactly this string on the wire, so we do too.
pub fn canonical_query(pairs: &[(String, String)]) -> String {
    let mut enc: Vec<(String, String)> =
        pairs.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    enc.sort();
    let parts: Vec<String> = enc.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.join("&")
}

/// The canonical URI: each segment decoded then re-encoded, always with a trailing `/`.
pub fn canonical_uri(path: &str) -> String {
    let mut out: String = path
        .split('/')
        .map(|seg| encode(&percent_decode_str(seg).decode_utf8_lossy()))
        .collect::<Vec<_>>()
        .join("/");
    if !out.ends_with('/') {
        out.push('/');
    }
    out
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A request as the signer sees it. Headers must include `host` and `x-sdk-date`.
pub struct SignInput<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub canonical_query: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// The signed-header names and the canonical request text.
pub fn canonical_request(req: &SignInput<'_>) -> (String, String) {
    let mut headers: Vec<(String, &str)> = req
        .headers
        .iter()
        .filter(|(k, _)| !k.contains('_'))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim()))
        .collect();
    headers.sort();
    let signed = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let text = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method.to_ascii_uppercase(),
        canonical_uri(req.path),
        req.canonical_query,
        canonical_headers,
        signed,
        sha256_hex(req.body)
    );
    (signed, text)
}

/// The `Authorization` header value. `sdk_date` is the `X-Sdk-Date` value that is among the headers.
pub fn authorization(
    req: &SignInput<'_>,
    sdk_date: &str,
    access_key: &str,
    secret_key: &[u8],
) -> String {
    let (signed, canonical) = canonical_request(req);
    let string_to_sign = format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let signature = hmac_hex(secret_key, string_to_sign.as_bytes());
    format!("{ALGORITHM} Access={access_key}, SignedHeaders={signed}, Signature={signature}")
}

fn hmac_hex(key: &[u8], msg: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(msg);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "gsl.cn-north-4.myhuaweicloud.com";
    const DATE: &str = "20240821T010203Z";

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn vector_a_list_sim_cards() {
        let q = canonical_query(&pairs(&[
            ("offset", "1"),
            ("limit", "500"),
            ("main_search_key", "8986 01+x"),
            ("real_named", "true"),
        ]));
        assert_eq!(
            q,
            "limit=500&main_search_key=8986%2001%2Bx&offset=1&real_named=true"
        );
        let headers = [
            ("Content-Type", "application/json"),
            ("Host", HOST),
            ("X-Sdk-Date", DATE),
        ];
        let req = SignInput {
            method: "GET",
            path: "/v1/sim-cards",
            canonical_query: &q,
            headers: &headers,
            body: b"",
        };
        let (signed, canonical) = canonical_request(&req);
        assert_eq!(signed, "content-type;host;x-sdk-date");
        assert_eq!(
            canonical,
            "GET\n/v1/sim-cards/\nlimit=500&main_search_key=8986%2001%2Bx&offset=1&real_named=true\n\
             content-type:application/json\nhost:gsl.cn-north-4.myhuaweicloud.com\nx-sdk-date:20240821T010203Z\n\n\
             content-type;host;x-sdk-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(canonical.as_bytes()),
            "90de61d39f96af7aaba701d341e00f3e42fbf8c211f8aca4710bbab243509887"
        );
        assert_eq!(
            authorization(&req, DATE, "AKEXAMPLE", b"SKEXAMPLE"),
            "SDK-HMAC-SHA256 Access=AKEXAMPLE, SignedHeaders=content-type;host;x-sdk-date, \
             Signature=0aac70c40074e6ba13e70a426e4ad329039239bf90f9c3b4099d94e8d282238e"
        );
    }

    #[test]
    fn vector_b_daily_flow_with_project() {
        let body = br#"{"month": "202408", "sim_card_ids": [5702790861709056]}"#;
        assert_eq!(
            sha256_hex(body),
            "7a02ba2e5cdbd1b62a9755406702657d1c21331372d0b1772bc16cf4ca45446e"
        );
        let headers = [
            ("Content-Type", "application/json"),
            ("Host", HOST),
            ("X-Project-Id", "projid123"),
            ("X-Sdk-Date", DATE),
        ];
        let req = SignInput {
            method: "POST",
            path: "/v1/sim-cards/batch-daily-flow",
            canonical_query: "",
            headers: &headers,
            body,
        };
        let (signed, canonical) = canonical_request(&req);
        assert_eq!(signed, "content-type;host;x-project-id;x-sdk-date");
        assert_eq!(
            sha256_hex(canonical.as_bytes()),
            "7649a1bbb7684f1971826601b306add579ba1fd4d06a40dcfecb75cd7328f30b"
        );
        assert!(
            authorization(&req, DATE, "AKEXAMPLE", b"SKEXAMPLE").ends_with(
                "Signature=6ee971213293d782e874a24ba9200dd44f389642c14bd15d2d2651b332052347"
            )
        );
    }

    #[test]
    fn canonical_query_encoding() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("k", "a b")], "k=a%20b"),
            (&[("k", "a+b")], "k=a%2Bb"),
            (&[("k", "")], "k="),
            (&[("k", "~-_.")], "k=~-_."),
            (&[("k", "中")], "k=%E4%B8%AD"),
            (
                &[("tag_id", "3"), ("tag_id", "1"), ("limit", "500")],
                "limit=500&tag_id=1&tag_id=3",
            ),
            (
                &[
                    ("price_plan_id", "b"),
                    ("offset", "1"),
                    ("price_plan_id", "a"),
                ],
                "offset=1&price_plan_id=a&price_plan_id=b",
            ),
            (&[], ""),
        ];
        for (input, want) in cases {
            assert_eq!(canonical_query(&pairs(input)), *want, "{input:?}");
        }
    }

    #[test]
    fn canonical_uri_always_ends_with_slash() {
        assert_eq!(canonical_uri("/v1/sim-cards"), "/v1/sim-cards/");
        assert_eq!(canonical_uri("/v1/sim-cards/"), "/v1/sim-cards/");
        assert_eq!(canonical_uri("/v1/a%20b"), "/v1/a%20b/");
    }
}
