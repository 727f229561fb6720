//! Dinie's wire format: private serde DTOs, never leaving this crate.
//!
//! Responses are read tolerantly, because two variants of "2026-03-01" exist (see
//! `shared/providers/dinie-api.md`, section 0): money as a decimal string ([D]) or a JSON number
//! ([S]), both read exactly through [`Money`]; timestamps as ISO-8601 ([D]) or Unix seconds ([S])
//! ([`WireTime`]); the SDK's field names accepted as aliases; unknown fields ignored. Requests are
//! written in the [D] profile.
//!
//! Bodies are parsed from bytes straight into these types: a number that went through a
//! `serde_json::Value` could not be read exactly.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use providers::Money;
use rust_decimal::Decimal;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// The key under which serde_json (with `arbitrary_precision`) hands a number to `visit_map`.
const JSON_NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// A timestamp sent as ISO-8601 text ([D]) or as integer Unix seconds ([S]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WireTime(pub(crate) DateTime<Utc>);

impl<'de> Deserialize<'de> for WireTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<WireTime, D::Error> {
        deserializer.deserialize_any(WireTimeVisitor)
    }
}

struct WireTimeVisitor;

impl WireTimeVisitor {
    fn from_seconds<E: de::Error>(seconds: i64) -> Result<WireTime, E> {
        DateTime::from_timestamp(seconds, 0)
            .map(WireTime)
            .ok_or_else(|| E::custom("timestamp out of range"))
    }
}

impl<'de> Visitor<'de> for WireTimeVisitor {
    type Value = WireTime;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an ISO-8601 datetime or Unix seconds")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<WireTime, E> {
        if let Ok(at) = DateTime::parse_from_rfc3339(value) {
            return Ok(WireTime(at.with_timezone(&Utc)));
        }
        match value.parse::<i64>() {
            Ok(seconds) => WireTimeVisitor::from_seconds(seconds),
            Err(_) => Err(E::custom("timestamp is neither ISO-8601 nor Unix seconds")),
        }
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<WireTime, E> {
        WireTimeVisitor::from_seconds(value)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<WireTime, E> {
        match i64::try_from(value) {
            Ok(seconds) => WireTimeVisitor::from_seconds(seconds),
            Err(_) => Err(E::custom("timestamp out of range")),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireTime, A::Error> {
        let key: Option<String> = map.next_key()?;
        if key.as_deref() != Some(JSON_NUMBER_TOKEN) {
            return Err(de::Error::invalid_type(de::Unexpected::Map, &self));
        }
        let text: String = map.next_value()?;
        match text.parse::<i64>() {
            Ok(seconds) => WireTimeVisitor::from_seconds(seconds),
            Err(_) => Err(de::Error::custom("timestamp must be whole Unix seconds")),
        }
    }
}

/// A rate in percent (`3.5`), read exactly from a number or a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rate(pub(crate) Decimal);

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Rate, D::Error> {
        providers::money::exact_decimal::deserialize(deserializer).map(Rate)
    }
}

/// `{access_token, token_type, expires_in}` from `POST /auth/token`.
#[derive(Deserialize)]
pub(crate) struct Token {
    pub(crate) access_token: String,
    pub(crate) token_type: String,
    pub(crate) expires_in: u64,
}

/// A page of a list: `{data, has_more}` (the SDK adds `object: "list"`).
#[derive(Deserialize)]
pub(crate) struct List<T> {
    pub(crate) data: Vec<T>,
    #[serde(default)]
    pub(crate) has_more: bool,
}

/// An RFC 9457 problem with Dinie's extensions; every field optional.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ProblemBody {
    #[serde(default)]
    pub(crate) title: Option<String>,
    #[serde(default)]
    pub(crate) detail: Option<String>,
    #[serde(default)]
    pub(crate) code: Option<String>,
    #[serde(default)]
    pub(crate) param: Option<String>,
    #[serde(default)]
    pub(crate) errors: Vec<ProblemField>,
}

/// One entry of a problem's `errors`.
#[derive(Debug, Deserialize)]
pub(crate) struct ProblemField {
    #[serde(default)]
    pub(crate) param: Option<String>,
    #[serde(default)]
    pub(crate) detail: Option<String>,
    #[serde(default)]
    pub(crate) code: Option<String>,
}

/// Customer statuses of both variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CustomerStatus {
    Creating,
    PendingKyc,
    UnderReview,
    Active,
    Denied,
}

/// One KYC requirement ([D] shape; the SDK's union is read as far as it overlaps).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct KycItem {
    #[serde(default)]
    pub(crate) kind: Option<String>,
    #[serde(default, rename = "type", alias = "requirement_type")]
    pub(crate) item_type: Option<String>,
    #[serde(default)]
    pub(crate) status: Option<String>,
}

/// A customer.
#[derive(Debug, Deserialize)]
pub(crate) struct Customer {
    pub(crate) id: String,
    pub(crate) status: CustomerStatus,
    pub(crate) cpf: Option<String>,
    #[serde(default)]
    pub(crate) external_id: Option<String>,
    pub(crate) created_at: WireTime,
}

