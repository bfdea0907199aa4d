"""Provider webhooks: signatures (Persona, Sumsub, generic) and what each event means.

Example bodies follow the providers' public documentation (Persona's "Webhooks
Overview" event, Sumsub's user-verification webhook payloads), with our customer id
in Persona's ``reference-id`` and Sumsub's ``externalUserId``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.errors import GatewayError
from gateway.kyc.webhooks import (
    InvalidSignature,
    InvalidWebhook,
    ProviderEvent,
    StaleWebhook,
    WebhookError,
    parse_event,
    sign_generic,
    sign_persona,
    verify_signature,
)

SECRET = b"wbhsec_3b1f0c2a9e8d7c6b5a4f3e2d1c0b9a8f"
OLD_SECRET = b"wbhsec_old_0a1b2c3d4e5f60718293a4b5c6d7e8f9"
OTHER = b"wbhsec_attacker_guess"
T = 1_700_000_000  # 2023-11-14T22:13:20Z
CUSTOMER = "cus_01HZX3K8Q4M2"


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()


# -- example bodies -------------------------------------------------------------------


def persona_body(
    name: str = "inquiry.approved",
    status: str = "approved",
    *,
    event_id: str = "evt_XGuYWp7WuDzNxie5z16s7sGJ",
    reference_id: str | None = CUSTOMER,
    created_at: str = "2019-09-09T22:44:51.300Z",
    payload_type: str = "inquiry",
) -> bytes:
    """Persona's documented example event (Webhooks Overview), with our reference-id."""
    event: dict[str, Any] = {
        "data": {
            "type": "event",
            "id": event_id,
            "attributes": {
                "name": name,
                "payload": {
                    "data": {
                        "type": payload_type,
                        "id": "inq_2CVZ4HyVg7qaboXz2PUHknAn",
                        "attributes": {
                            "status": status,
                            "reference-id": reference_id,
                            "created-at": "2019-09-09T22:40:56.000Z",
                            "completed-at": "2019-09-09T22:44:51.000Z",
                            "expired-at": None,
                        },
                        "relationships": {
                            "reports": {"data": []},
                            "template": {"data": {"id": "blu_biqYXr3aNfHuLeXUdJUNFNET", "type": "template"}},
                            "verifications": {
                                "data": [
                                    {
                                        "id": "ver_KnqQRXmxmtquRE65CHTzymhR",
                                        "type": "verification/driver-license",
                                    },
                                    {"id": "ver_2aguhcwq66zcmqipmrqjxw68", "type": "verification/selfie"},
                                ]
                            },
                        },
                    },
                    "included": [
                        {
                            "type": "template",
                            "id": "blu_biqYXr3aNfHuLeXUdJUNFNET",
                            "attributes": {"name": "Acme #1"},
                        }
                    ],
                },
                "created-at": created_at,
            },
        }
    }
    return json.dumps(event).encode()


def sumsub_body(
    kind: str = "applicantReviewed",
    answer: str | None = "GREEN",
    reject_type: str | None = None,
    *,
    created_at_ms: str = "2020-02-21 13:23:19.321",
    drop: tuple[str, ...] = (),
) -> bytes:
    """Sumsub's documented user-verification webhook payload."""
    event: dict[str, Any] = {
        "applicantId": "5cb56e8e0a975a35f333cb83",
        "inspectionId": "5cb56e8e0a975a35f333cb84",
        "correlationId": "req-a260b669-4f14-4bb5-a4c5-ac0218acb9a4",
        "externalUserId": CUSTOMER,
        "levelName": "basic-kyc-level",
        "type": kind,
        "sandboxMode": False,
        "reviewStatus": "completed" if kind == "applicantReviewed" else "pending",
        "createdAtMs": created_at_ms,
        "clientId": "acmeCompute",
    }
    if answer is not None:
        result: dict[str, Any] = {"reviewAnswer": answer}
        if answer == "RED":
            result |= {
                "moderationComment": "We could not verify your profile.",
                "clientComment": "Suspected fraudulent account.",
                "rejectLabels": ["UNSATISFACTORY_PHOTOS", "GRAPHIC_EDITOR", "FORGERY"],
            }
            if reject_type is not None:
                result["reviewRejectType"] = reject_type
        event["reviewResult"] = result
    for key in drop:
        del event[key]
    return json.dumps(event).encode()


