//! Inbound webhooks: the [`WebhookSource`] contract (verify, then normalize), the
//! [`WebhookRegistration`] contract (register and rotate the gateway's endpoint at the provider),
//! and small building blocks for verifiers.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use crate::error::ProviderError;
use crate::event::{NormalizedEvent, ProviderName};

/// One inbound webhook request, as the gateway received it.
#[derive(Debug, Clone, Copy)]
pub struct InboundRequest<'a> {
    /// What follows `/webhooks/{provider}` in the URL path: `""`, or `"/pix-received"` for a
    /// provider that registers one URL per event type.
    pub path: &'a str,
    /// The request headers.
    pub headers: &'a http::HeaderMap,
    /// The body, byte for byte (signatures are computed over these exact bytes).
    pub body: &'a [u8],
}

/// Why an inbound request was refused before anything was stored (the gateway answers 401, or 503
/// for [`VerifyError::Unavailable`] so that the provider retries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The signature, token or authorization header is absent.
    #[error("webhook credential is missing")]
    MissingCredential,
    /// The credential is present but does not match any current secret.
    #[error("webhook signature is invalid")]
    InvalidSignature,
    /// The signed timestamp is too far from the gateway's clock (replay protection).
    #[error("webhook timestamp is outside the accepted window")]
    TimestampOutOfWindow,
    /// The path names no registration the gateway knows.
    #[error("unknown webhook registration: {0}")]
    UnknownRegistration(String),
    /// The request is too broken to verify (e.g. an unreadable signature header).
    #[error("malformed webhook request: {0}")]
    Malformed(String),
    /// The credentials could not be read (the [`CredentialStore`] is down): not the sender's fault.
    #[error("webhook credentials are unavailable: {0}")]
    Unavailable(String),
}

impl VerifyError {
    /// A stable `snake_case` code, unique per variant, for metrics and logs.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MissingCredential => "webhook_missing_credential",
            VerifyError::InvalidSignature => "webhook_invalid_signature",
            VerifyError::TimestampOutOfWindow => "webhook_timestamp_out_of_window",
            VerifyError::UnknownRegistration(_) => "webhook_unknown_registration",
            VerifyError::Malformed(_) => "webhook_malformed",
            VerifyError::Unavailable(_) => "webhook_verifier_unavailable",
        }
    }
}

/// A verified request whose body cannot be understood at all. The gateway quarantines it with the
/// reason and answers 2xx, so the provider stops retrying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot normalize webhook: {reason}")]
pub struct NormalizeError {
    /// What could not be understood (no PII: name the field, not its value).
    pub reason: String,
}

impl NormalizeError {
    /// A normalize error with `reason`.
    pub fn new(reason: impl Into<String>) -> NormalizeError {
        NormalizeError {
            reason: reason.into(),
        }
    }
}

/// A provider that sends webhooks to the gateway.
///
/// The gateway calls [`verify`](WebhookSource::verify) first; only if it succeeds does it call
/// [`normalize`](WebhookSource::normalize), then stores the events and the raw body in one
/// transaction.
#[async_trait]
pub trait WebhookSource: Send + Sync {
    /// The provider's name, which is also the `{provider}` of `/webhooks/{provider}`.
    fn provider(&self) -> ProviderName;

    /// How [`verify`](WebhookSource::verify) authenticates requests; recorded with every event.
    fn authentication(&self) -> crate::confirm::WebhookAuthentication;

