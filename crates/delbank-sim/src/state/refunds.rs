//! Refunds: of a Pix we received (sent by us, settled later) and of a Pix we sent (received).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Booking, Emit, Failure, OTHER_ISPB, State, describe, end_to_end_id, num, stamp};
use crate::{ControlError, DELBANK_ISPB};

pub(crate) struct Refund {
    pub(crate) account: String,
    pub(crate) idempotency_key: String,
    pub(crate) end_to_end_id: String,
    pub(crate) original: String,
    pub(crate) amount: Decimal,
    pub(crate) description: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
}

impl State {
    pub(crate) fn create_refund(
        &mut self,
        account: &str,
        idempotency_key: &str,
        original: &str,
        amount: Decimal,
        description: Option<String>,
    ) -> Result<Value, Failure> {
        if uuid::Uuid::parse_str(idempotency_key).map(|uuid| uuid.get_version_num()) != Ok(4) {
            return Err(Failure::new(400, "IdempotencyKey must be a UUID v4"));
        }
        let now = Utc::now();
        let spacing = self.refund_spacing;
        let Some(received) = self.received.get_mut(original) else {
            return Err(Failure::not_found());
        };
        if received.account != account {
            return Err(Failure::not_found());
        }
        if amount <= Decimal::ZERO {
            return Err(Failure::field(
                "amount",
                "The amount must be greater than zero.",
            ));
        }
        if now - received.received_at > chrono::Duration::days(90) {
            return Err(Failure::new(
                400,
                "A Pix can only be refunded within 90 days",
            ));
        }
        if received
            .last_refund_at
            .is_some_and(|last| now - last < spacing)
        {
            return Err(Failure::new(
                400,
                "Partial refunds of a Pix must be at least 2 minutes apart",
            ));
        }
        if received.refunded + amount > received.amount {
            return Err(Failure::field(
                "amount",
                "The amount exceeds what remains to refund.",
            ));
        }
        let balance = self
            .accounts
            .get(account)
            .map_or(Decimal::ZERO, |account| account.balance);
        if balance < amount {
            return Err(Failure::new(400, "Insufficient balance"));
        }
        received.refunded += amount;
        received.last_refund_at = Some(now);
        let end_to_end_id = end_to_end_id('D', DELBANK_ISPB);
        self.book(
            account,
            amount,
            false,
            Booking {
                type_name: "DEBIT_PIX_REFUND",
                description: description
                    .clone()
                    .unwrap_or_else(|| "Devolução de Pix".to_owned()),
                end_to_end_id: Some(end_to_end_id.clone()),
                idempotency_key: Some(idempotency_key.to_owned()),
            },
        );
        self.refunds.push(Refund {
            account: account.to_owned(),
            idempotency_key: idempotency_key.to_owned(),
            end_to_end_id: end_to_end_id.clone(),
            original: original.to_owned(),
            amount,
            description,
            created_at: now,
        });
        Ok(json!({
            "idempotencyKey": idempotency_key,
            "externalId": Value::Null,
            "endToEndId": end_to_end_id,
            "status": "PIX_PROCESSING",
            "createdAt": stamp(now),
        }))
    }

