//! [`BankingProvider`] for Delbank, on top of [`Client`].
//!
//! - Charges: Pix charges through `POST /baas/api/v1/charges`, bank slips through
//!   `POST /baas/v1/charges`; the charge id is its `correlationId`, which is the caller's
//!   `correlation_id` or a GUID derived from the idempotency key. A repeated create (409 on the
//!   correlation id) returns the existing charge when it is the same charge.
//! - Pix: by key (payment initialization, then transfer) or to account data (manual Pix), under an
//!   `IdempotencyKey` GUID derived from the caller's key; a transfer already made under that key is
//!   returned instead of paying again.
//! - Accounts: white-label customers, identified by the holder's document (Delbank's key for
//!   them); balance and statement of another account of the API key go through
//!   `x-delfinance-account-id`.

use async_trait::async_trait;
use http::Method;
use providers::{
    Account, AccountDocument, Balance, BankingProvider, Charge, ChargeKind, Document, DocumentKind,
    IdempotencyKey, Money, NewAccount, NewCharge, NewPixKey, Page, PageRequest, PixDestination,
    PixKey, PixKeyKind, PixRefund, PixRefundRequest, PixTransfer, PixTransferRequest,
    PixTransferStatus, ProviderError, StatementEntry, percent_encode_path_segment,
};

use crate::client::{Call, Client, MAX_PAGE_SIZE, guid_for, has_more_pages};
use crate::convert;
use crate::wire::{self, WireAmount};

/// Delbank's ISPB: account data at this institution is a Delbank account.
pub const DELBANK_ISPB: &str = "38224857";

fn rejected(param: &str, message: &str) -> ProviderError {
    ProviderError::Rejected {
        status: 400,
        code: "invalid_request".to_owned(),
        message: message.to_owned(),
        param: Some(param.to_owned()),
        field_errors: Vec::new(),
    }
}

fn page_number(page: &PageRequest) -> Result<u64, ProviderError> {
    match &page.cursor {
        None => Ok(1),
        Some(cursor) => cursor
            .parse::<u64>()
            .ok()
            .filter(|page| *page >= 1)
            .ok_or_else(|| rejected("cursor", "not a cursor of this list")),
    }
}

impl Client {
    async fn page_of<W, T>(
        &self,
        call: Call,
        page: u64,
        limit: u32,
        convert: fn(W) -> Result<T, ProviderError>,
    ) -> Result<Page<T>, ProviderError>
    where
        W: serde::de::DeserializeOwned,
    {
        let call = call.query("page", page).query("limit", limit);
        let (items, pagination) = self.page::<W>(&call).await?;
        let more = has_more_pages(page, pagination, items.len(), limit);
        let items = items
            .into_iter()
            .map(convert)
            .collect::<Result<Vec<T>, ProviderError>>()?;
        Ok(Page {
            items,
            next_cursor: more.then(|| (page + 1).to_string()),
        })
    }

    /// The account number behind an account id: a document is resolved through the customer's
    /// bank accounts, anything else is taken as an account number.
    async fn account_number(&self, account_id: &str) -> Result<Option<String>, ProviderError> {
        if account_id == self.account_id() {
            return Ok(None);
        }
        let Ok(document) = Document::parse(account_id) else {
            // The number travels in a header: text that cannot be one names no account.
            if account_id.is_empty() || !account_id.bytes().all(|byte| byte.is_ascii_graphic()) {
                return Err(ProviderError::NotFound {
                    resource: "bank account".to_owned(),
                    code: None,
                });
            }
            return Ok(Some(account_id.to_owned()));
        };
        let accounts = self.bank_accounts(&document).await?;
        let number = accounts.into_iter().find_map(|account| account.number);
        match number {
            Some(number) => Ok(Some(number)),
            None => Err(ProviderError::NotFound {
                resource: "bank account".to_owned(),
                code: None,
            }),
        }
    }

    async fn bank_accounts(
        &self,
        document: &Document,
    ) -> Result<Vec<wire::WireBankAccount>, ProviderError> {
        let call = Call::new(
            "get_account",
            Method::GET,
            format!(
                "/baas/api/v1/customers/{}/bank-accounts",
                percent_encode_path_segment(document.expose())
            ),
            "account",
        );
        self.fetch(&call).await
    }

    async fn customer(&self, document: &Document) -> Result<Account, ProviderError> {
        let call = Call::new(
            "get_account",
            Method::GET,
            format!(
                "/baas/api/v1/customers/{}",
                percent_encode_path_segment(document.expose())
            ),
            "account",
        );
        let customer: wire::WireCustomer = self.fetch(&call).await?;
        let bank_account = match &customer.status {
            Some(wire::CustomerStatus::Approved | wire::CustomerStatus::Active) => {
                self.bank_accounts(document).await?.into_iter().next()
            }
            _ => None,
        };
        convert::account(document.clone(), customer, bank_account)
    }
}

