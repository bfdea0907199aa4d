"""Training-scale flags are raised as their levels are reached: each level once, in the audit log."""

from __future__ import annotations

import random
import string
import time
import uuid

import asyncpg

from gateway.audit import log
from gateway.audit.entry import parse
from gateway.compute.flagger import raise_flags
from gateway.db.migrate import migrate
from gateway.policy.loader import load_policy
from gateway.policy.store import policy_dirs
from gateway.settings import Settings
from tests.integration.compute.test_split_run import add_jobs, linked_customers


async def test_each_level_a_linked_group_reaches_is_logged_once(empty_database_url: str) -> None:
    conn = await asyncpg.connect(empty_database_url)  # a database of its own: flags are global
    try:
        await migrate(conn)
        owner = "Olga " + "".join(random.choice(string.ascii_lowercase) for _ in range(10))
        linked = await linked_customers(conn, owner, "CY")
        await add_jobs(conn, linked, f"flag-{uuid.uuid4().hex[:6]}")  # 1.2e25 FLOP: past the EU level
        policy = load_policy(*policy_dirs(Settings()))

        raised = await raise_flags(conn, policy, now=time.time())
        assert {(f.threshold, f.fraction) for f in raised} == {("eu", 1.0), ("general", 0.1)}
        assert {f.customer for f in raised} == {str(c) for c in linked}
        assert await raise_flags(conn, policy, now=time.time()) == []  # nothing new: nothing logged

        rows = await conn.fetch("select customer_id, threshold, level, audit_seq from compute_flags")
        assert len(rows) == 6  # 3 customers x 2 levels
        logged = {r["audit_seq"]: r for r in rows}
        for entry in await log.entries(conn, 0, 1000):
            if entry.seq in logged:
                item = parse(entry.entry)
                row = logged.pop(entry.seq)
                assert (item.kind, item.subject) == ("compute.flagged", f"customer:{row['customer_id']}")
                assert (
                    item.data["threshold"] == row["threshold"] and "e" not in item.data["flop"]
                )  # a decimal string
        assert logged == {}  # every flag has its entry
    finally:
        await conn.close()
