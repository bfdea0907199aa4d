"""What a run's findings mean for the clusters already known and for the customers in them: pure.

- **Stable ids.** A finding continues a known cluster of the same kind when their members overlap by
  Jaccard >= :data:`MATCH_JACCARD` (0.5): the pairs are matched greedily, the closest first, each
  cluster and each finding at most once; an unmatched finding is a new cluster.
- **Dismissed clusters stay dismissed** unless a later finding scores at least
  :data:`REFLAG_MARGIN` (0.1) above the score it was dismissed with, or brings at least
  max(1, ceil(:data:`REFLAG_GROWTH` x size)) members it did not have (10 %): then it is flagged again
  (open). Otherwise the run only notes that it saw it.
- **Actions by policy** (``[detection.actions]``): a score below the ``flag`` cutoff earns nothing
  (such a finding makes no new cluster); at or above it, every action whose cutoff it reaches, mildest
  first. A reseller finding earns ``flag`` and the policy's ``reseller`` action instead of the ladder.
- **Scope.** ``cluster``: every member of the finding. ``account``: the detector acts only on a
  finding about one account; a ring (many accounts scored as a whole, no one of them the culprit) is
  flagged, and the stronger actions are left to an operator (``gateway detect act``).
- **Mode.** ``enforce`` acts; ``shadow`` records the same actions with no effect; ``off`` does not run.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Iterable, Sequence

import msgspec
import rfc8785

from ..policy.detection import ACTION_NAMES, ActionName, Detection, DetectionActions
from .findings import Finding

MATCH_JACCARD = 0.5
REFLAG_MARGIN = 0.1
REFLAG_GROWTH = 0.1
Status = str  # 'open' | 'confirmed' | 'dismissed' (CHECKed in sql/015)


class Known(msgspec.Struct, frozen=True, kw_only=True):
    """A cluster as recorded: what a new finding is compared with."""

    id: uuid.UUID
    kind: str
    status: Status
    score: float
    members: frozenset[uuid.UUID]


def jaccard(a: Iterable[uuid.UUID], b: Iterable[uuid.UUID]) -> float:
    sa, sb = set(a), set(b)
    union = len(sa | sb)
    return len(sa & sb) / union if union else 0.0


def assign(findings: Sequence[Finding], known: Sequence[Known]) -> list[Known | None]:
    """For each finding, the known cluster it continues (None: a new one). Greedy, closest pair first;
    ties go to the earlier finding and the earlier known cluster, so the answer is deterministic."""
    pairs: list[tuple[float, int, int]] = []
    for i, f in enumerate(findings):
        for j, k in enumerate(known):
            if k.kind == f.kind:
                score = jaccard(f.members, k.members)
                if score >= MATCH_JACCARD:
                    pairs.append((-score, i, j))
    pairs.sort()
    out: list[Known | None] = [None] * len(findings)
    used: set[int] = set()
    for _, i, j in pairs:
        if out[i] is None and j not in used:
            out[i] = known[j]
            used.add(j)
    return out


def reflagged(dismissed: Known, finding: Finding) -> bool:
    """Whether a finding brings a dismissed cluster back: clearly higher, or clearly grown."""
    if finding.score >= dismissed.score + REFLAG_MARGIN - 1e-9:
        return True
    new = len(set(finding.members) - dismissed.members)
    return new >= max(1, math.ceil(REFLAG_GROWTH * len(dismissed.members)))


def earned(kind: str, score: float, actions: DetectionActions) -> tuple[ActionName, ...]:
    """The actions a score earns under the policy's cutoffs, mildest first."""
    if score < actions.flag:
        return ()
    if kind == "reseller":
        return ("flag",) if actions.reseller == "flag" else ("flag", actions.reseller)
    cutoffs: dict[ActionName, float | None] = {
        "flag": actions.flag,
        "throttle": actions.throttle,
        "edd": actions.edd,
        "suspend": actions.suspend,
    }
    return tuple(a for a in ACTION_NAMES if (c := cutoffs[a]) is not None and score >= c)


def plan(finding: Finding, detection: Detection) -> list[tuple[ActionName, uuid.UUID]]:
    """(action, customer) pairs the detector takes for a finding under the policy (mode aside)."""
    if detection.mode == "off":
        return []
    steps = earned(finding.kind, finding.score, detection.actions)
    wide = detection.scope == "cluster" or len(finding.members) == 1
    return [(a, m) for a in steps for m in sorted(finding.members) if a == "flag" or wide]


def evidence(finding: Finding) -> bytes:
    """The finding's canonical bytes (RFC 8785 JSON): what its evidence hash commits to."""
    return rfc8785.dumps(msgspec.to_builtins(finding))


def evidence_hash(finding: Finding) -> str:
    """SHA-256 (hex) of :func:`evidence`: cited by every action taken on the finding."""
    return hashlib.sha256(evidence(finding)).hexdigest()


def problem(finding: Finding) -> str | None:
    """Why a finding cannot be recorded as it is (None: it can). The engine should never produce
    one; a run skips it and says so rather than failing the findings that are fine."""
    if not finding.members:
        return "a finding without members"
    if len(set(finding.members)) != len(finding.members):
        return "a finding with a member listed twice"
    if not (math.isfinite(finding.score) and 0 <= finding.score <= 1):
        return f"score {finding.score!r} is not in 0..1"
    bad = sorted(k for k, v in finding.signals.items() if not math.isfinite(v))
    if bad:
        return f"signals {bad} are not finite numbers"
    if any(not math.isfinite(link.weight) for link in finding.links):
        return "a link weight is not a finite number"
    if finding.until <= finding.since:
        return "the window ends before it starts"
    return None
