//! `ApiError`: the only type that becomes an HTTP error response.
//!
//! Every variant has a stable `code` (clients branch on it) and a status. The body is RFC 9457
//! `application/problem+json`: `{type, title, status, detail, code, request_id, errors?}`. The
//! response carries the error as an extension; `render_problem` (a middleware inside the request
//! span) logs it once and writes the body with the request id. Internal details never reach the
//! client: a 500 says only that something went wrong and which request it was.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use providers::ProviderError;
use serde::Serialize;
use utoipa::ToSchema;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldProblem {
    /// JSON Pointer (RFC 6901) to the field, e.g. `/amount`, or the query parameter name.
    pub pointer: String,
    /// What is wrong with it.
    pub message: String,
}

/// Every error the API can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No `Authorization: Bearer` header.
    #[error("an API key is required: send Authorization: Bearer <key>")]
    ApiKeyMissing,
    /// The key is unknown or malformed.
    #[error("the API key is not valid")]
    ApiKeyInvalid,
    /// The key was revoked.
    #[error("the API key has been revoked")]
    ApiKeyRevoked,
    /// A key asked to revoke itself: the caller would lock itself out mid-operation.
    #[error(
        "a key cannot revoke itself: revoke it with another key that holds keys:write, or with `paygate keys revoke`"
    )]
    ApiKeyRevokesItself,
    /// The key lacks a scope.
    #[error("the API key lacks the `{scope}` scope")]
    InsufficientScope {
        /// The missing scope.
        scope: &'static str,
    },
    /// Unknown resource.
    #[error("{resource} not found")]
    NotFound {
        /// What was looked for, e.g. "event evt_...".
        resource: String,
    },
    /// No route matches the path.
    #[error("no route for this path")]
    RouteNotFound,
    /// The route exists but not with this method.
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// The body is not valid JSON or not of the expected shape.
    #[error("the request body is not valid JSON: {0}")]
    MalformedBody(String),
    /// Wrong content type.
    #[error("expected content-type application/json")]
    UnsupportedMediaType,
    /// Field-level validation failures.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldProblem>),
    /// Bad query string.
    #[error("invalid query parameter: {0}")]
    InvalidQuery(String),
    /// Bad path parameter.
    #[error("invalid path parameter: {0}")]
    InvalidPath(String),
    /// POST without `Idempotency-Key`.
    #[error("an Idempotency-Key header is required on POST requests")]
    IdempotencyKeyRequired,
    /// `Idempotency-Key` with a bad value.
    #[error("the Idempotency-Key header must be 1 to 255 visible ASCII characters")]
    IdempotencyKeyInvalid,
    /// The key was used for a different request.
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    /// The same request with this key is still being processed.
    #[error("a request with this Idempotency-Key is still being processed; retry later")]
    IdempotencyKeyInUse,
    /// Body too large.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// The request took longer than the configured timeout.
    #[error("the request took too long")]
    Timeout,
    /// Postgres cannot be reached; retry later.
    #[error("the database is unavailable; retry later")]
    DatabaseUnavailable,
    /// Not ready to serve.
    #[error("not ready: {0}")]
    NotReady(String),
    /// `/webhooks/{provider}` for a provider nobody registered.
    #[error("no webhook source is registered for provider `{0}`")]
    UnknownProvider(String),
    /// An inbound webhook failed verification.
    #[error("webhook verification failed")]
    WebhookRejected {
        /// The `VerifyError` code.
        code: &'static str,
    },
    /// No provider is configured for this capability.
    #[error("no {capability} provider is configured (see routing.{capability})")]
    CapabilityUnavailable {
        /// `credit` or `banking`.
        capability: &'static str,
    },
    /// The provider offers no webhook self-registration.
    #[error("provider `{0}` has no webhook registration")]
    RegistrationUnsupported(String),
    /// Inbound webhook credentials cannot be read; the provider should retry.
    #[error("webhook verification is temporarily unavailable")]
    VerifierUnavailable,
    /// Only dead or pending deliveries can be retried.
    #[error("a {status} delivery cannot be retried; only dead or pending ones can")]
    DeliveryNotRetryable {
        /// The delivery's status.
        status: String,
    },
    /// A quarantined webhook still cannot be made into events.
    #[error("the quarantined webhook is still not understood: {0}")]
    QuarantineUnreadable(String),
    /// A provider call failed.
    #[error("{0}")]
    Provider(#[from] ProviderError),
    /// Anything else; the cause (with its chain) is logged, never sent.
    #[error("internal error")]
    Internal(InternalCause),
}

