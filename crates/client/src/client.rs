//! `GslClient`: one connection pool, one pacer pair and one token per account, shared by every clone.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use url::Url;

use super::auth::{transport, Auth, Login, TokenCache};
use super::budget::{Budget, Lane, Priority, Rates};
use super::error::{decode, decode_list, parse_error_body, GslError};
use super::models::*;
use super::observe::{CallObserver, Operation};
use super::plausible::Vet;
use super::sign;
use super::types::*;
use gsl_domain::{backoff, PoolId};

/// Everything one account's client needs.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub account: String,
    pub endpoint: Url,
    pub auth: Auth,
    pub list_rate_per_second: f64,
    pub total_rate_per_second: f64,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub max_retries: u32,
    pub retry_base_delay: Duration,
    pub retry_max_delay: Duration,
}

/// A GSL client for one account. Cheap to clone; clones share the call budget, the token and the
/// connection pool, and each carries the priority its calls wait with.
#[derive(Clone)]
pub struct GslClient {
    inner: Arc<Inner>,
    priority: Priority,
}

struct Inner {
    settings: ClientSettings,
    http: reqwest::Client,
    observer: Arc<dyn CallObserver>,
    budget: Budget,
    tokens: TokenCache,
}

impl std::fmt::Debug for GslClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GslClient")
            .field("account", &self.inner.settings.account)
            .finish()
    }
}

/// One logical call: retried as a whole.
pub(crate) struct Call {
    pub op: Operation,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    /// A carrier action (a work order): retried only when GSL surely did not take it.
    acts: bool,
}