fn parse_account_id(id: &str) -> Result<Document, ProviderError> {
    Document::parse(id).map_err(|_| ProviderError::NotFound {
        resource: "account".to_owned(),
        code: None,
    })
}

#[async_trait]
impl BankingProvider for Client {
    async fn create_charge(
        &self,
        req: NewCharge,
        key: &IdempotencyKey,
    ) -> Result<Charge, ProviderError> {
        let amount = req
            .amount
            .ensure_payment_amount()
            .and_then(|amount| amount.with_max_scale(2))
            .map_err(|error| rejected("amount", &error.to_string()))?;
        let correlation_id = req.correlation_id.clone().unwrap_or_else(|| guid_for(key));
        let is_slip = matches!(req.kind, ChargeKind::Bankslip | ChargeKind::BankslipPix);
        if is_slip && (req.payer.is_none() || req.due_date.is_none()) {
            return Err(rejected(
                "payer",
                "a bank slip needs a payer and a due date",
            ));
        }
        let body = wire::ChargeRequest {
            charge_type: convert::charge_type(req.kind),
            correlation_id: correlation_id.clone(),
            amount: WireAmount(amount.amount()),
            description: req.description.clone(),
            due_date: req.due_date,
            expires_in: None,
            payer: req.payer.as_ref().map(|payer| wire::WirePerson {
                name: Some(payer.name.clone()),
                document: Some(payer.document.expose().to_owned()),
            }),
        };
        let path = match is_slip {
            true => "/baas/v1/charges",
            false => "/baas/api/v1/charges",
        };
        let call = Call::new("create_charge", Method::POST, path, "charge").json(&body)?;
        match self.fetch::<wire::WireCharge>(&call).await {
            Ok(created) => convert::charge(created),
            Err(ProviderError::Conflict { code, message }) => {
                // A repeated create: the same charge is already there.
                let existing = self.get_charge(&correlation_id).await?;
                match existing.kind == req.kind && existing.amount == amount {
                    true => Ok(existing),
                    false => Err(ProviderError::Conflict { code, message }),
                }
            }
            Err(error) => Err(error),
        }
    }

    async fn get_charge(&self, id: &str) -> Result<Charge, ProviderError> {
        let call = Call::new(
            "get_charge",
            Method::GET,
            format!("/baas/v1/charges/{}", percent_encode_path_segment(id)),
            "charge",
        );
        let charge: wire::WireCharge = self.fetch(&call).await?;
        convert::charge(charge)
    }

    async fn list_charges(&self, page: PageRequest) -> Result<Page<Charge>, ProviderError> {
        let number = page_number(&page)?;
        let call = Call::new("list_charges", Method::GET, "/baas/v1/charges", "charge");
        self.page_of(
            call,
            number,
            page.limit.clamp(1, MAX_PAGE_SIZE),
            convert::charge,
        )
        .await
    }

    async fn cancel_charge(&self, id: &str) -> Result<Charge, ProviderError> {
        let call = Call::new(
            "cancel_charge",
            Method::POST,
            format!("/baas/v1/charges/{}/void", percent_encode_path_segment(id)),
            "charge",
        );
        self.execute(&call).await?;
        self.get_charge(id).await
    }

    async fn send_pix(
        &self,
        req: PixTransferRequest,
        key: &IdempotencyKey,
    ) -> Result<PixTransfer, ProviderError> {
        let amount = req
            .amount
            .ensure_payment_amount()
            .and_then(|amount| amount.with_max_scale(2))
            .map_err(|error| rejected("amount", &error.to_string()))?;
        if let Some(existing) = self.existing_transfer(key).await? {
            return Ok(existing);
        }
        let body = match req.destination {
            PixDestination::Key(pix_key) => {
                let init = self.initialize_key_payment(&pix_key).await?;
                wire::TransferRequest {
                    amount: WireAmount(amount.amount()),
                    description: req.description,
                    end_to_end_id: Some(init.end_to_end_id),
                    transaction_id: None,
                    initiation_type: Some("KEY".to_owned()),
                    transfer_type: Some("PIX".to_owned()),
                    beneficiary: None,
                    beneficiary_account: None,
                    external_id: None,
                }
            }
            PixDestination::Account(party) => {
                let (Some(ispb), Some(branch), Some(number)) =
                    (party.ispb, party.branch, party.account)
                else {
                    return Err(rejected(
                        "destination",
                        "account data needs an ispb, a branch and an account number",
                    ));
                };
                let holder_type = match party.document.kind() {
                    DocumentKind::Cpf => wire::HolderType::Natural,
                    DocumentKind::Cnpj => wire::HolderType::Legal,
                };
                wire::TransferRequest {
                    amount: WireAmount(amount.amount()),
                    description: req.description,
                    end_to_end_id: None,
                    transaction_id: None,
                    initiation_type: Some("MANUAL".to_owned()),
                    transfer_type: Some("PIX".to_owned()),
                    beneficiary: Some(wire::ManualBeneficiary {
                        number,
                        branch,
                        account_type: wire::AccountType::Current,
                        participant_ispb: ispb,
                        holder: wire::WireHolder {
                            name: Some(party.name),
                            document: Some(party.document.expose().to_owned()),
                            holder_type: Some(holder_type),
                        },
                    }),
                    beneficiary_account: None,
                    external_id: None,
                }
            }
        };
        self.transfer(&body, key).await
    }

