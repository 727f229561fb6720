//! Delbank's wire format: private serde DTOs, tolerant of its quirks.
//!
//! - Every field a response may omit is an `Option` with a default, and unknown fields are ignored.
//! - Amounts are JSON numbers in reais with up to 5 decimals: read as [`Money`] straight from the
//!   bytes (never through a `serde_json::Value`, which would hand them over as `f64`), written as
//!   exact JSON numbers.
//! - Enums keep a value they do not know in `Unknown(String)` and match known values ignoring case
//!   (`Pending` and `PENDING` are both seen).
//! - Timestamps come with or without an offset and with 0 to 7 fractional digits; a naive one is
//!   UTC ([`lenient_time`]).
//! - Account numbers arrive as strings or as JSON numbers ([`number_or_string`]).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use providers::Money;
use rust_decimal::Decimal;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The key under which serde_json (with `arbitrary_precision`) hands a number to `visit_map`.
const JSON_NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Defines a wire enum: known values (matched ignoring ASCII case) plus `Unknown(String)`.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub(crate) enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version does not know, kept as sent.
            Unknown(String),
        }

        impl $name {
            /// The wire text.
            pub(crate) fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Unknown(text) => text,
                }
            }

            /// Reads a wire value; anything unknown is kept in `Unknown`.
            pub(crate) fn from_wire(text: &str) -> $name {
                $(if text.trim().eq_ignore_ascii_case($text) {
                    return $name::$variant;
                })+
                $name::Unknown(text.to_owned())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let text = String::deserialize(deserializer)?;
                Ok($name::from_wire(&text))
            }
        }
    };
}

wire_enum! {
    /// A charge's `type`.
    ChargeType {
        /// Single-use Pix QR code.
        PixDynamic => "PIX_DYNAMIC",
        /// Reusable Pix QR code.
        PixStatic => "PIX_STATIC",
        /// Bank slip.
        Bankslip => "BANKSLIP",
        /// Bank slip with a Pix QR code.
        BankslipPix => "BANKSLIP_PIX",
        /// Dynamic Pix QR code with a due date (SDK only).
        PixDynamicDueDate => "PIX_DYNAMIC_DUEDATE",
    }
}

wire_enum! {
    /// A charge's `status`: `Pending` (bank slips, PascalCase) and `PAID`/`CONCLUDED` (Pix).
    ChargeStatus {
        /// Waiting for payment (bank slips).
        Pending => "Pending",
        /// Waiting for payment (QR codes).
        Active => "ACTIVE",
        /// Paid (v1 Pix, bank slips as `Paid`).
        Paid => "PAID",
        /// Paid (v2 QR codes).
        Concluded => "CONCLUDED",
        /// Expired without payment.
        Expired => "EXPIRED",
        /// Cancelled (American spelling).
        Canceled => "CANCELED",
        /// Cancelled (British spelling).
        Cancelled => "CANCELLED",
        /// Written off (bank slips).
        WrittenOff => "WrittenOff",
        /// Voided (bank slips).
        Voided => "VOIDED",
        /// Removed (v2 QR codes).
        Removed => "REMOVED",
    }
}

wire_enum! {
    /// The status of a transfer, a Pix or a refund.
    TransferStatus {
        /// Pix accepted, not settled.
        PixProcessing => "PIX_PROCESSING",
        /// Pix settled.
        PixEffective => "PIX_EFFECTIVE",
        /// Pix failed.
        PixError => "PIX_ERROR",
        /// Internal transfer or TED accepted.
        Processing => "PROCESSING",
        /// Internal transfer or TED settled.
        Effective => "EFFECTIVE",
        /// Internal transfer or TED failed.
        Error => "ERROR",
    }
}

wire_enum! {
    /// The `type` of an account.
    AccountType {
        /// Conta corrente.
        Current => "CURRENT",
        /// Conta de pagamento.
        Payment => "PAYMENT",
        /// Poupança.
        Saving => "SAVING",
        /// Conta salário.
        Salary => "SALARY",
    }
}

wire_enum! {
    /// A holder's `type`.
    HolderType {
        /// A person (CPF).
        Natural => "NATURAL",
        /// A company (CNPJ).
        Legal => "LEGAL",
    }
}

