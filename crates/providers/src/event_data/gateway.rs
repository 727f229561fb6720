//! The data of the gateway's own operational events, and of `<provider>.unrecognized`.

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema as _, ToSchema as _};

use crate::event_data::redacted_debug;
use crate::{Money, ReconciliationItemId, SubscriptionId};

/// `subscription.disabled`. Fields in alphabetical order (see the [module](crate::event_data)).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "The data of `subscription.disabled`: the gateway disabled a partner subscription."
)]
pub struct SubscriptionDisabledData {
    /// Why (`the endpoint answered 410 Gone`...).
    pub reason: String,
    /// The subscription disabled.
    pub subscription_id: SubscriptionId,
    /// Its endpoint.
    pub url: String,
}

/// The status of a reconciliation item, as stored and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReconciliationStatus {
    /// Waiting for its receipt.
    Pending,
    /// Matched with a receipt.
    Matched,
    /// A receipt for the borrower came with another amount.
    AmountMismatch,
    /// Not seen by its deadline.
    Overdue,
    /// Two equally good candidates: a person must choose.
    NeedsReview,
    /// Money from a credit provider with no disbursement.
    UnexpectedReceipt,
    /// The loan was cancelled.
    Cancelled,
    /// Finance confirmed it.
    Confirmed,
    /// Finance wrote it off.
    WrittenOff,
}

/// `reconciliation.*`. Fields in alphabetical order; the amounts are `null` when unknown.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "The data of `reconciliation.*`: a reconciliation item changed status; the amounts are `null` when unknown."
)]
pub struct ReconciliationData {
    /// The borrower's document, masked (`***.456.789-**`): never the full document.
    pub document: String,
    /// The amount expected.
    #[schema(required)]
    pub expected_amount: Option<Money>,
    /// The item.
    pub item_id: ReconciliationItemId,
    /// The amount received.
    #[schema(required)]
    pub observed_amount: Option<Money>,
    /// The item's new status.
    pub status: ReconciliationStatus,
}

/// `<provider>.unrecognized`: `{}`, or why the provider crate could not map the event.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnrecognizedData {
    /// Why no rule mapped the event, when the provider crate says (its fields are then at the top
    /// level of the JSON).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub unmapped: Option<Unmapped>,
}

/// The schema of what `Serialize` writes: `{}`, or the fields of [`Unmapped`].
impl utoipa::PartialSchema for UnrecognizedData {
    fn schema() -> RefOr<Schema> {
        let empty = ObjectBuilder::new()
            .schema_type(Type::Object)
            .max_properties(Some(0))
            .description(Some("The provider crate did not say why."));
        OneOfBuilder::new()
            .description(Some(
                "`{}`, or why the provider crate could not map the event; the raw body is kept \
                 beside the event.",
            ))
            .item(empty)
            .item(Ref::from_schema_name(Unmapped::name()))
            .into()
    }
}

impl utoipa::ToSchema for UnrecognizedData {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Unmapped::name().into_owned(), Unmapped::schema()));
        <Unmapped as utoipa::ToSchema>::schemas(schemas);
    }
}

/// Why a provider crate kept an event as unrecognized. Fields in alphabetical order.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Unmapped {
    /// What did not fit (`event type not recognized`, `missing amount`...). Never PII.
    pub reason: String,
    /// The provider's event type of the registration the event arrived at (`null`: none).
    #[schema(required)]
    pub registered_event_type: Option<String>,
}

redacted_debug!(
    SubscriptionDisabledData,
    ReconciliationData,
    UnrecognizedData,
    Unmapped
);
