//! The typed `data` of a [`NormalizedEvent`](crate::NormalizedEvent): [`EventData`], one variant
//! per shape, built by the provider crates (and the gateway, for its own operational events) with
//! no `serde_json::Value` in between.
//!
//! # JSON form
//! `EventData` serializes untagged (the event type lives beside the data, not inside it) to the
//! JSON stored in `event.data` and sent to partners. That JSON is a compatibility contract with the
//! events already stored, which were written from `serde_json::Value`s, so:
//! - every struct lists its fields in alphabetical order, the order in which serde_json writes the
//!   keys of a `Value` object: serializing the struct gives the very bytes the `Value` gave (the
//!   `jsonb` column keeps no order, but raw copies and partners' signatures see the bytes);
//! - a field the old data omitted when unknown is `#[serde(skip_serializing_if = "Option::is_none")]`,
//!   one it wrote as `null` is a plain `Option`; each struct says which;
//! - amounts are [`Money`] (`{"amount": "12.10", "currency": "BRL"}`), in every variant;
//! - a Dinie customer's document is a [`Document`], written bare (`"52998224725"`); a party of a
//!   bank's event carries a [`PartyDocument`], `{"kind", "masked", "value"}`, since banks often
//!   send masked documents.
//!
//! Provider-golden tests (`crates/{dinie,delbank}/tests/event_data_golden.rs`) hold that contract.
//!
//! # Reading
//! The gateway reads fields, not keys: match on the variant, or use the accessors
//! ([`EventData::customer_id`], [`EventData::amount`], [`EventData::payee`]...). Stored data is
//! read back with [`EventData::from_stored`], which picks the shape from the event type.
//!
//! `Debug` prints the variant and `[REDACTED]`: data holds documents, names and accounts.
//!
//! # Catalogue
//! Every type's data has a JSON Schema derived from these types (utoipa `ToSchema`) and a
//! realistic example ([`EventType::example_data`]); [`event_catalogue`] lists them for partners.

mod banking;
mod catalogue;
mod credit;
mod gateway;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, Type};

pub use self::banking::{
    AccountData, AccountHolder, AccountKind, AccountState, AccountStatusUpdatedData,
    AccountTransferData, ChargeData, ChargePayer, EventParty, PartyDocument, PixFailure,
    PixInfractionData, PixOperation, PixReceivedData, PixRefundData, PixTransferData,
    SettlementStatus,
};
pub use self::catalogue::{
    EventTypeDoc, JSON_SCHEMA_DIALECT, UNRECOGNIZED_FAMILY, data_schemas, event_catalogue,
};
pub use self::credit::{CreditOfferData, CustomerData, KycRequirement, LoanData, LoanPayment};
pub use self::gateway::{
    ReconciliationData, ReconciliationStatus, SubscriptionDisabledData, Unmapped, UnrecognizedData,
};
use crate::{Document, EventType, Money, REDACTED};

/// The `data` of a normalized event, one variant per shape. See the [module](self) for its JSON.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum EventData {
    /// `customer.*`: a credit provider's customer.
    Customer(CustomerData),
    /// `credit_offer.*`: an offer of credit to a customer.
    CreditOffer(CreditOfferData),
    /// `loan.*`: a loan, through its life from creation to its end.
    Loan(LoanData),
    /// `charge.paid`: a charge (Pix QR code or bank slip) was paid.
    Charge(ChargeData),
    /// `pix.received`: a Pix arrived in one of the bank's accounts.
    PixReceived(PixReceivedData),
    /// `pix.transfer.completed` and `pix.transfer.failed`: the outcome of a Pix (or a refund of
    /// one) that the gateway sent.
    PixTransfer(PixTransferData),
    /// `pix.refund.received`: a Pix the gateway sent was refunded to it.
    PixRefund(PixRefundData),
    /// `account.approved` and `account.documentation_rejected`: the outcome of a white-label
    /// account's onboarding.
    Account(AccountData),
    /// `account.status_updated`: an open account was blocked, unblocked or closed.
    AccountStatusUpdated(AccountStatusUpdatedData),
    /// `account.transfer.credited` and `account.transfer.debited`: a transfer between two
    /// accounts of the same bank.
    AccountTransfer(AccountTransferData),
    /// `pix.infraction.created`: a Pix infraction notification (MED) was opened.
    PixInfraction(PixInfractionData),
    /// `subscription.disabled`: the gateway disabled a partner subscription.
    SubscriptionDisabled(SubscriptionDisabledData),
    /// `reconciliation.*`: a reconciliation item changed status.
    Reconciliation(ReconciliationData),
    /// `<provider>.unrecognized`: the raw body is stored beside the event; the data only says why
    /// no rule mapped it, when the provider crate tells.
    Unrecognized(UnrecognizedData),
}

impl fmt::Debug for EventData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple(self.variant_name()).field(&REDACTED).finish()
    }
}

