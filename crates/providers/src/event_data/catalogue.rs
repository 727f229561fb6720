//! The partner-facing catalogue of event types: for each [`EventType`], what it means, the JSON
//! Schema of its `data` and a realistic example.
//!
//! The schemas are derived (utoipa `ToSchema`) from the very types that serialize the data, with
//! hand-written schemas only where a type's `Serialize` is hand-written ([`Money`], [`Document`],
//! [`PartyDocument`], [`Reported`], [`UnrecognizedData`], the typed ids): there is no copy of a
//! schema to keep in step. The examples are [`EventData`] values, serialized like every event.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::event_data::{
    AccountData, AccountHolder, AccountKind, AccountState, AccountStatusUpdatedData,
    AccountTransferData, ChargeData, ChargePayer, CreditOfferData, CustomerData, EventData,
    EventParty, KycRequirement, LoanData, LoanPayment, PartyDocument, PixFailure,
    PixInfractionData, PixOperation, PixReceivedData, PixRefundData, PixTransferData,
    ReconciliationData, ReconciliationStatus, Reported, SettlementStatus, SubscriptionDisabledData,
    Unmapped, UnrecognizedData,
};
use crate::{
    AccountStatus, CreditOfferStatus, CustomerStatus, Document, EventType, LoanStatus, Money,
    ReconciliationItemId, SubscriptionId,
};

/// How the catalogue names the `<provider>.unrecognized` family (one entry for every provider).
pub const UNRECOGNIZED_FAMILY: &str = "{provider}.unrecognized";

/// Where OpenAPI documents keep named schemas; refs to them become refs to `$defs` in a
/// self-contained JSON Schema.
const COMPONENTS_PREFIX: &str = "#/components/schemas/";

/// The JSON Schema dialect of OpenAPI 3.1 and of [`EventTypeDoc::data_schema`].
pub const JSON_SCHEMA_DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// One entry of the catalogue.
#[derive(Debug, Clone)]
pub struct EventTypeDoc {
    /// The event type (`loan.active`), or [`UNRECOGNIZED_FAMILY`].
    pub name: String,
    /// What an event of this type means.
    pub description: &'static str,
    /// The name of the schema of its `data` among [`data_schemas`] (`LoanData`).
    pub data_schema_name: String,
    /// A realistic `data`.
    pub example: EventData,
}

impl EventTypeDoc {
    /// The JSON Schema (2020-12) of the `data`, self-contained: the data's schema at the root,
    /// every schema it refers to under `$defs`.
    pub fn data_json_schema(&self) -> Value {
        self.example.data_json_schema()
    }
}

/// The schema of one variant's data: its name, its own schema, and every schema it refers to.
struct DataSchema {
    name: String,
    schema: RefOr<Schema>,
    referenced: Vec<(String, RefOr<Schema>)>,
}

impl DataSchema {
    fn of<T: ToSchema>() -> DataSchema {
        let mut referenced = Vec::new();
        T::schemas(&mut referenced);
        DataSchema {
            name: T::name().into_owned(),
            schema: T::schema(),
            referenced,
        }
    }
}

impl EventData {
    /// The schema of this variant's data (exhaustive: a new variant must name its schema).
    fn data_schema(&self) -> DataSchema {
        match self {
            EventData::Customer(_) => DataSchema::of::<CustomerData>(),
            EventData::CreditOffer(_) => DataSchema::of::<CreditOfferData>(),
            EventData::Loan(_) => DataSchema::of::<LoanData>(),
            EventData::Charge(_) => DataSchema::of::<ChargeData>(),
            EventData::PixReceived(_) => DataSchema::of::<PixReceivedData>(),
            EventData::PixTransfer(_) => DataSchema::of::<PixTransferData>(),
            EventData::PixRefund(_) => DataSchema::of::<PixRefundData>(),
            EventData::Account(_) => DataSchema::of::<AccountData>(),
            EventData::AccountStatusUpdated(_) => DataSchema::of::<AccountStatusUpdatedData>(),
            EventData::AccountTransfer(_) => DataSchema::of::<AccountTransferData>(),
            EventData::PixInfraction(_) => DataSchema::of::<PixInfractionData>(),
            EventData::SubscriptionDisabled(_) => DataSchema::of::<SubscriptionDisabledData>(),
            EventData::Reconciliation(_) => DataSchema::of::<ReconciliationData>(),
            EventData::Unrecognized(_) => DataSchema::of::<UnrecognizedData>(),
        }
    }

    /// The name of the schema of this variant's data (`LoanData`), among [`data_schemas`].
    pub fn data_schema_name(&self) -> String {
        self.data_schema().name
    }

