//! The card endpoints: list, detail, daily flow, month usages.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;

use super::card::{id_of, slot_of_iccid, Profile, SimCard};
use super::fleet::{month_flow, yesterday, FleetView};
use super::query::Query;
use super::server::{Reply, Sim};
use super::DriftFault;
use gsl_domain::{SimCardId, YearMonth};

const SIM_STATUS: [i64; 6] = [10, 11, 13, 14, 20, 30];

#[derive(Serialize)]
struct CardPage {
    limit: u64,
    offset: u64,
    count: u64,
    sim_cards: Vec<SimCard>,
}

/// Filters that need a scan of the fleet; `None` everywhere means plain `cid` paging.
#[derive(Default, Clone, Copy)]
struct Filter<'a> {
    sim_status: Option<i64>,
    sim_type: Option<i64>,
    device_status: Option<i64>,
    key: Option<(i64, &'a str)>,
    msisdn: Option<&'a str>,
    real_named: Option<bool>,
    used: (Option<i64>, Option<i64>),
    left: (Option<i64>, Option<i64>),
}

impl Filter<'_> {
    fn is_empty(&self) -> bool {
        self.sim_status.is_none()
            && self.sim_type.is_none()
            && self.device_status.is_none()
            && self.key.is_none()
            && self.msisdn.is_none()
            && self.real_named.is_none()
            && self.used == (None, None)
            && self.left == (None, None)
    }

    fn accepts(&self, c: &SimCard) -> bool {
        let within = |v: f64, (lo, hi): (Option<i64>, Option<i64>)| {
            lo.is_none_or(|l| l as f64 <= v) && hi.is_none_or(|h| v <= h as f64)
        };
        self.sim_status.is_none_or(|s| i64::from(c.sim_status) == s)
            && self.sim_type.is_none_or(|s| i64::from(c.sim_type) == s)
            && self
                .device_status
                .is_none_or(|s| c.device_status.map(i64::from) == Some(s))
            && self.msisdn.is_none_or(|m| c.msisdn.as_deref() == Some(m))
            && self.real_named.is_none_or(|r| c.real_named == r)
            && self.key.is_none_or(|(t, k)| match t {
                2 => c.order_id.to_string() == k,
                3 => c.imei.as_deref() == Some(k),
                _ => c.cid == k,
            })
            && within(c.flow_used, self.used)
            && within(c.flow_left, self.left)
    }
}

fn parse_filter(q: &Query) -> Result<Filter<'_>, Reply> {
    const MAX_FLOW: i64 = 2_147_483_647;
    q.int("main_search_type", 0, 99)?;
    q.ints("tag_id", 10)?;
    q.ints("order_ids", usize::MAX)?;
    q.int("order_id", i64::MIN, i64::MAX)?;
    if q.all("price_plan_id").len() > 30 {
        return Err(Reply::bad_param());
    }
    for n in 1..=6 {
        q.text(&format!("customer_attribute{n}"), 100)?;
    }
    if !matches!(q.get("order"), None | Some("asc") | Some("desc")) {
        return Err(Reply::bad_param());
    }
    let sorts = [
        None,
        Some("cid"),
        Some("flow_used"),
        Some("flow_left"),
        Some("act_date"),
        Some("expire_time"),
    ];
    if !sorts.contains(&q.get("sort")) {
        return Err(Reply::bad_param());
    }
    q.boolean("filter_downtime_period")?;
    let key = q.text("main_search_key", 128)?;
    Ok(Filter {
        sim_status: q.one_of("sim_status", &SIM_STATUS)?,
        sim_type: q.int("sim_type", 1, 3)?,
        device_status: q.int("device_status", 1, 4)?,
        key: key.map(|k| {
            (
                q.get("main_search_type")
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(1),
                k,
            )
        }),
        msisdn: q.text("msisdn", 32)?,
        real_named: q.boolean("real_named")?,
        used: (
            q.int("min_used_flow", 0, MAX_FLOW)?,
            q.int("max_used_flow", 0, MAX_FLOW)?,
        ),
        left: (
            q.int("min_left_flow", 0, MAX_FLOW)?,
            q.int("max_left_flow", 0, MAX_FLOW)?,
        ),
    })
}

