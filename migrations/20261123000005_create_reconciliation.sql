-- Reconciliation: loan disbursements (expected receipts) against Pix receipts (observations).
--
-- Facts are kept as they arrive from events, in any order; the items are recomputed from the facts
-- of one payee document at a time (gateway::reconcile::matcher), so the outcome never depends on
-- the arrival order. Finance's decisions lock an item; every status change is in the history.

-- Borrowers' documents, from the gateway's own customer records and customer events, or fetched
-- once from the credit provider for a customer registered elsewhere.
create table credit_customer (
    provider    text not null,
    customer_id text not null,
    document    text not null,
    source      text not null,                            -- 'api', 'event' or 'fetched'
    updated_at  timestamptz not null default now(),
    constraint credit_customer_pkey primary key (provider, customer_id)
);

-- One row per loan seen in loan events; it is an expected receipt once disbursed_at is known.
create table recon_disbursement (
    provider         text not null,
    loan_id          text not null,
    customer_id      text,
    requested_amount numeric,
    net_amount       numeric,
    disbursed_at     timestamptz,
    cancelled        boolean not null default false,
    updated_at       timestamptz not null default now(),
    constraint recon_disbursement_pkey primary key (provider, loan_id),
    constraint recon_disbursement_amounts_check check (
        (requested_amount is null or requested_amount >= 0) and (net_amount is null or net_amount >= 0))
);

-- One row per Pix receipt (pix.received), whoever paid it.
create table recon_receipt (
    end_to_end_id    text primary key,
    payee_document   text,
    payee_account    jsonb not null default '{}',
    amount           numeric not null,
    payer_document   text,
    payer_ispb       text,
    payer_name       text,
    received_at      timestamptz not null,
    constraint recon_receipt_amount_check check (amount >= 0)
);
create index recon_receipt_document_idx on recon_receipt (payee_document, received_at);

-- The items finance works with: one per expected receipt (kind 'disbursement', key = loan id) and
-- one per unexpected receipt (kind 'receipt', key = endToEndId).
create table recon_item (
    item_id          uuid primary key,                     -- shown as rcn_<hex>
    kind             text not null,
    item_key         text not null,
    status           text not null,
    document         text,
    loan_id          text,
    customer_id      text,
    end_to_end_id    text,
    expected_amount  numeric,
    observed_amount  numeric,
    difference       numeric,
    disbursed_at     timestamptz,
    received_at      timestamptz,
    deadline         timestamptz,
    candidates       text[] not null default '{}',
    locked           boolean not null default false,
    occurred_at      timestamptz not null,                 -- disbursement or receipt time, for periods
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint recon_item_kind_key unique (kind, item_key),
    constraint recon_item_kind_check check (kind in ('disbursement', 'receipt')),
    constraint recon_item_status_check check (status in ('pending', 'matched', 'amount_mismatch', 'overdue',
        'needs_review', 'unexpected_receipt', 'cancelled', 'confirmed', 'written_off'))
);
create index recon_item_status_idx on recon_item (status, item_id);
create index recon_item_document_idx on recon_item (document);
create index recon_item_occurred_idx on recon_item (occurred_at);
create index recon_item_deadline_idx on recon_item (deadline) where status = 'pending';

-- Every status change: automatic ones by 'system', decisions by the API key's name with a note.
create table recon_history (
    history_id   uuid primary key,
    item_id      uuid not null references recon_item (item_id) on delete cascade,
    at           timestamptz not null default now(),
    actor        text not null,
    from_status  text,
    to_status    text not null,
    note         text
);
create index recon_history_item_idx on recon_history (item_id, at);

-- Batch runs: the outcome of the matcher over a period, stored for comparison with the live state.
create table recon_run (
    run_id       uuid primary key,
    period_from  timestamptz not null,
    period_to    timestamptz not null,
    created_at   timestamptz not null default now(),
    summary      jsonb not null,                           -- counts and sums per status
    differences  jsonb not null                            -- items whose live status differs
);
