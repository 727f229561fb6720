//! The data of credit events: customers, offers, loans.
//!
//! Every optional field is left out when unknown (never `null`), except inside
//! [`KycRequirement`], which writes `null`s. Times are whole seconds (`2026-03-04T12:00:00Z`).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::event_data::{Reported, redacted_debug};
use crate::{CreditOfferStatus, CustomerStatus, Document, LoanStatus, Money};

/// `customer.*`. Fields in alphabetical order (see the [module](crate::event_data)).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "The data of `customer.*`: a credit provider's customer. Fields the provider did not send are absent."
)]
pub struct CustomerData {
    /// The provider's id of the customer.
    pub customer_id: String,
    /// The customer's CPF or CNPJ, written bare; absent when the provider sent none or an invalid
    /// one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub document: Option<Document>,
    /// The id the gateway's caller gave the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub external_id: Option<String>,
    /// What KYC requires, when the provider listed it (an empty list is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub kyc: Option<Vec<KycRequirement>>,
    /// Where onboarding is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, schema_with = crate::event_data::reported_schema::<CustomerStatus>)]
    pub status: Option<Reported<CustomerStatus>>,
}

/// One KYC requirement of a customer. Unknown fields are written `null`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KycRequirement {
    /// What is required (`document`...), as the provider says.
    #[serde(default)]
    #[schema(required)]
    pub kind: Option<String>,
    /// Where the requirement is, as the provider says.
    #[serde(default)]
    #[schema(required)]
    pub status: Option<String>,
    /// The kind of document, in the gateway's names (`identity_front`, `drivers_license`) where
    /// it has one, else the provider's.
    #[serde(default, rename = "type")]
    #[schema(required)]
    pub document_type: Option<String>,
}

/// `credit_offer.*`. Fields in alphabetical order (see the [module](crate::event_data)).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "The data of `credit_offer.*`: an offer of credit to a customer. Fields the provider did not send are absent."
)]
pub struct CreditOfferData {
    /// The most the customer may borrow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub approved_amount: Option<Money>,
    /// The provider's id of the offer.
    pub credit_offer_id: String,
    /// The provider's id of the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub customer_id: Option<String>,
    /// The number of installments (or the most offered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub installments: Option<u32>,
    /// The least the customer may borrow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub min_amount: Option<Money>,
    /// The monthly interest rate in percent, written as a decimal string with its scale
    /// (`"1.990"`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "optional_decimal::serialize",
        deserialize_with = "optional_decimal::deserialize"
    )]
    #[schema(value_type = String, nullable = false, pattern = "^-?[0-9]+(\\.[0-9]+)?$")]
    pub monthly_interest_rate: Option<Decimal>,
    /// Where the offer is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, schema_with = crate::event_data::reported_schema::<CreditOfferStatus>)]
    pub status: Option<Reported<CreditOfferStatus>>,
    /// Until when it may be accepted (whole seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub valid_until: Option<DateTime<Utc>>,
}

/// `loan.*`. Fields in alphabetical order (see the [module](crate::event_data)).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "The data of `loan.*`: a loan, from its creation to its end. Fields the provider did not send are absent."
)]
pub struct LoanData {
    /// The number of the CCB (the credit note), once issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub ccb_number: Option<String>,
    /// The provider's id of the offer the loan came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub credit_offer_id: Option<String>,
    /// The provider's id of the borrower.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub customer_id: Option<String>,
    /// How the money is disbursed (`pix`), as the provider says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub disbursement_method: Option<String>,
    /// The provider's code of what went wrong (`loan.error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error_code: Option<String>,
    /// The number of installments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub installments: Option<u32>,
    /// The provider's id of the loan.
    pub loan_id: String,
    /// What the borrower receives, net of fees and taxes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub net_amount: Option<Money>,
    /// A payment received (`loan.payment_received`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub payment: Option<LoanPayment>,
    /// The principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub principal_amount: Option<Money>,
    /// What the borrower asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub requested_amount: Option<Money>,
    /// How many signatures arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub signatures_received: Option<u32>,
    /// How many signatures the contract needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub signatures_required: Option<u32>,
    /// When the last signature arrived (whole seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub signed_at: Option<DateTime<Utc>>,
    /// Where the borrower signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub signing_url: Option<String>,
    /// Where the loan is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, schema_with = crate::event_data::reported_schema::<LoanStatus>)]
    pub status: Option<Reported<LoanStatus>>,
}

/// A payment of a loan's installment. Fields in alphabetical order.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoanPayment {
    /// How much was paid.
    pub amount: Money,
    /// Which installment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub installment_number: Option<u32>,
    /// When (whole seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub paid_at: Option<DateTime<Utc>>,
}

impl CustomerData {
    /// A customer with its id only, to fill with `..CustomerData::new(id)`.
    pub fn new(customer_id: impl Into<String>) -> CustomerData {
        CustomerData {
            customer_id: customer_id.into(),
            document: None,
            external_id: None,
            kyc: None,
            status: None,
        }
    }
}

impl CreditOfferData {
    /// An offer with its id only, to fill with `..CreditOfferData::new(id)`.
    pub fn new(credit_offer_id: impl Into<String>) -> CreditOfferData {
        CreditOfferData {
            approved_amount: None,
            credit_offer_id: credit_offer_id.into(),
            customer_id: None,
            installments: None,
            min_amount: None,
            monthly_interest_rate: None,
            status: None,
            valid_until: None,
        }
    }
}

impl LoanData {
    /// A loan with its id only, to fill with `..LoanData::new(id)`.
    pub fn new(loan_id: impl Into<String>) -> LoanData {
        LoanData {
            ccb_number: None,
            credit_offer_id: None,
            customer_id: None,
            disbursement_method: None,
            error_code: None,
            installments: None,
            loan_id: loan_id.into(),
            net_amount: None,
            payment: None,
            principal_amount: None,
            requested_amount: None,
            signatures_received: None,
            signatures_required: None,
            signed_at: None,
            signing_url: None,
            status: None,
        }
    }
}

redacted_debug!(
    CustomerData,
    KycRequirement,
    CreditOfferData,
    LoanData,
    LoanPayment
);

/// [`crate::money::exact_decimal`] for an `Option<Decimal>` (only ever serialized when `Some`).
mod optional_decimal {
    use super::{Decimal, Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(decimal) => crate::money::exact_decimal::serialize(decimal, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Decimal>, D::Error> {
        #[derive(Deserialize)]
        struct Exact(#[serde(with = "crate::money::exact_decimal")] Decimal);
        Ok(Option::<Exact>::deserialize(deserializer)?.map(|Exact(decimal)| decimal))
    }
}
