"""Running the detector: on demand (``gateway detect run``, ``POST /admin/v1/detect/runs``) and in the
background every ``detect_seconds`` on every replica, one at a time doing the work.

A run scores a window of the ledger (by default the policy's ``window_days`` up to now; ``since`` and
``until`` rerun any stretch of history), records its findings (:mod:`.record`) and the run itself,
in one transaction holding the detector's advisory lock: a replica that finds it taken skips its turn.

The engine is a seam (:class:`Detect`): :func:`engine` names the one the gateway uses; tests pass
their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, Protocol

import asyncpg
import msgspec
import structlog

from ..errors import BadRequest
from .engine import detect
from .record import record
from .repository import Run

if TYPE_CHECKING:
    from ..kyc.service import KycService
    from ..policy.model import Policy
    from .findings import Finding

_log = structlog.get_logger("gateway.detect")
_LOCK = "select pg_try_advisory_xact_lock(hashtextextended('gateway-detector', 0))"
_WAIT = "select pg_advisory_xact_lock(hashtextextended('gateway-detector', 0))"


class Detect(Protocol):
    """The engine: score the ledger's call features over ``[since, until)`` into findings."""

    async def __call__(
        self,
        conn: asyncpg.Connection,
        policy: Policy,
        since: dt.datetime,
        until: dt.datetime,
        *,
        now: dt.datetime,
    ) -> list[Finding]: ...


def engine() -> Detect:
    """The engine the gateway runs (the runtime's loop, the CLI, the admin API)."""
    return detect


class Outcome(msgspec.Struct, kw_only=True):
    """What one call to :meth:`Detector.run` did."""

    status: Literal["done", "busy", "recent", "off"]
    """``busy``: another replica holds the lock; ``recent``: another replica ran within the interval
    (background runs only); ``off``: the policy's detection mode is off."""
    since: dt.datetime
    until: dt.datetime
    run: Run | None = None
    clusters: list[uuid.UUID] = []
    new_clusters: list[uuid.UUID] = []
    reflagged: list[uuid.UUID] = []
    actions: list[int] = []
    skipped: list[str] = []


def window(
    policy: Policy, since: dt.datetime | None, until: dt.datetime | None, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """The stretch a run scores: ``window_days`` up to ``until`` (default: now) unless ``since`` is given."""
    end = until if until is not None else now
    if end.tzinfo is None or (since is not None and since.tzinfo is None):
        raise BadRequest("since and until need a time zone offset", code="invalid_window")
    try:
        end = end.astimezone(dt.UTC)
        start = since if since is not None else end - dt.timedelta(days=policy.detection.window_days)
        start = start.astimezone(dt.UTC)
    except OverflowError:
        raise BadRequest(
            "the window reaches beyond the dates that can be represented", code="invalid_window"
        ) from None
    if start >= end:
        raise BadRequest(
            f"since ({start.isoformat()}) must be before until ({end.isoformat()})", code="invalid_window"
        )
    return start, end


async def run_once(
    conn: asyncpg.Connection,
    policy: Policy,
    kyc: KycService,
    detect: Detect,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    now: dt.datetime,
    unless_within: dt.timedelta | None = None,
    wait: bool = False,
) -> Outcome:
    """One run over the window, unless detection is off, another replica is running (with ``wait``:
    after it), or (with ``unless_within``) one ran that recently."""
    start, end = window(policy, since, until, now)
    mode = policy.detection.mode
    if mode == "off":
        return Outcome(status="off", since=start, until=end)
    began = time.perf_counter()
    async with conn.transaction():
        if wait:
            await conn.execute(_WAIT)
        elif not await conn.fetchval(_LOCK):
            return Outcome(status="busy", since=start, until=end)
        if unless_within is not None:
            # Either side of now: a run stamped ahead (a replica's clock) must not block for long.
            near = await conn.fetchval(
                "select exists (select 1 from detect_runs where started_at > $1 and started_at < $2)",
                now - unless_within,
                now + unless_within,
            )
            if near:
                return Outcome(status="recent", since=start, until=end)
        findings = await detect(conn, policy, start, end, now=now)
        done = await record(conn, findings, policy.detection, kyc, now=now)
        seconds = time.perf_counter() - began
        row = await conn.fetchrow(
            """
            insert into detect_runs (started_at, finished_at, since, until, mode, findings, new_clusters,
                                     actions, seconds)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            returning id, started_at, finished_at, since, until, mode, findings, new_clusters, actions,
                      seconds
            """,
            now,
            now + dt.timedelta(seconds=seconds),
            start,
            end,
            mode,
            done.findings,
            len(done.new_clusters),
            len(done.actions),
            seconds,
        )
    assert row is not None
    return Outcome(
        status="done",
        since=start,
        until=end,
        run=Run(**dict(row)),
        clusters=done.clusters,
        new_clusters=done.new_clusters,
        reflagged=done.reflagged,
        actions=done.actions,
        skipped=done.skipped,
    )


class Detector:
    """Runs the detector on demand (:meth:`run`) and, once started, every ``interval`` seconds."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        policy: Callable[[], Policy],
        kyc: KycService,
        detect: Detect,
        *,
        interval: float = 300.0,
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.pool = pool
        self.policy = policy
        self.kyc = kyc
        self.detect = detect
        self.interval = interval
        self._wall = wall
        self._task: asyncio.Task[None] | None = None

    async def run(
        self,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        *,
        unless_within: dt.timedelta | None = None,
    ) -> Outcome:
        async with self.pool.acquire() as conn:
            return await run_once(
                conn,
                self.policy(),
                self.kyc,
                self.detect,
                since=since,
                until=until,
                now=self._wall(),
                unless_within=unless_within,
                # Asked for (CLI, admin API): after a run in progress, not "busy".
                wait=unless_within is None,
            )

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="detector")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        # Incremental by design: each turn scores the window ending now, so a campaign is seen within
        # one interval of its evidence reaching the ledger; history is rerun on demand (--since).
        while True:
            try:
                # Every replica wakes up each interval; one run per interval is enough (a little
                # slack, so that replicas whose clocks or turns drift do not skip a whole round).
                outcome = await self.run(unless_within=dt.timedelta(seconds=self.interval * 0.9))
                if outcome.status == "done" and outcome.run is not None:
                    _log.info(
                        "detect_run",
                        findings=outcome.run.findings,
                        new_clusters=outcome.run.new_clusters,
                        actions=outcome.run.actions,
                        seconds=round(outcome.run.seconds, 3),
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("detect_run_failed", error=type(exc).__name__, detail=str(exc)[:200])
            await asyncio.sleep(self.interval)
