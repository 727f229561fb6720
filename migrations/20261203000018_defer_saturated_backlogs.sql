-- A rate-limited subscription whose bucket is booked beyond the claim horizon has its due backlog
-- spread over the future at its rate (`store::deliveries::defer_due`), so that it leaves the head
-- of the queue instead of holding every other subscription's deliveries behind it. This is where
-- the spread reached so far: the next chunk starts after it. Adding a nullable column is
-- instantaneous (no rewrite, a brief lock).
alter table subscription_pace add column deferred_until timestamptz;
