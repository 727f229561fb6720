-- Partitioning, step 4 of 5: validating step 3's bounds scans each table under a SHARE UPDATE
-- EXCLUSIVE lock, which lets inserts, updates and reads go on.
alter table event validate constraint event_first_partition_bound;
alter table delivery validate constraint delivery_first_partition_bound;
alter table delivery_attempt validate constraint delivery_attempt_first_partition_bound;
