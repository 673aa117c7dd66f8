//! Integration tests: the GSL client against tiny axum stubs on 127.0.0.1:0.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{NaiveDate, Utc};
use gsl_sync::domain::SimCardId;
use gsl_sync::gsl::{
    Auth, CallObserver, CardSelector, ClientSettings, DailyFlowQuery, FlowPeriod, GslClient,
    GslError, ListSimCardsQuery, Operation, SimCardRef, YearMonth,
};
use secrecy::SecretString;
use serde_json::{json, Value};
use url::Url;

const PASSWORD: &str = "pa55-w0rd-very-secret";

#[derive(Default)]
struct Recorder {
    finished: Mutex<Vec<(Operation, String)>>,
    retried: Mutex<Vec<(Operation, String)>>,
}

impl CallObserver for Recorder {
    fn call_finished(&self, _: &str, op: Operation, code: &str, _: Duration) {
        self.finished.lock().unwrap().push((op, code.to_owned()));
    }
    fn call_retried(&self, _: &str, op: Operation, reason: &str) {
        self.retried.lock().unwrap().push((op, reason.to_owned()));
    }
}

impl Recorder {
    fn codes(&self, op: Operation) -> Vec<String> {
        let f = self.finished.lock().unwrap();
        f.iter()
            .filter(|(o, _)| *o == op)
            .map(|(_, c)| c.clone())
            .collect()
    }
    fn reasons(&self) -> Vec<String> {
        self.retried
            .lock()
            .unwrap()
            .iter()
            .map(|(_, r)| r.clone())
            .collect()
    }
}

async fn serve(router: Router) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Url::parse(&format!("http://{addr}/")).unwrap()
}

fn settings(endpoint: Url, auth: Auth) -> ClientSettings {
    ClientSettings {
        account: "main".into(),
        endpoint,
        auth,
        list_rate_per_second: 0.0,
        total_rate_per_second: 0.0,
        request_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        max_retries: 3,
        retry_base_delay: Duration::from_millis(1),
        retry_max_delay: Duration::from_secs(2),
    }
}

fn token_auth() -> Auth {
    Auth::Token {
        token: SecretString::from("static-token"),
    }
}

fn password_auth(iam: &Url, password: &str) -> Auth {
    Auth::Password {
        iam_endpoint: iam.clone(),
        domain: "acme".into(),
        user: "bot".into(),
        password: SecretString::from(password),
        project: "cn-north-4".into(),
    }
}

fn client(s: ClientSettings) -> (GslClient, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    (GslClient::new(s, rec.clone()).unwrap(), rec)
}

fn card_json(id: i64) -> Value {
    json!({"sim_card_id": id, "iccid": format!("8986{id:016}"), "flow_used": 1.5, "flow_left": "2.5",
           "sim_status": 20, "act_date": "2020-01-31T16:00:00.000Z", "price_plan_name": "中国联通 1GB"})
}

fn gsl_error(status: StatusCode, code: &str, request_id: &str) -> Response {
    let body = json!({"error_code": code, "error_msg": "系统繁忙,请稍后重试"});
    (
        status,
        [("x-request-id", request_id.to_owned())],
        axum::Json(body),
    )
        .into_response()
}

// ---- paging ----------------------------------------------------------------------------------

struct Fleet {
    total: i64,
    asked: Mutex<Vec<(u32, u32)>>,
    /// page number → (count reported, ids served)
    overrides: HashMap<u32, (i64, Vec<i64>)>,
}

async fn list_cards(
    State(f): State<Arc<Fleet>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let offset: u32 = q["offset"].parse().unwrap();
    let limit: u32 = q["limit"].parse().unwrap();
    f.asked.lock().unwrap().push((offset, limit));
    let (count, ids) = f.overrides.get(&offset).cloned().unwrap_or_else(|| {
        let start = i64::from(offset - 1) * i64::from(limit);
        (
            f.total,
            (start..(start + i64::from(limit)).min(f.total)).collect(),
        )
    });
    let cards: Vec<Value> = ids.into_iter().map(card_json).collect();
    axum::Json(json!({"limit": limit, "offset": offset, "count": count, "sim_cards": cards}))
        .into_response()
}

