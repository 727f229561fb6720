//! API-key authentication (`Authorization: Bearer <key>`): the middleware and the [`Caller`]
//! extractor. Scopes and callers themselves are [`crate::keys`]'s.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::keys::{self, Caller};

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
