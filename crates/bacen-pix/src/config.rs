//! `[providers.bacen-pix]`: how to reach the PSP (URLs, OAuth2 client, mTLS identity), which key
//! and account holder the gateway receives for, and which hand-registered webhooks to accept.
//!
//! Secrets are [`SecretString`]s and `Debug` never prints them; the key file is read only when the
//! client is built. Every key has a default in `config.toml` (so a disabled section parses);
//! [`Config::validate`] refuses what an enabled one cannot work with, naming the key.

use std::path::PathBuf;
use std::time::Duration;

use providers::{Document, RegistrationError};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::PROVIDER_NAME;

/// The API Pix section of the gateway configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Register the provider at all.
    #[serde(default)]
    pub enabled: bool,
    /// The API Pix root of the PSP, e.g. `https://pix.example.com/api/v2`.
    pub base_url: String,
    /// The OAuth2 token endpoint; empty for `{base_url}/oauth/token`.
    #[serde(default)]
    pub token_url: String,
    /// The OAuth2 client id.
    pub client_id: String,
    /// The OAuth2 client secret.
    pub client_secret: SecretString,
    /// PEM file of the mTLS client certificate (and its chain).
    pub client_cert_pem: String,
    /// PEM file of the mTLS client key.
    pub client_key_pem: String,
    /// PEM file of an extra root CA to trust; empty for none.
    #[serde(default)]
    pub ca_cert_pem: String,
    /// The Pix key (`chave`) charges are created for and the webhook is registered on.
    pub receiver: String,
    /// The CPF or CNPJ of the account holder, the payee of every Pix received.
    pub receiver_document: String,
    /// Milliseconds one HTTP call may take.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Seconds an immediate charge lives (`calendario.expiracao`).
    #[serde(default = "default_charge_expiration_secs")]
    pub charge_expiration_secs: u32,
    /// Retries of idempotent calls.
    #[serde(default)]
    pub retries: Retries,
    /// Tokens of webhooks registered by hand (`{public_base_url}/webhooks/bacen-pix/{token}`).
    #[serde(default)]
    pub webhook_tokens: Vec<SecretString>,
    /// Confirm money-moving events with `GET /pix/{e2eid}` before they are trusted.
    #[serde(default = "default_confirm_by_fetch")]
    pub confirm_by_fetch: bool,
}

/// The retry policy of idempotent calls.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retries {
    /// Attempts in all, the first included (1: no retry).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The first backoff, doubled on each further attempt, plus up to 50% jitter.
    #[serde(default = "default_base_delay_ms")]
    pub base_delay_ms: u64,
}

impl Default for Retries {
    fn default() -> Retries {
        Retries {
            max_attempts: default_max_attempts(),
            base_delay_ms: default_base_delay_ms(),
        }
    }
}

fn default_timeout_ms() -> u64 {
    10_000
}

fn default_charge_expiration_secs() -> u32 {
    86_400
}

fn default_max_attempts() -> u32 {
    3
}

fn default_base_delay_ms() -> u64 {
    200
}

fn default_confirm_by_fetch() -> bool {
    true
}

impl Config {
    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The API root without a trailing `/`.
    pub fn api_root(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }

    /// The token endpoint: `token_url`, or `{base_url}/oauth/token`.
    pub fn token_endpoint(&self) -> String {
        match self.token_url.trim() {
            "" => format!("{}/oauth/token", self.api_root()),
            url => url.to_owned(),
        }
    }

    /// The extra root CA, if one is configured.
    pub fn ca_cert_path(&self) -> Option<PathBuf> {
        match self.ca_cert_pem.trim() {
            "" => None,
            path => Some(PathBuf::from(path)),
        }
    }

    /// The account holder's document.
    pub fn receiver_document(&self) -> Result<Document, RegistrationError> {
        Document::parse(&self.receiver_document).map_err(|_| {
            invalid(
                "receiver_document",
                "a valid CPF or CNPJ of the account holder",
            )
        })
    }

