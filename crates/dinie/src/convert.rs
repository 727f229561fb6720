//! Conversions from the wire DTOs to `providers` types and this crate's public model, with
//! exhaustive status matches: a status Dinie adds later fails to parse in `wire` and surfaces as
//! [`ProviderError::InvalidResponse`], never as a guess.

use providers::{
    CreditOffer, CreditOfferStatus, Customer, CustomerStatus, Document, Installment, KycDocument,
    Loan, LoanStatus, ProviderError, Simulation, WebhookCredential,
};

use crate::model::{
    ApiCredential, BiometricsSession, CredentialStatus, EndpointStatus, RotatedSecret,
    WebhookEndpoint,
};
use crate::wire;

fn invalid(message: impl Into<String>) -> ProviderError {
    ProviderError::InvalidResponse {
        message: message.into(),
    }
}

/// The provider-neutral customer status of a wire status ([S]'s `creating` is still onboarding).
pub(crate) fn customer_status(status: wire::CustomerStatus) -> CustomerStatus {
    match status {
        wire::CustomerStatus::Creating | wire::CustomerStatus::PendingKyc => {
            CustomerStatus::PendingKyc
        }
        wire::CustomerStatus::UnderReview => CustomerStatus::UnderReview,
        wire::CustomerStatus::Active => CustomerStatus::Active,
        wire::CustomerStatus::Denied => CustomerStatus::Denied,
    }
}

/// The provider-neutral loan status of a wire status.
pub(crate) fn loan_status(status: wire::LoanStatus) -> LoanStatus {
    match status {
        wire::LoanStatus::Processing => LoanStatus::Processing,
        wire::LoanStatus::ContractGenerated => LoanStatus::ContractGenerated,
        wire::LoanStatus::AwaitingSignatures => LoanStatus::AwaitingSignatures,
        wire::LoanStatus::Signed => LoanStatus::Signed,
        wire::LoanStatus::Disbursing => LoanStatus::Disbursing,
        wire::LoanStatus::Active => LoanStatus::Active,
        wire::LoanStatus::Finished => LoanStatus::Finished,
        wire::LoanStatus::Cancelled => LoanStatus::Cancelled,
        wire::LoanStatus::Error => LoanStatus::Error,
    }
}

/// The provider-neutral offer status of a wire status.
pub(crate) fn offer_status(status: wire::OfferStatus) -> CreditOfferStatus {
    match status {
        wire::OfferStatus::Available => CreditOfferStatus::Available,
        wire::OfferStatus::Accepted => CreditOfferStatus::Accepted,
        wire::OfferStatus::Expired => CreditOfferStatus::Expired,
    }
}

/// Dinie's KYC document type for the gateway's neutral kind, and back.
pub(crate) const KYC_KINDS: [(&str, &str); 3] = [
    ("identity_front", "identity_card_front"),
    ("identity_back", "identity_card_back"),
    ("drivers_license", "cnh"),
];

pub(crate) fn dinie_document_type(kind: &str) -> &str {
    KYC_KINDS
        .iter()
        .find(|(neutral, _)| *neutral == kind)
        .map_or(kind, |(_, dinie)| dinie)
}

pub(crate) fn neutral_document_kind(dinie: &str) -> &str {
    KYC_KINDS
        .iter()
        .find(|(_, theirs)| *theirs == dinie)
        .map_or(dinie, |(neutral, _)| neutral)
}

impl TryFrom<wire::Customer> for Customer {
    type Error = ProviderError;

    fn try_from(customer: wire::Customer) -> Result<Customer, ProviderError> {
        let cpf = customer
            .cpf
            .ok_or_else(|| invalid("customer: cpf is missing"))?;
        let document =
            Document::parse(&cpf).map_err(|_| invalid("customer: cpf is not a valid CPF"))?;
        Ok(Customer {
            id: customer.id,
            document,
            status: customer_status(customer.status),
            external_id: customer.external_id,
            created_at: customer.created_at.0,
        })
    }
}

impl From<wire::KycUpload> for KycDocument {
    fn from(upload: wire::KycUpload) -> KycDocument {
        KycDocument {
            id: upload.id,
            kind: neutral_document_kind(&upload.upload_type).to_owned(),
            status: upload.status,
        }
    }
}

impl TryFrom<wire::CreditOffer> for CreditOffer {
    type Error = ProviderError;

    fn try_from(offer: wire::CreditOffer) -> Result<CreditOffer, ProviderError> {
        let installments = offer
            .installments
            .or(offer.max_installments)
            .ok_or_else(|| invalid("credit offer: installments is missing"))?;
        Ok(CreditOffer {
            id: offer.id,
            customer_id: offer.customer_id,
            status: offer_status(offer.status),
            approved_amount: offer.approved_amount,
            min_amount: offer.min_amount,
            monthly_interest_rate: offer.interest_rate.0,
            installments,
            valid_until: offer.valid_until.0,
        })
    }
}

