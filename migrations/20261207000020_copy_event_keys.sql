-- Partitioning, step 2 of 5: the keys of the events already stored, into generation 0. One
-- statement that reads `event` (no lock that blocks writers) and writes only `event_key`; rows
-- committed meanwhile are copied by step 1's trigger, and a key copied twice is a no-op.
insert into event_key (generation, provider, dedup_key, event_id)
select 0, provider, dedup_key, event_id from event
on conflict do nothing;
