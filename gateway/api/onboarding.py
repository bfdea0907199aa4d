"""The onboarding API (``/kyc/v1/applications``): customers apply, add facts and owners, submit.

Callers authenticate with a bearer JWT from the configured OIDC issuer. One account
(issuer + subject) owns one application; every lookup is scoped to it, and an id
that belongs to someone else answers exactly like one that does not exist (404).
Each call is recorded with the caller's IP address (what a CIP keeps).
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Response, delete, get, patch, post

from ..auth import Claims
from ..errors import Conflict, Forbidden, NotFoundInStore, Unauthorized
from ..kyc import repository as repo
from ..kyc.facts import Facts, FactsIn
from ..kyc.models import ApplicationIn, ApplicationView, OwnerIn
from ..kyc.service import KycService
from ..runtime import Services
from .common import AnyRequest, bearer, client_ip, decode_body, services_of
from .openapi import onboarding_api

_BASE = "/kyc/v1/applications"


async def _claims(request: AnyRequest, services: Services) -> Claims:
    validator = services.oidc
    if validator is None:
        raise Forbidden("customer onboarding is disabled: set oidc_issuer", code="onboarding_disabled")
    token = bearer(request)
    if token is None:
        raise Unauthorized("send an access token as 'Authorization: Bearer <token>'", code="missing_token")
    return await validator.validate(token)


class _Scope:
    """The caller's own application, or a 404 that reveals nothing about others."""

    def __init__(self, request: AnyRequest, claims: Claims, services: Services) -> None:
        self.request = request
        self.claims = claims
        self.services = services

    @property
    def actor(self) -> str:
        return f"customer:{self.claims.subject}"

    async def own(self, conn: Any, application_id: uuid.UUID, action: str, *, editable: bool = False) -> None:
        mine = await repo.customer_for_subject(conn, self.claims.issuer, self.claims.subject)
        if mine != application_id:
            raise NotFoundInStore(f"no application {application_id}", code="application_not_found")
        if editable:
            customer = await repo.get_customer(conn, application_id)
            if customer.kyc_status != "pending":
                raise Conflict(
                    f"the application is {customer.kyc_status!r}: it can be changed only while pending",
                    code="application_locked",
                )
        await repo.log_access(conn, application_id, client_ip(self.request), action, self.claims.subject)


async def _scope(request: AnyRequest) -> tuple[_Scope, KycService]:
    """The caller's scope and the KYC service: 503 ``not_ready``, 403 without OIDC, 401 without a token."""
    services = services_of(request)
    scope = _Scope(request, await _claims(request, services), services)
    return scope, services.kyc


@post(_BASE, status_code=201, **onboarding_api(409, body=ApplicationIn))
async def create_application(request: AnyRequest) -> Response[ApplicationView]:
    scope, kyc = await _scope(request)
    body = await decode_body(request, ApplicationIn)
    async with scope.services.pool.acquire() as conn:
        customer = await kyc.create_customer(
            conn,
            body.name,
            body.kind,
            body.country,
            facts=body.facts,
            oidc=(scope.claims.issuer, scope.claims.subject),
        )
        await repo.log_access(conn, customer.id, client_ip(request), "create", scope.claims.subject)
        view = await kyc.application(conn, customer.id)
    return Response(view, status_code=201, headers={"location": f"{_BASE}/{customer.id}"})


@get(_BASE, **onboarding_api())
async def my_applications(request: AnyRequest) -> list[ApplicationView]:
    scope, kyc = await _scope(request)
    async with scope.services.pool.acquire() as conn:
        mine = await repo.customer_for_subject(conn, scope.claims.issuer, scope.claims.subject)
        return [] if mine is None else [await kyc.application(conn, mine)]


@get(_BASE + "/{application_id:uuid}", **onboarding_api(404))
async def get_application(request: AnyRequest, application_id: uuid.UUID) -> ApplicationView:
    scope, kyc = await _scope(request)
    async with scope.services.pool.acquire() as conn:
        await scope.own(conn, application_id, "view")
        return await kyc.application(conn, application_id)


@patch(_BASE + "/{application_id:uuid}/facts", **onboarding_api(404, 409, body=FactsIn))
async def update_facts(request: AnyRequest, application_id: uuid.UUID) -> Facts:
    scope, kyc = await _scope(request)
    body = await decode_body(request, FactsIn)
    async with scope.services.pool.acquire() as conn:
        await scope.own(conn, application_id, "update_facts", editable=True)
        return await kyc.update_facts(conn, application_id, body)


@post(_BASE + "/{application_id:uuid}/owners", status_code=201, **onboarding_api(404, 409, body=OwnerIn))
async def add_owner(request: AnyRequest, application_id: uuid.UUID) -> dict[str, uuid.UUID]:
    scope, kyc = await _scope(request)
    body = await decode_body(request, OwnerIn)
    async with scope.services.pool.acquire() as conn:
        await scope.own(conn, application_id, "add_owner", editable=True)
        return {"id": await kyc.add_owner(conn, application_id, body)}


@delete(_BASE + "/{application_id:uuid}/owners/{owner_id:uuid}", status_code=204, **onboarding_api(404, 409))
async def remove_owner(request: AnyRequest, application_id: uuid.UUID, owner_id: uuid.UUID) -> None:
    scope, kyc = await _scope(request)
    async with scope.services.pool.acquire() as conn:
        await scope.own(conn, application_id, "remove_owner", editable=True)
        await kyc.remove_owner(conn, application_id, owner_id)


@post(_BASE + "/{application_id:uuid}/submit", status_code=200, **onboarding_api(404, 409))
async def submit(request: AnyRequest, application_id: uuid.UUID) -> dict[str, Any]:
    scope, kyc = await _scope(request)
    async with scope.services.pool.acquire() as conn:
        await scope.own(conn, application_id, "submit")
        status = await kyc.submit(conn, application_id, scope.actor, require_facts=True)
    # The customer learns its status, not its screening results.
    return {"id": application_id, "status": status.status}


@get(_BASE + "/{application_id:uuid}/status", **onboarding_api(404))
async def application_status(request: AnyRequest, application_id: uuid.UUID) -> dict[str, Any]:
    scope, kyc = await _scope(request)
    async with scope.services.pool.acquire() as conn:
        await scope.own(conn, application_id, "status")
        view = await kyc.application(conn, application_id)
        customer = await repo.get_customer(conn, application_id)
    return {
        "id": application_id,
        "status": view.status,
        "missing": view.missing,
        "verified_at": customer.verified_at,
        "expires_at": customer.expires_at,
    }


onboarding_routes = [
    create_application,
    my_applications,
    get_application,
    update_facts,
    add_owner,
    remove_owner,
    submit,
    application_status,
]
