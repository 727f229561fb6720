//! The HTTP transport: one `reqwest::Client` with a timeout, bearer tokens from the shared
//! [`TokenCache`], one retry policy ([`retry_delay`]), the `X-RateLimit-*` gate, and the mapping of
//! Dinie's problem+json errors to [`ProviderError`].
//!
//! Retry rules: only idempotent calls are retried ([`Retry::Safe`] reads and deletes,
//! [`Retry::Keyed`] creates, whose `Idempotency-Key` is the same on every attempt), on timeouts,
//! connection failures, 408, 5xx and 429, with exponential backoff and jitter; a 429's
//! `Retry-After` (or `X-RateLimit-Reset`) wins when it is within `max_retry_after_secs`. A
//! `401 token_expired` renews the token once and repeats the call, whatever the call. Every call is
//! bounded by `total_timeout_ms`.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use http::{HeaderMap, Method, StatusCode};
use providers::{FieldError, IdempotencyKey, ProviderError};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::{Config, RetryConfig};
use crate::oauth::{IssuedToken, TokenCache};
use crate::wire;

/// Whether, and how, a call may be repeated.
#[derive(Debug, Clone)]
pub(crate) enum Retry {
    /// A read or a delete: repeating it changes nothing.
    Safe,
    /// A create sent with this `Idempotency-Key`, the same on every attempt.
    Keyed(IdempotencyKey),
    /// Never repeated (a partial update).
    Never,
}

/// The body of a call.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Empty,
    Json(Vec<u8>),
    /// A `multipart/form-data` body built once, so that every attempt sends the same bytes.
    Multipart {
        content_type: String,
        bytes: Vec<u8>,
    },
}

/// One logical call to Dinie.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// The operation, for errors and logs (`create_customer`).
    pub(crate) operation: &'static str,
    pub(crate) method: Method,
    /// The path after the base URL, e.g. `/customers/cust_1`.
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: Body,
    pub(crate) retry: Retry,
    /// What a 404 is about (`customer`).
    pub(crate) resource: &'static str,
}

impl Call {
    pub(crate) fn new(
        operation: &'static str,
        method: Method,
        path: String,
        resource: &'static str,
    ) -> Call {
        let retry = match method {
            Method::GET | Method::DELETE | Method::HEAD => Retry::Safe,
            _ => Retry::Never,
        };
        Call {
            operation,
            method,
            path,
            query: Vec::new(),
            body: Body::Empty,
            retry,
            resource,
        }
    }

    pub(crate) fn json(mut self, body: &impl serde::Serialize) -> Result<Call, ProviderError> {
        let bytes = serde_json::to_vec(body).map_err(|error| ProviderError::InvalidResponse {
            message: format!("cannot encode the {} request: {error}", self.operation),
        })?;
        self.body = Body::Json(bytes);
        Ok(self)
    }

    pub(crate) fn keyed(mut self, key: &IdempotencyKey) -> Call {
        self.retry = Retry::Keyed(key.clone());
        self
    }

    pub(crate) fn query(mut self, name: &str, value: impl Into<String>) -> Call {
        self.query.push((name.to_owned(), value.into()));
        self
    }
}

/// Why an attempt failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No answer in time.
    Timeout,
    /// No connection.
    Connect,
    /// A 408 or 5xx.
    Server,
    /// A 429, with the wait the server asked for.
    RateLimited(Option<Duration>),
    /// Anything else: the same request gets the same answer.
    Final,
}

/// The retry policy, in one place: how long to wait before attempt `attempts + 1`, or `None` to
/// give up. `jitter` is a random number; the backoff is `base × 2^(attempts − 1)`, capped, of which
/// a random half is kept ("equal jitter").
pub(crate) fn retry_delay(
    policy: &RetryConfig,
    retry: &Retry,
    attempts: u32,
    failure: Failure,
    jitter: u64,
) -> Option<Duration> {
    if matches!(retry, Retry::Never) || attempts >= policy.max_attempts {
        return None;
    }
    let exponent = attempts.saturating_sub(1).min(20);
    let backoff = policy
        .base_delay_ms
        .saturating_mul(1_u64 << exponent)
        .min(policy.max_delay_ms);
    let half = backoff / 2;
    let jittered = Duration::from_millis(half + jitter % (backoff - half + 1));
    match failure {
        Failure::Timeout | Failure::Connect | Failure::Server => Some(jittered),
        Failure::RateLimited(Some(wait)) => {
            match wait <= Duration::from_secs(policy.max_retry_after_secs) {
                true => Some(wait),
                false => None,
            }
        }
        Failure::RateLimited(None) => Some(jittered),
        Failure::Final => None,
    }
}

