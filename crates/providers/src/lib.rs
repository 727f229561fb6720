//! The provider contract of paygate: the capability traits every provider crate implements, the
//! provider-neutral domain types used in their signatures, the normalized event model and
//! [`ProviderError`].
//!
//! This crate is the API boundary between the gateway and its providers. It knows nothing about
//! axum, sqlx, figment or any provider's wire format: provider crates convert their DTOs into these
//! types, and the gateway converts these types into its own HTTP and storage representations.
//!
//! Domain types parse, they don't validate: a [`Money`], a [`Document`] or a [`PixEndToEndId`]
//! that exists is valid. There are no floats: amounts are exact [`rust_decimal::Decimal`]s, read
//! from JSON without passing through `f64`. PII ([`Document`], names, Pix keys) is masked in
//! `Debug` and `Display` and comes out only through explicit calls.
//!
//! # Layout
//!
//! - [`money`]: [`Money`] and [`Currency`], exact amounts and their JSON forms.
//! - [`document`]: [`Document`], a validated and masked CPF or CNPJ (including alphanumeric CNPJs).
//! - [`pix`]: [`PixEndToEndId`], the Banco Central's id of a Pix payment or refund.
//! - [`id`]: typed, prefixed UUID v7 ids ([`EventId`] `evt_…`, [`DeliveryId`] `dlv_…`...) and the
//!   [`typed_id!`] macro that defines them.
//! - [`idempotency`]: [`IdempotencyKey`], sent with every create.
//! - [`encoding`]: [`percent_encode_path_segment`], for ids in provider URLs.
//! - [`event`]: the normalized event model: [`NormalizedEvent`], the [`EventType`] taxonomy,
//!   subscription [`EventPattern`]s, [`ProviderName`].
//! - [`event_data`]: [`EventData`], the typed `data` of a normalized event, one variant per shape,
//!   the JSON stored and sent for it, and the partner-facing catalogue of event types (schemas
//!   and examples).
//! - [`error`]: [`ProviderError`], with stable codes and retryability.
//! - [`credit`]: the [`CreditProvider`] capability (customers, offers, simulations, loans).
//! - [`banking`]: the [`BankingProvider`] capability (charges, Pix, keys, accounts, balance).
//! - [`webhook`]: the [`WebhookSource`] and [`WebhookRegistration`] contracts for inbound webhooks,
//!   the [`CredentialStore`] they read rotated credentials from, and verification building blocks.
//! - [`confirm`]: [`WebhookAuthentication`] and the [`EventConfirmer`] that reads a money-moving
//!   event's resource back when webhooks are only hints.
//! - [`registry`]: [`Provider`], a provider crate's description and registration, and the
//!   [`ProviderRegistrar`] it registers its capabilities with.

pub mod banking;
pub mod confirm;
pub mod credit;
pub mod document;
pub mod encoding;
pub mod error;
pub mod event;
pub mod event_data;
pub mod id;
pub mod idempotency;
pub mod money;
pub mod pix;
pub mod registry;
pub mod retry;
pub mod webhook;

pub use banking::{
    Account, AccountDocument, AccountDocumentKind, AccountStatus, Balance, BankingProvider, Charge,
    ChargeKind, ChargeStatus, EntryDirection, NewAccount, NewCharge, NewPixKey, Page, PageRequest,
    Party, PixDestination, PixKey, PixKeyKind, PixRefund, PixRefundRequest, PixTransfer,
    PixTransferRequest, PixTransferStatus, StatementEntry,
};
pub use confirm::{Confirmation, EventConfirmer, WebhookAuthentication};
pub use credit::{
    CreditOffer, CreditOfferStatus, CreditProvider, Customer, CustomerQuery, CustomerStatus,
    Installment, KycDocument, KycDocumentUpload, Loan, LoanStatus, NewCustomer, NewLoan,
    Simulation, SimulationRequest,
};
pub use document::{Document, DocumentError, DocumentKind, mask_document_like};
pub use encoding::percent_encode_path_segment;
pub use error::{FieldError, ProviderError};
pub use event::{
    DedupKey, EventPattern, EventType, InvalidDedupKey, InvalidEventPattern, InvalidProviderName,
    NormalizedEvent, ProviderName, ResourceKind, ResourceRef, UnknownEventType,
    UnknownResourceKind,
};
pub use event_data::{
    AccountData, AccountHolder, AccountKind, AccountState, AccountStatusUpdatedData,
    AccountTransferData, ChargeData, ChargePayer, CreditOfferData, CustomerData, EventData,
    EventParty, EventTypeDoc, KycRequirement, LoanData, LoanPayment, PartyDocument, PixFailure,
    PixInfractionData, PixOperation, PixReceivedData, PixRefundData, PixTransferData,
    ReconciliationData, ReconciliationStatus, Reported, SettlementStatus, SubscriptionDisabledData,
    UNRECOGNIZED_FAMILY, Unmapped, UnrecognizedData, data_schemas, event_catalogue,
};
pub use id::{
    ApiKeyId, AttemptId, DeliveryId, EventId, IdError, QuarantineId, ReconciliationItemId,
    ReplayId, SubscriptionId,
};
pub use idempotency::{IdempotencyKey, InvalidIdempotencyKey};
pub use money::{Currency, Money, MoneyError};
pub use pix::{EndToEndIdError, EndToEndKind, PixEndToEndId};
pub use registry::{
    Capability, Provider, ProviderDescription, ProviderRegistrar, RegistrationError,
};
pub use retry::retry_after;
pub use webhook::{
    ConfiguredCredentialsOnly, CredentialStore, CredentialStoreError, InboundCredential,
    InboundRequest, NormalizeError, RegisteredWebhook, VerifyError, WebhookCredential,
    WebhookRegistration, WebhookSource,
};

/// Re-exports used by [`typed_id!`], so crates invoking it need no direct dependency on them.
#[doc(hidden)]
pub mod __private {
    pub use serde;
    pub use utoipa;
    pub use uuid;
}

/// Prints `[REDACTED]` in `Debug` output, in place of PII.
#[derive(Clone, Copy)]
pub(crate) struct Redacted;

/// The value printed in place of PII.
pub(crate) const REDACTED: Redacted = Redacted;

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}
