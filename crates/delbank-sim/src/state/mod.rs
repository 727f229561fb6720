//! The simulator's in-memory bank. Every operation runs under one lock and returns the webhooks it
//! causes ([`Emit`]); the caller sends them after releasing the lock.
//!
//! # Layout
//!
//! - this file: [`State`] and the accounts, the shared helpers (amounts, timestamps, ids, booking a
//!   transaction), authentication and the idempotency cache.
//! - `charges`: charges (Pix QR codes and bank slips), their payment and `simulate-conclude`.
//! - `pix_in`: a Pix received from another bank.
//! - `transfers`: Pix out (key and QR initializations, transfers) and internal transfers, and the
//!   settlement of a Pix in processing.
//! - `refunds`: refunds we send and refunds we receive.
//! - `keys`: DICT keys.
//! - `statement`: the statement.
//! - `customers`: white-label onboarding (customers, their documents and accounts).
//! - `webhooks`: webhook registrations and the targets of an event.

mod charges;
mod customers;
mod keys;
mod pix_in;
mod refunds;
mod statement;
mod transfers;
mod webhooks;

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};

use crate::{ControlError, DELBANK_ISPB, Knobs, SimConfig};

pub(crate) use self::charges::{ChargeInput, ChargeRecord};
pub(crate) use self::customers::{Customer, customer_json};
pub(crate) use self::keys::DictKey;
pub(crate) use self::pix_in::ReceivedPix;
pub(crate) use self::refunds::Refund;
pub(crate) use self::statement::StatementQuery;
pub(crate) use self::transfers::{Initialization, Transfer, TransferInput};
pub(crate) use self::webhooks::Webhook;

/// The ISPB of "the other bank" in simulated Pix.
pub(crate) const OTHER_ISPB: &str = "18236120";

/// A webhook to send: to the registrations of `account` (and of its partner) for `event_type`.
#[derive(Debug, Clone)]
pub(crate) struct Emit {
    pub(crate) account: String,
    pub(crate) event_type: &'static str,
    pub(crate) body: Value,
}

/// A BaaS API request, as received.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    /// `GET`, `POST`...
    pub method: String,
    /// The path.
    pub path: String,
    /// The `IdempotencyKey` header, if sent.
    pub idempotency_key: Option<String>,
    /// The `x-delfinance-account-id` header, if sent.
    pub account_id: Option<String>,
    /// The status answered.
    pub status: u16,
}

/// One webhook delivery attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// The registration's id.
    pub webhook_id: u64,
    /// The registered event type.
    pub event_type: String,
    /// The URL called.
    pub url: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Whether this was a deliberate duplicate.
    pub duplicate: bool,
    /// Whether the credential was deliberately wrong.
    pub wrong_credential: bool,
    /// The status received; `None` on a connection failure or timeout.
    pub status: Option<u16>,
    /// The body sent.
    pub body: String,
}

/// A failure answered as problem details.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) status: u16,
    pub(crate) title: String,
    pub(crate) errors: Option<BTreeMap<String, Vec<String>>>,
}

impl Failure {
    pub(crate) fn new(status: u16, title: impl Into<String>) -> Failure {
        Failure {
            status,
            title: title.into(),
            errors: None,
        }
    }

    pub(crate) fn field(field: &str, message: impl Into<String>) -> Failure {
        let mut errors = BTreeMap::new();
        errors.insert(format!("$.{field}"), vec![message.into()]);
        Failure {
            status: 400,
            title: "One or more validation errors occurred.".to_owned(),
            errors: Some(errors),
        }
    }

    pub(crate) fn not_found() -> Failure {
        Failure::new(404, "Not Found")
    }
}

impl From<Failure> for ControlError {
    fn from(failure: Failure) -> ControlError {
        ControlError(failure.title)
    }
}

/// An exact JSON number.
pub(crate) fn num(amount: Decimal) -> Value {
    match serde_json::Number::from_str(&amount.normalize().to_string()) {
        Ok(number) => Value::Number(number),
        Err(_) => Value::Null,
    }
}

