"""Which accounts belong together (pure): hard links merged, soft links weighed and clustered.

- **Hard links** (the same payment instrument, the same beneficial owner) merge accounts outright,
  by union-find.
- **Soft links** come from shared artifacts, each weighted by its inverse frequency among the
  window's active accounts (a /24 shared by a cloud NAT or a skeleton everybody sends is weak; a
  rare one is strong) and by how much of each account's traffic carries it:
  shared client networks, and shared LSH band keys of prompt skeletons (a near-identical or
  systematically varied template). Template evidence counts fully only where the artifact's
  holders move together (each holder's hourly activity, its own daily rhythm taken out, correlated
  with the sum of the other holders'), so a common template sent by unrelated accounts at their own
  times links them only weakly, and a thousand small accounts in step link strongly.
- The soft graph, with each hard component contracted to one node, is clustered with Louvain
  (networkx, BSD; fixed seed, weighted), one connected component at a time.

Artifacts shared by many accounts would give a quadratic number of pairs; beyond
:data:`FULL_PAIRS` holders each is linked to the artifact's :data:`ANCHORS` first holders instead.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence

import msgspec
import numpy as np
import numpy.typing as npt

from .findings import Link

BANDS = 8
"""LSH bands read per prompt signature (the first 8 of its 16): a skeleton shared outright shares
all of them; two skeletons at Jaccard 0.9 share at least one with probability 0.99, at 0.8 with
0.77, at 0.5 with 0.03. Half the bands, half the cost of the costliest query."""
FULL_PAIRS = 32
"""Up to this many accounts share an artifact, every pair is linked; beyond it, each to anchors."""
ANCHORS = 8
"""Beyond :data:`FULL_PAIRS` holders, each holder is linked to the artifact's first 8 holders in id
order (ids are random), which link among themselves: linear in the holders, a many-centred star that
Louvain keeps whole, and consistent across artifacts. The last matters: a ring's band keys have
overlapping but different holders (each member sends some variants), and only pairs that recur
across artifacts accumulate their evidence; per-artifact random layouts scattered it over different
pairs, each too weak alone."""
SYNC_FLOOR = 0.05
"""What template evidence keeps between accounts whose activity is not synchronised at all: little.
Inverse frequency alone cannot tell a big ring's templates (held by many, so not rare) from a
popular template (held by many unrelated accounts); whether the holders move together can."""
SYNC_SIGMAS = 3.0
"""Two independent accounts' hourly residuals correlate by chance with a spread of about
1/sqrt(hours) (0.077 over a week): a correlation counts only beyond this many spreads (0.23 over a
week), so that among thousands of candidate pairs chance alone links almost none."""
SYNC_SPAN = 0.3
"""From the noise level plus this, template evidence counts fully."""
MIN_EDGE = 0.01
"""Soft links weaker than this are dropped before clustering. A template held by a fifth of the
accounts, for a third of their traffic, sent at unsynchronised times weighs about 0.004; a big ring's
members (two of five thousand holding most of the same variants at a tenth of their traffic each,
in step) about 0.02."""
LOUVAIN_SEED = 16
LOUVAIN_RESOLUTION = 0.2
"""Below 1, Louvain prefers larger communities: a component is split only where fewer than about a
tenth of its link weight crosses the cut. At 1, an isolated dense ring (run alone, as each component
is) has modularity 0 whole and is cut into arbitrary pieces; weakly bridged groups still split."""
MAX_LINKS = 24
"""Links kept per cluster as evidence (the strongest)."""

Artifact = tuple[str, str]
"""(kind, key): ``("payment", fingerprint)``, ``("owner", name index)``, ``("network", "203.0.113.0/24")``,
``("band", "123456789")``."""


class Posting(msgspec.Struct, frozen=True):
    """An account's calls carrying one shared artifact (a network or an LSH band key)."""

    customer_id: uuid.UUID
    kind: str
    key: str
    calls: int
    holders: int = 0
    """How many active accounts carry it (their postings may be cut off by :mod:`.queries`)."""


class Cluster(msgspec.Struct, frozen=True, kw_only=True):
    members: tuple[uuid.UUID, ...]
    """Sorted."""
    links: tuple[Link, ...]
    """The strongest links inside the cluster (hard ones first)."""
    hard_members: int
    """Members hard-linked (payment, owner) to another member."""
    network_members: int
    """Members sharing a client network with another member."""
    template_members: int
    """Members sharing prompt skeletons with another member."""
    sync: float
    """Mean correlation of each member's activity with the rest of the cluster's (daily rhythm out)."""


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[uuid.UUID, uuid.UUID] = {}

    def find(self, x: uuid.UUID) -> uuid.UUID:
        parent = self.parent
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union(self, a: uuid.UUID, b: uuid.UUID) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:  # the smaller id is the root: the same components whatever the order
            self.parent[max(ra, rb)] = min(ra, rb)


