//! Carrier actions on one card (stop, resume, data cut, speed limit, cut at quota), each answered with a
//! work order that completes later, and the work-order lookups that tell when it has.
//!
//! An action is retried only when GSL surely did not take it (see `client::action_retry_reason`); a
//! refusal such as `GSL.00016010` (an order still pending) or `GSL.00016016` (the same operation within 5
//! minutes) comes back as `GslError::Api` with its code, for the caller to act on, never retried here.

use serde_json::{json, Value};

use super::client::{action, get, GslClient};
use super::error::{decode, GslError};
use super::models::{WorkOrder, WorkOrderDetailPage, WorkOrderPage, WorkOrderResponse};
use super::observe::Operation;
use super::types::{Pairs, SimCardRef, WorkOrderId};

/// GSL's code for "the card still has an unfinished work order; do not repeat".
pub const ORDER_PENDING: &str = "GSL.00016010";
/// GSL's code for "no repeat of the operation within 5 minutes".
pub const REPEAT_WITHIN_5_MIN: &str = "GSL.00016016";

/// The fastest speed limit accepted, in Kbps.
pub const MAX_SPEED_KBPS: u32 = 102_400;

impl GslClient {
    /// Suspends a card (`POST /v1/sim-cards/{id}/stop`, `down_up_switch` as the DOC example gives: 1).
    pub async fn stop_sim_card(
        &self,
        card: SimCardRef,
        down_up_switch: i32,
    ) -> Result<WorkOrderId, GslError> {
        let body = json!({ "down_up_switch": down_up_switch });
        self.act(Operation::StopSimCard, "stop", card, body).await
    }

    /// Resumes a card (`POST /v1/sim-cards/{id}/reset`, `down_up_switch` 2 in the DOC example).
    pub async fn reset_sim_card(
        &self,
        card: SimCardRef,
        down_up_switch: i32,
    ) -> Result<WorkOrderId, GslError> {
        let body = json!({ "down_up_switch": down_up_switch });
        self.act(Operation::ResetSimCard, "reset", card, body).await
    }

    /// Cuts a card's data (`cut = true`, action `ADD`) or restores it (`DEL`).
    pub async fn cut_net(&self, card: SimCardRef, cut: bool) -> Result<WorkOrderId, GslError> {
        let body = json!({ "action": if cut { "ADD" } else { "DEL" } });
        self.act(Operation::CutNet, "cut-net", card, body).await
    }

    /// Limits a card's speed to `kbps`, or lifts the limit (`None`, sent as -1).
    pub async fn set_speed_limit(
        &self,
        card: SimCardRef,
        kbps: Option<u32>,
    ) -> Result<WorkOrderId, GslError> {
        let speed: i64 = match kbps {
            Some(k) if (1..=MAX_SPEED_KBPS).contains(&k) => i64::from(k),
            Some(k) => {
                return Err(GslError::InvalidRequest(format!(
                    "speed limit {k} Kbps: 1..={MAX_SPEED_KBPS} allowed"
                )))
            }
            None => -1,
        };
        let body = json!({ "speed_value": speed });
        self.act(Operation::SpeedLimit, "speed-limit", card, body)
            .await
    }

    /// Cuts a card's data once it has used `quota_mb` in the cycle (`Some`, 0 = at once), or cancels that
    /// cut (`None`).
    pub async fn set_exceed_cut_net(
        &self,
        card: SimCardRef,
        quota_mb: Option<u64>,
    ) -> Result<WorkOrderId, GslError> {
        let body = match quota_mb {
            Some(q) => json!({ "action": 1, "quota": q.to_string() }),
            None => json!({ "action": 2, "quota": "-1" }),
        };
        self.act(Operation::ExceedCutNet, "exceed-cut-net", card, body)
            .await
    }

    async fn act(
        &self,
        op: Operation,
        verb: &str,
        card: SimCardRef,
        mut body: Value,
    ) -> Result<WorkOrderId, GslError> {
        if let Some(iccid) = card.iccid() {
            body["iccid"] = iccid.into();
        }
        let call = action(op, format!("/v1/sim-cards/{}/{verb}", card.path_id()), body);
        let r: WorkOrderResponse = self.execute(&call, |b| decode(call.op, b)).await?;
        Ok(WorkOrderId(r.work_order_id))
    }

    /// One page of work orders, newest first (`GET /v1/work-orders`).
    pub async fn list_work_orders(&self, page: u32, limit: u32) -> Result<WorkOrderPage, GslError> {
        let mut q = Pairs::default();
        q.one("offset", page).one("limit", limit);
        let call = get(Operation::ListWorkOrders, "/v1/work-orders".into(), q.0);
        self.execute(&call, |b| decode(call.op, b)).await
    }

    /// One work order by id (`main_search_key`); `None` when GSL does not list it.
    pub async fn work_order(&self, id: WorkOrderId) -> Result<Option<WorkOrder>, GslError> {
        let mut q = Pairs::default();
        q.one("main_search_key", id.0).one("limit", 10);
        let call = get(Operation::ListWorkOrders, "/v1/work-orders".into(), q.0);
        let page: WorkOrderPage = self.execute(&call, |b| decode(call.op, b)).await?;
        Ok(page.work_orders.into_iter().find(|o| o.id == id.0))
    }

    /// The cards of a work order and how each fared (`GET /v1/work-orders/{id}/details`).
    pub async fn work_order_details(
        &self,
        id: WorkOrderId,
    ) -> Result<WorkOrderDetailPage, GslError> {
        let mut q = Pairs::default();
        q.one("offset", 1).one("limit", 10);
        let path = format!("/v1/work-orders/{}/details", id.0);
        let call = get(Operation::ListWorkOrderDetails, path, q.0);
        self.execute(&call, |b| decode(call.op, b)).await
    }
}

/// Whether `err` is GSL's refusal `code` (e.g. `ORDER_PENDING`).
pub fn refused_with(err: &GslError, code: &str) -> bool {
    matches!(err, GslError::Api { .. }) && err.code() == Some(code)
}
