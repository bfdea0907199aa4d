"""Cluster-level precision and recall of detection findings against planted campaigns: pure.

Matching rules (a finding is one flagged set of accounts, with its kind and when it was flagged):

- A finding **covers** a campaign when it holds at least half of the campaign's members
  (``2 * |F ∩ C| >= |C|``) and its kind is one the campaign's type expects (``EXPECTED_KINDS``:
  rings are ``ring``, the extractor ``extractor``, the reseller ``reseller``). A campaign is
  **detected** when some finding covers it. Recall per type = detected campaigns / campaigns.
- A finding is a **true positive** when at least half of its members belong to one campaign
  (``2 * |F ∩ C| >= |F|``) and its kind is one that campaign's type expects; it is then attributed
  to that campaign's type. Any other finding is a **false positive** of its kind.
  Precision per type = TP attributed to the type / (those TP + the false positives of the kinds the
  type expects): both ring types are charged every false ``ring`` finding, which is conservative.
  With no finding of the type's kinds, precision is undefined (None).
- A **false alert** is an account in no campaign that appears in a finding, counted once per
  (account, UTC day it was flagged). Per 1,000 active accounts per day = false alerts /
  (active accounts / 1000) / days. False alerts among legitimate heavy users are listed by account.
- **Time to flag** of a detected campaign = the earliest ``flagged_at`` of a finding covering it,
  minus the campaign's start.
"""

from __future__ import annotations

import datetime as dt
import statistics
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

EXPECTED_KINDS: Mapping[str, frozenset[str]] = {
    "ring_linked": frozenset({"ring"}),
    "ring_unlinked": frozenset({"ring"}),
    "reseller": frozenset({"reseller"}),
    "extractor": frozenset({"extractor"}),
}


@dataclass(frozen=True)
class Planted:
    """A campaign as the evaluation sees it: its id, type, members and start."""

    id: str
    type: str
    members: frozenset[uuid.UUID]
    start: dt.datetime


@dataclass(frozen=True)
class Flag:
    """A finding as the evaluation sees it: who, which kind, and when it was flagged."""

    kind: str
    members: frozenset[uuid.UUID]
    flagged_at: dt.datetime
    first_seen: dt.datetime | None = None
    score: float = 1.0


@dataclass
class TypeResult:
    type: str
    campaigns: int = 0
    detected: int = 0
    true_positives: int = 0
    false_positives: int = 0
    times_to_flag: list[dt.timedelta] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return self.detected / self.campaigns if self.campaigns else None

    @property
    def precision(self) -> float | None:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else None

    @property
    def median_time_to_flag(self) -> dt.timedelta | None:
        if not self.times_to_flag:
            return None
        return dt.timedelta(seconds=statistics.median(t.total_seconds() for t in self.times_to_flag))


@dataclass
class Report:
    types: dict[str, TypeResult]
    false_positive_findings: int
    false_alerts: int
    """(benign account, day) pairs flagged."""
    false_alerts_per_1000_per_day: float
    legit_heavy_flagged: list[uuid.UUID]
    active_accounts: int
    days: float

    def meets(self, recall: float = 0.90, precision: float = 0.95, per_1000: float = 1.0) -> list[str]:
        """What misses the issue's goals (empty when all are met)."""
        misses = []
        for r in self.types.values():
            if r.campaigns and (r.recall or 0.0) < recall:
                misses.append(f"{r.type}: recall {r.recall or 0.0:.2f} < {recall} (missed {r.missed})")
            if r.campaigns and (r.precision is None or r.precision < precision):
                misses.append(f"{r.type}: precision {_num(r.precision)} < {precision}")
        if self.legit_heavy_flagged:
            misses.append(f"legitimate heavy users flagged: {sorted(map(str, self.legit_heavy_flagged))}")
        if self.false_alerts_per_1000_per_day > per_1000:
            misses.append(
                f"false alerts {self.false_alerts_per_1000_per_day:.2f} per 1,000 accounts/day > {per_1000}"
            )
        return misses


