//! The API Pix's JSON, as the spec names it (Portuguese, camelCase). Private: converted by hand in
//! `convert` and read by `events`. Statuses are enums with an `Unknown(String)` arm, so a status a
//! newer release adds is seen (and refused or kept) rather than failing the whole body. Amounts
//! stay text until they are parsed into `Money`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};

/// The token endpoint's answer.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) expires_in: Option<u64>,
}

/// An RFC 7807 problem (`Problema`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Problem {
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) detail: Option<String>,
    #[serde(rename = "correlationId")]
    pub(crate) correlation_id: Option<String>,
    pub(crate) violacoes: Vec<Violation>,
}

/// One `violacoes` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Violation {
    pub(crate) razao: Option<String>,
    pub(crate) propriedade: Option<String>,
}

// ---- Requests. ----

/// `PUT /cob/{txid}` (`CobSolicitada`).
#[derive(Debug, Serialize)]
pub(crate) struct CobRequest {
    pub(crate) calendario: CobCalendarRequest,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) devedor: Option<PersonRequest>,
    pub(crate) valor: AmountRequest,
    pub(crate) chave: String,
    #[serde(rename = "solicitacaoPagador", skip_serializing_if = "Option::is_none")]
    pub(crate) solicitacao_pagador: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct CobCalendarRequest {
    pub(crate) expiracao: u32,
}

/// `PUT /cobv/{txid}` (`CobVSolicitada`).
#[derive(Debug, Serialize)]
pub(crate) struct CobVRequest {
    pub(crate) calendario: CobVCalendarRequest,
    pub(crate) devedor: PersonRequest,
    pub(crate) valor: AmountRequest,
    pub(crate) chave: String,
    #[serde(rename = "solicitacaoPagador", skip_serializing_if = "Option::is_none")]
    pub(crate) solicitacao_pagador: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct CobVCalendarRequest {
    #[serde(rename = "dataDeVencimento")]
    pub(crate) data_de_vencimento: NaiveDate,
}

/// A `devedor`: `cpf` or `cnpj`, and `nome`.
#[derive(Debug, Serialize)]
pub(crate) struct PersonRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cpf: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cnpj: Option<String>,
    pub(crate) nome: String,
}

/// `{"original": "110.00"}`.
#[derive(Debug, Serialize)]
pub(crate) struct AmountRequest {
    pub(crate) original: String,
}

/// `PATCH /cob/{txid}` removing the charge.
#[derive(Debug, Serialize)]
pub(crate) struct CobStatusRequest {
    pub(crate) status: &'static str,
}

/// `PUT /pix/{e2eid}/devolucao/{id}` (`DevolucaoSolicitada`).
#[derive(Debug, Serialize)]
pub(crate) struct DevolucaoRequest {
    pub(crate) valor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) descricao: Option<String>,
}

/// `PUT /webhook/{chave}`.
#[derive(Debug, Serialize)]
pub(crate) struct WebhookRequest {
    #[serde(rename = "webhookUrl")]
    pub(crate) webhook_url: String,
}

// ---- Answers. ----

/// A cob or cobv (`CobCompleta`, `CobVCompleta`): the fields the gateway reads.
#[derive(Debug, Deserialize)]
pub(crate) struct Cob {
    pub(crate) txid: String,
    pub(crate) status: CobStatus,
    pub(crate) calendario: CobCalendar,
    pub(crate) valor: CobAmount,
    #[serde(rename = "pixCopiaECola", default)]
    pub(crate) pix_copia_e_cola: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CobCalendar {
    pub(crate) criacao: DateTime<Utc>,
    #[serde(default)]
    pub(crate) expiracao: Option<i64>,
    #[serde(rename = "dataDeVencimento", default)]
    pub(crate) data_de_vencimento: Option<NaiveDate>,
    #[serde(rename = "validadeAposVencimento", default)]
    pub(crate) validade_apos_vencimento: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CobAmount {
    pub(crate) original: String,
}

/// `CobrancaStatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CobStatus {
    Ativa,
    Concluida,
    RemovidaPeloUsuarioRecebedor,
    RemovidaPeloPsp,
    Unknown(String),
}

impl<'de> Deserialize<'de> for CobStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<CobStatus, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(match text.as_str() {
            "ATIVA" => CobStatus::Ativa,
            "CONCLUIDA" => CobStatus::Concluida,
            "REMOVIDA_PELO_USUARIO_RECEBEDOR" => CobStatus::RemovidaPeloUsuarioRecebedor,
            "REMOVIDA_PELO_PSP" => CobStatus::RemovidaPeloPsp,
            _ => CobStatus::Unknown(text),
        })
    }
}

