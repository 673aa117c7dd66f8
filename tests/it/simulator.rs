//! Integration tests: the simulator over real HTTP with raw reqwest (never the gsl client), plus the
//! official Python SDK as an independent client.

use std::time::Duration;

use chrono::NaiveDate;
use gsl_sync::domain::SimCardId;
use gsl_sync::simulator::{
    self, DriftFault, Faults, RateLimits, SimulatorHandle, SimulatorOptions, YearMonth,
};
use hmac::{Hmac, Mac};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const TODAY: &str = "2026-11-15";

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
}

fn opts(cards: u64) -> SimulatorOptions {
    SimulatorOptions {
        cards,
        seed: 11,
        today: day(TODAY),
        rate_limit: None,
        ..SimulatorOptions::default()
    }
}

async fn sim(o: SimulatorOptions) -> SimulatorHandle {
    simulator::start("127.0.0.1:0".parse().expect("addr"), o)
        .await
        .expect("simulator starts")
}

fn login_body(password: &str) -> Value {
    json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "demo", "password": password, "domain": {"name": "demo"}}}},
        "scope": {"project": {"name": "cn-north-4"}}}})
}

async fn token(s: &SimulatorHandle) -> String {
    let r = Client::new()
        .post(format!("{}/v3/auth/tokens", s.base_url()))
        .json(&login_body("demo"))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::CREATED);
    r.headers()["x-subject-token"]
        .to_str()
        .expect("token")
        .to_owned()
}

/// One authenticated call: (status, body as JSON or Null, raw bytes).
async fn call(
    s: &SimulatorHandle,
    tok: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, bytes) = call_raw(s, tok, method, path, body).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn call_raw(
    s: &SimulatorHandle,
    tok: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Vec<u8>) {
    let url = format!("{}{path}", s.base_url());
    let c = Client::new();
    let req = match method {
        "GET" => c.get(url),
        _ => c.post(url).json(&body.unwrap_or(Value::Null)),
    };
    let r = req
        .header("X-Auth-Token", tok)
        .send()
        .await
        .expect("request");
    assert!(
        r.headers().contains_key("x-request-id"),
        "every response carries X-Request-Id"
    );
    let status = r.status();
    (status, r.bytes().await.expect("body").to_vec())
}

