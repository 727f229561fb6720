-- Preloads a paygate database with :events events spread over the last 400 days, each with one
-- delivery (succeeded) to a disabled subscription and 1.1 attempts on average (one in ten first
-- failed), as a gateway in production holds months of history. generate_series, in batches of
-- :batch, one transaction each; not the API, so the preload takes minutes.
-- Run: psql -v events=10000000 -v batch=1000000 -f bench/growth.sql paygate_growth
-- (-v from=N resumes a preload that stopped after its batches below N committed).
\set ON_ERROR_STOP on
\if :{?from}
\else
\set from 0
\endif
set synchronous_commit = off;
set maintenance_work_mem = '512MB';

-- The weekly partitions of the history (the gateway creates only the weeks ahead of now).
select ensure_weekly_partitions(t, now() - interval '401 days', now())
from unnest('{event,delivery,delivery_attempt}'::regclass[]) as t;

insert into subscription (subscription_id, url, event_types, description, status, disabled_reason, secret)
values ('00000000-0000-7000-8000-000000000001', 'https://history.example/hook', '{*}',
        'growth benchmark history', 'disabled', 'history only', 'enc:v1:history:none')
on conflict (subscription_id) do nothing;

-- One batch: events [lo, hi) with their delivery and attempts. Ids are uuid v7 (time first), so
-- they sort by time as the gateway's do.
create function pg_temp.preload(lo bigint, hi bigint, total bigint) returns void language sql as $$
    with e as (
        select n,
               -- A fraction of the span (interval * n overflows past about 5 million days).
               now() - interval '400 days' + interval '400 days' * (n::float8 / total) as at,
               n % 5 < 3 as credit
        from generate_series(lo, hi - 1) as n
    ), ids as (
        select n, at, credit,
               (lpad(to_hex((extract(epoch from at) * 1000)::bigint), 12, '0') || '7'
                || substr(md5(n::text), 1, 3) || '8' || substr(md5(n::text), 4, 15))::uuid as event_id,
               (lpad(to_hex((extract(epoch from at) * 1000)::bigint + 40), 12, '0') || '7'
                || substr(md5('d' || n), 1, 3) || '8' || substr(md5('d' || n), 4, 15))::uuid as delivery_id
        from e
    ), events as (
        insert into event (event_id, provider, event_type, provider_event_type, dedup_key, resource_kind,
                           resource_id, occurred_at, received_at, data, raw)
        select event_id,
               case when credit then 'dinie' else 'delbank' end,
               case when credit then 'loan.payment_received' else 'pix.received' end,
               case when credit then 'loan.payment_received' else 'PIX_RECEIVED' end,
               'growth-' || n,
               case when credit then 'loan' else 'pix' end,
               case when credit then 'ln_' || lpad((n % 2000000)::text, 12, '0')
                    else 'E18236120' || lpad(n::text, 23, '0') end,
               at, at,
               -- The shapes the normalizers write (the providers' golden files).
               case when credit then jsonb_build_object(
                        'loan_id', 'ln_' || lpad((n % 2000000)::text, 12, '0'), 'status', 'active',
                        'payment', jsonb_build_object('amount', jsonb_build_object('amount', '2291.67', 'currency', 'BRL'),
                                                      'installment_number', 1 + n % 12, 'paid_at', at))
                    else jsonb_build_object(
                        'amount', jsonb_build_object('amount', (10 + n % 5000)::text || '.00', 'currency', 'BRL'),
                        'correlation_id', null, 'end_to_end_id', 'E18236120' || lpad(n::text, 23, '0'),
                        'payee', null, 'payer', null, 'received_at', at, 'status', null) end,
               convert_to('{"type":"' || case when credit then 'loan.payment_received' else 'PIX_RECEIVED' end
                          || '","id":"growth-' || n || '","data":{"amount":"2291.67","paid_at":"'
                          || at || '","installment_number":' || (1 + n % 12) || ',"note":"'
                          || repeat('x', 120) || '"}}', 'UTF8')
        from ids
        returning event_id, provider, dedup_key
    ), keys as (
        -- The exactly-once keys, in the current generation, as ingestion writes them.
        insert into event_key (generation, provider, dedup_key, event_id)
        select (select current from event_key_generation), provider, dedup_key, event_id from events
    ), deliveries as (
        insert into delivery (delivery_id, subscription_id, event_id, ordering_key, status, attempts,
                              next_attempt_at, last_response_status, created_at, updated_at, delivered_at)
        select delivery_id, '00000000-0000-7000-8000-000000000001', event_id,
               case when credit then 'loan:ln_' else 'pix:E' end || n, 'succeeded', 1 + (n % 10 = 0)::int,
               at, 200, at, at + interval '50 milliseconds', at + interval '50 milliseconds'
        from ids
        returning delivery_id
    )
    insert into delivery_attempt (attempt_id, delivery_id, started_at, latency_ms, response_status, response_body, error)
    select uuid_v7_at(at + interval '10 milliseconds'), delivery_id, at + interval '10 milliseconds', 35, 200, 'ok', null from ids
    union all
    select uuid_v7_at(at), delivery_id, at, 10000, null, null, 'timeout' from ids where n % 10 = 0;
$$;

select format('select pg_temp.preload(%s, %s, %s)', lo, least(lo + :batch, :events), :events)
from generate_series(:from, :events - 1, :batch) as lo \gexec

-- This machine's Postgres runs with autovacuum off (`paygate doctor` says what that costs): the
-- planner needs statistics and the visibility map, as autovacuum would keep them in production.
vacuum analyze event;
vacuum analyze delivery;
vacuum analyze delivery_attempt;
vacuum analyze event_key;
select pg_size_pretty(pg_database_size(current_database())) as database_size,
       (select count(*) from event) as events, (select count(*) from delivery) as deliveries,
       (select count(*) from delivery_attempt) as attempts;
