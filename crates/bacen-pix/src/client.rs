//! The API Pix HTTP client: one `reqwest::Client` with the mTLS identity, the PSP's CA and a
//! timeout; OAuth2 client credentials with a cached token; one retry policy ([`retry_delay`]);
//! problem-details error mapping; and the ids that make creates idempotent.
//!
//! # Tokens
//! One token is shared by every call. It is fetched on first use (single flight: callers wait on
//! one lock), reused until 80% of its `expires_in` has passed, then renewed; a `401` from the API
//! renews it once and resends the call (a refused call did nothing, so resending is safe).
//!
//! # Idempotency
//! The spec has no idempotency header: the path id is the idempotency key. Charges are created
//! with `PUT /cob/{txid}` and refunds with `PUT /pix/{e2eid}/devolucao/{id}`, where `txid` and `id`
//! are derived from the gateway's [`IdempotencyKey`] ([`txid_for`], [`devolucao_id_for`]): a
//! retried create names the same resource, so those PUTs are retried like reads. A `PATCH` (the
//! cancellation) and anything else is sent once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderMap, Method, StatusCode};
use providers::{FieldError, IdempotencyKey, ProviderError, RegistrationError};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::config::{Config, invalid};
use crate::wire;

/// The prefix of the spec's problem type URIs.
pub const PROBLEM_TYPE_PREFIX: &str = "https://pix.bcb.gov.br/api/v2/error/";

/// A client of one PSP's API Pix, for one receiver (its Pix key). Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    api_root: String,
    token_url: String,
    client_id: String,
    client_secret: SecretString,
    receiver: String,
    charge_expiration_secs: u32,
    max_attempts: u32,
    base_delay: Duration,
    token: tokio::sync::Mutex<Option<CachedToken>>,
}

struct CachedToken {
    value: SecretString,
    renew_at: Instant,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("api_root", &self.inner.api_root)
            .field("client_id", &self.inner.client_id)
            .finish_non_exhaustive()
    }
}

/// Whether a call may be repeated after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// A read, or a PUT whose path id was chosen by the gateway.
    Safe,
    /// Sent once.
    Never,
}

/// One HTTP call to the API.
pub(crate) struct Call {
    /// The operation's name, for errors and logs.
    pub(crate) operation: &'static str,
    pub(crate) method: Method,
    /// Path after the API root, starting with `/`, its ids percent-encoded.
    pub(crate) path: String,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<Vec<u8>>,
    /// What a 404 means, e.g. `"charge"`.
    pub(crate) resource: &'static str,
    pub(crate) retry: Retry,
}

impl Call {
    /// A call with no body; a GET or a PUT is retried, anything else is not.
    pub(crate) fn new(
        operation: &'static str,
        method: Method,
        path: String,
        resource: &'static str,
    ) -> Call {
        let retry = match method {
            Method::GET | Method::PUT => Retry::Safe,
            _ => Retry::Never,
        };
        Call {
            operation,
            method,
            path,
            query: Vec::new(),
            body: None,
            resource,
            retry,
        }
    }

    /// Adds a JSON body.
    pub(crate) fn json(mut self, body: &impl Serialize) -> Result<Call, ProviderError> {
        let bytes = serde_json::to_vec(body).map_err(|error| ProviderError::InvalidResponse {
            message: format!("cannot encode the {} request: {error}", self.operation),
        })?;
        self.body = Some(bytes);
        Ok(self)
    }

    /// Adds a query parameter.
    pub(crate) fn query(mut self, name: &'static str, value: impl ToString) -> Call {
        self.query.push((name, value.to_string()));
        self
    }
}

