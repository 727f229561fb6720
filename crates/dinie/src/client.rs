//! [`DinieClient`]: every operation of the Dinie reference. Lists are streams that follow
//! `starting_after` until `has_more` is false; creates take an [`IdempotencyKey`] sent as
//! `Idempotency-Key` on every attempt.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use http::Method;
use providers::banking::Page;
use providers::{
    CreditOffer, CreditOfferStatus, Customer, CustomerStatus, IdempotencyKey, Installment,
    KycDocument, KycDocumentUpload, Loan, Money, NewCustomer, NewLoan, ProviderError, Simulation,
    SimulationRequest, WebhookCredential, percent_encode_path_segment,
};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::config::Config;
use crate::convert;
use crate::http::{Body, Call, Transport};
use crate::model::{
    ApiCredential, BiometricsSession, CreatedApiCredential, CreatedWebhookEndpoint, CustomerFilter,
    CustomerUpdate, NewWebhookEndpoint, RotatedSecret, WebhookEndpoint, WebhookEndpointUpdate,
};
use crate::wire::{self, HasId};

/// How many simulations' terms a client remembers for `POST /loans`.
const REMEMBERED_SIMULATIONS: usize = 1024;

/// The terms of a simulation, sent back with the loan taken from it.
#[derive(Debug, Clone)]
struct Terms {
    installments: u32,
    installment_amount: Money,
    first_due_date: Option<NaiveDate>,
}

/// A client of the Dinie API. Cheap to clone: clones share the HTTP client, the token and the rate
/// window.
#[derive(Clone)]
pub struct DinieClient {
    transport: Arc<Transport>,
    simulations: Arc<Mutex<VecDeque<(String, Terms)>>>,
}

impl std::fmt::Debug for DinieClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DinieClient")
    }
}

fn money_text(operation: &str, field: &str, amount: Money) -> Result<String, ProviderError> {
    match amount.with_max_scale(2) {
        Ok(amount) => Ok(amount.to_minor_units_string()),
        Err(_) => Err(ProviderError::Rejected {
            status: 422,
            code: "invalid_amount".to_owned(),
            message: format!("{operation}: amounts have at most two decimal places"),
            param: Some(field.to_owned()),
            field_errors: Vec::new(),
        }),
    }
}

fn customer_status_text(status: CustomerStatus) -> &'static str {
    match status {
        CustomerStatus::PendingKyc => "pending_kyc",
        CustomerStatus::UnderReview => "under_review",
        CustomerStatus::Active => "active",
        CustomerStatus::Denied => "denied",
    }
}

fn offer_status_text(status: CreditOfferStatus) -> &'static str {
    match status {
        CreditOfferStatus::Available => "available",
        CreditOfferStatus::Accepted => "accepted",
        CreditOfferStatus::Expired => "expired",
    }
}

/// A `multipart/form-data` body with the fields `type` and `file`. The boundary derives from the
/// idempotency key, so the same upload under the same key is the same bytes, on a retry of this
/// call as on a later call (Dinie compares the bodies of requests sharing a key).
fn multipart(document_type: &str, upload: &KycDocumentUpload, key: &IdempotencyKey) -> Body {
    let digest = Sha256::digest(key.as_str().as_bytes());
    let boundary: String = digest
        .iter()
        .take(12)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let boundary = format!("paygate-{boundary}");
    let clean = |text: &str| text.replace(['"', '\r', '\n'], "_");
    let mut bytes = Vec::with_capacity(upload.bytes.len() + 512);
    bytes.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\n{}\r\n",
            clean(document_type)
        )
        .as_bytes(),
    );
    bytes.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            clean(&upload.file_name),
            clean(&upload.content_type)
        )
        .as_bytes(),
    );
    bytes.extend_from_slice(&upload.bytes);
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Body::Multipart {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        bytes,
    }
}

impl DinieClient {
    /// A client for `config`; fails when the configuration cannot work (the message names the key).
    pub fn new(config: &Config) -> Result<DinieClient, String> {
        Ok(DinieClient {
            transport: Arc::new(Transport::new(config)?),
            simulations: Arc::new(Mutex::new(VecDeque::new())),
        })
    }

