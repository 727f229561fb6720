-- Webhooks as hints, confirmed by fetch. A provider whose webhook authentication is weak (a static
-- credential, or nothing the gateway can check) has its money-moving events read back from its API
-- before the gateway trusts them: until then they are stored (so the webhook is acknowledged and
-- never lost) but neither published nor reconciled.

-- How the event's webhook was authenticated: `signature`, `credential` or `none`; null for the
-- gateway's own events and for events stored before this migration. A column added without a
-- default to a partitioned table is a catalogue change only: no partition is rewritten.
alter table event add column verification text;

-- One row per event that needed confirmation, kept once resolved (the audit of why an event was
-- refused). Not partitioned: it holds only the money-moving events of weak providers, and the
-- retention job deletes resolved rows with their events.
create table event_confirmation (
    event_id uuid primary key,
    provider text not null,
    state text not null default 'pending'
        constraint event_confirmation_state_known check (state in ('pending', 'confirmed', 'refused')),
    -- Why the provider's API contradicted the event (refused), in words naming fields, not values.
    reason text,
    -- Fetches tried so far, and when the next one is due (a claim moves it ahead by its lease).
    attempts integer not null default 0 constraint event_confirmation_attempts_not_negative check (attempts >= 0),
    next_attempt_at timestamptz not null default now(),
    -- The last failure to ask (the provider down, a timeout), for operators.
    last_error text,
    created_at timestamptz not null default now(),
    resolved_at timestamptz,
    constraint event_confirmation_resolved_when_not_pending
        check ((state = 'pending') = (resolved_at is null))
);

-- The confirmer's claim: the pending rows that are due, oldest first.
create index event_confirmation_due on event_confirmation (next_attempt_at) where state = 'pending';