wire_enum! {
    /// A DICT key's `entryType`.
    EntryType {
        /// The holder's CPF or CNPJ.
        Document => "DOCUMENT",
        /// A random key.
        Evp => "EVP",
        /// A phone number.
        Phone => "PHONE",
        /// An e-mail address.
        Email => "EMAIL",
    }
}

wire_enum! {
    /// A white-label customer's or bank account's `status`.
    CustomerStatus {
        /// Documents still to be sent.
        PendingDocumentation => "PENDING_DOCUMENTATION",
        /// Documents being analysed.
        PendingAnalysis => "PENDING_ANALYSIS",
        /// Approved.
        Approved => "APPROVED",
        /// Open.
        Active => "ACTIVE",
        /// Documents refused.
        DocumentationRejected => "DOCUMENTATION_REJECTED",
        /// Documents refused (third-party spelling).
        DocumentationDenied => "DOCUMENTATION_DENIED",
        /// Refused.
        Rejected => "REJECTED",
        /// Blocked.
        Blocked => "BLOCKED",
        /// Closed.
        Closed => "CLOSED",
    }
}

wire_enum! {
    /// A webhook registration's `authorizationScheme`.
    WireScheme {
        /// `Authorization: Basic`.
        Basic => "BASIC",
        /// `Authorization: Bearer`.
        Bearer => "BEARER",
        /// A custom header.
        Header => "HEADER",
        /// No authentication.
        None => "NONE",
    }
}

wire_enum! {
    /// An onboarding `documentType`.
    DocumentType {
        /// Selfie.
        Selfie => "SELFIE",
        /// Driving licence, both sides.
        CnhFull => "CNH_FULL",
        /// Driving licence, front.
        CnhFront => "CNH_FRONT",
        /// Driving licence, back.
        CnhBack => "CNH_BACK",
        /// Identity card, both sides.
        RgFull => "RG_FULL",
        /// Identity card, front.
        RgFront => "RG_FRONT",
        /// Identity card, back.
        RgBack => "RG_BACK",
        /// Articles of association.
        SocialContract => "PERSON_LEGAL_SOCIAL_CONTRACT",
    }
}

// ---------------------------------------------------------------------------------------------
// Shared shapes.

/// The common account object of payers, beneficiaries and payees (§3.6).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireAccount {
    /// Account number (a string, sometimes a number).
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) number: Option<String>,
    /// Branch, e.g. `0001`.
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) branch: Option<String>,
    /// Account type.
    #[serde(rename = "type")]
    pub(crate) account_type: Option<AccountType>,
    /// The institution.
    pub(crate) participant: Option<WireParticipant>,
    /// The holder.
    pub(crate) holder: Option<WireHolder>,
}

/// An institution: ISPB and name.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireParticipant {
    /// Name, may be absent.
    pub(crate) name: Option<String>,
    /// 8-digit ISPB.
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) ispb: Option<String>,
}

/// An account holder; the document is often masked (`***876977**`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireHolder {
    /// Name, may be absent.
    pub(crate) name: Option<String>,
    /// CPF/CNPJ digits, or a masked form.
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) document: Option<String>,
    /// Person or company.
    #[serde(rename = "type")]
    pub(crate) holder_type: Option<HolderType>,
}

/// A flat `{name, document}` payer.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WirePerson {
    /// Name.
    pub(crate) name: Option<String>,
    /// CPF/CNPJ, possibly masked.
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) document: Option<String>,
}

/// `{code, description}` of a failed Pix.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireFailure {
    /// SPI reason code (`AC06`) or Delbank code (`DEL20`).
    pub(crate) code: Option<String>,
    /// Explanation.
    pub(crate) description: Option<String>,
}

/// An error body: ASP.NET problem details, or the legacy `{instance, title, errors}` shape.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireProblem {
    /// Problem type URI.
    #[serde(rename = "type")]
    pub(crate) problem_type: Option<String>,
    /// Summary.
    pub(crate) title: Option<String>,
    /// Detail, when given.
    pub(crate) detail: Option<String>,
    /// Delbank's trace id.
    pub(crate) trace_id: Option<String>,
    /// A business code, when given.
    pub(crate) code: Option<String>,
    /// Field errors keyed by JSON path (`$.dueDate`), or anything else (kept unread).
    pub(crate) errors: Option<ProblemErrors>,
}

/// The `errors` member: a map of field paths to messages, or an unexpected shape.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum ProblemErrors {
    /// `{"$.field": ["message"]}`.
    Fields(BTreeMap<String, Vec<String>>),
    /// Anything else.
    Other(serde::de::IgnoredAny),
}

