//! Pix out and internal transfers: the initializations by key and by QR code, `POST transfers`,
//! and the settlement of a Pix in processing (crediting a simulated beneficiary account).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::charges::Payment;
use super::{
    Booking, Emit, Failure, OTHER_ISPB, ReceivedPix, State, describe, end_to_end_id, num, stamp,
    uuid,
};
use crate::DELBANK_ISPB;

pub(crate) struct Initialization {
    pub(crate) account: String,
    pub(crate) key: String,
    pub(crate) beneficiary: Value,
    pub(crate) beneficiary_account: Option<String>,
    pub(crate) transaction_id: Option<String>,
    pub(crate) expires_at: DateTime<Utc>,
    pub(crate) used: bool,
}

pub(crate) struct Transfer {
    pub(crate) id: String,
    pub(crate) account: String,
    pub(crate) idempotency_key: String,
    pub(crate) end_to_end_id: Option<String>,
    pub(crate) status: String,
    pub(crate) transfer_type: String,
    pub(crate) amount: Decimal,
    pub(crate) description: Option<String>,
    pub(crate) external_id: Option<String>,
    pub(crate) nsu: u64,
    pub(crate) error: Option<(String, String)>,
    pub(crate) beneficiary: Value,
    pub(crate) beneficiary_account: Option<String>,
    pub(crate) pix_key: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

/// A transfer request.
pub(crate) struct TransferInput {
    pub(crate) amount: Decimal,
    pub(crate) description: Option<String>,
    pub(crate) end_to_end_id: Option<String>,
    pub(crate) beneficiary: Option<Value>,
    pub(crate) beneficiary_account: Option<String>,
    pub(crate) external_id: Option<String>,
}

impl State {
    pub(crate) fn initialize_key(&mut self, account: &str, key: &str) -> Result<Value, Failure> {
        if key.trim().is_empty() {
            return Err(Failure::field("key", "The key field is required."));
        }
        let owner = self
            .keys
            .iter()
            .find(|entry| entry.key == key)
            .map(|entry| entry.account.clone());
        if owner.as_deref() == Some(account) {
            return Err(Failure::new(400, "Cannot pay a key of the paying account"));
        }
        let (beneficiary, beneficiary_account) = match owner {
            Some(owner) => (self.account_json(&owner), Some(owner)),
            None => (
                json!({
                    "number": "123456", "branch": "1", "type": "PAYMENT",
                    "participant": {"name": "NU PAGAMENTOS - IP", "ispb": OTHER_ISPB},
                    "holder": {"name": "RECEBEDOR EXTERNO", "document": "***876977**", "type": "NATURAL"},
                }),
                None,
            ),
        };
        let end_to_end_id = end_to_end_id('E', DELBANK_ISPB);
        self.initializations.insert(
            end_to_end_id.clone(),
            Initialization {
                account: account.to_owned(),
                key: key.to_owned(),
                beneficiary: beneficiary.clone(),
                beneficiary_account,
                transaction_id: None,
                expires_at: Utc::now() + chrono::Duration::minutes(5),
                used: false,
            },
        );
        Ok(json!({
            "endToEndId": end_to_end_id,
            "key": key,
            "beneficiary": beneficiary,
            "keyBelongsHolder": false,
        }))
    }

