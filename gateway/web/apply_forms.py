"""The application's forms read into the KYC service's own input structs (``FactsIn``, ``AddressIn``,
``OwnerIn``), with a message beside each field for every mistake the service would refuse.

The limits are the service's (``kyc.facts.MAX_TEXT``, the 200 characters of a customer's name,
the 300 of an owner's), so that a form the page accepts is one the service accepts. What only the
service can judge (an e-mail address, a phone number in its country, an identifier's check digits)
comes back from it as ``invalid_facts`` naming the field's path: :func:`facts_error` puts that
message beside the field too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from ..kyc.facts import MAX_ITEMS, AddressIn, Facts, FactsIn, IdentifierIn
from ..kyc.facts import MAX_TEXT as FACT_MAX
from ..kyc.models import Edge, OwnerIn
from ..kyc.owner_input import ROLES
from .forms import Form

__all__ = [
    "ADDRESS_FIELDS",
    "ID_TYPES",
    "KINDS",
    "OWNER_KINDS",
    "ROLE_OPTIONS",
    "details_values",
    "direct_percent",
    "facts_error",
    "read_address",
    "read_applicant",
    "read_details",
    "read_owner",
]

NAME_MAX = 200
"""A customer's name (``identity.repository``: 1-200 printable characters)."""
OWNER_NAME_MAX = 300
"""An owner's name (``kyc.owner_input``)."""
EARLIEST_BIRTH = dt.date(1900, 1, 1)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

KINDS = {
    "individual": "An individual (a person)",
    "organisation": "An organisation (a company or other body)",
}
OWNER_KINDS = {"person": "A person", "organisation": "An organisation"}
ID_TYPES = {
    "vat": "VAT number",
    "lei": "LEI (Legal Entity Identifier)",
    "ein": "EIN (United States employer number)",
    "ssn": "SSN (United States social security number)",
    "other": "Another national identifier",
}
ROLE_OPTIONS = {r: r.replace("_", " ").capitalize() for r in sorted(ROLES)}
ADDRESS_FIELDS = ("line1", "line2", "city", "region", "postal_code", "country")


def _date(
    form: Form, name: str, label: str, *, required: bool, today: dt.date, earliest: dt.date | None = None
) -> str | None:
    raw = form.raw(name)
    if raw and not _ISO_DATE.fullmatch(raw):
        form.fail(name, f"The {label} must be a date written as YYYY-MM-DD, like 1990-04-30.")
        return None
    value = form.date(name, label, required=required, today=today)
    if value is not None and earliest is not None and value < earliest.isoformat():
        form.fail(name, f"The {label} must be on or after {earliest.isoformat()}.")
        return None
    return value


def read_applicant(form: Form) -> tuple[str, str, str] | None:
    """Step 1: the kind of applicant, its name and its country."""
    kind = form.choice("kind", "kind of applicant", KINDS)
    name = form.text("name", "name", max_len=NAME_MAX)
    country = form.country("country", "country")
    if not form.ok or kind is None or name is None or country is None:
        return None
    return kind, name, country


def read_details(form: Form, kind: str, today: dt.date, old: Facts | None) -> FactsIn | None:
    """Step 2: the facts that fit the kind. Identifiers are optional: the one given here replaces
    the first one on record, and the others (given through the API) are kept."""
    legal_name = form.text("legal_name", "legal name", max_len=FACT_MAX)
    individual = kind == "individual"
    birth_date = nationality = residence = None
    incorporated = incorporation = headquarters = None
    if individual:
        birth_date = _date(
            form, "birth_date", "date of birth", required=True, today=today, earliest=EARLIEST_BIRTH
        )
        nationality = form.country("nationality", "nationality", required=False)
        residence = form.country("residence_country", "country of residence", required=False)
    else:
        incorporated = _date(form, "incorporation_date", "date of incorporation", required=True, today=today)
        incorporation = form.country("incorporation_country", "country of incorporation")
        headquarters = form.country("headquarters_country", "headquarters country", required=False)
    email = form.text("email", "e-mail address", max_len=FACT_MAX)
    if email is not None and "@" not in email:
        form.fail("email", "The e-mail address must have an @, like name@example.com.")
    phone = form.text("phone", "phone number", required=False, max_len=FACT_MAX)
    purpose = form.text("business_purpose", "business purpose", required=False, max_len=FACT_MAX)
    identifiers = _identifiers(form, old)
    if not form.ok:
        return None
    return FactsIn(
        legal_name=legal_name,
        birth_date=birth_date,
        incorporation_date=incorporated,
        nationality=nationality,
        residence_country=residence,
        incorporation_country=incorporation,
        headquarters_country=headquarters,
        email=email,
        phone=phone,
        business_purpose=purpose,
        identifiers=identifiers,
    )


