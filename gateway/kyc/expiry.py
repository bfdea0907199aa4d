"""Verifications that fall due are recorded as expired, once a minute.

Requests see an expiry at once (the standing cache compares dates); this writes the status
change and its audit trail, so that operators and the CLI see it too. Every worker and
replica sweeps; the update's row locks make each customer expire once.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import asyncpg
import structlog

if TYPE_CHECKING:
    from .service import KycService

_log = structlog.get_logger("gateway")


class ExpirySweeper:
    def __init__(self, kyc: KycService, pool: asyncpg.Pool, interval: float = 60.0) -> None:
        self._kyc = kyc
        self._pool = pool
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kyc-expiry")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                async with self._pool.acquire() as conn:
                    expired = await self._kyc.expire_due(conn)
                if expired:
                    _log.info("kyc_expired", customers=len(expired))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # A database outage must not end the sweeping: the next minute tries again.
                _log.warning("kyc_expiry_sweep_failed", error=type(exc).__name__)
            await asyncio.sleep(self._interval)
