//! Work orders: stop, resume, data cut, speed limit and cut-at-quota, each asynchronous, finishing a
//! configurable delay after it is accepted and only then changing the card, with GSL's per-card rules
//! against repeats (gsl-api.md §3.8): 403 `GSL.00016016` for the same operation within 5 minutes, 403
//! `GSL.00016010` while another order of the card is still being processed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gsl_domain::SimCardId;
use serde::Serialize;

/// How long an order stays "processing" unless configured (the real service takes up to 10 minutes).
pub const DONE_AFTER: Duration = Duration::from_secs(3);
/// GSL's window against repeats of one operation on one card.
pub const NO_REPEAT: Duration = Duration::from_secs(300);
const FIRST_ID: i64 = 1_000_001;

/// What an order asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKind {
    Stop,
    Reset,
    /// `cut-net`: ADD (`true`) cuts data, DEL restores it.
    CutNet(bool),
    /// `speed-limit` in Kbps; -1 lifts the limit.
    SpeedLimit(i32),
    /// `exceed-cut-net`: `Some(quota MB)` sets the cut, `None` cancels it.
    ExceedCutNet(Option<i32>),
}

impl OrderKind {
    /// GSL's `work_order_type` (WorkOrderVo).
    fn work_order_type(self) -> i32 {
        match self {
            OrderKind::Reset => 4,
            OrderKind::Stop => 5,
            OrderKind::CutNet(true) => 11,
            OrderKind::CutNet(false) => 20,
            OrderKind::ExceedCutNet(Some(_)) => 12,
            OrderKind::ExceedCutNet(None) => 21,
            OrderKind::SpeedLimit(_) => 15,
        }
    }

    /// The operation, for the 5-minute rule: the same endpoint, whatever its arguments.
    fn operation(self) -> u8 {
        match self {
            OrderKind::Stop => 0,
            OrderKind::Reset => 1,
            OrderKind::CutNet(_) => 2,
            OrderKind::SpeedLimit(_) => 3,
            OrderKind::ExceedCutNet(_) => 4,
        }
    }
}

/// The card an order is for, as it is when the order comes in.
#[derive(Debug, Clone)]
pub struct Target {
    pub slot: u64,
    pub sim_card_id: SimCardId,
    pub iccid: String,
    pub sim_status: i32,
    pub sim_type: i32,
}

#[derive(Debug, Clone)]
struct Order {
    id: i64,
    target: Target,
    kind: OrderKind,
    at: Instant,
    delay: Duration,
    created: DateTime<Utc>,
}

impl Order {
    fn done(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.at) >= self.delay
    }
}

/// What finished orders changed on a card; `None` keeps the generated value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CardState {
    pub sim_status: Option<i32>,
    pub cut_net: Option<bool>,
    pub speed_value: Option<i32>,
    /// `Some(Some(quota))` cut at that quota, `Some(None)` cut cancelled.
    pub exceed_cut: Option<Option<i32>>,
}

impl CardState {
    fn apply(&mut self, kind: OrderKind) {
        match kind {
            OrderKind::Stop => self.sim_status = Some(14),
            OrderKind::Reset => self.sim_status = Some(20),
            OrderKind::CutNet(add) => self.cut_net = Some(add),
            OrderKind::SpeedLimit(kbps) => self.speed_value = Some(kbps),
            OrderKind::ExceedCutNet(quota) => self.exceed_cut = Some(quota),
        }
    }
}

/// A refused order: HTTP status, GSL code, message.
pub type Refusal = (u16, &'static str, &'static str);

#[derive(Debug, Clone)]
pub struct Orders {
    all: Vec<Order>,
    /// The newest order of each card.
    latest: HashMap<u64, usize>,
    /// The newest order of each (card, operation).
    latest_op: HashMap<(u64, u8), usize>,
    /// How long new orders take.
    pub delay: Duration,
    /// How long the same operation on a card is refused after the last (GSL: 5 minutes).
    pub no_repeat: Duration,
}

impl Default for Orders {
    fn default() -> Self {
        Orders {
            all: Vec::new(),
            latest: HashMap::new(),
            latest_op: HashMap::new(),
            delay: DONE_AFTER,
            no_repeat: NO_REPEAT,
        }
    }
}

/// WorkOrderVo as `GET /v1/work-orders` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct WorkOrderVo {
    pub id: i64,
    pub sim_type: i32,
    pub work_order_type: i32,
    pub req_detail: String,
    pub total_count: i64,
    pub success_count: i64,
    pub fail_count: i64,
    pub process_count: i64,
    pub status: i32,
    pub create_time: String,
    pub finish_time: Option<String>,
    pub fail_reason: Option<String>,
    pub response: Option<String>,
    pub work_order_source: i32,
    pub work_order_source_desc: String,
}

/// WorkOrderDetailVo as `GET /v1/work-orders/{id}/details` lists it: one per card of the order.
#[derive(Debug, Clone, Serialize)]
pub struct WorkOrderDetailVo {
    pub id: i64,
    pub sim_type: i32,
    /// 1 success, 2 processing, 3 failed.
    pub status: i32,
    pub cid: String,
    pub sim_card_id: SimCardId,
    pub create_time: String,
    pub finish_time: Option<String>,
    pub description: Option<String>,
}

impl Orders {
    /// No orders yet; new ones take `delay`.
    pub fn with_delay(delay: Duration) -> Self {
        Orders {
            delay,
            ..Orders::default()
        }
    }

