//! Quarantine: authentic webhooks that could not be normalized, or whose content Postgres refuses,
//! are kept with the reason and the headers worth debugging, never refused forever.

use axum::http::HeaderMap;
use providers::ProviderName;

use super::{Ingested, Ingestor};
use crate::store::quarantine;

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
