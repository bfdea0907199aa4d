"""The control plane's OpenAPI 3.1 document, served at ``GET /openapi.json``.

Litestar derives the paths, parameters and response bodies from the route handlers. Three
things it cannot see are declared beside each handler with :func:`admin_api`,
:func:`onboarding_api`, :func:`webhook_api` or :func:`ops_api`:

- **request bodies**: the handlers decode their bodies themselves (strict msgspec, with the
  gateway's own ``invalid_body`` and ``request_too_large`` errors), so Litestar never sees
  a ``data`` parameter. Each handler names its body in ``opt["body"]``; the document gets
  msgspec's own JSON Schema of that Struct, i.e. exactly what the decoder accepts, and
  :func:`gateway.api.common.decode_body` refuses to decode any other type, so the
  declaration cannot drift from the code;
- **error responses**, every one in the gateway's one error shape (``ErrorBody``);
- **security**: the admin bearer token, the onboarding API's OIDC bearer token, and the
  identity providers' webhook signature headers.

No documentation UI is served: the JSON is the contract, and a UI would pull assets from a CDN.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Litestar, Request
from litestar.enums import OpenAPIMediaType
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.openapi.spec import Components, OAuthFlow, OAuthFlows, SecurityScheme
from litestar.router import Router
from litestar.routes import HTTPRoute

from .. import __version__
from ..errors import ErrorBody

OPENAPI_PATH = "/openapi.json"
ADMIN_SCHEME = "adminToken"
OIDC_SCHEME = "oidcToken"
REGULATOR_SCHEME = "regulatorToken"
WEBHOOK_SIGNATURES = {
    "personaSignature": "Persona-Signature",
    "gatewaySignature": "Gateway-Signature",
    "sumsubPayloadDigest": "X-Payload-Digest",
}

SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    ADMIN_SCHEME: SecurityScheme(
        type="http",
        scheme="bearer",
        description="The admin token whose SHA-256 (hex) is configured as `admin_token_sha256`.",
    ),
    OIDC_SCHEME: SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="JWT",
        description="An access token from the configured `oidc_issuer` for the `oidc_audience`;"
        " one account (issuer + subject) owns one application.",
    ),
    REGULATOR_SCHEME: SecurityScheme(
        type="oauth2",
        description="An access token from the configured `regulator_issuer` for the `regulator_audience`"
        " (OAuth 2.0 client credentials); scopes `reports:<JURISDICTION>` name the reports it may read.",
        flows=OAuthFlows(
            client_credentials=OAuthFlow(
                token_url="https://regulator-issuer.example/token",  # noqa: S106 - a URL, the issuer's own
                scopes={
                    "reports:EU": "reports addressed to the EU",
                    "reports:US": "reports addressed to the US",
                },
            )
        ),
    ),
    "personaSignature": SecurityScheme(
        type="apiKey",
        name="Persona-Signature",
        security_scheme_in="header",
        description="Persona's `t=<unix>,v1=<hex HMAC-SHA256 of t.body>` (scheme `persona`).",
    ),
    "gatewaySignature": SecurityScheme(
        type="apiKey",
        name="Gateway-Signature",
        security_scheme_in="header",
        description="`t=<unix>,v1=<hex HMAC-SHA256 of t.body>` (scheme `generic`).",
    ),
    "sumsubPayloadDigest": SecurityScheme(
        type="apiKey",
        name="X-Payload-Digest",
        security_scheme_in="header",
        description="Sumsub's HMAC of the body, with `X-Payload-Digest-Alg` (scheme `sumsub`).",
    ),
}

# What each error status means on these APIs, with the codes a client can branch on.
_ERRORS: dict[int, str] = {
    400: "The request is invalid: `invalid_json` (the body is not UTF-8 JSON), `invalid_body` (it"
    " does not decode as its schema), or a"
    " code naming what is wrong (`invalid_owner`, `invalid_reason`, `invalid_facts`, `unknown_action`,"
    " `invalid_source`, `invalid_list`, `invalid_request`, ...).",
    401: "Not authenticated: `missing_token`, `invalid_token`; on webhooks `invalid_signature`,"
    " `stale_webhook`.",
    403: "The API is disabled in this deployment: `admin_disabled`, `onboarding_disabled`.",
    404: "Not found: `customer_not_found`, `application_not_found` (also for an application that"
    " belongs to someone else), `owner_not_found`, `hit_not_found`, `override_not_found`,"
    " `provider_not_found`, `route_not_found`, `cluster_not_found`, `action_not_found`.",
    409: "The customer's state forbids it: `illegal_transition`, `incomplete`, `open_screening_hits`,"
    " `application_exists`, `application_locked`, `retention_period`, `erased`, `customer_exists`,"
    " `already_reversed`, `action_exists`, `cluster_dismissed`, `detector_busy`, `detection_off`, ...",
    413: "The body is too large: `request_too_large`.",
    422: "`policy_invalid`: the policy does not load; the policy in force is kept.",
    503: "Not available now: `not_ready` (starting or stopping), `oidc_unavailable`,"
    " `webhook_unconfigured`, `screening_unavailable`.",
}


@dataclass(frozen=True)
class Body:
    """A request body the handler reads itself: a msgspec Struct as JSON, or raw bytes."""

    type_: type[msgspec.Struct] | None = None
    media_type: str = "application/json"
    schema: dict[str, Any] | None = None
    description: str | None = None


def _body(body: type[msgspec.Struct] | Body | None) -> Body | None:
    return Body(type_=body) if isinstance(body, type) else body


def _responses(statuses: Iterable[int]) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(ErrorBody, description=_ERRORS[status], generate_examples=False)
        for status in sorted(set(statuses))
    }


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The error bodies a public route may answer with (the rest of ``ops_api``'s routes have none)."""
    return _responses(statuses)


