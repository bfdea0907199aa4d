"""A customer's sealed records: the master keys, each customer's data key, and opening
the facts and owners it protects. The KYC service and its views hold one; nothing else opens them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import asyncpg
import msgspec

from ..errors import ServiceUnavailable
from ..settings import Settings
from . import repository as repo
from .crypto import Keyring, KeyringError, SealError, keyring_from_file, open_sealed, parse_keyring
from .facts import Facts
from .models import Owner, OwnerFacts

_facts_decoder = msgspec.json.Decoder(Facts)
_owner_decoder = msgspec.json.Decoder(OwnerFacts)


def resolve_keyring(settings: Settings) -> Keyring:
    """The configured master keys, or a key generated once in the state directory."""
    if settings.kyc_keys:
        return parse_keyring(settings.kyc_keys)
    return keyring_from_file(settings.state_path / "kyc-master-keys")


class SealedRecords:
    def __init__(
        self,
        settings: Settings,
        keyring: Keyring,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.settings = settings
        self.keyring = keyring
        self.clock = clock

    async def check_keys(self, conn: asyncpg.Connection) -> None:
        """Refuse a master key that differs from the one this database's data was sealed with."""
        known = await repo.master_key_checks(conn)
        for version in self.keyring.versions:
            check = self.keyring.check_value(version)
            if version in known and known[version] != check:
                raise KeyringError(
                    f"master key version {version} differs from the one this database was encrypted with;"
                    " every replica must share the same kyc_keys (GATEWAY_KYC_KEYS)"
                )
            if version not in known:
                await repo.register_master_key(conn, version, check)

    async def data_key(
        self, conn: asyncpg.Connection, customer_id: uuid.UUID, *, create: bool
    ) -> bytes | None:
        """The customer's data key, unwrapped; with ``create``, made (and stored wrapped) on first need."""
        found = await repo.wrapped_key(conn, customer_id)
        if found is None:
            if not create:
                return None
            _, version, wrapped = self.keyring.wrap_new(str(customer_id))
            found = await repo.insert_wrapped_key(conn, customer_id, version, wrapped)
        try:
            return self.keyring.unwrap(found[0], found[1], str(customer_id))
        except SealError as exc:
            raise ServiceUnavailable(
                f"personal data cannot be decrypted: {exc}", code="kyc_keys_unavailable"
            ) from None

    async def facts(self, conn: asyncpg.Connection, customer_id: uuid.UUID) -> Facts | None:
        sealed = await repo.facts_sealed(conn, customer_id)
        dek = await self.data_key(conn, customer_id, create=False)
        if sealed is None or dek is None:
            return None
        return _facts_decoder.decode(open_sealed(dek, sealed, f"customer:{customer_id}"))

    async def owners(self, conn: asyncpg.Connection, customer_id: uuid.UUID) -> list[Owner]:
        rows = await repo.owner_rows(conn, customer_id)
        dek = await self.data_key(conn, customer_id, create=False)
        out = []
        for r in rows:
            pii = None
            if r["sealed"] is not None and dek is not None:
                pii = _owner_decoder.decode(open_sealed(dek, r["sealed"], f"owner:{r['id']}"))
            out.append(
                Owner(
                    id=r["id"],
                    kind=r["kind"],
                    country=r["country"],
                    name=pii.name if pii else None,
                    birth_date=pii.birth_date if pii else None,
                    nationality=pii.nationality if pii else None,
                    created_at=r["created_at"],
                )
            )
        return out
