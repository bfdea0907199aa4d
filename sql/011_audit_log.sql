-- The audit log: a transparency log (RFC 6962 Merkle tree) in PostgreSQL.
--
-- Every entry is a leaf: its canonical JSON (RFC 8785) holds ids, codes and commitments (hashes),
-- never personal data in clear, so erasing a customer's data leaves the log verifiable. The one
-- row of audit_head is the sequencer: an append locks it, numbers its entries after the last
-- (seq is gap-free, one total order across every replica), stores the perfect subtrees its
-- leaves complete (audit_nodes) and the tree's right edge (the frontier). Each entry also
-- carries a hash chain (chain = SHA-256(previous chain || leaf hash)), so that a verifier can
-- name the first entry that was edited, dropped or moved, not only the checkpoint it breaks. Signed checkpoints
-- (C2SP tlog-checkpoint notes) commit to the tree's root at a size; they are what a regulator
-- keeps, outside this database. Entries, nodes and checkpoints cannot be updated or deleted:
-- the triggers below refuse it (a superuser can disable triggers, which is why checkpoints are
-- signed and published).
create table audit_entries (
    seq          bigint primary key check (seq >= 0),
    leaf_hash    bytea not null check (length(leaf_hash) = 32),
    chain        bytea not null check (length(chain) = 32),
    entry        bytea not null,
    kind         text not null,
    occurred_at  timestamptz not null,
    subject      text
);
create index audit_entries_time on audit_entries (occurred_at);
create index audit_entries_subject on audit_entries (subject) where subject is not null;

-- Perfect subtrees of two or more leaves: level L, index i covers leaves [i * 2^L, (i+1) * 2^L).
create table audit_nodes (
    level  smallint not null check (level between 1 and 63),
    index  bigint not null check (index >= 0),
    hash   bytea not null check (length(hash) = 32),
    primary key (level, index)
);

create table audit_head (
    id        boolean primary key default true check (id),
    size      bigint not null default 0,
    frontier  bytea[] not null default '{}',
    chain     bytea not null default '\x0000000000000000000000000000000000000000000000000000000000000000'
);
insert into audit_head (id) values (true);

create table audit_checkpoints (
    id         bigserial primary key,
    size       bigint not null check (size >= 0),
    root       bytea not null check (length(root) = 32),
    note       text not null,
    signed_at  timestamptz not null default now()
);
create index audit_checkpoints_size on audit_checkpoints (size);

-- Witness cosignatures (tlog-cosignature cosignature/v1) attached to a checkpoint.
create table audit_cosignatures (
    checkpoint_id  bigint not null references audit_checkpoints (id),
    witness        text not null,
    line           text not null,
    added_at       timestamptz not null default now(),
    primary key (checkpoint_id, witness)
);

create function audit_immutable() returns trigger language plpgsql as $$
begin
    raise exception 'the audit log is append-only: % on % is refused', tg_op, tg_table_name
        using errcode = 'insufficient_privilege';
end $$;

-- Statement triggers: any UPDATE, DELETE or TRUNCATE is refused, even one that would touch no row.
create trigger audit_entries_immutable before update or delete or truncate on audit_entries
    for each statement execute function audit_immutable();
create trigger audit_nodes_immutable before update or delete or truncate on audit_nodes
    for each statement execute function audit_immutable();
create trigger audit_checkpoints_immutable before update or delete or truncate on audit_checkpoints
    for each statement execute function audit_immutable();
create trigger audit_cosignatures_immutable before update or delete or truncate on audit_cosignatures
    for each statement execute function audit_immutable();
