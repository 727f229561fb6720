-- Partitioning, step 1 of 5 (ARCHITECTURE.md, "Partitions and retention"). The tables that grow
-- with every event become range-partitioned by week on their uuid v7 ids, whose first 48 bits
-- are the creation time in milliseconds. A unique constraint on a partitioned table must include
-- the partition key, so `(provider, dedup_key)` can no longer be unique on `event` itself: the
-- exactly-once rule moves to `event_key`, which ingestion writes in the event's transaction.
--
-- `event_key` is partitioned by *generation*, not by time. A key is inserted into the current
-- generation's partition, where the primary key refuses a second copy (a concurrent insert of the
-- same key waits for the first to commit, as before), after checking that the previous
-- generation does not hold it. Inserters hold a shared advisory lock (`store::events`) and the
-- gateway's rotation takes it exclusively, so no insert runs across a change of generation.
-- Rotation starts a new generation once the current one is as old as the events' retention and
-- drops the one before the previous: a key is remembered for at least as long as its event.

-- The lowest uuid v7 of a millisecond: a partition bound for a time.
create function uuid_v7_floor(at timestamptz) returns uuid
language sql immutable strict parallel safe
as $$
    select (lpad(to_hex(floor(extract(epoch from at) * 1000)::bigint), 12, '0')
            || '00000000000000000000')::uuid
$$;

-- The creation time of a uuid v7 (its first 48 bits, in milliseconds since the epoch).
create function uuid_v7_time(id uuid) returns timestamptz
language sql immutable strict parallel safe
as $$
    select to_timestamp(('x' || lpad(substr(replace(id::text, '-', ''), 1, 12), 16, '0'))::bit(64)::bigint
                        / 1000.0)
$$;

-- A uuid v7 for a time, with random bits: what `Uuid::now_v7` gives, for scripts and benchmarks
-- that write rows directly.
create function uuid_v7_at(at timestamptz) returns uuid
language sql volatile strict parallel safe
as $$
    select (lpad(to_hex(floor(extract(epoch from at) * 1000)::bigint), 12, '0') || '7'
            || substr(md5(random()::text), 1, 3) || to_hex(8 + floor(random() * 4)::int)
            || substr(md5(random()::text), 1, 15))::uuid
$$;

create table event_key_generation (
    singleton  boolean primary key default true,
    current    integer not null,
    started_at timestamptz not null default now(),
    constraint event_key_generation_singleton check (singleton)
);
insert into event_key_generation (current) values (1);

-- Inserters call this first in their transaction: it takes the generation lock shared until the
-- transaction ends, then reads the current generation. It is volatile, so the read takes a
-- snapshot after the lock is granted, never one from before a rotation that committed meanwhile.
create function lock_key_generation() returns integer
language plpgsql volatile
as $$
begin
    perform pg_advisory_xact_lock_shared(8097887090079267187);
    return (select current from event_key_generation);
end
$$;

-- The rotation's side of the lock: exclusive, until its transaction ends.
create function lock_key_generation_exclusively() returns void
language sql volatile
as $$
    select pg_advisory_xact_lock(8097887090079267187)
$$;

create table event_key (
    generation integer not null,
    provider   text not null,
    dedup_key  text not null,
    event_id   uuid not null,
    constraint event_key_pkey primary key (generation, provider, dedup_key)
) partition by list (generation);
-- Generation 0 holds the keys of events stored before this migration (copied by the next one and
-- by the trigger below); generation 1 is the first current one.
create table event_key_g0 partition of event_key for values in (0);
create table event_key_g1 partition of event_key for values in (1);

-- Until the switch (step 5), gateways of the previous release still insert into the unpartitioned
-- `event` table; their keys are copied as they commit, so none is missed by the copy of step 2.
create function event_key_copy() returns trigger
language plpgsql
as $$
begin
    insert into event_key (generation, provider, dedup_key, event_id)
    values (0, new.provider, new.dedup_key, new.event_id)
    on conflict do nothing;
    return null;
end
$$;
create trigger event_key_copy after insert on event for each row execute function event_key_copy();