    /// Accepts an order for `target`, or refuses it as GSL does.
    pub fn request(&mut self, target: Target, kind: OrderKind) -> Result<i64, Refusal> {
        let now = Instant::now();
        let op = (target.slot, kind.operation());
        if let Some(last) = self.latest_op.get(&op).map(|&i| &self.all[i]) {
            if now.saturating_duration_since(last.at) < self.no_repeat {
                return Err((403, "GSL.00016016", "5分钟内不允许重复操作,请稍作等待。"));
            }
        }
        if let Some(last) = self.latest.get(&target.slot).map(|&i| &self.all[i]) {
            if !last.done(now) {
                let msg = if last.kind == OrderKind::Stop {
                    "您操作的卡仍有未完成的停机受理单,请勿重复操作。"
                } else {
                    "您操作的卡仍有未完成的受理单,请勿重复操作。"
                };
                return Err((403, "GSL.00016010", msg));
            }
        }
        if kind == OrderKind::Stop && target.sim_status != 20 {
            return Err((403, "GSL.00010005", "只有在用状态的卡,才能发起停机操作"));
        }
        let id = FIRST_ID + self.all.len() as i64;
        self.latest.insert(target.slot, self.all.len());
        self.latest_op.insert(op, self.all.len());
        self.all.push(Order {
            id,
            target,
            kind,
            at: now,
            delay: self.delay,
            created: Utc::now(),
        });
        Ok(id)
    }

    /// What finished orders changed, per card, in the order they were accepted.
    pub fn overrides(&self) -> HashMap<u64, CardState> {
        let now = Instant::now();
        let mut out: HashMap<u64, CardState> = HashMap::new();
        for o in self.all.iter().filter(|o| o.done(now)) {
            out.entry(o.target.slot).or_default().apply(o.kind);
        }
        out
    }

    pub fn list(&self) -> Vec<WorkOrderVo> {
        let now = Instant::now();
        self.all.iter().map(|o| vo(o, now)).collect()
    }

    /// The details of order `id`; `None` for an unknown order.
    pub fn details(&self, id: i64) -> Option<Vec<WorkOrderDetailVo>> {
        let now = Instant::now();
        let o = self.all.iter().find(|o| o.id == id)?;
        let done = o.done(now);
        Some(vec![WorkOrderDetailVo {
            id: o.id * 10,
            sim_type: o.target.sim_type,
            status: if done { 1 } else { 2 },
            cid: o.target.iccid.clone(),
            sim_card_id: o.target.sim_card_id,
            create_time: fmt(o.created),
            finish_time: done.then(|| finished(o)).flatten(),
            description: done.then(|| "success".to_owned()),
        }])
    }
}

fn fmt(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn finished(o: &Order) -> Option<String> {
    chrono::Duration::from_std(o.delay)
        .ok()
        .map(|d| fmt(o.created + d))
}

fn vo(o: &Order, now: Instant) -> WorkOrderVo {
    let done = o.done(now);
    WorkOrderVo {
        id: o.id,
        sim_type: o.target.sim_type,
        work_order_type: o.kind.work_order_type(),
        req_detail: format!("{{\"sim_card_id\":{}}}", o.target.sim_card_id),
        total_count: 1,
        success_count: i64::from(done),
        fail_count: 0,
        process_count: i64::from(!done),
        status: if done { 4 } else { 3 },
        create_time: fmt(o.created),
        finish_time: if done { finished(o) } else { None },
        fail_reason: None,
        response: None,
        work_order_source: 8,
        work_order_source_desc: "API".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(slot: u64, sim_status: i32) -> Target {
        Target {
            slot,
            sim_card_id: SimCardId::from(slot as i64),
            iccid: format!("8986000{slot:013}"),
            sim_status,
            sim_type: 3,
        }
    }

    #[test]
    fn repeat_and_unfinished_orders_are_refused() {
        let mut o = Orders::default();
        assert_eq!(o.request(card(1, 20), OrderKind::Stop), Ok(FIRST_ID));
        let code = |r: Result<i64, Refusal>| r.map_err(|e| e.1);
        assert_eq!(
            code(o.request(card(1, 20), OrderKind::Reset)),
            Err("GSL.00016010")
        );
        assert_eq!(
            code(o.request(card(1, 20), OrderKind::Stop)),
            Err("GSL.00016016")
        );
        assert_eq!(
            code(o.request(card(1, 20), OrderKind::SpeedLimit(64))),
            Err("GSL.00016010"),
            "any pending order of the card blocks another operation"
        );
        assert_eq!(
            code(o.request(card(2, 14), OrderKind::Stop)),
            Err("GSL.00010005")
        );
        assert!(o.overrides().is_empty());
        assert_eq!(o.list()[0].status, 3);
        assert_eq!(o.details(FIRST_ID).map(|d| d[0].status), Some(2));
        assert!(o.details(42).is_none());
    }

    #[test]
    fn finished_orders_change_the_card_in_order() {
        let mut o = Orders {
            delay: Duration::ZERO,
            ..Orders::default()
        };
        assert!(o.request(card(3, 20), OrderKind::SpeedLimit(64)).is_ok());
        assert!(o.request(card(3, 20), OrderKind::CutNet(true)).is_ok());
        assert!(o
            .request(card(3, 20), OrderKind::ExceedCutNet(Some(1024)))
            .is_ok());
        let want = CardState {
            sim_status: None,
            cut_net: Some(true),
            speed_value: Some(64),
            exceed_cut: Some(Some(1024)),
        };
        assert_eq!(o.overrides().get(&3), Some(&want));
        let types: Vec<i32> = o.list().iter().map(|w| w.work_order_type).collect();
        assert_eq!(types, vec![15, 11, 12]);
        assert!(o.list().iter().all(|w| w.status == 4));
        assert_eq!(o.details(FIRST_ID).map(|d| d[0].status), Some(1));
    }
}
