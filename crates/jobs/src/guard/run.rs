//! One guard pass over one account: close or restore what the end of a billing cycle ends, follow the
//! orders in flight, decide on new candidates within the brakes, then send what was decided.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;

use super::decide;
use super::observe::GuardObserver;
use super::orders::{self, GslOrStore};
use super::settings::GuardSettings;
use crate::engine::SyncError;
use gsl_client::{GslClient, Priority};
use gsl_store::guard::{Change, GuardAction, NewAction, PolicyCounts};
use gsl_store::{Fence, Store};

/// Orders looked up, cycle ends handled and queued decisions sent per pass, so one pass stays short.
const PER_PASS: i64 = 200;
/// A claim older than this belongs to a sender that died: it is given back.
const STALE_CLAIM: chrono::Duration = chrono::Duration::minutes(10);

/// The pass's idea of now: the instant, the carrier's day and that day's start (in `sync.timezone`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuardClock {
    pub now: DateTime<Utc>,
    pub today: NaiveDate,
    pub day_start: DateTime<Utc>,
}

impl GuardClock {
    pub fn at(now: DateTime<Utc>, tz: Tz) -> Self {
        let today = now.with_timezone(&tz).date_naive();
        let day_start = today
            .and_hms_opt(0, 0, 0)
            .and_then(|t| tz.from_local_datetime(&t).earliest())
            .map_or(now, |t| t.with_timezone(&Utc));
        Self {
            now,
            today,
            day_start,
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GuardReport {
    /// New decisions by status (`dry_run`, `queued`, `refused`).
    pub decided: BTreeMap<String, u64>,
    pub sent: u64,
    pub checked: u64,
    pub restores_sent: u64,
    pub closed: u64,
    /// Policies the fleet brake held.
    pub braked: Vec<String>,
}

impl GuardReport {
    fn announced(&self) -> bool {
        !self.decided.is_empty() || !self.braked.is_empty() || self.closed > 0
    }
}

/// One guard pass over `client`'s account. Every call waits at background priority in the account's
/// budget; every write checks `fence`; `cancel` stops it between steps.
#[allow(clippy::too_many_arguments)]
pub async fn guard_account(
    client: &GslClient,
    store: &Store,
    settings: &GuardSettings,
    fence: &Fence,
    cancel: &CancellationToken,
    observer: &dyn GuardObserver,
    clock: GuardClock,
) -> Result<GuardReport, SyncError> {
    let client = client.with_priority(Priority::Background);
    let mut report = GuardReport::default();
    let account = client.account().to_owned();
    let steps = async {
        cycle_ends(&client, store, fence, observer, clock, &mut report).await?;
        check_orders(
            &client,
            store,
            settings,
            fence,
            observer,
            clock,
            &mut report,
        )
        .await?;
        decide(
            &account,
            store,
            settings,
            fence,
            observer,
            clock,
            &mut report,
        )
        .await?;
        send_queued(&client, store, fence, observer, clock, &mut report).await
    };
    let outcome = tokio::select! {
        r = steps => r,
        _ = cancel.cancelled() => Err(SyncError::Cancelled),
    };
    observer.guard_pass_finished(&account, report.announced());
    outcome.map(|()| report)
}

async fn cycle_ends(
    client: &GslClient,
    store: &Store,
    fence: &Fence,
    observer: &dyn GuardObserver,
    clock: GuardClock,
    report: &mut GuardReport,
) -> Result<(), SyncError> {
    let due = store
        .guard_cycle_ended(client.account(), clock.today, clock.now, PER_PASS)
        .await?;
    for row in due {
        if row.status == "completed" && row.mode == "enforce" {
            if orders::send_restore(client, store, fence, observer, &row, clock.now)
                .await?
                .is_ok()
            {
                report.restores_sent += 1;
            }
            continue;
        }
        let status = if row.status == "queued" {
            "expired"
        } else {
            row.status.as_str()
        };
        let change = Change {
            closed_at: Some(clock.now),
            ..Change::to(status, clock.now)
        };
        store.update_guard_action(fence, row.id, &change).await?;
        if status == "expired" {
            observer.guard_action(&row.account, &row.policy, &row.action, &row.mode, "expired");
        }
        report.closed += 1;
    }
    Ok(())
}

async fn check_orders(
    client: &GslClient,
    store: &Store,
    settings: &GuardSettings,
    fence: &Fence,
    observer: &dyn GuardObserver,
    clock: GuardClock,
    report: &mut GuardReport,
) -> Result<(), SyncError> {
    let every = chrono::Duration::from_std(settings.order_check).unwrap_or_default();
    let rows = store
        .guard_orders_to_check(client.account(), clock.now - every, PER_PASS)
        .await?;
    for row in rows {
        match orders::check(client, store, fence, observer, &row, clock.now, clock.today).await {
            Ok(()) => report.checked += 1,
            Err(GslOrStore::Store(e)) => return Err(e.into()),
            // The order stays pending and is looked up again next pass.
            Err(GslOrStore::Gsl(e)) => {
                tracing::warn!(work_order_id = row.work_order_id, error = %e, "could not look up a guard work order");
            }
        }
    }
    Ok(())
}

async fn decide(
    account: &str,
    store: &Store,
    settings: &GuardSettings,
    fence: &Fence,
    observer: &dyn GuardObserver,
    clock: GuardClock,
    report: &mut GuardReport,
) -> Result<(), SyncError> {
    let policies: Vec<_> = settings
        .policies
        .iter()
        .filter(|p| p.applies_to(account))
        .collect();
    if policies.is_empty() {
        // A policy taken out of the configuration leaves no brake firing behind.
        store.guard_brakes(fence, account, &[], clock.now).await?;
        return Ok(());
    }
    let hour_ago = clock.now - chrono::Duration::hours(1);
    let counts = store
        .guard_counts(account, hour_ago, clock.day_start)
        .await?;
    let fleet = store.guard_fleet_size(account).await?;
    let count_of =
        |name: &str| -> Option<&PolicyCounts> { counts.iter().find(|c| c.policy == name) };
    let rooms: Vec<decide::Room> = policies
        .iter()
        .map(|p| decide::room(settings, p, count_of(&p.name), fleet))
        .collect();
    let filters: Vec<_> = policies
        .iter()
        .zip(&rooms)
        .map(|(p, r)| decide::filter(p, r.take))
        .collect();
    let candidates = store.guard_candidates(account, &filters).await?;
    let mut brakes = Vec::new();
    let mut decisions: Vec<NewAction> = Vec::new();
    for (ord, (policy, room)) in policies.iter().zip(&rooms).enumerate() {
        let mine: Vec<_> = candidates
            .iter()
            .filter(|c| c.ord as usize == ord)
            .collect();
        let matched = mine.first().map_or(0, |c| c.matched);
        if let Some(b) = decide::brake(policy, *room, matched, fleet) {
            tracing::warn!(
                policy = %policy.name, matched, limit = b.limit, today = b.today, fleet_cards = fleet,
                "guard policy held by the fleet brake"
            );
            observer.guard_action(
                account,
                &policy.name,
                policy.action.as_str(),
                policy.mode.as_str(),
                "braked",
            );
            report.braked.push(policy.name.clone());
            brakes.push(b);
        }
        decisions.extend(
            mine.iter()
                .filter(|c| c.rank <= room.take)
                .map(|c| decide::decision(account, policy, c, clock.today)),
        );
    }
    let recorded = store
        .record_guard_actions(fence, &decisions, clock.now)
        .await?;
    for row in &recorded {
        announce(observer, row);
        *report.decided.entry(row.status.clone()).or_default() += 1;
    }
    store
        .guard_brakes(fence, account, &brakes, clock.now)
        .await?;
    Ok(())
}

fn announce(observer: &dyn GuardObserver, row: &GuardAction) {
    observer.guard_action(
        &row.account,
        &row.policy,
        &row.action,
        &row.mode,
        &row.status,
    );
    tracing::info!(
        policy = %row.policy, action = %row.action, mode = %row.mode, status = %row.status,
        iccid = row.iccid.as_deref().unwrap_or(""), reason = %row.reason, "guard decision"
    );
}

async fn send_queued(
    client: &GslClient,
    store: &Store,
    fence: &Fence,
    observer: &dyn GuardObserver,
    clock: GuardClock,
    report: &mut GuardReport,
) -> Result<(), SyncError> {
    let claimed = store
        .claim_queued_guard_actions(
            fence,
            client.account(),
            clock.now,
            clock.now - STALE_CLAIM,
            PER_PASS,
        )
        .await?;
    for row in claimed {
        if orders::send_action(client, store, fence, observer, &row, clock.now).await? {
            report.sent += 1;
        }
    }
    Ok(())
}