impl From<wire::Simulation> for Simulation {
    fn from(simulation: wire::Simulation) -> Simulation {
        Simulation {
            id: simulation.id,
            credit_offer_id: simulation.credit_offer_id,
            amount: simulation.requested_amount,
            installments: simulation.number_of_installments,
            installment_amount: simulation.installments_value,
            total_amount: simulation.total_loan_amount,
            cet_annual_percentage: simulation.cet_percentage.0,
            net_amount: simulation.amount,
            first_due_date: simulation.first_due_date,
        }
    }
}

impl From<wire::Loan> for Loan {
    fn from(loan: wire::Loan) -> Loan {
        Loan {
            id: loan.id,
            customer_id: loan.customer_id,
            credit_offer_id: loan.credit_offer_id,
            status: loan_status(loan.status),
            requested_amount: loan.requested_amount,
            net_amount: loan.net_amount,
            signing_url: loan.signing_url,
            created_at: loan.created_at.0,
        }
    }
}

/// Installments in due-date order, numbered from 1.
pub(crate) fn installments(mut transactions: Vec<wire::Transaction>) -> Vec<Installment> {
    transactions.sort_by_key(|transaction| transaction.due_date);
    transactions
        .into_iter()
        .zip(1_u32..)
        .map(|(transaction, number)| Installment {
            id: transaction.id,
            number,
            amount: transaction.amount_due,
            due_date: transaction.due_date,
            status: transaction.status,
            paid_at: transaction.paid_at.map(|at| at.0),
        })
        .collect()
}

impl TryFrom<wire::Credential> for ApiCredential {
    type Error = ProviderError;

    fn try_from(credential: wire::Credential) -> Result<ApiCredential, ProviderError> {
        let status = match credential.status.as_str() {
            "active" => CredentialStatus::Active,
            "revoked" => CredentialStatus::Revoked,
            _ => return Err(invalid("credential: unknown status")),
        };
        Ok(ApiCredential {
            client_id: credential.client_id,
            name: credential.name,
            status,
            expires_at: credential.expires_at.map(|at| at.0),
            created_at: credential.created_at.0,
            last_used_at: credential.last_used_at.map(|at| at.0),
        })
    }
}

impl TryFrom<wire::Endpoint> for WebhookEndpoint {
    type Error = ProviderError;

    fn try_from(endpoint: wire::Endpoint) -> Result<WebhookEndpoint, ProviderError> {
        let status = match endpoint.status.as_str() {
            "active" => EndpointStatus::Active,
            "disabled" => EndpointStatus::Disabled,
            _ => return Err(invalid("webhook endpoint: unknown status")),
        };
        Ok(WebhookEndpoint {
            id: endpoint.id,
            url: endpoint.url,
            events: endpoint.events,
            description: endpoint.description,
            status,
            created_at: endpoint.created_at.0,
        })
    }
}

impl From<wire::RotatedSecret> for RotatedSecret {
    fn from(rotated: wire::RotatedSecret) -> RotatedSecret {
        RotatedSecret {
            endpoint_id: rotated.id,
            secret: WebhookCredential::new(rotated.secret),
            previous_secret_expires_at: rotated.previous_secret_expires_at.map(|at| at.0),
        }
    }
}

impl From<wire::BiometricsSession> for BiometricsSession {
    fn from(session: wire::BiometricsSession) -> BiometricsSession {
        BiometricsSession {
            session_url: session.session_url,
            expires_at: session.expires_at.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use providers::{CustomerStatus, LoanStatus};

    use crate::convert::{
        customer_status, dinie_document_type, loan_status, neutral_document_kind,
    };
    use crate::wire;

    #[test]
    fn every_wire_status_has_a_neutral_status() {
        let statuses: Vec<wire::LoanStatus> = serde_json::from_str(
            r#"["processing","contract_generated","awaiting_signatures","signed","disbursing","active","finished","cancelled","error"]"#,
        )
        .unwrap();
        let neutral: Vec<LoanStatus> = statuses.into_iter().map(loan_status).collect();
        assert_eq!(neutral.len(), 9);
        assert_eq!(neutral[4], LoanStatus::Disbursing);
        let creating: wire::CustomerStatus = serde_json::from_str(r#""creating""#).unwrap();
        assert_eq!(customer_status(creating), CustomerStatus::PendingKyc);
        assert!(serde_json::from_str::<wire::LoanStatus>(r#""exploded""#).is_err());
    }

    #[test]
    fn document_kinds_translate_both_ways() {
        assert_eq!(dinie_document_type("identity_front"), "identity_card_front");
        assert_eq!(dinie_document_type("selfie"), "selfie");
        assert_eq!(
            neutral_document_kind("identity_card_front"),
            "identity_front"
        );
        assert_eq!(neutral_document_kind("ccmei"), "ccmei");
    }
}
