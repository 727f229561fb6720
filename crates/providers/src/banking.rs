//! The banking capability: charges, Pix transfers and refunds, Pix keys, white-label accounts and
//! balance, provider-neutral.
//!
//! Statuses are closed enums. A provider crate maps its own statuses with an exhaustive `match`
//! and returns [`ProviderError::InvalidResponse`] for a status it does not know: it never guesses.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::REDACTED;
use crate::document::Document;
use crate::error::ProviderError;
use crate::idempotency::IdempotencyKey;
use crate::money::Money;
use crate::pix::PixEndToEndId;

/// A banking-as-a-service provider (e.g. Delbank).
///
/// Rules for every method:
/// - a method that creates or moves something sends `key` to the provider as its idempotency key
///   (or as the correlation id where that is the provider's deduplication mechanism), and the
///   caller reuses the same key when it retries, so a retry never charges or pays twice;
/// - every call is bounded by the provider's configured timeout and fails with
///   [`ProviderError::Timeout`] past it. A timed-out payment may have happened: the caller must
///   retry with the same key or query, never resend under a new key;
/// - amounts are exact: converted to and from the provider's wire format without floats;
/// - failures map to [`ProviderError`]: 401/403 → `Unauthorized`, 404 → `NotFound`, 409 →
///   `Conflict`, other 4xx → `Rejected` (with field errors when given), 429 → `RateLimited`, 5xx or
///   connection failure → `Unavailable`, an unparseable body or an unknown status →
///   `InvalidResponse`. Never `Ok` with a guessed status.
///
/// Accounts: `account_id` arguments take an [`Account::id`] returned by
/// [`open_account`](BankingProvider::open_account), or the number of the gateway's own account.
#[async_trait]
pub trait BankingProvider: Send + Sync {
    /// Creates a charge (Pix QR code or bank slip). Idempotent under `key`. The amount must be a
    /// payment amount with at most two decimals; anything else is a [`ProviderError::Rejected`].
    async fn create_charge(
        &self,
        req: NewCharge,
        key: &IdempotencyKey,
    ) -> Result<Charge, ProviderError>;

    /// Fetches a charge; [`ProviderError::NotFound`] if there is none.
    async fn get_charge(&self, id: &str) -> Result<Charge, ProviderError>;

    /// One page of the charges, newest first as the provider orders them.
    async fn list_charges(&self, page: PageRequest) -> Result<Page<Charge>, ProviderError>;

    /// Cancels (writes off) an unpaid charge and returns it as it is now. Payments already made
    /// are not undone. [`ProviderError::NotFound`] if there is none.
    async fn cancel_charge(&self, id: &str) -> Result<Charge, ProviderError>;

    /// Sends a Pix. Idempotent under `key`: a retry returns the same transfer and never pays
    /// twice. `Ok` means accepted, usually [`PixTransferStatus::Processing`]; the outcome arrives
    /// later as a webhook or through [`get_pix_transfer`](BankingProvider::get_pix_transfer).
    async fn send_pix(
        &self,
        req: PixTransferRequest,
        key: &IdempotencyKey,
    ) -> Result<PixTransfer, ProviderError>;

    /// Fetches a Pix transfer we sent, by its id, its end-to-end id or the idempotency key it was
    /// sent with; [`ProviderError::NotFound`] if there is none.
    async fn get_pix_transfer(&self, id: &str) -> Result<PixTransfer, ProviderError>;

    /// One page of the Pix transfers we sent, newest first.
    async fn list_pix_transfers(
        &self,
        page: PageRequest,
    ) -> Result<Page<PixTransfer>, ProviderError>;

    /// Refunds (all or part of) a Pix we received. Idempotent under `key`. Refunding more than
    /// what remains is a [`ProviderError::Rejected`].
    async fn refund_pix(
        &self,
        req: PixRefundRequest,
        key: &IdempotencyKey,
    ) -> Result<PixRefund, ProviderError>;

    /// Registers a Pix key in the DICT for our account. Idempotent under `key`; a key already
    /// owned elsewhere is a [`ProviderError::Conflict`].
    async fn register_pix_key(
        &self,
        req: NewPixKey,
        key: &IdempotencyKey,
    ) -> Result<PixKey, ProviderError>;

    /// The Pix keys registered for our account.
    async fn list_pix_keys(&self) -> Result<Vec<PixKey>, ProviderError>;

    /// Removes one of our Pix keys from the DICT, by its id ([`PixKey::id`]). Idempotent under
    /// `key`; [`ProviderError::NotFound`] if we have no such key.
    async fn delete_pix_key(&self, id: &str, key: &IdempotencyKey) -> Result<(), ProviderError>;

