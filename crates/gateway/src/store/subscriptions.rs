//! Subscriptions: partner endpoints and the events they want. Secrets are stored encrypted; this
//! module moves the ciphertext and never sees a plaintext secret.

use chrono::{DateTime, Utc};
use providers::{NormalizedEvent, ProviderName, SubscriptionId};
use sqlx::{FromRow, PgConnection, PgPool};

use crate::store::Page;

/// The one definition of "event `e` is for subscription `s`", besides its type patterns: the
/// subscription's provider and resource-kind filters. Live matching and replays both use it, so a
/// replay sends exactly what live matching would have (`e` has `provider` and `resource_kind`).
pub(crate) const FILTERS_MATCH: &str =
    "(s.provider_filter is null or s.provider_filter = e.provider)
           and (s.resource_kind_filter is null or s.resource_kind_filter = e.resource_kind)";

/// "Event `e`'s type matches one of `patterns`" (a `text[]` expression): the subscription's own
/// patterns live, a replay's (by default the subscription's) in a replay.
pub(crate) fn patterns_match(patterns: &str) -> String {
    format!(
        "exists (select 1 from unnest({patterns}) as p(pattern) where event_type_matches(p.pattern, e.event_type))"
    )
}

/// A subscription's state (the `subscription.status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Matching events are delivered.
    Active,
    /// Nothing is delivered until it is enabled again.
    Disabled,
}

impl SubscriptionStatus {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Disabled => "disabled",
        }
    }
}

impl std::str::FromStr for SubscriptionStatus {
    type Err = ();

    fn from_str(input: &str) -> Result<SubscriptionStatus, ()> {
        [SubscriptionStatus::Active, SubscriptionStatus::Disabled]
            .into_iter()
            .find(|status| status.as_str() == input)
            .ok_or(())
    }
}

/// How a subscription's deliveries are signed (the `subscription.signature_scheme` column): the
/// Standard Webhooks signature versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text")]
pub enum SignatureScheme {
    /// HMAC-SHA256 with a shared `whsec_` secret.
    #[sqlx(rename = "v1")]
    V1,
    /// Ed25519 with a `whsk_` signing key; partners verify with its `whpk_` public key.
    #[sqlx(rename = "v1a")]
    V1a,
}

impl SignatureScheme {
    /// The stored name, as in the signature tokens (`v1,...`, `v1a,...`).
    pub fn as_str(&self) -> &'static str {
        match self {
            SignatureScheme::V1 => "v1",
            SignatureScheme::V1a => "v1a",
        }
    }
}

impl std::str::FromStr for SignatureScheme {
    type Err = ();

    fn from_str(input: &str) -> Result<SignatureScheme, ()> {
        [SignatureScheme::V1, SignatureScheme::V1a]
            .into_iter()
            .find(|scheme| scheme.as_str() == input)
            .ok_or(())
    }
}

/// A subscription row.
#[derive(Debug, Clone, FromRow)]
pub struct SubscriptionRow {
    /// Uuid of the `sub_` id.
    pub subscription_id: uuid::Uuid,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Event type patterns.
    pub event_types: Vec<String>,
    /// Only events of this provider, when set.
    pub provider_filter: Option<String>,
    /// Only events about this resource kind, when set.
    pub resource_kind_filter: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Active, or disabled (by an operator, a 410, or a long failure streak).
    pub status: SubscriptionStatus,
    /// Why it was disabled (by an operator, a 410, or a long failure streak).
    pub disabled_reason: Option<String>,
    /// Deliveries per resource key go strictly in order.
    pub ordered: bool,
    /// Deliveries per second, when limited.
    pub rate_limit_per_second: Option<i32>,
    /// Partner-defined metadata.
    pub metadata: serde_json::Value,
    /// `v1` (HMAC) or `v1a` (Ed25519).
    pub signature_scheme: SignatureScheme,
    /// Encrypted current secret (`whsec_`, or the `whsk_` signing key for `v1a`).
    pub secret: String,
    /// Encrypted previous secret, during a rotation.
    pub previous_secret: Option<String>,
    /// The `whpk_` key partners verify `v1a` signatures with.
    pub public_key: Option<String>,
    /// The previous `whpk_` key, during a rotation.
    pub previous_public_key: Option<String>,
    /// Encrypted JSON object of static headers added to every delivery.
    pub headers: Option<String>,
    /// End of the rotation grace period.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Start of the current failure streak.
    pub failing_since: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl SubscriptionRow {
    /// The typed id.
    pub fn id(&self) -> SubscriptionId {
        SubscriptionId::from_uuid(self.subscription_id)
    }
}

/// What a new subscription holds (secret already encrypted).
#[derive(Debug, Clone)]
pub struct NewSubscription {
    /// Endpoint URL.
    pub url: String,
    /// Event type patterns.
    pub event_types: Vec<String>,
    /// Provider filter.
    pub provider_filter: Option<String>,
    /// Resource kind filter.
    pub resource_kind_filter: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Ordered delivery per resource key.
    pub ordered: bool,
    /// Deliveries per second.
    pub rate_limit_per_second: Option<i32>,
    /// Partner metadata.
    pub metadata: serde_json::Value,
    /// `v1` or `v1a`.
    pub signature_scheme: SignatureScheme,
    /// Encrypted secret (or signing key).
    pub secret: String,
    /// The `whpk_` public key, for `v1a`.
    pub public_key: Option<String>,
    /// Encrypted JSON object of static headers.
    pub headers: Option<String>,
}

/// A partial update; `None` leaves a field as it is. For nullable fields, `Some(None)` clears.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionPatch {
    /// New URL.
    pub url: Option<String>,
    /// New patterns.
    pub event_types: Option<Vec<String>>,
    /// New provider filter.
    pub provider_filter: Option<Option<String>>,
    /// New resource kind filter.
    pub resource_kind_filter: Option<Option<String>>,
    /// New description.
    pub description: Option<Option<String>>,
    /// New status; enabling clears the disabled reason and the failure streak.
    pub status: Option<String>,
    /// New ordering flag.
    pub ordered: Option<bool>,
    /// New rate limit.
    pub rate_limit_per_second: Option<Option<i32>>,
    /// New metadata.
    pub metadata: Option<serde_json::Value>,
    /// New static headers (encrypted JSON); `Some(None)` removes them.
    pub headers: Option<Option<String>>,
}

