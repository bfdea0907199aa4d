-- The compute ledger: one row per settled cluster job, beside usage_events (one row per API
-- call). Written by the same batched writer as usage events when the follower settles a job, and
-- keyed by the job's workload, so a settlement written twice (a spool replay, the follower's
-- backfill of events lost with a process) is one row. Reports and detection read model-API usage
-- and cluster compute from these two tables. Keyed with the time, as usage_events is, so that
-- both can be partitioned by time alike.
create table compute_events (
    workload_id    uuid not null,
    occurred_at    timestamptz not null,  -- when the job ended
    customer_id    uuid not null,
    project_id     uuid,
    key_id         text,
    cluster        text not null,
    kind           text not null,
    job_id         text,
    accelerator    text not null,
    gpus           integer not null,
    submitted_at   timestamptz not null,
    started_at     timestamptz,
    run_seconds    double precision not null,
    gpu_seconds    double precision not null,
    flop_bound     double precision not null,
    flop_expected  double precision not null,
    flop_settled   double precision not null,
    spend          double precision,  -- at the price the job was admitted with; null: unpriced
    bio            boolean not null,
    native_state   text,
    primary key (workload_id, occurred_at)
);
create index compute_events_time on compute_events (occurred_at desc);
create index compute_events_customer_time on compute_events (customer_id, occurred_at desc);

-- The follower looks for recently ended jobs whose event is missing.
create index workloads_ended on workloads (ended_at) where state = 'ended';

-- Jobs settled before this ledger existed.
insert into compute_events
    (workload_id, occurred_at, customer_id, project_id, key_id, cluster, kind, job_id, accelerator,
     gpus, submitted_at, started_at, run_seconds, gpu_seconds, flop_bound, flop_expected,
     flop_settled, spend, bio, native_state)
select id, ended_at, customer_id, project_id, key_id, cluster, kind, job_id, accelerator, gpus,
       submitted_at, started_at, coalesce(run_seconds, 0), gpu_seconds_settled, flop_bound,
       flop_expected, flop_settled, gpu_seconds_settled * price_per_gpu_hour / 3600.0, bio, native_state
from workloads
where state = 'ended' and ended_at is not null;