    /// Opens a white-label account for a person or company. Idempotent under `key`; an account
    /// that already exists for the document is a [`ProviderError::Conflict`].
    async fn open_account(
        &self,
        req: NewAccount,
        key: &IdempotencyKey,
    ) -> Result<Account, ProviderError>;

    /// Fetches a white-label account; [`ProviderError::NotFound`] if there is none.
    async fn get_account(&self, id: &str) -> Result<Account, ProviderError>;

    /// Sends one onboarding document of a white-label account and returns the account as it is
    /// now (it moves to [`AccountStatus::UnderReview`] once the set is complete).
    async fn upload_account_document(
        &self,
        id: &str,
        document: AccountDocument,
    ) -> Result<Account, ProviderError>;

    /// The current balance of an account.
    async fn balance(&self, account_id: &str) -> Result<Balance, ProviderError>;

    /// One page of an account's statement (effective transactions), newest first.
    async fn statement(
        &self,
        account_id: &str,
        page: PageRequest,
    ) -> Result<Page<StatementEntry>, ProviderError>;
}

/// Which page of a list to fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// The `next_cursor` of the previous page; `None` for the first page. Opaque to callers.
    pub cursor: Option<String>,
    /// How many items at most.
    pub limit: u32,
}

/// One page of a list, with an opaque cursor to the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The cursor of the next page, `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A charge to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCharge {
    /// How the payer pays.
    pub kind: ChargeKind,
    /// The amount to collect.
    pub amount: Money,
    /// Who pays, required for bank slips.
    pub payer: Option<Party>,
    /// When it is due, for bank slips.
    pub due_date: Option<NaiveDate>,
    /// Text shown to the payer.
    pub description: Option<String>,
    /// The caller's id for the charge, echoed back in webhooks where the provider supports it.
    pub correlation_id: Option<String>,
}

/// How a charge is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeKind {
    /// A single-use Pix QR code with a fixed amount.
    PixDynamic,
    /// A reusable Pix QR code.
    PixStatic,
    /// A bank slip (boleto).
    Bankslip,
    /// A bank slip that also carries a Pix QR code.
    BankslipPix,
}

/// A charge at the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    /// The provider's id.
    pub id: String,
    /// How it is paid.
    pub kind: ChargeKind,
    /// Whether it was paid.
    pub status: ChargeStatus,
    /// The amount to collect.
    pub amount: Money,
    /// The Pix "copia e cola" payload, for Pix charges.
    pub pix_copy_paste: Option<String>,
    /// The bank slip's digitable line, for bank slips.
    pub digitable_line: Option<String>,
    /// When it is due (bank slips) or expires (Pix).
    pub due_date: Option<NaiveDate>,
    /// When the provider created it.
    pub created_at: DateTime<Utc>,
}

/// Status of a charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    /// Waiting for payment.
    Pending,
    /// Paid.
    Paid,
    /// Past its expiry without payment.
    Expired,
    /// Cancelled before payment.
    Cancelled,
}

/// A person or company on one side of a payment.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// CPF or CNPJ.
    pub document: Document,
    /// Name. PII: `Debug` hides it.
    pub name: String,
    /// The 8-digit ISPB of the party's institution.
    pub ispb: Option<String>,
    /// The branch number. `Debug` hides it.
    pub branch: Option<String>,
    /// The account number with its check digit. `Debug` hides it.
    pub account: Option<String>,
}

impl fmt::Debug for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Party")
            .field("document", &self.document)
            .field("name", &REDACTED)
            .field("ispb", &self.ispb)
            .field("branch", &self.branch.as_ref().map(|_| REDACTED))
            .field("account", &self.account.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// A Pix to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PixTransferRequest {
    /// The amount to send.
    pub amount: Money,
    /// Where to send it.
    pub destination: PixDestination,
    /// Text shown to the receiver.
    pub description: Option<String>,
}

/// Where a Pix goes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PixDestination {
    /// A DICT key (CPF, CNPJ, e-mail, phone or random key). PII: `Debug` hides it.
    Key(String),
    /// Bank account details.
    Account(Party),
}

impl fmt::Debug for PixDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PixDestination::Key(_) => f.debug_tuple("Key").field(&REDACTED).finish(),
            PixDestination::Account(party) => f.debug_tuple("Account").field(party).finish(),
        }
    }
}

