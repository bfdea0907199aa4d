"""Identity-verification provider webhooks: signatures and event meaning, with no I/O.

Providers report verification results by webhook. Whoever can reach the receiver's URL
can post to it, so a delivery is trusted only once :func:`verify_signature` has shown
that a holder of one of our secrets produced these exact bytes, recently. Only then
does :func:`parse_event` say which customer and which provider event it is (the dedupe
key) and what it means for the KYC state machine (:data:`Outcome`).

Both are pure: the caller passes ``now``, the secrets and the raw body; the HTTP
receiver, deduplication and state transitions live elsewhere. Schemes:

* ``persona``: ``Persona-Signature: t=<unix>,v1=<hex>``, HMAC-SHA256 over
  ``"<t>.<body>"``; during secret rotation, several space-separated ``t=..,v1=..`` sets.
* ``sumsub``: ``X-Payload-Digest`` (hex HMAC of the body) with ``X-Payload-Digest-Alg``.
  There is no signed timestamp header: freshness comes from the body's ``createdAtMs``.
* ``generic``: our own scheme for providers without one, ``Gateway-Signature`` with
  the same wire format as Persona's, over a small strict JSON body.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Final, Literal, TypeVar

import msgspec

from ..bodies import decode_json
from ..errors import GatewayError

Scheme = Literal["persona", "sumsub", "generic"]
Outcome = Literal["verified", "rejected", "in_review", "pending"]

_T = TypeVar("_T")


class ProviderEvent(msgspec.Struct, frozen=True):
    """One provider event, reduced to what the KYC state machine and the audit trail need."""

    provider: str
    """The configured provider name (e.g. ``"persona"``)."""
    event_id: str
    """The provider's unique id for this event: the dedupe key (retries repeat it)."""
    customer_ref: str
    """Our customer id, as we passed it to the provider."""
    reference: str
    """The provider's object id (Persona inquiry, Sumsub applicant, generic ``reference``)."""
    provider_status: str
    """The provider's own event name / status, verbatim, for the audit trail."""
    outcome: Outcome | None
    """What it means for our state machine; ``None``: informational, no transition."""
    occurred_at: float | None
    """Unix seconds, when the provider says it happened (order transitions by this)."""


class WebhookError(GatewayError):
    """A webhook delivery we refuse; ``code`` says why, ``status`` is the HTTP answer."""

    status = 400
    type = "invalid_request_error"
    code = "invalid_webhook"


class InvalidSignature(WebhookError):
    """401: signature header missing or malformed, wrong secret, or body altered."""

    status = 401
    type = "authentication_error"
    code = "invalid_signature"


class StaleWebhook(WebhookError):
    """401: authentic, but its timestamp lies outside the tolerance (past or future)."""

    status = 401
    type = "authentication_error"
    code = "stale_webhook"


class InvalidWebhook(WebhookError):
    """400: the body is not JSON, lacks a field, or has a shape we do not know."""


# -- signatures -----------------------------------------------------------------------

_HEX: Final = frozenset("0123456789abcdefABCDEF")
# Each distinct timestamp costs one HMAC over the body per secret: cap them so that a
# crafted header cannot make us hash a large body hundreds of times.
_MAX_SIGNED_TIMESTAMPS: Final = 4
_SUMSUB_ALGORITHMS: Final[Mapping[str, str]] = {
    "HMAC_SHA1_HEX": "sha1",  # HMAC-SHA1 is still a sound MAC; Sumsub documents it
    "HMAC_SHA256_HEX": "sha256",
    "HMAC_SHA512_HEX": "sha512",
}


def verify_signature(
    scheme: Scheme,
    secrets: Sequence[bytes],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    tolerance_seconds: float = 300.0,
) -> None:
    """Return if ``body`` was signed with one of ``secrets``; raise a :class:`WebhookError` if not.

    ``headers`` has lower-cased names. Several secrets may be configured while one is
    being rotated. For ``persona`` and ``generic`` the signed timestamp must lie within
    ``tolerance_seconds`` of ``now`` in either direction (:class:`StaleWebhook`); Sumsub
    signs no timestamp, so its freshness is checked by :func:`parse_event` instead.
    """
    if not secrets or any(not s for s in secrets):
        # A configuration fault, not the sender's: fail closed, loudly.
        raise ValueError("webhook verification needs at least one non-empty secret")
    if scheme == "persona":
        _verify_timestamped("Persona-Signature", secrets, headers, body, now, tolerance_seconds)
    elif scheme == "generic":
        _verify_timestamped("Gateway-Signature", secrets, headers, body, now, tolerance_seconds)
    elif scheme == "sumsub":
        _verify_sumsub(secrets, headers, body)
    else:
        raise ValueError(f"unknown webhook scheme {scheme!r}")