/// `GET /v1/sim-cards`. Sorting is by `cid` only; the other `sort` values are accepted and ignored.
pub fn list_cards(sim: &Sim, q: &Query) -> Reply {
    let (limit, page) = match q.paging() {
        Ok(p) => p,
        Err(r) => return r,
    };
    let filter = match parse_filter(q) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let descending = q.get("order") == Some("desc");
    sim.with_world(|w| {
        if let Some(drift) = w.faults.drift {
            apply_drift(&mut w.fleet, drift, (page - 1) * limit, page);
        }
    });
    let view = sim.view();
    let card = |slot: u64| {
        view.profile_at(slot)
            .card(view.today, view.overrides.get(&slot))
    };
    let start = (page - 1) * limit;
    let (count, sim_cards) = if filter.is_empty() {
        let slots = view.state.page(start, limit, descending);
        (view.state.count(), slots.into_iter().map(card).collect())
    } else if let Some((1, key)) = filter.key.filter(|_| filter_only_iccid(&filter)) {
        let found: Vec<SimCard> = slot_of_iccid(key)
            .filter(|s| view.state.is_live(*s))
            .map(card)
            .filter(|c| c.iccid == key)
            .into_iter()
            .collect();
        (
            found.len() as u64,
            found.into_iter().skip(start as usize).collect(),
        )
    } else {
        scan(&view, &filter, start, limit, descending)
    };
    Reply::json(
        200,
        &CardPage {
            limit,
            offset: page,
            count,
            sim_cards,
        },
    )
}

fn filter_only_iccid(f: &Filter<'_>) -> bool {
    Filter { key: None, ..*f }.is_empty()
}

/// Filtered listing: walks every card, counting matches and keeping one page of them.
fn scan(
    view: &FleetView,
    f: &Filter<'_>,
    start: u64,
    limit: u64,
    descending: bool,
) -> (u64, Vec<SimCard>) {
    let mut all: Vec<u64> = view.state.iter_from(0).collect();
    if descending {
        all.reverse();
    }
    let mut count = 0u64;
    let mut page = Vec::new();
    for slot in all {
        let c = view
            .profile_at(slot)
            .card(view.today, view.overrides.get(&slot));
        if f.accepts(&c) {
            if count >= start && (page.len() as u64) < limit {
                page.push(c);
            }
            count += 1;
        }
    }
    (count, page)
}

/// Inserts or removes cards before rank `pos` (see `DriftFault`).
fn apply_drift(fleet: &mut super::fleet::FleetState, drift: DriftFault, pos: u64, page: u64) {
    if page < 2 || pos == 0 {
        return;
    }
    if page % 2 == 0 {
        for _ in 0..drift.inserts {
            fleet.insert_before_rank(pos - 1);
        }
    } else {
        for _ in 0..drift.removes {
            if let Some(slot) = fleet.nth(pos - 1) {
                fleet.remove(slot);
            }
        }
    }
}

/// `GET /v1/sim-cards/{id}`; id 0 selects by `iccid`.
pub fn show_card(sim: &Sim, id: &str, q: &Query) -> Reply {
    let view = sim.view();
    let card = match id.parse::<SimCardId>() {
        Ok(id) if id.get() == 0 => q.get("iccid").and_then(|i| view.card_by_iccid(i)),
        Ok(id) => view.card(id),
        Err(_) => return Reply::bad_param(),
    };
    match card {
        Some(c) => Reply::json(200, &c),
        None => Reply::error(400, "GSL.00011001", "sim卡不存在或没有SIM卡的访问权限"),
    }
}

/// Card ids or iccids from a body: exactly one of the two, at most `max`.
fn selected_cards(v: &Value, max: usize) -> Result<Vec<(SimCardId, Option<String>)>, Reply> {
    let ids = v
        .get("sim_card_ids")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty());
    let iccids = v
        .get("iccids")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty());
    match (ids, iccids) {
        (Some(ids), None) if ids.len() <= max => ids
            .iter()
            .map(|i| {
                i.as_i64()
                    .map(|i| (SimCardId::from(i), None))
                    .ok_or_else(Reply::bad_param)
            })
            .collect(),
        (None, Some(ic)) if ic.len() <= max => ic
            .iter()
            .map(|i| match i.as_str() {
                Some(s) if (19..=20).contains(&s.len()) => Ok((
                    slot_of_iccid(s).map_or(SimCardId::from(-1), id_of),
                    Some(s.to_owned()),
                )),
                _ => Err(Reply::bad_param()),
            })
            .collect(),
        (None, Some(_)) => Err(Reply::error(
            400,
            "GSL.00011010",
            "The number of iccids exceeds the upper limit",
        )),
        _ => Err(Reply::bad_param()),
    }
}

/// A string or a number, as digits.
fn digits(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        _ => None,
    }
}

fn parse_day(s: &str) -> Option<NaiveDate> {
    (s.len() == 8)
        .then(|| NaiveDate::parse_from_str(s, "%Y%m%d").ok())
        .flatten()
}

