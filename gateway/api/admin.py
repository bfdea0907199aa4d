"""The admin API (``/admin/v1``): the operator's review queue and decisions, and quotas.

Authenticated by one bearer token whose sha256 is configured (``admin_token_sha256``);
every decision records the actor and the reason. The CLI offers the same operations.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Response, delete, get, post, put
from litestar.handlers import BaseRouteHandler
from litestar.params import Parameter

from ..audit.entry import entry as audit_entry
from ..errors import BadRequest, Forbidden, NotFoundInStore, Unauthorized, UnprocessableEntity
from ..identity.repository import Customer
from ..kyc.models import DecisionIn, KycStatus, OwnerIn, QueueItem, Review
from ..kyc.repository import policy_facts
from ..kyc.service import Action
from ..quota.overrides import Override, delete_override, set_override, set_time_zone, time_zone
from ..quota.report import QuotaView, quota_view
from .common import AnyRequest, decode_body, runtime_of, services_of
from .openapi import Body, admin_api

_ACTIONS: dict[str, Action] = {
    "approve": "approve",
    "reject": "reject",
    "suspend": "suspend",
    "reinstate": "reinstate",
    "request-info": "request_info",
    "reopen": "reopen",
}
MAX_LIST_BYTES = 1 << 30
# A bigserial id: a path id outside its range is refused (400) before PostgreSQL would raise (500).
RowId = Annotated[int, Parameter(ge=1, le=2**63 - 1)]
_LIST_BODY = Body(
    media_type="application/octet-stream",
    schema={"type": "string", "format": "binary"},
    description="The list file as published (CSL JSON or CSV, OFAC SDN XML, OpenSanctions JSON lines).",
)


class CustomerIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    kind: str = "organisation"
    country: str | None = None


class OverrideIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """As ``gateway quota set``: a period or rolling days; ``scope_name`` names the project or key."""

    dimension: str
    limit: float
    period: str | None = None
    rolling_days: int | None = None
    scope: str = "customer"
    scope_name: str | None = None
    hard: bool = False


class TimeZoneIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    time_zone: str


def admin_actor(request: AnyRequest) -> str:
    """``admin:<token fingerprint>`` for a valid admin token; 401/403 otherwise."""
    expected = runtime_of(request).settings.admin_token_sha256
    if expected is None:
        raise Forbidden("the admin API is disabled: set admin_token_sha256", code="admin_disabled")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send the admin token as 'Authorization: Bearer <token>'", code="missing_token")
    digest = hashlib.sha256(token.strip().encode()).hexdigest()
    if not hmac.compare_digest(digest, expected):
        raise Unauthorized("the admin token is not valid", code="invalid_token")
    return f"admin:{digest[:8]}"


def _guard(connection: Any, handler: BaseRouteHandler) -> None:
    """A valid admin token, and every use of it in the audit log (who, which operation, on what)."""
    actor = admin_actor(connection)
    services = runtime_of(connection).services
    if services is not None:
        services.audit.record(
            audit_entry(
                "admin.access",
                actor=actor,
                at=dt.datetime.now(dt.UTC),
                subject=None,
                data={
                    "method": connection.scope["method"],
                    "route": str(next(iter(handler.paths), "")),
                    "path": connection.scope["path"],
                },
            )
        )


@get("/admin/v1/kyc/queue", guards=[_guard], **admin_api())
async def queue(request: AnyRequest) -> list[QueueItem]:
    services = services_of(request)
    async with services.pool.acquire() as conn:
        return await services.kyc.queue(conn)


@post("/admin/v1/customers", guards=[_guard], status_code=201, **admin_api(409, body=CustomerIn))
async def create_customer(request: AnyRequest) -> Customer:
    body = await decode_body(request, CustomerIn)
    services = services_of(request)
    async with services.pool.acquire() as conn:
        return await services.kyc.create_customer(conn, body.name, body.kind, body.country)


@get("/admin/v1/customers/{customer_id:uuid}/kyc", guards=[_guard], **admin_api(404))
async def review(request: AnyRequest, customer_id: uuid.UUID) -> Review:
    services = services_of(request)
    async with services.pool.acquire() as conn:
        return await services.kyc.review(conn, customer_id)


@get("/admin/v1/customers/{customer_id:uuid}/kyc/status", guards=[_guard], **admin_api(404))
async def status(request: AnyRequest, customer_id: uuid.UUID) -> KycStatus:
    services = services_of(request)
    async with services.pool.acquire() as conn:
        return await services.kyc.status(conn, customer_id)


@post(
    "/admin/v1/customers/{customer_id:uuid}/kyc/submit",
    guards=[_guard],
    status_code=200,
    **admin_api(404, 409),
)
async def submit(request: AnyRequest, customer_id: uuid.UUID) -> KycStatus:
    services = services_of(request)
    async with services.pool.acquire() as conn:
        return await services.kyc.submit(conn, customer_id, admin_actor(request))


@post(
    "/admin/v1/customers/{customer_id:uuid}/kyc/{action:str}",
    guards=[_guard],
    status_code=200,
    **admin_api(404, 409, body=DecisionIn),
)
async def decide(
    request: AnyRequest,
    customer_id: uuid.UUID,
    action: Annotated[str, Parameter(schema_extra={"enum": sorted(_ACTIONS)})],
) -> KycStatus:
    if action not in _ACTIONS:
        raise BadRequest(f"unknown action {action!r}; one of {sorted(_ACTIONS)}", code="unknown_action")
    body = await decode_body(request, DecisionIn)
    services = services_of(request)
    async with services.pool.acquire() as conn:
        return await services.kyc.decide(
            conn, customer_id, _ACTIONS[action], admin_actor(request), body.reason
        )


@post(
    "/admin/v1/customers/{customer_id:uuid}/owners",
    guards=[_guard],
    status_code=201,
    **admin_api(404, 409, body=OwnerIn),
)
async def add_owner(request: AnyRequest, customer_id: uuid.UUID) -> dict[str, uuid.UUID]:
    body = await decode_body(request, OwnerIn)
    services = services_of(request)
    async with services.pool.acquire() as conn:
        return {"id": await services.kyc.add_owner(conn, customer_id, body)}


@post("/admin/v1/customers/{customer_id:uuid}/erase", guards=[_guard], status_code=200, **admin_api(404, 409))
async def erase(request: AnyRequest, customer_id: uuid.UUID) -> dict[str, Any]:
    services = services_of(request)
    async with services.pool.acquire() as conn:
        await services.kyc.erase(conn, customer_id, admin_actor(request))
    return {"id": customer_id, "erased": True}


@post(
    "/admin/v1/screening/hits/{hit_id:int}/{verdict:str}",
    guards=[_guard],
    status_code=200,
    **admin_api(404, 409, body=DecisionIn),
)
async def decide_hit(
    request: AnyRequest,
    hit_id: RowId,
    verdict: Annotated[str, Parameter(schema_extra={"enum": ["confirm", "dismiss"]})],
) -> KycStatus:
    if verdict not in ("confirm", "dismiss"):
        raise BadRequest(
            "a hit is confirmed or dismissed: use .../confirm or .../dismiss", code="unknown_action"
        )
    body = await decode_body(request, DecisionIn)
    services = services_of(request)
    async with services.pool.acquire() as conn:
        return await services.kyc.decide_hit(
            conn, hit_id, verdict == "confirm", admin_actor(request), body.reason
        )


@post(
    "/admin/v1/screening/lists",
    guards=[_guard],
    status_code=201,
    request_max_body_size=MAX_LIST_BYTES,
    **admin_api(body=_LIST_BODY),
)
async def load_list(
    request: AnyRequest,
    source: Annotated[str, Parameter(schema_extra={"enum": ["csl", "sdn", "opensanctions"]})],
    name: Annotated[str | None, Parameter(description="the file's name, as recorded with the list")] = None,
) -> Response[dict[str, Any]]:
    """Upload a list file as the raw body (``?source=csl|sdn|opensanctions``); everyone is rescreened."""
    if source not in ("csl", "sdn", "opensanctions"):
        raise BadRequest("source must be csl, sdn or opensanctions", code="invalid_source")
    services = services_of(request)
    with tempfile.TemporaryDirectory(prefix="gateway-list-") as tmp:
        path = Path(tmp) / _upload_name(name, source)
        size = 0
        with path.open("wb") as f:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_LIST_BYTES:
                    raise BadRequest("the list exceeds 1 GiB", code="request_too_large", status=413)
                await asyncio.to_thread(f.write, chunk)
        async with services.pool.acquire() as conn:
            info, rescreened = await services.kyc.load_list(conn, path, source)
    return Response({"list": msgspec.to_builtins(info), "rescreened": rescreened}, status_code=201)


def _upload_name(name: str | None, source: str) -> str:
    """The name the list is recorded under: the client's base name, if it can be a file's name.

    Only a base name, so that the client cannot choose where the file is written; and not
    ``..`` (the temporary folder's parent), a NUL or a name the file system refuses, which
    would fail the upload with an internal error.
    """
    base = Path(name or "").name
    if base in ("", ".", "..") or not base.isprintable() or len(base.encode()) > 200:
        return f"{source}-upload"
    return base


@get("/admin/v1/policy", guards=[_guard], **admin_api())
async def policy_info(request: AnyRequest) -> dict[str, Any]:
    store = services_of(request).policies
    return {"policy_hash": store.policy.hash, "dirs": [str(d) for d in store.dirs], "error": store.error}


@post("/admin/v1/policy/reload", guards=[_guard], status_code=200, **admin_api(422))
async def reload_policy(request: AnyRequest) -> dict[str, Any]:
    """Load the policy folders again: swapped atomically on every replica, or kept, saying why."""
    result = services_of(request).policy_reloads.reload()
    if not result.ok:
        raise UnprocessableEntity(
            f"{result.error}; the policy in force ({result.policy_hash[:12]}) is kept", code="policy_invalid"
        )
    return msgspec.structs.asdict(result)


# -- quotas ----------------------------------------------------------------------------


@get("/admin/v1/customers/{customer_id:uuid}/quota", guards=[_guard], **admin_api(404))
async def quota(request: AnyRequest, customer_id: uuid.UUID) -> QuotaView:
    """As ``gateway quota show --json``, under the policy this replica enforces."""
    services = services_of(request)
    policy = services.policies.policy
    async with services.pool.acquire() as conn:
        facts = await policy_facts(conn, customer_id)  # customer_not_found for an unknown id
        return await quota_view(conn, customer_id, facts, policy)


@put(
    "/admin/v1/customers/{customer_id:uuid}/quota/overrides",
    guards=[_guard],
    **admin_api(404, body=OverrideIn),
)
async def put_override(request: AnyRequest, customer_id: uuid.UUID) -> Override:
    body = await decode_body(request, OverrideIn)
    actor = admin_actor(request)
    async with services_of(request).pool.acquire() as conn, conn.transaction():
        await time_zone(conn, customer_id)  # customer_not_found rather than a foreign key error
        return await set_override(
            conn,
            customer_id,
            dimension=body.dimension,
            limit=body.limit,
            period=body.period,
            rolling_days=body.rolling_days,
            scope=body.scope,
            scope_name=body.scope_name,
            hard=body.hard,
            actor=actor,
        )


@delete(
    "/admin/v1/customers/{customer_id:uuid}/quota/overrides/{override_id:int}",
    guards=[_guard],
    status_code=200,
    **admin_api(404),
)
async def remove_override(request: AnyRequest, customer_id: uuid.UUID, override_id: RowId) -> dict[str, bool]:
    async with services_of(request).pool.acquire() as conn:
        if not await delete_override(conn, customer_id, override_id, actor=admin_actor(request)):
            raise NotFoundInStore(f"this customer has no override {override_id}", code="override_not_found")
    return {"deleted": True}


@put("/admin/v1/customers/{customer_id:uuid}/time-zone", guards=[_guard], **admin_api(404, body=TimeZoneIn))
async def put_time_zone(request: AnyRequest, customer_id: uuid.UUID) -> dict[str, Any]:
    """The zone whose midnight starts the customer's daily and monthly budgets."""
    body = await decode_body(request, TimeZoneIn)
    async with services_of(request).pool.acquire() as conn:
        zone = await set_time_zone(conn, customer_id, body.time_zone)
    return {"customer": customer_id, "time_zone": zone}


admin_routes = [
    policy_info,
    reload_policy,
    queue,
    create_customer,
    review,
    status,
    submit,
    decide,
    add_owner,
    erase,
    decide_hit,
    load_list,
    quota,
    put_override,
    remove_override,
    put_time_zone,
]