/// A Pix we sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PixTransfer {
    /// The provider's id.
    pub id: String,
    /// The SPI end-to-end id, once assigned.
    pub end_to_end_id: Option<PixEndToEndId>,
    /// Where the transfer is.
    pub status: PixTransferStatus,
    /// The amount sent.
    pub amount: Money,
    /// Why it failed (an SPI reason code such as `AC06`), when it failed.
    pub failure_code: Option<String>,
    /// When the provider created it.
    pub created_at: DateTime<Utc>,
}

/// Status of an outgoing Pix or of a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PixTransferStatus {
    /// Accepted, not yet settled.
    Processing,
    /// Settled.
    Completed,
    /// Failed; the money did not leave.
    Failed,
}

/// A refund of a Pix we received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PixRefundRequest {
    /// The end-to-end id of the Pix being refunded.
    pub end_to_end_id: PixEndToEndId,
    /// How much to give back, at most what remains of the original.
    pub amount: Money,
    /// Why, shown to the payer.
    pub reason: Option<String>,
}

/// A refund at the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PixRefund {
    /// The provider's id.
    pub id: String,
    /// The refund's own end-to-end id (`D…`), once assigned.
    pub end_to_end_id: Option<PixEndToEndId>,
    /// Where the refund is.
    pub status: PixTransferStatus,
    /// The amount refunded.
    pub amount: Money,
}

/// A Pix key to register.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPixKey {
    /// The kind of key.
    pub kind: PixKeyKind,
    /// The key itself; `None` for [`PixKeyKind::Evp`], which the DICT generates. PII: `Debug`
    /// hides it.
    pub value: Option<String>,
}

impl fmt::Debug for NewPixKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewPixKey")
            .field("kind", &self.kind)
            .field("value", &self.value.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// Kinds of Pix key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PixKeyKind {
    /// A CPF.
    Cpf,
    /// A CNPJ.
    Cnpj,
    /// An e-mail address.
    Email,
    /// A phone number in E.164.
    Phone,
    /// A random key (EVP) generated by the DICT.
    Evp,
}

/// A registered Pix key; its `id` is what [`BankingProvider::delete_pix_key`] takes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PixKey {
    /// The provider's id.
    pub id: String,
    /// The kind of key.
    pub kind: PixKeyKind,
    /// The key. PII: `Debug` hides it.
    pub value: String,
}

impl fmt::Debug for PixKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PixKey")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("value", &REDACTED)
            .finish()
    }
}

/// A white-label account to open.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAccount {
    /// The holder's CPF or CNPJ.
    pub holder: Document,
    /// The holder's name. PII: `Debug` hides it.
    pub name: String,
    /// E-mail address. PII: `Debug` hides it.
    pub email: Option<String>,
    /// Phone number in E.164. PII: `Debug` hides it.
    pub phone: Option<String>,
}

impl fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAccount")
            .field("holder", &self.holder)
            .field("name", &REDACTED)
            .field("email", &self.email.as_ref().map(|_| REDACTED))
            .field("phone", &self.phone.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// A white-label account at the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The provider's id.
    pub id: String,
    /// The holder's document.
    pub holder: Document,
    /// Where the account is in onboarding.
    pub status: AccountStatus,
    /// The branch number, once the account is approved.
    pub branch: Option<String>,
    /// The account number, once the account is approved.
    pub number: Option<String>,
}

/// Status of a white-label account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Documents still to be sent.
    PendingDocumentation,
    /// Documents being analysed.
    UnderReview,
    /// Open and usable.
    Approved,
    /// Documents refused; new ones may be sent.
    DocumentationRejected,
    /// Blocked by the provider.
    Blocked,
    /// Closed.
    Closed,
}

/// One onboarding document of a white-label account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDocument {
    /// What the document is.
    pub kind: AccountDocumentKind,
    /// The file, base64-encoded. PII: `Debug` hides it.
    pub content_base64: String,
}

impl fmt::Debug for AccountDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountDocument")
            .field("kind", &self.kind)
            .field("content_base64", &REDACTED)
            .finish()
    }
}

/// Kinds of onboarding document. A person sends a selfie and one complete identity document (a
/// full scan, or its front and back); a company sends its articles of association.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountDocumentKind {
    /// A photo of the holder's face.
    Selfie,
    /// Both sides of an identity card (RG) in one file.
    IdCardFull,
    /// The front of an identity card.
    IdCardFront,
    /// The back of an identity card.
    IdCardBack,
    /// Both sides of a driving licence (CNH) in one file.
    DriverLicenseFull,
    /// The front of a driving licence.
    DriverLicenseFront,
    /// The back of a driving licence.
    DriverLicenseBack,
    /// A company's articles of association (contrato social).
    ArticlesOfAssociation,
}

/// The balance of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// What can be spent now.
    pub available: Money,
    /// What is held (judicial blocks, disputes, pending settlement).
    pub blocked: Money,
}

