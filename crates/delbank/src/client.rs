//! The Delbank HTTP client: one `reqwest::Client` with a timeout, one retry policy
//! ([`retry_delay`]), the `IdempotencyKey` header, problem-details error mapping and `pagination`
//! header streams.
//!
//! Every call carries `x-delbank-api-key` and `x-delfinance-account-id`. A call is retried only when
//! repeating it cannot do anything twice: reads, and writes that carry an `IdempotencyKey` (the same
//! GUID on every attempt, so Delbank deduplicates them). Creating a charge, a customer or a webhook
//! registration is sent once.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use http::{HeaderMap, Method, StatusCode};
use providers::{
    Charge, FieldError, IdempotencyKey, Money, PixTransfer, ProviderError, WebhookCredential,
    percent_encode_path_segment,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::config::{AuthScheme, Config};
use crate::convert;
use crate::wire::{self, ProblemErrors, WireAmount, WirePagination, WireProblem};

/// Delbank's largest page.
pub const MAX_PAGE_SIZE: u32 = 50;

/// A client of one Delbank account (its API key and account number). Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    api_key: SecretString,
    account_id: String,
    retries: u32,
    retry_base_delay: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

/// Whether a call may be repeated after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// A read, or a write deduplicated by its `IdempotencyKey`.
    Safe,
    /// A write Delbank does not deduplicate: sent once.
    Never,
}