/// `CobsConsultadas` (`GET /cob`).
#[derive(Debug, Deserialize)]
pub(crate) struct CobList {
    pub(crate) parametros: ListParameters,
    #[serde(default)]
    pub(crate) cobs: Vec<Cob>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListParameters {
    pub(crate) paginacao: Pagination,
}

/// `Paginacao`.
#[derive(Debug, Deserialize)]
pub(crate) struct Pagination {
    #[serde(rename = "paginaAtual")]
    pub(crate) pagina_atual: u64,
    #[serde(rename = "quantidadeDePaginas")]
    pub(crate) quantidade_de_paginas: u64,
}

/// A Pix received (`Pix`), in answers and in callbacks.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Pix {
    #[serde(rename = "endToEndId")]
    pub(crate) end_to_end_id: String,
    #[serde(default)]
    pub(crate) txid: Option<String>,
    pub(crate) valor: String,
    pub(crate) horario: DateTime<Utc>,
    /// Not in the spec's `Pix`, but sent by many PSPs (and the simulator): who paid.
    #[serde(default)]
    pub(crate) pagador: Option<Payer>,
    /// An array in the schema; one of the spec's own examples sends a single object.
    #[serde(default, deserialize_with = "one_or_many")]
    pub(crate) devolucoes: Vec<Devolucao>,
}

/// `pagador`: `cpf` or `cnpj`, and `nome`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Payer {
    pub(crate) cpf: Option<String>,
    pub(crate) cnpj: Option<String>,
    pub(crate) nome: Option<String>,
}

/// A refund (`Devolucao`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Devolucao {
    pub(crate) id: String,
    #[serde(rename = "rtrId", default)]
    pub(crate) rtr_id: Option<String>,
    pub(crate) valor: String,
    #[serde(default)]
    pub(crate) horario: DevolucaoTimes,
    pub(crate) status: DevolucaoStatus,
    #[serde(default)]
    pub(crate) motivo: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DevolucaoTimes {
    pub(crate) solicitacao: Option<DateTime<Utc>>,
    pub(crate) liquidacao: Option<DateTime<Utc>>,
}

/// The status of a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DevolucaoStatus {
    EmProcessamento,
    Devolvido,
    NaoRealizado,
    Unknown(String),
}

impl DevolucaoStatus {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            DevolucaoStatus::EmProcessamento => "EM_PROCESSAMENTO",
            DevolucaoStatus::Devolvido => "DEVOLVIDO",
            DevolucaoStatus::NaoRealizado => "NAO_REALIZADO",
            DevolucaoStatus::Unknown(text) => text,
        }
    }
}

impl<'de> Deserialize<'de> for DevolucaoStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<DevolucaoStatus, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(match text.as_str() {
            "EM_PROCESSAMENTO" => DevolucaoStatus::EmProcessamento,
            "DEVOLVIDO" => DevolucaoStatus::Devolvido,
            "NAO_REALIZADO" => DevolucaoStatus::NaoRealizado,
            _ => DevolucaoStatus::Unknown(text),
        })
    }
}

/// `GET /webhook/{chave}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Webhook {
    #[serde(rename = "webhookUrl")]
    pub(crate) webhook_url: String,
}

/// The callback body, its items still raw so that one unreadable item does not hide the others.
#[derive(Debug, Deserialize)]
pub(crate) struct Callback {
    pub(crate) pix: Vec<Box<serde_json::value::RawValue>>,
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Devolucao>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<Devolucao>),
        One(Box<Devolucao>),
        Nothing(()),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::Many(many) => many,
        OneOrMany::One(one) => vec![*one],
        OneOrMany::Nothing(()) => Vec::new(),
    })
}