fn code(v: &Value) -> &str {
    v["error_code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn paging_lists_every_card_once_with_the_total_count() {
    let s = sim(opts(1234)).await;
    let tok = token(&s).await;
    let mut ids = Vec::new();
    for page in 1..=4 {
        let (st, v) = call(
            &s,
            &tok,
            "GET",
            &format!("/v1/sim-cards?limit=500&offset={page}"),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(
            (
                v["count"].as_u64(),
                v["limit"].as_u64(),
                v["offset"].as_u64()
            ),
            (Some(1234), Some(500), Some(page))
        );
        let cards = v["sim_cards"].as_array().cloned().unwrap_or_default();
        assert_eq!(
            cards
                .first()
                .map(|c| c.as_object().map_or(0, |o| o.len()))
                .unwrap_or(38),
            38
        );
        ids.extend(
            cards
                .iter()
                .filter_map(|c| c["sim_card_id"].as_i64().map(SimCardId::from)),
        );
    }
    let truth: Vec<SimCardId> = s.fleet().card_ids().collect();
    assert_eq!(ids, truth);
    let (_, v) = call(
        &s,
        &tok,
        "GET",
        "/v1/sim-cards?limit=10&offset=1&order=desc&sort=cid",
        None,
    )
    .await;
    assert_eq!(
        v["sim_cards"][0]["sim_card_id"].as_i64(),
        truth.last().map(|id| id.get())
    );
    let iccid = s
        .fleet()
        .card(truth[7])
        .map(|c| c.iccid)
        .unwrap_or_default();
    let (_, v) = call(
        &s,
        &tok,
        "GET",
        &format!("/v1/sim-cards?main_search_type=1&main_search_key={iccid}"),
        None,
    )
    .await;
    assert_eq!(
        (
            v["count"].as_u64(),
            v["sim_cards"][0]["sim_card_id"].as_i64()
        ),
        (Some(1), Some(truth[7].get()))
    );
    let (_, v) = call(
        &s,
        &tok,
        "GET",
        "/v1/sim-cards?sim_status=30&limit=500",
        None,
    )
    .await;
    let dismantled = v["sim_cards"].as_array().cloned().unwrap_or_default();
    assert!(!dismantled.is_empty() && dismantled.iter().all(|c| c["sim_status"] == 30));
    assert_eq!(v["count"].as_u64(), Some(dismantled.len() as u64));
}

#[tokio::test]
async fn list_parameters_out_of_range_are_refused() {
    let s = sim(opts(30)).await;
    let tok = token(&s).await;
    let too_many_tags = (0..11)
        .map(|i| format!("tag_id={i}"))
        .collect::<Vec<_>>()
        .join("&");
    let long_key = format!("main_search_key={}", "9".repeat(129));
    for (query, ok) in [
        ("limit=10&offset=1", true),
        ("limit=500&offset=1000000", true),
        (
            "pool_flag=1&sort=flow_used&order=desc&real_named=true",
            true,
        ),
        ("limit=9", false),
        ("limit=501", false),
        ("offset=0", false),
        ("offset=1000001", false),
        ("sim_status=12", false),
        ("sim_type=4", false),
        ("order=up", false),
        ("sort=name", false),
        ("real_named=yes", false),
        ("min_used_flow=-1", false),
        (too_many_tags.as_str(), false),
        (long_key.as_str(), false),
    ] {
        let (st, v) = call(&s, &tok, "GET", &format!("/v1/sim-cards?{query}"), None).await;
        if ok {
            assert_eq!(st, StatusCode::OK, "{query}");
        } else {
            assert_eq!(
                (st, code(&v)),
                (StatusCode::BAD_REQUEST, "GSL.00010004"),
                "{query}"
            );
        }
    }
}

#[tokio::test]
async fn daily_flow_serves_the_window_from_last_month_to_yesterday() {
    let s = sim(opts(300)).await;
    let tok = token(&s).await;
    let ids: Vec<SimCardId> = s.fleet().card_ids().take(100).collect();
    for (body, days) in [
        (json!({"month": "202611", "sim_card_ids": ids}), Some(14)),
        (json!({"month": "202610", "sim_card_ids": ids}), Some(31)),
        (json!({"month": 202610, "sim_card_ids": ids}), Some(31)),
        (json!({"month": "202609", "sim_card_ids": ids}), None),
        (json!({"month": "202612", "sim_card_ids": ids}), None),
        (json!({"date": "20261001", "sim_card_ids": ids}), Some(1)),
        (json!({"date": 20261114, "sim_card_ids": ids}), Some(1)),
        (json!({"date": "20260930", "sim_card_ids": ids}), None),
        (json!({"date": "20261115", "sim_card_ids": ids}), None),
        (
            json!({"date": "20261114", "month": "202611", "sim_card_ids": ids}),
            None,
        ),
        (json!({"sim_card_ids": ids}), None),
    ] {
        let (st, v) = call(
            &s,
            &tok,
            "POST",
            "/v1/sim-cards/batch-daily-flow",
            Some(body.clone()),
        )
        .await;
        match days {
            Some(n) => assert_eq!(
                (st, v.as_array().map(Vec::len)),
                (StatusCode::OK, Some(n)),
                "{body}"
            ),
            None => assert_eq!(
                (st, code(&v)),
                (StatusCode::BAD_REQUEST, "GSL.00010004"),
                "{body}"
            ),
        }
    }
    // Values match the ground truth, zero days included, unknown ids left out.
    let body = json!({"month": "202611", "sim_card_ids": [ids[0], ids[1], 42]});
    let (_, v) = call(
        &s,
        &tok,
        "POST",
        "/v1/sim-cards/batch-daily-flow",
        Some(body),
    )
    .await;
    let fleet = s.fleet();
    for d in v.as_array().cloned().unwrap_or_default() {
        let date =
            NaiveDate::parse_from_str(d["date"].as_str().unwrap_or(""), "%Y%m%d").expect("date");
        let flows = d["sim_flow"].as_array().cloned().unwrap_or_default();
        assert_eq!(flows.len(), 2);
        for f in flows {
            let id = SimCardId::from(f["sim_card_id"].as_i64().unwrap_or(0));
            assert_eq!(f["flow"].as_f64(), fleet.daily_flow(id, date));
        }
    }
    // By iccid; and the 100-card limit.
    let iccids: Vec<String> = ids
        .iter()
        .filter_map(|id| fleet.card(*id))
        .map(|c| c.iccid)
        .collect();
    let (st, v) = call(
        &s,
        &tok,
        "POST",
        "/v1/sim-cards/batch-daily-flow",
        Some(json!({"date": "20261114", "iccids": iccids})),
    )
    .await;
    assert_eq!(
        (st, v[0]["sim_flow"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(100))
    );
    let both = json!({"date": "20261114", "iccids": [iccids[0]], "sim_card_ids": [ids[0]]});
    assert_eq!(
        call(
            &s,
            &tok,
            "POST",
            "/v1/sim-cards/batch-daily-flow",
            Some(both)
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    let ids101: Vec<SimCardId> = s.fleet().card_ids().take(101).collect();
    let (st, _) = call(
        &s,
        &tok,
        "POST",
        "/v1/sim-cards/batch-daily-flow",
        Some(json!({"date": "20261114", "sim_card_ids": ids101})),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn month_usages_enforce_500_cards_and_six_past_cycles() {
    let s = sim(opts(600)).await;
    let tok = token(&s).await;
    let ids: Vec<SimCardId> = s.fleet().card_ids().collect();
    let ok = |cycles: Value| json!({"sim_card_ids": ids[..500], "billing_cycles": cycles});
    for (body, good) in [
        (ok(json!(["2026-11", "2026-06"])), true),
        (
            json!({"sim_card_ids": ids[..501], "billing_cycles": ["2026-11"]}),
            false,
        ),
        (
            ok(json!([
                "2026-11", "2026-10", "2026-09", "2026-08", "2026-07", "2026-06", "2026-05"
            ])),
            false,
        ),
        (ok(json!(["2026-12"])), false),
        (ok(json!(["2026-05"])), false),
        (ok(json!(["202611"])), false),
        (ok(json!([])), false),
    ] {
        let (st, v) = call(
            &s,
            &tok,
            "POST",
            "/v1/sim-cards/month-usages",
            Some(body.clone()),
        )
        .await;
        if good {
            assert_eq!(st, StatusCode::OK);
            let first = &v["month_usages"][0];
            assert_eq!(first["flow_usages"][0]["billing_cycle"], "202611");
            let truth = s
                .fleet()
                .month_usage(ids[0], YearMonth::new(2026, 11).unwrap());
            assert_eq!(first["flow_usages"][0]["flow_used"].as_f64(), truth);
            assert_eq!(v["month_usages"].as_array().map(Vec::len), Some(500));
        } else {
            assert_eq!(
                (st, code(&v)),
                (StatusCode::BAD_REQUEST, "GSL.00010004"),
                "{body}"
            );
        }
    }
}

#[tokio::test]
async fn tokens_are_issued_checked_and_expire() {
    let s = sim(SimulatorOptions {
        token_lifetime: Duration::from_secs(1),
        ..opts(20)
    })
    .await;
    let c = Client::new();
    let r = c
        .post(format!("{}/v3/auth/tokens", s.base_url()))
        .json(&login_body("wrong"))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = c
        .post(format!("{}/v3/auth/tokens", s.base_url()))
        .json(&login_body("demo"))
        .send()
        .await
        .expect("login");
    let tok = r.headers()["x-subject-token"]
        .to_str()
        .unwrap_or("")
        .to_owned();
    let v: Value = r.json().await.expect("token body");
    assert!(v["token"]["expires_at"].is_string() && v["token"]["issued_at"].is_string());
    assert_eq!(
        call(&s, &tok, "GET", "/v1/sim-cards", None).await.0,
        StatusCode::OK
    );
    let (st, v) = call(&s, "forged", "GET", "/v1/sim-cards", None).await;
    assert_eq!((st, code(&v)), (StatusCode::UNAUTHORIZED, "APIGW.0301"));
    let r = c
        .get(format!("{}/v1/sim-cards", s.base_url()))
        .send()
        .await
        .expect("anonymous");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (st, v) = call(&s, &tok, "GET", "/v1/sim-cards", None).await;
    assert_eq!((st, code(&v)), (StatusCode::UNAUTHORIZED, "APIGW.0301"));
    assert!(v["error_msg"]
        .as_str()
        .unwrap_or("")
        .contains("decrypt token fail"));
    assert!(s.stats().auth_failures >= 3);
}

/// (path, query, bytes sent, bytes signed, X-Sdk-Date, secret, expected status).
type SignCase<'a> = (
    &'a str,
    &'a str,
    &'a [u8],
    &'a [u8],
    &'a str,
    &'a str,
    StatusCode,
);

/// A tiny SDK-HMAC-SHA256 signer for requests whose path and query need no escaping.
fn sign(
    method: &str,
    host: &str,
    path: &str,
    query: &str,
    body: &[u8],
    date: &str,
    sk: &str,
) -> String {
    let canonical = format!(
        "{method}\n{path}/\n{query}\ncontent-type:application/json\nhost:{host}\nx-sdk-date:{date}\n\ncontent-type;host;x-sdk-date\n{}",
        hex::encode(Sha256::digest(body))
    );
    let to_sign = format!(
        "SDK-HMAC-SHA256\n{date}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(sk.as_bytes()).expect("hmac key");
    mac.update(to_sign.as_bytes());
    format!(
        "SDK-HMAC-SHA256 Access=DEMOAK, SignedHeaders=content-type;host;x-sdk-date, Signature={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[tokio::test]
async fn aksk_signatures_are_verified_over_the_exact_bytes() {
    let s = sim(opts(20)).await;
    let host = s.addr().to_string();
    let now = chrono::Utc::now();
    let date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let stale = (now - chrono::Duration::minutes(20))
        .format("%Y%m%dT%H%M%SZ")
        .to_string();
    let body = br#"{"date": "20261114", "sim_card_ids": [5702790861709056]}"#;
    let other = br#"{"date": "20261113", "sim_card_ids": [5702790861709056]}"#;
    let c = Client::new();
    let send = |path: &str, query: &str, sent: &[u8], signed: &[u8], date: &str, sk: &str| {
        let url = if query.is_empty() {
            format!("{}{path}", s.base_url())
        } else {
            format!("{}{path}?{query}", s.base_url())
        };
        c.request(
            if sent.is_empty() {
                reqwest::Method::GET
            } else {
                reqwest::Method::POST
            },
            url,
        )
        .header("Content-Type", "application/json")
        .header("X-Sdk-Date", date)
        .header(
            "Authorization",
            sign(
                if sent.is_empty() { "GET" } else { "POST" },
                &host,
                path,
                query,
                signed,
                date,
                sk,
            ),
        )
        .body(sent.to_vec())
        .send()
    };
    let flow = "/v1/sim-cards/batch-daily-flow";
    let cases: [SignCase<'_>; 5] = [
        (
            "/v1/sim-cards",
            "limit=10&offset=1",
            b"",
            b"",
            &date,
            "DEMOSK",
            StatusCode::OK,
        ),
        (flow, "", body, body, &date, "DEMOSK", StatusCode::OK),
        (
            flow,
            "",
            body,
            other,
            &date,
            "DEMOSK",
            StatusCode::UNAUTHORIZED,
        ),
        (
            flow,
            "",
            body,
            body,
            &date,
            "WRONGSK",
            StatusCode::UNAUTHORIZED,
        ),
        (
            flow,
            "",
            body,
            body,
            &stale,
            "DEMOSK",
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (path, query, sent, signed, date, sk, want) in cases {
        let r = send(path, query, sent, signed, date, sk)
            .await
            .expect("signed request");
        assert_eq!(r.status(), want, "{path} {sk} {date}");
        if want == StatusCode::UNAUTHORIZED {
            let v: Value = r.json().await.unwrap_or(Value::Null);
            assert_eq!(code(&v), "APIGW.0301");
        }
    }
    let r = send("/v3/projects", "name=cn-north-4", b"", b"", &date, "DEMOSK")
        .await
        .expect("projects");
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(
        v["projects"][0]["id"].as_str(),
        Some(s.project_id().as_str())
    );
}

#[tokio::test]
async fn flow_control_throttles_bursts_but_not_paced_calls() {
    let s = sim(SimulatorOptions {
        rate_limit: Some(RateLimits::default()),
        ..opts(20)
    })
    .await;
    let tok = token(&s).await;
    let mut throttled = 0;
    for _ in 0..10 {
        let r = Client::new()
            .get(format!("{}/v1/sim-cards", s.base_url()))
            .header("X-Auth-Token", &tok)
            .send()
            .await
            .expect("list");
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(
                r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
                Some("1")
            );
            let v: Value = r.json().await.unwrap_or(Value::Null);
            assert_eq!(code(&v), "APIGW.0308");
            assert!(v["error_msg"]
                .as_str()
                .unwrap_or("")
                .starts_with("The throttling threshold has been reached"));
            throttled += 1;
        }
    }
    assert!(throttled >= 8, "{throttled}");
    assert_eq!(s.stats().throttled, throttled);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    s.reset_stats();
    for _ in 0..3 {
        assert_eq!(
            call(&s, &tok, "GET", "/v1/sim-cards", None).await.0,
            StatusCode::OK
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    assert_eq!(
        (s.stats().throttled, s.stats().calls("list_sim_cards")),
        (0, 3)
    );
}

#[tokio::test]
async fn fault_switches_inject_errors_truncation_and_drift() {
    let s = sim(opts(100)).await;
    let tok = token(&s).await;
    s.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let (st, v) = call(&s, &tok, "GET", "/v1/sim-cards", None).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::INTERNAL_SERVER_ERROR, "GSL.00010003")
    );
    assert_eq!(s.stats().injected_errors, 1);
    s.set_faults(Faults {
        truncate_rate: 1.0,
        ..Faults::default()
    });
    let (st, bytes) = call_raw(&s, &tok, "GET", "/v1/sim-cards", None).await;
    assert!(st == StatusCode::OK && serde_json::from_slice::<Value>(&bytes).is_err());
    s.set_faults(Faults {
        drift: Some(DriftFault {
            inserts: 1,
            removes: 1,
        }),
        ..Faults::default()
    });
    let before: Vec<SimCardId> = s.fleet().card_ids().collect();
    let (mut seen, mut counts) = (Vec::new(), Vec::new());
    for page in 1..=10 {
        let (_, v) = call(
            &s,
            &tok,
            "GET",
            &format!("/v1/sim-cards?limit=10&offset={page}"),
            None,
        )
        .await;
        counts.push(v["count"].as_u64().unwrap_or(0));
        seen.extend(
            v["sim_cards"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["sim_card_id"].as_i64().map(SimCardId::from)),
        );
    }
    let mut distinct = seen.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() < seen.len(), "a card was listed twice");
    let after: Vec<SimCardId> = s.fleet().card_ids().collect();
    assert!(
        after
            .iter()
            .any(|id| before.contains(id) && !seen.contains(id)),
        "a card that always existed was skipped"
    );
    assert!(
        counts.windows(2).any(|w| w[0] != w[1]),
        "count changed: {counts:?}"
    );
    assert!(
        after.windows(2).all(|w| w[0] < w[1]),
        "inserted ids sort among the others"
    );
    s.set_faults(Faults::default());
    assert_eq!(
        call(&s, &tok, "GET", "/v1/sim-cards", None).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn same_seed_gives_the_same_bytes() {
    let (a, b) = (sim(opts(700)).await, sim(opts(700)).await);
    let (ta, tb) = (token(&a).await, token(&b).await);
    for (method, path, body) in [
        ("GET", "/v1/sim-cards?limit=500&offset=2", None),
        (
            "POST",
            "/v1/sim-cards/batch-daily-flow",
            Some(
                json!({"month": "202610", "sim_card_ids": [5702790861709056i64, 5702790861710080i64]}),
            ),
        ),
    ] {
        let x = call_raw(&a, &ta, method, path, body.clone()).await;
        let y = call_raw(&b, &tb, method, path, body).await;
        assert_eq!(x, y, "{path}");
    }
}

#[tokio::test]
async fn today_cards_stops_and_pools_change_consistently() {
    let s = sim(opts(200)).await;
    let tok = token(&s).await;
    let busy = s
        .fleet()
        .card_ids()
        .filter_map(|id| s.fleet().card(id))
        .find(|c| c.sim_status == 20 && c.flow_used > 0.0);
    let Some(busy) = busy else {
        panic!("no card in use with traffic")
    };
    s.set_today(day("2026-11-25"));
    let later = s
        .fleet()
        .card(busy.sim_card_id)
        .map_or(0.0, |c| c.flow_used);
    assert!(later >= busy.flow_used);
    let (_, v) = call(
        &s,
        &tok,
        "GET",
        &format!("/v1/sim-cards/{}", busy.sim_card_id),
        None,
    )
    .await;
    assert_eq!(v["flow_used"].as_f64(), Some(later));

    let added = s.add_cards(3);
    s.remove_cards(&added[..1]);
    let (_, v) = call(&s, &tok, "GET", "/v1/sim-cards?limit=10&offset=21", None).await;
    assert_eq!(v["count"].as_u64(), Some(202));
    assert_eq!(
        v["sim_cards"][1]["sim_card_id"].as_i64(),
        Some(added[2].get())
    );

    let stop = format!("/v1/sim-cards/{}/stop", busy.sim_card_id);
    let (st, v) = call(&s, &tok, "POST", &stop, Some(json!({"down_up_switch": 1}))).await;
    assert_eq!(st, StatusCode::OK);
    let order = v["work_order_id"].as_i64();
    assert_eq!(
        code(
            &call(&s, &tok, "POST", &stop, Some(json!({"down_up_switch": 1})))
                .await
                .1
        ),
        "GSL.00016016"
    );
    let reset = format!("/v1/sim-cards/{}/reset", busy.sim_card_id);
    assert_eq!(
        code(
            &call(&s, &tok, "POST", &reset, Some(json!({"down_up_switch": 2})))
                .await
                .1
        ),
        "GSL.00016010"
    );
    let (_, v) = call(&s, &tok, "GET", "/v1/work-orders", None).await;
    assert_eq!(
        (v["count"].as_u64(), v["work_orders"][0]["id"].as_i64()),
        (Some(1), order)
    );

    let (_, v) = call(&s, &tok, "GET", "/v1/sim-pools?billing_cycle=2026-11", None).await;
    let pools = v["pools"].as_array().cloned().unwrap_or_default();
    assert_eq!(pools.len(), simulator::FORWARD_POOLS.len());
    let pool = &pools[0];
    let path = format!(
        "/v1/sim-pools/{}/members?billing_cycle=2026-11&limit=500",
        pool["id"]
    );
    let (_, m) = call(&s, &tok, "GET", &path, None).await;
    let used: f64 = m["pool_members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["flow_used"].as_f64())
        .sum();
    assert!((pool["flow_used"].as_f64().unwrap_or(-1.0) - used).abs() < 0.01);
    assert_eq!(pool["quantity"].as_u64(), m["count"].as_u64());
    let (st, _) = call(
        &s,
        &tok,
        "GET",
        &format!("/v1/sim-pools/{}/members", pool["id"]),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "billing_cycle is required");
    let (st, v) = call(
        &s,
        &tok,
        "GET",
        "/v1/back-pools?billing_cycle=2026-11",
        None,
    )
    .await;
    assert_eq!(
        (st, v["back_pools"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(simulator::BACK_POOLS.len()))
    );
}

#[tokio::test]
async fn the_official_python_sdk_reads_the_simulator() {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import huaweicloudsdkgsl"])
        .output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "the official SDK is not installed: run scripts/install-test-deps.sh"
    );
    let s = sim(SimulatorOptions {
        rate_limit: Some(RateLimits::default()),
        ..opts(1234)
    })
    .await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/fidelity.py");
    let out = tokio::process::Command::new("python3")
        .args([script, &s.base_url(), TODAY])
        .output()
        .await
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "fidelity.py failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().last(), Some("cards=1234"));
    assert!(
        s.stats().calls("list_projects") >= 1,
        "the SDK looked up the project id"
    );
}

#[tokio::test]
async fn simulate_command_prints_its_address_first_and_serves_there() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gsl-sync"))
        .args([
            "simulate",
            "--cards",
            "5",
            "--today",
            TODAY,
            "--no-rate-limit",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("gsl-sync simulate starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut first)
        .await
        .expect("first line");
    let base = first
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or("")
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{first:?}");
    let r = Client::new()
        .post(format!("{base}/v3/auth/tokens"))
        .json(&login_body("demo"))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::CREATED);
    child.kill().await.expect("stop the child we started");
}

#[tokio::test]
async fn carrier_actions_follow_the_iccid_carrier_and_change_the_card_once_done() {
    let s = sim(SimulatorOptions {
        // Long enough for the three calls before the check to find it pending on a busy machine.
        order_delay: Duration::from_secs(2),
        ..opts(300)
    })
    .await;
    let tok = token(&s).await;
    let cards: Vec<_> = s
        .fleet()
        .card_ids()
        .filter_map(|id| s.fleet().card(id))
        .collect();
    let telecom = cards
        .iter()
        .find(|c| c.iccid.starts_with("898603"))
        .expect("a Telecom card");
    let mobile = cards
        .iter()
        .find(|c| c.iccid.starts_with("898600") && c.sim_pool_id.is_none())
        .expect("an unpooled Mobile card");
    assert!(
        cards.iter().any(|c| c.iccid.starts_with("898601")),
        "Unicom cards too"
    );
    assert!(cards.iter().all(|c| c.iccid.len() == 20));

    // Selected by ICCID (id 0), as the client does.
    let cut = |iccid: &str| Some(json!({"action": "ADD", "iccid": iccid}));
    let (st, v) = call(
        &s,
        &tok,
        "POST",
        "/v1/sim-cards/0/cut-net",
        cut(&mobile.iccid),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "GSL.00011063"));
    let (st, v) = call(
        &s,
        &tok,
        "POST",
        "/v1/sim-cards/0/speed-limit",
        Some(json!({"speed_value": 64, "iccid": mobile.iccid})),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "GSL.00011063"));
    let (st, v) = call(
        &s,
        &tok,
        "POST",
        "/v1/sim-cards/0/cut-net",
        cut(&telecom.iccid),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let order = v["work_order_id"].as_i64().expect("a work order");
    // Pending: another operation on the card waits; the same one again is a repeat.
    let speed = format!("/v1/sim-cards/{}/speed-limit", telecom.sim_card_id);
    let (_, v) = call(&s, &tok, "POST", &speed, Some(json!({"speed_value": 64}))).await;
    assert_eq!(code(&v), "GSL.00016010");
    let (_, v) = call(
        &s,
        &tok,
        "POST",
        "/v1/sim-cards/0/cut-net",
        cut(&telecom.iccid),
    )
    .await;
    assert_eq!(code(&v), "GSL.00016016");
    assert_eq!(
        s.fleet().card(telecom.sim_card_id).map(|c| c.cut_net_flag),
        Some(false),
        "the card changes only once the order is done"
    );

    let details = format!("/v1/work-orders/{order}/details");
    let mut done = false;
    for _ in 0..100 {
        let (_, v) = call(&s, &tok, "GET", &details, None).await;
        if v["work_order_details"][0]["status"].as_i64() == Some(1) {
            assert_eq!(
                v["work_order_details"][0]["cid"].as_str(),
                Some(telecom.iccid.as_str())
            );
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(done, "the order completes");
    assert_eq!(
        s.fleet().card(telecom.sim_card_id).map(|c| c.cut_net_flag),
        Some(true)
    );
    let (_, v) = call(
        &s,
        &tok,
        "GET",
        &format!("/v1/work-orders?main_search_key={order}"),
        None,
    )
    .await;
    assert_eq!(v["work_orders"][0]["work_order_type"].as_i64(), Some(11));
    assert_eq!(v["work_orders"][0]["status"].as_i64(), Some(4));
    let (st, v) = call(&s, &tok, "POST", &speed, Some(json!({"speed_value": 0}))).await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "GSL.00011016"));
}
