//! `delbank-sim`: the Delbank simulator as a standalone server. Prints its base URL and the API key
//! of its account, then serves until Ctrl-C. `DELBANK_SIM_ADDR` picks the address (default
//! `127.0.0.1:0`, a free port).

use std::net::SocketAddr;

use delbank_sim::{SimConfig, start_on};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let address: SocketAddr = std::env::var("DELBANK_SIM_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:0".to_owned())
        .parse()?;
    let config = SimConfig::standard();
    let accounts: Vec<(String, String)> = config
        .accounts
        .iter()
        .map(|account| (account.number.clone(), account.api_key.clone()))
        .collect();
    let sim = start_on(config, address).await?;
    println!("delbank simulator listening on {}", sim.base_url());
    for (number, api_key) in accounts {
        println!("account {number}: x-delbank-api-key {api_key}");
    }
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
