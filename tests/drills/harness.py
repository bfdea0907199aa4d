"""Failure drills against several gateway replicas on one database, under load: what each drill
served, refused (by code), whether every answered call reached the ledger, whether a customer's hard
budget held (what it was charged beyond it), and how long recovery took. Used by the e2e drills (tests/e2e/test_drills.py, short) and ``tests/drills/run.py`` (the
README's table, at full length)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

CHAT = {"model": "gpt-test", "messages": [{"role": "user", "content": "drill"}]}


@dataclass
class Answer:
    sent: float  # seconds since the load began, when the call was sent
    at: float  # ... and when its answer came (or did not)
    replica: int
    key: int  # the index of the key it was sent with, in ``Load.keys``
    status: int  # 0: no answer (connection refused or reset)
    code: str | None
    request_id: str | None


@dataclass
class Load:
    """Clients spread over the replicas, each sending chat calls one after another until stopped."""

    urls: list[str]
    keys: list[str]
    """Client ``i`` sends to replica ``i % len(urls)`` with ``keys[i // len(urls) % len(keys)]``: several
    customers, so that one customer's rate limits do not cap the drill's traffic, each on every replica."""
    clients: int = 16
    answers: list[Answer] = field(default_factory=list)
    started: float = 0.0
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def now(self) -> float:
        return time.monotonic() - self.started

    async def _client(self, index: int, http: httpx.AsyncClient) -> None:
        replica = index % len(self.urls)
        which = index // len(self.urls) % len(self.keys)
        key = self.keys[which]
        while not self.stop.is_set():
            sent = self.now()
            try:
                r = await http.post(
                    self.urls[replica] + "/v1/chat/completions",
                    headers={"authorization": f"Bearer {key}"},
                    json=CHAT,
                )
            except httpx.HTTPError:
                self.answers.append(Answer(sent, self.now(), replica, which, 0, "no_answer", None))
                await asyncio.sleep(0.05)  # a dead replica refuses at once: do not spin
                continue
            code = None
            if r.status_code != 200:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    code = r.json()["error"]["code"]
            self.answers.append(
                Answer(sent, self.now(), replica, which, r.status_code, code, r.headers.get("x-request-id"))
            )

    async def run(self) -> None:
        self.started = time.monotonic()
        limits = httpx.Limits(max_connections=self.clients, max_keepalive_connections=self.clients)
        async with httpx.AsyncClient(timeout=10, limits=limits) as http:
            await asyncio.gather(*(self._client(i, http) for i in range(self.clients)))

    async def during(
        self, drill: Callable[[Load], Awaitable[dict[str, object]]], budget: Budget | None = None
    ) -> dict[str, object]:
        """Load while ``drill`` runs; with a ``budget``, on until it is exhausted (at most 30 s more),
        whatever the machine's pace: the drill then shows whether the budget held."""
        task = asyncio.create_task(self.run())
        try:
            result = await drill(self)
            end = time.monotonic() + 30
            while budget is not None and time.monotonic() < end and not self.exhausted(budget):
                await asyncio.sleep(0.05)
            return result
        finally:
            self.stop.set()
            await task

    def exhausted(self, budget: Budget) -> bool:
        return any(a.key == budget.key and a.code == "budget_exhausted" for a in self.answers)


@dataclass
class Budget:
    """A customer's hard budget (requests a day) in a drill, and what the ledger says it was charged."""

    customer: uuid.UUID
    key: int  # its key's index in ``Load.keys``
    limit: int
    served: int = 0  # its metered calls served (chat completions answered 200) in the ledger
    counted: float = 0.0  # ``used`` of its counter in the database
    reserved: float = 0.0  # ... and ``reserved``, left so after the drill (a reservation never settled)
    exhausted: bool = False  # some of its calls were refused budget_exhausted

    @property
    def overshoot(self) -> int:
        """Calls served beyond the budget, as the ledger records them."""
        return max(0, self.served - self.limit)

    def cell(self) -> str:
        # Where the counter disagrees with the ledger, it says so: a unit left reserved (never
        # settled) is budget lost to the customer; one counted more than served, a charge too many.
        counter = [f"{self.counted:g} used"] * (self.counted != self.served)
        counter += [f"{self.reserved:g} left reserved"] * (self.reserved != 0)
        return (
            f"{self.served} of {self.limit}"
            + ("" if self.exhausted else " (not reached)")
            + (f"; counter: {', '.join(counter)}" if counter else "")
        )


@dataclass
class Outcome:
    drill: str
    answered: int
    served: int
    refused: dict[str, int]
    recorded: int
    lost: int
    recovery: str
    note: str = ""
    budget: Budget | None = None

    @property
    def overshoot(self) -> int | None:
        return None if self.budget is None else self.budget.overshoot

    def row(self) -> list[str]:
        refused = ", ".join(f"{code} {n}" for code, n in sorted(self.refused.items())) or "none"
        budget = self.budget.cell() if self.budget is not None else "none"
        overshoot = str(self.overshoot) if self.overshoot is not None else "-"
        return [self.drill, str(self.served), refused, f"{self.recorded} of {self.answered}", str(self.lost),
                budget, overshoot, self.recovery, self.note]  # fmt: skip


HEADER = ["drill", "served", "refused (code: calls)", "usage events written", "lost",
          "hard budget: served of limit", "overshoot", "recovery", "note"]  # fmt: skip


def table(outcomes: list[Outcome]) -> str:
    rows = [HEADER, ["---"] * len(HEADER), *(o.row() for o in outcomes)]
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


async def in_ledger(database_url: str, request_ids: list[str], deadline: float = 30.0) -> int:
    """How many of these calls have their usage event, waiting up to ``deadline`` for them all."""
    ids = [uuid.UUID(i) for i in request_ids]
    end = time.monotonic() + deadline
    conn = await asyncpg.connect(database_url)
    try:
        while True:
            found: int = await conn.fetchval(
                "select count(*) from usage_events where request_id = any($1::uuid[])", ids
            )
            if found >= len(ids) or time.monotonic() > end:
                return found
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


async def outcome(
    name: str, load: Load, database_url: str, recovery: str, note: str = "", budget: Budget | None = None
) -> Outcome:
    answered = [a for a in load.answers if a.request_id is not None]
    refused = collections.Counter(a.code or str(a.status) for a in load.answers if a.status != 200)
    recorded = await in_ledger(database_url, [a.request_id for a in answered if a.request_id])
    served = sum(1 for a in load.answers if a.status == 200)
    if budget is not None:
        await charged(database_url, budget)
        budget.exhausted = load.exhausted(budget)
    return Outcome(
        name, len(answered), served, dict(refused), recorded, len(answered) - recorded, recovery, note, budget
    )


async def charged(database_url: str, budget: Budget) -> None:
    """What the budget's customer was charged: calls served in the ledger (all of its calls are in by
    now: :func:`in_ledger` waited; not ``/v1/models``, which is not metered: the drills poll it for a
    new key), and its requests counter once the replicas' settlements are in."""
    conn = await asyncpg.connect(database_url)
    try:
        budget.served = await conn.fetchval(
            "select count(*) from usage_events where customer_id = $1 and status = 200"
            " and route = '/v1/chat/completions'",
            budget.customer,
        )
        end = time.monotonic() + 10
        while True:  # settlements are written in the background: wait for none to be left reserved
            row = await conn.fetchrow(
                "select coalesce(sum(used), 0) used, coalesce(sum(reserved), 0) reserved from quota_counters"
                " where scope_id = $1 and dimension = 'requests' and \"window\" = 'day'",
                str(budget.customer),
            )
            budget.counted, budget.reserved = float(row["used"]), float(row["reserved"])
            if budget.reserved == 0 or time.monotonic() > end:
                break
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


def kill_tree(pid: int) -> None:
    """SIGKILL a server and its worker processes (every thread's children), workers first."""
    found = [pid]
    for parent in found:
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                found.extend(int(c) for c in children.read_text().split())
    for each in reversed(found):
        with contextlib.suppress(ProcessLookupError):
            os.kill(each, signal.SIGKILL)


async def ready(url: str, timeout: float = 60.0) -> float:
    """Seconds until ``url``'s /readyz says ready."""
    start = time.monotonic()
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() - start < timeout:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url + "/readyz")).status_code == 200:
                    return time.monotonic() - start
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout} s")