/// One HTTP call to Delbank.
pub(crate) struct Call {
    /// The operation's name, for errors and logs.
    pub(crate) operation: &'static str,
    pub(crate) method: Method,
    /// Path after the base URL, starting with `/`.
    pub(crate) path: String,
    pub(crate) query: Vec<(&'static str, String)>,
    /// JSON body.
    pub(crate) body: Option<Vec<u8>>,
    /// The `IdempotencyKey` header.
    pub(crate) idempotency_key: Option<String>,
    /// Extra headers (`x-auth-code`...).
    pub(crate) headers: Vec<(&'static str, String)>,
    /// Another account of the API key, for `x-delfinance-account-id`.
    pub(crate) account: Option<String>,
    /// What a 404 means, e.g. `"charge"`.
    pub(crate) resource: &'static str,
    pub(crate) retry: Retry,
}

impl Call {
    /// A call with no body, no key, retried when safe.
    pub(crate) fn new(
        operation: &'static str,
        method: Method,
        path: impl Into<String>,
        resource: &'static str,
    ) -> Call {
        let retry = match method {
            Method::GET => Retry::Safe,
            _ => Retry::Never,
        };
        Call {
            operation,
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotency_key: None,
            headers: Vec::new(),
            account: None,
            resource,
            retry,
        }
    }

    /// Adds a JSON body.
    pub(crate) fn json(mut self, body: &impl Serialize) -> Result<Call, ProviderError> {
        let bytes = serde_json::to_vec(body).map_err(|error| ProviderError::InvalidResponse {
            message: format!("cannot encode the {} request: {error}", self.operation),
        })?;
        self.body = Some(bytes);
        Ok(self)
    }

    /// Sends `IdempotencyKey: key`, which makes the call safe to retry.
    pub(crate) fn idempotent(mut self, key: String) -> Call {
        self.idempotency_key = Some(key);
        self.retry = Retry::Safe;
        self
    }

    /// Adds a query parameter.
    pub(crate) fn query(mut self, name: &'static str, value: impl ToString) -> Call {
        self.query.push((name, value.to_string()));
        self
    }

    /// Operates on another account of the API key.
    pub(crate) fn on_account(mut self, account: Option<String>) -> Call {
        self.account = account;
        self
    }
}

/// A successful answer.
pub(crate) struct Reply {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Client {
    /// A client for the account in `config`.
    pub fn new(config: &Config) -> Result<Client, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout())
            .connect_timeout(config.timeout())
            .build()
            .map_err(|error| ProviderError::Unavailable {
                status: None,
                message: format!("cannot build the http client: {error}"),
            })?;
        Ok(Client {
            http,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            api_key: config.api_key.clone(),
            account_id: config.account_id.clone(),
            retries: config.retries,
            retry_base_delay: Duration::from_millis(config.retry_base_delay_ms),
        })
    }

    /// The account number the API key operates on.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// Sends `call`, retrying per [`retry_delay`].
    pub(crate) async fn execute(&self, call: &Call) -> Result<Reply, ProviderError> {
        match self.execute_retried(call).await {
            // Delbank answers 401 both for a bad API key and for an account the key does not own:
            // when the key still opens its own account, the caller named an unknown account.
            Err(ProviderError::Unauthorized { message }) if call.account.is_some() => {
                let own = Call::new("balance", Method::GET, "/baas/api/v1/balances", "account");
                match self.attempt(&own).await {
                    Ok(_) => Err(ProviderError::NotFound {
                        resource: call.resource.to_owned(),
                        code: Some("http_401".to_owned()),
                    }),
                    Err(_) => Err(ProviderError::Unauthorized { message }),
                }
            }
            outcome => outcome,
        }
    }

    /// [`Client::execute`] before telling an unknown account from a bad key.
    async fn execute_retried(&self, call: &Call) -> Result<Reply, ProviderError> {
        let mut attempt = 0;
        loop {
            let error = match self.attempt(call).await {
                Ok(reply) => return Ok(reply),
                Err(error) => error,
            };
            let Some(delay) = retry_delay(
                call.retry,
                &error,
                attempt,
                self.retries,
                self.retry_base_delay,
            ) else {
                return Err(error);
            };
            tracing::warn!(
                operation = call.operation,
                attempt = attempt + 1,
                error.code = error.code(),
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "delbank call failed; retrying"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Sends `call` and parses the body as `T`.
    pub(crate) async fn fetch<T: DeserializeOwned>(&self, call: &Call) -> Result<T, ProviderError> {
        let reply = self.execute(call).await?;
        parse_body(call.operation, &reply.body)
    }

    /// One attempt.
    async fn attempt(&self, call: &Call) -> Result<Reply, ProviderError> {
        let url = format!("{}{}", self.base_url, call.path);
        let account = call.account.as_deref().unwrap_or(&self.account_id);
        let mut request = self
            .http
            .request(call.method.clone(), url)
            .header("x-delbank-api-key", self.api_key.expose_secret())
            .header("x-delfinance-account-id", account)
            .header("accept", "application/json");
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(key) = &call.idempotency_key {
            request = request.header("IdempotencyKey", key);
        }
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        if let Some(body) = &call.body {
            request = request
                .header("content-type", "application/json")
                .body(body.clone());
        }
        let response = request
            .send()
            .await
            .map_err(|error| transport_error(call.operation, &error))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|error| transport_error(call.operation, &error))?
            .to_vec();
        if status.is_success() {
            return Ok(Reply { headers, body });
        }
        Err(error_from_response(status, &headers, &body, call.resource))
    }

    /// One page of a list: the items and the `pagination` header, when sent.
    pub(crate) async fn page<T: DeserializeOwned>(
        &self,
        call: &Call,
    ) -> Result<(Vec<T>, Option<WirePagination>), ProviderError> {
        let reply = self.execute(call).await?;
        let items: Vec<T> = parse_body(call.operation, &reply.body)?;
        Ok((items, read_pagination(&reply.headers)))
    }

    /// Every item of a paged list as a stream, fetching page after page (`page` = 1, 2, ...) until
    /// the `pagination` header says it was the last one (or, without the header, a short page).
    pub(crate) fn paginate<'a, W, T, F>(
        &'a self,
        page_size: u32,
        make_call: F,
        convert: fn(W) -> Result<T, ProviderError>,
    ) -> BoxStream<'a, Result<T, ProviderError>>
    where
        W: DeserializeOwned + Send + 'a,
        T: Send + 'a,
        F: Fn(u64, u32) -> Call + Send + Sync + 'a,
    {
        let page_size = page_size.clamp(1, MAX_PAGE_SIZE);
        let make_call = std::sync::Arc::new(make_call);
        stream::try_unfold(Some(1_u64), move |next| {
            let make_call = make_call.clone();
            async move {
                let Some(page) = next else {
                    return Ok(None);
                };
                let call = make_call(page, page_size);
                let (items, pagination) = self.page::<W>(&call).await?;
                let more = has_more_pages(page, pagination, items.len(), page_size);
                let next = match more {
                    true => Some(page + 1),
                    false => None,
                };
                Ok(Some((items, next)))
            }
        })
        .map_ok(move |items: Vec<W>| stream::iter(items.into_iter().map(convert)))
        .try_flatten()
        .boxed()
    }

    // ---- Delbank-specific operations (the provider-neutral ones are in `banking`). ----

    /// Every charge created between two dates (inclusive), page after page.
    pub fn charges(&self, filter: ChargeFilter) -> BoxStream<'_, Result<Charge, ProviderError>> {
        self.paginate(
            filter.page_size,
            move |page, limit| {
                let mut call = Call::new("list_charges", Method::GET, "/baas/v1/charges", "charge")
                    .query("page", page)
                    .query("limit", limit);
                if let Some(start) = filter.start_date {
                    call = call.query("startDate", start.format("%Y-%m-%d"));
                }
                if let Some(end) = filter.end_date {
                    call = call.query("endDate", end.format("%Y-%m-%d"));
                }
                call
            },
            convert::charge,
        )
    }

    /// Every statement entry of the account (newest first), page after page.
    pub fn statement_entries(
        &self,
        filter: StatementFilter,
    ) -> BoxStream<'_, Result<providers::StatementEntry, ProviderError>> {
        self.paginate(
            filter.page_size,
            move |page, limit| {
                let mut call = Call::new(
                    "statement",
                    Method::GET,
                    "/baas/api/v2/transactions",
                    "account",
                )
                .query("page", page)
                .query("limit", limit)
                .on_account(filter.account.clone());
                if let Some(after) = filter.after_nsu {
                    call = call.query("afterNsu", after);
                }
                call
            },
            convert::statement_entry,
        )
    }