    /// Settles a refund we sent: success → `PIX_PAYMENT_UPDATED` (newer docs), failure →
    /// `PIX_REFUND_PAYMENT_UPDATED` with the money back.
    pub(crate) fn settle_refund(&mut self, end_to_end_id: &str) -> Vec<Emit> {
        let forced = self.knobs.force_refund_error.clone();
        let Some(refund) = self
            .refunds
            .iter()
            .find(|refund| refund.end_to_end_id == end_to_end_id)
        else {
            return Vec::new();
        };
        let account = refund.account.clone();
        let amount = refund.amount;
        let original = refund.original.clone();
        let idempotency_key = refund.idempotency_key.clone();
        let description = refund.description.clone();
        let created_at = refund.created_at;
        let now = Utc::now();
        match forced {
            Some(code) => {
                self.book(
                    &account,
                    amount,
                    true,
                    Booking {
                        type_name: "CREDIT_PIX_REFUND_REVERSAL",
                        description: format!("Estorno de devolução ({code})"),
                        end_to_end_id: Some(end_to_end_id.to_owned()),
                        idempotency_key: None,
                    },
                );
                if let Some(received) = self.received.get_mut(&original) {
                    received.refunded -= amount;
                }
                vec![Emit {
                    account,
                    event_type: "PIX_REFUND_PAYMENT_UPDATED",
                    body: json!({
                        "status": "PIX_ERROR",
                        "error": {"code": code, "description": describe(&code)},
                        "eventType": "PIX_REFUND_PAYMENT_ERROR",
                        "endToEndId": end_to_end_id,
                        "idempotencyKey": idempotency_key,
                        "correlationId": Value::Null,
                        "amount": num(amount),
                        "createdAt": stamp(created_at),
                        "finishedAt": now.format("%Y-%m-%dT%H:%M:%S").to_string(),
                        "description": description,
                        "payer": Value::Null,
                        "beneficiary": Value::Null,
                    }),
                }]
            }
            None => vec![Emit {
                account: account.clone(),
                event_type: "PIX_PAYMENT_UPDATED",
                body: json!({
                    "eventType": "PIX_PAYMENT_EFFECTIVE",
                    "operationType": "DEBIT_REFUND",
                    "endToEndId": end_to_end_id,
                    "originalEndToEndId": original,
                    "idempotencyKey": idempotency_key,
                    "status": "PIX_EFFECTIVE",
                    "amount": num(amount),
                    "createdAt": stamp(created_at),
                    "description": description,
                    "payer": self.account_json(&account),
                }),
            }],
        }
    }

    pub(crate) fn refund_in(
        &mut self,
        original: &str,
        amount: Decimal,
    ) -> Result<(String, Vec<Emit>), ControlError> {
        let Some(transfer) = self.transfers.iter().find(|transfer| {
            transfer.end_to_end_id.as_deref() == Some(original)
                && transfer.status == "PIX_EFFECTIVE"
        }) else {
            return Err(ControlError(format!("no effective Pix {original}")));
        };
        if amount <= Decimal::ZERO || amount > transfer.amount {
            return Err(ControlError("refund amount out of range".to_owned()));
        }
        let account = transfer.account.clone();
        let beneficiary = transfer.beneficiary.clone();
        let end_to_end_id = end_to_end_id('D', OTHER_ISPB);
        self.book(
            &account,
            amount,
            true,
            Booking {
                type_name: "CREDIT_PIX_REFUND",
                description: "Devolução recebida".to_owned(),
                end_to_end_id: Some(end_to_end_id.clone()),
                idempotency_key: Some(end_to_end_id.clone()),
            },
        );
        let now = Utc::now();
        let body = json!({
            "eventType": "PIX_REFUNDED",
            "endToEndId": end_to_end_id,
            "originalEndToEndId": original,
            "amount": num(amount),
            "bankAccount": account,
            "refundCode": "MD06",
            "reasonRefund": "Devolução solicitada pelo usuário",
            "idempotencyKey": end_to_end_id,
            "externalId": Value::Null,
            "createdAt": stamp(now),
            "proof": {
                "endToEndId": end_to_end_id,
                "originalEndToEndId": original,
                "status": "PIX_EFFECTIVE",
                "operationType": "CREDIT_REFUND",
                "amount": num(amount),
                "createdAt": stamp(now),
                "finishedAt": stamp(now),
                "description": "Devolução",
                "payer": beneficiary,
                "beneficiary": self.account_json(&account),
            },
        });
        Ok((
            end_to_end_id,
            vec![Emit {
                account,
                event_type: "PIX_REFUNDED",
                body,
            }],
        ))
    }
}
