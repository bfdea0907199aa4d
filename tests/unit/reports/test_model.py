"""The report documents: canonical bytes, numbers and times, and the published JSON Schemas."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path

import jsonschema
import msgspec
import pytest

from gateway.cli.reports import schema_file
from gateway.reports.model import KINDS, Period, ReportError, canonical, decode, fixed, rfc3339, schema, whole
from gateway.reports.usage import build_usage, scope

from .helpers import COMPUTE, CUSTOMERS, HITS, POLICY, PROVIDER, SINCE, UNTIL, USAGE, flag
from .test_training import DAY, T0, flags_for, identity, job

SCHEMAS = Path(__file__).resolve().parents[3] / "gateway" / "reports" / "schemas"


def usage_report():
    return build_usage(provider=PROVIDER, scope=scope("US", POLICY, "US"), since=SINCE, until=UNTIL,
                       policy=POLICY, customers=CUSTOMERS, usage=USAGE, compute=COMPUTE,
                       flags=[flag(CUSTOMERS[0].id, "eu", 0.5)], hits=HITS)  # fmt: skip


def training_report():
    from gateway.reports.training import build_large_training, qualifying

    jobs = [job(1, CUSTOMERS[0].id, "running", 1.1e25, 0.0, T0)]
    (due,) = qualifying(flags_for(jobs, T0 + DAY))
    return build_large_training(provider=PROVIDER, policy=POLICY, flag=due, evaluated_at=T0 + DAY,
                                workloads=jobs, identities=[identity(CUSTOMERS[0].id)])  # fmt: skip


def test_numbers_are_decimal_strings_and_times_rfc3339() -> None:
    assert whole(1e25) == "10000000000000000000000000"
    assert whole(1.37e20) == "137000000000000000000"
    assert whole(2**60) == "1152921504606846976"
    assert whole(decimal.Decimal("2.5")) == "2" and whole(decimal.Decimal("3.5")) == "4"  # half-even
    assert (
        fixed(0.1, 6) == "0.1"
        and fixed(1.0, 6) == "1"
        and fixed(decimal.Decimal("9000.5") / 3600, 3) == "2.5"
    )
    assert rfc3339(dt.datetime(2026, 11, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))) == (
        "2026-11-01T00:00:00Z"
    )
    assert rfc3339(dt.datetime(2026, 11, 1, 0, 0, 0, 5, tzinfo=dt.UTC)) == "2026-11-01T00:00:00.000005Z"


def test_canonical_is_rfc8785_and_refuses_floats_and_big_integers() -> None:
    body = canonical(usage_report())
    assert body == json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False).encode()  # fmt: skip
    assert decode("usage", body) == usage_report()

    class Bad(msgspec.Struct):
        x: object

    with pytest.raises(ReportError, match="a float"):
        canonical(Bad(1.5))  # type: ignore[arg-type]
    with pytest.raises(ReportError, match="beyond 2\\^53"):
        canonical(Bad([2**53]))  # type: ignore[arg-type]
    with pytest.raises(ReportError, match="unknown report kind"):
        decode("weekly", body)


def test_a_body_with_an_unknown_field_or_a_bad_number_is_not_a_report() -> None:
    raw = json.loads(canonical(usage_report()))
    with pytest.raises(msgspec.ValidationError):
        decode("usage", json.dumps({**raw, "extra": 1}).encode())
    raw["compute"]["flop_settled"] = "1e25"
    with pytest.raises(msgspec.ValidationError):
        decode("usage", json.dumps(raw).encode())
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"start": "2026-11-01", "end": "2026-12-01T00:00:00Z"}, Period)


@pytest.mark.parametrize("kind", KINDS)
def test_the_published_schema_is_the_structs_and_reports_validate_against_it(kind: str) -> None:
    published = (SCHEMAS / f"{kind}.schema.json").read_text()
    assert published == schema_file(kind)
    assert json.loads(published) == schema(kind), "regenerate: gateway/reports/schemas (see README)"
    validator = jsonschema.Draft202012Validator(
        json.loads(published), format_checker=jsonschema.FormatChecker()
    )
    validator.check_schema(validator.schema)
    report = usage_report() if kind == "usage" else training_report()
    document = json.loads(canonical(report))
    validator.validate(document)
    broken = {**document, "kind": "other"}
    assert list(validator.iter_errors(broken))
    numbers = json.dumps(document).replace('"10000000000000000000000000"', "1e25")
    assert list(validator.iter_errors(json.loads(numbers)))  # a number where a decimal string goes
