//! `gsl-sync sim show|stop|resume|speed-limit|cut-net`: one card's state, or a carrier action on it, as a
//! person asks: at user priority in the account's budget, after a confirmation unless `--yes`, and never
//! sent twice. A refusal (e.g. GSL's 5-minute rule, `GSL.00016016`) exits 1 naming GSL's code after that
//! one call.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use super::AppError;
use crate::cli::{CardArgs, SimCommand};
use crate::config::{AccountSettings, Settings};
use crate::domain::{CardAction, Carrier};
use crate::gsl::actions::{refused_with, ORDER_PENDING, REPEAT_WITHIN_5_MIN};
use crate::gsl::{GslClient, GslError, NoopObserver, SimCardRef, WorkOrderId};

pub async fn run(settings: &Settings, cmd: &SimCommand) -> Result<(), AppError> {
    let card = card_args(cmd);
    let account = pick_account(settings, card.account.as_deref())?;
    let client = GslClient::new(
        account.client_settings(&settings.sync),
        Arc::new(NoopObserver),
    )
    .map_err(|source| AppError::Client {
        account: account.name.clone(),
        source,
    })?;
    let target = match (&card.iccid, card.sim_card_id) {
        (Some(iccid), _) => SimCardRef::Iccid(iccid.clone()),
        (None, Some(id)) => SimCardRef::Id(id),
        (None, None) => {
            return Err(AppError::Usage(
                "--iccid or --sim-card-id is required".into(),
            ))
        }
    };
    let what = match &target {
        SimCardRef::Iccid(i) => format!("card {i}"),
        SimCardRef::Id(id) => format!("card {id}"),
    };
    let (verb, order) = match cmd {
        SimCommand::Show(_) => return show(&client, target).await,
        SimCommand::Stop(_) => ("stop", Order::Stop),
        SimCommand::Resume(_) => ("resume", Order::Resume),
        SimCommand::SpeedLimit { kbps, .. } => ("speed-limit", Order::Speed(speed(*kbps)?)),
        SimCommand::CutNet { restore, .. } => ("cut-net", Order::Cut(!restore)),
    };
    refuse_unsupported(&order, &target)?;
    confirm(
        &format!("{} {what} on account {}?", order.describe(), account.name),
        card.yes,
    )?;
    let sent = order
        .send(&client, target)
        .await
        .map_err(|e| refusal(verb, &what, &e))?;
    println!(
        "work order {}: {} {what} (account {})",
        sent.0,
        order.describe(),
        account.name
    );
    // One lookup to say where it stands; the order is GSL's now whatever this answers.
    if let Ok(Some(o)) = client.work_order(sent).await {
        println!(
            "status {} ({})",
            o.status.map_or_else(|| "?".into(), |s| s.to_string()),
            match o.state() {
                crate::gsl::OrderState::Completed => "completed",
                crate::gsl::OrderState::Failed => "failed",
                crate::gsl::OrderState::Pending =>
                    "processing; GSL completes work orders within minutes",
            }
        );
    }
    Ok(())
}

fn card_args(cmd: &SimCommand) -> &CardArgs {
    match cmd {
        SimCommand::Show(c) | SimCommand::Stop(c) | SimCommand::Resume(c) => c,
        SimCommand::SpeedLimit { card, .. } | SimCommand::CutNet { card, .. } => card,
    }
}

/// The account named, or the only one configured.
pub(crate) fn pick_account<'a>(
    settings: &'a Settings,
    name: Option<&str>,
) -> Result<&'a AccountSettings, AppError> {
    match (name, settings.accounts.as_slice()) {
        (Some(n), _) => settings
            .account(n)
            .ok_or_else(|| AppError::Usage(format!("--account {n:?} is not a configured account"))),
        (None, [only]) => Ok(only),
        (None, []) => Err(AppError::Usage(
            "configuration: no [accounts.NAME] table (see `gsl-sync config example`)".into(),
        )),
        (None, _) => Err(AppError::Usage(
            "several accounts are configured: say which with --account NAME".into(),
        )),
    }
}

/// `--kbps`: a limit in Kbps, or -1 to lift it.
fn speed(kbps: i64) -> Result<Option<u32>, AppError> {
    match kbps {
        -1 => Ok(None),
        k if (1..=i64::from(crate::gsl::actions::MAX_SPEED_KBPS)).contains(&k) => {
            Ok(Some(k as u32))
        }
        k => Err(AppError::Usage(format!(
            "--kbps {k}: a speed in 1..={} Kbps, or -1 to lift the limit",
            crate::gsl::actions::MAX_SPEED_KBPS
        ))),
    }
}

enum Order {
    Stop,
    Resume,
    Speed(Option<u32>),
    Cut(bool),
}

