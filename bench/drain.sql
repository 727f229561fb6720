-- The drain benchmark's backlog: :events Pix events, each with a pending delivery, due now, to
-- every active subscription (bench/drain.sh creates them first): the state after a partner
-- endpoint was down while the events came in and their retries came due.
-- Run: psql -v events=100000 -f bench/drain.sql paygate_drain
\set ON_ERROR_STOP on
-- -v order_by='s.subscription_id, e.event_id' enqueues each subscription's backlog as one block
-- instead (the head-of-line case: bench/drain.sh with ORDER=blocks).
\if :{?order_by}
\else
\set order_by 'e.event_id, s.subscription_id'
\endif
set synchronous_commit = off;
with ids as (
    select n, now() - interval '1 hour' + interval '1 hour' * (n::float8 / :events) as at,
           (lpad(to_hex((extract(epoch from now() - interval '1 hour') * 1000)::bigint + n / 10), 12, '0')
            || '7' || substr(md5(n::text), 1, 3) || '8' || substr(md5(n::text), 4, 15))::uuid as event_id
    from generate_series(0, :events - 1) as n
), events as (
    insert into event (event_id, provider, event_type, provider_event_type, dedup_key, resource_kind,
                       resource_id, occurred_at, received_at, data, raw)
    select event_id, 'delbank', 'pix.received', 'PIX_RECEIVED', 'drain-' || n, 'pix',
           'E18236120' || lpad(n::text, 23, '0'), at, at,
           jsonb_build_object(
               'amount', jsonb_build_object('amount', (10 + n % 5000)::text || '.00', 'currency', 'BRL'),
               'correlation_id', null, 'end_to_end_id', 'E18236120' || lpad(n::text, 23, '0'),
               'payee', null, 'payer', null, 'received_at', at, 'status', null),
           convert_to('{"type":"PIX_RECEIVED","id":"drain-' || n || '"}', 'UTF8')
    from ids
    returning event_id, resource_id
)
insert into delivery (delivery_id, subscription_id, event_id, ordering_key, status, attempts,
                      next_attempt_at, last_response_status, last_error, created_at, updated_at)
select uuid_v7_at(clock_timestamp()), s.subscription_id, e.event_id, 'pix:' || e.resource_id, 'pending', 3,
       now(), 503, 'the endpoint was down', now(), now()
from events e cross join subscription s where s.status = 'active'
-- In the order fan-out enqueues them: each event's deliveries one after another.
order by :order_by;
vacuum analyze event;
vacuum analyze delivery;
select (select count(*) from event) as events, (select count(*) from delivery where status = 'pending') as backlog;
