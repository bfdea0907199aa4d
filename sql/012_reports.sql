-- Signed regulator reports: generated from the usage ledger, stored once, never changed.
--
-- The body is the report itself, RFC 8785 canonical JSON built from the ledger and the
-- parameters only (the same ledger gives the same bytes); sha256 is its hash, jws a detached JWS
-- over it with the audit log's key, audit_seq the `report.issued` entry logged in the same
-- transaction. A correction is a new row, version + 1, naming the version it supersedes (same
-- kind, jurisdiction and period); a version is superseded at most once, so versions form a chain.
-- Nothing is updated or deleted: the triggers below refuse it (as sql/011 does for the audit log).
create table reports (
    id            uuid primary key,
    version       integer not null check (version >= 1),
    supersedes    uuid unique references reports (id),
    kind          text not null check (kind in ('usage', 'large_training')),
    jurisdiction  text not null check (jurisdiction ~ '^[A-Z][A-Z0-9_]*$'),
    period_start  timestamptz not null,
    period_end    timestamptz not null,
    issued_at     timestamptz not null,
    issued_by     text not null,
    body          bytea not null,
    sha256        text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    jws           text not null,
    audit_seq     bigint not null unique references audit_entries (seq),
    check (period_end > period_start),
    check ((version = 1) = (supersedes is null))
);
-- Listing for a regulator, newest first.
create index reports_jurisdiction on reports (jurisdiction, audit_seq desc);
-- One first version of a usage report per jurisdiction and period: the next is a correction.
create unique index reports_usage_period on reports (jurisdiction, period_start, period_end)
    where kind = 'usage' and version = 1;
create index reports_kind on reports (kind, audit_seq desc);

create function reports_immutable() returns trigger language plpgsql as $$
begin
    raise exception 'reports are immutable: % on % is refused (issue a correction instead)', tg_op, tg_table_name
        using errcode = 'insufficient_privilege';
end $$;

create trigger reports_immutable before update or delete or truncate on reports
    for each statement execute function reports_immutable();
