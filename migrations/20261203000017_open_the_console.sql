-- The operations and finance console (gateway::http::console).

-- Console sign-ins: one row per browser session, made by signing in with an API key. Only the
-- SHA-256 of the cookie's random token is stored, so a copy of this table signs no one in. The
-- session acts with its key's scopes, read afresh on every request: revoking the key ends it.
create table console_session (
    session_hash bytea primary key,
    api_key_id   uuid not null references api_key (api_key_id) on delete cascade,
    csrf_token   text not null,                        -- the synchronizer token every form carries
    created_at   timestamptz not null default now(),
    expires_at   timestamptz not null
);
create index console_session_expires_at_idx on console_session (expires_at);

-- Webhook intake per minute: what each provider registration (its webhook path) sent, and what
-- became of it. Counted in memory by each replica and added here every few seconds, so the
-- inbound path writes nothing more per webhook; a replica killed with -9 loses at most its last
-- few seconds of counts (the events themselves are never affected).
create table webhook_intake (
    minute       timestamptz not null,
    provider     text not null,
    registration text not null,                        -- the webhook path: '/' or Delbank's '/<id>'
    outcome      text not null,
    reason       text not null default '',             -- the refusal's code; '' otherwise
    count        bigint not null,
    constraint webhook_intake_pkey primary key (minute, provider, registration, outcome, reason),
    constraint webhook_intake_outcome_check check (outcome in ('received', 'duplicate', 'refused', 'quarantined')),
    constraint webhook_intake_count_check check (count > 0)
);

-- An event's page lists its deliveries: found by event without reading the outbox.
-- (20261123000010 dropped this index when nothing read deliveries by event.)
create index delivery_event_idx on delivery (event_id);

-- Dead letters per subscription, for its health and for "retry every dead letter": only dead rows
-- are indexed, so the index stays small and costs the hot path nothing until a delivery dies.
create index delivery_dead_idx on delivery (subscription_id, delivery_id) where status = 'dead';
