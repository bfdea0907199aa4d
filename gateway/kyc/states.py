"""The verification state machine, and what each state means for a request.

    pending ──submit──► in_review ──approve──► verified ──(time)──► expired
       ▲                 │   │                  │  ▲                  │
       └─request info────┘   └──reject──► rejected  └─reinstate─ suspended
                                                    (suspend)

A verified customer can lose that status: a provider can reject it later, a
screening hit puts it back into review, an operator can suspend it. Pure functions:
the caller passes `now`.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args

from ..errors import Conflict, Forbidden

Status = Literal["pending", "in_review", "verified", "rejected", "suspended", "expired"]
STATUSES: tuple[Status, ...] = get_args(Status)
Sanctions = Literal["none", "potential", "confirmed"]

ALLOWED: dict[Status, frozenset[Status]] = {
    "pending": frozenset({"in_review", "rejected"}),
    "in_review": frozenset({"verified", "rejected", "pending"}),
    "verified": frozenset({"in_review", "rejected", "suspended", "expired"}),
    "suspended": frozenset({"verified", "in_review", "rejected"}),
    "expired": frozenset({"in_review", "pending", "rejected", "suspended"}),
    # Rejection is final but for an operator reopening the file.
    "rejected": frozenset({"pending", "in_review"}),
}


class IllegalTransition(Conflict):
    code = "illegal_transition"


def check_transition(current: Status, target: Status) -> None:
    """Refuse a move the state machine does not allow, saying which moves it does."""
    if target not in ALLOWED[current]:
        allowed = ", ".join(sorted(ALLOWED[current]))
        raise IllegalTransition(
            f"a customer in state {current!r} cannot move to {target!r} (allowed: {allowed})"
        )


def effective_status(status: Status, expires_at: dt.datetime | None, now: dt.datetime) -> Status:
    """A verified customer past its re-verification date is expired, even before the sweeper records it."""
    if status == "verified" and expires_at is not None and expires_at <= now:
        return "expired"
    return status


_DENIALS: dict[Status, tuple[str, str]] = {
    "pending": ("kyc_pending", "the customer's identity verification is not complete"),
    "in_review": ("kyc_pending", "the customer's identity verification is under review"),
    "rejected": ("kyc_rejected", "the customer's identity verification was rejected"),
    "suspended": ("kyc_suspended", "the customer's account is suspended"),
    "expired": ("kyc_expired", "the customer's identity verification has expired and must be renewed"),
}


def denial(status: Status, sanctions: Sanctions) -> Forbidden | None:
    """Why a request of a customer in this standing is refused, or None when it may proceed.

    A sanctions result wins over the status: it is the reason that matters, and an open
    possible match blocks as firmly as a confirmed one until someone reviews it.
    """
    if sanctions == "confirmed":
        return Forbidden("the customer is on a denied-party list", code="sanctions_hit")
    if sanctions == "potential":
        return Forbidden(
            "the customer has a possible denied-party list match under review", code="sanctions_hit"
        )
    if status == "verified":
        return None
    code, message = _DENIALS[status]
    return Forbidden(message, code=code)


def provider_steps(
    status: Status, outcome: Status, *, screening_clear: bool
) -> tuple[list[Status], bool, str]:
    """The transitions a provider's result calls for, whether they apply the result, and a
    note saying why (or why not). Pure.

    A provider decides identity, not sanctions: its approval is held while screening is not
    clear. An operator's suspension stands against anything but a rejection. Moves the state
    machine does not allow directly go through review.
    """
    if outcome == status:
        return [], False, f"already {status}"
    if status == "suspended" and outcome != "rejected":
        return [], False, "customer is suspended by an operator; the provider's result is recorded only"
    if outcome == "verified":
        if not screening_clear:
            steps: list[Status] = ["in_review"] if status == "pending" else []
            return steps, False, "identity verified by the provider; held for screening review"
        steps = ["in_review", "verified"] if status in ("pending", "expired") else ["verified"]
    elif outcome == "pending" and status == "verified":
        steps = ["in_review"]
    else:
        steps = [outcome]
    current = status
    for step in steps:
        if step not in ALLOWED[current]:
            return [], False, f"not applied: a customer in state {current!r} cannot move to {step!r}"
        current = step
    return steps, True, f"moved to {current}"
