from __future__ import annotations

import random
import uuid

import numpy as np

from gateway.detect.bands import band_figures, network_postings


def _brute(accounts, owner, calls, bands):  # type: ignore[no-untyped-def]
    """The definitions, pair by pair."""
    n = len(owner)
    variant: dict[uuid.UUID, int] = {}
    shared: dict[uuid.UUID, int] = {}
    holders: dict[int, set[int]] = {}
    for i in range(n):
        for b in bands[i]:
            holders.setdefault(int(b), set()).add(int(owner[i]))
    for i in range(n):
        mine = set(bands[i].tolist())
        if any(owner[j] == owner[i] and j != i and mine & set(bands[j].tolist()) for j in range(n)):
            variant[accounts[owner[i]]] = variant.get(accounts[owner[i]], 0) + int(calls[i])
        if any(len(holders[int(b)]) >= 2 for b in mine):
            shared[accounts[owner[i]]] = shared.get(accounts[owner[i]], 0) + int(calls[i])
    return variant, shared, holders


def test_band_figures_match_their_definitions() -> None:
    rng = random.Random(1)
    accounts = [uuid.UUID(int=i + 1) for i in range(12)]
    pool = list(range(60))  # few band keys: many collisions, inside and across accounts
    owner = np.array([rng.randrange(12) for _ in range(80)], dtype=np.int64)
    calls = np.array([rng.randint(1, 9) for _ in range(80)], dtype=np.int64)
    bands = np.array([[rng.choice(pool) * 8 + k for k in range(8)] for _ in range(80)], dtype=np.int64)
    got = band_figures(accounts, owner, calls, bands, per_account=1000)
    variant, shared, holders = _brute(accounts, owner, calls, bands)
    assert got.variant_calls == variant
    assert got.shared_calls == shared
    for p in got.postings:
        assert p.kind == "band" and p.holders == len(holders[int(p.key)]) >= 2
        i = accounts.index(p.customer_id)
        assert p.calls == sum(int(calls[t]) for t in range(80) if owner[t] == i and int(p.key) in bands[t])
    expected = {(accounts[a], b) for b, hs in holders.items() if len(hs) >= 2 for a in hs}
    assert {(p.customer_id, int(p.key)) for p in got.postings} == expected


def test_postings_keep_each_accounts_most_used_bands() -> None:
    accounts = [uuid.UUID(int=1), uuid.UUID(int=2)]
    owner = np.array([0, 0, 1, 1], dtype=np.int64)
    calls = np.array([5, 1, 5, 1], dtype=np.int64)
    bands = np.array([[10, 11], [20, 21], [10, 11], [20, 21]], dtype=np.int64)
    got = band_figures(accounts, owner, calls, bands, per_account=2)
    assert [(p.customer_id.int, p.key, p.calls) for p in got.postings] == [
        (1, "10", 5), (1, "11", 5), (2, "10", 5), (2, "11", 5)
    ]  # fmt: skip
    assert band_figures(accounts, owner[:0], calls[:0], bands[:0], per_account=2).postings == []


def test_network_postings_are_the_shared_networks() -> None:
    a, b = uuid.UUID(int=1), uuid.UUID(int=2)
    calls = {(a, "n1"): 5, (b, "n1"): 2, (a, "n2"): 9}
    assert [(p.customer_id, p.key, p.calls, p.holders) for p in network_postings(calls, per_account=5)] == [
        (a, "n1", 5, 2), (b, "n1", 2, 2)
    ]  # fmt: skip
