//! The normalized event model: what every [`WebhookSource`](crate::WebhookSource) turns a
//! provider's webhook into, whatever the provider.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::EventData;

/// The name of a provider as used in URLs, config keys and event types: `dinie`, `delbank`.
///
/// Matches `^[a-z][a-z0-9-]{0,31}$` and is not one of the roots of the event taxonomy
/// (`customer`, `loan`, `pix`...), so `<provider>.unrecognized` can never collide with a known type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderName(Cow<'static, str>);

/// Why a string is not a valid provider name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidProviderName {
    /// The name does not match `^[a-z][a-z0-9-]{0,31}$`.
    #[error(
        "provider name must be a lowercase letter followed by up to 31 lowercase letters, digits or hyphens"
    )]
    Syntax,
    /// The name is a root of the event taxonomy.
    #[error("provider name is reserved by the event taxonomy")]
    Reserved,
}

/// Roots of the event taxonomy, which cannot be provider names.
const RESERVED_PROVIDER_NAMES: [&str; 8] = [
    "customer",
    "credit_offer",
    "loan",
    "charge",
    "pix",
    "account",
    "subscription",
    "reconciliation",
];

impl ProviderName {
    /// Validates a provider name.
    pub fn parse(input: &str) -> Result<ProviderName, InvalidProviderName> {
        let bytes = input.as_bytes();
        let starts_with_letter = bytes.first().is_some_and(u8::is_ascii_lowercase);
        let rest_valid = bytes
            .iter()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || *byte == b'-');
        if !starts_with_letter || !rest_valid || bytes.len() > 32 {
            return Err(InvalidProviderName::Syntax);
        }
        if RESERVED_PROVIDER_NAMES.contains(&input) {
            return Err(InvalidProviderName::Reserved);
        }
        Ok(ProviderName(Cow::Owned(input.to_owned())))
    }

    /// A provider name from a literal, for a provider crate's own name (`from_static("dinie")`).
    ///
    /// Not validated (a `const fn` cannot report errors without panicking): pass only a literal
    /// that [`ProviderName::parse`] would accept. A unit test in the provider crate should check
    /// `ProviderName::parse(NAME.as_str())`.
    pub const fn from_static(name: &'static str) -> ProviderName {
        ProviderName(Cow::Borrowed(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ProviderName {
    type Err = InvalidProviderName;

    fn from_str(input: &str) -> Result<ProviderName, InvalidProviderName> {
        ProviderName::parse(input)
    }
}

impl Serialize for ProviderName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ProviderName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ProviderName, D::Error> {
        deserializer.deserialize_str(ParseVisitor::new("a provider name", ProviderName::parse))
    }
}

/// The gateway's event taxonomy. Every verified inbound event gets exactly one type.
///
/// The text form (`loan.active`) is what subscriptions match, what partners receive and what is
/// stored. An event no rule recognizes is [`EventType::Unrecognized`], written
/// `<provider>.unrecognized`: it is stored, never dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventType {
    /// `customer.created`
    CustomerCreated,
    /// `customer.under_review`
    CustomerUnderReview,
    /// `customer.kyc_updated`
    CustomerKycUpdated,
    /// `customer.active`
    CustomerActive,
    /// `customer.denied`
    CustomerDenied,
    /// `credit_offer.available`
    CreditOfferAvailable,
    /// `credit_offer.expired`
    CreditOfferExpired,
    /// `loan.created`
    LoanCreated,
    /// `loan.contract_generated`
    LoanContractGenerated,
    /// `loan.awaiting_signatures`
    LoanAwaitingSignatures,
    /// `loan.signed`
    LoanSigned,
    /// `loan.disbursing`
    LoanDisbursing,
    /// `loan.active`
    LoanActive,
    /// `loan.payment_received`
    LoanPaymentReceived,
    /// `loan.finished`
    LoanFinished,
    /// `loan.cancelled`
    LoanCancelled,
    /// `loan.error`
    LoanError,
    /// `charge.paid`
    ChargePaid,
    /// `pix.received`
    PixReceived,
    /// `pix.transfer.completed`
    PixTransferCompleted,
    /// `pix.transfer.failed`
    PixTransferFailed,
    /// `pix.refund.received`
    PixRefundReceived,
    /// `account.approved`
    AccountApproved,
    /// `account.documentation_rejected`
    AccountDocumentationRejected,
    /// `account.status_updated`: an open account was blocked, unblocked or closed.
    AccountStatusUpdated,
    /// `account.transfer.credited`: a transfer between two accounts of the same bank was credited.
    AccountTransferCredited,
    /// `account.transfer.debited`: a transfer between two accounts of the same bank was debited.
    AccountTransferDebited,
    /// `pix.infraction.created`: a Pix infraction notification (MED) was opened.
    PixInfractionCreated,
    /// `subscription.disabled`: an operational event of the gateway itself: a partner subscription
    /// was disabled (its endpoint answered 410 Gone or kept failing).
    SubscriptionDisabled,
    /// `reconciliation.matched`: an expected receipt was matched with a Pix receipt.
    ReconciliationMatched,
    /// `reconciliation.amount_mismatch`: a receipt for the borrower came with another amount.
    ReconciliationAmountMismatch,
    /// `reconciliation.overdue`: an expected receipt was not seen by its deadline.
    ReconciliationOverdue,
    /// `reconciliation.needs_review`: two equally good candidates; a person must choose.
    ReconciliationNeedsReview,
    /// `reconciliation.unexpected_receipt`: money from a credit provider with no disbursement.
    ReconciliationUnexpectedReceipt,
    /// `reconciliation.resolved`: finance confirmed, re-matched or wrote off an item.
    ReconciliationResolved,
    /// `<provider>.unrecognized`: a verified event of a type no normalization rule knows.
    Unrecognized(ProviderName),
}

/// Every known type, in taxonomy order.
const ALL_KNOWN: [EventType; 35] = [
    EventType::CustomerCreated,
    EventType::CustomerUnderReview,
    EventType::CustomerKycUpdated,
    EventType::CustomerActive,
    EventType::CustomerDenied,
    EventType::CreditOfferAvailable,
    EventType::CreditOfferExpired,
    EventType::LoanCreated,
    EventType::LoanContractGenerated,
    EventType::LoanAwaitingSignatures,
    EventType::LoanSigned,
    EventType::LoanDisbursing,
    EventType::LoanActive,
    EventType::LoanPaymentReceived,
    EventType::LoanFinished,
    EventType::LoanCancelled,
    EventType::LoanError,
    EventType::ChargePaid,
    EventType::PixReceived,
    EventType::PixTransferCompleted,
    EventType::PixTransferFailed,
    EventType::PixRefundReceived,
    EventType::AccountApproved,
    EventType::AccountDocumentationRejected,
    EventType::AccountStatusUpdated,
    EventType::AccountTransferCredited,
    EventType::AccountTransferDebited,
    EventType::PixInfractionCreated,
    EventType::SubscriptionDisabled,
    EventType::ReconciliationMatched,
    EventType::ReconciliationAmountMismatch,
    EventType::ReconciliationOverdue,
    EventType::ReconciliationNeedsReview,
    EventType::ReconciliationUnexpectedReceipt,
    EventType::ReconciliationResolved,
];

const UNRECOGNIZED_SUFFIX: &str = ".unrecognized";

/// A string that is neither a known event type nor `<provider>.unrecognized`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type")]
pub struct UnknownEventType;

impl EventType {
    /// The text form: `loan.active`, or `dinie.unrecognized`.
    pub fn as_str(&self) -> Cow<'static, str> {
        match self.text() {
            Ok(text) => Cow::Borrowed(text),
            Err(provider) => Cow::Owned(format!("{provider}{UNRECOGNIZED_SUFFIX}")),
        }
    }

    /// Every known type (all but [`EventType::Unrecognized`]), in taxonomy order.
    pub fn all_known() -> &'static [EventType] {
        static ALL: [EventType; 35] = ALL_KNOWN;
        &ALL
    }

    /// The kinds of resource events of this type are about, the usual one first: a Pix transfer's
    /// outcome is about the Pix, or about the refund when the transfer was a refund; an
    /// unrecognized event may be about anything. The golden check of every provider crate
    /// (`providers-testkit`) holds each normalizer to it.
    pub fn resource_kinds(&self) -> &'static [ResourceKind] {
        use EventType as T;
        use ResourceKind as K;
        match self {
            T::CustomerCreated
            | T::CustomerUnderReview
            | T::CustomerKycUpdated
            | T::CustomerActive
            | T::CustomerDenied => &[K::Customer],
            T::CreditOfferAvailable | T::CreditOfferExpired => &[K::CreditOffer],
            T::LoanCreated
            | T::LoanContractGenerated
            | T::LoanAwaitingSignatures
            | T::LoanSigned
            | T::LoanDisbursing
            | T::LoanActive
            | T::LoanPaymentReceived
            | T::LoanFinished
            | T::LoanCancelled
            | T::LoanError => &[K::Loan],
            T::ChargePaid => &[K::Charge],
            T::PixReceived => &[K::Pix],
            T::PixTransferCompleted | T::PixTransferFailed => &[K::Pix, K::PixRefund],
            T::PixRefundReceived => &[K::PixRefund],
            T::AccountApproved | T::AccountDocumentationRejected | T::AccountStatusUpdated => {
                &[K::Account]
            }
            T::AccountTransferCredited | T::AccountTransferDebited => &[K::Transfer],
            T::PixInfractionCreated => &[K::Infraction],
            T::SubscriptionDisabled => &[K::Subscription],
            T::ReconciliationMatched
            | T::ReconciliationAmountMismatch
            | T::ReconciliationOverdue
            | T::ReconciliationNeedsReview
            | T::ReconciliationUnexpectedReceipt
            | T::ReconciliationResolved => &[K::ReconciliationItem],
            T::Unrecognized(_) => &ALL_RESOURCE_KINDS,
        }
    }

    /// Whether this is `<provider>.unrecognized`.
    pub fn is_unrecognized(&self) -> bool {
        matches!(self, EventType::Unrecognized(_))
    }

    /// The text of a known type, or the provider of an unrecognized one.
    fn text(&self) -> Result<&'static str, &ProviderName> {
        let text = match self {
            EventType::CustomerCreated => "customer.created",
            EventType::CustomerUnderReview => "customer.under_review",
            EventType::CustomerKycUpdated => "customer.kyc_updated",
            EventType::CustomerActive => "customer.active",
            EventType::CustomerDenied => "customer.denied",
            EventType::CreditOfferAvailable => "credit_offer.available",
            EventType::CreditOfferExpired => "credit_offer.expired",
            EventType::LoanCreated => "loan.created",
            EventType::LoanContractGenerated => "loan.contract_generated",
            EventType::LoanAwaitingSignatures => "loan.awaiting_signatures",
            EventType::LoanSigned => "loan.signed",
            EventType::LoanDisbursing => "loan.disbursing",
            EventType::LoanActive => "loan.active",
            EventType::LoanPaymentReceived => "loan.payment_received",
            EventType::LoanFinished => "loan.finished",
            EventType::LoanCancelled => "loan.cancelled",
            EventType::LoanError => "loan.error",
            EventType::ChargePaid => "charge.paid",
            EventType::PixReceived => "pix.received",
            EventType::PixTransferCompleted => "pix.transfer.completed",
            EventType::PixTransferFailed => "pix.transfer.failed",
            EventType::PixRefundReceived => "pix.refund.received",
            EventType::AccountApproved => "account.approved",
            EventType::AccountDocumentationRejected => "account.documentation_rejected",
            EventType::AccountStatusUpdated => "account.status_updated",
            EventType::AccountTransferCredited => "account.transfer.credited",
            EventType::AccountTransferDebited => "account.transfer.debited",
            EventType::PixInfractionCreated => "pix.infraction.created",
            EventType::SubscriptionDisabled => "subscription.disabled",
            EventType::ReconciliationMatched => "reconciliation.matched",
            EventType::ReconciliationAmountMismatch => "reconciliation.amount_mismatch",
            EventType::ReconciliationOverdue => "reconciliation.overdue",
            EventType::ReconciliationNeedsReview => "reconciliation.needs_review",
            EventType::ReconciliationUnexpectedReceipt => "reconciliation.unexpected_receipt",
            EventType::ReconciliationResolved => "reconciliation.resolved",
            EventType::Unrecognized(provider) => return Err(provider),
        };
        Ok(text)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.text() {
            Ok(text) => f.write_str(text),
            Err(provider) => write!(f, "{provider}{UNRECOGNIZED_SUFFIX}"),
        }
    }
}

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(input: &str) -> Result<EventType, UnknownEventType> {
        let known = ALL_KNOWN
            .iter()
            .find(|event_type| event_type.text() == Ok(input));
        if let Some(event_type) = known {
            return Ok(event_type.clone());
        }
        let Some(provider) = input.strip_suffix(UNRECOGNIZED_SUFFIX) else {
            return Err(UnknownEventType);
        };
        match ProviderName::parse(provider) {
            Ok(provider) => Ok(EventType::Unrecognized(provider)),
            Err(_) => Err(UnknownEventType),
        }
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<EventType, D::Error> {
        deserializer.deserialize_str(ParseVisitor::new("an event type", EventType::from_str))
    }
}