/// `2025-07-11T15:32:41.0613001Z`-style timestamps (7 digits, like .NET).
pub(crate) fn stamp(time: DateTime<Utc>) -> String {
    let micros = time.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    format!("{micros}0Z")
}

fn stamp_short(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn random_alphanumeric(length: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..length)
        .map(|_| {
            let index = rand::random_range(0..ALPHABET.len());
            char::from(ALPHABET.get(index).copied().unwrap_or(b'x'))
        })
        .collect()
}

/// A valid 32-character end-to-end id: letter, ISPB, `yyyyMMddHHmm`, 11 alphanumerics.
pub(crate) fn end_to_end_id(letter: char, ispb: &str) -> String {
    format!(
        "{letter}{ispb}{}{}",
        Utc::now().format("%Y%m%d%H%M"),
        random_alphanumeric(11)
    )
}

fn uuid() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

pub(crate) struct Account {
    pub(crate) number: String,
    pub(crate) branch: String,
    pub(crate) api_key: String,
    pub(crate) holder_name: String,
    pub(crate) holder_document: String,
    pub(crate) balance: Decimal,
    /// The partner account that opened this one (white-label), if any.
    pub(crate) parent: Option<String>,
    pub(crate) transactions: Vec<Transaction>,
}

pub(crate) struct Transaction {
    pub(crate) nsu: u64,
    pub(crate) amount: Decimal,
    pub(crate) is_credit: bool,
    pub(crate) type_name: &'static str,
    pub(crate) description: String,
    pub(crate) end_to_end_id: Option<String>,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
}

/// A replayable answer stored under an idempotency key, with the fingerprint of its request.
pub(crate) struct Replay {
    pub(crate) fingerprint: String,
    pub(crate) status: u16,
    pub(crate) body: Value,
}

pub(crate) struct State {
    pub(crate) accounts: BTreeMap<String, Account>,
    /// The first configured account.
    pub(crate) primary: Option<String>,
    pub(crate) next_nsu: u64,
    pub(crate) next_account: u64,
    pub(crate) next_webhook: u64,
    pub(crate) charges: Vec<ChargeRecord>,
    pub(crate) initializations: HashMap<String, Initialization>,
    pub(crate) transfers: Vec<Transfer>,
    pub(crate) received: HashMap<String, ReceivedPix>,
    pub(crate) refunds: Vec<Refund>,
    pub(crate) keys: Vec<DictKey>,
    pub(crate) customers: BTreeMap<String, Customer>,
    pub(crate) webhooks: Vec<Webhook>,
    pub(crate) replays: HashMap<(String, String), Replay>,
    pub(crate) knobs: Knobs,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) deliveries: Vec<Delivery>,
    pub(crate) refund_spacing: chrono::Duration,
}

impl State {
    pub(crate) fn new(config: &SimConfig) -> State {
        let accounts = config
            .accounts
            .iter()
            .map(|account| {
                (
                    account.number.clone(),
                    Account {
                        number: account.number.clone(),
                        branch: account.branch.clone(),
                        api_key: account.api_key.clone(),
                        holder_name: account.holder_name.clone(),
                        holder_document: account.holder_document.clone(),
                        balance: account.balance,
                        parent: None,
                        transactions: Vec::new(),
                    },
                )
            })
            .collect();
        State {
            accounts,
            primary: config
                .accounts
                .first()
                .map(|account| account.number.clone()),
            next_nsu: 1000,
            next_account: 40000,
            next_webhook: 1,
            charges: Vec::new(),
            initializations: HashMap::new(),
            transfers: Vec::new(),
            received: HashMap::new(),
            refunds: Vec::new(),
            keys: Vec::new(),
            customers: BTreeMap::new(),
            webhooks: Vec::new(),
            replays: HashMap::new(),
            knobs: Knobs::default(),
            requests: Vec::new(),
            deliveries: Vec::new(),
            refund_spacing: chrono::Duration::from_std(config.refund_spacing)
                .unwrap_or_else(|_| chrono::Duration::minutes(2)),
        }
    }

