"""The drills: four replicas on one database under load, while one fault happens. Each returns its
:class:`~tests.drills.harness.Outcome`. ``seconds`` sets how long a fault lasts (the README's table
uses 30 s for the network cut; the test suite, a few).

In every drill one of the customers under load has a hard budget (requests a day, reserved in the
database per call) that the load exhausts: what the ledger then shows it served beyond the budget is
the drill's overshoot. One replica's spool folder is a small disk of its own (a tmpfs, where root may
mount one), which the disk drill fills."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from gateway.db.migrate import migrate
from gateway.identity.repository import CreatedKey, revoke_key
from gateway.quota.overrides import set_override
from tests import small_disk
from tests.conftest import verified_customer
from tests.drills.harness import Budget, Load, Outcome, kill_tree, outcome, ready
from tests.drills.postgres import LocalPostgres
from tests.e2e.conftest import ADMIN_TOKEN, GatewayProcess, free_port, gateway_config, new_key, with_settings
from tests.small_disk import SmallDisk
from tests.tcp_proxy import TcpProxy

PROBE = 10_000_000
"""An output-token budget beside each hard budget, below the plans' own (50 million a day): a request
for PROBE + 1 tokens is refused by a replica that knows the customer's overrides (loaded together)."""
DISK_REPLICA = 3
"""The replica whose spool folder is a small disk of its own (not the one the kill drill kills)."""


@dataclass
class Replicas:
    gateways: list[GatewayProcess]
    database_url: str
    """Straight to PostgreSQL: what the drills check the ledger with."""
    proxy: TcpProxy
    """The replicas' only way to PostgreSQL: what the network drill cuts."""
    policy_dir: Path
    admin_token: str
    restart_database: Callable[[], None] | None = None
    """Restarts the PostgreSQL server the replicas use (a server of the drills' own)."""
    disk: SmallDisk | None = None
    """Replica ``DISK_REPLICA``'s spool folder, a disk of its own; None where none can be mounted."""
    no_disk: str | None = None
    """Why there is no small disk."""

    @property
    def urls(self) -> list[str]:
        return [g.url for g in self.gateways]

    async def key(self, customer: str) -> CreatedKey:
        """A verified customer's new key, once every replica accepts it."""
        created = await asyncio.to_thread(new_key, self.database_url, self.gateways[0], customer)
        async with httpx.AsyncClient(timeout=5) as http:
            for url in self.urls:
                deadline = time.monotonic() + 10
                while (
                    await http.get(url + "/v1/models", headers={"x-api-key": created.key})
                ).status_code != 200:
                    assert time.monotonic() < deadline, f"{url} did not learn the key"
                    await asyncio.sleep(0.05)
        return created

    async def keys(self, drill: str, count: int = 4) -> list[str]:
        return [(await self.key(_name(drill))).key for _ in range(count)]

    async def budgeted(self, drill: str, limit: int) -> tuple[str, Budget]:
        """A customer with a hard budget of ``limit`` requests a day, and its key, once every replica
        holds it to that budget: a key of index 0 in the drill's load."""
        name = _name(drill)
        conn = await asyncpg.connect(self.database_url)
        try:
            customer = await verified_customer(conn, name)
            async with conn.transaction():
                await set_override(
                    conn,
                    customer.id,
                    dimension="requests",
                    limit=limit,
                    period="day",
                    hard=True,
                    actor="drill",
                )
                await set_override(
                    conn, customer.id, dimension="output_tokens", limit=PROBE, period="day", actor="drill"
                )
        finally:
            await conn.close()
        created = await self.key(name)
        # To an upstream that is down: a replica that does not know the overrides yet forwards it and
        # fails (502), rather than serve a call the budget does not count.
        probe = {"model": "gpt-down", "max_tokens": PROBE + 1, "messages": [{"role": "user", "content": "?"}]}
        async with httpx.AsyncClient(timeout=5) as http:
            for url in self.urls:
                deadline = time.monotonic() + 10
                while True:
                    r = await http.post(
                        url + "/v1/chat/completions", headers={"x-api-key": created.key}, json=probe
                    )
                    if r.status_code == 429 and r.json()["error"]["code"] == "budget_exhausted":
                        break  # the probe's limit, so the hard budget too
                    assert r.status_code == 502, r.text
                    assert time.monotonic() < deadline, f"{url} did not learn the customer's limits"
                    await asyncio.sleep(0.05)
        return created.key, Budget(customer.id, 0, limit)


