//! Sending a decision's work order (or its restore), reading GSL's refusals without making them worse, and
//! following each order until the carrier confirms it.
//!
//! - `GSL.00016010` (another order of the card is pending): not sent again before `PENDING_WAIT`.
//! - `GSL.00016016` (the same operation within 5 minutes), and any failure after which GSL may have taken
//!   the order (a timeout, a broken connection, a 5xx the client gave up on): not sent again before GSL's
//!   5 minutes are over, so a repeat cannot be refused for being one; after `MAX_ATTEMPTS` the decision
//!   fails, naming the last code.
//! - Any other refusal fails the decision at once, with GSL's code and message.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::observe::GuardObserver;
use gsl_client::actions::{refused_with, ORDER_PENDING, REPEAT_WITHIN_5_MIN};
use gsl_client::{GslClient, GslError, OrderState, SimCardRef, WorkOrderId};
use gsl_domain::CardAction;
use gsl_store::guard::{Change, GuardAction};
use gsl_store::{Fence, Store, StoreError};

/// Sends of one decision before it fails.
pub const MAX_ATTEMPTS: i32 = 4;
/// How long to wait for another pending order of the card.
const PENDING_WAIT: Duration = Duration::from_secs(60);
/// GSL's no-repeat window.
const REPEAT_WAIT: Duration = Duration::from_secs(300);

/// Sends the order `row` asks for: the action, or with `restore` its undoing.
pub async fn send(
    client: &GslClient,
    row: &GuardAction,
    restore: bool,
) -> Result<WorkOrderId, GslError> {
    let card = SimCardRef::Id(row.sim_card_id);
    let Some(action) = CardAction::from_name(&row.action) else {
        return Err(GslError::InvalidRequest(format!(
            "unknown action {:?}",
            row.action
        )));
    };
    match (action, restore) {
        (CardAction::SpeedLimit, false) => {
            let kbps = row.speed_kbps.and_then(|k| u32::try_from(k).ok());
            let Some(kbps) = kbps else {
                return Err(GslError::InvalidRequest(
                    "speed_limit without speed_kbps".into(),
                ));
            };
            client.set_speed_limit(card, Some(kbps)).await
        }
        (CardAction::SpeedLimit, true) => client.set_speed_limit(card, None).await,
        (CardAction::CutNet, cut) => client.cut_net(card, !cut).await,
        (CardAction::CutAtQuota, false) => {
            let quota = row
                .quota_mb
                .and_then(|q| u64::try_from(q).ok())
                .unwrap_or(0);
            client.set_exceed_cut_net(card, Some(quota)).await
        }
        (CardAction::CutAtQuota, true) => client.set_exceed_cut_net(card, None).await,
        (CardAction::Stop, false) => client.stop_sim_card(card, 1).await,
        (CardAction::Stop, true) => client.reset_sim_card(card, 2).await,
    }
}

/// What a failed send means for the decision: wait (`Some(until)`) or fail (`None`).
pub fn retry_at(err: &GslError, attempts: i32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let wait = if refused_with(err, ORDER_PENDING) {
        PENDING_WAIT
    } else if refused_with(err, REPEAT_WITHIN_5_MIN) || err.is_retryable() {
        REPEAT_WAIT
    } else {
        return None;
    };
    chrono::Duration::from_std(wait).ok().map(|w| now + w)
}

/// One line for the table and the episode: GSL's code first when it gave one.
pub fn describe(err: &GslError) -> String {
    match err.code() {
        Some(code) => format!("{code}: {err}"),
        None => err.to_string(),
    }
}

/// Sends the action of a claimed (`sending`) decision and records what came of it.
pub async fn send_action(
    client: &GslClient,
    store: &Store,
    fence: &Fence,
    observer: &dyn GuardObserver,
    row: &GuardAction,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let outcome = send(client, row, false).await;
    let (change, result) = match &outcome {
        Ok(id) => (
            Change {
                work_order_id: Some(id.0),
                ..Change::to("pending", now)
            },
            "sent",
        ),
        Err(e) => match retry_at(e, row.attempts, now) {
            Some(until) => (
                Change {
                    error: Some(describe(e)),
                    not_before: Some(until),
                    ..Change::to("queued", now)
                },
                "deferred",
            ),
            None => (
                Change {
                    error: Some(describe(e)),
                    ..Change::to("failed", now)
                },
                "failed",
            ),
        },
    };
    store.update_guard_action(fence, row.id, &change).await?;
    observer.guard_action(&row.account, &row.policy, &row.action, &row.mode, result);
    match &outcome {
        Ok(id) => tracing::info!(
            policy = %row.policy, action = %row.action, iccid = row.iccid.as_deref().unwrap_or(""),
            work_order_id = id.0, "guard action sent"
        ),
        Err(e) => tracing::warn!(
            policy = %row.policy, action = %row.action, iccid = row.iccid.as_deref().unwrap_or(""),
            result, error = %e, "guard action not sent"
        ),
    }
    Ok(outcome.is_ok())
}