/// The `pagination` response header.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WirePagination {
    /// The page returned (1-based).
    pub(crate) current_page: u64,
    /// Items per page.
    pub(crate) page_size: u64,
    /// Number of pages.
    pub(crate) page_count: u64,
    /// Number of items.
    pub(crate) row_count: u64,
}

// ---------------------------------------------------------------------------------------------
// Requests.

/// An exact JSON number written from a [`Decimal`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct WireAmount(pub(crate) Decimal);

impl Serialize for WireAmount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        rust_decimal::serde::arbitrary_precision::serialize(&self.0.normalize(), serializer)
    }
}

/// `POST /baas/api/v1/charges` and `POST /baas/v1/charges`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChargeRequest {
    /// Kind.
    #[serde(rename = "type")]
    pub(crate) charge_type: ChargeType,
    /// Our id for the charge.
    pub(crate) correlation_id: String,
    /// Amount.
    pub(crate) amount: WireAmount,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    /// Due date (`yyyy-MM-dd`), bank slips.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) due_date: Option<NaiveDate>,
    /// Seconds until a dynamic QR code expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) expires_in: Option<u64>,
    /// Who pays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) payer: Option<WirePerson>,
}

/// `PATCH /baas/v1/charges/{correlationId}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChargeUpdateRequest {
    /// New amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) amount: Option<WireAmount>,
    /// New due date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) due_date: Option<NaiveDate>,
    /// New description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
}

/// `POST /baas/api/v2/pix/qrcode/{static|dynamic}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QrCodeRequest {
    /// Our id.
    pub(crate) correlation_id: String,
    /// Amount (optional for static codes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) amount: Option<WireAmount>,
    /// Description / additional information.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    /// Seconds until a dynamic code expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) expires_in: Option<u64>,
    /// The Pix key the code pays to (static codes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) pix_key: Option<String>,
}

/// `POST /baas/api/v2/pix/dict/payment-initialization`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyInitializationRequest {
    /// The Pix key.
    pub(crate) key: String,
}

/// `POST /baas/api/v2/pix/qrcode/payment-initialization`.
#[derive(Debug, Serialize)]
pub(crate) struct QrInitializationRequest {
    /// The EMV "copia e cola" text.
    pub(crate) payload: String,
}

/// `POST /baas/api/v2/transfers`: Pix by key or QR (`endToEndId`), manual Pix (`beneficiary`) or
/// internal (`beneficiaryAccount`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TransferRequest {
    /// Amount.
    pub(crate) amount: WireAmount,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    /// From a payment initialization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) end_to_end_id: Option<String>,
    /// From a QR payment initialization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) transaction_id: Option<String>,
    /// `KEY`, `QR_CODE_STATIC`, `QR_CODE_DYNAMIC`, `MANUAL`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) initiation_type: Option<String>,
    /// `PIX` for Pix transfers.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(crate) transfer_type: Option<String>,
    /// Account data, for a manual Pix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) beneficiary: Option<ManualBeneficiary>,
    /// Delbank account number, for an internal transfer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) beneficiary_account: Option<String>,
    /// Our reference, echoed back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) external_id: Option<String>,
}

/// The flat beneficiary of a manual Pix.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ManualBeneficiary {
    /// Account number.
    pub(crate) number: String,
    /// Branch.
    pub(crate) branch: String,
    /// Account type.
    #[serde(rename = "type")]
    pub(crate) account_type: AccountType,
    /// ISPB of the institution.
    pub(crate) participant_ispb: String,
    /// The holder.
    pub(crate) holder: WireHolder,
}

/// `PUT /baas/api/v1/pix/{endToEndIdOriginal}/refund`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RefundRequest {
    /// Amount to give back.
    pub(crate) amount: WireAmount,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
}

/// `POST|DELETE /baas/api/v1/pix/dict/entries`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DictEntryRequest {
    /// Kind of key.
    pub(crate) entry_type: EntryType,
    /// The key, for PHONE, EMAIL and deletions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) key: Option<String>,
}

/// `POST /baas/api/v1/pix/dict/auth-code`.
#[derive(Debug, Serialize)]
pub(crate) struct AuthCodeRequest {
    /// `EMAIL` or `SMS`.
    pub(crate) sender: String,
    /// The e-mail address or phone number.
    pub(crate) receiver: String,
    /// The message, with `{{code}}`.
    pub(crate) payload: String,
}

