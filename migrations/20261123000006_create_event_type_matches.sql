-- One definition of "an event type pattern matches a type", shared by the outbox (which
-- subscriptions want an event) and replays (which events a replay re-delivers). It mirrors
-- providers::EventPattern::matches; an e2e test checks that the two agree.
--   '*'         matches every type
--   'loan.*'    matches every type under 'loan.' (loan.active, loan.x.y), not 'loan' itself
--   otherwise   an exact match
create function event_type_matches(pattern text, event_type text) returns boolean
    language sql immutable parallel safe
    return pattern = '*'
        or pattern = event_type
        or (right(pattern, 2) = '.*' and starts_with(event_type, left(pattern, -1)));
