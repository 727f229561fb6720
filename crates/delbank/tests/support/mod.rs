//! What the provider's integration tests share: its webhook source, configured as in production.

use std::sync::Arc;

use delbank::{AuthScheme, Config, DelbankWebhooks};
use providers::ConfiguredCredentialsOnly;
use secrecy::SecretString;

/// Delbank's webhook source with no registration of the gateway's own (paths name the event type).
pub(crate) fn source() -> DelbankWebhooks {
    let config = Config {
        enabled: true,
        base_url: "http://127.0.0.1:1".to_owned(),
        api_key: SecretString::from("key"),
        account_id: "29823".to_owned(),
        timeout_secs: 1,
        retries: 0,
        retry_base_delay_ms: 1,
        webhook_scheme: AuthScheme::Bearer,
        webhooks: Vec::new(),
        confirm_by_fetch: true,
    };
    DelbankWebhooks::new(&config, Arc::new(ConfiguredCredentialsOnly))
}
