from __future__ import annotations

import random
import uuid

import networkx as nx
import numpy as np

from gateway.detect.linkage import (
    BANDS,
    FULL_PAIRS,
    MIN_EDGE,
    Posting,
    _pairs,
    cluster,
    hard_components,
    residuals,
    soft_evidence,
    sync_noise,
)

from .helpers import HOURS, diurnal, flat, uid, waves


def _cluster(hourly, calls, hard=(), postings=()):  # type: ignore[no-untyped-def]
    return cluster(sorted(calls), hourly, calls, calls, hard, postings, hours=HOURS, offset=0)


def _bands(members: list[uuid.UUID], key: str, calls: dict[uuid.UUID, int], share: float) -> list[Posting]:
    """Every member sends one skeleton (all its bands) on ``share`` of its calls."""
    return [
        Posting(m, "band", f"{key}-{b}", max(1, int(calls[m] * share)), len(members))
        for m in members
        for b in range(BANDS)
    ]


def test_hard_links_merge_transitively() -> None:
    rng = random.Random(1)
    a, b, c, d = sorted(uid(rng) for _ in range(4))
    hard = [
        (a, ("payment", "card-1")),
        (b, ("payment", "card-1")),
        (b, ("owner", "ab")),
        (c, ("owner", "ab")),
    ]
    uf, links = hard_components(hard)
    assert uf.find(a) == uf.find(b) == uf.find(c) == a
    assert {(lk.a, lk.b, lk.kind) for lk in links} == {(a, b, "payment"), (b, c, "owner")}
    calls = {m: 100 for m in (a, b, c, d)}
    hourly = {m: diurnal(rng, 100) for m in calls}
    [found] = _cluster(hourly, calls, hard)
    assert found.members == (a, b, c)
    assert found.hard_members == 3
    assert all(lk.hard for lk in found.links)


def test_residuals_take_out_the_daily_rhythm() -> None:
    rng = random.Random(2)
    x = residuals(diurnal(rng, 5000), HOURS, 0)
    y = residuals(diurnal(rng, 5000), HOURS, 0)
    assert abs(float(x @ y)) < 0.2  # two offices in one time zone are not synchronised
    schedule = [1.0 if rng.random() < 0.3 else 0.0 for _ in range(HOURS)]
    u = residuals(waves(rng, 300, schedule), HOURS, 0)
    v = residuals(waves(rng, 300, schedule), HOURS, 0)
    assert float(u @ v) > 0.5
    assert float(np.linalg.norm(residuals({}, HOURS, 0))) == 0.0


def test_a_common_template_used_at_unrelated_times_does_not_link_but_a_synchronised_one_does() -> None:
    rng = random.Random(3)
    ordinary = [uid(rng) for _ in range(200)]
    ring = [uid(rng) for _ in range(40)]
    calls = {m: rng.randint(50, 400) for m in ordinary} | {m: rng.randint(30, 60) for m in ring}
    hourly = {m: diurnal(rng, calls[m], rng.randint(-8, 8)) for m in ordinary}
    schedule = [1.0 if rng.random() < 0.3 else 0.0 for _ in range(HOURS)]
    hourly |= {m: waves(rng, calls[m], schedule) for m in ring}
    common = ordinary[:60]
    postings = _bands(common, "common", calls, 0.3) + _bands(ring, "ring", calls, 0.9)

    ordered = sorted(calls)
    vectors = np.array([residuals(hourly[m], HOURS, 0) for m in ordered])
    ev = soft_evidence(postings, ordered, calls, calls, vectors, sync_noise(HOURS))
    inside = {ordered[i] for i in ev.a.tolist() + ev.b.tolist()}
    assert set(common) <= inside  # evidence, before timing
    assert float(ev.template.max()) > 0 and float(ev.network.max()) == 0
    found = _cluster(hourly, calls, postings=postings)
    [c] = [c for c in found if set(c.members) & set(ring)]
    assert c.members == tuple(sorted(ring))
    assert c.template_members == len(ring) and c.sync > 0.3
    # Chance correlations may pair a few of the common template's users; they never make a group.
    assert all(len(c.members) <= 2 for c in found if c.members != tuple(sorted(ring)))
    assert c.links[0].kind == "timing"  # the strongest: shared skeletons sent in step
    assert all(lk.kind in ("timing", "template") and lk.weight >= MIN_EDGE for lk in c.links)


def test_shared_networks_link_a_ring_and_a_cloud_nat_shared_by_everyone_is_weak() -> None:
    rng = random.Random(4)
    accounts = [uid(rng) for _ in range(300)]
    ring = accounts[:25]
    calls = dict.fromkeys(accounts, 100)
    hourly = {m: flat(rng, 100) for m in accounts}
    postings = [Posting(m, "network", "198.51.100.0/24", 100, len(ring)) for m in ring]
    postings += [Posting(m, "network", "203.0.113.0/24", 5, 290) for m in accounts[:290]]
    found = _cluster(hourly, calls, postings=postings)
    ring_cluster = next(c for c in found if set(ring) <= set(c.members))
    assert len(ring_cluster.members) == len(ring)


def test_large_artifacts_get_a_sparse_connected_layout() -> None:
    members = sorted(uuid.UUID(int=i) for i in range(1, 501))
    i, j = _pairs(members)
    pairs = {(min(a, b), max(a, b)) for a, b in zip(i.tolist(), j.tolist(), strict=True)}
    assert len(pairs) == len(i) < 500 * 40  # not the 124,750 of every pair, and none twice
    assert nx.is_connected(nx.Graph(list(pairs)))
    assert len(_pairs(members[:FULL_PAIRS])[0]) == FULL_PAIRS * (FULL_PAIRS - 1) // 2


def test_a_large_synchronised_ring_stays_one_cluster_and_the_result_is_deterministic() -> None:
    """2,000 small accounts, each sending some variants of five templates: each band key has its own
    subset of the ring as holders, and the evidence must still add up to one cluster."""
    rng = random.Random(5)
    ordinary = [uid(rng) for _ in range(1000)]
    ring = [uid(rng) for _ in range(2000)]
    calls = {m: rng.randint(50, 400) for m in ordinary} | {m: rng.randint(20, 40) for m in ring}
    hourly = {m: diurnal(rng, calls[m], rng.randint(-8, 8)) for m in ordinary}
    schedule = [1.0 if rng.random() < 0.3 else 0.0 for _ in range(HOURS)]
    hourly |= {m: waves(rng, calls[m], schedule) for m in ring}
    keys = [f"family-{f}-{b}" for f in range(5) for b in range(BANDS)]
    postings = [
        Posting(m, "band", key, max(1, calls[m] // 10), 1200)
        for m in ring
        for key in keys
        if rng.random() < 0.6
    ] + _bands(ordinary[:200], "common", calls, 0.3)
    first = _cluster(hourly, calls, postings=postings)
    big = max(first, key=lambda c: len(c.members))
    assert set(big.members) <= set(ring) and len(big.members) >= 1960  # a straggler or two may fall off
    assert all(len(c.members) <= 2 for c in first if c is not big)
    rng.shuffle(postings)
    again = cluster(list(reversed(sorted(calls))), hourly, calls, calls, (), postings, hours=HOURS, offset=0)
    assert again == first
