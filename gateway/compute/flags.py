"""Training-scale flags: which customers, alone or with those linked to them, near a reporting level.

The reporting levels are the policy's ``[[thresholds.training]]``. A run split over many jobs, or
over several accounts of the same owners, is still one run: compute is summed per **linked group**
(customers joined by :class:`Link`, transitively) and every customer of a group that reaches an
alert fraction of a level gets a :class:`Flag`.

What counts, precisely:

- **Window.** A job counts if it was active in the window ``(now - window_days x 86400, now]``:
  a queued or running job always counts, an ended job if it ended after the window's start
  (``ended_at > now - window_days x 86400``; a record without ``ended_at`` uses ``submitted_at``).
  An ended job that straddles the window's start counts whole, not pro rata: the levels are
  cumulative, so the error is on the side of an early notice.
- **Amount.** Settled plus expected: ``flop_settled`` (what ended jobs computed) plus
  ``flop_expected`` (queued and running jobs: bound x utilisation), both summed whatever the state.
  Regulators want notice when a level *will be* met, not after.
- **Scope.** ``all`` and ``eu`` count every job: the EU level is the same compute, reported to a
  different authority (the AI Office). ``bio`` counts only jobs declaring biological sequence data.
- **Fraction.** The highest of the level's ``alert_fractions`` whose share of the level the group's
  total reaches (``total >= fraction x flop``, to one part in 10^9 so that the rounding of the
  product does not hide an exact hit); a level without fractions alerts at 1.0.

Sums are exact (:func:`math.fsum`), so neither the order of the records nor splitting a job's
compute into several jobs of the same group changes a flag. Pure: no database, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

import msgspec

from ..policy.model import TrainingThreshold

DAY = 86400.0


class ComputeRecord(msgspec.Struct, frozen=True):
    """One job, as the flag evaluation sees it."""

    job: str
    """``<cluster>:<job id>``: unique among the records evaluated together."""
    customer: str
    state: Literal["queued", "running", "ended"]
    submitted_at: float
    """Epoch seconds."""
    ended_at: float | None
    flop_settled: float
    """Ended jobs: what it computed; 0 for running and queued ones."""
    flop_expected: float
    """Queued and running jobs: the expected total (bound x utilisation); 0 for ended ones."""
    bio: bool = False
    """The job declared biological sequence data."""


class Link(msgspec.Struct, frozen=True):
    """Two customers whose compute is summed, and why (``shared beneficial owner <owner id>``)."""

    a: str
    b: str
    reason: str


class Flag(msgspec.Struct, frozen=True):
    """A customer whose linked group reached an alert fraction of a training-compute level."""

    customer: str
    group: list[str]
    """The customers whose compute was summed, the flagged one included (sorted)."""
    threshold: str
    threshold_flop: float
    fraction: float
    """The highest alert fraction reached."""
    flop: float
    """The group's total: settled + expected."""
    flop_settled: float
    flop_expected: float
    jobs: list[str]
    """The group's jobs counted (sorted)."""
    links: list[Link]
    """The links within the group (sorted)."""
    assumptions: str