def generic_body(status: Any = "verified", **overrides: Any) -> bytes:
    event: dict[str, Any] = {
        "event_id": "evt_20240301_000042",
        "customer_id": CUSTOMER,
        "reference": "chk_7731",
        "status": status,
        "occurred_at": 1709251200.5,
    }
    event |= overrides
    return json.dumps({k: v for k, v in event.items() if v is not ...}).encode()


def sumsub_headers(secret: bytes, body: bytes, alg: str = "HMAC_SHA256_HEX") -> dict[str, str]:
    hash_name = {"HMAC_SHA1_HEX": "sha1", "HMAC_SHA256_HEX": "sha256", "HMAC_SHA512_HEX": "sha512"}[alg]
    return {
        "x-payload-digest": hmac.new(secret, body, hash_name).hexdigest(),
        "x-payload-digest-alg": alg,
    }


def altered(body: bytes) -> bytes:
    """The body with one byte changed (inside a value, so it is still valid JSON)."""
    i = body.index(b"cus_") + 4
    return body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :]


def expect(exc_type: type[WebhookError], code: str, fn: Any, *args: Any, **kwargs: Any) -> WebhookError:
    with pytest.raises(exc_type) as info:
        fn(*args, **kwargs)
    assert info.value.code == code
    return info.value


# -- error values ----------------------------------------------------------------------


def test_errors_carry_code_and_http_status() -> None:
    cases = [(InvalidSignature, "invalid_signature", 401), (StaleWebhook, "stale_webhook", 401)]
    cases.append((InvalidWebhook, "invalid_webhook", 400))
    for cls, code, status in cases:
        err = cls("x")
        assert isinstance(err, WebhookError)
        assert isinstance(err, GatewayError)
        assert (err.code, err.status) == (code, status)


def test_no_secret_configured_is_a_configuration_error() -> None:
    body = generic_body()
    headers = {"gateway-signature": sign_generic(SECRET, body, T)}
    for secrets in ([], [b""]):
        with pytest.raises(ValueError, match="non-empty secret"):
            verify_signature("generic", secrets, headers, body, now=T)


# -- Persona and generic: t=<unix>,v1=<hex> -----------------------------------------------

TIMESTAMPED = [
    pytest.param("persona", "persona-signature", persona_body(), sign_persona, id="persona"),
    pytest.param("generic", "gateway-signature", generic_body(), sign_generic, id="generic"),
]


