//! The PSP's memory. Every operation runs under one lock and returns what it answers (JSON or a
//! [`Problem`]) and, when it causes one, the callback to send once the lock is released.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};

use crate::{ControlError, Knobs, PAYER_ISPB, PSP_ISPB, PixIn, SimConfig};

/// A request received on the API listener.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    /// `GET`, `PUT`...
    pub method: String,
    /// The path.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// The request headers; `authorization` keeps only its scheme (`Bearer [REDACTED]`).
    pub headers: BTreeMap<String, String>,
    /// The common name of the client certificate presented.
    pub client_cert_subject: Option<String>,
    /// The status answered.
    pub status: u16,
}

/// One callback attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// The URL called (`{webhookUrl}/pix`).
    pub url: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Whether this was a deliberate duplicate.
    pub duplicate: bool,
    /// Whether the callback was dropped by the `drop_callbacks` knob (not sent).
    pub dropped: bool,
    /// The status received; `None` on a connection failure, a timeout or a drop.
    pub status: Option<u16>,
    /// The body (`{"pix": [...]}`).
    pub body: String,
}

/// A problem-details answer.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub(crate) status: u16,
    /// The last segment of the type URI (`NaoEncontrado`).
    pub(crate) kind: &'static str,
    pub(crate) title: &'static str,
    pub(crate) detail: String,
    /// `(propriedade, razao)`.
    pub(crate) violations: Vec<(String, String)>,
}

impl Problem {
    pub(crate) fn new(
        status: u16,
        kind: &'static str,
        title: &'static str,
        detail: &str,
    ) -> Problem {
        Problem {
            status,
            kind,
            title,
            detail: detail.to_owned(),
            violations: Vec::new(),
        }
    }

    pub(crate) fn not_found() -> Problem {
        Problem::new(
            404,
            "NaoEncontrado",
            "Não Encontrado",
            "Entidade não encontrada.",
        )
    }

    pub(crate) fn unavailable() -> Problem {
        Problem::new(
            503,
            "ServicoIndisponivel",
            "Serviço Indisponível",
            "Serviço não está disponível no momento.",
        )
    }

    pub(crate) fn invalid(kind: &'static str, property: &str, reason: &str) -> Problem {
        let title = match kind {
            "CobOperacaoInvalida" => "Cobrança inválida.",
            "CobVOperacaoInvalida" => "Cobrança inválida.",
            "PixDevolucaoInvalida" => "Devolução inválida.",
            "WebhookOperacaoInvalida" => "Webhook inválido.",
            _ => "Requisição inválida.",
        };
        Problem {
            status: 400,
            kind,
            title,
            detail: "A requisição não respeita o schema ou não faz sentido semanticamente."
                .to_owned(),
            violations: vec![(property.to_owned(), reason.to_owned())],
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut body = json!({
            "type": format!("https://pix.bcb.gov.br/api/v2/error/{}", self.kind),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        });
        if !self.violations.is_empty() {
            body["violacoes"] = self
                .violations
                .iter()
                .map(|(property, reason)| json!({"razao": reason, "propriedade": property}))
                .collect();
        }
        body
    }
}

/// Immediate (`cob`) or with a due date (`cobv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CobKind {
    Cob,
    CobV,
}

