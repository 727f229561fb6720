//! The data of banking events: Pix, charges, accounts, transfers, infractions.
//!
//! Unlike credit events, every optional field here is written, as `null` when unknown. Parties are
//! [`EventParty`]s, their documents [`PartyDocument`]s.

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::{self, Deserializer};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema as _, ToSchema as _};

use crate::event_data::{Reported, redacted_debug};
use crate::{AccountStatus, Document, DocumentKind, Money};

/// A party of a payment, from a bank's account object. Everything may be unknown (`null`).
/// Fields in alphabetical order (see the [module](crate::event_data)).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "A party of a payment, from the bank's account object; every field is `null` when unknown."
)]
pub struct EventParty {
    /// The account number.
    #[serde(default)]
    #[schema(required)]
    pub account: Option<String>,
    /// The kind of account.
    #[serde(default)]
    #[schema(required, schema_with = crate::event_data::nullable_reported_schema::<AccountKind>)]
    pub account_type: Option<Reported<AccountKind>>,
    /// The branch.
    #[serde(default)]
    #[schema(required)]
    pub branch: Option<String>,
    /// The holder's document, often masked by the bank.
    #[serde(default)]
    #[schema(required)]
    pub document: Option<PartyDocument>,
    /// The name of the holder's institution.
    #[serde(default)]
    #[schema(required)]
    pub institution: Option<String>,
    /// The 8-digit ISPB of the holder's institution.
    #[serde(default)]
    #[schema(required)]
    pub ispb: Option<String>,
    /// The holder's name.
    #[serde(default)]
    #[schema(required)]
    pub name: Option<String>,
}

impl EventParty {
    /// The holder's document when it was sent whole and valid; `None` when masked or unknown.
    pub fn valid_document(&self) -> Option<&Document> {
        self.document.as_ref()?.valid()
    }
}

/// The kind of a bank account. Serialized `snake_case`; a kind this version does not know is
/// kept, lowercased, as [`Reported::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(description = "The kind of a bank account.")]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// Conta corrente.
    Current,
    /// Conta de pagamento.
    Payment,
    /// Poupança.
    Saving,
    /// Conta salário.
    Salary,
}

/// A document as a bank sent it: whole and valid, or not (usually masked, `***876977**`).
///
/// Serialized as `{"kind": "cpf", "masked": false, "value": "52998224725"}` for a valid document
/// (the bare value: PII, like [`Document`]'s own serialization) and as
/// `{"kind": null, "masked": true, "value": "<as sent>"}` otherwise.
#[derive(Clone, PartialEq, Eq)]
pub enum PartyDocument {
    /// A valid CPF or CNPJ.
    Valid(Document),
    /// The text as sent: masked, or otherwise not a valid document. Useless for matching.
    Masked(String),
}

impl PartyDocument {
    /// [`PartyDocument::Valid`] when `text` parses as a document, else [`PartyDocument::Masked`]:
    /// a masked document is kept as sent, flagged, never failed on.
    pub fn from_sent(text: &str) -> PartyDocument {
        match Document::parse(text) {
            Ok(document) => PartyDocument::Valid(document),
            Err(_) => PartyDocument::Masked(text.to_owned()),
        }
    }

    /// The document, when it is valid.
    pub fn valid(&self) -> Option<&Document> {
        match self {
            PartyDocument::Valid(document) => Some(document),
            PartyDocument::Masked(_) => None,
        }
    }

    /// Whether the document is masked (or otherwise not valid).
    pub fn is_masked(&self) -> bool {
        matches!(self, PartyDocument::Masked(_))
    }
}

impl Serialize for PartyDocument {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (kind, value) = match self {
            PartyDocument::Valid(document) => (Some(document.kind()), document.expose()),
            PartyDocument::Masked(text) => (None, text.as_str()),
        };
        let mut state = serializer.serialize_struct("PartyDocument", 3)?;
        state.serialize_field("kind", &kind)?;
        state.serialize_field("masked", &self.is_masked())?;
        state.serialize_field("value", value)?;
        state.end()
    }
}

