//! The simulator's in-memory world and Dinie's business rules: customers and their KYC, credit
//! offers, simulations, loans and their installments, API credentials, webhook endpoints.
//!
//! Every mutation that Dinie reports with a webhook calls [`State::emit`], which queues the event in
//! `outbox`; the server drains it after the mutation and hands it to the delivery worker.

use std::collections::HashMap;

use chrono::{DateTime, Duration as TimeDelta, Months, NaiveDate, Utc};
use providers::Document;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};

use crate::OfferTerms;
use crate::problem::Problem;
use crate::wire::{self, money_text, new_id, time_text};

/// An API client (client id and secret) of the partner.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Credential {
    pub(crate) id: String,
    pub(crate) client_id: String,
    pub(crate) name: String,
    pub(crate) status: &'static str,
    #[serde(serialize_with = "wire::time_opt")]
    pub(crate) expires_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "wire::time")]
    pub(crate) created_at: DateTime<Utc>,
    #[serde(serialize_with = "wire::time")]
    pub(crate) updated_at: DateTime<Utc>,
    #[serde(serialize_with = "wire::time_opt")]
    pub(crate) last_used_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub(crate) secret: String,
}

/// An access token handed out by `/auth/token`.
#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub(crate) client_id: String,
    pub(crate) expires_at: DateTime<Utc>,
}

/// Onboarding status of a customer ([D]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CustomerStatus {
    PendingKyc,
    UnderReview,
    Active,
}

/// One KYC requirement of a customer.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct KycItem {
    pub(crate) kind: &'static str,
    #[serde(rename = "type")]
    pub(crate) item_type: &'static str,
    pub(crate) description: &'static str,
    pub(crate) status: &'static str,
    pub(crate) message: Option<String>,
    #[serde(serialize_with = "wire::time_opt")]
    pub(crate) uploaded_at: Option<DateTime<Utc>>,
}

/// A borrower.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Customer {
    pub(crate) id: String,
    pub(crate) status: CustomerStatus,
    pub(crate) cpf: String,
    pub(crate) cnpj: Option<String>,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) phone: String,
    pub(crate) trading_name: Option<String>,
    pub(crate) external_id: Option<String>,
    pub(crate) kyc: Vec<KycItem>,
    #[serde(serialize_with = "wire::time")]
    pub(crate) created_at: DateTime<Utc>,
    #[serde(serialize_with = "wire::time")]
    pub(crate) updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub(crate) document: Document,
}

/// An uploaded KYC document.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct KycUpload {
    pub(crate) id: String,
    #[serde(rename = "type")]
    pub(crate) upload_type: String,
    pub(crate) status: &'static str,
    #[serde(serialize_with = "wire::time")]
    pub(crate) uploaded_at: DateTime<Utc>,
    #[serde(serialize_with = "wire::time")]
    pub(crate) created_at: DateTime<Utc>,
    #[serde(serialize_with = "wire::time")]
    pub(crate) updated_at: DateTime<Utc>,
}

/// Status of a credit offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OfferStatus {
    Available,
    Accepted,
    Expired,
}

/// A credit offer.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CreditOffer {
    pub(crate) id: String,
    pub(crate) customer_id: String,
    pub(crate) status: OfferStatus,
    #[serde(serialize_with = "wire::money")]
    pub(crate) approved_amount: Decimal,
    #[serde(serialize_with = "wire::money")]
    pub(crate) min_amount: Decimal,
    #[serde(serialize_with = "wire::rate")]
    pub(crate) interest_rate: Decimal,
    pub(crate) installments: u32,
    pub(crate) due_date_rule: Option<String>,
    #[serde(serialize_with = "wire::time")]
    pub(crate) valid_until: DateTime<Utc>,
    #[serde(serialize_with = "wire::time")]
    pub(crate) created_at: DateTime<Utc>,
    #[serde(serialize_with = "wire::time")]
    pub(crate) updated_at: DateTime<Utc>,
}

/// A priced simulation.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Simulation {
    pub(crate) id: String,
    pub(crate) credit_offer_id: String,
    #[serde(serialize_with = "wire::money")]
    pub(crate) requested_amount: Decimal,
    #[serde(serialize_with = "wire::money")]
    pub(crate) amount: Decimal,
    #[serde(serialize_with = "wire::money")]
    pub(crate) interest_amount: Decimal,
    #[serde(serialize_with = "wire::money")]
    pub(crate) fees_amount: Decimal,
    #[serde(serialize_with = "wire::money")]
    pub(crate) iof_amount: Decimal,
    #[serde(serialize_with = "wire::money")]
    pub(crate) total_loan_amount: Decimal,
    #[serde(serialize_with = "wire::rate")]
    pub(crate) interest_percentage: Decimal,
    #[serde(serialize_with = "wire::rate")]
    pub(crate) cet_percentage: Decimal,
    pub(crate) number_of_installments: u32,
    #[serde(serialize_with = "wire::money")]
    pub(crate) installments_value: Decimal,
    pub(crate) first_due_date: NaiveDate,
    #[serde(serialize_with = "wire::time")]
    pub(crate) created_at: DateTime<Utc>,
}

/// Lifecycle of a loan ([D]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LoanStatus {
    Processing,
    ContractGenerated,
    AwaitingSignatures,
    Signed,
    Disbursing,
    Active,
    Finished,
    Cancelled,
    Error,
}

