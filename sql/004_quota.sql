-- Quotas: per-customer overrides, and the counters that hold the truth for every replica.

-- Limits an operator sets for one customer (or one of its projects or keys); they join the
-- plan's and the jurisdiction policy's limits, and the tightest applies.
create table quota_overrides (
    id            bigserial primary key,
    customer_id   uuid not null references customers (id) on delete cascade,
    scope         text not null check (scope in ('customer', 'project', 'key')),
    scope_id      text not null,
    dimension     text not null
        check (dimension in ('requests', 'input_tokens', 'output_tokens', 'gpu_seconds', 'flop')),
    period        text check (period in ('second', 'minute', 'hour', 'day', 'month')),
    rolling_days  integer check (rolling_days > 0),
    "limit"       double precision not null check ("limit" >= 0),
    hard          boolean not null default false,
    created_by    text not null,
    created_at    timestamptz not null default now(),
    check ((period is null) <> (rolling_days is null)),
    unique nulls not distinct (customer_id, scope, scope_id, dimension, period, rolling_days)
);

-- One row per budget window of a scope and dimension. Admission is one UPDATE whose WHERE
-- re-checks the sum after any concurrent commit (read committed), so a hard budget is never
-- exceeded: used (settled) + reserved (in flight) + leased (blocks held by replicas) <= limit.
create table quota_counters (
    scope         text not null,
    scope_id      text not null,
    dimension     text not null,
    window_start  timestamptz not null,
    window_end    timestamptz not null,
    limit_value   double precision not null check (limit_value >= 0),
    used          double precision not null default 0 check (used >= 0),
    reserved      double precision not null default 0 check (reserved >= 0),
    leased        double precision not null default 0 check (leased >= 0),
    updated_at    timestamptz not null default now(),
    primary key (scope, scope_id, dimension, window_start)
);
create index quota_counters_window_end on quota_counters (window_end);

-- A block of a counter held by one replica, served from its memory; returned on shutdown,
-- or taken back by anyone once it expires (a killed replica's lease returns to the pool).
create table quota_leases (
    id            uuid primary key,
    replica       text not null,
    scope         text not null,
    scope_id      text not null,
    dimension     text not null,
    window_start  timestamptz not null,
    amount        double precision not null check (amount > 0),
    expires_at    timestamptz not null,
    created_at    timestamptz not null default now(),
    foreign key (scope, scope_id, dimension, window_start)
        references quota_counters (scope, scope_id, dimension, window_start) on delete cascade
);
create index quota_leases_expiry on quota_leases (expires_at);
