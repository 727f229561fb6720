//! The simulator's in-memory bank. Every operation runs under one lock and returns the webhooks it
//! causes ([`Emit`]); the caller sends them after releasing the lock.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};

use crate::{ControlError, DELBANK_ISPB, Knobs, PixIn, SimConfig};

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

fn mask(document: &str) -> String {
    match document.len() {
        11 => format!("***{}**", document.get(3..9).unwrap_or_default()),
        14 => format!("***{}**", document.get(3..12).unwrap_or_default()),
        _ => "***".to_owned(),
    }
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

pub(crate) struct ChargeRecord {
    pub(crate) account: String,
    pub(crate) correlation_id: String,
    pub(crate) charge_type: String,
    pub(crate) amount: Option<Decimal>,
    pub(crate) status: String,
    pub(crate) description: Option<String>,
    pub(crate) due_date: Option<String>,
    pub(crate) payer: Value,
    pub(crate) transaction_id: String,
    pub(crate) payload: String,
    pub(crate) our_number: String,
    pub(crate) digitable_line: Option<String>,
    pub(crate) bar_code: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    pub(crate) payments: Vec<Value>,
}

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

pub(crate) struct ReceivedPix {
    pub(crate) account: String,
    pub(crate) amount: Decimal,
    pub(crate) refunded: Decimal,
    pub(crate) received_at: DateTime<Utc>,
    pub(crate) last_refund_at: Option<DateTime<Utc>>,
}

pub(crate) struct Refund {
    pub(crate) account: String,
    pub(crate) idempotency_key: String,
    pub(crate) end_to_end_id: String,
    pub(crate) original: String,
    pub(crate) amount: Decimal,
    pub(crate) description: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
}

pub(crate) struct DictKey {
    pub(crate) account: String,
    pub(crate) key: String,
    pub(crate) entry_type: String,
    pub(crate) created_at: DateTime<Utc>,
}

pub(crate) struct Customer {
    pub(crate) partner: String,
    pub(crate) document: String,
    pub(crate) name: String,
    pub(crate) legal: bool,
    pub(crate) status: String,
    pub(crate) documents: Vec<String>,
    pub(crate) account: Option<String>,
}

pub(crate) struct Webhook {
    pub(crate) id: u64,
    pub(crate) account: String,
    pub(crate) event_type: String,
    pub(crate) url: String,
    pub(crate) scheme: String,
    pub(crate) authorization: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
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

    // ---- Charges. ----

    pub(crate) fn charge_json(&self, charge: &ChargeRecord) -> Value {
        let account = self.accounts.get(&charge.account);
        json!({
            "bankAccount": charge.account,
            "type": charge.charge_type,
            "correlationId": charge.correlation_id,
            "transactionId": charge.transaction_id,
            "amount": charge.amount.map_or(Value::Null, num),
            "rebateAmount": 0,
            "walletNumber": "112",
            "ourNumber": charge.our_number,
            "description": charge.description,
            "dueDate": charge.due_date,
            "qrCode": charge.payload,
            "qrCodePayload": charge.payload,
            "payloadPix": charge.payload,
            "barCode": charge.bar_code,
            "digitableLine": charge.digitable_line,
            "payer": charge.payer,
            "beneficiary": account.map(|account| json!({
                "branch": account.branch,
                "bankAccount": account.number,
                "document": account.holder_document,
                "name": account.holder_name,
            })),
            "status": charge.status,
            "payments": charge.payments,
            "expiresAt": charge.expires_at.map(stamp_short),
            "createdAt": stamp(charge.created_at),
            "updatedAt": stamp(charge.updated_at),
        })
    }

    pub(crate) fn create_charge(
        &mut self,
        account: &str,
        request: &ChargeInput,
    ) -> Result<Value, Failure> {
        if self.charges.iter().any(|charge| {
            charge.account == account && charge.correlation_id == request.correlation_id
        }) {
            return Err(Failure::new(409, "correlationId already used"));
        }
        if request.correlation_id.trim().is_empty() {
            return Err(Failure::field(
                "correlationId",
                "The correlationId field is required.",
            ));
        }
        let charge_type = request.charge_type.to_ascii_uppercase();
        let is_slip = matches!(charge_type.as_str(), "BANKSLIP" | "BANKSLIP_PIX");
        let known = is_slip || matches!(charge_type.as_str(), "PIX_DYNAMIC" | "PIX_STATIC");
        if !known {
            return Err(Failure::field("type", "The type field is invalid."));
        }
        match request.amount {
            Some(amount) if amount <= Decimal::ZERO => {
                return Err(Failure::field(
                    "amount",
                    "The amount must be greater than zero.",
                ));
            }
            None if charge_type != "PIX_STATIC" => {
                return Err(Failure::field("amount", "The amount field is required."));
            }
            _ => {}
        }
        if is_slip && request.due_date.is_none() {
            return Err(Failure::field("dueDate", "The dueDate field is required."));
        }
        let now = Utc::now();
        let transaction_id = format!("charge{}", random_alphanumeric(20));
        self.next_nsu += 1;
        let our_number = format!("{:08}", self.next_nsu);
        let (digitable_line, bar_code) = match is_slip {
            true => (
                Some(format!("38290{:042}", self.next_nsu)),
                Some(format!("3829{:040}", self.next_nsu)),
            ),
            false => (None, None),
        };
        let status = match is_slip {
            true => "Pending",
            false => "ACTIVE",
        };
        let expires_at = match charge_type.as_str() {
            "PIX_DYNAMIC" => {
                Some(now + chrono::Duration::seconds(request.expires_in.unwrap_or(86_400)))
            }
            _ => None,
        };
        let charge = ChargeRecord {
            account: account.to_owned(),
            correlation_id: request.correlation_id.clone(),
            charge_type,
            amount: request.amount,
            status: status.to_owned(),
            description: request.description.clone(),
            due_date: request.due_date.clone(),
            payer: request.payer.clone(),
            payload: qr_payload(&transaction_id),
            transaction_id,
            our_number,
            digitable_line,
            bar_code,
            created_at: now,
            updated_at: now,
            expires_at,
            payments: Vec::new(),
        };
        let body = self.charge_json(&charge);
        self.charges.push(charge);
        Ok(body)
    }

    pub(crate) fn find_charge(&self, account: &str, id: &str) -> Option<&ChargeRecord> {
        self.charges.iter().find(|charge| {
            charge.account == account
                && (charge.correlation_id == id
                    || charge.transaction_id == id
                    || charge.digitable_line.as_deref() == Some(id)
                    || charge.bar_code.as_deref() == Some(id))
        })
    }

    fn find_charge_mut(&mut self, account: &str, id: &str) -> Option<&mut ChargeRecord> {
        self.charges.iter_mut().find(|charge| {
            charge.account == account
                && (charge.correlation_id == id
                    || charge.transaction_id == id
                    || charge.digitable_line.as_deref() == Some(id)
                    || charge.bar_code.as_deref() == Some(id))
        })
    }

    pub(crate) fn update_charge(
        &mut self,
        account: &str,
        id: &str,
        amount: Option<Decimal>,
        due_date: Option<String>,
        description: Option<String>,
    ) -> Result<(), Failure> {
        let charge = self
            .find_charge_mut(account, id)
            .ok_or_else(Failure::not_found)?;
        if charge.status != "Pending" && charge.status != "ACTIVE" {
            return Err(Failure::new(400, "Only an unpaid charge can be changed"));
        }
        if let Some(amount) = amount {
            charge.amount = Some(amount);
        }
        if due_date.is_some() {
            charge.due_date = due_date;
        }
        if description.is_some() {
            charge.description = description;
        }
        charge.updated_at = Utc::now();
        Ok(())
    }

    pub(crate) fn cancel_charge(&mut self, account: &str, id: &str) -> Result<(), Failure> {
        let charge = self
            .find_charge_mut(account, id)
            .ok_or_else(Failure::not_found)?;
        if charge.payments.is_empty() || charge.charge_type == "PIX_STATIC" {
            charge.status = match charge.charge_type.as_str() {
                "BANKSLIP" | "BANKSLIP_PIX" => "WrittenOff".to_owned(),
                _ => "CANCELED".to_owned(),
            };
            charge.updated_at = Utc::now();
            return Ok(());
        }
        Err(Failure::new(400, "The charge was already paid"))
    }

    /// The account and amount to pay a charge with, if it can be paid.
    pub(crate) fn charge_for_payment(&self, correlation_id: &str) -> Option<(String, Decimal)> {
        let charge = self
            .charges
            .iter()
            .find(|charge| charge.correlation_id == correlation_id)?;
        let payable = matches!(charge.status.as_str(), "Pending" | "ACTIVE");
        match payable || charge.charge_type == "PIX_STATIC" {
            true => Some((charge.account.clone(), charge.amount?)),
            false => None,
        }
    }

    /// Marks a charge paid by `end_to_end_id` (or a bank-slip write-off) and returns its
    /// `CHARGE_PAID` webhook for bank slips.
    fn settle_charge(
        &mut self,
        account: &str,
        correlation_id: &str,
        payment: &Payment<'_>,
    ) -> Result<Option<Emit>, Failure> {
        let Payment {
            amount,
            nsu,
            reference_id,
            source,
            payer,
        } = *payment;
        let payee = self.account_json(account);
        let now = Utc::now();
        let Some(charge) = self.find_charge_mut(account, correlation_id) else {
            return Ok(None);
        };
        let payable = matches!(charge.status.as_str(), "Pending" | "ACTIVE")
            || charge.charge_type == "PIX_STATIC";
        if !payable {
            return Err(Failure::new(400, "The charge cannot be paid"));
        }
        if let Some(expected) = charge.amount
            && charge.charge_type != "PIX_STATIC"
            && expected != amount
        {
            return Err(Failure::new(400, "The amount differs from the charge's"));
        }
        charge.status = match charge.charge_type.as_str() {
            "BANKSLIP" | "BANKSLIP_PIX" => "Paid".to_owned(),
            "PIX_STATIC" => charge.status.clone(),
            _ => "PAID".to_owned(),
        };
        charge.updated_at = now;
        let payer_person = json!({
            "name": payer["holder"]["name"],
            "document": payer["holder"]["document"],
        });
        charge.payments.push(json!({
            "nsu": nsu,
            "correlationId": charge.correlation_id,
            "referenceId": reference_id,
            "source": source,
            "createdAt": stamp(now),
            "payer": payer_person,
            "amount": num(amount),
        }));
        if !matches!(charge.charge_type.as_str(), "BANKSLIP" | "BANKSLIP_PIX") {
            return Ok(None);
        }
        let body = json!({
            "nsu": nsu,
            "correlationId": charge.correlation_id,
            "referenceId": reference_id,
            "source": source,
            "amount": num(amount),
            "createdAt": stamp(now),
            "payer": payer_person,
            "proof": {
                "endToEndId": if source == "SPI" { Value::String(reference_id.to_owned()) } else { Value::Null },
                "transactionId": charge.transaction_id,
                "key": charge.correlation_id,
                "amount": num(amount),
                "payer": payer,
                "payee": payee,
            },
        });
        Ok(Some(Emit {
            account: account.to_owned(),
            event_type: "CHARGE_PAID",
            body,
        }))
    }

    /// `simulate-conclude`: pays a bank slip (by digitable line or bar code) or its QR code (by
    /// correlation id).
    pub(crate) fn simulate_conclude(
        &mut self,
        account: &str,
        id: &str,
        kind: &str,
    ) -> Result<(Value, Vec<Emit>), Failure> {
        let charge = self
            .find_charge(account, id)
            .ok_or_else(Failure::not_found)?;
        let Some(amount) = charge.amount else {
            return Err(Failure::new(400, "The charge has no amount"));
        };
        let correlation_id = charge.correlation_id.clone();
        let our_number = charge.our_number.clone();
        let bar_code = charge.bar_code.clone();
        let digitable_line = charge.digitable_line.clone();
        if kind.eq_ignore_ascii_case("PIX") {
            let (_, emits) = self.receive_pix(&PixIn {
                account: Some(account.to_owned()),
                amount,
                correlation_id: Some(correlation_id.clone()),
                payer_name: Some("PAGADOR SIMULADO".to_owned()),
                payer_document: Some("52998224725".to_owned()),
                payer_ispb: None,
            })?;
            let body =
                json!({"correlationId": correlation_id, "amount": num(amount), "source": "SPI"});
            return Ok((body, emits));
        }
        let reference_id = format!("PCR{}", random_alphanumeric(17));
        let payer = json!({
            "number": "1", "branch": "1", "type": "CURRENT",
            "participant": {"name": "BANCO SIMULADO", "ispb": OTHER_ISPB},
            "holder": {"name": "PAGADOR SIMULADO", "document": "***982247**", "type": "NATURAL"},
        });
        let nsu = self.book(
            account,
            amount,
            true,
            Booking {
                type_name: "CREDIT_BANKSLIP",
                description: "Liquidação de boleto".to_owned(),
                end_to_end_id: None,
                idempotency_key: None,
            },
        );
        let emit = self.settle_charge(
            account,
            &correlation_id,
            &Payment {
                amount,
                nsu,
                reference_id: &reference_id,
                source: "PCR",
                payer: &payer,
            },
        )?;
        let now = Utc::now();
        let body = json!({
            "correlationId": correlation_id,
            "referenceId": reference_id,
            "amount": num(amount),
            "source": "PCR",
            "date": stamp(now),
            "paymentDate": stamp(now),
            "issuer": {"ispb": OTHER_ISPB, "code": "260", "branch": "0001", "agency": "0001", "name": "BANCO SIMULADO", "type": "PJ", "document": "18236120000158", "fantasyName": "SIMULADO"},
            "additionalData": {"simulator": "DelbankSimulator", "message": "Payment simulated", "bankAccount": account, "correlationId": correlation_id, "ourNumber": our_number, "barCode": bar_code, "digitableLine": digitable_line},
        });
        Ok((body, emit.into_iter().collect()))
    }

    // ---- Pix in. ----

    pub(crate) fn pix_in(&mut self, pix: &PixIn) -> Result<(String, Vec<Emit>), ControlError> {
        self.receive_pix(pix).map_err(ControlError::from)
    }

    fn receive_pix(&mut self, pix: &PixIn) -> Result<(String, Vec<Emit>), Failure> {
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
        let end_to_end_id = end_to_end_id('E', pix.payer_ispb.as_deref().unwrap_or(OTHER_ISPB));
        let payer_document = pix
            .payer_document
            .as_deref()
            .map_or_else(|| "***982247**".to_owned(), mask);
        let payer_ispb = pix
            .payer_ispb
            .clone()
            .unwrap_or_else(|| OTHER_ISPB.to_owned());
        let payer = json!({
            "number": "778899", "branch": "1", "type": "PAYMENT",
            "participant": {"name": "NU PAGAMENTOS - IP", "ispb": payer_ispb},
            "holder": {"name": pix.payer_name.clone().unwrap_or_else(|| "PAGADOR".to_owned()), "document": payer_document, "type": "NATURAL"},
        });
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
        let us = self.account_json(&account);
        let correlation_id = pix
            .correlation_id
            .clone()
            .unwrap_or_else(|| format!("S{}", random_alphanumeric(24)));
        emits.insert(
            0,
            Emit {
                account: account.clone(),
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
            },
        );
        Ok((end_to_end_id, emits))
    }

    // ---- Pix out. ----

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
        if input.amount <= Decimal::ZERO {
            return Err(Failure::field(
                "amount",
                "The amount must be greater than zero.",
            ));
        }
        let balance = self
            .accounts
            .get(account)
            .map_or(Decimal::ZERO, |account| account.balance);
        if balance < input.amount {
            return Err(Failure::new(400, "Insufficient balance"));
        }
        let now = Utc::now();
        let id = uuid();
        if let Some(target) = &input.beneficiary_account {
            if !self.accounts.contains_key(target) || target == account {
                return Err(Failure::field(
                    "beneficiaryAccount",
                    "The beneficiary account is invalid.",
                ));
            }
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
                beneficiary_account: Some(target.clone()),
                pix_key: None,
                created_at: now,
                updated_at: now,
            };
            let body = |event: &str, state: &State| {
                json!({
                    "id": transfer.id,
                    "externalId": transfer.external_id,
                    "eventType": event,
                    "status": "EFFECTIVE",
                    "paymentChannel": "API",
                    "type": "INTERNAL",
                    "amount": num(transfer.amount),
                    "createdAt": stamp(now),
                    "payer": state.account_json(account),
                    "beneficiary": state.account_json(target),
                })
            };
            let emits = vec![
                Emit {
                    account: account.to_owned(),
                    event_type: "TRANSFER_INTERNAL_DEBITED",
                    body: body("TRANSFER_INTERNAL_DEBITED", self),
                },
                Emit {
                    account: target.clone(),
                    event_type: "TRANSFER_INTERNAL_CREDITED",
                    body: body("TRANSFER_INTERNAL_CREDITED", self),
                },
            ];
            self.transfers.push(transfer);
            return Ok((id, emits));
        }
        let (end_to_end_id, beneficiary, beneficiary_account, pix_key, transfer_type) =
            match (&input.end_to_end_id, &input.beneficiary) {
                (Some(end_to_end_id), _) => {
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
                    (
                        end_to_end_id.clone(),
                        init.beneficiary.clone(),
                        init.beneficiary_account.clone(),
                        Some(init.key.clone()),
                        transfer_type,
                    )
                }
                (None, Some(beneficiary)) => {
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
                    (
                        end_to_end_id('E', DELBANK_ISPB),
                        account_json,
                        None,
                        None,
                        "PIX_MANUAL",
                    )
                }
                (None, None) => {
                    return Err(Failure::field(
                        "endToEndId",
                        "The endToEndId field is required.",
                    ));
                }
            };
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
                end_to_end_id: Some(end_to_end_id.clone()),
                idempotency_key: Some(idempotency_key.to_owned()),
            },
        );
        self.transfers.push(Transfer {
            id: id.clone(),
            account: account.to_owned(),
            idempotency_key: idempotency_key.to_owned(),
            end_to_end_id: Some(end_to_end_id),
            status: "PIX_PROCESSING".to_owned(),
            transfer_type: transfer_type.to_owned(),
            amount: input.amount,
            description: input.description.clone(),
            external_id: input.external_id.clone(),
            nsu,
            error: None,
            beneficiary,
            beneficiary_account,
            pix_key,
            created_at: now,
            updated_at: now,
        });
        Ok((id, Vec::new()))
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

    // ---- Refunds. ----

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

    // ---- DICT keys. ----

    pub(crate) fn create_key(
        &mut self,
        account: &str,
        entry_type: &str,
        key: Option<&str>,
    ) -> Result<Value, Failure> {
        let entry_type = entry_type.to_ascii_uppercase();
        let value = match entry_type.as_str() {
            "EVP" => uuid::Uuid::from_bytes(rand::random())
                .hyphenated()
                .to_string(),
            "DOCUMENT" => self
                .accounts
                .get(account)
                .map(|account| account.holder_document.clone())
                .unwrap_or_default(),
            "EMAIL" | "PHONE" => match key {
                Some(key) if !key.trim().is_empty() => key.trim().to_owned(),
                _ => {
                    return Err(Failure::field(
                        "key",
                        "The key field is required for PHONE and EMAIL.",
                    ));
                }
            },
            _ => {
                return Err(Failure::field(
                    "entryType",
                    "The entryType field is invalid.",
                ));
            }
        };
        if self
            .keys
            .iter()
            .filter(|entry| entry.account == account)
            .count()
            >= 5
        {
            return Err(Failure::new(400, "An account may have at most 5 Pix keys"));
        }
        if self.keys.iter().any(|entry| entry.key == value) {
            return Err(Failure::new(409, "The key is already registered"));
        }
        let now = Utc::now();
        self.keys.push(DictKey {
            account: account.to_owned(),
            key: value.clone(),
            entry_type: entry_type.clone(),
            created_at: now,
        });
        Ok(
            json!({"key": value, "entryType": entry_type, "createdAt": stamp(now), "status": "ACTIVE"}),
        )
    }

    pub(crate) fn list_keys(&self, account: &str) -> Value {
        Value::Array(
            self.keys
                .iter()
                .filter(|entry| entry.account == account)
                .map(|entry| json!({"key": entry.key, "entryType": entry.entry_type, "createdAt": stamp(entry.created_at), "status": "ACTIVE"}))
                .collect(),
        )
    }

    pub(crate) fn delete_key(&mut self, account: &str, key: &str) -> Result<(), Failure> {
        let before = self.keys.len();
        self.keys
            .retain(|entry| !(entry.account == account && entry.key == key));
        match self.keys.len() < before {
            true => Ok(()),
            false => Err(Failure::not_found()),
        }
    }

    // ---- Statement and balance. ----

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

    // ---- White-label onboarding. ----

    pub(crate) fn create_customer(
        &mut self,
        partner: &str,
        document: &str,
        name: &str,
        legal: bool,
    ) -> Result<Value, Failure> {
        let digits: String = document
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let expected = if legal { 14 } else { 11 };
        if digits.len() != expected {
            return Err(Failure::field("document", "The document is invalid."));
        }
        if name.trim().is_empty() {
            return Err(Failure::field(
                if legal { "corporateName" } else { "name" },
                "The name field is required.",
            ));
        }
        if self.customers.contains_key(&digits) {
            return Err(Failure::new(
                409,
                "A customer with this document already exists",
            ));
        }
        let customer = Customer {
            partner: partner.to_owned(),
            document: digits.clone(),
            name: name.to_owned(),
            legal,
            status: "PENDING_DOCUMENTATION".to_owned(),
            documents: Vec::new(),
            account: None,
        };
        let body = customer_json(&customer);
        self.customers.insert(digits, customer);
        Ok(body)
    }

    pub(crate) fn customer(&self, partner: &str, document: &str) -> Result<&Customer, Failure> {
        match self.customers.get(document) {
            Some(customer) if customer.partner == partner => Ok(customer),
            _ => Err(Failure::new(404, "Customer not found")),
        }
    }

    pub(crate) fn add_document(
        &mut self,
        partner: &str,
        document: &str,
        document_type: &str,
    ) -> Result<(), Failure> {
        self.customer(partner, document)?;
        let known = [
            "SELFIE",
            "CNH_FULL",
            "CNH_FRONT",
            "CNH_BACK",
            "RG_FULL",
            "RG_FRONT",
            "RG_BACK",
            "PERSON_LEGAL_SOCIAL_CONTRACT",
            "PERSON_LEGAL_LATEST_CHANGES",
            "PERSON_LEGAL_REVENUES",
        ];
        let document_type = document_type.to_ascii_uppercase();
        if !known.contains(&document_type.as_str()) {
            return Err(Failure::field(
                "documentType",
                "The documentType field is invalid.",
            ));
        }
        let Some(customer) = self.customers.get_mut(document) else {
            return Err(Failure::new(404, "Customer not found"));
        };
        if !customer.documents.contains(&document_type) {
            customer.documents.push(document_type);
        }
        let has = |name: &str| customer.documents.iter().any(|held| held == name);
        let complete = match customer.legal {
            true => has("PERSON_LEGAL_SOCIAL_CONTRACT"),
            false => {
                has("SELFIE")
                    && (has("CNH_FULL")
                        || (has("CNH_FRONT") && has("CNH_BACK"))
                        || has("RG_FULL")
                        || (has("RG_FRONT") && has("RG_BACK")))
            }
        };
        if complete
            && matches!(
                customer.status.as_str(),
                "PENDING_DOCUMENTATION" | "DOCUMENTATION_REJECTED"
            )
        {
            customer.status = "PENDING_ANALYSIS".to_owned();
        }
        Ok(())
    }

    pub(crate) fn approve(&mut self, document: &str) -> Result<(String, Vec<Emit>), ControlError> {
        let Some(customer) = self.customers.get(document) else {
            return Err(ControlError(format!("no customer {document}")));
        };
        if customer.status != "PENDING_ANALYSIS" {
            return Err(ControlError(format!(
                "customer is {}, not PENDING_ANALYSIS",
                customer.status
            )));
        }
        self.next_account += 1;
        let number = self.next_account.to_string();
        let partner = customer.partner.clone();
        let name = customer.name.clone();
        self.accounts.insert(
            number.clone(),
            Account {
                number: number.clone(),
                branch: "0001".to_owned(),
                api_key: format!("sim-key-{number}-{}", random_alphanumeric(16)),
                holder_name: name.clone(),
                holder_document: document.to_owned(),
                balance: Decimal::ZERO,
                parent: Some(partner.clone()),
                transactions: Vec::new(),
            },
        );
        if let Some(customer) = self.customers.get_mut(document) {
            customer.status = "APPROVED".to_owned();
            customer.account = Some(number.clone());
        }
        let account_number = number
            .parse::<u64>()
            .map_or(Value::Null, |number| json!(number));
        let body = json!({"name": name, "document": document, "bankAccountNumber": account_number});
        Ok((
            number,
            vec![Emit {
                account: partner,
                event_type: "WHITELABEL_CUSTOMER_APPROVED",
                body,
            }],
        ))
    }

    pub(crate) fn reject(&mut self, document: &str) -> Result<Vec<Emit>, ControlError> {
        let Some(customer) = self.customers.get_mut(document) else {
            return Err(ControlError(format!("no customer {document}")));
        };
        if customer.status != "PENDING_ANALYSIS" {
            return Err(ControlError(format!(
                "customer is {}, not PENDING_ANALYSIS",
                customer.status
            )));
        }
        customer.status = "DOCUMENTATION_REJECTED".to_owned();
        customer.documents.clear();
        let body =
            json!({"name": customer.name, "document": document, "bankAccountNumber": Value::Null});
        Ok(vec![Emit {
            account: customer.partner.clone(),
            event_type: "WHITELABEL_CUSTOMER_DOCUMENTATION_REJECTED",
            body,
        }])
    }

    pub(crate) fn bank_accounts(&self, customer: &Customer) -> Value {
        let accounts: Vec<Value> = customer
            .account
            .as_ref()
            .and_then(|number| self.accounts.get(number))
            .map(|account| json!({"status": customer.status, "number": account.number, "branch": account.branch, "apiKey": account.api_key, "bank": {"code": "435"}}))
            .into_iter()
            .collect();
        Value::Array(accounts)
    }

    // ---- Webhooks. ----

    pub(crate) fn webhook_json(webhook: &Webhook) -> Value {
        json!({
            "id": webhook.id,
            "bankAccount": webhook.account,
            "eventType": webhook.event_type,
            "url": webhook.url,
            "authorization": webhook.authorization,
            "externalId": Value::Null,
            "createdAt": stamp(webhook.created_at),
            "updatedAt": stamp(webhook.updated_at),
            "authorizationScheme": webhook.scheme,
        })
    }

    /// The registrations that receive `event_type` for `account`: its own and its partner's.
    pub(crate) fn targets(
        &self,
        account: &str,
        event_type: &str,
    ) -> Vec<(u64, String, String, String)> {
        let parent = self
            .accounts
            .get(account)
            .and_then(|account| account.parent.clone());
        self.webhooks
            .iter()
            .filter(|webhook| webhook.event_type == event_type)
            .filter(|webhook| {
                webhook.account == account || Some(&webhook.account) == parent.as_ref()
            })
            .map(|webhook| {
                (
                    webhook.id,
                    webhook.url.clone(),
                    webhook.scheme.clone(),
                    webhook.authorization.clone(),
                )
            })
            .collect()
    }
}

