-- Cluster jobs submitted through the gateway: who asked, what it may compute, what it did.
--
-- A row is written before the job reaches the cluster (state 'submitting') and completed with
-- the cluster's job id, so that a job is never running without its record. The follower moves it
-- to 'queued', 'running' and 'ended'; 'ended' is set once, in the transaction that settles the
-- job's quota reservations, so a job is never counted twice (across restarts and replicas too).
create table workloads (
    id                  uuid primary key,
    cluster             text not null,
    job_id              text,
    customer_id         uuid not null references customers (id),
    project_id          uuid,
    key_id              text,
    kind                text not null check (kind in ('slurm', 'kubernetes')),
    api_version         text not null,
    state               text not null
        check (state in ('submitting', 'rejected', 'queued', 'running', 'ended')),
    native_state        text,
    accelerator         text not null,
    gpus                integer not null check (gpus >= 0),
    time_limit_seconds  integer not null check (time_limit_seconds > 0),
    peak_flops_per_gpu  double precision not null,
    utilisation         double precision not null,
    gpu_seconds_bound   double precision not null,
    flop_bound          double precision not null,
    flop_expected       double precision not null,
    run_seconds         double precision,
    gpu_seconds_settled double precision not null default 0,
    flop_settled        double precision not null default 0,
    bio                 boolean not null default false,
    -- what the job said of itself: name, array, dependency, working directory, comment,
    -- partition, nodes, tasks (split runs are found from these)
    signals             jsonb not null default '{}',
    -- the quota counters its bound was reserved on: [{scope, scope_id, dimension, window,
    -- window_start, window_end, since, amount}], settled to the actual use when it ends
    reservations        jsonb not null default '[]',
    submitted_at        timestamptz not null default now(),
    started_at          timestamptz,
    ended_at            timestamptz,
    updated_at          timestamptz not null default now(),
    unique (cluster, job_id)
);
create index workloads_open on workloads (cluster, state) where state in ('submitting', 'queued', 'running');
create index workloads_customer on workloads (customer_id, submitted_at);