    /// The JSON Schema (2020-12) of this variant's data, self-contained: the data's schema at the
    /// root (with `$schema` and `title`), every schema it refers to under `$defs`.
    pub fn data_json_schema(&self) -> Value {
        let DataSchema {
            name,
            schema,
            referenced,
        } = self.data_schema();
        let mut root = to_value(&schema);
        let defs: serde_json::Map<String, Value> = referenced
            .iter()
            .map(|(name, schema)| (name.clone(), to_value(schema)))
            .collect();
        if let Value::Object(object) = &mut root {
            object.insert("$schema".into(), JSON_SCHEMA_DIALECT.into());
            object.insert("title".into(), name.into());
            if !defs.is_empty() {
                object.insert("$defs".into(), Value::Object(defs));
            }
        }
        refs_to_defs(&mut root);
        root
    }
}

/// Every named schema the data of any event type is or refers to, each once, by name: the
/// components an OpenAPI document needs for its webhooks.
pub fn data_schemas() -> BTreeMap<String, RefOr<Schema>> {
    let mut schemas = BTreeMap::new();
    for doc in event_catalogue() {
        let DataSchema {
            name,
            schema,
            referenced,
        } = doc.example.data_schema();
        schemas.insert(name, schema);
        schemas.extend(referenced);
    }
    schemas
}

/// The catalogue: every known type in taxonomy order, then the `<provider>.unrecognized`
/// family.
pub fn event_catalogue() -> Vec<EventTypeDoc> {
    let mut docs: Vec<EventTypeDoc> = EventType::all_known()
        .iter()
        .map(EventType::catalogue_entry)
        .collect();
    docs.push(unrecognized_entry(UNRECOGNIZED_FAMILY.to_owned()));
    docs
}

impl EventType {
    /// This type's catalogue entry; `dinie.unrecognized` is named after its provider.
    pub fn catalogue_entry(&self) -> EventTypeDoc {
        if self.is_unrecognized() {
            return unrecognized_entry(self.to_string());
        }
        let example = self.example_data();
        EventTypeDoc {
            name: self.to_string(),
            description: self.description(),
            data_schema_name: example.data_schema_name(),
            example,
        }
    }

