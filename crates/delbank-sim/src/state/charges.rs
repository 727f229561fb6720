//! Charges: Pix QR codes (dynamic and static) and bank slips, their payment, and
//! `simulate-conclude`.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{
    Booking, Emit, Failure, OTHER_ISPB, State, num, random_alphanumeric, stamp, stamp_short,
};
use crate::PixIn;

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

/// A payment of a charge.
#[derive(Clone, Copy)]
pub(crate) struct Payment<'a> {
    pub(crate) amount: Decimal,
    pub(crate) nsu: u64,
    pub(crate) reference_id: &'a str,
    pub(crate) source: &'a str,
    pub(crate) payer: &'a Value,
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

impl State {
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
    pub(super) fn settle_charge(
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
}

fn qr_payload(transaction_id: &str) -> String {
    format!(
        "00020101021226890014br.gov.bcb.pix2567sim.delbank.local/qr/{transaction_id}5204000053039865802BR5911DELBANK SIM6009SAO PAULO62070503***6304ABCD"
    )
}