impl LoanStatus {
    fn as_str(self) -> &'static str {
        match self {
            LoanStatus::Processing => "processing",
            LoanStatus::ContractGenerated => "contract_generated",
            LoanStatus::AwaitingSignatures => "awaiting_signatures",
            LoanStatus::Signed => "signed",
            LoanStatus::Disbursing => "disbursing",
            LoanStatus::Active => "active",
            LoanStatus::Finished => "finished",
            LoanStatus::Cancelled => "cancelled",
            LoanStatus::Error => "error",
        }
    }

    fn is_terminal(self) -> bool {
        matches!(
            self,
            LoanStatus::Finished | LoanStatus::Cancelled | LoanStatus::Error
        )
    }
}

/// A loan.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Loan {
    pub(crate) id: String,
    pub(crate) credit_offer_id: String,
    pub(crate) simulation_id: String,
    pub(crate) customer_id: String,
    pub(crate) status: LoanStatus,
    #[serde(serialize_with = "wire::money")]
    pub(crate) requested_amount: Decimal,
    #[serde(serialize_with = "wire::money_opt")]
    pub(crate) net_amount: Option<Decimal>,
    #[serde(serialize_with = "wire::money_opt")]
    pub(crate) iof: Option<Decimal>,
    #[serde(serialize_with = "wire::money_opt")]
    pub(crate) service_fee: Option<Decimal>,
    #[serde(serialize_with = "wire::rate_opt")]
    pub(crate) interest_rate: Option<Decimal>,
    #[serde(serialize_with = "wire::rate_opt")]
    pub(crate) cet: Option<Decimal>,
    #[serde(serialize_with = "wire::money")]
    pub(crate) total_amount: Decimal,
    #[serde(serialize_with = "wire::money")]
    pub(crate) installments_value: Decimal,
    pub(crate) first_due_date: NaiveDate,
    pub(crate) number_of_installments: u32,
    pub(crate) ccb_number: Option<String>,
    pub(crate) disbursement_method: Option<String>,
    pub(crate) signing_url: Option<String>,
    #[serde(serialize_with = "wire::time")]
    pub(crate) created_at: DateTime<Utc>,
    #[serde(serialize_with = "wire::time")]
    pub(crate) updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub(crate) net_to_disburse: Decimal,
}

/// One installment of a loan.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Transaction {
    pub(crate) id: String,
    pub(crate) loan_id: String,
    #[serde(rename = "type")]
    pub(crate) transaction_type: &'static str,
    pub(crate) due_date: NaiveDate,
    pub(crate) status: &'static str,
    #[serde(serialize_with = "wire::money")]
    pub(crate) amount_due: Decimal,
    #[serde(serialize_with = "wire::money")]
    pub(crate) amount_paid: Decimal,
    #[serde(serialize_with = "wire::money")]
    pub(crate) amount_remaining: Decimal,
    #[serde(serialize_with = "wire::money")]
    pub(crate) principal: Decimal,
    #[serde(serialize_with = "wire::money")]
    pub(crate) interest: Decimal,
    #[serde(serialize_with = "wire::money")]
    pub(crate) fees: Decimal,
    pub(crate) days_overdue: u32,
    #[serde(serialize_with = "wire::time_opt")]
    pub(crate) paid_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "wire::time")]
    pub(crate) created_at: DateTime<Utc>,
    #[serde(serialize_with = "wire::time")]
    pub(crate) updated_at: DateTime<Utc>,
}

/// A secret an endpoint's deliveries are signed with; `expires_at` is set on a rotated-out one.
#[derive(Debug, Clone)]
pub(crate) struct EndpointSecret {
    pub(crate) secret: String,
    pub(crate) expires_at: Option<DateTime<Utc>>,
}

/// A webhook endpoint registered by the partner.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Endpoint {
    pub(crate) id: String,
    pub(crate) url: String,
    pub(crate) events: Vec<String>,
    pub(crate) description: Option<String>,
    pub(crate) status: &'static str,
    #[serde(serialize_with = "wire::time")]
    pub(crate) created_at: DateTime<Utc>,
    #[serde(serialize_with = "wire::time")]
    pub(crate) updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub(crate) secrets: Vec<EndpointSecret>,
}

impl Endpoint {
    /// Whether the endpoint subscribes to `event_type` (exact, `resource.*` or `*`; none = all).
    pub(crate) fn wants(&self, event_type: &str) -> bool {
        if self.events.is_empty() {
            return true;
        }
        self.events.iter().any(|pattern| {
            if pattern == "*" {
                return true;
            }
            match pattern.strip_suffix('*') {
                Some(prefix) => event_type.starts_with(prefix),
                None => pattern == event_type,
            }
        })
    }

    /// The secrets that sign a delivery at `now`, newest first.
    pub(crate) fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<String> {
        self.secrets
            .iter()
            .rev()
            .filter(|secret| secret.expires_at.is_none_or(|expires_at| now < expires_at))
            .map(|secret| secret.secret.clone())
            .collect()
    }
}