impl Client {
    /// A client for `config`: reads the PEM files (errors name their key).
    pub fn new(config: &Config) -> Result<Client, RegistrationError> {
        let mut identity_pem = std::fs::read(config.client_cert_pem.trim())
            .map_err(|_| invalid("client_cert_pem", "a readable PEM file"))?;
        identity_pem.push(b'\n');
        identity_pem.extend(
            std::fs::read(config.client_key_pem.trim())
                .map_err(|_| invalid("client_key_pem", "a readable PEM file"))?,
        );
        let identity = reqwest::Identity::from_pem(&identity_pem).map_err(|_| {
            invalid(
                "client_cert_pem",
                "a PEM certificate whose key is in client_key_pem (PKCS#8, RSA or EC)",
            )
        })?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .identity(identity)
            .timeout(config.timeout())
            .connect_timeout(config.timeout());
        if let Some(path) = config.ca_cert_path() {
            let pem =
                std::fs::read(&path).map_err(|_| invalid("ca_cert_pem", "a readable PEM file"))?;
            let ca = reqwest::Certificate::from_pem(&pem)
                .map_err(|_| invalid("ca_cert_pem", "a PEM certificate"))?;
            builder = builder.add_root_certificate(ca);
        }
        let http = builder
            .build()
            .map_err(|error| invalid("client_cert_pem", &format!("usable for TLS ({error})")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                api_root: config.api_root().to_owned(),
                token_url: config.token_endpoint(),
                client_id: config.client_id.clone(),
                client_secret: config.client_secret.clone(),
                receiver: config.receiver.trim().to_owned(),
                charge_expiration_secs: config.charge_expiration_secs,
                max_attempts: config.retries.max_attempts.max(1),
                base_delay: Duration::from_millis(config.retries.base_delay_ms),
                token: tokio::sync::Mutex::new(None),
            }),
        })
    }

    /// The Pix key charges are created for and the webhook is registered on.
    pub fn receiver(&self) -> &str {
        &self.inner.receiver
    }

    /// Seconds an immediate charge lives.
    pub(crate) fn charge_expiration_secs(&self) -> u32 {
        self.inner.charge_expiration_secs
    }

    /// Sends `call`, retrying per [`retry_delay`]; the body of a 2xx.
    pub(crate) async fn execute(&self, call: &Call) -> Result<Vec<u8>, ProviderError> {
        let mut attempt = 0;
        loop {
            let error = match self.attempt(call).await {
                Ok(body) => return Ok(body),
                Err(error) => error,
            };
            let Some(delay) = retry_delay(
                call.retry,
                &error,
                attempt,
                self.inner.max_attempts,
                self.inner.base_delay,
            ) else {
                return Err(error);
            };
            tracing::warn!(
                operation = call.operation,
                attempt = attempt + 1,
                error.code = error.code(),
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "api pix call failed; retrying"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Sends `call` and parses the body as `T`.
    pub(crate) async fn fetch<T: DeserializeOwned>(&self, call: &Call) -> Result<T, ProviderError> {
        let body = self.execute(call).await?;
        parse_body(call.operation, &body)
    }

    /// One attempt, renewing the token once on a 401.
    async fn attempt(&self, call: &Call) -> Result<Vec<u8>, ProviderError> {
        let token = self.token(None).await?;
        match self.send(call, &token).await {
            Err(ProviderError::Unauthorized { .. }) => {
                let renewed = self.token(Some(&token)).await?;
                self.send(call, &renewed).await
            }
            outcome => outcome,
        }
    }

    async fn send(&self, call: &Call, token: &SecretString) -> Result<Vec<u8>, ProviderError> {
        let url = format!("{}{}", self.inner.api_root, call.path);
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), url)
            .bearer_auth(token.expose_secret())
            .header("accept", "application/json");
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(body) = &call.body {
            request = request
                .header("content-type", "application/json")
                .body(body.clone());
        }
        let response = request
            .send()
            .await
            .map_err(|error| transport_error(call.operation, &error))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|error| transport_error(call.operation, &error))?
            .to_vec();
        if status.is_success() {
            return Ok(body);
        }
        Err(error_from_response(status, &headers, &body, call.resource))
    }

    /// The current token; a new one when there is none, it is due for renewal, or it is `stale`
    /// (refused by the API) and nobody renewed it meanwhile.
    async fn token(&self, stale: Option<&SecretString>) -> Result<SecretString, ProviderError> {
        let mut cached = self.inner.token.lock().await;
        if let Some(current) = cached.as_ref() {
            let refused = stale.is_some_and(|stale| {
                providers::webhook::constant_time_eq(
                    stale.expose_secret().as_bytes(),
                    current.value.expose_secret().as_bytes(),
                )
            });
            if !refused && Instant::now() < current.renew_at {
                return Ok(current.value.clone());
            }
        }
        let fetched = self.fetch_token().await?;
        let lifetime = Duration::from_secs(fetched.expires_in.unwrap_or(300).max(1));
        let value: SecretString = fetched.access_token.into();
        *cached = Some(CachedToken {
            value: value.clone(),
            renew_at: Instant::now() + lifetime * 4 / 5,
        });
        Ok(value)
    }

    async fn fetch_token(&self) -> Result<wire::TokenResponse, ProviderError> {
        let response = self
            .inner
            .http
            .post(&self.inner.token_url)
            .basic_auth(
                &self.inner.client_id,
                Some(self.inner.client_secret.expose_secret()),
            )
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .map_err(|error| transport_error("oauth_token", &error))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|error| transport_error("oauth_token", &error))?;
        if status.is_success() {
            return parse_body("oauth_token", &body);
        }
        match status.as_u16() {
            400 | 401 | 403 => Err(ProviderError::Unauthorized {
                message: format!(
                    "the token endpoint refused the client credentials ({})",
                    oauth_error(&body).unwrap_or_else(|| format!("http {}", status.as_u16()))
                ),
            }),
            _ => Err(error_from_response(status, &headers, &body, "token")),
        }
    }
}

