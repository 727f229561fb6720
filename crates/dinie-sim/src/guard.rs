//! The middleware in front of every `/v3` route, outermost first:
//! 1. `limit_and_inject`: the rate-limit window (`X-RateLimit-*` on every answer, 429 past the
//!    limit), forced faults, and the request log;
//! 2. `authenticate`: `Authorization: Bearer dinie_at_…` on everything but `/auth/token`;
//! 3. `idempotent`: the 24-hour idempotency cache of POSTs, per partner and key, replayed byte for
//!    byte; the same key with another request is `409 idempotency_key_reused`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::problem::Problem;
use crate::{Cached, Fault, RecordedRequest, Sim};

/// The partner a bearer token belongs to, put in request extensions by `authenticate`.
#[derive(Debug, Clone)]
pub(crate) struct Partner(pub(crate) String);

/// How long a cached idempotent answer is replayed.
const IDEMPOTENCY_TTL: chrono::Duration = chrono::Duration::hours(24);
/// How long an unfinished request holds its key.
const IN_FLIGHT_TTL: chrono::Duration = chrono::Duration::seconds(60);

/// The idempotency key of a request: `Idempotency-Key` ([D]) or `X-Idempotency-Key` ([S]).
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    ["idempotency-key", "x-idempotency-key"]
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok().map(str::to_owned))
}

fn matches(fault: &Fault, method: &str, path: &str) -> bool {
    fault.times != Some(0)
        && fault
            .method
            .as_deref()
            .is_none_or(|wanted| wanted.eq_ignore_ascii_case(method))
        && fault
            .path_prefix
            .as_deref()
            .is_none_or(|prefix| path.starts_with(prefix))
}

/// Rate limit, fault injection and request log; see the module docs.
pub(crate) async fn limit_and_inject(
    State(sim): State<Arc<Sim>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let key = idempotency_key(request.headers());
    let now = sim.now();
    let window =
        chrono::Duration::from_std(sim.config.rate_window).unwrap_or(chrono::Duration::seconds(60));
    let (exceeded, remaining, reset, fault) = {
        let mut knobs = sim.knobs.lock().await;
        let started = match knobs.window_started {
            Some(started) if now < started + window => started,
            _ => {
                knobs.window_started = Some(now);
                knobs.window_count = 0;
                now
            }
        };
        knobs.window_count = knobs.window_count.saturating_add(1);
        let count = knobs.window_count;
        let fault = knobs
            .faults
            .iter_mut()
            .find(|fault| matches(fault, &method, &path))
            .map(|fault| {
                if let Some(times) = fault.times.as_mut() {
                    *times -= 1;
                }
                fault.clone()
            });
        (
            count > sim.config.rate_limit,
            sim.config.rate_limit.saturating_sub(count),
            started + window,
            fault,
        )
    };
    let mut response = match (exceeded, fault) {
        (true, _) => {
            let wait = (reset - now).num_seconds().max(1);
            Problem::rate_limited(u64::try_from(wait).unwrap_or(1)).into_response()
        }
        (false, Some(fault)) => {
            if let Some(delay) = fault.delay_ms {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            match fault
                .status
                .and_then(|status| StatusCode::from_u16(status).ok())
            {
                Some(StatusCode::TOO_MANY_REQUESTS) => {
                    Problem::rate_limited(fault.retry_after_secs.unwrap_or(1)).into_response()
                }
                Some(status) => {
                    Problem::new(status, "internal", "Simulated failure.").into_response()
                }
                None => next.run(request).await,
            }
        }
        (false, None) => next.run(request).await,
    };
    let headers = response.headers_mut();
    headers.insert(
        "x-ratelimit-limit",
        HeaderValue::from(sim.config.rate_limit),
    );
    headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(reset.timestamp()));
    let status = response.status().as_u16();
    sim.knobs.lock().await.requests.push(RecordedRequest {
        method,
        path,
        idempotency_key: key,
        status,
    });
    response
}

/// Bearer authentication; see the module docs.
pub(crate) async fn authenticate(
    State(sim): State<Arc<Sim>>,
    mut request: Request,
    next: Next,
) -> Result<Response, Problem> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Err(Problem::unauthorized(
            "missing_token",
            "No bearer token was provided.",
        ));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .ok_or_else(|| Problem::unauthorized("invalid_token", "The bearer token is malformed."))?;
    let issued = sim.state.lock().await.tokens.get(token).cloned();
    let Some(issued) = issued else {
        return Err(Problem::unauthorized(
            "invalid_token",
            "The bearer token is not valid.",
        ));
    };
    if issued.expires_at <= sim.now() {
        return Err(Problem::unauthorized(
            "token_expired",
            "The access token has expired. Request a new one.",
        ));
    }
    request.extensions_mut().insert(Partner(issued.client_id));
    Ok(next.run(request).await)
}

/// The idempotency cache; see the module docs.
pub(crate) async fn idempotent(
    State(sim): State<Arc<Sim>>,
    request: Request,
    next: Next,
) -> Result<Response, Problem> {
    if request.method() != Method::POST {
        return Ok(next.run(request).await);
    }
    let Some(key) = idempotency_key(request.headers()) else {
        return Ok(next.run(request).await);
    };
    let partner = request
        .extensions()
        .get::<Partner>()
        .map(|partner| partner.0.clone())
        .unwrap_or_default();
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 32 * 1024 * 1024)
        .await
        .map_err(|_| Problem::bad_request("malformed_body", "The body could not be read."))?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update([0]);
    hasher.update(parts.uri.path());
    hasher.update([0]);
    hasher.update(&bytes);
    let fingerprint = hasher.finalize().to_vec();
    let now = sim.now();
    let cache_key = (partner, key);
    {
        let mut cache = sim.idempotency.lock().await;
        match cache.get(&cache_key) {
            Some(Cached::Done {
                fingerprint: stored,
                at,
                status,
                content_type,
                body,
            }) if now - *at < IDEMPOTENCY_TTL => {
                if *stored != fingerprint {
                    return Err(reused());
                }
                return Ok(replay(*status, content_type.as_deref(), body.clone()));
            }
            Some(Cached::InFlight {
                fingerprint: stored,
                at,
            }) if now - *at < IN_FLIGHT_TTL => {
                if *stored != fingerprint {
                    return Err(reused());
                }
                return Err(Problem::conflict(
                    "idempotency_key_in_use",
                    "A request with this idempotency key is still being processed.",
                ));
            }
            _ => {
                cache.insert(
                    cache_key.clone(),
                    Cached::InFlight {
                        fingerprint: fingerprint.clone(),
                        at: now,
                    },
                );
            }
        }
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let mut cache = sim.idempotency.lock().await;
    match parts.status.is_server_error() {
        true => {
            cache.remove(&cache_key);
        }
        false => {
            cache.insert(
                cache_key,
                Cached::Done {
                    fingerprint,
                    at: now,
                    status: parts.status.as_u16(),
                    content_type: parts
                        .headers
                        .get(header::CONTENT_TYPE)
                        .and_then(|value| value.to_str().ok())
                        .map(str::to_owned),
                    body: body.to_vec(),
                },
            );
        }
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

fn reused() -> Problem {
    Problem::conflict(
        "idempotency_key_reused",
        "This idempotency key was already used with a different request.",
    )
}

fn replay(status: u16, content_type: Option<&str>, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    if let Some(content_type) = content_type.and_then(|value| HeaderValue::from_str(value).ok()) {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
