//! Signing in with an API key, the session cookie, and CSRF protection.
//!
//! - Signing in stores the SHA-256 of a random 256-bit token (`store::console_sessions`) and sets
//!   it as the `paygate_console` cookie: `HttpOnly`, `SameSite=Strict`, `Path=/console`, and
//!   `Secure` when the gateway is reached over TLS (`server.public_url` is `https://`, or a proxy
//!   says `X-Forwarded-Proto: https`). Sessions last [`SESSION_HOURS`].
//! - Each request reads the session's key afresh, so a revoked key signs the session out, and the
//!   key's scopes apply exactly as they do in the API.
//! - Every form carries the session's CSRF token (a synchronizer token, compared in constant
//!   time), and a POST whose `Origin` is another origin is refused before that; the sign-in form,
//!   which has no session yet, carries a token that must match its own `SameSite=Strict` cookie.

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use rand::RngCore;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::view;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::keys::{self, Caller, Scope};
use crate::store::console_sessions;

/// The session cookie.
pub const SESSION_COOKIE: &str = "paygate_console";
/// The sign-in form's CSRF cookie.
pub const LOGIN_COOKIE: &str = "paygate_console_login";
/// How long a session lasts.
pub const SESSION_HOURS: i64 = 8;

/// A signed-in console user: the key's caller and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    /// The API key the session acts as.
    pub caller: Caller,
    /// The token every form must carry.
    pub csrf: String,
}

impl Session {
    /// Whether personal data may be shown unmasked.
    pub fn pii(&self) -> bool {
        self.caller.has(Scope::Pii)
    }

    /// What the layout shows of the session.
    pub fn view(&self) -> SessionView {
        SessionView {
            name: self.caller.name.clone(),
            scopes: self
                .caller
                .scopes
                .iter()
                .map(|scope| scope.as_str().to_owned())
                .collect(),
            csrf: self.csrf.clone(),
            pii: self.pii(),
        }
    }
}

/// The session as templates see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionView {
    /// Key name.
    pub name: String,
    /// Scopes held.
    pub scopes: Vec<String>,
    /// The CSRF token for forms.
    pub csrf: String,
    /// Whether personal data is shown.
    pub pii: bool,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.settings.server.public_url.starts_with("https://")
        || headers
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> HeaderValue {
    let mut text = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict");
    if let Some(seconds) = max_age {
        text.push_str(&format!("; Max-Age={seconds}"));
    }
    if secure {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A POST from another origin: refused whatever it carries.
fn cross_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or(origin);
    origin_host != host
}

fn refused() -> Response {
    view::error_page(
        StatusCode::FORBIDDEN,
        "csrf_token_invalid",
        "This form was not sent from this console session (a missing or wrong CSRF token, or \
         another site). Reload the page and try again.",
    )
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let signed_out = || {
            if parts.method == axum::http::Method::GET {
                // Inside the nested router the URI lacks `/console`; the original one has it.
                let uri = parts
                    .extensions
                    .get::<axum::extract::OriginalUri>()
                    .map_or(&parts.uri, |original| &original.0);
                let next = uri
                    .path_and_query()
                    .map(|pq| pq.as_str().to_owned())
                    .unwrap_or_default();
                let target = format!(
                    "/console/login?next={}",
                    form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                Redirect::to(&target).into_response()
            } else {
                refused()
            }
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(signed_out());
        };
        let found = console_sessions::find(&state.pool, &hash(token))
            .await
            .map_err(|error| view::api_error(&error.into()))?;
        let Some((record, csrf)) = found else {
            return Err(signed_out());
        };
        if record.revoked_at.is_some() {
            return Err(signed_out());
        }
        Ok(Session {
            caller: keys::caller_of(&record),
            csrf,
        })
    }
}

/// A console form: the session, with its CSRF token and origin checked, and the typed fields.
pub struct CsrfForm<T>(pub Session, pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        if cross_origin(&parts.headers) {
            return Err(refused());
        }
        let session = Session::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, 64 * 1024).await.map_err(|_| {
            view::error_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "The form is too large.",
            )
        })?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
        let token = pairs
            .iter()
            .find(|(key, _)| key == "csrf")
            .map(|(_, value)| value.as_str())
            .unwrap_or_default();
        if !same(token, &session.csrf) {
            return Err(refused());
        }
        let form = serde_urlencoded::from_bytes::<T>(&bytes).map_err(|error| {
            view::error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                &format!("The form could not be read: {error}"),
            )
        })?;
        Ok(CsrfForm(session, form))
    }
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: Option<String>,
}

