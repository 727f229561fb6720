//! Wire → provider-neutral conversions (and back for the few request enums). A status or kind the
//! gateway's closed enums cannot represent is a [`ProviderError::InvalidResponse`]: never guessed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use providers::{
    Account, AccountDocumentKind, AccountStatus, Charge, ChargeKind, ChargeStatus, Document,
    EntryDirection, Money, PixEndToEndId, PixKey, PixKeyKind, PixTransfer, PixTransferStatus,
    ProviderError, StatementEntry,
};

use crate::client::{PaymentInitialization, QrCode, WebhookSubscription};
use crate::config::AuthScheme;
use crate::wire::{self, CustomerStatus, DocumentType, EntryType, TransferStatus, WireScheme};

fn invalid(message: impl Into<String>) -> ProviderError {
    ProviderError::InvalidResponse {
        message: message.into(),
    }
}

fn required<T>(value: Option<T>, what: &str) -> Result<T, ProviderError> {
    value.ok_or_else(|| invalid(format!("missing {what}")))
}

/// The wire `type` of a charge kind.
pub(crate) fn charge_type(kind: ChargeKind) -> wire::ChargeType {
    match kind {
        ChargeKind::PixDynamic => wire::ChargeType::PixDynamic,
        ChargeKind::PixStatic => wire::ChargeType::PixStatic,
        ChargeKind::Bankslip => wire::ChargeType::Bankslip,
        ChargeKind::BankslipPix => wire::ChargeType::BankslipPix,
    }
}

fn charge_kind(wire_type: &wire::ChargeType) -> Result<ChargeKind, ProviderError> {
    match wire_type {
        wire::ChargeType::PixDynamic | wire::ChargeType::PixDynamicDueDate => {
            Ok(ChargeKind::PixDynamic)
        }
        wire::ChargeType::PixStatic => Ok(ChargeKind::PixStatic),
        wire::ChargeType::Bankslip => Ok(ChargeKind::Bankslip),
        wire::ChargeType::BankslipPix => Ok(ChargeKind::BankslipPix),
        wire::ChargeType::Unknown(other) => Err(invalid(format!("unknown charge type {other}"))),
    }
}

/// Maps a charge status; unknown ones are refused.
pub(crate) fn charge_status(status: &wire::ChargeStatus) -> Result<ChargeStatus, ProviderError> {
    match status {
        wire::ChargeStatus::Pending | wire::ChargeStatus::Active => Ok(ChargeStatus::Pending),
        wire::ChargeStatus::Paid | wire::ChargeStatus::Concluded => Ok(ChargeStatus::Paid),
        wire::ChargeStatus::Expired => Ok(ChargeStatus::Expired),
        wire::ChargeStatus::Canceled
        | wire::ChargeStatus::Cancelled
        | wire::ChargeStatus::WrittenOff
        | wire::ChargeStatus::Voided
        | wire::ChargeStatus::Removed => Ok(ChargeStatus::Cancelled),
        wire::ChargeStatus::Unknown(other) => {
            Err(invalid(format!("unknown charge status {other}")))
        }
    }
}

/// A charge.
pub(crate) fn charge(charge: wire::WireCharge) -> Result<Charge, ProviderError> {
    let kind = charge_kind(&required(charge.charge_type, "charge type")?)?;
    let status = charge_status(&required(charge.status, "charge status")?)?;
    Ok(Charge {
        id: required(charge.correlation_id, "charge correlationId")?,
        kind,
        status,
        amount: required(charge.amount, "charge amount")?,
        pix_copy_paste: charge
            .qr_code
            .or(charge.qr_code_payload)
            .or(charge.payload_pix),
        digitable_line: charge.digitable_line,
        due_date: charge
            .due_date
            .or(charge.expires_at)
            .map(|time| time.date_naive()),
        created_at: required(charge.created_at, "charge createdAt")?,
    })
}

/// A v2 QR code.
pub(crate) fn qr_code(qr: wire::WireQrCode) -> Result<QrCode, ProviderError> {
    Ok(QrCode {
        correlation_id: required(qr.correlation_id, "qr code correlationId")?,
        transaction_id: qr.transaction_id,
        status: qr.status.map(|status| status.as_str().to_owned()),
        amount: qr.amount,
        payload: qr.payload_pix,
        expires_at: qr.expires_at,
    })
}

/// A payment initialization.
pub(crate) fn initialization(
    init: wire::WireInitialization,
) -> Result<PaymentInitialization, ProviderError> {
    Ok(PaymentInitialization {
        end_to_end_id: required(init.end_to_end_id, "payment initialization endToEndId")?,
        transaction_id: init.transaction_id,
        initiation_type: init.initiation_type,
        amount: init.amount,
        beneficiary_ispb: init
            .beneficiary
            .and_then(|account| account.participant)
            .and_then(|participant| participant.ispb),
    })
}