/// One effective transaction of an account's statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementEntry {
    /// The provider's id of the entry (its sequence number).
    pub id: String,
    /// Money in or out.
    pub direction: EntryDirection,
    /// The amount, always positive.
    pub amount: Money,
    /// The provider's name for the kind of transaction (e.g. `DEBIT_PIX`), kept as sent.
    pub kind: String,
    /// The provider's description.
    pub description: Option<String>,
    /// The Pix end-to-end id, for Pix transactions.
    pub end_to_end_id: Option<String>,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

/// Whether a statement entry credits or debits the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryDirection {
    /// Money in.
    Credit,
    /// Money out.
    Debit,
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use rust_decimal::Decimal;

    use crate::banking::{
        AccountStatus, ChargeKind, NewAccount, NewCharge, NewPixKey, Party, PixDestination, PixKey,
        PixKeyKind, PixRefundRequest, PixTransferRequest,
    };
    use crate::document::Document;
    use crate::money::Money;
    use crate::pix::PixEndToEndId;

    fn party() -> Party {
        Party {
            document: Document::parse("11.222.333/0001-81").unwrap(),
            name: "Padaria Pão Quente Ltda".to_owned(),
            ispb: Some("38224857".to_owned()),
            branch: Some("0001".to_owned()),
            account: Some("1234567-8".to_owned()),
        }
    }

    #[test]
    fn debug_output_hides_names_keys_and_account_numbers() {
        let transfer = PixTransferRequest {
            amount: Money::brl(Decimal::new(1050, 2)),
            destination: PixDestination::Key("maria@example.com".to_owned()),
            description: None,
        };
        let to_account = PixDestination::Account(party());
        let account = NewAccount {
            holder: Document::parse("529.982.247-25").unwrap(),
            name: "Maria da Silva".to_owned(),
            email: Some("maria@example.com".to_owned()),
            phone: None,
        };
        let new_key = NewPixKey {
            kind: PixKeyKind::Email,
            value: Some("maria@example.com".to_owned()),
        };
        let key = PixKey {
            id: "key_1".to_owned(),
            kind: PixKeyKind::Phone,
            value: "+5511987654321".to_owned(),
        };
        let outputs = [
            format!("{transfer:?}"),
            format!("{to_account:?}"),
            format!("{account:?}"),
            format!("{new_key:?}"),
            format!("{key:?}"),
        ];
        for debug in outputs {
            for secret in [
                "maria@",
                "Maria",
                "Padaria",
                "1234567",
                "11222333000181",
                "52998224725",
                "987654321",
            ] {
                assert!(!debug.contains(secret), "{debug}");
            }
        }
    }

    #[test]
    fn charge_request_round_trips() {
        let charge = NewCharge {
            kind: ChargeKind::BankslipPix,
            amount: Money::brl(Decimal::new(19990, 2)),
            payer: Some(party()),
            due_date: NaiveDate::from_ymd_opt(2026, 2, 10),
            description: Some("pedido 42".to_owned()),
            correlation_id: Some("order-42".to_owned()),
        };
        let json = serde_json::to_value(&charge).unwrap();
        assert_eq!(json["kind"], "bankslip_pix");
        assert_eq!(json["amount"]["amount"], "199.90");
        assert_eq!(json["payer"]["document"], "11222333000181");
        let back: NewCharge = serde_json::from_value(json).unwrap();
        assert_eq!(back, charge);
    }

    #[test]
    fn pix_destination_is_externally_tagged() {
        let json = serde_json::to_value(PixDestination::Key("+5511987654321".to_owned())).unwrap();
        assert_eq!(json, serde_json::json!({"key": "+5511987654321"}));
    }

    #[test]
    fn refund_request_validates_the_end_to_end_id() {
        let request: PixRefundRequest = serde_json::from_str(
            r#"{"end_to_end_id": "E38224857202601151230abcDEF12345", "amount": "10.00", "reason": null}"#,
        )
        .unwrap();
        assert_eq!(
            request.end_to_end_id,
            PixEndToEndId::parse("E38224857202601151230abcDEF12345").unwrap()
        );
        let invalid = serde_json::from_str::<PixRefundRequest>(
            r#"{"end_to_end_id": "E123", "amount": "10.00", "reason": null}"#,
        );
        assert!(invalid.is_err());
    }

    #[test]
    fn account_status_serializes_snake_case() {
        let json = serde_json::to_string(&AccountStatus::DocumentationRejected).unwrap();
        assert_eq!(json, "\"documentation_rejected\"");
    }
}
