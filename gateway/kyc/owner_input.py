"""An owner or ownership link as entered (admin API, onboarding API, CLI): checked and
normalised before anything is stored, so that every entry point refuses the same input
with the same 400 ``invalid_owner``."""

from __future__ import annotations

import datetime as dt

from ..errors import BadRequest
from ..identity.repository import check_country
from .models import OwnerFacts, OwnerIn

ROLES = {
    "director",
    "ceo",
    "cfo",
    "coo",
    "president",
    "managing_member",
    "general_partner",
    "senior_manager",
    "trustee",
    "controller",
    "other_control",
}


def check_owner(owner: OwnerIn) -> tuple[OwnerFacts, str | None]:
    """The owner's personal data (to be sealed) and its country (stored in the clear)."""
    name = owner.name.strip()
    if not name or len(name) > 300 or any(ord(c) < 32 for c in name):
        raise BadRequest("owner name must be 1-300 printable characters", code="invalid_owner")
    country = check_country(owner.country)
    nationality = check_country(owner.nationality, "nationality")
    if owner.kind == "organisation" and (owner.birth_date or nationality):
        raise BadRequest("an organisation has no birth date or nationality", code="invalid_owner")
    birth_date = _iso_date("birth_date", owner.birth_date)
    check_edge(owner.percent, owner.role)
    return OwnerFacts(name=name, birth_date=birth_date, nationality=nationality), country


def check_edge(percent: float | None, role: str | None) -> None:
    if percent is None and role is None:
        raise BadRequest("give a percent, a control role, or both", code="invalid_owner")
    if percent is not None and not 0 < percent <= 100:
        raise BadRequest("percent must be greater than 0 and at most 100", code="invalid_owner")
    if role is not None and role_key(role) not in ROLES:
        raise BadRequest(f"role must be one of {sorted(ROLES)}", code="invalid_owner")


def role_key(role: str | None) -> str | None:
    """A control role as stored: ``Managing Member`` and ``managing-member`` are ``managing_member``."""
    return None if role is None else role.strip().lower().replace(" ", "_").replace("-", "_")


def fold(name: str) -> str:
    """A name as its blind index sees it: case and spacing do not make another owner."""
    return " ".join(name.casefold().split())


def _iso_date(field: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise BadRequest(f"{field} must be an ISO date (YYYY-MM-DD)", code="invalid_owner") from None
