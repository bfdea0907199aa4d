-- What the detector found (gateway/detect/): linked clusters and single accounts, each with a stable
-- id across runs, the actions taken on their members, and the runs themselves.
--
-- detect_clusters: one row per finding the detector keeps seeing. A later run's finding of the same
-- kind whose members overlap a cluster's by Jaccard >= 0.5 updates that row (score, members,
-- evidence, last window); otherwise it is a new row. An operator confirms or dismisses it; a
-- dismissed cluster keeps the score and members it was dismissed with, and is flagged again only when
-- a later finding scores clearly higher or adds members (gateway/detect/triage.py says how much).
create table detect_clusters (
    id             uuid primary key,
    kind           text not null check (kind in ('ring', 'extractor', 'reseller')),
    status         text not null default 'open' check (status in ('open', 'confirmed', 'dismissed')),
    score          double precision not null check (score >= 0 and score <= 1),
    members        uuid[] not null check (cardinality(members) >= 1),
    signals        jsonb not null default '{}',
    reasons        jsonb not null default '[]',
    links          jsonb not null default '[]',
    evidence_hash  text not null check (evidence_hash ~ '^[0-9a-f]{64}$'),
    first_seen     timestamptz not null,
    flagged_at     timestamptz not null,  -- when first flagged, or flagged again after a dismissal
    updated_at     timestamptz not null,
    since          timestamptz not null,  -- the window of the last run that saw it
    until          timestamptz not null,
    reviewed_by    text,
    reviewed_at    timestamptz,
    review_reason  text,
    check (until > since),
    check ((reviewed_by is null) = (reviewed_at is null) and (reviewed_at is null) = (review_reason is null)),
    check (status = 'open' or reviewed_at is not null)
);
create index detect_clusters_listing on detect_clusters (status, flagged_at desc);
-- A run finds the clusters a finding may continue by their members (array overlap, &&).
create index detect_clusters_members on detect_clusters using gin (members);

-- One row per action on one customer: taken automatically by a run (the policy's cutoffs) or by an
-- operator, each with its audit entry (audit_seq) and the hash of the evidence it was taken on.
-- `shadow`: the policy's mode was shadow; recorded, nothing done, nothing to reverse.
-- `effect` says what the action changed (for the reversal to undo exactly that, and only if nothing
-- else changed since): {"override": {...}} for a throttle, {"kyc": {"from", "to", "changed_at"}} for
-- edd and suspend, {"none": "<why>"} when there was nothing to change.
create table detect_actions (
    id               bigint generated always as identity primary key,
    cluster_id       uuid not null references detect_clusters (id),
    customer_id      uuid not null references customers (id),
    action           text not null check (action in ('flag', 'throttle', 'edd', 'suspend')),
    automatic        boolean not null,
    shadow           boolean not null default false,
    state            text not null default 'active' check (state in ('active', 'reversed')),
    actor            text not null,
    reason           text not null,
    evidence_hash    text not null check (evidence_hash ~ '^[0-9a-f]{64}$'),
    override_id      bigint,  -- the quota override a throttle set (or shares); deleted on reversal
    effect           jsonb not null default '{}',
    created_at       timestamptz not null,
    audit_seq        bigint not null references audit_entries (seq),
    reversed_at      timestamptz,
    reversed_by      text,
    reversal_reason  text,
    reversal_seq     bigint references audit_entries (seq),
    check (override_id is null or action = 'throttle'),
    check ((state = 'reversed') = (reversed_at is not null)),
    check ((reversed_at is null) = (reversed_by is null) and (reversed_by is null) = (reversal_reason is null)),
    check (not (shadow and state = 'reversed'))
);
create index detect_actions_cluster on detect_actions (cluster_id, id);
create index detect_actions_customer on detect_actions (customer_id, id) where state = 'active';
create index detect_actions_override on detect_actions (override_id) where override_id is not null;

-- Each run: its window, what it found and did, and how long it took.
create table detect_runs (
    id            bigint generated always as identity primary key,
    started_at    timestamptz not null,
    finished_at   timestamptz not null,
    since         timestamptz not null,
    until         timestamptz not null,
    mode          text not null check (mode in ('enforce', 'shadow')),
    findings      integer not null check (findings >= 0),
    new_clusters  integer not null check (new_clusters >= 0),
    actions       integer not null check (actions >= 0),
    seconds       double precision not null check (seconds >= 0),
    check (until > since),
    check (finished_at >= started_at)
);
create index detect_runs_time on detect_runs (started_at desc);
