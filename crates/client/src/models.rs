//! Response models. Every field may be null or absent except the identities the caller cannot do without.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::de;
use super::types::YearMonth;
use gsl_domain::{PoolId, SimCardId};

/// One card (SimDeviceVO / ShowSimCardResponse, 38 fields). Flows are MB as of yesterday 24:00 Beijing time.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SimCard {
    #[serde(deserialize_with = "de::req_id")]
    pub sim_card_id: SimCardId,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub account_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub cid: Option<String>,
    #[serde(default, deserialize_with = "de::opt_id")]
    pub sim_pool_id: Option<PoolId>,
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
    #[serde(deserialize_with = "de::req_id")]
    pub sim_card_id: SimCardId,
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
    #[serde(deserialize_with = "de::req_id")]
    pub sim_card_id: SimCardId,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub iccid: Option<String>,
    #[serde(default, deserialize_with = "de::vec_or_empty")]
    pub flow_usages: Vec<FlowUsage>,
}

/// A forward flow pool (SimPoolVO); flows in MB for the queried billing cycle.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SimPool {
    #[serde(deserialize_with = "de::req_id")]
    pub id: PoolId,
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
    #[serde(deserialize_with = "de::req_id")]
    pub id: PoolId,
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
    #[serde(default, deserialize_with = "de::opt_id")]
    pub id: Option<PoolId>,
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

/// Where a work order stands, from GSL's `status` (1 under review, 2 reviewed, 3 processing, 4 completed,
/// 5 cancelled, 6 failed, 7 review rejected) and its counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderState {
    Pending,
    Completed,
    Failed,
}

/// One work order (WorkOrderVo).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WorkOrder {
    #[serde(deserialize_with = "de::req_i64")]
    pub id: i64,
    #[serde(default, deserialize_with = "de::opt_i32")]
    pub sim_type: Option<i32>,
    #[serde(default, deserialize_with = "de::opt_i32")]
    pub work_order_type: Option<i32>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub total_count: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub success_count: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub fail_count: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub process_count: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i32")]
    pub status: Option<i32>,
    #[serde(default, deserialize_with = "de::opt_datetime")]
    pub create_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_datetime")]
    pub finish_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub fail_reason: Option<String>,
}

impl WorkOrder {
    /// Completed only when GSL says so and no card of it failed; cancelled, failed and rejected orders
    /// (and completed ones whose every card failed) are failed; anything else is still pending.
    pub fn state(&self) -> OrderState {
        match self.status {
            Some(4) if self.fail_count.unwrap_or(0) > 0 && self.success_count.unwrap_or(0) == 0 => {
                OrderState::Failed
            }
            Some(4) => OrderState::Completed,
            Some(5..=7) => OrderState::Failed,
            _ => OrderState::Pending,
        }
    }
}

/// One page of `GET /v1/work-orders`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WorkOrderPage {
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub count: Option<i64>,
    #[serde(default, deserialize_with = "de::vec_or_empty")]
    pub work_orders: Vec<WorkOrder>,
}

/// One card of a work order (WorkOrderDetailVo); `status` 1 success, 2 processing, 3 failed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WorkOrderDetail {
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i32")]
    pub status: Option<i32>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub cid: Option<String>,
    #[serde(default, deserialize_with = "de::opt_id")]
    pub sim_card_id: Option<SimCardId>,
    #[serde(default, deserialize_with = "de::opt_datetime")]
    pub create_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_datetime")]
    pub finish_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub description: Option<String>,
}

