//! [`BankingProvider`] for the API Pix, on top of [`Client`], and the conversions from its JSON.
//!
//! - Charges: an immediate one is `PUT /cob/{txid}`, one with a due date `PUT /cobv/{txid}` (the
//!   spec requires its `devedor`: the payer); the charge id is the `txid`, derived from the
//!   idempotency key. A create repeated after the cob was paid or removed (the PSP then refuses
//!   the PUT) returns the existing cob when it is for the same amount, and is a
//!   [`ProviderError::Conflict`] when it is for another (the key was used for another charge). `get_charge` and
//!   `cancel_charge` try `/cob` then `/cobv`; `list_charges` lists `/cob` over the last
//!   [`LIST_WINDOW_DAYS`] days, the cursor carrying the window and the page.
//! - Refunds: `PUT /pix/{e2eid}/devolucao/{id}`, the id derived from the idempotency key; a
//!   repeated id for another amount is a [`ProviderError::Conflict`].
//! - What the standard has no endpoint for (sending Pix, Pix keys, accounts, balance, statement,
//!   listing or fetching Pix sent) is [`ProviderError::Rejected`] with status 501 and code
//!   [`UNSUPPORTED_OPERATION`]: the gateway answers 422 with `provider_code:
//!   unsupported_operation`, the same every time, never retried.

use async_trait::async_trait;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use http::Method;
use providers::{
    Account, AccountDocument, Balance, BankingProvider, Charge, ChargeKind, ChargeStatus, Currency,
    DocumentKind, IdempotencyKey, Money, NewAccount, NewCharge, NewPixKey, Page, PageRequest,
    PixEndToEndId, PixKey, PixRefund, PixRefundRequest, PixTransfer, PixTransferRequest,
    PixTransferStatus, ProviderError, StatementEntry, percent_encode_path_segment,
};

use crate::client::{Call, Client, devolucao_id_for, txid_for};
use crate::wire;

/// The code of the refusal of an operation the API Pix does not have.
pub const UNSUPPORTED_OPERATION: &str = "unsupported_operation";

/// How far back `list_charges` looks.
pub const LIST_WINDOW_DAYS: i64 = 90;

/// The refusal of an operation the standard does not define.
pub fn unsupported(operation: &str) -> ProviderError {
    ProviderError::Rejected {
        status: 501,
        code: UNSUPPORTED_OPERATION.to_owned(),
        message: format!("the api pix has no {operation} operation"),
        param: None,
        field_errors: Vec::new(),
    }
}

fn rejected(param: &str, message: &str) -> ProviderError {
    ProviderError::Rejected {
        status: 400,
        code: "invalid_request".to_owned(),
        message: message.to_owned(),
        param: Some(param.to_owned()),
        field_errors: Vec::new(),
    }
}

/// The PSP's refusal of a create whose id (derived from the idempotency key) already names a
/// different `what`: the key was used for another request, a [`ProviderError::Conflict`] (the API
/// Pix answers such a request with a 400, it has no 409).
fn key_conflict(what: &str, refusal: ProviderError) -> ProviderError {
    let (code, message) = match refusal {
        ProviderError::Rejected { code, message, .. } => (code, message),
        other => (other.code().to_owned(), other.to_string()),
    };
    ProviderError::Conflict {
        code,
        message: format!("the idempotency key already names another {what}: {message}"),
    }
}

/// The amount as the API writes it: two decimals, no rounding (more decimals are refused).
fn wire_amount(amount: Money, param: &str) -> Result<String, ProviderError> {
    let amount = amount
        .ensure_payment_amount()
        .and_then(|amount| amount.with_max_scale(2))
        .map_err(|error| rejected(param, &error.to_string()))?;
    if amount.currency() != Currency::Brl {
        return Err(rejected(param, "the api pix moves reais only"));
    }
    Ok(amount.to_minor_units_string())
}

pub(crate) fn money(text: &str, field: &str) -> Result<Money, ProviderError> {
    Money::parse(text, Currency::Brl).map_err(|_| ProviderError::InvalidResponse {
        message: format!("{field} is not an amount"),
    })
}