@pytest.mark.parametrize(("scheme", "header", "body", "sign"), TIMESTAMPED)
class TestTimestampedSignatures:
    def test_valid_signature_is_accepted(self, scheme: Any, header: str, body: bytes, sign: Any) -> None:
        verify_signature(scheme, [SECRET], {header: sign(SECRET, body, T)}, body, now=T + 12)

    def test_header_value_matches_the_documented_recipe(
        self, scheme: Any, header: str, body: bytes, sign: Any
    ) -> None:
        digest = hmac.new(SECRET, f"{T}.".encode() + body, hashlib.sha256).hexdigest()
        assert sign(SECRET, body, T) == f"t={T},v1={digest}"

    def test_wrong_secret_is_refused(self, scheme: Any, header: str, body: bytes, sign: Any) -> None:
        headers = {header: sign(OTHER, body, T)}
        err = expect(
            InvalidSignature, "invalid_signature", verify_signature, scheme, [SECRET], headers, body, now=T
        )
        assert "does not match" in err.message

    def test_body_altered_by_one_byte_is_refused(
        self, scheme: Any, header: str, body: bytes, sign: Any
    ) -> None:
        headers = {header: sign(SECRET, body, T)}
        expect(
            InvalidSignature,
            "invalid_signature",
            verify_signature,
            scheme,
            [SECRET],
            headers,
            altered(body),
            now=T,
        )

    def test_timestamp_is_part_of_what_is_signed(
        self, scheme: Any, header: str, body: bytes, sign: Any
    ) -> None:
        forged = sign(SECRET, body, T).replace(f"t={T}", f"t={T + 60}")
        headers = {header: forged}
        expect(
            InvalidSignature,
            "invalid_signature",
            verify_signature,
            scheme,
            [SECRET],
            headers,
            body,
            now=T + 60,
        )

    def test_missing_header_is_refused(self, scheme: Any, header: str, body: bytes, sign: Any) -> None:
        for headers in ({}, {header: ""}, {header: "   "}):
            err = expect(
                InvalidSignature,
                "invalid_signature",
                verify_signature,
                scheme,
                [SECRET],
                headers,
                body,
                now=T,
            )
            assert "missing" in err.message

    def test_header_under_its_unlowered_name_is_not_found(
        self, scheme: Any, header: str, body: bytes, sign: Any
    ) -> None:
        # The contract: the receiver lower-cases header names before calling us.
        headers = {header.title(): sign(SECRET, body, T)}
        expect(
            InvalidSignature, "invalid_signature", verify_signature, scheme, [SECRET], headers, body, now=T
        )

    def test_malformed_headers_are_refused(self, scheme: Any, header: str, body: bytes, sign: Any) -> None:
        good = hmac.new(SECRET, f"{T}.".encode() + body, hashlib.sha256).hexdigest()
        for bad in [
            good,  # bare digest
            f"v1={good}",  # no timestamp
            f"t={T}",  # no signature
            f"t=soon,v1={good}",
            f"t=-{T},v1={good}",
            f"t={T},v1={good[:-1]}",  # 63 hex digits
            f"t={T},v1={good[:-1]}g",
            f"t={T},t={T},v1={good}",
            f"t={T},v1",
            f"t={T},v0={good}",  # only an unknown scheme
            f"t={T}.v1={good}",
            " ".join(f"t={T + i},v1={good}" for i in range(5)),  # too many timestamps to hash
        ]:
            err = expect(
                InvalidSignature,
                "invalid_signature",
                verify_signature,
                scheme,
                [SECRET],
                {header: bad},
                body,
                now=T,
            )
            assert "malformed" in err.message, bad

    def test_unknown_schemes_beside_v1_are_ignored(
        self, scheme: Any, header: str, body: bytes, sign: Any
    ) -> None:
        value = sign(SECRET, body, T).replace(",v1=", ",v0=" + "0" * 64 + ",v1=")
        verify_signature(scheme, [SECRET], {header: value}, body, now=T)

    def test_uppercase_hex_is_accepted(self, scheme: Any, header: str, body: bytes, sign: Any) -> None:
        t_part, v1 = sign(SECRET, body, T).split(",v1=")
        verify_signature(scheme, [SECRET], {header: f"{t_part},v1={v1.upper()}"}, body, now=T)

    @pytest.mark.parametrize("offset", [-301, 301, -3600, 86_400])
    def test_stale_timestamps_are_refused_in_both_directions(
        self, scheme: Any, header: str, body: bytes, sign: Any, offset: int
    ) -> None:
        headers = {header: sign(SECRET, body, T)}
        err = expect(
            StaleWebhook, "stale_webhook", verify_signature, scheme, [SECRET], headers, body, now=T - offset
        )
        assert ("in the past" if offset < 0 else "in the future") in err.message

    @pytest.mark.parametrize("offset", [-300, 0, 300])
    def test_timestamps_within_tolerance_are_accepted(
        self, scheme: Any, header: str, body: bytes, sign: Any, offset: int
    ) -> None:
        verify_signature(scheme, [SECRET], {header: sign(SECRET, body, T)}, body, now=T + offset)

    def test_tolerance_is_configurable(self, scheme: Any, header: str, body: bytes, sign: Any) -> None:
        headers = {header: sign(SECRET, body, T)}
        verify_signature(scheme, [SECRET], headers, body, now=T + 900, tolerance_seconds=1000)
        expect(
            StaleWebhook,
            "stale_webhook",
            verify_signature,
            scheme,
            [SECRET],
            headers,
            body,
            now=T + 90,
            tolerance_seconds=60,
        )

    def test_stale_and_forged_reports_the_forgery(
        self, scheme: Any, header: str, body: bytes, sign: Any
    ) -> None:
        headers = {header: sign(OTHER, body, T)}
        expect(
            InvalidSignature,
            "invalid_signature",
            verify_signature,
            scheme,
            [SECRET],
            headers,
            body,
            now=T + 10**6,
        )

    def test_rotation_on_our_side_accepts_either_configured_secret(
        self, scheme: Any, header: str, body: bytes, sign: Any
    ) -> None:
        for signer in (OLD_SECRET, SECRET):
            verify_signature(scheme, [OLD_SECRET, SECRET], {header: sign(signer, body, T)}, body, now=T)
        headers = {header: sign(OTHER, body, T)}
        expect(
            InvalidSignature,
            "invalid_signature",
            verify_signature,
            scheme,
            [OLD_SECRET, SECRET],
            headers,
            body,
            now=T,
        )

    def test_rotation_on_the_sender_side_accepts_the_second_signature(
        self, scheme: Any, header: str, body: bytes, sign: Any
    ) -> None:
        # The sender signs with its old and new secret; we already hold only the new one.
        value = sign(OLD_SECRET, body, T, extra_secrets=[SECRET])
        assert value.count("v1=") == 2
        verify_signature(scheme, [SECRET], {header: value}, body, now=T)
        expect(
            InvalidSignature,
            "invalid_signature",
            verify_signature,
            scheme,
            [OTHER],
            {header: value},
            body,
            now=T,
        )