    /// What an event of this type means, for partners.
    pub fn description(&self) -> &'static str {
        match self {
            EventType::CustomerCreated => {
                "A customer was registered at the credit provider; KYC may still be required."
            }
            EventType::CustomerUnderReview => {
                "A customer's KYC was submitted and is being analysed."
            }
            EventType::CustomerKycUpdated => {
                "What KYC requires of a customer changed (a document was received, approved or refused)."
            }
            EventType::CustomerActive => "A customer was approved and can receive credit offers.",
            EventType::CustomerDenied => "A customer was refused by the credit provider.",
            EventType::CreditOfferAvailable => {
                "A credit offer is available to a customer: it can be simulated and taken."
            }
            EventType::CreditOfferExpired => "A credit offer lapsed without a loan being taken.",
            EventType::LoanCreated => "A loan was requested and is being prepared.",
            EventType::LoanContractGenerated => {
                "A loan's contract (the CCB, the credit note) was issued."
            }
            EventType::LoanAwaitingSignatures => {
                "A loan's contract waits for the borrower's signatures."
            }
            EventType::LoanSigned => "A loan's contract was signed; it is not yet disbursed.",
            EventType::LoanDisbursing => "A loan's money is being sent to the borrower.",
            EventType::LoanActive => "A loan was disbursed and is being repaid.",
            EventType::LoanPaymentReceived => "A payment of a loan's installment was received.",
            EventType::LoanFinished => "A loan was fully repaid.",
            EventType::LoanCancelled => "A loan was cancelled before disbursement.",
            EventType::LoanError => "A loan failed at the credit provider.",
            EventType::ChargePaid => {
                "A charge (Pix QR code or bank slip) created through the gateway was paid."
            }
            EventType::PixReceived => "A Pix arrived in one of the bank's accounts.",
            EventType::PixTransferCompleted => {
                "A Pix (or a refund of one) that the gateway sent was settled."
            }
            EventType::PixTransferFailed => {
                "A Pix (or a refund of one) that the gateway sent failed."
            }
            EventType::PixRefundReceived => "A Pix the gateway sent was refunded to it.",
            EventType::AccountApproved => "A white-label account's onboarding was approved.",
            EventType::AccountDocumentationRejected => {
                "A white-label account's documents were refused; new ones may be sent."
            }
            EventType::AccountStatusUpdated => "An open account was blocked, unblocked or closed.",
            EventType::AccountTransferCredited => {
                "A transfer between two accounts of the same bank was credited."
            }
            EventType::AccountTransferDebited => {
                "A transfer between two accounts of the same bank was debited."
            }
            EventType::PixInfractionCreated => {
                "A Pix infraction notification (MED) was opened about a Pix."
            }
            EventType::SubscriptionDisabled => {
                "The gateway disabled a partner subscription: its endpoint answered 410 Gone or kept failing."
            }
            EventType::ReconciliationMatched => {
                "An expected receipt (a loan's disbursement) was matched with a Pix receipt."
            }
            EventType::ReconciliationAmountMismatch => {
                "A receipt for the borrower came with another amount than expected."
            }
            EventType::ReconciliationOverdue => "An expected receipt was not seen by its deadline.",
            EventType::ReconciliationNeedsReview => {
                "Two equally good candidates for an expected receipt: a person must choose."
            }
            EventType::ReconciliationUnexpectedReceipt => {
                "Money arrived from a credit provider with no disbursement to match it."
            }
            EventType::ReconciliationResolved => {
                "Finance confirmed, re-matched or wrote off a reconciliation item."
            }
            EventType::Unrecognized(_) => UNRECOGNIZED_DESCRIPTION,
        }
    }

    /// A realistic `data` of this type, as the gateway would send it.
    pub fn example_data(&self) -> EventData {
        use EventType as T;
        match self {
            T::CustomerCreated => customer(CustomerStatus::PendingKyc, &["pending", "pending"]),
            T::CustomerUnderReview => {
                customer(CustomerStatus::UnderReview, &["submitted", "submitted"])
            }
            T::CustomerKycUpdated => {
                customer(CustomerStatus::PendingKyc, &["approved", "rejected"])
            }
            T::CustomerActive => customer(CustomerStatus::Active, &["approved", "approved"]),
            T::CustomerDenied => customer(CustomerStatus::Denied, &["approved", "rejected"]),
            T::CreditOfferAvailable => EventData::CreditOffer(CreditOfferData {
                approved_amount: Some(brl(5_000_000)),
                customer_id: Some(CUSTOMER_ID.to_owned()),
                installments: Some(12),
                min_amount: Some(brl(100_000)),
                monthly_interest_rate: Some(Decimal::new(2_990, 3)),
                status: Some(CreditOfferStatus::Available.into()),
                valid_until: Some(at(1_775_087_999, 0)),
                ..CreditOfferData::new(CREDIT_OFFER_ID)
            }),
            T::CreditOfferExpired => EventData::CreditOffer(CreditOfferData {
                customer_id: Some(CUSTOMER_ID.to_owned()),
                status: Some(CreditOfferStatus::Expired.into()),
                valid_until: Some(at(1_775_087_999, 0)),
                ..CreditOfferData::new(CREDIT_OFFER_ID)
            }),
            T::LoanCreated => EventData::Loan(LoanData {
                credit_offer_id: Some(CREDIT_OFFER_ID.to_owned()),
                customer_id: Some(CUSTOMER_ID.to_owned()),
                disbursement_method: Some("pix".to_owned()),
                installments: Some(12),
                requested_amount: Some(brl(2_500_000)),
                ..loan(LoanStatus::Processing)
            }),
            T::LoanContractGenerated => EventData::Loan(LoanData {
                ccb_number: Some(CCB_NUMBER.to_owned()),
                principal_amount: Some(brl(2_575_000)),
                ..loan(LoanStatus::ContractGenerated)
            }),
            T::LoanAwaitingSignatures => EventData::Loan(LoanData {
                signatures_received: Some(0),
                signatures_required: Some(1),
                signing_url: Some("https://app.clicksign.com/sign/3f9a1c2e".to_owned()),
                ..loan(LoanStatus::AwaitingSignatures)
            }),
            T::LoanSigned => EventData::Loan(LoanData {
                signatures_received: Some(1),
                signatures_required: Some(1),
                signed_at: Some(at(1_772_625_600, 0)),
                ..loan(LoanStatus::Signed)
            }),
            T::LoanDisbursing => EventData::Loan(LoanData {
                disbursement_method: Some("pix".to_owned()),
                net_amount: Some(net_amount()),
                ..loan(LoanStatus::Disbursing)
            }),
            T::LoanActive => EventData::Loan(LoanData {
                net_amount: Some(net_amount()),
                requested_amount: Some(brl(2_500_000)),
                ..loan(LoanStatus::Active)
            }),
            T::LoanPaymentReceived => EventData::Loan(LoanData {
                payment: Some(LoanPayment {
                    amount: brl(229_167),
                    installment_number: Some(1),
                    paid_at: Some(at(1_775_300_398, 0)),
                }),
                ..loan(LoanStatus::Active)
            }),
            T::LoanFinished => EventData::Loan(loan(LoanStatus::Finished)),
            T::LoanCancelled => EventData::Loan(loan(LoanStatus::Cancelled)),
            T::LoanError => EventData::Loan(LoanData {
                error_code: Some("disbursement_failed".to_owned()),
                ..loan(LoanStatus::Error)
            }),
            T::ChargePaid => EventData::Charge(ChargeData {
                amount: brl(15_000),
                correlation_id: "0f1e2d3c-4b5a-4968-8776-655443322110".to_owned(),
                digitable_line: None,
                due_date: None,
                end_to_end_id: Some(PIX_RECEIVED_E2E.to_owned()),
                our_number: None,
                payee: Some(our_account()),
                payer: ChargePayer {
                    account: Some(someone_elses_account()),
                    document: Some(PartyDocument::from_sent(CPF)),
                    name: Some("JOAO DA SILVA".to_owned()),
                },
                payment_id: "NSU-000123456".to_owned(),
                source: Some("SPI".to_owned()),
                version: 2,
            }),
            T::PixReceived => EventData::PixReceived(PixReceivedData {
                amount: brl(1_212),
                correlation_id: Some("S1102202507111532385690004567".to_owned()),
                end_to_end_id: PIX_RECEIVED_E2E.to_owned(),
                payee: Some(our_account()),
                payer: Some(someone_elses_account()),
                received_at: at(1_752_248_361, 61_300_100),
                status: Some(SettlementStatus::PixEffective.into()),
            }),
            T::PixTransferCompleted => {
                EventData::PixTransfer(pix_transfer(SettlementStatus::PixEffective, None))
            }
            T::PixTransferFailed => EventData::PixTransfer(pix_transfer(
                SettlementStatus::PixError,
                Some(PixFailure {
                    code: Some("AC06".to_owned()),
                    description: Some("Conta bloqueada".to_owned()),
                }),
            )),
            T::PixRefundReceived => EventData::PixRefund(PixRefundData {
                account: Some(OUR_ACCOUNT.to_owned()),
                amount: brl(1_001),
                end_to_end_id: "D18236120202507121010r0123456789".to_owned(),
                original_end_to_end_id: Some(PIX_SENT_E2E.to_owned()),
                payee: Some(our_account()),
                payer: Some(someone_elses_account()),
                reason: Some("Devolução solicitada pelo usuário".to_owned()),
                refund_code: Some("MD06".to_owned()),
            }),
            T::AccountApproved => EventData::Account(AccountData {
                account: Some(WHITE_LABEL_ACCOUNT.to_owned()),
                holder: holder(),
                status: AccountStatus::Approved,
            }),
            T::AccountDocumentationRejected => EventData::Account(AccountData {
                account: None,
                holder: holder(),
                status: AccountStatus::DocumentationRejected,
            }),
            T::AccountStatusUpdated => EventData::AccountStatusUpdated(AccountStatusUpdatedData {
                account: WHITE_LABEL_ACCOUNT.to_owned(),
                status: AccountState::Blocked.into(),
            }),
            T::AccountTransferCredited => EventData::AccountTransfer(AccountTransferData {
                amount: brl(50_000),
                beneficiary: Some(our_account()),
                external_id: Some("order-77".to_owned()),
                payer: Some(white_label_account()),
                status: Some(SettlementStatus::Effective.into()),
                transfer_id: "C2b7e1f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b".to_owned(),
            }),
            T::AccountTransferDebited => EventData::AccountTransfer(AccountTransferData {
                amount: brl(50_000),
                beneficiary: Some(white_label_account()),
                external_id: Some("order-78".to_owned()),
                payer: Some(our_account()),
                status: Some(SettlementStatus::Effective.into()),
                transfer_id: "D7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f".to_owned(),
            }),
            T::PixInfractionCreated => EventData::PixInfraction(PixInfractionData {
                credited_ispb: Some(OUR_ISPB.to_owned()),
                debited_ispb: Some(OTHER_ISPB.to_owned()),
                end_to_end_id: Some(PIX_RECEIVED_E2E.to_owned()),
                infraction_id: "4f3e2d1c-0b9a-4887-9665-544332211000".to_owned(),
                reason: Some("FRAUD".to_owned()),
                status: Some("PENDING".to_owned()),
                infraction_type: Some("REFUND_REQUEST".to_owned()),
            }),
            T::SubscriptionDisabled => EventData::SubscriptionDisabled(SubscriptionDisabledData {
                reason: "the endpoint answered 410 Gone".to_owned(),
                subscription_id: SubscriptionId::from_uuid(uuid::Uuid::from_u128(
                    0x0196_2b1f_3c4d_7e8f_9a0b_1c2d_3e4f_5a6b,
                )),
                url: "https://partner.example.com/webhooks/paygate".to_owned(),
            }),
            T::ReconciliationMatched => reconciliation(
                ReconciliationStatus::Matched,
                Some(net_amount()),
                Some(net_amount()),
            ),
            T::ReconciliationAmountMismatch => reconciliation(
                ReconciliationStatus::AmountMismatch,
                Some(net_amount()),
                Some(brl(2_400_000)),
            ),
            T::ReconciliationOverdue => {
                reconciliation(ReconciliationStatus::Overdue, Some(net_amount()), None)
            }
            T::ReconciliationNeedsReview => reconciliation(
                ReconciliationStatus::NeedsReview,
                Some(net_amount()),
                Some(net_amount()),
            ),
            T::ReconciliationUnexpectedReceipt => reconciliation(
                ReconciliationStatus::UnexpectedReceipt,
                None,
                Some(brl(500_000)),
            ),
            T::ReconciliationResolved => reconciliation(
                ReconciliationStatus::Confirmed,
                Some(net_amount()),
                Some(brl(2_400_000)),
            ),
            T::Unrecognized(_) => unrecognized_example(),
        }
    }
}