/// A cob or cobv as a provider-neutral charge.
pub(crate) fn charge(cob: wire::Cob, now: DateTime<Utc>) -> Result<Charge, ProviderError> {
    let amount = money(&cob.valor.original, "valor.original")?;
    let calendar = &cob.calendario;
    let (due_date, expired) = match calendar.data_de_vencimento {
        Some(due) => {
            let last_day =
                due + ChronoDuration::days(calendar.validade_apos_vencimento.unwrap_or(0));
            (Some(due), now.date_naive() > last_day)
        }
        None => {
            let expires =
                calendar.criacao + ChronoDuration::seconds(calendar.expiracao.unwrap_or(86_400));
            (Some(expires.date_naive()), now > expires)
        }
    };
    let status = match &cob.status {
        wire::CobStatus::Ativa if expired => ChargeStatus::Expired,
        wire::CobStatus::Ativa => ChargeStatus::Pending,
        wire::CobStatus::Concluida => ChargeStatus::Paid,
        wire::CobStatus::RemovidaPeloUsuarioRecebedor | wire::CobStatus::RemovidaPeloPsp => {
            ChargeStatus::Cancelled
        }
        wire::CobStatus::Unknown(other) => {
            return Err(ProviderError::InvalidResponse {
                message: format!("unknown cob status {other}"),
            });
        }
    };
    Ok(Charge {
        id: cob.txid,
        kind: ChargeKind::PixDynamic,
        status,
        amount,
        pix_copy_paste: cob.pix_copia_e_cola,
        digitable_line: None,
        due_date,
        created_at: cob.calendario.criacao,
    })
}

/// A refund as a provider-neutral one.
pub(crate) fn refund(devolucao: wire::Devolucao) -> Result<PixRefund, ProviderError> {
    let status = match &devolucao.status {
        wire::DevolucaoStatus::EmProcessamento => PixTransferStatus::Processing,
        wire::DevolucaoStatus::Devolvido => PixTransferStatus::Completed,
        wire::DevolucaoStatus::NaoRealizado => PixTransferStatus::Failed,
        wire::DevolucaoStatus::Unknown(other) => {
            return Err(ProviderError::InvalidResponse {
                message: format!("unknown devolucao status {other}"),
            });
        }
    };
    let end_to_end_id = match &devolucao.rtr_id {
        Some(id) => Some(
            PixEndToEndId::parse(id).map_err(|_| ProviderError::InvalidResponse {
                message: "rtrId is not an end-to-end id".to_owned(),
            })?,
        ),
        None => None,
    };
    Ok(PixRefund {
        id: devolucao.id,
        end_to_end_id,
        status,
        amount: money(&devolucao.valor, "valor")?,
    })
}

fn payer_of(request: &NewCharge) -> Option<wire::PersonRequest> {
    let payer = request.payer.as_ref()?;
    let (cpf, cnpj) = match payer.document.kind() {
        DocumentKind::Cpf => (Some(payer.document.expose().to_owned()), None),
        DocumentKind::Cnpj => (None, Some(payer.document.expose().to_owned())),
    };
    Some(wire::PersonRequest {
        cpf,
        cnpj,
        nome: payer.name.clone(),
    })
}

/// `/cob/{txid}` or `/cobv/{txid}`.
fn cob_path(kind: &str, txid: &str) -> String {
    format!("/{kind}/{}", percent_encode_path_segment(txid))
}

/// The list cursor: `{inicio}|{fim}|{page}` (RFC 3339 times).
fn parse_cursor(cursor: &str) -> Option<(String, String, u64)> {
    let mut parts = cursor.split('|');
    let inicio = parts.next()?.to_owned();
    let fim = parts.next()?.to_owned();
    let page = parts.next()?.parse().ok()?;
    DateTime::parse_from_rfc3339(&inicio).ok()?;
    DateTime::parse_from_rfc3339(&fim).ok()?;
    Some((inicio, fim, page))
}

impl Client {
    /// The cob (or cobv) `txid`, whichever exists.
    async fn find_cob(
        &self,
        operation: &'static str,
        txid: &str,
    ) -> Result<wire::Cob, ProviderError> {
        let cob = Call::new(operation, Method::GET, cob_path("cob", txid), "charge");
        match self.fetch::<wire::Cob>(&cob).await {
            Err(ProviderError::NotFound { .. }) => {
                let cobv = Call::new(operation, Method::GET, cob_path("cobv", txid), "charge");
                self.fetch(&cobv).await
            }
            outcome => outcome,
        }
    }

    /// A Pix received, by its end-to-end id (`GET /pix/{e2eid}`).
    pub(crate) async fn get_received_pix(
        &self,
        end_to_end_id: &str,
    ) -> Result<wire::Pix, ProviderError> {
        let call = Call::new(
            "get_pix",
            Method::GET,
            format!("/pix/{}", percent_encode_path_segment(end_to_end_id)),
            "pix",
        );
        self.fetch(&call).await
    }