/// An event Dinie emitted, as recorded by the simulator.
#[derive(Debug, Clone, Serialize)]
pub struct EmittedEvent {
    /// `evt_…`, also the `webhook-id` of every delivery of the event.
    pub id: String,
    /// The event name, e.g. `loan.signed`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The exact body sent to endpoints.
    #[serde(skip)]
    pub body: Vec<u8>,
    /// The endpoints it was queued for.
    pub endpoint_ids: Vec<String>,
}

/// The whole simulated world.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) credentials: Vec<Credential>,
    pub(crate) tokens: HashMap<String, IssuedToken>,
    pub(crate) customers: Vec<Customer>,
    pub(crate) uploads: Vec<KycUpload>,
    pub(crate) offers: Vec<CreditOffer>,
    pub(crate) simulations: Vec<Simulation>,
    pub(crate) loans: Vec<Loan>,
    pub(crate) transactions: Vec<Transaction>,
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) biometrics: HashMap<String, DateTime<Utc>>,
    /// Events emitted by the current operation, not yet handed to the delivery worker.
    pub(crate) outbox: Vec<EmittedEvent>,
    /// Every event emitted so far.
    pub(crate) events: Vec<EmittedEvent>,
    /// Whether envelopes carry the SDK's extra fields (`id`, `api_version`, `created_at`...).
    pub(crate) sdk_envelope: bool,
}

/// A customer to create, already parsed.
pub(crate) struct NewCustomer {
    pub(crate) cpf: Document,
    pub(crate) cnpj: Option<Document>,
    pub(crate) name: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) trading_name: Option<String>,
    pub(crate) external_id: Option<String>,
}

/// Fields of `PATCH /customers/{id}`.
pub(crate) struct CustomerUpdate {
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) cnpj: Option<Document>,
    pub(crate) trading_name: Option<String>,
}

/// Body of `POST /loans`, parsed; the terms are checked against the simulation when present.
pub(crate) struct NewLoan {
    pub(crate) credit_offer_id: String,
    pub(crate) simulation_id: String,
    pub(crate) installments: Option<u32>,
    pub(crate) installments_value: Option<Decimal>,
    pub(crate) first_due_date: Option<NaiveDate>,
}

/// A page of a list.
pub(crate) struct Page<T> {
    pub(crate) data: Vec<T>,
    pub(crate) has_more: bool,
}

/// Cuts `items` after the item with id `starting_after`, at most `limit` items.
pub(crate) fn paginate<T: Clone>(
    items: Vec<T>,
    id_of: impl Fn(&T) -> &str,
    starting_after: Option<&str>,
    limit: usize,
) -> Result<Page<T>, Problem> {
    let start = match starting_after {
        None => 0,
        Some(cursor) => match items.iter().position(|item| id_of(item) == cursor) {
            Some(index) => index + 1,
            None => {
                return Err(Problem::bad_request(
                    "invalid_cursor",
                    "starting_after does not name an item of this list.",
                )
                .with_param("starting_after"));
            }
        },
    };
    let rest: Vec<T> = items.into_iter().skip(start).collect();
    let has_more = rest.len() > limit;
    Ok(Page {
        data: rest.into_iter().take(limit).collect(),
        has_more,
    })
}

fn percent(amount: Decimal, rate: Decimal) -> Decimal {
    (amount * rate / Decimal::ONE_HUNDRED).round_dp(2)
}

fn loan_view(loan: &Loan) -> Value {
    json!({"id": loan.id, "status": loan.status.as_str()})
}

impl State {
    /// Queues an event for delivery to every active endpoint that wants it.
    pub(crate) fn emit(&mut self, now: DateTime<Utc>, event_type: &str, data: Value) {
        let id = new_id("evt_");
        let mut envelope = serde_json::Map::new();
        if self.sdk_envelope {
            envelope.insert("id".into(), json!(id));
            envelope.insert("api_version".into(), json!("2026-03-01"));
            envelope.insert("created_at".into(), json!(now.timestamp()));
            envelope.insert("delivery_id".into(), json!(new_id("dlv_")));
        }
        envelope.insert("type".into(), json!(event_type));
        envelope.insert("timestamp".into(), json!(time_text(now)));
        envelope.insert("data".into(), data);
        let body = serde_json::to_vec(&Value::Object(envelope)).unwrap_or_default();
        let endpoint_ids = self
            .endpoints
            .iter()
            .filter(|endpoint| endpoint.status == "active" && endpoint.wants(event_type))
            .map(|endpoint| endpoint.id.clone())
            .collect();
        let event = EmittedEvent {
            id,
            event_type: event_type.to_owned(),
            body,
            endpoint_ids,
        };
        self.events.push(event.clone());
        self.outbox.push(event);
    }

    // ----- customers -----

    pub(crate) fn customer(&self, id: &str) -> Result<&Customer, Problem> {
        self.customers
            .iter()
            .find(|customer| customer.id == id)
            .ok_or_else(|| Problem::not_found("customer"))
    }

    fn customer_mut(&mut self, id: &str) -> Result<&mut Customer, Problem> {
        self.customers
            .iter_mut()
            .find(|customer| customer.id == id)
            .ok_or_else(|| Problem::not_found("customer"))
    }

