"""A new job that would take its linked group to a `hold` or `deny` level is stopped before it runs."""

from __future__ import annotations

import datetime as dt

from gateway.compute.gate import gate
from gateway.policy.model import TrainingThreshold


def level(name: str, flop: float, action: str, scope: str = "all") -> TrainingThreshold:
    return TrainingThreshold(
        name=name, flop=flop, alert_fractions=(1.0,), scope=scope, source="test",  # type: ignore[arg-type]
        as_of=dt.date(2026, 1, 1), action=action,  # type: ignore[arg-type]
    )  # fmt: skip


def test_notify_levels_never_stop_a_job() -> None:
    assert gate([level("g", 1e20, "notify")], group_flop=5e20, group_bio_flop=0, job_flop=1e20,
                job_bio=False, kyc_level="standard") is None  # fmt: skip


def test_hold_stops_the_job_that_reaches_the_level_until_enhanced_due_diligence() -> None:
    held = [level("eu", 1e25, "hold")]
    below = gate(
        held, group_flop=0.6e25, group_bio_flop=0, job_flop=0.3e25, job_bio=False, kyc_level="standard"
    )
    assert below is None  # 0.9e25 projected
    reach = gate(
        held, group_flop=0.6e25, group_bio_flop=0, job_flop=0.4e25, job_bio=False, kyc_level="standard"
    )
    assert reach is not None and reach.code == "training_review_required" and reach.threshold == "eu"
    assert "1e+25" in reach.message
    reviewed = gate(
        held, group_flop=0.6e25, group_bio_flop=0, job_flop=0.4e25, job_bio=False, kyc_level="enhanced"
    )
    assert reviewed is None


def test_deny_stops_it_whatever_the_review() -> None:
    denied = gate([level("g", 1e26, "deny")], group_flop=0.99e26, group_bio_flop=0, job_flop=0.01e26,
                  job_bio=False, kyc_level="enhanced")  # fmt: skip
    assert denied is not None and denied.code == "training_threshold_denied"


def test_the_biology_level_counts_only_biological_jobs() -> None:
    bio = [level("bio", 1e23, "deny", scope="bio")]
    assert gate(bio, group_flop=1e25, group_bio_flop=0.5e23, job_flop=0.6e23, job_bio=False,
                kyc_level="standard") is None  # fmt: skip
    refused = gate(
        bio, group_flop=1e25, group_bio_flop=0.5e23, job_flop=0.6e23, job_bio=True, kyc_level="standard"
    )
    assert refused is not None and refused.threshold == "bio"
