"""Screening lists in PostgreSQL: one active version per source, swapped atomically."""

from __future__ import annotations

import hashlib
from pathlib import Path

import asyncpg

from ..kyc.models import ListInfo
from .entries import ListEntry

_LIST = "select id, source, sha256, file_name, entries, loaded_at from screening_lists"


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


async def store_list(
    conn: asyncpg.Connection, source: str, entries: list[ListEntry], sha256: str, file_name: str
) -> ListInfo:
    """Insert a new version and make it the active one, in one transaction: readers see
    the old list or the new one, never a half-loaded one."""
    async with conn.transaction():
        # One loader per source at a time; a second waits, then replaces the first's version.
        await conn.execute("select pg_advisory_xact_lock(hashtext('gateway-screening-' || $1))", source)
        await conn.execute("update screening_lists set active = false where source = $1 and active", source)
        row = await conn.fetchrow(
            "insert into screening_lists (source, sha256, file_name, entries) values ($1, $2, $3, $4)"
            " returning id, source, sha256, file_name, entries, loaded_at",
            source,
            sha256,
            file_name,
            len(entries),
        )
        list_id = row["id"]
        await conn.copy_records_to_table(
            "screening_entries",
            columns=[
                "list_id",
                "entry_id",
                "kind",
                "name",
                "aliases",
                "countries",
                "birth_dates",
                "programs",
                "list_name",
                "remarks",
                "identifiers",
            ],
            records=(
                (
                    list_id,
                    e.entry_id,
                    e.kind,
                    e.name,
                    list(e.aliases),
                    list(e.countries),
                    list(e.birth_dates),
                    list(e.programs),
                    e.list_name,
                    e.remarks,
                    list(e.identifiers),
                )
                for e in _unique(entries)
            ),
        )
        # Older versions are kept for the audit trail of hits; their entries are not.
        await conn.execute(
            "delete from screening_entries where list_id in"
            " (select id from screening_lists where source = $1 and not active)",
            source,
        )
    return ListInfo(**dict(row))


def _unique(entries: list[ListEntry]) -> list[ListEntry]:
    # A list can repeat an id (a re-published record); the last one wins, as in the source.
    return list({e.entry_id: e for e in entries}.values())


async def active_lists(conn: asyncpg.Connection) -> list[ListInfo]:
    rows = await conn.fetch(_LIST + " where active order by source")
    return [ListInfo(**dict(r)) for r in rows]


async def all_lists(conn: asyncpg.Connection) -> list[ListInfo]:
    rows = await conn.fetch(_LIST + " order by loaded_at desc, id desc")
    return [ListInfo(**dict(r)) for r in rows]


async def active_entries(conn: asyncpg.Connection) -> list[tuple[int, ListEntry]]:
    rows = await conn.fetch(
        """
        select l.id, l.source, e.entry_id, e.kind, e.name, e.aliases, e.countries, e.birth_dates,
               e.programs, e.list_name, e.remarks, e.identifiers
        from screening_entries e join screening_lists l on l.id = e.list_id
        where l.active
        """
    )
    return [
        (
            r[0],
            ListEntry(
                source=r[1],
                entry_id=r[2],
                kind=r[3],
                name=r[4],
                aliases=tuple(r[5]),
                countries=tuple(r[6]),
                birth_dates=tuple(r[7]),
                programs=tuple(r[8]),
                list_name=r[9],
                remarks=r[10],
                identifiers=tuple(r[11]),
            ),
        )
        for r in rows
    ]
