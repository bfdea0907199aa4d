"""``gateway usage import``: model-API calls served elsewhere, into the ledger as if through the gateway.

JSON Lines, one :class:`CallRecord` a line. Each becomes the usage event the gateway would have
recorded and its call features, from the same :func:`.features.extract` and the same country lookup
(``proxy.origin.country_of``), written with the ledger writer's insert. The whole file is checked
first: one bad line (named with its number and field) and nothing is written. A line without a
``request_id`` gets a UUIDv5 of its bytes, so importing a file twice adds nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, NamedTuple

import asyncpg
import msgspec

from ..errors import BadRequest
from ..ledger.events import UsageEvent
from ..ledger.writer import insert_calls
from ..proxy.origin import country_of
from ..proxy.routes import ROUTES
from .features import CallFeatures, extract

NAMESPACE = uuid.UUID("5b0c6a3e-0d6b-5a8e-9f0e-6f1d2c3b4a59")
"""Of the request ids made from a line's bytes (UUIDv5)."""
_Count = Annotated[int, msgspec.Meta(ge=0)]


class CallRecord(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One model-API call, as a line of the import file."""

    occurred_at: Annotated[dt.datetime, msgspec.Meta(tz=True)]
    """RFC 3339, with its offset."""
    key_id: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{16}$")]
    """The gateway key it was made with (``api_keys.id``): its customer and project are the call's."""
    route: str
    """A gateway route that forwards, e.g. ``/v1/chat/completions``, ``/v1/messages``."""
    model: Annotated[str, msgspec.Meta(min_length=1)]
    body: dict[str, Any]
    """The request's JSON body."""
    request_id: uuid.UUID | None = None
    status: Annotated[int, msgspec.Meta(ge=100, le=599)] = 200
    stream: bool = False
    prompt_tokens: _Count | None = None
    completion_tokens: _Count | None = None
    duration_ms: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    client_ip: str | None = None
    upstream: str | None = None
    error_code: str | None = None


class Line(NamedTuple):
    number: int
    request_id: uuid.UUID
    record: CallRecord
    body: bytes


class Summary(msgspec.Struct, kw_only=True):
    lines: int
    """Calls in the file."""
    written: int
    """Calls new to the ledger (written, or with ``--dry-run`` that would be)."""
    duplicates: int
    """Calls already in the ledger, or repeated in the file: skipped."""
    dry_run: bool


_decode = msgspec.json.Decoder(CallRecord).decode
_encode = msgspec.json.Encoder().encode


def _bad(number: int, field: str, message: str) -> BadRequest:
    return BadRequest(f"line {number}: {field}: {message}; nothing was imported", code="invalid_import")


def parse(data: bytes) -> list[Line]:
    """Every call in ``data``, checked; the first bad line raises 400 ``invalid_import``."""
    out: list[Line] = []
    for number, raw in enumerate(data.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            record = _decode(line)
        except msgspec.ValidationError as exc:
            path = str(exc).rpartition(" - at `$.")
            field = path[2].rstrip("`") if path[1] else "$"
            raise _bad(number, field, path[0] if path[1] else str(exc)) from None
        except msgspec.DecodeError as exc:
            raise _bad(number, "$", f"not a JSON object ({exc})") from None
        route = ROUTES.get(record.route)
        if route is None or not route.forwards:
            names = ", ".join(r.name for r in ROUTES.values() if r.forwards)
            raise _bad(number, "route", f"{record.route!r} is not a model-API route ({names})")
        if record.client_ip is not None:
            try:
                ipaddress.ip_address(record.client_ip)
            except ValueError:
                raise _bad(number, "client_ip", f"{record.client_ip!r} is not an IP address") from None
        request_id = record.request_id or uuid.uuid5(NAMESPACE, line.decode("utf-8", "replace"))
        out.append(Line(number, request_id, record, _encode(record.body)))
    return out


def calls(
    lines: Sequence[Line], keys: dict[str, tuple[uuid.UUID, uuid.UUID]]
) -> tuple[list[UsageEvent], list[CallFeatures]]:
    """The usage events and features of checked lines, once per request id (the first line wins)."""
    events: list[UsageEvent] = []
    features: list[CallFeatures] = []
    seen: set[uuid.UUID] = set()
    for line in lines:
        r = line.record
        found = keys.get(r.key_id)
        if found is None:
            raise _bad(line.number, "key_id", f"no key {r.key_id!r}")
        if line.request_id in seen:
            continue
        seen.add(line.request_id)
        customer_id, project_id = found
        event = UsageEvent(
            request_id=line.request_id,
            occurred_at=r.occurred_at,
            customer_id=customer_id,
            project_id=project_id,
            key_id=r.key_id,
            upstream=r.upstream,
            route=r.route,
            model=r.model,
            stream=r.stream,
            status=r.status,
            error_code=r.error_code,
            prompt_tokens=r.prompt_tokens,
            completion_tokens=r.completion_tokens,
            usage_complete=r.prompt_tokens is not None,
            duration_ms=r.duration_ms,
            bytes_in=len(line.body),
            bytes_out=0,
            client_ip=r.client_ip,
            origin_country=country_of(r.client_ip),
        )
        events.append(event)
        features.append(extract(event, line.body))
    return events, features


async def import_calls(conn: asyncpg.Connection, data: bytes, *, dry_run: bool = False) -> Summary:
    """Check every line of ``data``, then write its calls in one transaction (nothing with ``dry_run``)."""
    lines = parse(data)
    rows = await conn.fetch(
        "select id, customer_id, project_id from api_keys where id = any($1::text[])",
        sorted({line.record.key_id for line in lines}),
    )
    events, features = calls(lines, {r["id"]: (r["customer_id"], r["project_id"]) for r in rows})
    if dry_run:
        there = await conn.fetchval(
            "select count(*) from usage_events where request_id = any($1::uuid[])",
            [e.request_id for e in events],
        )
        written = len(events) - there
    else:
        async with conn.transaction():
            written = await insert_calls(conn, events, features)
    return Summary(lines=len(lines), written=written, duplicates=len(lines) - written, dry_run=dry_run)