    /// Changes an unpaid bank slip (C5).
    pub async fn update_charge(
        &self,
        correlation_id: &str,
        update: ChargeUpdate,
    ) -> Result<(), ProviderError> {
        let body = wire::ChargeUpdateRequest {
            amount: update.amount.map(|amount| WireAmount(amount.amount())),
            due_date: update.due_date,
            description: update.description,
        };
        let call = Call::new(
            "update_charge",
            Method::PATCH,
            format!(
                "/baas/v1/charges/{}",
                percent_encode_path_segment(correlation_id)
            ),
            "charge",
        )
        .json(&body)?;
        self.execute(&call).await.map(|_| ())
    }

    /// Writes off a bank slip or cancels a QR code with the closeout endpoint (C7).
    pub async fn close_out_charge(&self, correlation_id: &str) -> Result<(), ProviderError> {
        let call = Call::new(
            "close_out_charge",
            Method::PUT,
            format!(
                "/baas/api/v1/charges/{}/closeout",
                percent_encode_path_segment(correlation_id)
            ),
            "charge",
        );
        self.execute(&call).await.map(|_| ())
    }

    /// Creates a v2 Pix QR code (Q2).
    pub async fn create_qr_code(
        &self,
        kind: QrCodeKind,
        request: NewQrCode,
        key: &IdempotencyKey,
    ) -> Result<QrCode, ProviderError> {
        let body = wire::QrCodeRequest {
            correlation_id: request.correlation_id,
            amount: request.amount.map(|amount| WireAmount(amount.amount())),
            description: request.description,
            expires_in: request.expires_in_secs,
            pix_key: request.pix_key,
        };
        let call = Call::new(
            "create_qr_code",
            Method::POST,
            format!("/baas/api/v2/pix/qrcode/{}", kind.as_path()),
            "qr code",
        )
        .json(&body)?;
        // Sent once: whether Delbank deduplicates this route by key is not documented.
        let call = Call {
            idempotency_key: Some(guid_for(key)),
            ..call
        };
        let qr: wire::WireQrCode = self.fetch(&call).await?;
        convert::qr_code(qr)
    }

    /// Fetches a v2 Pix QR code (Q3).
    pub async fn get_qr_code(&self, kind: QrCodeKind, id: &str) -> Result<QrCode, ProviderError> {
        let call = Call::new(
            "get_qr_code",
            Method::GET,
            format!(
                "/baas/api/v2/pix/qrcode/{}/{}",
                kind.as_path(),
                percent_encode_path_segment(id)
            ),
            "qr code",
        );
        let qr: wire::WireQrCode = self.fetch(&call).await?;
        convert::qr_code(qr)
    }

