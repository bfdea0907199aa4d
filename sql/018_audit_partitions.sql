-- The audit log's entries partitioned by month too, with retention by dropping whole months from the
-- front of the log, and the ledger's partitions kept from coming back once dropped.
--
-- The partition key is `logged_at`, when the sequencer numbered the entry (not `occurred_at`, the
-- entry's own signed time, which a late writer may give an entry older than the one before it). The
-- sequencer makes it non-decreasing in `seq` (the later of the database's clock and the head's last
-- value), so each month holds one run of consecutive entries: dropping the oldest months drops a
-- prefix of the log, never a hole in it. What the dropped prefix committed to stays: `audit_cuts`
-- keeps the tree's right edge and the hash chain at the cut (signed checkpoints and the stored
-- subtrees are never dropped), so the rest of the log still verifies and still proves inclusion.
-- Entries from before this migration have no logged time: `-infinity`, in `audit_entries_before`.

set local timezone = 'UTC';

alter table ledger_partitioning
    add column family text not null default 'ledger' check (family in ('ledger', 'audit')),
    add column key_column text not null default 'occurred_at';

alter table audit_head add column logged_at timestamptz not null default '-infinity';
alter table audit_entries add column logged_at timestamptz not null default '-infinity';

-- Reports and detection actions point at their audit entries by seq. A foreign key cannot: across
-- partitions seq is unique by the sequencer, not by an index, and a key would pin every month a report
-- points into. The pointer is written in the same transaction as its entry, and checked the way a
-- regulator checks it: by the entry's inclusion proof.
alter table reports drop constraint reports_audit_seq_fkey;
alter table detect_actions drop constraint detect_actions_audit_seq_fkey,
                           drop constraint detect_actions_reversal_seq_fkey;

do $$
declare
    floor_at timestamptz := date_trunc('month', now()) + interval '1 month';
begin
    alter table audit_entries rename to audit_entries_before;
    -- Its key becomes the parent's (seq, logged_at), built at the attach below (logged_at is
    -- -infinity throughout, so seq alone stays unique).
    alter table audit_entries_before drop constraint audit_entries_pkey;
    alter index audit_entries_time rename to audit_entries_before_time;
    alter index audit_entries_subject rename to audit_entries_before_subject;
    create table audit_entries (like audit_entries_before including constraints including storage)
        partition by range (logged_at);
    -- Unique per month; across months the sequencer (the locked head) numbers every entry once.
    alter table audit_entries add constraint audit_entries_pkey primary key (seq, logged_at);
    create index audit_entries_time on audit_entries (occurred_at);
    create index audit_entries_subject on audit_entries (subject) where subject is not null;
    execute format('alter table audit_entries attach partition audit_entries_before'
                   ' for values from (minvalue) to (%L)', floor_at);
    create table audit_entries_default partition of audit_entries default;
    insert into ledger_partitioning (table_name, floor, family, key_column)
        values ('audit_entries', floor_at, 'audit', 'logged_at');
end
$$;

-- Append-only, partitions included: the statement triggers refuse UPDATE, DELETE and TRUNCATE on the
-- parent, and the row triggers (cloned to every partition, present and future) refuse an UPDATE or
-- DELETE aimed at a partition itself.
create trigger audit_entries_immutable before update or delete or truncate on audit_entries
    for each statement execute function audit_immutable();
create trigger audit_entries_rows_immutable before update or delete on audit_entries
    for each row execute function audit_immutable();

-- One row per retention cut: the log's first `size` entries were dropped; `frontier` (the roots of
-- the perfect subtrees that make up [0, size), largest first) and `chain` (the hash chain after entry
-- size - 1) let a verifier walk on from there. A forged row is caught by the next signed checkpoint.
create table audit_cuts (
    size        bigint primary key check (size > 0),
    frontier    bytea[] not null,
    chain       bytea not null check (length(chain) = 32),
    upto        timestamptz not null,   -- every entry logged before this was dropped
    partitions  text[] not null,
    cut_at      timestamptz not null default now()
);
create trigger audit_cuts_immutable before update or delete or truncate on audit_cuts
    for each statement execute function audit_immutable();

-- As in 017, for every partitioned table by its own key column, and never a month again once it was
-- dropped (the floor moves past what retention dropped). Rows that wait in the audit log's default
-- partition are not moved (they cannot be deleted): their month is made once the default is clear.
create or replace function ledger_ensure_partitions(months_ahead integer, at timestamptz default null)
returns integer language plpgsql set timezone = 'UTC' as $$
declare
    p record;
    m timestamptz;
    part text;
    waiting boolean;
    made integer := 0;
begin
    perform pg_advisory_xact_lock(hashtextextended('gateway-ledger-partitions', 0));
    for p in select table_name, floor, family, key_column from ledger_partitioning order by table_name loop
        m := p.floor;
        while m <= date_trunc('month', coalesce(at, now())) + make_interval(months => months_ahead) loop
            part := p.table_name || '_p' || to_char(m, 'YYYYMM');
            if to_regclass(part) is null then
                execute format('select exists (select 1 from %I where %I >= %L and %I < %L)',
                               p.table_name || '_default', p.key_column, m, p.key_column,
                               m + interval '1 month') into waiting;
                if waiting and p.family = 'audit' then
                    m := m + interval '1 month';
                    continue;
                end if;
                execute format('create temporary table ledger_moving on commit drop as'
                               ' with gone as (delete from %I where %I >= %L and %I < %L'
                               ' returning *) select * from gone',
                               p.table_name || '_default', p.key_column, m, p.key_column,
                               m + interval '1 month');
                execute format('create table %I partition of %I for values from (%L) to (%L)',
                               part, p.table_name, m, m + interval '1 month');
                execute format('insert into %I select * from ledger_moving', p.table_name);
                drop table ledger_moving;
                made := made + 1;
            end if;
            m := m + interval '1 month';
        end loop;
    end loop;
    return made;
end
$$;

-- As in 017, for the ledger's tables only (the audit log's months leave through gateway.audit.retention,
-- which records the cut), and the floor moves past the months dropped, so they are not made again.
create or replace function ledger_drop_partitions(before timestamptz) returns setof text
language plpgsql set timezone = 'UTC' as $$
declare
    p record;
    m timestamptz;
    part text;
begin
    perform pg_advisory_xact_lock(hashtextextended('gateway-ledger-partitions', 0));
    for p in select table_name, floor from ledger_partitioning where family = 'ledger' order by table_name loop
        if p.floor <= before and to_regclass(p.table_name || '_before') is not null then
            execute format('drop table %I', p.table_name || '_before');
            return next p.table_name || '_before';
        end if;
        m := p.floor;
        while m + interval '1 month' <= before loop
            part := p.table_name || '_p' || to_char(m, 'YYYYMM');
            if to_regclass(part) is not null then
                execute format('drop table %I', part);
                return next part;
            end if;
            m := m + interval '1 month';
        end loop;
        update ledger_partitioning set floor = m where table_name = p.table_name and m > floor;
    end loop;
end
$$;

select ledger_ensure_partitions(2);
