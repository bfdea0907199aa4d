"""What every page shares: who is signed in, the role a page needs, forms checked for CSRF, rendering
with the security headers, and errors as pages.

Pages call the same services as the APIs (the KYC service, the key and quota repositories, the
report store): there is no second source of truth. Every page is scoped to the signed-in party:
a customer's pages find the customer from the session's issuer and subject, never from the URL.
"""

from __future__ import annotations

import datetime as dt
import hmac
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, quote

import msgspec
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request, Response
from litestar.datastructures import Cookie

from ..errors import BadRequest, Forbidden, GatewayError, PayloadTooLarge
from ..runtime import Runtime, Services
from .forms import Form
from .roles import Roles, party_roles
from .sessions import Session, find_session

__all__ = [
    "COOKIE",
    "Party",
    "SignInNeeded",
    "error_page",
    "page",
    "party_of",
    "read_form",
    "redirect",
    "require",
    "services",
]

AnyRequest = Request[Any, Any, Any]
Need = Literal["anyone", "operator", "regulator"]

COOKIE = "__Host-gateway-session"
"""``__Host-``: the browser keeps it only if it is Secure, for ``/``, set by this host alone."""
MAX_FORM_BYTES = 64 * 1024
_TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(("html",), default=True),
    undefined=StrictUndefined,  # a misspelt name fails the page in tests, not silently in production
    trim_blocks=True,
    lstrip_blocks=True,
)

# No script, style or frame from anywhere but the gateway; no inline code at all (the pages carry
# none), forms post only back to it, and no other site may frame it (clickjacking).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    # Pages show personal data and secrets (a new key): never kept by a browser or proxy cache.
    "cache-control": "no-store",
}


class SignInNeeded(Exception):
    """No valid session: the page sends the browser to sign in, and back here afterwards."""

    def __init__(self, return_to: str) -> None:
        super().__init__(return_to)
        self.return_to = return_to


class Party(msgspec.Struct, frozen=True):
    """The signed-in person: their session and what their roles open."""

    session: Session
    roles: Roles

    @property
    def subject(self) -> str:
        return self.session.subject

    @property
    def actor(self) -> str:
        """How the audit log names this person's actions."""
        kind = "operator" if self.roles.operator else "regulator" if self.roles.regulator else "customer"
        return f"{kind}:{self.session.subject}"


def runtime(request: AnyRequest) -> Runtime:
    value: Runtime = request.app.state["runtime"]
    return value


def services(request: AnyRequest) -> Services:
    return runtime(request).running()


def web_enabled(request: AnyRequest) -> bool:
    return runtime(request).settings.web_client_id is not None


async def party_of(request: AnyRequest) -> Party | None:
    """The session this request's cookie opens, looked up once per request."""
    if "gateway.web.party" in request.scope:
        found: Party | None = request.scope["gateway.web.party"]  # type: ignore[typeddict-item]
        return found
    token = request.cookies.get(COOKIE)
    party = None
    if token and web_enabled(request) and len(token) < 100:
        async with services(request).pool.acquire() as conn:
            session = await find_session(conn, token)
        if session is not None:
            settings = runtime(request).settings
            party = Party(
                session,
                party_roles(session.roles, settings.web_operator_role, settings.web_regulator_role_prefix),
            )
    request.scope["gateway.web.party"] = party  # type: ignore[typeddict-unknown-key]
    return party


async def require(request: AnyRequest, need: Need = "anyone") -> Party:
    """The signed-in party, if its roles open this page: otherwise a sign-in, or 403."""
    if not web_enabled(request):
        raise Forbidden("the web pages are disabled: set web_client_id", code="web_disabled")
    party = await party_of(request)
    if party is None:
        path = request.url.path
        query = request.url.query
        raise SignInNeeded(path + ("?" + query if query and request.method == "GET" else ""))
    if need == "operator" and not party.roles.operator:
        raise Forbidden("this page is for the provider's operators", code="role_required")
    if need == "regulator" and not party.roles.regulator:
        raise Forbidden("this page is for regulators", code="role_required")
    return party


async def read_form(request: AnyRequest, party: Party | None) -> Form:
    """The posted form, once it has proven to come from this site and this session (CSRF): the
    request's Origin must be the gateway's, and the form must carry the session's token."""
    settings = runtime(request).settings
    origin = request.headers.get("origin")
    site = request.headers.get("sec-fetch-site")
    if (origin is not None and origin != (settings.web_public_url or "").rstrip("/")) or site in (
        "cross-site",
        "same-site",
    ):
        raise Forbidden("the form was sent from another site", code="csrf_failed")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise PayloadTooLarge(f"the form exceeds the limit of {MAX_FORM_BYTES} bytes")
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise BadRequest("send the form as application/x-www-form-urlencoded", code="invalid_form")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=200
        )
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the form is not valid UTF-8 form data", code="invalid_form") from None
    values: dict[str, str] = {}
    for key, value in pairs:
        values.setdefault(key, value)  # the first of a repeated field: a form never repeats one
    expected = party.session.csrf if party is not None else None
    sent = values.pop("csrf", "")
    if expected is None or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden(
            "the form's security token is missing or stale: reload the page and try again", code="csrf_failed"
        )
    return Form(values)


def render(template: str, request: AnyRequest, party: Party | None, **context: Any) -> str:
    return _env.get_template(template).render(
        party=party,
        csrf=party.session.csrf if party is not None else "",
        path=request.url.path,
        request_id=str(request.scope.get("gateway.request_id", "")),
        now=dt.datetime.now(dt.UTC),
        **context,
    )


def page(
    template: str, request: AnyRequest, party: Party | None, status: int = 200, **context: Any
) -> Response[str]:
    """A rendered page with the security headers."""
    return Response(
        render(template, request, party, **context),
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers=SECURITY_HEADERS,
    )


def redirect(to: str, *, cookies: list[Cookie] | None = None) -> Response[str]:
    """303 See Other: after a form, the browser GETs the next page (a reload does not post again)."""
    return Response("", status_code=303, headers={"location": to, **SECURITY_HEADERS}, cookies=cookies or [])


def error_page(request: AnyRequest, exc: GatewayError) -> Response[str]:
    """An error as a page: what went wrong, its code, and the request id to quote to support."""
    if isinstance(exc, SignInNeeded):  # pragma: no cover - handled by on_sign_in_needed
        raise exc
    return page("error.html", request, None, status=exc.status, error=exc)


def on_gateway_error(request: AnyRequest, exc: GatewayError) -> Response[str]:
    return error_page(request, exc)


def on_sign_in_needed(request: AnyRequest, exc: SignInNeeded) -> Response[str]:
    return redirect("/web/login?next=" + quote(exc.return_to, safe="/"))
