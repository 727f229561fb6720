//! Delbank's inbound webhooks: authentication ([`DelbankWebhooks::verify`]) and
//! self-registration ([`Registrar`]); normalization into the gateway's events
//! ([`DelbankWebhooks::normalize`]) is in `events`.
//!
//! # One URL per registration
//! Delbank registers one URL per event type, and several payloads carry no `eventType` (CHARGE_PAID
//! v1, WHITELABEL_*, INFRACTION_NOTIFICATION_CREATED) or a different one (PIX_PAYMENT_UPDATED
//! delivers `PIX_PAYMENT_EFFECTIVE`). So the path after `/webhooks/delbank` names the registration:
//! - registrations the gateway makes are at `/{slug}-{random}`, where the slug is the event type in
//!   lowercase with `-` (`/pix-received-3f2a9c1d7b4e`): the path alone tells `normalize` the event
//!   type, deterministically, without any lookup;
//! - registrations made by hand in Delbank's portal are declared in the configuration with their
//!   path segment and event type, which take precedence over the slug rule.
//!
//! # Authentication
//! No signature exists: Delbank sends back the credential given at registration, per scheme
//! (`Authorization: Basic …`, `Authorization: Bearer …`, or a custom `Name: value` header). The
//! credentials of a path are the configured ones plus those the gateway stored at registration or
//! rotation (through the [`CredentialStore`], each with its `scheme`, `header` and `event_type`
//! attributes); a rotated-out one is accepted until its `not_after`. Comparisons are constant time,
//! and a BASIC or BEARER value sent without its scheme prefix is accepted too.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use providers::webhook::constant_time_eq;
use providers::{
    CredentialStore, InboundRequest, NormalizeError, NormalizedEvent, ProviderError, ProviderName,
    RegisteredWebhook, VerifyError, WebhookCredential, WebhookRegistration, WebhookSource,
};
use secrecy::ExposeSecret;

use crate::client::{Client, NewWebhook};
use crate::config::{AuthScheme, Config};
use crate::{PROVIDER, PROVIDER_NAME, events};

/// Every event type the gateway registers at Delbank.
pub const EVENT_TYPES: [&str; 11] = [
    "CHARGE_PAID",
    "PIX_RECEIVED",
    "PIX_PAYMENT_UPDATED",
    "PIX_REFUNDED",
    "PIX_REFUND_PAYMENT_UPDATED",
    "TRANSFER_INTERNAL_CREDITED",
    "TRANSFER_INTERNAL_DEBITED",
    "WHITELABEL_CUSTOMER_APPROVED",
    "WHITELABEL_CUSTOMER_DOCUMENTATION_REJECTED",
    "ACCOUNT_STATUS_UPDATED",
    "INFRACTION_NOTIFICATION_CREATED",
];

/// The header of HEADER-scheme registrations the gateway makes.
pub const HEADER_NAME: &str = "x-paygate-webhook-token";

/// The login of BASIC-scheme registrations the gateway makes.
const BASIC_LOGIN: &str = "paygate";

/// How long the previous credential of a registration stays valid when `register` is called again
/// (it replaces every credential).
const REREGISTRATION_GRACE: Duration = Duration::from_secs(600);

/// Attribute names stored with runtime credentials.
const ATTRIBUTE_SCHEME: &str = "scheme";
const ATTRIBUTE_HEADER: &str = "header";
const ATTRIBUTE_EVENT_TYPE: &str = "event_type";

/// The webhook source served at `/webhooks/delbank/{registration}`.
pub struct DelbankWebhooks {
    manual: Vec<ManualCredential>,
    credentials: Arc<dyn CredentialStore>,
}

/// A registration declared in the configuration.
struct ManualCredential {
    path: String,
    event_type: String,
    check: Check,
}

/// One credential to check a request against.
struct Check {
    scheme: AuthScheme,
    header: Option<String>,
    secret: WebhookCredential,
}

impl DelbankWebhooks {
    /// A source accepting the registrations of `config` and those in `credentials`.
    pub fn new(config: &Config, credentials: Arc<dyn CredentialStore>) -> DelbankWebhooks {
        let manual = config
            .webhooks
            .iter()
            .map(|registration| ManualCredential {
                path: registration.inbound_path(),
                event_type: registration.event_type.trim().to_owned(),
                check: Check {
                    scheme: registration.scheme,
                    header: registration.header.clone(),
                    secret: WebhookCredential::new(registration.credential.expose_secret()),
                },
            })
            .collect();
        DelbankWebhooks {
            manual,
            credentials,
        }
    }

    /// The Delbank event type registered at `path`: the configured one, else the path's slug.
    pub fn registered_event_type(&self, path: &str) -> Option<String> {
        if let Some(manual) = self.manual.iter().find(|manual| manual.path == path) {
            return Some(manual.event_type.clone());
        }
        event_type_of_path(path)
    }
}

#[async_trait]
impl WebhookSource for DelbankWebhooks {
    fn provider(&self) -> ProviderName {
        PROVIDER
    }