/// The `error` of an OAuth2 error answer (`invalid_client`).
fn oauth_error(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("error")?.as_str().map(str::to_owned)
}

/// The one retry policy: how long to wait before attempt `attempt + 2` (`attempt` counts the
/// retries already made), or `None` to give up.
///
/// Only [`Retry::Safe`] calls are retried, only for retryable errors (timeouts, connection
/// failures, 5xx, 429), for `max_attempts` attempts in all. The delay is
/// [`providers::retry::backoff`]'s.
pub(crate) fn retry_delay(
    retry: Retry,
    error: &ProviderError,
    attempt: u32,
    max_attempts: u32,
    base: Duration,
) -> Option<Duration> {
    if retry == Retry::Never || attempt + 1 >= max_attempts || !error.is_retryable() {
        return None;
    }
    Some(providers::retry::backoff(error, attempt, base))
}

/// A failure before a status arrived.
fn transport_error(operation: &str, error: &reqwest::Error) -> ProviderError {
    if error.is_timeout() {
        return ProviderError::Timeout {
            operation: operation.to_owned(),
        };
    }
    let kind = match (error.is_connect(), error.is_body(), error.is_request()) {
        (true, _, _) => "connection failed",
        (_, true, _) => "body interrupted",
        (_, _, true) => "request failed",
        _ => "transport error",
    };
    ProviderError::Unavailable {
        status: None,
        message: format!("{operation}: cannot reach the psp ({kind})"),
    }
}

/// Maps a non-2xx answer. The code is the last segment of the problem's type URI
/// (`https://pix.bcb.gov.br/api/v2/error/CobOperacaoInvalida` → `CobOperacaoInvalida`), or
/// `http_{status}` without one; `violacoes` become field errors.
pub(crate) fn error_from_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    resource: &str,
) -> ProviderError {
    let problem: wire::Problem = serde_json::from_slice(body).unwrap_or_default();
    let code = problem
        .kind
        .as_deref()
        .map(|kind| kind.strip_prefix(PROBLEM_TYPE_PREFIX).unwrap_or(kind))
        .map(|kind| kind.rsplit('/').next().unwrap_or(kind).to_owned())
        .filter(|kind| !kind.is_empty())
        .unwrap_or_else(|| format!("http_{}", status.as_u16()));
    let text = problem
        .detail
        .clone()
        .or(problem.title.clone())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    let message = match &problem.correlation_id {
        Some(id) => format!("{text} (correlationId {id})"),
        None => text,
    };
    match status.as_u16() {
        401 | 403 => ProviderError::Unauthorized { message },
        404 => ProviderError::NotFound {
            resource: resource.to_owned(),
            code: Some(code),
        },
        409 => ProviderError::Conflict { code, message },
        429 => ProviderError::RateLimited {
            retry_after: headers
                .get("retry-after")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| providers::retry_after(value, chrono::Utc::now())),
        },
        500..=599 => ProviderError::Unavailable {
            status: Some(status.as_u16()),
            message,
        },
        _ => {
            let field_errors: Vec<FieldError> = problem
                .violacoes
                .into_iter()
                .map(|violation| FieldError {
                    param: violation.propriedade.unwrap_or_default(),
                    message: violation.razao.unwrap_or_default(),
                    code: None,
                })
                .collect();
            ProviderError::Rejected {
                status: status.as_u16(),
                code,
                message,
                param: field_errors.first().map(|error| error.param.clone()),
                field_errors,
            }
        }
    }
}

pub(crate) fn parse_body<T: DeserializeOwned>(
    operation: &str,
    body: &[u8],
) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|error| ProviderError::InvalidResponse {
        message: format!(
            "{operation}: unreadable answer at line {} column {} ({:?})",
            error.line(),
            error.column(),
            error.classify()
        ),
    })
}

/// The `txid` of the charge created under `key`: 35 characters, `pg` and 33 hex digits of the
/// SHA-256 of the key (the spec's `[a-zA-Z0-9]{26,35}`). The same key always names the same cob.
pub fn txid_for(key: &IdempotencyKey) -> String {
    let digest = hex::encode(Sha256::digest(format!("cob:{}", key.as_str())));
    format!("pg{}", digest.get(..33).unwrap_or_default())
}

