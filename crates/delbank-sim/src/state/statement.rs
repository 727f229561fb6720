//! The statement: an account's transactions, newest first, filtered.

use serde_json::{Value, json};

use super::{State, num, stamp};

/// Statement filters.
#[derive(Default)]
pub(crate) struct StatementQuery {
    pub(crate) is_credit: Option<bool>,
    pub(crate) types: Vec<String>,
    pub(crate) nsu: Option<u64>,
    pub(crate) end_to_end_id: Option<String>,
}

impl State {
    pub(crate) fn statement(&self, account: &str, filter: &StatementQuery) -> Vec<(u64, Value)> {
        let Some(account) = self.accounts.get(account) else {
            return Vec::new();
        };
        account
            .transactions
            .iter()
            .rev()
            .filter(|transaction| filter.is_credit.is_none_or(|credit| credit == transaction.is_credit))
            .filter(|transaction| filter.types.is_empty() || filter.types.iter().any(|name| name == transaction.type_name))
            .filter(|transaction| filter.nsu.is_none_or(|nsu| nsu == transaction.nsu))
            .filter(|transaction| filter.end_to_end_id.as_deref().is_none_or(|id| transaction.end_to_end_id.as_deref() == Some(id)))
            .map(|transaction| {
                (
                    transaction.nsu,
                    json!({
                        "nsu": transaction.nsu,
                        "amount": num(transaction.amount),
                        "status": "EFFECTIVE",
                        "description": transaction.description,
                        "type": {"name": transaction.type_name, "description": transaction.description, "isCredit": transaction.is_credit},
                        "endToEndId": transaction.end_to_end_id,
                        "idempotencyKey": transaction.idempotency_key,
                        "createdAt": stamp(transaction.created_at),
                    }),
                )
            })
            .collect()
    }
}
