//! The HTTP front: routes a request, authenticates it, applies flow control and faults, and counts it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{request::Parts, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use rand::Rng;
use secrecy::ExposeSecret;
use serde::Serialize;

use super::auth::{Credentials, Limiter, RateLimits, TokenError, Tokens};
use super::card::{mix, Burn};
use super::fleet::{FleetState, FleetView};
use super::orders::Orders;
use super::query::Query;
use super::{
    actions, api, iam, plans, pools, sign, Faults, PageAnswer, SimStats, SimulatorOptions,
};

const MAX_BODY: usize = 12 << 20;

/// What the simulator can change while running.
#[derive(Debug)]
pub struct World {
    pub fleet: FleetState,
    pub today: NaiveDate,
    /// The simulated local time (Asia/Shanghai) once set; until then the real time of day on `today`.
    pub clock: Option<NaiveDateTime>,
    pub burns: HashMap<u64, Burn>,
    pub faults: Faults,
    pub rate_limit: Option<super::RateLimits>,
    pub orders: Orders,
}

impl World {
    /// The simulated local time: the clock when set, else the real time of day on `today`.
    pub fn now(&self) -> NaiveDateTime {
        self.clock
            .unwrap_or_else(|| self.today.and_time(super::shanghai_now().time()))
    }
}

pub struct Sim {
    showcase: bool,
    pub seed: u64,
    pub creds: Credentials,
    pub token_lifetime: Duration,
    pub project_id: String,
    pub tokens: Tokens,
    limiter: Limiter,
    world: Mutex<World>,
    stats: Mutex<SimStats>,
}

/// One answer, before the request id is attached.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json<T: Serialize>(status: u16, value: &T) -> Reply {
        match serde_json::to_vec(value) {
            Ok(body) => Reply {
                status: code(status),
                body,
                headers: Vec::new(),
            },
            Err(_) => Reply::error(500, "GSL.00010003", "系统繁忙,请稍后重试。"),
        }
    }
    pub fn error(status: u16, error_code: &str, error_msg: &str) -> Reply {
        let body = serde_json::json!({ "error_code": error_code, "error_msg": error_msg });
        Reply {
            status: code(status),
            body: body.to_string().into_bytes(),
            headers: Vec::new(),
        }
    }
    /// 400 `GSL.00010004`.
    pub fn bad_param() -> Reply {
        Reply::error(400, "GSL.00010004", "参数异常")
    }
}