async fn fleet(total: i64, overrides: HashMap<u32, (i64, Vec<i64>)>) -> (Url, Arc<Fleet>) {
    let f = Arc::new(Fleet {
        total,
        asked: Mutex::default(),
        overrides,
    });
    let url = serve(
        Router::new()
            .route("/v1/sim-cards", get(list_cards))
            .with_state(f.clone()),
    )
    .await;
    (url, f)
}

#[tokio::test]
async fn pager_walks_2345_cards_in_five_pages_with_a_partial_last_page() {
    let (url, f) = fleet(2345, HashMap::new()).await;
    let (c, _) = client(settings(url, token_auth()));
    let mut pager = c.card_pages(ListSimCardsQuery::default());
    let mut sizes = Vec::new();
    while let Some(page) = pager.next_page().await.unwrap() {
        sizes.push(page.sim_cards.len());
    }
    assert_eq!(sizes, [500, 500, 500, 500, 345]);
    let asked = f.asked.lock().unwrap().clone();
    assert_eq!(asked, [(1, 500), (2, 500), (3, 500), (4, 500), (5, 500)]);
    let d = pager.drift();
    assert_eq!(
        (d.pages, d.cards, d.duplicate_ids, d.count_changed),
        (5, 2345, 0, false)
    );
    assert_eq!((d.first_count, d.last_count), (Some(2345), Some(2345)));
    assert!(pager.next_page().await.unwrap().is_none());
}

#[tokio::test]
async fn pager_reports_a_changed_count_and_repeated_ids() {
    let mut over = HashMap::new();
    // Page 2 shifted by one: a card was added in front, so id 499 comes back again.
    over.insert(2, (1001, (499..999).collect()));
    over.insert(3, (1001, vec![999, 1000]));
    let (url, _) = fleet(1000, over).await;
    let (c, _) = client(settings(url, token_auth()));
    let mut pager = c.card_pages(ListSimCardsQuery::default());
    while pager.next_page().await.unwrap().is_some() {}
    let d = pager.drift();
    assert!(d.count_changed);
    assert_eq!((d.first_count, d.last_count), (Some(1000), Some(1001)));
    assert_eq!((d.pages, d.cards, d.duplicate_ids), (3, 1002, 1));
}

#[tokio::test]
async fn pager_fetches_an_empty_page_again_then_stops_and_names_it() {
    let mut over = HashMap::new();
    over.insert(2, (2000, vec![]));
    let (url, f) = fleet(2000, over).await;
    let (c, _) = client(settings(url, token_auth()));
    let mut pager = c.card_pages(ListSimCardsQuery::default());
    let mut pages = 0;
    while pager.next_page().await.unwrap().is_some() {
        pages += 1;
    }
    assert_eq!(pages, 1);
    // Page 1, then page 2 once and again three times (max_retries is 3 here).
    assert_eq!(f.asked.lock().unwrap().len(), 5);
    assert_eq!(
        pager.drift().incompleteness().as_deref(),
        Some("page 2 of 4 returned 0 of 500 cards")
    );
}

#[tokio::test]
async fn pager_reports_totals_that_do_not_add_up() {
    let mut over = HashMap::new();
    // Page 2 repeats page 1 while the count stays 1000: every page is full, yet half the cards are missing.
    over.insert(2, (1000, (0..500).collect()));
    let (url, _) = fleet(1000, over).await;
    let (c, _) = client(settings(url, token_auth()));
    let mut pager = c.card_pages(ListSimCardsQuery::default());
    while pager.next_page().await.unwrap().is_some() {}
    let d = pager.drift();
    assert!(!d.count_changed);
    assert_eq!(
        d.incompleteness().as_deref(),
        Some("listed 500 distinct cards of the 1000 count promised")
    );
}

// ---- retries ---------------------------------------------------------------------------------

/// Answers the scripted responses in order, then 200 with an empty page; records arrival times.
struct Script {
    replies: Mutex<Vec<Response>>,
    arrivals: Mutex<Vec<Instant>>,
}

async fn scripted(State(s): State<Arc<Script>>) -> Response {
    s.arrivals.lock().unwrap().push(Instant::now());
    let next = {
        let mut r = s.replies.lock().unwrap();
        (!r.is_empty()).then(|| r.remove(0))
    };
    next.unwrap_or_else(|| axum::Json(json!({"count": 0, "sim_cards": []})).into_response())
}