/// The headers that prove who we are, and the token generation a 401 would invalidate.
struct Credentials {
    headers: Vec<(&'static str, String)>,
    generation: Option<u64>,
}

impl GslClient {
    pub fn new(
        settings: ClientSettings,
        observer: Arc<dyn CallObserver>,
    ) -> Result<Self, GslError> {
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(settings.connect_timeout)
            .build()
            .map_err(|e| GslError::Transport {
                operation: Operation::Login,
                detail: e.to_string(),
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                // GSL limits ListSimPricePlans like ListSimCards (gsl-api.md §5): each its own 1/s.
                budget: Budget::new(Rates {
                    total_per_second: settings.total_rate_per_second,
                    card_list_per_second: settings.list_rate_per_second,
                    price_plans_per_second: settings.list_rate_per_second,
                }),
                tokens: TokenCache::default(),
                settings,
                http,
                observer,
            }),
            priority: Priority::User,
        })
    }

    /// The same client, its calls waiting in the shared budget with `priority`.
    pub fn with_priority(&self, priority: Priority) -> Self {
        Self {
            inner: self.inner.clone(),
            priority,
        }
    }

    /// The account's call budget, shared by every clone.
    pub fn budget(&self) -> &Budget {
        &self.inner.budget
    }

    pub fn account(&self) -> &str {
        &self.inner.settings.account
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.inner.settings
    }

    /// One page of cards (`GET /v1/sim-cards`).
    pub async fn list_sim_cards(&self, query: &ListSimCardsQuery) -> Result<SimCardPage, GslError> {
        query.check()?;
        let call = get(
            Operation::ListSimCards,
            "/v1/sim-cards".into(),
            query.pairs().0,
        );
        let mut page: SimCardPage = self.execute(&call, |b| decode(call.op, b)).await?;
        self.vet(call.op).cards(&mut page.sim_cards);
        Ok(page)
    }

    /// Where implausible values of `op` are reported.
    pub(crate) fn vet(&self, operation: Operation) -> Vet<'_> {
        Vet {
            observer: self.inner.observer.as_ref(),
            account: self.account(),
            operation,
        }
    }

    /// One card's details (`GET /v1/sim-cards/{id}`, id 0 plus `iccid` when selected by ICCID).
    pub async fn show_sim_card(&self, card: SimCardRef) -> Result<SimCard, GslError> {
        let mut q = Pairs::default();
        q.opt("iccid", &card.iccid());
        let call = get(
            Operation::ShowSimCard,
            format!("/v1/sim-cards/{}", card.path_id()),
            q.0,
        );
        self.execute(&call, |b| decode(call.op, b)).await
    }

    /// Daily usage of up to 100 cards for a month so far or one day (a bare array on the wire).
    pub async fn daily_flow(&self, query: &DailyFlowQuery) -> Result<Vec<DailyFlowDay>, GslError> {
        query.cards.check(100, "daily flow")?;
        let mut body = Map::new();
        query.cards.insert_into(&mut body);
        match query.period {
            FlowPeriod::Month(m) => body.insert("month".into(), m.compact().into()),
            FlowPeriod::Date(d) => {
                body.insert("date".into(), d.format("%Y%m%d").to_string().into())
            }
        };
        let call = post(
            Operation::DailyFlow,
            "/v1/sim-cards/batch-daily-flow".into(),
            Value::Object(body),
        );
        let mut days = self
            .execute(&call, |b| decode_list(call.op, b, &["sim_flows", "data"]))
            .await?;
        self.vet(call.op).daily_flow(&mut days);
        Ok(days)
    }

    /// Month totals of up to 500 cards for up to 6 billing cycles.
    pub async fn month_usages(
        &self,
        cards: CardSelector,
        cycles: &[YearMonth],
    ) -> Result<Vec<MonthUsage>, GslError> {
        cards.check(500, "month usages")?;
        if cycles.is_empty() || cycles.len() > 6 {
            return Err(GslError::InvalidRequest(format!(
                "month usages: {} billing cycles, 1..=6 allowed",
                cycles.len()
            )));
        }
        let mut body = Map::new();
        cards.insert_into(&mut body);
        let cycles: Vec<String> = cycles.iter().map(|c| c.dashed()).collect();
        body.insert("billing_cycles".into(), cycles.into());
        let call = post(
            Operation::MonthUsages,
            "/v1/sim-cards/month-usages".into(),
            Value::Object(body),
        );
        let mut usages = self
            .execute(&call, |b| decode_list(call.op, b, &["month_usages"]))
            .await?;
        self.vet(call.op).month_usages(&mut usages);
        Ok(usages)
    }

    pub async fn list_sim_pools(&self, query: &PoolQuery) -> Result<PoolPage, GslError> {
        let call = get(
            Operation::ListSimPools,
            "/v1/sim-pools".into(),
            query.pairs(true).0,
        );
        let mut page: PoolPage = self.execute(&call, |b| decode(call.op, b)).await?;
        self.vet(call.op).pools(&mut page.pools);
        Ok(page)
    }

    pub async fn list_sim_pool_members(
        &self,
        pool_id: PoolId,
        cycle: YearMonth,
        page: u32,
        limit: u32,
    ) -> Result<PoolMemberPage, GslError> {
        let path = format!("/v1/sim-pools/{pool_id}/members");
        let call = get(
            Operation::ListSimPoolMembers,
            path,
            member_pairs(cycle, page, limit),
        );
        let mut page: PoolMemberPage = self.execute(&call, |b| decode(call.op, b)).await?;
        self.vet(call.op).members(&mut page.pool_members);
        Ok(page)
    }

    pub async fn list_back_pools(&self, query: &PoolQuery) -> Result<BackPoolPage, GslError> {
        let call = get(
            Operation::ListBackPools,
            "/v1/back-pools".into(),
            query.pairs(false).0,
        );
        let mut page: BackPoolPage = self.execute(&call, |b| decode(call.op, b)).await?;
        self.vet(call.op).back_pools(&mut page.pools);
        Ok(page)
    }

    pub async fn list_back_pool_members(
        &self,
        pool_id: PoolId,
        cycle: YearMonth,
        page: u32,
        limit: u32,
    ) -> Result<PoolMemberPage, GslError> {
        let path = format!("/v1/back-pools/{pool_id}/members");
        let call = get(
            Operation::ListBackPoolMembers,
            path,
            member_pairs(cycle, page, limit),
        );
        let mut page: PoolMemberPage = self.execute(&call, |b| decode(call.op, b)).await?;
        self.vet(call.op).members(&mut page.pool_members);
        Ok(page)
    }

    /// Runs a call with pacing, auth, retries and observation; `parse` turns a 2xx body into the answer.
    pub(crate) async fn execute<T>(
        &self,
        call: &Call,
        parse: impl Fn(&[u8]) -> Result<T, GslError>,
    ) -> Result<T, GslError> {
        let s = &self.inner.settings;
        let mut retries = 0u32;
        let mut relogged = false;
        loop {
            let creds = self.credentials().await?;
            let lane = match call.op {
                Operation::ListSimCards => Lane::CardList,
                Operation::ListSimPricePlans => Lane::PricePlans,
                _ => Lane::Any,
            };
            self.inner.budget.acquire(self.priority, lane).await;
            let attempt = retries + u32::from(relogged);
            let err = match self.attempt(call, &creds, attempt, &parse).await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if let (GslError::Auth { .. }, Some(generation), false) =
                (&err, creds.generation, relogged)
            {
                relogged = true;
                self.inner.tokens.invalidate(generation).await;
                self.retried(call.op, "auth_expired", attempt, &err);
                continue;
            }
            let reason = if call.acts {
                action_retry_reason(&err)
            } else {
                retry_reason(&err)
            };
            let Some(reason) = reason else {
                return Err(err);
            };
            if retries >= s.max_retries {
                return Err(err);
            }
            let retry_after = match &err {
                GslError::RateLimited { retry_after, .. } => *retry_after,
                _ => None,
            };
            self.retried(call.op, reason, attempt, &err);
            tokio::time::sleep(backoff::delay(
                s.retry_base_delay,
                s.retry_max_delay,
                retries,
                retry_after,
            ))
            .await;
            retries += 1;
        }
    }

    fn retried(&self, op: Operation, reason: &str, attempt: u32, err: &GslError) {
        let account = self.account();
        self.inner.observer.call_retried(account, op, reason);
        tracing::warn!(account, operation = op.as_str(), code = err.label(), attempt, reason, error = %err, "GSL call will be retried");
    }

    async fn credentials(&self) -> Result<Credentials, GslError> {
        let inner = &self.inner;
        match &inner.settings.auth {
            Auth::Token { token } => Ok(Credentials {
                headers: vec![("x-auth-token", token.expose_secret().to_owned())],
                generation: None,
            }),
            Auth::AkSk { .. } => Ok(Credentials {
                headers: Vec::new(),
                generation: None,
            }),
            Auth::Password {
                iam_endpoint,
                domain,
                user,
                password,
                project,
            } => {
                let login = Login {
                    http: &inner.http,
                    observer: inner.observer.as_ref(),
                    account: &inner.settings.account,
                    iam_endpoint,
                    domain,
                    user,
                    password,
                    project,
                };
                let (token, generation) = inner.tokens.get(login).await?;
                Ok(Credentials {
                    headers: vec![("x-auth-token", token.expose_secret().to_owned())],
                    generation: Some(generation),
                })
            }
        }
    }

    async fn attempt<T>(
        &self,
        call: &Call,
        creds: &Credentials,
        attempt: u32,
        parse: &impl Fn(&[u8]) -> Result<T, GslError>,
    ) -> Result<T, GslError> {
        let started = std::time::Instant::now();
        let (result, request_id) = self.send(call, creds, parse).await;
        let code = match &result {
            Ok(_) => "200".to_owned(),
            Err(e) => e.label(),
        };
        let elapsed = started.elapsed();
        self.inner
            .observer
            .call_finished(self.account(), call.op, &code, elapsed);
        tracing::debug!(
            account = self.account(),
            operation = call.op.as_str(),
            code,
            request_id = request_id.as_deref().unwrap_or(""),
            attempt,
            elapsed_ms = elapsed.as_millis() as u64,
            "GSL call finished"
        );
        result
    }

    async fn send<T>(
        &self,
        call: &Call,
        creds: &Credentials,
        parse: &impl Fn(&[u8]) -> Result<T, GslError>,
    ) -> (Result<T, GslError>, Option<String>) {
        let op = call.op;
        let req = match self.build(call, creds) {
            Ok(r) => r,
            Err(e) => return (Err(e), None),
        };
        let resp = match self.inner.http.execute(req).await {
            Ok(r) => r,
            Err(e) => return (Err(transport(op, e)), None),
        };
        let status = resp.status();
        let header = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let mut request_id = header("x-request-id");
        let retry_after = header("retry-after")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return (Err(transport(op, e)), request_id),
        };
        if status.is_success() {
            return (parse(&body), request_id);
        }
        let eb = parse_error_body(&body);
        request_id = request_id.or(eb.request_id);
        let message = eb
            .message
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
        let err = match status.as_u16() {
            429 => GslError::RateLimited {
                operation: op,
                retry_after,
            },
            401 => GslError::Auth {
                code: eb.code,
                message,
                request_id: request_id.clone(),
            },
            s => GslError::Api {
                operation: op,
                status: s,
                code: eb.code,
                message,
                request_id: request_id.clone(),
            },
        };
        (Err(err), request_id)
    }

    fn build(&self, call: &Call, creds: &Credentials) -> Result<reqwest::Request, GslError> {
        let s = &self.inner.settings;
        let query = sign::canonical_query(&call.query);
        let mut url = format!("{}{}", s.endpoint.as_str().trim_end_matches('/'), call.path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        let url =
            Url::parse(&url).map_err(|e| GslError::InvalidRequest(format!("bad URL: {e}")))?;
        let body = call.body.clone().unwrap_or_default();
        let mut headers: Vec<(&str, String)> = vec![("content-type", "application/json".into())];
        headers.extend(creds.headers.iter().map(|(k, v)| (*k, v.clone())));
        if let Auth::AkSk {
            access_key,
            secret_key,
            project_id,
        } = &s.auth
        {
            headers.extend(aksk_headers(
                &call.method,
                &url,
                &query,
                &body,
                access_key,
                secret_key,
                project_id,
            ));
        }
        let mut rb = self.inner.http.request(call.method.clone(), url);
        for (k, v) in headers {
            rb = rb.header(k, v);
        }
        if call.body.is_some() {
            rb = rb.body(body);
        }
        rb.build()
            .map_err(|e| GslError::InvalidRequest(e.without_url().to_string()))
    }
}

