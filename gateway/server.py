"""Running the gateway under an ASGI server (granian by default, uvicorn as an option).

The database and the KYC master keys are resolved here, in the parent process, so that
every worker shares one embedded PostgreSQL and one key file, and a broken schema or a
mismatched key stops start-up before any worker runs.
"""

from __future__ import annotations

import asyncio
import os

from .db import connect_pool, migrate, resolve_database_url
from .kyc.service import KycService
from .logs import configure_logging, logging_config
from .policy.store import PolicyStore
from .runtime import policy_dirs
from .settings import Settings


def serve(settings: Settings, config_file: str | None) -> None:
    # Everything this process logs (asyncpg while migrating, the server's own lines) is JSON too.
    configure_logging(settings.log_level)
    url = resolve_database_url(settings)
    # The policy must load before any worker starts; its files become the last good copy.
    PolicyStore(policy_dirs(settings), settings.state_path / "policy-last-good", strict=True)
    asyncio.run(_migrate(url, settings))
    # Workers rebuild settings from the environment: hand them what this process resolved.
    if config_file:
        os.environ["GATEWAY_CONFIG"] = str(config_file)
    os.environ["GATEWAY_DATABASE_URL"] = url
    os.environ["GATEWAY_HOST"] = settings.host
    os.environ["GATEWAY_PORT"] = str(settings.port)
    os.environ["GATEWAY_STATE_DIR"] = str(settings.state_path)
    if settings.server == "uvicorn":
        import uvicorn

        from . import uvicorn_http

        uvicorn.run(
            "gateway.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            lifespan="on",
            access_log=False,
            log_level="warning",
            log_config=logging_config(settings.log_level),
            # Its own 400s for requests it cannot parse, in the gateway's error shape.
            http=uvicorn_http.PROTOCOL,
            timeout_graceful_shutdown=int(settings.shutdown_timeout_seconds),
        )
        return
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "gateway.app:create_app",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        log_access=False,
        log_level="warning",  # type: ignore[arg-type]
        log_dictconfig=logging_config(settings.log_level),  # its lines as JSON on stderr, not text on stdout
        workers_kill_timeout=int(settings.shutdown_timeout_seconds),
    ).serve()


async def _migrate(url: str, settings: Settings) -> None:
    pool = await connect_pool(url, settings)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
            # Creates the state-dir key on first run (workers then only read it) and checks
            # the keys against the database.
            kyc = KycService.from_settings(settings)
            await kyc.check_keys(conn)
            await kyc.backfill_jurisdictions(conn)
    finally:
        await pool.close()
