//! `gsl-sync simulate`'s arguments, owned here so the binary's command line only names them.

use clap::Args;

/// How to run the simulator from the command line.
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
    /// How long a work order (stop, reset, cut-net, speed-limit, exceed-cut-net) takes to complete.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub order_delay: std::time::Duration,
    /// Extra latency per call.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub latency: std::time::Duration,
}