    /// Authenticates the request.
    ///
    /// An implementation must:
    /// - compare credentials in constant time ([`constant_time_eq`]), and accept every secret
    ///   valid during a rotation;
    /// - check the signed timestamp against `now`, never against the system clock, when the
    ///   scheme signs one ([`check_timestamp_window`]);
    /// - have no side effect when it rejects: nothing read beyond the request and its own
    ///   configuration, nothing persisted, no call to the provider.
    ///
    /// On `Err` the gateway answers 401, counts the rejection and stores nothing, not even the
    /// body.
    async fn verify(
        &self,
        request: &InboundRequest<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError>;

    /// Turns a verified request into zero or more normalized events.
    ///
    /// An implementation must be pure and deterministic: the same bytes give the same events with
    /// the same dedup keys, with no I/O and no clock. It must never drop a verified event: a type
    /// no rule recognizes becomes [`EventType::Unrecognized`](crate::EventType::Unrecognized) with
    /// [`provider`](WebhookSource::provider). Amounts go through [`Money`](crate::Money), exactly.
    ///
    /// Return `Err` only when the body cannot be understood at all (not JSON, no identifiable
    /// event): the gateway then quarantines the raw body with the reason.
    fn normalize(
        &self,
        request: &InboundRequest<'_>,
    ) -> Result<Vec<NormalizedEvent>, NormalizeError>;
}

/// A provider at which the gateway registers its own webhook endpoint.
#[async_trait]
pub trait WebhookRegistration: Send + Sync {
    /// Registers `{public_base_url}/webhooks/{provider}…` for every event type the gateway handles
    /// and returns each registration with its credential.
    ///
    /// An implementation must be safe to call again (update or reuse existing registrations
    /// rather than duplicate them) and must return the credential the provider will use. The
    /// gateway persists credentials encrypted and never logs them.
    async fn register(
        &self,
        public_base_url: &str,
    ) -> Result<Vec<RegisteredWebhook>, ProviderError>;

    /// Rotates the credential of one registration. The previous credential must stay valid for
    /// `grace` where the provider supports it (the gateway keeps accepting both meanwhile).
    /// Returns the registration with its new credential, which the gateway persists encrypted.
    async fn rotate(
        &self,
        registration_id: &str,
        grace: Duration,
    ) -> Result<RegisteredWebhook, ProviderError>;
}

/// A webhook registration at a provider.
#[derive(Debug, Clone)]
pub struct RegisteredWebhook {
    /// The provider's id for the registration.
    pub registration_id: String,
    /// What follows `/webhooks/{provider}` in the URL: `""` for a provider with one endpoint,
    /// `"/pix-received"` for one URL per event type. The gateway's [`CredentialStore`] is keyed by it.
    pub path: String,
    /// The URL the provider will call.
    pub url: String,
    /// The provider's event types sent to this URL.
    pub event_types: Vec<String>,
    /// The credential the provider signs or authenticates with.
    pub secret: WebhookCredential,
    /// Provider-specific, non-secret facts the verifier needs again (for example
    /// `scheme = "HEADER"`, `header = "x-paygate-token"`, `event_type = "PIX_RECEIVED"`).
    pub attributes: BTreeMap<String, String>,
    /// After a rotation: until when the previous credential remains valid (`None` when it stops at
    /// once, or on first registration).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

/// One credential that authenticates inbound webhooks for a path of a provider.
#[derive(Debug, Clone)]
pub struct InboundCredential {
    /// The secret or token.
    pub secret: WebhookCredential,
    /// The end of its validity: set on a credential being rotated out, `None` while it is current.
    pub not_after: Option<DateTime<Utc>>,
    /// The non-secret facts stored with it (see [`RegisteredWebhook::attributes`]).
    pub attributes: BTreeMap<String, String>,
}

impl InboundCredential {
    /// Whether the credential may be used at `now`.
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        self.not_after.is_none_or(|not_after| now <= not_after)
    }
}

/// Why the credential store could not answer.
#[derive(Debug, thiserror::Error)]
#[error("credential store unavailable: {0}")]
pub struct CredentialStoreError(pub String);

/// Where a [`WebhookSource`] finds the credentials registered at runtime (after a registration or a
/// rotation made through the gateway), implemented by the gateway over its database so that every
/// replica sees a rotation at once. Credentials given in a provider's configuration (endpoints
/// registered by hand in the provider's portal) do not go through it.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// The credentials for `path` of `provider` (see [`RegisteredWebhook::path`]), current ones and
    /// those still in a rotation grace period; expired ones may be included, so callers check
    /// [`InboundCredential::is_valid_at`]. An empty list means none is registered.
    async fn credentials(
        &self,
        provider: &ProviderName,
        path: &str,
    ) -> Result<Vec<InboundCredential>, CredentialStoreError>;
}

/// A [`CredentialStore`] with nothing registered at runtime: the sources verify only with the
/// credentials of their configuration (endpoints registered by hand in the provider's portal).
#[derive(Debug, Clone, Copy, Default)]
pub struct ConfiguredCredentialsOnly;