def _identifiers(form: Form, old: Facts | None) -> list[IdentifierIn]:
    id_type = form.raw("id_type")
    value = form.text("id_value", "identifier", required=False, max_len=FACT_MAX)
    country = form.country("id_country", "identifier's country", required=False)
    if id_type and id_type not in ID_TYPES:
        form.fail("id_type", "Choose the kind of identifier from the list.")
        return []
    if id_type and value is None and "id_value" not in form.errors:
        form.fail("id_value", "Enter the identifier, or choose no kind of identifier.")
    if value is not None and not id_type:
        form.fail("id_type", "Choose the kind of identifier.")
    if not id_type or value is None:
        return []
    kept = [
        IdentifierIn(type=x.type, value=x.value, country=x.country) for x in (old.identifiers if old else ())
    ]
    return [IdentifierIn(type=id_type, value=value, country=country), *kept[1:]]


def details_values(facts: Facts | None) -> dict[str, str]:
    """The form as the record stands, to edit it."""
    if facts is None:
        return {}
    values = {
        name: str(getattr(facts, name) or "")
        for name in (
            "legal_name",
            "birth_date",
            "incorporation_date",
            "nationality",
            "residence_country",
            "incorporation_country",
            "headquarters_country",
            "email",
            "phone",
            "business_purpose",
        )
    }
    if facts.identifiers:
        first = facts.identifiers[0]
        values |= {
            "id_type": first.type if first.type in ID_TYPES else "other",
            "id_value": first.value,
            "id_country": first.country or "",
        }
    return values


def read_address(form: Form, count: int) -> AddressIn | None:
    """Step 3: one more address (``count`` are on record already)."""
    line1 = form.text("line1", "first address line", max_len=FACT_MAX)
    line2 = form.text("line2", "second address line", required=False, max_len=FACT_MAX)
    city = form.text("city", "city", max_len=FACT_MAX)
    region = form.text("region", "region or state", required=False, max_len=FACT_MAX)
    postal = form.text("postal_code", "postal code", required=False, max_len=FACT_MAX)
    country = form.country("country", "country")
    if count >= MAX_ITEMS:
        form.fail("line1", f"An application holds at most {MAX_ITEMS} addresses: remove one first.")
    if not form.ok or line1 is None or city is None or country is None:
        return None
    return AddressIn(line1=line1, city=city, country=country, line2=line2, region=region, postal_code=postal)


def direct_percent(edges: Sequence[Edge]) -> float:
    """What the customer's direct owners hold together."""
    return sum(e.percent or 0.0 for e in edges if e.owned_id is None)


def read_owner(form: Form, today: dt.date, held: float) -> OwnerIn | None:
    """Step 4: one more direct owner; ``held`` is what the direct owners on record hold."""
    name = form.text("name", "owner's name", max_len=OWNER_NAME_MAX)
    kind = form.choice("kind", "kind of owner", OWNER_KINDS)
    country = form.country("country", "owner's country", required=False)
    percent = form.percent("percent", "percentage owned")
    role_raw = form.raw("role")
    role = None
    if role_raw:
        if role_raw not in ROLE_OPTIONS:
            form.fail("role", "Choose the control role from the list.")
        else:
            role = role_raw
    if percent is None and role is None and "percent" not in form.errors and "role" not in form.errors:
        form.fail("percent", "Give the percentage owned, a control role, or both.")
    if percent is not None and held + percent > 100 + 1e-9:
        form.fail(
            "percent",
            f"The direct owners would hold {_pct(held + percent)}% together, more than 100%:"
            f" those already listed hold {_pct(held)}%, so this owner can hold at most {_pct(100 - held)}%.",
        )
    birth_date = _date(form, "birth_date", "owner's date of birth", required=False, today=today)
    nationality = form.country("nationality", "owner's nationality", required=False)
    if kind == "organisation":
        if form.raw("birth_date"):
            form.fail("birth_date", "An organisation has no date of birth: leave it empty.")
        if form.raw("nationality"):
            form.fail("nationality", "An organisation has no nationality: leave it empty.")
    if not form.ok or name is None or kind is None:
        return None
    return OwnerIn(
        name=name,
        kind=kind,  # type: ignore[arg-type]
        country=country,
        percent=percent,
        role=role,
        birth_date=birth_date,
        nationality=nationality,
    )


def _pct(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


_PATH = re.compile(
    r"^(?P<path>[a-z_]+(?:\[(?P<index>\d+)\])?(?:\.(?P<sub>[a-z_0-9]+))?): (?P<text>.+)$", re.S
)
_IDENTIFIER_FIELDS = {"type": "id_type", "value": "id_value", "country": "id_country"}


def facts_error(message: str, *, address_index: int | None = None) -> tuple[str | None, str]:
    """The form field a service ``invalid_facts`` message names (None: none on this form), and the
    message said as a sentence. ``address_index``: the address the address form just added."""
    found = _PATH.match(message)
    if found is None:
        return None, _sentence(message)
    path, index, sub, text = found["path"], found["index"], found["sub"], _sentence(found["text"])
    head = path.split("[")[0]
    if head == "identifiers":
        return (_IDENTIFIER_FIELDS.get(sub or "") if index == "0" else None), text
    if head == "addresses":
        if address_index is not None and index == str(address_index) and sub in ADDRESS_FIELDS:
            return sub, text
        return None, f"Address {int(index or 0) + 1}: {text}"
    if index is None and sub is None:
        return head, text
    return None, text


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", ")")) else text + "."
