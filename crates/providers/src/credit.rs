//! The credit capability: customers, KYC documents, credit offers, simulations, loans and their
//! installments, provider-neutral.
//!
//! Statuses are closed enums. A provider crate maps its own statuses with an exhaustive `match`
//! and returns [`ProviderError::InvalidResponse`] for a status it does not know: it never guesses.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::REDACTED;
use crate::banking::Page;
use crate::document::Document;
use crate::error::ProviderError;
use crate::idempotency::IdempotencyKey;
use crate::money::Money;

/// A provider of consumer credit (e.g. Dinie).
///
/// Rules for every method:
/// - a method that creates something sends `key` to the provider as its idempotency key, and the
///   caller reuses the same key when it retries, so a retry never creates twice;
/// - every call is bounded by the provider's configured timeout and fails with
///   [`ProviderError::Timeout`] past it;
/// - amounts are exact: converted to and from the provider's wire format without floats;
/// - failures map to [`ProviderError`]: 401/403 → `Unauthorized`, 404 → `NotFound`, 409 →
///   `Conflict`, other 4xx → `Rejected` (with field errors when given), 429 → `RateLimited`, 5xx or
///   connection failure → `Unavailable`, an unparseable body or an unknown status →
///   `InvalidResponse`. Never `Ok` with a guessed status.
#[async_trait]
pub trait CreditProvider: Send + Sync {
    /// Registers a borrower. Idempotent under `key`. A customer that already exists for the
    /// document is a [`ProviderError::Conflict`], unless the provider returns it for the same key.
    async fn create_customer(
        &self,
        req: NewCustomer,
        key: &IdempotencyKey,
    ) -> Result<Customer, ProviderError>;

    /// Fetches a customer by provider id; [`ProviderError::NotFound`] if there is none.
    async fn get_customer(&self, id: &str) -> Result<Customer, ProviderError>;

    /// Lists customers, one page at a time, in the provider's order; `next_cursor` is the last
    /// customer's id when more follow. A cursor the provider does not know is a
    /// [`ProviderError::Rejected`].
    async fn list_customers(&self, query: CustomerQuery) -> Result<Page<Customer>, ProviderError>;

    /// Uploads one KYC document for a customer. Idempotent under `key`; the bytes are sent
    /// unchanged.
    async fn upload_kyc_document(
        &self,
        customer_id: &str,
        doc: KycDocumentUpload,
        key: &IdempotencyKey,
    ) -> Result<KycDocument, ProviderError>;

    /// Lists the customer's credit offers, in any status; empty when there are none.
    async fn list_credit_offers(
        &self,
        customer_id: &str,
    ) -> Result<Vec<CreditOffer>, ProviderError>;

    /// Fetches one credit offer; [`ProviderError::NotFound`] if there is none.
    async fn get_credit_offer(&self, id: &str) -> Result<CreditOffer, ProviderError>;

    /// Simulates a loan under an offer. Idempotent under `key`. An amount or installment count
    /// outside the offer is a [`ProviderError::Rejected`].
    async fn simulate(
        &self,
        offer_id: &str,
        req: SimulationRequest,
        key: &IdempotencyKey,
    ) -> Result<Simulation, ProviderError>;

    /// Takes a loan from a simulation. Idempotent under `key`: a retry returns the same loan,
    /// never a second one.
    async fn create_loan(&self, req: NewLoan, key: &IdempotencyKey) -> Result<Loan, ProviderError>;

    /// Fetches a loan; [`ProviderError::NotFound`] if there is none.
    async fn get_loan(&self, id: &str) -> Result<Loan, ProviderError>;

    /// Lists a loan's installments in order of `number`; empty before the contract exists.
    async fn list_installments(&self, loan_id: &str) -> Result<Vec<Installment>, ProviderError>;
}

/// A borrower to register.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCustomer {
    /// The borrower's CPF (or CNPJ where the provider lends to companies).
    pub document: Document,
    /// Full name. PII: `Debug` hides it.
    pub name: String,
    /// E-mail address. PII: `Debug` hides it.
    pub email: Option<String>,
    /// Phone number in E.164 (`+5511987654321`). PII: `Debug` hides it.
    pub phone: Option<String>,
    /// The caller's own id for the borrower, echoed back by the provider where supported.
    pub external_id: Option<String>,
}

impl fmt::Debug for NewCustomer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCustomer")
            .field("document", &self.document)
            .field("name", &REDACTED)
            .field("email", &self.email.as_ref().map(|_| REDACTED))
            .field("phone", &self.phone.as_ref().map(|_| REDACTED))
            .field("external_id", &self.external_id)
            .finish()
    }
}

