//! The rows the store writes: plain data, independent of the GSL client's models.

use chrono::{DateTime, NaiveDate, Utc};
use gsl_domain::{PoolId, SimCardId};

/// One card's latest state; `data_date` is the usage day its flow figures are "as of".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CardRow {
    pub sim_card_id: SimCardId,
    pub iccid: Option<String>,
    pub cid: Option<String>,
    pub msisdn: Option<String>,
    pub imsi: Option<String>,
    pub imei: Option<String>,
    pub account_id: Option<String>,
    pub sim_type: Option<i32>,
    pub sim_status: Option<i32>,
    pub operator_status: Option<i32>,
    pub device_status: Option<i32>,
    pub device_model: Option<String>,
    pub device_status_date: Option<DateTime<Utc>>,
    pub node_id: Option<String>,
    pub network_type: Option<String>,
    pub dbm: Option<String>,
    pub signal_level: Option<String>,
    pub sim_pool_id: Option<PoolId>,
    pub order_id: Option<i64>,
    pub price_plan_name: Option<String>,
    pub sim_price_plan_id: Option<i64>,
    pub flow_used_mb: Option<f64>,
    pub flow_left_mb: Option<f64>,
    pub act_date: Option<DateTime<Utc>>,
    pub expire_time: Option<DateTime<Utc>>,
    pub tag_names: Option<String>,
    pub real_named: Option<bool>,
    pub cut_net_flag: Option<bool>,
    pub exceed_cut_net_flag: Option<bool>,
    pub exceed_cut_net_quota: Option<i64>,
    pub imei_bind_remain_times: Option<i32>,
    pub speed_value: Option<i64>,
    pub customer_attribute1: Option<String>,
    pub customer_attribute2: Option<String>,
    pub customer_attribute3: Option<String>,
    pub customer_attribute4: Option<String>,
    pub customer_attribute5: Option<String>,
    pub customer_attribute6: Option<String>,
    pub data_date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DailyFlowRow {
    pub sim_card_id: SimCardId,
    pub iccid: Option<String>,
    pub day: NaiveDate,
    pub flow_mb: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MonthlyUsageRow {
    pub sim_card_id: SimCardId,
    pub iccid: Option<String>,
    /// First day of the billing month.
    pub billing_cycle: NaiveDate,
    pub flow_used_mb: f64,
}

/// `kind` is "forward" (/v1/sim-pools) or "backward" (/v1/back-pools).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PoolRow {
    pub kind: &'static str,
    pub sim_pool_id: PoolId,
    pub pool_name: Option<String>,
    pub price_plan_name: Option<String>,
    pub price_plan_id: Option<String>,
    pub status: Option<i32>,
    pub quantity: Option<i64>,
    pub activated_sim_quantity: Option<i64>,
    pub inactive_sim_quantity: Option<i64>,
    pub disassembled_sim_quantity: Option<i64>,
    pub effective_time: Option<DateTime<Utc>>,
    pub expired_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PoolUsageRow {
    pub kind: &'static str,
    pub sim_pool_id: PoolId,
    pub billing_cycle: NaiveDate,
    pub flow_total_mb: Option<f64>,
    pub flow_used_mb: Option<f64>,
    pub flow_left_mb: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PoolMemberRow {
    pub kind: &'static str,
    pub sim_pool_id: PoolId,
    pub billing_cycle: NaiveDate,
    pub cid: String,
    pub sim_price_plan_id: Option<i64>,
    pub flow_used_mb: Option<f64>,
    pub sim_status: Option<i32>,
}

/// What a merge did: rows new to the table, rows changed, rows that were already as given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeStats {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl std::ops::AddAssign for MergeStats {
    fn add_assign(&mut self, o: Self) {
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
    }
}
