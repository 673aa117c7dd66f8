//! The command line, as CONTRACT.md names it; parsing only, the commands live in `app`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    Simulate(SimulateArgs),
    /// Simulator + sync + HTTP in one process: the quick start.
    Demo(DemoArgs),
    /// Usage reports from the database.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Print the commented default config, or validate the effective one.
    #[command(subcommand)]
    Config(ConfigCommand),
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
pub struct SimulateArgs {
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    #[arg(long, default_value_t = 10_000)]
    pub cards: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The simulator's "today" (default: the real date in Asia/Shanghai).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub today: Option<chrono::NaiveDate>,
    /// Turn GSL's flow control (1/s list, 5/s total) off, for benchmarks.
    #[arg(long)]
    pub no_rate_limit: bool,
    #[arg(long, default_value = "demo")]
    pub domain: String,
    #[arg(long, default_value = "demo")]
    pub user: String,
    #[arg(long, default_value = "demo")]
    pub password: String,
    #[arg(long, default_value = "DEMOAK")]
    pub access_key: String,
    #[arg(long, default_value = "DEMOSK")]
    pub secret_key: String,
    /// How long issued IAM tokens stay valid.
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    pub token_lifetime: std::time::Duration,
    /// Fraction of calls answered 500 GSL.00010003.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Extra latency per call.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub latency: std::time::Duration,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    #[arg(long, default_value_t = 10_000)]
    pub cards: u64,
    /// Keep serving after the sync until stopped (default); --once exits after printing where to look.
    #[arg(long)]
    pub once: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupBy {
    Sim,
    Pool,
    Plan,
    Tag,
    Account,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Usage of one month, grouped.
    Usage {
        #[arg(long, value_name = "YYYY-MM")]
        month: String,
        #[arg(long, value_enum, default_value_t = GroupBy::Sim)]
        group_by: GroupBy,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
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
        sim_card_id: Option<i64>,
        #[arg(long, value_name = "YYYY-MM-DD")]
        from: Option<chrono::NaiveDate>,
        #[arg(long, value_name = "YYYY-MM-DD")]
        to: Option<chrono::NaiveDate>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
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
        ] {
            let args = line.split_whitespace();
            assert!(Cli::try_parse_from(args).is_ok(), "{line}");
        }
    }
}