/// Sends the restore of a completed decision (it becomes `restoring`); on failure it stays `completed`
/// with the error, not tried again before `retry_at` allows.
pub async fn send_restore(
    client: &GslClient,
    store: &Store,
    fence: &Fence,
    observer: &dyn GuardObserver,
    row: &GuardAction,
    now: DateTime<Utc>,
) -> Result<Result<WorkOrderId, GslError>, StoreError> {
    let outcome = send(client, row, true).await;
    let change = match &outcome {
        Ok(id) => Change {
            work_order_id: Some(id.0),
            ..Change::to("restoring", now)
        },
        Err(e) => Change {
            error: Some(format!("restore: {}", describe(e))),
            not_before: retry_at(e, 0, now),
            ..Change::to("completed", now)
        },
    };
    store.update_guard_action(fence, row.id, &change).await?;
    let result = if outcome.is_ok() {
        "restore_sent"
    } else {
        "restore_failed"
    };
    observer.guard_action(&row.account, &row.policy, &row.action, &row.mode, result);
    tracing::info!(
        policy = %row.policy, action = %row.action, iccid = row.iccid.as_deref().unwrap_or(""),
        result, "guard restore"
    );
    Ok(outcome)
}

/// Looks up a sent order (or restore) and records the carrier's word when it has one.
pub async fn check(
    client: &GslClient,
    store: &Store,
    fence: &Fence,
    observer: &dyn GuardObserver,
    row: &GuardAction,
    now: DateTime<Utc>,
    today: chrono::NaiveDate,
) -> Result<(), GslOrStore> {
    let restoring = row.status == "restoring";
    let id = if restoring {
        row.restore_work_order_id
    } else {
        row.work_order_id
    };
    let Some(id) = id else { return Ok(()) };
    let order = client.work_order(WorkOrderId(id)).await?;
    let state = order.as_ref().map(|o| o.state());
    let finished = order.as_ref().and_then(|o| o.finish_time).unwrap_or(now);
    let (change, result) = match (state, restoring) {
        (Some(OrderState::Completed), false) => (
            Change {
                completed_at: Some(finished),
                ..Change::to("completed", now)
            },
            "completed",
        ),
        (Some(OrderState::Completed), true) => (
            Change {
                restored_at: Some(finished),
                // Restored at the cycle's end: the decision is over. Undone by hand: it stays open, so
                // the policy does not act on the card again this cycle.
                closed_at: (row.next_cycle <= today).then_some(now),
                ..Change::to("restored", now)
            },
            "restored",
        ),
        (Some(OrderState::Failed), false) => (
            Change {
                error: Some(order_failure(order.as_ref())),
                ..Change::to("failed", now)
            },
            "failed",
        ),
        (Some(OrderState::Failed), true) => (
            Change {
                error: Some(format!("restore: {}", order_failure(order.as_ref()))),
                ..Change::to("completed", now)
            },
            "restore_failed",
        ),
        (Some(OrderState::Pending) | None, _) => {
            store.guard_checked(fence, row.id, now).await?;
            return Ok(());
        }
    };
    store.update_guard_action(fence, row.id, &change).await?;
    observer.guard_action(&row.account, &row.policy, &row.action, &row.mode, result);
    tracing::info!(
        policy = %row.policy, action = %row.action, iccid = row.iccid.as_deref().unwrap_or(""),
        work_order_id = id, result, "guard work order finished"
    );
    Ok(())
}

fn order_failure(o: Option<&gsl_client::WorkOrder>) -> String {
    let reason = o.and_then(|o| o.fail_reason.clone()).unwrap_or_default();
    let status = o.and_then(|o| o.status).unwrap_or_default();
    format!("work order failed (status {status}) {reason}")
        .trim()
        .to_owned()
}

/// A lookup failed at GSL or at the store.
#[derive(Debug, thiserror::Error)]
pub enum GslOrStore {
    #[error(transparent)]
    Gsl(#[from] GslError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
