//! API-key authentication (`Authorization: Bearer <key>`) and scopes.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use providers::ApiKeyId;

use crate::app::keys;
use crate::http::error::ApiError;
use crate::startup::AppState;

/// What an API key may do. A key holds a set of scopes; `admin` implies every other one.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub enum Scope {
    /// Everything.
    #[serde(rename = "admin")]
    Admin,
    /// Read events.
    #[serde(rename = "events:read")]
    EventsRead,
    /// Manage API keys.
    #[serde(rename = "keys:write")]
    KeysWrite,
    /// See unmasked personal data (documents, raw provider payloads).
    #[serde(rename = "pii")]
    Pii,
    /// Read customers, credit offers, simulations and loans.
    #[serde(rename = "credit:read")]
    CreditRead,
    /// Create customers, upload KYC documents, simulate, take loans.
    #[serde(rename = "credit:write")]
    CreditWrite,
    /// Read accounts, balances, charges, Pix transfers and keys.
    #[serde(rename = "banking:read")]
    BankingRead,
    /// Open accounts, create charges, send and refund Pix, manage Pix keys.
    #[serde(rename = "banking:write")]
    BankingWrite,
    /// Register and rotate the gateway's webhook endpoints at providers.
    #[serde(rename = "providers:write")]
    ProvidersWrite,
    /// Read subscriptions, deliveries and replays.
    #[serde(rename = "subscriptions:read")]
    SubscriptionsRead,
    /// Manage subscriptions, retry deliveries, start replays.
    #[serde(rename = "subscriptions:write")]
    SubscriptionsWrite,
    /// Read reconciliation items, summaries and reports.
    #[serde(rename = "reconciliation:read")]
    ReconciliationRead,
    /// Resolve reconciliation items and start batch runs.
    #[serde(rename = "reconciliation:write")]
    ReconciliationWrite,
}

impl Scope {
    /// Every scope, for help texts and validation.
    pub const ALL: [Scope; 13] = [
        Scope::Admin,
        Scope::EventsRead,
        Scope::KeysWrite,
        Scope::Pii,
        Scope::CreditRead,
        Scope::CreditWrite,
        Scope::BankingRead,
        Scope::BankingWrite,
        Scope::ProvidersWrite,
        Scope::SubscriptionsRead,
        Scope::SubscriptionsWrite,
        Scope::ReconciliationRead,
        Scope::ReconciliationWrite,
    ];

    /// The string form stored and shown.
    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::EventsRead => "events:read",
            Scope::KeysWrite => "keys:write",
            Scope::Pii => "pii",
            Scope::CreditRead => "credit:read",
            Scope::CreditWrite => "credit:write",
            Scope::BankingRead => "banking:read",
            Scope::BankingWrite => "banking:write",
            Scope::ProvidersWrite => "providers:write",
            Scope::SubscriptionsRead => "subscriptions:read",
            Scope::SubscriptionsWrite => "subscriptions:write",
            Scope::ReconciliationRead => "reconciliation:read",
            Scope::ReconciliationWrite => "reconciliation:write",
        }
    }
}

impl std::str::FromStr for Scope {
    type Err = String;

    fn from_str(input: &str) -> Result<Scope, String> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == input)
            .ok_or_else(|| {
                let known: Vec<&str> = Scope::ALL.iter().map(Scope::as_str).collect();
                format!(
                    "unknown scope `{input}`; expected one of {}",
                    known.join(", ")
                )
            })
    }
}

/// The authenticated caller, put in request extensions by [`authenticate`].
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's id.
    pub api_key_id: ApiKeyId,
    /// The key's name (shown in audit trails).
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<Scope>,
}

impl Caller {
    /// Whether the key holds `scope` (or `admin`).
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes
            .iter()
            .any(|held| *held == scope || *held == Scope::Admin)
    }

    /// `Ok` when the key holds `scope`, else 403.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.has(scope) {
            return Ok(());
        }
        Err(ApiError::InsufficientScope {
            scope: scope.as_str(),
        })
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::Internal("route without the authenticate middleware".into()))
    }
}

/// Middleware: resolves the Bearer key to a [`Caller`]; 401 when missing, unknown or revoked.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Err(ApiError::ApiKeyMissing);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(ApiError::ApiKeyInvalid)?;
    let caller = keys::authenticate(&state.pool, token).await?;
    tracing::Span::current().record("api_key", tracing::field::display(caller.api_key_id));
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_round_trips_through_its_string_form_and_serde() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
            assert_eq!(serde_json::to_value(scope).unwrap(), scope.as_str());
        }
        let names: std::collections::HashSet<&str> = Scope::ALL.iter().map(Scope::as_str).collect();
        assert_eq!(names.len(), Scope::ALL.len());
    }
}