    /// Creates a customer; `Ok((customer, false))` when an identical registration already existed.
    pub(crate) fn create_customer(
        &mut self,
        now: DateTime<Utc>,
        new: NewCustomer,
    ) -> Result<(Customer, bool), Problem> {
        let existing = self.customers.iter().find(|customer| {
            customer.document == new.cpf
                || new.cnpj.as_ref().is_some_and(|cnpj| {
                    customer.cnpj.as_deref() == Some(cnpj.expose_formatted().as_str())
                })
        });
        if let Some(existing) = existing {
            if existing.external_id == new.external_id {
                return Ok((existing.clone(), false));
            }
            return Err(Problem::conflict(
                "customer_already_exists",
                "A customer with this CPF/CNPJ already exists with another external_id.",
            )
            .with_param("cpf"));
        }
        let customer = Customer {
            id: new_id("cust_"),
            status: CustomerStatus::PendingKyc,
            cpf: new.cpf.expose_formatted(),
            cnpj: new.cnpj.as_ref().map(Document::expose_formatted),
            name: new.name.unwrap_or_default(),
            email: new.email.unwrap_or_default(),
            phone: new.phone.unwrap_or_default(),
            trading_name: new.trading_name,
            external_id: new.external_id,
            kyc: vec![
                KycItem {
                    kind: "document",
                    item_type: "identity_card_front",
                    description: "Documento de identidade (frente)",
                    status: "pending",
                    message: None,
                    uploaded_at: None,
                },
                KycItem {
                    kind: "document",
                    item_type: "selfie",
                    description: "Selfie",
                    status: "pending",
                    message: None,
                    uploaded_at: None,
                },
            ],
            created_at: now,
            updated_at: now,
            document: new.cpf,
        };
        self.customers.push(customer.clone());
        let data = serde_json::to_value(&customer).unwrap_or(Value::Null);
        self.emit(now, "customer.created", data);
        Ok((customer, true))
    }

    pub(crate) fn update_customer(
        &mut self,
        now: DateTime<Utc>,
        id: &str,
        update: CustomerUpdate,
    ) -> Result<Customer, Problem> {
        let customer = self.customer_mut(id)?;
        if let Some(email) = update.email {
            customer.email = email;
        }
        if let Some(phone) = update.phone {
            customer.phone = phone;
        }
        if let Some(name) = update.name {
            customer.name = name;
        }
        if let Some(cnpj) = update.cnpj {
            customer.cnpj = Some(cnpj.expose_formatted());
        }
        if let Some(trading_name) = update.trading_name {
            customer.trading_name = Some(trading_name);
        }
        customer.updated_at = now;
        Ok(customer.clone())
    }

    /// Stores an uploaded KYC document; once every item is submitted the customer goes under review.
    pub(crate) fn upload_document(
        &mut self,
        now: DateTime<Utc>,
        customer_id: &str,
        upload_type: &str,
    ) -> Result<KycUpload, Problem> {
        let customer = self.customer_mut(customer_id)?;
        let Some(item) = customer
            .kyc
            .iter_mut()
            .find(|item| item.item_type == upload_type)
        else {
            return Err(Problem::field(
                "invalid_document_type",
                "type",
                "This document type is not requested for the customer.",
            ));
        };
        item.status = "submitted";
        item.uploaded_at = Some(now);
        item.message = None;
        customer.updated_at = now;
        let all_submitted = customer.kyc.iter().all(|item| item.status != "pending");
        let moves_to_review = all_submitted && customer.status == CustomerStatus::PendingKyc;
        if moves_to_review {
            customer.status = CustomerStatus::UnderReview;
        }
        let snapshot = customer.clone();
        let upload = KycUpload {
            id: new_id("doc_"),
            upload_type: upload_type.to_owned(),
            status: "submitted",
            uploaded_at: now,
            created_at: now,
            updated_at: now,
        };
        self.uploads.push(upload.clone());
        self.emit(
            now,
            "customer.kyc_updated",
            json!({"id": snapshot.id, "status": snapshot.status, "external_id": snapshot.external_id, "kyc": snapshot.kyc}),
        );
        if moves_to_review {
            self.emit(
                now,
                "customer.under_review",
                json!({"id": snapshot.id, "status": "under_review", "external_id": snapshot.external_id}),
            );
        }
        Ok(upload)
    }

    /// Starts a biometrics session; one at a time per customer.
    pub(crate) fn start_biometrics(
        &mut self,
        now: DateTime<Utc>,
        customer_id: &str,
    ) -> Result<(String, DateTime<Utc>), Problem> {
        self.customer(customer_id)?;
        if let Some(expires_at) = self.biometrics.get(customer_id)
            && *expires_at > now
        {
            return Err(Problem::conflict(
                "session_already_active",
                "A biometrics session is already active for this customer.",
            ));
        }
        let expires_at = now + TimeDelta::minutes(15);
        self.biometrics.insert(customer_id.to_owned(), expires_at);
        Ok((
            format!("https://biometrics.dinie.com.br/session/{}", new_id("bio_")),
            expires_at,
        ))
    }

    /// Moves a customer to `under_review` even if documents are missing (control API).
    pub(crate) fn review_customer(
        &mut self,
        now: DateTime<Utc>,
        id: &str,
    ) -> Result<Customer, Problem> {
        let customer = self.customer_mut(id)?;
        if customer.status != CustomerStatus::PendingKyc {
            return Err(Problem::conflict(
                "invalid_state",
                "Only a customer pending KYC can be put under review.",
            ));
        }
        customer.status = CustomerStatus::UnderReview;
        customer.updated_at = now;
        let snapshot = customer.clone();
        self.emit(
            now,
            "customer.under_review",
            json!({"id": snapshot.id, "status": "under_review", "external_id": snapshot.external_id}),
        );
        Ok(snapshot)
    }

