-- No statement reads deliveries by event (they are read by id, by subscription, or in claim
-- order), and events are never deleted, so the foreign key to `event` needs no index on this
-- side. Each delivery is written two or three times; this index cost an entry every time.
drop index delivery_event_idx;
