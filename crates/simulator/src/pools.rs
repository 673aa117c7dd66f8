//! Flow pools (forward and backward) with figures summed over member cards.

use serde::Serialize;
use serde_json::Value;

use super::card::{Pool, BACK_POOLS, FORWARD_POOLS};
use super::fleet::{month_flow, FleetView};
use super::query::{page_of, Query};
use super::server::{Reply, Sim};
use gsl_domain::{PoolId, YearMonth};

#[derive(Debug, Clone, Default)]
struct Totals {
    quantity: i64,
    activated: i64,
    inactive: i64,
    disassembled: i64,
    flow_total: f64,
    flow_used: f64,
}

/// Walks the fleet once, summing members of every pool for cycle `ym`.
fn totals(view: &FleetView, ym: YearMonth, back: bool) -> Vec<Totals> {
    let n = if back {
        BACK_POOLS.len()
    } else {
        FORWARD_POOLS.len()
    };
    let mut out = vec![Totals::default(); n];
    let first = ym.first_day();
    for slot in view.state.iter_from(0) {
        let p = view.profile_at(slot);
        let i = match (p.pool, back) {
            (Some(Pool::Forward(i)), false) | (Some(Pool::Back(i)), true) => i,
            _ => continue,
        };
        let t = &mut out[i];
        t.quantity += 1;
        match p.sim_status {
            20 | 14 => t.activated += 1,
            30 => t.disassembled += 1,
            _ => t.inactive += 1,
        }
        t.flow_total += p.quota_mb;
        // A scripted card's cycle so far is never empty (see `showcase`), where the calendar month is on the 1st.
        t.flow_used += if p.is_scripted() && ym == YearMonth::of(view.today) {
            p.flow_used(view.today)
        } else {
            month_flow(&p, first, view.today)
        };
    }
    out
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn cycle(q: &Query, view: &FleetView, required: bool) -> Result<YearMonth, Reply> {
    let now = YearMonth::of(view.today);
    let Some(raw) = q.get("billing_cycle") else {
        return if required {
            Err(Reply::bad_param())
        } else {
            Ok(now)
        };
    };
    let parsed = super::api::parse_month(raw, true);
    match parsed {
        Some(ym) if ym <= now => Ok(ym),
        _ => Err(Reply::error(403, "GSL.00011004", "账期不合法,请检查!")),
    }
}

/// `GET /v1/sim-pools` and `GET /v1/back-pools`.
pub fn list_pools(sim: &Sim, q: &Query, back: bool) -> Reply {
    let view = sim.view();
    let checked = q.paging().and_then(|p| {
        Ok((
            p,
            cycle(q, &view, false)?,
            q.ints("status", 10)?,
            q.boolean("all_billing_cycle")?,
        ))
    });
    let ((limit, page), ym, status, all) = match checked {
        Ok(c) => c,
        Err(r) => return r,
    };
    let cycles: Vec<YearMonth> = if all == Some(true) {
        (0..6).map(|n| YearMonth::of(view.today).minus(n)).collect()
    } else {
        vec![ym]
    };
    let names: Vec<(PoolId, &str)> = if back {
        BACK_POOLS.to_vec()
    } else {
        FORWARD_POOLS.to_vec()
    };
    let name_filter = q.get("pool_name");
    let mut pools = Vec::new();
    for ym in cycles {
        for (i, t) in totals(&view, ym, back).into_iter().enumerate() {
            let (id, name) = names[i];
            if name_filter.is_some_and(|f| !name.contains(f))
                || (!back && !status.is_empty() && !status.contains(&1))
            {
                continue;
            }
            pools.push(pool_json(id, name, ym, &t, back));
        }
    }
    let key = if back { "back_pools" } else { "pools" };
    let body = serde_json::json!({ "limit": limit, "offset": page, "count": pools.len(), key: page_of(&pools, limit, page) });
    Reply::json(200, &body)
}

fn pool_json(id: PoolId, name: &str, ym: YearMonth, t: &Totals, back: bool) -> Value {
    let mut v = serde_json::json!({
        "id": id, "pool_name": name, "price_plan_name": format!("{name}-共享套餐"),
        "price_plan_id": format!("pp-{id}"), "effective_time": "2024-01-01T16:00:00.000Z",
        "expired_time": "2030-12-31T15:59:59.000Z", "billing_cycle": ym.dashed(),
        "flow_used": round2(t.flow_used), "quantity": t.quantity, "modify_time": "2024-01-01T16:00:00.000Z",
        "order_id": 494_000_000_000i64, "activated_sim_quantity": t.activated,
        "inactive_sim_quantity": t.inactive, "disassembled_sim_quantity": t.disassembled,
        "order_ids": "494000000000",
    });
    if back {
        v["pool_status"] = 2.into();
        v["status_time"] = "2024-01-01T16:00:00.000Z".into();
    } else {
        v["flow_total"] = round2(t.flow_total).into();
        v["flow_left"] = round2((t.flow_total - t.flow_used).max(0.0)).into();
        v["status"] = 1.into();
    }
    v
}

#[derive(Serialize, Clone)]
struct Member {
    id: PoolId,
    cid: String,
    sim_price_plan_id: i64,
    flow_used: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sim_status: Option<i32>,
}

/// `GET /v1/sim-pools/{id}/members` and `/v1/back-pools/{id}/members`; `billing_cycle` is required.
pub fn members(sim: &Sim, id: &str, q: &Query, back: bool) -> Reply {
    let view = sim.view();
    let pools: &[(PoolId, &str)] = if back { &BACK_POOLS } else { &FORWARD_POOLS };
    let Some(index) = id
        .parse::<PoolId>()
        .ok()
        .and_then(|id| pools.iter().position(|p| p.0 == id))
    else {
        return Reply::bad_param();
    };
    let checked = q.paging().and_then(|p| Ok((p, cycle(q, &view, true)?)));
    let ((limit, page), ym) = match checked {
        Ok(c) => c,
        Err(r) => return r,
    };
    let first = ym.first_day();
    let want = if back {
        Pool::Back(index)
    } else {
        Pool::Forward(index)
    };
    let cid = q.get("cid");
    let all: Vec<Member> = view
        .state
        .iter_from(0)
        .map(|s| view.profile_at(s))
        .filter(|p| p.pool == Some(want) && cid.is_none_or_eq(&p.iccid()))
        .map(|p| Member {
            id: pools[index].0,
            cid: p.iccid(),
            sim_price_plan_id: p.price_plan_id(),
            flow_used: month_flow(&p, first, view.today),
            sim_status: back.then_some(p.sim_status),
        })
        .collect();
    let body = serde_json::json!({ "limit": limit, "offset": page, "count": all.len(), "pool_members": page_of(&all, limit, page) });
    Reply::json(200, &body)
}

trait EqOrNone {
    fn is_none_or_eq(&self, v: &str) -> bool;
}

impl EqOrNone for Option<&str> {
    fn is_none_or_eq(&self, v: &str) -> bool {
        self.is_none_or(|c| c == v)
    }
}