def test_persona_rotation_header_is_two_space_separated_sets() -> None:
    body = persona_body()
    value = sign_persona(SECRET, body, T, extra_secrets=[OLD_SECRET])
    first, second = value.split(" ")
    assert first == sign_persona(SECRET, body, T)
    assert second == sign_persona(OLD_SECRET, body, T)
    verify_signature("persona", [OLD_SECRET], {"persona-signature": value}, body, now=T)


def test_generic_rotation_header_is_one_timestamp_with_several_v1() -> None:
    body = generic_body()
    value = sign_generic(SECRET, body, T, extra_secrets=[OLD_SECRET])
    assert value.count("t=") == 1
    assert value == sign_generic(SECRET, body, T) + "," + sign_generic(OLD_SECRET, body, T).split(",")[1]


def test_persona_sets_with_different_timestamps_use_the_matching_one() -> None:
    body = persona_body()
    value = f"{sign_persona(OTHER, body, T - 10_000)} {sign_persona(SECRET, body, T)}"
    verify_signature("persona", [SECRET], {"persona-signature": value}, body, now=T)
    stale = f"{sign_persona(OTHER, body, T)} {sign_persona(SECRET, body, T - 10_000)}"
    expect(
        StaleWebhook,
        "stale_webhook",
        verify_signature,
        "persona",
        [SECRET],
        {"persona-signature": stale},
        body,
        now=T,
    )


def test_schemes_do_not_read_each_others_headers() -> None:
    body = generic_body()
    headers = {"persona-signature": sign_persona(SECRET, body, T)}
    expect(InvalidSignature, "invalid_signature", verify_signature, "generic", [SECRET], headers, body, now=T)


# -- Sumsub: X-Payload-Digest ---------------------------------------------------------------

ALGS = ["HMAC_SHA1_HEX", "HMAC_SHA256_HEX", "HMAC_SHA512_HEX"]


@pytest.mark.parametrize("alg", ALGS)
def test_sumsub_every_documented_algorithm_works(alg: str) -> None:
    body = sumsub_body()
    headers = sumsub_headers(SECRET, body, alg)
    verify_signature("sumsub", [SECRET], headers, body, now=0)
    expect(InvalidSignature, "invalid_signature", verify_signature, "sumsub", [OTHER], headers, body, now=0)
    expect(
        InvalidSignature,
        "invalid_signature",
        verify_signature,
        "sumsub",
        [SECRET],
        headers,
        altered(body),
        now=0,
    )


def test_sumsub_digest_of_another_algorithm_is_refused() -> None:
    body = sumsub_body()
    headers = sumsub_headers(SECRET, body, "HMAC_SHA256_HEX") | {"x-payload-digest-alg": "HMAC_SHA512_HEX"}
    err = expect(
        InvalidSignature, "invalid_signature", verify_signature, "sumsub", [SECRET], headers, body, now=0
    )
    assert "expected 128 hex digits" in err.message
    # Same length (SHA-256 digest truncated from a SHA-512 one) still does not verify.
    sha512 = sumsub_headers(SECRET, body, "HMAC_SHA512_HEX")["x-payload-digest"]
    headers = {"x-payload-digest": sha512[:64], "x-payload-digest-alg": "HMAC_SHA256_HEX"}
    expect(InvalidSignature, "invalid_signature", verify_signature, "sumsub", [SECRET], headers, body, now=0)


