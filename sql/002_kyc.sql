-- Know your customer: verification state, encrypted facts, beneficial owners,
-- screening lists and hits, provider webhooks, and the trail of every decision.
--
-- Personal data lives only in `*_sealed` columns, encrypted by the application
-- with the customer's data key (envelope encryption, see gateway/kyc/crypto.py).
-- Destroying that key (customer_data_keys) erases it everywhere at once.

-- Customers that existed before KYC start unverified: the gateway fails closed.
alter table customers
    add column kind text not null default 'organisation'
        check (kind in ('individual', 'organisation')),
    add column country text check (country ~ '^[A-Z]{2}$'),
    add column kyc_status text not null default 'pending'
        check (kyc_status in ('pending', 'in_review', 'verified', 'rejected', 'suspended', 'expired')),
    add column status_changed_at timestamptz not null default now(),
    add column verified_at timestamptz,
    add column expires_at timestamptz,
    -- none | potential (an open hit) | confirmed (a confirmed hit, or listed owners >= 50%)
    add column sanctions text not null default 'none'
        check (sanctions in ('none', 'potential', 'confirmed')),
    add column listed_ownership_percent double precision not null default 0,
    add column screened_at timestamptz,
    add column facts_sealed bytea,
    add column oidc_issuer text,
    add column oidc_subject text,
    add column erased_at timestamptz;

-- One onboarding account (OIDC issuer + subject) owns at most one customer.
create unique index customers_oidc_subject on customers (oidc_issuer, oidc_subject)
    where oidc_subject is not null;
create index customers_kyc_status on customers (kyc_status);

-- A customer's data key, wrapped by the master key of `key_version`.
create table customer_data_keys (
    customer_id  uuid primary key references customers (id) on delete cascade,
    key_version  integer not null,
    wrapped      bytea not null,
    created_at   timestamptz not null default now()
);

-- A check value per master key version: a replica holding a different key for a
-- version refuses to start instead of writing data no other replica can read.
create table kyc_master_keys (
    version     integer primary key,
    check_value bytea not null,
    created_at  timestamptz not null default now()
);

-- Owners in a customer's ownership graph (people and organisations).
create table owners (
    id           uuid primary key,
    customer_id  uuid not null references customers (id) on delete cascade,
    kind         text not null check (kind in ('person', 'organisation')),
    country      text check (country ~ '^[A-Z]{2}$'),
    -- keyed hash of the normalised name and country: links owners across customers
    -- without decrypting them (linked accounts, a later issue)
    name_index   bytea,
    sealed       bytea,
    created_at   timestamptz not null default now()
);
create index owners_customer on owners (customer_id);
create index owners_name_index on owners (name_index);

-- owner_id owns `percent` of owned_id (null: of the customer itself) and/or holds `role` over it.
create table ownership_edges (
    id           bigserial primary key,
    customer_id  uuid not null references customers (id) on delete cascade,
    owner_id     uuid not null references owners (id) on delete cascade,
    owned_id     uuid references owners (id) on delete cascade,
    percent      double precision check (percent > 0 and percent <= 100),
    role         text,
    created_at   timestamptz not null default now(),
    check (percent is not null or role is not null),
    check (owned_id is distinct from owner_id),
    unique nulls not distinct (owner_id, owned_id)
);
create index ownership_edges_customer on ownership_edges (customer_id);

-- Every status change, with who or what made it and why. Never deleted (not by erasure either).
create table kyc_transitions (
    id           bigserial primary key,
    customer_id  uuid not null references customers (id),
    from_status  text not null,
    to_status    text not null,
    actor        text not null,
    reason       text not null,
    at           timestamptz not null default now()
);
create index kyc_transitions_customer on kyc_transitions (customer_id, id);

-- The provider's verification objects (documents stay with the provider).
create table kyc_verifications (
    provider         text not null,
    reference        text not null,
    customer_id      uuid not null references customers (id),
    provider_status  text not null,
    outcome          text,
    -- the provider's time of the last event applied: an older event arriving late changes nothing
    last_event_at    double precision,
    updated_at       timestamptz not null default now(),
    primary key (provider, reference)
);
create index kyc_verifications_customer on kyc_verifications (customer_id);

-- Webhook deliveries, keyed by the provider's event id: a replay changes nothing.
create table kyc_webhook_events (
    provider         text not null,
    event_id         text not null,
    customer_id      uuid,
    reference        text not null,
    provider_status  text not null,
    outcome          text,
    applied          boolean not null,
    note             text not null,
    received_at      timestamptz not null default now(),
    primary key (provider, event_id)
);

-- IP addresses the customer administers its account from, with the time of each action.
create table customer_access_log (
    id           bigserial primary key,
    customer_id  uuid not null references customers (id),
    at           timestamptz not null default now(),
    ip           inet,
    action       text not null,
    subject      text
);
create index customer_access_log_customer on customer_access_log (customer_id, at desc);

-- Screening lists: one active version per source; loading a new one swaps it atomically.
create table screening_lists (
    id          bigserial primary key,
    source      text not null check (source in ('csl', 'sdn', 'opensanctions')),
    sha256      text not null,
    file_name   text not null,
    entries     integer not null,
    loaded_at   timestamptz not null default now(),
    active      boolean not null default true
);
create unique index screening_lists_active on screening_lists (source) where active;

create table screening_entries (
    list_id      bigint not null references screening_lists (id) on delete cascade,
    entry_id     text not null,
    kind         text not null,
    name         text not null,
    aliases      text[] not null default '{}',
    countries    text[] not null default '{}',
    birth_dates  text[] not null default '{}',
    programs     text[] not null default '{}',
    list_name    text not null default '',
    remarks      text not null default '',
    primary key (list_id, entry_id)
);

-- A possible match of a customer or one of its owners (subject_id) with a list entry.
-- Keyed by source and entry id, not list version: a dismissed false positive stays
-- dismissed when the list is reloaded.
create table screening_hits (
    id            bigserial primary key,
    customer_id   uuid not null references customers (id) on delete cascade,
    subject_type  text not null check (subject_type in ('customer', 'owner')),
    subject_id    uuid not null,
    source        text not null,
    entry_id      text not null,
    list_id       bigint not null,
    entry_name    text not null,
    matched_name  text not null,
    list_name     text not null default '',
    score         double precision not null,
    reasons       text[] not null default '{}',
    -- open: to review; confirmed: a true match; dismissed: a false positive;
    -- cleared: no longer matched by the current list version
    state         text not null default 'open'
        check (state in ('open', 'confirmed', 'dismissed', 'cleared')),
    decided_by    text,
    decided_reason text,
    decided_at    timestamptz,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    unique (subject_id, source, entry_id)
);
create index screening_hits_customer on screening_hits (customer_id);

-- Every replica keeps each customer's KYC standing in memory and listens here.
create function customers_kyc_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('gateway_customers', coalesce(new.id, old.id)::text);
    return null;
end $$;

create trigger customers_kyc_notify
    after insert or delete or update of kyc_status, expires_at, sanctions on customers
    for each row execute function customers_kyc_notify();
