"""The evaluation harness end to end with stand-ins for the import and the engine: an oracle that
flags what was planted (and a low-score finding the policy's cutoff must drop)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

import pytest

from gateway.detect.findings import Finding
from gateway.policy import load_policy
from tests.traffic.generator import Config, generate
from tests.traffic.harness import run_evaluation

TRAFFIC = generate(Config.small(seed=3))


class Recorder:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def __call__(self, pool: object, records: Iterable[dict[str, Any]]) -> None:
        self.records.extend(records)


def finding(kind: str, members: Iterable[uuid.UUID], score: float, since, until) -> Finding:
    return Finding(
        kind=kind,  # type: ignore[arg-type]
        members=tuple(sorted(members)),
        score=score,
        signals={},
        reasons=(),
        first_seen=since,
        since=since,
        until=until,
    )


class Oracle:
    """Flags each campaign at the first run after it started; a legit heavy user below the cutoff."""

    def __init__(self) -> None:
        self.windows: list[tuple[dt.datetime, dt.datetime, dt.datetime]] = []

    async def __call__(self, conn, policy, since, until, *, now) -> list[Finding]:
        self.windows.append((since, until, now))
        kinds = {
            "ring_linked": "ring",
            "ring_unlinked": "ring",
            "reseller": "reseller",
            "extractor": "extractor",
        }
        out = [
            finding(kinds[c.type], c.members, 0.9, since, until) for c in TRAFFIC.campaigns if c.start < until
        ]
        lab = TRAFFIC.labelled("legit_heavy")[0].id
        out.append(finding("extractor", [lab], policy.detection.actions.flag / 2, since, until))
        return out


class FakePool:
    def acquire(self) -> FakePool:
        return self

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


async def test_the_harness_loads_every_call_runs_on_schedule_and_scores_an_oracle_perfect() -> None:
    loader, oracle, policy = Recorder(), Oracle(), load_policy()
    report = await run_evaluation(
        FakePool(), TRAFFIC, load_calls=loader, detect=oracle, policy=policy, every=dt.timedelta(hours=12)
    )  # type: ignore[arg-type]
    assert len(loader.records) == sum(1 for _ in TRAFFIC.calls())
    assert [w[1] for w in oracle.windows] == [TRAFFIC.start + dt.timedelta(hours=12 * i) for i in range(1, 7)]
    assert all(now == until and since == TRAFFIC.start for since, until, now in oracle.windows)
    assert report.meets() == []
    for r in report.types.values():
        assert (r.recall, r.precision) == (1.0, 1.0)
        assert all(dt.timedelta(0) < t <= dt.timedelta(hours=12) for t in r.times_to_flag)
    assert report.legit_heavy_flagged == []  # below the flag cutoff: dropped
    owner = {k.id: c.id for c in TRAFFIC.customers for k in c.keys}
    assert report.active_accounts == len({owner[r["key_id"]] for r in loader.records})
    assert report.active_accounts >= 0.95 * len(TRAFFIC.customers)


@pytest.mark.parametrize("every", [dt.timedelta(hours=5)])
async def test_the_last_run_ends_at_the_end_of_the_traffic(every: dt.timedelta) -> None:
    oracle = Oracle()
    await run_evaluation(
        FakePool(), TRAFFIC, load_calls=Recorder(), detect=oracle, policy=load_policy(), every=every
    )  # type: ignore[arg-type]
    assert oracle.windows[-1][1] == TRAFFIC.end and oracle.windows[-2][1] == TRAFFIC.start + dt.timedelta(
        hours=70
    )
