"""Mixed model-API traffic over simulated days, with planted campaigns: pure and seeded.

    traffic = generate(Config(seed=7, days=3))
    traffic.customers, traffic.campaigns      # who, with KYC facts and labels
    for record in traffic.records(): ...      # the usage import format, in time order, streamed

Ordinary customers (hobbyists, startups, enterprises in many time zones; some share a popular
open-source agent's system prompt; a parent company and its subsidiaries share a card and an owner)
and legitimate heavy users (a benchmark lab, a batch-job company, a popular app) are mixed with the
planted campaigns of ``CAMPAIGN_TYPES``: a ring of small accounts linked by payment and networks,
a ring sharing only templates and timing, a reseller, a single extractor. A model launches mid-window.

Nothing reads a clock or a global RNG: the same config gives the same customers and calls.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Literal

from . import text
from .actors import DAY, Actor, Extractor, Ordinary, Ring, new_id
from .heavy import BatchJobs, BenchmarkLab, ManyUsers
from .model import ANTHROPIC_ROUTE, OPENAI_ROUTE, Call, Campaign, Customer, Key, Label

START = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
# (country, UTC offset in hours): where customers live, for their diurnal rhythm.
ZONES = (
    ("US", -5), ("US", -8), ("CA", -5), ("BR", -3), ("MX", -6), ("GB", 0), ("DE", 1), ("FR", 1), ("NL", 1),
    ("ES", 1), ("IT", 1), ("PL", 1), ("SE", 1), ("NG", 1), ("KE", 3), ("IN", 5.5), ("SG", 8), ("JP", 9),
    ("KR", 9), ("AU", 10),
)  # fmt: skip
_SIZES = (("hobbyist", 0.6), ("startup", 0.3), ("enterprise", 0.1))
_RESERVED_FIRST_OCTETS = {10, 100, 127, 169, 172, 192, 198, 203}


@dataclass(frozen=True)
class Config:
    seed: int = 7
    days: int = 3
    start: dt.datetime = START
    ordinary: int = 400
    volume: float = 1.0
    """Multiplies every actor's call rate (and the benchmark lab's item count)."""
    ring_linked: tuple[int, ...] = (120,)
    """One linked ring per size."""
    ring_unlinked: tuple[int, ...] = (60,)
    resellers: int = 1
    extractors: int = 1
    legit_heavy: int = 1
    """How many of each legitimate heavy user (benchmark lab, batch-job company, popular app)."""
    shared_payment: float = 0.2
    """Share of a linked ring's accounts paying with one of a few shared instruments (0-0.3)."""
    launch_day: float = 1.5
    """When the new models launch, in days after the start."""

    @classmethod
    def small(cls, seed: int = 7) -> Config:
        """The integration test's scale: about 25,000 calls over 3 days from about 370 accounts, so
        that one false alert (account, day) is under the goal of 1 per 1,000 accounts per day."""
        return cls(seed=seed, ordinary=300, volume=0.1, ring_linked=(40,), ring_unlinked=(30,))


@dataclass(frozen=True)
class Traffic:
    config: Config
    customers: tuple[Customer, ...]
    campaigns: tuple[Campaign, ...]
    launch: dt.datetime
    actors: tuple[Actor, ...] = field(repr=False, compare=False)

    @property
    def start(self) -> dt.datetime:
        return self.config.start

    @property
    def end(self) -> dt.datetime:
        return self.config.start + dt.timedelta(days=self.config.days)

    def calls(self) -> Iterator[Call]:
        """Every call, in time order, generated lazily (memory: one simulated day per actor)."""
        c = self.config
        streams = [a.stream(c.seed, c.start, c.days) for a in self.actors]
        return heapq.merge(*streams, key=attrgetter("at"))

    def records(self) -> Iterator[dict[str, Any]]:
        """The calls in the usage import format."""
        return (call.record() for call in self.calls())

    def expected_calls(self) -> float:
        return self.config.days * sum(a.expected_per_day() for a in self.actors)

    def customer(self, customer_id: uuid.UUID) -> Customer:
        return self._by_id()[customer_id]

    def _by_id(self) -> dict[uuid.UUID, Customer]:
        cached: dict[uuid.UUID, Customer] | None = self.__dict__.get("_index")
        if cached is None:
            cached = {c.id: c for c in self.customers}
            object.__setattr__(self, "_index", cached)
        return cached

    def labelled(self, *labels: Label) -> list[Customer]:
        return [c for c in self.customers if c.label in labels]


