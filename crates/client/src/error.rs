//! `GslError` and the parsing of GSL/APIGW error bodies. No variant can hold a credential.

use std::collections::HashMap;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::observe::Operation;

/// What went wrong talking to GSL, split by what the caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum GslError {
    #[error("{}: rate limited by GSL (retry after {retry_after:?})", .operation.as_str())]
    RateLimited {
        operation: Operation,
        retry_after: Option<Duration>,
    },
    #[error("authentication failed: {code:?} {message} (request id {request_id:?})")]
    Auth {
        code: Option<String>,
        message: String,
        request_id: Option<String>,
    },
    #[error("{}: HTTP {status} {code:?}: {message} (request id {request_id:?})", .operation.as_str())]
    Api {
        operation: Operation,
        status: u16,
        code: Option<String>,
        message: String,
        request_id: Option<String>,
    },
    #[error("{}: cannot decode the response: {detail}", .operation.as_str())]
    Decode {
        operation: Operation,
        detail: String,
    },
    #[error("{}: transport error: {detail}", .operation.as_str())]
    Transport {
        operation: Operation,
        detail: String,
    },
    #[error("{}: timed out", .operation.as_str())]
    Timeout { operation: Operation },
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl GslError {
    /// The GSL/APIGW error code, when the server gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Auth { code, .. } | Self::Api { code, .. } => code.as_deref(),
            Self::RateLimited { .. } => Some("APIGW.0308"),
            _ => None,
        }
    }

    /// Whether trying the same call again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. }
            | Self::Transport { .. }
            | Self::Timeout { .. }
            | Self::Decode { .. } => true,
            Self::Api { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// The observer's `code` label for this failure.
    pub(crate) fn label(&self) -> String {
        match self {
            Self::Api { status, code, .. } => code.clone().unwrap_or_else(|| status.to_string()),
            Self::Auth { code, .. } => code.clone().unwrap_or_else(|| "401".into()),
            Self::RateLimited { .. } => "APIGW.0308".into(),
            Self::Decode { .. } => "decode".into(),
            Self::Transport { .. } => "transport".into(),
            Self::Timeout { .. } => "timeout".into(),
            Self::InvalidRequest(_) => "invalid".into(),
        }
    }
}

/// The code, message and request id found in an error body of any of the three shapes (§6.1).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
}

const CODE_KEYS: [&str; 3] = ["error_code", "errorCode", "code"];
const MSG_KEYS: [&str; 3] = ["error_msg", "errorMsg", "message"];

/// Parses `{error_code,error_msg}`, `{errorCode,errorMsg}` or `{code,message}`, also nested (e.g. IAM's `{"error":{...}}`).
pub fn parse_error_body(body: &[u8]) -> ErrorBody {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return ErrorBody::default();
    };
    let mut out = ErrorBody::default();
    find(&v, &mut out, 0);
    out
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn find(v: &Value, out: &mut ErrorBody, depth: usize) {
    let Value::Object(map) = v else { return };
    if depth > 4 {
        return;
    }
    for (codes, msgs) in [
        (CODE_KEYS[0], MSG_KEYS[0]),
        (CODE_KEYS[1], MSG_KEYS[1]),
        (CODE_KEYS[2], MSG_KEYS[2]),
    ] {
        if out.code.is_none() {
            if let Some(c) = map.get(codes).and_then(text) {
                out.code = Some(c);
                out.message = map.get(msgs).and_then(text).or(out.message.take());
            }
        }
    }
    if out.request_id.is_none() {
        out.request_id = map.get("request_id").and_then(text);
    }
    for child in map.values() {
        if out.code.is_some() && out.request_id.is_some() {
            break;
        }
        find(child, out, depth + 1);
    }
}

/// Decodes a JSON body, naming the path of the offending field on failure.
pub fn decode<'a, T: Deserialize<'a>>(operation: Operation, body: &'a [u8]) -> Result<T, GslError> {
    // Path tracking allocates a String per object key, which costs several times the decode itself;
    // the fast path skips it and only a failed body is decoded again to name the field.
    if let Ok(v) = serde_json::from_slice(body) {
        return Ok(v);
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        GslError::Decode {
            operation,
            detail: format!("at {path}: {}", e.into_inner()),
        }
    })
}

/// Decodes a list that may come as a bare array or wrapped in an object under one of `keys`.
pub fn decode_list<T: DeserializeOwned>(
    operation: Operation,
    body: &[u8],
    keys: &[&str],
) -> Result<Vec<T>, GslError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        // Only the wrapper's keys are parsed here; the list itself is decoded once, straight from its bytes.
        let wrapper: HashMap<String, &RawValue> = decode(operation, body)?;
        let inner = keys.iter().find_map(|k| wrapper.get(*k));
        return match inner {
            Some(raw) if raw.get() != "null" => decode(operation, raw.get().as_bytes()),
            _ => Ok(Vec::new()),
        };
    }
    decode(operation, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_error_shapes() {
        type Case<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);
        let cases: &[Case] = &[
            (
                r#"{"error_code":"GSL.00010004","error_msg":"参数异常"}"#,
                Some("GSL.00010004"),
                Some("参数异常"),
                None,
            ),
            (
                r#"{"code":"GSL.00010003","message":"系统繁忙,请稍后重试"}"#,
                Some("GSL.00010003"),
                Some("系统繁忙,请稍后重试"),
                None,
            ),
            (
                r#"{"errorCode":"X.1","errorMsg":"m"}"#,
                Some("X.1"),
                Some("m"),
                None,
            ),
            (
                r#"{"error_code":"APIGW.0301","error_msg":"bad","request_id":"r1"}"#,
                Some("APIGW.0301"),
                Some("bad"),
                Some("r1"),
            ),
            (
                r#"{"error":{"code":401,"message":"The username or password is wrong."}}"#,
                Some("401"),
                Some("The username or password is wrong."),
                None,
            ),
            ("not json", None, None, None),
            ("", None, None, None),
        ];
        for (body, code, msg, rid) in cases {
            let e = parse_error_body(body.as_bytes());
            assert_eq!(e.code.as_deref(), *code, "{body}");
            assert_eq!(e.message.as_deref(), *msg, "{body}");
            assert_eq!(e.request_id.as_deref(), *rid, "{body}");
        }
    }

    #[test]
    fn retryability_and_codes() {
        let op = Operation::ListSimCards;
        let api = |status| GslError::Api {
            operation: op,
            status,
            code: Some("C".into()),
            message: String::new(),
            request_id: None,
        };
        assert!(api(500).is_retryable());
        assert!(!api(400).is_retryable());
        assert_eq!(api(400).code(), Some("C"));
        assert!(GslError::RateLimited {
            operation: op,
            retry_after: None
        }
        .is_retryable());
        assert!(GslError::Timeout { operation: op }.is_retryable());
        assert!(GslError::Decode {
            operation: op,
            detail: String::new()
        }
        .is_retryable());
        assert!(!GslError::Auth {
            code: None,
            message: String::new(),
            request_id: None
        }
        .is_retryable());
    }
}