/// Maps a transfer status; unknown ones are refused.
pub(crate) fn transfer_status(status: &TransferStatus) -> Result<PixTransferStatus, ProviderError> {
    match status {
        TransferStatus::PixProcessing | TransferStatus::Processing => {
            Ok(PixTransferStatus::Processing)
        }
        TransferStatus::PixEffective | TransferStatus::Effective => {
            Ok(PixTransferStatus::Completed)
        }
        TransferStatus::PixError | TransferStatus::Error => Ok(PixTransferStatus::Failed),
        TransferStatus::Unknown(other) => Err(invalid(format!("unknown transfer status {other}"))),
    }
}

/// A transfer (Pix or internal).
pub(crate) fn transfer(transfer: wire::WireTransfer) -> Result<PixTransfer, ProviderError> {
    let status = transfer_status(&required(transfer.status, "transfer status")?)?;
    Ok(PixTransfer {
        id: required(transfer.id, "transfer id")?,
        end_to_end_id: transfer
            .end_to_end_id
            .as_deref()
            .and_then(|id| PixEndToEndId::parse(id).ok()),
        status,
        amount: required(transfer.amount, "transfer amount")?,
        failure_code: transfer.error.and_then(|error| error.code),
        created_at: required(transfer.created_at, "transfer createdAt")?,
    })
}

/// A statement entry.
pub(crate) fn statement_entry(
    entry: wire::WireStatementEntry,
) -> Result<StatementEntry, ProviderError> {
    let entry_type = required(entry.entry_type, "statement entry type")?;
    let kind = required(entry_type.name, "statement entry type name")?;
    let is_credit = entry_type
        .is_credit
        .unwrap_or_else(|| kind.starts_with("CREDIT"));
    let amount = required(entry.amount, "statement entry amount")?;
    Ok(StatementEntry {
        id: required(entry.nsu, "statement entry nsu")?,
        direction: match is_credit {
            true => EntryDirection::Credit,
            false => EntryDirection::Debit,
        },
        amount: Money::new(amount.amount().abs(), amount.currency()),
        kind,
        description: entry.description,
        end_to_end_id: entry.end_to_end_id,
        created_at: required(entry.created_at, "statement entry createdAt")?,
    })
}

/// An outgoing Pix seen through the statement (only effective ones appear there).
pub(crate) fn statement_transfer(
    entry: wire::WireStatementEntry,
) -> Result<PixTransfer, ProviderError> {
    let id = entry
        .idempotency_key
        .clone()
        .or(entry.end_to_end_id.clone())
        .or(entry.nsu.clone());
    let end_to_end_id = entry.end_to_end_id.clone();
    let statement = statement_entry(entry)?;
    Ok(PixTransfer {
        id: required(id, "statement entry id")?,
        end_to_end_id: end_to_end_id
            .as_deref()
            .and_then(|id| PixEndToEndId::parse(id).ok()),
        status: PixTransferStatus::Completed,
        amount: statement.amount,
        failure_code: None,
        created_at: statement.created_at,
    })
}

/// The DICT `entryType` of a key kind.
pub(crate) fn entry_type(kind: PixKeyKind) -> EntryType {
    match kind {
        PixKeyKind::Cpf | PixKeyKind::Cnpj => EntryType::Document,
        PixKeyKind::Email => EntryType::Email,
        PixKeyKind::Phone => EntryType::Phone,
        PixKeyKind::Evp => EntryType::Evp,
    }
}

/// A DICT key. Its id encodes the entry type and the key (DICT keys have no other identifier), so
/// that a delete can rebuild Delbank's `{entryType, key}` body.
pub(crate) fn pix_key(entry: wire::WireDictEntry) -> Result<PixKey, ProviderError> {
    let value = required(entry.key, "pix key")?;
    let entry_type = required(entry.entry_type, "pix key entryType")?;
    let kind = match &entry_type {
        EntryType::Document => match value.len() {
            14 => PixKeyKind::Cnpj,
            _ => PixKeyKind::Cpf,
        },
        EntryType::Email => PixKeyKind::Email,
        EntryType::Phone => PixKeyKind::Phone,
        EntryType::Evp => PixKeyKind::Evp,
        EntryType::Unknown(other) => return Err(invalid(format!("unknown pix key type {other}"))),
    };
    Ok(PixKey {
        id: pix_key_id(&entry_type, &value),
        kind,
        value,
    })
}

/// `base64url("<entryType>:<key>")`.
pub(crate) fn pix_key_id(entry_type: &EntryType, value: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{value}", entry_type.as_str()))
}

