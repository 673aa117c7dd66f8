//! The card actions (stop, reset, cut-net, speed-limit, exceed-cut-net) and the work orders they create.
//!
//! Each action selects its card by id, or by `iccid` in the body with id 0, and answers
//! `{"work_order_id": N}`; the order finishes later (`orders`). A card's carrier is what its ICCID's issuer
//! digits say, and an action the carrier does not offer is refused with 400 `GSL.00011063`: a speed
//! limit only on China Telecom and China Unicom, a data cut only on China Telecom, a cut at quota on China
//! Telecom and on pooled China Unicom and China Mobile cards.

use gsl_domain::SimCardId;
use serde_json::Value;

use super::card::{id_of, slot_of_iccid, slot_of_id, Profile};
use super::orders::{OrderKind, Target};
use super::query::{page_of, Query};
use super::server::{Reply, Sim};

const MOBILE: usize = 0;
const TELECOM: usize = 2;
/// The fastest limit a carrier offers, in Kbps.
const MAX_SPEED_KBPS: i64 = 102_400;

fn body_of(body: &[u8]) -> Result<Value, Reply> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|_| Reply::bad_param())
}

/// The card a path id (0: the body's `iccid`) names, with its profile, as it is now.
fn target(sim: &Sim, id: &str, v: &Value) -> Result<(Target, Profile), Reply> {
    let unknown = || Reply::error(400, "GSL.00011001", "sim卡不存在或没有SIM卡的访问权限");
    let iccid = v.get("iccid").and_then(Value::as_str);
    let slot = match id.parse::<SimCardId>() {
        Ok(id) if id.get() == 0 => iccid.and_then(slot_of_iccid),
        Ok(id) => slot_of_id(id),
        Err(_) => return Err(Reply::bad_param()),
    };
    let view = sim.view();
    let slot = slot.ok_or_else(unknown)?;
    let card = view.card(id_of(slot)).ok_or_else(unknown)?;
    if iccid.is_some_and(|i| i != card.iccid) {
        return Err(unknown());
    }
    let profile = view.profile_of(card.sim_card_id).ok_or_else(unknown)?;
    Ok((
        Target {
            slot,
            sim_card_id: card.sim_card_id,
            iccid: card.iccid,
            sim_status: card.sim_status,
            sim_type: card.sim_type,
        },
        profile,
    ))
}

/// Whether the card's carrier offers `kind`.
fn carrier_offers(p: &Profile, kind: OrderKind) -> bool {
    match kind {
        OrderKind::Stop | OrderKind::Reset => true,
        OrderKind::SpeedLimit(_) => p.carrier != MOBILE,
        OrderKind::CutNet(_) => p.carrier == TELECOM,
        OrderKind::ExceedCutNet(_) => p.carrier == TELECOM || p.pooled(),
    }
}

fn order(sim: &Sim, id: &str, v: &Value, kind: OrderKind) -> Reply {
    let (target, profile) = match target(sim, id, v) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !carrier_offers(&profile, kind) {
        return Reply::error(
            400,
            "GSL.00011063",
            "运营商不支持该操作 (carrier type not supported)",
        );
    }
    match sim.with_world(|w| w.orders.request(target, kind)) {
        Some(Ok(work_order_id)) => {
            Reply::json(200, &serde_json::json!({ "work_order_id": work_order_id }))
        }
        Some(Err((status, code, msg))) => Reply::error(status, code, msg),
        None => Reply::error(500, "GSL.00010003", "系统繁忙,请稍后重试。"),
    }
}