/// An uploaded KYC document.
#[derive(Debug, Deserialize)]
pub(crate) struct KycUpload {
    pub(crate) id: String,
    #[serde(rename = "type")]
    pub(crate) upload_type: String,
    pub(crate) status: String,
}

/// Credit offer statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OfferStatus {
    Available,
    Accepted,
    Expired,
}

/// A credit offer (fixed `installments` or a `min_installments`/`max_installments` range).
#[derive(Debug, Deserialize)]
pub(crate) struct CreditOffer {
    pub(crate) id: String,
    pub(crate) customer_id: String,
    pub(crate) status: OfferStatus,
    pub(crate) approved_amount: Money,
    pub(crate) min_amount: Money,
    #[serde(alias = "monthly_interest_rate")]
    pub(crate) interest_rate: Rate,
    #[serde(default)]
    pub(crate) installments: Option<u32>,
    #[serde(default)]
    pub(crate) max_installments: Option<u32>,
    pub(crate) valid_until: WireTime,
}

/// A simulation ([D] names; the SDK's as aliases).
#[derive(Debug, Deserialize)]
pub(crate) struct Simulation {
    pub(crate) id: String,
    pub(crate) credit_offer_id: String,
    pub(crate) requested_amount: Money,
    /// The net amount the borrower receives ([D] only).
    #[serde(default)]
    pub(crate) amount: Option<Money>,
    #[serde(alias = "total_amount")]
    pub(crate) total_loan_amount: Money,
    #[serde(alias = "annual_cet_rate")]
    pub(crate) cet_percentage: Rate,
    #[serde(alias = "installment_count")]
    pub(crate) number_of_installments: u32,
    #[serde(alias = "installment_amount")]
    pub(crate) installments_value: Money,
    #[serde(default)]
    pub(crate) first_due_date: Option<NaiveDate>,
}

/// Loan statuses of both variants (the SDK's are a subset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LoanStatus {
    Processing,
    ContractGenerated,
    AwaitingSignatures,
    Signed,
    Disbursing,
    Active,
    Finished,
    Cancelled,
    Error,
}

/// A loan.
#[derive(Debug, Deserialize)]
pub(crate) struct Loan {
    pub(crate) id: String,
    pub(crate) credit_offer_id: String,
    pub(crate) customer_id: String,
    pub(crate) status: LoanStatus,
    pub(crate) requested_amount: Money,
    #[serde(default)]
    pub(crate) net_amount: Option<Money>,
    #[serde(default)]
    pub(crate) signing_url: Option<String>,
    pub(crate) created_at: WireTime,
}

/// An installment (`type: installment`).
#[derive(Debug, Deserialize)]
pub(crate) struct Transaction {
    pub(crate) id: String,
    pub(crate) due_date: NaiveDate,
    pub(crate) status: String,
    pub(crate) amount_due: Money,
    #[serde(default)]
    pub(crate) paid_at: Option<WireTime>,
}

/// An API credential.
#[derive(Debug, Deserialize)]
pub(crate) struct Credential {
    pub(crate) client_id: String,
    pub(crate) name: String,
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) expires_at: Option<WireTime>,
    pub(crate) created_at: WireTime,
    #[serde(default)]
    pub(crate) last_used_at: Option<WireTime>,
    #[serde(default)]
    pub(crate) client_secret: Option<String>,
}

/// A webhook endpoint; `secret` only in the create response.
#[derive(Debug, Deserialize)]
pub(crate) struct Endpoint {
    pub(crate) id: String,
    pub(crate) url: String,
    #[serde(default)]
    pub(crate) events: Vec<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    pub(crate) status: String,
    pub(crate) created_at: WireTime,
    #[serde(default)]
    pub(crate) secret: Option<String>,
}

/// The answer of a secret rotation.
#[derive(Debug, Deserialize)]
pub(crate) struct RotatedSecret {
    pub(crate) id: String,
    pub(crate) secret: String,
    #[serde(default)]
    pub(crate) previous_secret_expires_at: Option<WireTime>,
}

/// A biometrics session.
#[derive(Debug, Deserialize)]
pub(crate) struct BiometricsSession {
    pub(crate) session_url: String,
    pub(crate) expires_at: WireTime,
}

/// Body of `POST /customers`.
#[derive(Serialize)]
pub(crate) struct CreateCustomer<'a> {
    pub(crate) cpf: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cnpj: Option<String>,
    pub(crate) name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) phone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) external_id: Option<&'a str>,
}

/// Body of `PATCH /customers/{id}`.
#[derive(Serialize)]
pub(crate) struct UpdateCustomer<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) phone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cnpj: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) trading_name: Option<&'a str>,
}

/// Body of `POST /credit-offers/{id}/simulations`.
#[derive(Serialize)]
pub(crate) struct Simulate {
    pub(crate) requested_amount: String,
    pub(crate) installment_count: u32,
}