    /// Cancels a v2 Pix QR code (Q4).
    pub async fn cancel_qr_code(&self, kind: QrCodeKind, id: &str) -> Result<(), ProviderError> {
        let call = Call::new(
            "cancel_qr_code",
            Method::PATCH,
            format!(
                "/baas/api/v2/pix/qrcode/{}/{}/cancel",
                kind.as_path(),
                percent_encode_path_segment(id)
            ),
            "qr code",
        );
        self.execute(&call).await.map(|_| ())
    }

    /// Resolves a Pix key into a single-use end-to-end id to pay with (P1).
    pub async fn initialize_key_payment(
        &self,
        pix_key: &str,
    ) -> Result<PaymentInitialization, ProviderError> {
        let call = Call::new(
            "initialize_key_payment",
            Method::POST,
            "/baas/api/v2/pix/dict/payment-initialization",
            "pix key",
        )
        .json(&wire::KeyInitializationRequest {
            key: pix_key.to_owned(),
        })?;
        let init: wire::WireInitialization = self.fetch(&call).await?;
        convert::initialization(init)
    }

    /// Decodes a Pix QR code ("copia e cola") into a single-use end-to-end id to pay with (P2).
    pub async fn initialize_qr_payment(
        &self,
        payload: &str,
    ) -> Result<PaymentInitialization, ProviderError> {
        let call = Call::new(
            "initialize_qr_payment",
            Method::POST,
            "/baas/api/v2/pix/qrcode/payment-initialization",
            "qr code",
        )
        .json(&wire::QrInitializationRequest {
            payload: payload.to_owned(),
        })?;
        let init: wire::WireInitialization = self.fetch(&call).await?;
        convert::initialization(init)
    }

    /// Pays a Pix QR code: initializes it (P2), then transfers (P3) under `key`. `amount` is
    /// required for a static code without an amount.
    pub async fn pay_qr_code(
        &self,
        payload: &str,
        amount: Option<Money>,
        key: &IdempotencyKey,
    ) -> Result<PixTransfer, ProviderError> {
        if let Some(existing) = self.existing_transfer(key).await? {
            return Ok(existing);
        }
        let init = self.initialize_qr_payment(payload).await?;
        let Some(amount) = amount.or(init.amount) else {
            return Err(ProviderError::Rejected {
                status: 400,
                code: "amount_required".to_owned(),
                message: "the qr code has no amount: give one".to_owned(),
                param: Some("amount".to_owned()),
                field_errors: Vec::new(),
            });
        };
        let body = wire::TransferRequest {
            amount: WireAmount(amount.amount()),
            description: None,
            end_to_end_id: Some(init.end_to_end_id),
            transaction_id: init.transaction_id,
            initiation_type: init.initiation_type.or(Some("QR_CODE_DYNAMIC".to_owned())),
            transfer_type: Some("PIX".to_owned()),
            beneficiary: None,
            beneficiary_account: None,
            external_id: None,
        };
        self.transfer(&body, key).await
    }

    /// A transfer between two Delbank accounts (P3, internal variant), under `key`.
    pub async fn transfer_internal(
        &self,
        beneficiary_account: &str,
        amount: Money,
        description: Option<String>,
        key: &IdempotencyKey,
    ) -> Result<PixTransfer, ProviderError> {
        let body = wire::TransferRequest {
            amount: WireAmount(amount.amount()),
            description,
            end_to_end_id: None,
            transaction_id: None,
            initiation_type: None,
            transfer_type: None,
            beneficiary: None,
            beneficiary_account: Some(beneficiary_account.to_owned()),
            external_id: Some(key.as_str().chars().take(40).collect()),
        };
        self.transfer(&body, key).await
    }

    /// `POST /baas/api/v2/transfers` under `key` (retried with the same GUID).
    pub(crate) async fn transfer(
        &self,
        body: &wire::TransferRequest,
        key: &IdempotencyKey,
    ) -> Result<PixTransfer, ProviderError> {
        let call = Call::new(
            "send_pix",
            Method::POST,
            "/baas/api/v2/transfers",
            "transfer",
        )
        .json(body)?
        .idempotent(guid_for(key));
        let transfer: wire::WireTransfer = self.fetch(&call).await?;
        convert::transfer(transfer)
    }

