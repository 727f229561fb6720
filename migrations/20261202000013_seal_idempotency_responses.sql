-- Stored responses can hold secrets shown once (a subscription's whsec_ secret, a new pgk_ API key),
-- so they are sealed with the encryption keys like every other secret: `response_body` becomes the
-- text form `enc:v1:<key id>:...` (rows stored before this migration stay readable as plaintext
-- until they expire or `paygate secrets rekey` seals them). `record_id` gives rekey the single
-- uuid key it walks every secret column by. The table only holds a day of records.
alter table idempotency_record
    add column record_id uuid not null default gen_random_uuid(),
    add constraint idempotency_record_record_id_key unique (record_id),
    alter column response_body type text using convert_from(response_body, 'UTF8');
