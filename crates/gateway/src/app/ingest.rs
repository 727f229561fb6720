//! Inbound webhooks: verify → normalize → store, all-or-nothing.
//!
//! The outcome is decided before the HTTP answer: nothing is acknowledged until the transaction
//! that stores the events has committed, so a provider that gets a 2xx can forget the webhook.

use std::sync::Arc;

use axum::http::HeaderMap;
use chrono::Utc;
use providers::{EventId, InboundRequest, ProviderName, QuarantineId, WebhookSource};
use sqlx::PgPool;

use crate::app::outbox::{self, Sinks};
use crate::store::{events, quarantine};

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

/// What happened to an inbound webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// Stored; one entry per normalized event, `true` when it was a duplicate.
    Stored(Vec<(EventId, bool)>),
    /// Authentic but not understood: kept in quarantine with the reason.
    Quarantined(QuarantineId),
}

/// Why an inbound webhook was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Failed verification; nothing was stored.
    #[error("verification failed: {0}")]
    Rejected(#[from] providers::VerifyError),
    /// Postgres failed; the provider must retry.
    #[error("storage failed: {0}")]
    Storage(#[from] sqlx::Error),
}

/// Verifies, normalizes and stores one inbound webhook.
#[tracing::instrument(skip_all, fields(provider = %source.provider(), events))]
pub async fn receive(
    pool: &PgPool,
    source: &Arc<dyn WebhookSource>,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    sinks: &Sinks,
) -> Result<Ingested, IngestError> {
    let provider = source.provider();
    let request = InboundRequest {
        path,
        headers,
        body,
    };
    if let Err(error) = source.verify(&request, Utc::now()).await {
        metrics::counter!("paygate_webhooks_rejected_total", "provider" => provider.to_string(), "code" => error.code())
            .increment(1);
        return Err(error.into());
    }
    let normalized = source.normalize(&request);
    let mut transaction = pool.begin().await?;
    let outcome = match normalized {
        Ok(normalized) => {
            let mut stored = Vec::with_capacity(normalized.len());
            for event in &normalized {
                let outcome =
                    outbox::store_event(&mut transaction, &provider, event, body, sinks).await?;
                stored.push((
                    outcome.event_id(),
                    matches!(outcome, events::InsertOutcome::Duplicate(_)),
                ));
            }
            tracing::Span::current().record("events", stored.len());
            Ingested::Stored(stored)
        }
        Err(error) => {
            let id = quarantine::insert(
                &mut transaction,
                &provider,
                path,
                &error.reason,
                &kept_headers(headers),
                body,
            )
            .await?;
            Ingested::Quarantined(id)
        }
    };
    transaction.commit().await?;
    record_metrics(&provider, &outcome);
    Ok(outcome)
}

fn record_metrics(provider: &ProviderName, outcome: &Ingested) {
    let provider = provider.to_string();
    match outcome {
        Ingested::Stored(stored) => {
            let duplicates = stored.iter().filter(|(_, duplicate)| *duplicate).count();
            let inserted = stored.len() - duplicates;
            metrics::counter!("paygate_events_stored_total", "provider" => provider.clone())
                .increment(inserted as u64);
            metrics::counter!("paygate_events_duplicate_total", "provider" => provider)
                .increment(duplicates as u64);
        }
        Ingested::Quarantined(_) => {
            tracing::warn!("webhook quarantined");
            metrics::counter!("paygate_webhooks_quarantined_total", "provider" => provider)
                .increment(1);
        }
    }
}

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
