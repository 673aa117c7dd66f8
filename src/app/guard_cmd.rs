//! `gsl-sync guard list|approve ID|undo ID`: the guard's decisions as a person sees and overrides them.
//! Approve sends a dry-run decision for real; undo restores an enforced one (or dismisses one that was
//! never sent). The daemon then follows the order until the carrier confirms it.

use std::io::Write;
use std::sync::Arc;

use chrono::Utc;

use super::sim_cmd::refusal;
use super::AppError;
use crate::cli::GuardCommand;
use crate::config::Settings;
use crate::gsl::{GslClient, NoopObserver};
use crate::store::guard::GuardAction;
use crate::store::{Fence, Store};
use crate::sync::guard::orders;
use crate::telemetry::Telemetry;

pub async fn run(settings: &Settings, store: &Store, cmd: &GuardCommand) -> Result<(), AppError> {
    match cmd {
        GuardCommand::List { all, limit } => list(store, !*all, *limit).await,
        GuardCommand::Approve { id } => approve(settings, store, *id).await,
        GuardCommand::Undo { id } => undo(settings, store, *id).await,
    }
}

async fn list(store: &Store, open_only: bool, limit: i64) -> Result<(), AppError> {
    let rows = store
        .guard_actions(open_only, limit.clamp(1, 10_000))
        .await?;
    let mut out = std::io::stdout().lock();
    let io = AppError::io;
    if rows.is_empty() {
        writeln!(
            out,
            "no guard decisions{}",
            if open_only {
                " open (--all lists closed ones)"
            } else {
                ""
            }
        )
        .map_err(io("stdout"))?;
        return Ok(());
    }
    writeln!(
        out,
        "{:>6}  {:<10} {:<21} {:<24} {:<12} {:<8} {:<10} {:<17} {:>10}  reason",
        "id", "account", "iccid", "policy", "action", "mode", "status", "requested (UTC)", "order"
    )
    .map_err(io("stdout"))?;
    for r in rows {
        writeln!(
            out,
            "{:>6}  {:<10} {:<21} {:<24} {:<12} {:<8} {:<10} {:<17} {:>10}  {}{}",
            r.id,
            r.account,
            r.iccid.as_deref().unwrap_or("–"),
            r.policy,
            r.action,
            r.mode,
            r.status,
            r.requested_at.format("%Y-%m-%d %H:%M"),
            r.work_order_id
                .map_or_else(|| "–".into(), |w| w.to_string()),
            r.reason,
            r.error
                .as_deref()
                .map(|e| format!(" [{e}]"))
                .unwrap_or_default(),
        )
        .map_err(io("stdout"))?;
    }
    Ok(())
}

fn client_for(settings: &Settings, row: &GuardAction) -> Result<GslClient, AppError> {
    let account = settings.account(&row.account).ok_or_else(|| {
        AppError::Usage(format!(
            "guard action {} is on account {:?}, which is not configured",
            row.id, row.account
        ))
    })?;
    GslClient::new(
        account.client_settings(&settings.sync),
        Arc::new(NoopObserver),
    )
    .map_err(|source| AppError::Client {
        account: account.name.clone(),
        source,
    })
}

async fn not_claimable(store: &Store, id: i64, want: &str) -> AppError {
    match store.guard_action(id).await {
        Ok(Some(r)) => AppError::Action(format!(
            "guard action {id} is {} ({}{}); {want}",
            r.status,
            r.mode,
            if r.closed_at.is_some() {
                ", closed"
            } else {
                ""
            }
        )),
        Ok(None) => AppError::Usage(format!(
            "no guard action {id} (see `gsl-sync guard list --all`)"
        )),
        Err(e) => e.into(),
    }
}

async fn approve(settings: &Settings, store: &Store, id: i64) -> Result<(), AppError> {
    let Some(row) = store.guard_action(id).await? else {
        return Err(not_claimable(store, id, "").await);
    };
    let client = client_for(settings, &row)?;
    let now = Utc::now();
    let Some(row) = store
        .claim_guard_action(id, &["dry_run"], "sending", Some("enforce"), now)
        .await?
    else {
        return Err(not_claimable(
            store,
            id,
            "only an open dry-run decision, on a card without an enforced one, can be approved",
        )
        .await);
    };
    let telemetry = Telemetry::new();
    let sent =
        orders::send_action(&client, store, &Fence::unfenced(), &telemetry, &row, now).await?;
    let after = store.guard_action(id).await?.unwrap_or(row);
    if sent {
        println!(
            "guard action {id} approved: work order {} ({} on {}); the daemon follows it to completion",
            after.work_order_id.unwrap_or_default(),
            after.action,
            after.iccid.as_deref().unwrap_or("the card"),
        );
        Ok(())
    } else {
        Err(AppError::Action(format!(
            "guard action {id} approved but not sent: {} (status {})",
            after.error.unwrap_or_default(),
            after.status
        )))
    }
}

async fn undo(settings: &Settings, store: &Store, id: i64) -> Result<(), AppError> {
    let Some(row) = store.guard_action(id).await? else {
        return Err(not_claimable(store, id, "").await);
    };
    let now = Utc::now();
    // Nothing at the carrier yet: dismissed, and the policy leaves the card alone for this cycle.
    if let Some(r) = store
        .claim_guard_action(
            id,
            &["dry_run", "queued", "refused"],
            "dismissed",
            None,
            now,
        )
        .await?
    {
        println!(
            "guard action {} dismissed: nothing had been sent; the policy leaves the card alone this cycle",
            r.id
        );
        return Ok(());
    }
    let client = client_for(settings, &row)?;
    let Some(row) = store
        .claim_guard_action(id, &["completed"], "restoring", None, now)
        .await?
    else {
        return Err(not_claimable(
            store,
            id,
            "only a completed action can be restored (a pending one once the carrier confirms it)",
        )
        .await);
    };
    let telemetry = Telemetry::new();
    match orders::send_restore(&client, store, &Fence::unfenced(), &telemetry, &row, now).await? {
        Ok(order) => {
            println!(
                "guard action {id} undone: restore work order {} ({} on {}); the daemon follows it to completion",
                order.0,
                row.action,
                row.iccid.as_deref().unwrap_or("the card"),
            );
            Ok(())
        }
        Err(e) => Err(refusal("undo", &format!("guard action {id}"), &e)),
    }
}