    /// The transfer sent under `key`, if any (P4 accepts the `IdempotencyKey` as an identifier).
    pub(crate) async fn existing_transfer(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<PixTransfer>, ProviderError> {
        let call = Call::new(
            "get_pix_transfer",
            Method::GET,
            format!("/baas/api/v2/transfers/{}", guid_for(key)),
            "transfer",
        );
        match self.fetch::<wire::WireTransfer>(&call).await {
            Ok(transfer) => convert::transfer(transfer).map(Some),
            Err(ProviderError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Sends a DICT ownership code by e-mail or SMS (K4); returns the `x-auth-id` to send with
    /// the key's registration.
    pub async fn request_pix_key_auth_code(
        &self,
        channel: AuthCodeChannel,
        receiver: &str,
        message_template: &str,
    ) -> Result<String, ProviderError> {
        let call = Call::new(
            "request_pix_key_auth_code",
            Method::POST,
            "/baas/api/v1/pix/dict/auth-code",
            "pix key",
        )
        .json(&wire::AuthCodeRequest {
            sender: channel.as_str().to_owned(),
            receiver: receiver.to_owned(),
            payload: message_template.to_owned(),
        })?;
        let answer: wire::WireAuthCode = self.fetch(&call).await?;
        answer.id.ok_or_else(|| ProviderError::InvalidResponse {
            message: "auth code answer without an id".to_owned(),
        })
    }

    /// Registers a webhook (W1).
    pub async fn create_webhook(
        &self,
        webhook: &NewWebhook,
    ) -> Result<WebhookSubscription, ProviderError> {
        let call = Call::new(
            "create_webhook",
            Method::POST,
            "/baas/api/v1/webhooks",
            "webhook",
        )
        .json(&webhook.to_wire())?;
        let created: wire::WireWebhook = self.fetch(&call).await?;
        convert::webhook(created)
    }

    /// Every webhook registered with the API key (W2).
    pub async fn list_webhooks(&self) -> Result<Vec<WebhookSubscription>, ProviderError> {
        let call = Call::new(
            "list_webhooks",
            Method::GET,
            "/baas/api/v1/webhooks",
            "webhook",
        );
        let listed: Vec<wire::WireWebhook> = self.fetch(&call).await?;
        listed.into_iter().map(convert::webhook).collect()
    }

    /// One webhook registration (W3).
    pub async fn get_webhook(&self, id: &str) -> Result<WebhookSubscription, ProviderError> {
        let call = Call::new(
            "get_webhook",
            Method::GET,
            format!("/baas/api/v1/webhooks/{}", percent_encode_path_segment(id)),
            "webhook",
        );
        let found: wire::WireWebhook = self.fetch(&call).await?;
        convert::webhook(found)
    }

    /// Replaces a webhook registration (W4). Idempotent: a PATCH with the same body is retried.
    pub async fn update_webhook(
        &self,
        id: &str,
        webhook: &NewWebhook,
    ) -> Result<WebhookSubscription, ProviderError> {
        let mut call = Call::new(
            "update_webhook",
            Method::PATCH,
            format!("/baas/api/v1/webhooks/{}", percent_encode_path_segment(id)),
            "webhook",
        )
        .json(&webhook.to_wire())?;
        call.retry = Retry::Safe;
        let updated: wire::WireWebhook = self.fetch(&call).await?;
        convert::webhook(updated)
    }

    /// Deletes a webhook registration (W5). Idempotent: retried; an absent one is `NotFound`.
    pub async fn delete_webhook(&self, id: &str) -> Result<(), ProviderError> {
        let mut call = Call::new(
            "delete_webhook",
            Method::DELETE,
            format!("/baas/api/v1/webhooks/{}", percent_encode_path_segment(id)),
            "webhook",
        );
        call.retry = Retry::Safe;
        self.execute(&call).await.map(|_| ())
    }
}

// ---- Public parameter and result types of the Delbank-specific operations. ----

/// Which charges [`Client::charges`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChargeFilter {
    /// Created on or after (a Brasília day).
    pub start_date: Option<NaiveDate>,
    /// Created on or before.
    pub end_date: Option<NaiveDate>,
    /// Items per request, 1 to 50.
    pub page_size: u32,
}

/// Which entries [`Client::statement_entries`] lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementFilter {
    /// Another account of the API key; `None` for the configured one.
    pub account: Option<String>,
    /// Only entries with a greater NSU.
    pub after_nsu: Option<u64>,
    /// Items per request, 1 to 50.
    pub page_size: u32,
}

/// What [`Client::update_charge`] changes; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeUpdate {
    /// New amount.
    pub amount: Option<Money>,
    /// New due date.
    pub due_date: Option<NaiveDate>,
    /// New description.
    pub description: Option<String>,
}

/// The v2 QR code families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrCodeKind {
    /// Reusable, optionally without an amount.
    Static,
    /// Single use, with an amount and an expiry.
    Dynamic,
}