/// One page of `GET /v1/work-orders/{id}/details`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WorkOrderDetailPage {
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub count: Option<i64>,
    #[serde(default, deserialize_with = "de::vec_or_empty")]
    pub work_order_details: Vec<WorkOrderDetail>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;
    use crate::error::GslError;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn page(cards: &str) -> Result<SimCardPage, GslError> {
        decode::sim_card_page(
            format!(r#"{{"limit":500,"offset":1,"count":1,"sim_cards":[{cards}]}}"#).as_bytes(),
        )
    }

    fn card(fields: &str) -> SimCard {
        let p = page(&format!("{{{fields}}}")).expect("decodes");
        p.sim_cards.into_iter().next().expect("one card")
    }

    #[test]
    fn card_fields_tolerate_nulls_absence_and_swapped_types() {
        let c = card(
            r#""sim_card_id":"5702790861709056","flow_used":"12.5","flow_left":null,"sim_status":20,
            "real_named":"true","cut_net_flag":0,"iccid":8986012345678901234,"act_date":"2020-01-31T16:00:00.000Z",
            "expire_time":"2021-06-30 00:00:00","sim_pool_id":"","unknown_field":{"x":1}"#,
        );
        assert_eq!(c.sim_card_id, SimCardId::from(5702790861709056));
        assert_eq!(c.flow_used, Some(12.5));
        assert_eq!(c.flow_left, None);
        assert_eq!(c.sim_status, Some(20));
        assert_eq!(c.real_named, Some(true));
        assert_eq!(c.cut_net_flag, Some(false));
        assert_eq!(c.iccid.as_deref(), Some("8986012345678901234"));
        assert_eq!(
            c.act_date,
            Some(Utc.with_ymd_and_hms(2020, 1, 31, 16, 0, 0).unwrap())
        );
        assert_eq!(
            c.expire_time,
            Some(Utc.with_ymd_and_hms(2021, 6, 30, 0, 0, 0).unwrap())
        );
        assert_eq!(c.sim_pool_id, None);
        assert_eq!(c.customer_attribute6, None);
    }

    #[test]
    fn page_lists_may_be_null_or_absent() {
        for body in [
            r#"{"count":0}"#,
            r#"{"count":0,"sim_cards":null}"#,
            r#"{"sim_cards":[]}"#,
        ] {
            let p = decode::sim_card_page(body.as_bytes()).expect(body);
            assert!(p.sim_cards.is_empty(), "{body}");
        }
    }

    #[test]
    fn missing_required_fields_are_decode_errors_naming_the_field() {
        type Decoder = fn(&[u8]) -> Result<(), GslError>;
        let cases: &[(&[u8], Decoder, &str)] = &[
            (
                br#"{"sim_cards":[{"iccid":"1"}]}"#,
                |b| decode::sim_card_page(b).map(drop),
                "sim_card_id",
            ),
            (
                br#"{"sim_cards":[{"sim_card_id":null}]}"#,
                |b| decode::sim_card_page(b).map(drop),
                "sim_card_id",
            ),
            (
                br#"{"sim_cards":[{"sim_card_id":"x1"}]}"#,
                |b| decode::sim_card_page(b).map(drop),
                "sim_card_id",
            ),
            (
                br#"[{"sim_flow":[]}]"#,
                |b| decode::daily_flow(b).map(drop),
                "date",
            ),
            (
                br#"[{"date":"20240801","sim_flow":[{"flow":1}]}]"#,
                |b| decode::daily_flow(b).map(drop),
                "sim_card_id",
            ),
            (
                br#"[{"date":"2024-13-01"}]"#,
                |b| decode::daily_flow(b).map(drop),
                "date",
            ),
            (
                br#"{"month_usages":[{"flow_usages":[]}]}"#,
                |b| decode::month_usages(b).map(drop),
                "sim_card_id",
            ),
        ];
        for (body, f, field) in cases {
            match f(body) {
                Err(GslError::Decode { detail, .. }) => {
                    assert!(detail.contains(field), "{detail} should name {field}")
                }
                other => panic!(
                    "{}: expected Decode, got {other:?}",
                    String::from_utf8_lossy(body)
                ),
            }
        }
    }

    #[test]
    fn daily_flow_accepts_bare_arrays_both_date_formats_and_string_flows() {
        let body = br#"[{"date":"20240801","sim_flow":[{"sim_card_id":1,"iccid":"a","flow":1.5},
            {"sim_card_id":"2","flow":"0.25"},{"sim_card_id":3,"flow":null}]},{"date":"2024-08-02","sim_flow":null},
            {"date":20240803}]"#;
        let days = decode::daily_flow(body).expect("decodes");
        let dates: Vec<String> = days.iter().map(|d| d.date.to_string()).collect();
        assert_eq!(dates, ["2024-08-01", "2024-08-02", "2024-08-03"]);
        let flows: Vec<(i64, f64)> = days[0]
            .flows
            .iter()
            .map(|f| (f.sim_card_id.get(), f.flow_mb))
            .collect();
        assert_eq!(flows, [(1, 1.5), (2, 0.25), (3, 0.0)]);
        assert!(days[1].flows.is_empty());
        let wrapped = decode::daily_flow(br#"{"data":[{"date":"20240801"}]}"#).expect("wrapped");
        assert_eq!(wrapped.len(), 1);
    }

    #[test]
    fn month_usages_parse_both_month_formats() {
        let body = br#"{"month_usages":[{"sim_card_id":7,"iccid":null,"flow_usages":[
            {"billing_cycle":"2022-07","flow_used":10},{"billing_cycle":"202206","flow_used":"2.5"},
            {"billing_cycle":202205}]}]}"#;
        let u = decode::month_usages(body).expect("decodes");
        let got: Vec<(String, f64)> = u[0]
            .flow_usages
            .iter()
            .map(|f| {
                (
                    f.billing_cycle.map(|c| c.dashed()).unwrap_or_default(),
                    f.flow_used_mb,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("2022-07".into(), 10.0),
                ("2022-06".into(), 2.5),
                ("2022-05".into(), 0.0)
            ]
        );
        let bare = decode::month_usages(br#"[{"sim_card_id":1}]"#).expect("bare array");
        assert_eq!(bare[0].sim_card_id, SimCardId::from(1));
    }

    const VALID: &[&str] = &[
        r#"{"limit":500,"offset":1,"count":2,"sim_cards":[{"sim_card_id":1,"iccid":"8986","flow_used":1.5,"act_date":"2020-01-31T16:00:00.000Z"},{"sim_card_id":"2"}]}"#,
        r#"[{"date":"20240801","sim_flow":[{"sim_card_id":1,"iccid":"a","flow":1.5}]}]"#,
        r#"{"month_usages":[{"sim_card_id":7,"flow_usages":[{"billing_cycle":"2022-07","flow_used":10}]}]}"#,
    ];

    fn all_decoders(b: &[u8]) -> [Result<(), GslError>; 3] {
        [
            decode::sim_card_page(b).map(drop),
            decode::daily_flow(b).map(drop),
            decode::month_usages(b).map(drop),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            for r in all_decoders(&bytes) {
                if let Err(e) = r {
                    prop_assert!(matches!(e, GslError::Decode { .. }), "{e:?}");
                }
            }
        }

        #[test]
        fn truncated_valid_bodies_are_decode_errors(which in 0..VALID.len(), cut in 0usize..1000) {
            let body = VALID[which].as_bytes();
            let cut = cut % body.len();
            for r in all_decoders(&body[..cut]) {
                prop_assert!(matches!(r, Err(GslError::Decode { .. })), "{r:?}");
            }
        }
    }
}