impl EventData {
    /// The name of the variant, for `Debug` and error messages.
    pub fn variant_name(&self) -> &'static str {
        match self {
            EventData::Customer(_) => "Customer",
            EventData::CreditOffer(_) => "CreditOffer",
            EventData::Loan(_) => "Loan",
            EventData::Charge(_) => "Charge",
            EventData::PixReceived(_) => "PixReceived",
            EventData::PixTransfer(_) => "PixTransfer",
            EventData::PixRefund(_) => "PixRefund",
            EventData::Account(_) => "Account",
            EventData::AccountStatusUpdated(_) => "AccountStatusUpdated",
            EventData::AccountTransfer(_) => "AccountTransfer",
            EventData::PixInfraction(_) => "PixInfraction",
            EventData::SubscriptionDisabled(_) => "SubscriptionDisabled",
            EventData::Reconciliation(_) => "Reconciliation",
            EventData::Unrecognized(_) => "Unrecognized",
        }
    }

    /// Reads stored `data` (as written by `Serialize`) back, in the shape of `event_type`.
    ///
    /// Keys a shape does not know are ignored, as in every wire format of the gateway; a missing
    /// required field, a malformed amount or an invalid unmasked document is an error.
    pub fn from_stored(
        event_type: &EventType,
        data: serde_json::Value,
    ) -> Result<EventData, serde_json::Error> {
        use EventType as T;
        let data = match event_type {
            T::CustomerCreated
            | T::CustomerUnderReview
            | T::CustomerKycUpdated
            | T::CustomerActive
            | T::CustomerDenied => EventData::Customer(serde_json::from_value(data)?),
            T::CreditOfferAvailable | T::CreditOfferExpired => {
                EventData::CreditOffer(serde_json::from_value(data)?)
            }
            T::LoanCreated
            | T::LoanContractGenerated
            | T::LoanAwaitingSignatures
            | T::LoanSigned
            | T::LoanDisbursing
            | T::LoanActive
            | T::LoanPaymentReceived
            | T::LoanFinished
            | T::LoanCancelled
            | T::LoanError => EventData::Loan(serde_json::from_value(data)?),
            T::ChargePaid => EventData::Charge(serde_json::from_value(data)?),
            T::PixReceived => EventData::PixReceived(serde_json::from_value(data)?),
            T::PixTransferCompleted | T::PixTransferFailed => {
                EventData::PixTransfer(serde_json::from_value(data)?)
            }
            T::PixRefundReceived => EventData::PixRefund(serde_json::from_value(data)?),
            T::AccountApproved | T::AccountDocumentationRejected => {
                EventData::Account(serde_json::from_value(data)?)
            }
            T::AccountStatusUpdated => {
                EventData::AccountStatusUpdated(serde_json::from_value(data)?)
            }
            T::AccountTransferCredited | T::AccountTransferDebited => {
                EventData::AccountTransfer(serde_json::from_value(data)?)
            }
            T::PixInfractionCreated => EventData::PixInfraction(serde_json::from_value(data)?),
            T::SubscriptionDisabled => {
                EventData::SubscriptionDisabled(serde_json::from_value(data)?)
            }
            T::ReconciliationMatched
            | T::ReconciliationAmountMismatch
            | T::ReconciliationOverdue
            | T::ReconciliationNeedsReview
            | T::ReconciliationUnexpectedReceipt
            | T::ReconciliationResolved => EventData::Reconciliation(serde_json::from_value(data)?),
            T::Unrecognized(_) => EventData::Unrecognized(serde_json::from_value(data)?),
        };
        Ok(data)
    }

    /// The data as a JSON value, exactly what `Serialize` writes.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// A customer's data.
    pub fn as_customer(&self) -> Option<&CustomerData> {
        match self {
            EventData::Customer(customer) => Some(customer),
            _ => None,
        }
    }

    /// A credit offer's data.
    pub fn as_credit_offer(&self) -> Option<&CreditOfferData> {
        match self {
            EventData::CreditOffer(offer) => Some(offer),
            _ => None,
        }
    }

    /// A loan's data.
    pub fn as_loan(&self) -> Option<&LoanData> {
        match self {
            EventData::Loan(loan) => Some(loan),
            _ => None,
        }
    }

    /// A received Pix's data.
    pub fn as_pix_received(&self) -> Option<&PixReceivedData> {
        match self {
            EventData::PixReceived(received) => Some(received),
            _ => None,
        }
    }

    /// The credit provider's customer id: of a customer, an offer or a loan (when the provider
    /// sent it).
    pub fn customer_id(&self) -> Option<&str> {
        match self {
            EventData::Customer(customer) => Some(&customer.customer_id),
            EventData::CreditOffer(offer) => offer.customer_id.as_deref(),
            EventData::Loan(loan) => loan.customer_id.as_deref(),
            _ => None,
        }
    }

    /// A customer's document, when the provider sent a valid one.
    pub fn document(&self) -> Option<&Document> {
        self.as_customer()?.document.as_ref()
    }

    /// A loan's id.
    pub fn loan_id(&self) -> Option<&str> {
        self.as_loan().map(|loan| loan.loan_id.as_str())
    }

    /// The amount a loan's borrower asked for.
    pub fn requested_amount(&self) -> Option<Money> {
        self.as_loan()?.requested_amount
    }

    /// The amount a loan disburses to its borrower.
    pub fn net_amount(&self) -> Option<Money> {
        self.as_loan()?.net_amount
    }

    /// The amount of a payment: a received Pix, a Pix sent or refunded, a paid charge, a transfer.
    pub fn amount(&self) -> Option<Money> {
        match self {
            EventData::PixReceived(received) => Some(received.amount),
            EventData::PixTransfer(transfer) => Some(transfer.amount),
            EventData::PixRefund(refund) => Some(refund.amount),
            EventData::Charge(charge) => Some(charge.amount),
            EventData::AccountTransfer(transfer) => Some(transfer.amount),
            _ => None,
        }
    }

    /// The Pix end-to-end id a payment event is about, as the provider sent it.
    pub fn end_to_end_id(&self) -> Option<&str> {
        match self {
            EventData::PixReceived(received) => Some(&received.end_to_end_id),
            EventData::PixTransfer(transfer) => transfer.end_to_end_id.as_deref(),
            EventData::PixRefund(refund) => Some(&refund.end_to_end_id),
            EventData::Charge(charge) => charge.end_to_end_id.as_deref(),
            EventData::PixInfraction(infraction) => infraction.end_to_end_id.as_deref(),
            _ => None,
        }
    }

    /// Who received the money: the account of a received Pix, a refund or a paid charge.
    pub fn payee(&self) -> Option<&EventParty> {
        match self {
            EventData::PixReceived(received) => received.payee.as_ref(),
            EventData::PixRefund(refund) => refund.payee.as_ref(),
            EventData::Charge(charge) => charge.payee.as_ref(),
            _ => None,
        }
    }

    /// Who paid: the sender of a received Pix, a Pix, a refund or a transfer, the account a
    /// charge was paid from.
    pub fn payer(&self) -> Option<&EventParty> {
        match self {
            EventData::PixReceived(received) => received.payer.as_ref(),
            EventData::PixTransfer(transfer) => transfer.payer.as_ref(),
            EventData::PixRefund(refund) => refund.payer.as_ref(),
            EventData::Charge(charge) => charge.payer.account.as_ref(),
            EventData::AccountTransfer(transfer) => transfer.payer.as_ref(),
            _ => None,
        }
    }
}

