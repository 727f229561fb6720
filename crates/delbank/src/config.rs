//! `[providers.delbank]`: how to reach Delbank and which webhook registrations to accept.
//!
//! Secrets are [`SecretString`]s; nothing here is logged. Registrations made by hand in Delbank's
//! portal are declared in `webhooks`; those made by the gateway itself (`register-webhooks`) are
//! stored by the gateway and read back through the `CredentialStore`.

use std::time::Duration;

use providers::RegistrationError;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::PROVIDER_NAME;

/// The Delbank section of the gateway configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Register Delbank at all; `false` keeps the section but skips the provider.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// API root, without the `/baas/...` prefix: `https://apisandbox.delbank.com.br` (sandbox),
    /// `https://api.delbank.com.br` (production), or a simulator's URL.
    pub base_url: String,
    /// The `x-delbank-api-key` sent on every call.
    pub api_key: SecretString,
    /// The `x-delfinance-account-id` sent on every call: the bank account number the API key
    /// operates on (the gateway's own account).
    pub account_id: String,
    /// Seconds one HTTP call may take before it fails with a timeout.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Extra attempts for a call that is safe to repeat (reads, and writes carrying an
    /// `IdempotencyKey`) after a timeout, a connection failure, a 429 or a 5xx.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// First retry delay in milliseconds; doubled on each further attempt, plus jitter.
    #[serde(default = "default_retry_base_delay_ms")]
    pub retry_base_delay_ms: u64,
    /// The scheme of the registrations the gateway makes itself (`register-webhooks`).
    #[serde(default = "default_scheme")]
    pub webhook_scheme: AuthScheme,
    /// Registrations made by hand in Delbank's portal, one per event type.
    #[serde(default)]
    pub webhooks: Vec<ManualRegistration>,
    /// Webhooks as hints: confirm `pix.received`, `charge.paid`, refunds and transfer outcomes by
    /// reading them back from the API before the gateway publishes or reconciles them (Delbank's
    /// static webhook credential authenticates the sender, not the bytes).
    #[serde(default = "default_confirm_by_fetch")]
    pub confirm_by_fetch: bool,
}

/// A webhook registration made by hand in Delbank's portal, whose requests arrive at
/// `/webhooks/delbank/{path}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualRegistration {
    /// The path segment after `/webhooks/delbank/`, e.g. `pix-received-portal` (letters, digits,
    /// `-` and `_`).
    pub path: String,
    /// The Delbank event type registered there, e.g. `PIX_RECEIVED`: it tells how to read
    /// payloads that carry no `eventType` of their own.
    pub event_type: String,
    /// How Delbank authenticates its requests to that URL.
    pub scheme: AuthScheme,
    /// For `HEADER`: the header's name, e.g. `x-webhook-key`.
    #[serde(default)]
    pub header: Option<String>,
    /// The value configured in the portal: base64 `login:password` for `BASIC`, the token for
    /// `BEARER`, the header's value for `HEADER`.
    pub credential: SecretString,
}

/// How Delbank authenticates a webhook request (`authorizationScheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum AuthScheme {
    /// `Authorization: Basic <base64 login:password>`.
    #[serde(rename = "BASIC", alias = "basic", alias = "Basic")]
    Basic,
    /// `Authorization: Bearer <token>`.
    #[serde(rename = "BEARER", alias = "bearer", alias = "Bearer")]
    Bearer,
    /// A custom header, `Name: value`.
    #[serde(rename = "HEADER", alias = "header", alias = "Header")]
    Header,
}