    pub(crate) fn initialize_qr(&mut self, account: &str, payload: &str) -> Result<Value, Failure> {
        let Some(transaction_id) = payload
            .split("/qr/")
            .nth(1)
            .and_then(|rest| rest.split("5204").next())
        else {
            return Err(Failure::field(
                "payload",
                "The payload is not a valid Pix QR code.",
            ));
        };
        let Some(charge) = self
            .charges
            .iter()
            .find(|charge| charge.transaction_id == transaction_id)
        else {
            return Err(Failure::not_found());
        };
        if charge.account == account {
            return Err(Failure::new(
                400,
                "Cannot pay a QR code of the paying account",
            ));
        }
        let beneficiary = self.account_json(&charge.account);
        let initiation = match charge.charge_type.as_str() {
            "PIX_STATIC" => "QR_CODE_STATIC",
            _ => "QR_CODE_DYNAMIC",
        };
        let body = json!({
            "key": charge.correlation_id,
            "endToEndId": Value::Null,
            "transactionId": charge.transaction_id,
            "type": if initiation == "QR_CODE_STATIC" { "QR_CODE_STATIC" } else { "DYNAMIC_IMMEDIATE_PAYMENT" },
            "initiationType": initiation,
            "status": if charge.status == "PAID" { "CONCLUDED" } else { "ACTIVE" },
            "amount": charge.amount.map_or(Value::Null, num),
            "originalAmount": charge.amount.map_or(Value::Null, num),
            "beneficiary": beneficiary,
            "createdAt": stamp(charge.created_at),
            "capturedAt": stamp(Utc::now()),
        });
        let key = charge.correlation_id.clone();
        let target = charge.account.clone();
        let transaction = charge.transaction_id.clone();
        let end_to_end_id = end_to_end_id('E', DELBANK_ISPB);
        self.initializations.insert(
            end_to_end_id.clone(),
            Initialization {
                account: account.to_owned(),
                key,
                beneficiary,
                beneficiary_account: Some(target),
                transaction_id: Some(transaction),
                expires_at: Utc::now() + chrono::Duration::minutes(5),
                used: false,
            },
        );
        let mut body = body;
        body["endToEndId"] = Value::String(end_to_end_id);
        Ok(body)
    }

    pub(crate) fn transfer_json(&self, transfer: &Transfer) -> Value {
        json!({
            "id": transfer.id,
            "endToEndId": transfer.end_to_end_id,
            "idempotencyKey": transfer.idempotency_key,
            "transactionNsu": transfer.nsu,
            "externalId": transfer.external_id,
            "status": transfer.status,
            "type": transfer.transfer_type,
            "paymentChannel": "API",
            "amount": num(transfer.amount),
            "createdAt": stamp(transfer.created_at),
            "updatedAt": stamp(transfer.updated_at),
            "description": transfer.description,
            "error": transfer.error.as_ref().map(|(code, description)| json!({"code": code, "description": description})),
            "payer": self.account_json(&transfer.account),
            "beneficiary": transfer.beneficiary,
        })
    }

    /// `POST transfers`: validates, debits, and records the transfer. Returns its id and the
    /// webhooks of an internal transfer (settled at once); a Pix settles later ([`State::settle`]).
    pub(crate) fn create_transfer(
        &mut self,
        account: &str,
        idempotency_key: &str,
        input: &TransferInput,
    ) -> Result<(String, Vec<Emit>), Failure> {
        self.check_transfer_amount(account, input.amount)?;
        let now = Utc::now();
        let id = uuid();
        match &input.beneficiary_account {
            Some(target) => {
                self.transfer_internal(account, target, idempotency_key, input, id, now)
            }
            None => self.transfer_pix(account, idempotency_key, input, id, now),
        }
    }

    /// A transfer's amount: positive, and covered by the paying account's balance.
    fn check_transfer_amount(&self, account: &str, amount: Decimal) -> Result<(), Failure> {
        if amount <= Decimal::ZERO {
            return Err(Failure::field(
                "amount",
                "The amount must be greater than zero.",
            ));
        }
        let balance = self
            .accounts
            .get(account)
            .map_or(Decimal::ZERO, |account| account.balance);
        if balance < amount {
            return Err(Failure::new(400, "Insufficient balance"));
        }
        Ok(())
    }

    /// An internal transfer to another simulated account: booked on both sides, effective at
    /// once, with its `TRANSFER_INTERNAL_DEBITED` and `TRANSFER_INTERNAL_CREDITED` webhooks.
    fn transfer_internal(
        &mut self,
        account: &str,
        target: &str,
        idempotency_key: &str,
        input: &TransferInput,
        id: String,
        now: DateTime<Utc>,
    ) -> Result<(String, Vec<Emit>), Failure> {
        if !self.accounts.contains_key(target) || target == account {
            return Err(Failure::field(
                "beneficiaryAccount",
                "The beneficiary account is invalid.",
            ));
        }
        let nsu = self.book_internal_transfer(account, target, idempotency_key, input);
        let transfer = Transfer {
            id: id.clone(),
            account: account.to_owned(),
            idempotency_key: idempotency_key.to_owned(),
            end_to_end_id: None,
            status: "EFFECTIVE".to_owned(),
            transfer_type: "INTERNAL".to_owned(),
            amount: input.amount,
            description: input.description.clone(),
            external_id: input.external_id.clone(),
            nsu,
            error: None,
            beneficiary: self.account_json(target),
            beneficiary_account: Some(target.to_owned()),
            pix_key: None,
            created_at: now,
            updated_at: now,
        };
        let emits = self.internal_transfer_emits(&transfer, target);
        self.transfers.push(transfer);
        Ok((id, emits))
    }

