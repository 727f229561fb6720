//! What the provider's integration tests share: normalizing a body as a verified webhook.

use std::sync::Arc;
use std::time::Duration;

use dinie::DinieWebhooks;
use http::{HeaderMap, HeaderValue};
use providers::{
    ConfiguredCredentialsOnly, InboundRequest, NormalizeError, NormalizedEvent, WebhookSource,
};

/// Normalizes `body` as Dinie's webhook source does a verified webhook `evt_0123` sent at
/// 2026-03-04T12:00:00Z.
pub(crate) fn normalize(body: &[u8]) -> Result<Vec<NormalizedEvent>, NormalizeError> {
    let source = DinieWebhooks::new(
        Vec::new(),
        Arc::new(ConfiguredCredentialsOnly),
        Duration::from_secs(300),
    )
    .expect("a source with no secrets");
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", HeaderValue::from_static("evt_0123"));
    headers.insert("webhook-timestamp", HeaderValue::from_static("1772625600"));
    source.normalize(&InboundRequest {
        path: "",
        headers: &headers,
        body,
    })
}