impl AuthScheme {
    /// Delbank's name for it: `BASIC`, `BEARER`, `HEADER`.
    pub fn as_str(&self) -> &'static str {
        match self {
            AuthScheme::Basic => "BASIC",
            AuthScheme::Bearer => "BEARER",
            AuthScheme::Header => "HEADER",
        }
    }

    /// Reads Delbank's name, ignoring case; `None` for `NONE` or anything unknown.
    pub fn parse(text: &str) -> Option<AuthScheme> {
        [AuthScheme::Basic, AuthScheme::Bearer, AuthScheme::Header]
            .into_iter()
            .find(|scheme| scheme.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

fn default_enabled() -> bool {
    true
}

fn default_confirm_by_fetch() -> bool {
    true
}

fn default_timeout_secs() -> u64 {
    8
}

fn default_retries() -> u32 {
    2
}

fn default_retry_base_delay_ms() -> u64 {
    200
}

fn default_scheme() -> AuthScheme {
    AuthScheme::Bearer
}

impl Config {
    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// Checks what types cannot: URLs, non-empty secrets, path syntax, header names.
    pub fn validate(&self) -> Result<(), RegistrationError> {
        let invalid = |key: &str, expected: &str| {
            Err(RegistrationError {
                provider: PROVIDER_NAME.to_owned(),
                message: format!("`providers.delbank.{key}` must be {expected}"),
            })
        };
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return invalid("base_url", "an http(s):// URL");
        }
        if self.api_key.expose_secret().trim().is_empty() {
            return invalid("api_key", "a non-empty API key");
        }
        if self.account_id.trim().is_empty() {
            return invalid("account_id", "the account number of the API key");
        }
        if !(1..=120).contains(&self.timeout_secs) {
            return invalid("timeout_secs", "a number of seconds between 1 and 120");
        }
        if self.retries > 5 {
            return invalid("retries", "at most 5");
        }
        if !(1..=10_000).contains(&self.retry_base_delay_ms) {
            return invalid("retry_base_delay_ms", "between 1 and 10000 milliseconds");
        }
        for (index, registration) in self.webhooks.iter().enumerate() {
            let segment = registration.segment();
            let valid_segment = !segment.is_empty()
                && segment
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
            if !valid_segment {
                return invalid(
                    &format!("webhooks[{index}].path"),
                    "one path segment of letters, digits, '-' and '_'",
                );
            }
            if registration.event_type.trim().is_empty() {
                return invalid(
                    &format!("webhooks[{index}].event_type"),
                    "a Delbank event type",
                );
            }
            if registration.credential.expose_secret().is_empty() {
                return invalid(&format!("webhooks[{index}].credential"), "non-empty");
            }
            let header_ok = match (registration.scheme, &registration.header) {
                (AuthScheme::Header, Some(name)) => {
                    http::HeaderName::from_bytes(name.trim().as_bytes()).is_ok()
                }
                (AuthScheme::Header, None) => false,
                (AuthScheme::Basic | AuthScheme::Bearer, _) => true,
            };
            if !header_ok {
                return invalid(
                    &format!("webhooks[{index}].header"),
                    "a valid header name when the scheme is HEADER",
                );
            }
        }
        Ok(())
    }
}

impl ManualRegistration {
    /// The path segment without a leading `/`.
    pub fn segment(&self) -> &str {
        self.path.trim().trim_start_matches('/')
    }

    /// The path as the gateway hands it to the webhook source: `/segment`.
    pub fn inbound_path(&self) -> String {
        format!("/{}", self.segment())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{AuthScheme, Config};

    fn parse(json: &str) -> Config {
        serde_json::from_str(json).unwrap()
    }

    const BASE: &str =
        r#""base_url": "https://apisandbox.delbank.com.br", "api_key": "k", "account_id": "31712""#;

    #[test]
    fn defaults_apply_and_a_minimal_section_is_valid() {
        let config = parse(&format!("{{{BASE}}}"));
        assert!(config.enabled);
        assert_eq!(config.timeout_secs, 8);
        assert_eq!(config.retries, 2);
        assert_eq!(config.webhook_scheme, AuthScheme::Bearer);
        assert!(config.validate().is_ok());
        assert!(!format!("{config:?}").contains("\"k\""));
    }

    #[test]
    fn a_hand_registered_header_webhook_needs_its_header_name() {
        let without = parse(&format!(
            r#"{{{BASE}, "webhooks": [{{"path": "portal-pix", "event_type": "PIX_RECEIVED", "scheme": "HEADER", "credential": "v"}}]}}"#
        ));
        let error = without.validate().unwrap_err().to_string();
        assert!(
            error.contains("providers.delbank.webhooks[0].header"),
            "{error}"
        );
        let with = parse(&format!(
            r#"{{{BASE}, "webhooks": [{{"path": "/portal-pix", "event_type": "PIX_RECEIVED", "scheme": "header", "header": "x-webhook-key", "credential": "v"}}]}}"#
        ));
        assert!(with.validate().is_ok());
        assert_eq!(with.webhooks[0].inbound_path(), "/portal-pix");
    }

    #[test]
    fn bad_urls_and_paths_name_their_key() {
        let url = parse(r#"{"base_url": "ftp://x", "api_key": "k", "account_id": "1"}"#);
        assert!(url.validate().unwrap_err().to_string().contains("base_url"));
        let path = parse(&format!(
            r#"{{{BASE}, "webhooks": [{{"path": "a/b", "event_type": "PIX_RECEIVED", "scheme": "BEARER", "credential": "v"}}]}}"#
        ));
        assert!(
            path.validate()
                .unwrap_err()
                .to_string()
                .contains("webhooks[0].path")
        );
    }
}
