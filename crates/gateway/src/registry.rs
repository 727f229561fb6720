//! The providers this gateway talks to, by capability and name. Built once by the composition
//! root ([`crate::startup::register_providers`], over [`crate::catalog`]); read by the API, ingest and reconciliation.

use std::collections::HashMap;
use std::sync::Arc;

use providers::{
    BankingProvider, CreditProvider, EventConfirmer, ProviderName, ProviderRegistrar,
    WebhookRegistration, WebhookSource,
};

/// The providers this gateway talks to, by name. [`crate::catalog`] is the one place that
/// names concrete provider crates.
#[derive(Default)]
pub struct ProviderRegistry {
    credit: HashMap<String, Arc<dyn CreditProvider>>,
    banking: HashMap<String, Arc<dyn BankingProvider>>,
    webhook_sources: HashMap<String, Arc<dyn WebhookSource>>,
    webhook_registrations: HashMap<String, Arc<dyn WebhookRegistration>>,
    confirmers: HashMap<String, Arc<dyn EventConfirmer>>,
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

    fn confirmer(&mut self, name: ProviderName, confirmer: Arc<dyn EventConfirmer>) {
        self.confirmers.insert(name.to_string(), confirmer);
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

    /// The confirmation by fetch of `provider`'s events, if it registered one.
    pub fn confirmer(&self, provider: &str) -> Option<Arc<dyn EventConfirmer>> {
        self.confirmers.get(provider).cloned()
    }

    /// Whether `provider` registered anything (the configuration enables it).
    pub fn is_registered(&self, provider: &str) -> bool {
        self.credit.contains_key(provider)
            || self.banking.contains_key(provider)
            || self.webhook_sources.contains_key(provider)
    }

    /// Whether any provider registered a confirmation by fetch.
    pub fn has_confirmers(&self) -> bool {
        !self.confirmers.is_empty()
    }

    /// Every registered confirmation by fetch, by provider name.
    pub fn confirmers(&self) -> HashMap<String, Arc<dyn EventConfirmer>> {
        self.confirmers.clone()
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