    /// Follows a list endpoint page by page (100 items a page).
    fn paginate<W, T>(
        &self,
        call: Call,
        convert: fn(W) -> Result<T, ProviderError>,
    ) -> BoxStream<'static, Result<T, ProviderError>>
    where
        W: DeserializeOwned + HasId + Send + 'static,
        T: Send + 'static,
    {
        let transport = self.transport.clone();
        futures::stream::try_unfold(Some(None::<String>), move |cursor| {
            let transport = transport.clone();
            let call = call.clone();
            async move {
                let Some(after) = cursor else {
                    return Ok(None);
                };
                let mut call = call.query("limit", "100");
                if let Some(after) = after {
                    call = call.query("starting_after", after);
                }
                let page: wire::List<W> = transport.json(call).await?;
                let next = match (page.has_more, page.data.last()) {
                    (true, Some(last)) => Some(Some(last.id().to_owned())),
                    _ => None,
                };
                let items: Vec<Result<T, ProviderError>> =
                    page.data.into_iter().map(convert).collect();
                Ok(Some((futures::stream::iter(items), next)))
            }
        })
        .try_flatten()
        .boxed()
    }

    // ----- credentials -----

    /// `POST /auth/credentials`: a new API credential; its secret is returned only now.
    pub async fn create_credential(
        &self,
        name: &str,
        expires_at: Option<DateTime<Utc>>,
        key: &IdempotencyKey,
    ) -> Result<CreatedApiCredential, ProviderError> {
        let body = wire::CreateCredential {
            name,
            expires_at: expires_at.map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true)),
        };
        let call = Call::new(
            "create_credential",
            Method::POST,
            "/auth/credentials".into(),
            "credential",
        )
        .json(&body)?
        .keyed(key);
        let mut created: wire::Credential = self.transport.json(call).await?;
        let secret =
            created
                .client_secret
                .take()
                .ok_or_else(|| ProviderError::InvalidResponse {
                    message: "create_credential: client_secret is missing".into(),
                })?;
        Ok(CreatedApiCredential {
            credential: ApiCredential::try_from(created)?,
            client_secret: SecretString::from(secret),
        })
    }

    /// `GET /auth/credentials`, every page.
    pub fn list_credentials(&self) -> BoxStream<'static, Result<ApiCredential, ProviderError>> {
        let call = Call::new(
            "list_credentials",
            Method::GET,
            "/auth/credentials".into(),
            "credential",
        );
        self.paginate::<wire::Credential, _>(call, ApiCredential::try_from)
    }

    /// `DELETE /auth/credentials/{client_id}`: revokes at once (409 when already revoked).
    pub async fn revoke_credential(&self, client_id: &str) -> Result<(), ProviderError> {
        let call = Call::new(
            "revoke_credential",
            Method::DELETE,
            format!(
                "/auth/credentials/{}",
                percent_encode_path_segment(client_id)
            ),
            "credential",
        );
        self.transport.send(call).await.map(|_| ())
    }

    // ----- customers -----

    /// `POST /customers`. The same CPF with the same `external_id` returns the existing customer;
    /// with another one it is a `Conflict` (`customer_already_exists`).
    pub async fn create_customer(
        &self,
        customer: &NewCustomer,
        key: &IdempotencyKey,
    ) -> Result<Customer, ProviderError> {
        let body = wire::CreateCustomer {
            cpf: customer.document.expose_formatted(),
            cnpj: None,
            name: &customer.name,
            email: customer.email.as_deref(),
            phone: customer.phone.as_deref(),
            external_id: customer.external_id.as_deref(),
        };
        let call = Call::new(
            "create_customer",
            Method::POST,
            "/customers".into(),
            "customer",
        )
        .json(&body)?
        .keyed(key);
        let created: wire::Customer = self.transport.json(call).await?;
        Customer::try_from(created)
    }

    fn customers_call(filter: &CustomerFilter) -> Call {
        let mut call = Call::new(
            "list_customers",
            Method::GET,
            "/customers".into(),
            "customer",
        );
        if let Some(external_id) = &filter.external_id {
            call = call.query("external_id", external_id.clone());
        }
        if let Some(document) = &filter.document {
            call = call.query("cpf", document.expose_formatted());
        }
        if let Some(status) = filter.status {
            call = call.query("status", customer_status_text(status));
        }
        call
    }

    /// `GET /customers`, every page.
    pub fn list_customers(
        &self,
        filter: &CustomerFilter,
    ) -> BoxStream<'static, Result<Customer, ProviderError>> {
        self.paginate::<wire::Customer, _>(DinieClient::customers_call(filter), Customer::try_from)
    }

    /// `GET /customers`, one page.
    pub async fn customers_page(
        &self,
        filter: &CustomerFilter,
        limit: u32,
        starting_after: Option<&str>,
    ) -> Result<Page<Customer>, ProviderError> {
        let mut call = DinieClient::customers_call(filter).query("limit", limit.to_string());
        if let Some(after) = starting_after {
            call = call.query("starting_after", after);
        }
        let page: wire::List<wire::Customer> = self.transport.json(call).await?;
        let next_cursor = match (page.has_more, page.data.last()) {
            (true, Some(last)) => Some(last.id.clone()),
            _ => None,
        };
        let items = page
            .data
            .into_iter()
            .map(Customer::try_from)
            .collect::<Result<Vec<Customer>, ProviderError>>()?;
        Ok(Page { items, next_cursor })
    }

    /// `GET /customers/{id}`.
    pub async fn get_customer(&self, id: &str) -> Result<Customer, ProviderError> {
        let call = Call::new(
            "get_customer",
            Method::GET,
            format!("/customers/{}", percent_encode_path_segment(id)),
            "customer",
        );
        let customer: wire::Customer = self.transport.json(call).await?;
        Customer::try_from(customer)
    }

    /// `PATCH /customers/{id}`. Not retried: a partial update is not idempotent in general.
    pub async fn update_customer(
        &self,
        id: &str,
        update: &CustomerUpdate,
    ) -> Result<Customer, ProviderError> {
        let body = wire::UpdateCustomer {
            email: update.email.as_deref(),
            phone: update.phone.as_deref(),
            name: update.name.as_deref(),
            cnpj: update
                .cnpj
                .as_ref()
                .map(providers::Document::expose_formatted),
            trading_name: update.trading_name.as_deref(),
        };
        let call = Call::new(
            "update_customer",
            Method::PATCH,
            format!("/customers/{}", percent_encode_path_segment(id)),
            "customer",
        )
        .json(&body)?;
        let customer: wire::Customer = self.transport.json(call).await?;
        Customer::try_from(customer)
    }

    /// `POST /customers/{id}/documents` (multipart `type` + `file`). `upload.kind` is the neutral
    /// kind (`identity_front`), translated to Dinie's type (`identity_card_front`).
    pub async fn upload_document(
        &self,
        customer_id: &str,
        upload: &KycDocumentUpload,
        key: &IdempotencyKey,
    ) -> Result<KycDocument, ProviderError> {
        let mut call = Call::new(
            "upload_kyc_document",
            Method::POST,
            format!(
                "/customers/{}/documents",
                percent_encode_path_segment(customer_id)
            ),
            "customer",
        )
        .keyed(key);
        call.body = multipart(convert::dinie_document_type(&upload.kind), upload, key);
        let uploaded: wire::KycUpload = self.transport.json(call).await?;
        Ok(KycDocument::from(uploaded))
    }

    /// `POST /customers/{id}/biometrics`: a session URL for the customer's biometrics check.
    pub async fn create_biometrics_session(
        &self,
        customer_id: &str,
        key: &IdempotencyKey,
    ) -> Result<BiometricsSession, ProviderError> {
        let call = Call::new(
            "create_biometrics_session",
            Method::POST,
            format!(
                "/customers/{}/biometrics",
                percent_encode_path_segment(customer_id)
            ),
            "customer",
        )
        .keyed(key);
        let session: wire::BiometricsSession = self.transport.json(call).await?;
        Ok(BiometricsSession::from(session))
    }

    /// `GET /customers/{id}/credit-offers`, every page.
    pub fn list_customer_credit_offers(
        &self,
        customer_id: &str,
    ) -> BoxStream<'static, Result<CreditOffer, ProviderError>> {
        let call = Call::new(
            "list_customer_credit_offers",
            Method::GET,
            format!(
                "/customers/{}/credit-offers",
                percent_encode_path_segment(customer_id)
            ),
            "customer",
        );
        self.paginate::<wire::CreditOffer, _>(call, CreditOffer::try_from)
    }

    // ----- credit offers and simulations -----

    /// `GET /credit-offers`, every page, optionally for one customer and one status.
    pub fn list_credit_offers(
        &self,
        customer_id: Option<&str>,
        status: Option<CreditOfferStatus>,
    ) -> BoxStream<'static, Result<CreditOffer, ProviderError>> {
        let mut call = Call::new(
            "list_credit_offers",
            Method::GET,
            "/credit-offers".into(),
            "credit offer",
        );
        if let Some(customer_id) = customer_id {
            call = call.query("customer_id", customer_id);
        }
        if let Some(status) = status {
            call = call.query("status", offer_status_text(status));
        }
        self.paginate::<wire::CreditOffer, _>(call, CreditOffer::try_from)
    }

    /// `GET /credit-offers/{id}`.
    pub async fn get_credit_offer(&self, id: &str) -> Result<CreditOffer, ProviderError> {
        let call = Call::new(
            "get_credit_offer",
            Method::GET,
            format!("/credit-offers/{}", percent_encode_path_segment(id)),
            "credit offer",
        );
        let offer: wire::CreditOffer = self.transport.json(call).await?;
        CreditOffer::try_from(offer)
    }

    /// `POST /credit-offers/{id}/simulations`. Only the offer's latest simulation can become a
    /// loan.
    pub async fn create_simulation(
        &self,
        offer_id: &str,
        request: &SimulationRequest,
        key: &IdempotencyKey,
    ) -> Result<Simulation, ProviderError> {
        let body = wire::Simulate {
            requested_amount: money_text("simulate", "amount", request.amount)?,
            installment_count: request.installments,
        };
        let call = Call::new(
            "simulate",
            Method::POST,
            format!(
                "/credit-offers/{}/simulations",
                percent_encode_path_segment(offer_id)
            ),
            "credit offer",
        )
        .json(&body)?
        .keyed(key);
        let simulation: wire::Simulation = self.transport.json(call).await?;
        let simulation = Simulation::from(simulation);
        let mut remembered = self.simulations.lock().await;
        if remembered.len() >= REMEMBERED_SIMULATIONS {
            remembered.pop_front();
        }
        remembered.push_back((
            simulation.id.clone(),
            Terms {
                installments: simulation.installments,
                installment_amount: simulation.installment_amount,
                first_due_date: simulation.first_due_date,
            },
        ));
        Ok(simulation)
    }

    // ----- loans -----

    /// `POST /loans` from a simulation. The simulation's terms are sent along when this client
    /// made the simulation; Dinie checks them against its latest simulation of the offer.
    pub async fn create_loan(
        &self,
        loan: &NewLoan,
        key: &IdempotencyKey,
    ) -> Result<Loan, ProviderError> {
        let terms = self
            .simulations
            .lock()
            .await
            .iter()
            .find(|(id, _)| *id == loan.simulation_id)
            .map(|(_, terms)| terms.clone());
        let installments_value = terms
            .as_ref()
            .map(|terms| {
                money_text(
                    "create_loan",
                    "installment_amount",
                    terms.installment_amount,
                )
            })
            .transpose()?;
        let body = wire::CreateLoan {
            credit_offer_id: &loan.credit_offer_id,
            simulation_id: &loan.simulation_id,
            installments: terms.as_ref().map(|terms| terms.installments),
            installments_value,
            first_due_date: terms.and_then(|terms| terms.first_due_date),
        };
        let call = Call::new("create_loan", Method::POST, "/loans".into(), "credit offer")
            .json(&body)?
            .keyed(key);
        let created: wire::Loan = self.transport.json(call).await?;
        Ok(Loan::from(created))
    }

    /// `GET /loans/{id}`.
    pub async fn get_loan(&self, id: &str) -> Result<Loan, ProviderError> {
        let call = Call::new(
            "get_loan",
            Method::GET,
            format!("/loans/{}", percent_encode_path_segment(id)),
            "loan",
        );
        let loan: wire::Loan = self.transport.json(call).await?;
        Ok(Loan::from(loan))
    }

    /// `GET /loans/{id}/transactions`, every page, as installments in due-date order.
    pub async fn list_installments(
        &self,
        loan_id: &str,
    ) -> Result<Vec<Installment>, ProviderError> {
        let call = Call::new(
            "list_installments",
            Method::GET,
            format!(
                "/loans/{}/transactions",
                percent_encode_path_segment(loan_id)
            ),
            "loan",
        );
        let transactions: Vec<wire::Transaction> = self
            .paginate::<wire::Transaction, _>(call, Ok)
            .try_collect()
            .await?;
        Ok(convert::installments(transactions))
    }

    // ----- webhook endpoints -----

    /// `POST /webhooks/endpoints`; the signing secret is returned only now.
    pub async fn create_webhook_endpoint(
        &self,
        endpoint: &NewWebhookEndpoint,
        key: &IdempotencyKey,
    ) -> Result<CreatedWebhookEndpoint, ProviderError> {
        let body = wire::CreateEndpoint {
            url: &endpoint.url,
            events: &endpoint.events,
            description: endpoint.description.as_deref(),
        };
        let call = Call::new(
            "create_webhook_endpoint",
            Method::POST,
            "/webhooks/endpoints".into(),
            "webhook endpoint",
        )
        .json(&body)?
        .keyed(key);
        let mut created: wire::Endpoint = self.transport.json(call).await?;
        let secret = created
            .secret
            .take()
            .ok_or_else(|| ProviderError::InvalidResponse {
                message: "create_webhook_endpoint: secret is missing".into(),
            })?;
        Ok(CreatedWebhookEndpoint {
            endpoint: WebhookEndpoint::try_from(created)?,
            secret: WebhookCredential::new(secret),
        })
    }

    /// `GET /webhooks/endpoints`, every page (never with secrets).
    pub fn list_webhook_endpoints(
        &self,
    ) -> BoxStream<'static, Result<WebhookEndpoint, ProviderError>> {
        let call = Call::new(
            "list_webhook_endpoints",
            Method::GET,
            "/webhooks/endpoints".into(),
            "webhook endpoint",
        );
        self.paginate::<wire::Endpoint, _>(call, WebhookEndpoint::try_from)
    }

    /// `GET /webhooks/endpoints/{id}`.
    pub async fn get_webhook_endpoint(&self, id: &str) -> Result<WebhookEndpoint, ProviderError> {
        let call = Call::new(
            "get_webhook_endpoint",
            Method::GET,
            format!("/webhooks/endpoints/{}", percent_encode_path_segment(id)),
            "webhook endpoint",
        );
        let endpoint: wire::Endpoint = self.transport.json(call).await?;
        WebhookEndpoint::try_from(endpoint)
    }

    /// `PATCH /webhooks/endpoints/{id}` (not retried).
    pub async fn update_webhook_endpoint(
        &self,
        id: &str,
        update: &WebhookEndpointUpdate,
    ) -> Result<WebhookEndpoint, ProviderError> {
        let body = wire::UpdateEndpoint {
            url: update.url.as_deref(),
            events: update.events.as_deref(),
            description: update.description.as_deref(),
            status: update.status.map(crate::model::EndpointStatus::as_str),
        };
        let call = Call::new(
            "update_webhook_endpoint",
            Method::PATCH,
            format!("/webhooks/endpoints/{}", percent_encode_path_segment(id)),
            "webhook endpoint",
        )
        .json(&body)?;
        let endpoint: wire::Endpoint = self.transport.json(call).await?;
        WebhookEndpoint::try_from(endpoint)
    }

    /// `DELETE /webhooks/endpoints/{id}`: stops every delivery.
    pub async fn delete_webhook_endpoint(&self, id: &str) -> Result<(), ProviderError> {
        let call = Call::new(
            "delete_webhook_endpoint",
            Method::DELETE,
            format!("/webhooks/endpoints/{}", percent_encode_path_segment(id)),
            "webhook endpoint",
        );
        self.transport.send(call).await.map(|_| ())
    }

    /// `POST /webhooks/endpoints/{id}/secret/rotate`: a new secret; the previous one keeps signing
    /// (a second signature) for `expire_current_in`, at most 24 hours.
    pub async fn rotate_webhook_secret(
        &self,
        id: &str,
        expire_current_in: Duration,
        key: &IdempotencyKey,
    ) -> Result<RotatedSecret, ProviderError> {
        let body = wire::Rotate {
            expire_current_in: expire_current_in.as_secs().min(86_400),
        };
        let call = Call::new(
            "rotate_webhook_secret",
            Method::POST,
            format!(
                "/webhooks/endpoints/{}/secret/rotate",
                percent_encode_path_segment(id)
            ),
            "webhook endpoint",
        )
        .json(&body)?
        .keyed(key);
        let rotated: wire::RotatedSecret = self.transport.json(call).await?;
        Ok(RotatedSecret::from(rotated))
    }
}
