//! The Dinie client against the Dinie simulator, over real HTTP on 127.0.0.1 (a port chosen by the
//! OS for each test). One binary, with a module per concern.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed set-up must abort the test"
)]

mod conformance;
mod errors;
mod lists;
mod retries;
mod simulator;
mod tokens;
mod webhooks;

use std::time::Duration;

use dinie::{Config, DinieClient};
use dinie_sim::{SimConfig, SimHandle};
use providers::{Document, IdempotencyKey, NewCustomer};

/// A simulator and a client of it with fast retries.
pub struct Setup {
    pub sim: SimHandle,
    pub client: DinieClient,
    pub config: Config,
}

/// The client configuration for `sim`: short backoffs so retries are quick.
pub fn config_for(sim: &SimHandle) -> Config {
    let mut config = Config::new(&sim.base_url(), sim.client_id(), sim.client_secret());
    config.retries.base_delay_ms = 10;
    config.retries.max_delay_ms = 40;
    config.timeout_ms = 5_000;
    config.total_timeout_ms = 15_000;
    config
}

/// Starts a simulator with `sim_config` and a client with `adjust`ed configuration.
pub async fn setup_with(sim_config: SimConfig, adjust: impl FnOnce(&mut Config)) -> Setup {
    let sim = dinie_sim::start(sim_config)
        .await
        .expect("simulator starts");
    let mut config = config_for(&sim);
    adjust(&mut config);
    let client = DinieClient::new(&config).expect("client");
    Setup {
        sim,
        client,
        config,
    }
}

/// A simulator with fast webhook retries and a client with fast retries.
pub async fn setup() -> Setup {
    setup_with(SimConfig::fast(), |_| {}).await
}

/// A valid CPF derived from `seed` (check digits computed).
pub fn cpf(seed: u32) -> Document {
    let base = 100_000_000 + (u64::from(seed) * 7_919) % 800_000_000;
    let mut digits: Vec<u32> = base
        .to_string()
        .bytes()
        .map(|byte| u32::from(byte - b'0'))
        .collect();
    for length in [9_u32, 10] {
        let sum: u32 = digits
            .iter()
            .zip((2..=length + 1).rev())
            .map(|(digit, weight)| digit * weight)
            .sum();
        digits.push((sum * 10 % 11) % 10);
    }
    let text: String = digits
        .iter()
        .filter_map(|d| char::from_digit(*d, 10))
        .collect();
    Document::parse_cpf(&text).expect("generated CPF is valid")
}

/// A new customer with a generated CPF.
pub fn new_customer(seed: u32, external_id: &str) -> NewCustomer {
    NewCustomer {
        document: cpf(seed),
        name: "Maria da Silva".to_owned(),
        email: Some("maria@example.com".to_owned()),
        phone: Some("+5511987654321".to_owned()),
        external_id: Some(external_id.to_owned()),
    }
}

/// A fresh idempotency key.
pub fn key() -> IdempotencyKey {
    IdempotencyKey::new_random()
}

/// Requests recorded by the simulator with this method and path.
pub async fn recorded(
    sim: &SimHandle,
    method: &str,
    path: &str,
) -> Vec<dinie_sim::RecordedRequest> {
    sim.requests()
        .await
        .into_iter()
        .filter(|request| request.method == method && request.path == path)
        .collect()
}

/// Waits at least `duration`: a precondition (a token's age), never a wait for an outcome.
pub async fn let_time_pass(duration: Duration) {
    tokio::time::sleep(duration).await;
}
