"""Retention for the audit log: its oldest months dropped whole, the rest still verifiable.

The entries are partitioned by month of ``logged_at``, which the sequencer keeps in log order
(``sql/018_audit_partitions.sql``), so the months before a date are a prefix of the log: entries
``[0, size)``. Dropping them keeps, in ``audit_cuts``, what that prefix committed to: the roots of the
perfect subtrees that make up ``[0, size)`` and the hash chain after entry ``size - 1``. The stored
subtrees and the signed checkpoints are never dropped. So :func:`gateway.audit.verify.verify_log`
walks on from the cut (its edge is checked by the next signed checkpoint), inclusion proofs of later
entries still come out, and each cut is itself an entry of the log (``audit.partitions_dropped``,
naming the size, the root there and the partitions), in the same transaction as the drop.
"""

from __future__ import annotations

import datetime as dt

import asyncpg
import msgspec

from . import log, merkle
from .entry import entry

__all__ = ["Pruned", "prune"]


class Pruned(msgspec.Struct, frozen=True):
    size: int
    """Entries ``[0, size)`` are gone (all of them logged before ``upto``)."""
    upto: dt.datetime
    partitions: list[str]


async def prune(conn: asyncpg.Connection, before: dt.datetime, *, actor: str) -> Pruned | None:
    """Drop the audit log's months that end at or before ``before``; None when there is none."""
    async with conn.transaction():
        # The partitions' lock (sql/017), then the head: no partition is made and no entry
        # appended while the cut is taken.
        await conn.execute("select pg_advisory_xact_lock(hashtextextended('gateway-ledger-partitions', 0))")
        head = await conn.fetchrow("select size from audit_head where id for update")
        assert head is not None
        floor: dt.datetime = await conn.fetchval(
            "select floor from ledger_partitioning where table_name = 'audit_entries'"
        )
        dropped, upto = await _droppable(conn, floor, before)
        if not dropped:
            return None
        size: int = await conn.fetchval(
            "select coalesce(min(seq), $2) from audit_entries where logged_at >= $1", upto, head["size"]
        )
        # The months dropped must be a prefix of the log; the sequencer makes them one. Fail closed
        # if they are not (a row written past it): dropping would leave a hole no one could verify.
        last = await conn.fetchval("select max(seq) from audit_entries where logged_at < $1", upto)
        if last is not None and last >= size:
            raise RuntimeError(f"the audit log's months before {upto:%Y-%m} are not a prefix of the log")
        previous = await log.latest_cut(conn)
        if size > (previous.size if previous else 0):
            await _record_cut(conn, size, upto, dropped)
        for name in dropped:
            await conn.execute(f'drop table "{name}"')  # names from our own catalogue query
        await conn.execute(
            "update ledger_partitioning set floor = greatest(floor, $1) where table_name = 'audit_entries'",
            upto,
        )
        pruned = Pruned(size, upto, dropped)
        await log.append(
            conn,
            [
                entry(
                    "audit.partitions_dropped",
                    actor=actor,
                    at=dt.datetime.now(dt.UTC),
                    data={
                        "before": before.isoformat(),
                        "upto": upto.isoformat(),
                        "size": size,
                        "root": (await log.root_at(conn, size)).hex(),
                        "partitions": dropped,
                    },
                )
            ],
        )
    return pruned


async def _droppable(
    conn: asyncpg.Connection, floor: dt.datetime, before: dt.datetime
) -> tuple[list[str], dt.datetime]:
    """The partitions wholly before ``before``, oldest first, and the end of the last of them (``floor``
    when there is none): ``audit_entries_before`` ends at the floor the migration set, a month
    ``audit_entries_pYYYYMM`` at the start of the next."""
    names = await conn.fetch(
        """
        select child.relname as name from pg_inherits i
        join pg_class parent on parent.oid = i.inhparent and parent.relname = 'audit_entries'
        join pg_class child on child.oid = i.inhrelid
        where child.relname <> 'audit_entries_default'
        """
    )
    ends: list[tuple[dt.datetime, str]] = []
    for (name,) in names:
        if name == "audit_entries_before":
            ends.append((floor, name))
        else:
            month = dt.datetime.strptime(name[-6:], "%Y%m").replace(tzinfo=dt.UTC)
            ends.append(((month + dt.timedelta(days=32)).replace(day=1), name))
    gone = sorted((end, name) for end, name in ends if end <= before)
    return [name for _, name in gone], max((end for end, _ in gone), default=floor)


async def _record_cut(conn: asyncpg.Connection, size: int, upto: dt.datetime, partitions: list[str]) -> None:
    edge = merkle.edge(size)
    known = await log.perfect_subtrees(conn, edge)  # taken before the drop: the leaves are still there
    chain = await conn.fetchval("select chain from audit_entries where seq = $1", size - 1)
    await conn.execute(
        "insert into audit_cuts (size, frontier, chain, upto, partitions) values ($1, $2, $3, $4, $5)",
        size,
        [known[k] for k in edge],
        bytes(chain),
        upto,
        partitions,
    )
