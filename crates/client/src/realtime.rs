//! Real-time usage of one card: `GET /v1/sim-price-plans?real_time=true` (gsl-api.md §3.6), the packages
//! on the card with today's usage so far included. GSL limits it like the card list, 1 call/s (its own lane
//! of the budget); the watch calls it at `Priority::Background`, in the slots the scheduled jobs leave.

use serde::Deserialize;

use super::client::{get, GslClient};
use super::de;
use super::error::{decode_list, GslError};
use super::observe::Operation;
use super::types::{Pairs, SimCardRef};
use gsl_domain::SimCardId;

/// One package on a card (SimPricePlanVO); flows in MB. Every field may be null or absent.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SimPricePlan {
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_id")]
    pub sim_card_id: Option<SimCardId>,
    /// 0 deleted, 1 activatable, 2 in use, 3 used up, 4 activatable, 5 deactivated, 6 activation failed.
    #[serde(default, deserialize_with = "de::opt_i32")]
    pub status: Option<i32>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub price_plan_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub price_plan_name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub cid: Option<String>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub flow_total: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub flow_used: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub flow_left: Option<f64>,
    /// "1" for the package the card is using now (a string on the wire).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub using: Option<String>,
}

impl SimPricePlan {
    /// Counts toward the card's current figures: in use or used up, or flagged as the one in use.
    fn is_current(&self) -> bool {
        matches!(self.status, Some(2 | 3)) || self.using.as_deref() == Some("1")
    }
}

/// A card's real-time figures: the sums over its current packages. An estimate until the night's
/// figures ("as of yesterday 24:00") arrive; those stay the billed ones.
#[derive(Debug, Clone, PartialEq)]
pub struct RealtimeUsage {
    pub flow_used_mb: Option<f64>,
    pub flow_left_mb: Option<f64>,
    pub flow_total_mb: Option<f64>,
    pub plans: Vec<SimPricePlan>,
}

impl RealtimeUsage {
    /// Sums the current packages (every package not deleted when none is flagged current); a figure no
    /// package gives stays `None`, unknown rather than 0.
    pub fn from_plans(plans: Vec<SimPricePlan>) -> Self {
        let current: Vec<&SimPricePlan> = plans.iter().filter(|p| p.is_current()).collect();
        let counted: Vec<&SimPricePlan> = if current.is_empty() {
            plans.iter().filter(|p| p.status != Some(0)).collect()
        } else {
            current
        };
        let sum = |f: fn(&SimPricePlan) -> Option<f64>| {
            counted
                .iter()
                .filter_map(|p| f(p))
                .fold(None, |acc: Option<f64>, v| Some(acc.unwrap_or(0.0) + v))
        };
        Self {
            flow_used_mb: sum(|p| p.flow_used),
            flow_left_mb: sum(|p| p.flow_left),
            flow_total_mb: sum(|p| p.flow_total),
            plans,
        }
    }
}

impl GslClient {
    /// The card's packages with today's usage so far (`real_time=true`), summed into figures.
    pub async fn realtime_usage(&self, card: SimCardRef) -> Result<RealtimeUsage, GslError> {
        let mut q = Pairs::default();
        q.one("sim_card_id", card.path_id())
            .opt("iccid", &card.iccid())
            .one("real_time", true);
        let call = get(
            Operation::ListSimPricePlans,
            "/v1/sim-price-plans".into(),
            q.0,
        );
        let mut plans: Vec<SimPricePlan> = self
            .execute(&call, |b| {
                decode_list(call.op, b, &["sim_price_plans", "data"])
            })
            .await?;
        self.vet(call.op).price_plans(&mut plans);
        Ok(RealtimeUsage::from_plans(plans))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plans(body: &str) -> Vec<SimPricePlan> {
        decode_list(Operation::ListSimPricePlans, body.as_bytes(), &["data"]).unwrap()
    }

    #[test]
    fn figures_sum_the_current_packages() {
        let p = plans(
            r#"[{"id":1,"status":2,"flow_total":1024,"flow_used":700.5,"flow_left":323.5,"using":"1"},
                {"id":2,"status":3,"flow_total":100,"flow_used":100,"flow_left":0,"using":"0"},
                {"id":3,"status":1,"flow_total":500,"flow_used":0,"flow_left":500}]"#,
        );
        let u = RealtimeUsage::from_plans(p);
        assert_eq!(u.flow_used_mb, Some(800.5));
        assert_eq!(u.flow_left_mb, Some(323.5));
        assert_eq!(u.flow_total_mb, Some(1124.0));
        assert_eq!(u.plans.len(), 3);
    }

    #[test]
    fn without_a_current_flag_every_live_package_counts_and_nulls_stay_unknown() {
        let p = plans(
            r#"{"data":[{"id":1,"flow_used":"12.5","flow_left":null},{"id":2,"status":0,"flow_used":99}]}"#,
        );
        let u = RealtimeUsage::from_plans(p);
        assert_eq!(u.flow_used_mb, Some(12.5));
        assert_eq!(u.flow_left_mb, None);
        assert_eq!(RealtimeUsage::from_plans(Vec::new()).flow_used_mb, None);
    }
}
