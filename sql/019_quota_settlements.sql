-- Each batch of quota settlements and lease returns a replica writes carries an id, recorded in the
-- batch's own transaction. A batch whose commit went through but whose acknowledgement was lost
-- (the connection broke at that moment) is retried with the same id and then skipped, instead of
-- charging its requests twice. Ids older than a day are pruned with the ended rate windows.
create table quota_settlements (
    batch_id    uuid primary key,
    settled_at  timestamptz not null default now()
);
create index quota_settlements_time on quota_settlements (settled_at);
