//! The command line, as the command reference names it; parsing only, the commands live in `app`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::domain::{GroupBy, OutputFormat, SimCardId, YearMonth};
use crate::report::ReportRequest;

#[derive(Debug, Parser)]
#[command(
    name = "gsl-sync",
    version,
    about = "Huawei Cloud GSL usage → Postgres, Prometheus and alerts"
)]
pub struct Cli {
    /// Configuration file (also GSL_SYNC_CONFIG); environment GSL_SYNC__SECTION__KEY wins over it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The daemon: migrate, schedule the jobs, serve HTTP; stops cleanly on SIGTERM/SIGINT.
    Run,
    /// One sync job for every configured account.
    #[command(subcommand)]
    Sync(SyncCommand),
    /// Apply the migrations and exit.
    Migrate,
    /// The built-in GSL API simulator.
    Simulate(gsl_simulator::SimulateArgs),
    /// Simulator + sync + HTTP in one process: the quick start.
    Demo(DemoArgs),
    /// Usage reports from the database.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Print the commented default config, or validate the effective one.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// One card's state, or a carrier action on it (a GSL work order); asks unless --yes.
    #[command(subcommand)]
    Sim(SimCommand),
    /// Guard actions: recorded, pending approval, undone.
    #[command(subcommand)]
    Guard(GuardCommand),
}

/// Which card, on which account, and whether to ask first.
#[derive(Debug, Clone, Args)]
pub struct CardArgs {
    #[arg(
        long,
        conflicts_with = "sim_card_id",
        required_unless_present = "sim_card_id"
    )]
    pub iccid: Option<String>,
    #[arg(long)]
    pub sim_card_id: Option<SimCardId>,
    /// The configured account the card is on (needed only when there are several).
    #[arg(long)]
    pub account: Option<String>,
    /// Act without asking for confirmation.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// The card as GSL has it now, with its carrier and the actions it offers.
    Show(CardArgs),
    /// Suspend the card (a stop work order).
    Stop(CardArgs),
    /// Resume a suspended card (a reset work order).
    Resume(CardArgs),
    /// Limit the card's speed to --kbps N (-1 lifts the limit).
    SpeedLimit {
        #[command(flatten)]
        card: CardArgs,
        #[arg(long, allow_negative_numbers = true, value_name = "N")]
        kbps: i64,
    },
    /// Cut the card's data, or with --restore give it back.
    CutNet {
        #[command(flatten)]
        card: CardArgs,
        #[arg(long)]
        restore: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum GuardCommand {
    /// The guard's decisions, newest first: open ones, or with --all every one.
    List {
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Send a dry-run decision to the carrier for real.
    Approve { id: i64 },
    /// Undo a decision: restore an enforced one, dismiss a dry-run or unsent one.
    Undo { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// One full pass of GET /v1/sim-cards.
    Inventory,
    /// Daily usage; without a flag every day the API still offers that is missing or may still change.
    DailyFlow {
        #[arg(long, value_name = "YYYY-MM-DD", conflicts_with = "month")]
        date: Option<chrono::NaiveDate>,
        #[arg(long, value_name = "YYYY-MM")]
        month: Option<String>,
    },
    /// Month-usages for the billing cycles the API offers.
    Monthly,
    /// Flow pools and their members.
    Pools,
    /// Inventory, daily-flow, monthly, pools, then alert evaluation.
    All,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    #[arg(long, default_value_t = 10_000)]
    pub cards: u64,
    /// Keep serving after the sync until stopped (default); --once exits after printing where to look.
    #[arg(long)]
    pub once: bool,
}

fn month_arg(s: &str) -> Result<YearMonth, String> {
    s.parse::<YearMonth>()
        .ok()
        .filter(|_| s.trim().len() == 7)
        .ok_or_else(|| "must be a month like 2026-11".into())
}

fn group_by_arg(s: &str) -> Result<GroupBy, String> {
    GroupBy::from_name(s).ok_or_else(|| "must be one of sim, pool, plan, tag, account".into())
}

fn format_arg(s: &str) -> Result<OutputFormat, String> {
    OutputFormat::from_name(s).ok_or_else(|| "must be one of table, csv, json, html".into())
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Usage of one month, grouped.
    Usage {
        #[arg(long, value_name = "YYYY-MM", value_parser = month_arg)]
        month: YearMonth,
        #[arg(long, value_name = "sim|pool|plan|tag|account", default_value = "sim", value_parser = group_by_arg)]
        group_by: GroupBy,
        #[arg(long, value_name = "table|csv|json|html", default_value = "table", value_parser = format_arg)]
        format: OutputFormat,
        #[arg(long)]
        top: Option<usize>,
    },
    /// One card's daily history.
    Sim {
        #[arg(
            long,
            conflicts_with = "sim_card_id",
            required_unless_present = "sim_card_id"
        )]
        iccid: Option<String>,
        #[arg(long)]
        sim_card_id: Option<SimCardId>,
        #[arg(long, value_name = "YYYY-MM-DD")]
        from: Option<chrono::NaiveDate>,
        #[arg(long, value_name = "YYYY-MM-DD")]
        to: Option<chrono::NaiveDate>,
        #[arg(long, value_name = "table|csv|json|html", default_value = "table", value_parser = format_arg)]
        format: OutputFormat,
    },
}

impl ReportCommand {
    pub fn into_request(self) -> ReportRequest {
        match self {
            Self::Usage {
                month,
                group_by,
                format,
                top,
            } => ReportRequest::Usage {
                month,
                group_by,
                format,
                top,
            },
            Self::Sim {
                iccid,
                sim_card_id,
                from,
                to,
                format,
            } => ReportRequest::Sim {
                iccid,
                sim_card_id,
                from,
                to,
                format,
            },
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the commented default configuration.
    Example,
    /// Validate the effective configuration and print it with secrets redacted.
    Check,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn contract_commands_parse() {
        for line in [
            "gsl-sync run",
            "gsl-sync sync inventory",
            "gsl-sync sync daily-flow --date 2026-11-01",
            "gsl-sync sync daily-flow --month 2026-11",
            "gsl-sync sync monthly",
            "gsl-sync sync pools",
            "gsl-sync sync all",
            "gsl-sync migrate",
            "gsl-sync simulate --listen 127.0.0.1:0 --cards 5 --seed 3 --today 2026-11-28 --no-rate-limit --token-lifetime 1h",
            "gsl-sync demo",
            "gsl-sync report usage --month 2026-11 --group-by plan --format csv --top 10",
            "gsl-sync report sim --iccid 89860000000000000001 --from 2026-10-01 --to 2026-10-31 --format json",
            "gsl-sync --config x.toml config example",
            "gsl-sync config check",
            "gsl-sync sim show --iccid 89860312345678901234",
            "gsl-sync sim stop --sim-card-id 5702790861709056 --yes",
            "gsl-sync sim resume --iccid 89860312345678901234 --account main",
            "gsl-sync sim speed-limit --iccid 89860312345678901234 --kbps 64 --yes",
            "gsl-sync sim speed-limit --iccid 89860312345678901234 --kbps -1",
            "gsl-sync sim cut-net --iccid 89860312345678901234 --restore --yes",
            "gsl-sync guard list",
            "gsl-sync guard list --all --limit 10",
            "gsl-sync guard approve 12",
            "gsl-sync guard undo 12",
        ] {
            let args = line.split_whitespace();
            assert!(Cli::try_parse_from(args).is_ok(), "{line}");
        }
    }
}
