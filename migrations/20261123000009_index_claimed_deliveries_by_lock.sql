-- Recording a batch's attempts updates each delivery by id where it is still `delivering`. The
-- in-flight index's predicate (`status = 'delivering'`) matched that condition, and with no
-- statistics yet the planner read the whole index as a bitmap for every record, dead entries
-- included (about 1 ms per batch after 10,000 deliveries, growing until vacuum). The index of
-- claimed rows is now keyed on what the reaper asks for (`locked_until < now()`, which implies
-- `locked_until is not null`); the record statement no longer matches its predicate and goes by
-- primary key. Every transition out of `delivering` clears `locked_until`, so it stays as small.
drop index delivery_in_flight_idx;
create index delivery_claimed_idx on delivery (locked_until) where locked_until is not null;
