"""A policy reload on one worker or replica becomes a reload on all of them.

``POST /admin/v1/policy/reload`` reaches one worker of one replica; each holds its own
:class:`~gateway.policy.store.PolicyStore`. A reload that succeeds is announced with
``NOTIFY gateway_policy`` (the policy's hash as payload); every worker hears it on the
standing cache's listening connection and reloads its own folders, without announcing again.
"""

from __future__ import annotations

import asyncio

import asyncpg

from .store import PolicyStore, ReloadResult

CHANNEL = "gateway_policy"


class PolicyReloads:
    def __init__(self, store: PolicyStore, pool: asyncpg.Pool) -> None:
        self._store = store
        self._pool = pool
        # The announcements under way: the event loop keeps only weak references to tasks.
        self._background: set[asyncio.Task[None]] = set()

    def reload(self, *, announce: bool = True) -> ReloadResult:
        """Load the policy folders again; on success every replica is told to do the same."""
        result = self._store.reload()
        if announce and result.ok:
            task = asyncio.get_running_loop().create_task(self._announce(result.policy_hash))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return result

    def heard(self, _payload: str) -> None:
        """Another worker or replica reloaded: so does this one."""
        self.reload(announce=False)

    async def _announce(self, policy_hash: str) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute("select pg_notify($1, $2)", CHANNEL, policy_hash)
