//! `/v1/subscriptions`, `/v1/deliveries`, `/v1/replays`: partner endpoints, their deliveries with
//! attempts, manual retry and durable replay (scopes `subscriptions:read` / `subscriptions:write`).
//!
//! # Layout
//! - `deliveries`: deliveries and attempts, retry; `replays`: replays of a window; `test_send`:
//!   an event type's example sent now, with the partner's answer.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use providers::{EventPattern, ResourceKind, SubscriptionId};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::delivery::ssrf::{self, SsrfPolicy};
use crate::delivery::{headers, signing};
use crate::http::error::{ApiError, FieldProblem, InternalCause};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::pagination::{ListBody, PageParams};
use crate::http::state::AppState;
use crate::keys::{Caller, Scope};
use crate::store::subscriptions::{
    self, NewSubscription, SignatureScheme, SubscriptionPatch, SubscriptionRow,
};

pub mod deliveries;
pub mod replays;
pub mod test_send;

/// Longest rotation grace period: 7 days.
pub const MAX_GRACE_SECONDS: u64 = 7 * 86_400;

/// A new subscription.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscriptionBody {
    /// The partner endpoint (http or https; private addresses are refused unless allow-listed).
    #[schema(example = "https://partner.example/webhooks/paygate")]
    pub url: String,
    /// Event type patterns: `loan.*`, `pix.received`, `*`.
    #[schema(example = json!(["loan.*", "pix.received"]))]
    #[schema(min_items = 1)]
    pub event_types: Vec<String>,
    /// Only events of this provider.
    #[serde(default)]
    pub provider: Option<String>,
    /// Only events about this resource kind (`loan`, `pix`, `charge`, ...).
    #[serde(default)]
    #[schema(
        pattern = "^(customer|credit_offer|loan|charge|pix|pix_refund|transfer|account|pix_key|infraction|subscription|reconciliation_item|other)$"
    )]
    pub resource_kind: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Deliver events of one resource strictly in order.
    #[serde(default)]
    pub ordered: bool,
    /// Deliveries per second, at most, for the whole fleet of gateway replicas.
    #[serde(
        default,
        deserialize_with = "crate::http::extract::whole_number::option"
    )]
    #[schema(minimum = 1, maximum = 10000)]
    pub rate_limit_per_second: Option<u32>,
    /// Partner metadata, returned as given.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Option<serde_json::Value>,
    /// How deliveries are signed: Standard Webhooks `v1` (HMAC-SHA256 with a `whsec_` secret,
    /// the default) or `v1a` (Ed25519: the answer carries the `whpk_` public key to verify with).
    #[serde(default)]
    #[schema(pattern = "^(v1|v1a)$")]
    pub signature_scheme: Option<String>,
    /// Static headers added to every delivery (name → value; at most 20, 4096 bytes in all; no
    /// hop-by-hop, `content-*`, `host` or `webhook-*` header). Values are stored sealed and never
    /// shown again; reads list the names.
    #[serde(default)]
    #[schema(value_type = Option<HashMap<String, String>>)]
    pub headers: Option<BTreeMap<String, String>>,
}

/// A change to a subscription; absent fields stay as they are, `null` clears a nullable one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionPatchBody {
    /// New URL.
    pub url: Option<String>,
    /// New patterns.
    pub event_types: Option<Vec<String>>,
    /// New provider filter (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub provider: Option<Option<String>>,
    /// New resource kind filter (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "^(customer|credit_offer|loan|charge|pix|pix_refund|transfer|account|pix_key|infraction|subscription|reconciliation_item|other)$")]
    pub resource_kind: Option<Option<String>>,
    /// New description (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// `active` or `disabled`; enabling clears the failure streak.
    #[schema(pattern = "^(active|disabled)$")]
    pub status: Option<String>,
    /// Ordered delivery.
    pub ordered: Option<bool>,
    /// Rate limit for the whole fleet, deliveries per second (`null` removes it).
    #[serde(
        default,
        deserialize_with = "crate::http::extract::whole_number::nullable"
    )]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    pub rate_limit_per_second: Option<Option<u32>>,
    /// Metadata.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// New static headers, replacing all of them (`null` or `{}` removes them).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<HashMap<String, String>>)]
    pub headers: Option<Option<BTreeMap<String, String>>>,
}

fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionBody {
    /// `sub_` id.
    pub id: String,
    /// Endpoint.
    pub url: String,
    /// Patterns.
    pub event_types: Vec<String>,
    /// Provider filter.
    pub provider: Option<String>,
    /// Resource kind filter.
    pub resource_kind: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// `active` or `disabled`.
    pub status: String,
    /// Why it is disabled.
    pub disabled_reason: Option<String>,
    /// Ordered delivery.
    pub ordered: bool,
    /// Rate limit.
    pub rate_limit_per_second: Option<i32>,
    /// Metadata.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// Start of the current failure streak.
    pub failing_since: Option<DateTime<Utc>>,
    /// End of the rotation grace period, while the previous secret still signs.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// `v1` (HMAC) or `v1a` (Ed25519).
    pub signature_scheme: String,
    /// For `v1a`: the `whpk_` Ed25519 public key deliveries verify with.
    pub public_key: Option<String>,
    /// For `v1a`, during a rotation's grace period: the previous public key, which still signs.
    pub previous_public_key: Option<String>,
    /// Names of the static headers added to every delivery (their values are not shown).
    pub header_names: Vec<String>,
    /// Creation.
    pub created_at: DateTime<Utc>,
    /// The `v1` signing secret: present only when created or rotated. Store it now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl SubscriptionBody {
    fn from_row(
        row: SubscriptionRow,
        secret: Option<String>,
        header_names: Vec<String>,
    ) -> SubscriptionBody {
        let in_grace = row
            .previous_secret_expires_at
            .is_some_and(|until| until > Utc::now());
        SubscriptionBody {
            id: row.id().to_string(),
            url: row.url,
            event_types: row.event_types,
            provider: row.provider_filter,
            resource_kind: row.resource_kind_filter,
            description: row.description,
            status: row.status.as_str().to_owned(),
            disabled_reason: row.disabled_reason,
            ordered: row.ordered,
            rate_limit_per_second: row.rate_limit_per_second,
            metadata: row.metadata,
            failing_since: row.failing_since,
            previous_secret_expires_at: row.previous_secret_expires_at,
            signature_scheme: row.signature_scheme.as_str().to_owned(),
            public_key: row.public_key,
            previous_public_key: row.previous_public_key.filter(|_| in_grace),
            header_names,
            created_at: row.created_at,
            secret,
        }
    }
}

struct Problems(Vec<FieldProblem>);

impl Problems {
    fn add(&mut self, pointer: &str, message: impl Into<String>) {
        self.0.push(FieldProblem {
            pointer: pointer.into(),
            message: message.into(),
        });
    }

    fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            return Ok(());
        }
        Err(ApiError::Validation(self.0))
    }
}

fn check_url(problems: &mut Problems, policy: &SsrfPolicy, url: &str) {
    match url::Url::parse(url) {
        Ok(parsed) => {
            if let Err(error) = ssrf::check_url(&parsed, policy) {
                problems.add("/url", error.to_string());
            }
        }
        Err(error) => problems.add("/url", format!("not a URL: {error}")),
    }
}

fn check_patterns(problems: &mut Problems, patterns: &[String]) {
    if patterns.is_empty() {
        problems.add("/event_types", "at least one pattern is required");
    }
    for (index, pattern) in patterns.iter().enumerate() {
        if let Err(error) = pattern.parse::<EventPattern>() {
            problems.add(&format!("/event_types/{index}"), error.to_string());
        }
    }
}

fn check_resource_kind(problems: &mut Problems, kind: Option<&str>) {
    if let Some(kind) = kind
        && kind.parse::<ResourceKind>().is_err()
    {
        problems.add("/resource_kind", "unknown resource kind");
    }
}

fn check_rate(problems: &mut Problems, rate: Option<u32>) -> Option<i32> {
    let rate = rate?;
    match i32::try_from(rate) {
        Ok(rate) if (1..=10_000).contains(&rate) => Some(rate),
        _ => {
            problems.add("/rate_limit_per_second", "must be between 1 and 10000");
            None
        }
    }
}

/// Checks static headers; `None` when there are none to store.
fn check_headers(
    problems: &mut Problems,
    headers: &BTreeMap<String, String>,
) -> Option<BTreeMap<String, String>> {
    match headers::validate(headers) {
        Ok(valid) if valid.is_empty() => None,
        Ok(valid) => Some(
            valid
                .into_iter()
                .filter_map(|(name, value)| {
                    Some((name.to_string(), value.to_str().ok()?.to_owned()))
                })
                .collect(),
        ),
        Err(refused) => {
            for refusal in refused {
                let pointer = if refusal.name.is_empty() {
                    "/headers".to_owned()
                } else {
                    format!("/headers/{}", json_pointer_token(&refusal.name))
                };
                problems.add(&pointer, refusal.reason);
            }
            None
        }
    }
}

