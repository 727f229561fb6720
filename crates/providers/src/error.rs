//! [`ProviderError`]: how every capability method reports a failed provider call.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A failed call to a provider, classified so the gateway can decide whether to retry and which
/// stable problem code to answer with.
///
/// The `message` fields carry the provider's own text for operators. It may quote request data:
/// the gateway logs it and must not forward it to its clients verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// No response within the configured timeout. Kept apart from [`ProviderError::Unavailable`]
    /// because the call may have taken effect, and because it changes backoff.
    #[error("provider timed out during {operation}")]
    Timeout {
        /// What was being done, e.g. `"create_charge"`.
        operation: String,
    },
    /// The provider could not be reached or answered with a server error (5xx).
    #[error("provider is unavailable: {message}")]
    Unavailable {
        /// The HTTP status, if a response arrived.
        status: Option<u16>,
        /// What went wrong (connection refused, the status line...).
        message: String,
    },
    /// The provider throttled us (429).
    #[error("provider rate limit exceeded")]
    RateLimited {
        /// How long the provider asked us to wait, from `Retry-After` or an equivalent.
        retry_after: Option<Duration>,
    },
    /// The provider refused our credentials (401/403, or the token endpoint refused us).
    #[error("provider refused our credentials: {message}")]
    Unauthorized {
        /// The provider's explanation.
        message: String,
    },
    /// The provider refused the request itself (4xx validation or business rule). Retrying the same
    /// request gives the same answer.
    #[error("provider rejected the request ({code}): {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The provider's error code, or the status as text when it sends none.
        code: String,
        /// The provider's explanation.
        message: String,
        /// The request field at fault, when the provider names one.
        param: Option<String>,
        /// Per-field errors, when the provider lists them.
        field_errors: Vec<FieldError>,
    },
    /// The resource does not exist at the provider (404).
    #[error("provider has no such {resource}")]
    NotFound {
        /// What was looked up, e.g. `"loan"`.
        resource: String,
        /// The provider's own code for the answer, when it gave one (`http_401` when it gave only
        /// a status), kept for the caller next to the gateway's `provider_not_found`.
        code: Option<String>,
    },
    /// The request conflicts with the resource's state or with an earlier request under the same
    /// idempotency key (409).
    #[error("provider reported a conflict ({code}): {message}")]
    Conflict {
        /// The provider's error code.
        code: String,
        /// The provider's explanation.
        message: String,
    },
    /// The provider answered with something we cannot interpret: unparseable body, a missing field,
    /// an unknown status value. Never guessed around.
    #[error("provider sent an invalid response: {message}")]
    InvalidResponse {
        /// What was wrong with the response (no PII: name the field, not its value).
        message: String,
    },
}

/// One field-level error reported by a provider with [`ProviderError::Rejected`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldError {
    /// The request field, in the gateway's naming when the provider crate can map it.
    pub param: String,
    /// The provider's explanation.
    pub message: String,
    /// The provider's code for this error, if any.
    pub code: Option<String>,
}

