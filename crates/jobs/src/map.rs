//! Turns the client's typed models into the store's rows; the one place the two vocabularies meet.

use chrono::NaiveDate;

use gsl_client as gsl;
use gsl_domain::PoolId;
use gsl_store::rows::{
    CardRow, DailyFlowRow, MonthlyUsageRow, PoolMemberRow, PoolRow, PoolUsageRow,
};

/// A listed card as the row `sim_cards` keeps; `data_date` is the day its flow figures are "as of".
pub fn card_row(c: &gsl::SimCard, data_date: NaiveDate) -> CardRow {
    CardRow {
        sim_card_id: c.sim_card_id,
        iccid: c.iccid.clone(),
        cid: c.cid.clone(),
        msisdn: c.msisdn.clone(),
        imsi: c.imsi.clone(),
        imei: c.imei.clone(),
        account_id: c.account_id.clone(),
        sim_type: c.sim_type,
        sim_status: c.sim_status,
        operator_status: c.operator_status,
        device_status: c.device_status,
        device_model: c.device_model.clone(),
        device_status_date: c.device_status_date,
        node_id: c.node_id.clone(),
        network_type: c.network_type.clone(),
        dbm: c.dbm.clone(),
        signal_level: c.signal_level.clone(),
        sim_pool_id: c.sim_pool_id,
        order_id: c.order_id,
        price_plan_name: c.price_plan_name.clone(),
        sim_price_plan_id: c.sim_price_plan_id,
        flow_used_mb: c.flow_used,
        flow_left_mb: c.flow_left,
        act_date: c.act_date,
        expire_time: c.expire_time,
        tag_names: c.tag_names.clone(),
        real_named: c.real_named,
        cut_net_flag: c.cut_net_flag,
        exceed_cut_net_flag: c.exceed_cut_net_flag,
        exceed_cut_net_quota: c.exceed_cut_net_quota,
        imei_bind_remain_times: c.imei_bind_remain_times,
        speed_value: c.speed_value,
        customer_attribute1: c.customer_attribute1.clone(),
        customer_attribute2: c.customer_attribute2.clone(),
        customer_attribute3: c.customer_attribute3.clone(),
        customer_attribute4: c.customer_attribute4.clone(),
        customer_attribute5: c.customer_attribute5.clone(),
        customer_attribute6: c.customer_attribute6.clone(),
        data_date,
    }
}

/// Flattens a batch-daily-flow answer into rows, keeping only the days the plan asked for.
pub fn daily_flow_rows(
    days: &[gsl::DailyFlowDay],
    wanted: impl Fn(NaiveDate) -> bool,
) -> Vec<DailyFlowRow> {
    days.iter()
        .filter(|d| wanted(d.date))
        .flat_map(|d| {
            d.flows.iter().map(move |f| DailyFlowRow {
                sim_card_id: f.sim_card_id,
                iccid: f.iccid.clone(),
                day: d.date,
                flow_mb: f.flow_mb,
            })
        })
        .collect()
}

pub fn monthly_rows(usages: &[gsl::MonthUsage]) -> Vec<MonthlyUsageRow> {
    usages
        .iter()
        .flat_map(|u| {
            u.flow_usages.iter().filter_map(move |f| {
                Some(MonthlyUsageRow {
                    sim_card_id: u.sim_card_id,
                    iccid: u.iccid.clone(),
                    billing_cycle: f.billing_cycle?.first_day(),
                    flow_used_mb: f.flow_used_mb,
                })
            })
        })
        .collect()
}

pub fn forward_pool_row(p: &gsl::SimPool) -> PoolRow {
    PoolRow {
        kind: "forward",
        sim_pool_id: p.id,
        pool_name: p.pool_name.clone(),
        price_plan_name: p.price_plan_name.clone(),
        price_plan_id: p.price_plan_id.clone(),
        status: p.status,
        quantity: p.quantity,
        activated_sim_quantity: p.activated_sim_quantity,
        inactive_sim_quantity: p.inactive_sim_quantity,
        disassembled_sim_quantity: p.disassembled_sim_quantity,
        effective_time: p.effective_time,
        expired_time: p.expired_time,
    }
}

pub fn forward_pool_usage(p: &gsl::SimPool, cycle: NaiveDate) -> PoolUsageRow {
    PoolUsageRow {
        kind: "forward",
        sim_pool_id: p.id,
        billing_cycle: cycle,
        flow_total_mb: p.flow_total,
        flow_used_mb: p.flow_used,
        flow_left_mb: p.flow_left,
    }
}

pub fn back_pool_row(p: &gsl::BackPool) -> PoolRow {
    PoolRow {
        kind: "backward",
        sim_pool_id: p.id,
        pool_name: p.pool_name.clone(),
        price_plan_name: p.price_plan_name.clone(),
        price_plan_id: p.price_plan_id.clone(),
        status: p.pool_status,
        quantity: p.quantity,
        effective_time: p.effective_time,
        expired_time: p.expired_time,
        ..PoolRow::default()
    }
}

/// Backward (post-paid) pools have no quota: only what was used.
pub fn back_pool_usage(p: &gsl::BackPool, cycle: NaiveDate) -> PoolUsageRow {
    PoolUsageRow {
        kind: "backward",
        sim_pool_id: p.id,
        billing_cycle: cycle,
        flow_total_mb: None,
        flow_used_mb: p.flow_used,
        flow_left_mb: None,
    }
}

pub fn pool_member_row(
    m: &gsl::PoolMember,
    pool_id: PoolId,
    backward: bool,
    cycle: NaiveDate,
) -> PoolMemberRow {
    PoolMemberRow {
        kind: if backward { "backward" } else { "forward" },
        sim_pool_id: pool_id,
        billing_cycle: cycle,
        cid: m.cid.clone().unwrap_or_default(),
        sim_price_plan_id: m.sim_price_plan_id,
        flow_used_mb: m.flow_used,
        sim_status: m.sim_status,
    }
}