class _Planner:
    """Draws customers with unique names, networks, instruments and keys from one RNG."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.networks: set[str] = set()
        self.count = 0

    def network(self) -> str:
        while True:
            a = self.rng.randint(11, 223)
            if a in _RESERVED_FIRST_OCTETS:
                continue
            net = f"{a}.{self.rng.randrange(256)}.{self.rng.randrange(256)}.0/24"
            if net not in self.networks:
                self.networks.add(net)
                return net

    def fingerprint(self) -> str:
        return f"fp_{self.rng.getrandbits(96):024x}"

    def key(self) -> Key:
        key_id = f"{self.rng.getrandbits(64):016x}"
        return Key(key_id, f"gk_{key_id}_{self.rng.getrandbits(192):048x}")

    def customer(
        self,
        profile: str,
        label: Label,
        *,
        kind: Literal["individual", "organisation"],
        campaign: str | None = None,
        zone: tuple[str, float] | None = None,
        networks: tuple[str, ...] | None = None,
        payment: tuple[str, ...] | None = None,
        owners: tuple[str, ...] | None = None,
        keys: int = 1,
    ) -> Customer:
        self.count += 1
        country, offset = zone or self.rng.choice(ZONES)
        word = self.rng.choice(text.NOUNS)
        name = f"{profile}-{word}-{self.count:06d}"
        if owners is None:
            owners = (text.person(self.rng),) if kind == "organisation" else ()
        return Customer(
            id=new_id(self.rng),
            name=name,
            kind=kind,
            country=country,
            label=label,
            profile=profile,
            campaign=campaign,
            payment_fingerprints=payment if payment is not None else (self.fingerprint(),),
            owners=owners,
            networks=networks if networks is not None else (self.network(),),
            keys=tuple(self.key() for _ in range(keys)),
            utc_offset=offset,
        )


def generate(config: Config) -> Traffic:
    """The customers, campaigns and actors of ``config``; calls are drawn when iterated."""
    rng = random.Random(f"{config.seed}/plan")
    p = _Planner(rng)
    start = config.start
    launch_s = config.launch_day * DAY
    actors: list[Actor] = []
    customers: list[Customer] = []
    campaigns: list[Campaign] = []

    def add(actor: Actor) -> None:
        actors.append(actor)
        customers.extend(actor.customers)

    # Ordinary customers; the first few share instruments legitimately: a parent company and two
    # subsidiaries (one card, one owner), and two couples sharing a card.
    shared: list[tuple[str, str, tuple[str, ...]]] = []
    if config.ordinary >= 10:
        family_owner = (text.person(rng),)
        shared += [("enterprise", "organisation", family_owner)] * 3
        shared += [("hobbyist", "individual", ())] * 4
    group_payment = [p.fingerprint() for _ in range(3)]
    for i in range(config.ordinary):
        if i < len(shared):
            profile, kind, owners = shared[i]
            payment: tuple[str, ...] | None = (group_payment[0 if i < 3 else 1 + (i - 3) // 2],)
            owner_names: tuple[str, ...] | None = owners or None
        else:
            profile = rng.choices([s for s, _ in _SIZES], weights=[w for _, w in _SIZES])[0]
            kind = "individual" if profile == "hobbyist" else "organisation"
            payment, owner_names = None, None
        nets = tuple(p.network() for _ in range(2 if profile == "enterprise" else 1))
        c = p.customer(
            profile, "ordinary", kind=kind, payment=payment, owners=owner_names, networks=nets,  # type: ignore[arg-type]
            keys=1 if profile == "hobbyist" else rng.randint(1, 3),
        )  # fmt: skip
        agent = profile in ("hobbyist", "startup") and rng.random() < 0.08
        add(Ordinary(rng, c, config.volume, agent, launch_s))

    # Legitimate heavy users: each kind ``legit_heavy`` times, in different places.
    zones = (("US", -8), ("DE", 1), ("US", -5), ("JP", 9), ("GB", 0), ("BR", -3), ("IN", 5.5))
    for i in range(config.legit_heavy):
        lab = p.customer("benchmark_lab", "legit_heavy", kind="organisation", zone=zones[i % 7])
        add(BenchmarkLab(rng, lab, launch_s, config.volume))
        batch = p.customer("batch_jobs", "legit_heavy", kind="organisation", zone=zones[(i + 1) % 7], keys=2)
        add(BatchJobs(rng, batch, config.volume))
        app = p.customer("popular_app", "legit_heavy", kind="organisation", zone=zones[(i + 2) % 7], keys=2)
        add(ManyUsers(rng, app, config.volume, [p.network() for _ in range(200)], reseller=False))

    # Planted campaigns.
    for i, size in enumerate(config.ring_linked):
        cid = f"ring_linked-{i}"
        pool = [p.network() for _ in range(max(2, size // 25))]
        instruments = [p.fingerprint() for _ in range(max(1, round(size * config.shared_payment / 6)))]
        members = []
        for _ in range(size):
            pay = (rng.choice(instruments),) if rng.random() < config.shared_payment else None
            members.append(
                p.customer("ring_linked", "ring_linked", kind="individual", campaign=cid,
                           networks=(rng.choice(pool),), payment=pay)
            )  # fmt: skip
        begin = rng.uniform(0.2, 0.6) * DAY
        add(Ring(rng, cid, members, begin, launch_s, config.volume, OPENAI_ROUTE))
        campaigns.append(_campaign(cid, "ring_linked", members, start, begin))
    for i, size in enumerate(config.ring_unlinked):
        cid = f"ring_unlinked-{i}"
        members = [
            p.customer("ring_unlinked", "ring_unlinked", kind="individual", campaign=cid) for _ in range(size)
        ]
        begin = rng.uniform(0.3, 0.8) * DAY
        add(Ring(rng, cid, members, begin, launch_s, config.volume, ANTHROPIC_ROUTE))
        campaigns.append(_campaign(cid, "ring_unlinked", members, start, begin))
    for i in range(config.resellers):
        cid = f"reseller-{i}"
        r = p.customer("reseller", "reseller", kind="organisation", campaign=cid, keys=3)
        add(
            ManyUsers(
                rng, r, config.volume, [p.network() for _ in range(rng.randint(60, 120))], reseller=True
            )
        )
        campaigns.append(_campaign(cid, "reseller", [r], start, 0.0))
    for i in range(config.extractors):
        cid = f"extractor-{i}"
        x = p.customer("extractor", "extractor", kind="organisation", campaign=cid, keys=2)
        begin = rng.uniform(0.8, 1.2) * DAY
        add(Extractor(rng, x, begin, launch_s, config.volume))
        campaigns.append(_campaign(cid, "extractor", [x], start, begin))

    return Traffic(
        config=config,
        customers=tuple(customers),
        campaigns=tuple(campaigns),
        launch=start + dt.timedelta(seconds=launch_s),
        actors=tuple(actors),
    )


def _campaign(cid: str, kind: Any, members: list[Customer], start: dt.datetime, begin: float) -> Campaign:
    return Campaign(cid, kind, frozenset(m.id for m in members), start + dt.timedelta(seconds=begin))


def for_events(
    events: int, days: int = 3, seed: int = 7, *, ordinary_share: float = 0.6, **overrides: Any
) -> Config:
    """A config of about ``events`` calls over ``days``: the ordinary customers make up the rest.

    Campaigns and heavy users keep their shape; when they alone would be more than
    ``1 - ordinary_share`` of the calls, every rate is scaled down (``volume``) so that ordinary
    customers, the population false alerts are counted in, stay the majority."""
    base = Config(seed=seed, days=days, **overrides)
    fixed = generate(dataclasses.replace(base, ordinary=0)).expected_calls()
    if fixed > (1 - ordinary_share) * events:
        base = dataclasses.replace(base, volume=base.volume * (1 - ordinary_share) * events / fixed)
        fixed = generate(dataclasses.replace(base, ordinary=0)).expected_calls()
    sample = generate(dataclasses.replace(base, ordinary=400)).expected_calls() - fixed
    per_customer = sample / 400
    return dataclasses.replace(base, ordinary=max(10, round((events - fixed) / per_customer)))