/// The shared transport of a client.
pub(crate) struct Transport {
    http: reqwest::Client,
    base_url: String,
    client_id: String,
    client_secret: SecretString,
    retries: RetryConfig,
    total_timeout: Duration,
    tokens: TokenCache,
    /// Until when the rate-limit window is exhausted (`X-RateLimit-Remaining: 0`).
    blocked_until: Mutex<Option<Instant>>,
}

impl Transport {
    pub(crate) fn new(config: &Config) -> Result<Transport, String> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let parsed = url::Url::parse(&base_url)
            .map_err(|error| format!("base_url is not a URL: {error}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("base_url must be an http(s) URL".to_owned());
        }
        if config.client_id.trim().is_empty() {
            return Err("client_id must not be empty".to_owned());
        }
        if config.client_secret.expose_secret().is_empty() {
            return Err("client_secret must not be empty".to_owned());
        }
        if config.timeout_ms == 0 || config.total_timeout_ms == 0 {
            return Err("timeout_ms and total_timeout_ms must be positive".to_owned());
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout())
            .connect_timeout(config.timeout())
            .user_agent(concat!(
                "paygate/",
                env!("CARGO_PKG_VERSION"),
                " api-version=2026-03-01"
            ))
            .build()
            .map_err(|error| format!("cannot build the HTTP client: {error}"))?;
        Ok(Transport {
            http,
            base_url,
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            retries: config.retries.clone(),
            total_timeout: config.total_timeout(),
            tokens: TokenCache::default(),
            blocked_until: Mutex::new(None),
        })
    }