async def start(
    upstream_port: int, issuer: str, folder: Path, count: int = 4, *, as_shipped: bool = False
) -> tuple[Replicas, LocalPostgres]:
    """``count`` replicas on a PostgreSQL server of their own (migrated), through a TCP proxy."""
    pg = await asyncio.to_thread(LocalPostgres().start)
    conn = await asyncpg.connect(pg.url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    proxy = await TcpProxy("127.0.0.1", pg.port).start()
    through = pg.url.replace(f":{pg.port}/", f":{proxy.port}/")
    policy_dir = folder / "policies"
    policy_dir.mkdir()
    config = folder / "gateway.toml"
    base = gateway_config(upstream_port, free_port(), issuer)
    if as_shipped:  # sizing: no access log, the ledger's default flush interval (0.25 s)
        base = base.replace("access_log = true\n", "").replace("ledger_flush_interval_seconds = 0.05\n", "")
    config.write_text(with_settings(base, f'policy_dir = "{policy_dir}"'))
    gateways = [GatewayProcess(config, through, folder / f"state-{i}") for i in range(count)]
    disk, no_disk = None, small_disk.unavailable()
    if no_disk is None and count > DISK_REPLICA:
        # Large enough for the other drills (a 30 s outage journals a few MB); the disk drill fills it.
        disk = SmallDisk(gateways[DISK_REPLICA].state_dir / "spool", size="32m")
        try:
            disk.mount()
        except subprocess.CalledProcessError as exc:
            disk, no_disk = None, f"mount -t tmpfs failed: {exc.stderr.decode(errors='replace').strip()}"
    await asyncio.gather(*(asyncio.to_thread(g.start) for g in gateways))
    replicas = Replicas(gateways, pg.url, proxy, policy_dir, ADMIN_TOKEN, pg.restart, disk, no_disk)
    return replicas, pg


async def stop(replicas: Replicas, pg: LocalPostgres) -> None:
    await asyncio.gather(*(asyncio.to_thread(g.stop) for g in replicas.gateways))
    if replicas.disk is not None:
        replicas.disk.unmount()
    await replicas.proxy.cut()
    await asyncio.to_thread(pg.stop)


def _name(drill: str) -> str:
    return f"drill-{drill}-{uuid.uuid4().hex[:6]}"


async def replica_killed(c: Replicas, seconds: float = 2.0) -> Outcome:
    """(a) One replica SIGKILLed mid-load, restarted on the same state folder."""
    hard, budget = await c.budgeted("kill", int(20 * seconds))
    load = Load(c.urls, [hard, *await c.keys("kill", 3)])

    async def drill(load: Load) -> dict[str, object]:
        await asyncio.sleep(seconds / 2)
        victim = c.gateways[1]
        assert victim.proc is not None
        kill_tree(victim.proc.pid)
        await asyncio.to_thread(victim.proc.wait, 10)
        await asyncio.sleep(seconds / 2)
        restarted = GatewayProcess(victim.config, victim.database_url, victim.state_dir, port=victim.port)
        took = time.monotonic()
        await asyncio.to_thread(restarted.start)
        c.gateways[1] = restarted
        return {"back": time.monotonic() - took}

    result = await load.during(drill, budget)
    return await outcome(
        "(a) a replica SIGKILLed", load, c.database_url, f"replica back in {result['back']:.1f} s",
        "the other three serve on; the killed one's journal is replayed at its restart", budget,
    )  # fmt: skip


async def key_revoked(c: Replicas, seconds: float = 2.0) -> Outcome:
    """(e) The key in use revoked mid-load: how soon every replica refuses it."""
    key = await c.key(_name("revoke"))
    hard, budget = await c.budgeted("revoke", int(20 * seconds))
    budget.key = 1
    load = Load(c.urls, [key.key, hard])  # each over every replica

    async def drill(load: Load) -> dict[str, object]:
        await asyncio.sleep(seconds / 2)
        at = load.now()
        conn = await asyncpg.connect(c.database_url)
        try:
            await revoke_key(conn, key.id, actor="drill")
        finally:
            await conn.close()
        await asyncio.sleep(seconds / 2)
        return {"at": at}

    result = await load.during(drill, budget)
    revoked_at = float(result["at"])  # type: ignore[arg-type]
    # When each replica first refused the key, and whether any served it after that.
    first = {
        r: min(
            (a.at for a in load.answers if a.replica == r and a.key == 0 and a.code == "revoked_api_key"),
            default=None,
        )
        for r in range(len(c.urls))
    }
    assert all(t is not None for t in first.values()), f"a replica never refused the revoked key: {first}"
    latest = max(t for t in first.values() if t is not None)
    # A call admitted before its replica heard of the revocation may finish after another was
    # refused; what must not happen is a call *sent* to a replica after it refused the key, served.
    served_after = sum(
        1
        for a in load.answers
        if a.key == 0 and a.status == 200 and (t := first[a.replica]) is not None and a.sent > t
    )
    return await outcome(
        "(e) the key revoked mid-load", load, c.database_url,
        f"every replica refused it within {(latest - revoked_at) * 1000:.0f} ms",
        f"{served_after} calls served that were sent to a replica after it had refused the key", budget,
    )  # fmt: skip


async def bad_policy(c: Replicas, seconds: float = 2.0) -> Outcome:
    """(d) A policy with an error pushed and reloaded: refused, the policy in force kept everywhere."""
    hard, budget = await c.budgeted("policy", int(20 * seconds))
    load = Load(c.urls, [hard, *await c.keys("policy", 3)])
    broken = c.policy_dir / "drill.toml"

    async def drill(load: Load) -> dict[str, object]:
        await asyncio.sleep(seconds / 2)
        async with httpx.AsyncClient(timeout=10) as http:
            before = {(await http.get(u + "/readyz")).json()["policy"]["hash"] for u in c.urls}
            broken.write_text("[rules.drill\nthis is not toml\n")
            answer = await http.post(
                c.urls[0] + "/admin/v1/policy/reload", headers={"authorization": f"Bearer {c.admin_token}"}
            )
            await asyncio.sleep(seconds / 2)
            after = {(await http.get(u + "/readyz")).json()["policy"]["hash"] for u in c.urls}
        broken.unlink()
        return {"status": answer.status_code, "code": answer.json()["error"]["code"], "kept": before == after}

    result = await load.during(drill, budget)
    kept = "kept on every replica" if result["kept"] else "NOT kept"
    return await outcome(
        "(d) a policy with an error pushed", load, c.database_url, "nothing to recover",
        f"reload answered {result['status']} {result['code']}; the policy in force {kept}", budget,
    )  # fmt: skip


async def network_cut(c: Replicas, seconds: float = 30.0) -> Outcome:
    """(c) Every replica's connections to PostgreSQL cut for ``seconds``, then restored."""
    hard, budget = await c.budgeted("network", 60)  # about a second and a half of its calls
    load = Load(c.urls, [hard, *await c.keys("network", 3)])

    async def drill(load: Load) -> dict[str, object]:
        await asyncio.sleep(1.0)
        await c.proxy.cut()
        await asyncio.sleep(seconds)
        await c.proxy.restore()
        restored = time.monotonic()
        waits = await asyncio.gather(*(ready(u) for u in c.urls))
        await asyncio.sleep(1.0)
        return {"ready": max(waits), "since": time.monotonic() - restored}

    result = await load.during(drill, budget)
    closed = sorted({a.code for a in load.answers if a.code and a.code.endswith("_unavailable")})
    note = "served from memory (keys, standings, quota leases) throughout"
    if closed:
        note = f"served from memory while leases and caches lasted, then refused ({', '.join(closed)}: fail closed)"
    return await outcome(
        f"(c) PostgreSQL unreachable for {seconds:g} s", load, c.database_url,
        f"all replicas ready {result['ready']:.1f} s after the network came back", note + "; events held, then written",
        budget,
    )  # fmt: skip


async def postgres_restarted(c: Replicas, seconds: float = 2.0) -> Outcome:
    """(b) The PostgreSQL server restarted (fast shutdown, then up) mid-load."""
    assert c.restart_database is not None
    restart = c.restart_database
    hard, budget = await c.budgeted("restart", int(20 * seconds))
    load = Load(c.urls, [hard, *await c.keys("restart", 3)])

    async def drill(load: Load) -> dict[str, object]:
        await asyncio.sleep(seconds / 2)
        took = time.monotonic()
        await asyncio.to_thread(restart)
        down = time.monotonic() - took
        waits = await asyncio.gather(*(ready(u) for u in c.urls))
        await asyncio.sleep(seconds / 2)
        return {"down": down, "ready": max(waits)}

    result = await load.during(drill, budget)
    return await outcome(
        "(b) PostgreSQL restarted", load, c.database_url,
        f"server back in {result['down']:.1f} s; all replicas ready {result['ready']:.1f} s later",
        "connections the restart broke are replaced; events held meanwhile, then written", budget,
    )  # fmt: skip


async def disk_full(c: Replicas, seconds: float = 4.0) -> Outcome:
    """(f) One replica's spool disk fills mid-load; a second later PostgreSQL is cut off for
    ``seconds``, the disk is freed halfway through, then PostgreSQL comes back.

    With the database up, the full disk costs only kill-durability: the replica serves on and says
    so. With the database away too, it can keep a call's usage event nowhere: it refuses
    (``ledger_unavailable``) and is not ready, until the freed disk takes what it holds."""
    assert c.disk is not None, c.no_disk
    disk, victim = c.disk, DISK_REPLICA
    hard, budget = await c.budgeted("disk", 60)
    load = Load(c.urls, [hard, *await c.keys("disk", 3)])

    full = asyncio.Event()

    async def keep_full() -> None:
        # As another writer on the disk would: whatever the gateway frees (a journal file whose
        # events are in) is taken again at once.
        while full.is_set():
            await asyncio.to_thread(disk.fill)
            await asyncio.sleep(0.01)

    async def drill(load: Load) -> dict[str, object]:
        await asyncio.sleep(1.0)
        filled = load.now()
        full.set()
        filler = asyncio.create_task(keep_full())
        await asyncio.sleep(1.0)
        async with httpx.AsyncClient(timeout=5) as http:
            up = (await http.get(c.urls[victim] + "/readyz")).json()
            cut = load.now()
            await c.proxy.cut()
            await asyncio.sleep(seconds / 2)
            down = (await http.get(c.urls[victim] + "/readyz")).json()
            freed = load.now()
            full.clear()
            await filler
            await asyncio.to_thread(disk.free)
            await asyncio.sleep(seconds / 2)
        await c.proxy.restore()
        waits = await asyncio.gather(*(ready(u) for u in c.urls))
        await asyncio.sleep(1.0)
        return {"filled": filled, "cut": cut, "freed": freed, "up": up, "down": down, "ready": max(waits)}

    r = await load.during(drill, budget)
    filled, cut, freed = float(r["filled"]), float(r["cut"]), float(r["freed"])  # type: ignore[arg-type]
    up, down = r["up"], r["down"]
    assert isinstance(up, dict) and isinstance(down, dict)
    mine = [a for a in load.answers if a.replica == victim]
    served_full = sum(1 for a in mine if a.status == 200 and filled < a.sent and a.at < cut)
    refusals = [a for a in mine if a.code == "ledger_unavailable"]
    first = min((a.at for a in refusals), default=None)
    last = max((a.at for a in refusals), default=None)
    refused = (
        f"refused ledger_unavailable from {(first - cut) * 1000:.0f} ms after the cut (not ready: "
        f"{down['checks'].get('usage_ledger')})"
        if first is not None
        else "never refused ledger_unavailable"
    )
    recovery = (
        f"accepting again {(last - freed) * 1000:.0f} ms after space was freed (database still cut); "
        if last is not None
        else ""
    ) + f"all replicas ready {r['ready']:.1f} s after the database came back"
    return await outcome(
        "(f) one replica's spool disk full, then PostgreSQL cut for " + f"{seconds:g} s", load, c.database_url,
        recovery,
        f"disk full, database up: served {served_full} calls, ready, journal {up['ledger']['journal']}; "
        f"database cut: {refused}",
        budget,
    )  # fmt: skip