    async fn get_pix_transfer(&self, id: &str) -> Result<PixTransfer, ProviderError> {
        let call = Call::new(
            "get_pix_transfer",
            Method::GET,
            format!("/baas/api/v2/transfers/{}", percent_encode_path_segment(id)),
            "transfer",
        );
        let transfer: wire::WireTransfer = self.fetch(&call).await?;
        convert::transfer(transfer)
    }

    async fn list_pix_transfers(
        &self,
        page: PageRequest,
    ) -> Result<Page<PixTransfer>, ProviderError> {
        // Delbank has no list of sent transfers: its statement, filtered on outgoing Pix, is it.
        let number = page_number(&page)?;
        let call = Call::new(
            "list_pix_transfers",
            Method::GET,
            "/baas/api/v2/transactions",
            "transfer",
        )
        .query("isCredit", "false")
        .query("type", "DEBIT_PIX");
        self.page_of(
            call,
            number,
            page.limit.clamp(1, MAX_PAGE_SIZE),
            convert::statement_transfer,
        )
        .await
    }

    async fn refund_pix(
        &self,
        req: PixRefundRequest,
        key: &IdempotencyKey,
    ) -> Result<PixRefund, ProviderError> {
        let amount = req
            .amount
            .ensure_payment_amount()
            .and_then(|amount| amount.with_max_scale(2))
            .map_err(|error| rejected("amount", &error.to_string()))?;
        let call = Call::new(
            "refund_pix",
            Method::PUT,
            format!(
                "/baas/api/v1/pix/{}/refund",
                percent_encode_path_segment(req.end_to_end_id.as_str())
            ),
            "pix",
        )
        .json(&wire::RefundRequest {
            amount: WireAmount(amount.amount()),
            description: req.reason,
        })?
        .idempotent(guid_for(key));
        let refund: wire::WireRefund = self.fetch(&call).await?;
        let status = match &refund.status {
            Some(status) => convert::transfer_status(status)?,
            None => PixTransferStatus::Processing,
        };
        Ok(PixRefund {
            id: refund.idempotency_key.unwrap_or_else(|| guid_for(key)),
            end_to_end_id: refund
                .end_to_end_id
                .as_deref()
                .and_then(|id| providers::PixEndToEndId::parse(id).ok()),
            status,
            amount,
        })
    }

    async fn register_pix_key(
        &self,
        req: NewPixKey,
        key: &IdempotencyKey,
    ) -> Result<PixKey, ProviderError> {
        let value = match req.kind {
            PixKeyKind::Email | PixKeyKind::Phone => match req.value {
                Some(value) => Some(value),
                None => return Err(rejected("value", "an e-mail or phone key needs its value")),
            },
            PixKeyKind::Cpf | PixKeyKind::Cnpj | PixKeyKind::Evp => None,
        };
        let call = Call::new(
            "register_pix_key",
            Method::POST,
            "/baas/api/v1/pix/dict/entries",
            "pix key",
        )
        .json(&wire::DictEntryRequest {
            entry_type: convert::entry_type(req.kind),
            key: value,
        })?
        .idempotent(guid_for(key));
        let entry: wire::WireDictEntry = self.fetch(&call).await?;
        convert::pix_key(entry)
    }

    async fn list_pix_keys(&self) -> Result<Vec<PixKey>, ProviderError> {
        let call = Call::new(
            "list_pix_keys",
            Method::GET,
            "/baas/api/v1/pix/dict/entries",
            "pix key",
        );
        let entries: Vec<wire::WireDictEntry> = self.fetch(&call).await?;
        entries.into_iter().map(convert::pix_key).collect()
    }