/// `POST /baas/api/v1/customers/person-natural|person-legal`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CustomerRequest {
    /// CPF or CNPJ digits.
    pub(crate) document: String,
    /// Person's name (PF).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    /// Company name (PJ).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) corporate_name: Option<String>,
    /// E-mail (PF).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<String>,
    /// E-mail (PJ).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) business_email: Option<String>,
    /// Phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) phone: Option<WirePhone>,
}

/// `{ddd, number, type}`.
#[derive(Debug, Serialize)]
pub(crate) struct WirePhone {
    /// Area code.
    pub(crate) ddd: String,
    /// Number.
    pub(crate) number: String,
    /// `CELL` or `RESIDENTIAL`.
    #[serde(rename = "type")]
    pub(crate) phone_type: String,
}

/// `POST /baas/api/v1/customers/{document}/documents`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DocumentUploadRequest {
    /// The file, base64.
    pub(crate) base64: String,
    /// What it is.
    pub(crate) document_type: DocumentType,
}

/// `POST /baas/api/v1/webhooks` and `PATCH /baas/api/v1/webhooks/{id}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WebhookRequest {
    /// One event type.
    pub(crate) event_type: String,
    /// Receiver URL.
    pub(crate) url: String,
    /// `BASIC`, `BEARER`, `HEADER`.
    pub(crate) authorization_scheme: WireScheme,
    /// The secret material.
    pub(crate) authorization: String,
}

// ---------------------------------------------------------------------------------------------
// Responses.

/// A charge (C3 shape; C1 and the v1 dynamic QR query are read with the same struct).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireCharge {
    /// Our id.
    pub(crate) correlation_id: Option<String>,
    /// Kind.
    #[serde(rename = "type")]
    pub(crate) charge_type: Option<ChargeType>,
    /// Status.
    pub(crate) status: Option<ChargeStatus>,
    /// Amount.
    pub(crate) amount: Option<Money>,
    /// EMV payload (C3).
    pub(crate) qr_code: Option<String>,
    /// EMV payload (Q1).
    pub(crate) qr_code_payload: Option<String>,
    /// EMV payload (v2).
    pub(crate) payload_pix: Option<String>,
    /// Digitable line (bank slips).
    pub(crate) digitable_line: Option<String>,
    /// Bar code (bank slips).
    pub(crate) bar_code: Option<String>,
    /// Due date.
    #[serde(deserialize_with = "lenient_time")]
    pub(crate) due_date: Option<DateTime<Utc>>,
    /// Expiry (QR codes).
    #[serde(deserialize_with = "lenient_time")]
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// Creation.
    #[serde(deserialize_with = "lenient_time")]
    pub(crate) created_at: Option<DateTime<Utc>>,
}

/// A v2 QR code.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireQrCode {
    /// Delbank's transaction id.
    pub(crate) transaction_id: Option<String>,
    /// Our id.
    pub(crate) correlation_id: Option<String>,
    /// `DYNAMIC_IMMEDIATE_PAYMENT`, ...
    #[serde(rename = "type")]
    pub(crate) qr_type: Option<String>,
    /// Status (dynamic codes).
    pub(crate) status: Option<ChargeStatus>,
    /// Amount.
    pub(crate) amount: Option<Money>,
    /// EMV payload.
    pub(crate) payload_pix: Option<String>,
    /// Expiry.
    #[serde(deserialize_with = "lenient_time")]
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// Creation.
    #[serde(deserialize_with = "lenient_time")]
    pub(crate) created_at: Option<DateTime<Utc>>,
}

/// P1 / P2: a payment initialization.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireInitialization {
    /// The end-to-end id to pay with (single use).
    pub(crate) end_to_end_id: Option<String>,
    /// The key.
    pub(crate) key: Option<String>,
    /// QR codes: Delbank's transaction id.
    pub(crate) transaction_id: Option<String>,
    /// QR codes: `QR_CODE_STATIC` / `QR_CODE_DYNAMIC`.
    pub(crate) initiation_type: Option<String>,
    /// QR codes: the amount to pay.
    pub(crate) amount: Option<Money>,
    /// Who receives.
    pub(crate) beneficiary: Option<WireAccount>,
}