@pytest.mark.parametrize("alg", ["HMAC_MD5_HEX", "HMAC_SHA384_HEX", "hmac_sha256_hex", "sha256", "NONE"])
def test_sumsub_unknown_algorithm_is_refused(alg: str) -> None:
    body = sumsub_body()
    digest = sumsub_headers(SECRET, body)["x-payload-digest"]
    headers = {"x-payload-digest": digest, "x-payload-digest-alg": alg}
    err = expect(
        InvalidSignature, "invalid_signature", verify_signature, "sumsub", [SECRET], headers, body, now=0
    )
    assert "unsupported X-Payload-Digest-Alg" in err.message


def test_sumsub_missing_or_malformed_headers_are_refused() -> None:
    body = sumsub_body()
    good = sumsub_headers(SECRET, body)
    cases = [
        ({"x-payload-digest-alg": "HMAC_SHA256_HEX"}, "missing X-Payload-Digest header"),
        ({"x-payload-digest": good["x-payload-digest"]}, "missing X-Payload-Digest-Alg header"),
        (good | {"x-payload-digest": "sha256=" + good["x-payload-digest"]}, "malformed"),
        (good | {"x-payload-digest": good["x-payload-digest"][:-1] + "z"}, "malformed"),
        ({}, "missing"),
    ]
    for headers, message in cases:
        err = expect(
            InvalidSignature, "invalid_signature", verify_signature, "sumsub", [SECRET], headers, body, now=0
        )
        assert message in err.message


def test_sumsub_rotation_accepts_the_second_secret() -> None:
    body = sumsub_body()
    verify_signature("sumsub", [OLD_SECRET, SECRET], sumsub_headers(SECRET, body), body, now=0)
    verify_signature("sumsub", [OLD_SECRET, SECRET], sumsub_headers(OLD_SECRET, body), body, now=0)


def test_sumsub_staleness_comes_from_the_signed_created_at() -> None:
    created = "2020-02-21 13:23:19.321"
    at = _ts(created)
    assert at == pytest.approx(1582291399.321)
    body = sumsub_body(created_at_ms=created)
    assert parse_event("sumsub", "sumsub", body, now=at + 299).occurred_at == pytest.approx(at)
    assert parse_event("sumsub", "sumsub", body).outcome == "verified"  # no `now`: no check
    for now, word in ((at + 301, "in the past"), (at - 301, "in the future")):
        err = expect(StaleWebhook, "stale_webhook", parse_event, "sumsub", "sumsub", body, now=now)
        assert word in err.message
    # Sumsub retries a failed delivery up to 18 hours later with the same payload.
    parse_event("sumsub", "sumsub", body, now=at + 18 * 3600, tolerance_seconds=86_400)


# -- Persona events --------------------------------------------------------------------------


def test_persona_event_fields() -> None:
    event = parse_event("persona", "persona-prod", persona_body())
    assert event == ProviderEvent(
        provider="persona-prod",
        event_id="evt_XGuYWp7WuDzNxie5z16s7sGJ",
        customer_ref=CUSTOMER,
        reference="inq_2CVZ4HyVg7qaboXz2PUHknAn",
        provider_status="inquiry.approved",
        outcome="verified",
        occurred_at=_ts("2019-09-09T22:44:51.300"),
    )


@pytest.mark.parametrize(
    ("name", "status", "outcome"),
    [
        ("inquiry.created", "created", None),
        ("inquiry.started", "pending", None),
        ("inquiry.completed", "completed", "in_review"),
        ("inquiry.marked-for-review", "needs_review", "in_review"),
        ("inquiry.approved", "approved", "verified"),
        ("inquiry.declined", "declined", "rejected"),
        ("inquiry.failed", "failed", "pending"),
        ("inquiry.expired", "expired", "pending"),
        ("inquiry.transitioned", "completed", None),
        # Informational events carry the old decision: it must not re-verify anyone.
        ("inquiry.redacted", "approved", None),
        ("inquiry.updated-tags", "approved", None),
    ],
)
def test_persona_outcome_mapping(name: str, status: str, outcome: str | None) -> None:
    event = parse_event("persona", "persona", persona_body(name, status))
    assert (event.outcome, event.provider_status) == (outcome, name)


