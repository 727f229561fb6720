-- Partitioning, step 5 of 5: the switch. `event`, `delivery` and `delivery_attempt` become
-- partitioned tables, range-partitioned by week on their uuid v7 ids, with the existing table as
-- the first partition (`<table>_legacy`). Nothing is copied: step 4's validated bound lets the
-- attach skip its scan, and every index is matched to the legacy table's own, so the locks taken
-- here last milliseconds. `lock_timeout` keeps the switch from queueing every other statement
-- behind a long transaction: it fails instead, and the next start of a gateway retries it.
--
-- Two foreign keys go: deliveries to events and attempts to deliveries. Detaching a referenced
-- partition makes Postgres search the whole referencing table, so with them retention could not
-- drop a partition cheaply. Both rows are written by the gateway in the transaction that writes
-- the row they point at, and retention keeps attempts no longer than deliveries and deliveries no
-- longer than events (`config::RetentionSettings`), so no reference is left dangling; deleting a
-- subscription deletes its attempts itself (`store::subscriptions::delete`), as the cascade did.
set local lock_timeout = '5s';
lock table event, delivery, delivery_attempt in access exclusive mode;

alter table delivery drop constraint delivery_event_id_fkey;
alter table delivery_attempt drop constraint delivery_attempt_delivery_id_fkey;
drop trigger event_key_copy on event;
drop function event_key_copy();

-- The bounds of a partition of a table range-partitioned on a uuid (MINVALUE and MAXVALUE as the
-- lowest and highest uuid); null for a relation that is not such a partition.
create function partition_bounds(part regclass, out lower_bound uuid, out upper_bound uuid)
language sql stable
as $$
    select case when m[1] = 'MINVALUE' then '00000000-0000-0000-0000-000000000000'::uuid
                else btrim(m[1], '''')::uuid end,
           case when m[2] = 'MAXVALUE' then 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid
                else btrim(m[2], '''')::uuid end
    from pg_class c,
         regexp_match(pg_get_expr(c.relpartbound, c.oid), '^FOR VALUES FROM \((.*)\) TO \((.*)\)$') as m
    where c.oid = part
$$;

-- Creates the weekly partitions (Monday 00:00 UTC to the next) of `parent` that cover
-- [from_at, until_at) and are missing; returns how many it created. A week that overlaps an
-- existing partition is left alone. Each partition is created as a table of its own and then
-- attached, which locks the parent only in SHARE UPDATE EXCLUSIVE mode (reads and writes go on);
-- it takes the storage options of the newest partition (the deliveries' vacuum settings).
-- Concurrent calls are serialized by an advisory lock held to the end of the caller's transaction.
create function ensure_weekly_partitions(parent regclass, from_at timestamptz, until_at timestamptz)
returns integer
language plpgsql
as $$
declare
    week timestamptz := date_trunc('week', from_at at time zone 'UTC') at time zone 'UTC';
    next_week timestamptz;
    name text;
    options text;
    created integer := 0;
begin
    -- Replicas starting together all call this: one at a time, each seeing what the one before
    -- created (a statement in plpgsql reads with a new snapshot), so none fails on a name taken.
    perform pg_advisory_xact_lock(8097887090079267188);
    while week < until_at loop
        next_week := week + interval '7 days';
        if not exists (
            select 1 from pg_inherits i, partition_bounds(i.inhrelid) b
            where i.inhparent = parent
              and b.upper_bound > uuid_v7_floor(week) and b.lower_bound < uuid_v7_floor(next_week)
        ) then
            name := format('%s_p%s', (select relname from pg_class where oid = parent),
                           to_char(week at time zone 'UTC', 'YYYYMMDD'));
            select array_to_string(c.reloptions, ', ') into options
            from pg_inherits i join pg_class c on c.oid = i.inhrelid
            where i.inhparent = parent
            order by (partition_bounds(i.inhrelid)).upper_bound desc
            limit 1;
            execute format('create table %I (like %s including defaults including constraints) %s',
                           name, parent, coalesce('with (' || nullif(options, '') || ')', ''));
            execute format('alter table %s attach partition %I for values from (%L) to (%L)',
                           parent, name, uuid_v7_floor(week), uuid_v7_floor(next_week));
            created := created + 1;
        end if;
        week := next_week;
    end loop;
    return created;
end
$$;

do $$
declare
    spec record;
    definitions text[];
    definition text;
    index record;
    bound text;
begin
    for spec in
        select * from (values ('event', 'event_id'), ('delivery', 'delivery_id'),
                              ('delivery_attempt', 'attempt_id')) as t(table_name, id_column)
    loop
        -- The indexes to have on the parent, as they are defined now (the dedup key's unique
        -- constraint stays on the legacy partition only: `event_key` enforces it from now on).
        select array_agg(pg_get_indexdef(i.indexrelid)) into definitions
        from pg_index i join pg_class c on c.oid = i.indexrelid
        where i.indrelid = spec.table_name::regclass and not i.indisprimary
          and c.relname <> 'event_provider_dedup_key_key';
        select substring(pg_get_constraintdef(oid) from '''([0-9a-f-]+)''') into bound
        from pg_constraint
        where conrelid = spec.table_name::regclass and conname = spec.table_name || '_first_partition_bound';

        execute format('alter table %I rename to %I', spec.table_name, spec.table_name || '_legacy');
        execute format('alter table %I rename constraint %I to %I', spec.table_name || '_legacy',
                       spec.table_name || '_pkey', spec.table_name || '_legacy_pkey');
        for index in
            select c.relname from pg_index i join pg_class c on c.oid = i.indexrelid
            where i.indrelid = (spec.table_name || '_legacy')::regclass and not i.indisprimary
        loop
            execute format('alter index %I rename to %I', index.relname, index.relname || '_legacy');
        end loop;

        execute format('create table %I (like %I including defaults including constraints)
                        partition by range (%I)',
                       spec.table_name, spec.table_name || '_legacy', spec.id_column);
        execute format('alter table %I drop constraint %I', spec.table_name,
                       spec.table_name || '_first_partition_bound');
        execute format('alter table %I add constraint %I primary key (%I)', spec.table_name,
                       spec.table_name || '_pkey', spec.id_column);
        foreach definition in array coalesce(definitions, '{}') loop
            execute definition;
        end loop;
        if spec.table_name = 'delivery' then
            alter table delivery add constraint delivery_subscription_id_fkey
                foreign key (subscription_id) references subscription (subscription_id) on delete cascade;
            alter sequence delivery_seq_seq owned by delivery.seq;
        end if;
        execute format('alter table %I attach partition %I for values from (minvalue) to (%L)',
                       spec.table_name, spec.table_name || '_legacy', bound);
        perform ensure_weekly_partitions(spec.table_name::regclass, now() - interval '1 day',
                                         now() + interval '28 days');
    end loop;
end
$$;