    /// The account an API key operates, checking `x-delfinance-account-id` (its own account or one
    /// it opened as a white-label partner).
    pub(crate) fn authenticate(
        &self,
        api_key: &str,
        account_id: Option<&str>,
    ) -> Result<String, Failure> {
        let Some(own) = self
            .accounts
            .values()
            .find(|account| account.api_key == api_key)
        else {
            return Err(Failure::new(401, "Unauthorized"));
        };
        let Some(requested) = account_id else {
            return Ok(own.number.clone());
        };
        if requested == own.number {
            return Ok(own.number.clone());
        }
        match self.accounts.get(requested) {
            Some(child) if child.parent.as_deref() == Some(own.number.as_str()) => {
                Ok(child.number.clone())
            }
            _ => Err(Failure::new(401, "Unauthorized")),
        }
    }

    /// The first configured account (the default target of control operations).
    fn first_account(&self) -> Option<String> {
        self.primary.clone()
    }

    fn account_json(&self, number: &str) -> Value {
        match self.accounts.get(number) {
            Some(account) => json!({
                "number": account.number,
                "branch": account.branch,
                "type": "CURRENT",
                "participant": {"name": "DELCRED SCD S.A.", "ispb": DELBANK_ISPB},
                "holder": {
                    "name": account.holder_name,
                    "document": account.holder_document,
                    "type": if account.holder_document.len() == 14 { "LEGAL" } else { "NATURAL" },
                },
            }),
            None => Value::Null,
        }
    }

    /// Books a transaction and returns its NSU.
    fn book(&mut self, account: &str, amount: Decimal, is_credit: bool, booking: Booking) -> u64 {
        self.next_nsu += 1;
        let nsu = self.next_nsu;
        if let Some(account) = self.accounts.get_mut(account) {
            match is_credit {
                true => account.balance += amount,
                false => account.balance -= amount,
            }
            account.transactions.push(Transaction {
                nsu,
                amount,
                is_credit,
                type_name: booking.type_name,
                description: booking.description,
                end_to_end_id: booking.end_to_end_id,
                idempotency_key: booking.idempotency_key,
                created_at: Utc::now(),
            });
        }
        nsu
    }

    // ---- Idempotency. ----

    pub(crate) fn replay(
        &self,
        account: &str,
        key: &str,
        fingerprint: &str,
    ) -> Option<Result<(u16, Value), Failure>> {
        let replay = self.replays.get(&(account.to_owned(), key.to_owned()))?;
        if replay.fingerprint != fingerprint {
            return Some(Err(Failure::new(
                409,
                "IdempotencyKey already used with another request",
            )));
        }
        Some(Ok((replay.status, replay.body.clone())))
    }

    pub(crate) fn remember(
        &mut self,
        account: &str,
        key: &str,
        fingerprint: &str,
        status: u16,
        body: &Value,
    ) {
        self.replays.insert(
            (account.to_owned(), key.to_owned()),
            Replay {
                fingerprint: fingerprint.to_owned(),
                status,
                body: body.clone(),
            },
        );
    }
}

/// What a booking records besides the amount.
pub(crate) struct Booking {
    pub(crate) type_name: &'static str,
    pub(crate) description: String,
    pub(crate) end_to_end_id: Option<String>,
    pub(crate) idempotency_key: Option<String>,
}

fn describe(code: &str) -> &'static str {
    match code {
        "AC03" => "Agência ou conta do recebedor inválida",
        "AC06" => "Conta bloqueada",
        "AC07" => "Conta encerrada",
        "AM02" => "Valor acima do permitido",
        "DEL20" => "Pix original ainda não processado",
        _ => "Erro no processamento",
    }
}