def linked_groups(customers: Iterable[str], links: Iterable[Link]) -> dict[str, frozenset[str]]:
    """Each customer's linked group: the customers it is joined to through links, transitively.

    Every customer of ``customers`` and every end of a link has a group, itself at least.
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for customer in customers:
        find(customer)
    for link in links:
        a, b = find(link.a), find(link.b)
        if a != b:
            parent[max(a, b)] = min(a, b)
    members: dict[str, set[str]] = {}
    for customer in parent:
        members.setdefault(find(customer), set()).add(customer)
    groups = {root: frozenset(names) for root, names in members.items()}
    return {customer: groups[find(customer)] for customer in parent}


def _window_start(now: float, window_days: int) -> float:
    return now - window_days * DAY


def _counts(record: ComputeRecord, since: float) -> bool:
    """Active in the window: live, or ended after its start."""
    if record.state != "ended":
        return True
    end = record.ended_at if record.ended_at is not None else record.submitted_at
    return end > since


_SCOPES: dict[str, Callable[[ComputeRecord], bool]] = {
    "all": lambda r: True,
    "eu": lambda r: True,  # the same compute as "all", reported to the EU AI Office
    "bio": lambda r: r.bio,
}


_ROUNDING = 1e-9


def _reaches(total: float, level: float) -> bool:
    """``total >= level``, forgiving the rounding of ``fraction x flop`` (0.1 x 1e25 > 1e24 in floats)."""
    return total >= level * (1 - _ROUNDING)


def _assumptions(utilisation: float, window_days: int, scope: str) -> str:
    text = (
        "flop = settled compute of ended jobs + expected compute of queued and running jobs; "
        "expected = bound (GPUs x time limit x dense peak per GPU) x utilisation "
        f"{utilisation:g} (assumed model FLOP utilisation); summed over the linked group's jobs "
        f"active in the {window_days} days before evaluation (an ended job counts whole if it "
        "ended inside the window)"
    )
    if scope == "bio":
        text += "; only jobs declaring biological sequence data"
    return text


def _by_customer(records: Iterable[ComputeRecord], since: float) -> dict[str, list[ComputeRecord]]:
    seen: set[str] = set()
    out: dict[str, list[ComputeRecord]] = {}
    for record in records:
        if record.job in seen:
            raise ValueError(f"job {record.job!r} is recorded twice")
        seen.add(record.job)
        if _counts(record, since):
            out.setdefault(record.customer, []).append(record)
    return out


def _group_of(customer: str, groups: Mapping[str, frozenset[str]]) -> frozenset[str]:
    return groups.get(customer, frozenset()) | {customer}


def evaluate(
    records: Iterable[ComputeRecord],
    groups: Mapping[str, frozenset[str]],
    links: Iterable[Link],
    thresholds: Sequence[TrainingThreshold],
    *,
    now: float,
    window_days: int,
    utilisation: float,
) -> list[Flag]:
    """The flags of every customer whose group reaches an alert fraction, sorted by customer and level.

    ``groups`` maps customers to their linked groups (:func:`linked_groups`); a customer missing
    from it is a group of its own. ``links`` are listed in the flags of the groups they join.
    ``utilisation`` is the one the expected compute of the records assumed: it goes into the flags'
    ``assumptions``. Raises :class:`ValueError` for a job recorded twice or a level of unknown scope.
    """
    for threshold in thresholds:
        if threshold.scope not in _SCOPES:
            raise ValueError(f"training threshold {threshold.name!r} has unknown scope {threshold.scope!r}")
    active = _by_customer(records, _window_start(now, window_days))
    all_links = sorted(set(links), key=lambda link: (link.a, link.b, link.reason))
    distinct = {_group_of(customer, groups) for customer in active}
    flags: list[Flag] = []
    for group in distinct:
        jobs = [record for customer in group for record in active.get(customer, ())]
        group_links = [link for link in all_links if link.a in group and link.b in group]
        for threshold in thresholds:
            counted = [record for record in jobs if _SCOPES[threshold.scope](record)]
            settled = math.fsum(record.flop_settled for record in counted)
            expected = math.fsum(record.flop_expected for record in counted)
            total = math.fsum([*(r.flop_settled for r in counted), *(r.flop_expected for r in counted)])
            fractions = threshold.alert_fractions or (1.0,)
            reached = [fraction for fraction in fractions if _reaches(total, fraction * threshold.flop)]
            if not reached:
                continue
            members = sorted(group)
            job_ids = sorted(record.job for record in counted)
            assumptions = _assumptions(utilisation, window_days, threshold.scope)
            flags.extend(
                Flag(
                    customer=customer,
                    group=members,
                    threshold=threshold.name,
                    threshold_flop=threshold.flop,
                    fraction=max(reached),
                    flop=total,
                    flop_settled=settled,
                    flop_expected=expected,
                    jobs=job_ids,
                    links=group_links,
                    assumptions=assumptions,
                )
                for customer in members
            )
    flags.sort(key=lambda flag: (flag.customer, flag.threshold))
    return flags


def customer_totals(
    records: Iterable[ComputeRecord],
    customer: str,
    group: frozenset[str],
    *,
    now: float,
    window_days: int,
) -> dict[str, float]:
    """One customer's compute in the window and its group's (``group``, the customer included).

    Keys: ``flop_settled``, ``flop_expected``, ``flop`` (their sum) for the customer, and the same
    with a ``group_`` prefix for the group. Every job counts, whatever its scope.
    """
    active = _by_customer(records, _window_start(now, window_days))
    mine = active.get(customer, [])
    theirs = [record for member in group | {customer} for record in active.get(member, ())]

    def totals(prefix: str, counted: list[ComputeRecord]) -> dict[str, float]:
        settled = [record.flop_settled for record in counted]
        expected = [record.flop_expected for record in counted]
        return {
            f"{prefix}flop_settled": math.fsum(settled),
            f"{prefix}flop_expected": math.fsum(expected),
            f"{prefix}flop": math.fsum(settled + expected),
        }

    return {**totals("", mine), **totals("group_", theirs)}