    /// Runs a call and parses its JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: Call) -> Result<T, ProviderError> {
        let operation = call.operation;
        let body = self.send(call).await?;
        serde_json::from_slice(&body).map_err(|error| ProviderError::InvalidResponse {
            message: format!(
                "{operation}: unexpected body ({:?} at line {} column {})",
                error.classify(),
                error.line(),
                error.column()
            ),
        })
    }

    /// Runs a call (with retries, token renewal and the total timeout) and returns the body of its
    /// 2xx answer.
    pub(crate) async fn send(&self, call: Call) -> Result<Bytes, ProviderError> {
        let operation = call.operation;
        match tokio::time::timeout(self.total_timeout, self.send_with_retries(&call)).await {
            Ok(result) => result,
            Err(_) => Err(ProviderError::Timeout {
                operation: operation.to_owned(),
            }),
        }
    }

    async fn send_with_retries(&self, call: &Call) -> Result<Bytes, ProviderError> {
        let mut attempts = 0_u32;
        let mut renewed = false;
        loop {
            self.wait_for_rate_window().await;
            let token = self.tokens.token(|| self.fetch_token()).await?;
            attempts += 1;
            let outcome = self.attempt(call, Some(&token)).await;
            let (error, failure) = match outcome {
                Ok(body) => return Ok(body),
                Err(Attempted::TokenExpired(error)) => {
                    if renewed {
                        return Err(error);
                    }
                    tracing::info!(operation = call.operation, "Dinie token expired; renewing");
                    self.tokens.invalidate(&token).await;
                    renewed = true;
                    attempts -= 1;
                    continue;
                }
                Err(Attempted::Failed(error, failure)) => (error, failure),
            };
            let jitter = rand::rng().random::<u64>();
            match retry_delay(&self.retries, &call.retry, attempts, failure, jitter) {
                Some(delay) => {
                    tracing::warn!(
                        operation = call.operation,
                        attempt = attempts,
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        error.message = %error,
                        "retrying a Dinie call"
                    );
                    tokio::time::sleep(delay).await;
                }
                None => return Err(error),
            }
        }
    }

    /// `POST /auth/token` with HTTP Basic, retried like a safe call.
    async fn fetch_token(&self) -> Result<IssuedToken, ProviderError> {
        let call = Call {
            operation: "create_token",
            method: Method::POST,
            path: "/auth/token".to_owned(),
            query: Vec::new(),
            body: Body::Empty,
            retry: Retry::Safe,
            resource: "token",
        };
        let mut attempts = 0_u32;
        loop {
            attempts += 1;
            let (error, failure) = match self.attempt(&call, None).await {
                Ok(body) => return parse_token(&body),
                Err(Attempted::TokenExpired(error)) => (error, Failure::Final),
                Err(Attempted::Failed(error, failure)) => (error, failure),
            };
            let jitter = rand::rng().random::<u64>();
            match retry_delay(&self.retries, &call.retry, attempts, failure, jitter) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(error),
            }
        }
    }

    async fn attempt(&self, call: &Call, token: Option<&SecretString>) -> Result<Bytes, Attempted> {
        let url = format!("{}{}", self.base_url, call.path);
        let mut request = self.http.request(call.method.clone(), &url);
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        request = match token {
            Some(token) => request.bearer_auth(token.expose_secret()),
            None => request
                .basic_auth(&self.client_id, Some(self.client_secret.expose_secret()))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials"),
        };
        if let Retry::Keyed(key) = &call.retry {
            request = request.header("idempotency-key", key.as_str());
        }
        request = match &call.body {
            Body::Empty => request,
            Body::Json(bytes) => request
                .header("content-type", "application/json")
                .body(bytes.clone()),
            Body::Multipart {
                content_type,
                bytes,
            } => request
                .header("content-type", content_type)
                .body(bytes.clone()),
        };
        let response = match request.header("accept", "application/json").send().await {
            Ok(response) => response,
            Err(error) => return Err(transport_error(call, &error)),
        };
        let status = response.status();
        let headers = response.headers().clone();
        self.observe_rate_headers(&headers).await;
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => return Err(transport_error(call, &error)),
        };
        if status.is_success() {
            return Ok(body);
        }
        let problem: wire::ProblemBody = serde_json::from_slice(&body).unwrap_or_default();
        if status == StatusCode::UNAUTHORIZED
            && token.is_some()
            && problem.code.as_deref() == Some("token_expired")
        {
            return Err(Attempted::TokenExpired(map_problem(
                call, status, &headers, problem,
            )));
        }
        let failure = match status.as_u16() {
            408 | 500..=599 => Failure::Server,
            429 => Failure::RateLimited(retry_after(&headers)),
            _ => Failure::Final,
        };
        Err(Attempted::Failed(
            map_problem(call, status, &headers, problem),
            failure,
        ))
    }

    async fn observe_rate_headers(&self, headers: &HeaderMap) {
        let remaining = header_u64(headers, "x-ratelimit-remaining");
        if remaining != Some(0) {
            return;
        }
        let Some(wait) = reset_wait(headers) else {
            return;
        };
        let cap = Duration::from_secs(self.retries.max_retry_after_secs);
        *self.blocked_until.lock().await = Some(Instant::now() + wait.min(cap));
    }

    async fn wait_for_rate_window(&self) {
        let until = *self.blocked_until.lock().await;
        if let Some(until) = until
            && until > Instant::now()
        {
            tracing::info!("Dinie rate-limit window exhausted; waiting for its reset");
            tokio::time::sleep_until(until).await;
        }
    }
}

/// An attempt's failure: a token Dinie says expired (renew and repeat), or anything else.
enum Attempted {
    TokenExpired(ProviderError),
    Failed(ProviderError, Failure),
}