impl CobKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CobKind::Cob => "cob",
            CobKind::CobV => "cobv",
        }
    }

    fn invalid(self) -> &'static str {
        match self {
            CobKind::Cob => "CobOperacaoInvalida",
            CobKind::CobV => "CobVOperacaoInvalida",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Cob {
    kind: CobKind,
    txid: String,
    revisao: u32,
    criacao: DateTime<Utc>,
    expiracao: i64,
    due_date: Option<NaiveDate>,
    validade: i64,
    status: &'static str,
    valor: Decimal,
    chave: String,
    devedor: Option<Value>,
    solicitacao: Option<String>,
    loc_id: u64,
    pix: Vec<String>,
    /// The request body as last accepted (a PUT repeating it changes nothing).
    request: Value,
}

#[derive(Debug, Clone)]
pub(crate) struct ReceivedPix {
    end_to_end_id: String,
    txid: Option<String>,
    valor: Decimal,
    chave: String,
    horario: DateTime<Utc>,
    info_pagador: Option<String>,
    pagador: Option<Value>,
    devolucoes: Vec<Devolucao>,
}

#[derive(Debug, Clone)]
pub(crate) struct Devolucao {
    id: String,
    rtr_id: String,
    valor: Decimal,
    descricao: Option<String>,
    solicitacao: DateTime<Utc>,
    liquidacao: Option<DateTime<Utc>>,
    status: &'static str,
    motivo: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    pub(crate) url: String,
    criacao: DateTime<Utc>,
}

/// A callback to send: `{"pix": [...]}` to `url` (`{webhookUrl}/pix`).
#[derive(Debug, Clone)]
pub(crate) struct Callback {
    pub(crate) url: String,
    pub(crate) body: String,
}

/// The simulator's memory.
pub(crate) struct State {
    pub(crate) knobs: Knobs,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) deliveries: Vec<Delivery>,
    /// Access token → expiry.
    pub(crate) tokens: HashMap<String, DateTime<Utc>>,
    pub(crate) webhooks: HashMap<String, Webhook>,
    cobs: HashMap<String, Cob>,
    pix: HashMap<String, ReceivedPix>,
    next_loc: u64,
}

fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn money(value: Decimal) -> String {
    format!("{value:.2}")
}

fn alphanumeric(length: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..length)
        .map(|_| {
            let index = rand::random_range(0..ALPHABET.len());
            char::from(ALPHABET.get(index).copied().unwrap_or(b'a'))
        })
        .collect()
}

/// `E` or `D`, the ISPB, `yyyyMMddHHmm` and 11 random characters: 32 in all.
fn end_to_end_id(prefix: char, ispb: &str, at: DateTime<Utc>) -> String {
    format!(
        "{prefix}{ispb}{}{}",
        at.format("%Y%m%d%H%M"),
        alphanumeric(11)
    )
}

/// An amount in the spec's grammar (`\d{1,10}\.\d{2}`), greater than zero.
pub(crate) fn parse_amount(text: Option<&Value>) -> Option<Decimal> {
    let text = text?.as_str()?;
    let (integer, fraction) = text.split_once('.')?;
    let valid = (1..=10).contains(&integer.len())
        && fraction.len() == 2
        && integer.bytes().all(|byte| byte.is_ascii_digit())
        && fraction.bytes().all(|byte| byte.is_ascii_digit());
    if !valid {
        return None;
    }
    Decimal::from_str_exact(text)
        .ok()
        .filter(|amount| *amount > Decimal::ZERO)
}

/// `[a-zA-Z0-9]{min,max}`.
pub(crate) fn valid_id(id: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&id.len()) && id.bytes().all(|byte| byte.is_ascii_alphanumeric())
}