impl Order {
    fn describe(&self) -> String {
        match self {
            Order::Stop => "stop".into(),
            Order::Resume => "resume".into(),
            Order::Speed(Some(k)) => format!("limit to {k} Kbps"),
            Order::Speed(None) => "lift the speed limit of".into(),
            Order::Cut(true) => "cut the data of".into(),
            Order::Cut(false) => "restore the data of".into(),
        }
    }

    fn action(&self) -> Option<CardAction> {
        match self {
            Order::Stop => Some(CardAction::Stop),
            Order::Speed(_) => Some(CardAction::SpeedLimit),
            Order::Cut(_) => Some(CardAction::CutNet),
            Order::Resume => None,
        }
    }

    async fn send(&self, client: &GslClient, card: SimCardRef) -> Result<WorkOrderId, GslError> {
        match self {
            Order::Stop => client.stop_sim_card(card, 1).await,
            Order::Resume => client.reset_sim_card(card, 2).await,
            Order::Speed(kbps) => client.set_speed_limit(card, *kbps).await,
            Order::Cut(cut) => client.cut_net(card, *cut).await,
        }
    }
}

/// An action the ICCID's carrier does not offer is refused here, without a call. (By sim_card_id the
/// carrier is unknown until GSL answers, and GSL refuses it itself.)
fn refuse_unsupported(order: &Order, card: &SimCardRef) -> Result<(), AppError> {
    let (Some(action), SimCardRef::Iccid(iccid)) = (order.action(), card) else {
        return Ok(());
    };
    let Some(carrier) = Carrier::from_iccid(iccid) else {
        return Ok(());
    };
    // Pooled or not is unknown here; only the cut at quota depends on it, and no command sends that.
    action
        .supported(carrier, false)
        .map_err(|why| AppError::Action(format!("not sent: {why}")))
}

/// Asks on the terminal unless `yes`; without a terminal to ask on, refuses.
pub(crate) fn confirm(question: &str, yes: bool) -> Result<(), AppError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(AppError::Usage(format!(
            "{question} Not asked: stdin is not a terminal; pass --yes to act without asking"
        )));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(AppError::io("reading the answer"))?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(AppError::Action("not confirmed; nothing sent".into()))
    }
}

/// GSL's refusal as one line naming its code, with what it means for the person.
pub(crate) fn refusal(verb: &str, what: &str, e: &GslError) -> AppError {
    let hint = if refused_with(e, REPEAT_WITHIN_5_MIN) {
        " (GSL refuses the same operation on a card within 5 minutes; try again later)"
    } else if refused_with(e, ORDER_PENDING) {
        " (the card still has an unfinished work order; wait for it to finish)"
    } else {
        ""
    };
    let code = e.code().map(|c| format!("{c} ")).unwrap_or_default();
    AppError::Action(format!("{verb} {what}: {code}{e}{hint}"))
}

async fn show(client: &GslClient, card: SimCardRef) -> Result<(), AppError> {
    let c = client
        .show_sim_card(card)
        .await
        .map_err(|e| refusal("show", "card", &e))?;
    let carrier = Carrier::of(c.iccid.as_deref(), c.price_plan_name.as_deref());
    let opt = |v: Option<String>| v.unwrap_or_else(|| "–".into());
    let num = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{v:.2}"));
    let mut out = std::io::stdout().lock();
    let lines = [
        ("iccid", opt(c.iccid.clone())),
        ("sim_card_id", c.sim_card_id.to_string()),
        ("carrier", carrier.to_string()),
        ("price_plan", opt(c.price_plan_name.clone())),
        ("sim_status", opt(c.sim_status.map(|s| s.to_string()))),
        (
            "operator_status",
            opt(c.operator_status.map(|s| s.to_string())),
        ),
        ("flow_used_mb", num(c.flow_used)),
        ("flow_left_mb", num(c.flow_left)),
        (
            "speed_value_kbps",
            opt(c.speed_value.map(|s| s.to_string())),
        ),
        ("cut_net_flag", opt(c.cut_net_flag.map(|s| s.to_string()))),
        (
            "exceed_cut_net_flag",
            opt(c.exceed_cut_net_flag.map(|s| s.to_string())),
        ),
        (
            "exceed_cut_net_quota_mb",
            opt(c.exceed_cut_net_quota.map(|s| s.to_string())),
        ),
        ("sim_pool_id", opt(c.sim_pool_id.map(|s| s.to_string()))),
    ];
    for (k, v) in lines {
        writeln!(out, "{k:<24}{v}").map_err(AppError::io("stdout"))?;
    }
    let pooled = c.sim_pool_id.is_some();
    let offers: Vec<&str> = CardAction::ALL
        .iter()
        .filter(|a| a.supported(carrier, pooled).is_ok())
        .map(|a| a.as_str())
        .collect();
    writeln!(out, "{:<24}{}", "actions", offers.join(", ")).map_err(AppError::io("stdout"))?;
    Ok(())
}
