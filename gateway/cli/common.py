"""What every command shares: settings, a migrated database connection, output.

Imported whenever the ``gateway`` command starts, even for ``--help``: it imports nothing heavy at
module level (no database driver, no settings), so that a command pays only for what it runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

if TYPE_CHECKING:
    import asyncpg

    from ..settings import Settings

T = TypeVar("T")
AddCommand = Callable[..., argparse.ArgumentParser]
_encode = msgspec.json.Encoder().encode


def instant(value: str) -> dt.datetime:
    """An ISO 8601 date or time argument; without a zone, UTC."""
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 date or time") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def positive(value: str) -> int:
    """An argument that must be a whole number of at least 1."""
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


class CliError(Exception):
    """A one-line reason to exit non-zero."""


def print_json(data: Any) -> None:
    sys.stdout.write(_encode(data).decode() + "\n")


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        print("(none)")
        return
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def cli_actor() -> str:
    """Who made a decision from the command line, for the audit trail."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def settings_of(args: argparse.Namespace) -> Settings:
    from ..settings import load_settings

    return load_settings(args.config)


def with_db(
    args: argparse.Namespace,
    work: Callable[[asyncpg.Connection], Awaitable[T]],
    *,
    migrate_first: bool = True,
) -> T:
    """Run `work` on a connection; the schema is brought up to date first (idempotent, locked)."""
    import asyncio

    import asyncpg

    from ..db.database import resolve_database_url
    from ..db.migrate import migrate

    settings = settings_of(args)
    # Past any pooler: a command holds one connection (and migrations a session lock) throughout.
    url = settings.database_direct_url or resolve_database_url(settings)

    async def run() -> T:
        conn = await asyncpg.connect(url, statement_cache_size=settings.db_statement_cache_size, timeout=10)
        try:
            if migrate_first:
                await migrate(conn)
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(run())