impl QrCodeKind {
    fn as_path(self) -> &'static str {
        match self {
            QrCodeKind::Static => "static",
            QrCodeKind::Dynamic => "dynamic",
        }
    }
}

/// A v2 QR code to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQrCode {
    /// Our id for it (a GUID is recommended).
    pub correlation_id: String,
    /// The amount; optional for static codes.
    pub amount: Option<Money>,
    /// Shown to the payer.
    pub description: Option<String>,
    /// Dynamic codes: seconds until expiry (Delbank's default is 86400).
    pub expires_in_secs: Option<u64>,
    /// Static codes: the Pix key paid.
    pub pix_key: Option<String>,
}

/// A v2 QR code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCode {
    /// Our id.
    pub correlation_id: String,
    /// Delbank's transaction id.
    pub transaction_id: Option<String>,
    /// Status (dynamic codes), as Delbank names it.
    pub status: Option<String>,
    /// The amount.
    pub amount: Option<Money>,
    /// The EMV "copia e cola" text.
    pub payload: Option<String>,
    /// When it expires.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The result of a payment initialization: what to pay with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentInitialization {
    /// The single-use end-to-end id.
    pub end_to_end_id: String,
    /// QR codes: Delbank's transaction id.
    pub transaction_id: Option<String>,
    /// QR codes: `QR_CODE_STATIC` or `QR_CODE_DYNAMIC`.
    pub initiation_type: Option<String>,
    /// QR codes: the amount to pay, when fixed.
    pub amount: Option<Money>,
    /// The receiving institution's ISPB.
    pub beneficiary_ispb: Option<String>,
}

/// Where a DICT ownership code is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthCodeChannel {
    /// By e-mail.
    Email,
    /// By SMS.
    Sms,
}

impl AuthCodeChannel {
    fn as_str(self) -> &'static str {
        match self {
            AuthCodeChannel::Email => "EMAIL",
            AuthCodeChannel::Sms => "SMS",
        }
    }
}

/// A webhook registration to create or replace.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    /// One Delbank event type, e.g. `PIX_RECEIVED`.
    pub event_type: String,
    /// The receiver URL.
    pub url: String,
    /// How Delbank authenticates its requests.
    pub scheme: AuthScheme,
    /// The secret material, in Delbank's format for the scheme: base64 `login:password` for
    /// BASIC, the token for BEARER, `Name: value` for HEADER.
    pub authorization: WebhookCredential,
}

impl NewWebhook {
    fn to_wire(&self) -> wire::WebhookRequest {
        let scheme = match self.scheme {
            AuthScheme::Basic => wire::WireScheme::Basic,
            AuthScheme::Bearer => wire::WireScheme::Bearer,
            AuthScheme::Header => wire::WireScheme::Header,
        };
        wire::WebhookRequest {
            event_type: self.event_type.clone(),
            url: self.url.clone(),
            authorization_scheme: scheme,
            authorization: self.authorization.expose_secret().to_owned(),
        }
    }
}

/// A webhook registration at Delbank (its credential is not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSubscription {
    /// Delbank's integer id, as text.
    pub id: String,
    /// The event type.
    pub event_type: String,
    /// The receiver URL.
    pub url: String,
    /// The scheme, `None` for `NONE` or an unknown one.
    pub scheme: Option<AuthScheme>,
}

// ---- The retry policy, error mapping and small helpers. ----

/// The one retry policy: how long to wait before attempt `attempt + 1`, or `None` to give up.
///
/// Only [`Retry::Safe`] calls are retried, only for retryable errors (timeouts, connection
/// failures, 5xx, 429), at most `max_retries` times. The delay is
/// [`providers::retry::backoff`]'s.
pub(crate) fn retry_delay(
    retry: Retry,
    error: &ProviderError,
    attempt: u32,
    max_retries: u32,
    base: Duration,
) -> Option<Duration> {
    if retry == Retry::Never || attempt >= max_retries || !error.is_retryable() {
        return None;
    }
    Some(providers::retry::backoff(error, attempt, base))
}

