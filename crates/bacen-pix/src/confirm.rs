//! Confirmation by fetch ([`BacenPixConfirmer`]): a callback authenticated by a URL token is a
//! hint, so each `pix.received`, `charge.paid` and refund outcome is read back with
//! `GET /pix/{e2eid}` and compared before the gateway trusts it.
//!
//! - `pix.received`: the Pix exists, for the same amount (and the same `txid` when the event has
//!   one);
//! - `charge.paid`: the Pix exists, pays that `txid`, for the same amount;
//! - a refund outcome: the Pix exists and has that refund (by id, else `rtrId`), for the same
//!   amount, in the status the event reports (`DEVOLVIDO` or `NAO_REALIZADO`).
//!
//! A Pix the PSP does not know is [`Confirmation::Contradicted`]; a PSP that cannot be asked is an
//! `Err` and the gateway asks again later.

use async_trait::async_trait;
use providers::{
    Confirmation, EventConfirmer, EventData, EventType, Money, NormalizedEvent, PixOperation,
    ProviderError,
};

use crate::banking::money;
use crate::client::Client;
use crate::wire;

/// Confirms this provider's money-moving events through the API.
pub struct BacenPixConfirmer {
    client: Client,
}

impl BacenPixConfirmer {
    /// A confirmer asking through `client`.
    pub fn new(client: Client) -> BacenPixConfirmer {
        BacenPixConfirmer { client }
    }
}

fn differs(field: &str) -> Confirmation {
    Confirmation::Contradicted(format!("{field} differs from the psp's"))
}

fn same_amount(event: Money, text: &str, field: &str) -> Result<bool, ProviderError> {
    Ok(money(text, field)? == event)
}

#[async_trait]
impl EventConfirmer for BacenPixConfirmer {
    fn must_confirm(&self, event: &NormalizedEvent) -> bool {
        match (&event.event_type, &event.data) {
            (EventType::PixReceived, EventData::PixReceived(_)) => true,
            (EventType::ChargePaid, EventData::Charge(_)) => true,
            (
                EventType::PixTransferCompleted | EventType::PixTransferFailed,
                EventData::PixTransfer(data),
            ) => data.operation == PixOperation::Refund,
            _ => false,
        }
    }

    async fn confirm(&self, event: &NormalizedEvent) -> Result<Confirmation, ProviderError> {
        let end_to_end_id = match &event.data {
            EventData::PixReceived(data) => Some(data.end_to_end_id.clone()),
            EventData::Charge(data) => data.end_to_end_id.clone(),
            EventData::PixTransfer(data) => data.original_end_to_end_id.clone(),
            _ => None,
        };
        let Some(end_to_end_id) = end_to_end_id else {
            return Ok(Confirmation::Contradicted(
                "the event names no endToEndId".to_owned(),
            ));
        };
        let pix = match self.client.get_received_pix(&end_to_end_id).await {
            Ok(pix) => pix,
            Err(ProviderError::NotFound { .. }) => {
                return Ok(Confirmation::Contradicted(
                    "no Pix with this endToEndId".to_owned(),
                ));
            }
            Err(error) => return Err(error),
        };
        compare(event, &pix)
    }
}

fn compare(event: &NormalizedEvent, pix: &wire::Pix) -> Result<Confirmation, ProviderError> {
    match &event.data {
        EventData::PixReceived(data) => {
            if !same_amount(data.amount, &pix.valor, "valor")? {
                return Ok(differs("amount"));
            }
            if data.correlation_id.is_some() && data.correlation_id != pix.txid {
                return Ok(differs("txid"));
            }
            Ok(Confirmation::Confirmed)
        }
        EventData::Charge(data) => {
            if pix.txid.as_deref() != Some(data.correlation_id.as_str()) {
                return Ok(Confirmation::Contradicted(
                    "the Pix does not pay this charge (txid differs)".to_owned(),
                ));
            }
            if !same_amount(data.amount, &pix.valor, "valor")? {
                return Ok(differs("amount"));
            }
            Ok(Confirmation::Confirmed)
        }
        EventData::PixTransfer(data) => {
            let found = pix.devolucoes.iter().find(|devolucao| {
                Some(&devolucao.id) == data.idempotency_key.as_ref()
                    || (devolucao.rtr_id.is_some() && devolucao.rtr_id == data.end_to_end_id)
            });
            let Some(devolucao) = found else {
                return Ok(Confirmation::Contradicted(
                    "the Pix has no such devolucao".to_owned(),
                ));
            };
            if !same_amount(data.amount, &devolucao.valor, "devolucoes.valor")? {
                return Ok(differs("amount"));
            }
            let expected = match event.event_type {
                EventType::PixTransferCompleted => wire::DevolucaoStatus::Devolvido,
                _ => wire::DevolucaoStatus::NaoRealizado,
            };
            if devolucao.status != expected {
                return Ok(Confirmation::Contradicted(format!(
                    "the devolucao is {}, not {}",
                    devolucao.status.as_str(),
                    expected.as_str()
                )));
            }
            Ok(Confirmation::Confirmed)
        }
        _ => Ok(Confirmation::Contradicted(
            "not an event this confirmer reads".to_owned(),
        )),
    }
}
