"""What the KYC API and CLI take and give: typed structs at the edge."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

import msgspec

from ..screening.evidence import Explanation, FieldCheck
from ..screening.similarity import WordPair
from .facts import Facts, FactsIn
from .ownership import OwnershipReport
from .states import Sanctions, Status

OwnerKind = Literal["person", "organisation"]
CustomerKind = Literal["individual", "organisation"]


# -- requests -------------------------------------------------------------------


class ApplicationIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    kind: CustomerKind
    country: str
    facts: FactsIn | None = None


class OwnerIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    kind: OwnerKind
    country: str | None = None
    percent: float | None = None
    role: str | None = None
    of: uuid.UUID | None = None
    """The organisation (an owner already in the graph) this one owns; None: the customer itself."""
    birth_date: str | None = None
    nationality: str | None = None


class LinkIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    owner: uuid.UUID
    of: uuid.UUID | None = None
    percent: float | None = None
    role: str | None = None


class DecisionIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    reason: str


# -- stored and shown -----------------------------------------------------------


class OwnerFacts(msgspec.Struct, frozen=True):
    """An owner's personal data: sealed with the customer's data key."""

    name: str
    birth_date: str | None = None
    nationality: str | None = None


class Owner(msgspec.Struct, frozen=True):
    id: uuid.UUID
    kind: OwnerKind
    country: str | None
    name: str | None  # None once erased
    birth_date: str | None
    nationality: str | None
    created_at: dt.datetime


class Edge(msgspec.Struct, frozen=True):
    id: int
    owner_id: uuid.UUID
    owned_id: uuid.UUID | None
    percent: float | None
    role: str | None


class HitExplanation(msgspec.Struct, frozen=True):
    """Why a hit scored as it did, as data: :class:`gateway.screening.evidence.Explanation` without
    the subject's name as written (``subject_id`` says whose it is)."""

    name_score: float
    """How alike the names are, 0..1, before the fields."""
    listed_name: str
    """The list's name or alias that matched, as written."""
    pairs: list[WordPair]
    """The subject's words paired with the list's, and how (``same``, ``spelling``, ...)."""
    unpaired_subject: list[str]
    unpaired_listed: list[str]
    fields: list[FieldCheck]
    """Each field both sides had (identifier, birth date, country, kind, legal form, ranking) and
    what it added to or took from the score."""
    score: float
    compact: bool = False
    """The names were compared with their spaces removed."""

    @classmethod
    def of(cls, explanation: Explanation) -> HitExplanation:
        return cls(
            name_score=round(explanation.name_score, 4),
            listed_name=explanation.listed_name,
            pairs=list(explanation.pairs),
            unpaired_subject=list(explanation.unpaired_subject),
            unpaired_listed=list(explanation.unpaired_listed),
            fields=list(explanation.fields),
            score=round(explanation.score, 4),
            compact=explanation.compact,
        )


class Hit(msgspec.Struct, frozen=True):
    id: int
    subject_type: Literal["customer", "owner"]
    subject_id: uuid.UUID
    entry: str
    name: str
    matched_name: str
    score: float
    reasons: list[str]
    state: Literal["open", "confirmed", "dismissed", "cleared"]
    list_source: str = msgspec.field(name="list", default="")
    list_name: str = ""
    decided_by: str | None = None
    decided_reason: str | None = None
    explanation: HitExplanation | None = None
    """None for a hit recorded before explanations were stored."""


class Transition(msgspec.Struct, frozen=True):
    from_status: str
    to_status: str
    actor: str
    reason: str
    at: dt.datetime


class ListInfo(msgspec.Struct, frozen=True):
    id: int
    source: str
    sha256: str
    file_name: str
    entries: int
    loaded_at: dt.datetime


class Screening(msgspec.Struct, frozen=True):
    screened_at: dt.datetime | None
    lists: list[ListInfo]
    hits: list[Hit]
    """Open and confirmed hits; dismissed ones are under ``dismissed``."""
    dismissed: list[Hit]


class CustomerRecord(msgspec.Struct, frozen=True):
    id: uuid.UUID
    name: str
    kind: CustomerKind
    country: str | None
    kyc_status: Status
    status_changed_at: dt.datetime
    verified_at: dt.datetime | None
    expires_at: dt.datetime | None
    sanctions: Sanctions
    listed_ownership_percent: float
    screened_at: dt.datetime | None
    erased_at: dt.datetime | None
    created_at: dt.datetime
    kyc_level: Literal["standard", "enhanced"] = "standard"


class KycStatus(msgspec.Struct, frozen=True):
    """What an operator (and ``gateway kyc status``) sees."""

    customer: uuid.UUID
    name: str
    kind: CustomerKind
    country: str | None
    status: Status
    status_changed_at: dt.datetime
    verified_at: dt.datetime | None
    expires_at: dt.datetime | None
    sanctions: Sanctions
    kyc_level: Literal["standard", "enhanced"]
    listed_ownership_percent: float
    treated_as_listed: bool
    beneficial_owners: list[uuid.UUID]
    missing: list[str]
    screening: Screening
    warnings: list[str]


class Review(msgspec.Struct, frozen=True):
    """Everything a reviewer needs about one customer."""

    status: KycStatus
    facts: Facts | None
    owners: list[Owner]
    edges: list[Edge]
    ownership: OwnershipReport
    transitions: list[Transition]
    verifications: list[dict[str, str | None]]
    access: list[dict[str, str | None]]


class ApplicationView(msgspec.Struct, frozen=True):
    """What the customer itself sees of its application: no screening details."""

    id: uuid.UUID
    name: str
    kind: CustomerKind
    country: str | None
    status: Status
    facts: Facts | None
    owners: list[Owner]
    edges: list[Edge]
    missing: list[str]


class QueueItem(msgspec.Struct, frozen=True):
    customer: uuid.UUID
    name: str
    kind: CustomerKind
    country: str | None
    status: Status
    since: dt.datetime
    open_hits: int
    sanctions: Sanctions
