//! The `paygate` binary; everything lives in the `gateway` library.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = gateway::cli::Cli::parse();
    match gateway::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("paygate: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
