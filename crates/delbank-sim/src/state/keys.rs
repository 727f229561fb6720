//! DICT keys: registering, listing and deleting an account's Pix keys.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Failure, State, stamp};

pub(crate) struct DictKey {
    pub(crate) account: String,
    pub(crate) key: String,
    pub(crate) entry_type: String,
    pub(crate) created_at: DateTime<Utc>,
}

impl State {
    pub(crate) fn create_key(
        &mut self,
        account: &str,
        entry_type: &str,
        key: Option<&str>,
    ) -> Result<Value, Failure> {
        let entry_type = entry_type.to_ascii_uppercase();
        let value = match entry_type.as_str() {
            "EVP" => uuid::Uuid::from_bytes(rand::random())
                .hyphenated()
                .to_string(),
            "DOCUMENT" => self
                .accounts
                .get(account)
                .map(|account| account.holder_document.clone())
                .unwrap_or_default(),
            "EMAIL" | "PHONE" => match key {
                Some(key) if !key.trim().is_empty() => key.trim().to_owned(),
                _ => {
                    return Err(Failure::field(
                        "key",
                        "The key field is required for PHONE and EMAIL.",
                    ));
                }
            },
            _ => {
                return Err(Failure::field(
                    "entryType",
                    "The entryType field is invalid.",
                ));
            }
        };
        if self
            .keys
            .iter()
            .filter(|entry| entry.account == account)
            .count()
            >= 5
        {
            return Err(Failure::new(400, "An account may have at most 5 Pix keys"));
        }
        if self.keys.iter().any(|entry| entry.key == value) {
            return Err(Failure::new(409, "The key is already registered"));
        }
        let now = Utc::now();
        self.keys.push(DictKey {
            account: account.to_owned(),
            key: value.clone(),
            entry_type: entry_type.clone(),
            created_at: now,
        });
        Ok(
            json!({"key": value, "entryType": entry_type, "createdAt": stamp(now), "status": "ACTIVE"}),
        )
    }

    pub(crate) fn list_keys(&self, account: &str) -> Value {
        Value::Array(
            self.keys
                .iter()
                .filter(|entry| entry.account == account)
                .map(|entry| json!({"key": entry.key, "entryType": entry.entry_type, "createdAt": stamp(entry.created_at), "status": "ACTIVE"}))
                .collect(),
        )
    }

    pub(crate) fn delete_key(&mut self, account: &str, key: &str) -> Result<(), Failure> {
        let before = self.keys.len();
        self.keys
            .retain(|entry| !(entry.account == account && entry.key == key));
        match self.keys.len() < before {
            true => Ok(()),
            false => Err(Failure::not_found()),
        }
    }
}