impl ProviderError {
    /// A stable `snake_case` code, unique per variant, e.g. `provider_timeout`.
    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::Timeout { .. } => "provider_timeout",
            ProviderError::Unavailable { .. } => "provider_unavailable",
            ProviderError::RateLimited { .. } => "provider_rate_limited",
            ProviderError::Unauthorized { .. } => "provider_unauthorized",
            ProviderError::Rejected { .. } => "provider_rejected",
            ProviderError::NotFound { .. } => "provider_not_found",
            ProviderError::Conflict { .. } => "provider_conflict",
            ProviderError::InvalidResponse { .. } => "provider_invalid_response",
        }
    }

    /// Whether the same request may succeed later: timeouts, unavailability and rate limiting.
    /// Retrying a create is only safe with the same idempotency key.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Timeout { .. }
            | ProviderError::Unavailable { .. }
            | ProviderError::RateLimited { .. } => true,
            ProviderError::Unauthorized { .. }
            | ProviderError::Rejected { .. }
            | ProviderError::NotFound { .. }
            | ProviderError::Conflict { .. }
            | ProviderError::InvalidResponse { .. } => false,
        }
    }

    /// How long the provider asked us to wait before retrying, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::RateLimited { retry_after } => *retry_after,
            ProviderError::Timeout { .. }
            | ProviderError::Unavailable { .. }
            | ProviderError::Unauthorized { .. }
            | ProviderError::Rejected { .. }
            | ProviderError::NotFound { .. }
            | ProviderError::Conflict { .. }
            | ProviderError::InvalidResponse { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use crate::error::{FieldError, ProviderError};

    /// One value of every variant; the exhaustive match makes a new variant fail to compile here.
    fn one_of_each() -> Vec<ProviderError> {
        let all = vec![
            ProviderError::Timeout {
                operation: "create_charge".to_owned(),
            },
            ProviderError::Unavailable {
                status: Some(503),
                message: "service unavailable".to_owned(),
            },
            ProviderError::RateLimited {
                retry_after: Some(Duration::from_secs(30)),
            },
            ProviderError::Unauthorized {
                message: "invalid client".to_owned(),
            },
            ProviderError::Rejected {
                status: 422,
                code: "invalid_document".to_owned(),
                message: "document is invalid".to_owned(),
                param: Some("document".to_owned()),
                field_errors: vec![FieldError {
                    param: "document".to_owned(),
                    message: "invalid".to_owned(),
                    code: None,
                }],
            },
            ProviderError::NotFound {
                resource: "loan".to_owned(),
                code: None,
            },
            ProviderError::Conflict {
                code: "idempotency_conflict".to_owned(),
                message: "key reused with another body".to_owned(),
            },
            ProviderError::InvalidResponse {
                message: "unknown loan status".to_owned(),
            },
        ];
        for error in &all {
            match error {
                ProviderError::Timeout { .. }
                | ProviderError::Unavailable { .. }
                | ProviderError::RateLimited { .. }
                | ProviderError::Unauthorized { .. }
                | ProviderError::Rejected { .. }
                | ProviderError::NotFound { .. }
                | ProviderError::Conflict { .. }
                | ProviderError::InvalidResponse { .. } => {}
            }
        }
        all
    }

    #[test]
    fn codes_are_unique_stable_snake_case() {
        let errors = one_of_each();
        let codes: HashSet<&str> = errors.iter().map(ProviderError::code).collect();
        assert_eq!(codes.len(), errors.len());
        for code in codes {
            assert!(code.starts_with("provider_"), "{code}");
            assert!(
                code.bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte == b'_'),
                "{code}"
            );
        }
        assert_eq!(errors[0].code(), "provider_timeout");
        assert_eq!(errors[7].code(), "provider_invalid_response");
    }

    #[test]
    fn only_timeouts_unavailability_and_rate_limits_are_retryable() {
        let retryable: Vec<&str> = one_of_each()
            .iter()
            .filter(|error| error.is_retryable())
            .map(ProviderError::code)
            .collect();
        assert_eq!(
            retryable,
            [
                "provider_timeout",
                "provider_unavailable",
                "provider_rate_limited"
            ]
        );
    }

    #[test]
    fn retry_after_comes_only_from_rate_limits() {
        let delays: Vec<Option<Duration>> = one_of_each()
            .iter()
            .map(ProviderError::retry_after)
            .collect();
        assert_eq!(delays[2], Some(Duration::from_secs(30)));
        assert_eq!(delays.iter().filter(|delay| delay.is_some()).count(), 1);
        let unspecified = ProviderError::RateLimited { retry_after: None };
        assert_eq!(unspecified.retry_after(), None);
    }

    #[test]
    fn messages_are_lowercase_without_trailing_period() {
        for error in one_of_each() {
            let message = error.to_string();
            assert!(message.starts_with("provider "), "{message}");
            assert!(!message.ends_with('.'), "{message}");
        }
    }

    #[test]
    fn field_errors_serialize() {
        let field_error = FieldError {
            param: "amount".to_owned(),
            message: "too large".to_owned(),
            code: Some("max".to_owned()),
        };
        let json = serde_json::to_value(&field_error).unwrap();
        assert_eq!(json["param"], "amount");
        let back: FieldError = serde_json::from_value(json).unwrap();
        assert_eq!(back, field_error);
    }
}
