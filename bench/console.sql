-- The console benchmark's extra data, after bench/growth.sql: :items reconciliation items over the
-- last 400 days (statuses in production-like proportions), and webhook intake counts for a week.
\set ON_ERROR_STOP on
set synchronous_commit = off;
insert into recon_item (item_id, kind, item_key, status, document, loan_id, end_to_end_id,
                        expected_amount, observed_amount, difference, disbursed_at, received_at, occurred_at)
select (lpad(to_hex((extract(epoch from at) * 1000)::bigint), 12, '0') || '7'
        || substr(md5('r' || n), 1, 3) || '8' || substr(md5('r' || n), 4, 15))::uuid,
       'disbursement', 'ln_' || n,
       (array['matched', 'matched', 'matched', 'matched', 'matched', 'matched', 'amount_mismatch',
              'overdue', 'pending', 'confirmed'])[1 + n % 10],
       '52998224725', 'ln_' || n, 'E18236120' || lpad(n::text, 23, '0'),
       1000 + (n % 500), case when n % 10 = 6 then 999.90 + (n % 500) else 1000 + (n % 500) end,
       case when n % 10 = 6 then -0.10 end, at, at, at
from (select n, now() - interval '400 days' * (n::float8 / :items) as at
      from generate_series(1, :items) as n) as s;
insert into webhook_intake (minute, provider, registration, outcome, reason, count)
select date_trunc('minute', now()) - interval '1 minute' * m, p, '/', o,
       case when o = 'refused' then 'webhook_invalid_signature' else '' end, 1 + m % 7
from generate_series(0, 7 * 24 * 60 - 1) as m, unnest(array['dinie', 'delbank']) as p,
     unnest(array['received', 'duplicate', 'refused']) as o;