def evaluate(
    campaigns: Sequence[Planted],
    flags: Iterable[Flag],
    *,
    legit_heavy: Collection[uuid.UUID],
    active_accounts: int,
    days: float,
) -> Report:
    """Score ``flags`` against ``campaigns`` by the rules in this module's docstring."""
    types = {t: TypeResult(t) for t in EXPECTED_KINDS}
    for c in campaigns:
        types.setdefault(c.type, TypeResult(c.type)).campaigns += 1
    in_campaign = {m for c in campaigns for m in c.members}
    first_flag: dict[str, dt.datetime] = {}
    false_by_kind: dict[str, int] = {}
    alerts: set[tuple[uuid.UUID, dt.date]] = set()
    heavy_flagged: set[uuid.UUID] = set()
    for f in flags:
        owner = _owner(f, campaigns)
        if owner is not None:
            types[owner.type].true_positives += 1
        else:
            false_by_kind[f.kind] = false_by_kind.get(f.kind, 0) + 1
        for c in campaigns:
            if _covers(f, c) and (c.id not in first_flag or f.flagged_at < first_flag[c.id]):
                first_flag[c.id] = f.flagged_at
        for m in f.members - in_campaign:
            alerts.add((m, f.flagged_at.astimezone(dt.UTC).date()))
            if m in legit_heavy:
                heavy_flagged.add(m)
    for c in campaigns:
        r = types[c.type]
        if c.id in first_flag:
            r.detected += 1
            r.times_to_flag.append(first_flag[c.id] - c.start)
        else:
            r.missed.append(c.id)
    for r in types.values():
        kinds = EXPECTED_KINDS.get(r.type, frozenset())
        r.false_positives = sum(n for kind, n in false_by_kind.items() if kind in kinds)
    per_1000 = len(alerts) / (active_accounts / 1000) / days if active_accounts and days > 0 else 0.0
    return Report(
        types=types,
        false_positive_findings=sum(false_by_kind.values()),
        false_alerts=len(alerts),
        false_alerts_per_1000_per_day=per_1000,
        legit_heavy_flagged=sorted(heavy_flagged),
        active_accounts=active_accounts,
        days=days,
    )


def _covers(f: Flag, c: Planted) -> bool:
    return f.kind in EXPECTED_KINDS.get(c.type, ()) and 2 * len(f.members & c.members) >= len(c.members)


def _owner(f: Flag, campaigns: Sequence[Planted]) -> Planted | None:
    """The campaign this finding is a true positive for, if any (the one holding most of it)."""
    best: Planted | None = None
    best_n = 0
    for c in campaigns:
        n = len(f.members & c.members)
        if n > best_n and 2 * n >= len(f.members) and f.kind in EXPECTED_KINDS.get(c.type, ()):
            best, best_n = c, n
    return best


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _duration(value: dt.timedelta | None) -> str:
    if value is None:
        return "-"
    hours = value.total_seconds() / 3600
    return f"{hours:.1f} h"


def table(report: Report) -> str:
    """The per-type figures as printed by the test and the benchmark."""
    lines = [
        f"{'campaign type':14s} {'planted':>7s} {'detected':>8s} {'recall':>7s} {'TP':>4s} {'FP':>4s} "
        f"{'precision':>9s} {'median time to flag':>20s} {'max':>8s}"
    ]
    for r in report.types.values():
        worst = max(r.times_to_flag) if r.times_to_flag else None
        lines.append(
            f"{r.type:14s} {r.campaigns:7d} {r.detected:8d} {_num(r.recall):>7s} {r.true_positives:4d} "
            f"{r.false_positives:4d} {_num(r.precision):>9s} {_duration(r.median_time_to_flag):>20s} "
            f"{_duration(worst):>8s}"
        )
    lines.append(
        f"false alerts: {report.false_alerts} (account, day) among {report.active_accounts} active accounts over "
        f"{report.days:g} days = {report.false_alerts_per_1000_per_day:.2f} per 1,000 accounts per day; "
        f"legitimate heavy users flagged: {len(report.legit_heavy_flagged)}; "
        f"false-positive findings: {report.false_positive_findings}"
    )
    return "\n".join(lines)
