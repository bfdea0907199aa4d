"""Template figures from LSH band keys (pure, numpy): which of an account's skeletons are systematic
variants of one another, which it shares with other accounts, and the shared band keys themselves
(the postings the linkage weighs).

Input: one row per distinct (account, skeleton) of the window's sample, with its calls and its first
:data:`~.linkage.BANDS` band keys. Two skeletons are near-duplicates when they share a band key (LSH:
at 8 rows per band, Jaccard 0.9 shares one of 8 bands with probability 0.99, 0.5 with 0.03). Sorting
the (account, band) pairs once gives all of it in O(n log n); PostgreSQL did the same with hash joins
over materialised CTEs several times slower.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

import msgspec
import numpy as np
import numpy.typing as npt

from .linkage import Posting


class BandFigures(msgspec.Struct, frozen=True):
    """Per account: calls on skeletons that are variants of another of its own, and calls on
    skeletons sharing a band with another account's (both out of the sampled calls)."""

    variant_calls: dict[uuid.UUID, int]
    shared_calls: dict[uuid.UUID, int]
    postings: list[Posting]


def band_figures(
    accounts: Sequence[uuid.UUID],
    owner: npt.NDArray[np.int64],
    calls: npt.NDArray[np.int64],
    bands: npt.NDArray[np.int64],
    *,
    per_account: int,
) -> BandFigures:
    """``owner[i]`` indexes ``accounts``, ``calls[i]`` and ``bands[i]`` (one row of band keys) describe
    skeleton ``i``. ``per_account`` bounds the postings kept per account (its most used bands)."""
    n, width = bands.shape if bands.ndim == 2 else (0, 0)
    if n == 0 or width == 0:
        return BandFigures({}, {}, [])
    acc = np.repeat(owner, width)
    tmpl = np.repeat(np.arange(n), width)
    band = bands.reshape(-1)
    order = np.lexsort((band, acc))
    acc, tmpl, band = acc[order], tmpl[order], band[order]
    # Groups of equal (account, band).
    start = np.flatnonzero(np.r_[True, (acc[1:] != acc[:-1]) | (band[1:] != band[:-1])])
    size = np.diff(np.r_[start, len(acc)])
    group = np.repeat(np.arange(len(start)), size)
    g_acc, g_band = acc[start], band[start]
    g_calls = np.add.reduceat(calls[tmpl], start)
    # A band held by two of the account's skeletons makes both variants.
    variant = np.zeros(n, dtype=bool)
    variant[tmpl[size[group] >= 2]] = True
    # Holders of each band: the number of (account, band) groups with that band.
    by_band = np.argsort(g_band, kind="stable")
    sorted_band = g_band[by_band]
    b_start = np.flatnonzero(np.r_[True, sorted_band[1:] != sorted_band[:-1]])
    b_size = np.diff(np.r_[b_start, len(sorted_band)])
    holders = np.empty(len(g_band), dtype=np.int64)
    holders[by_band] = np.repeat(b_size, b_size)
    shared_group = holders >= 2
    shared = np.zeros(n, dtype=bool)
    shared[tmpl[shared_group[group]]] = True

    variant_calls = np.bincount(owner[variant], weights=calls[variant], minlength=len(accounts))
    shared_calls = np.bincount(owner[shared], weights=calls[shared], minlength=len(accounts))
    postings: list[Posting] = []
    kept = np.flatnonzero(shared_group)
    # Most used first within each account, then by band key: a stable cut.
    kept = kept[np.lexsort((g_band[kept], -g_calls[kept], g_acc[kept]))]
    rank = np.zeros(len(kept), dtype=np.int64)
    if len(kept):
        first = np.flatnonzero(np.r_[True, g_acc[kept][1:] != g_acc[kept][:-1]])
        rank = np.arange(len(kept)) - np.repeat(first, np.diff(np.r_[first, len(kept)]))
    for g in kept[rank < per_account].tolist():
        postings.append(
            Posting(accounts[int(g_acc[g])], "band", str(int(g_band[g])), int(g_calls[g]), int(holders[g]))
        )
    return BandFigures(
        {accounts[i]: int(c) for i, c in enumerate(variant_calls.tolist()) if c},
        {accounts[i]: int(c) for i, c in enumerate(shared_calls.tolist()) if c},
        postings,
    )


def network_postings(calls: Mapping[tuple[uuid.UUID, str], int], *, per_account: int) -> list[Posting]:
    """The client networks (/24) held by two or more accounts, as postings: each account's most used
    ``per_account`` of them."""
    holders: dict[str, int] = {}
    for _customer, network in calls:
        holders[network] = holders.get(network, 0) + 1
    mine: dict[uuid.UUID, list[tuple[int, str]]] = {}
    for (customer, network), n in calls.items():
        if holders[network] >= 2:
            mine.setdefault(customer, []).append((-n, network))
    postings: list[Posting] = []
    for customer in sorted(mine):
        for n, network in sorted(mine[customer])[:per_account]:
            postings.append(Posting(customer, "network", network, -n, holders[network]))
    return postings
