//! `bacen-pix-sim`: the API Pix simulator as a standalone server. Generates its certificates into
//! `BACEN_PIX_SIM_PKI_DIR` (default: a `bacen-pix-sim-pki` directory under the system's temporary
//! directory), prints the URLs, the certificate paths and the OAuth2 client, then serves until
//! Ctrl-C. `BACEN_PIX_SIM_ADDR` and `BACEN_PIX_SIM_CONTROL_ADDR` pick the addresses (default
//! `127.0.0.1:0`, free ports).

use std::net::SocketAddr;
use std::path::PathBuf;

use bacen_pix_sim::{Sim, SimConfig, tls};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let address = |name: &str| -> Result<SocketAddr, Box<dyn std::error::Error>> {
        Ok(std::env::var(name)
            .unwrap_or_else(|_| "127.0.0.1:0".to_owned())
            .parse()?)
    };
    let dir = std::env::var("BACEN_PIX_SIM_PKI_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join("bacen-pix-sim-pki"));
    let pki = tls::generate(&dir)?;
    let mut config = SimConfig::standard(pki);
    config.api_address = address("BACEN_PIX_SIM_ADDR")?;
    config.control_address = address("BACEN_PIX_SIM_CONTROL_ADDR")?;
    let sim = Sim::start(config).await?;
    println!(
        "bacen-pix simulator: api {} (mTLS), control {}",
        sim.base_url(),
        sim.control_url()
    );
    println!("[providers.bacen-pix]");
    for (key, value) in sim.gateway_settings() {
        println!("{key} = {value}");
    }
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