/// `X-Sdk-Date`, `X-Project-Id` and `Authorization` for one request (gsl-api.md §4.2).
fn aksk_headers(
    method: &Method,
    url: &Url,
    query: &str,
    body: &[u8],
    access_key: &str,
    secret_key: &SecretString,
    project_id: &str,
) -> Vec<(&'static str, String)> {
    let date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => String::new(),
    };
    let mut out = vec![("x-sdk-date", date.clone())];
    if !project_id.is_empty() {
        out.push(("x-project-id", project_id.to_owned()));
    }
    let mut signed: Vec<(&str, &str)> = vec![("content-type", "application/json"), ("host", &host)];
    signed.extend(out.iter().map(|(k, v)| (*k, v.as_str())));
    let input = sign::SignInput {
        method: method.as_str(),
        path: url.path(),
        canonical_query: query,
        headers: &signed,
        body,
    };
    let auth = sign::authorization(
        &input,
        &date,
        access_key,
        secret_key.expose_secret().as_bytes(),
    );
    out.push(("authorization", auth));
    out
}

/// Every `reason` label `gsl_api_retries_total` can carry.
pub const RETRY_REASONS: [&str; 5] = [
    "rate_limited",
    "server_error",
    "transport",
    "timeout",
    "undecodable",
];