async fn script(replies: Vec<Response>) -> (Url, Arc<Script>) {
    let s = Arc::new(Script {
        replies: Mutex::new(replies),
        arrivals: Mutex::default(),
    });
    let r = Router::new()
        .route("/v1/sim-cards", get(scripted))
        .route("/v1/sim-cards/{id}", get(scripted))
        .with_state(s.clone());
    (serve(r).await, s)
}

fn query() -> ListSimCardsQuery {
    ListSimCardsQuery {
        limit: Some(500),
        offset: Some(1),
        ..Default::default()
    }
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let busy = || gsl_error(StatusCode::INTERNAL_SERVER_ERROR, "GSL.00010003", "r-500");
    let (url, s) = script(vec![busy(), busy()]).await;
    let (c, rec) = client(settings(url, token_auth()));
    c.list_sim_cards(&query()).await.unwrap();
    assert_eq!(s.arrivals.lock().unwrap().len(), 3);
    assert_eq!(
        rec.codes(Operation::ListSimCards),
        ["GSL.00010003", "GSL.00010003", "200"]
    );
    assert_eq!(rec.reasons(), ["server_error", "server_error"]);
}

#[tokio::test]
async fn server_errors_give_up_after_max_retries() {
    let busy = || gsl_error(StatusCode::INTERNAL_SERVER_ERROR, "GSL.00010003", "r-500");
    let (url, s) = script((0..10).map(|_| busy()).collect()).await;
    let (c, _) = client(settings(url, token_auth()));
    let err = c.list_sim_cards(&query()).await.unwrap_err();
    assert_eq!(s.arrivals.lock().unwrap().len(), 4);
    assert_eq!(err.code(), Some("GSL.00010003"));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn rate_limits_honour_retry_after() {
    let throttled = (
        StatusCode::TOO_MANY_REQUESTS,
        [("retry-after", "1")],
        axum::Json(json!({
        "error_code": "APIGW.0308", "error_msg": "The throttling threshold has been reached"})),
    )
        .into_response();
    let (url, s) = script(vec![throttled]).await;
    let (c, rec) = client(settings(url, token_auth()));
    c.list_sim_cards(&query()).await.unwrap();
    let arrivals = s.arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 2);
    // Jitter alone could wait at most 1 ms here; the gap proves Retry-After was obeyed.
    assert!(arrivals[1] - arrivals[0] >= Duration::from_secs(1));
    assert_eq!(rec.codes(Operation::ListSimCards), ["APIGW.0308", "200"]);
    assert_eq!(rec.reasons(), ["rate_limited"]);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_keep_code_and_request_id() {
    let (url, s) = script(vec![gsl_error(
        StatusCode::BAD_REQUEST,
        "GSL.00010004",
        "req-42",
    )])
    .await;
    let (c, rec) = client(settings(url, token_auth()));
    let err = c.list_sim_cards(&query()).await.unwrap_err();
    assert_eq!(s.arrivals.lock().unwrap().len(), 1);
    match &err {
        GslError::Api {
            status,
            code,
            request_id,
            operation,
            ..
        } => {
            assert_eq!(
                (*status, code.as_deref(), request_id.as_deref()),
                (400, Some("GSL.00010004"), Some("req-42"))
            );
            assert_eq!(*operation, Operation::ListSimCards);
        }
        other => panic!("expected Api, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert!(rec.reasons().is_empty());
}

#[tokio::test]
async fn code_message_error_shape_is_understood() {
    let reply = (
        StatusCode::FORBIDDEN,
        axum::Json(json!({"code": "GSL.00011004", "message": "账期不合法,请检查!"})),
    )
        .into_response();
    let (url, _) = script(vec![reply]).await;
    let (c, _) = client(settings(url, token_auth()));
    let err = c
        .show_sim_card(SimCardRef::Id(SimCardId::from(5)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("GSL.00011004"));
    assert!(err.to_string().contains("账期不合法"), "{err}");
}

fn ok_json(body: String) -> Response {
    (StatusCode::OK, [("content-type", "application/json")], body).into_response()
}

#[tokio::test]
async fn a_truncated_body_is_retried_like_a_5xx() {
    let full = serde_json::to_string(&json!({"count": 1, "sim_cards": [card_json(1)]})).unwrap();
    let cut = full[..full.len() / 2].to_owned();
    let (url, s) = script(vec![ok_json(cut), ok_json(full)]).await;
    let (c, rec) = client(settings(url, token_auth()));
    let page = c.list_sim_cards(&query()).await.unwrap();
    assert_eq!(page.sim_cards.len(), 1);
    assert_eq!(s.arrivals.lock().unwrap().len(), 2);
    assert_eq!(rec.codes(Operation::ListSimCards), ["decode", "200"]);
    assert_eq!(rec.reasons(), ["undecodable"]);
}

#[tokio::test]
async fn a_body_that_stays_undecodable_fails_with_the_json_path_after_max_retries() {
    let bad = || ok_json(r#"{"count":1,"sim_cards":[{"sim_card_id":"x1"}]}"#.to_owned());
    let (url, s) = script(vec![bad(), bad(), bad(), bad(), bad()]).await;
    let (c, rec) = client(settings(url, token_auth()));
    let err = c.list_sim_cards(&query()).await.unwrap_err();
    assert!(
        matches!(
            err,
            GslError::Decode {
                operation: Operation::ListSimCards,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("sim_cards[0].sim_card_id"),
        "{err}"
    );
    assert_eq!(s.arrivals.lock().unwrap().len(), 4, "1 + max_retries (3)");
    assert_eq!(rec.reasons(), ["undecodable"; 3]);
}

#[tokio::test]
async fn implausible_values_are_counted_logged_and_stored_as_unknown() {
    let mut card = card_json(7);
    card["flow_used"] = json!(-5);
    let body = serde_json::to_string(&json!({"count": 1, "sim_cards": [card]})).unwrap();
    let (url, _) = script(vec![ok_json(body)]).await;
    let telemetry = gsl_sync::telemetry::Telemetry::new();
    let c = GslClient::new(settings(url, token_auth()), Arc::new(telemetry.clone())).unwrap();
    let page = c.list_sim_cards(&query()).await.unwrap();
    assert_eq!(
        page.sim_cards[0].flow_used, None,
        "negative usage is unknown, not -5"
    );
    let text =
        String::from_utf8(telemetry.encode(gsl_sync::metrics::text::Format::Prometheus)).unwrap();
    assert!(
        text.contains(
            r#"gsl_api_implausible_values_total{account="main",field="flow_used",operation="list_sim_cards"} 1"#
        ),
        "{text}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_a_transport_error_after_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let (c, rec) = client(settings(url, token_auth()));
    let err = c.list_sim_cards(&query()).await.unwrap_err();
    assert!(matches!(err, GslError::Transport { .. }), "{err:?}");
    assert_eq!(rec.reasons(), ["transport", "transport", "transport"]);
}

// ---- IAM password login ----------------------------------------------------------------------

struct Iam {
    logins: AtomicU32,
    lifetime: chrono::Duration,
    /// Tokens the GSL side accepts; a login issues `tok-<n>`.
    valid: Mutex<Vec<String>>,
    accept_new: bool,
}

async fn login(State(s): State<Arc<Iam>>, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap();
    let pw = v
        .pointer("/auth/identity/password/user/password")
        .and_then(Value::as_str);
    if pw != Some(PASSWORD) {
        let e = json!({"error": {"code": 401, "message": "The username or password is wrong.", "title": "Unauthorized"}});
        return (
            StatusCode::UNAUTHORIZED,
            [("x-request-id", "iam-1")],
            axum::Json(e),
        )
            .into_response();
    }
    let n = s.logins.fetch_add(1, Ordering::SeqCst) + 1;
    let token = format!("tok-{n}");
    if s.accept_new {
        s.valid.lock().unwrap().push(token.clone());
    }
    let now = Utc::now();
    let body = json!({"token": {"issued_at": now.to_rfc3339(), "expires_at": (now + s.lifetime).to_rfc3339()}});
    (
        StatusCode::CREATED,
        [("x-subject-token", token)],
        axum::Json(body),
    )
        .into_response()
}

async fn guarded(State(s): State<Arc<Iam>>, headers: HeaderMap) -> Response {
    let tok = headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !s.valid.lock().unwrap().iter().any(|t| t == tok) {
        return gsl_error(StatusCode::UNAUTHORIZED, "APIGW.0301", "r-401");
    }
    axum::Json(json!({"count": 0, "sim_cards": []})).into_response()
}

async fn iam(lifetime: chrono::Duration, accept_new: bool) -> (Url, Arc<Iam>) {
    let s = Arc::new(Iam {
        logins: AtomicU32::new(0),
        lifetime,
        valid: Mutex::default(),
        accept_new,
    });
    let r = Router::new()
        .route("/v3/auth/tokens", post(login))
        .route("/v1/sim-cards", get(guarded))
        .with_state(s.clone());
    (serve(r).await, s)
}

#[tokio::test]
async fn a_401_triggers_one_relogin_then_the_call_succeeds() {
    let (url, s) = iam(chrono::Duration::hours(24), true).await;
    let (c, rec) = client(settings(url.clone(), password_auth(&url, PASSWORD)));
    c.list_sim_cards(&query()).await.unwrap();
    assert_eq!(s.logins.load(Ordering::SeqCst), 1);
    // The server revokes every token (e.g. a password change elsewhere).
    s.valid.lock().unwrap().clear();
    c.list_sim_cards(&query()).await.unwrap();
    assert_eq!(s.logins.load(Ordering::SeqCst), 2);
    assert_eq!(rec.reasons(), ["auth_expired"]);
    assert_eq!(
        rec.codes(Operation::ListSimCards),
        ["200", "APIGW.0301", "200"]
    );
    assert_eq!(rec.codes(Operation::Login), ["201", "201"]);
}

#[tokio::test]
async fn a_token_rejected_after_relogin_is_an_auth_error() {
    let (url, s) = iam(chrono::Duration::hours(24), false).await;
    let (c, _) = client(settings(url.clone(), password_auth(&url, PASSWORD)));
    let err = c.list_sim_cards(&query()).await.unwrap_err();
    assert!(matches!(err, GslError::Auth { .. }), "{err:?}");
    assert_eq!(s.logins.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_wrong_password_is_an_auth_error_that_reveals_no_secret() {
    let (url, _) = iam(chrono::Duration::hours(24), true).await;
    let wrong = "wr0ng-pa55-secret";
    let (c, rec) = client(settings(url.clone(), password_auth(&url, wrong)));
    let err = c.list_sim_cards(&query()).await.unwrap_err();
    match &err {
        GslError::Auth {
            request_id,
            message,
            ..
        } => {
            assert_eq!(request_id.as_deref(), Some("iam-1"));
            assert!(message.contains("password is wrong"));
        }
        other => panic!("expected Auth, got {other:?}"),
    }
    let shown = format!("{err} {err:?} {c:?}");
    for secret in [wrong, PASSWORD, "tok-"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(rec.codes(Operation::ListSimCards).is_empty());
}

#[tokio::test]
async fn concurrent_callers_share_one_login() {
    let (url, s) = iam(chrono::Duration::hours(24), true).await;
    let (c, _) = client(settings(url.clone(), password_auth(&url, PASSWORD)));
    let calls = (0..16).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { c.list_sim_cards(&query()).await })
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap().unwrap();
    }
    assert_eq!(s.logins.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_token_is_refreshed_before_expiry_by_exactly_one_login() {
    // Lifetime 2 s: renewal is due with 0.2 s left, i.e. 1.8 s after the login.
    let (url, s) = iam(chrono::Duration::seconds(2), true).await;
    let (c, _) = client(settings(url.clone(), password_auth(&url, PASSWORD)));
    c.list_sim_cards(&query()).await.unwrap();
    assert_eq!(s.logins.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(1850)).await;
    let calls = (0..8).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { c.list_sim_cards(&query()).await })
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap().unwrap();
    }
    assert_eq!(s.logins.load(Ordering::SeqCst), 2);
}

// ---- request bodies and AK/SK -----------------------------------------------------------------

#[derive(Default)]
struct Capture {
    bodies: Mutex<Vec<Value>>,
}

async fn capture_flow(State(s): State<Arc<Capture>>, body: Bytes) -> Response {
    s.bodies
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap());
    axum::Json(json!([{"date": "20240801", "sim_flow": [{"sim_card_id": "1", "iccid": "a", "flow": "3.5"}]}]))
        .into_response()
}

async fn capture_usage(State(s): State<Arc<Capture>>, body: Bytes) -> Response {
    s.bodies
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap());
    axum::Json(json!({"month_usages": [{"sim_card_id": 1, "flow_usages": [{"billing_cycle": "202408", "flow_used": 9}]}]}))
        .into_response()
}

#[tokio::test]
async fn daily_flow_and_month_usages_send_the_documented_bodies() {
    let cap = Arc::new(Capture::default());
    let r = Router::new()
        .route("/v1/sim-cards/batch-daily-flow", post(capture_flow))
        .route("/v1/sim-cards/month-usages", post(capture_usage))
        .with_state(cap.clone());
    let (c, _) = client(settings(serve(r).await, token_auth()));
    let aug = YearMonth::new(2024, 8).unwrap();
    let days = c
        .daily_flow(&DailyFlowQuery {
            cards: CardSelector::Ids(vec![SimCardId::from(1), SimCardId::from(2)]),
            period: FlowPeriod::Month(aug),
        })
        .await
        .unwrap();
    assert_eq!(days[0].flows[0].flow_mb, 3.5);
    let day = NaiveDate::from_ymd_opt(2024, 8, 21).unwrap();
    c.daily_flow(&DailyFlowQuery {
        cards: CardSelector::Iccids(vec!["8986".into()]),
        period: FlowPeriod::Date(day),
    })
    .await
    .unwrap();
    let usages = c
        .month_usages(CardSelector::Ids(vec![SimCardId::from(1)]), &[aug])
        .await
        .unwrap();
    assert_eq!(usages[0].flow_usages[0].billing_cycle, Some(aug));
    let bodies = cap.bodies.lock().unwrap().clone();
    assert_eq!(
        bodies,
        [
            json!({"sim_card_ids": [1, 2], "month": "202408"}),
            json!({"iccids": ["8986"], "date": "20240821"}),
            json!({"sim_card_ids": [1], "billing_cycles": ["2024-08"]}),
        ]
    );
}

#[tokio::test]
async fn oversized_batches_are_refused_client_side() {
    let (c, rec) = client(settings(
        Url::parse("http://127.0.0.1:9/").unwrap(),
        token_auth(),
    ));
    let aug = YearMonth::new(2024, 8).unwrap();
    let q = DailyFlowQuery {
        cards: CardSelector::Ids((0..101).map(SimCardId::from).collect()),
        period: FlowPeriod::Month(aug),
    };
    assert!(matches!(
        c.daily_flow(&q).await,
        Err(GslError::InvalidRequest(_))
    ));
    let many = CardSelector::Ids((0..501).map(SimCardId::from).collect());
    assert!(matches!(
        c.month_usages(many, &[aug]).await,
        Err(GslError::InvalidRequest(_))
    ));
    let cycles = [aug; 7];
    assert!(matches!(
        c.month_usages(CardSelector::Ids(vec![SimCardId::from(1)]), &cycles)
            .await,
        Err(GslError::InvalidRequest(_))
    ));
    assert!(rec.finished.lock().unwrap().is_empty());
}

async fn verify_signature(
    uri: axum::http::Uri,
    method: axum::http::Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    use gsl_sync::gsl::sign;
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (date, host, project) = (h("x-sdk-date"), h("host"), h("x-project-id"));
    let signed = [
        ("content-type", "application/json"),
        ("host", host.as_str()),
        ("x-project-id", project.as_str()),
        ("x-sdk-date", date.as_str()),
    ];
    let input = sign::SignInput {
        method: method.as_str(),
        path: uri.path(),
        canonical_query: uri.query().unwrap_or(""),
        headers: &signed,
        body: &body,
    };
    let want = sign::authorization(&input, &date, "AKTEST", b"SKTEST-secret");
    if h("authorization") != want || project != "proj-1" || !h("x-auth-token").is_empty() {
        return gsl_error(StatusCode::UNAUTHORIZED, "APIGW.0301", "sig");
    }
    axum::Json(json!({"work_order_id": "1000001", "count": 0})).into_response()
}

#[tokio::test]
async fn aksk_requests_carry_a_verifiable_signature() {
    let r = Router::new()
        .route("/v1/sim-cards", get(verify_signature))
        .route("/v1/sim-cards/{id}/stop", post(verify_signature));
    let auth = Auth::AkSk {
        access_key: "AKTEST".into(),
        secret_key: SecretString::from("SKTEST-secret"),
        project_id: "proj-1".into(),
    };
    let (c, _) = client(settings(serve(r).await, auth));
    let q = ListSimCardsQuery {
        main_search_key: Some("8986 01+x".into()),
        tag_id: vec![3, 1],
        ..query()
    };
    c.list_sim_cards(&q).await.unwrap();
    let wo = c
        .stop_sim_card(SimCardRef::Iccid("89860000000000000001".into()), 1)
        .await
        .unwrap();
    assert_eq!(wo.0, 1000001);
}
