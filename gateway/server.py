"""Running the gateway under an HTTP server: its own (``gateway.httpd``, the default), granian or uvicorn.

The database and the KYC master keys are resolved here, in the parent process, so that
every worker shares one embedded PostgreSQL and one key file, and a broken schema or a
mismatched key stops start-up before any worker runs.

The workers are handed the settings this process resolved, as an object: the gateway's own
server and granian fork them (the factory is called in the child), uvicorn spawns them and sends them its
configuration pickled through a pipe. The settings hold secrets (the database URL and its
password, the KYC master keys), so they never go into the environment, where any process
of the same user could read them (``/proc/<pid>/environ``) and every child would inherit
them, nor onto a command line or into a log line.
"""

from __future__ import annotations

import asyncio
import functools
import sys

import msgspec

from .app import create_app
from .audit.keys import signing_keys
from .db import connect_pool, migrate, resolve_database_url
from .kyc.service import KycService
from .logs import configure_logging, logging_config
from .policy.store import PolicyStore, policy_dirs
from .proxy.upstreams import UpstreamRegistry
from .settings import Settings, SettingsError

APP = "gateway.app:create_app"
"""What the servers name the app by in their own messages (and granian in process titles)."""


def serve(settings: Settings) -> None:
    # Everything this process logs (asyncpg while migrating, the server's own lines) is JSON too.
    configure_logging(settings.log_level)
    _check_upstreams(settings)
    url = resolve_database_url(settings)
    # The policy must load before any worker starts; its files become the last good copy.
    PolicyStore(policy_dirs(settings), settings.state_path / "policy-last-good", strict=True)
    asyncio.run(_migrate(url, settings))
    # The workers' settings: this database (the embedded one, started here, is not started
    # again by each worker) and the state folder as an absolute path.
    resolved = msgspec.structs.replace(settings, database_url=url, state_dir=str(settings.state_path))
    if settings.server == "uvicorn":
        _serve_uvicorn(resolved)
    elif settings.server == "gateway":
        _serve_own(resolved)
    else:
        _serve_granian(resolved)


def _check_upstreams(settings: Settings) -> None:
    """What each worker would find wrong in the upstreams' environment (an egress proxy the client
    cannot speak to, a key with a line break), found once here, before anything starts."""
    try:
        UpstreamRegistry(settings.upstreams)
    except ValueError as exc:
        raise SettingsError(f"invalid upstream: {exc}") from None


def _serve_granian(settings: Settings) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        APP,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        log_access=False,
        log_level="warning",  # type: ignore[arg-type]
        log_dictconfig=logging_config(settings.log_level),  # its lines as JSON on stderr, not text on stdout
        workers_kill_timeout=int(settings.shutdown_timeout_seconds),
    ).serve(target_loader=functools.partial(create_app, settings), wrap_loader=False)


def _serve_own(settings: Settings) -> None:
    """The gateway's own server (``gateway.httpd``): workers forked from this process."""
    from .httpd.supervise import serve as serve_httpd

    code = serve_httpd(
        functools.partial(create_app, settings),
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        shutdown_timeout=settings.shutdown_timeout_seconds,
        idle_timeout=settings.http_idle_seconds,
    )
    if code:
        sys.exit(code)


def _serve_uvicorn(settings: Settings) -> None:
    """``uvicorn.run``, but with the app built from ``settings`` in every worker.

    ``uvicorn.run`` takes an app object only for one worker; with more it wants an import
    string, from which each worker could rebuild settings only out of the environment. So
    this does what ``uvicorn.run`` does, given a factory that pickles: ``create_app`` (by
    name) with these settings.
    """
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    from . import uvicorn_http

    config = uvicorn.Config(
        functools.partial(create_app, settings),
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
        # A worker started by a SIGHUP restart imports the whole gateway (spawned, not forked): on a
        # busy host that takes longer than uvicorn's default 5 s, and the restart was abandoned.
        timeout_worker_healthcheck=30,
    )
    server = uvicorn.Server(config)
    try:
        if config.workers > 1:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            server.run()
    except KeyboardInterrupt:
        pass
    if config.workers == 1 and not server.started:
        sys.exit(STARTUP_FAILURE)


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
            signing_keys(settings)  # the audit log's key, likewise created once, here
    finally:
        await pool.close()
