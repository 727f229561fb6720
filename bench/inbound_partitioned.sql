-- pgbench script: one inbound webhook's durable writes as one transaction (the design before group
-- commit), for Postgres's own ceiling on this machine: the exactly-once key into the current
-- generation (after the shared lock and the previous generation's check, as `store::events` does)
-- and the event into its weekly partition. Not the yardstick (bench/inbound.sql is): what
-- partitioning costs Postgres per webhook. Run against a database `paygate migrate`d:
--   pgbench -h 127.0.0.1 -U postgres -n -M prepared -c 64 -j 2 -T 10 -f bench/inbound_partitioned.sql DB
\set n random(1, 1000000000)
begin;
select lock_key_generation() as generation \gset
with fresh as (
    insert into event_key (generation, provider, dedup_key, event_id)
    select :generation, 'dinie', 'msg_' || gen_random_uuid(), uuid_v7_at(clock_timestamp())
    where not exists (select 1 from event_key o
                      where o.generation = :generation - 1 and o.provider = 'dinie'
                        and o.dedup_key = 'msg_' || :n)
    on conflict do nothing
    returning event_id, dedup_key
)
insert into event (event_id, provider, event_type, provider_event_type, dedup_key, resource_kind,
                   resource_id, occurred_at, data, raw)
select event_id, 'dinie', 'loan.payment_received', 'loan.payment_received', dedup_key, 'loan',
       'ln_' || :n, now(), '{"loan_id": "ln_1", "status": "active", "payment": {"amount": "2291.67"}}',
       convert_to(repeat('x', 220), 'UTF8')
from fresh;
select subscription_id from subscription s
where status = 'active'
  and exists (select 1 from unnest(s.event_types) as p(pattern)
              where event_type_matches(p.pattern, 'loan.payment_received'));
commit;
