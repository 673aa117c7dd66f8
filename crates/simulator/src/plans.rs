//! `GET /v1/sim-price-plans`: the packages on one card (gsl-api.md §3.6), a bare array. Every simulated
//! card has one package, its plan; with `real_time=true` its figures include today's usage so far (up to
//! the simulated clock), otherwise they are "as of yesterday 24:00" like the card list's.

use gsl_domain::SimCardId;
use serde::Serialize;

use super::card::{iccid_of, id_of, slot_of_iccid, slot_of_id, Profile};
use super::query::{page_of, Query};
use super::server::{Reply, Sim};

/// SimPricePlanVO, every field the SDK names.
#[derive(Debug, Clone, Serialize)]
pub struct SimPricePlanVo {
    pub id: i64,
    pub account_id: String,
    pub sim_card_id: SimCardId,
    /// 2 in use, 3 used up.
    pub status: i32,
    pub price_plan_id: String,
    pub cid: String,
    pub order_id: String,
    pub create_time: String,
    pub active_time: String,
    pub stop_time: Option<String>,
    pub flow_total: f64,
    pub flow_used: f64,
    pub flow_left: f64,
    pub using: String,
    pub price_plan_name: String,
    pub description: String,
    pub package_type: i32,
    pub effect_type: i32,
    pub silent_period_day: Option<i32>,
    pub silent_period_unit: Option<String>,
    pub auto_renew: i32,
    pub location_desc: String,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The card's one package with `used` MB used in the current cycle.
fn package(p: &Profile, used: f64, cycle: chrono::NaiveDate) -> SimPricePlanVo {
    let used = round2(used);
    SimPricePlanVo {
        id: 8_000_000_000 + p.slot as i64,
        account_id: "04eef84c0f80d3a40f4bc01e1e2ab3c1".to_owned(),
        sim_card_id: id_of(p.slot),
        status: if used >= p.quota_mb { 3 } else { 2 },
        price_plan_id: p.price_plan_id().to_string(),
        cid: iccid_of(p.slot, p.carrier),
        order_id: format!("{}", 494_000_000_000u64 + p.slot),
        create_time: "2020-01-01T00:00:00.000Z".to_owned(),
        active_time: format!("{cycle}T00:00:00.000+08:00"),
        stop_time: None,
        flow_total: p.quota_mb,
        flow_used: used,
        flow_left: round2((p.quota_mb - used).max(0.0)),
        using: "1".to_owned(),
        price_plan_name: p.price_plan_name(),
        description: String::new(),
        package_type: 1,
        effect_type: 1,
        silent_period_day: None,
        silent_period_unit: None,
        auto_renew: 1,
        location_desc: "中国".to_owned(),
    }
}

/// `GET /v1/sim-price-plans?sim_card_id=…[&iccid=…][&real_time=true]`; `sim_card_id` 0 selects by ICCID.
pub fn price_plans(sim: &Sim, q: &Query) -> Reply {
    let parsed = (|| {
        let id = q
            .int("sim_card_id", 0, i64::MAX)?
            .ok_or_else(Reply::bad_param)?;
        let iccid = q.text("iccid", 20)?;
        let real_time = q.boolean("real_time")?.unwrap_or(false);
        let paging = q.paging()?;
        Ok::<_, Reply>((id, iccid, real_time, paging))
    })();
    let (id, iccid, real_time, (limit, page)) = match parsed {
        Ok(p) => p,
        Err(r) => return r,
    };
    let view = sim.view();
    let slot = match (id, iccid) {
        (0, Some(i)) => slot_of_iccid(i),
        (0, None) => return Reply::bad_param(),
        (id, _) => slot_of_id(SimCardId::from(id)),
    };
    let Some(slot) = slot.filter(|s| view.state.is_live(*s)) else {
        return Reply::error(400, "GSL.00011001", "sim卡不存在或没有SIM卡的访问权限");
    };
    let p = view.profile_at(slot);
    let used = if real_time {
        p.flow_used_at(view.now)
    } else {
        p.flow_used(view.today)
    };
    let plans = [package(&p, used, p.cycle_start(view.today))];
    Reply::json(200, &page_of(&plans, limit, page))
}

#[cfg(test)]
mod tests {
    use super::super::card::{Burn, STRIDE};
    use super::*;
    use chrono::{Duration, NaiveDate, NaiveTime};

    fn at(day: &str, hour: u32) -> chrono::NaiveDateTime {
        let d: NaiveDate = day.parse().unwrap_or_default();
        d.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or_default())
    }

    #[test]
    fn today_so_far_grows_to_the_next_nights_daily_figure() {
        let mut p = (0..200)
            .map(|i| Profile::new(1, i * STRIDE))
            .find(|p| p.daily_flow(at("2026-11-20", 0).date()) > 0.0)
            .unwrap_or_else(|| Profile::new(1, 0));
        p.burn = Some(Burn {
            from: at("2026-11-20", 9),
            mb_per_hour: 50.0,
        });
        let day = at("2026-11-20", 0).date();
        let mut quiet = p;
        quiet.burn = None;
        // Before 09:00 the burn adds nothing.
        assert_eq!(
            p.today_so_far(at("2026-11-20", 9)),
            quiet.today_so_far(at("2026-11-20", 9))
        );
        let noon = p.today_so_far(at("2026-11-20", 12));
        let evening = p.today_so_far(at("2026-11-20", 21));
        assert!(noon >= 150.0 && evening > noon, "{noon} {evening}");
        // The night's daily figure of that day counts the whole burn from 09:00: 15 hours.
        let whole = p.daily_flow(day);
        assert!(whole >= evening && whole >= 750.0, "{whole}");
        // The next day's card figure includes it; the day before is untouched.
        let next = day + Duration::days(1);
        assert!((p.flow_used(next) - p.flow_used(day) - whole).abs() < 0.02);
        assert_eq!(
            quiet.daily_flow(day - Duration::days(1)),
            p.daily_flow(day - Duration::days(1))
        );
        // Real time: the cycle so far plus today so far.
        assert!((p.flow_used_at(at("2026-11-20", 12)) - p.flow_used(day) - noon).abs() < 0.02);
    }

    #[test]
    fn the_package_reports_used_up_at_the_quota() {
        let p = Profile::new(1, 0);
        let d: NaiveDate = "2026-11-01".parse().unwrap_or_default();
        let full = package(&p, p.quota_mb + 5.0, d);
        assert_eq!((full.status, full.flow_left), (3, 0.0));
        let half = package(&p, p.quota_mb / 2.0, d);
        assert_eq!(half.status, 2);
        assert!((half.flow_used + half.flow_left - p.quota_mb).abs() < 0.02);
    }
}
