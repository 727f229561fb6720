//! Delbank (Delfinance) banking-as-a-service for paygate: an API client that implements
//! [`BankingProvider`](providers::BankingProvider), the inbound webhook source that authenticates
//! and normalizes Delbank's webhooks, and self-registration of the gateway's webhook endpoints.
//!
//! The contract this crate follows is `shared/providers/delbank-api.md`; its wire quirks (typos that
//! are real field names, mixed enum casing, timestamps with and without offsets, numbers vs strings)
//! are absorbed in [`wire`] and never leak past [`convert`].
//!
//! # Layout
//!
//! - [`config`]: [`Config`], the `[providers.delbank]` section (secrets as `SecretString`).
//! - [`client`]: [`Client`], one `reqwest::Client` with a timeout, the retry policy, the
//!   `IdempotencyKey` header, problem-details mapping and `pagination`-header streams, plus the
//!   Delbank-specific operations (QR codes v2, webhook registrations, ...).
//! - `banking`: the [`BankingProvider`](providers::BankingProvider) implementation on [`Client`].
//! - `wire`: private serde DTOs, tolerant of Delbank's quirks; enums with `Unknown(String)`.
//! - `convert`: wire → provider-neutral types.
//! - [`webhook`]: [`DelbankWebhooks`] (the `WebhookSource`: authentication) and [`Registrar`] (the
//!   `WebhookRegistration`).
//! - `events`: normalization of the webhooks into the gateway's events, one converter per family
//!   (`pix`, `charge`, `account`), building [`providers::EventData`].

pub mod banking;
pub mod client;
pub mod config;
pub mod confirm;
mod convert;
mod events;
pub mod webhook;
mod wire;

use std::sync::Arc;

use providers::{
    Capability, CredentialStore, Provider, ProviderDescription, ProviderName, ProviderRegistrar,
    RegistrationError, WebhookAuthentication,
};

pub use client::Client;
pub use config::{AuthScheme, Config, ManualRegistration};
pub use confirm::DelbankConfirmer;
pub use webhook::{DelbankWebhooks, Registrar};

/// The provider's name: `/webhooks/delbank`, `[providers.delbank]`, `delbank.unrecognized`.
pub const PROVIDER_NAME: &str = "delbank";

/// [`PROVIDER_NAME`] as a [`ProviderName`].
pub const PROVIDER: ProviderName = ProviderName::from_static(PROVIDER_NAME);

/// Delbank, as the gateway's list of providers names it.
#[derive(Debug, Clone, Copy)]
pub struct Delbank;

impl Provider for Delbank {
    type Config = Config;

    fn describe() -> ProviderDescription {
        ProviderDescription {
            name: PROVIDER,
            summary: "Delbank: BaaS (charges, Pix in and out, Pix keys, white-label accounts)",
            capabilities: &[Capability::Banking],
            webhook_authentication: WebhookAuthentication::Credential,
            webhook_self_registration: true,
            default_config: include_str!("../config.toml"),
        }
    }

    fn enabled(config: &Config) -> bool {
        config.enabled
    }

    fn register(
        config: Config,
        credentials: Arc<dyn CredentialStore>,
        registrar: &mut dyn ProviderRegistrar,
    ) -> Result<(), RegistrationError> {
        register(config, credentials, registrar)
    }
}

/// Registers Delbank with the gateway: the banking capability, the webhook source served at
/// `/webhooks/delbank/{registration}` and webhook self-registration.
///
/// `credentials` is where the gateway keeps the credentials of registrations it made (and their
/// rotations); registrations made by hand come from `config.webhooks`.
pub fn register(
    config: Config,
    credentials: Arc<dyn CredentialStore>,
    registrar: &mut dyn ProviderRegistrar,
) -> Result<(), RegistrationError> {
    config.validate()?;
    let client = Client::new(&config).map_err(|error| RegistrationError {
        provider: PROVIDER_NAME.to_owned(),
        message: error.to_string(),
    })?;
    registrar.banking(PROVIDER, Arc::new(client.clone()));
    registrar.webhook_source(Arc::new(DelbankWebhooks::new(&config, credentials)));
    if config.confirm_by_fetch {
        registrar.confirmer(PROVIDER, Arc::new(DelbankConfirmer::new(client.clone())));
    }
    registrar.webhook_registration(
        PROVIDER,
        Arc::new(Registrar::new(client, config.webhook_scheme)),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use providers::ProviderName;

    use crate::{PROVIDER, PROVIDER_NAME};

    #[test]
    fn the_provider_name_is_valid() {
        assert_eq!(ProviderName::parse(PROVIDER_NAME).unwrap(), PROVIDER);
    }
}