#[async_trait]
impl CredentialStore for ConfiguredCredentialsOnly {
    async fn credentials(
        &self,
        _: &ProviderName,
        _: &str,
    ) -> Result<Vec<InboundCredential>, CredentialStoreError> {
        Ok(Vec::new())
    }
}

/// A webhook secret or token. `Debug` and `Display` print `[REDACTED]`; the value comes out only
/// through [`WebhookCredential::expose_secret`]. The gateway persists it encrypted.
#[derive(Clone)]
pub struct WebhookCredential(String);

impl WebhookCredential {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> WebhookCredential {
        WebhookCredential(secret.into())
    }

    /// The secret itself: call it only to verify, sign or encrypt for storage.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl fmt::Display for WebhookCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Compares two byte strings in time independent of their contents (only the lengths leak), for
/// signatures and tokens.
pub fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.ct_eq(right).into()
}

/// Checks that a signed `timestamp` lies within `tolerance` of `now`, either side.
pub fn check_timestamp_window(
    timestamp: DateTime<Utc>,
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let Ok(tolerance) = chrono::Duration::from_std(tolerance) else {
        return Ok(());
    };
    let skew = match timestamp > now {
        true => timestamp - now,
        false => now - timestamp,
    };
    if skew > tolerance {
        return Err(VerifyError::TimestampOutOfWindow);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use chrono::{TimeZone, Utc};

    use crate::webhook::{
        NormalizeError, VerifyError, WebhookCredential, check_timestamp_window, constant_time_eq,
    };

    #[test]
    fn verify_error_codes_are_unique() {
        let errors = [
            VerifyError::MissingCredential,
            VerifyError::InvalidSignature,
            VerifyError::TimestampOutOfWindow,
            VerifyError::UnknownRegistration("pix-received".to_owned()),
            VerifyError::Malformed("bad header".to_owned()),
            VerifyError::Unavailable("db down".to_owned()),
        ];
        let codes: HashSet<&str> = errors.iter().map(VerifyError::code).collect();
        assert_eq!(codes.len(), errors.len());
        for error in &errors {
            assert!(error.code().starts_with("webhook_"));
            let message = error.to_string();
            assert!(
                message.starts_with("webhook")
                    || message.starts_with("unknown")
                    || message.starts_with("malformed")
                    || message.starts_with("webhook credentials"),
                "{message}"
            );
            assert!(!message.ends_with('.'), "{message}");
        }
    }

    #[test]
    fn normalize_error_names_its_reason() {
        let error = NormalizeError::new("body is not json");
        assert_eq!(
            error.to_string(),
            "cannot normalize webhook: body is not json"
        );
    }

    #[test]
    fn credentials_are_redacted_in_debug_and_display() {
        let credential = WebhookCredential::new("whsec_c2VjcmV0");
        assert_eq!(format!("{credential:?}"), "[REDACTED]");
        assert_eq!(credential.to_string(), "[REDACTED]");
        assert_eq!(credential.expose_secret(), "whsec_c2VjcmV0");
    }

    #[test]
    fn constant_time_comparison_matches_equality() {
        assert!(constant_time_eq(b"token", b"token"));
        assert!(!constant_time_eq(b"token", b"tokem"));
        assert!(!constant_time_eq(b"token", b"token2"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn timestamps_outside_the_window_are_rejected() {
        let now = Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap();
        let five_minutes = Duration::from_secs(300);
        let at = |seconds: i64| now + chrono::Duration::seconds(seconds);
        assert_eq!(check_timestamp_window(at(0), now, five_minutes), Ok(()));
        assert_eq!(check_timestamp_window(at(-300), now, five_minutes), Ok(()));
        assert_eq!(check_timestamp_window(at(300), now, five_minutes), Ok(()));
        assert_eq!(
            check_timestamp_window(at(-301), now, five_minutes),
            Err(VerifyError::TimestampOutOfWindow)
        );
        assert_eq!(
            check_timestamp_window(at(301), now, five_minutes),
            Err(VerifyError::TimestampOutOfWindow)
        );
    }
}
