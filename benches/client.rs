//! Decode throughput of realistic ListSimCards pages (500 cards, all 38 fields), as figures, not assertions.

use std::hint::black_box;
use std::time::Instant;

use gsl_sync::gsl::decode;
use serde_json::{json, Value};

const CARDS_PER_PAGE: i64 = 500;
const PAGES: usize = 2_000;
const DISTINCT_PAGES: usize = 20;
const PLANS: [&str; 4] = [
    "中国联通月包1GB",
    "中国移动物联网卡年包10GB",
    "中国电信流量池套餐500MB",
    "全球通用流量包",
];

fn card(id: i64) -> Value {
    let i = id as usize;
    json!({
        "sim_card_id": 5_702_790_861_709_056_i64 + id, "account_id": "0a1b2c3d4e5f", "cid": format!("8986{id:016}"),
        "sim_pool_id": if i % 3 == 0 { json!(1000 + i % 7) } else { Value::Null },
        "imei": format!("86{id:013}"), "sim_status": 20, "device_status": null, "device_model": null,
        "act_date": "2020-01-31T16:00:00.000Z", "device_status_date": null, "node_id": format!("node-{id}"),
        "iccid": format!("8986{id:016}"), "network_type": "4G", "dbm": null, "signal_level": null, "sim_type": 3,
        "tag_names": "物流,华东", "order_id": 9_000_000 + id / 1000, "expire_time": "2026-06-30T00:00:00.000Z",
        "price_plan_name": PLANS[i % PLANS.len()], "sim_price_plan_id": 7_000_000 + id,
        "flow_left": 1024.0 - (i % 1000) as f64 * 0.37, "flow_used": (i % 1000) as f64 * 0.37,
        "operator_status": -1, "msisdn": format!("1440{id:09}"), "imsi": format!("46001{id:010}"),
        "customer_attribute1": "车队A", "customer_attribute2": "", "customer_attribute3": null,
        "customer_attribute4": null, "customer_attribute5": null, "customer_attribute6": null,
        "real_named": true, "cut_net_flag": false, "exceed_cut_net_flag": false, "exceed_cut_net_quota": null,
        "imei_bind_remain_times": 3, "speed_value": -1
    })
}

fn page(n: usize) -> Vec<u8> {
    let start = n as i64 * CARDS_PER_PAGE;
    let cards: Vec<Value> = (start..start + CARDS_PER_PAGE).map(card).collect();
    let body =
        json!({"limit": CARDS_PER_PAGE, "offset": n + 1, "count": 1_000_000, "sim_cards": cards});
    serde_json::to_vec(&body).expect("serializable")
}

fn main() {
    let pages: Vec<Vec<u8>> = (0..DISTINCT_PAGES).map(page).collect();
    let bytes_per_page = pages.iter().map(Vec::len).sum::<usize>() / pages.len();
    let fields = pages[0]
        .windows(3)
        .filter(|w| w == b"\":\"" || w.starts_with(b"\":"))
        .count()
        / CARDS_PER_PAGE as usize;
    println!("page: {CARDS_PER_PAGE} cards, {bytes_per_page} bytes (~{} bytes/card, {fields} fields/card)", bytes_per_page / CARDS_PER_PAGE as usize);

    let started = Instant::now();
    let mut records = 0usize;
    for i in 0..PAGES {
        let p = decode::sim_card_page(black_box(&pages[i % DISTINCT_PAGES])).expect("valid page");
        records += p.sim_cards.len();
    }
    let typed = started.elapsed().as_secs_f64();

    let started = Instant::now();
    for i in 0..PAGES {
        let v: Value =
            serde_json::from_slice(black_box(&pages[i % DISTINCT_PAGES])).expect("valid json");
        black_box(v);
    }
    let untyped = started.elapsed().as_secs_f64();

    let mb = (bytes_per_page * PAGES) as f64 / 1e6;
    println!("typed decode: {PAGES} pages, {records} cards in {typed:.2} s");
    println!(
        "  {:.0} pages/s, {:.0} records/s, {:.0} MB/s (one core)",
        PAGES as f64 / typed,
        records as f64 / typed,
        mb / typed
    );
    println!(
        "serde_json::Value baseline: {:.0} pages/s",
        PAGES as f64 / untyped
    );
    println!("ratio typed/Value time: {:.2}", typed / untyped);
    println!(
        "1M-card sync: decode {typed:.2} s of CPU vs >= 2000 s of API budget at 1 list call/s"
    );
    daily_flow();
}

/// A `month` answer for 100 cards over 30 days: what each of a nightly run's daily-flow calls decodes.
fn daily_flow() {
    const CALLS: usize = 300;
    let days: Vec<Value> = (1..=30)
        .map(|d| {
            let flows: Vec<Value> = (0..100_i64)
                .map(|i| json!({"sim_card_id": 5_702_790_861_709_056_i64 + i, "iccid": format!("8986{i:016}"), "flow": (i * d) as f64 * 0.013}))
                .collect();
            json!({"date": format!("2026-11-{d:02}"), "sim_flow": flows})
        })
        .collect();
    let body = serde_json::to_vec(&days).expect("serializable");
    let started = Instant::now();
    let mut rows = 0usize;
    for _ in 0..CALLS {
        let answer = decode::daily_flow(black_box(&body)).expect("valid answer");
        rows += answer.iter().map(|d| d.flows.len()).sum::<usize>();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "daily flow: {CALLS} answers of 100 cards x 30 days ({} KiB each): {:.0} answers/s, {:.0} rows/s (one core)",
        body.len() >> 10,
        CALLS as f64 / secs,
        rows as f64 / secs
    );
}