/// Which customers to list, and which page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomerQuery {
    /// Only the customer with this caller's id.
    pub external_id: Option<String>,
    /// Page size, 1 to 100.
    pub limit: u32,
    /// The `next_cursor` of the previous page; `None` for the first page.
    pub starting_after: Option<String>,
}

/// A borrower at the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// The provider's id.
    pub id: String,
    /// The borrower's document.
    pub document: Document,
    /// Where the borrower is in onboarding.
    pub status: CustomerStatus,
    /// The caller's own id, if it was given.
    pub external_id: Option<String>,
    /// When the provider created the customer.
    pub created_at: DateTime<Utc>,
}

/// Onboarding status of a borrower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomerStatus {
    /// Registered; KYC documents or checks are still missing.
    PendingKyc,
    /// KYC submitted and being analysed.
    UnderReview,
    /// Approved: can receive credit offers.
    Active,
    /// Refused by the provider.
    Denied,
}

/// A KYC document to upload.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KycDocumentUpload {
    /// The document's kind in the provider-neutral vocabulary (`identity_front`, `selfie`...).
    pub kind: String,
    /// The original file name.
    pub file_name: String,
    /// The MIME type, e.g. `image/jpeg`.
    pub content_type: String,
    /// The file. `Debug` prints only its length.
    pub bytes: Vec<u8>,
}

impl fmt::Debug for KycDocumentUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KycDocumentUpload")
            .field("kind", &self.kind)
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("bytes", &format_args!("[{} bytes]", self.bytes.len()))
            .finish()
    }
}

/// An uploaded KYC document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KycDocument {
    /// The provider's id.
    pub id: String,
    /// The document's kind, as uploaded.
    pub kind: String,
    /// The provider's review status, passed through as text.
    pub status: String,
}

/// A credit offer made to a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditOffer {
    /// The provider's id.
    pub id: String,
    /// The customer the offer is for.
    pub customer_id: String,
    /// Whether the offer can still be taken.
    pub status: CreditOfferStatus,
    /// The most that can be borrowed.
    pub approved_amount: Money,
    /// The least that can be borrowed.
    pub min_amount: Money,
    /// Monthly interest rate in percent (`1.99` is 1.99 % a month), exact.
    #[serde(with = "crate::money::exact_decimal")]
    pub monthly_interest_rate: Decimal,
    /// The largest number of installments offered.
    pub installments: u32,
    /// When the offer lapses.
    pub valid_until: DateTime<Utc>,
}

/// Status of a credit offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CreditOfferStatus {
    /// Can be simulated and taken.
    Available,
    /// A loan was taken from it.
    Accepted,
    /// Lapsed.
    Expired,
}

/// The terms to simulate under an offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulationRequest {
    /// The amount to borrow.
    pub amount: Money,
    /// The number of monthly installments.
    pub installments: u32,
    /// The first due date, if the borrower chooses it.
    pub first_due_date: Option<NaiveDate>,
}

/// A priced simulation, which a loan is taken from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Simulation {
    /// The provider's id.
    pub id: String,
    /// The offer it was simulated under.
    pub credit_offer_id: String,
    /// The amount borrowed.
    pub amount: Money,
    /// The number of installments.
    pub installments: u32,
    /// The amount of each installment.
    pub installment_amount: Money,
    /// The total to repay.
    pub total_amount: Money,
    /// The annual total effective cost (CET) in percent, exact.
    #[serde(with = "crate::money::exact_decimal")]
    pub cet_annual_percentage: Decimal,
    /// What the borrower receives after fees and taxes, when the provider says.
    #[serde(default)]
    pub net_amount: Option<Money>,
    /// When the first installment is due, when the provider says.
    #[serde(default)]
    pub first_due_date: Option<NaiveDate>,
}

/// A loan to take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewLoan {
    /// The offer.
    pub credit_offer_id: String,
    /// The simulation whose terms are accepted.
    pub simulation_id: String,
    /// The borrower.
    pub customer_id: String,
}

/// A loan at the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loan {
    /// The provider's id.
    pub id: String,
    /// The borrower.
    pub customer_id: String,
    /// The offer it was taken from.
    pub credit_offer_id: String,
    /// Where the loan is in its lifecycle.
    pub status: LoanStatus,
    /// The amount requested.
    pub requested_amount: Money,
    /// The amount the borrower receives after fees and taxes, once known.
    pub net_amount: Option<Money>,
    /// Where the borrower signs the contract, while signatures are awaited.
    pub signing_url: Option<String>,
    /// When the provider created the loan.
    pub created_at: DateTime<Utc>,
}