    fn authentication(&self) -> providers::WebhookAuthentication {
        providers::WebhookAuthentication::Credential
    }

    async fn verify(
        &self,
        request: &InboundRequest<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        let manual: Vec<&Check> = self
            .manual
            .iter()
            .filter(|manual| manual.path == request.path)
            .map(|manual| &manual.check)
            .collect();
        let stored = match self.credentials.credentials(&PROVIDER, request.path).await {
            Ok(stored) => stored,
            // A configured credential can still be checked without the store.
            Err(error) if manual.is_empty() => return Err(VerifyError::Unavailable(error.0)),
            Err(_) => Vec::new(),
        };
        if manual.is_empty() && stored.is_empty() {
            return Err(VerifyError::UnknownRegistration(request.path.to_owned()));
        }
        let stored_checks: Vec<Check> = stored
            .into_iter()
            .filter(|credential| credential.is_valid_at(now))
            .filter_map(|credential| {
                let scheme = AuthScheme::parse(credential.attributes.get(ATTRIBUTE_SCHEME)?)?;
                Some(Check {
                    scheme,
                    header: credential.attributes.get(ATTRIBUTE_HEADER).cloned(),
                    secret: credential.secret,
                })
            })
            .collect();
        check_credentials(
            request.headers,
            manual.into_iter().chain(stored_checks.iter()),
        )
    }

    fn normalize(
        &self,
        request: &InboundRequest<'_>,
    ) -> Result<Vec<NormalizedEvent>, NormalizeError> {
        let registered = self.registered_event_type(request.path);
        events::normalize_body(registered.as_deref(), request.body).map(|event| vec![event])
    }
}

/// Accepts the request when any valid credential matches; constant time per comparison.
fn check_credentials<'a>(
    headers: &http::HeaderMap,
    checks: impl Iterator<Item = &'a Check>,
) -> Result<(), VerifyError> {
    let mut presented_any = false;
    let mut matched = false;
    for check in checks {
        let header_name = match check.scheme {
            AuthScheme::Basic | AuthScheme::Bearer => http::header::AUTHORIZATION.as_str(),
            AuthScheme::Header => match &check.header {
                Some(name) => name.trim(),
                None => continue,
            },
        };
        let Some(value) = headers.get(header_name) else {
            continue;
        };
        presented_any = true;
        let presented = String::from_utf8_lossy(value.as_bytes());
        let expected = check.secret.expose_secret();
        let ok = match check.scheme {
            AuthScheme::Basic => {
                constant_time_eq(without_prefix(&presented, "basic").as_bytes(), {
                    without_prefix(expected, "basic").as_bytes()
                })
            }
            AuthScheme::Bearer => {
                constant_time_eq(without_prefix(&presented, "bearer").as_bytes(), {
                    without_prefix(expected, "bearer").as_bytes()
                })
            }
            AuthScheme::Header => constant_time_eq(
                header_value(&presented, header_name).as_bytes(),
                header_value(expected, header_name).as_bytes(),
            ),
        };
        matched |= ok;
    }
    match (matched, presented_any) {
        (true, _) => Ok(()),
        (false, true) => Err(VerifyError::InvalidSignature),
        (false, false) => Err(VerifyError::MissingCredential),
    }
}

/// `Basic abc` → `abc`; `abc` → `abc` (a value sent without its scheme is tolerated).
fn without_prefix<'a>(value: &'a str, scheme: &str) -> &'a str {
    let value = value.trim();
    match value.split_once(' ') {
        Some((prefix, rest)) if prefix.eq_ignore_ascii_case(scheme) => rest.trim(),
        _ => value,
    }
}

/// `x-key: abc` → `abc` when the name is the header's own; `abc` → `abc`.
fn header_value<'a>(value: &'a str, header_name: &str) -> &'a str {
    let value = value.trim();
    match value.split_once(':') {
        Some((name, rest)) if name.trim().eq_ignore_ascii_case(header_name) => rest.trim(),
        _ => value,
    }
}

/// `PIX_RECEIVED` → `pix-received`.
pub fn slug(event_type: &str) -> String {
    event_type.to_ascii_lowercase().replace('_', "-")
}

/// The event type a gateway-made path encodes: `/pix-received-3f2a9c1d7b4e` → `PIX_RECEIVED`.
pub fn event_type_of_path(path: &str) -> Option<String> {
    let segment = path.trim_start_matches('/');
    let (slug, random) = segment.rsplit_once('-')?;
    if slug.is_empty() || random.is_empty() || !random.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(slug.to_ascii_uppercase().replace('-', "_"))
}

// ---------------------------------------------------------------------------------------------
// Self-registration.

/// Registers and rotates the gateway's endpoints at Delbank, one per event type.
pub struct Registrar {
    client: Client,
    scheme: AuthScheme,
}

impl Registrar {
    /// Registrations through `client`, authenticated with `scheme`.
    pub fn new(client: Client, scheme: AuthScheme) -> Registrar {
        Registrar { client, scheme }
    }
}

