//! The Banco Central do Brasil's standard API Pix (release 2.9.0) for paygate: one provider for
//! every PSP that exposes it. An API client over mTLS with OAuth2 client credentials that
//! implements [`BankingProvider`](providers::BankingProvider) (charges and refunds of Pix received),
//! the inbound webhook source that authenticates and normalizes the PSP's callbacks, webhook
//! self-registration, and the confirmation by fetch of money-moving events.
//!
//! The contract is `shared/providers/bacen-pix/openapi.yaml`. Its paths carry the idempotency
//! (`PUT /cob/{txid}` with a `txid` derived from the gateway's key), its amounts are strings with
//! two decimals, its errors RFC 7807 problems with type URIs under
//! `https://pix.bcb.gov.br/api/v2/error/`.
//!
//! # Layout
//!
//! - [`config`]: [`Config`], the `[providers.bacen-pix]` section (documented in `config.toml`).
//! - [`client`]: [`Client`]: mTLS, the token cache, the retry policy, error mapping, derived ids.
//! - [`banking`]: the `BankingProvider` implementation on [`Client`] and the conversions from the
//!   API's JSON; operations the standard lacks are refused with
//!   [`banking::UNSUPPORTED_OPERATION`].
//! - `wire`: private serde DTOs of the API's JSON.
//! - [`webhook`]: [`BacenPixWebhooks`] (the `WebhookSource`: the URL token) and [`Registrar`] (the
//!   `WebhookRegistration`: `PUT /webhook/{chave}`).
//! - `events`: the callback `{"pix": [...]}` into the gateway's events.
//! - [`confirm`]: [`BacenPixConfirmer`], `GET /pix/{e2eid}` against each money-moving event.

pub mod banking;
pub mod client;
pub mod config;
pub mod confirm;
mod events;
pub mod webhook;
mod wire;

use std::sync::Arc;

use providers::{
    Capability, CredentialStore, Provider, ProviderDescription, ProviderName, ProviderRegistrar,
    RegistrationError, WebhookAuthentication,
};

pub use client::Client;
pub use config::Config;
pub use confirm::BacenPixConfirmer;
pub use webhook::{BacenPixWebhooks, Registrar};

/// The provider's name: `/webhooks/bacen-pix`, `[providers.bacen-pix]`, `bacen-pix.unrecognized`.
pub const PROVIDER_NAME: &str = "bacen-pix";

/// [`PROVIDER_NAME`] as a [`ProviderName`].
pub const PROVIDER: ProviderName = ProviderName::from_static(PROVIDER_NAME);

/// The API Pix, as the gateway's list of providers names it.
#[derive(Debug, Clone, Copy)]
pub struct BacenPix;

impl Provider for BacenPix {
    type Config = Config;

    fn describe() -> ProviderDescription {
        ProviderDescription {
            name: PROVIDER,
            summary: "API Pix (Banco Central standard, any PSP): Pix charges, refunds and Pix received",
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

/// Registers the API Pix with the gateway: the banking capability, the webhook source served at
/// `/webhooks/bacen-pix/{token}`, webhook self-registration, and, with `confirm_by_fetch`, the
/// confirmer of its money-moving events.
pub fn register(
    config: Config,
    credentials: Arc<dyn CredentialStore>,
    registrar: &mut dyn ProviderRegistrar,
) -> Result<(), RegistrationError> {
    config.validate()?;
    let payee = config.receiver_document()?;
    let client = Client::new(&config)?;
    registrar.banking(PROVIDER, Arc::new(client.clone()));
    registrar.webhook_source(Arc::new(BacenPixWebhooks::new(
        config.webhook_tokens.clone(),
        credentials,
        payee,
    )));
    registrar.webhook_registration(PROVIDER, Arc::new(Registrar::new(client.clone())));
    if config.confirm_by_fetch {
        registrar.confirmer(PROVIDER, Arc::new(BacenPixConfirmer::new(client)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use providers::{Provider, ProviderName};

    use crate::{BacenPix, PROVIDER, PROVIDER_NAME};

    #[test]
    fn the_provider_name_is_valid() {
        assert_eq!(ProviderName::parse(PROVIDER_NAME).unwrap(), PROVIDER);
    }

    #[test]
    fn the_description_offers_banking_with_credential_webhooks() {
        let description = BacenPix::describe();
        assert_eq!(description.name, PROVIDER);
        assert_eq!(description.capabilities, &[providers::Capability::Banking]);
        assert_eq!(
            description.webhook_authentication,
            providers::WebhookAuthentication::Credential
        );
        assert!(description.webhook_self_registration);
        assert!(description.default_config.contains("[providers.bacen-pix]"));
    }
}
