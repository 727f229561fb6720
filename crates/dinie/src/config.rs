//! [`Config`]: the `[providers.dinie]` section of the gateway's configuration, owned by this crate.
//!
//! ```toml
//! [providers.dinie]
//! base_url = "https://sandbox.api.dinie.com.br/v3"   # or .../api/v3 (the SDKs' path)
//! client_id = "dinie_ci_..."
//! client_secret = "dinie_cs_test_..."                 # secret
//! # webhook_secrets = ["whsec_..."]                   # endpoints registered by hand in the portal
//! ```

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// How to reach Dinie and verify its webhooks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Whether the gateway registers Dinie at all; `false` keeps the section without using it.
    #[serde(default = "defaults::enabled")]
    pub enabled: bool,
    /// The API's base URL including its version path: `https://api.dinie.com.br/v3` (docs) or
    /// `https://api.dinie.com.br/api/v3` (SDKs). Paths such as `/customers` are appended to it.
    pub base_url: String,
    /// The API client id (`dinie_ci_…`), sent with HTTP Basic to `/auth/token`.
    pub client_id: String,
    /// The API client secret (`dinie_cs_live_…` / `dinie_cs_test_…`). Never logged.
    pub client_secret: SecretString,
    /// Timeout of one HTTP attempt, in milliseconds.
    #[serde(default = "defaults::timeout_ms")]
    pub timeout_ms: u64,
    /// Bound on a whole call including its retries and waits, in milliseconds; past it the call
    /// fails with a timeout. Keep it below the gateway's request timeout.
    #[serde(default = "defaults::total_timeout_ms")]
    pub total_timeout_ms: u64,
    /// Retries of idempotent calls.
    #[serde(default)]
    pub retries: RetryConfig,
    /// Secrets (`whsec_…`) of webhook endpoints registered by hand in Dinie's portal: the current
    /// one, and the previous one during a rotation. Secrets of endpoints registered through the
    /// gateway are read from its credential store instead. Never logged.
    #[serde(default)]
    pub webhook_secrets: Vec<SecretString>,
    /// How far a webhook's signed timestamp may be from the gateway's clock, either side, in
    /// seconds (Standard Webhooks: 300).
    #[serde(default = "defaults::webhook_tolerance_secs")]
    pub webhook_tolerance_secs: u64,
}

/// Retries of idempotent calls (reads, deletes, and creates sent with an `Idempotency-Key`) on
/// timeouts, connection failures, 5xx and 429. Other calls are never retried.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts per call, the first included (1 disables retries).
    #[serde(default = "defaults::max_attempts")]
    pub max_attempts: u32,
    /// Backoff before the first retry, in milliseconds; doubled each retry, with jitter.
    #[serde(default = "defaults::base_delay_ms")]
    pub base_delay_ms: u64,
    /// Largest backoff, in milliseconds.
    #[serde(default = "defaults::max_delay_ms")]
    pub max_delay_ms: u64,
    /// Longest `Retry-After` (or `X-RateLimit-Reset`) wait honoured, in seconds; a 429 asking for
    /// longer fails at once with the provider's delay.
    #[serde(default = "defaults::max_retry_after_secs")]
    pub max_retry_after_secs: u64,
}

impl Default for RetryConfig {
    fn default() -> RetryConfig {
        RetryConfig {
            max_attempts: defaults::max_attempts(),
            base_delay_ms: defaults::base_delay_ms(),
            max_delay_ms: defaults::max_delay_ms(),
            max_retry_after_secs: defaults::max_retry_after_secs(),
        }
    }
}

impl Config {
    /// A configuration for `base_url` with the given client credentials and every other key at
    /// its default (what a TOML section with only those three keys gives).
    pub fn new(base_url: &str, client_id: &str, client_secret: &str) -> Config {
        Config {
            enabled: defaults::enabled(),
            base_url: base_url.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: SecretString::from(client_secret.to_owned()),
            timeout_ms: defaults::timeout_ms(),
            total_timeout_ms: defaults::total_timeout_ms(),
            retries: RetryConfig::default(),
            webhook_secrets: Vec::new(),
            webhook_tolerance_secs: defaults::webhook_tolerance_secs(),
        }
    }

    /// Timeout of one attempt.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Bound on a whole call.
    pub fn total_timeout(&self) -> Duration {
        Duration::from_millis(self.total_timeout_ms)
    }

    /// The webhook timestamp tolerance.
    pub fn webhook_tolerance(&self) -> Duration {
        Duration::from_secs(self.webhook_tolerance_secs)
    }
}

mod defaults {
    pub(super) fn enabled() -> bool {
        true
    }

    pub(super) fn timeout_ms() -> u64 {
        10_000
    }

    pub(super) fn total_timeout_ms() -> u64 {
        25_000
    }

    pub(super) fn max_attempts() -> u32 {
        3
    }

    pub(super) fn base_delay_ms() -> u64 {
        250
    }

    pub(super) fn max_delay_ms() -> u64 {
        5_000
    }

    pub(super) fn max_retry_after_secs() -> u64 {
        60
    }

    pub(super) fn webhook_tolerance_secs() -> u64 {
        300
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use crate::config::Config;

    #[test]
    fn a_minimal_section_takes_the_documented_defaults() {
        let config: Config = serde_json::from_str(
            r#"{"base_url": "https://sandbox.api.dinie.com.br/v3", "client_id": "dinie_ci_x", "client_secret": "dinie_cs_test_y"}"#,
        )
        .unwrap();
        assert!(config.enabled);
        assert_eq!(config.timeout_ms, 10_000);
        assert_eq!(config.retries.max_attempts, 3);
        assert_eq!(config.webhook_tolerance_secs, 300);
        assert_eq!(config.client_secret.expose_secret(), "dinie_cs_test_y");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let mut config = Config::new("https://x/v3", "dinie_ci_x", "dinie_cs_test_topsecret");
        config.webhook_secrets = vec!["whsec_c2VjcmV0".to_owned().into()];
        let debug = format!("{config:?}");
        assert!(!debug.contains("topsecret"), "{debug}");
        assert!(!debug.contains("c2VjcmV0"), "{debug}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let result: Result<Config, _> = serde_json::from_str(
            r#"{"base_url": "x", "client_id": "y", "client_secret": "z", "timout_ms": 5}"#,
        );
        assert!(result.is_err());
    }
}
