"""The application's steps and what its status means to the customer (pure).

The steps are a guide, not a state machine of their own: the application's record (its facts,
addresses and owners, and the service's ``missing`` list) says which are done, so that an
application started through the onboarding API shows the same progress here.
"""

from __future__ import annotations

import msgspec

from ..kyc.models import ApplicationView, Transition

__all__ = ["MISSING", "Standing", "Step", "first_open_step", "standing", "steps"]


class Step(msgspec.Struct, frozen=True):
    slug: str
    label: str
    href: str
    done: bool
    current: bool
    reachable: bool
    """Only the first step is a link before the application exists."""


_ALL = (
    ("applicant", "Applicant"),
    ("details", "Details"),
    ("addresses", "Addresses"),
    ("owners", "Beneficial owners"),
    ("verification", "Identity verification"),
    ("review", "Review and submit"),
)

MISSING: dict[str, tuple[str, str]] = {
    "country": ("a country", "applicant"),
    "beneficial owners": ("the beneficial owners", "owners"),
    "legal_name": ("the legal name", "details"),
    "addresses": ("an address", "addresses"),
    "birth_date": ("the date of birth", "details"),
    "incorporation_date": ("the date of incorporation", "details"),
    "incorporation_country": ("the country of incorporation", "details"),
    "email": ("an e-mail address", "details"),
}
"""The service's names for what an application lacks: how to say each, and the step that gives it."""

_DETAILS = {"legal_name", "birth_date", "incorporation_date", "incorporation_country", "email"}


def _done(slug: str, view: ApplicationView | None) -> bool:
    if view is None:
        return False
    if slug == "applicant":
        return "country" not in view.missing
    if slug == "details":
        return not _DETAILS & set(view.missing)
    if slug == "addresses":
        return "addresses" not in view.missing
    if slug == "owners":
        return bool(view.owners)
    if slug == "review":
        return view.status != "pending"
    return False  # the verification hand-off is information only


def steps(view: ApplicationView | None, current: str) -> list[Step]:
    """The steps that fit the applicant (an individual has no beneficial owners to declare)."""
    found = []
    for slug, label in _ALL:
        if slug == "owners" and view is not None and view.kind == "individual":
            continue
        found.append(
            Step(
                slug=slug,
                label=label,
                href=f"/web/apply/{slug}",
                done=_done(slug, view),
                current=slug == current,
                reachable=view is not None or slug == "applicant",
            )
        )
    return found


def first_open_step(view: ApplicationView) -> str:
    """Where to carry on: the first step the service still misses something for, else review."""
    for step in steps(view, ""):
        if step.slug in ("verification", "review"):
            continue
        if not step.done:
            return step.slug
    return "review"


class Standing(msgspec.Struct, frozen=True):
    """What the application's status means, said plainly, and what the customer should do."""

    key: str
    """``draft``, ``needs_information``, ``submitted``, ``verified``, ``rejected``, ``suspended`` or
    ``expired``."""
    label: str
    badge: str
    explanation: str
    todo: str
    note: str | None = None
    """The reviewer's request, when they asked for more information."""


def standing(status: str, transitions: list[Transition]) -> Standing:
    last = transitions[-1] if transitions else None
    if status == "pending" and last is not None and last.from_status == "in_review":
        return Standing(
            "needs_information",
            "Needs information",
            "warn",
            "The reviewer needs more information before deciding on your application.",
            "Read the reviewer's request below, correct or complete your application, and submit it again.",
            note=last.reason,
        )
    if status == "pending":
        return Standing(
            "draft",
            "Not submitted yet",
            "neutral",
            "Your application is a draft: nobody reviews it until you submit it.",
            "Complete each step, then review and submit the application.",
        )
    if status == "in_review":
        return Standing(
            "submitted",
            "Submitted: in review",
            "neutral",
            "Your application has been submitted and is being reviewed. It can no longer be changed.",
            "Nothing for now. If the identity-verification service asks you for your documents, quote"
            " the reference below. This page shows the decision once it is made.",
        )
    if status == "verified":
        return Standing(
            "verified",
            "Verified",
            "good",
            "Your application has been approved: you may use the gateway.",
            "Go to your account to create API keys.",
        )
    if status == "rejected":
        return Standing(
            "rejected",
            "Rejected",
            "bad",
            "Your application was not approved.",
            "If you believe this is a mistake, contact the provider and quote the reference below.",
        )
    if status == "suspended":
        return Standing(
            "suspended",
            "Suspended",
            "bad",
            "Your access has been suspended by the provider.",
            "Contact the provider and quote the reference below.",
        )
    return Standing(
        "expired",
        "Verification expired",
        "warn",
        "Your verification has expired and must be renewed before you can use the gateway again.",
        "Contact the provider and quote the reference below to renew it.",
    )
