use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = gsl_sync::cli::Cli::parse();
    gsl_sync::app::main(cli).await
}
