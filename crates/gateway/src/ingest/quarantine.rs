//! Quarantine: authentic webhooks that could not be normalized, or whose content Postgres refuses,
//! are kept with the reason and the headers worth debugging, never refused forever; once the code
//! can read them, an operator replays them into events.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use providers::{EventId, InboundRequest, ProviderName, WebhookSource};

use super::{IngestError, Ingested, Ingestor};
use crate::store::events::InsertOutcome;
use crate::store::quarantine::{self, QuarantineRow};

/// Why a quarantined webhook was not replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The code still cannot make events of it (the reason is the normalizer's, or Postgres's).
    #[error("still not understood: {0}")]
    StillUnreadable(String),
    /// It was deleted meanwhile.
    #[error("the quarantined webhook is gone")]
    Gone,
    /// Storing failed; it stays quarantined and can be replayed again.
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

impl Ingestor {
    /// Normalizes a quarantined webhook again with `source` (it was verified when it arrived) and
    /// stores its events as any webhook's (a replay of a replayed one finds them as duplicates),
    /// then records which events it became. Returns each event's id and whether it already existed.
    pub async fn replay_quarantined(
        &self,
        source: &Arc<dyn WebhookSource>,
        row: &QuarantineRow,
    ) -> Result<(QuarantineRow, Vec<(EventId, bool)>), ReplayError> {
        let headers = headers_of(&row.headers);
        let request = InboundRequest {
            path: &row.path,
            headers: &headers,
            body: &row.raw,
        };
        let events = source
            .normalize(&request)
            .map_err(|error| ReplayError::StillUnreadable(error.reason))?;
        let outcomes = match self
            .store(
                source.provider(),
                events,
                source.authentication().as_str(),
                Bytes::copy_from_slice(&row.raw),
            )
            .await
        {
            Ok(outcomes) => outcomes,
            Err(IngestError::Storage(sqlx::Error::Database(error)))
                if error.code().is_some_and(|code| code.starts_with("22")) =>
            {
                return Err(ReplayError::StillUnreadable(format!(
                    "the event could not be stored: {}",
                    error.message()
                )));
            }
            Err(error) => return Err(error.into()),
        };
        let ids: Vec<uuid::Uuid> = outcomes.iter().map(|o| o.event_id().uuid()).collect();
        let replayed = quarantine::mark_replayed(&self.inner.pool, row.id(), &ids)
            .await
            .map_err(IngestError::Storage)?
            .ok_or(ReplayError::Gone)?;
        metrics::counter!("paygate_quarantine_replayed_total", "provider" => row.provider.clone())
            .increment(1);
        let stored = outcomes
            .into_iter()
            .map(|outcome| {
                let duplicate = matches!(outcome, InsertOutcome::Duplicate(_));
                (outcome.event_id(), duplicate)
            })
            .collect();
        Ok((replayed, stored))
    }
}

/// The kept headers back as a header map (names and values that are not valid are left out).
fn headers_of(kept: &serde_json::Value) -> HeaderMap {
    kept.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| {
            let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
            let value = HeaderValue::from_str(value.as_str()?).ok()?;
            Some((name, value))
        })
        .collect()
}

/// Headers kept with a quarantined webhook: enough to debug it, never a credential.
const KEPT_HEADERS: [&str; 7] = [
    "content-type",
    "content-length",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "x-request-id",
    "traceparent",
];

fn kept_headers(headers: &HeaderMap) -> serde_json::Value {
    let kept: serde_json::Map<String, serde_json::Value> = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?.to_str().ok()?;
            Some((
                (*name).to_owned(),
                serde_json::Value::String(value.to_owned()),
            ))
        })
        .collect();
    serde_json::Value::Object(kept)
}
impl Ingestor {
    pub(super) async fn quarantine(
        &self,
        provider: &ProviderName,
        path: &str,
        reason: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Ingested, sqlx::Error> {
        let mut transaction = self.inner.pool.begin().await?;
        let id = quarantine::insert(
            &mut transaction,
            provider,
            path,
            reason,
            &kept_headers(headers),
            body,
        )
        .await?;
        transaction.commit().await?;
        Ok(Ingested::Quarantined(id))
    }
}
