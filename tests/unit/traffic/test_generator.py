"""The traffic generator: deterministic by seed, and each planted shape as specified."""

from __future__ import annotations

import collections
import datetime as dt
import ipaddress
import itertools
import random
import re
import uuid

import pytest

from tests.traffic import text
from tests.traffic.actors import DAY, LAUNCHED
from tests.traffic.generator import Config, Traffic, for_events, generate
from tests.traffic.heavy import POPULAR_APP_SYSTEM
from tests.traffic.model import Call
from tests.traffic.text import COT_PHRASES, POPULAR_AGENT_SYSTEM

CONFIG = Config.small(seed=11)


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    return generate(CONFIG)


@pytest.fixture(scope="module")
def calls(traffic: Traffic) -> list[Call]:
    return list(traffic.calls())


def by_customer(calls: list[Call]) -> dict[uuid.UUID, list[Call]]:
    out: dict[uuid.UUID, list[Call]] = collections.defaultdict(list)
    for c in calls:
        out[c.customer_id].append(c)
    return out


def system_of(record: dict) -> str | None:
    body = record["body"]
    if "system" in body:
        return body["system"]
    first = body["messages"][0]
    return first["content"] if first["role"] == "system" else None


def user_text(record: dict) -> str:
    return record["body"]["messages"][-1]["content"]


def test_the_same_seed_gives_the_same_customers_and_calls_and_another_seed_does_not(traffic, calls) -> None:
    again = generate(Config.small(seed=11))
    assert again.customers == traffic.customers and again.campaigns == traffic.campaigns
    head = [r for r in itertools.islice(again.records(), 300)]
    assert head == [c.record() for c in calls[:300]]
    other = generate(Config.small(seed=12))
    assert {c.id for c in other.customers}.isdisjoint({c.id for c in traffic.customers})


def test_records_are_in_time_order_within_the_window_in_the_import_format(traffic, calls) -> None:
    assert all(a.at <= b.at for a, b in itertools.pairwise(calls))
    assert traffic.start <= calls[0].at and calls[-1].at < traffic.end
    keys = {k.id: c.id for c in traffic.customers for k in c.keys}
    assert len(keys) == sum(len(c.keys) for c in traffic.customers)
    assert len({c.request_id for c in calls}) == len(calls)
    for record in (c.record() for c in calls[::97]):
        assert set(record) == {
            "request_id", "occurred_at", "key_id", "route", "model", "status", "stream",
            "prompt_tokens", "completion_tokens", "duration_ms", "client_ip", "body",
        }  # fmt: skip
        assert re.fullmatch(r"[0-9a-f]{16}", record["key_id"]) and record["key_id"] in keys
        assert dt.datetime.fromisoformat(record["occurred_at"]).tzinfo is not None
        uuid.UUID(record["request_id"])
        ipaddress.ip_address(record["client_ip"])
        assert record["status"] == 200 and record["stream"] is False
        body = record["body"]
        assert body["model"] == record["model"]
        if record["route"] == "/v1/messages":
            assert body["messages"][0]["role"] == "user" and "logprobs" not in body
        else:
            assert record["route"] == "/v1/chat/completions" and body["messages"][-1]["role"] == "user"


def test_customers_carry_kyc_facts_mostly_unique_with_a_legitimately_shared_family(traffic) -> None:
    ordinary = traffic.labelled("ordinary")
    assert {c.profile for c in ordinary} == {"hobbyist", "startup", "enterprise"}
    assert len({c.country for c in ordinary}) >= 10
    assert len({c.name for c in traffic.customers}) == len(traffic.customers)
    pay = collections.Counter(fp for c in ordinary for fp in c.payment_fingerprints)
    shared = [fp for fp, n in pay.items() if n > 1]
    assert len(shared) == 3 and sum(pay[fp] for fp in shared) == 7  # a parent + 2 subsidiaries, 2 couples
    group = [c for c in ordinary if pay[c.payment_fingerprints[0]] == 3]
    assert len({c.owners for c in group}) == 1 and group[0].owners
    assert all(c.owners for c in traffic.customers if c.kind == "organisation")


