"""The audit log in PostgreSQL: appending entries in one total order, and reading the tree back.

An append locks the one row of ``audit_head`` (the sequencer), numbers its entries after the last,
writes them with the perfect subtrees they complete, and moves the head's frontier, all in the
caller's transaction: an entry is logged exactly when the change it records commits, whichever
replica or process makes it, and the numbering has no gaps. Everything the proofs need is then a
few rows of ``audit_nodes`` (level >= 1) or ``audit_entries`` (level 0, the leaves), or, left of
a retention cut, the cut's edge (``audit_cuts``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Sequence

import asyncpg
import msgspec

from . import merkle
from .entry import AuditEntry, canonical, parse

_DUMMY = b"\x00" * 32
CHAIN_START = b"\x00" * 32


def chain_hash(previous: bytes, leaf: bytes) -> bytes:
    """The entry's link in the hash chain: SHA-256(previous link || its leaf hash)."""
    return hashlib.sha256(previous + leaf).digest()


class Head(msgspec.Struct, frozen=True):
    size: int
    root: bytes


class Entry(msgspec.Struct, frozen=True):
    seq: int
    leaf_hash: bytes
    chain: bytes
    entry: bytes


class Cut(msgspec.Struct, frozen=True):
    """Retention dropped the log's first ``size`` entries (``gateway.audit.retention``); the tree's
    right edge and the hash chain there are what the rest is checked and proven from."""

    size: int
    frontier: list[bytes]
    chain: bytes
    upto: dt.datetime
    partitions: list[str]

    def subtrees(self) -> dict[tuple[int, int], bytes]:
        return dict(zip(merkle.edge(self.size), self.frontier, strict=True))


async def latest_cut(conn: asyncpg.Connection) -> Cut | None:
    row = await conn.fetchrow(
        "select size, frontier, chain, upto, partitions from audit_cuts order by size desc limit 1"
    )
    if row is None:
        return None
    frontier = [bytes(h) for h in row["frontier"]]
    return Cut(row["size"], frontier, bytes(row["chain"]), row["upto"], list(row["partitions"]))


class StoredCheckpoint(msgspec.Struct, frozen=True):
    id: int
    size: int
    root: bytes
    note: str
    signed_at: dt.datetime


async def append(conn: asyncpg.Connection, entries: Sequence[AuditEntry]) -> list[int]:
    """Log ``entries`` in this transaction (one is started if none is open): their sequence numbers."""
    if not entries:
        return []
    raws = [canonical(e) for e in entries]  # refused before the head is locked
    async with conn.transaction():
        # logged_at: the month partition the entries go to (sql/018). Never earlier than the last
        # append's, whatever the clock does, so that each month holds one run of the log.
        row = await conn.fetchrow(
            "select size, frontier, chain, greatest(clock_timestamp(), logged_at) as logged_at"
            " from audit_head where id for update"
        )
        assert row is not None, "migration 011 inserts the head"
        tree = merkle.CompactRange(row["size"], list(row["frontier"]))
        chain = bytes(row["chain"])
        first = tree.size
        seqs: list[int] = []
        leaves: list[bytes] = []
        chains: list[bytes] = []
        nodes: list[tuple[int, int, bytes]] = []
        for raw in raws:
            seqs.append(tree.size)
            leaf = merkle.leaf_hash(raw)
            leaves.append(leaf)
            chain = chain_hash(chain, leaf)
            chains.append(chain)
            nodes.extend(n for n in tree.append(leaf) if n[0] >= 1)
        # One statement for the rows and the head: the head stays locked for as few round trips
        # as possible, since every appender in every replica waits for it.
        await conn.execute(
            """
            with entries as (
                insert into audit_entries
                    (seq, leaf_hash, chain, entry, kind, occurred_at, subject, logged_at)
                select *, $14::timestamptz from unnest($1::bigint[], $2::bytea[], $3::bytea[],
                                                       $4::bytea[], $5::text[], $6::timestamptz[], $7::text[])
            ), nodes as (
                insert into audit_nodes (level, index, hash)
                select * from unnest($8::smallint[], $9::bigint[], $10::bytea[])
            )
            update audit_head set size = $11, frontier = $12, chain = $13, logged_at = $14 where id
            """,
            seqs,
            leaves,
            chains,
            raws,
            [e.kind for e in entries],
            [dt.datetime.fromisoformat(e.at.replace("Z", "+00:00")) for e in entries],
            [e.subject for e in entries],
            [n[0] for n in nodes],
            [n[1] for n in nodes],
            [n[2] for n in nodes],
            tree.size,
            tree.hashes,
            chain,
            row["logged_at"],
        )
    assert seqs[0] == first
    return seqs