const UNRECOGNIZED_DESCRIPTION: &str = "A verified event of a type no normalization rule of the \
    provider knows: stored, never dropped; its raw body is kept beside it (`GET /v1/events/{id}/raw`, \
    `pii` scope). The data says why, when the provider crate tells.";

fn unrecognized_entry(name: String) -> EventTypeDoc {
    let example = unrecognized_example();
    EventTypeDoc {
        name,
        description: UNRECOGNIZED_DESCRIPTION,
        data_schema_name: example.data_schema_name(),
        example,
    }
}

fn unrecognized_example() -> EventData {
    EventData::Unrecognized(UnrecognizedData {
        unmapped: Some(Unmapped {
            reason: "event type not recognized".to_owned(),
            registered_event_type: Some("PIX_AUTOMATIC_UPDATED".to_owned()),
        }),
    })
}

/// A valid CPF (check digits included); examples only.
const CPF: &str = "52998224725";
/// A valid CNPJ; examples only.
const CNPJ: &str = "11222333000181";
const CUSTOMER_ID: &str = "cus_2Ho9YdVq7kLm";
const CREDIT_OFFER_ID: &str = "co_7Fq2XbR1sT4u";
const LOAN_ID: &str = "ln_9Kd3PqZt5Wy8";
const CCB_NUMBER: &str = "CCB-2026-000123";
const OUR_ACCOUNT: &str = "29823";
const OUR_ISPB: &str = "38224857";
const OTHER_ISPB: &str = "18236120";
const WHITE_LABEL_ACCOUNT: &str = "31712";
const PIX_RECEIVED_E2E: &str = "E18236120202507111532s0123456789";
const PIX_SENT_E2E: &str = "E38224857202507111540abcDEF12345";