    /// Approves a customer under review: `active`, then a credit offer (control API or timer).
    pub(crate) fn approve_customer(
        &mut self,
        now: DateTime<Utc>,
        id: &str,
        terms: &OfferTerms,
    ) -> Result<Customer, Problem> {
        let customer = self.customer_mut(id)?;
        if customer.status != CustomerStatus::UnderReview {
            return Err(Problem::conflict(
                "invalid_state",
                "Only a customer under review can be approved.",
            ));
        }
        customer.status = CustomerStatus::Active;
        customer.updated_at = now;
        let snapshot = customer.clone();
        self.emit(
            now,
            "customer.active",
            json!({"id": snapshot.id, "status": "active", "external_id": snapshot.external_id}),
        );
        self.create_offer(now, id, terms)?;
        Ok(snapshot)
    }

    /// Creates an available credit offer for a customer, whatever its status (the analysis runs in
    /// parallel with KYC), and emits `credit_offer.available`.
    pub(crate) fn create_offer(
        &mut self,
        now: DateTime<Utc>,
        customer_id: &str,
        terms: &OfferTerms,
    ) -> Result<CreditOffer, Problem> {
        self.customer(customer_id)?;
        let offer = CreditOffer {
            id: new_id("co_"),
            customer_id: customer_id.to_owned(),
            status: OfferStatus::Available,
            approved_amount: terms.approved_amount,
            min_amount: terms.min_amount,
            interest_rate: terms.interest_rate,
            installments: terms.installments,
            due_date_rule: None,
            valid_until: now + terms.valid_for,
            created_at: now,
            updated_at: now,
        };
        self.offers.push(offer.clone());
        self.emit(now, "credit_offer.available", offer_event(&offer));
        Ok(offer)
    }

    // ----- credit offers -----

    /// Marks offers past `valid_until` as expired, emitting `credit_offer.expired` once each.
    pub(crate) fn expire_lapsed_offers(&mut self, now: DateTime<Utc>) {
        let lapsed: Vec<String> = self
            .offers
            .iter()
            .filter(|offer| offer.status == OfferStatus::Available && offer.valid_until <= now)
            .map(|offer| offer.id.clone())
            .collect();
        for id in lapsed {
            let _ = self.expire_offer(now, &id);
        }
    }

    pub(crate) fn offer(&self, id: &str) -> Result<&CreditOffer, Problem> {
        self.offers
            .iter()
            .find(|offer| offer.id == id)
            .ok_or_else(|| Problem::not_found("credit offer"))
    }

    fn offer_mut(&mut self, id: &str) -> Result<&mut CreditOffer, Problem> {
        self.offers
            .iter_mut()
            .find(|offer| offer.id == id)
            .ok_or_else(|| Problem::not_found("credit offer"))
    }

    /// Expires an offer now (control API), emitting `credit_offer.expired`.
    pub(crate) fn expire_offer(
        &mut self,
        now: DateTime<Utc>,
        id: &str,
    ) -> Result<CreditOffer, Problem> {
        let offer = self.offer_mut(id)?;
        if offer.status != OfferStatus::Available {
            return Err(Problem::conflict(
                "invalid_state",
                "Only an available offer can expire.",
            ));
        }
        offer.status = OfferStatus::Expired;
        offer.valid_until = offer.valid_until.min(now);
        offer.updated_at = now;
        let snapshot = offer.clone();
        self.emit(now, "credit_offer.expired", offer_event(&snapshot));
        Ok(snapshot)
    }

    /// The checks shared by simulations and loans: the offer exists, is not taken, not expired.
    fn usable_offer(&self, now: DateTime<Utc>, id: &str) -> Result<CreditOffer, Problem> {
        let offer = self.offer(id)?;
        match offer.status {
            OfferStatus::Accepted => Err(Problem::conflict(
                "offer_already_accepted",
                "A loan was already taken from this credit offer.",
            )),
            OfferStatus::Expired => Err(Problem::unprocessable(
                "offer_expired",
                "The credit offer has expired.",
            )),
            OfferStatus::Available if offer.valid_until <= now => Err(Problem::unprocessable(
                "offer_expired",
                "The credit offer has expired.",
            )),
            OfferStatus::Available => Ok(offer.clone()),
        }
    }

    // ----- simulations -----