/// A status (or kind) as a provider reported it: one the gateway knows, or, when a provider sends
/// a value this version does not know, the provider's own text, kept rather than lost or guessed.
///
/// Serializes as the known value's name or as the text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Reported<T> {
    /// A value of the closed enum.
    Known(T),
    /// The provider's text, for a value the enum does not have.
    Other(String),
}

/// The schema of a [`Reported<T>`] field (`schema_with`): one of `T`'s values, or any other text,
/// which a provider sent and this version does not know. `T`'s values are inline: `anyOf`, since
/// a known value is text too.
pub(crate) fn reported_schema<T: ToSchema>() -> Schema {
    Schema::AnyOf(reported_items::<T>().build())
}

/// [`reported_schema`], or `null`: the schema of a plain `Option<Reported<T>>` field, which is
/// written `null` when unknown.
pub(crate) fn nullable_reported_schema<T: ToSchema>() -> Schema {
    let null = ObjectBuilder::new().schema_type(Type::Null);
    Schema::AnyOf(reported_items::<T>().item(null).build())
}

fn reported_items<T: ToSchema>() -> AnyOfBuilder {
    let other = ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "A value this version does not know, as the provider sent it.",
        ));
    AnyOfBuilder::new().item(T::schema()).item(other)
}

impl<T: DeserializeOwned> Reported<T> {
    /// `Known` when `text` is exactly the serialized name of a value of `T`, else `Other(text)`.
    pub fn parse(text: impl Into<String>) -> Reported<T> {
        let text = text.into();
        let deserializer: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
            text.as_str().into_deserializer();
        match T::deserialize(deserializer) {
            Ok(known) => Reported::Known(known),
            Err(_) => Reported::Other(text),
        }
    }
}

impl<T> Reported<T> {
    /// The known value converted with `convert`; the provider's text unchanged.
    pub fn map<U>(self, convert: impl FnOnce(T) -> U) -> Reported<U> {
        match self {
            Reported::Known(known) => Reported::Known(convert(known)),
            Reported::Other(text) => Reported::Other(text),
        }
    }
}

impl<T: Copy> Reported<T> {
    /// The known value, `None` for a provider's own text.
    pub fn known(&self) -> Option<T> {
        match self {
            Reported::Known(known) => Some(*known),
            Reported::Other(_) => None,
        }
    }
}

impl<T> From<T> for Reported<T> {
    fn from(known: T) -> Reported<T> {
        Reported::Known(known)
    }
}

/// Implements a `Debug` that prints only the type's name and `[REDACTED]`.
macro_rules! redacted_debug {
    ($($name:ident),+ $(,)?) => {
        $(impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_tuple(stringify!($name)).field(&$crate::REDACTED).finish()
            }
        })+
    };
}
use redacted_debug;
