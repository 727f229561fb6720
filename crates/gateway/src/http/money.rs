//! Money in API answers: `{"amount": "12.10", "currency": "BRL"}`, the one schema every resource
//! uses. The amount is a decimal string with at least two places, never rounded, never a float.

use providers::Money;
use serde::Serialize;
use utoipa::ToSchema;

/// An exact amount of money.
#[derive(Debug, Serialize, ToSchema)]
pub struct MoneyBody {
    /// Decimal string with at least two places, never rounded.
    #[schema(example = "25000.00")]
    pub amount: String,
    /// ISO 4217 code.
    #[schema(example = "BRL")]
    pub currency: String,
}

impl From<Money> for MoneyBody {
    fn from(money: Money) -> MoneyBody {
        MoneyBody {
            amount: money.to_minor_units_string(),
            currency: money.currency().code().to_owned(),
        }
    }
}

impl From<&Money> for MoneyBody {
    fn from(money: &Money) -> MoneyBody {
        MoneyBody::from(*money)
    }
}

/// The schema of an amount a caller asks to pay (`providers::money::payment_amount`): a decimal
/// string from `0.01` to `999999999999999.99`, at most two decimals, never a JSON number.
pub fn payment_amount_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .pattern(Some(providers::money::payment_amount::PATTERN))
        .description(Some(
            "A decimal string, BRL, from `0.01` to `999999999999999.99`, at most two decimal \
             places, no sign or exponent (`\"12.10\"`). A JSON number is refused.",
        ))
        .build()
}