/// Body of `POST /loans`: the simulation and, when known, its terms (which Dinie checks).
#[derive(Serialize)]
pub(crate) struct CreateLoan<'a> {
    pub(crate) credit_offer_id: &'a str,
    pub(crate) simulation_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) installments: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) installments_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) first_due_date: Option<NaiveDate>,
}

/// Body of `POST /auth/credentials`.
#[derive(Serialize)]
pub(crate) struct CreateCredential<'a> {
    pub(crate) name: &'a str,
    pub(crate) expires_at: Option<String>,
}

/// Body of `POST /webhooks/endpoints`.
#[derive(Serialize)]
pub(crate) struct CreateEndpoint<'a> {
    pub(crate) url: &'a str,
    pub(crate) events: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<&'a str>,
}

/// Body of `PATCH /webhooks/endpoints/{id}`.
#[derive(Serialize)]
pub(crate) struct UpdateEndpoint<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) events: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<&'static str>,
}

/// Body of `POST /webhooks/endpoints/{id}/secret/rotate`.
#[derive(Serialize)]
pub(crate) struct Rotate {
    pub(crate) expire_current_in: u64,
}

/// Anything with an id, so a list can be followed with `starting_after`.
pub(crate) trait HasId {
    fn id(&self) -> &str;
}

macro_rules! has_id {
    ($($type:ty),*) => {
        $(impl HasId for $type {
            fn id(&self) -> &str {
                &self.id
            }
        })*
    };
}

has_id!(Customer, CreditOffer, Transaction, Endpoint);

impl HasId for Credential {
    fn id(&self) -> &str {
        &self.client_id
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use providers::Money;
    use rust_decimal::Decimal;

    use crate::wire::{CreditOffer, OfferStatus, Simulation, WireTime};

    #[derive(serde::Deserialize)]
    struct At {
        at: WireTime,
    }

    #[test]
    fn timestamps_are_read_from_iso_text_or_epoch_seconds() {
        let expected = Utc.with_ymd_and_hms(2026, 4, 4, 0, 0, 0).unwrap();
        for body in [
            r#"{"at": "2026-04-04T00:00:00Z"}"#,
            r#"{"at": "2026-04-03T21:00:00-03:00"}"#,
            r#"{"at": 1775260800}"#,
        ] {
            let parsed: At = serde_json::from_str(body).unwrap();
            assert_eq!(parsed.at.0, expected, "{body}");
        }
        assert!(serde_json::from_str::<At>(r#"{"at": "yesterday"}"#).is_err());
        assert!(serde_json::from_str::<At>(r#"{"at": 1775260800.5}"#).is_err());
    }

    #[test]
    fn docs_and_sdk_offers_read_the_same() {
        let docs: CreditOffer = serde_json::from_str(
            r#"{"id":"co_1","customer_id":"cust_1","status":"available","approved_amount":"50000.00",
                "min_amount":"1000.00","interest_rate":3.5,"installments":12,"due_date_rule":null,
                "valid_until":"2026-04-01T23:59:59Z","created_at":"2026-03-01T00:00:00Z","updated_at":"2026-03-01T00:00:00Z"}"#,
        )
        .unwrap();
        let sdk: CreditOffer = serde_json::from_str(
            r#"{"id":"co_1","customer_id":"cust_1","status":"available","approved_amount":50000,
                "min_amount":1000,"monthly_interest_rate":3.5,"min_installments":6,"max_installments":12,
                "valid_until":1775087999,"created_at":1772323200,"external_id":"x"}"#,
        )
        .unwrap();
        assert_eq!(docs.approved_amount, sdk.approved_amount);
        assert_eq!(docs.approved_amount, Money::brl(Decimal::new(5_000_000, 2)));
        assert_eq!(docs.interest_rate, sdk.interest_rate);
        assert_eq!(docs.valid_until, sdk.valid_until);
        assert_eq!(docs.installments, Some(12));
        assert_eq!(sdk.max_installments, Some(12));
        assert_eq!(docs.status, OfferStatus::Available);
    }

    #[test]
    fn sdk_simulation_names_are_accepted() {
        let sdk: Simulation = serde_json::from_str(
            r#"{"id":"sim_1","credit_offer_id":"co_1","requested_amount":25000,"principal_amount":25000,
                "interest_amount":5250.55,"fee_amount":500,"iof_amount":250,"total_amount":31000.55,
                "installment_count":6,"installment_amount":5166.76,"monthly_interest_rate":3.5,
                "annual_cet_rate":51.11,"first_due_date":"2026-04-15","created_at":1772323200}"#,
        )
        .unwrap();
        assert_eq!(sdk.installments_value, Money::brl(Decimal::new(516_676, 2)));
        assert_eq!(
            sdk.total_loan_amount,
            Money::brl(Decimal::new(3_100_055, 2))
        );
        assert_eq!(sdk.number_of_installments, 6);
    }
}
