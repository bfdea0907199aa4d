"""KYC operations: one place for the rules, used by the admin API, the onboarding API,
the webhook receiver and the CLI alike.

Each operation runs in one transaction on the connection it is given and locks the
customer's row first, so concurrent decisions on one customer serialise and nothing
is half-written. Personal data is sealed before it reaches the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import asyncpg
import msgspec
import structlog

from ..errors import BadRequest, Conflict, NotFoundInStore
from ..identity.repository import Customer, create_customer
from ..screening.formats import ListFormatError, parse_list
from ..screening.repository import active_lists, file_digest, store_list
from ..settings import Settings
from . import repository as repo
from . import trail
from .crypto import Keyring, seal
from .facts import Facts, FactsIn, merge_facts, missing_for_submission, validate_facts
from .jurisdictions import derive
from .models import (
    ApplicationView,
    KycStatus,
    LinkIn,
    ListInfo,
    Owner,
    OwnerIn,
    QueueItem,
    Review,
)
from .owner_input import check_edge, check_owner, fold, role_key
from .ownership import OwnershipReport
from .records import SealedRecords, resolve_keyring
from .screen import SCREENING_ACTOR, ScreenerCache, assess, follow_up, screen_customer
from .states import Status, check_transition, provider_steps
from .views import EMPTY_FACTS, KycViews, blocking
from .webhooks import ProviderEvent

_log = structlog.get_logger(__name__)
_encode = msgspec.json.encode

Action = Literal["approve", "reject", "suspend", "reinstate", "request_info", "reopen", "review"]
_TARGET: dict[Action, Status] = {
    "approve": "verified", "reject": "rejected", "suspend": "suspended", "reinstate": "verified",
    "request_info": "pending", "reopen": "pending", "review": "in_review",
}  # fmt: skip


class KycService:
    """Holds the sealed records (``records.py``: keys, opening facts and owners) and the read-only
    views over them (``views.py``), with the same settings, keys and clock; answers their reads
    too, so that a caller (the APIs, the CLI) needs only the service."""

    def __init__(
        self,
        settings: Settings,
        keyring: Keyring,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.settings = settings
        self.keyring = keyring
        self.clock = clock
        self.records = SealedRecords(settings, keyring, clock)
        self.views = KycViews(self.records)
        self.screeners = ScreenerCache()

    @classmethod
    def from_settings(cls, settings: Settings) -> KycService:
        return cls(settings, resolve_keyring(settings))

    @classmethod
    async def open(cls, pool: asyncpg.Pool, settings: Settings) -> KycService:
        service = cls.from_settings(settings)
        async with pool.acquire() as conn:
            await service.check_keys(conn)
        return service

    # -- reads: the views and the sealed records --------------------------------------

    async def status(self, conn: asyncpg.Connection, customer_id: uuid.UUID) -> KycStatus:
        return await self.views.status(conn, customer_id)

    async def review(self, conn: asyncpg.Connection, customer_id: uuid.UUID) -> Review:
        return await self.views.review(conn, customer_id)

    async def application(self, conn: asyncpg.Connection, customer_id: uuid.UUID) -> ApplicationView:
        return await self.views.application(conn, customer_id)

    async def queue(self, conn: asyncpg.Connection) -> list[QueueItem]:
        return await self.views.queue(conn)

    async def facts(self, conn: asyncpg.Connection, customer_id: uuid.UUID) -> Facts | None:
        return await self.records.facts(conn, customer_id)

    async def owners(self, conn: asyncpg.Connection, customer_id: uuid.UUID) -> list[Owner]:
        return await self.records.owners(conn, customer_id)

    async def check_keys(self, conn: asyncpg.Connection) -> None:
        await self.records.check_keys(conn)

    # -- customers and facts ----------------------------------------------------------

    async def create_customer(
        self,
        conn: asyncpg.Connection,
        name: str,
        kind: str = "organisation",
        country: str | None = None,
        *,
        facts: FactsIn | None = None,
        oidc: tuple[str, str] | None = None,
    ) -> Customer:
        async with conn.transaction():
            customer = await create_customer(conn, name, kind, country, oidc=oidc)
            if facts is not None:
                await self._store_facts(conn, customer.id, customer.kind, facts)
        return customer

    async def update_facts(self, conn: asyncpg.Connection, customer_id: uuid.UUID, facts: FactsIn) -> Facts:
        async with conn.transaction():
            customer = await repo.get_customer(conn, customer_id, lock=True)
            self._not_erased(customer.erased_at)
            return await self._store_facts(conn, customer_id, customer.kind, facts)

    async def _store_facts(
        self, conn: asyncpg.Connection, customer_id: uuid.UUID, kind: str, facts_in: FactsIn
    ) -> Facts:
        new = validate_facts(
            kind,  # type: ignore[arg-type]
            facts_in,
            fingerprint_key=self.keyring.index_key,
            today=self.clock().date(),
        )
        old = await self.records.facts(conn, customer_id)
        merged = new if old is None else merge_facts(old, new)
        dek = await self.records.data_key(conn, customer_id, create=True)
        assert dek is not None
        await repo.store_facts(conn, customer_id, seal(dek, _encode(merged), f"customer:{customer_id}"))
        # An invoice has no instrument (fingerprint ""): never a link.
        await repo.set_payment_fingerprints(
            conn, customer_id, [p.fingerprint for p in merged.payment_methods]
        )
        await self._refresh_jurisdictions(conn, customer_id)
        return merged

    # -- owners ---------------------------------------------------------------------

    async def add_owner(self, conn: asyncpg.Connection, customer_id: uuid.UUID, owner: OwnerIn) -> uuid.UUID:
        pii, country = check_owner(owner)
        owner_id = uuid.uuid4()
        async with conn.transaction():
            customer = await repo.get_customer(conn, customer_id, lock=True)
            self._not_erased(customer.erased_at)
            if owner.of is not None:
                await self._organisation_in_graph(conn, customer_id, owner.of)
            dek = await self.records.data_key(conn, customer_id, create=True)
            assert dek is not None
            index = self.keyring.blind_index("owner", f"{fold(pii.name)}|{country or ''}")
            await repo.insert_owner(
                conn,
                owner_id,
                customer_id,
                owner.kind,
                country,
                index,
                seal(dek, _encode(pii), f"owner:{owner_id}"),
            )
            await repo.insert_edge(conn, customer_id, owner_id, owner.of, owner.percent, role_key(owner.role))
            await self._rescreen_locked(conn, customer_id)
        return owner_id

    async def link_owner(self, conn: asyncpg.Connection, customer_id: uuid.UUID, link: LinkIn) -> int:
        """One more edge between owners already in the graph (an owner of several entities)."""
        check_edge(link.percent, link.role)
        async with conn.transaction():
            await repo.get_customer(conn, customer_id, lock=True)
            if await repo.owner_exists(conn, customer_id, link.owner) is None:
                raise NotFoundInStore(
                    f"no owner {link.owner} in this customer's graph", code="owner_not_found"
                )
            if link.of is not None:
                await self._organisation_in_graph(conn, customer_id, link.of)
            if link.of == link.owner:
                raise BadRequest("an owner cannot own itself", code="invalid_owner")
            try:
                edge_id = await repo.insert_edge(
                    conn, customer_id, link.owner, link.of, link.percent, role_key(link.role)
                )
            except asyncpg.UniqueViolationError:
                raise Conflict("this ownership link already exists", code="link_exists") from None
            await self._rescreen_locked(conn, customer_id)
        return edge_id

    async def remove_owner(
        self, conn: asyncpg.Connection, customer_id: uuid.UUID, owner_id: uuid.UUID
    ) -> None:
        async with conn.transaction():
            await repo.get_customer(conn, customer_id, lock=True)
            if not await repo.delete_owner(conn, customer_id, owner_id):
                raise NotFoundInStore(f"no owner {owner_id} in this customer's graph", code="owner_not_found")
            await self._rescreen_locked(conn, customer_id)

    async def _organisation_in_graph(
        self, conn: asyncpg.Connection, customer_id: uuid.UUID, of: uuid.UUID
    ) -> None:
        kind = await repo.owner_exists(conn, customer_id, of)
        if kind is None:
            raise NotFoundInStore(f"no owner {of} in this customer's ownership graph", code="owner_not_found")
        if kind != "organisation":
            raise BadRequest(
                f"owner {of} is a person: only an organisation can be owned", code="invalid_owner"
            )

    # -- state machine -------------------------------------------------------------------

    async def submit(
        self, conn: asyncpg.Connection, customer_id: uuid.UUID, actor: str, *, require_facts: bool = False
    ) -> KycStatus:
        """Hand the application to review: screened now, then decided by an operator or a provider."""
        async with conn.transaction():
            customer = await repo.get_customer(conn, customer_id, lock=True)
            self._not_erased(customer.erased_at)
            check_transition(customer.kyc_status, "in_review")
            facts = await self.facts(conn, customer_id)
            owners = await self.owners(conn, customer_id)
            lacking = blocking(customer.kind, customer.country, facts, owners)
            if require_facts:
                lacking += missing_for_submission(customer.kind, facts or EMPTY_FACTS)
            if lacking:
                raise Conflict(
                    f"the application is incomplete: missing {', '.join(lacking)}", code="incomplete"
                )
            await repo.set_status(
                conn, customer_id, customer.kyc_status, "in_review", actor=actor, reason="submitted"
            )
            await self._rescreen_locked(conn, customer_id)
        return await self.status(conn, customer_id)

    async def decide(
        self, conn: asyncpg.Connection, customer_id: uuid.UUID, action: Action, actor: str, reason: str
    ) -> KycStatus:
        reason = _reason(reason)
        target = _TARGET[action]
        async with conn.transaction():
            customer = await repo.get_customer(conn, customer_id, lock=True)
            current = customer.kyc_status
            if action == "reinstate" and current != "suspended":
                raise Conflict(
                    f"only a suspended customer can be reinstated (it is {current!r})",
                    code="illegal_transition",
                )
            if action == "approve" and current == "suspended":
                raise Conflict("a suspended customer is reinstated, not approved", code="illegal_transition")
            if action == "reopen" and current != "rejected":
                raise Conflict(
                    f"only a rejected customer can be reopened (it is {current!r})", code="illegal_transition"
                )
            check_transition(current, target)
            if target == "verified":
                self._not_erased(customer.erased_at)
                await self._may_verify(conn, customer_id, customer.sanctions)
                if not await active_lists(conn):
                    reason += " (no screening list was loaded)"
            await self._move(conn, customer_id, current, target, actor, reason)
        _log.info("kyc_decision", customer=str(customer_id), action=action, to=target, actor=actor)
        return await self.status(conn, customer_id)

    async def _may_verify(self, conn: asyncpg.Connection, customer_id: uuid.UUID, sanctions: str) -> None:
        hits = await repo.hits(conn, customer_id)
        open_hits = [h for h in hits if h.state == "open"]
        if open_hits:
            raise Conflict(
                f"{len(open_hits)} screening hit(s) must be confirmed or dismissed first",
                code="open_screening_hits",
            )
        if sanctions == "confirmed":
            raise Conflict("the customer is on a denied-party list (confirmed)", code="sanctions_hit")
        if self.settings.require_screening_list and not await active_lists(conn):
            raise Conflict(
                "no screening list is loaded; load one with 'gateway screening load'",
                code="screening_unavailable",
            )

    async def decide_hit(
        self,
        conn: asyncpg.Connection,
        hit_id: int,
        confirm: bool,
        actor: str,
        reason: str,
        customer_id: uuid.UUID | None = None,
    ) -> KycStatus:
        """Confirm a true match or dismiss a false positive; dismissals are remembered per list entry."""
        reason = _reason(reason)
        owner = await repo.hit_customer(conn, hit_id) if customer_id is None else customer_id
        async with conn.transaction():
            await repo.get_customer(conn, owner, lock=True)
            found = await repo.hit(conn, hit_id, owner)
            if found.state == "cleared":
                raise Conflict("this hit was cleared by a newer list version", code="hit_cleared")
            state = "confirmed" if confirm else "dismissed"
            await repo.decide_hit(conn, hit_id, state, actor, reason)
            await trail.hit_decided(conn, owner, hit_id, state, actor=actor, reason=reason, at=self.clock())
            await self._reconcile(conn, owner, actor)
        return await self.status(conn, owner)

    async def apply_provider_event(self, conn: asyncpg.Connection, event: ProviderEvent) -> tuple[bool, str]:
        """Apply a verified webhook delivery once. Returns (applied, note); a replay changes nothing."""
        try:
            customer_id: uuid.UUID | None = uuid.UUID(event.customer_ref)
        except ValueError:
            customer_id = None
        actor = f"provider:{event.provider}"
        try:
            return await self._apply_event(conn, event, customer_id, actor)
        except _Replay:
            return False, "duplicate delivery: already processed"

    async def _apply_event(
        self, conn: asyncpg.Connection, event: ProviderEvent, customer_id: uuid.UUID | None, actor: str
    ) -> tuple[bool, str]:
        async with conn.transaction():
            customer = None
            if customer_id is not None:
                try:
                    customer = await repo.get_customer(conn, customer_id, lock=True)
                except NotFoundInStore:
                    customer = None
            applied, note = False, "informational"
            if customer is None:
                note = "unknown customer reference"
            elif event.outcome is not None:
                last = await repo.last_event_at(conn, event.provider, event.reference)
                if last is not None and event.occurred_at is not None and event.occurred_at < last:
                    note = "older than the last event applied for this verification; recorded only"
                else:
                    applied, note = await self._apply_outcome(
                        conn, customer.id, customer.kyc_status, customer.sanctions, event, actor
                    )
            fresh = await repo.record_webhook(
                conn,
                provider=event.provider,
                event_id=event.event_id,
                customer_id=customer.id if customer else None,
                reference=event.reference,
                provider_status=event.provider_status,
                outcome=event.outcome,
                applied=applied,
                note=note,
            )
            if not fresh:
                # Already processed: undo whatever this delivery did (nothing is committed yet).
                raise _Replay
            if customer is not None:
                await repo.upsert_verification(
                    conn,
                    event.provider,
                    event.reference,
                    customer.id,
                    event.provider_status,
                    event.outcome,
                    event.occurred_at if applied else None,
                )
        return applied, note

    async def _apply_outcome(
        self,
        conn: asyncpg.Connection,
        customer_id: uuid.UUID,
        status: Status,
        sanctions: str,
        event: ProviderEvent,
        actor: str,
    ) -> tuple[bool, str]:
        hits = await repo.hits(conn, customer_id)
        clear = sanctions == "none" and not any(h.state == "open" for h in hits)
        steps, applied, note = provider_steps(status, event.outcome, screening_clear=clear)  # type: ignore[arg-type]
        reason = f"{event.provider} {event.reference}: {event.provider_status}"
        current = status
        for step in steps:
            await self._move(conn, customer_id, current, step, actor, reason)
            current = step
        return applied, note

    async def _move(
        self,
        conn: asyncpg.Connection,
        customer_id: uuid.UUID,
        current: Status,
        target: Status,
        actor: str,
        reason: str,
    ) -> None:
        """One transition, and its audit entry; a verification also sets when it expires."""
        await trail.status_changed(
            conn, customer_id, current, target, actor=actor, reason=reason, at=self.clock()
        )
        if target == "verified":
            now = self.clock()
            expires = now + dt.timedelta(days=self.settings.kyc_reverify_days)
            await repo.set_status(
                conn,
                customer_id,
                current,
                target,
                actor=actor,
                reason=reason,
                verified_at=now,
                expires_at=expires,
            )
        else:
            await repo.set_status(conn, customer_id, current, target, actor=actor, reason=reason)

    async def set_level(
        self, conn: asyncpg.Connection, customer_id: uuid.UUID, level: str, actor: str, reason: str
    ) -> KycStatus:
        """Standard or enhanced due diligence; policy rules may require enhanced (``edd_required``)."""
        reason = _reason(reason)
        if level not in ("standard", "enhanced"):
            raise BadRequest("level must be 'standard' or 'enhanced'", code="invalid_level")
        async with conn.transaction():
            customer = await repo.get_customer(conn, customer_id, lock=True)
            await repo.set_kyc_level(conn, customer_id, level)
            await trail.level_changed(conn, customer_id, level, actor=actor, reason=reason, at=self.clock())
            status = customer.kyc_status
            await repo.record_transition(
                conn,
                customer_id,
                status,
                status,
                actor=actor,
                reason=f"due diligence level {level}: {reason}",
            )
        return await self.status(conn, customer_id)

    async def expire_due(self, conn: asyncpg.Connection) -> list[uuid.UUID]:
        reason = f"verification older than {self.settings.kyc_reverify_days} days"
        return await repo.expire_due(conn, self.clock(), reason)

    async def erase(self, conn: asyncpg.Connection, customer_id: uuid.UUID, actor: str) -> None:
        """Crypto-shred a customer's personal data once the record-keeping period allows it."""
        async with conn.transaction():
            customer = await repo.get_customer(conn, customer_id, lock=True)
            if customer.erased_at is not None:
                return
            if customer.kyc_status != "rejected":
                raise Conflict(
                    "personal data can be erased only after the relationship ended (status 'rejected')",
                    code="retention_period",
                )
            until = customer.status_changed_at + dt.timedelta(days=self.settings.kyc_retention_days)
            if until > self.clock():
                raise Conflict(
                    f"personal data must be kept until {until.date().isoformat()} (record-keeping period)",
                    code="retention_period",
                )
            await repo.erase(conn, customer_id)
            await repo.record_transition(
                conn, customer_id, "rejected", "rejected", actor=actor, reason="personal data erased"
            )

    async def rewrap_keys(self, conn: asyncpg.Connection) -> int:
        """Re-wrap every data key with the current master key (after adding a new version)."""
        count = 0
        async with conn.transaction():
            for customer_id, version, wrapped in await repo.all_wrapped_keys(conn):
                if version != self.keyring.current:
                    new_version, new_wrapped = self.keyring.rewrap(version, wrapped, str(customer_id))
                    await repo.replace_wrapped_key(conn, customer_id, new_version, new_wrapped)
                    count += 1
        return count

    async def reindex_payments(self, conn: asyncpg.Connection) -> int:
        """Index the payment fingerprints of every customer's stored facts; the customers indexed.

        New facts are indexed as they are written; this is for facts written before the index
        existed (migration 007), and is safe to run again: it writes what the facts say.
        """
        count = 0
        for customer_id in await repo.all_customer_ids(conn):
            async with conn.transaction():
                if (await repo.get_customer(conn, customer_id, lock=True)).erased_at is not None:
                    continue  # erased since it was listed
                facts = await self.facts(conn, customer_id)
                if facts is None:
                    continue
                await repo.set_payment_fingerprints(
                    conn, customer_id, [p.fingerprint for p in facts.payment_methods]
                )
                count += 1
        return count

    # -- screening ----------------------------------------------------------------------

    async def load_list(self, conn: asyncpg.Connection, path: Path, source: str) -> tuple[ListInfo, int]:
        """Load (or replace) a list version atomically, then rescreen every customer against it."""
        # Parsing a real list takes seconds: off the event loop, so a serving gateway keeps serving.
        try:
            entries = await asyncio.to_thread(parse_list, path, source)  # type: ignore[arg-type]
        except ListFormatError as exc:
            raise BadRequest(str(exc), code="invalid_list") from None
        if not entries:
            raise BadRequest(f"{path.name} holds no screenable entries", code="empty_list")
        digest = await asyncio.to_thread(file_digest, path)
        info = await store_list(conn, source, entries, digest, path.name)
        return info, await self.rescreen_all(conn)

    async def rescreen_all(self, conn: asyncpg.Connection) -> int:
        count = 0
        for customer_id in await repo.all_customer_ids(conn):
            async with conn.transaction():
                await repo.get_customer(conn, customer_id, lock=True)
                await self._rescreen_locked(conn, customer_id)
            count += 1
        return count

    async def _rescreen_locked(self, conn: asyncpg.Connection, customer_id: uuid.UUID) -> None:
        customer = await repo.get_customer(conn, customer_id)
        facts = await self.facts(conn, customer_id)
        owners = await self.owners(conn, customer_id)
        screened = await screen_customer(
            conn, self.screeners, customer, facts, owners, self.settings.screening_review_threshold
        )
        await self._reconcile(conn, customer_id, SCREENING_ACTOR, screened=screened)

    async def _reconcile(
        self, conn: asyncpg.Connection, customer_id: uuid.UUID, actor: str, *, screened: bool = False
    ) -> None:
        customer = await repo.get_customer(conn, customer_id)
        owners = await self.owners(conn, customer_id)
        assessment = assess(
            customer_id, owners, await repo.edges(conn, customer_id), await repo.hits(conn, customer_id)
        )
        await repo.set_screening_result(
            conn, customer_id, assessment.sanctions, assessment.report.listed_percent, screened
        )
        await self._refresh_jurisdictions(conn, customer_id, owners, assessment.report)
        change = follow_up(customer.kyc_status, assessment)
        if change is not None:
            target, reason = change
            await repo.set_status(conn, customer_id, customer.kyc_status, target, actor=actor, reason=reason)

    async def backfill_jurisdictions(self, conn: asyncpg.Connection) -> int:
        """Derive jurisdictions where none are stored yet (customers from before they existed)."""
        ids = [
            r[0]
            for r in await conn.fetch(
                "select id from customers where jurisdictions = '[]' and erased_at is null"
                " and (country is not null or facts_sealed is not null"
                " or exists (select 1 from owners o where o.customer_id = customers.id))"
            )
        ]
        for customer_id in ids:
            async with conn.transaction():
                await repo.get_customer(conn, customer_id, lock=True)
                await self._refresh_jurisdictions(conn, customer_id)
        return len(ids)

    async def _refresh_jurisdictions(
        self,
        conn: asyncpg.Connection,
        customer_id: uuid.UUID,
        owners: list[Owner] | None = None,
        report: OwnershipReport | None = None,
    ) -> None:
        """Re-derive the countries policy decisions look at; the change reaches every replica by NOTIFY."""
        customer = await repo.get_customer(conn, customer_id)
        if owners is None or report is None:
            owners = await self.owners(conn, customer_id)
            edges = await repo.edges(conn, customer_id)
            report = assess(customer_id, owners, edges, await repo.hits(conn, customer_id)).report
        facts = await self.facts(conn, customer_id)
        await repo.set_jurisdictions(conn, customer_id, derive(customer.country, facts, owners, report))

    @staticmethod
    def _not_erased(erased_at: dt.datetime | None) -> None:
        if erased_at is not None:
            raise Conflict("this customer's personal data has been erased", code="erased")


class _Replay(Exception):
    """A webhook delivery already processed: its transaction is rolled back."""


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > 1000:
        raise BadRequest("a reason of 1-1000 characters is required", code="invalid_reason")
    return reason
