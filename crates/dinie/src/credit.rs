//! [`CreditProvider`] for [`DinieClient`]: the provider-neutral credit capability over Dinie's API.
//! Dinie's parameter names in errors are translated to the gateway's (`cpf` → `document`,
//! `requested_amount` → `amount`, `installment_count` → `installments`).

use async_trait::async_trait;
use futures::TryStreamExt;
use providers::banking::Page;
use providers::{
    CreditOffer, CreditProvider, Customer, CustomerQuery, IdempotencyKey, Installment, KycDocument,
    KycDocumentUpload, Loan, NewCustomer, NewLoan, ProviderError, Simulation, SimulationRequest,
};

use crate::client::DinieClient;
use crate::model::CustomerFilter;

/// Dinie's request field names and the gateway's.
const PARAMS: [(&str, &str); 5] = [
    ("cpf", "document"),
    ("requested_amount", "amount"),
    ("installment_count", "installments"),
    ("type", "kind"),
    ("starting_after", "starting_after"),
];

fn gateway_param(param: String) -> String {
    PARAMS
        .iter()
        .find(|(dinie, _)| *dinie == param)
        .map_or(param, |(_, gateway)| (*gateway).to_owned())
}

/// Renames the fields a rejection names to the gateway's vocabulary.
fn in_gateway_terms(error: ProviderError) -> ProviderError {
    match error {
        ProviderError::Rejected {
            status,
            code,
            message,
            param,
            field_errors,
        } => ProviderError::Rejected {
            status,
            code,
            message,
            param: param.map(gateway_param),
            field_errors: field_errors
                .into_iter()
                .map(|mut field| {
                    field.param = gateway_param(field.param);
                    field
                })
                .collect(),
        },
        other => other,
    }
}

#[async_trait]
impl CreditProvider for DinieClient {
    async fn create_customer(
        &self,
        req: NewCustomer,
        key: &IdempotencyKey,
    ) -> Result<Customer, ProviderError> {
        DinieClient::create_customer(self, &req, key)
            .await
            .map_err(in_gateway_terms)
    }

    async fn get_customer(&self, id: &str) -> Result<Customer, ProviderError> {
        DinieClient::get_customer(self, id).await
    }

    async fn list_customers(&self, query: CustomerQuery) -> Result<Page<Customer>, ProviderError> {
        let filter = CustomerFilter {
            external_id: query.external_id,
            document: None,
            status: None,
        };
        self.customers_page(&filter, query.limit, query.starting_after.as_deref())
            .await
            .map_err(in_gateway_terms)
    }

    async fn upload_kyc_document(
        &self,
        customer_id: &str,
        doc: KycDocumentUpload,
        key: &IdempotencyKey,
    ) -> Result<KycDocument, ProviderError> {
        self.upload_document(customer_id, &doc, key)
            .await
            .map_err(in_gateway_terms)
    }

    async fn list_credit_offers(
        &self,
        customer_id: &str,
    ) -> Result<Vec<CreditOffer>, ProviderError> {
        DinieClient::list_credit_offers(self, Some(customer_id), None)
            .try_collect()
            .await
    }

    async fn get_credit_offer(&self, id: &str) -> Result<CreditOffer, ProviderError> {
        DinieClient::get_credit_offer(self, id).await
    }

    async fn simulate(
        &self,
        offer_id: &str,
        req: SimulationRequest,
        key: &IdempotencyKey,
    ) -> Result<Simulation, ProviderError> {
        self.create_simulation(offer_id, &req, key)
            .await
            .map_err(in_gateway_terms)
    }

    async fn create_loan(&self, req: NewLoan, key: &IdempotencyKey) -> Result<Loan, ProviderError> {
        DinieClient::create_loan(self, &req, key)
            .await
            .map_err(in_gateway_terms)
    }

    async fn get_loan(&self, id: &str) -> Result<Loan, ProviderError> {
        DinieClient::get_loan(self, id).await
    }

    async fn list_installments(&self, loan_id: &str) -> Result<Vec<Installment>, ProviderError> {
        DinieClient::list_installments(self, loan_id).await
    }
}

#[cfg(test)]
mod tests {
    use providers::{FieldError, ProviderError};

    use crate::credit::in_gateway_terms;

    #[test]
    fn rejections_name_fields_in_gateway_terms() {
        let error = in_gateway_terms(ProviderError::Rejected {
            status: 422,
            code: "invalid_cpf".into(),
            message: "bad".into(),
            param: Some("cpf".into()),
            field_errors: vec![FieldError {
                param: "requested_amount".into(),
                message: "bad".into(),
                code: None,
            }],
        });
        let ProviderError::Rejected {
            param,
            field_errors,
            ..
        } = error
        else {
            panic!("expected Rejected");
        };
        assert_eq!(param.as_deref(), Some("document"));
        assert_eq!(field_errors[0].param, "amount");
    }
}
