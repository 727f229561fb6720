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