/// The schema of what `Serialize` writes: `{"kind", "masked": false, "value"}` with a valid
/// document, or `{"kind": null, "masked": true, "value"}` with the text as sent; all three keys
/// always present.
impl utoipa::PartialSchema for PartyDocument {
    fn schema() -> RefOr<Schema> {
        let valid = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("A valid CPF or CNPJ, whole."))
            .property("kind", Ref::from_schema_name(DocumentKind::name()))
            .required("kind")
            .property(
                "masked",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .enum_values(Some([false])),
            )
            .required("masked")
            .property("value", Ref::from_schema_name(Document::name()))
            .required("value");
        let masked = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "The text as the bank sent it: masked (`***876977**`) or otherwise not a valid \
                 document. Useless for matching.",
            ))
            .property("kind", ObjectBuilder::new().schema_type(Type::Null))
            .required("kind")
            .property(
                "masked",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .enum_values(Some([true])),
            )
            .required("masked")
            .property("value", ObjectBuilder::new().schema_type(Type::String))
            .required("value");
        OneOfBuilder::new()
            .description(Some(
                "A document as a bank sent it: whole and valid, or not.",
            ))
            .item(valid)
            .item(masked)
            .into()
    }
}

impl utoipa::ToSchema for PartyDocument {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((DocumentKind::name().into_owned(), DocumentKind::schema()));
        schemas.push((Document::name().into_owned(), Document::schema()));
    }
}

impl<'de> Deserialize<'de> for PartyDocument {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PartyDocument, D::Error> {
        #[derive(Deserialize)]
        struct Stored {
            masked: bool,
            value: String,
            #[serde(default)]
            #[allow(dead_code, reason = "the kind follows from the value")]
            kind: Option<DocumentKind>,
        }
        let stored = Stored::deserialize(deserializer)?;
        match stored.masked {
            true => Ok(PartyDocument::Masked(stored.value)),
            false => Document::parse(&stored.value)
                .map(PartyDocument::Valid)
                .map_err(de::Error::custom),
        }
    }
}

/// The status of a settlement (a Pix, a refund, a transfer), in the bank's own words: stored
/// events carry Delbank's upper-case names (`PIX_EFFECTIVE`), so this enum keeps them; the
/// neutral outcome is the event type (`pix.transfer.completed`). A status this version does not
/// know is kept as sent, as [`Reported::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "The status of a settlement (a Pix, a refund, a transfer) in the bank's own words (`PIX_EFFECTIVE`); the neutral outcome is the event type."
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SettlementStatus {
    /// A Pix accepted, not settled.
    PixProcessing,
    /// A Pix settled.
    PixEffective,
    /// A Pix failed.
    PixError,
    /// A transfer accepted, not settled.
    Processing,
    /// A transfer settled.
    Effective,
    /// A transfer failed.
    Error,
}

/// `pix.received`. Fields in alphabetical order (see the [module](crate::event_data)).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "The data of `pix.received`: a Pix arrived in one of the bank's accounts. Unknown fields are `null`."
)]
pub struct PixReceivedData {
    /// How much arrived.
    pub amount: Money,
    /// The id the receiving charge (or the bank) gave the Pix.
    #[schema(required)]
    pub correlation_id: Option<String>,
    /// The Pix's end-to-end id as the bank sent it (not validated: a receipt is never lost over
    /// its id's format).
    pub end_to_end_id: String,
    /// The account that received it.
    #[schema(required)]
    pub payee: Option<EventParty>,
    /// The account that sent it.
    #[schema(required)]
    pub payer: Option<EventParty>,
    /// When it arrived (the event's `occurred_at`).
    pub received_at: DateTime<Utc>,
    /// The settlement's status, as the bank reported it.
    #[schema(required, schema_with = crate::event_data::nullable_reported_schema::<SettlementStatus>)]
    pub status: Option<Reported<SettlementStatus>>,
}

/// Whether a [`PixTransferData`] is a payment or a refund the gateway sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(description = "Whether a Pix the gateway sent is a payment or a refund.")]
#[serde(rename_all = "snake_case")]
pub enum PixOperation {
    /// A Pix payment.
    Payment,
    /// A refund of a Pix received.
    Refund,
}

