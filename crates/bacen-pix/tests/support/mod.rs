//! What the provider's normalizer tests share: its webhook source, configured as in production.

use std::sync::Arc;

use bacen_pix::BacenPixWebhooks;
use providers::{ConfiguredCredentialsOnly, Document};

/// The account holder of the simulator's standard configuration, the payee of every Pix received.
pub(crate) const PAYEE: &str = "11222333000181";

/// The API Pix's webhook source, with no token of its own (normalization does not read them).
pub(crate) fn source() -> BacenPixWebhooks {
    let payee = Document::parse(PAYEE).expect("a valid CNPJ");
    BacenPixWebhooks::new(Vec::new(), Arc::new(ConfiguredCredentialsOnly), payee)
}

/// The body of `fixtures/<name>.json`.
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}