async def head(conn: asyncpg.Connection) -> Head:
    """The tree as the last committed append left it (its root from the stored frontier)."""
    row = await conn.fetchrow("select size, frontier from audit_head where id")
    assert row is not None
    return Head(row["size"], merkle.CompactRange(row["size"], list(row["frontier"])).root())


async def entries(conn: asyncpg.Connection, start: int, end: int) -> list[Entry]:
    rows = await conn.fetch(
        "select seq, leaf_hash, chain, entry from audit_entries where seq >= $1 and seq < $2 order by seq",
        start,
        end,
    )
    return [Entry(r["seq"], bytes(r["leaf_hash"]), bytes(r["chain"]), bytes(r["entry"])) for r in rows]


async def perfect_subtrees(
    conn: asyncpg.Connection, wanted: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """The stored hashes of these perfect subtrees ``(level, index)``, those the log has."""
    levels, indexes = [], []
    for level, index in set(wanted):
        levels.append(level)
        indexes.append(index)
    found: dict[tuple[int, int], bytes] = {}
    leaves = [i for lv, i in zip(levels, indexes, strict=True) if lv == 0]
    if leaves:
        rows = await conn.fetch(
            "select seq, leaf_hash from audit_entries where seq = any($1::bigint[])", leaves
        )
        found.update({(0, r["seq"]): bytes(r["leaf_hash"]) for r in rows})
    inner = [(lv, i) for lv, i in zip(levels, indexes, strict=True) if lv > 0]
    if inner:
        rows = await conn.fetch(
            "select n.level, n.index, n.hash from audit_nodes n"
            " join unnest($1::smallint[], $2::bigint[]) as w(level, index) using (level, index)",
            [lv for lv, _ in inner],
            [i for _, i in inner],
        )
        found.update({(r["level"], r["index"]): bytes(r["hash"]) for r in rows})
    if len(found) < len(levels):
        # A leaf retention dropped: the cut's edge has the subtrees left of it.
        cut = await latest_cut(conn)
        if cut is not None:
            edge = cut.subtrees()
            wanted = zip(levels, indexes, strict=True)
            found.update({k: edge[k] for k in wanted if k in edge and k not in found})
    return found


class _Recorder:
    """Runs a proof once with stand-in hashes to learn which stored subtrees it reads."""

    def __init__(self, known: dict[tuple[int, int], bytes] | None = None) -> None:
        self.wanted: set[tuple[int, int]] = set()
        self.known = known

    def perfect(self, level: int, index: int) -> bytes:
        if self.known is None:
            self.wanted.add((level, index))
            return _DUMMY
        try:
            return self.known[(level, index)]
        except KeyError:
            raise merkle.ProofError(f"the log has no subtree at level {level}, index {index}") from None

    def subtree(self, start: int, end: int) -> bytes:
        return merkle.range_hash(start, end, self.perfect)


async def _prove(conn: asyncpg.Connection, make: Callable[[merkle.Subtree], list[bytes]]) -> list[bytes]:
    dry = _Recorder()
    make(dry.subtree)
    real = _Recorder(await perfect_subtrees(conn, dry.wanted))
    return make(real.subtree)


async def inclusion_proof(conn: asyncpg.Connection, index: int, size: int) -> list[bytes]:
    return await _prove(conn, lambda subtree: merkle.inclusion_proof(index, size, subtree))


async def consistency_proof(conn: asyncpg.Connection, old: int, new: int) -> list[bytes]:
    return await _prove(conn, lambda subtree: merkle.consistency_proof(old, new, subtree))


async def root_at(conn: asyncpg.Connection, size: int) -> bytes:
    """The root the tree had at ``size`` (any size up to the head), from stored subtrees."""
    if size == 0:
        return merkle.EMPTY_ROOT
    proof = await _prove(conn, lambda subtree: [subtree(0, size)])
    return proof[0]


async def add_checkpoint(conn: asyncpg.Connection, size: int, root: bytes, note: str) -> int:
    found: int = await conn.fetchval(
        "insert into audit_checkpoints (size, root, note) values ($1, $2, $3) returning id", size, root, note
    )
    return found


async def checkpoints(conn: asyncpg.Connection) -> list[StoredCheckpoint]:
    rows = await conn.fetch("select id, size, root, note, signed_at from audit_checkpoints order by id")
    return [StoredCheckpoint(r["id"], r["size"], bytes(r["root"]), r["note"], r["signed_at"]) for r in rows]


async def latest_checkpoint(conn: asyncpg.Connection) -> StoredCheckpoint | None:
    r = await conn.fetchrow(
        "select id, size, root, note, signed_at from audit_checkpoints order by id desc limit 1"
    )
    return (
        None
        if r is None
        else StoredCheckpoint(r["id"], r["size"], bytes(r["root"]), r["note"], r["signed_at"])
    )


async def add_cosignature(conn: asyncpg.Connection, checkpoint_id: int, witness: str, line: str) -> bool:
    """Attach a witness's cosignature line (checked by the caller); False if it had one already."""
    done = await conn.fetchval(
        "insert into audit_cosignatures (checkpoint_id, witness, line) values ($1, $2, $3)"
        " on conflict do nothing returning true",
        checkpoint_id,
        witness,
        line if line.endswith("\n") else line + "\n",
    )
    return bool(done)


async def cosigned_note(conn: asyncpg.Connection, checkpoint: StoredCheckpoint) -> str:
    """The checkpoint's note with its witnesses' cosignature lines after the log's own (C2SP: a
    verifier ignores signatures of keys it does not know)."""
    lines = await conn.fetch(
        "select line from audit_cosignatures where checkpoint_id = $1 order by witness", checkpoint.id
    )
    return checkpoint.note + "".join(r["line"] for r in lines)


async def checkpoint_by_id(conn: asyncpg.Connection, checkpoint_id: int) -> StoredCheckpoint | None:
    r = await conn.fetchrow(
        "select id, size, root, note, signed_at from audit_checkpoints where id = $1", checkpoint_id
    )
    return (
        None
        if r is None
        else StoredCheckpoint(r["id"], r["size"], bytes(r["root"]), r["note"], r["signed_at"])
    )


class Listed(msgspec.Struct, frozen=True):
    seq: int
    entry: AuditEntry


async def browse(
    conn: asyncpg.Connection,
    *,
    limit: int,
    before: int | None = None,
    kind: str | None = None,
    actor: str | None = None,
) -> list[Listed]:
    """Entries newest first, below ``before`` (a page's last seq), whose kind and actor start with
    ``kind`` and ``actor`` (``operator:`` finds every operator): what the console browses."""
    rows = await conn.fetch(
        """
        select seq, entry from audit_entries
        where ($2::bigint is null or seq < $2)
          and ($3::text is null or left(kind, length($3)) = $3)
          and ($4::text is null or left(convert_from(entry, 'UTF8')::jsonb ->> 'actor', length($4)) = $4)
        order by seq desc limit $1
        """,
        limit,
        before,
        kind,
        actor,
    )
    return [Listed(r["seq"], parse(bytes(r["entry"]))) for r in rows]
