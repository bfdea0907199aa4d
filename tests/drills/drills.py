"""The drills: four replicas on one database under load, while one fault happens. Each returns its
:class:`~tests.drills.harness.Outcome`. ``seconds`` sets how long a fault lasts (the README's table
uses 30 s for the network cut; the test suite, a few)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from gateway.db.migrate import migrate
from gateway.identity.repository import CreatedKey, revoke_key
from tests.drills.harness import Load, Outcome, kill_tree, outcome, ready
from tests.drills.postgres import LocalPostgres
from tests.e2e.conftest import ADMIN_TOKEN, GatewayProcess, free_port, gateway_config, new_key, with_settings
from tests.tcp_proxy import TcpProxy


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
    await asyncio.gather(*(asyncio.to_thread(g.start) for g in gateways))
    return Replicas(gateways, pg.url, proxy, policy_dir, ADMIN_TOKEN, pg.restart), pg


async def stop(replicas: Replicas, pg: LocalPostgres) -> None:
    await asyncio.gather(*(asyncio.to_thread(g.stop) for g in replicas.gateways))
    await replicas.proxy.cut()
    await asyncio.to_thread(pg.stop)


def _name(drill: str) -> str:
    return f"drill-{drill}-{uuid.uuid4().hex[:6]}"


async def replica_killed(c: Replicas, seconds: float = 2.0) -> Outcome:
    """(a) One replica SIGKILLed mid-load, restarted on the same state folder."""
    load = Load(c.urls, await c.keys("kill"))

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

    result = await load.during(drill)
    return await outcome(
        "(a) a replica SIGKILLed", load, c.database_url, f"replica back in {result['back']:.1f} s",
        "the other three serve on; the killed one's journal is replayed at its restart",
    )  # fmt: skip


async def key_revoked(c: Replicas, seconds: float = 2.0) -> Outcome:
    """(e) The key in use revoked mid-load: how soon every replica refuses it."""
    key = await c.key(_name("revoke"))
    load = Load(c.urls, [key.key])

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

    result = await load.during(drill)
    revoked_at = float(result["at"])  # type: ignore[arg-type]
    # When each replica first refused the key, and whether any served it after that.
    first = {
        r: min((a.at for a in load.answers if a.replica == r and a.code == "revoked_api_key"), default=None)
        for r in range(len(c.urls))
    }
    assert all(t is not None for t in first.values()), f"a replica never refused the revoked key: {first}"
    latest = max(t for t in first.values() if t is not None)
    # A call admitted before its replica heard of the revocation may finish after another was
    # refused; what must not happen is a call *sent* to a replica after it refused the key, served.
    served_after = sum(
        1 for a in load.answers if a.status == 200 and (t := first[a.replica]) is not None and a.sent > t
    )
    return await outcome(
        "(e) the key revoked mid-load", load, c.database_url,
        f"every replica refused it within {(latest - revoked_at) * 1000:.0f} ms",
        f"{served_after} calls served that were sent to a replica after it had refused the key",
    )  # fmt: skip


async def bad_policy(c: Replicas, seconds: float = 2.0) -> Outcome:
    """(d) A policy with an error pushed and reloaded: refused, the policy in force kept everywhere."""
    load = Load(c.urls, await c.keys("policy"))
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

    result = await load.during(drill)
    kept = "kept on every replica" if result["kept"] else "NOT kept"
    return await outcome(
        "(d) a policy with an error pushed", load, c.database_url, "nothing to recover",
        f"reload answered {result['status']} {result['code']}; the policy in force {kept}",
    )  # fmt: skip


async def network_cut(c: Replicas, seconds: float = 30.0) -> Outcome:
    """(c) Every replica's connections to PostgreSQL cut for ``seconds``, then restored."""
    load = Load(c.urls, await c.keys("network"))

    async def drill(load: Load) -> dict[str, object]:
        await asyncio.sleep(1.0)
        await c.proxy.cut()
        await asyncio.sleep(seconds)
        await c.proxy.restore()
        restored = time.monotonic()
        waits = await asyncio.gather(*(ready(u) for u in c.urls))
        await asyncio.sleep(1.0)
        return {"ready": max(waits), "since": time.monotonic() - restored}

    result = await load.during(drill)
    closed = sorted({a.code for a in load.answers if a.code and a.code.endswith("_unavailable")})
    note = "served from memory (keys, standings, quota leases) throughout"
    if closed:
        note = f"served from memory while leases and caches lasted, then refused ({', '.join(closed)}: fail closed)"
    return await outcome(
        f"(c) PostgreSQL unreachable for {seconds:g} s", load, c.database_url,
        f"all replicas ready {result['ready']:.1f} s after the network came back", note + "; events held, then written",
    )  # fmt: skip


async def postgres_restarted(c: Replicas, seconds: float = 2.0) -> Outcome:
    """(b) The PostgreSQL server restarted (fast shutdown, then up) mid-load."""
    assert c.restart_database is not None
    restart = c.restart_database
    load = Load(c.urls, await c.keys("restart"))

    async def drill(load: Load) -> dict[str, object]:
        await asyncio.sleep(seconds / 2)
        took = time.monotonic()
        await asyncio.to_thread(restart)
        down = time.monotonic() - took
        waits = await asyncio.gather(*(ready(u) for u in c.urls))
        await asyncio.sleep(seconds / 2)
        return {"down": down, "ready": max(waits)}

    result = await load.during(drill)
    return await outcome(
        "(b) PostgreSQL restarted", load, c.database_url,
        f"server back in {result['down']:.1f} s; all replicas ready {result['ready']:.1f} s later",
        "connections the restart broke are replaced; events held meanwhile, then written",
    )  # fmt: skip