    pub(crate) fn simulate(
        &mut self,
        now: DateTime<Utc>,
        offer_id: &str,
        requested_amount: Decimal,
        installment_count: u32,
    ) -> Result<Simulation, Problem> {
        let offer = self.usable_offer(now, offer_id)?;
        if requested_amount < offer.min_amount || requested_amount > offer.approved_amount {
            return Err(Problem::unprocessable(
                "amount_out_of_range",
                format!(
                    "requested_amount must be between {} and {}.",
                    money_text(offer.min_amount),
                    money_text(offer.approved_amount)
                ),
            )
            .with_param("requested_amount"));
        }
        if requested_amount.normalize().scale() > 2 {
            return Err(Problem::field(
                "invalid_format",
                "requested_amount",
                "Amounts have at most two decimal places.",
            ));
        }
        if installment_count != offer.installments {
            return Err(Problem::field(
                "invalid_installment_count",
                "installment_count",
                format!(
                    "This offer has exactly {} installments.",
                    offer.installments
                ),
            ));
        }
        let installments = Decimal::from(installment_count);
        let fees_amount = percent(requested_amount, Decimal::TWO);
        let iof_amount = percent(requested_amount, Decimal::ONE);
        let interest_amount = percent(requested_amount * installments, offer.interest_rate);
        let total_loan_amount = requested_amount + interest_amount;
        let simulation = Simulation {
            id: new_id("sim_"),
            credit_offer_id: offer.id.clone(),
            requested_amount,
            amount: requested_amount - fees_amount - iof_amount,
            interest_amount,
            fees_amount,
            iof_amount,
            total_loan_amount,
            interest_percentage: offer.interest_rate,
            cet_percentage: offer.interest_rate * Decimal::from(12) + Decimal::from(6),
            number_of_installments: installment_count,
            installments_value: (total_loan_amount / installments).round_dp(2),
            first_due_date: (now + TimeDelta::days(30)).date_naive(),
            created_at: now,
        };
        self.simulations.push(simulation.clone());
        Ok(simulation)
    }

    // ----- loans -----

    pub(crate) fn loan(&self, id: &str) -> Result<&Loan, Problem> {
        self.loans
            .iter()
            .find(|loan| loan.id == id)
            .ok_or_else(|| Problem::not_found("loan"))
    }

    fn loan_mut(&mut self, id: &str) -> Result<&mut Loan, Problem> {
        self.loans
            .iter_mut()
            .find(|loan| loan.id == id)
            .ok_or_else(|| Problem::not_found("loan"))
    }

    pub(crate) fn create_loan(
        &mut self,
        now: DateTime<Utc>,
        new: NewLoan,
    ) -> Result<Loan, Problem> {
        let offer = self.offer(&new.credit_offer_id)?.clone();
        let customer = self.customer(&offer.customer_id)?;
        if customer.status != CustomerStatus::Active {
            return Err(Problem::unprocessable(
                "kyc_incomplete",
                "The customer's KYC is not complete.",
            ));
        }
        let offer = self.usable_offer(now, &offer.id)?;
        let Some(simulation) = self
            .simulations
            .iter()
            .rev()
            .find(|simulation| simulation.credit_offer_id == offer.id)
            .cloned()
        else {
            return Err(Problem::unprocessable(
                "simulation_mismatch",
                "Simulate the offer before taking a loan.",
            )
            .with_param("simulation_id"));
        };
        let terms_match = simulation.id == new.simulation_id
            && new
                .installments
                .is_none_or(|count| count == simulation.number_of_installments)
            && new
                .installments_value
                .is_none_or(|value| value == simulation.installments_value)
            && new
                .first_due_date
                .is_none_or(|date| date == simulation.first_due_date);
        if !terms_match {
            return Err(Problem::unprocessable(
                "simulation_mismatch",
                "The loan must match the offer's most recent simulation.",
            )
            .with_param("simulation_id"));
        }
        let loan = Loan {
            id: new_id("ln_"),
            credit_offer_id: offer.id.clone(),
            simulation_id: simulation.id.clone(),
            customer_id: offer.customer_id.clone(),
            status: LoanStatus::Processing,
            requested_amount: simulation.requested_amount,
            net_amount: None,
            iof: Some(simulation.iof_amount),
            service_fee: Some(simulation.fees_amount),
            interest_rate: Some(simulation.interest_percentage),
            cet: Some(simulation.cet_percentage),
            total_amount: simulation.total_loan_amount,
            installments_value: simulation.installments_value,
            first_due_date: simulation.first_due_date,
            number_of_installments: simulation.number_of_installments,
            ccb_number: None,
            disbursement_method: None,
            signing_url: None,
            created_at: now,
            updated_at: now,
            net_to_disburse: simulation.amount,
        };
        self.loans.push(loan.clone());
        let offer = self.offer_mut(&loan.credit_offer_id)?;
        offer.status = OfferStatus::Accepted;
        offer.updated_at = now;
        self.emit(
            now,
            "loan.created",
            json!({
                "id": loan.id,
                "credit_offer_id": loan.credit_offer_id,
                "customer_id": loan.customer_id,
                "status": "processing",
                "requested_amount": money_text(loan.requested_amount),
                "number_of_installments": loan.number_of_installments,
            }),
        );
        Ok(loan)
    }