def sign_persona(secret: bytes, body: bytes, t: int, *, extra_secrets: Sequence[bytes] = ()) -> str:
    """The ``Persona-Signature`` value Persona would send: one ``t=..,v1=..`` set per secret,
    separated by spaces (``extra_secrets`` mimic a rotation in progress)."""
    return " ".join(f"t={t},v1={_hmac_timestamped(s, str(t), body)}" for s in (secret, *extra_secrets))


def sign_generic(secret: bytes, body: bytes, t: int, *, extra_secrets: Sequence[bytes] = ()) -> str:
    """The ``Gateway-Signature`` value for the generic scheme: ``t=<t>,v1=<hex>[,v1=<hex>...]``,
    one ``v1`` per secret (sign with old and new secret while rotating)."""
    sigs = ",".join(f"v1={_hmac_timestamped(s, str(t), body)}" for s in (secret, *extra_secrets))
    return f"t={t},{sigs}"


def _hmac_timestamped(secret: bytes, t: str, body: bytes) -> str:
    return hmac.new(secret, t.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def _is_hex(value: str, length: int) -> bool:
    return len(value) == length and all(c in _HEX for c in value)


def _parse_timestamped(name: str, value: str | None) -> dict[str, list[str]]:
    """``t=<unix>,v1=<hex>[,v1=<hex>...]`` sets, space-separated: ``{t: [v1, ...]}``."""
    if value is None or not value.strip():
        raise InvalidSignature(f"missing {name} header")
    malformed = InvalidSignature(f"malformed {name} header: expected 't=<unix seconds>,v1=<hex sha256>'")
    sets: dict[str, list[str]] = {}
    for group in value.split():
        t: str | None = None
        sigs: list[str] = []
        for item in group.split(","):
            if not item:
                continue
            key, sep, val = item.partition("=")
            if not sep:
                raise malformed
            if key == "t":
                if t is not None or not (val.isascii() and val.isdigit() and len(val) <= 12):
                    raise malformed
                t = val
            elif key == "v1":
                if not _is_hex(val, 64):
                    raise malformed
                sigs.append(val.lower())
            # Other keys (``v0``, future schemes) are skipped, never trusted: accepting an
            # unknown scheme would let a forger downgrade to it.
        if t is None or not sigs:
            raise malformed
        sets.setdefault(t, []).extend(sigs)
    if len(sets) > _MAX_SIGNED_TIMESTAMPS:
        raise malformed
    return sets


def _verify_timestamped(
    name: str,
    secrets: Sequence[bytes],
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance: float,
) -> None:
    sets = _parse_timestamped(name, headers.get(name.lower()))
    matched = [
        int(t)
        for t, sigs in sets.items()
        if any(
            hmac.compare_digest(_hmac_timestamped(secret, t, body), sig) for secret in secrets for sig in sigs
        )
    ]
    if not matched:
        raise InvalidSignature(f"{name} does not match the body with any configured secret")
    # The signature is checked first so that an unauthenticated sender learns nothing
    # about our clock or tolerance.
    skew = min((t - now for t in matched), key=abs)
    if abs(skew) > tolerance:
        when = "in the past" if skew < 0 else "in the future"
        raise StaleWebhook(f"{name} timestamp is {abs(skew):.0f} s {when}; tolerance is {tolerance:.0f} s")


def _verify_sumsub(secrets: Sequence[bytes], headers: Mapping[str, str], body: bytes) -> None:
    digest = headers.get("x-payload-digest", "").strip()
    alg = headers.get("x-payload-digest-alg", "").strip()
    if not digest:
        raise InvalidSignature("missing X-Payload-Digest header")
    if not alg:
        raise InvalidSignature("missing X-Payload-Digest-Alg header")
    hash_name = _SUMSUB_ALGORITHMS.get(alg)
    if hash_name is None:
        known = ", ".join(_SUMSUB_ALGORITHMS)
        raise InvalidSignature(f"unsupported X-Payload-Digest-Alg {alg[:40]!r}: expected one of {known}")
    hex_length = 2 * hashlib.new(hash_name).digest_size
    if not _is_hex(digest, hex_length):
        raise InvalidSignature(
            f"malformed X-Payload-Digest header: expected {hex_length} hex digits for {alg}"
        )
    digest = digest.lower()
    if not any(hmac.compare_digest(hmac.new(s, body, hash_name).hexdigest(), digest) for s in secrets):
        raise InvalidSignature("X-Payload-Digest does not match the body with any configured secret")


# -- event bodies -----------------------------------------------------------------------

# Ids become database keys and audit entries: bound them.
_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class _PersonaInquiryAttributes(msgspec.Struct, rename="kebab"):
    status: str | None = None
    reference_id: _Id | None = None


class _PersonaObject(msgspec.Struct):
    id: _Id
    attributes: _PersonaInquiryAttributes
    type: str | None = None


class _PersonaPayload(msgspec.Struct):
    data: _PersonaObject


class _PersonaEventAttributes(msgspec.Struct, rename="kebab"):
    name: str
    payload: _PersonaPayload
    created_at: str | None = None


class _PersonaEventData(msgspec.Struct):
    id: _Id
    attributes: _PersonaEventAttributes
    type: str | None = None


class _PersonaEvent(msgspec.Struct):
    data: _PersonaEventData


class _SumsubReviewResult(msgspec.Struct, rename="camel"):
    review_answer: str | None = None
    review_reject_type: str | None = None


class _SumsubEvent(msgspec.Struct, rename="camel"):
    type: str
    applicant_id: _Id
    external_user_id: _Id
    created_at_ms: str
    review_result: _SumsubReviewResult | None = None


class _GenericEvent(msgspec.Struct, forbid_unknown_fields=True):
    """Our own wire format: strict, since we define it and every provider must follow it."""

    event_id: _Id
    customer_id: _Id
    reference: _Id
    status: Outcome
    occurred_at: Annotated[float, msgspec.Meta(ge=0)] | None = None


_persona_decoder: Final = msgspec.json.Decoder(_PersonaEvent)
_sumsub_decoder: Final = msgspec.json.Decoder(_SumsubEvent)
_generic_decoder: Final = msgspec.json.Decoder(_GenericEvent)

# Persona: by event name, not by the inquiry status inside the payload. The payload is a
# snapshot, and informational events carry an old decision (``inquiry.redacted`` of an
# approved inquiry says ``"status": "approved"``): reading it would re-verify someone.
_PERSONA_OUTCOMES: Final[Mapping[str, Outcome | None]] = {
    "inquiry.created": None,
    "inquiry.started": None,
    "inquiry.completed": "in_review",  # all checks passed, but not decisioned yet
    "inquiry.marked-for-review": "in_review",  # status "needs_review"
    "inquiry.approved": "verified",
    "inquiry.declined": "rejected",
    "inquiry.failed": "pending",  # the person may start a new inquiry
    "inquiry.expired": "pending",
}

_SUMSUB_OUTCOMES: Final[Mapping[str, Outcome]] = {
    "applicantPending": "in_review",
    "applicantOnHold": "in_review",
    "applicantReset": "pending",  # documents deactivated: verify again
}


def parse_event(
    scheme: Scheme,
    provider: str,
    body: bytes,
    *,
    now: float | None = None,
    tolerance_seconds: float = 300.0,
) -> ProviderEvent:
    """Decode a delivery already accepted by :func:`verify_signature` into a :class:`ProviderEvent`.

    Raises :class:`InvalidWebhook` naming the bad or missing field. For ``sumsub``, when
    ``now`` is given, the signed ``createdAtMs`` must lie within ``tolerance_seconds`` of
    it (:class:`StaleWebhook`); the other schemes' freshness is their signed header's.
    """
    if scheme == "persona":
        return _parse_persona(provider, body)
    if scheme == "sumsub":
        return _parse_sumsub(provider, body, now, tolerance_seconds)
    if scheme == "generic":
        return _parse_generic(provider, body)
    raise ValueError(f"unknown webhook scheme {scheme!r}")


def _decode(decoder: msgspec.json.Decoder[_T], body: bytes, label: str) -> _T:
    def invalid(exc: msgspec.ValidationError) -> InvalidWebhook:  # its text names the field and its path
        return InvalidWebhook(f"invalid {label} webhook body: {exc}")

    def malformed(why: str) -> InvalidWebhook:  # not UTF-8, not JSON, nested too deeply
        return InvalidWebhook(f"{label} webhook body is {why}")

    return decode_json(body, decoder.decode, invalid, malformed)


def _timestamp(value: str, where: str) -> float:
    """ISO 8601 (Persona's ``...Z``, Sumsub's ``yyyy-MM-dd HH:mm:ss.fff``); naive means UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidWebhook(f"{where} {value[:64]!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _parse_persona(provider: str, body: bytes) -> ProviderEvent:
    event = _decode(_persona_decoder, body, "Persona")
    attrs = event.data.attributes
    inquiry = attrs.payload.data
    if event.data.type not in (None, "event"):
        raise InvalidWebhook(f"Persona webhook `$.data.type` is {event.data.type[:40]!r}, expected 'event'")
    if not attrs.name.startswith("inquiry.") or inquiry.type not in (None, "inquiry"):
        raise InvalidWebhook(
            f"Persona event {attrs.name[:60]!r} is not about an inquiry: subscribe this webhook "
            "to inquiry events only"
        )
    reference_id = inquiry.attributes.reference_id
    if reference_id is None:
        raise InvalidWebhook(
            "Persona inquiry has no `reference-id` - at `$.data.attributes.payload.data.attributes`: "
            "create inquiries with our customer id as reference-id"
        )
    occurred_at = None
    if attrs.created_at is not None:
        occurred_at = _timestamp(attrs.created_at, "Persona `$.data.attributes.created-at`")
    return ProviderEvent(
        provider=provider,
        event_id=event.data.id,
        customer_ref=reference_id,
        reference=inquiry.id,
        provider_status=attrs.name,
        outcome=_PERSONA_OUTCOMES.get(attrs.name),
        occurred_at=occurred_at,
    )


def _parse_sumsub(provider: str, body: bytes, now: float | None, tolerance: float) -> ProviderEvent:
    event = _decode(_sumsub_decoder, body, "Sumsub")
    occurred_at = _timestamp(event.created_at_ms, "Sumsub `createdAtMs`")
    if now is not None and abs(occurred_at - now) > tolerance:
        when = "in the past" if occurred_at < now else "in the future"
        raise StaleWebhook(
            f"Sumsub createdAtMs is {abs(occurred_at - now):.0f} s {when}; tolerance is {tolerance:.0f} s"
        )
    answer = reject_type = None
    outcome: Outcome | None
    if event.type == "applicantReviewed":
        if event.review_result is None or event.review_result.review_answer is None:
            raise InvalidWebhook("Sumsub applicantReviewed without `reviewResult.reviewAnswer`")
        answer = event.review_result.review_answer
        reject_type = event.review_result.review_reject_type
        outcome = _sumsub_review_outcome(answer, reject_type)
        status = ":".join(x for x in ("applicantReviewed", answer, reject_type) if x)
    else:
        outcome = _SUMSUB_OUTCOMES.get(event.type)
        status = event.type
    return ProviderEvent(
        provider=provider,
        event_id=_sumsub_event_id(event.type, event.applicant_id, event.created_at_ms, answer),
        customer_ref=event.external_user_id,
        reference=event.applicant_id,
        provider_status=status,
        outcome=outcome,
        occurred_at=occurred_at,
    )


def _sumsub_review_outcome(answer: str, reject_type: str | None) -> Outcome:
    if answer == "GREEN":
        return "verified"
    if answer != "RED":
        raise InvalidWebhook(f"Sumsub `reviewResult.reviewAnswer` {answer[:20]!r} is neither GREEN nor RED")
    # RETRY asks the person to resubmit; FINAL, or a RED without a type we understand,
    # is a rejection: fail closed rather than leave a verified customer verified.
    return "pending" if reject_type == "RETRY" else "rejected"


def _sumsub_event_id(kind: str, applicant_id: str, created_at_ms: str, answer: str | None) -> str:
    """Sumsub sends no event id. ``correlationId`` identifies the API request behind a
    change, and one request can trigger several webhooks (a level change sends
    ``applicantLevelChanged`` and ``applicantReset``), so it cannot dedupe alone. A
    retry resends the same payload, so a hash of the fields that make an event distinct
    (type, applicant, creation time to the millisecond, review answer) is stable across
    retries and differs between an approval and a later rejection."""
    material = "\x1f".join((kind, applicant_id, created_at_ms, answer or ""))
    return "sumsub:" + hashlib.sha256(material.encode()).hexdigest()[:32]


def _parse_generic(provider: str, body: bytes) -> ProviderEvent:
    event = _decode(_generic_decoder, body, "generic")
    return ProviderEvent(
        provider=provider,
        event_id=event.event_id,
        customer_ref=event.customer_id,
        reference=event.reference,
        provider_status=event.status,
        outcome=event.status,
        occurred_at=event.occurred_at,
    )