/// The API's month fields each take one form: `YYYY-MM` (month-usages) or `YYYYMM` (daily flow).
pub(crate) fn parse_month(s: &str, dashed: bool) -> Option<YearMonth> {
    let form_ok = if dashed {
        s.len() == 7 && s.as_bytes()[4] == b'-'
    } else {
        s.len() == 6
    };
    form_ok.then(|| s.parse().ok()).flatten()
}

#[derive(Serialize)]
struct DayFlow {
    date: String,
    sim_flow: Vec<CardFlow>,
}

#[derive(Serialize)]
struct CardFlow {
    sim_card_id: SimCardId,
    iccid: String,
    flow: f64,
}

/// The days a batch-daily-flow body asks for, validated against `today`.
fn requested_days(v: &Value, today: NaiveDate) -> Option<Vec<NaiveDate>> {
    let this_month = YearMonth::of(today);
    let window_start = this_month.minus(1).first_day();
    let last = yesterday(today);
    match (digits(v.get("month")), digits(v.get("date"))) {
        (Some(m), None) => {
            let ym = parse_month(&m, false)?;
            if ym != this_month && ym != this_month.minus(1) {
                return None;
            }
            let first = ym.first_day();
            let end = super::card::next_month(first).min(today);
            Some(first.iter_days().take_while(|d| *d < end).collect())
        }
        (None, Some(d)) => {
            let day = parse_day(&d)?;
            (window_start..=last).contains(&day).then(|| vec![day])
        }
        _ => None,
    }
}

/// `POST /v1/sim-cards/batch-daily-flow`: a bare array by date; zero days included, unknown cards left out.
pub fn daily_flow(sim: &Sim, body: &[u8]) -> Reply {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Reply::bad_param();
    };
    let cards = match selected_cards(&v, 100) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let view = sim.view();
    let Some(days) = requested_days(&v, view.today) else {
        return Reply::bad_param();
    };
    let known: Vec<Profile> = cards
        .iter()
        .filter_map(|(id, _)| super::card::slot_of_id(*id))
        .filter(|s| view.state.is_live(*s))
        .map(|s| view.profile_at(s))
        .collect();
    let out: Vec<DayFlow> = days
        .iter()
        .map(|day| DayFlow {
            date: day.format("%Y%m%d").to_string(),
            sim_flow: known
                .iter()
                .map(|p| CardFlow {
                    sim_card_id: id_of(p.slot),
                    iccid: p.iccid(),
                    flow: p.daily_flow(*day),
                })
                .collect(),
        })
        .collect();
    Reply::json(200, &out)
}

#[derive(Serialize)]
struct MonthUsages {
    month_usages: Vec<CardMonths>,
}

#[derive(Serialize)]
struct CardMonths {
    sim_card_id: SimCardId,
    iccid: String,
    flow_usages: Vec<CycleFlow>,
}

#[derive(Serialize)]
struct CycleFlow {
    billing_cycle: String,
    flow_used: f64,
}

/// `POST /v1/sim-cards/month-usages`: ≤500 cards, ≤6 cycles `YYYY-MM` within the last six months.
pub fn month_usages(sim: &Sim, body: &[u8]) -> Reply {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Reply::bad_param();
    };
    let cards = match selected_cards(&v, 500) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let view = sim.view();
    let now = YearMonth::of(view.today);
    let cycles: Option<Vec<YearMonth>> = v
        .get("billing_cycles")
        .and_then(Value::as_array)
        .filter(|a| (1..=6).contains(&a.len()))
        .and_then(|a| {
            a.iter()
                .map(|c| c.as_str().and_then(|s| parse_month(s, true)))
                .collect()
        });
    let Some(cycles) = cycles.filter(|c| c.iter().all(|m| *m <= now && *m >= now.minus(5))) else {
        return Reply::bad_param();
    };
    let month_usages = cards
        .iter()
        .filter_map(|(id, _)| super::card::slot_of_id(*id))
        .filter(|s| view.state.is_live(*s))
        .map(|slot| {
            let p = view.profile_at(slot);
            let flow_usages = cycles
                .iter()
                .map(|ym| CycleFlow {
                    billing_cycle: ym.compact(),
                    flow_used: month_flow(&p, ym.first_day(), view.today),
                })
                .collect();
            CardMonths {
                sim_card_id: id_of(slot),
                iccid: p.iccid(),
                flow_usages,
            }
        })
        .collect();
    Reply::json(200, &MonthUsages { month_usages })
}
