"""The import file: every line checked, errors naming the line and the field; ids stable."""

import uuid

import msgspec
import pytest

from gateway.detect.features import extract
from gateway.detect.imports import calls, parse
from gateway.errors import BadRequest

KEY = "0123456789abcdef"
GOOD = {
    "occurred_at": "2026-12-01T10:00:00Z",
    "key_id": KEY,
    "route": "/v1/chat/completions",
    "model": "gpt-test",
    "prompt_tokens": 3,
    "completion_tokens": 5,
    "client_ip": "8.8.8.8",
    "body": {"model": "gpt-test", "messages": [{"role": "user", "content": "Hello step by step"}]},
}


def jsonl(*docs: object) -> bytes:
    return b"\n".join(msgspec.json.encode(d) for d in docs) + b"\n"


def test_a_good_file_and_its_stable_ids() -> None:
    data = jsonl(GOOD, {**GOOD, "request_id": "7c1c5b6e-2a51-4d7e-9a38-0c3c1e0d9e11"}) + b"\n\n"
    lines = parse(data)
    assert [line.number for line in lines] == [1, 2]
    assert lines[1].request_id == uuid.UUID("7c1c5b6e-2a51-4d7e-9a38-0c3c1e0d9e11")
    assert parse(data)[0].request_id == lines[0].request_id  # uuid5 of the line: the same next time
    assert parse(jsonl({**GOOD, "model": "other"}))[0].request_id != lines[0].request_id


def test_events_and_features_as_the_gateway_would_record_them() -> None:
    customer, project = uuid.uuid4(), uuid.uuid4()
    lines = parse(jsonl(GOOD, GOOD))  # the same line twice: one call
    events, features = calls(lines, {KEY: (customer, project)})
    assert len(events) == len(features) == 1
    e = events[0]
    assert (e.customer_id, e.project_id, e.key_id, e.status, e.stream) == (customer, project, KEY, 200, False)
    assert (e.origin_country, e.usage_complete, e.duration_ms) == ("US", True, 0.0)
    assert features[0] == extract(e, msgspec.json.encode(GOOD["body"]))
    assert features[0].reasoning and features[0].network == "8.8.8.0/24"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({**GOOD, "status": "ok"}, "line 2: status: Expected `int`, got `str`"),
        ({**GOOD, "occurred_at": "2026-12-01T10:00:00"}, "line 2: occurred_at: Expected `datetime` with a timezone"),
        ({k: v for k, v in GOOD.items() if k != "key_id"}, "line 2: $: Object missing required field `key_id`"),
        ({**GOOD, "key_id": "XYZ"}, "line 2: key_id: Expected `str` matching regex"),
        ({**GOOD, "route": "/v1/models"}, "line 2: route: '/v1/models' is not a model-API route"),
        ({**GOOD, "client_ip": "999.1.1.1"}, "line 2: client_ip: '999.1.1.1' is not an IP address"),
        ({**GOOD, "body": "text"}, "line 2: body: Expected `object`, got `str`"),
        ({**GOOD, "prompt_tokens": -1}, "line 2: prompt_tokens: Expected `int` >= 0"),
        ({**GOOD, "colour": "red"}, "line 2: $: Object contains unknown field `colour`"),
    ],
)  # fmt: skip
def test_a_bad_line_is_named_with_its_field(line: dict[str, object], message: str) -> None:
    with pytest.raises(BadRequest) as bad:
        parse(jsonl(GOOD, line, GOOD))
    assert str(bad.value).startswith(message) and str(bad.value).endswith("nothing was imported")
    assert bad.value.code == "invalid_import"


def test_a_line_that_is_not_json_and_an_unknown_key() -> None:
    with pytest.raises(BadRequest, match=r"^line 1: \$: not a JSON object"):
        parse(b"{oops\n")
    with pytest.raises(BadRequest, match=r"^line 1: key_id: no key '0123456789abcdef'"):
        calls(parse(jsonl(GOOD)), {})
