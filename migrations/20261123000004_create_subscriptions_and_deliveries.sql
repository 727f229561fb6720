-- Re-publishing events to partner apps: subscriptions, the delivery outbox, attempts, replays.

-- A partner endpoint and what it wants. `secret` (and `previous_secret` during a rotation) are
-- encrypted at rest (`enc:v1:<key id>:...`, see gateway::crypto).
create table subscription (
    subscription_id     uuid primary key,                 -- shown as sub_<hex>
    url                 text not null,
    event_types         text[] not null,                  -- patterns: loan.*, pix.received, *
    provider_filter     text,
    resource_kind_filter text,
    description         text,
    status              text not null default 'active',
    disabled_reason     text,
    ordered             boolean not null default false,
    rate_limit_per_second integer,
    metadata            jsonb not null default '{}',
    secret              text not null,
    previous_secret     text,
    previous_secret_expires_at timestamptz,
    -- Start of the current failure streak (first failure after the last success); null when healthy.
    failing_since       timestamptz,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    constraint subscription_status_check check (status in ('active', 'disabled')),
    constraint subscription_rate_limit_check check (rate_limit_per_second is null or rate_limit_per_second > 0),
    constraint subscription_event_types_not_empty check (cardinality(event_types) > 0)
);

-- The outbox: one row per (event, target). Rows are inserted in the transaction that stores the
-- event, so no committed event can miss its deliveries. `sink` is 'webhook' (a subscription) or
-- 'jetstream'. Dispatchers claim due rows with `for update skip locked`, mark them 'delivering'
-- with `locked_until`, POST, then record the outcome; a claim whose owner died is taken again
-- once `locked_until` passes, so a delivery is redone rather than lost.
create table delivery (
    delivery_id     uuid primary key,                     -- shown as dlv_<hex>
    seq             bigserial not null,                   -- arrival order, for ordered subscriptions
    sink            text not null default 'webhook',
    subscription_id uuid references subscription (subscription_id) on delete cascade,
    event_id        uuid not null references event (event_id),
    ordering_key    text not null,                        -- the resource key (loan id, charge id, endToEndId)
    status          text not null default 'pending',
    attempts        integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    locked_until    timestamptz,
    last_response_status smallint,
    last_error      text,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    delivered_at    timestamptz,
    constraint delivery_status_check check (status in ('pending', 'delivering', 'succeeded', 'dead')),
    constraint delivery_sink_check check (sink in ('webhook', 'jetstream')),
    constraint delivery_webhook_has_subscription check (sink <> 'webhook' or subscription_id is not null)
);
create index delivery_due_idx on delivery (next_attempt_at) where status in ('pending', 'delivering');
create index delivery_subscription_idx on delivery (subscription_id, delivery_id);
create index delivery_ordering_idx on delivery (subscription_id, ordering_key, seq) where status in ('pending', 'delivering');
create index delivery_event_idx on delivery (event_id);

-- Every attempt, kept for operators: status, latency, a truncated response body, the error.
create table delivery_attempt (
    attempt_id      uuid primary key,                     -- shown as att_<hex>
    delivery_id     uuid not null references delivery (delivery_id) on delete cascade,
    started_at      timestamptz not null,
    latency_ms      integer not null,
    response_status smallint,
    response_body   text,
    error           text
);
create index delivery_attempt_delivery_idx on delivery_attempt (delivery_id, started_at);

-- Durable bulk replay: a job walks the event table by id from `cursor`, enqueueing deliveries in
-- batches; each batch commits with the cursor, so a restart resumes and there is no size cap.
create table replay (
    replay_id       uuid primary key,                     -- shown as rpl_<hex>
    subscription_id uuid not null references subscription (subscription_id) on delete cascade,
    since           timestamptz not null,
    until           timestamptz not null,
    event_types     text[] not null,
    status          text not null default 'running',
    cursor          uuid,
    enqueued        bigint not null default 0,
    created_at      timestamptz not null default now(),
    completed_at    timestamptz,
    constraint replay_status_check check (status in ('running', 'completed')),
    constraint replay_window_check check (since <= until)
);
create index replay_running_idx on replay (created_at) where status = 'running';
