//! `paygate-demo`: the whole product against both provider simulators, on embedded defaults.

use clap::Parser;

/// Runs a scripted credit and Pix story through the REST API against both provider simulators,
/// with live progress and a summary; then keeps serving until Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "paygate-demo", version)]
struct Args {
    /// A TOML file layered over the defaults (before PAYGATE_* environment variables).
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// End after the story (CI runs it this way).
    #[arg(long)]
    exit: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let outcome = async {
        let settings = gateway::config::Settings::load(args.config.as_deref())?;
        let options = paygate_demo::DemoOptions {
            exit: args.exit,
            database: "paygate_demo".into(),
        };
        paygate_demo::run(settings, options).await
    };
    match outcome.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("paygate-demo: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
