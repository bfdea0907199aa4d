"""Heavy single-customer actors: three legitimate ones that must not be flagged, and the reseller."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from . import text
from .actors import (
    ANTHROPIC_MODELS,
    DAY,
    LAUNCHED,
    OPENAI_MODELS,
    Actor,
    diurnal_times,
    host,
    poisson,
    request_body,
)
from .model import ANTHROPIC_ROUTE, OPENAI_ROUTE, Call, Customer

BATCH_TEMPLATE = (
    "Classify the sentiment (positive, neutral, negative) and the topic of this customer review. "
    'Return JSON with the fields "sentiment" and "topic". Review: "{review}"'
)
POPULAR_APP_SYSTEM = (
    "You are Pico, the friendly writing companion inside the Pico Notes app. Help the user with the "
    "note they are editing: suggest wording, summarise, translate or answer questions about it. "
    "Keep a warm tone, answer in the user's language, and never invent facts about the user."
)


class BenchmarkLab(Actor):
    """Evaluation runs: the same fixed item set, item after item, twice a day on two models (one run
    asks for step-by-step answers), and a run on the new model right after its launch."""

    def __init__(self, plan: random.Random, customer: Customer, launch: float, volume: float) -> None:
        self.name, self.customers, self.c, self.launch = customer.name, (customer,), customer, launch
        self.items = [text.benchmark_item(plan, i) for i in range(max(40, int(300 * volume)))]
        self.host = host(customer.networks[0], 17)

    def expected_per_day(self) -> float:
        return 4.0 * len(self.items)

    def times(self, rng: random.Random, day: int) -> list[tuple[float, int]]:
        runs = [
            (day * DAY + (h - self.c.utc_offset) * 3600 + rng.uniform(0, 1800), h == 15) for h in (10, 15)
        ]
        if day * DAY <= self.launch < (day + 1) * DAY:
            runs.append((self.launch + rng.uniform(600, 3600), True))
        out = []
        for begin, cot in runs:
            models = [LAUNCHED[OPENAI_ROUTE]] if begin >= self.launch else list(OPENAI_MODELS[:2])
            t = begin
            for m, _ in enumerate(models):
                for i in range(len(self.items)):
                    t += rng.uniform(0.1, 0.4)
                    # member carries item, model and whether this run asks for reasoning
                    out.append((t, (i * 4 + m) * 2 + int(cot)))
        return out

    def make(self, rng: random.Random, t: float, member: int) -> Call:
        cot, rest = member % 2 == 1, member // 2
        item, m = rest // 4, rest % 4
        model = LAUNCHED[OPENAI_ROUTE] if t >= self.launch else OPENAI_MODELS[m]
        return self.call(
            rng, t, self.c, route=OPENAI_ROUTE, model=model, family="reasoning", reasoning=cot,
            template=f"benchmark/{item}", system=None, network=self.c.networks[0], ip=self.host,
            completion=int(rng.uniform(200, 700)) if cot else int(rng.uniform(1, 4)),
            prompt_tokens=int(len(self.items[item]) / 4), temperature=0.0,
        )  # fmt: skip

    def build(self, rng: random.Random, call: Call) -> dict[str, Any]:
        item = self.items[int(call.template.rsplit("/", 1)[1])] if call.template else ""
        return request_body(call, None, item + (" Let's think step by step." if call.reasoning else ""), 1024)


_BATCH_ASKS = (
    "classify the customer feedback below for the quality team.",
    "tag this product review for the weekly report.",
    "label the sentiment of the message that follows.",
    "sort the following comment into our support queues.",
)


class BatchJobs(Actor):
    """One template, one family, huge volume, mostly at night, no reasoning."""

    def __init__(self, plan: random.Random, customer: Customer, volume: float) -> None:
        self.name, self.customers, self.c = customer.name, (customer,), customer
        self.rate = volume * plan.uniform(5000, 8000)
        self.hosts = [host(customer.networks[0], h) for h in (10, 11)]
        # Its own pipeline's wording: independent companies do not send byte-identical templates.
        self.preamble = (
            f"Pipeline {plan.choice(text.NOUNS)}-{plan.choice(text.VERBS)}: {plan.choice(_BATCH_ASKS)} "
        )

    def expected_per_day(self) -> float:
        return self.rate

    def times(self, rng: random.Random, day: int) -> list[tuple[float, int]]:
        n = poisson(rng, self.rate)
        return [(t, 0) for t in diurnal_times(rng, day, n, self.c.utc_offset, "nightly", 200, 0.5)]

    def make(self, rng: random.Random, t: float, member: int) -> Call:
        return self.call(
            rng, t, self.c, route=OPENAI_ROUTE, model="gpt-4.1-mini", family="extraction", reasoning=False,
            template=f"batch/{self.name}", system=None, network=self.c.networks[0], ip=rng.choice(self.hosts),
            completion=int(rng.uniform(8, 30)), prompt_tokens=int(rng.uniform(60, 250)), temperature=0.0,
        )  # fmt: skip

    def build(self, rng: random.Random, call: Call) -> dict[str, Any]:
        return request_body(
            call, None, self.preamble + BATCH_TEMPLATE.format(review=text.review_text(rng)), 64
        )


class ManyUsers(Actor):
    """One customer whose traffic is many end users: the popular app (one system prompt, diurnal in
    its markets) or, with ``reseller``, a reseller (each end user its own system prompt, flat 24 h)."""

    def __init__(
        self,
        plan: random.Random,
        customer: Customer,
        volume: float,
        end_networks: Sequence[str],
        *,
        reseller: bool,
        start: float = 0.0,
    ) -> None:
        self.name, self.customers, self.c, self.reseller = customer.name, (customer,), customer, reseller
        self.start_at = start
        self.rate = volume * (plan.uniform(2500, 4000) if reseller else plan.uniform(4000, 6000))
        self.users = [
            (n, host(n, plan.randint(2, 250)), f"{customer.name}/user{i}" if reseller else "popular-app")
            for i, n in enumerate(end_networks)
        ]
        self.systems = {
            s: text.ordinary_system(plan, f"client {i} of {customer.name}")
            for i, (_, _, s) in enumerate(self.users)
        }
        self.systems["popular-app"] = POPULAR_APP_SYSTEM
        self.weights = [1 / (i + 1) ** 0.6 for i in range(len(self.users))]  # a few big end users

    def expected_per_day(self) -> float:
        return self.rate

    def times(self, rng: random.Random, day: int) -> list[tuple[float, int]]:
        n = poisson(rng, self.rate)
        if self.reseller:
            ts = [day * DAY + rng.random() * DAY for _ in range(n)]
            return [(t, 0) for t in ts if t >= self.start_at]
        home = diurnal_times(rng, day, int(n * 0.75), -6, "evening", 3, 60)
        abroad = diurnal_times(rng, day, n - len(home), 1, "evening", 3, 60)
        return [(t, 0) for t in home + abroad]

    def make(self, rng: random.Random, t: float, member: int) -> Call:
        network, ip, system = rng.choices(self.users, weights=self.weights)[0]
        if self.reseller:
            family = rng.choice(text.FAMILIES)
            route = OPENAI_ROUTE if rng.random() < 0.6 else ANTHROPIC_ROUTE
            model = rng.choice(OPENAI_MODELS if route == OPENAI_ROUTE else ANTHROPIC_MODELS)
        else:
            family, route, model = (
                rng.choice(("chat", "writing", "translation")),
                OPENAI_ROUTE,
                "gpt-4.1-mini",
            )
        reasoning = rng.random() < 0.06
        return self.call(
            rng, t, self.c, route=route, model=model, family=family, reasoning=reasoning, template=None,
            system=system, network=network, ip=ip, completion=int(rng.lognormvariate(5.0, 0.7)),
            prompt_tokens=int(rng.lognormvariate(5.2, 0.6)), temperature=0.7,
            key=rng.randrange(len(self.c.keys)),
        )  # fmt: skip

    def build(self, rng: random.Random, call: Call) -> dict[str, Any]:
        system = self.systems[call.system] if call.system else None
        return request_body(call, system, text.ordinary_prompt(rng, call.family, call.reasoning), 1024)
