//! What stands between a request and a handler: bearer tokens, and the answer to an internal error.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The token a route group requires, kept as its SHA-256: comparing digests of equal length in constant
/// time reveals neither the token's bytes nor its length through timing.
#[derive(Clone)]
pub struct Bearer(Option<Arc<[u8; 32]>>);

impl Bearer {
    pub fn new(token: Option<&SecretString>) -> Self {
        Self(token.map(|t| Arc::new(digest(t.expose_secret().as_bytes()))))
    }

    /// Whether `authorization` (the header's value) carries the token; always true when none is set.
    pub fn admits(&self, authorization: Option<&[u8]>) -> bool {
        let Some(want) = &self.0 else {
            return true;
        };
        let Some(given) = authorization.and_then(bearer_token) else {
            return false;
        };
        bool::from(digest(given).ct_eq(want.as_slice()))
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The token of `Bearer <token>` (the scheme is case-insensitive, RFC 7235).
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

/// Middleware: 401 with `WWW-Authenticate` unless the request carries the token.
pub async fn require_bearer(State(bearer): State<Bearer>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if bearer.admits(given) {
        return next.run(req).await;
    }
    let mut resp = (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({ "error": "a valid bearer token is required" })),
    )
        .into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"gsl-sync\""),
    );
    resp
}

/// A 500 that names only a request id; the detail goes to the log line carrying the same id.
pub fn internal_error(detail: &dyn std::fmt::Display) -> Response {
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    tracing::error!(request_id, error = %detail, "HTTP request failed");
    let mut resp = (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(serde_json::json!({ "error": "internal error", "request_id": request_id })),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_checked() {
        let token = SecretString::from("s3cret".to_owned());
        let b = Bearer::new(Some(&token));
        assert!(b.admits(Some(b"Bearer s3cret")));
        assert!(b.admits(Some(b"bearer  s3cret ")));
        for wrong in [
            &b"Bearer s3cre"[..],
            b"Bearer s3cret2",
            b"Basic s3cret",
            b"s3cret",
            b"",
            b"Bearer ",
        ] {
            assert!(!b.admits(Some(wrong)), "{wrong:?}");
        }
        assert!(!b.admits(None));
        assert!(Bearer::new(None).admits(None));
    }
}