/// Why a Pix failed: `{code, description}`, each `null` when unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PixFailure {
    /// The SPI reason code (`AC06`) or the bank's (`DEL20`).
    #[serde(default)]
    #[schema(required)]
    pub code: Option<String>,
    /// The explanation.
    #[serde(default)]
    #[schema(required)]
    pub description: Option<String>,
}

/// `pix.transfer.completed` and `pix.transfer.failed`. Fields in alphabetical order.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "The data of `pix.transfer.completed` and `pix.transfer.failed`: the outcome of a Pix (or a refund of one) the gateway sent. Unknown fields are `null`."
)]
pub struct PixTransferData {
    /// How much was sent.
    pub amount: Money,
    /// Where it went.
    #[schema(required)]
    pub beneficiary: Option<EventParty>,
    /// The end-to-end id (`E…`, `D…` for a refund), once assigned.
    #[schema(required)]
    pub end_to_end_id: Option<String>,
    /// Why it failed.
    #[schema(required)]
    pub failure: Option<PixFailure>,
    /// The idempotency key the gateway sent it with.
    #[schema(required)]
    pub idempotency_key: Option<String>,
    /// Payment or refund.
    pub operation: PixOperation,
    /// For a refund: the Pix refunded.
    #[schema(required)]
    pub original_end_to_end_id: Option<String>,
    /// The account it left.
    #[schema(required)]
    pub payer: Option<EventParty>,
    /// The outcome, as the bank reported it.
    #[schema(schema_with = crate::event_data::reported_schema::<SettlementStatus>)]
    pub status: Reported<SettlementStatus>,
}

/// `pix.refund.received`. Fields in alphabetical order.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "The data of `pix.refund.received`: a Pix the gateway sent was refunded. Unknown fields are `null`."
)]
pub struct PixRefundData {
    /// The number of the account refunded.
    #[schema(required)]
    pub account: Option<String>,
    /// How much came back.
    pub amount: Money,
    /// The refund's end-to-end id (`D…`).
    pub end_to_end_id: String,
    /// The Pix refunded.
    #[schema(required)]
    pub original_end_to_end_id: Option<String>,
    /// The account that received the refund.
    #[schema(required)]
    pub payee: Option<EventParty>,
    /// The account that refunded.
    #[schema(required)]
    pub payer: Option<EventParty>,
    /// Why, in the refunder's words.
    #[schema(required)]
    pub reason: Option<String>,
    /// The SPI return reason code (`MD06`).
    #[schema(required)]
    pub refund_code: Option<String>,
}

/// `charge.paid`. Fields in alphabetical order.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "The data of `charge.paid`: a charge (Pix QR code or bank slip) was paid. Unknown fields are `null`."
)]
pub struct ChargeData {
    /// How much was paid.
    pub amount: Money,
    /// The charge's correlation id (the gateway's id of it).
    pub correlation_id: String,
    /// A bank slip's digitable line.
    #[schema(required)]
    pub digitable_line: Option<String>,
    /// A bank slip's due date.
    #[schema(required)]
    pub due_date: Option<NaiveDate>,
    /// The Pix's end-to-end id, for a charge paid by Pix.
    #[schema(required)]
    pub end_to_end_id: Option<String>,
    /// A bank slip's "nosso número".
    #[schema(required)]
    pub our_number: Option<String>,
    /// The account paid into.
    #[schema(required)]
    pub payee: Option<EventParty>,
    /// Who paid.
    pub payer: ChargePayer,
    /// The bank's id of this payment of the charge (NSU, reference or slip number).
    pub payment_id: String,
    /// Where the payment came from (`SPI`, `PCR`), as the bank says.
    #[schema(required)]
    pub source: Option<String>,
    /// The version of the bank's payload (1 or 2).
    pub version: u8,
}

/// The payer of a charge: as the charge names them, and their account when paid by Pix.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChargePayer {
    /// The account paid from (Pix).
    #[serde(default)]
    #[schema(required)]
    pub account: Option<EventParty>,
    /// The payer's document.
    #[serde(default)]
    #[schema(required)]
    pub document: Option<PartyDocument>,
    /// The payer's name.
    #[serde(default)]
    #[schema(required)]
    pub name: Option<String>,
}

