-- Jurisdiction policy: what each customer's standing needs for a decision in memory,
-- and which policy version decided each request.

-- The countries a decision looks at (customer, addresses, owners with their effective
-- share), derived from the sealed facts whenever they change: the hot path and every
-- replica read them without the master key. Cleared by erasure.
alter table customers
    add column jurisdictions jsonb not null default '[]',
    add column kyc_level text not null default 'standard' check (kyc_level in ('standard', 'enhanced'));

alter table usage_events
    add column origin_country text,
    add column policy_hash text;

create or replace trigger customers_kyc_notify
    after insert or delete or update of kyc_status, expires_at, sanctions, jurisdictions, kyc_level on customers
    for each row execute function customers_kyc_notify();
