"""Who sends the traffic: each actor drives one customer (or a campaign's many) day by day.

An actor decides, per simulated day, when calls happen (seconds since the start, and which of its
customers makes each), then makes each call. Each actor has its own seeded RNG, so actors can be
interleaved lazily (a k-way merge in time order) without changing what any of them does.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from . import text
from .model import ANTHROPIC_ROUTE, OPENAI_ROUTE, Call, Customer

DAY = 86_400.0
OPENAI_MODELS = ("gpt-4.1", "gpt-4.1-mini", "o4-mini")
ANTHROPIC_MODELS = ("claude-sonnet-4-5", "claude-haiku-4-5")
LAUNCHED = {OPENAI_ROUTE: "gpt-5.1", ANTHROPIC_ROUTE: "claude-opus-5"}
"""The models launched mid-window: nobody can call them before the launch."""

# Relative activity per local hour: office hours, evenings (hobbyists), around the clock.
_WORK = [0.03] * 7 + [0.4, 0.9, 1, 1, 1, 0.8, 1, 1, 1, 0.9, 0.6, 0.3, 0.2, 0.15, 0.1, 0.05, 0.03]
_EVENING = [0.05] * 7 + [0.2, 0.3, 0.3, 0.3, 0.4, 0.5, 0.4, 0.4, 0.4, 0.5, 0.7, 1, 1, 1, 0.9, 0.6, 0.2]
_NIGHTLY = [1, 1, 1, 1, 1, 1, 0.2] + [0.1] * 17
DIURNAL = {"work": _WORK, "evening": _EVENING, "nightly": _NIGHTLY}
_CUMULATIVE = {name: [sum(w[: i + 1]) for i in range(24)] for name, w in DIURNAL.items()}
HOURS = range(24)


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def host(network: str, last: int) -> str:
    return network.rsplit(".", 1)[0] + f".{last}"


def new_id(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def request_body(call: Call, system: str | None, prompt: str, max_tokens: int) -> dict[str, Any]:
    """A chat request as each API spells it."""
    if call.route == ANTHROPIC_ROUTE:
        body: dict[str, Any] = {"model": call.model, "max_tokens": max_tokens}
        if system is not None:
            body["system"] = system
        body["messages"] = [{"role": "user", "content": prompt}]
        if call.temperature is not None:
            body["temperature"] = call.temperature
        return body
    messages = [{"role": "system", "content": system}] if system is not None else []
    messages.append({"role": "user", "content": prompt})
    body = {"model": call.model, "messages": messages, "max_tokens": max_tokens}
    if call.temperature is not None:
        body["temperature"] = call.temperature
    if call.logprobs:
        body["logprobs"] = True
        if call.top_logprobs is not None:
            body["top_logprobs"] = call.top_logprobs
    if call.logit_bias:
        body["logit_bias"] = {str(100 + (call.text_seed % 5000)): -100, str(7 + call.text_seed % 90): 5}
    return body


class Actor:
    """One source of calls; subclasses say when (``times``) and what (``make``)."""

    name: str
    customers: Sequence[Customer]

    def times(self, rng: random.Random, day: int) -> list[tuple[float, int]]:
        raise NotImplementedError

    def make(self, rng: random.Random, t: float, member: int) -> Call:
        raise NotImplementedError

    def expected_per_day(self) -> float:
        raise NotImplementedError

    def stream(self, seed: int, start: dt.datetime, days: int) -> Iterator[Call]:
        rng = random.Random(f"{seed}/calls/{self.name}")
        self.start = start
        for day in range(days):
            for t, member in sorted(self.times(rng, day)):
                yield self.make(rng, t, member)

    def call(
        self,
        rng: random.Random,
        t: float,
        customer: Customer,
        *,
        route: str,
        model: str,
        family: str,
        reasoning: bool,
        template: str | None,
        system: str | None,
        network: str,
        ip: str,
        completion: int,
        prompt_tokens: int,
        temperature: float | None = None,
        logprobs: bool = False,
        top_logprobs: int | None = None,
        logit_bias: bool = False,
        key: int = 0,
    ) -> Call:
        return Call(
            at=self.start + dt.timedelta(seconds=t),
            request_id=new_id(rng),
            customer_id=customer.id,
            key_id=customer.keys[key % len(customer.keys)].id,
            route=route,
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion,
            duration_ms=round(250 + completion * rng.uniform(8, 20) + rng.expovariate(1 / 80), 1),
            client_ip=ip,
            network=network,
            family=family,
            reasoning=reasoning,
            template=template,
            system=system,
            temperature=temperature,
            logprobs=logprobs,
            top_logprobs=top_logprobs,
            logit_bias=logit_bias,
            text_seed=rng.getrandbits(63),
            builder=self.build,
        )

    def build(self, rng: random.Random, call: Call) -> dict[str, Any]:
        raise NotImplementedError


def diurnal_times(
    rng: random.Random, day: int, n: int, offset: float, profile: str, session: float, gap: float
) -> list[float]:
    """``n`` calls in sessions (``session`` calls on average, ``gap`` seconds apart), at local hours
    weighted by ``profile``, shifted to UTC by ``offset`` hours and wrapped into the day."""
    out: list[float] = []
    while len(out) < n:
        size = min(n - len(out), 1 + poisson(rng, session - 1))
        hour = rng.choices(HOURS, cum_weights=_CUMULATIVE[profile])[0]
        t = hour * 3600 + rng.random() * 3600 - offset * 3600
        for _ in range(size):
            out.append(day * DAY + t % DAY)
            t += rng.expovariate(1 / gap)
    return out


class Ordinary(Actor):
    """A customer using the API for its own work: its own system prompts, families and habits."""

    SIZES = {
        "hobbyist": (12.0, 5.0, 300.0),
        "startup": (150.0, 15.0, 120.0),
        "enterprise": (800.0, 40.0, 40.0),
    }

    def __init__(
        self, plan: random.Random, customer: Customer, volume: float, popular_agent: bool, launch: float
    ) -> None:
        self.name, self.customers, self.c = customer.name, (customer,), customer
        median, self.session, self.gap = self.SIZES[customer.profile]
        self.rate = volume * median * math.exp(plan.gauss(0, 0.7))
        self.profile = "evening" if customer.profile == "hobbyist" else "work"
        self.agent = popular_agent
        picked = plan.sample(text.FAMILIES, plan.randint(1, 4))
        self.families = ["code", "tools", *picked] if popular_agent else picked
        self.weights = [plan.random() + 0.2 for _ in self.families]
        self.reasoning = plan.choice((0.0, 0.02, 0.05, 0.1, 0.2))
        self.systems: dict[str, str] = {}
        if popular_agent:
            self.systems["popular-agent"] = text.POPULAR_AGENT_SYSTEM
        elif plan.random() < 0.15:
            self.systems["generic"] = "You are a helpful assistant."
        for i in range(plan.randint(0, 3)):
            self.systems[f"{customer.id}/{i}"] = text.ordinary_system(plan, customer.name)
        self.route = OPENAI_ROUTE if plan.random() < 0.65 else ANTHROPIC_ROUTE
        models = OPENAI_MODELS if self.route == OPENAI_ROUTE else ANTHROPIC_MODELS
        self.models = plan.sample(models, plan.randint(1, len(models)))
        self.adopt = plan.choice((0.0, 0.0, 0.1, 0.3, 0.6))
        self.temperature = plan.choice((None, None, 0.0, 0.2, 0.7, 1.0))
        self.logprobs = self.route == OPENAI_ROUTE and plan.random() < 0.03  # confidence scores
        self.hosts = [
            (n, host(n, plan.randint(2, 250))) for n in customer.networks for _ in range(plan.randint(1, 3))
        ]
        self.launch = launch

    def expected_per_day(self) -> float:
        return self.rate

    def times(self, rng: random.Random, day: int) -> list[tuple[float, int]]:
        n = poisson(rng, self.rate * math.exp(rng.gauss(0, 0.3)))
        ts = diurnal_times(rng, day, n, self.c.utc_offset, self.profile, self.session, self.gap)
        return [(t, 0) for t in ts]

    def make(self, rng: random.Random, t: float, member: int) -> Call:
        family = rng.choices(self.families, weights=self.weights)[0]
        reasoning = rng.random() < self.reasoning
        systems = list(self.systems)
        system = rng.choice(systems) if systems and rng.random() < 0.85 else None
        new = t >= self.launch and rng.random() < self.adopt
        model = LAUNCHED[self.route] if new else rng.choice(self.models)
        network, ip = rng.choice(self.hosts)
        completion = int(rng.lognormvariate(5.3 if reasoning else 4.8, 0.8))
        return self.call(
            rng, t, self.c, route=self.route, model=model, family=family, reasoning=reasoning,
            template=None, system=system, network=network, ip=ip, completion=completion,
            prompt_tokens=int(rng.lognormvariate(5.0, 0.9)) + (300 if self.agent else 0),
            temperature=self.temperature, logprobs=self.logprobs and rng.random() < 0.3,
            top_logprobs=None, key=rng.randrange(len(self.c.keys)),
        )  # fmt: skip

    def build(self, rng: random.Random, call: Call) -> dict[str, Any]:
        system = self.systems.get(call.system) if call.system else None
        return request_body(call, system, text.ordinary_prompt(rng, call.family, call.reasoning), 1024)


class Ring(Actor):
    """A distillation ring: many small accounts fed by one controller, in synchronised bursts around
    the clock, round-robin over the accounts (load balancing), filling a few CoT templates."""

    BURST = 1800.0

    def __init__(
        self,
        plan: random.Random,
        campaign: str,
        members: Sequence[Customer],
        start: float,
        launch: float,
        volume: float,
        route: str,
    ) -> None:
        self.name, self.customers, self.campaign = campaign, members, campaign
        self.start_at, self.launch, self.route = start, launch, route
        self.per_member = volume * plan.uniform(60, 140)  # calls/day each: a small account's volume
        self.bursts = sorted(plan.uniform(0, DAY) for _ in range(8))
        families = tuple(plan.sample(("code", "math", "reasoning", "tools"), 2))
        self.templates = text.campaign_templates(plan, families, 2)
        self.cot = plan.choice(text.COT_PHRASES)
        self.hosts = {c.id: [host(n, plan.randint(2, 250)) for n in c.networks] for c in members}

    def expected_per_day(self) -> float:
        return self.per_member * len(self.customers)

    def times(self, rng: random.Random, day: int) -> list[tuple[float, int]]:
        out = []
        for offset in self.bursts:
            begin = day * DAY + offset
            if begin < self.start_at:
                continue
            boost = 1.5 if begin >= self.launch else 1.0
            # The controller spreads each account's share evenly over the burst: every account is
            # busy in the same windows, none faster than a few calls a minute.
            for m in range(len(self.customers)):
                k = poisson(rng, boost * self.per_member / len(self.bursts))
                out += [(begin + (j + rng.uniform(0.1, 0.9)) * self.BURST / k, m) for j in range(k)]
        return out

    def make(self, rng: random.Random, t: float, member: int) -> Call:
        c = self.customers[member]
        index = rng.randrange(len(self.templates))
        family = self.templates[index][0]
        reasoning = rng.random() < 0.8
        new = t >= self.launch and rng.random() < 0.5
        model = (
            LAUNCHED[self.route]
            if new
            else (OPENAI_MODELS if self.route == OPENAI_ROUTE else ANTHROPIC_MODELS)[0]
        )
        ip = rng.choice(self.hosts[c.id])
        return self.call(
            rng, t, c, route=self.route, model=model, family=family, reasoning=reasoning,
            template=f"{self.campaign}/{index}", system="generic" if rng.random() < 0.5 else None,
            network=host(ip, 0) + "/24", ip=ip, completion=int(rng.uniform(900, 2500)),
            prompt_tokens=int(rng.uniform(120, 400)), temperature=rng.choice((0.7, 1.0)),
        )  # fmt: skip

    def build(self, rng: random.Random, call: Call) -> dict[str, Any]:
        skeleton = self.templates[int(call.template.rsplit("/", 1)[1])][1] if call.template else ""
        prompt = text.fill_template(rng, skeleton, self.cot if call.reasoning else "")
        return request_body(call, "You are a helpful assistant." if call.system else None, prompt, 4096)


class Extractor(Actor):
    """One heavy account extracting broadly: CoT templates over many families, logprobs, around the clock."""

    def __init__(
        self, plan: random.Random, customer: Customer, start: float, launch: float, volume: float
    ) -> None:
        self.name, self.customers, self.c = customer.name, (customer,), customer
        self.start_at, self.launch = start, launch
        self.rate = volume * plan.uniform(3000, 5000)
        self.templates = text.campaign_templates(
            plan, ("code", "math", "reasoning", "tools", "writing", "translation"), 2
        )
        self.cot = plan.choice(text.COT_PHRASES)
        self.hosts = [(n, host(n, plan.randint(2, 250))) for n in customer.networks for _ in range(3)]

    def expected_per_day(self) -> float:
        return self.rate

    def times(self, rng: random.Random, day: int) -> list[tuple[float, int]]:
        n = poisson(rng, self.rate)
        ts = (day * DAY + rng.random() * DAY for _ in range(n))
        return [(t, 0) for t in ts if t >= self.start_at and (t >= self.launch or rng.random() < 0.7)]

    def make(self, rng: random.Random, t: float, member: int) -> Call:
        index = rng.randrange(len(self.templates))
        logprobs = rng.random() < 0.6
        network, ip = rng.choice(self.hosts)
        new = t >= self.launch and rng.random() < 0.5
        return self.call(
            rng, t, self.c, route=OPENAI_ROUTE, model=LAUNCHED[OPENAI_ROUTE] if new else "gpt-4.1",
            family=self.templates[index][0], reasoning=rng.random() < 0.85, template=f"{self.name}/{index}",
            system=None, network=network, ip=ip, completion=int(rng.uniform(800, 3000)),
            prompt_tokens=int(rng.uniform(100, 500)), temperature=1.0, logprobs=logprobs,
            top_logprobs=rng.choice((5, 10, 20)) if logprobs else None,
            logit_bias=logprobs and rng.random() < 0.15, key=rng.randrange(len(self.c.keys)),
        )  # fmt: skip

    def build(self, rng: random.Random, call: Call) -> dict[str, Any]:
        skeleton = self.templates[int(call.template.rsplit("/", 1)[1])][1] if call.template else ""
        return request_body(
            call, None, text.fill_template(rng, skeleton, self.cot if call.reasoning else ""), 4096
        )