/// A subscription's filter on event types: `*` (everything), `loan.*` (a subtree) or
/// `pix.received` (one type).
///
/// Segments are `[a-z0-9_-]+` separated by `.`; `*` may only be the whole last segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventPattern(String);

/// Why a string is not a valid event pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid event pattern: {reason}")]
pub struct InvalidEventPattern {
    reason: &'static str,
}

impl InvalidEventPattern {
    /// What is wrong, e.g. `"'*' may only be the whole last segment"`.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

/// The longest pattern accepted, in bytes.
const MAX_PATTERN_LENGTH: usize = 128;

impl EventPattern {
    /// Validates a pattern.
    /// The patterns [`EventPattern::parse`] accepts, as a regular expression (for the OpenAPI
    /// schema), together with [`EventPattern::MAX_LENGTH`].
    pub const PATTERN: &str = "^(\\*|[a-z0-9_-]+(\\.[a-z0-9_-]+)*(\\.\\*)?)$";
    /// The longest pattern, in bytes.
    pub const MAX_LENGTH: usize = MAX_PATTERN_LENGTH;

    pub fn parse(input: &str) -> Result<EventPattern, InvalidEventPattern> {
        let error = |reason| Err(InvalidEventPattern { reason });
        if input.is_empty() {
            return error("pattern is empty");
        }
        if input.len() > MAX_PATTERN_LENGTH {
            return error("pattern is longer than 128 characters");
        }
        if input == "*" {
            return Ok(EventPattern(input.to_owned()));
        }
        let segments: Vec<&str> = input.split('.').collect();
        let last = segments.len() - 1;
        for (index, segment) in segments.iter().enumerate() {
            if *segment == "*" && index == last {
                continue;
            }
            if segment.is_empty() {
                return error("segments must not be empty");
            }
            if segment.contains('*') {
                return error("'*' may only be the whole last segment");
            }
            let valid = segment.bytes().all(|byte| {
                byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-'
            });
            if !valid {
                return error("segments may only contain a-z, 0-9, '_' and '-'");
            }
        }
        Ok(EventPattern(input.to_owned()))
    }