/// `name` escaped as one JSON Pointer token (RFC 6901).
fn json_pointer_token(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// Seals checked headers for storage.
fn seal_headers(state: &AppState, headers: &BTreeMap<String, String>) -> Result<String, ApiError> {
    let json = serde_json::to_string(headers).map_err(|error| {
        ApiError::Internal(InternalCause::new("serializing the headers", error))
    })?;
    state
        .keyring
        .encrypt(&json)
        .map_err(|error| ApiError::Internal(InternalCause::new("encrypting the headers", error)))
}

/// The names of a subscription's stored headers (decrypted to read them; values never leave).
fn header_names(state: &AppState, row: &SubscriptionRow) -> Result<Vec<String>, ApiError> {
    let Some(sealed) = &row.headers else {
        return Ok(Vec::new());
    };
    let json = state
        .keyring
        .decrypt(sealed)
        .map_err(|error| ApiError::Internal(InternalCause::new("decrypting the headers", error)))?;
    let headers: BTreeMap<String, String> = serde_json::from_str(json.expose_secret())
        .map_err(|error| ApiError::Internal(InternalCause::new("reading the headers", error)))?;
    Ok(headers.into_keys().collect())
}

/// The answer for `row`, with its header names and, when just created or rotated, its secret.
fn body_of(
    state: &AppState,
    row: SubscriptionRow,
    secret: Option<String>,
) -> Result<SubscriptionBody, ApiError> {
    let names = header_names(state, &row)?;
    Ok(SubscriptionBody::from_row(row, secret, names))
}

/// A new signing key for `scheme`: the sealed key to store, the `v1` secret to show once, and
/// the `v1a` public key.
fn new_key(
    state: &AppState,
    scheme: SignatureScheme,
) -> Result<(String, Option<String>, Option<String>), ApiError> {
    let (secret, shown, public) = match scheme {
        SignatureScheme::V1 => {
            let secret = signing::new_secret();
            let shown = secret.expose_secret().to_owned();
            (secret, Some(shown), None)
        }
        SignatureScheme::V1a => {
            let (secret, public) = signing::new_key_pair();
            (secret, None, Some(public))
        }
    };
    let sealed = state
        .keyring
        .encrypt(secret.expose_secret())
        .map_err(|error| ApiError::Internal(InternalCause::new("encrypting the secret", error)))?;
    Ok((sealed, shown, public))
}

fn policy(state: &AppState) -> Result<SsrfPolicy, ApiError> {
    SsrfPolicy::from_settings(&state.settings.delivery)
        .map_err(|error| ApiError::Internal(InternalCause::new("the SSRF policy", error)))
}

/// Creates a subscription; the answer carries its `whsec_` secret, shown once (or, for `v1a`, its
/// `whpk_` public key, readable later).
#[utoipa::path(
    post, path = "/v1/subscriptions", operation_id = "create_subscription", tag = "subscriptions",
    request_body = NewSubscriptionBody,
    params(("Idempotency-Key" = String, Header, description = "unique per logical request")),
    security(("api_key" = ["subscriptions:write"])),
    responses((status = 201, body = SubscriptionBody), (status = 422, body = crate::http::error::Problem))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewSubscriptionBody>,
) -> Result<(StatusCode, Json<SubscriptionBody>), ApiError> {
    caller.require(Scope::SubscriptionsWrite)?;
    let mut problems = Problems(Vec::new());
    check_url(&mut problems, &policy(&state)?, &body.url);
    check_patterns(&mut problems, &body.event_types);
    check_resource_kind(&mut problems, body.resource_kind.as_deref());
    let rate = check_rate(&mut problems, body.rate_limit_per_second);
    if let Some(metadata) = &body.metadata
        && !metadata.is_object()
    {
        problems.add("/metadata", "must be an object");
    }
    let scheme = match body.signature_scheme.as_deref() {
        None => SignatureScheme::V1,
        Some(scheme) => scheme.parse().unwrap_or_else(|()| {
            problems.add("/signature_scheme", "expected v1 or v1a");
            SignatureScheme::V1
        }),
    };
    let headers = body
        .headers
        .as_ref()
        .and_then(|headers| check_headers(&mut problems, headers));
    problems.into_result()?;
    let headers = headers
        .map(|headers| seal_headers(&state, &headers))
        .transpose()?;
    let (encrypted, shown, public_key) = new_key(&state, scheme)?;
    let new = NewSubscription {
        url: body.url,
        event_types: body.event_types,
        provider_filter: body.provider,
        resource_kind_filter: body.resource_kind,
        description: body.description,
        ordered: body.ordered,
        rate_limit_per_second: rate,
        metadata: body.metadata.unwrap_or_else(|| serde_json::json!({})),
        signature_scheme: scheme,
        secret: encrypted,
        public_key,
        headers,
    };
    let row = subscriptions::insert(&state.pool, SubscriptionId::new(), &new).await?;
    Ok((StatusCode::CREATED, Json(body_of(&state, row, shown)?)))
}

