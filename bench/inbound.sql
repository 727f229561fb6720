-- pgbench script: one inbound webhook's durable writes as one transaction (the design before group
-- commit), for Postgres's own ceiling on this machine, on the schema before partitioning (the
-- yardstick: bench/common.sh, pgbench_ceiling, sets it up).
\set n random(1, 1000000000)
begin;
insert into event (event_id, provider, event_type, provider_event_type, dedup_key, resource_kind,
                   resource_id, occurred_at, data, raw)
values (gen_random_uuid(), 'dinie', 'loan.payment_received', 'loan.payment_received',
        'msg_' || gen_random_uuid(), 'loan', 'ln_' || :n, now(),
        '{"loan_id": "ln_1", "status": "active", "payment": {"amount": "2291.67"}}',
        convert_to(repeat('x', 220), 'UTF8'))
on conflict on constraint event_provider_dedup_key_key do nothing;
select subscription_id from subscription s
where status = 'active'
  and exists (select 1 from unnest(s.event_types) as p(pattern)
              where event_type_matches(p.pattern, 'loan.payment_received'));
commit;