    async fn delete_pix_key(&self, id: &str, key: &IdempotencyKey) -> Result<(), ProviderError> {
        let Some((entry_type, value)) = convert::parse_pix_key_id(id) else {
            return Err(ProviderError::NotFound {
                resource: "pix key".to_owned(),
                code: None,
            });
        };
        let call = Call::new(
            "delete_pix_key",
            Method::DELETE,
            "/baas/api/v1/pix/dict/entries",
            "pix key",
        )
        .json(&wire::DictEntryRequest {
            entry_type,
            key: Some(value),
        })?
        .idempotent(guid_for(key));
        self.execute(&call).await.map(|_| ())
    }

    async fn open_account(
        &self,
        req: NewAccount,
        _key: &IdempotencyKey,
    ) -> Result<Account, ProviderError> {
        // Delbank deduplicates customers by document (a second create is a 409), so the document
        // is the idempotency mechanism here.
        let phone = req.phone.as_deref().map(split_phone).transpose()?;
        let (path, body) = match req.holder.kind() {
            DocumentKind::Cpf => (
                "/baas/api/v1/customers/person-natural",
                wire::CustomerRequest {
                    document: req.holder.expose().to_owned(),
                    name: Some(req.name.clone()),
                    corporate_name: None,
                    email: req.email.clone(),
                    business_email: None,
                    phone,
                },
            ),
            DocumentKind::Cnpj => (
                "/baas/api/v1/customers/person-legal",
                wire::CustomerRequest {
                    document: req.holder.expose().to_owned(),
                    name: None,
                    corporate_name: Some(req.name.clone()),
                    email: None,
                    business_email: req.email.clone(),
                    phone,
                },
            ),
        };
        let call = Call::new("open_account", Method::POST, path, "account").json(&body)?;
        let customer: wire::WireCustomer = self.fetch(&call).await?;
        convert::account(req.holder, customer, None)
    }

    async fn get_account(&self, id: &str) -> Result<Account, ProviderError> {
        let document = parse_account_id(id)?;
        self.customer(&document).await
    }

    async fn upload_account_document(
        &self,
        id: &str,
        document: AccountDocument,
    ) -> Result<Account, ProviderError> {
        let holder = parse_account_id(id)?;
        let call = Call::new(
            "upload_account_document",
            Method::POST,
            format!(
                "/baas/api/v1/customers/{}/documents",
                percent_encode_path_segment(holder.expose())
            ),
            "account",
        )
        .json(&wire::DocumentUploadRequest {
            base64: document.content_base64,
            document_type: convert::document_type(document.kind),
        })?;
        self.execute(&call).await?;
        self.customer(&holder).await
    }

    async fn balance(&self, account_id: &str) -> Result<Balance, ProviderError> {
        let account = self.account_number(account_id).await?;
        let call = Call::new("balance", Method::GET, "/baas/api/v1/balances", "account")
            .on_account(account);
        let balance: wire::WireBalance = self.fetch(&call).await?;
        let Some(available) = balance.amount_available else {
            return Err(ProviderError::InvalidResponse {
                message: "balance without amountAvailable".to_owned(),
            });
        };
        Ok(Balance {
            blocked: balance
                .amount_blocked
                .unwrap_or_else(|| Money::zero(available.currency())),
            available,
        })
    }

    async fn statement(
        &self,
        account_id: &str,
        page: PageRequest,
    ) -> Result<Page<StatementEntry>, ProviderError> {
        let number = page_number(&page)?;
        let account = self.account_number(account_id).await?;
        let call = Call::new(
            "statement",
            Method::GET,
            "/baas/api/v2/transactions",
            "account",
        )
        .on_account(account);
        self.page_of(
            call,
            number,
            page.limit.clamp(1, MAX_PAGE_SIZE),
            convert::statement_entry,
        )
        .await
    }
}

/// `+5511987654321` → `{ddd: "11", number: "987654321", type: CELL}`.
fn split_phone(phone: &str) -> Result<wire::WirePhone, ProviderError> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let national = digits.strip_prefix("55").unwrap_or(&digits);
    if !(10..=11).contains(&national.len()) {
        return Err(rejected(
            "phone",
            "a Brazilian phone number in E.164 (+55...)",
        ));
    }
    let (ddd, number) = national.split_at(2);
    Ok(wire::WirePhone {
        ddd: ddd.to_owned(),
        number: number.to_owned(),
        phone_type: "CELL".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use crate::banking::split_phone;

    #[test]
    fn phones_are_split_into_area_code_and_number() {
        let phone = split_phone("+5511987654321").unwrap();
        assert_eq!(
            (phone.ddd.as_str(), phone.number.as_str()),
            ("11", "987654321")
        );
        assert!(split_phone("+1 555 0100").is_err());
    }
}
