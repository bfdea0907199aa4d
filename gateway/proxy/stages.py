"""The stages a request passes before it is forwarded. Each has one job.

A stage reads and fills the :class:`RequestContext`, or raises a
:class:`GatewayError` to answer the request itself. The runtime's ``pipeline()``
puts them in order: who, verified, what, where to, allowed from here, within quota.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import structlog

from ..bodies import IncompleteBody
from ..errors import BadRequest, Forbidden, NotFound, PayloadTooLarge
from ..identity import KeyCache
from ..identity.cache import IdentityUnavailable, RevokedKey
from ..kyc.standing import StandingCache
from ..ledger.writer import LedgerWriter
from ..policy import parameters
from ..policy import trail as policy_trail
from ..policy.decide import Action
from ..quota.meter import QuotaMeter
from ..quota.resolve import estimate_chat
from .adapters import decode_head
from .context import RequestContext
from .origin import OriginResolver, country_of
from .upstreams import UpstreamRegistry

if TYPE_CHECKING:
    from ..audit.entry import AuditEntry
    from ..policy.model import Policy, Prices

_log = structlog.get_logger("gateway")


class Stage(Protocol):
    async def __call__(self, ctx: RequestContext) -> None: ...


class ClientDisconnected(Exception):
    """The client went away before it could be answered (a body cut short is :class:`IncompleteBody`)."""


class Identify:
    """API key (``Authorization: Bearer`` or ``x-api-key``) → principal, from memory."""

    def __init__(self, keys: KeyCache) -> None:
        self.keys = keys

    async def __call__(self, ctx: RequestContext) -> None:
        auth = ctx.headers.get(b"authorization")
        presented: str | None = None
        if auth is not None:
            scheme, _, token = auth.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                presented = token.strip()
        if not presented:
            presented = ctx.header(b"x-api-key")
        try:
            ctx.principal = self.keys.authenticate(presented)
        except (RevokedKey, IdentityUnavailable) as refused:
            # A genuine key refused: the ledger records the refusal under the key's customer.
            ctx.principal = refused.principal
            raise


class ResolveOrigin:
    """The client's address (behind trusted proxies) and its country."""

    def __init__(self, resolver: OriginResolver) -> None:
        self.resolver = resolver

    async def __call__(self, ctx: RequestContext) -> None:
        if self.resolver.trusted:
            ctx.client_ip = self.resolver.client_ip(ctx.client_ip, ctx.header(b"x-forwarded-for"))
        ctx.origin_country = country_of(ctx.client_ip)


class KnowCustomer:
    """The caller's customer must be verified and clear of sanctions, from memory.

    The standing it was checked against stays on the context: later stages (quota) use that one.
    """

    def __init__(self, standings: StandingCache) -> None:
        self.standings = standings

    async def __call__(self, ctx: RequestContext) -> None:
        assert ctx.principal is not None
        ctx.standing = self.standings.check(ctx.principal.customer_id)


class CheckLedger:
    """Can this call's usage event be kept? While the ledger can put events neither on disk (a full
    spool disk) nor in the database, calls are refused, 503 ``ledger_unavailable``, rather than served
    unrecorded: fail closed. From memory (``LedgerWriter.accepting``)."""

    def __init__(self, ledger: LedgerWriter) -> None:
        self.ledger = ledger

    async def __call__(self, ctx: RequestContext) -> None:
        if not self.ledger.accepting:
            raise self.ledger.refusal()


class Place:
    """May this customer use this compute from here? The policy's answer, from memory."""

    def __init__(
        self,
        standings: StandingCache,
        action: Action = "inference",
        *,
        shadow: bool = False,
        audit: Callable[[AuditEntry], None] | None = None,
    ) -> None:
        self.standings = standings
        self.action: Action = action
        self.shadow = shadow
        self.audit = audit
        """Where refusals are logged (the audit writer's ``record``; in memory, written in batches)."""

    async def __call__(self, ctx: RequestContext) -> None:
        if ctx.upstream is None:
            return  # nothing is forwarded (e.g. /v1/models)
        assert ctx.principal is not None
        decision = self.standings.decide(
            ctx.principal.customer_id, self.action, ctx.upstream.region, ctx.origin_country
        )
        ctx.policy_hash = decision.policy_hash
        if decision.decision == "deny":
            if self.audit is not None:
                self.audit(
                    policy_trail.refused(
                        decision,
                        customer_id=str(ctx.principal.customer_id),
                        action=self.action,
                        region=ctx.upstream.region,
                        origin_country=ctx.origin_country,
                        at=ctx.occurred_at,
                        enforced=not self.shadow,
                    )
                )
            if self.shadow:
                _log.info(
                    "policy_would_deny", request_id=ctx.request_id, code=decision.code, rule=decision.rule
                )
                return
            raise Forbidden(decision.message, code=decision.code)


