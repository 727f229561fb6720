//! Every column that holds a secret, and reading and replacing them by column (for
//! `paygate secrets rekey`). Identifiers in the SQL come from [`SECRET_COLUMNS`], never from input.

use sqlx::PgPool;
use uuid::Uuid;

/// A table holding secrets: its primary key and its secret columns (nullable or not).
#[derive(Debug, Clone, Copy)]
pub struct SecretTable {
    /// Table name.
    pub table: &'static str,
    /// Its `uuid` primary key column.
    pub id_column: &'static str,
    /// Columns holding encrypted secrets.
    pub secret_columns: &'static [&'static str],
}

/// Every stored secret, by table.
pub const SECRET_COLUMNS: &[SecretTable] = &[
    SecretTable {
        table: "provider_credential",
        id_column: "provider_credential_id",
        secret_columns: &["secret"],
    },
    SecretTable {
        table: "subscription",
        id_column: "subscription_id",
        secret_columns: &["secret", "previous_secret", "headers"],
    },
    // Stored responses: the whsec_ secret of a new subscription, a new pgk_ key, a rotation's.
    SecretTable {
        table: "idempotency_record",
        id_column: "record_id",
        secret_columns: &["response_body"],
    },
];

/// One secret column of one table.
#[derive(Debug, Clone, Copy)]
pub struct SecretColumn<'a> {
    /// The table.
    pub table: &'a SecretTable,
    /// One of its `secret_columns`.
    pub column: &'a str,
}

/// Up to `limit` values of `column` not starting with `prefix` (not under the active key), with
/// their row ids, after `after` in id order (keyset pagination).
pub async fn not_under(
    pool: &PgPool,
    column: SecretColumn<'_>,
    prefix: &str,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    let SecretTable {
        table, id_column, ..
    } = *column.table;
    let column = column.column;
    let select = format!(
        "select {id_column}, {column} from {table}
         where {column} is not null and not starts_with({column}, $1)
           and ($2::uuid is null or {id_column} > $2)
         order by {id_column}
         limit $3"
    );
    sqlx::query_as(&select)
        .bind(prefix)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
}

/// Replaces row `id`'s value of `column` with `new` if it still is `old`; false when someone else
/// changed it in between.
pub async fn replace(
    pool: &PgPool,
    column: SecretColumn<'_>,
    id: Uuid,
    old: &str,
    new: &str,
) -> Result<bool, sqlx::Error> {
    let SecretTable {
        table, id_column, ..
    } = *column.table;
    let column = column.column;
    let update =
        format!("update {table} set {column} = $1 where {id_column} = $2 and {column} = $3");
    let updated = sqlx::query(&update)
        .bind(new)
        .bind(id)
        .bind(old)
        .execute(pool)
        .await?;
    Ok(updated.rows_affected() > 0)
}