/// Filters for listing subscriptions.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionsQuery {
    /// `active` or `disabled`.
    #[param(pattern = "^(active|disabled)$")]
    pub status: Option<String>,
    /// Page size, 1 to 100.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The last id of the previous page.
    #[param(pattern = "^sub_[0-9a-f]{32}$")]
    pub starting_after: Option<String>,
}

/// Lists subscriptions, newest first.
#[utoipa::path(
    get, path = "/v1/subscriptions", operation_id = "list_subscriptions", tag = "subscriptions", params(SubscriptionsQuery),
    security(("api_key" = ["subscriptions:read"])),
    responses((status = 200, body = ListBody<SubscriptionBody>))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<SubscriptionsQuery>,
) -> Result<Json<ListBody<SubscriptionBody>>, ApiError> {
    caller.require(Scope::SubscriptionsRead)?;
    let page = PageParams::<SubscriptionId>::parse(query.limit, query.starting_after.as_deref())?;
    if let Some(status) = query.status.as_deref()
        && status.parse::<subscriptions::SubscriptionStatus>().is_err()
    {
        return Err(ApiError::InvalidQuery(
            "status: expected active or disabled".into(),
        ));
    }
    let found = subscriptions::list(
        &state.pool,
        query.status.as_deref(),
        page.starting_after,
        page.limit,
    )
    .await?;
    let data = found
        .items
        .into_iter()
        .map(|row| body_of(&state, row, None))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(ListBody::new(data, found.has_more)))
}

/// One subscription.
#[utoipa::path(
    get, path = "/v1/subscriptions/{id}", operation_id = "get_subscription", tag = "subscriptions",
    params(("id" = String, Path, description = "sub_ id")),
    security(("api_key" = ["subscriptions:read"])),
    responses((status = 200, body = SubscriptionBody), (status = 404, body = crate::http::error::Problem))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SubscriptionBody>, ApiError> {
    caller.require(Scope::SubscriptionsRead)?;
    let row = find(&state, &id).await?;
    Ok(Json(body_of(&state, row, None)?))
}

pub(crate) async fn find(state: &AppState, id: &str) -> Result<SubscriptionRow, ApiError> {
    let not_found = || ApiError::NotFound {
        resource: format!("subscription {id}"),
    };
    let parsed: SubscriptionId = id.parse().map_err(|_| not_found())?;
    subscriptions::get(&state.pool, parsed)
        .await?
        .ok_or_else(not_found)
}

fn subscription_id(id: &str) -> Result<SubscriptionId, ApiError> {
    id.parse().map_err(|_| ApiError::NotFound {
        resource: format!("subscription {id}"),
    })
}