/// The refund `id` of the refund made under `key`: 32 hex digits of the SHA-256 of the key (the
/// spec's `[a-zA-Z0-9]{1,35}`).
pub fn devolucao_id_for(key: &IdempotencyKey) -> String {
    let digest = hex::encode(Sha256::digest(format!("devolucao:{}", key.as_str())));
    digest.get(..32).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::time::Duration;

    use http::{HeaderMap, StatusCode};
    use providers::{IdempotencyKey, ProviderError};

    use crate::client::{Retry, devolucao_id_for, error_from_response, retry_delay, txid_for};

    #[test]
    fn derived_ids_are_stable_per_key_and_follow_the_spec_patterns() {
        let key = IdempotencyKey::parse("order-42/charge").unwrap();
        let txid = txid_for(&key);
        assert_eq!(txid, txid_for(&key));
        assert_eq!(txid.len(), 35);
        assert!(txid.bytes().all(|byte| byte.is_ascii_alphanumeric()));
        let other = IdempotencyKey::parse("order-43/charge").unwrap();
        assert_ne!(txid, txid_for(&other));
        let refund = devolucao_id_for(&key);
        assert_eq!(refund.len(), 32);
        assert!(refund.bytes().all(|byte| byte.is_ascii_alphanumeric()));
        assert_ne!(refund, txid.get(2..34).unwrap());
    }

    #[test]
    fn only_safe_calls_are_retried_within_the_attempt_budget() {
        let unavailable = ProviderError::Unavailable {
            status: Some(503),
            message: "down".to_owned(),
        };
        let base = Duration::from_millis(10);
        assert!(retry_delay(Retry::Safe, &unavailable, 0, 3, base).is_some());
        assert!(retry_delay(Retry::Safe, &unavailable, 1, 3, base).is_some());
        assert!(retry_delay(Retry::Safe, &unavailable, 2, 3, base).is_none());
        assert!(retry_delay(Retry::Never, &unavailable, 0, 3, base).is_none());
        let rejected = error_from_response(StatusCode::BAD_REQUEST, &HeaderMap::new(), b"", "x");
        assert!(retry_delay(Retry::Safe, &rejected, 0, 3, base).is_none());
    }

    #[test]
    fn problem_details_map_to_provider_errors_with_the_spec_code() {
        let body = br#"{"type":"https://pix.bcb.gov.br/api/v2/error/CobOperacaoInvalida","title":"Cobranca invalida.","status":400,"detail":"A cobranca nao respeita o schema.","violacoes":[{"razao":"O campo cob.valor.original nao respeita o schema.","propriedade":"cob.valor.original"}]}"#;
        let error = error_from_response(StatusCode::BAD_REQUEST, &HeaderMap::new(), body, "charge");
        let ProviderError::Rejected {
            status,
            code,
            param,
            field_errors,
            ..
        } = error
        else {
            panic!("not rejected: {error:?}");
        };
        assert_eq!(status, 400);
        assert_eq!(code, "CobOperacaoInvalida");
        assert_eq!(param.as_deref(), Some("cob.valor.original"));
        assert_eq!(field_errors.len(), 1);
        let not_found = error_from_response(
            StatusCode::NOT_FOUND,
            &HeaderMap::new(),
            br#"{"type":"https://pix.bcb.gov.br/api/v2/error/NaoEncontrado","title":"Nao Encontrado","status":404}"#,
            "charge",
        );
        assert_eq!(
            not_found,
            ProviderError::NotFound {
                resource: "charge".to_owned(),
                code: Some("NaoEncontrado".to_owned())
            }
        );
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "7".parse().unwrap());
        let limited = error_from_response(StatusCode::TOO_MANY_REQUESTS, &headers, b"", "charge");
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
        for (status, code) in [
            (StatusCode::UNAUTHORIZED, "provider_unauthorized"),
            (StatusCode::FORBIDDEN, "provider_unauthorized"),
            (StatusCode::CONFLICT, "provider_conflict"),
            (StatusCode::UNPROCESSABLE_ENTITY, "provider_rejected"),
            (StatusCode::SERVICE_UNAVAILABLE, "provider_unavailable"),
            (StatusCode::INTERNAL_SERVER_ERROR, "provider_unavailable"),
        ] {
            let error = error_from_response(status, &HeaderMap::new(), b"", "charge");
            assert_eq!(error.code(), code, "{status}");
        }
    }
}
