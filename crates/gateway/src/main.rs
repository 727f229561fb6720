//! The `paygate` binary; everything lives in the `gateway` library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    gateway::cli::main().await
}