    /// Debits the payer and credits the target of an internal transfer; returns the debit's NSU.
    fn book_internal_transfer(
        &mut self,
        account: &str,
        target: &str,
        idempotency_key: &str,
        input: &TransferInput,
    ) -> u64 {
        let nsu = self.book(
            account,
            input.amount,
            false,
            Booking {
                type_name: "DEBIT_TRANSFER_INTERNAL",
                description: input
                    .description
                    .clone()
                    .unwrap_or_else(|| "Transferência interna".to_owned()),
                end_to_end_id: None,
                idempotency_key: Some(idempotency_key.to_owned()),
            },
        );
        self.book(
            target,
            input.amount,
            true,
            Booking {
                type_name: "CREDIT_TRANSFER_INTERNAL",
                description: "Transferência interna recebida".to_owned(),
                end_to_end_id: None,
                idempotency_key: None,
            },
        );
        nsu
    }

    /// The webhooks of an effective internal transfer: the debit to the payer, the credit to the
    /// target.
    fn internal_transfer_emits(&self, transfer: &Transfer, target: &str) -> Vec<Emit> {
        let body = |event: &str| {
            json!({
                "id": transfer.id,
                "externalId": transfer.external_id,
                "eventType": event,
                "status": "EFFECTIVE",
                "paymentChannel": "API",
                "type": "INTERNAL",
                "amount": num(transfer.amount),
                "createdAt": stamp(transfer.created_at),
                "payer": self.account_json(&transfer.account),
                "beneficiary": self.account_json(target),
            })
        };
        vec![
            Emit {
                account: transfer.account.clone(),
                event_type: "TRANSFER_INTERNAL_DEBITED",
                body: body("TRANSFER_INTERNAL_DEBITED"),
            },
            Emit {
                account: target.to_owned(),
                event_type: "TRANSFER_INTERNAL_CREDITED",
                body: body("TRANSFER_INTERNAL_CREDITED"),
            },
        ]
    }

    /// A Pix out: resolves its destination, debits the payer and records it `PIX_PROCESSING`
    /// (it settles later, [`State::settle`]); no webhook yet.
    fn transfer_pix(
        &mut self,
        account: &str,
        idempotency_key: &str,
        input: &TransferInput,
        id: String,
        now: DateTime<Utc>,
    ) -> Result<(String, Vec<Emit>), Failure> {
        let destination = self.pix_destination(account, input, now)?;
        let nsu = self.book(
            account,
            input.amount,
            false,
            Booking {
                type_name: "DEBIT_PIX",
                description: input
                    .description
                    .clone()
                    .unwrap_or_else(|| "Pix enviado".to_owned()),
                end_to_end_id: Some(destination.end_to_end_id.clone()),
                idempotency_key: Some(idempotency_key.to_owned()),
            },
        );
        self.transfers.push(Transfer {
            id: id.clone(),
            account: account.to_owned(),
            idempotency_key: idempotency_key.to_owned(),
            end_to_end_id: Some(destination.end_to_end_id),
            status: "PIX_PROCESSING".to_owned(),
            transfer_type: destination.transfer_type.to_owned(),
            amount: input.amount,
            description: input.description.clone(),
            external_id: input.external_id.clone(),
            nsu,
            error: None,
            beneficiary: destination.beneficiary,
            beneficiary_account: destination.beneficiary_account,
            pix_key: destination.pix_key,
            created_at: now,
            updated_at: now,
        });
        Ok((id, Vec::new()))
    }

    /// Where a Pix out goes: the initialization its `endToEndId` names (by key or QR code), or
    /// else the account given in full (`PIX_MANUAL`).
    fn pix_destination(
        &mut self,
        account: &str,
        input: &TransferInput,
        now: DateTime<Utc>,
    ) -> Result<PixDestination, Failure> {
        match (&input.end_to_end_id, &input.beneficiary) {
            (Some(end_to_end_id), _) => self.claim_initialization(account, end_to_end_id, now),
            (None, Some(beneficiary)) => manual_destination(beneficiary),
            (None, None) => Err(Failure::field(
                "endToEndId",
                "The endToEndId field is required.",
            )),
        }
    }

