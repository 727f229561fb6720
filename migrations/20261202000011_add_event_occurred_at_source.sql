-- Whose time `occurred_at` is: 'provider' (the payload's own timestamp, or one derived from it such
-- as a Pix end-to-end id's minute) or 'received' (the payload carries none, e.g. Delbank's
-- white-label account events: the gateway's time of receipt, so time filters find the event).
-- A constant default makes the new column a catalogue change only (Postgres 11+): no table rewrite.
alter table event
    add column occurred_at_source text not null default 'provider',
    add constraint event_occurred_at_source_check check (occurred_at_source in ('provider', 'received'));

-- Events stored before this migration with no time of their own have the Unix epoch.
update event set occurred_at = received_at, occurred_at_source = 'received'
where occurred_at = 'epoch';