/// Reads an id made by [`pix_key_id`].
pub(crate) fn parse_pix_key_id(id: &str) -> Option<(EntryType, String)> {
    let decoded = URL_SAFE_NO_PAD.decode(id).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (entry_type, value) = text.split_once(':')?;
    let entry_type = EntryType::from_wire(entry_type);
    match entry_type {
        EntryType::Unknown(_) => None,
        known => Some((known, value.to_owned())),
    }
}

/// Maps a customer or bank-account status; unknown ones are refused.
pub(crate) fn account_status(status: &CustomerStatus) -> Result<AccountStatus, ProviderError> {
    match status {
        CustomerStatus::PendingDocumentation => Ok(AccountStatus::PendingDocumentation),
        CustomerStatus::PendingAnalysis => Ok(AccountStatus::UnderReview),
        CustomerStatus::Approved | CustomerStatus::Active => Ok(AccountStatus::Approved),
        CustomerStatus::DocumentationRejected
        | CustomerStatus::DocumentationDenied
        | CustomerStatus::Rejected => Ok(AccountStatus::DocumentationRejected),
        CustomerStatus::Blocked => Ok(AccountStatus::Blocked),
        CustomerStatus::Closed => Ok(AccountStatus::Closed),
        CustomerStatus::Unknown(other) => Err(invalid(format!("unknown account status {other}"))),
    }
}

/// A white-label account: its id is the holder's document, Delbank's key for customers.
pub(crate) fn account(
    holder: Document,
    customer: wire::WireCustomer,
    bank_account: Option<wire::WireBankAccount>,
) -> Result<Account, ProviderError> {
    let status = account_status(&required(customer.status, "customer status")?)?;
    let (branch, number) = match bank_account {
        Some(bank_account) => (bank_account.branch, bank_account.number),
        None => (None, None),
    };
    Ok(Account {
        id: holder.expose().to_owned(),
        holder,
        status,
        branch,
        number,
    })
}

/// Delbank's `documentType`.
pub(crate) fn document_type(kind: AccountDocumentKind) -> DocumentType {
    match kind {
        AccountDocumentKind::Selfie => DocumentType::Selfie,
        AccountDocumentKind::IdCardFull => DocumentType::RgFull,
        AccountDocumentKind::IdCardFront => DocumentType::RgFront,
        AccountDocumentKind::IdCardBack => DocumentType::RgBack,
        AccountDocumentKind::DriverLicenseFull => DocumentType::CnhFull,
        AccountDocumentKind::DriverLicenseFront => DocumentType::CnhFront,
        AccountDocumentKind::DriverLicenseBack => DocumentType::CnhBack,
        AccountDocumentKind::ArticlesOfAssociation => DocumentType::SocialContract,
    }
}

/// A webhook registration.
pub(crate) fn webhook(webhook: wire::WireWebhook) -> Result<WebhookSubscription, ProviderError> {
    let scheme = match webhook.authorization_scheme {
        Some(WireScheme::Basic) => Some(AuthScheme::Basic),
        Some(WireScheme::Bearer) => Some(AuthScheme::Bearer),
        Some(WireScheme::Header) => Some(AuthScheme::Header),
        Some(WireScheme::None | WireScheme::Unknown(_)) | None => None,
    };
    Ok(WebhookSubscription {
        id: required(webhook.id, "webhook id")?,
        event_type: required(webhook.event_type, "webhook eventType")?,
        url: required(webhook.url, "webhook url")?,
        scheme,
    })
}

#[cfg(test)]
mod tests {
    use providers::{ChargeStatus, PixTransferStatus};

    use crate::convert::{charge_status, parse_pix_key_id, pix_key_id, transfer_status};
    use crate::wire::{self, EntryType, TransferStatus};

    #[test]
    fn unknown_statuses_are_refused_not_guessed() {
        assert!(charge_status(&wire::ChargeStatus::Unknown("HALF_PAID".to_owned())).is_err());
        assert!(transfer_status(&TransferStatus::Unknown("PIX_SCHEDULED".to_owned())).is_err());
        assert_eq!(
            charge_status(&wire::ChargeStatus::from_wire("Pending")).unwrap(),
            ChargeStatus::Pending
        );
        assert_eq!(
            transfer_status(&TransferStatus::from_wire("EFFECTIVE")).unwrap(),
            PixTransferStatus::Completed
        );
    }

    #[test]
    fn pix_key_ids_round_trip() {
        let id = pix_key_id(&EntryType::Email, "maria@example.com");
        assert!(!id.contains('@'));
        assert_eq!(
            parse_pix_key_id(&id),
            Some((EntryType::Email, "maria@example.com".to_owned()))
        );
        assert_eq!(parse_pix_key_id("not-base64!"), None);
    }
}