    /// Uses up the paying account's unexpired initialization `end_to_end_id`.
    fn claim_initialization(
        &mut self,
        account: &str,
        end_to_end_id: &str,
        now: DateTime<Utc>,
    ) -> Result<PixDestination, Failure> {
        let Some(init) = self.initializations.get_mut(end_to_end_id) else {
            return Err(Failure::field(
                "endToEndId",
                "The endToEndId is unknown or expired.",
            ));
        };
        if init.used || init.account != account || init.expires_at < now {
            return Err(Failure::field(
                "endToEndId",
                "The endToEndId is unknown or expired.",
            ));
        }
        init.used = true;
        let transfer_type = match &init.transaction_id {
            Some(_) => "PIX_QR_CODE_DYNAMIC",
            None => "PIX_KEY",
        };
        Ok(PixDestination {
            end_to_end_id: end_to_end_id.to_owned(),
            beneficiary: init.beneficiary.clone(),
            beneficiary_account: init.beneficiary_account.clone(),
            pix_key: Some(init.key.clone()),
            transfer_type,
        })
    }

    pub(crate) fn find_transfer(&self, account: &str, id: &str) -> Option<&Transfer> {
        self.transfers.iter().find(|transfer| {
            transfer.account == account
                && (transfer.id == id
                    || transfer.idempotency_key.eq_ignore_ascii_case(id)
                    || transfer.end_to_end_id.as_deref() == Some(id))
        })
    }

    /// Settles a Pix in processing: effective (crediting a simulated beneficiary account and
    /// paying its charge) or failed (money back) per the knobs and the key.
    pub(crate) fn settle(&mut self, id: &str) -> Vec<Emit> {
        let forced = self.knobs.force_pix_error.clone();
        let Some(index) = self
            .transfers
            .iter()
            .position(|transfer| transfer.id == id && transfer.status == "PIX_PROCESSING")
        else {
            return Vec::new();
        };
        let Some(transfer) = self.transfers.get(index) else {
            return Vec::new();
        };
        let key_code = transfer
            .pix_key
            .as_deref()
            .filter(|key| key.to_ascii_lowercase().contains("ac06"))
            .map(|_| "AC06".to_owned());
        let failure = forced.or(key_code);
        let account = transfer.account.clone();
        let amount = transfer.amount;
        let end_to_end_id = transfer.end_to_end_id.clone().unwrap_or_default();
        let beneficiary_account = transfer.beneficiary_account.clone();
        let pix_key = transfer.pix_key.clone();
        let now = Utc::now();
        let mut emits = Vec::new();
        match &failure {
            Some(code) => {
                self.book(
                    &account,
                    amount,
                    true,
                    Booking {
                        type_name: "CREDIT_PIX_REVERSAL",
                        description: format!("Estorno de Pix ({code})"),
                        end_to_end_id: Some(end_to_end_id.clone()),
                        idempotency_key: None,
                    },
                );
            }
            None => {
                if let Some(target) = &beneficiary_account {
                    let credited = self.credit_internal_pix(
                        target,
                        &account,
                        amount,
                        &end_to_end_id,
                        pix_key.as_deref(),
                    );
                    emits.extend(credited);
                }
            }
        }
        let Some(transfer) = self.transfers.get_mut(index) else {
            return emits;
        };
        transfer.updated_at = now;
        match &failure {
            Some(code) => {
                transfer.status = "PIX_ERROR".to_owned();
                transfer.error = Some((code.clone(), describe(code).to_owned()));
            }
            None => transfer.status = "PIX_EFFECTIVE".to_owned(),
        }
        let (event_type, status) = match failure {
            Some(_) => ("PIX_PAYMENT_ERROR", "PIX_ERROR"),
            None => ("PIX_PAYMENT_EFFECTIVE", "PIX_EFFECTIVE"),
        };
        let mut body = json!({
            "eventType": event_type,
            "endToEndId": transfer.end_to_end_id,
            "idempotencyKey": transfer.idempotency_key,
            "status": status,
            "amount": num(transfer.amount),
            "createdAt": stamp(transfer.created_at),
            "description": transfer.description,
            "beneficiary": transfer.beneficiary,
        });
        if let Some((code, description)) = &transfer.error {
            body["error"] = json!({"code": code, "description": description});
        }
        body["payer"] = json!({"number": account, "branch": "0001", "type": "CURRENT", "participant": {"ispb": DELBANK_ISPB}});
        emits.insert(
            0,
            Emit {
                account,
                event_type: "PIX_PAYMENT_UPDATED",
                body,
            },
        );
        emits
    }

