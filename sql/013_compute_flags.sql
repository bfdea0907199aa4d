-- Training-scale flags as they are raised: one row per customer, threshold and alert level, the
-- first time its linked group reaches that level (settled + expected compute), written in the
-- transaction that logs it to the audit log (compute.flagged). Later passes find the row and log
-- nothing: the log has each level once. Reports count and cite these rows.
create table compute_flags (
    customer_id    uuid not null,
    threshold      text not null,
    level          double precision not null check (level > 0),
    threshold_flop double precision not null,
    flop           double precision not null,
    flop_settled   double precision not null,
    flop_expected  double precision not null,
    group_size     integer not null,
    jobs           integer not null,
    raised_at      timestamptz not null default now(),
    audit_seq      bigint not null,
    primary key (customer_id, threshold, level)
);
create index compute_flags_time on compute_flags (raised_at);
