//! Delbank's webhooks as hints. Its webhooks carry a static credential (BASIC, BEARER or a custom
//! header) that authenticates the sender but neither the bytes nor their freshness, so the money-
//! moving ones are confirmed by reading the resource back before the gateway trusts them:
//! - `pix.received`: the account's statement has a credit with the Pix's end-to-end id and amount
//!   (B2, `GET /baas/api/v2/transactions?endToEndId=`);
//! - `pix.refund.received`: likewise, the refund's credit;
//! - `charge.paid`: the charge is paid (C3, `GET /baas/v1/charges/{correlationId}`);
//! - `pix.transfer.completed` / `pix.transfer.failed` of a Pix sent: the transfer has that outcome
//!   (P4, `GET /baas/api/v2/transfers/{idempotencyKey or endToEndId}`);
//! - the same of a refund sent (which P4 does not cover): the statement has its debit (completed),
//!   or no debit, or the debit and its reversal (failed).

use async_trait::async_trait;
use providers::{
    BankingProvider, ChargeStatus, Confirmation, EntryDirection, EventConfirmer, EventData,
    EventParty, EventType, Money, NormalizedEvent, PixOperation, PixTransferData,
    PixTransferStatus, ProviderError, StatementEntry,
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

    /// The entries of the statement of `account` (the configured one when `None`) with this
    /// end-to-end id.
    async fn entries(
        &self,
        account: Option<&str>,
        end_to_end_id: &str,
    ) -> Result<Vec<StatementEntry>, ProviderError> {
        let call = Call::new(
            "confirm_statement_entry",
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
        Ok(entries
            .into_iter()
            .filter(|entry| entry.end_to_end_id.as_deref() == Some(end_to_end_id))
            .collect())
    }

    /// Whether the statement has an entry in `direction` with this end-to-end id and amount.
    async fn booked(
        &self,
        account: Option<&str>,
        end_to_end_id: &str,
        amount: &Money,
        direction: EntryDirection,
    ) -> Result<Confirmation, ProviderError> {
        let entries = self.entries(account, end_to_end_id).await?;
        if entries.is_empty() {
            return Ok(Confirmation::Contradicted(
                "the account's statement has no transaction with this endToEndId".to_owned(),
            ));
        }
        let Some(entry) = entries.iter().find(|entry| entry.direction == direction) else {
            let other = match direction {
                EntryDirection::Credit => "debit",
                EntryDirection::Debit => "credit",
            };
            return Ok(Confirmation::Contradicted(format!(
                "the statement's transaction with this endToEndId is a {other}"
            )));
        };
        if entry.amount.amount() != amount.amount() {
            return Ok(Confirmation::Contradicted(format!(
                "amount: the statement says {}, the webhook {}",
                entry.amount.amount(),
                amount.amount()
            )));
        }
        Ok(Confirmation::Confirmed)
    }

    /// A refund the gateway sent: completed when its debit is booked, failed when it is not or
    /// was reversed; a debit not yet reversed for a failure is asked again later.
    async fn refund_outcome(
        &self,
        transfer: &PixTransferData,
        completed: bool,
    ) -> Result<Confirmation, ProviderError> {
        let Some(end_to_end_id) = transfer.end_to_end_id.as_deref() else {
            return Ok(Confirmation::Contradicted(
                "the refund's webhook names no endToEndId".to_owned(),
            ));
        };
        let account = account_of(transfer.payer.as_ref());
        if completed {
            return self
                .booked(
                    account,
                    end_to_end_id,
                    &transfer.amount,
                    EntryDirection::Debit,
                )
                .await;
        }
        let entries = self.entries(account, end_to_end_id).await?;
        let debited = entries
            .iter()
            .any(|entry| entry.direction == EntryDirection::Debit);
        let reversed = entries
            .iter()
            .any(|entry| entry.direction == EntryDirection::Credit);
        if debited && !reversed {
            return Err(ProviderError::Unavailable {
                status: None,
                message: "the refund is still debited, its reversal not yet booked".to_owned(),
            });
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
                self.booked(
                    account_of(pix.payee.as_ref()),
                    &pix.end_to_end_id,
                    &pix.amount,
                    EntryDirection::Credit,
                )
                .await
            }
            (EventType::PixRefundReceived, EventData::PixRefund(refund)) => {
                let account = refund
                    .account
                    .as_deref()
                    .or_else(|| account_of(refund.payee.as_ref()));
                self.booked(
                    account,
                    &refund.end_to_end_id,
                    &refund.amount,
                    EntryDirection::Credit,
                )
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
            ) if transfer.operation == PixOperation::Refund => {
                self.refund_outcome(
                    transfer,
                    event.event_type == EventType::PixTransferCompleted,
                )
                .await
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