def hard_components(
    hard: Iterable[tuple[uuid.UUID, Artifact]],
) -> tuple[UnionFind, list[Link]]:
    """Merge accounts sharing a payment fingerprint or a beneficial owner; the links are each member
    to the first (smallest id) holder of the artifact."""
    uf = UnionFind()
    holders: dict[Artifact, list[uuid.UUID]] = {}
    for customer, artifact in hard:
        holders.setdefault(artifact, []).append(customer)
    links: list[Link] = []
    for (kind, _key), members in sorted(holders.items()):
        members = sorted(set(members))
        for other in members[1:]:
            uf.union(members[0], other)
            detail = "the same payment instrument" if kind == "payment" else "the same beneficial owner"
            links.append(Link(a=members[0], b=other, kind=kind, hard=True, weight=1.0, detail=detail))
    return uf, links


def residuals(hourly: Mapping[int, int], hours: int, offset: int) -> npt.NDArray[np.float64]:
    """The account's hourly activity less its own rhythm (its mean at that hour of the day over the
    window, or its mean overall when the window is shorter than two days), scaled to unit length:
    what is left is when it was busier or quieter than usual, which synchronised accounts share and
    independent ones do not."""
    x = np.zeros(hours, dtype=np.float64)
    for h, c in hourly.items():
        if 0 <= h < hours:
            x[h] = c
    if hours >= 48:
        hod = (np.arange(hours) + offset) % 24
        sums = np.bincount(hod, weights=x, minlength=24)
        counts = np.bincount(hod, minlength=24)
        x = x - (sums / np.maximum(counts, 1))[hod]
    else:
        x = x - x.mean()
    norm = float(np.linalg.norm(x))
    return x / norm if norm > 0 else x


