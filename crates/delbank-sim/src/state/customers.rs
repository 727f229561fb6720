//! White-label onboarding: a partner's customers, their documents, their approval (which opens
//! an account operated by the partner) or rejection.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Account, Emit, Failure, State, random_alphanumeric};
use crate::ControlError;

pub(crate) struct Customer {
    pub(crate) partner: String,
    pub(crate) document: String,
    pub(crate) name: String,
    pub(crate) legal: bool,
    pub(crate) status: String,
    pub(crate) documents: Vec<String>,
    pub(crate) account: Option<String>,
}

impl State {
    pub(crate) fn create_customer(
        &mut self,
        partner: &str,
        document: &str,
        name: &str,
        legal: bool,
    ) -> Result<Value, Failure> {
        let digits: String = document
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let expected = if legal { 14 } else { 11 };
        if digits.len() != expected {
            return Err(Failure::field("document", "The document is invalid."));
        }
        if name.trim().is_empty() {
            return Err(Failure::field(
                if legal { "corporateName" } else { "name" },
                "The name field is required.",
            ));
        }
        if self.customers.contains_key(&digits) {
            return Err(Failure::new(
                409,
                "A customer with this document already exists",
            ));
        }
        let customer = Customer {
            partner: partner.to_owned(),
            document: digits.clone(),
            name: name.to_owned(),
            legal,
            status: "PENDING_DOCUMENTATION".to_owned(),
            documents: Vec::new(),
            account: None,
        };
        let body = customer_json(&customer);
        self.customers.insert(digits, customer);
        Ok(body)
    }

    pub(crate) fn customer(&self, partner: &str, document: &str) -> Result<&Customer, Failure> {
        match self.customers.get(document) {
            Some(customer) if customer.partner == partner => Ok(customer),
            _ => Err(Failure::new(404, "Customer not found")),
        }
    }

    pub(crate) fn add_document(
        &mut self,
        partner: &str,
        document: &str,
        document_type: &str,
    ) -> Result<(), Failure> {
        self.customer(partner, document)?;
        let known = [
            "SELFIE",
            "CNH_FULL",
            "CNH_FRONT",
            "CNH_BACK",
            "RG_FULL",
            "RG_FRONT",
            "RG_BACK",
            "PERSON_LEGAL_SOCIAL_CONTRACT",
            "PERSON_LEGAL_LATEST_CHANGES",
            "PERSON_LEGAL_REVENUES",
        ];
        let document_type = document_type.to_ascii_uppercase();
        if !known.contains(&document_type.as_str()) {
            return Err(Failure::field(
                "documentType",
                "The documentType field is invalid.",
            ));
        }
        let Some(customer) = self.customers.get_mut(document) else {
            return Err(Failure::new(404, "Customer not found"));
        };
        if !customer.documents.contains(&document_type) {
            customer.documents.push(document_type);
        }
        let has = |name: &str| customer.documents.iter().any(|held| held == name);
        let complete = match customer.legal {
            true => has("PERSON_LEGAL_SOCIAL_CONTRACT"),
            false => {
                has("SELFIE")
                    && (has("CNH_FULL")
                        || (has("CNH_FRONT") && has("CNH_BACK"))
                        || has("RG_FULL")
                        || (has("RG_FRONT") && has("RG_BACK")))
            }
        };
        if complete
            && matches!(
                customer.status.as_str(),
                "PENDING_DOCUMENTATION" | "DOCUMENTATION_REJECTED"
            )
        {
            customer.status = "PENDING_ANALYSIS".to_owned();
        }
        Ok(())
    }

    pub(crate) fn approve(&mut self, document: &str) -> Result<(String, Vec<Emit>), ControlError> {
        let Some(customer) = self.customers.get(document) else {
            return Err(ControlError(format!("no customer {document}")));
        };
        if customer.status != "PENDING_ANALYSIS" {
            return Err(ControlError(format!(
                "customer is {}, not PENDING_ANALYSIS",
                customer.status
            )));
        }
        self.next_account += 1;
        let number = self.next_account.to_string();
        let partner = customer.partner.clone();
        let name = customer.name.clone();
        self.accounts.insert(
            number.clone(),
            Account {
                number: number.clone(),
                branch: "0001".to_owned(),
                api_key: format!("sim-key-{number}-{}", random_alphanumeric(16)),
                holder_name: name.clone(),
                holder_document: document.to_owned(),
                balance: Decimal::ZERO,
                parent: Some(partner.clone()),
                transactions: Vec::new(),
            },
        );
        if let Some(customer) = self.customers.get_mut(document) {
            customer.status = "APPROVED".to_owned();
            customer.account = Some(number.clone());
        }
        let account_number = number
            .parse::<u64>()
            .map_or(Value::Null, |number| json!(number));
        let body = json!({"name": name, "document": document, "bankAccountNumber": account_number});
        Ok((
            number,
            vec![Emit {
                account: partner,
                event_type: "WHITELABEL_CUSTOMER_APPROVED",
                body,
            }],
        ))
    }

    pub(crate) fn reject(&mut self, document: &str) -> Result<Vec<Emit>, ControlError> {
        let Some(customer) = self.customers.get_mut(document) else {
            return Err(ControlError(format!("no customer {document}")));
        };
        if customer.status != "PENDING_ANALYSIS" {
            return Err(ControlError(format!(
                "customer is {}, not PENDING_ANALYSIS",
                customer.status
            )));
        }
        customer.status = "DOCUMENTATION_REJECTED".to_owned();
        customer.documents.clear();
        let body =
            json!({"name": customer.name, "document": document, "bankAccountNumber": Value::Null});
        Ok(vec![Emit {
            account: customer.partner.clone(),
            event_type: "WHITELABEL_CUSTOMER_DOCUMENTATION_REJECTED",
            body,
        }])
    }

    pub(crate) fn bank_accounts(&self, customer: &Customer) -> Value {
        let accounts: Vec<Value> = customer
            .account
            .as_ref()
            .and_then(|number| self.accounts.get(number))
            .map(|account| json!({"status": customer.status, "number": account.number, "branch": account.branch, "apiKey": account.api_key, "bank": {"code": "435"}}))
            .into_iter()
            .collect();
        Value::Array(accounts)
    }
}

pub(crate) fn customer_json(customer: &Customer) -> Value {
    json!({
        "document": customer.document,
        "name": customer.name,
        "type": if customer.legal { "LEGAL" } else { "NATURAL" },
        "status": customer.status,
        "documents": customer.documents,
    })
}