fn retry_reason(err: &GslError) -> Option<&'static str> {
    match err {
        GslError::RateLimited { .. } => Some("rate_limited"),
        GslError::Api { status, .. } if *status >= 500 => Some("server_error"),
        GslError::Transport { .. } => Some("transport"),
        GslError::Timeout { .. } => Some("timeout"),
        // A body cut by a proxy or garbled in transit decodes the next time; one that stays wrong still
        // fails after max_retries, naming the JSON path.
        GslError::Decode { .. } => Some("undecodable"),
        _ => None,
    }
}

/// Why a carrier action may be sent again: only when the gateway or GSL refused it before taking it (429,
/// "system busy"). After a timeout, a broken connection or an undecodable answer the order may have been
/// accepted, and sending it again would be the repeat GSL refuses for 5 minutes (`GSL.00016016`): the
/// caller looks the order up instead.
fn action_retry_reason(err: &GslError) -> Option<&'static str> {
    match err {
        GslError::RateLimited { .. } => Some("rate_limited"),
        GslError::Api { status, code, .. }
            if *status >= 500 && code.as_deref() == Some("GSL.00010003") =>
        {
            Some("server_error")
        }
        _ => None,
    }
}

pub(crate) fn get(op: Operation, path: String, query: Vec<(String, String)>) -> Call {
    Call {
        op,
        method: Method::GET,
        path,
        query,
        body: None,
        acts: false,
    }
}

pub(crate) fn post(op: Operation, path: String, body: Value) -> Call {
    // Serializing a Value cannot fail; the bytes hashed for signing are the bytes sent.
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    Call {
        op,
        method: Method::POST,
        path,
        query: Vec::new(),
        body: Some(bytes),
        acts: false,
    }
}

/// A POST that asks the carrier to act on a card.
pub(crate) fn action(op: Operation, path: String, body: Value) -> Call {
    Call {
        acts: true,
        ..post(op, path, body)
    }
}

fn member_pairs(cycle: YearMonth, page: u32, limit: u32) -> Vec<(String, String)> {
    let mut p = Pairs::default();
    p.one("billing_cycle", cycle.dashed())
        .one("offset", page)
        .one("limit", limit);
    p.0
}
