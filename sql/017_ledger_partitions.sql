-- The ledger's tables (usage_events, compute_events, call_features) partitioned by month of
-- occurred_at (native range partitioning): a query over a window reads only its months, and old
-- months leave by dropping a partition (ledger_drop_partitions), never by a DELETE that bloats.
--
-- Each table becomes a partitioned parent with the same columns, key and indexes. Its rows so far
-- stay where they are: the old table is attached whole as the partition `<table>_before`, for all
-- time up to the start of next month (or past its latest row), so this migration copies nothing.
-- From there on, one partition per month, `<table>_pYYYYMM`, made ahead of time by
-- ledger_ensure_partitions (every gateway calls it at start and every few hours). A row of a month
-- that has no partition yet (an import from the future, a clock far off) lands in
-- `<table>_default` and is moved into its month when that month's partition is made: no row is
-- ever refused.

create table ledger_partitioning (
    table_name  text primary key,
    floor       timestamptz not null  -- `<table>_before` holds every row before this
);

-- Months are UTC months, whatever the server's or the session's time zone.
set local timezone = 'UTC';

do $$
declare
    spec text[];
    t text;
    k text;
    o text;
    floor_at timestamptz;
begin
    -- table, its key column beside occurred_at, the order of its time indexes
    foreach spec slice 1 in array array[
        array['usage_events', 'request_id', 'desc'],
        array['compute_events', 'workload_id', 'desc'],
        array['call_features', 'request_id', 'asc']
    ] loop
        t := spec[1]; k := spec[2]; o := spec[3];
        execute format('select date_trunc(''month'', max(occurred_at)) + interval ''1 month'' from %I', t)
            into floor_at;
        floor_at := greatest(coalesce(floor_at, '-infinity'), date_trunc('month', now()) + interval '1 month');
        execute format('alter table %I rename to %I', t, t || '_before');
        execute format('alter index %I rename to %I', t || '_pkey', t || '_before_pkey');
        execute format('alter index %I rename to %I', t || '_time', t || '_before_time');
        execute format('alter index %I rename to %I', t || '_customer_time', t || '_before_customer_time');
        execute format('create table %I (like %I including defaults including constraints including storage)'
                       ' partition by range (occurred_at)', t, t || '_before');
        execute format('alter table %I add constraint %I primary key (%I, occurred_at)', t, t || '_pkey', k);
        execute format('create index %I on %I (occurred_at %s)', t || '_time', t, o);
        execute format('create index %I on %I (customer_id, occurred_at %s)', t || '_customer_time', t, o);
        -- The old rows' range is checked once here (a scan, no copy); its indexes become the
        -- partition's share of the parent's.
        execute format('alter table %I attach partition %I for values from (minvalue) to (%L)',
                       t, t || '_before', floor_at);
        execute format('create table %I partition of %I default', t || '_default', t);
        insert into ledger_partitioning values (t, floor_at);
    end loop;
end
$$;

-- Partitions for every month from each table's floor to `months_ahead` months after the month of
-- `at` (null: now). Replicas may call it at once: they take turns (a transaction lock). Returns the
-- partitions made.
create function ledger_ensure_partitions(months_ahead integer, at timestamptz default null) returns integer
language plpgsql set timezone = 'UTC' as $$
declare
    p record;
    m timestamptz;
    part text;
    made integer := 0;
begin
    perform pg_advisory_xact_lock(hashtextextended('gateway-ledger-partitions', 0));
    for p in select table_name, floor from ledger_partitioning order by table_name loop
        m := p.floor;
        while m <= date_trunc('month', coalesce(at, now())) + make_interval(months => months_ahead) loop
            part := p.table_name || '_p' || to_char(m, 'YYYYMM');
            if to_regclass(part) is null then
                -- Rows of this month that arrived early wait in the default partition: move them.
                execute format('create temporary table ledger_moving on commit drop as'
                               ' with gone as (delete from %I where occurred_at >= %L and occurred_at < %L'
                               ' returning *) select * from gone',
                               p.table_name || '_default', m, m + interval '1 month');
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

-- Drop every partition whose months all end at or before `before` (retention): whole partitions,
-- so nothing is half-deleted. Returns the partitions dropped, by name.
create function ledger_drop_partitions(before timestamptz) returns setof text
language plpgsql set timezone = 'UTC' as $$
declare
    p record;
    m timestamptz;
    part text;
begin
    perform pg_advisory_xact_lock(hashtextextended('gateway-ledger-partitions', 0));
    for p in select table_name, floor from ledger_partitioning order by table_name loop
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
    end loop;
end
$$;

select ledger_ensure_partitions(2);