def _doc(
    tag: str, security: list[dict[str, list[str]]], statuses: Iterable[int], body: Body | None
) -> dict[str, Any]:
    if body is not None:
        statuses = (*statuses, 400, 413)
    return {
        "tags": [tag],
        "security": security,
        "responses": _responses(statuses),
        "opt": {"body": body},
    }


def admin_api(*errors: int, body: type[msgspec.Struct] | Body | None = None) -> dict[str, Any]:
    """Route-handler keywords for an admin operation that may also answer ``errors``."""
    return _doc("admin", [{ADMIN_SCHEME: []}], (401, 403, 503, *errors), _body(body))


def onboarding_api(*errors: int, body: type[msgspec.Struct] | Body | None = None) -> dict[str, Any]:
    """Route-handler keywords for an onboarding operation (OIDC bearer token)."""
    return _doc("onboarding", [{OIDC_SCHEME: []}], (401, 403, 503, *errors), _body(body))


def regulator_api(*errors: int) -> dict[str, Any]:
    """Route-handler keywords for a regulator operation (OAuth 2.0 client-credentials token)."""
    return _doc("regulator", [{REGULATOR_SCHEME: []}], (401, 403, 503, *errors), None)


def webhook_api(*errors: int, body: Body) -> dict[str, Any]:
    """Route-handler keywords for a provider webhook: any one of the signature schemes."""
    security: list[dict[str, list[str]]] = [{name: []} for name in WEBHOOK_SIGNATURES]
    return _doc("webhooks", security, (400, 401, 404, 413, 503, *errors), body)


def ops_api() -> dict[str, Any]:
    """Route-handler keywords for health, readiness and metrics: public, no error body of their own."""
    return {"tags": ["operations"], "security": [], "opt": {"body": None}}


ReadinessBody = ResponseSpec(
    dict[str, Any], description="Not ready: `checks` names the failing check.", generate_examples=False
)
"""``/readyz``'s 503: the same body as its 200, not an error."""


# -- the document -------------------------------------------------------------------------------


def _operations(app: Litestar) -> Iterable[tuple[str, str, Any]]:
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, (handler, _) in route.route_handler_map.items():
            if handler.resolve_include_in_schema():
                yield route.path_format or "/", method.lower(), handler


def openapi_document(app: Litestar) -> dict[str, Any]:
    """Litestar's document for ``app``, completed with the request bodies the handlers declare."""
    doc = copy.deepcopy(app.openapi_schema.to_schema())
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    declared = [(path, method, _body(h.opt.get("body"))) for path, method, h in _operations(app)]
    structs = sorted({b.type_ for _, _, b in declared if b and b.type_}, key=lambda t: t.__name__)
    refs, components = msgspec.json.schema_components(structs, ref_template="#/components/schemas/{name}")
    for name, schema in components.items():
        # Litestar names its components by class name too: one name must mean one schema.
        if name in schemas and schemas[name] != schema:
            raise RuntimeError(f"two different schemas are both named {name!r} in the OpenAPI document")
        schemas[name] = schema
    by_type = dict(zip(structs, refs, strict=True))
    error = {"$ref": "#/components/schemas/ErrorBody"}
    for path, method, body in declared:
        responses = doc["paths"][path][method].get("responses", {})
        if "400" in responses and responses["400"].get("content", {}).get("application/json") != {
            "schema": error
        }:
            # Litestar documents its own validation error body; control.py answers it in ours.
            responses["400"] = {
                "description": "A path or query parameter is invalid: `invalid_request`.",
                "content": {"application/json": {"schema": error}},
            }
        if body is None:
            continue
        schema = by_type[body.type_] if body.type_ is not None else body.schema or {}
        request_body: dict[str, Any] = {"required": True, "content": {body.media_type: {"schema": schema}}}
        if body.description:
            request_body["description"] = body.description
        doc["paths"][path][method]["requestBody"] = request_body
    return doc


class _DocumentPlugin(OpenAPIRenderPlugin):
    """Serves the completed document (built once: the routes do not change after start-up)."""

    def __init__(self) -> None:
        # "/openapi.json" too, or Litestar adds its own (incomplete) document under the router.
        super().__init__(path=["/", OPENAPI_PATH], media_type=OpenAPIMediaType.OPENAPI_JSON)
        self._rendered: bytes | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self._rendered is None:
            self._rendered = self.render_json(request, openapi_document(request.app))
        return self._rendered


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Compute KYC gateway: control plane",
        version=__version__,
        description="Admin (`/admin/v1`), onboarding (`/kyc/v1/applications`) and identity-provider"
        " webhook (`/kyc/v1/webhooks`) APIs, health, readiness and metrics. Every error answers"
        ' `{"error": {"type", "code", "message", "request_id"}}`.',
        # A router at the document's own path, so that it is served at /openapi.json itself
        # (Litestar's default puts a catch-all under /schema).
        openapi_router=Router(OPENAPI_PATH, route_handlers=[], include_in_schema=False),
        render_plugins=[_DocumentPlugin()],
        components=Components(security_schemes=dict(SECURITY_SCHEMES)),
        use_handler_docstrings=True,
        create_examples=False,
    )
