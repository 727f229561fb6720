-- Events: every verified, normalized provider webhook, exactly once per provider event.

-- A provider may deliver one event several times (retries, at-least-once); the unique
-- (provider, dedup_key) constraint is what makes ingestion exactly-once: the insert uses
-- `on conflict do nothing` and a duplicate is a no-op that still answers 2xx.
create table event (
    event_id            uuid primary key,                 -- uuid v7, shown as evt_<hex>
    provider            text not null,
    event_type          text not null,                    -- gateway taxonomy: loan.active, pix.received, ...
    provider_event_type text not null,                    -- the provider's own name: PIX_RECEIVED, loan.active
    dedup_key           text not null,
    resource_kind       text not null,
    resource_id         text not null,
    correlation_id      text,
    occurred_at         timestamptz not null,
    received_at         timestamptz not null default now(),
    data                jsonb not null,
    -- The exact bytes received, for audit. Never re-serialized; one webhook body may carry several events.
    raw                 bytea not null,
    constraint event_provider_dedup_key_key unique (provider, dedup_key)
);

-- Listing is newest first by id (v7 ids sort by creation time), filtered by type, provider, resource.
create index event_type_idx on event (event_type text_pattern_ops, event_id);
create index event_provider_idx on event (provider, event_id);
create index event_resource_idx on event (resource_id, event_id);
create index event_received_at_idx on event (received_at);

-- Quarantine: verified (authentic) webhooks that could not be normalized. Kept with the reason so an
-- operator can fix the normalizer and replay; never dropped.
create table quarantine (
    quarantine_id uuid primary key,
    provider      text not null,
    path          text not null,
    reason        text not null,
    headers       jsonb not null,                         -- non-credential headers only
    raw           bytea not null,
    received_at   timestamptz not null default now()
);
create index quarantine_received_at_idx on quarantine (received_at);