    /// A Pix between two simulated accounts: credits the target and sends it `PIX_RECEIVED`
    /// (and pays the QR code's charge).
    fn credit_internal_pix(
        &mut self,
        target: &str,
        payer: &str,
        amount: Decimal,
        end_to_end_id: &str,
        key: Option<&str>,
    ) -> Vec<Emit> {
        let nsu = self.book(
            target,
            amount,
            true,
            Booking {
                type_name: "CREDIT_PIX",
                description: "Pix recebido".to_owned(),
                end_to_end_id: Some(end_to_end_id.to_owned()),
                idempotency_key: Some(end_to_end_id.to_owned()),
            },
        );
        self.received.insert(
            end_to_end_id.to_owned(),
            ReceivedPix {
                account: target.to_owned(),
                amount,
                refunded: Decimal::ZERO,
                received_at: Utc::now(),
                last_refund_at: None,
            },
        );
        let payer_json = self.account_json(payer);
        let us = self.account_json(target);
        let mut emits = Vec::new();
        let correlation_id = key
            .filter(|key| self.find_charge(target, key).is_some())
            .map(str::to_owned);
        if let Some(correlation_id) = &correlation_id
            && let Ok(Some(emit)) = self.settle_charge(
                target,
                correlation_id,
                &Payment {
                    amount,
                    nsu,
                    reference_id: end_to_end_id,
                    source: "SPI",
                    payer: &payer_json,
                },
            )
        {
            emits.push(emit);
        }
        emits.insert(0, Emit {
            account: target.to_owned(),
            event_type: "PIX_RECEIVED",
            body: json!({
                "eventType": "PIX_RECEIVED",
                "correlationId": correlation_id.clone().unwrap_or_else(|| end_to_end_id.to_owned()),
                "referenceId": end_to_end_id,
                "endToEndId": end_to_end_id,
                "amount": num(amount),
                "createdAt": stamp(Utc::now()),
                "proof": {
                    "eventType": "PIX_PAYMENT_EFFECTIVE",
                    "endToEndId": end_to_end_id,
                    "idempotencyKey": end_to_end_id,
                    "correlationId": correlation_id,
                    "status": "PIX_EFFECTIVE",
                    "amount": num(amount),
                    "payer": payer_json,
                    "beneficiary": us,
                    "payee": us,
                },
            }),
        });
        emits
    }
}

/// Where a Pix out goes, as resolved by `State::pix_destination`.
struct PixDestination {
    end_to_end_id: String,
    beneficiary: Value,
    /// The simulated account credited on settlement, if the beneficiary is one.
    beneficiary_account: Option<String>,
    pix_key: Option<String>,
    transfer_type: &'static str,
}

/// The destination of a `PIX_MANUAL` transfer: the beneficiary's account given in full (number,
/// branch, participant), with a new end-to-end id.
fn manual_destination(beneficiary: &Value) -> Result<PixDestination, Failure> {
    for field in ["number", "branch", "participantIspb"] {
        if beneficiary
            .get(field)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(Failure::field(
                &format!("beneficiary.{field}"),
                format!("The {field} field is required."),
            ));
        }
    }
    let holder = beneficiary.get("holder").cloned().unwrap_or(Value::Null);
    let account_json = json!({
        "number": beneficiary["number"],
        "branch": beneficiary["branch"],
        "type": beneficiary.get("type").cloned().unwrap_or(json!("CURRENT")),
        "participant": {"ispb": beneficiary["participantIspb"]},
        "holder": holder,
    });
    Ok(PixDestination {
        end_to_end_id: end_to_end_id('E', DELBANK_ISPB),
        beneficiary: account_json,
        beneficiary_account: None,
        pix_key: None,
        transfer_type: "PIX_MANUAL",
    })
}