#[derive(serde::Serialize)]
struct LoginContext<'a> {
    csrf: &'a str,
    next: &'a str,
    error: Option<&'a str>,
}

/// The first page a key may read, after a sign-in that asked for none.
fn landing(caller: &Caller) -> &'static str {
    if caller.has(Scope::EventsRead) {
        "/console/events"
    } else if caller.has(Scope::SubscriptionsRead) {
        "/console/subscriptions"
    } else if caller.has(Scope::ReconciliationRead) {
        "/console/reconciliation"
    } else {
        "/console/events"
    }
}

/// Only paths inside the console are followed after sign-in (no open redirect).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path) if path.starts_with("/console/") && !path.starts_with("/console//") => path,
        _ => "/console/events",
    }
}

fn login_form(
    state: &AppState,
    headers: &HeaderMap,
    next: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let csrf = random_token();
    let mut response = view::render_with(
        status,
        "login.html",
        LoginContext {
            csrf: &csrf,
            next,
            error,
        },
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, &csrf, Some(3600), secure(state, headers)),
    );
    response
}

/// `GET /console/login`.
pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<NextQuery>,
) -> Response {
    let next = match query.next.as_deref() {
        Some(next) if !next.is_empty() => safe_next(Some(next)),
        _ => "",
    };
    login_form(&state, &headers, next, None, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    api_key: String,
    csrf: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /console/login`: a valid, unrevoked key starts a session.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Form(form): axum::extract::Form<LoginForm>,
) -> Response {
    let requested = form.next.as_deref().filter(|next| !next.is_empty());
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if cross_origin(&headers) || expected.is_empty() || !same(&form.csrf, expected) {
        return refused();
    }
    let caller = match keys::authenticate(&state.pool, form.api_key.trim()).await {
        Ok(caller) => caller,
        Err(keys::AuthError::Storage(error)) => return view::api_error(&error.into()),
        Err(_) => {
            return login_form(
                &state,
                &headers,
                safe_next(requested),
                Some("That API key is not valid (unknown or revoked)."),
                StatusCode::UNAUTHORIZED,
            );
        }
    };
    let next = match requested {
        Some(_) => safe_next(requested).to_owned(),
        None => landing(&caller).to_owned(),
    };
    let token = random_token();
    let expires = Utc::now() + chrono::Duration::hours(SESSION_HOURS);
    // Expired sessions go when anyone signs in: the table holds only live ones and a few more.
    if let Err(error) = console_sessions::purge_expired(&state.pool).await {
        tracing::warn!(%error, "expired console sessions not purged");
    }
    if let Err(error) = console_sessions::insert(
        &state.pool,
        &hash(&token),
        caller.api_key_id,
        &random_token(),
        expires,
    )
    .await
    {
        return view::api_error(&error.into());
    }
    tracing::info!(api_key = %caller.api_key_id, "console sign-in");
    let secure = secure(&state, &headers);
    let mut response = Redirect::to(&next).into_response();
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &token, None, secure),
    );
    cookies.append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, "", Some(0), secure),
    );
    response
}

/// A form with no fields but its CSRF token.
#[derive(Debug, Deserialize)]
pub struct Empty {}

/// `POST /console/logout`.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm(_, Empty {}): CsrfForm<Empty>,
) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && let Err(error) = console_sessions::delete(&state.pool, &hash(token)).await
    {
        return view::api_error(&error.into());
    }
    let mut response = Redirect::to("/console/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", Some(0), secure(&state, &headers)),
    );
    response
}

/// The 403 page naming the missing scope, as the API answers it, unless the key holds it.
pub fn require(session: &Session, scope: Scope) -> Result<(), view::Refusal> {
    Ok(session.caller.require(scope).map_err(ApiError::from)?)
}