fn code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The operations served, named as in `SimStats::calls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Login,
    Projects,
    ListCards,
    ShowCard(String),
    DailyFlow,
    MonthUsages,
    Pools,
    PoolMembers(String),
    BackPools,
    BackPoolMembers(String),
    Stop(String),
    Reset(String),
    CutNet(String),
    SpeedLimit(String),
    ExceedCutNet(String),
    WorkOrders,
    WorkOrderDetails(String),
    PricePlans,
}

impl Route {
    pub fn parse(method: &Method, path: &str) -> Option<Route> {
        let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        let get = method == Method::GET;
        let post = method == Method::POST;
        let own = |s: &str| s.to_owned();
        Some(match segs.as_slice() {
            ["v3", "auth", "tokens"] if post => Route::Login,
            ["v3", "projects"] if get => Route::Projects,
            ["v1", "sim-cards"] if get => Route::ListCards,
            ["v1", "sim-cards", "batch-daily-flow"] if post => Route::DailyFlow,
            ["v1", "sim-cards", "month-usages"] if post => Route::MonthUsages,
            ["v1", "sim-cards", id] if get => Route::ShowCard(own(id)),
            ["v1", "sim-cards", id, "stop"] if post => Route::Stop(own(id)),
            ["v1", "sim-cards", id, "reset"] if post => Route::Reset(own(id)),
            ["v1", "sim-cards", id, "cut-net"] if post => Route::CutNet(own(id)),
            ["v1", "sim-cards", id, "speed-limit"] if post => Route::SpeedLimit(own(id)),
            ["v1", "sim-cards", id, "exceed-cut-net"] if post => Route::ExceedCutNet(own(id)),
            ["v1", "sim-pools"] if get => Route::Pools,
            ["v1", "sim-pools", id, "members"] if get => Route::PoolMembers(own(id)),
            ["v1", "back-pools"] if get => Route::BackPools,
            ["v1", "back-pools", id, "members"] if get => Route::BackPoolMembers(own(id)),
            ["v1", "work-orders"] if get => Route::WorkOrders,
            ["v1", "work-orders", id, "details"] if get => Route::WorkOrderDetails(own(id)),
            ["v1", "sim-price-plans"] if get => Route::PricePlans,
            _ => return None,
        })
    }

    pub fn op(&self) -> &'static str {
        match self {
            Route::Login => "login",
            Route::Projects => "list_projects",
            Route::ListCards => "list_sim_cards",
            Route::ShowCard(_) => "show_sim_card",
            Route::DailyFlow => "daily_flow",
            Route::MonthUsages => "month_usages",
            Route::Pools => "list_sim_pools",
            Route::PoolMembers(_) => "list_sim_pool_members",
            Route::BackPools => "list_back_pools",
            Route::BackPoolMembers(_) => "list_back_pool_members",
            Route::Stop(_) => "stop_sim_card",
            Route::Reset(_) => "reset_sim_card",
            Route::CutNet(_) => "cut_net",
            Route::SpeedLimit(_) => "speed_limit",
            Route::ExceedCutNet(_) => "exceed_cut_net",
            Route::WorkOrders => "list_work_orders",
            Route::WorkOrderDetails(_) => "list_work_order_details",
            Route::PricePlans => "list_sim_price_plans",
        }
    }

    /// The 1/s sub-limit the operation falls under besides the total (gsl-api.md §5), if any.
    fn lane(&self) -> Option<&'static str> {
        match self {
            Route::ListCards => Some("list_sim_cards"),
            Route::PricePlans => Some("list_sim_price_plans"),
            _ => None,
        }
    }

    fn is_gsl(&self) -> bool {
        !matches!(self, Route::Login | Route::Projects)
    }
}

pub fn router(sim: Arc<Sim>) -> Router {
    Router::new().fallback(handle).with_state(sim)
}

async fn handle(State(sim): State<Arc<Sim>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let reply = match to_bytes(body, MAX_BODY).await {
        Ok(bytes) => sim.serve(&parts, &bytes).await,
        Err(_) => Reply::error(413, "APIGW.0201", "Request entity too large"),
    };
    let mut resp = Response::new(Body::from(reply.body));
    *resp.status_mut() = reply.status;
    let headers = resp.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-request-id", v);
    }
    for (name, value) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    resp
}

impl Sim {
    pub fn new(opts: SimulatorOptions) -> Sim {
        Sim {
            showcase: opts.showcase,
            seed: opts.seed,
            project_id: format!(
                "{:016x}{:016x}",
                mix(opts.seed ^ 0x9909),
                mix(opts.seed ^ 0x1234)
            ),
            creds: opts.credentials,
            token_lifetime: opts.token_lifetime,
            tokens: Tokens::default(),
            limiter: Limiter::default(),
            world: Mutex::new(World {
                fleet: FleetState::new(opts.cards),
                today: opts.today,
                clock: None,
                burns: HashMap::new(),
                faults: opts.faults,
                rate_limit: opts.rate_limit,
                orders: Orders::with_delay(opts.order_delay),
            }),
            stats: Mutex::new(SimStats::default()),
        }
    }

    pub fn with_world<T>(&self, f: impl FnOnce(&mut World) -> T) -> Option<T> {
        self.world.lock().ok().map(|mut w| f(&mut w))
    }

    pub fn with_stats(&self, f: impl FnOnce(&mut SimStats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }

    pub fn stats(&self) -> SimStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// A consistent snapshot of the fleet, to derive answers from outside the lock.
    pub fn view(&self) -> FleetView {
        self.with_world(|w| FleetView {
            seed: self.seed,
            today: w.today,
            state: w.fleet.clone(),
            overrides: w.orders.overrides(),
            showcase: self.showcase,
            now: w.now(),
            burns: w.burns.clone(),
        })
        .unwrap_or_else(|| FleetView {
            seed: self.seed,
            today: super::shanghai_today(),
            state: FleetState::new(0),
            overrides: Default::default(),
            showcase: self.showcase,
            now: super::shanghai_now(),
            burns: HashMap::new(),
        })
    }

    async fn serve(&self, parts: &Parts, body: &[u8]) -> Reply {
        let Some(route) = Route::parse(&parts.method, parts.uri.path()) else {
            self.with_stats(|s| {
                s.total += 1;
                *s.calls.entry("unknown").or_default() += 1;
            });
            return Reply::error(
                404,
                "APIGW.0101",
                "The API does not exist or has not been published in the environment",
            );
        };
        self.with_stats(|s| {
            s.total += 1;
            *s.calls.entry(route.op()).or_default() += 1;
        });
        let (faults, limits) = self
            .with_world(|w| (w.faults.clone(), w.rate_limit))
            .unwrap_or_default();
        if !faults.latency.is_zero() {
            tokio::time::sleep(faults.latency).await;
        }
        let query = Query::parse(parts.uri.query().unwrap_or(""));
        if route == Route::Login {
            return iam::login(self, body);
        }
        let user = match self.authenticate(parts, body) {
            Ok(user) => user,
            Err(reply) => {
                self.with_stats(|s| s.auth_failures += 1);
                return reply;
            }
        };
        if route.is_gsl() {
            if let Some(reply) = self.gate(&route, &user, limits, &faults) {
                return reply;
            }
        }
        let mut reply = self.dispatch(&route, &query, body);
        if reply.status.is_success() && self.page_fault_due(&route, &query) {
            if let Some(fault) = faults.page_fault {
                reply.body = spoil_page(&reply.body, fault.answer);
            }
        }
        if faults.truncate_rate > 0.0 && rand::thread_rng().gen_bool(faults.truncate_rate.min(1.0))
        {
            reply.body.truncate(reply.body.len() / 2);
            self.with_stats(|s| s.truncated += 1);
        }
        reply
    }

    /// Whether the page fault applies to this call; counts down its `times`.
    fn page_fault_due(&self, route: &Route, q: &Query) -> bool {
        let page = q
            .get("offset")
            .and_then(|o| o.parse::<u64>().ok())
            .unwrap_or(1);
        self.with_world(|w| {
            let Some(fault) = w.faults.page_fault.as_mut() else {
                return false;
            };
            if fault.op != route.op() || fault.page != page {
                return false;
            }
            match &mut fault.times {
                None => true,
                Some(0) => false,
                Some(n) => {
                    *n -= 1;
                    true
                }
            }
        })
        .unwrap_or(false)
    }

    /// Flow control, then error injection.
    fn gate(
        &self,
        route: &Route,
        user: &str,
        limits: Option<RateLimits>,
        faults: &Faults,
    ) -> Option<Reply> {
        if let Some(limits) = limits {
            if let Some(limit) = self.limiter.admit(&limits, user, route.lane()) {
                self.with_stats(|s| s.throttled += 1);
                let msg = format!(
                    "The throttling threshold has been reached: policy user over ratelimit,limit:{limit},time:1 second"
                );
                let mut reply = Reply::error(429, "APIGW.0308", &msg);
                reply.headers.push(("retry-after", "1".to_owned()));
                return Some(reply);
            }
        }
        if faults.error_rate > 0.0 && rand::thread_rng().gen_bool(faults.error_rate.min(1.0)) {
            self.with_stats(|s| s.injected_errors += 1);
            return Some(Reply::error(500, "GSL.00010003", "系统繁忙,请稍后重试。"));
        }
        None
    }

    fn dispatch(&self, route: &Route, q: &Query, body: &[u8]) -> Reply {
        match route {
            Route::Login => iam::login(self, body),
            Route::Projects => iam::projects(self, q),
            Route::ListCards => api::list_cards(self, q),
            Route::ShowCard(id) => api::show_card(self, id, q),
            Route::DailyFlow => api::daily_flow(self, body),
            Route::MonthUsages => api::month_usages(self, body),
            Route::Pools => pools::list_pools(self, q, false),
            Route::BackPools => pools::list_pools(self, q, true),
            Route::PoolMembers(id) => pools::members(self, id, q, false),
            Route::BackPoolMembers(id) => pools::members(self, id, q, true),
            Route::Stop(id) => actions::stop_or_reset(self, id, body, true),
            Route::Reset(id) => actions::stop_or_reset(self, id, body, false),
            Route::CutNet(id) => actions::cut_net(self, id, body),
            Route::SpeedLimit(id) => actions::speed_limit(self, id, body),
            Route::ExceedCutNet(id) => actions::exceed_cut_net(self, id, body),
            Route::WorkOrders => actions::work_orders(self, q),
            Route::WorkOrderDetails(id) => actions::work_order_details(self, id, q),
            Route::PricePlans => plans::price_plans(self, q),
        }
    }

    /// The calling user (token) or access key (AK/SK), or the 401 to answer.
    fn authenticate(&self, parts: &Parts, body: &[u8]) -> Result<String, Reply> {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let refuse = |why: &str| {
            Reply::error(
                401,
                "APIGW.0301",
                &format!("Incorrect IAM authentication information: {why}"),
            )
        };
        if let Some(token) = header("x-auth-token") {
            return self.tokens.check(&token).map_err(|e| match e {
                TokenError::Expired => refuse("decrypt token fail (token expired)"),
                TokenError::Unknown => refuse("decrypt token fail"),
            });
        }
        if header("authorization").is_none() {
            return Err(refuse("no token or AK/SK signature in request"));
        }
        let signed = sign::Signed {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            header: &header,
            body,
        };
        let secret_for = |ak: &str| {
            (ak == self.creds.access_key)
                .then(|| self.creds.secret_key.expose_secret().as_bytes().to_vec())
        };
        sign::verify(&signed, secret_for, chrono::Utc::now()).map_err(|e| match e {
            sign::SignError::Skew => refuse("verify aksk signature fail, x-sdk-date expired"),
            sign::SignError::UnknownKey => refuse("ak not exist"),
            _ => refuse("verify aksk signature fail"),
        })
    }
}

/// Replaces every list at the top of a JSON object body as `answer` says; other bodies pass unchanged.
fn spoil_page(body: &[u8], answer: PageAnswer) -> Vec<u8> {
    let Ok(serde_json::Value::Object(mut map)) = serde_json::from_slice(body) else {
        return body.to_vec();
    };
    for value in map.values_mut() {
        if let serde_json::Value::Array(items) = value {
            match answer {
                PageAnswer::Null => *value = serde_json::Value::Null,
                PageAnswer::Empty => items.clear(),
                PageAnswer::Short(n) => items.truncate(n),
            }
        }
    }
    serde_json::to_vec(&map).unwrap_or_else(|_| body.to_vec())
}