/// P3 / P4: a transfer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireTransfer {
    /// UUID.
    pub(crate) id: Option<String>,
    /// Pix only.
    pub(crate) end_to_end_id: Option<String>,
    /// Account NSU.
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) transaction_nsu: Option<String>,
    /// Our reference.
    pub(crate) external_id: Option<String>,
    /// The key we sent (the simulator and newer docs echo it).
    pub(crate) idempotency_key: Option<String>,
    /// Status.
    pub(crate) status: Option<TransferStatus>,
    /// `INTERNAL`, `PIX_QR_CODE_DYNAMIC`, ...
    #[serde(rename = "type")]
    pub(crate) transfer_type: Option<String>,
    /// Amount.
    pub(crate) amount: Option<Money>,
    /// Failure, when failed.
    pub(crate) error: Option<WireFailure>,
    /// Creation.
    #[serde(deserialize_with = "lenient_time")]
    pub(crate) created_at: Option<DateTime<Utc>>,
}

/// R1's 202 body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireRefund {
    /// The key we sent.
    pub(crate) idempotency_key: Option<String>,
    /// Our reference.
    pub(crate) external_id: Option<String>,
    /// `D…`.
    pub(crate) end_to_end_id: Option<String>,
    /// `PIX_PROCESSING`.
    pub(crate) status: Option<TransferStatus>,
    /// Creation.
    #[serde(deserialize_with = "lenient_time")]
    pub(crate) created_at: Option<DateTime<Utc>>,
}

/// A DICT key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireDictEntry {
    /// The key.
    pub(crate) key: Option<String>,
    /// Its kind.
    pub(crate) entry_type: Option<EntryType>,
    /// Its status.
    pub(crate) status: Option<String>,
}

/// The auth-code answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireAuthCode {
    /// The `x-auth-id` to send with the key creation.
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) id: Option<String>,
}

/// B1.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireBalance {
    /// What can be spent.
    pub(crate) amount_available: Option<Money>,
    /// What is held, when reported.
    pub(crate) amount_blocked: Option<Money>,
}

/// B2 item.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireStatementEntry {
    /// Sequence number.
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) nsu: Option<String>,
    /// Amount (positive).
    pub(crate) amount: Option<Money>,
    /// Description.
    pub(crate) description: Option<String>,
    /// `{name, description, isCredit}`.
    #[serde(rename = "type")]
    pub(crate) entry_type: Option<WireStatementType>,
    /// Pix only.
    pub(crate) end_to_end_id: Option<String>,
    /// The idempotency key of the transfer (outgoing Pix).
    pub(crate) idempotency_key: Option<String>,
    /// When.
    #[serde(deserialize_with = "lenient_time")]
    pub(crate) created_at: Option<DateTime<Utc>>,
}

/// The `type` object of a statement entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireStatementType {
    /// `DEBIT_PIX`, `CREDIT_TRANSFER_INTERNAL`, ...
    pub(crate) name: Option<String>,
    /// Money in.
    pub(crate) is_credit: Option<bool>,
}

/// U1/U2/U5: a white-label customer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireCustomer {
    /// CPF/CNPJ.
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) document: Option<String>,
    /// Status.
    pub(crate) status: Option<CustomerStatus>,
}

/// U6 item.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireBankAccount {
    /// Status.
    pub(crate) status: Option<CustomerStatus>,
    /// Account number.
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) number: Option<String>,
    /// Branch.
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) branch: Option<String>,
}

/// W1-W4: a webhook registration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireWebhook {
    /// Integer id.
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) id: Option<String>,
    /// One event type.
    pub(crate) event_type: Option<String>,
    /// Receiver URL.
    pub(crate) url: Option<String>,
    /// Scheme.
    pub(crate) authorization_scheme: Option<WireScheme>,
}

// ---------------------------------------------------------------------------------------------
// Webhook payloads (§6).

/// Only the discriminator of a webhook body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WebhookProbe {
    /// The body's own event type, when it has one.
    pub(crate) event_type: Option<String>,
}

/// `PIX_RECEIVED` (§6.1).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PixReceivedPayload {
    /// The charge's correlation id, or another id.
    pub(crate) correlation_id: Option<String>,
    /// = endToEndId.
    pub(crate) reference_id: Option<String>,
    /// `E…`.
    pub(crate) end_to_end_id: Option<String>,
    /// Amount.
    pub(crate) amount: Option<Money>,
    /// When.
    #[serde(deserialize_with = "lenient_time")]
    pub(crate) created_at: Option<DateTime<Utc>>,
    /// Details.
    pub(crate) proof: Option<PixProof>,
}

