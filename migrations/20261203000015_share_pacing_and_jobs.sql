-- Fleet-wide coordination through the database every replica already shares.
--
-- subscription_pace: a subscription's rate limit as one GCRA bucket for the whole fleet. A
-- dispatcher reserves a block of consecutive slots for the deliveries it claimed (one statement per
-- batch); `next_slot` is when the next free slot starts. `last_start` and `last_granted` hold what
-- the latest reservation got, so that the reserving statement can return them. No index beyond the
-- key: every update is HOT. A subscription's row is removed with it.
create table subscription_pace (
    subscription_id uuid        primary key
        constraint subscription_pace_subscription_fk references subscription (subscription_id) on delete cascade,
    next_slot       timestamptz not null,
    last_start      timestamptz not null,
    last_granted    integer     not null constraint subscription_pace_granted_non_negative check (last_granted >= 0)
);

-- job_run: the periodic jobs that must run once per interval for the fleet, not once per replica
-- (the reconciliation pass, the idempotency purge, the claim reaper). A replica runs a job while it
-- holds the job's row lock (`for update skip locked`, in a transaction open for the run) and marks
-- it finished in that transaction: a replica that dies mid-run rolls back, the job is still due,
-- and another replica takes it at once.
create table job_run (
    job              text        primary key,
    last_finished_at timestamptz not null default '-infinity',
    runs             bigint      not null default 0,
    finished_by      text
);
