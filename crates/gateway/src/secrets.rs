//! `paygate secrets rekey`: re-encrypts every stored secret that is not under the active key, so an
//! old key can be removed from the configuration after a rotation.
//!
//! Why it works this way:
//! - It runs online, next to serving replicas: rows are read in small batches by id (keyset
//!   pagination), and each row is updated on its own, in its own short transaction, so no lock is
//!   held for long.
//! - Each update is conditional (`where <column> = <value read>`): when a replica rewrites a secret
//!   meanwhile (a rotation), its write wins and the row is counted as changed concurrently; the new
//!   value is already under the active key of that replica.
//! - Values stored before encryption existed (plaintext, no `enc:` prefix) are encrypted too.
//! - A value that does not decrypt (its key is no longer configured, or it was altered) is left as
//!   it is and counted as failed, naming the row, so the operator can act before removing a key.
//! - Every secret column is listed in [`SECRET_COLUMNS`]: a new table with secrets is one line.

use secrecy::ExposeSecret;
use sqlx::PgPool;
use uuid::Uuid;

use crate::crypto::{CryptoError, Keyring};
use crate::store::secrets::{self, SecretColumn};
pub use crate::store::secrets::{SECRET_COLUMNS, SecretTable};

/// Rows read per batch by `paygate secrets rekey` unless told otherwise.
pub const DEFAULT_BATCH_SIZE: u32 = 100;

/// What a rekey did to one column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnReport {
    /// `table.column`.
    pub column: String,
    /// Values found not under the active key (plaintext included).
    pub examined: u64,
    /// Values re-encrypted under the active key.
    pub rekeyed: u64,
    /// Of those, values that were plaintext before.
    pub were_plaintext: u64,
    /// Values changed by someone else between the read and the update (left to the other writer).
    pub changed_concurrently: u64,
    /// Values that could not be decrypted, left as they were.
    pub failed: u64,
}

/// What a rekey did, column by column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RekeyReport {
    /// The active key everything was re-encrypted with.
    pub active_key: String,
    /// One entry per secret column, in [`SECRET_COLUMNS`] order.
    pub columns: Vec<ColumnReport>,
}

impl RekeyReport {
    /// Values re-encrypted, over all columns.
    pub fn rekeyed(&self) -> u64 {
        self.columns.iter().map(|column| column.rekeyed).sum()
    }

    /// Values that could not be decrypted, over all columns.
    pub fn failed(&self) -> u64 {
        self.columns.iter().map(|column| column.failed).sum()
    }
}

/// Re-encrypts, under `keyring`'s active key, every value of [`SECRET_COLUMNS`] that is under
/// another key or not encrypted at all, reading `batch_size` rows at a time.
pub async fn rekey(
    pool: &PgPool,
    keyring: &Keyring,
    batch_size: u32,
) -> Result<RekeyReport, sqlx::Error> {
    let mut report = RekeyReport {
        active_key: keyring.active_key().to_owned(),
        columns: Vec::new(),
    };
    for table in SECRET_COLUMNS {
        for column in table.secret_columns {
            let column_report = rekey_column(pool, keyring, table, column, batch_size).await?;
            report.columns.push(column_report);
        }
    }
    tracing::info!(
        active_key = %report.active_key,
        rekeyed = report.rekeyed(),
        failed = report.failed(),
        "secrets rekeyed"
    );
    Ok(report)
}

async fn rekey_column(
    pool: &PgPool,
    keyring: &Keyring,
    table: &SecretTable,
    column: &str,
    batch_size: u32,
) -> Result<ColumnReport, sqlx::Error> {
    let secret_column = SecretColumn { table, column };
    let table = table.table;
    let mut report = ColumnReport {
        column: format!("{table}.{column}"),
        ..ColumnReport::default()
    };
    let current_prefix = format!("enc:v1:{}:", keyring.active_key());
    let mut after: Option<Uuid> = None;
    loop {
        let rows = secrets::not_under(
            pool,
            secret_column,
            &current_prefix,
            after,
            batch_size.max(1),
        )
        .await?;
        let Some((last_id, _)) = rows.last() else {
            break;
        };
        after = Some(*last_id);
        for (id, stored) in rows {
            report.examined += 1;
            let (rekeyed, was_plaintext) = match reencrypt(keyring, &stored) {
                Ok(result) => result,
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(
                        table,
                        column,
                        id = %id,
                        error.message = %error,
                        "secret left as it is: it does not decrypt"
                    );
                    continue;
                }
            };
            if !secrets::replace(pool, secret_column, id, &stored, &rekeyed).await? {
                report.changed_concurrently += 1;
                continue;
            }
            report.rekeyed += 1;
            if was_plaintext {
                report.were_plaintext += 1;
            }
        }
    }
    Ok(report)
}

/// The value re-encrypted under the active key, and whether it was plaintext.
fn reencrypt(keyring: &Keyring, stored: &str) -> Result<(String, bool), CryptoError> {
    match keyring.decrypt(stored) {
        Ok(secret) => Ok((keyring.encrypt(secret.expose_secret())?, false)),
        Err(CryptoError::NotEncrypted) => Ok((keyring.encrypt(stored)?, true)),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::{ExposeSecret, SecretString};

    use crate::config::{EncryptionKey, EncryptionSettings};
    use crate::crypto::{CryptoError, Keyring};
    use crate::secrets::reencrypt;

    fn keyring(active: &str, ids: &[&str]) -> Keyring {
        let keys = [
            "LDS3cmzcm5UJpFdj/iQmC0SCjsE6VDFV8bnKJn6stI4=",
            "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=",
        ];
        Keyring::from_settings(&EncryptionSettings {
            active_key: active.to_owned(),
            keys: ids
                .iter()
                .zip(keys)
                .map(|(id, key)| EncryptionKey {
                    id: (*id).to_owned(),
                    key: SecretString::from(key),
                })
                .collect(),
        })
        .unwrap()
    }

    #[test]
    fn a_value_under_an_old_key_is_reencrypted_under_the_active_one() {
        let old = keyring("old", &["old"]).encrypt("token-1").unwrap();
        let rotated = keyring("new", &["old", "new"]);

        let (rekeyed, was_plaintext) = reencrypt(&rotated, &old).unwrap();

        assert!(rekeyed.starts_with("enc:v1:new:"), "{rekeyed}");
        assert!(!was_plaintext);
        assert_eq!(
            rotated.decrypt(&rekeyed).unwrap().expose_secret(),
            "token-1"
        );
    }

    #[test]
    fn a_plaintext_value_is_encrypted_and_reported_as_such() {
        let keyring = keyring("old", &["old"]);
        let (rekeyed, was_plaintext) = reencrypt(&keyring, "legacy-token").unwrap();
        assert!(was_plaintext);
        assert_eq!(
            keyring.decrypt(&rekeyed).unwrap().expose_secret(),
            "legacy-token"
        );
    }

    #[test]
    fn a_value_under_a_removed_key_is_an_error_not_a_rewrite() {
        let old = keyring("old", &["old"]).encrypt("token-1").unwrap();
        let without_old = keyring("new", &["new"]);
        assert_eq!(
            reencrypt(&without_old, &old).unwrap_err(),
            CryptoError::UnknownKey {
                key_id: "old".into()
            }
        );
    }
}