/// `account.approved` and `account.documentation_rejected`. Fields in alphabetical order.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "The data of `account.approved` and `account.documentation_rejected`: the outcome of a white-label account's onboarding."
)]
pub struct AccountData {
    /// The new account's number (`null` when rejected).
    #[schema(required)]
    pub account: Option<String>,
    /// Whose account.
    pub holder: AccountHolder,
    /// `approved` or `documentation_rejected`.
    pub status: AccountStatus,
}

/// The holder of a white-label account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccountHolder {
    /// The holder's document.
    pub document: PartyDocument,
    /// The registered name.
    #[schema(required)]
    pub name: Option<String>,
}

/// The status an `account.status_updated` reports, lowercased from the bank's words (which stored
/// events carry, `active` and `approved` distinct). A status this version does not know is kept,
/// lowercased, as [`Reported::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "The status an `account.status_updated` reports, lowercased from the bank's words."
)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    /// Documents still to be sent.
    PendingDocumentation,
    /// Documents being analysed.
    PendingAnalysis,
    /// Approved.
    Approved,
    /// Open.
    Active,
    /// Documents refused.
    DocumentationRejected,
    /// Documents refused (another spelling).
    DocumentationDenied,
    /// Refused.
    Rejected,
    /// Blocked.
    Blocked,
    /// Closed.
    Closed,
}

/// `account.status_updated`. Fields in alphabetical order.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "The data of `account.status_updated`: an open account was blocked, unblocked or closed."
)]
pub struct AccountStatusUpdatedData {
    /// The account's number.
    pub account: String,
    /// Its new status.
    #[schema(schema_with = crate::event_data::reported_schema::<AccountState>)]
    pub status: Reported<AccountState>,
}

/// `account.transfer.credited` and `account.transfer.debited`. Fields in alphabetical order.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "The data of `account.transfer.credited` and `account.transfer.debited`: a transfer between two accounts of the same bank. Unknown fields are `null`."
)]
pub struct AccountTransferData {
    /// How much moved.
    pub amount: Money,
    /// The account credited.
    #[schema(required)]
    pub beneficiary: Option<EventParty>,
    /// The id the gateway's caller gave the transfer.
    #[schema(required)]
    pub external_id: Option<String>,
    /// The account debited.
    #[schema(required)]
    pub payer: Option<EventParty>,
    /// Its status, as the bank reported it.
    #[schema(required, schema_with = crate::event_data::nullable_reported_schema::<SettlementStatus>)]
    pub status: Option<Reported<SettlementStatus>>,
    /// The bank's id of the transfer.
    pub transfer_id: String,
}

/// `pix.infraction.created`. Fields in alphabetical order.
///
/// `reason`, `status` and `type` are the bank's codes as sent (`FRAUD`, `PENDING`, `SCAM_FRAUD`):
/// the MED catalogue is the Banco Central's and grows, so they stay text.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "The data of `pix.infraction.created`: a Pix infraction notification (MED); `reason`, `status` and `type` are the bank's codes as sent."
)]
pub struct PixInfractionData {
    /// The ISPB of the institution credited by the Pix.
    #[schema(required)]
    pub credited_ispb: Option<String>,
    /// The ISPB of the institution debited by the Pix.
    #[schema(required)]
    pub debited_ispb: Option<String>,
    /// The Pix concerned.
    #[schema(required)]
    pub end_to_end_id: Option<String>,
    /// The bank's id of the notification.
    pub infraction_id: String,
    /// Why it was opened.
    #[schema(required)]
    pub reason: Option<String>,
    /// Where it is.
    #[schema(required)]
    pub status: Option<String>,
    /// The kind of infraction.
    #[serde(rename = "type")]
    #[schema(required)]
    pub infraction_type: Option<String>,
}

redacted_debug!(
    EventParty,
    PartyDocument,
    PixReceivedData,
    PixTransferData,
    PixRefundData,
    ChargeData,
    ChargePayer,
    AccountData,
    AccountHolder,
    AccountStatusUpdatedData,
    AccountTransferData,
    PixInfractionData,
);
