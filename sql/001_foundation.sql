-- Foundation: customers, projects, API keys (hashed), the usage ledger.

create table customers (
    id          uuid primary key,
    name        text not null unique,
    created_at  timestamptz not null default now()
);

create table projects (
    id           uuid primary key,
    customer_id  uuid not null references customers (id),
    name         text not null,
    created_at   timestamptz not null default now(),
    unique (customer_id, name)
);

-- A key is presented as gk_<id>_<secret>; only sha256 of the whole key is stored.
create table api_keys (
    id           text primary key check (id ~ '^[0-9a-f]{16}$'),
    customer_id  uuid not null references customers (id),
    project_id   uuid not null references projects (id),
    name         text,
    secret_hash  bytea not null check (length(secret_hash) = 32),
    created_at   timestamptz not null default now(),
    revoked_at   timestamptz
);
create index api_keys_customer on api_keys (customer_id);

-- Every replica keeps keys in memory and listens here: a change reaches all of them at once.
create function api_keys_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('gateway_api_keys', coalesce(new.id, old.id));
    return null;
end $$;

create trigger api_keys_notify
    after insert or update or delete on api_keys
    for each row execute function api_keys_notify();

-- Append-only: one row per proxied call. No foreign keys, so COPY stays fast and
-- the ledger survives the deletion of what it describes. The primary key carries
-- occurred_at so the table can later be partitioned by time.
create table usage_events (
    request_id         uuid not null,
    occurred_at        timestamptz not null,
    customer_id        uuid not null,
    project_id         uuid not null,
    key_id             text not null,
    upstream           text,
    route              text not null,
    model              text,
    stream             boolean not null default false,
    status             integer not null,
    error_code         text,
    prompt_tokens      integer,
    completion_tokens  integer,
    usage_complete     boolean not null,  -- false: partial or estimated (a stream cut short)
    duration_ms        double precision not null,
    bytes_in           bigint not null,
    bytes_out          bigint not null,
    client_ip          inet,
    primary key (request_id, occurred_at)
);
create index usage_events_time on usage_events (occurred_at desc);
create index usage_events_customer_time on usage_events (customer_id, occurred_at desc);
