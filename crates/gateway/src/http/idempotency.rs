//! `Idempotency-Key` on every POST under `/v1`.
//!
//! The middleware runs after authentication, so records are scoped to the API key. It fingerprints
//! the request (method, path and query, body), claims the key in Postgres, runs the handler, and
//! stores the response: a retry with the same key and request gets the identical status, headers
//! and body (plus `idempotent-replayed: true`); the same key with another request is a 409
//! `idempotency_key_reused`; the same request while the first is still running is a 409
//! `idempotency_key_in_use`. A 5xx is not stored (the request did not take effect) and the key is
//! released so that the client may retry.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use providers::IdempotencyKey;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::crypto::{CryptoError, Keyring};
use crate::http::error::{ApiError, InternalCause};
use crate::http::state::AppState;
use crate::keys::Caller;
use crate::store::idempotency::{self, Claim, Lifetimes, StoredResponse};

/// The request header.
pub const HEADER: &str = "idempotency-key";

/// Headers of a response that are stored and replayed.
const REPLAYED_HEADERS: [&str; 2] = ["content-type", "location"];

/// Middleware; see the module docs.
pub async fn idempotent_post(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if request.method() != Method::POST {
        return Ok(next.run(request).await);
    }
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("idempotency middleware without a caller".into()))?;
    let key = match request.headers().get(HEADER) {
        None => return Err(ApiError::IdempotencyKeyRequired),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| IdempotencyKey::parse(v).ok())
            .ok_or(ApiError::IdempotencyKeyInvalid)?,
    };
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, state.settings.server.body_limit_bytes)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    // Inside the nested `/v1` router the URI lost its prefix; the original one is the request's identity.
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.clone(), |original| original.0.clone());
    let fingerprint = fingerprint(
        &parts.method,
        uri.path_and_query().map_or("", |p| p.as_str()),
        &bytes,
    );
    let lifetimes = Lifetimes {
        ttl: Duration::from_secs(u64::from(state.settings.idempotency.ttl_hours) * 3600),
        lock: Duration::from_secs(u64::from(state.settings.idempotency.in_flight_lock_secs)),
    };
    match idempotency::claim(
        &state.pool,
        caller.api_key_id,
        key.as_str(),
        &fingerprint,
        lifetimes,
    )
    .await?
    {
        Claim::Acquired => {}
        Claim::Replay(stored) => {
            metrics::counter!("paygate_idempotent_replays_total").increment(1);
            return replay(&state.keyring, stored);
        }
        Claim::InFlight => return Err(ApiError::IdempotencyKeyInUse),
        Claim::Mismatch => return Err(ApiError::IdempotencyKeyReused),
    }

    // The claim must be completed or released whatever happens to this request from here on, even if
    // the client disconnects and this future is dropped: run the handler in its own task.
    let request = Request::from_parts(parts, Body::from(bytes));
    let handler = tokio::spawn(tracing::Instrument::in_current_span(next.run(request)));
    let response = match handler.await {
        Ok(response) => response,
        Err(join_error) => {
            idempotency::release(&state.pool, caller.api_key_id, key.as_str()).await?;
            return Err(ApiError::Internal(InternalCause::new(
                "handler task failed",
                join_error,
            )));
        }
    };
    if response.status().is_server_error() {
        idempotency::release(&state.pool, caller.api_key_id, key.as_str()).await?;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(|error| {
            ApiError::Internal(InternalCause::new("reading the response body", error))
        })?;
    let stored = StoredResponse {
        status: parts.status.as_u16(),
        headers: REPLAYED_HEADERS
            .iter()
            .filter_map(|name| {
                let value = parts.headers.get(*name)?.to_str().ok()?;
                Some(((*name).to_owned(), value.to_owned()))
            })
            .collect(),
        // Sealed like every secret at rest: a stored response may show a secret once.
        body: state
            .keyring
            .encrypt(&String::from_utf8_lossy(&body))
            .map_err(|error| {
                ApiError::Internal(InternalCause::new("sealing the stored response", error))
            })?,
    };
    idempotency::complete(&state.pool, caller.api_key_id, key.as_str(), &stored).await?;
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// The request fingerprint an idempotency record is bound to: method, path and query, body.
pub fn fingerprint(method: &Method, path_and_query: &str, body: &[u8]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(path_and_query.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    hasher.finalize().to_vec()
}

fn replay(keyring: &Keyring, stored: StoredResponse) -> Result<Response, ApiError> {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    // Stored before responses were sealed: plaintext, replayed as it is until it expires.
    let body = match keyring.decrypt(&stored.body) {
        Ok(body) => body.expose_secret().to_owned(),
        Err(CryptoError::NotEncrypted) => stored.body,
        Err(error) => {
            return Err(ApiError::Internal(InternalCause::new(
                "unsealing a stored response",
                error,
            )));
        }
    };
    let mut response = (status, body.into_bytes()).into_response();
    for (name, value) in stored.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(response)
}
