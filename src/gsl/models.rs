//! Response models. Every field may be null or absent except the identities the caller cannot do without.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::de;
use super::types::YearMonth;

/// One card (SimDeviceVO / ShowSimCardResponse, 38 fields). Flows are MB as of yesterday 24:00 Beijing time.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SimCard {
    #[serde(deserialize_with = "de::req_i64")]
    pub sim_card_id: i64,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub account_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub cid: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub sim_pool_id: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub imei: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i32")]
    pub sim_status: Option<i32>,
    #[serde(default, deserialize_with = "de::opt_i32")]
    pub device_status: Option<i32>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub device_model: Option<String>,
    #[serde(default, deserialize_with = "de::opt_datetime")]
    pub act_date: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_datetime")]
    pub device_status_date: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub node_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub iccid: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub network_type: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub dbm: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub signal_level: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i32")]
    pub sim_type: Option<i32>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub tag_names: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub order_id: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_datetime")]
    pub expire_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub price_plan_name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub sim_price_plan_id: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub flow_left: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub flow_used: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_i32")]
    pub operator_status: Option<i32>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub msisdn: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub imsi: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub customer_attribute1: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub customer_attribute2: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub customer_attribute3: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub customer_attribute4: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub customer_attribute5: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub customer_attribute6: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub real_named: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub cut_net_flag: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub exceed_cut_net_flag: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub exceed_cut_net_quota: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i32")]
    pub imei_bind_remain_times: Option<i32>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub speed_value: Option<i64>,
}

/// One page of `GET /v1/sim-cards`; `offset` is the page number.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SimCardPage {
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub limit: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub offset: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub count: Option<i64>,
    #[serde(default, deserialize_with = "de::vec_or_empty")]
    pub sim_cards: Vec<SimCard>,
}

/// One card's usage on one day, in MB.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CardFlow {
    #[serde(deserialize_with = "de::req_i64")]
    pub sim_card_id: i64,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub iccid: Option<String>,
    #[serde(rename = "flow", default, deserialize_with = "de::f64_or_zero")]
    pub flow_mb: f64,
}

/// All reported cards' usage for one day.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DailyFlowDay {
    #[serde(deserialize_with = "de::req_date")]
    pub date: NaiveDate,
    #[serde(rename = "sim_flow", default, deserialize_with = "de::vec_or_empty")]
    pub flows: Vec<CardFlow>,
}

/// One billing cycle's total for one card, in MB.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FlowUsage {
    #[serde(default, deserialize_with = "de::opt_year_month")]
    pub billing_cycle: Option<YearMonth>,
    #[serde(rename = "flow_used", default, deserialize_with = "de::f64_or_zero")]
    pub flow_used_mb: f64,
}

/// Month totals of one card (month-usages).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MonthUsage {
    #[serde(deserialize_with = "de::req_i64")]
    pub sim_card_id: i64,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub iccid: Option<String>,
    #[serde(default, deserialize_with = "de::vec_or_empty")]
    pub flow_usages: Vec<FlowUsage>,
}

/// A forward flow pool (SimPoolVO); flows in MB for the queried billing cycle.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SimPool {
    #[serde(deserialize_with = "de::req_i64")]
    pub id: i64,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub pool_name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub price_plan_name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub price_plan_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_datetime")]
    pub effective_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_datetime")]
    pub expired_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_year_month")]
    pub billing_cycle: Option<YearMonth>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub flow_total: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub flow_used: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub flow_left: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub quantity: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_datetime")]
    pub modify_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub order_id: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub activated_sim_quantity: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub inactive_sim_quantity: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub disassembled_sim_quantity: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub order_ids: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i32")]
    pub status: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PoolPage {
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub count: Option<i64>,
    #[serde(default, deserialize_with = "de::vec_or_empty")]
    pub pools: Vec<SimPool>,
}

/// A backward (post-paid) pool (BackPoolVO).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BackPool {
    #[serde(deserialize_with = "de::req_i64")]
    pub id: i64,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub pool_name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub price_plan_name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub price_plan_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_datetime")]
    pub effective_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_datetime")]
    pub expired_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_year_month")]
    pub billing_cycle: Option<YearMonth>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub flow_used: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub quantity: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i32")]
    pub pool_status: Option<i32>,
    #[serde(default, deserialize_with = "de::opt_datetime")]
    pub status_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BackPoolPage {
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub count: Option<i64>,
    #[serde(default, alias = "back_pools", deserialize_with = "de::vec_or_empty")]
    pub pools: Vec<BackPool>,
}

/// A pool member: `id` is the pool id, `flow_used` MB in the queried cycle; `sim_status` on back pools only.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PoolMember {
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub cid: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub sim_price_plan_id: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub flow_used: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_i32")]
    pub sim_status: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PoolMemberPage {
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub count: Option<i64>,
    #[serde(
        default,
        alias = "members",
        alias = "back_pool_members",
        deserialize_with = "de::vec_or_empty"
    )]
    pub pool_members: Vec<PoolMember>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct WorkOrderResponse {
    #[serde(deserialize_with = "de::req_i64")]
    pub work_order_id: i64,
}