/// `cents / 100` reais, exactly.
fn brl(cents: i64) -> Money {
    Money::brl(Decimal::new(cents, 2))
}

fn net_amount() -> Money {
    brl(2_425_001)
}

/// A time from Unix seconds and nanoseconds (the epoch if out of range, which no example is).
fn at(seconds: i64, nanoseconds: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, nanoseconds).unwrap_or_default()
}

fn customer(status: CustomerStatus, kyc_statuses: &[&str; 2]) -> EventData {
    let requirement = |document_type: &str, status: &str| KycRequirement {
        kind: Some("document".to_owned()),
        status: Some(status.to_owned()),
        document_type: Some(document_type.to_owned()),
    };
    EventData::Customer(CustomerData {
        document: Document::parse(CPF).ok(),
        external_id: Some("user-4821".to_owned()),
        kyc: Some(vec![
            requirement("identity_front", kyc_statuses[0]),
            requirement("selfie", kyc_statuses[1]),
        ]),
        status: Some(Reported::Known(status)),
        ..CustomerData::new(CUSTOMER_ID)
    })
}

fn loan(status: LoanStatus) -> LoanData {
    LoanData {
        customer_id: Some(CUSTOMER_ID.to_owned()),
        status: Some(Reported::Known(status)),
        ..LoanData::new(LOAN_ID)
    }
}