/// Changes a subscription.
#[utoipa::path(
    patch, path = "/v1/subscriptions/{id}", tag = "subscriptions",
    params(("id" = String, Path, description = "sub_ id")),
    request_body = SubscriptionPatchBody,
    security(("api_key" = ["subscriptions:write"])),
    responses((status = 200, body = SubscriptionBody), (status = 404, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SubscriptionPatchBody>,
) -> Result<Json<SubscriptionBody>, ApiError> {
    caller.require(Scope::SubscriptionsWrite)?;
    let parsed = subscription_id(&id)?;
    let mut problems = Problems(Vec::new());
    if let Some(url) = &body.url {
        check_url(&mut problems, &policy(&state)?, url);
    }
    if let Some(patterns) = &body.event_types {
        check_patterns(&mut problems, patterns);
    }
    if let Some(kind) = &body.resource_kind {
        check_resource_kind(&mut problems, kind.as_deref());
    }
    if let Some(status) = body.status.as_deref()
        && status.parse::<subscriptions::SubscriptionStatus>().is_err()
    {
        problems.add("/status", "expected active or disabled");
    }
    let rate = match body.rate_limit_per_second {
        Some(Some(rate)) => Some(check_rate(&mut problems, Some(rate))),
        Some(None) => Some(None),
        None => None,
    };
    let headers = match &body.headers {
        Some(Some(headers)) => Some(check_headers(&mut problems, headers)),
        Some(None) => Some(None),
        None => None,
    };
    problems.into_result()?;
    let headers = match headers {
        Some(Some(headers)) => Some(Some(seal_headers(&state, &headers)?)),
        Some(None) => Some(None),
        None => None,
    };
    let patch = SubscriptionPatch {
        url: body.url,
        event_types: body.event_types,
        provider_filter: body.provider,
        resource_kind_filter: body.resource_kind,
        description: body.description,
        status: body.status,
        ordered: body.ordered,
        rate_limit_per_second: rate,
        metadata: body.metadata,
        headers,
    };
    let row = subscriptions::update(&state.pool, parsed, &patch)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            resource: format!("subscription {id}"),
        })?;
    Ok(Json(body_of(&state, row, None)?))
}

/// Deletes a subscription and its pending deliveries.
#[utoipa::path(
    delete, path = "/v1/subscriptions/{id}", tag = "subscriptions",
    params(("id" = String, Path, description = "sub_ id")),
    security(("api_key" = ["subscriptions:write"])),
    responses((status = 204), (status = 404, body = crate::http::error::Problem))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::SubscriptionsWrite)?;
    let parsed = subscription_id(&id)?;
    if !subscriptions::delete(&state.pool, parsed).await? {
        return Err(ApiError::NotFound {
            resource: format!("subscription {id}"),
        });
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A secret rotation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecretBody {
    /// Seconds during which deliveries are signed with both secrets (default 86400, at most 7 days).
    #[serde(
        default = "default_grace",
        deserialize_with = "crate::http::extract::whole_number::deserialize"
    )]
    #[schema(maximum = 604800)]
    pub grace_seconds: u64,
}

fn default_grace() -> u64 {
    86_400
}

/// Rotates the signing key: the answer carries the new `v1` secret (or, for `v1a`, the new public
/// key); the old and the new key both sign every delivery until the grace period ends.
#[utoipa::path(
    post, path = "/v1/subscriptions/{id}/secret/rotate", tag = "subscriptions",
    params(("id" = String, Path, description = "sub_ id"), ("Idempotency-Key" = String, Header, description = "unique per logical request")),
    request_body = RotateSecretBody,
    security(("api_key" = ["subscriptions:write"])),
    responses((status = 200, body = SubscriptionBody), (status = 404, body = crate::http::error::Problem))
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RotateSecretBody>,
) -> Result<Json<SubscriptionBody>, ApiError> {
    Ok(Json(
        rotate(&state, &caller, &id, body.grace_seconds).await?,
    ))
}

/// Rotates a subscription's secret (or signing key), keeping the old one signing for
/// `grace_seconds`; the answer shows the new secret, once. Shared by the API and the console.
pub(crate) async fn rotate(
    state: &AppState,
    caller: &Caller,
    id: &str,
    grace_seconds: u64,
) -> Result<SubscriptionBody, ApiError> {
    caller.require(Scope::SubscriptionsWrite)?;
    let parsed = subscription_id(id)?;
    if grace_seconds > MAX_GRACE_SECONDS {
        return Err(ApiError::Validation(vec![FieldProblem {
            pointer: "/grace_seconds".into(),
            message: format!("must be at most {MAX_GRACE_SECONDS}"),
        }]));
    }
    let current = find(state, id).await?;
    let (encrypted, shown, public_key) = new_key(state, current.signature_scheme)?;
    let until = Utc::now()
        + chrono::Duration::from_std(Duration::from_secs(grace_seconds)).unwrap_or_default();
    let row = subscriptions::rotate_secret(
        &state.pool,
        parsed,
        &encrypted,
        public_key.as_deref(),
        until,
    )
    .await?
    .ok_or_else(|| ApiError::NotFound {
        resource: format!("subscription {id}"),
    })?;
    body_of(state, row, shown)
}
