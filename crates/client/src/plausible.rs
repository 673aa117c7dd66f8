//! Values that cannot be true: negative or non-finite flow, a day or a pool far beyond any plan. Each one
//! is counted (`CallObserver::implausible_value`) and logged with its card or pool; what is kept is
//! decided here, once, so every job stores the same thing:
//!
//! - a negative or non-finite card, pool or member figure becomes `None` (stored as NULL: unknown, not 0);
//! - a negative or non-finite daily or monthly flow row is dropped (the day stays missing and is fetched
//!   again while the API offers it, so an upstream correction still lands);
//! - a value that is merely far too large is kept as GSL gave it (it may be real) but counted and logged.

use super::models::{BackPool, DailyFlowDay, MonthUsage, PoolMember, SimCard, SimPool};
use super::observe::{CallObserver, Operation};
use super::realtime::SimPricePlan;

/// One card's flow on one day above this many MB (1 TiB) is beyond any IoT plan.
pub const MAX_DAILY_MB: f64 = 1_048_576.0;

/// A pool's usage above this many times its total is beyond any overage.
pub const MAX_POOL_OVERUSE: f64 = 10.0;

/// Where implausible values are reported: one account, one operation.
pub struct Vet<'a> {
    pub observer: &'a dyn CallObserver,
    pub account: &'a str,
    pub operation: Operation,
}

fn impossible(v: f64) -> bool {
    !v.is_finite() || v < 0.0
}

impl Vet<'_> {
    fn flag(&self, field: &'static str, subject: &str, value: f64) {
        self.observer
            .implausible_value(self.account, self.operation, field);
        tracing::warn!(
            account = self.account,
            operation = self.operation.as_str(),
            field,
            subject,
            value,
            "implausible value from GSL"
        );
    }

    /// `None` for an impossible figure, after flagging it.
    fn figure(&self, field: &'static str, subject: &str, v: Option<f64>) -> Option<f64> {
        match v {
            Some(x) if impossible(x) => {
                self.flag(field, subject, x);
                None
            }
            other => other,
        }
    }

    pub fn cards(&self, cards: &mut [SimCard]) {
        for c in cards {
            let subject = format!("card {}", c.sim_card_id);
            c.flow_used = self.figure("flow_used", &subject, c.flow_used);
            c.flow_left = self.figure("flow_left", &subject, c.flow_left);
        }
    }

    pub fn daily_flow(&self, days: &mut [DailyFlowDay]) {
        for day in days {
            day.flows.retain(|f| {
                let subject = format!("card {} on {}", f.sim_card_id, day.date);
                if impossible(f.flow_mb) {
                    self.flag("flow", &subject, f.flow_mb);
                    return false;
                }
                if f.flow_mb > MAX_DAILY_MB {
                    self.flag("flow", &subject, f.flow_mb);
                }
                true
            });
        }
    }

    pub fn month_usages(&self, usages: &mut [MonthUsage]) {
        for u in usages {
            let subject = format!("card {}", u.sim_card_id);
            u.flow_usages.retain(|f| {
                let bad = impossible(f.flow_used_mb);
                if bad {
                    self.flag("flow_used", &subject, f.flow_used_mb);
                }
                !bad
            });
        }
    }

    pub fn pools(&self, pools: &mut [SimPool]) {
        for p in pools {
            let subject = format!("pool {}", p.id);
            p.flow_total = self.figure("flow_total", &subject, p.flow_total);
            p.flow_used = self.figure("flow_used", &subject, p.flow_used);
            p.flow_left = self.figure("flow_left", &subject, p.flow_left);
            if let (Some(used), Some(total)) = (p.flow_used, p.flow_total) {
                if total > 0.0 && used > MAX_POOL_OVERUSE * total {
                    self.flag("flow_used", &subject, used);
                }
            }
        }
    }

    pub fn back_pools(&self, pools: &mut [BackPool]) {
        for p in pools {
            p.flow_used = self.figure("flow_used", &format!("pool {}", p.id), p.flow_used);
        }
    }

    pub fn price_plans(&self, plans: &mut [SimPricePlan]) {
        for p in plans {
            let subject = format!(
                "package {} of card {}",
                p.id.unwrap_or(0),
                p.sim_card_id.unwrap_or_default()
            );
            p.flow_total = self.figure("flow_total", &subject, p.flow_total);
            p.flow_used = self.figure("flow_used", &subject, p.flow_used);
            p.flow_left = self.figure("flow_left", &subject, p.flow_left);
        }
    }

    pub fn members(&self, members: &mut [PoolMember]) {
        for m in members {
            let subject = format!("member {}", m.cid.as_deref().unwrap_or("?"));
            m.flow_used = self.figure("flow_used", &subject, m.flow_used);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    #[derive(Default)]
    struct Fields(Mutex<Vec<String>>);

    impl CallObserver for Fields {
        fn call_finished(&self, _: &str, _: Operation, _: &str, _: Duration) {}
        fn call_retried(&self, _: &str, _: Operation, _: &str) {}
        fn implausible_value(&self, _: &str, op: Operation, field: &str) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{}:{field}", op.as_str()));
        }
    }

    #[test]
    fn impossible_figures_are_counted_and_not_kept() {
        let seen = Fields::default();
        let vet = |operation| Vet {
            observer: &seen,
            account: "main",
            operation,
        };
        let mut page: crate::SimCardPage = crate::decode::sim_card_page(
            br#"{"count":2,"sim_cards":[{"sim_card_id":1,"flow_used":-5,"flow_left":10},{"sim_card_id":2,"flow_used":3}]}"#,
        )
        .unwrap();
        vet(Operation::ListSimCards).cards(&mut page.sim_cards);
        assert_eq!(page.sim_cards[0].flow_used, None);
        assert_eq!(page.sim_cards[0].flow_left, Some(10.0));
        assert_eq!(page.sim_cards[1].flow_used, Some(3.0));

        let mut days = crate::decode::daily_flow(
            br#"[{"date":"20261101","sim_flow":[{"sim_card_id":1,"flow":-1},{"sim_card_id":2,"flow":2e7},{"sim_card_id":3,"flow":4}]}]"#,
        )
        .unwrap();
        vet(Operation::DailyFlow).daily_flow(&mut days);
        let kept: Vec<i64> = days[0].flows.iter().map(|f| f.sim_card_id.get()).collect();
        assert_eq!(kept, vec![2, 3], "negative dropped, huge kept");

        assert_eq!(
            *seen.0.lock().unwrap(),
            vec![
                "list_sim_cards:flow_used",
                "daily_flow:flow",
                "daily_flow:flow"
            ]
        );
    }
}
