"""Every client body the gateway decodes: deep nesting and bad UTF-8 are a 400, never a 500."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from gateway.bodies import decode_json, invalid_json, utf8_problem
from gateway.clusters.kubernetes import parse_job
from gateway.clusters.slurm import parse_submit
from gateway.errors import BadRequest, GatewayError
from gateway.kyc.webhooks import InvalidWebhook, parse_event
from gateway.proxy.adapters import decode_head

DEEP = b"[" * 100_000 + b"]" * 100_000


def shape_error(exc: msgspec.ValidationError) -> GatewayError:
    return BadRequest(str(exc), code="wrong_shape")


def refused(call: Any, *args: Any) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        call(*args)
    return info.value


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (DEEP, "not valid JSON: it is nested too deeply"),
        (b'{"a": ' + DEEP + b"}", "not valid JSON: it is nested too deeply"),
        (b'["\xff"]', "not valid UTF-8 (byte 2: invalid start byte)"),
        (b'["\xc3\x28"]', "not valid UTF-8 (byte 2: invalid continuation byte)"),
        (b'["\xed\xa0\x80"]', "not valid UTF-8"),  # an encoded surrogate
        (b'["\xe2\x82"]', "not valid UTF-8"),  # truncated sequence
        (b"{", "not valid JSON: Input data was truncated"),
        (b"", "not valid JSON"),
    ],
)
def test_what_is_not_json_is_invalid_json(body: bytes, why: str) -> None:
    err = refused(decode_json, body, msgspec.json.decode, shape_error)
    assert (err.status, err.code) == (400, "invalid_json")
    assert err.message.startswith("the request body is " + why), err.message


def test_the_callers_errors_and_the_happy_path() -> None:
    assert decode_json('["café", "東京"]'.encode(), msgspec.json.decode, shape_error) == ["café", "東京"]
    assert refused(decode_json, b'{"a": 1}', msgspec.json.Decoder(list[int]).decode, shape_error).code == (
        "wrong_shape"
    )
    err = refused(decode_json, b"\xff", msgspec.json.decode, shape_error, invalid_json("the job"))
    assert err.message.startswith("the job is not valid UTF-8")
    assert utf8_problem(b"plain ascii") is None and utf8_problem("ünïcode".encode()) is None


def test_the_proxy_checks_the_whole_body_not_only_the_fields_it_reads() -> None:
    # msgspec skips "messages" without looking at its bytes: the body would be forwarded as is.
    for body in (b'{"model": "m", "messages": [{"content": "\xff"}]}', b'{"model": "m", "x": ' + DEEP + b"}"):
        err = refused(decode_head, body)
        assert (err.status, err.code) == (400, "invalid_json"), err.message


def test_cluster_job_bodies() -> None:
    # The whole body is checked before its shape: these are forwarded to the cluster as sent.
    for call, body in (
        (parse_job, b'{"apiVersion": "batch/v1", "kind": "Job", "x-extra": ' + DEEP + b"}"),
        (parse_job, b'{"apiVersion": "batch/v1", "kind": "Job", "x-extra": "torch\xffrun"}'),
        (lambda b: parse_submit("v0.0.38", b), b'{"script": "#!/b\xe9n/sh", "job": {}}'),
    ):
        err = refused(call, body)
        assert (err.status, err.code) == (400, "invalid_json"), err.message
        assert err.message.startswith("the body is not valid"), err.message


def test_webhook_bodies_keep_their_code() -> None:
    for body in (b'{"event_id": "\xff"}', b'{"data": ' + DEEP + b"}"):
        err = refused(parse_event, "persona", "persona", body)
        assert isinstance(err, InvalidWebhook) and err.code == "invalid_webhook"
