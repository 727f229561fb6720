-- Partitioning, step 3 of 5: each growing table gets the bound its rows will have as the first
-- partition of the partitioned table (step 5). Attaching a table as a partition scans it to check
-- its rows fit, under a lock, unless a validated check constraint already proves it; the check is
-- added here `not valid` (a brief lock, no scan) and validated by step 4 without blocking writes.
--
-- The bound is the start of a week (partitions are weekly, Monday 00:00 UTC) at least a day
-- ahead, so that gateways of the previous release, writing until the switch, stay within it. An
-- empty table's bound is the epoch: its first partition holds nothing, and history can be loaded
-- into weekly partitions of any age (the growth benchmark does).
do $$
declare
    ahead constant timestamptz := date_trunc('week', (now() + interval '1 day') at time zone 'UTC')
                                  at time zone 'UTC' + interval '7 days';
    bound uuid;
    spec record;
begin
    for spec in
        select * from (values ('event', 'event_id'), ('delivery', 'delivery_id'),
                              ('delivery_attempt', 'attempt_id')) as t(table_name, id_column)
    loop
        execute format('select case when exists (select 1 from %I) then uuid_v7_floor(%L)
                                    else uuid_v7_floor(%L) end',
                       spec.table_name, ahead, 'epoch'::timestamptz)
            into bound;
        execute format('alter table %I add constraint %I check (%I < %L::uuid) not valid',
                       spec.table_name, spec.table_name || '_first_partition_bound', spec.id_column, bound);
    end loop;
end
$$;
