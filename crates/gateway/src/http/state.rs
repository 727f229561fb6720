//! The state every request handler may use, built by the composition root.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use providers::{BankingProvider, CreditProvider};
use sqlx::PgPool;

use crate::config::Settings;
use crate::credentials::PgCredentialStore;
use crate::crypto::Keyring;
use crate::delivery::dispatcher::Dispatcher;
use crate::http::error::ApiError;
use crate::ingest::Ingestor;
use crate::outbox::handoff::Handoff;
use crate::registry::ProviderRegistry;

/// Everything a request handler may use.
#[derive(Clone)]
pub struct AppState {
    /// The Postgres pool.
    pub pool: PgPool,
    /// The effective configuration.
    pub settings: Arc<Settings>,
    /// The registered providers.
    pub registry: Arc<ProviderRegistry>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Encrypts and decrypts secrets at rest (`[encryption]`).
    pub keyring: Arc<Keyring>,
    /// Stores inbound webhooks with group commit (`[ingest]`).
    pub ingestor: Ingestor,
    /// Deliveries the inbound path hands to this process's dispatcher, and its wake-up signal
    /// (delivery enabled).
    pub handoff: Option<Handoff>,
    /// Inbound webhook credentials registered through the gateway (cached; the one the registry's
    /// webhook sources read from).
    pub credentials: PgCredentialStore,
    /// The delivery path for test sends (not spawned: its workers run apart, when enabled).
    pub sender: Dispatcher,
}

impl AppState {
    /// The credit provider the routing configuration names; 503 `capability_unavailable` when none.
    pub fn credit(&self) -> Result<Arc<dyn CreditProvider>, ApiError> {
        let name = &self.settings.routing.credit;
        self.registry
            .credit_provider(name)
            .ok_or(ApiError::CapabilityUnavailable {
                capability: "credit",
            })
    }

    /// The banking provider the routing configuration names; 503 `capability_unavailable` when none.
    pub fn banking(&self) -> Result<Arc<dyn BankingProvider>, ApiError> {
        let name = &self.settings.routing.banking;
        self.registry
            .banking_provider(name)
            .ok_or(ApiError::CapabilityUnavailable {
                capability: "banking",
            })
    }
}