    /// `PUT /webhook/{chave}` with `url`.
    pub(crate) async fn put_webhook(&self, url: &str) -> Result<(), ProviderError> {
        let call = Call::new(
            "register_webhook",
            Method::PUT,
            format!("/webhook/{}", percent_encode_path_segment(self.receiver())),
            "pix key",
        )
        .json(&wire::WebhookRequest {
            webhook_url: url.to_owned(),
        })?;
        self.execute(&call).await.map(|_| ())
    }

    /// The URL registered on `chave`, `None` when there is none.
    pub(crate) async fn get_webhook(&self, chave: &str) -> Result<Option<String>, ProviderError> {
        let call = Call::new(
            "get_webhook",
            Method::GET,
            format!("/webhook/{}", percent_encode_path_segment(chave)),
            "webhook",
        );
        match self.fetch::<wire::Webhook>(&call).await {
            Ok(webhook) => Ok(Some(webhook.webhook_url)),
            Err(ProviderError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

#[async_trait]
impl BankingProvider for Client {
    async fn create_charge(
        &self,
        req: NewCharge,
        key: &IdempotencyKey,
    ) -> Result<Charge, ProviderError> {
        match req.kind {
            ChargeKind::PixDynamic => {}
            ChargeKind::PixStatic | ChargeKind::Bankslip | ChargeKind::BankslipPix => {
                return Err(unsupported("static pix or bank slip charge"));
            }
        }
        let original = wire_amount(req.amount, "amount")?;
        let txid = txid_for(key);
        let call = match req.due_date {
            None => Call::new(
                "create_charge",
                Method::PUT,
                cob_path("cob", &txid),
                "charge",
            )
            .json(&wire::CobRequest {
                calendario: wire::CobCalendarRequest {
                    expiracao: self.charge_expiration_secs(),
                },
                devedor: payer_of(&req),
                valor: wire::AmountRequest {
                    original: original.clone(),
                },
                chave: self.receiver().to_owned(),
                solicitacao_pagador: req.description.clone(),
            })?,
            Some(due) => {
                let devedor = payer_of(&req).ok_or_else(|| {
                    rejected(
                        "payer",
                        "a charge with a due date needs its payer (devedor)",
                    )
                })?;
                Call::new(
                    "create_charge",
                    Method::PUT,
                    cob_path("cobv", &txid),
                    "charge",
                )
                .json(&wire::CobVRequest {
                    calendario: wire::CobVCalendarRequest {
                        data_de_vencimento: due,
                    },
                    devedor,
                    valor: wire::AmountRequest {
                        original: original.clone(),
                    },
                    chave: self.receiver().to_owned(),
                    solicitacao_pagador: req.description.clone(),
                })?
            }
        };
        match self.fetch::<wire::Cob>(&call).await {
            Ok(cob) => charge(cob, Utc::now()),
            // The cob exists and can no longer change (paid, removed): the same charge again.
            // The key names a cob for another amount: a conflict with the earlier create.
            Err(error @ ProviderError::Rejected { .. }) => match self
                .find_cob("create_charge", &txid)
                .await
            {
                Ok(existing) if existing.valor.original == original => charge(existing, Utc::now()),
                Ok(_) => Err(key_conflict("charge", error)),
                Err(_) => Err(error),
            },
            Err(error) => Err(error),
        }
    }

    async fn get_charge(&self, id: &str) -> Result<Charge, ProviderError> {
        let cob = self.find_cob("get_charge", id).await?;
        charge(cob, Utc::now())
    }

    async fn list_charges(&self, page: PageRequest) -> Result<Page<Charge>, ProviderError> {
        let (inicio, fim, number) = match &page.cursor {
            Some(cursor) => parse_cursor(cursor)
                .ok_or_else(|| rejected("cursor", "not a cursor of this list"))?,
            None => {
                let now = Utc::now();
                let format =
                    |time: DateTime<Utc>| time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                (
                    format(now - ChronoDuration::days(LIST_WINDOW_DAYS)),
                    format(now + ChronoDuration::minutes(1)),
                    0,
                )
            }
        };
        let limit = page.limit.clamp(1, 1000);
        let call = Call::new("list_charges", Method::GET, "/cob".to_owned(), "charge")
            .query("inicio", &inicio)
            .query("fim", &fim)
            .query("paginacao.paginaAtual", number)
            .query("paginacao.itensPorPagina", limit);
        let list: wire::CobList = self.fetch(&call).await?;
        let now = Utc::now();
        let items = list
            .cobs
            .into_iter()
            .map(|cob| charge(cob, now))
            .collect::<Result<Vec<Charge>, ProviderError>>()?;
        let pagination = list.parametros.paginacao;
        let more = pagination.pagina_atual.max(number) + 1 < pagination.quantidade_de_paginas;
        Ok(Page {
            items,
            next_cursor: more.then(|| format!("{inicio}|{fim}|{}", number + 1)),
        })
    }

    async fn cancel_charge(&self, id: &str) -> Result<Charge, ProviderError> {
        let body = wire::CobStatusRequest {
            status: "REMOVIDA_PELO_USUARIO_RECEBEDOR",
        };
        let cob = Call::new(
            "cancel_charge",
            Method::PATCH,
            cob_path("cob", id),
            "charge",
        )
        .json(&body)?;
        let outcome = match self.fetch::<wire::Cob>(&cob).await {
            Err(ProviderError::NotFound { .. }) => {
                let cobv = Call::new(
                    "cancel_charge",
                    Method::PATCH,
                    cob_path("cobv", id),
                    "charge",
                )
                .json(&body)?;
                self.fetch::<wire::Cob>(&cobv).await
            }
            outcome => outcome,
        };
        match outcome {
            Ok(cob) => charge(cob, Utc::now()),
            // Already removed (a repeated cancel): the charge as it is.
            Err(error @ ProviderError::Rejected { .. }) => {
                let current = charge(self.find_cob("cancel_charge", id).await?, Utc::now())?;
                match current.status {
                    ChargeStatus::Cancelled => Ok(current),
                    _ => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    async fn send_pix(
        &self,
        _req: PixTransferRequest,
        _key: &IdempotencyKey,
    ) -> Result<PixTransfer, ProviderError> {
        Err(unsupported("send pix"))
    }

    async fn get_pix_transfer(&self, _id: &str) -> Result<PixTransfer, ProviderError> {
        Err(unsupported("get pix transfer"))
    }

    async fn list_pix_transfers(
        &self,
        _page: PageRequest,
    ) -> Result<Page<PixTransfer>, ProviderError> {
        Err(unsupported("list pix transfers"))
    }

    async fn refund_pix(
        &self,
        req: PixRefundRequest,
        key: &IdempotencyKey,
    ) -> Result<PixRefund, ProviderError> {
        let valor = wire_amount(req.amount, "amount")?;
        let id = devolucao_id_for(key);
        let path = format!(
            "/pix/{}/devolucao/{}",
            percent_encode_path_segment(req.end_to_end_id.as_str()),
            percent_encode_path_segment(&id)
        );
        let call = Call::new("refund_pix", Method::PUT, path.clone(), "pix").json(
            &wire::DevolucaoRequest {
                valor: valor.clone(),
                descricao: req.reason,
            },
        )?;
        match self.fetch::<wire::Devolucao>(&call).await {
            Ok(devolucao) => refund(devolucao),
            // A PSP that refuses a repeated id: the refund made the first time, if it is this one.
            Err(error @ ProviderError::Rejected { .. }) => {
                let existing = Call::new("refund_pix", Method::GET, path, "refund");
                match self.fetch::<wire::Devolucao>(&existing).await {
                    Ok(devolucao) if devolucao.valor == valor => refund(devolucao),
                    // The key names a refund of another amount: a conflict with the earlier one.
                    Ok(_) => Err(key_conflict("refund", error)),
                    Err(_) => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    async fn register_pix_key(
        &self,
        _req: NewPixKey,
        _key: &IdempotencyKey,
    ) -> Result<PixKey, ProviderError> {
        Err(unsupported("register pix key"))
    }

    async fn list_pix_keys(&self) -> Result<Vec<PixKey>, ProviderError> {
        Err(unsupported("list pix keys"))
    }

    async fn delete_pix_key(&self, _id: &str, _key: &IdempotencyKey) -> Result<(), ProviderError> {
        Err(unsupported("delete pix key"))
    }

    async fn open_account(
        &self,
        _req: NewAccount,
        _key: &IdempotencyKey,
    ) -> Result<Account, ProviderError> {
        Err(unsupported("open account"))
    }

    async fn get_account(&self, _id: &str) -> Result<Account, ProviderError> {
        Err(unsupported("get account"))
    }

    async fn upload_account_document(
        &self,
        _id: &str,
        _document: AccountDocument,
    ) -> Result<Account, ProviderError> {
        Err(unsupported("upload account document"))
    }

    async fn balance(&self, _account_id: &str) -> Result<Balance, ProviderError> {
        Err(unsupported("balance"))
    }

    async fn statement(
        &self,
        _account_id: &str,
        _page: PageRequest,
    ) -> Result<Page<StatementEntry>, ProviderError> {
        Err(unsupported("statement"))
    }
}