/// The `proof` of a received Pix.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PixProof {
    /// `E…`.
    pub(crate) end_to_end_id: Option<String>,
    /// = endToEndId for received Pix.
    pub(crate) idempotency_key: Option<String>,
    /// Status.
    pub(crate) status: Option<TransferStatus>,
    /// Amount.
    pub(crate) amount: Option<Money>,
    /// Sender.
    pub(crate) payer: Option<WireAccount>,
    /// Us.
    pub(crate) beneficiary: Option<WireAccount>,
    /// Us.
    pub(crate) payee: Option<WireAccount>,
}

/// `PIX_PAYMENT_UPDATED` and `PIX_REFUND_PAYMENT_UPDATED` (§6.2, §6.4).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PixPaymentPayload {
    /// `PIX_PAYMENT_EFFECTIVE`, `PIX_PAYMENT_ERROR`, `PIX_REFUND_PAYMENT_ERROR`, ...
    pub(crate) event_type: Option<String>,
    /// `E38224857…` or `D38224857…`.
    pub(crate) end_to_end_id: Option<String>,
    /// Refunds: the Pix refunded.
    pub(crate) original_end_to_end_id: Option<String>,
    /// Our `IdempotencyKey`.
    pub(crate) idempotency_key: Option<String>,
    /// Our correlation id (usually null).
    pub(crate) correlation_id: Option<String>,
    /// `DEBIT_REFUND` for refunds (older pages).
    pub(crate) operation_type: Option<String>,
    /// Status.
    pub(crate) status: Option<TransferStatus>,
    /// Failure.
    pub(crate) error: Option<WireFailure>,
    /// Amount.
    pub(crate) amount: Option<Money>,
    /// When.
    #[serde(deserialize_with = "lenient_time")]
    pub(crate) created_at: Option<DateTime<Utc>>,
    /// When it ended (refund errors have no offset here).
    #[serde(deserialize_with = "lenient_time")]
    pub(crate) finished_at: Option<DateTime<Utc>>,
    /// Us.
    pub(crate) payer: Option<WireAccount>,
    /// Destination.
    pub(crate) beneficiary: Option<WireAccount>,
}

/// `PIX_REFUNDED` (§6.3).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PixRefundedPayload {
    /// `D…`.
    pub(crate) end_to_end_id: Option<String>,
    /// The Pix we had sent.
    pub(crate) original_end_to_end_id: Option<String>,
    /// Amount.
    pub(crate) amount: Option<Money>,
    /// Our account number.
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) bank_account: Option<String>,
    /// SPI return reason.
    pub(crate) refund_code: Option<String>,
    /// Free text.
    pub(crate) reason_refund: Option<String>,
    /// Newer version.
    pub(crate) idempotency_key: Option<String>,
    /// When.
    #[serde(deserialize_with = "lenient_time")]
    pub(crate) created_at: Option<DateTime<Utc>>,
    /// Details.
    pub(crate) proof: Option<RefundProof>,
}

/// The `proof` of a received refund.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RefundProof {
    /// `D…`.
    pub(crate) end_to_end_id: Option<String>,
    /// The Pix we had sent.
    pub(crate) original_end_to_end_id: Option<String>,
    /// Amount.
    pub(crate) amount: Option<Money>,
    /// The refunding bank.
    pub(crate) payer: Option<WireAccount>,
    /// Us.
    pub(crate) beneficiary: Option<WireAccount>,
    /// When it was settled.
    #[serde(deserialize_with = "lenient_time")]
    pub(crate) finished_at: Option<DateTime<Utc>>,
}

