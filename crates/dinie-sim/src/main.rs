//! `dinie-sim`: the Dinie simulator as a standalone server on 127.0.0.1, on a port chosen by the OS
//! unless `DINIE_SIM_ADDR` names one. Prints its base URL and credentials, serves until Ctrl-C.
//!
//! `DINIE_SIM_AUTO_ADVANCE_MS` sets the state-machine timer (off by default);
//! `DINIE_SIM_ALLOW_HTTP_HOSTS` (comma-separated) names hosts that webhook endpoints may reach over
//! plain HTTP besides loopback (`gateway` in deploy/compose.yaml).

use std::time::Duration;

use dinie_sim::SimConfig;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let address = std::env::var("DINIE_SIM_ADDR").unwrap_or_else(|_| "127.0.0.1:0".to_owned());
    let mut config = SimConfig::standard();
    if let Some(millis) = std::env::var("DINIE_SIM_AUTO_ADVANCE_MS")
        .ok()
        .and_then(|value| value.parse::<u64>().ok())
    {
        config.auto_advance = Some(Duration::from_millis(millis));
    }
    if let Ok(hosts) = std::env::var("DINIE_SIM_ALLOW_HTTP_HOSTS") {
        config.allow_http_hosts = hosts
            .split(',')
            .map(str::trim)
            .filter(|host| !host.is_empty())
            .map(str::to_owned)
            .collect();
    }
    let sim = dinie_sim::start_on(&address, config).await?;
    println!("dinie-sim listening");
    println!("base_url:      {}", sim.base_url());
    println!("control:       {}/_sim", sim.root_url());
    println!("client_id:     {}", sim.client_id());
    println!("client_secret: {}", sim.client_secret());
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