def _pairs(members: Sequence[uuid.UUID]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Positions (i, j) in ``members`` (sorted) to link: every pair up to :data:`FULL_PAIRS`; beyond,
    each member to the artifact's :data:`ANCHORS` first members (and those among themselves)."""
    n = len(members)
    if n <= FULL_PAIRS:
        i, j = np.triu_indices(n, 1)
        return i.astype(np.int64), j.astype(np.int64)
    ai, aj = np.triu_indices(ANCHORS, 1)
    rest = np.arange(ANCHORS, n, dtype=np.int64)
    i = np.concatenate([ai.astype(np.int64), np.repeat(rest, ANCHORS)])
    j = np.concatenate([aj.astype(np.int64), np.tile(np.arange(ANCHORS, dtype=np.int64), len(rest))])
    return i, j


class Evidence(msgspec.Struct, frozen=True):
    """Soft evidence per linked pair of account positions (``a < b``), as parallel arrays."""

    a: npt.NDArray[np.int64]
    b: npt.NDArray[np.int64]
    network: npt.NDArray[np.float64]
    template: npt.NDArray[np.float64]
    """Template evidence as found."""
    synced: npt.NDArray[np.float64]
    """Template evidence, each piece scaled by how far its holders' activity moves together."""
    sync: npt.NDArray[np.float64]
    """The pair's activity correlation (with the rest of the holders), weighted over its evidence."""


def holder_sync(vectors: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Each holder's correlation with the sum of the other holders of an artifact: for two holders
    their correlation; for many, a robust measure even when each is small and sparse (the noise of
    many independent others averages out, a shared schedule adds up)."""
    rest = vectors.sum(axis=0)[None, :] - vectors
    norms = np.linalg.norm(rest, axis=1)
    dots = np.einsum("ij,ij->i", vectors, rest)
    out: npt.NDArray[np.float64] = np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 0.0)
    return out


def soft_evidence(
    postings: Iterable[Posting],
    accounts: Sequence[uuid.UUID],
    calls: Mapping[uuid.UUID, int],
    band_calls: Mapping[uuid.UUID, int],
    vectors: npt.NDArray[np.float64],
    noise: float,
    *,
    active: int | None = None,
) -> Evidence:
    """Network and template evidence per linked pair of ``accounts`` (sorted: the active ones; row i
    of ``vectors`` is account i's activity :func:`residuals`). A posting's calls are out of the
    account's ``calls`` (networks) or ``band_calls`` (band keys, sampled). Template evidence counts
    fully only where the artifact's holders are synchronised beyond ``noise``. Accumulated in numpy:
    a ring of thousands of accounts gives millions of pair contributions. ``active`` (default: all of
    ``accounts``) is how many accounts the window has, for the inverse frequencies."""
    index = {c: i for i, c in enumerate(accounts)}
    width = len(accounts)
    active = width if active is None else active
    by_artifact: dict[Artifact, dict[uuid.UUID, int]] = {}
    frequency: dict[Artifact, int] = {}
    for p in postings:
        by_artifact.setdefault((p.kind, p.key), {})[p.customer_id] = p.calls
        frequency[(p.kind, p.key)] = max(frequency.get((p.kind, p.key), 0), p.holders)
    # Artifacts with the same holders (the bands of one shared skeleton) are one piece of evidence
    # with their weights summed: the pairs are generated once.
    merged: dict[tuple[str, tuple[uuid.UUID, ...]], dict[uuid.UUID, float]] = {}
    scale = math.log(max(active, 2))
    for (kind, key), holders in sorted(by_artifact.items()):
        if len(holders) < 2:
            continue
        df = max(len(holders), frequency[(kind, key)])
        idf = math.log(max(active, 2) / df) / scale
        per = 1.0 / BANDS if kind == "band" else 1.0
        members = tuple(sorted(holders))
        into = merged.setdefault((kind, members), {})
        out_of = band_calls if kind == "band" else calls
        for m in members:
            share = min(1.0, holders[m] / max(out_of.get(m, 1), 1))
            into[m] = into.get(m, 0.0) + idf * share * per
    keys: list[npt.NDArray[np.int64]] = []
    pieces: list[npt.NDArray[np.float64]] = []
    factors: list[npt.NDArray[np.float64]] = []
    syncs: list[npt.NDArray[np.float64]] = []
    is_network: list[npt.NDArray[np.bool_]] = []
    for (kind, members), by_member in sorted(merged.items()):
        i, j = _pairs(members)
        pos = np.array([index[m] for m in members], dtype=np.int64)
        w = np.array([by_member[m] for m in members], dtype=np.float64)
        keys.append(np.minimum(pos[i], pos[j]) * width + np.maximum(pos[i], pos[j]))
        pieces.append(np.minimum(w[i], w[j]))
        is_network.append(np.full(len(i), kind == "network"))
        if kind == "network":
            factors.append(np.ones(len(i)))
            syncs.append(np.zeros(len(i)))
            continue
        r = holder_sync(vectors[pos])
        s = np.minimum(r[i], r[j])
        syncs.append(s)
        factors.append(SYNC_FLOOR + (1 - SYNC_FLOOR) * np.clip((s - noise) / SYNC_SPAN, 0.0, 1.0))
    if not keys:
        none, zero = np.zeros(0, dtype=np.int64), np.zeros(0)
        return Evidence(none, none, zero, zero, zero, zero)
    piece = np.concatenate(pieces)
    net = np.concatenate(is_network)
    factor = np.concatenate(factors)
    sync = np.concatenate(syncs)
    unique, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    n = len(unique)

    def total(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        summed: npt.NDArray[np.float64] = np.bincount(inverse, weights=values, minlength=n).astype(np.float64)
        return summed

    tmpl = np.where(net, 0.0, piece)
    template = total(tmpl)
    mean_sync = total(tmpl * sync) / np.where(template > 0, template, 1.0)
    return Evidence(
        unique // width,
        unique % width,
        total(np.where(net, piece, 0.0)),
        template,
        total(tmpl * factor),
        mean_sync,
    )


def sync_noise(hours: int) -> float:
    return SYNC_SIGMAS / math.sqrt(max(hours, 1))


class _Pair(msgspec.Struct, frozen=True):
    network: float
    template: float
    sync: float
    weight: float


def cluster(
    accounts: Sequence[uuid.UUID],
    hourly: Mapping[uuid.UUID, Mapping[int, int]],
    calls: Mapping[uuid.UUID, int],
    band_calls: Mapping[uuid.UUID, int],
    hard: Iterable[tuple[uuid.UUID, Artifact]],
    postings: Iterable[Posting],
    *,
    hours: int,
    offset: int,
) -> list[Cluster]:
    """The window's clusters of two or more linked accounts, in a stable order.

    ``hours`` is the window's length in hours and ``offset`` the UTC hour of day at which it starts.
    """
    active = set(accounts)
    uf, hard_links = hard_components((c, art) for c, art in hard if c in active)
    mine = [p for p in postings if p.customer_id in active]
    # Activity vectors only for the accounts with shared artifacts: a 90-day window has 2,160 hours.
    ordered = sorted({p.customer_id for p in mine})
    vectors = np.zeros((len(ordered), hours), dtype=np.float64)
    for i, a in enumerate(ordered):
        vectors[i] = residuals(hourly.get(a, {}), hours, offset)
    noise = sync_noise(hours)
    ev = soft_evidence(mine, ordered, calls, band_calls, vectors, noise, active=len(active))
    weight = np.minimum(ev.network, 1.0) + np.minimum(ev.synced, 1.0)
    keep = np.flatnonzero(weight >= MIN_EDGE)
    soft = {
        (ordered[a], ordered[b]): _Pair(n, t, c, w)
        for a, b, n, t, c, w in zip(
            ev.a[keep].tolist(), ev.b[keep].tolist(), ev.network[keep].tolist(),
            ev.template[keep].tolist(), ev.sync[keep].tolist(), weight[keep].tolist(), strict=True,
        )
    }  # fmt: skip

    # networkx is imported here, when a detection runs, not with the module: the gateway imports the
    # engine at start-up (and its types reach the CLI), whether or not detection ever runs there.
    import networkx as nx

    graph: nx.Graph = nx.Graph()
    for root in sorted({uf.find(a) for a in uf.parent}):
        graph.add_node(root)
    for a, b in sorted(soft):
        ra, rb = uf.find(a), uf.find(b)
        if ra == rb:
            continue
        w = soft[(a, b)].weight
        if graph.has_edge(ra, rb):
            graph[ra][rb]["weight"] += w
        else:
            graph.add_edge(ra, rb, weight=w)
    groups: list[set[uuid.UUID]] = []
    for component in sorted(nx.connected_components(graph), key=min):
        if len(component) <= 2:
            groups.append(set(component))
            continue
        sub = graph.subgraph(sorted(component))
        communities = nx.community.louvain_communities(
            sub, weight="weight", resolution=LOUVAIN_RESOLUTION, seed=LOUVAIN_SEED
        )
        groups.extend(set(c) for c in communities)
    members_of: dict[uuid.UUID, list[uuid.UUID]] = {}
    for a in uf.parent:
        members_of.setdefault(uf.find(a), []).append(a)
    found = [sorted(m for root in group for m in members_of.get(root, [root])) for group in groups]
    found = [members for members in found if len(members) >= 2]
    where = {m: i for i, members in enumerate(found) for m in members}
    hard_in: list[list[Link]] = [[] for _ in found]
    for lk in hard_links:
        if lk.a in where and where[lk.a] == where.get(lk.b):
            hard_in[where[lk.a]].append(lk)
    soft_in: list[dict[tuple[uuid.UUID, uuid.UUID], _Pair]] = [{} for _ in found]
    for (a, b), p in soft.items():
        if a in where and where[a] == where.get(b):
            soft_in[where[a]][(a, b)] = p
    clusters = [
        _describe(members, hard_in[i], soft_in[i], hourly, hours, offset, noise)
        for i, members in enumerate(found)
    ]
    clusters.sort(key=lambda c: c.members)
    return clusters


def _describe(
    members: list[uuid.UUID],
    hard_links: Sequence[Link],
    soft: Mapping[tuple[uuid.UUID, uuid.UUID], _Pair],
    hourly: Mapping[uuid.UUID, Mapping[int, int]],
    hours: int,
    offset: int,
    noise: float,
) -> Cluster:
    hard = list(hard_links)
    soft_links: list[Link] = []
    net: set[uuid.UUID] = set()
    tmpl: set[uuid.UUID] = set()
    for (a, b), p in soft.items():
        if p.network > 0:
            net.update((a, b))
            soft_links.append(
                Link(a=a, b=b, kind="network", hard=False, weight=round(min(1.0, p.network), 4),
                     detail="share client networks")
            )  # fmt: skip
        if p.template > 0:
            tmpl.update((a, b))
            kind = "timing" if p.sync >= noise + SYNC_SPAN else "template"
            weight = p.weight - min(1.0, p.network)
            soft_links.append(
                Link(a=a, b=b, kind=kind, hard=False, weight=round(weight, 4),
                     detail=f"share prompt skeletons; activity correlation {p.sync:.2f}")
            )  # fmt: skip
    soft_links.sort(key=lambda lk: (-lk.weight, lk.a, lk.b, lk.kind))
    hard_ids = {m for lk in hard for m in (lk.a, lk.b)}
    links = tuple((hard + soft_links)[:MAX_LINKS])
    return Cluster(
        members=tuple(members),
        links=links,
        hard_members=len(hard_ids),
        network_members=len(net),
        template_members=len(tmpl),
        sync=round(
            _cluster_sync(np.array([residuals(hourly.get(m, {}), hours, offset) for m in members])), 4
        ),
    )


def _cluster_sync(vectors: npt.NDArray[np.float64]) -> float:
    """Mean correlation of each member with the sum of the others: robust for many sparse members."""
    if len(vectors) < 2:
        return 0.0
    total = vectors.sum(axis=0)
    rest = total[None, :] - vectors
    norms = np.linalg.norm(rest, axis=1)
    dots = np.einsum("ij,ij->i", vectors, rest)
    live = (norms > 0) & (np.linalg.norm(vectors, axis=1) > 0)
    if not live.any():
        return 0.0
    return float((dots[live] / norms[live]).mean())
