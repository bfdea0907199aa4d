"""The audit log in the console: entries newest first, a page at a time, filtered by kind or actor
(a prefix: ``kyc.`` or ``operator:``), and verifying the whole log against its signed checkpoints
as ``gateway audit verify`` does, with the result said plainly."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, get, post

from ...audit import log
from ...audit.note import NoteVerifier
from ...audit.verify import verify_log
from ..common import AnyRequest, Party, page, read_form, require, services
from ..forms import Form
from .shared import BASE

__all__ = ["audit_routes"]

PAGE = 50


class Outcome(msgspec.Struct, frozen=True):
    """What a verification found, in the page's words."""

    ok: bool
    entries: int
    size: int
    checkpoints: int
    checkpoint_size: int | None
    keys: list[str]
    problem: str | None


async def _page(
    request: AnyRequest, party: Party, filters: Form, *, outcome: Outcome | None = None
) -> Response[str]:
    kind = filters.text("kind", "kind", required=False, max_len=100)
    actor = filters.text("actor", "actor", required=False, max_len=200)
    raw_before = filters.raw("before")
    before = int(raw_before) if raw_before.isdigit() and len(raw_before) < 19 else None
    if raw_before and before is None:
        filters.fail("before", "The page must start at an entry number.")
    async with services(request).pool.acquire() as conn:
        found = await log.browse(
            conn,
            limit=PAGE + 1,
            before=before,
            kind=kind if filters.ok else None,
            actor=actor if filters.ok else None,
        )
        head = await log.head(conn)
    listed = found[:PAGE]
    query: dict[str, Any] = {k: v for k, v in (("kind", kind), ("actor", actor)) if v}
    return page(
        "console/audit.html",
        request,
        party,
        status=200 if filters.ok else 400,
        filters=filters,
        listed=listed,
        more=len(found) > PAGE,
        next_before=listed[-1].seq if listed else None,
        query=query,
        head_size=head.size,
        outcome=outcome,
        base=BASE,
    )


@get(BASE + "/audit", include_in_schema=False)
async def audit(request: AnyRequest) -> Response[str]:
    party = await require(request, "operator")
    return await _page(request, party, Form(dict(request.query_params)))


@post(BASE + "/audit/verify", include_in_schema=False)
async def verify(request: AnyRequest) -> Response[str]:
    """Walk the log and every checkpoint with the log's own verifier keys (read-only: nothing saved)."""
    party = await require(request, "operator")
    await read_form(request, party)
    svc = services(request)
    vkeys = svc.checkpointer.keys.vkeys()
    verifiers = [NoteVerifier.from_vkey(v) for v in vkeys]
    async with svc.pool.acquire() as conn:
        found = await verify_log(conn, verifiers)
        latest = await log.latest_checkpoint(conn)
    outcome = Outcome(
        ok=found.ok,
        entries=found.entries,
        size=found.size,
        checkpoints=found.checkpoints,
        checkpoint_size=latest.size if latest is not None else None,
        keys=vkeys,
        problem=found.problem.message if found.problem is not None else None,
    )
    return await _page(request, party, Form({}), outcome=outcome)


audit_routes = [audit, verify]