/// The gateway's own account at the bank.
fn our_account() -> EventParty {
    EventParty {
        account: Some(OUR_ACCOUNT.to_owned()),
        account_type: Some(AccountKind::Current.into()),
        branch: Some("0001".to_owned()),
        document: Some(PartyDocument::from_sent(CNPJ)),
        institution: Some("DELCRED SCD S.A.".to_owned()),
        ispb: Some(OUR_ISPB.to_owned()),
        name: Some("PADARIA PAO QUENTE LTDA".to_owned()),
    }
}

/// An account at another bank, its holder's document masked as banks send it.
fn someone_elses_account() -> EventParty {
    EventParty {
        account: Some("123456".to_owned()),
        account_type: Some(AccountKind::Payment.into()),
        branch: Some("1".to_owned()),
        document: Some(PartyDocument::from_sent("***876977**")),
        institution: Some("NU PAGAMENTOS - IP".to_owned()),
        ispb: Some(OTHER_ISPB.to_owned()),
        name: Some("JOAO DA SILVA".to_owned()),
    }
}

/// A white-label account at the same bank; the bank sends only some of the party's fields.
fn white_label_account() -> EventParty {
    EventParty {
        account: Some(WHITE_LABEL_ACCOUNT.to_owned()),
        account_type: Some(AccountKind::Current.into()),
        branch: Some("0001".to_owned()),
        document: Some(PartyDocument::from_sent(CPF)),
        ispb: Some(OUR_ISPB.to_owned()),
        ..EventParty::default()
    }
}

fn holder() -> AccountHolder {
    AccountHolder {
        document: PartyDocument::from_sent(CPF),
        name: Some("MARIA DA SILVA".to_owned()),
    }
}

fn pix_transfer(status: SettlementStatus, failure: Option<PixFailure>) -> PixTransferData {
    PixTransferData {
        amount: brl(15_050),
        beneficiary: Some(someone_elses_account()),
        end_to_end_id: Some(PIX_SENT_E2E.to_owned()),
        failure,
        idempotency_key: Some("3f0c2a7e-9b1d-4c8e-a2f4-6d5e7b8c9a01".to_owned()),
        operation: PixOperation::Payment,
        original_end_to_end_id: None,
        payer: Some(our_account()),
        status: status.into(),
    }
}

fn reconciliation(
    status: ReconciliationStatus,
    expected_amount: Option<Money>,
    observed_amount: Option<Money>,
) -> EventData {
    EventData::Reconciliation(ReconciliationData {
        document: "***.982.247-**".to_owned(),
        expected_amount,
        item_id: ReconciliationItemId::from_uuid(uuid::Uuid::from_u128(
            0x0196_2b20_7a8b_7c9d_8e0f_1a2b_3c4d_5e6f,
        )),
        observed_amount,
        status,
    })
}

fn to_value(schema: &RefOr<Schema>) -> Value {
    serde_json::to_value(schema).unwrap_or(Value::Null)
}