    /// Moves a loan one step along `processing → … → active`; on an active loan, pays the next
    /// installment (and finishes the loan after the last one).
    pub(crate) fn advance_loan(&mut self, now: DateTime<Utc>, id: &str) -> Result<Loan, Problem> {
        let status = self.loan(id)?.status;
        let next = match status {
            LoanStatus::Processing => LoanStatus::ContractGenerated,
            LoanStatus::ContractGenerated => LoanStatus::AwaitingSignatures,
            LoanStatus::AwaitingSignatures => LoanStatus::Signed,
            LoanStatus::Signed => LoanStatus::Disbursing,
            LoanStatus::Disbursing => LoanStatus::Active,
            LoanStatus::Active => return self.pay_installment(now, id),
            LoanStatus::Finished | LoanStatus::Cancelled | LoanStatus::Error => {
                return Err(Problem::conflict(
                    "invalid_state",
                    "The loan is in a final state.",
                ));
            }
        };
        let loan = self.loan_mut(id)?;
        loan.status = next;
        loan.updated_at = now;
        let data = match next {
            LoanStatus::ContractGenerated => {
                loan.ccb_number = Some(format!(
                    "CCB-{}-{}",
                    now.format("%Y"),
                    &loan.id[loan.id.len() - 6..]
                ));
                loan.signing_url = Some(format!("https://app.clicksign.com/sign/{}", loan.id));
                json!({"id": loan.id, "status": "contract_generated", "ccb_number": loan.ccb_number, "signing_url": loan.signing_url})
            }
            LoanStatus::AwaitingSignatures => {
                json!({"id": loan.id, "status": "awaiting_signatures", "signing_url": loan.signing_url})
            }
            LoanStatus::Signed => {
                loan.signing_url = None;
                json!({"id": loan.id, "status": "signed", "ccb_number": loan.ccb_number})
            }
            LoanStatus::Disbursing => {
                loan.disbursement_method = Some("pix".to_owned());
                json!({
                    "id": loan.id,
                    "status": "disbursing",
                    "customer_id": loan.customer_id,
                    "disbursement_method": "pix",
                    "requested_amount": money_text(loan.requested_amount),
                    "net_amount": money_text(loan.net_to_disburse),
                })
            }
            LoanStatus::Active => {
                loan.net_amount = Some(loan.net_to_disburse);
                json!({
                    "id": loan.id,
                    "status": "active",
                    "requested_amount": money_text(loan.requested_amount),
                    "net_amount": money_text(loan.net_to_disburse),
                })
            }
            LoanStatus::Processing
            | LoanStatus::Finished
            | LoanStatus::Cancelled
            | LoanStatus::Error => loan_view(loan),
        };
        let snapshot = loan.clone();
        if next == LoanStatus::Active {
            self.create_installments(now, &snapshot);
        }
        let event_type = format!("loan.{}", next.as_str());
        self.emit(now, &event_type, data);
        Ok(snapshot)
    }

    fn create_installments(&mut self, now: DateTime<Utc>, loan: &Loan) {
        let count = loan.number_of_installments.max(1);
        let count_decimal = Decimal::from(count);
        let principal_each = (loan.requested_amount / count_decimal).round_dp(2);
        let mut principal_left = loan.requested_amount;
        let mut total_left = loan.total_amount;
        for number in 1..=count {
            let last = number == count;
            let amount_due = match last {
                true => total_left,
                false => loan.installments_value,
            };
            let principal = match last {
                true => principal_left,
                false => principal_each,
            };
            total_left -= amount_due;
            principal_left -= principal;
            let due_date = loan
                .first_due_date
                .checked_add_months(Months::new(number - 1))
                .unwrap_or(loan.first_due_date);
            self.transactions.push(Transaction {
                id: new_id("tx_"),
                loan_id: loan.id.clone(),
                transaction_type: "installment",
                due_date,
                status: "pending",
                amount_due,
                amount_paid: Decimal::ZERO,
                amount_remaining: amount_due,
                principal,
                interest: amount_due - principal,
                fees: Decimal::ZERO,
                days_overdue: 0,
                paid_at: None,
                created_at: now,
                updated_at: now,
            });
        }
    }

    /// Pays the next pending installment of an active loan; the last payment finishes the loan.
    pub(crate) fn pay_installment(
        &mut self,
        now: DateTime<Utc>,
        id: &str,
    ) -> Result<Loan, Problem> {
        let loan = self.loan(id)?.clone();
        if loan.status != LoanStatus::Active {
            return Err(Problem::conflict(
                "invalid_state",
                "Only an active loan receives payments.",
            ));
        }
        let mut number = 0_u32;
        let mut paid = None;
        for transaction in self
            .transactions
            .iter_mut()
            .filter(|transaction| transaction.loan_id == id)
        {
            number += 1;
            if transaction.status == "pending" {
                transaction.status = "paid";
                transaction.amount_paid = transaction.amount_due;
                transaction.amount_remaining = Decimal::ZERO;
                transaction.paid_at = Some(now);
                transaction.updated_at = now;
                paid = Some(transaction.amount_due);
                break;
            }
        }
        let Some(amount) = paid else {
            return Err(Problem::conflict(
                "invalid_state",
                "The loan has no pending installment.",
            ));
        };
        self.emit(
            now,
            "loan.payment_received",
            json!({
                "id": id,
                "status": "active",
                "payment": {"amount": money_text(amount), "paid_at": time_text(now), "installment_number": number},
            }),
        );
        let all_paid = self
            .transactions
            .iter()
            .filter(|transaction| transaction.loan_id == id)
            .all(|transaction| transaction.status == "paid");
        let loan = self.loan_mut(id)?;
        loan.updated_at = now;
        if all_paid {
            loan.status = LoanStatus::Finished;
            let data = loan_view(loan);
            let snapshot = loan.clone();
            self.emit(now, "loan.finished", data);
            return Ok(snapshot);
        }
        Ok(loan.clone())
    }