/// A failure before a status arrived.
fn transport_error(operation: &str, error: &reqwest::Error) -> ProviderError {
    if error.is_timeout() {
        return ProviderError::Timeout {
            operation: operation.to_owned(),
        };
    }
    ProviderError::Unavailable {
        status: None,
        message: format!("{operation}: cannot reach delbank ({})", error_kind(error)),
    }
}

fn error_kind(error: &reqwest::Error) -> &'static str {
    match (error.is_connect(), error.is_body(), error.is_request()) {
        (true, _, _) => "connection failed",
        (_, true, _) => "body interrupted",
        (_, _, true) => "request failed",
        _ => "transport error",
    }
}

/// Maps a non-2xx answer, keeping Delbank's problem-details fields (title, detail, trace id,
/// field errors keyed by `$.field`).
pub(crate) fn error_from_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    resource: &str,
) -> ProviderError {
    let problem: WireProblem = serde_json::from_slice(body).unwrap_or_default();
    let title = problem
        .detail
        .clone()
        .or(problem.title.clone())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    let message = match &problem.trace_id {
        Some(trace) => format!("{title} (traceId {trace})"),
        None => title,
    };
    let code = problem
        .code
        .clone()
        .unwrap_or_else(|| format!("http_{}", status.as_u16()));
    match status.as_u16() {
        401 | 403 => ProviderError::Unauthorized { message },
        404 => ProviderError::NotFound {
            resource: resource.to_owned(),
            code: Some(code),
        },
        409 => ProviderError::Conflict { code, message },
        429 => ProviderError::RateLimited {
            retry_after: headers
                .get("retry-after")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| providers::retry_after(value, chrono::Utc::now())),
        },
        500..=599 => ProviderError::Unavailable {
            status: Some(status.as_u16()),
            message,
        },
        _ => {
            let field_errors: Vec<FieldError> = match problem.errors {
                Some(ProblemErrors::Fields(fields)) => fields
                    .into_iter()
                    .flat_map(|(path, messages)| {
                        let param = field_name(&path);
                        messages.into_iter().map(move |message| FieldError {
                            param: param.clone(),
                            message,
                            code: None,
                        })
                    })
                    .collect(),
                Some(ProblemErrors::Other(_)) | None => Vec::new(),
            };
            ProviderError::Rejected {
                status: status.as_u16(),
                code,
                message,
                param: field_errors.first().map(|error| error.param.clone()),
                field_errors,
            }
        }
    }
}

/// `$.payer.document` → `payer.document`.
fn field_name(path: &str) -> String {
    path.trim_start_matches('$')
        .trim_start_matches('.')
        .to_owned()
}

fn parse_body<T: DeserializeOwned>(operation: &str, body: &[u8]) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|error| ProviderError::InvalidResponse {
        message: format!(
            "{operation}: unreadable answer at line {} column {} ({:?})",
            error.line(),
            error.column(),
            error.classify()
        ),
    })
}

fn read_pagination(headers: &HeaderMap) -> Option<WirePagination> {
    let value = headers.get("pagination")?.to_str().ok()?;
    serde_json::from_str(value).ok()
}

/// Whether a page after `page` exists: from the `pagination` header when sent, else from a full
/// page.
pub(crate) fn has_more_pages(
    page: u64,
    pagination: Option<WirePagination>,
    items: usize,
    page_size: u32,
) -> bool {
    if items == 0 {
        return false;
    }
    match pagination {
        Some(pagination) => pagination.current_page.max(page) < pagination.page_count,
        None => u32::try_from(items).is_ok_and(|items| items >= page_size),
    }
}