const COLUMNS: &str = "subscription_id, url, event_types, provider_filter, resource_kind_filter, description, status,
    disabled_reason, ordered, rate_limit_per_second, metadata, signature_scheme, secret, previous_secret, public_key,
    previous_public_key, headers, previous_secret_expires_at, failing_since, created_at, updated_at";

/// Inserts a subscription.
pub async fn insert(
    pool: &PgPool,
    id: SubscriptionId,
    new: &NewSubscription,
) -> Result<SubscriptionRow, sqlx::Error> {
    let query = format!(
        "insert into subscription (subscription_id, url, event_types, provider_filter, resource_kind_filter,
                                   description, ordered, rate_limit_per_second, metadata, secret,
                                   signature_scheme, public_key, headers)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) returning {COLUMNS}"
    );
    sqlx::query_as(&query)
        .bind(id.uuid())
        .bind(&new.url)
        .bind(&new.event_types)
        .bind(&new.provider_filter)
        .bind(&new.resource_kind_filter)
        .bind(&new.description)
        .bind(new.ordered)
        .bind(new.rate_limit_per_second)
        .bind(&new.metadata)
        .bind(&new.secret)
        .bind(new.signature_scheme)
        .bind(&new.public_key)
        .bind(&new.headers)
        .fetch_one(pool)
        .await
}

/// One subscription.
pub async fn get(
    pool: &PgPool,
    id: SubscriptionId,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    let query = format!("select {COLUMNS} from subscription where subscription_id = $1");
    sqlx::query_as(&query)
        .bind(id.uuid())
        .fetch_optional(pool)
        .await
}

/// The subscriptions with these ids (missing ones are skipped).
pub async fn get_many(
    pool: &PgPool,
    ids: &[uuid::Uuid],
) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    let query = format!("select {COLUMNS} from subscription where subscription_id = any($1)");
    sqlx::query_as(&query).bind(ids).fetch_all(pool).await
}

/// Newest first, optionally by status.
pub async fn list(
    pool: &PgPool,
    status: Option<&str>,
    starting_after: Option<SubscriptionId>,
    limit: u32,
) -> Result<Page<SubscriptionRow>, sqlx::Error> {
    let query = format!(
        "select {COLUMNS} from subscription
         where ($1::text is null or status = $1) and ($2::uuid is null or subscription_id < $2)
         order by subscription_id desc limit $3"
    );
    let mut rows: Vec<SubscriptionRow> = sqlx::query_as(&query)
        .bind(status)
        .bind(starting_after.map(|id| id.uuid()))
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await?;
    Ok(Page::from_overfetch(&mut rows, limit))
}

/// Applies a patch; `None` when no such subscription.
pub async fn update(
    pool: &PgPool,
    id: SubscriptionId,
    patch: &SubscriptionPatch,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    // language=PostgreSQL
    let query = format!(
        "update subscription set
            url = coalesce($2, url),
            event_types = coalesce($3, event_types),
            provider_filter = case when $4 then $5 else provider_filter end,
            resource_kind_filter = case when $6 then $7 else resource_kind_filter end,
            description = case when $8 then $9 else description end,
            status = coalesce($10, status),
            disabled_reason = case when $10 = 'active' then null when $10 = 'disabled' then 'disabled by an operator'
                                   else disabled_reason end,
            failing_since = case when $10 = 'active' then null else failing_since end,
            ordered = coalesce($11, ordered),
            rate_limit_per_second = case when $12 then $13 else rate_limit_per_second end,
            metadata = coalesce($14, metadata),
            headers = case when $15 then $16 else headers end,
            updated_at = now()
         where subscription_id = $1
         returning {COLUMNS}"
    );
    sqlx::query_as(&query)
        .bind(id.uuid())
        .bind(&patch.url)
        .bind(&patch.event_types)
        .bind(patch.provider_filter.is_some())
        .bind(patch.provider_filter.clone().flatten())
        .bind(patch.resource_kind_filter.is_some())
        .bind(patch.resource_kind_filter.clone().flatten())
        .bind(patch.description.is_some())
        .bind(patch.description.clone().flatten())
        .bind(&patch.status)
        .bind(patch.ordered)
        .bind(patch.rate_limit_per_second.is_some())
        .bind(patch.rate_limit_per_second.flatten())
        .bind(&patch.metadata)
        .bind(patch.headers.is_some())
        .bind(patch.headers.clone().flatten())
        .fetch_optional(pool)
        .await
}