/// A fresh credential: what Delbank is given and what the gateway compares.
struct Generated {
    authorization: String,
    inbound: String,
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn generate(scheme: AuthScheme) -> Generated {
    let token = random_token();
    match scheme {
        AuthScheme::Basic => {
            let encoded = STANDARD.encode(format!("{BASIC_LOGIN}:{token}"));
            Generated {
                authorization: encoded.clone(),
                inbound: encoded,
            }
        }
        AuthScheme::Bearer => Generated {
            authorization: token.clone(),
            inbound: token,
        },
        AuthScheme::Header => Generated {
            authorization: format!("{HEADER_NAME}: {token}"),
            inbound: token,
        },
    }
}

fn attributes(scheme: AuthScheme, event_type: &str) -> BTreeMap<String, String> {
    let mut attributes = BTreeMap::new();
    attributes.insert(ATTRIBUTE_SCHEME.to_owned(), scheme.as_str().to_owned());
    attributes.insert(ATTRIBUTE_EVENT_TYPE.to_owned(), event_type.to_owned());
    if scheme == AuthScheme::Header {
        attributes.insert(ATTRIBUTE_HEADER.to_owned(), HEADER_NAME.to_owned());
    }
    attributes
}

/// The path after `/webhooks/delbank` of a registered URL.
fn path_of_url(url: &str) -> Option<String> {
    let marker = format!("/webhooks/{PROVIDER_NAME}/");
    let start = url.find(&marker)?;
    let path = url.get(start + marker.len() - 1..)?;
    Some(path.to_owned())
}

fn random_suffix() -> String {
    let bytes: [u8; 6] = rand::random();
    hex::encode(bytes)
}

#[async_trait]
impl WebhookRegistration for Registrar {
    async fn register(
        &self,
        public_base_url: &str,
    ) -> Result<Vec<RegisteredWebhook>, ProviderError> {
        let base = format!(
            "{}/webhooks/{PROVIDER_NAME}/",
            public_base_url.trim_end_matches('/')
        );
        let existing = self.client.list_webhooks().await?;
        let mut registered = Vec::with_capacity(EVENT_TYPES.len());
        for event_type in EVENT_TYPES {
            let prefix = format!("{base}{}-", slug(event_type));
            let reusable = existing.iter().find(|webhook| {
                webhook.event_type == event_type && webhook.url.starts_with(&prefix)
            });
            let generated = generate(self.scheme);
            let (subscription, previous_expires) = match reusable {
                Some(webhook) => {
                    let request = NewWebhook {
                        event_type: event_type.to_owned(),
                        url: webhook.url.clone(),
                        scheme: self.scheme,
                        authorization: WebhookCredential::new(generated.authorization),
                    };
                    let updated = self.client.update_webhook(&webhook.id, &request).await?;
                    let grace = chrono::Duration::from_std(REREGISTRATION_GRACE)
                        .unwrap_or_else(|_| chrono::Duration::zero());
                    (updated, Some(Utc::now() + grace))
                }
                None => {
                    let request = NewWebhook {
                        event_type: event_type.to_owned(),
                        url: format!("{prefix}{}", random_suffix()),
                        scheme: self.scheme,
                        authorization: WebhookCredential::new(generated.authorization),
                    };
                    (self.client.create_webhook(&request).await?, None)
                }
            };
            let path =
                path_of_url(&subscription.url).ok_or_else(|| ProviderError::InvalidResponse {
                    message: "registered webhook url has no /webhooks/delbank/ path".to_owned(),
                })?;
            registered.push(RegisteredWebhook {
                registration_id: subscription.id,
                path,
                url: subscription.url,
                event_types: vec![event_type.to_owned()],
                secret: WebhookCredential::new(generated.inbound),
                attributes: attributes(self.scheme, event_type),
                previous_secret_expires_at: previous_expires,
            });
        }
        Ok(registered)
    }

    async fn rotate(
        &self,
        registration_id: &str,
        grace: Duration,
    ) -> Result<RegisteredWebhook, ProviderError> {
        let current = self.client.get_webhook(registration_id).await?;
        let path = path_of_url(&current.url).ok_or_else(|| ProviderError::InvalidResponse {
            message: "webhook url has no /webhooks/delbank/ path".to_owned(),
        })?;
        let generated = generate(self.scheme);
        let request = NewWebhook {
            event_type: current.event_type.clone(),
            url: current.url.clone(),
            scheme: self.scheme,
            authorization: WebhookCredential::new(generated.authorization),
        };
        let updated = self
            .client
            .update_webhook(registration_id, &request)
            .await?;
        let grace = chrono::Duration::from_std(grace).unwrap_or_else(|_| chrono::Duration::zero());
        Ok(RegisteredWebhook {
            registration_id: updated.id,
            path,
            url: updated.url,
            event_types: vec![updated.event_type.clone()],
            secret: WebhookCredential::new(generated.inbound),
            attributes: attributes(self.scheme, &updated.event_type),
            previous_secret_expires_at: Some(Utc::now() + grace),
        })
    }
}

#[cfg(test)]
mod tests;
