//! Delbank's webhooks as hints. Its webhooks carry a static credential (BASIC, BEARER or a custom
//! header) that authenticates the sender but neither the bytes nor their freshness, so the money-
//! moving ones are confirmed by reading the resource back before the gateway trusts them:
//! - `pix.received`: the account's statement has a credit with the Pix's end-to-end id and amount
//!   (B2, `GET /baas/api/v2/transactions?endToEndId=`);
//! - `pix.refund.received`: likewise, the refund's credit;
//! - `charge.paid`: the charge is paid (C3, `GET /baas/v1/charges/{correlationId}`);
//! - `pix.transfer.completed` / `pix.transfer.failed`: the transfer has that outcome (P4,
//!   `GET /baas/api/v2/transfers/{idempotencyKey or endToEndId}`).

use async_trait::async_trait;
use providers::{
    BankingProvider, ChargeStatus, Confirmation, EntryDirection, EventConfirmer, EventData,
    EventParty, EventType, Money, NormalizedEvent, PixTransferStatus, ProviderError,
};
use reqwest::Method;

use crate::client::{Call, Client};
use crate::{convert, wire};

/// Confirms Delbank's money-moving events against its API.
#[derive(Clone)]
pub struct DelbankConfirmer {
    client: Client,
}

impl DelbankConfirmer {
    /// A confirmer reading through `client`.
    pub fn new(client: Client) -> DelbankConfirmer {
        DelbankConfirmer { client }
    }

    /// Whether the statement of `account` (the configured one when `None`) has a credit with this
    /// end-to-end id and amount.
    async fn credit(
        &self,
        account: Option<&str>,
        end_to_end_id: &str,
        amount: &Money,
    ) -> Result<Confirmation, ProviderError> {
        let call = Call::new(
            "confirm_credit",
            Method::GET,
            "/baas/api/v2/transactions",
            "transaction",
        )
        .query("endToEndId", end_to_end_id)
        .query("page", 1)
        .query("limit", 10)
        .on_account(account.map(str::to_owned));
        let (entries, _) = self.client.page::<wire::WireStatementEntry>(&call).await?;
        let entries = entries
            .into_iter()
            .map(convert::statement_entry)
            .collect::<Result<Vec<_>, _>>()?;
        let Some(entry) = entries
            .iter()
            .find(|entry| entry.end_to_end_id.as_deref() == Some(end_to_end_id))
        else {
            return Ok(Confirmation::Contradicted(
                "the account's statement has no transaction with this endToEndId".to_owned(),
            ));
        };
        if entry.direction != EntryDirection::Credit {
            return Ok(Confirmation::Contradicted(
                "the statement's transaction with this endToEndId is a debit".to_owned(),
            ));
        }
        if entry.amount.amount() != amount.amount() {
            return Ok(Confirmation::Contradicted(format!(
                "amount: the statement says {}, the webhook {}",
                entry.amount.amount(),
                amount.amount()
            )));
        }
        Ok(Confirmation::Confirmed)
    }
}

/// The account number of the receiving party, when the webhook names one.
fn account_of(party: Option<&EventParty>) -> Option<&str> {
    party.and_then(|party| party.account.as_deref())
}

#[async_trait]
impl EventConfirmer for DelbankConfirmer {
    fn must_confirm(&self, event: &NormalizedEvent) -> bool {
        matches!(
            event.event_type,
            EventType::PixReceived
                | EventType::ChargePaid
                | EventType::PixRefundReceived
                | EventType::PixTransferCompleted
                | EventType::PixTransferFailed
        )
    }

    async fn confirm(&self, event: &NormalizedEvent) -> Result<Confirmation, ProviderError> {
        match (&event.event_type, &event.data) {
            (EventType::PixReceived, EventData::PixReceived(pix)) => {
                self.credit(
                    account_of(pix.payee.as_ref()),
                    &pix.end_to_end_id,
                    &pix.amount,
                )
                .await
            }
            (EventType::PixRefundReceived, EventData::PixRefund(refund)) => {
                let account = refund
                    .account
                    .as_deref()
                    .or_else(|| account_of(refund.payee.as_ref()));
                self.credit(account, &refund.end_to_end_id, &refund.amount)
                    .await
            }
            (EventType::ChargePaid, EventData::Charge(charge)) => {
                match self.client.get_charge(&charge.correlation_id).await {
                    Ok(found) if found.status == ChargeStatus::Paid => Ok(Confirmation::Confirmed),
                    Ok(found) => Ok(Confirmation::Contradicted(format!(
                        "status: the charge is {:?}, not paid",
                        found.status
                    ))),
                    Err(ProviderError::NotFound { .. }) => Ok(Confirmation::Contradicted(
                        "the provider has no charge with this correlationId".to_owned(),
                    )),
                    Err(error) => Err(error),
                }
            }
            (
                EventType::PixTransferCompleted | EventType::PixTransferFailed,
                EventData::PixTransfer(transfer),
            ) => {
                let Some(id) = transfer
                    .idempotency_key
                    .as_deref()
                    .or(transfer.end_to_end_id.as_deref())
                else {
                    return Ok(Confirmation::Contradicted(
                        "the webhook names neither an idempotencyKey nor an endToEndId".to_owned(),
                    ));
                };
                let expected = match event.event_type {
                    EventType::PixTransferCompleted => PixTransferStatus::Completed,
                    _ => PixTransferStatus::Failed,
                };
                match self.client.get_pix_transfer(id).await {
                    Ok(found) if found.status == expected => Ok(Confirmation::Confirmed),
                    // Not settled yet at the API: ask again later rather than judge.
                    Ok(found) if found.status == PixTransferStatus::Processing => {
                        Err(ProviderError::Unavailable {
                            status: None,
                            message: "the transfer is still processing at the provider".to_owned(),
                        })
                    }
                    Ok(found) => Ok(Confirmation::Contradicted(format!(
                        "status: the transfer is {:?}",
                        found.status
                    ))),
                    Err(ProviderError::NotFound { .. }) => Ok(Confirmation::Contradicted(
                        "the provider has no transfer with this id".to_owned(),
                    )),
                    Err(error) => Err(error),
                }
            }
            _ => Ok(Confirmation::Contradicted(format!(
                "a {} event without the data of its type",
                event.event_type
            ))),
        }
    }
}
