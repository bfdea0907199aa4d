"""Signed checkpoints: every ``interval`` seconds, one replica signs the tree's head.

A checkpoint is a C2SP ``tlog-checkpoint`` note (origin, size, base64 root) signed with every
audit key. It is signed only if it is consistent with the last one signed (RFC 9162 consistency
proof from the stored subtrees) and its root agrees with the stored tree: a log must never sign
two views of itself. An idle log is signed again every ``resign_seconds`` (a fresh signature says
the log is alive, and brings in a newly added key). Replicas take turns through an advisory lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Callable

import asyncpg
import structlog

from . import log, merkle
from .keys import SigningKeys
from .note import Checkpoint, sign_note

_log = structlog.get_logger("gateway.audit")
_LOCK = "select pg_try_advisory_xact_lock(hashtextextended('gateway-audit-checkpoint', 0))"


class CheckpointError(RuntimeError):
    """The log's head cannot be signed: it disagrees with what was signed before."""


async def sign_checkpoint(
    conn: asyncpg.Connection, keys: SigningKeys, *, now: float, resign_seconds: float = 600.0
) -> log.StoredCheckpoint | None:
    """Sign the head if it grew (or the last signature is older than ``resign_seconds``); None if
    there was nothing to sign or another replica is signing now."""
    async with conn.transaction():
        if not await conn.fetchval(_LOCK):
            return None
        current = await log.head(conn)
        last = await log.latest_checkpoint(conn)
        if last is not None:
            if current.size == last.size and now - last.signed_at.timestamp() < resign_seconds:
                return None
            if current.size < last.size:
                raise CheckpointError(f"the log has {current.size} entries; {last.size} were signed")
            proof = await log.consistency_proof(conn, last.size, current.size)
            try:
                merkle.verify_consistency(last.size, current.size, last.root, current.root, proof)
            except merkle.ProofError as exc:
                raise CheckpointError(
                    f"the head ({current.size}) is not consistent with checkpoint {last.id}"
                    f" ({last.size}): {exc}"
                ) from None
        if await log.root_at(conn, current.size) != current.root:
            raise CheckpointError("the stored subtrees disagree with the head's frontier")
        note = sign_note(Checkpoint(keys.origin, current.size, current.root).body(), keys.signers)
        checkpoint_id = await log.add_checkpoint(conn, current.size, current.root, note)
    _log.info("audit_checkpoint_signed", size=current.size, checkpoint=checkpoint_id)
    return log.StoredCheckpoint(
        checkpoint_id, current.size, current.root, note, dt.datetime.fromtimestamp(now, dt.UTC)
    )


class Checkpointer:
    """Signs checkpoints in the background, on every replica (one at a time signs)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        keys: SigningKeys,
        *,
        interval: float = 10.0,
        resign_seconds: float = 600.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.keys = keys
        self.interval = interval
        self.resign_seconds = resign_seconds
        self._wall = wall
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-checkpointer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def sign_once(self) -> log.StoredCheckpoint | None:
        async with self.pool.acquire() as conn:
            return await sign_checkpoint(
                conn, self.keys, now=self._wall(), resign_seconds=self.resign_seconds
            )

    async def _run(self) -> None:
        while True:
            try:
                await self.sign_once()
            except asyncio.CancelledError:
                raise
            except CheckpointError as exc:
                _log.error("audit_checkpoint_refused", error=str(exc))
            except Exception as exc:
                _log.warning("audit_checkpoint_failed", error=type(exc).__name__, detail=str(exc)[:200])
            await asyncio.sleep(self.interval)
