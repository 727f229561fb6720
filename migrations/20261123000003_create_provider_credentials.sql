-- Credentials that authenticate inbound provider webhooks, created when the gateway registers its
-- endpoint at a provider (or rotates its credential). Endpoints registered by hand in a provider's
-- portal are configured in the provider's config section instead.
--
-- One row per credential. During a rotation a path has two rows: the new one (not_after null) and
-- the previous one with not_after = the end of its grace period. Verifiers accept any row valid at
-- the request's time, so every replica sees a rotation as soon as it commits.
create table provider_credential (
    provider_credential_id uuid primary key,
    provider        text not null,
    path            text not null,                        -- what follows /webhooks/{provider}
    registration_id text not null,                        -- the provider's id for the registration
    url             text not null,
    event_types     text[] not null,
    secret          text not null,
    attributes      jsonb not null default '{}',          -- non-secret facts: scheme, header name
    not_after       timestamptz,
    created_at      timestamptz not null default now()
);
create index provider_credential_lookup_idx on provider_credential (provider, path, created_at desc);