/// `POST /v1/sim-cards/{id}/stop` and `/reset` (`down_up_switch` 0..9 when given).
pub fn stop_or_reset(sim: &Sim, id: &str, body: &[u8], stop: bool) -> Reply {
    let v = match body_of(body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Some(switch) = v.get("down_up_switch") {
        if !switch.as_i64().is_some_and(|s| (0..=9).contains(&s)) {
            return Reply::bad_param();
        }
    }
    let kind = if stop {
        OrderKind::Stop
    } else {
        OrderKind::Reset
    };
    order(sim, id, &v, kind)
}

/// `POST /v1/sim-cards/{id}/cut-net` with `action` `ADD` (cut) or `DEL` (restore).
pub fn cut_net(sim: &Sim, id: &str, body: &[u8]) -> Reply {
    let v = match body_of(body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let add = match v.get("action").and_then(Value::as_str) {
        Some("ADD") => true,
        Some("DEL") => false,
        _ => return Reply::bad_param(),
    };
    order(sim, id, &v, OrderKind::CutNet(add))
}

/// `POST /v1/sim-cards/{id}/speed-limit` with `speed_value` in Kbps (-1: no limit).
pub fn speed_limit(sim: &Sim, id: &str, body: &[u8]) -> Reply {
    let v = match body_of(body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let speed = match v.get("speed_value").and_then(Value::as_i64) {
        Some(s) if s == -1 || (1..=MAX_SPEED_KBPS).contains(&s) => s as i32,
        Some(_) => return Reply::error(400, "GSL.00011016", "不支持的限制速率"),
        None => return Reply::bad_param(),
    };
    order(sim, id, &v, OrderKind::SpeedLimit(speed))
}

/// `POST /v1/sim-cards/{id}/exceed-cut-net` with `action` 1 (set, at `quota` MB as a string: "-1"
/// unlimited, "0" at once) or 2 (cancel).
pub fn exceed_cut_net(sim: &Sim, id: &str, body: &[u8]) -> Reply {
    let v = match body_of(body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let quota = v
        .get("quota")
        .and_then(Value::as_str)
        .and_then(|q| q.trim().parse::<i32>().ok());
    let kind = match (v.get("action").and_then(Value::as_i64), quota) {
        (Some(1), Some(q)) if q >= -1 => OrderKind::ExceedCutNet(Some(q)),
        (Some(2), _) => OrderKind::ExceedCutNet(None),
        _ => return Reply::bad_param(),
    };
    order(sim, id, &v, kind)
}

/// `GET /v1/work-orders`, newest first; `main_search_key` selects one order id.
pub fn work_orders(sim: &Sim, q: &Query) -> Reply {
    let checked = q
        .paging()
        .and_then(|p| Ok((p, q.int("work_order_type", 1, 23)?, q.int("status", 1, 7)?)));
    let ((limit, page), kind, status) = match checked {
        Ok(c) => c,
        Err(r) => return r,
    };
    let key = q.get("main_search_key");
    let mut all = sim.with_world(|w| w.orders.list()).unwrap_or_default();
    all.reverse();
    all.retain(|o| {
        key.is_none_or(|k| k == o.id.to_string())
            && kind.is_none_or(|k| i64::from(o.work_order_type) == k)
            && status.is_none_or(|s| i64::from(o.status) == s)
    });
    let body = serde_json::json!({ "limit": limit, "offset": page, "count": all.len(), "work_orders": page_of(&all, limit, page) });
    Reply::json(200, &body)
}

/// `GET /v1/work-orders/{id}/details`: the order's one card; `main_search_key` filters by `cid`.
pub fn work_order_details(sim: &Sim, id: &str, q: &Query) -> Reply {
    let checked = q.paging().and_then(|p| Ok((p, q.int("status", 1, 3)?)));
    let ((limit, page), status) = match checked {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(id) = id.parse::<i64>() else {
        return Reply::bad_param();
    };
    let Some(mut all) = sim.with_world(|w| w.orders.details(id)).flatten() else {
        return Reply::error(400, "GSL.00010004", "业务受理单不存在");
    };
    let key = q.get("main_search_key");
    all.retain(|d| {
        key.is_none_or(|k| k == d.cid) && status.is_none_or(|s| i64::from(d.status) == s)
    });
    let body = serde_json::json!({ "limit": limit, "offset": page, "count": all.len(), "work_order_details": page_of(&all, limit, page) });
    Reply::json(200, &body)
}