def test_ring_members_stay_small_below_a_per_account_rate_and_act_in_synchronised_bursts(
    traffic, calls
) -> None:
    per = by_customer(calls)
    ordinary_daily = sorted(len(per[c.id]) / CONFIG.days for c in traffic.labelled("ordinary"))
    median = ordinary_daily[len(ordinary_daily) // 2]
    for campaign in traffic.campaigns:
        if not campaign.type.startswith("ring"):
            continue
        active = [m for m in campaign.members if per[m]]
        assert len(active) >= 0.9 * len(campaign.members)
        for m in campaign.members:
            times = [c.at.timestamp() for c in per[m]]
            # never more than 2 calls in any minute, and no more a day than a typical customer
            assert all(b - a >= 30 for a, b in zip(times, times[2:], strict=False))
            assert len(times) / CONFIG.days <= max(3 * median, 30)
            assert all(c.at >= campaign.start for c in per[m])
        # synchronised: the members' calls fall into the same few half-hour windows of the day
        slots = collections.Counter(int((c.at - traffic.start).total_seconds() % DAY // 1800)
                                    for m in campaign.members for c in per[m])  # fmt: skip
        assert sum(n for _, n in slots.most_common(16)) >= 0.95 * sum(slots.values())


def test_rings_send_a_few_templates_eliciting_reasoning(traffic, calls) -> None:
    for campaign in traffic.campaigns:
        if not campaign.type.startswith("ring"):
            continue
        mine = [c for c in calls if c.customer_id in campaign.members]
        assert len({c.template for c in mine}) <= 4 and len({c.family for c in mine}) <= 2
        assert sum(c.reasoning for c in mine) >= 0.7 * len(mine)
        texts = [user_text(c.record()) for c in mine[:50]]
        assert len(set(texts)) == len(texts)  # filled templates, not copies
        assert sum(any(p in t for p in COT_PHRASES) for t in texts) >= 0.6 * len(texts)


def test_linked_ring_shares_instruments_and_networks_the_unlinked_ring_shares_nothing(traffic) -> None:
    linked = [traffic.customer(m) for c in traffic.campaigns if c.type == "ring_linked" for m in c.members]
    pay = collections.Counter(c.payment_fingerprints[0] for c in linked)
    on_shared = sum(n for n in pay.values() if n > 1)
    assert 0.05 * len(linked) <= on_shared <= 0.35 * len(linked)
    assert len({c.networks for c in linked}) <= len(linked) // 10
    unlinked = [
        traffic.customer(m) for c in traffic.campaigns if c.type == "ring_unlinked" for m in c.members
    ]
    others = [
        c for c in traffic.customers if c.campaign is None or c.campaign.startswith("ring_unlinked") is False
    ]
    for attribute in ("payment_fingerprints", "networks", "owners"):
        values = [v for c in unlinked for v in getattr(c, attribute)]
        assert len(values) == len(set(values))
        assert set(values).isdisjoint(v for c in others for v in getattr(c, attribute))


def test_the_popular_app_has_one_system_prompt_many_networks_and_a_daily_rhythm(traffic, calls) -> None:
    (app,) = [c for c in traffic.customers if c.profile == "popular_app"]
    mine = [c for c in calls if c.customer_id == app.id]
    assert {system_of(c.record()) for c in mine[::10]} == {POPULAR_APP_SYSTEM}
    assert len({c.network for c in mine}) >= 100
    hours = collections.Counter(c.at.hour for c in mine)
    assert max(hours.values()) >= 4 * max(1, min(hours.get(h, 0) for h in range(24)))


def test_the_reseller_has_many_system_prompts_and_networks_around_the_clock(traffic, calls) -> None:
    (reseller,) = traffic.labelled("reseller")
    mine = [c for c in calls if c.customer_id == reseller.id]
    assert len({c.system for c in mine}) >= 40 and len({c.network for c in mine}) >= 40
    hours = collections.Counter(c.at.hour for c in mine)
    assert min(hours.get(h, 0) for h in range(24)) >= 0.4 * max(hours.values())


def test_the_extractor_uses_cot_templates_and_logprobs_and_starts_late(traffic, calls) -> None:
    (x,) = traffic.labelled("extractor")
    (campaign,) = [c for c in traffic.campaigns if c.type == "extractor"]
    mine = [c for c in calls if c.customer_id == x.id]
    assert mine[0].at >= campaign.start > traffic.start
    assert sum(c.reasoning for c in mine) >= 0.75 * len(mine)
    assert sum(c.logprobs for c in mine) >= 0.4 * len(mine) and any(c.logit_bias for c in mine)
    assert len({c.family for c in mine}) >= 5
    bodies = [c.record()["body"] for c in mine if c.logprobs][:20]
    assert all(b["logprobs"] is True and b["top_logprobs"] in (5, 10, 20) for b in bodies)


def test_legit_heavy_users_benchmark_repeats_its_set_and_batch_is_one_template_without_cot(
    traffic, calls
) -> None:
    (lab,) = [c for c in traffic.customers if c.profile == "benchmark_lab"]
    (batch,) = [c for c in traffic.customers if c.profile == "batch_jobs"]
    labs = [c for c in calls if c.customer_id == lab.id]
    prompts = collections.Counter(user_text(c.record()) for c in labs)
    assert max(prompts.values()) >= 4  # the same items, run after run
    assert 0 < sum(c.reasoning for c in labs) < len(labs)
    batches = [c for c in calls if c.customer_id == batch.id]
    assert (
        len({c.template for c in batches}) == 1
        and batches[0].template.startswith("batch/")
        and {c.family for c in batches} == {"extraction"}
    )
    assert not any(c.reasoning for c in batches)
    assert len(batches) >= 3 * max(len(v) for k, v in by_customer(calls).items()
                                   if traffic.customer(k).label == "ordinary") / 2  # fmt: skip


def test_the_new_model_is_called_only_after_its_launch_and_campaigns_move_to_it(traffic, calls) -> None:
    launched = set(LAUNCHED.values())
    assert all(c.at >= traffic.launch for c in calls if c.model in launched)
    ring = [
        c for c in calls if traffic.customer(c.customer_id).label == "ring_linked" and c.at >= traffic.launch
    ]
    assert sum(c.model in launched for c in ring) >= 0.35 * len(ring)


def test_some_ordinary_customers_share_the_popular_agent_prompt_unsynchronised(traffic, calls) -> None:
    users = {c.customer_id for c in calls[::3] if c.system == "popular-agent"}
    assert len(users) >= 3
    assert all(traffic.customer(u).label == "ordinary" for u in users)
    sample = next(c for c in calls if c.system == "popular-agent")
    assert system_of(sample.record()) == POPULAR_AGENT_SYSTEM


def test_for_events_sizes_the_ordinary_population_to_the_event_count() -> None:
    config = for_events(200_000, days=2, seed=3, volume=1.0)
    expected = generate(config).expected_calls()
    assert 0.9 * 200_000 <= expected <= 1.1 * 200_000
    small = for_events(60_000, days=3, seed=3)
    traffic = generate(small)
    ordinary = sum(a.expected_per_day() for a in traffic.actors if a.customers[0].label == "ordinary")
    assert small.volume < 1 and ordinary * 3 >= 0.55 * traffic.expected_calls()
    assert 0.85 * 60_000 <= traffic.expected_calls() <= 1.15 * 60_000


def test_a_campaign_fills_distinct_skeletons() -> None:
    rng = random.Random(4)
    families = ("code", "math", "reasoning", "tools", "writing")
    first = text.campaign_templates(rng, families, 2)
    assert len({s for _, s in first}) == len(first) == 7  # two skeletons for code, math; one for the rest