def test_persona_approve_then_decline_both_map() -> None:
    approved = parse_event(
        "persona", "persona", persona_body(event_id="evt_A1", created_at="2024-03-15T18:35:01Z")
    )
    declined = parse_event(
        "persona",
        "persona",
        persona_body("inquiry.declined", "declined", event_id="evt_B2", created_at="2024-03-20T09:00:00Z"),
    )
    assert (approved.outcome, declined.outcome) == ("verified", "rejected")
    assert approved.event_id != declined.event_id
    assert approved.customer_ref == declined.customer_ref == CUSTOMER
    assert approved.occurred_at is not None and declined.occurred_at is not None
    assert approved.occurred_at < declined.occurred_at


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[]", "Expected `object`"),
        (b"{}", "`data`"),
        (json.dumps({"data": {"type": "event", "id": "evt_1"}}).encode(), "`attributes`"),
        (persona_body().replace(b'"name": ', b'"nom": '), "`name`"),
        (persona_body().replace(b'"id": "evt_', b'"uid": "evt_'), "`id`"),
        (persona_body(reference_id=None), "reference-id"),
        (persona_body(reference_id=""), "reference-id"),
        (persona_body(created_at="yesterday"), "created-at"),
        (persona_body("verification.passed", payload_type="verification/selfie"), "inquiry events only"),
        (persona_body(payload_type="verification/selfie"), "inquiry events only"),
        (persona_body().replace(b'"type": "event"', b'"type": "inquiry"', 1), "expected 'event'"),
    ],
)
def test_persona_malformed_bodies_name_the_problem(body: bytes, fragment: str) -> None:
    err = expect(InvalidWebhook, "invalid_webhook", parse_event, "persona", "persona", body)
    assert fragment in err.message
    assert err.status == 400


# -- Sumsub events ---------------------------------------------------------------------------


def test_sumsub_event_fields() -> None:
    event = parse_event("sumsub", "sumsub", sumsub_body("applicantReviewed", "RED", "RETRY"))
    assert event.customer_ref == CUSTOMER
    assert event.reference == "5cb56e8e0a975a35f333cb83"
    assert event.provider_status == "applicantReviewed:RED:RETRY"
    assert event.outcome == "pending"
    assert event.event_id.startswith("sumsub:") and len(event.event_id) == 7 + 32
    assert event.occurred_at == pytest.approx(_ts("2020-02-21 13:23:19.321"))


@pytest.mark.parametrize(
    ("kind", "answer", "reject_type", "outcome"),
    [
        ("applicantReviewed", "GREEN", None, "verified"),
        ("applicantReviewed", "RED", "FINAL", "rejected"),
        ("applicantReviewed", "RED", "RETRY", "pending"),
        ("applicantReviewed", "RED", None, "rejected"),  # fail closed
        ("applicantPending", None, None, "in_review"),
        ("applicantOnHold", None, None, "in_review"),
        ("applicantReset", None, None, "pending"),
        ("applicantCreated", None, None, None),
        ("applicantPersonalInfoChanged", None, None, None),
        ("applicantLevelChanged", None, None, None),
        ("applicantWorkflowCompleted", "GREEN", None, None),
    ],
)
def test_sumsub_outcome_mapping(
    kind: str, answer: str | None, reject_type: str | None, outcome: str | None
) -> None:
    assert parse_event("sumsub", "sumsub", sumsub_body(kind, answer, reject_type)).outcome == outcome


def test_sumsub_approve_then_reject_are_distinct_events() -> None:
    approved = parse_event("sumsub", "sumsub", sumsub_body("applicantReviewed", "GREEN"))
    rejected = parse_event(
        "sumsub",
        "sumsub",
        sumsub_body("applicantReviewed", "RED", "FINAL", created_at_ms="2020-03-02 08:00:00.004"),
    )
    assert (approved.outcome, rejected.outcome) == ("verified", "rejected")
    assert approved.event_id != rejected.event_id
    assert approved.customer_ref == rejected.customer_ref
    assert approved.occurred_at is not None and rejected.occurred_at is not None
    assert approved.occurred_at < rejected.occurred_at


