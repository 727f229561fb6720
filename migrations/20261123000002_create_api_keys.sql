-- API keys used by internal services as `Authorization: Bearer <key>`.
-- Only the SHA-256 of the key is stored: keys are 256-bit random values, so a fast hash is enough
-- (no password stretching needed) and lookup by hash is a single index probe.
create table api_key (
    api_key_id  uuid primary key,                         -- shown as key_<hex>
    name        text not null,
    key_hash    bytea not null,
    key_prefix  text not null,                            -- first characters, to recognise a key in lists
    scopes      text[] not null,
    created_at  timestamptz not null default now(),
    revoked_at  timestamptz,
    constraint api_key_key_hash_key unique (key_hash),
    constraint api_key_name_not_empty check (length(name) > 0)
);

-- Idempotency records for every POST under /v1: (api key, Idempotency-Key) → the stored response.
-- `request_hash` covers method, path and body: the same key with another request is a 409.
-- A row in state `in_flight` is a request being processed; `locked_until` lets another replica take
-- over a key whose owner crashed.
create table idempotency_record (
    api_key_id      uuid not null references api_key (api_key_id),
    idempotency_key text not null,
    request_hash    bytea not null,
    state           text not null,
    locked_until    timestamptz,
    response_status smallint,
    response_headers jsonb,
    response_body   bytea,
    created_at      timestamptz not null default now(),
    expires_at      timestamptz not null,
    constraint idempotency_record_pkey primary key (api_key_id, idempotency_key),
    constraint idempotency_record_state_check check (state in ('in_flight', 'completed')),
    constraint idempotency_record_completed_has_response check (
        state <> 'completed' or (response_status is not null and response_body is not null)
    )
);
create index idempotency_record_expires_at_idx on idempotency_record (expires_at);