/// Lifecycle of a loan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoanStatus {
    /// Accepted, being prepared.
    Processing,
    /// The contract document exists.
    ContractGenerated,
    /// Waiting for the borrower's signature.
    AwaitingSignatures,
    /// Signed, not yet disbursed.
    Signed,
    /// The money is being sent to the borrower.
    Disbursing,
    /// Disbursed; being repaid.
    Active,
    /// Fully repaid.
    Finished,
    /// Cancelled before disbursement.
    Cancelled,
    /// Failed at the provider.
    Error,
}

/// One installment of a loan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installment {
    /// The provider's id.
    pub id: String,
    /// Position in the schedule, from 1.
    pub number: u32,
    /// The amount due.
    pub amount: Money,
    /// When it is due.
    pub due_date: NaiveDate,
    /// The provider's payment status, passed through as text.
    pub status: String,
    /// When it was paid, if it was.
    pub paid_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};
    use rust_decimal::Decimal;

    use crate::credit::{
        CreditOffer, CreditOfferStatus, CustomerStatus, KycDocumentUpload, Loan, LoanStatus,
        NewCustomer, SimulationRequest,
    };
    use crate::document::Document;
    use crate::money::Money;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str_exact(text).unwrap()
    }

    #[test]
    fn new_customer_debug_hides_personal_data() {
        let customer = NewCustomer {
            document: Document::parse("529.982.247-25").unwrap(),
            name: "Maria da Silva".to_owned(),
            email: Some("maria@example.com".to_owned()),
            phone: Some("+5511987654321".to_owned()),
            external_id: Some("user-1".to_owned()),
        };
        let debug = format!("{customer:?}");
        for secret in ["52998224725", "Maria", "maria@", "987654321"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(debug.contains("user-1"), "{debug}");
    }

    #[test]
    fn kyc_upload_debug_prints_only_the_length() {
        let upload = KycDocumentUpload {
            kind: "selfie".to_owned(),
            file_name: "me.jpg".to_owned(),
            content_type: "image/jpeg".to_owned(),
            bytes: vec![0xFF, 0xD8, 0xFF],
        };
        assert!(format!("{upload:?}").contains("[3 bytes]"));
    }

    #[test]
    fn statuses_serialize_snake_case() {
        let json = serde_json::to_string(&LoanStatus::AwaitingSignatures).unwrap();
        assert_eq!(json, "\"awaiting_signatures\"");
        let json = serde_json::to_string(&CustomerStatus::PendingKyc).unwrap();
        assert_eq!(json, "\"pending_kyc\"");
        assert!(serde_json::from_str::<LoanStatus>("\"exploded\"").is_err());
    }

    #[test]
    fn credit_offer_round_trips_with_exact_rate() {
        let offer = CreditOffer {
            id: "co_1".to_owned(),
            customer_id: "cust_1".to_owned(),
            status: CreditOfferStatus::Available,
            approved_amount: Money::brl(dec("50000.00")),
            min_amount: Money::brl(dec("500")),
            monthly_interest_rate: dec("1.99"),
            installments: 24,
            valid_until: Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap(),
        };
        let json = serde_json::to_value(&offer).unwrap();
        assert_eq!(json["monthly_interest_rate"], "1.99");
        assert_eq!(json["approved_amount"]["amount"], "50000.00");
        let back: CreditOffer = serde_json::from_value(json).unwrap();
        assert_eq!(back, offer);
    }

    #[test]
    fn simulation_request_accepts_number_amounts() {
        let request: SimulationRequest = serde_json::from_str(
            r#"{"amount": 1000.10, "installments": 12, "first_due_date": "2026-03-10"}"#,
        )
        .unwrap();
        assert_eq!(request.amount, Money::brl(dec("1000.10")));
        assert_eq!(request.first_due_date, NaiveDate::from_ymd_opt(2026, 3, 10));
    }

    #[test]
    fn loan_round_trips() {
        let loan = Loan {
            id: "ln_1".to_owned(),
            customer_id: "cust_1".to_owned(),
            credit_offer_id: "co_1".to_owned(),
            status: LoanStatus::Disbursing,
            requested_amount: Money::brl(dec("1000")),
            net_amount: Some(Money::brl(dec("962.37"))),
            signing_url: None,
            created_at: Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap(),
        };
        let back: Loan = serde_json::from_str(&serde_json::to_string(&loan).unwrap()).unwrap();
        assert_eq!(back, loan);
    }
}