/// A `devedor`: CPF xor CNPJ, with a name when either is given.
fn devedor(value: Option<&Value>, required: bool, kind: CobKind) -> Result<Option<Value>, Problem> {
    let Some(value) = value.filter(|value| !value.is_null()) else {
        return match required {
            true => Err(Problem::invalid(
                kind.invalid(),
                "cobv.devedor",
                "O objeto cobv.devedor é obrigatório.",
            )),
            false => Ok(None),
        };
    };
    let cpf = value.get("cpf").and_then(Value::as_str);
    let cnpj = value.get("cnpj").and_then(Value::as_str);
    let nome = value.get("nome").and_then(Value::as_str);
    let property = format!("{}.devedor", kind.as_str());
    match (cpf, cnpj) {
        (Some(_), Some(_)) => Err(Problem::invalid(
            kind.invalid(),
            &property,
            "Os campos devedor.cpf e devedor.cnpj não podem estar preenchidos ao mesmo tempo.",
        )),
        (Some(cpf), None) if cpf.len() != 11 || !cpf.bytes().all(|b| b.is_ascii_digit()) => Err(
            Problem::invalid(kind.invalid(), &property, "O campo devedor.cpf é inválido."),
        ),
        (None, Some(cnpj))
            if cnpj.len() != 14 || !cnpj.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            Err(Problem::invalid(
                kind.invalid(),
                &property,
                "O campo devedor.cnpj é inválido.",
            ))
        }
        (None, None) if required || nome.is_some() => Err(Problem::invalid(
            kind.invalid(),
            &property,
            "O devedor precisa de um cpf ou um cnpj.",
        )),
        (_, _) if nome.is_none() && (cpf.is_some() || cnpj.is_some()) => Err(Problem::invalid(
            kind.invalid(),
            &property,
            "O campo devedor.nome é obrigatório.",
        )),
        _ => Ok(Some(value.clone())),
    }
}

impl State {
    pub(crate) fn new(_config: &SimConfig) -> State {
        State {
            knobs: Knobs::default(),
            requests: Vec::new(),
            deliveries: Vec::new(),
            tokens: HashMap::new(),
            webhooks: HashMap::new(),
            cobs: HashMap::new(),
            pix: HashMap::new(),
            next_loc: 100,
        }
    }

    // ---- OAuth2. ----

    /// Issues a token valid for `ttl`.
    pub(crate) fn issue_token(&mut self, ttl: Duration) -> String {
        let token = alphanumeric(40);
        let ttl = chrono::Duration::from_std(ttl).unwrap_or_else(|_| chrono::Duration::hours(1));
        self.tokens.insert(token.clone(), Utc::now() + ttl);
        token
    }

    /// Whether `token` is a live token.
    pub(crate) fn token_valid(&self, token: &str) -> bool {
        self.tokens
            .get(token)
            .is_some_and(|expires| *expires > Utc::now())
    }

    // ---- Cobs. ----

