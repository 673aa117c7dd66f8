//! The first connection of a process, with an error an operator can act on: where it tried and why it
//! failed, in one line.

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use super::{Result, StoreError};

/// Long enough for a server across a slow link, short enough that a dead one is reported at once.
pub(super) const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

fn failed(options: &PgConnectOptions, reason: String) -> StoreError {
    StoreError::Connect {
        database: options.get_database().unwrap_or("(default)").to_owned(),
        target: format!("{}:{}", options.get_host(), options.get_port()),
        reason,
    }
}

pub(super) fn timed_out(options: &PgConnectOptions) -> StoreError {
    failed(
        options,
        format!("no answer within {} s", PROBE_TIMEOUT.as_secs()),
    )
}

pub(super) async fn probe(options: &PgConnectOptions) -> Result<()> {
    match tokio::time::timeout(PROBE_TIMEOUT, options.connect()).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(failed(options, reason(&e, options.get_host()))),
        Err(_) => Err(timed_out(options)),
    }
}

/// The cause in words, with TLS verification failures named the way `sslmode` talks about them.
fn reason(e: &sqlx::Error, host: &str) -> String {
    let text = error_chain(e);
    if text.contains("UnknownIssuer") || text.contains("unknown issuer") {
        return "the server's certificate is not signed by a trusted CA (check sslrootcert)".into();
    }
    if text.contains("NotValidForName") || text.contains("not valid for name") {
        return format!(
            "the server's certificate is not valid for the host name {host} (sslmode=verify-full checks it)"
        );
    }
    if text.contains("server does not support TLS") {
        return "the server does not offer TLS (sslmode requires it)".into();
    }
    match e {
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // invalid_authorization_specification, invalid_password
            Some("28000" | "28P01") => format!(
                "the server refused the login: {} (check the user and password in database.url)",
                db.message()
            ),
            Some("3D000") => format!("{} and could not be created", db.message()),
            _ => db.message().to_owned(),
        },
        _ => text,
    }
}

fn error_chain(e: &sqlx::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text.replace('\n', " ")
}

/// Removes the password of `url` from `text`, in case a parser echoes its input.
pub(super) fn without_secrets(text: &str, url: &str) -> String {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.password().map(str::to_owned))
    {
        Some(password) if !password.is_empty() => text.replace(&password, "***"),
        _ => text.to_owned(),
    }
}
