//! The providers this gateway talks to, by capability and name. Built once by the composition
//! root ([`crate::startup::register_providers`]); read by the API, ingest and reconciliation.

use std::collections::HashMap;
use std::sync::Arc;

use providers::{
    BankingProvider, CreditProvider, ProviderName, ProviderRegistrar, WebhookRegistration,
    WebhookSource,
};

/// The providers this gateway talks to, by name. `startup::register_providers` is the one place that
/// names concrete provider crates.
#[derive(Default)]
pub struct ProviderRegistry {
    credit: HashMap<String, Arc<dyn CreditProvider>>,
    banking: HashMap<String, Arc<dyn BankingProvider>>,
    webhook_sources: HashMap<String, Arc<dyn WebhookSource>>,
    webhook_registrations: HashMap<String, Arc<dyn WebhookRegistration>>,
}

impl ProviderRegistrar for ProviderRegistry {
    fn credit(&mut self, name: ProviderName, provider: Arc<dyn CreditProvider>) {
        self.credit.insert(name.to_string(), provider);
    }

    fn banking(&mut self, name: ProviderName, provider: Arc<dyn BankingProvider>) {
        self.banking.insert(name.to_string(), provider);
    }

    fn webhook_source(&mut self, source: Arc<dyn WebhookSource>) {
        self.webhook_sources
            .insert(source.provider().to_string(), source);
    }

    fn webhook_registration(
        &mut self,
        name: ProviderName,
        registration: Arc<dyn WebhookRegistration>,
    ) {
        self.webhook_registrations
            .insert(name.to_string(), registration);
    }
}

impl ProviderRegistry {
    /// Registers the inbound webhook source of a provider (`/webhooks/{provider}`).
    pub fn register_webhook_source(&mut self, source: Arc<dyn WebhookSource>) {
        ProviderRegistrar::webhook_source(self, source);
    }

    /// The webhook source for `provider`, if registered.
    pub fn webhook_source(&self, provider: &str) -> Option<Arc<dyn WebhookSource>> {
        self.webhook_sources.get(provider).cloned()
    }

    /// Self-registration at `provider`, if it offers it.
    pub fn webhook_registration(&self, provider: &str) -> Option<Arc<dyn WebhookRegistration>> {
        self.webhook_registrations.get(provider).cloned()
    }

    /// The credit provider named `name`.
    pub fn credit_provider(&self, name: &str) -> Option<Arc<dyn CreditProvider>> {
        self.credit.get(name).cloned()
    }

    /// The banking provider named `name`.
    pub fn banking_provider(&self, name: &str) -> Option<Arc<dyn BankingProvider>> {
        self.banking.get(name).cloned()
    }
}
