//! A Pix received from another bank: the credit, the payment of its charge and `PIX_RECEIVED`.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::charges::Payment;
use super::{
    Booking, Emit, Failure, OTHER_ISPB, State, end_to_end_id, num, random_alphanumeric, stamp,
};
use crate::{ControlError, PixIn};

pub(crate) struct ReceivedPix {
    pub(crate) account: String,
    pub(crate) amount: Decimal,
    pub(crate) refunded: Decimal,
    pub(crate) received_at: DateTime<Utc>,
    pub(crate) last_refund_at: Option<DateTime<Utc>>,
}

impl State {
    pub(crate) fn pix_in(&mut self, pix: &PixIn) -> Result<(String, Vec<Emit>), ControlError> {
        self.receive_pix(pix).map_err(ControlError::from)
    }

    /// A Pix from another bank to `pix.account` (or the first account): credits it, pays the
    /// charge its correlation id names, and returns its end-to-end id and the webhooks
    /// (`PIX_RECEIVED`, then the charge's `CHARGE_PAID` if it is a bank slip).
    pub(super) fn receive_pix(&mut self, pix: &PixIn) -> Result<(String, Vec<Emit>), Failure> {
        let account = self.pix_in_account(pix)?;
        let end_to_end_id = end_to_end_id('E', pix.payer_ispb.as_deref().unwrap_or(OTHER_ISPB));
        let payer = pix_in_payer(pix);
        let nsu = self.book(
            &account,
            pix.amount,
            true,
            Booking {
                type_name: "CREDIT_PIX",
                description: "Pix recebido".to_owned(),
                end_to_end_id: Some(end_to_end_id.clone()),
                idempotency_key: Some(end_to_end_id.clone()),
            },
        );
        let now = Utc::now();
        self.received.insert(
            end_to_end_id.clone(),
            ReceivedPix {
                account: account.clone(),
                amount: pix.amount,
                refunded: Decimal::ZERO,
                received_at: now,
                last_refund_at: None,
            },
        );
        let mut emits = Vec::new();
        if let Some(correlation_id) = &pix.correlation_id
            && let Some(emit) = self.settle_charge(
                &account,
                correlation_id,
                &Payment {
                    amount: pix.amount,
                    nsu,
                    reference_id: &end_to_end_id,
                    source: "SPI",
                    payer: &payer,
                },
            )?
        {
            emits.push(emit);
        }
        let received = self.pix_received_emit(account, pix, &end_to_end_id, &payer, now);
        emits.insert(0, received);
        Ok((end_to_end_id, emits))
    }

    /// The account a Pix in credits, checking that it exists, that the amount is positive and
    /// that the charge it pays (if one of the account's) can be paid.
    fn pix_in_account(&self, pix: &PixIn) -> Result<String, Failure> {
        let account = match &pix.account {
            Some(account) => account.clone(),
            None => self.first_account().ok_or_else(Failure::not_found)?,
        };
        if !self.accounts.contains_key(&account) {
            return Err(Failure::new(404, "No such account"));
        }
        if pix.amount <= Decimal::ZERO {
            return Err(Failure::field(
                "amount",
                "The amount must be greater than zero.",
            ));
        }
        if let Some(correlation_id) = &pix.correlation_id
            && self.find_charge(&account, correlation_id).is_some()
            && self.charge_for_payment(correlation_id).is_none()
        {
            return Err(Failure::new(400, "The charge cannot be paid"));
        }
        Ok(account)
    }

    /// The `PIX_RECEIVED` webhook of a Pix in, with its proof.
    fn pix_received_emit(
        &self,
        account: String,
        pix: &PixIn,
        end_to_end_id: &str,
        payer: &Value,
        now: DateTime<Utc>,
    ) -> Emit {
        let us = self.account_json(&account);
        let correlation_id = pix
            .correlation_id
            .clone()
            .unwrap_or_else(|| format!("S{}", random_alphanumeric(24)));
        Emit {
            account,
            event_type: "PIX_RECEIVED",
            body: json!({
                "eventType": "PIX_RECEIVED",
                "correlationId": correlation_id,
                "referenceId": end_to_end_id,
                "endToEndId": end_to_end_id,
                "amount": num(pix.amount),
                "createdAt": stamp(now),
                "proof": {
                    "eventType": "PIX_PAYMENT_EFFECTIVE",
                    "endToEndId": end_to_end_id,
                    "idempotencyKey": end_to_end_id,
                    "correlationId": correlation_id,
                    "status": "PIX_EFFECTIVE",
                    "amount": num(pix.amount),
                    "payer": payer,
                    "beneficiary": us,
                    "payee": us,
                },
            }),
        }
    }
}

/// The paying account of a Pix in, at "the other bank" (or at `pix.payer_ispb`).
fn pix_in_payer(pix: &PixIn) -> Value {
    let payer_document = pix
        .payer_document
        .as_deref()
        .map_or_else(|| "***982247**".to_owned(), mask);
    let payer_ispb = pix
        .payer_ispb
        .clone()
        .unwrap_or_else(|| OTHER_ISPB.to_owned());
    json!({
        "number": "778899", "branch": "1", "type": "PAYMENT",
        "participant": {"name": "NU PAGAMENTOS - IP", "ispb": payer_ispb},
        "holder": {"name": pix.payer_name.clone().unwrap_or_else(|| "PAGADOR".to_owned()), "document": payer_document, "type": "NATURAL"},
    })
}

fn mask(document: &str) -> String {
    match document.len() {
        11 => format!("***{}**", document.get(3..9).unwrap_or_default()),
        14 => format!("***{}**", document.get(3..12).unwrap_or_default()),
        _ => "***".to_owned(),
    }
}
