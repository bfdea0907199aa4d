"""What operators and customers see of a customer's KYC file: read-only views over the
sealed records, the hits and the ownership graph."""

from __future__ import annotations

import uuid

import asyncpg

from ..screening.repository import active_lists
from . import repository as repo
from .facts import Facts, missing_for_submission
from .models import ApplicationView, KycStatus, Owner, QueueItem, Review, Screening
from .records import SealedRecords
from .screen import assess

EMPTY_FACTS = Facts()


class KycViews:
    """Reads over the records a :class:`~gateway.kyc.service.KycService` writes; they change nothing."""

    def __init__(self, records: SealedRecords) -> None:
        self.records = records

    async def status(self, conn: asyncpg.Connection, customer_id: uuid.UUID) -> KycStatus:
        customer = await repo.get_customer(conn, customer_id)
        facts = await self.records.facts(conn, customer_id)
        owners = await self.records.owners(conn, customer_id)
        edges = await repo.edges(conn, customer_id)
        hits = await repo.hits(conn, customer_id)
        assessment = assess(customer_id, owners, edges, hits)
        report = assessment.report
        lists = await active_lists(conn)
        warnings = list(report.warnings)
        if not lists:
            warnings.append("no screening list is loaded: nobody has been screened")
        if customer.kind == "organisation" and owners and not report.complete:
            warnings.append("known shares of the customer add up to less than 100%")
        return KycStatus(
            customer=customer.id,
            name=customer.name,
            kind=customer.kind,
            country=customer.country,
            status=customer.kyc_status,
            status_changed_at=customer.status_changed_at,
            verified_at=customer.verified_at,
            expires_at=customer.expires_at,
            sanctions=customer.sanctions,
            kyc_level=customer.kyc_level,
            listed_ownership_percent=customer.listed_ownership_percent,
            treated_as_listed=report.treated_as_listed,
            beneficial_owners=[uuid.UUID(i) for i in report.beneficial_owners],
            missing=missing(customer.kind, customer.country, facts, owners),
            screening=Screening(
                screened_at=customer.screened_at,
                lists=lists,
                hits=[h for h in hits if h.state in ("open", "confirmed")],
                dismissed=[h for h in hits if h.state == "dismissed"],
            ),
            warnings=warnings,
        )

    async def review(self, conn: asyncpg.Connection, customer_id: uuid.UUID) -> Review:
        status = await self.status(conn, customer_id)
        owners = await self.records.owners(conn, customer_id)
        edges = await repo.edges(conn, customer_id)
        hits = await repo.hits(conn, customer_id)
        return Review(
            status=status,
            facts=await self.records.facts(conn, customer_id),
            owners=owners,
            edges=edges,
            ownership=assess(customer_id, owners, edges, hits).report,
            transitions=await repo.transitions(conn, customer_id),
            verifications=await repo.verifications(conn, customer_id),
            access=await repo.access_log(conn, customer_id),
        )

    async def application(self, conn: asyncpg.Connection, customer_id: uuid.UUID) -> ApplicationView:
        customer = await repo.get_customer(conn, customer_id)
        facts = await self.records.facts(conn, customer_id)
        owners = await self.records.owners(conn, customer_id)
        return ApplicationView(
            id=customer.id,
            name=customer.name,
            kind=customer.kind,
            country=customer.country,
            status=customer.kyc_status,
            facts=facts,
            owners=owners,
            edges=await repo.edges(conn, customer_id),
            missing=missing(customer.kind, customer.country, facts, owners),
        )

    async def queue(self, conn: asyncpg.Connection) -> list[QueueItem]:
        return await repo.review_queue(conn)


def blocking(kind: str, country: str | None, facts: Facts | None, owners: list[Owner]) -> list[str]:
    """What a submission cannot do without: a country, and for an organisation its owners."""
    lacking = []
    countries = [country]
    if facts is not None:
        countries += [facts.residence_country, facts.incorporation_country, facts.nationality]
    if not any(countries):
        lacking.append("country")
    if kind == "organisation" and not owners:
        lacking.append("beneficial owners")
    return lacking


def missing(kind: str, country: str | None, facts: Facts | None, owners: list[Owner]) -> list[str]:
    """Everything a complete application still lacks, blocking or not."""
    return blocking(kind, country, facts, owners) + missing_for_submission(
        kind,  # type: ignore[arg-type]
        facts or EMPTY_FACTS,
    )