/// `CHARGE_PAID` version 1 (no `eventType`) and `CHARGE_PAID_V2`, read with one struct (§6.5).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ChargePaidPayload {
    /// `CHARGE_PAID_V2`, or absent.
    pub(crate) event_type: Option<String>,
    /// Payment NSU (v1).
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) nsu: Option<String>,
    /// The charge.
    pub(crate) correlation_id: Option<String>,
    /// e2e for Pix, write-off id for bank slips (v1).
    pub(crate) reference_id: Option<String>,
    /// `SPI`, `PCR`.
    pub(crate) source: Option<String>,
    /// Amount.
    pub(crate) amount: Option<Money>,
    /// When (v1).
    #[serde(deserialize_with = "lenient_time")]
    pub(crate) created_at: Option<DateTime<Utc>>,
    /// When paid (v2, when present).
    #[serde(deserialize_with = "lenient_time")]
    pub(crate) payment_date: Option<DateTime<Utc>>,
    /// Due date (v2, naive).
    #[serde(deserialize_with = "lenient_time")]
    pub(crate) due_date: Option<DateTime<Utc>>,
    /// Nosso número (v2).
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) our_number: Option<String>,
    /// Nº do documento (v2).
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) your_number: Option<String>,
    /// Digitable line (v2).
    pub(crate) digitable_line: Option<String>,
    /// Payer.
    pub(crate) payer: Option<WirePerson>,
    /// Pix details (v1).
    pub(crate) proof: Option<ChargeProof>,
}

/// The `proof` of a charge paid by Pix.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ChargeProof {
    /// `E…`.
    pub(crate) end_to_end_id: Option<String>,
    /// Payer's account.
    pub(crate) payer: Option<WireAccount>,
    /// Our account.
    pub(crate) payee: Option<WireAccount>,
}

/// `WHITELABEL_CUSTOMER_APPROVED` / `_DOCUMENTATION_REJECTED` (§6.6).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WhitelabelPayload {
    /// Registered name.
    pub(crate) name: Option<String>,
    /// CPF/CNPJ.
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) document: Option<String>,
    /// The new account (a JSON number), `null` when rejected.
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) bank_account_number: Option<String>,
}

/// `TRANSFER_INTERNAL_CREDITED` / `_DEBITED` (§6.7).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct InternalTransferPayload {
    /// Transfer id (one example has a stray `C` before the UUID).
    pub(crate) id: Option<String>,
    /// Our reference.
    pub(crate) external_id: Option<String>,
    /// Status.
    pub(crate) status: Option<TransferStatus>,
    /// Amount.
    pub(crate) amount: Option<Money>,
    /// When.
    #[serde(deserialize_with = "lenient_time")]
    pub(crate) created_at: Option<DateTime<Utc>>,
    /// Debited account.
    pub(crate) payer: Option<WireAccount>,
    /// Credited account.
    pub(crate) beneficiary: Option<WireAccount>,
}

/// `ACCOUNT_STATUS_UPDATED` (§6.8).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct AccountStatusPayload {
    /// Account number.
    #[serde(deserialize_with = "number_or_string")]
    pub(crate) bank_account: Option<String>,
    /// `ACTIVE`, `BLOCKED`, ...
    pub(crate) status: Option<CustomerStatus>,
    /// The raw `updatedAt` text, part of the dedup key.
    pub(crate) updated_at: Option<String>,
}

/// `INFRACTION_NOTIFICATION_CREATED` (§6.9).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct InfractionPayload {
    /// UUID.
    pub(crate) id: Option<String>,
    /// The Pix concerned.
    pub(crate) end_to_end_id: Option<String>,
    /// `FRAUD`, `RETURN_REQUEST`, `RETURN_CANCELLATION`.
    pub(crate) reason: Option<String>,
    /// `SCAM_FRAUD`, ... (may be null).
    #[serde(rename = "type")]
    pub(crate) infraction_type: Option<String>,
    /// `PENDING`, ...
    pub(crate) status: Option<String>,
    /// Debited institution.
    pub(crate) debited_participant: Option<WireParticipant>,
    /// Credited institution.
    pub(crate) credited_participant: Option<WireParticipant>,
    /// Opened at.
    #[serde(deserialize_with = "lenient_time")]
    pub(crate) created_at: Option<DateTime<Utc>>,
}

// ---------------------------------------------------------------------------------------------
// Lenient field readers.

/// Reads an optional timestamp: RFC 3339 with any fractional precision, a naive date-time (UTC),
/// or a bare date (midnight UTC). `null` and unreadable text are `None`: a timestamp is never worth
/// losing a payment over.
pub(crate) fn lenient_time<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    Ok(text.as_deref().and_then(parse_lenient_time))
}

/// The parser behind [`lenient_time`].
pub(crate) fn parse_lenient_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(naive.and_utc());
    }
    if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f") {
        return Some(naive.and_utc());
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