/// Rewrites every `$ref` to a named OpenAPI schema into a ref to `$defs`.
fn refs_to_defs(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (key, item) in object.iter_mut() {
                match item {
                    Value::String(target) if key == "$ref" => {
                        if let Some(name) = target.strip_prefix(COMPONENTS_PREFIX) {
                            *target = format!("#/$defs/{name}");
                        }
                    }
                    _ => refs_to_defs(item),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(refs_to_defs),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::{UNRECOGNIZED_FAMILY, data_schemas, event_catalogue};
    use crate::event_data::tests::full_samples;
    use crate::{Document, EventData, EventType, Money, ProviderName};

    /// A validator of `schema` (2020-12, formats checked).
    fn validator(schema: &Value) -> jsonschema::Validator {
        jsonschema::options()
            .should_validate_formats(true)
            .build(schema)
            .unwrap_or_else(|error| panic!("invalid schema ({error}): {schema}"))
    }

    /// The errors of `data` against `schema`, as text.
    fn errors(schema: &Value, data: &Value) -> Vec<String> {
        validator(schema)
            .iter_errors(data)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect()
    }

    /// `schema` with no property beyond those it names, at every level: data validating against
    /// it writes no key its schema does not know.
    fn closed(schema: &Value) -> Value {
        let mut schema = schema.clone();
        close(&mut schema);
        schema
    }

    fn close(value: &mut Value) {
        match value {
            Value::Object(object) => {
                if object.contains_key("properties") {
                    object.insert("additionalProperties".into(), Value::Bool(false));
                }
                object.values_mut().for_each(close);
            }
            Value::Array(items) => items.iter_mut().for_each(close),
            _ => {}
        }
    }

    fn schema_of(event_type: &EventType) -> Value {
        event_type.catalogue_entry().data_json_schema()
    }

    #[test]
    fn the_catalogue_lists_every_known_type_then_the_unrecognized_family() {
        let names: Vec<String> = event_catalogue().into_iter().map(|doc| doc.name).collect();
        let mut expected: Vec<String> = EventType::all_known()
            .iter()
            .map(ToString::to_string)
            .collect();
        expected.push(UNRECOGNIZED_FAMILY.to_owned());
        assert_eq!(names, expected);
    }

    #[test]
    fn every_example_validates_against_its_own_schema_and_names_no_key_it_does_not_know() {
        for doc in event_catalogue() {
            let schema = doc.data_json_schema();
            assert!(
                jsonschema::meta::is_valid(&schema),
                "{}: not a valid JSON Schema",
                doc.name
            );
            let example = doc.example.to_json();
            assert_eq!(
                errors(&schema, &example),
                Vec::<String>::new(),
                "{}",
                doc.name
            );
            assert_eq!(
                errors(&closed(&schema), &example),
                Vec::<String>::new(),
                "{}",
                doc.name
            );
        }
    }

    #[test]
    fn every_example_round_trips_through_from_stored() {
        let family = EventType::Unrecognized(ProviderName::from_static("delbank"));
        for event_type in EventType::all_known().iter().chain([&family]) {
            let example = event_type.example_data();
            let stored = serde_json::from_str(&example.to_json().to_string()).unwrap();
            let back = EventData::from_stored(event_type, stored)
                .unwrap_or_else(|error| panic!("{event_type}: {error}"));
            assert!(
                back == example,
                "{event_type} does not read back as its example"
            );
        }
    }

    #[test]
    fn examples_are_realistic_documents_amounts_and_times() {
        let customer = EventType::CustomerCreated.example_data();
        assert!(customer.document().is_some());
        let received = EventType::PixReceived.example_data().to_json();
        assert_eq!(
            received["amount"],
            json!({"amount": "12.12", "currency": "BRL"})
        );
        assert_eq!(received["received_at"], "2025-07-11T15:39:21.061300100Z");
        assert_eq!(received["payer"]["document"]["masked"], true);
        let offer = EventType::CreditOfferAvailable.example_data().to_json();
        assert_eq!(offer["monthly_interest_rate"], "2.990");
        assert_eq!(offer["valid_until"], "2026-04-01T23:59:59Z");
    }

    /// Every variant with every field present and with none of its optional ones (tests.rs's
    /// samples): the schema of its type takes both, and names every key written.
    #[test]
    fn the_schema_of_each_type_takes_its_data_with_every_field_and_with_none() {
        for (event_type, full) in full_samples() {
            let schema = closed(&schema_of(&event_type));
            let full = full.to_json();
            assert_eq!(
                errors(&schema, &full),
                Vec::<String>::new(),
                "{event_type}: {full}"
            );
        }
        let sparse = [
            (EventType::LoanCreated, json!({"loan_id": "ln_1"})),
            (EventType::CustomerCreated, json!({"customer_id": "c"})),
            (
                EventType::CreditOfferExpired,
                json!({"credit_offer_id": "co"}),
            ),
            (
                EventType::PixTransferFailed,
                json!({"amount": {"amount": "1.00", "currency": "BRL"}, "beneficiary": null,
                       "end_to_end_id": null, "failure": {"code": null, "description": null},
                       "idempotency_key": null, "operation": "refund",
                       "original_end_to_end_id": null, "payer": null, "status": "PIX_QUEUED"}),
            ),
            (
                EventType::ChargePaid,
                json!({"amount": {"amount": "10.00", "currency": "BRL"}, "correlation_id": "c-1",
                       "digitable_line": null, "due_date": null, "end_to_end_id": null,
                       "our_number": null, "payee": null,
                       "payer": {"account": null, "document": null, "name": null},
                       "payment_id": "wo-9", "source": "PCR", "version": 1}),
            ),
            (
                EventType::Unrecognized(ProviderName::from_static("dinie")),
                json!({}),
            ),
        ];
        for (event_type, data) in sparse {
            let schema = closed(&schema_of(&event_type));
            assert_eq!(
                errors(&schema, &data),
                Vec::<String>::new(),
                "{event_type}: {data}"
            );
        }
    }

    #[test]
    fn a_schema_refuses_data_that_is_not_what_its_type_writes() {
        let refused = [
            // An amount as a JSON number, or without its minor units.
            (
                EventType::LoanActive,
                json!({"loan_id": "l", "net_amount": {"amount": 12.1, "currency": "BRL"}}),
            ),
            (
                EventType::LoanActive,
                json!({"loan_id": "l", "net_amount": {"amount": "12", "currency": "BRL"}}),
            ),
            (
                EventType::LoanActive,
                json!({"loan_id": "l", "net_amount": {"amount": "12.00", "currency": "USD"}}),
            ),
            // A field written only when known is never null.
            (
                EventType::LoanActive,
                json!({"loan_id": "l", "status": null}),
            ),
            // A field written `null` when unknown is always there.
            (
                EventType::ReconciliationOverdue,
                json!({"document": "***.982.247-**",
                "item_id": "rcn_0190b2c4d5e67f8a9b0c1d2e3f4a5b6c", "observed_amount": null, "status": "overdue"}),
            ),
            // A customer's document is bare and valid-looking.
            (
                EventType::CustomerActive,
                json!({"customer_id": "c", "document": "529.982.247-25"}),
            ),
            // A party's document is either valid and unmasked, or masked with no kind.
            (
                EventType::AccountApproved,
                json!({"account": "1", "status": "approved",
                "holder": {"name": null, "document": {"kind": null, "masked": false, "value": "52998224725"}}}),
            ),
            (
                EventType::AccountApproved,
                json!({"account": "1", "status": "approved",
                "holder": {"name": null, "document": {"kind": "cpf", "masked": true, "value": "***"}}}),
            ),
            // Typed ids keep their prefix; closed enums their values.
            (
                EventType::SubscriptionDisabled,
                json!({"reason": "r", "url": "u",
                "subscription_id": "evt_0190b2c4d5e67f8a9b0c1d2e3f4a5b6c"}),
            ),
            (
                EventType::AccountApproved,
                json!({"account": "1", "status": "open",
                "holder": {"name": null, "document": {"kind": null, "masked": true, "value": "***"}}}),
            ),
            // Unrecognized data is `{}` or a reason.
            (
                EventType::Unrecognized(ProviderName::from_static("dinie")),
                json!({"registered_event_type": null}),
            ),
        ];
        for (event_type, data) in refused {
            let schema = schema_of(&event_type);
            assert!(
                !errors(&schema, &data).is_empty(),
                "{event_type} took {data}"
            );
        }
    }

    #[test]
    fn every_reference_in_the_data_schemas_names_one_of_them() {
        let schemas = data_schemas();
        let text = serde_json::to_string(&schemas).unwrap();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let target = reference.split('"').next().unwrap();
            let name = target.strip_prefix("#/components/schemas/").unwrap();
            assert!(
                schemas.contains_key(name),
                "{name} is referred to but missing"
            );
        }
        for doc in event_catalogue() {
            assert!(schemas.contains_key(&doc.data_schema_name), "{}", doc.name);
        }
    }

    #[test]
    fn descriptions_are_plain_text_for_partners_not_rustdoc_links() {
        let text = serde_json::to_string(&data_schemas()).unwrap();
        for rustdoc in ["](crate::", "[`", "(see the"] {
            let at = text
                .find(rustdoc)
                .map(|at| &text[at.saturating_sub(120)..at + 20]);
            assert!(at.is_none(), "a description holds {rustdoc:?}: {at:?}");
        }
        for doc in event_catalogue() {
            assert!(doc.description.ends_with('.'), "{}", doc.name);
        }
    }

    #[test]
    fn documents_of_both_kinds_match_the_published_pattern() {
        let pattern = regex::Regex::new(Document::PATTERN).unwrap();
        for text in ["529.982.247-25", "11.222.333/0001-81", "12.ABC.345/01DE-35"] {
            let document = Document::parse(text).unwrap();
            let written = serde_json::to_value(&document).unwrap();
            assert!(pattern.is_match(written.as_str().unwrap()), "{written}");
        }
    }

    proptest! {
        #[test]
        fn every_amount_money_writes_matches_the_published_pattern(
            units in any::<i64>(),
            scale in 0u32..12,
        ) {
            let money = Money::brl(rust_decimal::Decimal::new(units, scale));
            let written = serde_json::to_value(money).unwrap();
            let pattern = regex::Regex::new(Money::AMOUNT_PATTERN).unwrap();
            let amount = written["amount"].as_str().unwrap();
            prop_assert!(pattern.is_match(amount), "{}", amount);
        }
    }
}
