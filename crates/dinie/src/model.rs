//! Dinie-specific public types: what [`crate::DinieClient`] takes and returns for the operations
//! that have no provider-neutral counterpart in `providers` (API credentials, webhook endpoints,
//! biometrics sessions, customer filters and updates).

use chrono::{DateTime, Utc};
use providers::{CustomerStatus, Document, WebhookCredential};
use secrecy::SecretString;

/// Filters of `GET /customers`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFilter {
    /// Only the customer with this partner reference.
    pub external_id: Option<String>,
    /// Only the customer with this CPF.
    pub document: Option<Document>,
    /// Only customers in this status.
    pub status: Option<CustomerStatus>,
}

/// Fields of `PATCH /customers/{id}`; `None` leaves a field unchanged. CPF and `external_id` are
/// immutable at Dinie.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CustomerUpdate {
    /// New e-mail. PII.
    pub email: Option<String>,
    /// New phone in E.164. PII.
    pub phone: Option<String>,
    /// New name. PII.
    pub name: Option<String>,
    /// The company's CNPJ.
    pub cnpj: Option<Document>,
    /// The company's trading name.
    pub trading_name: Option<String>,
}

impl std::fmt::Debug for CustomerUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomerUpdate")
            .field("email", &self.email.as_ref().map(|_| "[REDACTED]"))
            .field("phone", &self.phone.as_ref().map(|_| "[REDACTED]"))
            .field("name", &self.name.as_ref().map(|_| "[REDACTED]"))
            .field("cnpj", &self.cnpj)
            .field("trading_name", &self.trading_name)
            .finish()
    }
}

/// A biometrics session to send the customer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BiometricsSession {
    /// Where the customer completes the check.
    pub session_url: String,
    /// When the session lapses.
    pub expires_at: DateTime<Utc>,
}

/// Status of an API credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialStatus {
    /// Usable.
    Active,
    /// Revoked: new tokens are refused.
    Revoked,
}

/// An API credential (client id) of the partner; never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCredential {
    /// `dinie_ci_…`.
    pub client_id: String,
    /// Its label.
    pub name: String,
    /// Whether it can still obtain tokens.
    pub status: CredentialStatus,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last obtained a token.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A credential just created, with its secret (shown once by Dinie).
#[derive(Debug, Clone)]
pub struct CreatedApiCredential {
    /// The credential.
    pub credential: ApiCredential,
    /// `dinie_cs_…`. Never logged.
    pub client_secret: SecretString,
}

/// Status of a webhook endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointStatus {
    /// Receives deliveries.
    Active,
    /// Deliveries paused.
    Disabled,
}

impl EndpointStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EndpointStatus::Active => "active",
            EndpointStatus::Disabled => "disabled",
        }
    }
}

/// A webhook endpoint registered at Dinie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// `we_…`.
    pub id: String,
    /// Where Dinie delivers.
    pub url: String,
    /// Event patterns (`loan.*`, `*`); empty means all events.
    pub events: Vec<String>,
    /// A label.
    pub description: Option<String>,
    /// Whether deliveries are paused.
    pub status: EndpointStatus,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// An endpoint to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhookEndpoint {
    /// Where Dinie should deliver (HTTPS).
    pub url: String,
    /// Event patterns; empty means all events.
    pub events: Vec<String>,
    /// A label.
    pub description: Option<String>,
}

/// A partial update of an endpoint; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookEndpointUpdate {
    /// New URL.
    pub url: Option<String>,
    /// New event patterns.
    pub events: Option<Vec<String>>,
    /// New label.
    pub description: Option<String>,
    /// Pause or resume deliveries.
    pub status: Option<EndpointStatus>,
}

/// An endpoint just created, with its signing secret (shown only now).
#[derive(Debug, Clone)]
pub struct CreatedWebhookEndpoint {
    /// The endpoint.
    pub endpoint: WebhookEndpoint,
    /// `whsec_…`. Never logged.
    pub secret: WebhookCredential,
}

/// The outcome of a secret rotation.
#[derive(Debug, Clone)]
pub struct RotatedSecret {
    /// The endpoint.
    pub endpoint_id: String,
    /// The new `whsec_…` secret. Never logged.
    pub secret: WebhookCredential,
    /// Until when deliveries are also signed with the previous secret.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}