/// Reads an optional identifier sent as a string or as a JSON number (`bankAccountNumber`, `nsu`,
/// webhook ids), as text.
pub(crate) fn number_or_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    deserializer.deserialize_any(NumberOrStringVisitor)
}

struct NumberOrStringVisitor;

impl<'de> Visitor<'de> for NumberOrStringVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, a number or null")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Option<String>, E> {
        Ok(Some(value.to_owned()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Option<String>, E> {
        Ok(Some(value.to_string()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Option<String>, E> {
        Ok(Some(value.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<String>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<String>, D::Error> {
        deserializer.deserialize_any(NumberOrStringVisitor)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
        match map.next_key::<String>()?.as_deref() {
            Some(JSON_NUMBER_TOKEN) => Ok(Some(map.next_value::<String>()?)),
            _ => Err(de::Error::invalid_type(de::Unexpected::Map, &self)),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use crate::wire::{
        ChargeStatus, CustomerStatus, WhitelabelPayload, WireAmount, WireTransfer,
        parse_lenient_time,
    };

    #[test]
    fn timestamps_with_and_without_offset_and_any_precision_are_read() {
        let expected = Utc.with_ymd_and_hms(2025, 3, 2, 12, 14, 6).unwrap();
        let seven_digits = parse_lenient_time("2025-03-02T12:14:06.0613001Z").unwrap();
        assert_eq!(seven_digits.timestamp(), expected.timestamp());
        assert_eq!(
            parse_lenient_time("2023-07-05T17:52:33Z").unwrap(),
            Utc.with_ymd_and_hms(2023, 7, 5, 17, 52, 33).unwrap()
        );
        assert_eq!(
            parse_lenient_time("2025-05-15T12:36:48").unwrap(),
            Utc.with_ymd_and_hms(2025, 5, 15, 12, 36, 48).unwrap()
        );
        assert_eq!(
            parse_lenient_time("2025-01-28T00:00:00-03:00").unwrap(),
            Utc.with_ymd_and_hms(2025, 1, 28, 3, 0, 0).unwrap()
        );
        assert_eq!(
            parse_lenient_time("2025-01-28").unwrap(),
            Utc.with_ymd_and_hms(2025, 1, 28, 0, 0, 0).unwrap()
        );
        assert_eq!(parse_lenient_time("yesterday"), None);
    }

    #[test]
    fn enum_values_match_ignoring_case_and_unknown_values_are_kept() {
        assert_eq!(ChargeStatus::from_wire("Pending"), ChargeStatus::Pending);
        assert_eq!(ChargeStatus::from_wire("PENDING"), ChargeStatus::Pending);
        assert_eq!(
            ChargeStatus::from_wire("PARTIALLY_PAID"),
            ChargeStatus::Unknown("PARTIALLY_PAID".to_owned())
        );
        let status: CustomerStatus = serde_json::from_str("\"UNDER_AUDIT\"").unwrap();
        assert_eq!(status.as_str(), "UNDER_AUDIT");
    }

    #[test]
    fn account_numbers_are_read_from_numbers_and_strings() {
        let approved: WhitelabelPayload = serde_json::from_str(
            r#"{"name":"X","document":"52998224725","bankAccountNumber":31712}"#,
        )
        .unwrap();
        assert_eq!(approved.bank_account_number.as_deref(), Some("31712"));
        let rejected: WhitelabelPayload = serde_json::from_str(
            r#"{"name":"X","document":"52998224725","bankAccountNumber":null}"#,
        )
        .unwrap();
        assert_eq!(rejected.bank_account_number, None);
    }

    #[test]
    fn amounts_with_five_decimals_are_exact_and_written_as_numbers() {
        let transfer: WireTransfer =
            serde_json::from_str(r#"{"amount": 2.50000, "transactionNsu": 12}"#).unwrap();
        assert_eq!(transfer.amount.unwrap().to_minor_units_string(), "2.50");
        let transfer: WireTransfer = serde_json::from_str(r#"{"amount": 0.12345}"#).unwrap();
        assert_eq!(transfer.amount.unwrap().to_minor_units_string(), "0.12345");
        let written = serde_json::to_string(&WireAmount(
            rust_decimal::Decimal::from_str_exact("12.10").unwrap(),
        ))
        .unwrap();
        assert_eq!(written, "12.1");
    }
}