class Meter:
    """Reserve what the request may use against every quota and rate limit, mostly from memory."""

    def __init__(self, meter: QuotaMeter, default_max_tokens: int, prices: Callable[[], Prices]) -> None:
        self.meter = meter
        self.default_max_tokens = default_max_tokens
        self.prices = prices

    async def __call__(self, ctx: RequestContext) -> None:
        if ctx.upstream is None or ctx.route is None or ctx.head is None:
            return  # nothing is forwarded (e.g. /v1/models)
        assert ctx.principal is not None
        route = ctx.route
        ctx.price = price = self.prices().for_model(ctx.model)
        estimate = estimate_chat(
            len(ctx.body) if route.reads_tokens else 0,
            ctx.head.output_cap() if route.writes_tokens else 0,
            default_max_tokens=self.default_max_tokens,
            price=price,
        )
        ctx.admission = await self.meter.admit(ctx.principal, ctx.standing, estimate)


class ReadBody:
    """The request body, within the size limit, and the fields routing needs."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    async def __call__(self, ctx: RequestContext) -> None:
        if ctx.route is None or not ctx.route.forwards:
            return
        declared = ctx.headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large()
        ctx.body = await read_body(ctx, self.max_bytes)
        head = decode_head(ctx.body)
        if not head.model:
            raise BadRequest("the request names no model", code="missing_model")
        ctx.model = head.model
        ctx.stream = bool(head.stream)
        ctx.head = head

    def _too_large(self) -> PayloadTooLarge:
        return _too_large(self.max_bytes)


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body exceeds the limit of {max_bytes} bytes")


async def read_body(ctx: RequestContext, max_bytes: int) -> bytes:
    """The whole request body, refused (413) as soon as it passes ``max_bytes``; sets ``bytes_in``.

    A body that ends early is a 400 ``incomplete_body`` (:class:`IncompleteBody`), not a silent
    disconnect: under granian a broken chunked encoding arrives as ``http.disconnect`` while the
    client is still there to read the answer.
    """
    message = await ctx.receive()
    if message["type"] == "http.disconnect":
        raise IncompleteBody
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        if len(body) > max_bytes:
            raise _too_large(max_bytes)
        ctx.bytes_in = len(body)
        return body
    chunks = [body]
    size = len(body)
    while True:
        message = await ctx.receive()
        if message["type"] == "http.disconnect":
            raise IncompleteBody
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
        if not message.get("more_body"):
            ctx.bytes_in = size
            return b"".join(chunks)


class GuardParameters:
    """Extraction-friendly parameters (``logit_bias`` with ``logprobs``, many ``top_logprobs``, large
    ``n``) within the limits the policy's ``[parameters.*]`` rules set for the customer's tier and KYC
    level; from memory (the merged limits are kept per policy hash, tier and level)."""

    def __init__(self, policy: Callable[[], Policy], *, shadow: bool = False) -> None:
        self.policy = policy
        self.shadow = shadow
        self._limits: dict[tuple[str, str, str], parameters.Limits] = {}

    def limits(self, policy: Policy, tier: str, kyc_level: str) -> parameters.Limits:
        key = (policy.hash, tier, kyc_level)
        found = self._limits.get(key)
        if found is None:
            if len(self._limits) > 1024:  # old policies' entries: start again
                self._limits.clear()
            found = self._limits[key] = parameters.merge(policy.parameter_rules_for(tier, kyc_level))
        return found

    async def __call__(self, ctx: RequestContext) -> None:
        head = ctx.head
        standing = ctx.standing
        if head is None or standing is None:
            return  # nothing is forwarded (e.g. /v1/models)
        if head.logprobs is None and head.top_logprobs is None and not head.logit_bias and head.n is None:
            return  # the common case: none of them set
        policy = self.policy()
        tier = standing.entitlement.tier if standing.entitlement is not None else policy.default_tier
        limits = self.limits(policy, tier, standing.facts.kyc_level)
        if limits.empty:
            return
        asked = parameters.Asked(head.asks_logprobs(), head.alternatives(), head.biases_logits(), head.n)
        refused = parameters.check(limits, asked)
        if refused is None:
            return
        code, message = refused
        if self.shadow:
            _log.info("parameters_would_deny", request_id=ctx.request_id, code=code, reason=message)
            return
        raise Forbidden(message, code=code)


class RouteToUpstream:
    """Model name → the upstream that serves it, speaking the route's protocol."""

    def __init__(self, registry: UpstreamRegistry) -> None:
        self.registry = registry

    async def __call__(self, ctx: RequestContext) -> None:
        if ctx.route is None or not ctx.route.forwards:
            return
        upstream = self.registry.by_model.get(ctx.model or "")
        if upstream is None:
            raise NotFound(f"the model {ctx.model!r} does not exist", code="model_not_found")
        if upstream.kind != ctx.route.protocol:
            raise BadRequest(
                f"the model {ctx.model!r} is served by an {upstream.kind}-compatible upstream; "
                f"{ctx.route.name} speaks the {ctx.route.protocol} protocol",
                code="wrong_protocol_for_model",
            )
        ctx.upstream = upstream