/// The GUID sent as `IdempotencyKey` for a gateway key: the key itself when it is a UUID, else a
/// UUID derived from its SHA-256, so the same logical request always carries the same GUID.
pub fn guid_for(key: &IdempotencyKey) -> String {
    if let Ok(uuid) = uuid::Uuid::parse_str(key.as_str()) {
        return uuid.hyphenated().to_string();
    }
    let digest = Sha256::digest(key.as_str().as_bytes());
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::{HeaderMap, StatusCode};
    use providers::{IdempotencyKey, ProviderError};

    use crate::client::{Retry, error_from_response, guid_for, has_more_pages, retry_delay};
    use crate::wire::WirePagination;

    fn unavailable() -> ProviderError {
        ProviderError::Unavailable {
            status: Some(503),
            message: "down".to_owned(),
        }
    }

    #[test]
    fn only_safe_calls_are_retried_and_only_for_retryable_errors() {
        let base = Duration::from_millis(100);
        assert!(retry_delay(Retry::Safe, &unavailable(), 0, 2, base).is_some());
        assert!(retry_delay(Retry::Never, &unavailable(), 0, 2, base).is_none());
        let rejected = ProviderError::Rejected {
            status: 400,
            code: "x".to_owned(),
            message: "x".to_owned(),
            param: None,
            field_errors: Vec::new(),
        };
        assert!(retry_delay(Retry::Safe, &rejected, 0, 2, base).is_none());
        assert!(retry_delay(Retry::Safe, &unavailable(), 2, 2, base).is_none());
    }

    #[test]
    fn retry_delays_double_with_bounded_jitter() {
        let base = Duration::from_millis(100);
        for attempt in 0..3 {
            let delay = retry_delay(Retry::Safe, &unavailable(), attempt, 5, base).unwrap();
            let floor = base * 2_u32.pow(attempt);
            assert!(delay >= floor && delay <= floor + base / 2, "{delay:?}");
        }
        let limited = ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(60)),
        };
        assert_eq!(
            retry_delay(Retry::Safe, &limited, 0, 2, base),
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn problem_details_keep_delbanks_fields() {
        let body = br#"{"type":"https://tools.ietf.org/html/rfc7231#section-6.5.1","title":"One or more validation errors occurred.","status":400,"traceId":"00-abc-def-00","errors":{"$.dueDate":["The dueDate field is required."]}}"#;
        let error = error_from_response(StatusCode::BAD_REQUEST, &HeaderMap::new(), body, "charge");
        let ProviderError::Rejected {
            status,
            message,
            param,
            field_errors,
            ..
        } = error
        else {
            panic!("expected a rejection: {error:?}");
        };
        assert_eq!(status, 400);
        assert!(message.contains("validation errors"), "{message}");
        assert!(message.contains("00-abc-def-00"), "{message}");
        assert_eq!(param.as_deref(), Some("dueDate"));
        assert_eq!(field_errors[0].message, "The dueDate field is required.");
    }

    #[test]
    fn statuses_map_to_provider_errors() {
        let headers = HeaderMap::new();
        let map = |status: u16| {
            error_from_response(
                StatusCode::from_u16(status).unwrap(),
                &headers,
                b"",
                "charge",
            )
            .code()
        };
        assert_eq!(map(401), "provider_unauthorized");
        assert_eq!(map(403), "provider_unauthorized");
        assert_eq!(map(404), "provider_not_found");
        assert_eq!(map(409), "provider_conflict");
        assert_eq!(map(422), "provider_rejected");
        assert_eq!(map(429), "provider_rate_limited");
        assert_eq!(map(502), "provider_unavailable");
    }

    #[test]
    fn the_pagination_header_decides_whether_more_pages_follow() {
        let header = |current, count| {
            Some(WirePagination {
                current_page: current,
                page_size: 10,
                page_count: count,
                row_count: 25,
            })
        };
        assert!(has_more_pages(1, header(1, 3), 10, 10));
        assert!(!has_more_pages(3, header(3, 3), 5, 10));
        assert!(!has_more_pages(1, header(1, 3), 0, 10));
        assert!(has_more_pages(1, None, 10, 10));
        assert!(!has_more_pages(1, None, 9, 10));
    }

    #[test]
    fn the_idempotency_guid_is_stable_per_key_and_a_uuid_key_is_kept() {
        let key = IdempotencyKey::parse("order-42-payout").unwrap();
        assert_eq!(guid_for(&key), guid_for(&key));
        assert_eq!(
            uuid::Uuid::parse_str(&guid_for(&key))
                .unwrap()
                .get_version_num(),
            4
        );
        let other = IdempotencyKey::parse("order-43-payout").unwrap();
        assert_ne!(guid_for(&key), guid_for(&other));
        let uuid_key = IdempotencyKey::parse("6F9619FF-8B86-D011-B42D-00C04FC964FF").unwrap();
        assert_eq!(guid_for(&uuid_key), "6f9619ff-8b86-d011-b42d-00c04fc964ff");
    }
}
