//! Stop/resume work orders: asynchronous, finishing a few seconds after they are accepted, with GSL's
//! per-card rules against repeats.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// How long an order stays "processing" (the real service takes up to 10 minutes).
pub const DONE_AFTER: Duration = Duration::from_secs(3);
const NO_REPEAT: Duration = Duration::from_secs(300);
const FIRST_ID: i64 = 1_000_001;

#[derive(Debug, Clone)]
struct Order {
    id: i64,
    slot: u64,
    stop: bool,
    sim_type: i32,
    at: Instant,
    created: DateTime<Utc>,
}

impl Order {
    fn done(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.at) >= DONE_AFTER
    }
}

/// A refused order: HTTP status, GSL code, message.
pub type Refusal = (u16, &'static str, &'static str);

#[derive(Debug, Clone, Default)]
pub struct Orders {
    all: Vec<Order>,
    latest: HashMap<u64, usize>,
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

impl Orders {
    /// Accepts a stop (`stop = true`) or resume order for a card whose status is now `sim_status`.
    pub fn request(
        &mut self,
        slot: u64,
        stop: bool,
        sim_status: i32,
        sim_type: i32,
    ) -> Result<i64, Refusal> {
        let now = Instant::now();
        if let Some(last) = self.latest.get(&slot).map(|&i| &self.all[i]) {
            if last.stop && !stop && !last.done(now) {
                return Err((
                    403,
                    "GSL.00016010",
                    "您操作的卡仍有未完成的停机受理单,请勿重复操作。",
                ));
            }
            if last.stop == stop && now.saturating_duration_since(last.at) < NO_REPEAT {
                return Err((403, "GSL.00016016", "5分钟内不允许重复操作,请稍作等待。"));
            }
        }
        if stop && sim_status != 20 {
            return Err((403, "GSL.00010005", "只有在用状态的卡,才能发起停机操作"));
        }
        let id = FIRST_ID + self.all.len() as i64;
        self.latest.insert(slot, self.all.len());
        self.all.push(Order {
            id,
            slot,
            stop,
            sim_type,
            at: now,
            created: Utc::now(),
        });
        Ok(id)
    }

    /// Card statuses changed by finished orders: stopped cards are 14, resumed ones 20.
    pub fn overrides(&self) -> HashMap<u64, i32> {
        let now = Instant::now();
        self.latest
            .values()
            .map(|&i| &self.all[i])
            .filter(|o| o.done(now))
            .map(|o| (o.slot, if o.stop { 14 } else { 20 }))
            .collect()
    }

    pub fn list(&self) -> Vec<WorkOrderVo> {
        let now = Instant::now();
        self.all.iter().map(|o| vo(o, now)).collect()
    }
}

fn vo(o: &Order, now: Instant) -> WorkOrderVo {
    let done = o.done(now);
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let finished = chrono::Duration::from_std(DONE_AFTER)
        .map(|d| fmt(o.created + d))
        .ok();
    WorkOrderVo {
        id: o.id,
        sim_type: o.sim_type,
        work_order_type: if o.stop { 5 } else { 4 },
        req_detail: format!("{{\"sim_card_id\":{}}}", super::card::id_of(o.slot)),
        total_count: 1,
        success_count: i64::from(done),
        fail_count: 0,
        process_count: i64::from(!done),
        status: if done { 4 } else { 3 },
        create_time: fmt(o.created),
        finish_time: if done { finished } else { None },
        fail_reason: None,
        response: None,
        work_order_source: 8,
        work_order_source_desc: "API".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_and_unfinished_stop_are_refused() {
        let mut o = Orders::default();
        assert_eq!(o.request(1, true, 20, 3), Ok(FIRST_ID));
        assert_eq!(
            o.request(1, false, 20, 3).map_err(|e| e.1),
            Err("GSL.00016010")
        );
        assert_eq!(
            o.request(1, true, 20, 3).map_err(|e| e.1),
            Err("GSL.00016016")
        );
        assert_eq!(
            o.request(2, true, 14, 3).map_err(|e| e.1),
            Err("GSL.00010005")
        );
        assert!(o.overrides().is_empty());
        assert_eq!(o.list()[0].status, 3);
    }
}