    /// `PUT /cob/{txid}` and `PUT /cobv/{txid}`.
    pub(crate) fn put_cob(
        &mut self,
        config: &SimConfig,
        kind: CobKind,
        txid: &str,
        body: &Value,
    ) -> Result<(u16, Value), Problem> {
        if !valid_id(txid, 26, 35) {
            return Err(Problem::invalid(
                kind.invalid(),
                "txid",
                "O campo txid não respeita o schema ([a-zA-Z0-9]{26,35}).",
            ));
        }
        if let Some(existing) = self.cobs.get(txid) {
            if existing.kind != kind {
                return Err(Problem::invalid(
                    kind.invalid(),
                    "txid",
                    "O txid já é usado por uma cobrança de outro tipo.",
                ));
            }
            if existing.status != "ATIVA" {
                return Err(Problem::invalid(
                    kind.invalid(),
                    "txid",
                    "A cobrança já existe, não está ATIVA, e a presente requisição busca alterá-la.",
                ));
            }
            if existing.request == *body {
                return Ok((201, self.cob_json(existing)));
            }
        }
        let property = |field: &str| format!("{}.{field}", kind.as_str());
        let valor = parse_amount(body.pointer("/valor/original")).ok_or_else(|| {
            Problem::invalid(
                kind.invalid(),
                &property("valor.original"),
                "O campo valor.original não respeita o schema.",
            )
        })?;
        let chave = body
            .get("chave")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !config.keys.contains(&chave) {
            return Err(Problem::invalid(
                kind.invalid(),
                &property("chave"),
                "A chave não pertence a este usuário recebedor.",
            ));
        }
        let devedor = devedor(body.get("devedor"), kind == CobKind::CobV, kind)?;
        let (expiracao, due_date, validade) = match kind {
            CobKind::Cob => {
                let expiracao = body
                    .pointer("/calendario/expiracao")
                    .and_then(Value::as_i64)
                    .unwrap_or(86_400);
                if expiracao <= 0 {
                    return Err(Problem::invalid(
                        kind.invalid(),
                        "cob.calendario.expiracao",
                        "O campo calendario.expiracao é menor ou igual a zero.",
                    ));
                }
                (expiracao, None, 0)
            }
            CobKind::CobV => {
                let due = body
                    .pointer("/calendario/dataDeVencimento")
                    .and_then(Value::as_str)
                    .and_then(|text| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
                    .ok_or_else(|| {
                        Problem::invalid(
                            kind.invalid(),
                            "cobv.calendario.dataDeVencimento",
                            "O campo calendario.dataDeVencimento não respeita o schema.",
                        )
                    })?;
                let validade = body
                    .pointer("/calendario/validadeAposVencimento")
                    .and_then(Value::as_i64)
                    .unwrap_or(30);
                (0, Some(due), validade)
            }
        };
        let (revisao, criacao, loc_id, pix) = match self.cobs.get(txid) {
            Some(existing) => (
                existing.revisao + 1,
                existing.criacao,
                existing.loc_id,
                existing.pix.clone(),
            ),
            None => {
                self.next_loc += 1;
                (0, Utc::now(), self.next_loc, Vec::new())
            }
        };
        let cob = Cob {
            kind,
            txid: txid.to_owned(),
            revisao,
            criacao,
            expiracao,
            due_date,
            validade,
            status: "ATIVA",
            valor,
            chave,
            devedor,
            solicitacao: body
                .get("solicitacaoPagador")
                .and_then(Value::as_str)
                .map(str::to_owned),
            loc_id,
            pix,
            request: body.clone(),
        };
        let json = self.cob_json(&cob);
        self.cobs.insert(txid.to_owned(), cob);
        Ok((201, json))
    }

    /// `PATCH /cob/{txid}` and `PATCH /cobv/{txid}`: the status (removal), the amount, the
    /// payer's request text.
    pub(crate) fn patch_cob(
        &mut self,
        kind: CobKind,
        txid: &str,
        body: &Value,
    ) -> Result<Value, Problem> {
        let invalid = kind.invalid();
        let cob = self
            .cobs
            .get_mut(txid)
            .filter(|cob| cob.kind == kind)
            .ok_or_else(Problem::not_found)?;
        if cob.status != "ATIVA" {
            return Err(Problem::invalid(
                invalid,
                "status",
                "A cobrança não está ATIVA e não pode ser alterada.",
            ));
        }
        let status = body.get("status").and_then(Value::as_str);
        let valor = body.pointer("/valor/original");
        match status {
            Some("REMOVIDA_PELO_USUARIO_RECEBEDOR") if valor.is_some() => {
                return Err(Problem::invalid(
                    invalid,
                    "status",
                    "Não é permitido remover a cobrança e alterá-la ao mesmo tempo.",
                ));
            }
            Some("REMOVIDA_PELO_USUARIO_RECEBEDOR") => {
                cob.status = "REMOVIDA_PELO_USUARIO_RECEBEDOR"
            }
            Some(_) => {
                return Err(Problem::invalid(
                    invalid,
                    "status",
                    "O campo status não respeita o schema.",
                ));
            }
            None => {}
        }
        if valor.is_some() {
            cob.valor = parse_amount(valor).ok_or_else(|| {
                Problem::invalid(
                    invalid,
                    "valor.original",
                    "O campo valor.original não respeita o schema.",
                )
            })?;
        }
        if let Some(text) = body.get("solicitacaoPagador").and_then(Value::as_str) {
            cob.solicitacao = Some(text.to_owned());
        }
        cob.revisao += 1;
        let cob = cob.clone();
        Ok(self.cob_json(&cob))
    }

    /// `GET /cob/{txid}` and `GET /cobv/{txid}`.
    pub(crate) fn get_cob(&self, kind: CobKind, txid: &str) -> Result<Value, Problem> {
        self.cobs
            .get(txid)
            .filter(|cob| cob.kind == kind)
            .map(|cob| self.cob_json(cob))
            .ok_or_else(Problem::not_found)
    }

    /// `GET /cob` and `GET /cobv`: created between `inicio` and `fim`, oldest first, paged.
    pub(crate) fn list_cobs(&self, kind: CobKind, window: &Window) -> Result<Value, Problem> {
        let mut cobs: Vec<&Cob> = self
            .cobs
            .values()
            .filter(|cob| cob.kind == kind && window.contains(cob.criacao))
            .collect();
        cobs.sort_by(|left, right| (left.criacao, &left.txid).cmp(&(right.criacao, &right.txid)));
        let (page, paginacao) = window.page(&cobs);
        let items: Vec<Value> = page
            .iter()
            .map(|cob| {
                let mut json = self.cob_json(cob);
                json["idCob"] = json!(format!("{}{}", kind.as_str(), cob.loc_id));
                json
            })
            .collect();
        let key = match kind {
            CobKind::Cob => "cobs",
            CobKind::CobV => "cobsv",
        };
        Ok(json!({
            "parametros": window.parameters(paginacao),
            key: items,
        }))
    }

    fn cob_json(&self, cob: &Cob) -> Value {
        let location = format!("pix.example.com/qr/v2/{}{}", cob.kind.as_str(), cob.loc_id);
        let calendario = match cob.kind {
            CobKind::Cob => json!({"criacao": timestamp(cob.criacao), "expiracao": cob.expiracao}),
            CobKind::CobV => json!({
                "criacao": timestamp(cob.criacao),
                "dataDeVencimento": cob.due_date.map(|due| due.format("%Y-%m-%d").to_string()),
                "validadeAposVencimento": cob.validade,
            }),
        };
        let mut json = json!({
            "calendario": calendario,
            "txid": cob.txid,
            "revisao": cob.revisao,
            "loc": {
                "id": cob.loc_id,
                "location": location,
                "tipoCob": cob.kind.as_str(),
                "criacao": timestamp(cob.criacao),
            },
            "location": location,
            "status": cob.status,
            "valor": {"original": money(cob.valor)},
            "chave": cob.chave,
            "pixCopiaECola": format!(
                "00020101021226830014br.gov.bcb.pix2561{location}520400005303986540{}5802BR5913PAYGATE LTDA6009SAO PAULO62070503***6304ABCD",
                money(cob.valor)
            ),
        });
        if let Some(devedor) = &cob.devedor {
            json["devedor"] = devedor.clone();
        }
        if let Some(text) = &cob.solicitacao {
            json["solicitacaoPagador"] = json!(text);
        }
        if cob.kind == CobKind::CobV {
            json["recebedor"] = json!({
                "cnpj": crate::RECEIVER_CNPJ,
                "nome": "PAYGATE PLATAFORMA LTDA",
                "logradouro": "Avenida Paulista, 1000",
                "cidade": "São Paulo",
                "uf": "SP",
                "cep": "01310100",
            });
        }
        let pix: Vec<Value> = cob
            .pix
            .iter()
            .filter_map(|id| self.pix.get(id))
            .map(pix_json)
            .collect();
        if !pix.is_empty() {
            json["pix"] = json!(pix);
        }
        json
    }

    /// The amount to pay a cob in full, if it can be paid.
    pub(crate) fn payable_amount(&self, txid: &str) -> Option<Decimal> {
        self.cobs
            .get(txid)
            .filter(|cob| cob.status == "ATIVA")
            .map(|cob| cob.valor)
    }

    // ---- Pix received. ----

    /// A Pix from another bank. Returns its end-to-end id and the callback it causes.
    pub(crate) fn pix_in(
        &mut self,
        config: &SimConfig,
        pix: &PixIn,
    ) -> Result<(String, Option<Callback>), ControlError> {
        if pix.valor <= Decimal::ZERO || pix.valor.normalize().scale() > 2 {
            return Err(ControlError(
                "valor must be positive with at most two decimals".to_owned(),
            ));
        }
        let chave = match &pix.txid {
            Some(txid) => {
                let cob = self
                    .cobs
                    .get(txid)
                    .ok_or_else(|| ControlError(format!("no cob {txid}")))?;
                if cob.status != "ATIVA" {
                    return Err(ControlError(format!("cob {txid} is {}", cob.status)));
                }
                if cob.valor != pix.valor {
                    return Err(ControlError(format!(
                        "cob {txid} is for {}, not {}",
                        money(cob.valor),
                        money(pix.valor)
                    )));
                }
                cob.chave.clone()
            }
            None => pix
                .chave
                .clone()
                .or_else(|| config.keys.first().cloned())
                .ok_or_else(|| ControlError("no key to credit".to_owned()))?,
        };
        let now = Utc::now();
        let id = end_to_end_id('E', PAYER_ISPB, now);
        let pagador = pix.payer_document.as_ref().map(|document| {
            let field = match document.len() {
                11 => "cpf",
                _ => "cnpj",
            };
            json!({
                field: document,
                "nome": pix.payer_name.clone().unwrap_or_else(|| "PAGADOR".to_owned()),
            })
        });
        let received = ReceivedPix {
            end_to_end_id: id.clone(),
            txid: pix.txid.clone(),
            valor: pix.valor,
            chave: chave.clone(),
            horario: now,
            info_pagador: pix.info_pagador.clone(),
            pagador,
            devolucoes: Vec::new(),
        };
        if let Some(txid) = &pix.txid
            && let Some(cob) = self.cobs.get_mut(txid)
        {
            cob.status = "CONCLUIDA";
            cob.pix.push(id.clone());
        }
        let notify = received.txid.is_some() || config.notify_pix_without_txid;
        let callback = match notify {
            true => self.callback_for(&received),
            false => None,
        };
        self.pix.insert(id.clone(), received);
        Ok((id, callback))
    }

    /// `GET /pix/{e2eid}`.
    pub(crate) fn get_pix(&self, id: &str) -> Result<Value, Problem> {
        self.pix
            .get(id)
            .map(pix_json)
            .ok_or_else(Problem::not_found)
    }

    /// `GET /pix`: received between `inicio` and `fim`, oldest first, paged; optionally those of
    /// one `txid`.
    pub(crate) fn list_pix(&self, window: &Window, txid: Option<&str>) -> Value {
        let mut pix: Vec<&ReceivedPix> = self
            .pix
            .values()
            .filter(|pix| window.contains(pix.horario))
            .filter(|pix| txid.is_none_or(|txid| pix.txid.as_deref() == Some(txid)))
            .collect();
        pix.sort_by(|left, right| {
            (left.horario, &left.end_to_end_id).cmp(&(right.horario, &right.end_to_end_id))
        });
        let (page, paginacao) = window.page(&pix);
        json!({
            "parametros": window.parameters(paginacao),
            "pix": page.iter().map(|pix| pix_json(pix)).collect::<Vec<Value>>(),
        })
    }

    // ---- Refunds. ----

    /// `PUT /pix/{e2eid}/devolucao/{id}`: a new refund `EM_PROCESSAMENTO`, or the same one again
    /// when the request repeats it. Returns whether it is new (to schedule its settlement).
    pub(crate) fn put_devolucao(
        &mut self,
        end_to_end_id: &str,
        id: &str,
        body: &Value,
    ) -> Result<(Value, bool), Problem> {
        if !valid_id(id, 1, 35) {
            return Err(Problem::invalid(
                "PixDevolucaoInvalida",
                "id",
                "O id da devolução não respeita o schema ([a-zA-Z0-9]{1,35}).",
            ));
        }
        let valor = parse_amount(body.get("valor")).ok_or_else(|| {
            Problem::invalid(
                "PixDevolucaoInvalida",
                "devolucao.valor",
                "O campo devolucao.valor não respeita o schema.",
            )
        })?;
        let pix = self
            .pix
            .get_mut(end_to_end_id)
            .ok_or_else(Problem::not_found)?;
        if let Some(existing) = pix.devolucoes.iter().find(|devolucao| devolucao.id == id) {
            if existing.valor == valor {
                return Ok((devolucao_json(existing), false));
            }
            return Err(Problem::invalid(
                "PixDevolucaoInvalida",
                "id",
                "O id já foi utilizado por outra requisição de devolução deste Pix.",
            ));
        }
        let refunded: Decimal = pix
            .devolucoes
            .iter()
            .filter(|devolucao| devolucao.status != "NAO_REALIZADO")
            .map(|devolucao| devolucao.valor)
            .sum();
        if refunded + valor > pix.valor {
            return Err(Problem::invalid(
                "PixDevolucaoInvalida",
                "devolucao.valor",
                "A devolução, somada às anteriores, excede o valor do Pix.",
            ));
        }
        let now = Utc::now();
        let devolucao = Devolucao {
            id: id.to_owned(),
            rtr_id: end_to_end_id_for_refund(now),
            valor,
            descricao: body
                .get("descricao")
                .and_then(Value::as_str)
                .map(str::to_owned),
            solicitacao: now,
            liquidacao: None,
            status: "EM_PROCESSAMENTO",
            motivo: None,
        };
        let json = devolucao_json(&devolucao);
        pix.devolucoes.push(devolucao);
        Ok((json, true))
    }

    /// `GET /pix/{e2eid}/devolucao/{id}`.
    pub(crate) fn get_devolucao(&self, end_to_end_id: &str, id: &str) -> Result<Value, Problem> {
        self.pix
            .get(end_to_end_id)
            .and_then(|pix| pix.devolucoes.iter().find(|devolucao| devolucao.id == id))
            .map(devolucao_json)
            .ok_or_else(Problem::not_found)
    }

    /// Settles a refund in processing per the `refund_outcome` knob; returns the callback (the Pix
    /// with its refunds) when its key has a webhook.
    pub(crate) fn settle_devolucao(&mut self, end_to_end_id: &str, id: &str) -> Option<Callback> {
        let outcome = self.knobs.refund_outcome;
        let pix = self.pix.get_mut(end_to_end_id)?;
        let devolucao = pix
            .devolucoes
            .iter_mut()
            .find(|devolucao| devolucao.id == id && devolucao.status == "EM_PROCESSAMENTO")?;
        match outcome {
            crate::RefundOutcome::Devolvido => {
                devolucao.status = "DEVOLVIDO";
                devolucao.liquidacao = Some(Utc::now());
            }
            crate::RefundOutcome::NaoRealizado => {
                devolucao.status = "NAO_REALIZADO";
                devolucao.motivo = Some("Devolução recusada pelo PSP do pagador.".to_owned());
            }
        }
        let pix = pix.clone();
        self.callback_for(&pix)
    }

    // ---- Webhooks. ----

    /// `PUT /webhook/{chave}`.
    pub(crate) fn put_webhook(
        &mut self,
        config: &SimConfig,
        chave: &str,
        body: &Value,
    ) -> Result<(), Problem> {
        if !config.keys.iter().any(|key| key == chave) {
            return Err(Problem::invalid(
                "WebhookOperacaoInvalida",
                "chave",
                "O parâmetro chave não corresponde a uma chave DICT pertencente a este usuário recebedor.",
            ));
        }
        let url = body
            .get("webhookUrl")
            .and_then(Value::as_str)
            .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
            .ok_or_else(|| {
                Problem::invalid(
                    "WebhookOperacaoInvalida",
                    "webhook.webhookUrl",
                    "O campo webhook.webhookUrl não respeita o schema.",
                )
            })?;
        self.webhooks.insert(
            chave.to_owned(),
            Webhook {
                url: url.to_owned(),
                criacao: Utc::now(),
            },
        );
        Ok(())
    }

    /// `GET /webhook/{chave}`.
    pub(crate) fn get_webhook(&self, chave: &str) -> Result<Value, Problem> {
        self.webhooks
            .get(chave)
            .map(|webhook| {
                json!({
                    "webhookUrl": webhook.url,
                    "chave": chave,
                    "criacao": timestamp(webhook.criacao),
                })
            })
            .ok_or_else(Problem::not_found)
    }

    /// `DELETE /webhook/{chave}`.
    pub(crate) fn delete_webhook(&mut self, chave: &str) -> Result<(), Problem> {
        self.webhooks
            .remove(chave)
            .map(|_| ())
            .ok_or_else(Problem::not_found)
    }

    fn callback_for(&self, pix: &ReceivedPix) -> Option<Callback> {
        let webhook = self.webhooks.get(&pix.chave)?;
        Some(Callback {
            url: format!("{}/pix", webhook.url.trim_end_matches('/')),
            body: json!({"pix": [pix_json(pix)]}).to_string(),
        })
    }
}

fn end_to_end_id_for_refund(at: DateTime<Utc>) -> String {
    end_to_end_id('D', PSP_ISPB, at)
}

fn pix_json(pix: &ReceivedPix) -> Value {
    let mut json = json!({
        "endToEndId": pix.end_to_end_id,
        "valor": money(pix.valor),
        "chave": pix.chave,
        "horario": timestamp(pix.horario),
    });
    if let Some(txid) = &pix.txid {
        json["txid"] = json!(txid);
    }
    if let Some(info) = &pix.info_pagador {
        json["infoPagador"] = json!(info);
    }
    if let Some(pagador) = &pix.pagador {
        json["pagador"] = pagador.clone();
    }
    if !pix.devolucoes.is_empty() {
        json["devolucoes"] = pix.devolucoes.iter().map(devolucao_json).collect();
    }
    json
}

fn devolucao_json(devolucao: &Devolucao) -> Value {
    let mut horario = json!({"solicitacao": timestamp(devolucao.solicitacao)});
    if let Some(liquidacao) = devolucao.liquidacao {
        horario["liquidacao"] = json!(timestamp(liquidacao));
    }
    let mut json = json!({
        "id": devolucao.id,
        "rtrId": devolucao.rtr_id,
        "valor": money(devolucao.valor),
        "natureza": "ORIGINAL",
        "horario": horario,
        "status": devolucao.status,
    });
    if let Some(text) = &devolucao.descricao {
        json["descricao"] = json!(text);
    }
    if let Some(motivo) = &devolucao.motivo {
        json["motivo"] = json!(motivo);
    }
    json
}

/// The `inicio`, `fim` and `paginacao` of a list query.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    pub(crate) inicio: DateTime<Utc>,
    pub(crate) fim: DateTime<Utc>,
    pub(crate) page: usize,
    pub(crate) per_page: usize,
}

impl Window {
    fn contains(&self, at: DateTime<Utc>) -> bool {
        self.inicio <= at && at <= self.fim
    }

    /// The items of the page, and `(paginaAtual, itensPorPagina, quantidadeDePaginas, total)`.
    fn page<'a, T>(&self, items: &'a [T]) -> (&'a [T], [usize; 4]) {
        let total = items.len();
        let pages = total.div_ceil(self.per_page).max(1);
        let start = (self.page * self.per_page).min(total);
        let end = (start + self.per_page).min(total);
        (
            items.get(start..end).unwrap_or_default(),
            [self.page, self.per_page, pages, total],
        )
    }

    fn parameters(&self, [page, per_page, pages, total]: [usize; 4]) -> Value {
        json!({
            "inicio": timestamp(self.inicio),
            "fim": timestamp(self.fim),
            "paginacao": {
                "paginaAtual": page,
                "itensPorPagina": per_page,
                "quantidadeDePaginas": pages,
                "quantidadeTotalDeItens": total,
            },
        })
    }
}
