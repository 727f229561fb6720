//! How a provider crate plugs into the gateway: the gateway hands it a [`ProviderRegistrar`] and
//! the provider registers each capability it implements. Adding a provider is then a new crate
//! plus one line in the gateway's startup calling its `register` function.

use std::sync::Arc;

use crate::banking::BankingProvider;
use crate::credit::CreditProvider;
use crate::event::ProviderName;
use crate::webhook::{WebhookRegistration, WebhookSource};

/// Receives a provider's capabilities. Implemented by the gateway's registry.
pub trait ProviderRegistrar {
    /// Registers a credit capability under `name` (routing config chooses among them).
    fn credit(&mut self, name: ProviderName, provider: Arc<dyn CreditProvider>);
    /// Registers a banking capability under `name`.
    fn banking(&mut self, name: ProviderName, provider: Arc<dyn BankingProvider>);
    /// Registers the inbound webhook source served at `/webhooks/{source.provider()}`.
    fn webhook_source(&mut self, source: Arc<dyn WebhookSource>);
    /// Registers self-registration of the gateway's webhook endpoint(s) at the provider.
    fn webhook_registration(
        &mut self,
        name: ProviderName,
        registration: Arc<dyn WebhookRegistration>,
    );
}

/// A provider could not be registered (its configuration is invalid).
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration for provider {provider}: {message}")]
pub struct RegistrationError {
    /// The provider.
    pub provider: String,
    /// What is wrong, naming the key (`providers.dinie.base_url`).
    pub message: String,
}
