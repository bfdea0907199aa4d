"""Numbered SQL migrations from ``sql/``: each applied once, in its own transaction.

Two replicas starting at once serialise on an advisory lock; an applied file whose
checksum changed stops start-up, since the schema no longer matches the code.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import asyncpg

# Any constant works; it only has to be the same in every replica.
_LOCK_KEY = 0x6B7963_6777  # "kyc" "gw"
_FILE_RE = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """The database schema cannot be brought to what this code expects."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class MigrationState:
    version: int
    name: str
    applied: bool
    applied_at: str | None


def sql_dir() -> Path:
    """``sql/`` beside the package in a source tree; ``gateway/_sql`` in an installed wheel."""
    source_tree = Path(__file__).resolve().parents[2] / "sql"
    if source_tree.is_dir():
        return source_tree
    return Path(str(resources.files("gateway") / "_sql"))


def load_migrations(directory: Path | None = None) -> list[Migration]:
    directory = directory or sql_dir()
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        m = _FILE_RE.match(path.name)
        if not m:
            raise MigrationError(f"{path.name}: migration files are named NNN_name.sql")
        found.append(Migration(int(m.group(1)), m.group(2), path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration numbers in {directory}")
    return found


_BOOKKEEPING = """
create table if not exists schema_migrations (
    version    integer primary key,
    name       text not null,
    checksum   text not null,
    applied_at timestamptz not null default now()
)
"""


async def _applied(conn: asyncpg.Connection) -> dict[int, asyncpg.Record]:
    rows = await conn.fetch("select version, name, checksum, applied_at from schema_migrations")
    return {r["version"]: r for r in rows}


def _check_checksums(migrations: list[Migration], applied: dict[int, asyncpg.Record]) -> None:
    for m in migrations:
        row = applied.get(m.version)
        if row is not None and row["checksum"] != m.checksum:
            raise MigrationError(
                f"migration {m.version:03d}_{m.name}.sql was changed after it was applied "
                f"(checksum {row['checksum'][:12]} in the database, {m.checksum[:12]} on disk); "
                "add a new migration instead of editing an applied one"
            )


async def migrate(conn: asyncpg.Connection, directory: Path | None = None) -> list[Migration]:
    """Apply what is missing; return what was applied now."""
    migrations = load_migrations(directory)
    await conn.execute("select pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_BOOKKEEPING)
        applied = await _applied(conn)
        _check_checksums(migrations, applied)
        done: list[Migration] = []
        for m in migrations:
            if m.version in applied:
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "insert into schema_migrations (version, name, checksum) values ($1, $2, $3)",
                    m.version,
                    m.name,
                    m.checksum,
                )
            done.append(m)
        return done
    finally:
        await conn.execute("select pg_advisory_unlock($1)", _LOCK_KEY)


async def migration_status(conn: asyncpg.Connection, directory: Path | None = None) -> list[MigrationState]:
    """Every known migration and whether it is applied; raises on a changed checksum."""
    migrations = load_migrations(directory)
    exists = await conn.fetchval("select to_regclass('schema_migrations') is not null")
    applied = await _applied(conn) if exists else {}
    _check_checksums(migrations, applied)
    return [
        MigrationState(
            m.version,
            m.name,
            m.version in applied,
            applied[m.version]["applied_at"].isoformat() if m.version in applied else None,
        )
        for m in migrations
    ]


async def is_current(conn: asyncpg.Connection, directory: Path | None = None) -> bool:
    try:
        return all(s.applied for s in await migration_status(conn, directory))
    except MigrationError:
        return False