def test_sumsub_event_id_is_stable_across_retries_and_distinct_per_event() -> None:
    body = sumsub_body()
    assert parse_event("sumsub", "a", body).event_id == parse_event("sumsub", "a", body).event_id
    # A retry may be re-serialised: fields that do not identify the event do not count.
    resent = json.dumps({**json.loads(body), "sandboxMode": True, "levelName": "kyc-v2"}, indent=2).encode()
    assert parse_event("sumsub", "a", resent).event_id == parse_event("sumsub", "a", body).event_id
    others = [
        sumsub_body("applicantPending", None),
        sumsub_body(answer="RED", reject_type="FINAL"),
        sumsub_body(created_at_ms="2020-02-21 13:23:19.322"),
        body.replace(b"5cb56e8e0a975a35f333cb83", b"5cb56e8e0a975a35f333cb99"),
    ]
    ids = {parse_event("sumsub", "a", b).event_id for b in [body, *others]}
    assert len(ids) == 5


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"<xml/>", "not valid JSON"),
        (sumsub_body(drop=("externalUserId",)), "`externalUserId`"),
        (sumsub_body(drop=("applicantId",)), "`applicantId`"),
        (sumsub_body(drop=("createdAtMs",)), "`createdAtMs`"),
        (sumsub_body(drop=("type",)), "`type`"),
        (sumsub_body(answer=None), "reviewResult.reviewAnswer"),
        (sumsub_body(answer="YELLOW"), "neither GREEN nor RED"),
        (sumsub_body(created_at_ms="21/02/2020"), "createdAtMs"),
        (sumsub_body().replace(CUSTOMER.encode(), b""), "externalUserId"),
    ],
)
def test_sumsub_malformed_bodies_name_the_problem(body: bytes, fragment: str) -> None:
    err = expect(InvalidWebhook, "invalid_webhook", parse_event, "sumsub", "sumsub", body)
    assert fragment in err.message


# -- generic events ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["verified", "rejected", "in_review", "pending"])
def test_generic_statuses_map_to_themselves(status: str) -> None:
    event = parse_event("generic", "acme-idv", generic_body(status))
    assert event == ProviderEvent(
        provider="acme-idv",
        event_id="evt_20240301_000042",
        customer_ref=CUSTOMER,
        reference="chk_7731",
        provider_status=status,
        outcome=status,  # type: ignore[arg-type]
        occurred_at=1709251200.5,
    )


def test_generic_occurred_at_is_optional() -> None:
    assert parse_event("generic", "p", generic_body(occurred_at=...)).occurred_at is None
    assert parse_event("generic", "p", generic_body(occurred_at=None)).occurred_at is None
    assert parse_event("generic", "p", generic_body(occurred_at=1700000000)).occurred_at == 1700000000.0


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{", "not valid JSON"),
        (generic_body(event_id=...), "`event_id`"),
        (generic_body(customer_id=...), "`customer_id`"),
        (generic_body(reference=...), "`reference`"),
        (generic_body(status=...), "`status`"),
        (generic_body("approved"), "$.status"),
        (generic_body(event_id=""), "$.event_id"),
        (generic_body(customer_id=42), "$.customer_id"),
        (generic_body(occurred_at="2024-03-01"), "$.occurred_at"),
        (generic_body(occurred_at=-1), "$.occurred_at"),
        (generic_body(extra="x"), "unknown field `extra`"),
    ],
)
def test_generic_bodies_are_decoded_strictly(body: bytes, fragment: str) -> None:
    err = expect(InvalidWebhook, "invalid_webhook", parse_event, "generic", "p", body)
    assert fragment in err.message


# -- end to end: what the receiver does -------------------------------------------------------


def test_receiver_flow_for_each_scheme() -> None:
    now = _ts("2020-02-21 13:23:20")
    persona = persona_body()
    generic = generic_body("rejected")
    sumsub = sumsub_body("applicantReviewed", "RED", "FINAL")
    deliveries = [
        ("persona", {"persona-signature": sign_persona(SECRET, persona, int(now))}, persona, "verified"),
        ("generic", {"gateway-signature": sign_generic(SECRET, generic, int(now))}, generic, "rejected"),
        ("sumsub", sumsub_headers(SECRET, sumsub, "HMAC_SHA512_HEX"), sumsub, "rejected"),
    ]
    for scheme, headers, body, outcome in deliveries:
        verify_signature(scheme, [SECRET], headers, body, now=now)  # type: ignore[arg-type]
        assert parse_event(scheme, scheme, body, now=now).outcome == outcome  # type: ignore[arg-type]
