-- A quarantined webhook can be replayed once the code can read it: when it was, and the events it
-- became (empty while still quarantined).
alter table quarantine
    add column replayed_at timestamptz,
    add column event_ids uuid[] not null default '{}';
