"""The verification state machine and what each standing means for a request."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.kyc.states import (
    ALLOWED,
    STATUSES,
    IllegalTransition,
    check_transition,
    denial,
    effective_status,
    provider_steps,
)

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


def test_the_documented_path_is_allowed() -> None:
    for current, target in [
        ("pending", "in_review"),
        ("in_review", "verified"),
        ("in_review", "rejected"),
        ("in_review", "pending"),  # more information requested
        ("verified", "suspended"),
        ("suspended", "verified"),
        ("verified", "expired"),
        ("expired", "in_review"),
        ("verified", "rejected"),  # a provider can reject later
        ("verified", "in_review"),  # a screening hit
    ]:
        check_transition(current, target)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("current", "target"),
    [("pending", "verified"), ("rejected", "verified"), ("suspended", "pending"), ("pending", "expired")],
)
def test_shortcuts_are_refused_naming_the_allowed_moves(current: str, target: str) -> None:
    with pytest.raises(IllegalTransition) as err:
        check_transition(current, target)  # type: ignore[arg-type]
    assert err.value.status == 409 and err.value.code == "illegal_transition"
    assert f"cannot move to {target!r}" in err.value.message
    assert ", ".join(sorted(ALLOWED[current])) in err.value.message  # type: ignore[index]


def test_every_state_can_be_left_and_none_loops_to_itself() -> None:
    assert set(ALLOWED) == set(STATUSES)
    for state, targets in ALLOWED.items():
        assert targets and state not in targets


def test_verified_past_its_date_is_expired() -> None:
    assert effective_status("verified", NOW - dt.timedelta(seconds=1), NOW) == "expired"
    assert effective_status("verified", NOW + dt.timedelta(days=1), NOW) == "verified"
    assert effective_status("suspended", NOW - dt.timedelta(days=1), NOW) == "suspended"


@pytest.mark.parametrize(
    ("status", "sanctions", "code"),
    [
        ("pending", "none", "kyc_pending"),
        ("in_review", "none", "kyc_pending"),
        ("rejected", "none", "kyc_rejected"),
        ("suspended", "none", "kyc_suspended"),
        ("expired", "none", "kyc_expired"),
        ("verified", "potential", "sanctions_hit"),
        ("rejected", "confirmed", "sanctions_hit"),
        ("in_review", "potential", "sanctions_hit"),
    ],
)
def test_denials_have_specific_codes(status: str, sanctions: str, code: str) -> None:
    refused = denial(status, sanctions)  # type: ignore[arg-type]
    assert refused is not None and refused.code == code and refused.status == 403


def test_a_verified_customer_with_no_sanctions_result_passes() -> None:
    assert denial("verified", "none") is None


@pytest.mark.parametrize(
    ("status", "outcome", "clear", "steps", "applied"),
    [
        ("in_review", "verified", True, ["verified"], True),
        ("pending", "verified", True, ["in_review", "verified"], True),  # approved before submission
        ("expired", "verified", True, ["in_review", "verified"], True),
        ("pending", "verified", False, ["in_review"], False),  # held: screening not clear
        ("in_review", "verified", False, [], False),
        ("verified", "rejected", True, ["rejected"], True),  # approved, then rejected
        ("verified", "pending", True, ["in_review"], True),  # resubmission asked after approval
        ("suspended", "verified", True, [], False),  # the operator's suspension stands
        ("suspended", "rejected", True, ["rejected"], True),
        ("verified", "verified", True, [], False),
        ("rejected", "verified", True, [], False),
    ],
)
def test_provider_results_map_onto_the_state_machine(status, outcome, clear, steps, applied) -> None:
    got_steps, got_applied, note = provider_steps(status, outcome, screening_clear=clear)
    assert (got_steps, got_applied) == (steps, applied), note
