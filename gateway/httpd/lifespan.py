"""The app's ASGI lifespan: ``startup`` before the first connection, ``shutdown`` after the last."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from .connection import App

_log = structlog.get_logger(__name__)


class Lifespan:
    def __init__(self, app: App, state: dict[str, Any]) -> None:
        self._app = app
        self._state = state
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> bool:
        """Whether the app started (``lifespan.startup.complete``)."""
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self._state}
        self._task = asyncio.create_task(self._main(scope))
        await self._inbox.put({"type": "lifespan.startup"})
        reply = await self._reply()
        if reply.get("type") != "lifespan.startup.complete":
            _log.error("lifespan_startup_failed", message=reply.get("message", ""))
            return False
        return True

    async def shutdown(self) -> None:
        if self._task is None or self._task.done():
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        reply = await self._reply()
        if reply.get("type") != "lifespan.shutdown.complete":
            _log.error("lifespan_shutdown_failed", message=reply.get("message", ""))
        with contextlib.suppress(Exception):
            await self._task

    async def _main(self, scope: dict[str, Any]) -> None:
        try:
            await self._app(scope, self._inbox.get, self._outbox.put)
        except Exception as exc:
            _log.exception("lifespan_failed")
            await self._outbox.put({"type": "lifespan.failed", "message": str(exc)})
        else:  # the app returned: it does not take part in the lifespan, or it ended it
            await self._outbox.put({"type": "lifespan.ended"})

    async def _reply(self) -> dict[str, Any]:
        return await self._outbox.get()
