-- Identifiers of a list entry (passport, national id, registration, tax, IMO numbers): the
-- matcher raises a hit whose identifier the customer shares.
alter table screening_entries add column identifiers text[] not null default '{}';
