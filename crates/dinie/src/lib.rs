//! Dinie, the credit provider: an API client for every operation of Dinie's `2026-03-01` API
//! (OAuth2 client credentials with one shared, single-flight token; idempotent retries; problem+json
//! errors mapped to [`ProviderError`](providers::ProviderError)), the provider-neutral
//! [`CreditProvider`](providers::CreditProvider) over it, Standard Webhooks verification and
//! normalization of Dinie's events, and self-registration of the gateway's webhook endpoint.
//!
//! Two published variants of the API disagree on wire details (docs portal [D] versus SDKs [S],
//! see `shared/providers/dinie-api.md`): requests follow [D]; responses and webhooks of either are
//! accepted (money as string or number, ISO or epoch timestamps, the SDK's field names and envelope).
//!
//! The gateway calls [`register`] once at startup; nothing else in it names this crate.
//!
//! # Layout
//! - [`config`]: [`Config`], the `[providers.dinie]` section.
//! - `oauth`: the shared token, renewed at 80% of its life, single flight.
//! - `http`: the transport: timeout, retry policy, rate-limit headers, error mapping.
//! - [`client`]: [`DinieClient`], one method per operation; lists as streams.
//! - `credit`: [`CreditProvider`](providers::CreditProvider) for [`DinieClient`].
//! - [`model`]: public Dinie-specific types (endpoints, credentials, filters).
//! - `wire`: private serde DTOs, tolerant of both variants; `convert`: wire → domain types.
//! - `events`: normalization of every catalogued event into the gateway's taxonomy.
//! - [`webhook`]: [`DinieWebhooks`] (verify + normalize) and [`DinieWebhookRegistration`].

pub mod client;
pub mod config;
mod convert;
mod credit;
mod events;
mod http;
pub mod model;
mod oauth;
pub mod webhook;
mod wire;

use std::sync::Arc;

use providers::{
    Capability, CredentialStore, Provider, ProviderDescription, ProviderName, ProviderRegistrar,
    RegistrationError, WebhookAuthentication,
};

pub use crate::client::DinieClient;
pub use crate::config::{Config, RetryConfig};
pub use crate::webhook::{DinieWebhookRegistration, DinieWebhooks};

/// The provider's name: `/webhooks/dinie`, `routing.credit = "dinie"`, `dinie.unrecognized`.
pub const NAME: ProviderName = ProviderName::from_static("dinie");

/// Dinie, as the gateway's list of providers names it.
#[derive(Debug, Clone, Copy)]
pub struct Dinie;

impl Provider for Dinie {
    type Config = Config;

    fn describe() -> ProviderDescription {
        ProviderDescription {
            name: NAME,
            summary: "Dinie: embedded credit (customers and KYC, credit offers, simulations, loans)",
            capabilities: &[Capability::Credit],
            webhook_authentication: WebhookAuthentication::Signature,
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

/// Registers Dinie's credit capability, webhook source and webhook registration, unless the
/// configuration says `enabled = false`. Fails when the configuration cannot work.
pub fn register(
    config: Config,
    credentials: Arc<dyn CredentialStore>,
    registrar: &mut dyn ProviderRegistrar,
) -> Result<(), RegistrationError> {
    if !config.enabled {
        tracing::info!("providers.dinie.enabled is false: Dinie is not registered");
        return Ok(());
    }
    let invalid = |message: String| RegistrationError {
        provider: NAME.to_string(),
        message: format!("providers.dinie: {message}"),
    };
    let client = DinieClient::new(&config).map_err(invalid)?;
    let webhooks = DinieWebhooks::new(
        config.webhook_secrets.clone(),
        credentials,
        config.webhook_tolerance(),
    )
    .map_err(invalid)?;
    registrar.credit(NAME, Arc::new(client.clone()));
    registrar.webhook_source(Arc::new(webhooks));
    registrar.webhook_registration(NAME, Arc::new(DinieWebhookRegistration::new(client)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use providers::{
        BankingProvider, ConfiguredCredentialsOnly, CreditProvider, ProviderName,
        ProviderRegistrar, WebhookRegistration, WebhookSource,
    };

    use crate::{Config, NAME, register};

    #[test]
    fn the_provider_name_is_valid() {
        assert_eq!(ProviderName::parse(NAME.as_str()), Ok(NAME));
    }

    #[derive(Default)]
    struct Registry {
        names: Vec<String>,
    }

    impl ProviderRegistrar for Registry {
        fn credit(&mut self, name: ProviderName, _: Arc<dyn CreditProvider>) {
            self.names.push(format!("credit:{name}"));
        }
        fn banking(&mut self, name: ProviderName, _: Arc<dyn BankingProvider>) {
            self.names.push(format!("banking:{name}"));
        }
        fn webhook_source(&mut self, source: Arc<dyn WebhookSource>) {
            self.names.push(format!("source:{}", source.provider()));
        }
        fn webhook_registration(&mut self, name: ProviderName, _: Arc<dyn WebhookRegistration>) {
            self.names.push(format!("registration:{name}"));
        }
        fn confirmer(&mut self, name: ProviderName, _: Arc<dyn providers::EventConfirmer>) {
            self.names.push(format!("confirmer:{name}"));
        }
    }

    #[test]
    fn register_adds_credit_webhooks_and_registration_unless_disabled() {
        let config = Config::new("http://127.0.0.1:9/v3", "dinie_ci_x", "dinie_cs_test_y");
        let mut registry = Registry::default();
        register(
            config.clone(),
            Arc::new(ConfiguredCredentialsOnly),
            &mut registry,
        )
        .unwrap();
        assert_eq!(
            registry.names,
            ["credit:dinie", "source:dinie", "registration:dinie"]
        );
        let mut disabled = Registry::default();
        let config = Config {
            enabled: false,
            ..config
        };
        register(config, Arc::new(ConfiguredCredentialsOnly), &mut disabled).unwrap();
        assert!(disabled.names.is_empty());
    }

    #[test]
    fn an_unusable_configuration_names_its_key() {
        let mut registry = Registry::default();
        let error = register(
            Config::new("not a url", "dinie_ci_x", "dinie_cs_test_y"),
            Arc::new(ConfiguredCredentialsOnly),
            &mut registry,
        )
        .unwrap_err();
        assert!(error.message.contains("providers.dinie"), "{error}");
        assert!(registry.names.is_empty());
    }
}