/// The cause of an internal error: what failed and, when an error caused it, that error with its
/// whole source chain. Logged once by `render_problem`; never sent to the client.
#[derive(Debug, Clone)]
pub struct InternalCause {
    context: String,
    source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl InternalCause {
    /// `context` failed because of `source`.
    pub fn new(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> InternalCause {
        InternalCause {
            context: context.into(),
            source: Some(std::sync::Arc::new(source)),
        }
    }
}

impl From<String> for InternalCause {
    fn from(context: String) -> InternalCause {
        InternalCause {
            context,
            source: None,
        }
    }
}

impl From<&str> for InternalCause {
    fn from(context: &str) -> InternalCause {
        InternalCause::from(context.to_owned())
    }
}

impl std::fmt::Display for InternalCause {
    /// The context, then every error of the chain: `database: error returned from database: ...`.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.context)?;
        let mut next: Option<&(dyn std::error::Error + 'static)> = self
            .source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static));
        while let Some(error) = next {
            write!(formatter, ": {error}")?;
            next = error.source();
        }
        Ok(())
    }
}

impl std::error::Error for InternalCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

impl ApiError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::ApiKeyMissing => "api_key_missing",
            ApiError::ApiKeyInvalid => "api_key_invalid",
            ApiError::ApiKeyRevoked => "api_key_revoked",
            ApiError::ApiKeyRevokesItself => "api_key_revokes_itself",
            ApiError::InsufficientScope { .. } => "insufficient_scope",
            ApiError::NotFound { .. } => "not_found",
            ApiError::RouteNotFound => "route_not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::MalformedBody(_) => "malformed_body",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Validation(_) => "validation_failed",
            ApiError::InvalidQuery(_) => "invalid_query",
            ApiError::InvalidPath(_) => "invalid_path",
            ApiError::IdempotencyKeyRequired => "idempotency_key_required",
            ApiError::IdempotencyKeyInvalid => "idempotency_key_invalid",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::IdempotencyKeyInUse => "idempotency_key_in_use",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::Timeout => "request_timeout",
            ApiError::DatabaseUnavailable => "database_unavailable",
            ApiError::NotReady(_) => "not_ready",
            ApiError::UnknownProvider(_) => "unknown_provider",
            ApiError::WebhookRejected { code } => code,
            ApiError::CapabilityUnavailable { .. } => "capability_unavailable",
            ApiError::RegistrationUnsupported(_) => "registration_unsupported",
            ApiError::VerifierUnavailable => "webhook_verifier_unavailable",
            ApiError::DeliveryNotRetryable { .. } => "delivery_not_retryable",
            ApiError::QuarantineUnreadable(_) => "quarantine_unreadable",
            ApiError::Provider(error) => error.code(),
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::ApiKeyMissing | ApiError::ApiKeyInvalid | ApiError::ApiKeyRevoked => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::WebhookRejected { .. } => StatusCode::UNAUTHORIZED,
            ApiError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } | ApiError::RouteNotFound | ApiError::UnknownProvider(_) => {
                StatusCode::NOT_FOUND
            }
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::MalformedBody(_)
            | ApiError::InvalidQuery(_)
            | ApiError::InvalidPath(_)
            | ApiError::IdempotencyKeyRequired
            | ApiError::IdempotencyKeyInvalid => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::IdempotencyKeyReused | ApiError::IdempotencyKeyInUse => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::DatabaseUnavailable
            | ApiError::NotReady(_)
            | ApiError::CapabilityUnavailable { .. }
            | ApiError::VerifierUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RegistrationUnsupported(_) => StatusCode::NOT_FOUND,
            ApiError::DeliveryNotRetryable { .. } | ApiError::ApiKeyRevokesItself => {
                StatusCode::CONFLICT
            }
            ApiError::QuarantineUnreadable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Provider(error) => provider_status(error),
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn title(&self) -> &'static str {
        self.status().canonical_reason().unwrap_or("Error")
    }

    /// What the client is told; internal errors say nothing about their cause.
    pub(crate) fn detail(&self) -> String {
        match self {
            ApiError::Internal(_) => {
                "an unexpected error occurred; the request id identifies it in the logs".into()
            }
            // A provider's message may quote the request: documents in it are masked.
            ApiError::Provider(error) => providers::mask_document_like(&error.to_string()),
            other => other.to_string(),
        }
    }

    /// The provider's own code of a refusal, kept next to the gateway's `code`.
    fn provider_code(&self) -> Option<String> {
        match self {
            ApiError::Provider(
                ProviderError::Rejected { code, .. } | ProviderError::Conflict { code, .. },
            ) => Some(code.clone()),
            ApiError::Provider(ProviderError::NotFound { code, .. }) => code.clone(),
            _ => None,
        }
    }

    fn field_problems(&self) -> Vec<FieldProblem> {
        match self {
            ApiError::Validation(problems) => problems.clone(),
            ApiError::Provider(ProviderError::Rejected { field_errors, .. }) => field_errors
                .iter()
                .map(|field| FieldProblem {
                    pointer: format!("/{}", field.param),
                    message: field.message.clone(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

fn provider_status(error: &ProviderError) -> StatusCode {
    match error {
        ProviderError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        ProviderError::Unavailable { .. }
        | ProviderError::InvalidResponse { .. }
        | ProviderError::Unauthorized { .. } => StatusCode::BAD_GATEWAY,
        ProviderError::RateLimited { .. } => StatusCode::SERVICE_UNAVAILABLE,
        ProviderError::Rejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        ProviderError::NotFound { .. } => StatusCode::NOT_FOUND,
        ProviderError::Conflict { .. } => StatusCode::CONFLICT,
    }
}

impl From<crate::keys::MissingScope> for ApiError {
    fn from(missing: crate::keys::MissingScope) -> ApiError {
        ApiError::InsufficientScope {
            scope: missing.scope,
        }
    }
}

impl From<crate::keys::AuthError> for ApiError {
    fn from(error: crate::keys::AuthError) -> ApiError {
        match error {
            crate::keys::AuthError::Invalid => ApiError::ApiKeyInvalid,
            crate::keys::AuthError::Revoked => ApiError::ApiKeyRevoked,
            crate::keys::AuthError::Storage(error) => ApiError::from(error),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> ApiError {
        if is_unavailable(&error) {
            return ApiError::DatabaseUnavailable;
        }
        ApiError::Internal(InternalCause::new("database", error))
    }
}

/// True for errors that mean "Postgres cannot be reached right now" rather than "the query is wrong".
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            // Class 08 (connection exception), 57P01-57P03 (admin shutdown, crash, cannot connect now),
            // 53300 (too many connections), 3D000 (database dropped).
            db.code().is_some_and(|code| {
                code.starts_with("08")
                    || code.starts_with("57P")
                    || code == "53300"
                    || code == "3D000"
            })
        }
        _ => false,
    }
}

/// The problem body, kept in the response's extensions until `render_problem` writes it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `https://paygate.dev/problems/<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary (the status's reason phrase).
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Human-readable explanation.
    pub detail: String,
    /// Stable machine-readable code.
    pub code: String,
    /// The request id (also in the `x-request-id` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Invalid fields, when there are any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// Seconds to wait before retrying, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// The provider's own error code, when a provider refused the request (`provider_rejected`,
    /// `provider_conflict`, `provider_not_found`), e.g. `offer_expired`. `code` stays the gateway's stable code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_code: Option<String>,
}

/// The logged cause of an error response (internal detail included), for `render_problem`.
#[derive(Debug, Clone)]
struct LoggedCause(String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match &self {
            ApiError::Provider(error) => error.retry_after().map(|d| d.as_secs().max(1)),
            ApiError::DatabaseUnavailable
            | ApiError::NotReady(_)
            | ApiError::VerifierUnavailable => Some(1),
            ApiError::IdempotencyKeyInUse => Some(1),
            _ => None,
        };
        let problem = Problem {
            problem_type: format!("https://paygate.dev/problems/{}", self.code()),
            title: self.title().to_owned(),
            status: status.as_u16(),
            detail: self.detail(),
            code: self.code().to_owned(),
            request_id: None,
            errors: self.field_problems(),
            retry_after,
            provider_code: self.provider_code(),
        };
        let mut response = problem_response(&problem);
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let ApiError::Internal(cause) = &self {
            response
                .extensions_mut()
                .insert(LoggedCause(cause.to_string()));
        }
        response.extensions_mut().insert(problem);
        response
    }
}

fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// Middleware: adds the request id to problem bodies and logs each error once, inside the request span.
pub async fn render_problem(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;
    let (mut parts, body) = response.into_parts();
    // Taken out, so that an outer `render_problem` layer does not render or log it twice.
    let Some(mut problem) = parts.extensions.remove::<Problem>() else {
        return Response::from_parts(parts, body);
    };
    match parts.extensions.remove::<LoggedCause>() {
        Some(LoggedCause(cause)) => {
            tracing::error!(code = %problem.code, error.message = %cause, "request failed")
        }
        None if problem.status >= 500 => tracing::warn!(code = %problem.code, "request failed"),
        None => tracing::info!(code = %problem.code, status = problem.status, "request rejected"),
    }
    problem.request_id = request_id;
    let rendered = problem_response(&problem);
    parts.headers.remove(header::CONTENT_LENGTH);
    let (_, body) = rendered.into_parts();
    Response::from_parts(parts, body)
}

/// Fallback for unknown routes.
pub async fn route_not_found() -> ApiError {
    ApiError::RouteNotFound
}

/// Fallback for known routes with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_distinct_code() {
        let errors = [
            ApiError::ApiKeyMissing,
            ApiError::ApiKeyRevokesItself,
            ApiError::ApiKeyInvalid,
            ApiError::ApiKeyRevoked,
            ApiError::InsufficientScope { scope: "x" },
            ApiError::NotFound {
                resource: "x".into(),
            },
            ApiError::RouteNotFound,
            ApiError::MethodNotAllowed,
            ApiError::MalformedBody("x".into()),
            ApiError::UnsupportedMediaType,
            ApiError::Validation(Vec::new()),
            ApiError::InvalidQuery("x".into()),
            ApiError::InvalidPath("x".into()),
            ApiError::IdempotencyKeyRequired,
            ApiError::IdempotencyKeyInvalid,
            ApiError::IdempotencyKeyReused,
            ApiError::IdempotencyKeyInUse,
            ApiError::PayloadTooLarge,
            ApiError::Timeout,
            ApiError::DatabaseUnavailable,
            ApiError::NotReady("x".into()),
            ApiError::UnknownProvider("x".into()),
            ApiError::CapabilityUnavailable {
                capability: "credit",
            },
            ApiError::RegistrationUnsupported("x".into()),
            ApiError::VerifierUnavailable,
            ApiError::DeliveryNotRetryable { status: "x".into() },
            ApiError::QuarantineUnreadable("x".into()),
            ApiError::Internal("x".into()),
        ];
        let mut codes: Vec<&str> = errors.iter().map(ApiError::code).collect();
        codes.sort_unstable();
        let before = codes.len();
        codes.dedup();
        assert_eq!(before, codes.len(), "duplicate codes: {codes:?}");
    }

    #[test]
    fn an_internal_error_does_not_leak_its_cause_to_the_client() {
        let error = ApiError::Internal("password authentication failed for user x".into());
        assert!(!error.detail().contains("password"));
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_provider_message_quoting_a_document_is_masked() {
        let error = ApiError::Provider(ProviderError::Conflict {
            code: "customer_already_exists".into(),
            message: "customer 529.982.247-25 already exists".into(),
        });
        assert!(
            !error.detail().contains("529.982.247-25"),
            "{}",
            error.detail()
        );
    }

    #[test]
    fn a_pool_timeout_is_reported_as_database_unavailable() {
        let error = ApiError::from(sqlx::Error::PoolTimedOut);
        assert_eq!(error.code(), "database_unavailable");
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn an_internal_errors_logged_cause_keeps_its_whole_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("connection reset")]
        struct Io;
        #[derive(Debug, thiserror::Error)]
        #[error("query failed")]
        struct Query(#[source] Io);

        let error = ApiError::Internal(InternalCause::new("database", Query(Io)));
        let response = error.into_response();
        let logged = response
            .extensions()
            .get::<LoggedCause>()
            .map(|cause| cause.0.clone());

        assert_eq!(
            logged.as_deref(),
            Some("database: query failed: connection reset")
        );
    }
}
