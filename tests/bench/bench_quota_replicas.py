"""How exact quotas are across replicas: overshoot and stranded quota with 1, 2 and 4 gateways.

    python tests/bench/bench_quota_replicas.py [--budget 2000] [--clients 32] [--replicas 1,2,4]

Starts the demo upstream, a fresh PostgreSQL database and N gateway processes (one worker
each) on it, gives one customer a daily budget of ``--budget`` requests (leased, then hard:
reserved in the database per request), and has ``--clients`` concurrent clients send chat
requests round-robin over the replicas, each until it has been refused with
``budget_exhausted`` five times in a row. Then it stops the replicas (SIGTERM) and reads
the counter. Per run it prints:

- **admitted**: requests answered 200; **overshoot** = admitted - budget (the bound says <= 0);
- **first refusal at**: how many had been admitted when the first ``budget_exhausted`` came:
  budget - that is what sat in other replicas' leases at that moment (stranded, not lost);
- **left unused**: budget - admitted once every client gave up (quota still in leases that no
  client came back for; it returns to the pool within half a lease TTL);
- **counted**: the counter's ``used`` after shutdown, which must equal admitted (no request
  counted twice or lost), and the requests/s of the whole run: bound by the Python client
  (httpx, about 250 requests/s against one gateway here), not a throughput figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
from _support import HOST, Child, interrupt_on_signals, machine_lines, start_demo_upstream
from bench_proxy import MODEL, Database, create_key, gateway_cli, gateway_env, start_gateway, write_config

BODY = {"model": MODEL, "max_tokens": 4, "messages": [{"role": "user", "content": "x"}]}


async def hammer(urls: list[str], keys: list[str], clients: int) -> tuple[int, int | None, dict[str, int]]:
    admitted = 0
    first_refusal: int | None = None
    outcomes: dict[str, int] = {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(i: int, http: httpx.AsyncClient) -> None:
        nonlocal admitted, first_refusal
        refusals = 0
        n = i
        while refusals < 5:
            url = urls[n % len(urls)]
            n += 1
            response = await http.post(
                url, json=BODY, headers={"authorization": f"Bearer {keys[i % len(keys)]}"}
            )
            if response.status_code == 200:
                admitted += 1
                refusals = 0
                code = "ok"
            else:
                code = response.json()["error"]["code"]
                if code == "budget_exhausted":
                    refusals += 1
                    if first_refusal is None:
                        first_refusal = admitted
            outcomes[code] = outcomes.get(code, 0) + 1

    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))
    return admitted, first_refusal, outcomes


async def used(db_url: str, customer: str) -> tuple[float, float, float]:
    conn = await asyncpg.connect(db_url)
    try:
        row = await conn.fetchrow(
            "select coalesce(sum(q.used), 0), coalesce(sum(q.leased), 0), coalesce(sum(q.reserved), 0)"
            " from quota_counters q join customers c on q.scope_id = c.id::text"
            " where c.name = $1 and q.dimension = 'requests' and q.\"window\" = 'day'",
            customer,
        )
        return float(row[0]), float(row[1]), float(row[2])
    finally:
        await conn.close()


def run_one(
    replicas: int, hard: bool, args: argparse.Namespace, env: dict[str, str], config: Path, workdir: Path
) -> dict[str, object]:
    customer = f"quota-bench-{replicas}-{'hard' if hard else 'leased'}"
    keys = [create_key(env, customer)]
    keys += [
        str(gateway_cli(env, "keys", "create", "--customer", customer, "--project", "p")["key"])  # type: ignore[index]
        for _ in range(7)
    ]
    quota = ["quota", "set", "--customer", customer, "--dimension", "requests", "--limit", str(args.budget)]
    gateway_cli(env, *quota, "--period", "day", *(["--hard"] if hard else []))
    started: list[Child] = []
    try:
        urls = []
        for i in range(replicas):
            logs = workdir / f"{customer}-{i}"
            logs.mkdir()
            child, port = start_gateway("granian", config, env, logs)
            started.append(child)
            urls.append(f"http://{HOST}:{port}/v1/chat/completions")
        start = time.perf_counter()
        admitted, first_refusal, outcomes = asyncio.run(hammer(urls, keys, args.clients))
        elapsed = time.perf_counter() - start
    finally:
        for child in started:
            child.stop()
    counted, leased, reserved = asyncio.run(used(env["GATEWAY_DATABASE_URL"], customer))
    return {
        "replicas": replicas,
        "mode": "hard" if hard else "leased",
        "admitted": admitted,
        "overshoot": admitted - args.budget,
        "first_refusal": first_refusal,
        "unused": args.budget - admitted,
        "counted": counted,
        "left": leased + reserved,
        "rate": sum(outcomes.values()) / elapsed,
        "outcomes": outcomes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--replicas", default="1,2,4")
    args = parser.parse_args()
    interrupt_on_signals()
    counts = [int(x) for x in args.replicas.split(",")]
    print("\n".join(machine_lines(["granian", "asyncpg", "httpx"])))
    print(f"budget {args.budget} requests/day, {args.clients} clients, lease_fraction 0.1, lease_share 0.5")
    bad = False
    with tempfile.TemporaryDirectory(prefix="quota-bench-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        upstream, upstream_port = start_demo_upstream(workdir)
        stack.callback(upstream.stop)
        db = Database()
        db.open()
        stack.callback(db.close)
        env = gateway_env(db.url, workdir / "state")
        config = write_config(workdir / "gateway.toml", upstream_port)
        gateway_cli(env, "db", "migrate")
        rows = []
        for hard in (False, True):
            for n in counts:
                rows.append(run_one(n, hard, args, env, config, workdir))
                r = rows[-1]
                print(
                    f"{r['mode']:>6} x{n}: admitted {r['admitted']}, overshoot {r['overshoot']}, "
                    f"first refusal at {r['first_refusal']}, left unused {r['unused']}, "
                    f"counted {r['counted']:g}, {r['rate']:.0f} req/s, {r['outcomes']}",
                    flush=True,
                )
                bad |= r["overshoot"] > 0 or r["counted"] != r["admitted"] or r["left"] != 0  # type: ignore[operator]
    print()
    print(f"{'mode':>6} {'replicas':>8} {'admitted':>9} {'overshoot':>9} {'1st refusal at':>14} "
          f"{'left unused':>11} {'counted':>8} {'client req/s':>12}")  # fmt: skip
    for r in rows:
        print(
            f"{r['mode']:>6} {r['replicas']:>8} {r['admitted']:>9} {r['overshoot']:>9} "
            f"{r['first_refusal']!s:>14} {r['unused']:>11} {r['counted']:>8g} {r['rate']:>12.0f}"
        )
    if bad:
        print("\nPROBLEM: overshoot above zero, or a counter that does not match what was admitted")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
