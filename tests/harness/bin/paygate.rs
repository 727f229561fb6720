//! The `paygate` binary, built inside this package so that its tests can run it as separate
//! processes (`CARGO_BIN_EXE_e2e-paygate`): replicas to kill with SIGKILL and restart.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    gateway::cli::main().await
}
