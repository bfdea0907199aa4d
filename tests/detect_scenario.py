"""A small synthetic week of model-API traffic for the detector's tests (``call_features`` rows).

Ordinary customers of many sizes (daily rhythm in their own time zone, mostly chat, unique prompts,
a few personal and a few common templates, some behind shared cloud NATs), plus planted campaigns:

- ``ring_payment``: young accounts, a few sharing payment instruments, all behind a handful of
  proxy networks, eliciting reasoning on code and math from systematically varied templates;
- ``ring_templates``: older accounts sharing nothing but templates and timing (each its own
  residential network, all active in the same orchestrated waves);
- ``extractor``: one heavy account, steady around the clock, reasoning on math, varied templates;
- ``reseller``: one key, many networks and countries, many system prompts, flat;
- legitimate heavy users: ``app`` (many end users, one system prompt, daily rhythm),
  ``lab`` (benchmark runs: bursts of the same templated prompts, broad families, some reasoning),
  ``batch`` (one template, one family, no reasoning, steady, heavy).

Deterministic for a seed. The eval helper's generator is the real measure; this one is for tuning
the engine's tests without it.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import asyncpg

from gateway.detect.features import FEATURE_COLUMNS, CallFeatures

SINCE = dt.datetime(2031, 3, 2, tzinfo=dt.UTC)
DAYS = 7
UNTIL = SINCE + dt.timedelta(days=DAYS)
FAMILIES = ("code", "math", "reasoning", "tools", "translation", "writing", "extraction", "chat", "other")


def _i64(rng: random.Random) -> int:
    return rng.getrandbits(64) - (1 << 63)


@dataclass
class Template:
    fp: int
    bands: tuple[int, ...]


def template(rng: random.Random) -> Template:
    return Template(_i64(rng), tuple(_i64(rng) for _ in range(16)))


def variant(rng: random.Random, base: Template, keep: float = 0.45) -> Template:
    """A new skeleton near ``base``: each band kept with probability ``keep`` (about Jaccard 0.9)."""
    return Template(_i64(rng), tuple(b if rng.random() < keep else _i64(rng) for b in base.bands))


@dataclass
class Account:
    id: uuid.UUID
    label: str
    created_at: dt.datetime
    payment: str | None = None
    rows: list[CallFeatures] = field(default_factory=list)


@dataclass
class Scenario:
    accounts: list[Account]

    def rows(self) -> Iterator[CallFeatures]:
        for a in self.accounts:
            yield from a.rows

    def labelled(self, label: str) -> set[uuid.UUID]:
        return {a.id for a in self.accounts if a.label == label}


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _net(rng: random.Random) -> str:
    return f"{rng.randint(11, 199)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.0/24"


def _call(
    rng: random.Random, account: Account, at: dt.datetime, *, family: str, tmpl: Template, network: str,
    country: str = "US", reasoning: bool = False, logprobs: bool = False, system_fp: int | None = 1,
    key: str = "k0",
) -> None:  # fmt: skip
    account.rows.append(
        CallFeatures(
            request_id=_uuid(rng), occurred_at=at, customer_id=account.id, key_id=key, model="m-1",
            status=200, prompt_tokens=rng.randint(50, 900), completion_tokens=rng.randint(50, 900),
            client_ip=network.replace(".0/24", f".{rng.randint(1, 254)}"), network=network,
            country=country, temperature=0.7, n=1, logprobs=logprobs, top_logprobs=5 if logprobs else None,
            logit_bias=False, reasoning=reasoning, family=family, system_fp=system_fp,
            template_fp=tmpl.fp, bands=tmpl.bands,
        )
    )  # fmt: skip


def _times(
    rng: random.Random, count: int, weight: list[float], start: dt.datetime = SINCE
) -> list[dt.datetime]:
    """``count`` instants between ``start`` and the window's end, by hourly weights of the window."""
    first = int((start - SINCE).total_seconds() // 3600)
    hours = list(range(first, DAYS * 24))
    chosen = rng.choices(hours, weights=[weight[h] for h in hours], k=count)
    return sorted(SINCE + dt.timedelta(hours=h, seconds=rng.uniform(0, 3600)) for h in chosen)


def _diurnal(tz: int) -> list[float]:
    return [0.1 + max(0.0, math.sin(math.pi * (((h + tz) % 24) - 7) / 14)) for h in range(DAYS * 24)]


def build(seed: int = 1, *, ordinary: int = 300, ring_payment: int = 80, ring_templates: int = 100,
          scale: float = 1.0, mix: float = 1.0) -> Scenario:  # fmt: skip
    """``mix``: the share of a ring's calls that are the campaign's; the rest look ordinary (chat,
    one-off prompts)."""
    rng = random.Random(seed)
    old = SINCE - dt.timedelta(days=200)
    common = [template(rng) for _ in range(8)]
    nats = [_net(rng) for _ in range(4)]
    accounts: list[Account] = []

    for _ in range(ordinary):
        a = Account(_uuid(rng), "ordinary", old + dt.timedelta(days=rng.uniform(0, 150)))
        per_day = min(800.0, math.exp(rng.gauss(math.log(25), 1.0))) * scale
        tz = rng.randint(-8, 9)
        nets = [rng.choice(nats) if rng.random() < 0.2 else _net(rng) for _ in range(rng.randint(1, 3))]
        mine = [template(rng) for _ in range(3)]
        liked = rng.sample(FAMILIES[:7], 2)
        systems = [_i64(rng) for _ in range(rng.randint(1, 3))]
        reasons = rng.choice((0.0, 0.05, 0.15))
        logprobs = rng.random() < 0.03
        for at in _times(rng, max(1, int(per_day * DAYS)), _diurnal(tz)):
            u = rng.random()
            tmpl = rng.choice(mine) if u < 0.2 else rng.choice(common) if u < 0.3 else template(rng)
            fam = "chat" if rng.random() < 0.6 else rng.choice(liked)
            _call(rng, a, at, family=fam, tmpl=tmpl, network=rng.choice(nets), reasoning=rng.random() < reasons,
                  logprobs=logprobs and rng.random() < 0.3, system_fp=rng.choice(systems))  # fmt: skip
        accounts.append(a)

    # A ring of young accounts: some share payment instruments, all go through a few proxy networks.
    proxies = [_net(rng) for _ in range(6)]
    families = [template(rng) for _ in range(10)]
    cards = [f"card-{i}" for i in range(3)]
    flat = [1.0] * (DAYS * 24)
    for i in range(ring_payment):
        a = Account(_uuid(rng), "ring_payment", SINCE - dt.timedelta(days=rng.uniform(1, 5)))
        a.payment = cards[i % 3] if i % 4 == 0 else None
        for at in _times(
            rng, int(rng.uniform(15, 35) * (DAYS - 1) * scale), flat, SINCE + dt.timedelta(days=1)
        ):
            if rng.random() > mix:
                _call(
                    rng, a, at, family="chat", tmpl=template(rng), network=rng.choice(proxies), country="SG"
                )
                continue
            _call(rng, a, at, family=rng.choice(("code", "math")), tmpl=variant(rng, rng.choice(families)),
                  network=rng.choice(proxies), reasoning=rng.random() < 0.8, country="SG")  # fmt: skip
        accounts.append(a)

    # A ring sharing nothing but templates and timing: orchestrated waves, each account its own network.
    waves = [1.0 if rng.random() < 0.3 else 0.0 for _ in range(DAYS * 24)]
    families = [template(rng) for _ in range(6)]
    for _ in range(ring_templates):
        a = Account(_uuid(rng), "ring_templates", old + dt.timedelta(days=rng.uniform(0, 100)))
        net = _net(rng)
        for at in _times(rng, int(rng.uniform(20, 40) * DAYS * scale), waves):
            if rng.random() > mix:
                _call(rng, a, at, family="chat", tmpl=template(rng), network=net, country="DE")
                continue
            _call(rng, a, at, family=rng.choice(("reasoning", "tools")), tmpl=variant(rng, rng.choice(families)),
                  network=net, reasoning=rng.random() < 0.7, country=rng.choice(("DE", "FR", "NL")))  # fmt: skip
        accounts.append(a)

    a = Account(_uuid(rng), "extractor", SINCE - dt.timedelta(days=30))
    families = [template(rng) for _ in range(4)]
    net = _net(rng)
    for at in _times(rng, int(1500 * DAYS * scale), flat):
        _call(rng, a, at, family="math", tmpl=variant(rng, rng.choice(families)), network=net,
              reasoning=rng.random() < 0.7, logprobs=rng.random() < 0.3)  # fmt: skip
    accounts.append(a)

    a = Account(_uuid(rng), "reseller", old)
    nets = [_net(rng) for _ in range(150)]
    countries = [f"C{i}" for i in range(14)]
    systems = [_i64(rng) for _ in range(40)]
    for at in _times(rng, int(400 * DAYS * scale), flat):
        _call(rng, a, at, family=rng.choice(FAMILIES), tmpl=template(rng), network=rng.choice(nets),
              country=rng.choice(countries), system_fp=rng.choice(systems), reasoning=rng.random() < 0.1)  # fmt: skip
    accounts.append(a)

    a = Account(_uuid(rng), "app", old)
    nets = [_net(rng) for _ in range(400)]
    app_template = template(rng)
    for at in _times(rng, int(1500 * DAYS * scale), _diurnal(0)):
        _call(rng, a, at, family="chat", tmpl=app_template if rng.random() < 0.3 else template(rng),
              network=rng.choice(nets), country=rng.choice(("US", "CA", "GB")), system_fp=42,
              reasoning=rng.random() < 0.1)  # fmt: skip
    accounts.append(a)

    a = Account(_uuid(rng), "lab", old)
    evals = [template(rng) for _ in range(3)]
    suite = [(rng.choice(("math", "code", "reasoning", "extraction")), variant(rng, rng.choice(evals)))
             for _ in range(int(1500 * scale))]  # fmt: skip
    net = _net(rng)
    for day in (1, 3, 5):
        start = SINCE + dt.timedelta(days=day, hours=rng.randint(8, 14))
        for k, (fam, tmpl) in enumerate(suite):
            _call(rng, a, start + dt.timedelta(seconds=k * 5), family=fam, tmpl=tmpl, network=net,
                  reasoning=rng.random() < 0.5)  # fmt: skip
    accounts.append(a)

    a = Account(_uuid(rng), "batch", old)
    job = template(rng)
    net = _net(rng)
    for at in _times(rng, int(2500 * DAYS * scale), flat):
        _call(rng, a, at, family="extraction", tmpl=job, network=net)
    accounts.append(a)
    return Scenario(accounts)


async def load(conn: asyncpg.Connection, scenario: Scenario) -> None:
    """The scenario's customers, payment fingerprints and call features, written directly."""
    await conn.executemany(
        "insert into customers (id, name, created_at) values ($1, $2, $3)",
        [(a.id, f"{a.label}-{a.id}", a.created_at) for a in scenario.accounts],
    )
    await conn.executemany(
        "insert into payment_fingerprints (customer_id, fingerprint) values ($1, $2)",
        [(a.id, a.payment) for a in scenario.accounts if a.payment],
    )
    await conn.copy_records_to_table(
        "call_features",
        records=[tuple(getattr(r, c) for c in FEATURE_COLUMNS) for r in scenario.rows()],
        columns=list(FEATURE_COLUMNS),
    )


async def _measure(url: str, seed: int, scale: float) -> None:
    """Build the scenario into a fresh database at ``url``, run detect() once and print what it found
    against the labels, and how long it took."""
    import time

    from gateway.db.migrate import migrate
    from gateway.detect.engine import detect
    from gateway.policy import load_policy

    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        scenario = build(seed, scale=scale)
        await load(conn, scenario)
        await conn.execute("analyze call_features")
        rows = sum(len(a.rows) for a in scenario.accounts)
        label = {a.id: a.label for a in scenario.accounts}
        started = time.perf_counter()
        found = await detect(conn, load_policy(), SINCE, UNTIL, now=UNTIL)
        elapsed = time.perf_counter() - started
        print(
            f"{rows} calls, {len(scenario.accounts)} accounts: detect {elapsed:.2f}s ({rows / elapsed:,.0f} calls/s)"
        )
        for f in found:
            labels = sorted({label[m] for m in f.members})
            print(f"  {f.kind:9} score {f.score:.2f}  {len(f.members):4} members  {labels}")
    finally:
        await conn.close()


if __name__ == "__main__":  # python -m tests.detect_scenario postgresql://.../empty_db [seed] [scale]
    import asyncio
    import sys

    asyncio.run(_measure(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1,
                         float(sys.argv[3]) if len(sys.argv) > 3 else 1.0))  # fmt: skip
