//! Webhook registrations: their JSON and the registrations an event is sent to.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{State, stamp};

pub(crate) struct Webhook {
    pub(crate) id: u64,
    pub(crate) account: String,
    pub(crate) event_type: String,
    pub(crate) url: String,
    pub(crate) scheme: String,
    pub(crate) authorization: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

impl State {
    pub(crate) fn webhook_json(webhook: &Webhook) -> Value {
        json!({
            "id": webhook.id,
            "bankAccount": webhook.account,
            "eventType": webhook.event_type,
            "url": webhook.url,
            "authorization": webhook.authorization,
            "externalId": Value::Null,
            "createdAt": stamp(webhook.created_at),
            "updatedAt": stamp(webhook.updated_at),
            "authorizationScheme": webhook.scheme,
        })
    }

    /// The registrations that receive `event_type` for `account`: its own and its partner's.
    pub(crate) fn targets(
        &self,
        account: &str,
        event_type: &str,
    ) -> Vec<(u64, String, String, String)> {
        let parent = self
            .accounts
            .get(account)
            .and_then(|account| account.parent.clone());
        self.webhooks
            .iter()
            .filter(|webhook| webhook.event_type == event_type)
            .filter(|webhook| {
                webhook.account == account || Some(&webhook.account) == parent.as_ref()
            })
            .map(|webhook| {
                (
                    webhook.id,
                    webhook.url.clone(),
                    webhook.scheme.clone(),
                    webhook.authorization.clone(),
                )
            })
            .collect()
    }
}
