//! White-label onboarding rounds: one per document submission through the gateway, per holder.

use sqlx::PgPool;

/// The holder's key in `onboarding_round`: the SHA-256 (hex) of the bare document.
pub fn holder_hash(document: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(document.as_bytes()))
}

/// Starts the next round for the holder (the first is 1); returns it.
pub async fn next_round(pool: &PgPool, provider: &str, holder_hash: &str) -> sqlx::Result<i32> {
    sqlx::query_scalar(
        "insert into onboarding_round (provider, holder_hash, round) values ($1, $2, 1)
         on conflict (provider, holder_hash)
         do update set round = onboarding_round.round + 1, updated_at = now()
         returning round",
    )
    .bind(provider)
    .bind(holder_hash)
    .fetch_one(pool)
    .await
}

/// The holder's current round; 0 when no documents went through the gateway.
pub async fn current_round(pool: &PgPool, provider: &str, holder_hash: &str) -> sqlx::Result<i32> {
    let round: Option<i32> = sqlx::query_scalar(
        "select round from onboarding_round where provider = $1 and holder_hash = $2",
    )
    .bind(provider)
    .bind(holder_hash)
    .fetch_optional(pool)
    .await?;
    Ok(round.unwrap_or(0))
}
