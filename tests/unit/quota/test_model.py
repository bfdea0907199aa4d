import math

import msgspec
import pytest

from gateway.quota import Limit, Usage


def test_kind_is_rate_for_short_periods_and_budget_otherwise() -> None:
    kinds = {p: Limit(dimension="requests", period=p, limit=1).kind() for p in ("second", "minute", "hour")}
    assert kinds == {"second": "rate", "minute": "rate", "hour": "rate"}
    assert Limit(dimension="flop", period="day", limit=1).kind() == "budget"
    assert Limit(dimension="flop", period="month", limit=1).kind() == "budget"
    assert Limit(dimension="flop", rolling_days=90, limit=1).kind() == "budget"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"limit": 1}, "a limit needs exactly one of `period` and `rolling_days`"),
        (
            {"limit": 1, "period": "day", "rolling_days": 3},
            "a limit needs exactly one of `period` and `rolling_days`",
        ),
        ({"limit": 1, "rolling_days": 0}, "`rolling_days` must be at least 1"),
        ({"limit": -1, "period": "day"}, "`limit` must be a finite number >= 0"),
        ({"limit": math.nan, "period": "day"}, "`limit` must be a finite number >= 0"),
        ({"limit": math.inf, "period": "day"}, "`limit` must be a finite number >= 0"),
    ],
)
def test_bad_limits_are_refused_on_construction(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as e:
        Limit(dimension="requests", **fields)  # type: ignore[arg-type]
    assert str(e.value) == message


def test_decoding_is_strict_and_names_the_problem() -> None:
    decode = msgspec.json.Decoder(Limit).decode
    assert decode(b'{"dimension":"flop","period":"month","limit":5e23,"hard":true}') == Limit(
        dimension="flop", period="month", limit=5e23, hard=True
    )
    with pytest.raises(msgspec.ValidationError, match=r"Object contains unknown field `burst`"):
        decode(b'{"dimension":"requests","period":"minute","limit":60,"burst":5}')
    with pytest.raises(msgspec.ValidationError, match=r"Invalid enum value 'tokens' - at `\$.dimension`"):
        decode(b'{"dimension":"tokens","period":"day","limit":1}')
    with pytest.raises(msgspec.ValidationError, match=r"exactly one of `period` and `rolling_days`"):
        decode(b'{"dimension":"requests","limit":60}')


def test_usage_get_and_minus_never_below_zero() -> None:
    reserved = Usage(requests=1, input_tokens=100, output_tokens=4096)
    actual = Usage(requests=1, input_tokens=130, output_tokens=20, gpu_seconds=2)
    assert reserved.get("output_tokens") == 4096
    assert reserved.minus(actual) == Usage(
        requests=0, input_tokens=0, output_tokens=4076, gpu_seconds=0, flop=0
    )
    assert reserved.plus(actual) == Usage(requests=2, input_tokens=230, output_tokens=4116, gpu_seconds=2)