    /// Cancels a loan before disbursement completes; the offer becomes available again if still
    /// valid.
    pub(crate) fn cancel_loan(&mut self, now: DateTime<Utc>, id: &str) -> Result<Loan, Problem> {
        let loan = self.loan_mut(id)?;
        if loan.status.is_terminal() || loan.status == LoanStatus::Active {
            return Err(Problem::conflict(
                "invalid_state",
                "Only a loan not yet disbursed can be cancelled.",
            ));
        }
        loan.status = LoanStatus::Cancelled;
        loan.signing_url = None;
        loan.updated_at = now;
        let snapshot = loan.clone();
        if let Ok(offer) = self.offer_mut(&snapshot.credit_offer_id)
            && offer.status == OfferStatus::Accepted
            && offer.valid_until > now
        {
            offer.status = OfferStatus::Available;
            offer.updated_at = now;
        }
        self.emit(now, "loan.cancelled", loan_view(&snapshot));
        Ok(snapshot)
    }

    /// Fails a loan that is not finished (`loan.error`, with the SDK's optional `error` object).
    pub(crate) fn fail_loan(&mut self, now: DateTime<Utc>, id: &str) -> Result<Loan, Problem> {
        let loan = self.loan_mut(id)?;
        if loan.status.is_terminal() {
            return Err(Problem::conflict(
                "invalid_state",
                "The loan is in a final state.",
            ));
        }
        loan.status = LoanStatus::Error;
        loan.signing_url = None;
        loan.updated_at = now;
        let snapshot = loan.clone();
        self.emit(
            now,
            "loan.error",
            json!({"id": snapshot.id, "status": "error", "error": {"code": "disbursement_failed", "message": "The disbursement could not be completed."}}),
        );
        Ok(snapshot)
    }

    /// Loans that a timer may advance.
    pub(crate) fn open_loans(&self) -> Vec<String> {
        self.loans
            .iter()
            .filter(|loan| !loan.status.is_terminal())
            .map(|loan| loan.id.clone())
            .collect()
    }
}

fn offer_event(offer: &CreditOffer) -> Value {
    json!({
        "id": offer.id,
        "customer_id": offer.customer_id,
        "status": offer.status,
        "approved_amount": money_text(offer.approved_amount),
        "min_amount": money_text(offer.min_amount),
        "interest_rate": serde_json::to_value(OfferRate(offer.interest_rate)).unwrap_or(Value::Null),
        "installments": offer.installments,
        "due_date_rule": offer.due_date_rule,
        "valid_until": time_text(offer.valid_until),
    })
}

/// A rate serialized as an exact JSON number inside a `json!` value.
struct OfferRate(Decimal);

impl Serialize for OfferRate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        wire::rate(&self.0, serializer)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use providers::Document;
    use rust_decimal::Decimal;

    use crate::OfferTerms;
    use crate::model::{LoanStatus, NewCustomer, NewLoan, State};

    fn dec(text: &str) -> Decimal {
        Decimal::from_str_exact(text).unwrap()
    }

    fn terms() -> OfferTerms {
        OfferTerms {
            approved_amount: dec("50000.00"),
            min_amount: dec("1000.00"),
            interest_rate: dec("3.5"),
            installments: 3,
            valid_for: chrono::Duration::days(30),
        }
    }

    #[test]
    fn a_loan_runs_from_processing_to_finished_and_installments_add_up_to_the_total() {
        let now = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
        let mut state = State::default();
        let (customer, created) = state
            .create_customer(
                now,
                NewCustomer {
                    cpf: Document::parse("529.982.247-25").unwrap(),
                    cnpj: None,
                    name: Some("Maria".into()),
                    email: None,
                    phone: None,
                    trading_name: None,
                    external_id: Some("u1".into()),
                },
            )
            .unwrap();
        assert!(created);
        state
            .upload_document(now, &customer.id, "identity_card_front")
            .unwrap();
        state.upload_document(now, &customer.id, "selfie").unwrap();
        state.approve_customer(now, &customer.id, &terms()).unwrap();
        let offer = state.offers[0].clone();
        let simulation = state.simulate(now, &offer.id, dec("25000.00"), 3).unwrap();
        assert_eq!(simulation.amount, dec("24250.00"));
        let loan = state
            .create_loan(
                now,
                NewLoan {
                    credit_offer_id: offer.id.clone(),
                    simulation_id: simulation.id.clone(),
                    installments: Some(3),
                    installments_value: Some(simulation.installments_value),
                    first_due_date: Some(simulation.first_due_date),
                },
            )
            .unwrap();
        let mut status = loan.status;
        for _ in 0..20 {
            if status == LoanStatus::Finished {
                break;
            }
            status = state.advance_loan(now, &loan.id).unwrap().status;
        }
        assert_eq!(status, LoanStatus::Finished);
        let paid: Decimal = state.transactions.iter().map(|t| t.amount_paid).sum();
        assert_eq!(paid, simulation.total_loan_amount);
        let types: Vec<&str> = state.events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(
            types,
            [
                "customer.created",
                "customer.kyc_updated",
                "customer.kyc_updated",
                "customer.under_review",
                "customer.active",
                "credit_offer.available",
                "loan.created",
                "loan.contract_generated",
                "loan.awaiting_signatures",
                "loan.signed",
                "loan.disbursing",
                "loan.active",
                "loan.payment_received",
                "loan.payment_received",
                "loan.payment_received",
                "loan.finished",
            ]
        );
    }
}