/// Deletes a subscription, its deliveries (by the foreign key's cascade) and their attempts (here:
/// attempts have no foreign key to deliveries, so that retention can drop their partitions
/// cheaply); false when none existed. One transaction.
pub async fn delete(pool: &PgPool, id: SubscriptionId) -> Result<bool, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    sqlx::query(
        "delete from delivery_attempt
         where delivery_id in (select delivery_id from delivery where subscription_id = $1)",
    )
    .bind(id.uuid())
    .execute(&mut *transaction)
    .await?;
    let done = sqlx::query("delete from subscription where subscription_id = $1")
        .bind(id.uuid())
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the secret (and, for `v1a`, the public key); the old ones stay valid until
/// `previous_expires_at`. `None` when there is no such subscription or it uses the other scheme
/// (the caller read it first; a concurrent change of scheme is not possible, there is none).
pub async fn rotate_secret(
    pool: &PgPool,
    id: SubscriptionId,
    new_secret: &str,
    new_public_key: Option<&str>,
    previous_expires_at: DateTime<Utc>,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    let query = format!(
        "update subscription set previous_secret = secret, secret = $2, previous_secret_expires_at = $3,
                                 previous_public_key = public_key, public_key = $4, updated_at = now()
         where subscription_id = $1 and (signature_scheme = 'v1a') = ($4::text is not null)
         returning {COLUMNS}"
    );
    sqlx::query_as(&query)
        .bind(id.uuid())
        .bind(new_secret)
        .bind(previous_expires_at)
        .bind(new_public_key)
        .fetch_optional(pool)
        .await
}

/// Disables a subscription with a reason; returns true when it was active until now.
pub async fn disable(
    connection: &mut PgConnection,
    id: uuid::Uuid,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update subscription set status = 'disabled', disabled_reason = $2, updated_at = now()
         where subscription_id = $1 and status = 'active'",
    )
    .bind(id)
    .bind(reason)
    .execute(connection)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records successes: these subscriptions' failure streaks end (one statement for a batch).
pub async fn record_success_many(
    connection: &mut PgConnection,
    ids: &[uuid::Uuid],
) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "update subscription set failing_since = null
         where subscription_id = any($1) and failing_since is not null",
    )
    .bind(ids)
    .execute(connection)
    .await?;
    Ok(())
}

/// Records a failure; returns the start of the failure streak.
pub async fn record_failure(
    connection: &mut PgConnection,
    id: uuid::Uuid,
) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar(
        "update subscription set failing_since = coalesce(failing_since, now())
         where subscription_id = $1 returning failing_since",
    )
    .bind(id)
    .fetch_one(connection)
    .await
}

/// A subscription an event goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// Index of the event in the list given to [`matching_many`].
    pub event: usize,
    /// The subscription.
    pub subscription_id: uuid::Uuid,
    /// Whether it delivers each resource's events in order.
    pub ordered: bool,
}

/// The active subscriptions each of `events` goes to, by event then subscription id, in one
/// statement for the whole list.
pub async fn matching_many(
    connection: &mut PgConnection,
    events: &[(&ProviderName, &NormalizedEvent)],
) -> Result<Vec<Match>, sqlx::Error> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let query = format!(
        "select e.ordinality, s.subscription_id, s.ordered
         from unnest($1::text[], $2::text[], $3::text[])
              with ordinality as e(event_type, provider, resource_kind, ordinality)
         join subscription s on s.status = 'active' and {FILTERS_MATCH}
           and {}
         order by e.ordinality, s.subscription_id",
        patterns_match("s.event_types"),
    );
    let rows: Vec<(i64, uuid::Uuid, bool)> = sqlx::query_as(&query)
        .bind(
            events
                .iter()
                .map(|(_, event)| event.event_type.to_string())
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|(provider, _)| provider.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|(_, event)| event.resource.kind.as_str())
                .collect::<Vec<_>>(),
        )
        .fetch_all(connection)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(ordinality, subscription_id, ordered)| {
            Some(Match {
                event: usize::try_from(ordinality - 1).ok()?,
                subscription_id,
                ordered,
            })
        })
        .collect())
}
