//! Webhooks as hints: how strongly a provider's webhooks are authenticated, and the
//! [`EventConfirmer`] through which the gateway reads a money-moving event's resource back from
//! the provider's API before it trusts the event.
//!
//! A signature over the body and a timestamp (Standard Webhooks) proves the provider sent these
//! bytes recently. A static credential (a BASIC, BEARER or custom header value registered once)
//! proves only that the sender knows it: anyone who read it once in a log or a proxy can forge any
//! event, replay included. A callback authenticated by mTLS at a receiver that does not terminate
//! TLS is not authenticated at all. For the last two the gateway stores the event, acknowledges it,
//! and confirms it by fetch before publishing or reconciling it.

use async_trait::async_trait;
use serde::Serialize;

use crate::error::ProviderError;
use crate::event::NormalizedEvent;

/// How a provider's inbound webhooks are authenticated, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookAuthentication {
    /// A signature over the body and a signed timestamp (Standard Webhooks): forgery and replay
    /// need the secret.
    Signature,
    /// A static credential sent with each call (BASIC, BEARER or a custom header): weak, it
    /// authenticates the sender but not the bytes nor their freshness.
    Credential,
    /// Nothing the gateway can check (the spec authenticates by mTLS at a receiver the gateway
    /// may not be): every event is a hint.
    None,
}

impl WebhookAuthentication {
    /// Whether this authentication is weak enough that money-moving events should be confirmed
    /// by fetch before they are trusted.
    pub fn is_weak(self) -> bool {
        !matches!(self, WebhookAuthentication::Signature)
    }

    /// The stable name stored with each event (`signature`, `credential`, `none`).
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookAuthentication::Signature => "signature",
            WebhookAuthentication::Credential => "credential",
            WebhookAuthentication::None => "none",
        }
    }
}

/// What the provider's API says of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// The resource exists and agrees with the event (same amount, same state).
    Confirmed,
    /// The resource does not exist, or disagrees: the event must not be trusted. The reason names
    /// what differs (no PII: fields and ids, not documents or names).
    Contradicted(String),
}

/// Reads a money-moving event's resource back from the provider.
#[async_trait]
pub trait EventConfirmer: Send + Sync {
    /// Whether `event` must be confirmed before it is trusted (`pix.received`, `charge.paid`,
    /// refunds and transfer outcomes). Pure: no I/O.
    fn must_confirm(&self, event: &NormalizedEvent) -> bool;

    /// Fetches the resource `event` is about and compares. An `Err` is a failure to ask (the
    /// provider is down, times out, rate limits): the gateway retries later and the event waits.
    /// A resource the provider does not know is [`Confirmation::Contradicted`], not an error.
    async fn confirm(&self, event: &NormalizedEvent) -> Result<Confirmation, ProviderError>;
}
