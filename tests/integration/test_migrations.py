import asyncio
from pathlib import Path

import asyncpg
import pytest

from gateway.db.migrate import MigrationError, load_migrations, migrate, migration_status, sql_dir


async def test_applies_every_file_once_with_checksums(empty_database_url: str) -> None:
    conn = await asyncpg.connect(empty_database_url)
    try:
        applied = await migrate(conn)
        assert [m.version for m in applied] == [m.version for m in load_migrations()]
        assert await migrate(conn) == []
        status = await migration_status(conn)
        assert all(s.applied for s in status)
        rows = await conn.fetch("select version, checksum from schema_migrations order by version")
        assert [(r["version"], r["checksum"]) for r in rows] == [
            (m.version, m.checksum) for m in load_migrations()
        ]
    finally:
        await conn.close()


async def test_two_replicas_migrating_at_once_apply_once(empty_database_url: str) -> None:
    conns = [await asyncpg.connect(empty_database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        assert sorted(len(r) for r in results) == [0, 0, 0, len(load_migrations())]
    finally:
        for c in conns:
            await c.close()


async def test_changed_applied_file_stops_with_clear_error(empty_database_url: str, tmp_path: Path) -> None:
    for f in sql_dir().glob("*.sql"):
        (tmp_path / f.name).write_text(f.read_text())
    conn = await asyncpg.connect(empty_database_url)
    try:
        await migrate(conn, tmp_path)
        first = sorted(tmp_path.glob("*.sql"))[0]
        first.write_text(first.read_text() + "\n-- edited\n")
        with pytest.raises(MigrationError, match=r"was changed after it was applied"):
            await migrate(conn, tmp_path)
        with pytest.raises(MigrationError, match=r"add a new migration"):
            await migration_status(conn, tmp_path)
    finally:
        await conn.close()


async def test_failing_migration_leaves_nothing_half_applied(empty_database_url: str, tmp_path: Path) -> None:
    (tmp_path / "001_good.sql").write_text("create table a (x int);")
    (tmp_path / "002_bad.sql").write_text("create table b (x int); select * from no_such_table;")
    conn = await asyncpg.connect(empty_database_url)
    try:
        with pytest.raises(asyncpg.UndefinedTableError):
            await migrate(conn, tmp_path)
        assert await conn.fetchval("select to_regclass('b')") is None
        assert [s.applied for s in await migration_status(conn, tmp_path)] == [True, False]
    finally:
        await conn.close()


def test_badly_named_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "init.sql").write_text("select 1")
    with pytest.raises(MigrationError, match=r"NNN_name\.sql"):
        load_migrations(tmp_path)