    /// Checks what types cannot: URLs, non-empty credentials, readable PEM files, the key and the
    /// document, bounds.
    pub fn validate(&self) -> Result<(), RegistrationError> {
        let url_ok = |url: &str| url.starts_with("https://") || url.starts_with("http://");
        if !url_ok(&self.base_url) {
            return Err(invalid("base_url", "an http(s):// URL"));
        }
        if !self.token_url.trim().is_empty() && !url_ok(self.token_url.trim()) {
            return Err(invalid("token_url", "empty or an http(s):// URL"));
        }
        if self.client_id.trim().is_empty() {
            return Err(invalid("client_id", "the OAuth2 client id"));
        }
        if self.client_secret.expose_secret().is_empty() {
            return Err(invalid("client_secret", "the OAuth2 client secret"));
        }
        for (key, path) in [
            ("client_cert_pem", self.client_cert_pem.as_str()),
            ("client_key_pem", self.client_key_pem.as_str()),
        ] {
            if path.trim().is_empty() {
                return Err(invalid(key, "the path of a PEM file"));
            }
            if std::fs::metadata(path.trim()).is_err() {
                return Err(invalid(key, "a readable PEM file"));
            }
        }
        if let Some(path) = self.ca_cert_path()
            && std::fs::metadata(&path).is_err()
        {
            return Err(invalid("ca_cert_pem", "empty or a readable PEM file"));
        }
        let key = self.receiver.trim();
        if key.is_empty() || key.len() > 77 {
            return Err(invalid("receiver", "the Pix key (chave) of the receiver"));
        }
        self.receiver_document()?;
        if !(100..=120_000).contains(&self.timeout_ms) {
            return Err(invalid("timeout_ms", "between 100 and 120000 milliseconds"));
        }
        if self.charge_expiration_secs == 0 {
            return Err(invalid("charge_expiration_secs", "at least 1 second"));
        }
        if !(1..=6).contains(&self.retries.max_attempts) {
            return Err(invalid("retries.max_attempts", "between 1 and 6"));
        }
        if !(1..=10_000).contains(&self.retries.base_delay_ms) {
            return Err(invalid(
                "retries.base_delay_ms",
                "between 1 and 10000 milliseconds",
            ));
        }
        for (index, token) in self.webhook_tokens.iter().enumerate() {
            let token = token.expose_secret();
            let url_safe = token
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
            if token.len() < 16 || !url_safe {
                return Err(invalid(
                    &format!("webhook_tokens[{index}]"),
                    "at least 16 URL-safe characters (letters, digits, '-', '_')",
                ));
            }
        }
        Ok(())
    }
}

/// A [`RegistrationError`] naming `providers.bacen-pix.{key}`.
pub(crate) fn invalid(key: &str, expected: &str) -> RegistrationError {
    RegistrationError {
        provider: PROVIDER_NAME.to_owned(),
        message: format!("providers.{PROVIDER_NAME}.{key}: must be {expected}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use crate::config::Config;

    fn defaults() -> Config {
        let mut document: toml::Table = toml::from_str(include_str!("../config.toml")).unwrap();
        let section = document
            .remove("providers")
            .and_then(|providers| providers.get("bacen-pix").cloned())
            .unwrap();
        section.try_into().unwrap()
    }

    #[test]
    fn the_documented_defaults_parse_and_are_disabled() {
        let config = defaults();
        assert!(!config.enabled);
        assert_eq!(config.timeout_ms, 10_000);
        assert_eq!(config.retries.max_attempts, 3);
        assert!(config.confirm_by_fetch);
        assert_eq!(
            config.token_endpoint(),
            "https://pix.example.com/api/v2/oauth/token"
        );
        assert!(config.ca_cert_path().is_none());
    }

    #[test]
    fn the_defaults_start_with_the_providers_table() {
        let first_table = include_str!("../config.toml")
            .lines()
            .find(|line| line.starts_with('['))
            .unwrap();
        assert_eq!(first_table, "[providers.bacen-pix]");
    }

    #[test]
    fn validation_names_the_key_at_fault() {
        let mut config = defaults();
        config.client_id = "paygate".to_owned();
        config.client_secret = "secret".to_owned().into();
        let error = config.validate().unwrap_err().to_string();
        assert!(
            error.contains("providers.bacen-pix.client_cert_pem"),
            "{error}"
        );
        config.base_url = "ftp://psp".to_owned();
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("providers.bacen-pix.base_url"), "{error}");
    }

    #[test]
    fn debug_output_hides_the_client_secret() {
        let mut config = defaults();
        config.client_secret = "very-secret-value".to_owned().into();
        assert!(!format!("{config:?}").contains("very-secret-value"));
    }
}