fn transport_error(call: &Call, error: &reqwest::Error) -> Attempted {
    if error.is_timeout() {
        return Attempted::Failed(
            ProviderError::Timeout {
                operation: call.operation.to_owned(),
            },
            Failure::Timeout,
        );
    }
    Attempted::Failed(
        ProviderError::Unavailable {
            status: None,
            message: format!("{}: cannot reach Dinie: {error}", call.operation),
        },
        Failure::Connect,
    )
}

fn parse_token(body: &[u8]) -> Result<IssuedToken, ProviderError> {
    let token: wire::Token =
        serde_json::from_slice(body).map_err(|_| ProviderError::InvalidResponse {
            message: "create_token: the token answer is not {access_token, token_type, expires_in}"
                .to_owned(),
        })?;
    if !token.token_type.eq_ignore_ascii_case("bearer") {
        return Err(ProviderError::InvalidResponse {
            message: "create_token: token_type is not bearer".to_owned(),
        });
    }
    Ok(IssuedToken {
        value: SecretString::from(token.access_token),
        expires_in: Duration::from_secs(token.expires_in),
    })
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// How long until `X-RateLimit-Reset` (Unix seconds).
fn reset_wait(headers: &HeaderMap) -> Option<Duration> {
    let reset = i64::try_from(header_u64(headers, "x-ratelimit-reset")?).ok()?;
    let seconds = reset - Utc::now().timestamp();
    Some(Duration::from_secs(u64::try_from(seconds.max(0)).ok()?))
}

/// `Retry-After` as delta-seconds or an HTTP-date; else `X-RateLimit-Reset`.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let Some(value) = headers
        .get(http::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
    else {
        return reset_wait(headers);
    };
    providers::retry_after(value, Utc::now())
}

/// Maps a non-2xx answer to a [`ProviderError`], keeping Dinie's `code`, `param` and field errors.
fn map_problem(
    call: &Call,
    status: StatusCode,
    headers: &HeaderMap,
    problem: wire::ProblemBody,
) -> ProviderError {
    let code = problem
        .code
        .clone()
        .unwrap_or_else(|| status.as_u16().to_string());
    let message = problem
        .detail
        .clone()
        .or(problem.title.clone())
        .unwrap_or_else(|| status.to_string());
    match status.as_u16() {
        401 | 403 => ProviderError::Unauthorized {
            message: format!("{} ({code}): {message}", call.operation),
        },
        404 => ProviderError::NotFound {
            resource: call.resource.to_owned(),
            code: Some(code),
        },
        408 => ProviderError::Timeout {
            operation: call.operation.to_owned(),
        },
        409 => ProviderError::Conflict { code, message },
        429 => ProviderError::RateLimited {
            retry_after: retry_after(headers),
        },
        500..=599 => ProviderError::Unavailable {
            status: Some(status.as_u16()),
            message: format!("{}: Dinie answered {status}", call.operation),
        },
        _ => ProviderError::Rejected {
            status: status.as_u16(),
            code,
            message,
            param: problem.param,
            field_errors: problem
                .errors
                .into_iter()
                .map(|field| FieldError {
                    param: field.param.unwrap_or_default(),
                    message: field.detail.unwrap_or_default(),
                    code: field.code,
                })
                .collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::{HeaderMap, HeaderValue, Method, StatusCode};
    use providers::{IdempotencyKey, ProviderError};

    use crate::config::RetryConfig;
    use crate::http::{Call, Failure, Retry, map_problem, retry_after, retry_delay};
    use crate::wire::ProblemBody;

    fn policy() -> RetryConfig {
        RetryConfig {
            max_attempts: 4,
            base_delay_ms: 100,
            max_delay_ms: 300,
            max_retry_after_secs: 30,
        }
    }

    #[test]
    fn only_idempotent_calls_are_retried() {
        let key = Retry::Keyed(IdempotencyKey::parse("k1").unwrap());
        for retry in [Retry::Safe, key] {
            assert!(retry_delay(&policy(), &retry, 1, Failure::Server, 0).is_some());
            assert!(retry_delay(&policy(), &retry, 1, Failure::Timeout, 0).is_some());
            assert!(retry_delay(&policy(), &retry, 1, Failure::Connect, 0).is_some());
            assert!(retry_delay(&policy(), &retry, 1, Failure::Final, 0).is_none());
        }
        for failure in [
            Failure::Server,
            Failure::Timeout,
            Failure::RateLimited(None),
        ] {
            assert_eq!(retry_delay(&policy(), &Retry::Never, 1, failure, 0), None);
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let delay = |attempts, jitter| {
            retry_delay(&policy(), &Retry::Safe, attempts, Failure::Server, jitter).unwrap()
        };
        assert_eq!(delay(1, 0), Duration::from_millis(50));
        assert_eq!(delay(1, 50), Duration::from_millis(100));
        assert_eq!(delay(2, 0), Duration::from_millis(100));
        assert_eq!(delay(2, 100), Duration::from_millis(200));
        assert_eq!(delay(3, 150), Duration::from_millis(300));
        for jitter in [0, 7, 1_000, u64::MAX] {
            let value = delay(3, jitter);
            assert!(value >= Duration::from_millis(150) && value <= Duration::from_millis(300));
        }
        assert_eq!(
            retry_delay(&policy(), &Retry::Safe, 4, Failure::Server, 0),
            None
        );
    }

    #[test]
    fn retry_after_wins_within_its_cap() {
        let wait = Failure::RateLimited(Some(Duration::from_secs(7)));
        assert_eq!(
            retry_delay(&policy(), &Retry::Safe, 1, wait, 0),
            Some(Duration::from_secs(7))
        );
        let too_long = Failure::RateLimited(Some(Duration::from_secs(31)));
        assert_eq!(retry_delay(&policy(), &Retry::Safe, 1, too_long, 0), None);
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_an_http_date() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("12"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(12)));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    fn problem(json: &str) -> ProblemBody {
        serde_json::from_str(json).unwrap()
    }

    fn call() -> Call {
        Call::new(
            "create_customer",
            Method::POST,
            "/customers".into(),
            "customer",
        )
    }

    #[test]
    fn a_validation_problem_keeps_code_param_and_field_errors() {
        let error = map_problem(
            &call(),
            StatusCode::UNPROCESSABLE_ENTITY,
            &HeaderMap::new(),
            problem(
                r#"{"type":"https://api.dinie.com.br/errors/validation-failed","title":"Validation Failed","status":422,
                   "detail":"One or more fields failed validation.","code":"invalid_cpf","param":"cpf",
                   "errors":[{"param":"cpf","detail":"The CPF is not valid.","code":"invalid_cpf"}]}"#,
            ),
        );
        let ProviderError::Rejected {
            status,
            code,
            param,
            field_errors,
            ..
        } = error
        else {
            panic!("expected Rejected, got {error:?}");
        };
        assert_eq!((status, code.as_str()), (422, "invalid_cpf"));
        assert_eq!(param.as_deref(), Some("cpf"));
        assert_eq!(field_errors[0].param, "cpf");
        assert_eq!(field_errors[0].code.as_deref(), Some("invalid_cpf"));
    }

    #[test]
    fn each_status_maps_to_its_provider_error() {
        let cases = [
            (400, "provider_rejected"),
            (401, "provider_unauthorized"),
            (403, "provider_unauthorized"),
            (404, "provider_not_found"),
            (408, "provider_timeout"),
            (409, "provider_conflict"),
            (422, "provider_rejected"),
            (429, "provider_rate_limited"),
            (500, "provider_unavailable"),
            (503, "provider_unavailable"),
        ];
        for (status, expected) in cases {
            let error = map_problem(
                &call(),
                StatusCode::from_u16(status).unwrap(),
                &HeaderMap::new(),
                problem(r#"{"code":"x","detail":"y"}"#),
            );
            assert_eq!(error.code(), expected, "{status}");
        }
        let conflict = map_problem(
            &call(),
            StatusCode::CONFLICT,
            &HeaderMap::new(),
            problem(r#"{"code":"customer_already_exists","detail":"exists"}"#),
        );
        assert_eq!(
            conflict,
            ProviderError::Conflict {
                code: "customer_already_exists".into(),
                message: "exists".into()
            }
        );
    }
}
