-- White-label onboarding rounds: how many times documents were submitted through the gateway for
-- a holder at a provider. Delbank's onboarding webhooks carry no id and no time, so a second
-- rejection after a resubmission has the same body as a redelivery of the first: the round tells
-- them apart (ingest adds it to the rejection's dedup key). The holder is its document's SHA-256.
create table onboarding_round (
    provider    text        not null,
    holder_hash text        not null,
    round       integer     not null constraint onboarding_round_positive check (round > 0),
    updated_at  timestamptz not null default now(),
    primary key (provider, holder_hash)
);