/// A payment of a charge.
#[derive(Clone, Copy)]
pub(crate) struct Payment<'a> {
    pub(crate) amount: Decimal,
    pub(crate) nsu: u64,
    pub(crate) reference_id: &'a str,
    pub(crate) source: &'a str,
    pub(crate) payer: &'a Value,
}

/// What a booking records besides the amount.
pub(crate) struct Booking {
    pub(crate) type_name: &'static str,
    pub(crate) description: String,
    pub(crate) end_to_end_id: Option<String>,
    pub(crate) idempotency_key: Option<String>,
}

/// A charge to create, from either charge route or the v2 QR routes.
pub(crate) struct ChargeInput {
    pub(crate) charge_type: String,
    pub(crate) correlation_id: String,
    pub(crate) amount: Option<Decimal>,
    pub(crate) description: Option<String>,
    pub(crate) due_date: Option<String>,
    pub(crate) expires_in: Option<i64>,
    pub(crate) payer: Value,
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

/// Statement filters.
#[derive(Default)]
pub(crate) struct StatementQuery {
    pub(crate) is_credit: Option<bool>,
    pub(crate) types: Vec<String>,
    pub(crate) nsu: Option<u64>,
    pub(crate) end_to_end_id: Option<String>,
}

pub(crate) fn customer_json(customer: &Customer) -> Value {
    json!({
        "document": customer.document,
        "name": customer.name,
        "type": if customer.legal { "LEGAL" } else { "NATURAL" },
        "status": customer.status,
        "documents": customer.documents,
    })
}

fn qr_payload(transaction_id: &str) -> String {
    format!(
        "00020101021226890014br.gov.bcb.pix2567sim.delbank.local/qr/{transaction_id}5204000053039865802BR5911DELBANK SIM6009SAO PAULO62070503***6304ABCD"
    )
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