    /// Whether an event type (text form) matches: `loan.*` matches `loan.active` and `loan.x.y`,
    /// not `loans.active` nor `loan`; `*` matches everything; other patterns match exactly.
    pub fn matches(&self, event_type: &str) -> bool {
        if self.0 == "*" {
            return true;
        }
        match self.0.strip_suffix('*') {
            Some(prefix) => event_type.len() > prefix.len() && event_type.starts_with(prefix),
            None => self.0 == event_type,
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The equivalent SQL `LIKE` pattern, with `\` as the escape character (PostgreSQL's
    /// default): `*` → `%`, `loan.*` → `loan.%`, `credit_offer.expired` → `credit\_offer.expired`.
    pub fn to_sql_like(&self) -> String {
        let (literal, wildcard) = match self.0.strip_suffix('*') {
            Some(prefix) => (prefix, "%"),
            None => (self.0.as_str(), ""),
        };
        let mut like = String::with_capacity(literal.len() + 4);
        for character in literal.chars() {
            if matches!(character, '\\' | '%' | '_') {
                like.push('\\');
            }
            like.push(character);
        }
        like.push_str(wildcard);
        like
    }
}

impl fmt::Display for EventPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for EventPattern {
    type Err = InvalidEventPattern;

    fn from_str(input: &str) -> Result<EventPattern, InvalidEventPattern> {
        EventPattern::parse(input)
    }
}

impl Serialize for EventPattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EventPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<EventPattern, D::Error> {
        deserializer.deserialize_str(ParseVisitor::new("an event pattern", EventPattern::parse))
    }
}

/// What kind of provider resource an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// A credit customer (borrower).
    Customer,
    /// A credit offer made to a customer.
    CreditOffer,
    /// A loan.
    Loan,
    /// A charge (Pix QR code or bank slip).
    Charge,
    /// A Pix payment, identified by its end-to-end id.
    Pix,
    /// A Pix refund.
    PixRefund,
    /// A transfer sent by us.
    Transfer,
    /// A banking account (white-label customer).
    Account,
    /// A Pix key registered in the DICT.
    PixKey,
    /// A Pix infraction notification (MED).
    Infraction,
    /// A partner subscription of the gateway (operational events).
    Subscription,
    /// A reconciliation item of the gateway (operational events).
    ReconciliationItem,
    /// Anything else; the provider's own type is in the event's data.
    Other,
}

/// A string that is not a resource kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown resource kind")]
pub struct UnknownResourceKind;

const ALL_RESOURCE_KINDS: [ResourceKind; 13] = [
    ResourceKind::Customer,
    ResourceKind::CreditOffer,
    ResourceKind::Loan,
    ResourceKind::Charge,
    ResourceKind::Pix,
    ResourceKind::PixRefund,
    ResourceKind::Transfer,
    ResourceKind::Account,
    ResourceKind::PixKey,
    ResourceKind::Infraction,
    ResourceKind::Subscription,
    ResourceKind::ReconciliationItem,
    ResourceKind::Other,
];

impl ResourceKind {
    /// The `snake_case` text form, identical to serde's.
    pub fn as_str(&self) -> &'static str {
        match self {
            ResourceKind::Customer => "customer",
            ResourceKind::CreditOffer => "credit_offer",
            ResourceKind::Loan => "loan",
            ResourceKind::Charge => "charge",
            ResourceKind::Pix => "pix",
            ResourceKind::PixRefund => "pix_refund",
            ResourceKind::Transfer => "transfer",
            ResourceKind::Account => "account",
            ResourceKind::PixKey => "pix_key",
            ResourceKind::Infraction => "infraction",
            ResourceKind::Subscription => "subscription",
            ResourceKind::ReconciliationItem => "reconciliation_item",
            ResourceKind::Other => "other",
        }
    }

    /// Every kind.
    pub fn all() -> &'static [ResourceKind] {
        &ALL_RESOURCE_KINDS
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ResourceKind {
    type Err = UnknownResourceKind;

    fn from_str(input: &str) -> Result<ResourceKind, UnknownResourceKind> {
        ALL_RESOURCE_KINDS
            .into_iter()
            .find(|kind| kind.as_str() == input)
            .ok_or(UnknownResourceKind)
    }
}

/// The provider resource an event is about: `{loan, ln_123}`, `{pix, E3822…}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResourceRef {
    /// The kind of resource.
    pub kind: ResourceKind,
    /// The provider's id of the resource (not PII: never a document or a Pix key).
    pub id: String,
    /// The id the gateway (or its caller) gave the resource at creation, when the provider echoes
    /// it back, e.g. a charge's `correlationId`.
    pub correlation_id: Option<String>,
}

/// The key that makes an inbound event unique per provider: a redelivery of the same event has
/// the same key, and the gateway stores it once. Non-empty, at most 512 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupKey(String);

/// Why a string is not a valid dedup key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDedupKey {
    /// The key is empty.
    #[error("dedup key must not be empty")]
    Empty,
    /// The key is longer than 512 characters.
    #[error("dedup key must be at most 512 characters")]
    TooLong,
}

/// The longest dedup key accepted, in characters.
const MAX_DEDUP_KEY_LENGTH: usize = 512;

impl DedupKey {
    /// Validates a dedup key.
    pub fn parse(input: &str) -> Result<DedupKey, InvalidDedupKey> {
        if input.is_empty() {
            return Err(InvalidDedupKey::Empty);
        }
        if input.chars().count() > MAX_DEDUP_KEY_LENGTH {
            return Err(InvalidDedupKey::TooLong);
        }
        Ok(DedupKey(input.to_owned()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DedupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for DedupKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DedupKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<DedupKey, D::Error> {
        deserializer.deserialize_str(ParseVisitor::new("a dedup key", DedupKey::parse))
    }
}

/// What a [`WebhookSource`](crate::WebhookSource) produces from one verified inbound request.
///
/// The gateway adds the rest when it stores the event: the [`EventId`](crate::EventId), the
/// provider, `received_at`, and the raw bytes exactly as received (never re-serialized).
///
/// `Debug` leaves `data` out: it may hold documents and names.
///
/// Deserializes with [`EventData::from_stored`], the shape of `data` following from `type`.
#[derive(Clone, PartialEq, Serialize)]
pub struct NormalizedEvent {
    /// The gateway's type for the event.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The provider's own name for the event (`PIX_RECEIVED`, `loan.active`), kept for audit.
    pub provider_event_type: String,
    /// What makes this event unique for its provider (e.g. Dinie's `webhook-id`).
    pub dedup_key: DedupKey,
    /// The resource the event is about.
    pub resource: ResourceRef,
    /// When the provider says the event happened; `None` when the payload carries no time of its
    /// own (Delbank's white-label account events): the gateway then stores the time it received
    /// the event, and says so (`occurred_at_source: "received"`).
    pub occurred_at: Option<DateTime<Utc>>,
    /// Provider-neutral fields: amounts as [`Money`](crate::Money), documents as
    /// [`Document`](crate::Document)s, parties, statuses, in the shape of the event's type.
    pub data: EventData,
}

impl<'de> Deserialize<'de> for NormalizedEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<NormalizedEvent, D::Error> {
        /// The serialized form, `data` still JSON until `type` is known.
        #[derive(Deserialize)]
        struct Stored {
            #[serde(rename = "type")]
            event_type: EventType,
            provider_event_type: String,
            dedup_key: DedupKey,
            resource: ResourceRef,
            #[serde(default)]
            occurred_at: Option<DateTime<Utc>>,
            data: serde_json::Value,
        }
        let stored = Stored::deserialize(deserializer)?;
        let data = EventData::from_stored(&stored.event_type, stored.data)
            .map_err(|error| de::Error::custom(format!("data: {error}")))?;
        Ok(NormalizedEvent {
            event_type: stored.event_type,
            provider_event_type: stored.provider_event_type,
            dedup_key: stored.dedup_key,
            resource: stored.resource,
            occurred_at: stored.occurred_at,
            data,
        })
    }
}

impl fmt::Debug for NormalizedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NormalizedEvent")
            .field("event_type", &self.event_type.as_str())
            .field("provider_event_type", &self.provider_event_type)
            .field("dedup_key", &self.dedup_key.as_str())
            .field("resource", &self.resource)
            .field("occurred_at", &self.occurred_at)
            .field("data", &format_args!("[REDACTED]"))
            .finish()
    }
}

/// A string visitor that delegates to a parse function.
struct ParseVisitor<T, E> {
    expecting: &'static str,
    parse: fn(&str) -> Result<T, E>,
}

impl<T, E> ParseVisitor<T, E> {
    fn new(expecting: &'static str, parse: fn(&str) -> Result<T, E>) -> ParseVisitor<T, E> {
        ParseVisitor { expecting, parse }
    }
}

impl<T, E: fmt::Display> Visitor<'_> for ParseVisitor<T, E> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<Error: de::Error>(self, value: &str) -> Result<T, Error> {
        (self.parse)(value).map_err(Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    use crate::event::{
        DedupKey, EventPattern, EventType, InvalidDedupKey, InvalidProviderName, NormalizedEvent,
        ProviderName, ResourceKind, ResourceRef, UnknownEventType,
    };
    use crate::{Currency, EventData, LoanData, Money};

    const TAXONOMY: [&str; 35] = [
        "customer.created",
        "customer.under_review",
        "customer.kyc_updated",
        "customer.active",
        "customer.denied",
        "credit_offer.available",
        "credit_offer.expired",
        "loan.created",
        "loan.contract_generated",
        "loan.awaiting_signatures",
        "loan.signed",
        "loan.disbursing",
        "loan.active",
        "loan.payment_received",
        "loan.finished",
        "loan.cancelled",
        "loan.error",
        "charge.paid",
        "pix.received",
        "pix.transfer.completed",
        "pix.transfer.failed",
        "pix.refund.received",
        "account.approved",
        "account.documentation_rejected",
        "account.status_updated",
        "account.transfer.credited",
        "account.transfer.debited",
        "pix.infraction.created",
        "subscription.disabled",
        "reconciliation.matched",
        "reconciliation.amount_mismatch",
        "reconciliation.overdue",
        "reconciliation.needs_review",
        "reconciliation.unexpected_receipt",
        "reconciliation.resolved",
    ];

    fn pattern(text: &str) -> EventPattern {
        EventPattern::parse(text).unwrap()
    }

    #[test]
    fn provider_names_follow_the_syntax() {
        for name in ["dinie", "delbank", "a", "acme-bank2", &"a".repeat(32)] {
            assert_eq!(ProviderName::parse(name).unwrap().as_str(), name);
        }
        for name in [
            "",
            "Dinie",
            "1bank",
            "-bank",
            "bank_x",
            "bank.x",
            &"a".repeat(33),
        ] {
            assert_eq!(
                ProviderName::parse(name),
                Err(InvalidProviderName::Syntax),
                "{name}"
            );
        }
    }

    #[test]
    fn taxonomy_roots_are_not_provider_names() {
        for name in ["customer", "loan", "pix", "charge", "account"] {
            assert_eq!(
                ProviderName::parse(name),
                Err(InvalidProviderName::Reserved)
            );
        }
    }

    #[test]
    fn static_provider_name_equals_parsed_name() {
        const DINIE: ProviderName = ProviderName::from_static("dinie");
        assert_eq!(DINIE, ProviderName::parse("dinie").unwrap());
        assert_eq!(DINIE.to_string(), "dinie");
        assert_eq!(serde_json::to_string(&DINIE).unwrap(), "\"dinie\"");
        let back: ProviderName = serde_json::from_str("\"dinie\"").unwrap();
        assert_eq!(back, DINIE);
        assert!(serde_json::from_str::<ProviderName>("\"Dinie\"").is_err());
    }

    #[test]
    fn every_taxonomy_entry_has_a_variant_with_that_text() {
        let texts: Vec<String> = EventType::all_known()
            .iter()
            .map(|event_type| event_type.as_str().into_owned())
            .collect();
        assert_eq!(texts, TAXONOMY);
        for text in TAXONOMY {
            let parsed: EventType = text.parse().unwrap();
            assert_eq!(parsed.as_str(), text);
            assert_eq!(parsed.to_string(), text);
            assert!(!parsed.is_unrecognized());
        }
    }

    #[test]
    fn known_types_are_unique_and_exclude_unrecognized() {
        let unique: HashSet<&EventType> = EventType::all_known().iter().collect();
        assert_eq!(unique.len(), TAXONOMY.len());
        assert!(
            !EventType::all_known()
                .iter()
                .any(EventType::is_unrecognized)
        );
    }

    #[test]
    fn unrecognized_events_are_named_after_their_provider() {
        let event_type = EventType::Unrecognized(ProviderName::from_static("delbank"));
        assert_eq!(event_type.as_str(), "delbank.unrecognized");
        assert_eq!(event_type.to_string(), "delbank.unrecognized");
        assert_eq!("delbank.unrecognized".parse::<EventType>(), Ok(event_type));
    }

    #[test]
    fn unknown_event_type_strings_are_rejected() {
        for text in [
            "",
            "loan",
            "loan.exploded",
            "Loan.active",
            ".unrecognized",
            "pix.unrecognized",
        ] {
            assert_eq!(text.parse::<EventType>(), Err(UnknownEventType), "{text}");
        }
    }

    #[test]
    fn event_types_serialize_as_their_text() {
        let json = serde_json::to_string(&EventType::PixTransferCompleted).unwrap();
        assert_eq!(json, "\"pix.transfer.completed\"");
        let back: EventType = serde_json::from_str(&json).unwrap();
        assert_eq!(back, EventType::PixTransferCompleted);
        assert!(serde_json::from_str::<EventType>("\"nope\"").is_err());
    }

    #[test]
    fn star_matches_everything() {
        let all = pattern("*");
        for text in TAXONOMY {
            assert!(all.matches(text));
        }
        assert!(all.matches("dinie.unrecognized"));
    }

    #[test]
    fn subtree_pattern_matches_descendants_only() {
        let loans = pattern("loan.*");
        assert!(loans.matches("loan.active"));
        assert!(loans.matches("loan.x.y"));
        assert!(!loans.matches("loans.active"));
        assert!(!loans.matches("loan"));
        assert!(!loans.matches("loan."));
        assert!(!loans.matches("pix.received"));
        let transfers = pattern("pix.transfer.*");
        assert!(transfers.matches("pix.transfer.completed"));
        assert!(!transfers.matches("pix.received"));
    }

    #[test]
    fn exact_pattern_matches_one_type() {
        let received = pattern("pix.received");
        assert!(received.matches("pix.received"));
        assert!(!received.matches("pix.received.late"));
        assert!(!received.matches("pix.refund.received"));
        assert!(pattern("acme-bank.unrecognized").matches("acme-bank.unrecognized"));
    }

    #[test]
    fn malformed_patterns_are_rejected() {
        for text in [
            "",
            "**",
            "loan*",
            "*.active",
            "loan.*.x",
            "loan..active",
            ".loan",
            "loan.",
            "Loan.*",
            "loan.act ive",
            "loan.%",
            "loan.a*",
        ] {
            assert!(EventPattern::parse(text).is_err(), "{text:?}");
        }
        let error = EventPattern::parse("*.active").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid event pattern: '*' may only be the whole last segment"
        );
        assert!(EventPattern::parse(&"a".repeat(129)).is_err());
    }

    #[test]
    fn patterns_translate_to_escaped_sql_like() {
        assert_eq!(pattern("*").to_sql_like(), "%");
        assert_eq!(pattern("loan.*").to_sql_like(), "loan.%");
        assert_eq!(pattern("pix.received").to_sql_like(), "pix.received");
        assert_eq!(pattern("credit_offer.*").to_sql_like(), "credit\\_offer.%");
        assert_eq!(
            pattern("account.documentation_rejected").to_sql_like(),
            "account.documentation\\_rejected"
        );
    }

    #[test]
    fn patterns_serialize_as_text() {
        let json = serde_json::to_string(&pattern("loan.*")).unwrap();
        assert_eq!(json, "\"loan.*\"");
        let back: EventPattern = serde_json::from_str(&json).unwrap();
        assert_eq!(back.as_str(), "loan.*");
        assert!(serde_json::from_str::<EventPattern>("\"*.x\"").is_err());
    }

    #[test]
    fn resource_kinds_round_trip_through_text_and_serde() {
        for kind in ResourceKind::all() {
            assert_eq!(kind.as_str().parse::<ResourceKind>(), Ok(*kind));
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(ResourceKind::PixRefund.as_str(), "pix_refund");
        assert!("PixRefund".parse::<ResourceKind>().is_err());
    }

    #[test]
    fn dedup_keys_are_non_empty_and_bounded() {
        assert_eq!(DedupKey::parse("msg_1").unwrap().as_str(), "msg_1");
        assert_eq!(DedupKey::parse(""), Err(InvalidDedupKey::Empty));
        assert!(DedupKey::parse(&"é".repeat(512)).is_ok());
        assert_eq!(
            DedupKey::parse(&"k".repeat(513)),
            Err(InvalidDedupKey::TooLong)
        );
        assert!(serde_json::from_str::<DedupKey>("\"\"").is_err());
    }

    fn sample_event() -> NormalizedEvent {
        NormalizedEvent {
            event_type: EventType::LoanActive,
            provider_event_type: "loan.active".to_owned(),
            dedup_key: DedupKey::parse("msg_2Kx").unwrap(),
            resource: ResourceRef {
                kind: ResourceKind::Loan,
                id: "ln_123".to_owned(),
                correlation_id: None,
            },
            occurred_at: Some(Utc.with_ymd_and_hms(2026, 1, 15, 12, 30, 0).unwrap()),
            data: EventData::Loan(LoanData {
                // Any data field: here an id that looks like a CPF, which `Debug` must not show.
                customer_id: Some("52998224725".to_owned()),
                net_amount: Some(Money::parse("100.00", Currency::Brl).unwrap()),
                ..LoanData::new("ln_123")
            }),
        }
    }

    #[test]
    fn normalized_event_serializes_type_field_and_round_trips() {
        let event = sample_event();
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "loan.active");
        assert_eq!(json["resource"]["kind"], "loan");
        assert_eq!(json["dedup_key"], "msg_2Kx");
        let back: NormalizedEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn normalized_event_debug_hides_data() {
        let debug = format!("{:?}", sample_event());
        assert!(debug.contains("loan.active"), "{debug}");
        assert!(!debug.contains("52998224725"), "{debug}");
    }

    proptest! {
        #[test]
        fn subtree_patterns_match_exactly_the_types_under_their_prefix(
            prefix in "[a-z_]{1,8}(\\.[a-z_]{1,8}){0,2}",
            event_type in "[a-z_]{1,8}(\\.[a-z_]{1,8}){0,3}",
        ) {
            let subtree = pattern(&format!("{prefix}.*"));
            let expected = event_type.starts_with(&format!("{prefix}."));
            prop_assert_eq!(subtree.matches(&event_type), expected);
            prop_assert!(pattern(&event_type).matches(&event_type));
        }
    }

    proptest! {
        #[test]
        fn a_pattern_parses_exactly_when_the_published_pattern_matches(text in "[a-z0-9_.*A-Z -]{0,140}") {
            let pattern = regex::Regex::new(EventPattern::PATTERN).unwrap();
            let published = pattern.is_match(&text) && text.len() <= EventPattern::MAX_LENGTH;
            prop_assert_eq!(EventPattern::parse(&text).is_ok(), published, "{:?}", text);
        }
    }
}
