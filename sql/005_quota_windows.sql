-- Quotas in service: counters keyed by their window as well as its start, each customer's
-- time zone, and a change feed for overrides.
--
-- Two limits on one dimension can start their windows at the same instant (a daily and a
-- monthly budget both start on the 1st at midnight; a 30-day and a 90-day rolling budget share
-- every hour), so a counter is keyed by the window's name too. 004's tables were written by
-- tests only (no proxy stage used them), so they are recreated rather than altered.
drop table quota_leases;
drop table quota_counters;

-- One row per window of a limit: a calendar window (second, minute, hour, day, month) is one
-- row; a rolling budget ('rolling:90') is a row per UTC hour, summed over the last N days.
-- Admission is one UPDATE (calendar) or a sum under an advisory lock (rolling) whose WHERE
-- re-checks the budget after any concurrent commit, so that
-- used (settled) + reserved (hard, in flight) + leased (blocks held by replicas) <= limit.
create table quota_counters (
    scope         text not null,
    scope_id      text not null,
    dimension     text not null,
    "window"      text not null,
    window_start  timestamptz not null,
    window_end    timestamptz not null,
    limit_value   double precision not null check (limit_value >= 0),
    used          double precision not null default 0 check (used >= 0),
    reserved      double precision not null default 0 check (reserved >= 0),
    leased        double precision not null default 0 check (leased >= 0),
    updated_at    timestamptz not null default now(),
    primary key (scope, scope_id, dimension, "window", window_start)
);
create index quota_counters_window_end on quota_counters (window_end);

-- A block of a counter held by one replica and served from its memory; returned on shutdown
-- and when its replica is done with it, or taken back by anyone once it expires (a killed
-- replica's lease returns to the pool, counted as used).
create table quota_leases (
    id            uuid primary key,
    replica       text not null,
    scope         text not null,
    scope_id      text not null,
    dimension     text not null,
    "window"      text not null,
    window_start  timestamptz not null,
    amount        double precision not null check (amount > 0),
    expires_at    timestamptz not null,
    created_at    timestamptz not null default now(),
    foreign key (scope, scope_id, dimension, "window", window_start)
        references quota_counters (scope, scope_id, dimension, "window", window_start) on delete cascade
);
create index quota_leases_expiry on quota_leases (expires_at);
create index quota_leases_replica on quota_leases (replica);

-- Daily and monthly budgets reset at the customer's midnight. An IANA zone name, checked by
-- the code that sets it (PostgreSQL's own check would tie it to the server's tzdata).
alter table customers add column time_zone text not null default 'UTC';

create or replace trigger customers_kyc_notify
    after insert or delete or update of kyc_status, expires_at, sanctions, jurisdictions, kyc_level, time_zone
    on customers
    for each row execute function customers_kyc_notify();

-- Every replica keeps the overrides in memory: tell them which customer's changed.
create function quota_overrides_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('gateway_quota_overrides', coalesce(new.customer_id, old.customer_id)::text);
    return null;
end $$;

create trigger quota_overrides_notify
    after insert or update or delete on quota_overrides
    for each row execute function quota_overrides_notify();
