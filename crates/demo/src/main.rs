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
    /// Once the story is done and the gateway serves, write `{"base_url", "admin_key"}` here
    /// (mode 0600), for tools that drive the running demo (CI's schemathesis run).
    #[arg(long, value_name = "FILE")]
    ready_file: Option<std::path::PathBuf>,
    /// The provider of the banking API: `delbank`, or `bacen-pix` (the Banco Central's API Pix,
    /// a PSP simulator over mTLS).
    #[arg(long, value_name = "PROVIDER", default_value = "delbank")]
    banking: paygate_demo::DemoBank,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let outcome = async {
        let settings = gateway::config::Settings::load(args.config.as_deref())?;
        let options = paygate_demo::DemoOptions {
            exit: args.exit,
            database: "paygate_demo".into(),
            ready_file: args.ready_file,
            bank: args.banking,
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
