"""Whether a new cluster job may start, given its linked group's training compute: pure.

A flag only reports; a threshold whose ``action`` is ``hold`` or ``deny`` also stops the job that
would take the group to the level (projected: what ended jobs computed, what queued and running
ones are expected to, and this job's expected compute), so that a run reaching it is reviewed
before it happens rather than reported after.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from ..policy.model import TrainingThreshold

# Relative tolerance for "reaches": 0.1 * 1e25 in floating point is a hair above 1e24.
_EPSILON = 1e-9


class Refusal(msgspec.Struct, frozen=True):
    code: str
    message: str
    threshold: str


def gate(
    thresholds: Sequence[TrainingThreshold],
    *,
    group_flop: float,
    group_bio_flop: float,
    job_flop: float,
    job_bio: bool,
    kyc_level: str,
) -> Refusal | None:
    """The refusal of the first ``hold``/``deny`` threshold the job would take the group to, or None."""
    for t in thresholds:
        if t.action == "notify":
            continue
        if t.scope == "bio":
            if not job_bio:
                continue  # this job adds nothing to biological-sequence compute
            projected = group_bio_flop + job_flop
        else:
            projected = group_flop + job_flop
        if projected < t.flop * (1 - _EPSILON):
            continue
        if t.action == "deny":
            return Refusal(
                "training_threshold_denied",
                f"this job would take the training compute of the customer's linked accounts to"
                f" {projected:.3g} FLOP, at or above the {t.name} level ({t.flop:.3g}): not allowed here",
                t.name,
            )
        if kyc_level != "enhanced":
            return Refusal(
                "training_review_required",
                f"this job would take the training compute of the customer's linked accounts to"
                f" {projected:.3g} FLOP, at or above the {t.name} level ({t.flop:.3g}): it is held until"
                " the customer passes enhanced due diligence",
                t.name,
            )
    return None
