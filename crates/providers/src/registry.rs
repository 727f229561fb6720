//! How a provider crate plugs into the gateway: it implements [`Provider`], whose
//! [`describe`](Provider::describe) tells the gateway its name, capabilities, webhook
//! authentication and documented default configuration, and whose [`register`](Provider::register)
//! is handed a [`ProviderRegistrar`] to register each capability with. Adding a provider is then
//! a new crate plus one entry in the gateway's list of providers: its configuration section, CLI
//! commands, OpenAPI description and metrics come from the description.

use std::sync::Arc;

use serde::Serialize;

use crate::banking::BankingProvider;
use crate::confirm::{EventConfirmer, WebhookAuthentication};
use crate::credit::CreditProvider;
use crate::event::ProviderName;
use crate::webhook::{CredentialStore, WebhookRegistration, WebhookSource};

/// A provider crate, as the gateway sees it before its configuration is read.
pub trait Provider {
    /// The crate's configuration, read from `[providers.<name>]`.
    type Config: serde::de::DeserializeOwned;

    /// What the provider is and offers.
    fn describe() -> ProviderDescription;

    /// Whether the configuration asks for the provider (`enabled = true`).
    fn enabled(config: &Self::Config) -> bool;

    /// Validates the configuration and registers the provider's capabilities. `credentials` is
    /// where the gateway keeps the webhook credentials of registrations it made at runtime.
    fn register(
        config: Self::Config,
        credentials: Arc<dyn CredentialStore>,
        registrar: &mut dyn ProviderRegistrar,
    ) -> Result<(), RegistrationError>;
}

/// A capability a provider may offer (routing chooses among the providers offering one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Customers, KYC, offers, simulations, loans (`/v1/customers`, `/v1/loans`...).
    Credit,
    /// Charges, Pix, Pix keys, accounts (`/v1/charges`, `/v1/pix`...).
    Banking,
}

impl Capability {
    /// The stable name (`credit`, `banking`): the `routing` key and the metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Credit => "credit",
            Capability::Banking => "banking",
        }
    }
}

/// What a provider crate is, for the gateway's configuration, CLI, OpenAPI and metrics.
#[derive(Debug, Clone)]
pub struct ProviderDescription {
    /// The name: `/webhooks/{name}`, `[providers.{name}]`, `paygate providers {name} ...`.
    pub name: ProviderName,
    /// One line for people: what it is.
    pub summary: &'static str,
    /// The capabilities it can serve.
    pub capabilities: &'static [Capability],
    /// How its inbound webhooks are authenticated.
    pub webhook_authentication: WebhookAuthentication,
    /// Whether the gateway can register its webhook endpoint at the provider
    /// (`paygate providers {name} register-webhook`).
    pub webhook_self_registration: bool,
    /// The crate's documented default section, TOML starting with `[providers.{name}]`: the
    /// gateway layers it under `config/default.toml`, so the provider needs no edit there.
    pub default_config: &'static str,
}

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
    /// Registers the confirmation by fetch of `name`'s money-moving events (for a provider whose
    /// webhook authentication is weak): the gateway stores such events as pending and publishes
    /// them only once confirmed.
    fn confirmer(&mut self, name: ProviderName, confirmer: Arc<dyn EventConfirmer>);
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
